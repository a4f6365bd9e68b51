//! `agenttower daemon start|stop|status` over `agenttower::launch`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agenttower::launch::{self, StartError, daemon_pid, healthy, process_running};
use clap::Subcommand;

use crate::failure::{Exit, NotStarted, unavailable_hint};
use crate::output::Out;
use crate::{CliResult, Failure};

#[derive(Debug, Subcommand)]
pub(crate) enum DaemonCmd {
    /// Start agenttowerd in the background unless one already answers.
    Start {
        /// The daemon binary (default: next to this one, then $PATH).
        #[arg(long)]
        bin: Option<PathBuf>,
    },
    /// Stop the daemon (SIGTERM; in-flight work finishes first). Exit 8
    /// when none was running.
    Stop,
    /// Say whether the daemon answers, with its pid (exit 3 when not).
    Status,
}

const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// The daemon binary: `explicit`, else `agenttowerd` beside this binary,
/// else the one on $PATH.
pub(crate) fn daemon_binary(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| {
            let sibling = std::env::current_exe().ok()?.with_file_name("agenttowerd");
            sibling.exists().then_some(sibling)
        })
        .unwrap_or_else(|| PathBuf::from("agenttowerd"))
}

pub(crate) async fn run(cmd: DaemonCmd, socket: &Path, out: &Out) -> CliResult {
    match cmd {
        DaemonCmd::Status => {
            if healthy(socket).await {
                let pid = daemon_pid(socket).unwrap_or_default();
                report(out, "running", socket, pid);
                Ok(())
            } else {
                report(out, "stopped", socket, 0);
                if !out.json {
                    eprintln!("hint: {}", unavailable_hint(&NotStarted::NotAsked));
                }
                Err(Failure::Shown(Exit::Unavailable))
            }
        }
        DaemonCmd::Start { bin } => {
            if healthy(socket).await {
                report(
                    out,
                    "running",
                    socket,
                    daemon_pid(socket).unwrap_or_default(),
                );
                return Ok(());
            }
            let bin = daemon_binary(bin);
            let pid = launch::start(socket, std::process::Command::new(bin))
                .await
                .map_err(|e| match e {
                    StartError::Timeout { .. } => Failure::Timeout(e.to_string()),
                    _ => Failure::Usage(e.to_string()),
                })?;
            report(out, "started", socket, pid as i32);
            Ok(())
        }
        DaemonCmd::Stop => {
            let Some(pid) = daemon_pid(socket) else {
                let v = serde_json::json!({
                    "state": "not_running",
                    "socket": socket.display().to_string(),
                    "pid": 0,
                });
                out.show(&v, || {
                    println!("no agenttowerd running on {}", socket.display())
                });
                return Err(Failure::Shown(Exit::NotRunning));
            };
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            )
            .map_err(|e| Failure::Usage(format!("cannot signal agenttowerd (pid {pid}): {e}")))?;
            let deadline = Instant::now() + STOP_TIMEOUT;
            while daemon_pid(socket).is_some() || process_running(pid) {
                if Instant::now() >= deadline {
                    return Err(Failure::Timeout(format!(
                        "agenttowerd (pid {pid}) did not stop within {STOP_TIMEOUT:?}"
                    )));
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            report(out, "stopped", socket, pid);
            Ok(())
        }
    }
}

fn report(out: &Out, state: &str, socket: &Path, pid: i32) {
    let v =
        serde_json::json!({ "state": state, "socket": socket.display().to_string(), "pid": pid });
    out.show(&v, || {
        if pid > 0 {
            println!("agenttowerd {state} (pid {pid}) on {}", socket.display());
        } else {
            println!("agenttowerd {state} on {}", socket.display());
        }
    });
}
