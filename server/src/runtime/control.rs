//! One live tmux connection per server (docs/architecture.md, "The control
//! connection"): a `tmux -C` client attached to a small daemon-owned
//! session, reached as a child process (locally) or one long-lived
//! `docker exec -i` (in a bench container). A call is a line written on its
//! stdin and the reply blocks read back, instead of a process per call.
//!
//! - Requests are pipelined. Each is followed by a sync command printing a
//!   per-connection nonce; tmux runs one client's commands in order, so the
//!   blocks up to the sync block are that request's reply, and each block's
//!   `%begin`/`%end` pair is matched by its command number.
//! - It is opened lazily, by the first call that may start a tmux server (a
//!   new session) or, in the background, after any call found the server
//!   running. A failed open is retried after a capped back-off; meanwhile,
//!   calls fall back to one process each, and the log says so once.
//! - A call in flight when the connection dies fails as `Disconnected`,
//!   which the retry rules treat as transient.
//! - Push: hooks on the server make every pane death or removal type a
//!   newline into the control session's own pane (`cat`), whose `%output`
//!   reaches this client. That is a doorbell: the health watcher then lists
//!   the server once. A once-a-second list of dead panes rings it for the
//!   deaths tmux runs no hook for; the connection closing rings it too.

mod conn;
pub(crate) mod wire;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

pub(crate) use conn::Conn;

/// The daemon-owned session the control client attaches to. `+` is not
/// allowed in layout session names, so no layout can take it.
pub(crate) const CONTROL_SESSION: &str = "agenttower+control";
/// The first and the longest wait before opening again after a failure.
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// Containers whose tmux server pushed something (a doorbell), waiting for
/// the health watcher. A set: ten rings before the watcher wakes are one.
#[derive(Debug, Default)]
pub(crate) struct Doorbells {
    rung: Mutex<BTreeSet<String>>,
    notify: Notify,
}

impl Doorbells {
    pub(crate) fn ring(&self, container_id: &str) {
        self.rung
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(container_id.to_string());
        self.notify.notify_one();
    }

    /// Waits for at least one ring and takes every container rung so far.
    pub(crate) async fn wait(&self) -> BTreeSet<String> {
        loop {
            let rung =
                std::mem::take(&mut *self.rung.lock().unwrap_or_else(PoisonError::into_inner));
            if !rung.is_empty() {
                return rung;
            }
            self.notify.notified().await;
        }
    }
}

/// How to start processes that reach one tmux server: the runtime's side of
/// the connection.
pub(crate) trait Launcher: Send + Sync {
    /// `tmux <args>` (or `docker exec … tmux <args>`), stdin left to the
    /// caller.
    fn tmux_command(&self, args: &[String], interactive: bool) -> tokio::process::Command;
}

/// The control connection of one tmux server, kept across container scans.
#[derive(Debug)]
pub(crate) struct Control {
    /// The container it serves: what the doorbell names.
    container_id: String,
    bells: Arc<Doorbells>,
    slot: tokio::sync::Mutex<Slot>,
    /// The one-time "falling back" warning was logged.
    warned: AtomicBool,
}

#[derive(Debug, Default)]
struct Slot {
    conn: Option<Arc<Conn>>,
    failures: u32,
    retry_at: Option<Instant>,
}

impl Control {
    pub(crate) fn new(container_id: &str, bells: Arc<Doorbells>) -> Self {
        Control {
            container_id: container_id.to_string(),
            bells,
            slot: Default::default(),
            warned: AtomicBool::new(false),
        }
    }

    /// The open connection, opening it first when `open` and the back-off
    /// allows; `None` means "use one process for this call".
    pub(crate) async fn connection(
        self: &Arc<Self>,
        launcher: &dyn Launcher,
        open: bool,
    ) -> Option<Arc<Conn>> {
        let mut slot = self.slot.lock().await;
        if let Some(conn) = slot.conn.take() {
            if !conn.is_closed() {
                slot.conn = Some(Arc::clone(&conn));
                return Some(conn);
            }
            if conn.answered.load(Ordering::Relaxed) {
                slot.failures = 0;
            } else {
                // It ended before it answered anything: it never opened.
                self.failed(&mut slot, "the control client exited before it answered");
            }
        }
        if !open || slot.retry_at.is_some_and(|at| Instant::now() < at) {
            return None;
        }
        match Conn::open(launcher, &self.container_id, Arc::clone(&self.bells)).await {
            Ok(conn) => {
                tracing::debug!(container_id = %self.container_id, pid = ?conn.pid, "tmux control connection opening");
                slot.retry_at = None;
                slot.conn = Some(Arc::clone(&conn));
                Some(conn)
            }
            Err(e) => {
                self.failed(&mut slot, &e.to_string());
                None
            }
        }
    }

    /// Counts a failed open: the next try waits `min(base × 2^n, cap)`,
    /// and the first failure is logged as a warning.
    fn failed(&self, slot: &mut Slot, why: &str) {
        let wait = BACKOFF_CAP.min(BACKOFF_BASE * 2u32.saturating_pow(slot.failures.min(16)));
        slot.failures += 1;
        slot.retry_at = Some(Instant::now() + wait);
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(container_id = %self.container_id, error = why,
                "cannot open a tmux control connection; running one tmux process per call until it opens");
        } else {
            tracing::debug!(container_id = %self.container_id, error = why, retry_in = ?wait,
                "tmux control connection still unavailable");
        }
    }

    /// Opens the connection in the background (after a call found the
    /// server running), unless it is open or backing off.
    pub(crate) fn open_soon(self: &Arc<Self>, launcher: Arc<dyn Launcher>) {
        let control = Arc::clone(self);
        tokio::spawn(async move {
            control.connection(launcher.as_ref(), true).await;
        });
    }

    /// Kills the control client process, as a crash would (fault tests).
    pub(crate) async fn kill(&self) {
        if let Some(conn) = &self.slot.lock().await.conn {
            conn.kill();
        }
    }

    /// Removes the control session (daemon shutdown), which ends the
    /// client too: a server with no other session exits, as it did before.
    pub(crate) async fn close(&self) {
        let Some(conn) = self.slot.lock().await.conn.take() else {
            return;
        };
        let kill = vec![
            "kill-session".to_string(),
            "-t".into(),
            format!("={CONTROL_SESSION}"),
        ];
        if let Err(e) = conn.call(&kill, Duration::from_secs(1)).await {
            tracing::warn!(container_id = %self.container_id, error = %e, "cannot remove the control session");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn doorbells_coalesce() {
        let bells = Doorbells::default();
        bells.ring("a");
        bells.ring("a");
        bells.ring("b");
        assert_eq!(
            bells.wait().await.into_iter().collect::<Vec<_>>(),
            ["a", "b"]
        );
    }
}
