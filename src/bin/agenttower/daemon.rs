//! `agenttower daemon start|stop|status`. The daemon's pid comes from the
//! kernel (SO_PEERCRED on its socket), so no pid file can go stale.

use std::os::unix::fs::DirBuilderExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Subcommand;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

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
    /// Stop the daemon (SIGTERM; in-flight work finishes first).
    Stop,
    /// Say whether the daemon answers, with its pid.
    Status,
}

const START_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// Whether a daemon answers the health check on `socket`.
async fn healthy(socket: &Path) -> bool {
    let Ok(channel) = agenttower::client::connect(socket).await else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving)
}

/// The pid of the process serving `socket`, from the kernel.
fn daemon_pid(socket: &Path) -> Option<i32> {
    let stream = std::os::unix::net::UnixStream::connect(socket).ok()?;
    let cred =
        nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials).ok()?;
    Some(cred.pid())
}

fn daemon_binary(explicit: Option<PathBuf>) -> PathBuf {
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
                Err(Failure::Unavailable(format!(
                    "no agenttowerd answers on {}",
                    socket.display()
                )))
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
            let pid = start(socket, &daemon_binary(bin)).await?;
            report(out, "started", socket, pid);
            Ok(())
        }
        DaemonCmd::Stop => {
            let Some(pid) = daemon_pid(socket) else {
                report(out, "stopped", socket, 0);
                return Ok(());
            };
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            )
            .map_err(|e| Failure::Usage(format!("cannot signal agenttowerd (pid {pid}): {e}")))?;
            let deadline = Instant::now() + STOP_TIMEOUT;
            while daemon_pid(socket).is_some() || process_alive(pid) {
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

fn process_alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// Spawns the daemon detached (own session, output to a log file beside the
/// socket) and waits until it answers.
async fn start(socket: &Path, bin: &Path) -> Result<i32, Failure> {
    let log_path = socket.with_file_name("agenttowerd.log");
    if let Some(dir) = socket.parent().filter(|d| !d.exists()) {
        // Owner-only, as the daemon would create it.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Failure::Usage(format!("cannot open {}: {e}", log_path.display())))?;
    let mut cmd = std::process::Command::new(bin);
    cmd.env(agenttower::paths::ENV_SOCKET, socket)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().map_err(|e| Failure::Usage(e.to_string()))?)
        .stderr(log)
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| Failure::Usage(format!("cannot start {}: {e}", bin.display())))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if healthy(socket).await {
            return Ok(child.id() as i32);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            return Err(Failure::Usage(format!(
                "agenttowerd exited ({status}); last log lines:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )));
        }
        if Instant::now() >= deadline {
            return Err(Failure::Timeout(format!(
                "agenttowerd did not answer on {} within {START_TIMEOUT:?}; see {}",
                socket.display(),
                log_path.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
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
