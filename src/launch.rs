//! Finding and starting `agenttowerd`: a health probe, the serving pid from
//! the kernel, and a detached start that waits until the socket answers.
//! Shared by `agenttower daemon start` and the console.

use std::os::unix::fs::DirBuilderExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};

/// How long `start` waits for a new daemon to answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a daemon could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The log or its directory could not be prepared, or the spawn failed.
    #[error("{0}")]
    Io(String),
    /// The daemon exited before answering; the last lines of its log.
    #[error("agenttowerd exited ({status}); last log lines:\n{log_tail}")]
    Exited {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of its log.
        log_tail: String,
    },
    /// It did not answer in time.
    #[error("agenttowerd did not answer on {socket} within {START_TIMEOUT:?}; see {log}")]
    Timeout {
        /// The socket waited on.
        socket: String,
        /// Its log file.
        log: String,
    },
}

/// Whether a daemon answers the health check on `socket`.
pub async fn healthy(socket: &Path) -> bool {
    let Ok(channel) = crate::client::connect(socket).await else {
        return false;
    };
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .is_ok_and(|r| r.into_inner().status() == ServingStatus::Serving)
}

/// The pid of the process serving `socket`, from the kernel (SO_PEERCRED),
/// so no pid file can go stale.
pub fn daemon_pid(socket: &Path) -> Option<i32> {
    let stream = std::os::unix::net::UnixStream::connect(socket).ok()?;
    let cred =
        nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials).ok()?;
    Some(cred.pid())
}

/// Whether process `pid` still runs. A zombie (exited, not yet reaped by
/// whoever adopted it) has stopped.
pub fn process_running(pid: i32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
        return false;
    }
    // /proc/<pid>/stat: "pid (comm) S ..." — the state follows the last ')'.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_none_or(|zombie| !zombie)
}

/// The daemon log `start` writes: beside the socket.
pub fn log_path(socket: &Path) -> PathBuf {
    socket.with_file_name("agenttowerd.log")
}

/// Spawns `daemon` detached (own process group, output appended to the log
/// beside the socket, `AGENTTOWER_SOCKET` set) and waits until it answers.
/// Returns its pid.
pub async fn start(socket: &Path, mut daemon: Command) -> Result<u32, StartError> {
    let log_path = log_path(socket);
    if let Some(dir) = socket.parent().filter(|d| !d.exists()) {
        // Owner-only, as the daemon would create it.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| StartError::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| StartError::Io(format!("cannot open {}: {e}", log_path.display())))?;
    let out = log.try_clone().map_err(|e| StartError::Io(e.to_string()))?;
    daemon
        .env(crate::paths::ENV_SOCKET, socket)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(log)
        .process_group(0);
    let mut child = daemon.spawn().map_err(|e| {
        StartError::Io(format!(
            "cannot start {}: {e}",
            daemon.get_program().to_string_lossy()
        ))
    })?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if healthy(socket).await {
            let pid = child.id();
            // Reap it if it stops while this process still runs; it is
            // detached otherwise and outlives us.
            std::thread::spawn(move || child.wait());
            return Ok(pid);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(5).collect();
            return Err(StartError::Exited {
                status,
                log_tail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            });
        }
        if Instant::now() >= deadline {
            return Err(StartError::Timeout {
                socket: socket.display().to_string(),
                log: log_path.display().to_string(),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
