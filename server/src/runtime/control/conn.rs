//! One open control client: its process, the calls written to it and the
//! replies read back, and the doorbells it hears.

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::{Semaphore, oneshot};

use super::wire::{self, Block, Framer, Item};
use super::{CONTROL_SESSION, Doorbells, Launcher};
use crate::runtime::RuntimeError;

/// What runs in the control session's pane: it echoes each doorbell.
const CONTROL_COMMAND: &str = "cat";
/// The index of the daemon's entry in each hook array, so setting it again
/// replaces it and leaves the operator's own hooks alone.
const HOOK_INDEX: u32 = 4_171;
/// Hooks that ring the doorbell: a pane's process exited (kept or not), a
/// pane, window or session was killed.
const HOOKS: [(&str, &str); 5] = [
    ("-gw", "pane-died"),
    ("-gw", "pane-exited"),
    ("-g", "after-kill-pane"),
    ("-g", "window-unlinked"),
    ("-g", "session-closed"),
];
/// How often each connection lists its server's dead panes, for the deaths
/// no hook reports: tmux 3.3a skips `pane-died` when the pane's `pipe-pane`
/// still holds unwritten output as its process is reaped. (A `refresh-client
/// -B` subscription would do the same in tmux, but 3.3a segfaults on it
/// when panes die and go.)
const DEAD_CHECK: Duration = Duration::from_secs(1);
/// Requests written and not yet answered, at most; a caller past it waits.
const MAX_IN_FLIGHT: usize = 256;

/// One open control client.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(super) pid: Option<u32>,
    child: Mutex<Option<tokio::process::Child>>,
    stdin: tokio::sync::Mutex<ChildStdin>,
    waiting: Mutex<Waiting>,
    in_flight: Semaphore,
    /// tmux has answered at least one call: the client did attach.
    pub(super) answered: AtomicBool,
    /// The sync command's line and what it prints.
    sync_line: String,
    sync_text: String,
}

#[derive(Debug, Default)]
struct Waiting {
    closed: bool,
    queue: VecDeque<oneshot::Sender<Result<Vec<Block>, RuntimeError>>>,
}

impl Conn {
    pub(super) async fn open(
        launcher: &dyn Launcher,
        container_id: &str,
        bells: Arc<Doorbells>,
    ) -> Result<Arc<Conn>, RuntimeError> {
        let args: Vec<String> = [
            "-C",
            "new-session",
            "-A",
            "-s",
            CONTROL_SESSION,
            CONTROL_COMMAND,
        ]
        .map(String::from)
        .to_vec();
        let mut cmd = launcher.tmux_command(&args, true);
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            // Never killed behind tmux's back while it may be stopped (see
            // below): it exits on its own when its session goes or its
            // stdin closes, as when the daemon exits.
            .kill_on_drop(false);
        let mut child = cmd
            .spawn()
            .map_err(|e| RuntimeError::Unreachable(format!("cannot start tmux -C: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(RuntimeError::Unreachable("tmux -C has no pipes".into()));
        };
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let sync_text = format!("agenttower-sync-{nonce}");
        let conn = Arc::new(Conn {
            pid: child.id(),
            child: Mutex::new(Some(child)),
            stdin: tokio::sync::Mutex::new(stdin),
            waiting: Mutex::default(),
            in_flight: Semaphore::new(MAX_IN_FLIGHT),
            answered: AtomicBool::new(false),
            sync_line: wire::line(&["display-message".into(), "-p".into(), sync_text.clone()]),
            sync_text,
        });
        tokio::spawn(read_replies(
            Arc::clone(&conn),
            stdout,
            container_id.to_string(),
            Arc::clone(&bells),
        ));
        // Set up without waiting for the answer: a call waits on it only by
        // queueing behind it. (Giving up on a client that a stopped tmux
        // server has not answered yet, and killing it, makes tmux 3.3a
        // crash when it resumes and another client connects.)
        let setup = conn.send(&setup()).await?;
        let container = container_id.to_string();
        tokio::spawn(async move {
            if let Ok(Err(e)) | Err(e) = setup.await.map(reply) {
                tracing::warn!(container_id = container, error = %e,
                    "cannot set the control connection's hooks; pane deaths wait for the poll");
            }
        });
        tokio::spawn(check_dead(
            Arc::clone(&conn),
            container_id.to_string(),
            bells,
        ));
        Ok(conn)
    }

    pub(super) fn is_closed(&self) -> bool {
        self.waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .closed
    }

    pub(super) fn kill(&self) {
        if let Some(child) = self
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            let _ = child.start_kill();
        }
    }

    /// Runs one call's argv and returns what it printed, as a one-shot
    /// `tmux` would: a failing command fails the call, its message the
    /// error, and what earlier commands printed kept as `stdout`. Past
    /// `timeout` the call fails as a timeout and its reply, when it comes,
    /// is dropped; the connection stays, since replies keep their order.
    pub(crate) async fn call(
        &self,
        args: &[String],
        timeout: Duration,
    ) -> Result<String, RuntimeError> {
        let work = async {
            let _permit = self
                .in_flight
                .acquire()
                .await
                .map_err(|_| RuntimeError::Disconnected("closed".into()))?;
            self.send(args).await?.await
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(blocks) => reply(blocks?),
            Err(_) => Err(RuntimeError::Timeout(timeout)),
        }
    }

    /// Writes one call and its sync line; the reply's blocks arrive on the
    /// returned future.
    async fn send(
        &self,
        args: &[String],
    ) -> Result<impl Future<Output = Result<Vec<Block>, RuntimeError>> + use<>, RuntimeError> {
        let (tx, rx) = oneshot::channel();
        let mut stdin = self.stdin.lock().await;
        {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            if waiting.closed {
                return Err(RuntimeError::Disconnected(
                    "the control connection closed".into(),
                ));
            }
            waiting.queue.push_back(tx);
        }
        let text = format!("{}\n{}\n", wire::line(args), self.sync_line);
        if let Err(e) = async {
            stdin.write_all(text.as_bytes()).await?;
            stdin.flush().await
        }
        .await
        {
            self.kill();
            return Err(RuntimeError::Disconnected(format!("cannot write: {e}")));
        }
        Ok(async move {
            rx.await
                .map_err(|_| RuntimeError::Disconnected("the control connection closed".into()))?
        })
    }
}

/// The connection's setup: the hooks that type a doorbell into the control
/// session's pane.
fn setup() -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    for (scope, hook) in HOOKS {
        if !args.is_empty() {
            args.push(";".to_string());
        }
        args.extend([
            "set-hook".to_string(),
            scope.into(),
            format!("{hook}[{HOOK_INDEX}]"),
            format!("send-keys -t ={CONTROL_SESSION}: Enter"),
        ]);
    }
    args
}

/// The backstop for skipped hooks: once a `DEAD_CHECK`, the `%N` of the
/// server's dead panes; a pane newly among them rings the doorbell. Ends
/// with the connection.
async fn check_dead(conn: Arc<Conn>, container_id: String, bells: Arc<Doorbells>) {
    let list: Vec<String> = ["list-panes", "-a", "-F", "#{?pane_dead,#{pane_id},}"]
        .map(String::from)
        .to_vec();
    let mut known: BTreeSet<String> = BTreeSet::new();
    while !conn.is_closed() {
        tokio::time::sleep(DEAD_CHECK).await;
        let Ok(out) = conn.call(&list, DEAD_CHECK).await else {
            continue;
        };
        let dead: BTreeSet<String> = out
            .lines()
            .filter(|l| l.starts_with('%'))
            .map(String::from)
            .collect();
        // The first listing rings too when a pane is dead already: it may
        // have died, unreported, before the connection was up.
        if !dead.is_subset(&known) {
            tracing::debug!(container_id, "a pane died without its hook");
            bells.ring(&container_id);
        }
        known = dead;
    }
}

/// A request's blocks as one-shot tmux would report them.
fn reply(blocks: Vec<Block>) -> Result<String, RuntimeError> {
    let mut stdout = String::new();
    let mut errors = Vec::new();
    for block in blocks {
        if block.failed {
            errors.extend(block.lines);
        } else {
            for line in block.lines {
                stdout.push_str(&line);
                stdout.push('\n');
            }
        }
    }
    if errors.is_empty() {
        Ok(stdout)
    } else {
        Err(RuntimeError::Failed {
            message: errors.join("\n"),
            stdout,
        })
    }
}

/// The reader of one connection: blocks go to the oldest waiting request,
/// the sync block completes it, `%output` rings the doorbell. At the end of
/// the stream every waiting request fails and the doorbell rings: the
/// server, the container or the client went.
async fn read_replies(
    conn: Arc<Conn>,
    stdout: ChildStdout,
    container_id: String,
    bells: Arc<Doorbells>,
) {
    let mut lines = BufReader::new(stdout);
    let mut framer = Framer::default();
    let mut collected: Vec<Block> = Vec::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match lines.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end_matches(['\n', '\r']);
        match framer.feed(line) {
            Some(Item::Block(block)) => {
                if !block.failed && block.lines.len() == 1 && block.lines[0] == conn.sync_text {
                    conn.answered.store(true, Ordering::Relaxed);
                    let done = std::mem::take(&mut collected);
                    let waiter = conn
                        .waiting
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .queue
                        .pop_front();
                    if let Some(tx) = waiter {
                        let _ = tx.send(Ok(done));
                    }
                } else {
                    collected.push(block);
                }
            }
            Some(Item::Bell) => {
                tracing::trace!(container_id, "doorbell");
                bells.ring(&container_id);
            }
            Some(Item::Exit) | None => {}
        }
    }
    let waiters = {
        let mut waiting = conn.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        waiting.closed = true;
        std::mem::take(&mut waiting.queue)
    };
    for tx in waiters {
        let _ = tx.send(Err(RuntimeError::Disconnected(
            "the control connection closed with the call in flight".into(),
        )));
    }
    conn.kill();
    if let Some(mut child) = conn
        .child
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        // Reap it; it was killed or has exited.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
    }
    tracing::info!(container_id, "tmux control connection closed");
    bells.ring(&container_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_read_like_one_shot_tmux() {
        let ok = |l: &[&str]| Block {
            failed: false,
            lines: l.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(reply(vec![ok(&[]), ok(&["%3"])]).unwrap(), "%3\n");
        let failed = Block {
            failed: true,
            lines: vec!["can't find pane: %9".into()],
        };
        match reply(vec![ok(&["a"]), failed]) {
            Err(RuntimeError::Failed { message, stdout }) => {
                assert_eq!(
                    (message.as_str(), stdout.as_str()),
                    ("can't find pane: %9", "a\n")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hooks_ring_the_control_pane_and_keep_their_own_slot() {
        let line = wire::line(&setup());
        assert_eq!(line.matches("set-hook").count(), HOOKS.len());
        // `[` and `]` reach tmux as octal escapes: `pane-died[4171]`.
        assert!(line.contains(r#""pane-died\1334171\135""#), "{line}");
        assert!(
            line.contains(r#""send-keys -t =agenttower+control: Enter""#),
            "{line}"
        );
    }
}
