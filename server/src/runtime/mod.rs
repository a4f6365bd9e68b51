//! The runtime seam (SPEC §3): how tmux commands reach a container. Everything
//! above this trait — pipeline, recovery, scans — is runtime-agnostic.

pub(crate) mod control;
pub(crate) mod docker;
pub(crate) mod fault;
pub(crate) mod local;
pub(crate) mod tmux;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use control::{Control, Launcher};

/// A failed runtime call, classified for the retry policy of SPEC §8.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum RuntimeError {
    /// The call did not finish in time (transient).
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The runtime could not be reached at all (transient: e.g. `docker exec`
    /// could not connect).
    #[error("runtime unreachable: {0}")]
    Unreachable(String),
    /// No tmux server is running there (nothing exists yet).
    #[error("no tmux server running")]
    NoServer,
    /// The tmux server exited while the command was in flight, e.g. because
    /// its last session was just removed (transient: the server is gone,
    /// so were its panes, and the next call starts a new one).
    #[error("the tmux server exited: {0}")]
    ServerLost(String),
    /// The control connection closed with the call in flight (transient:
    /// the call may or may not have run; the retry's marker cleanup makes
    /// that safe).
    #[error("control connection lost: {0}")]
    Disconnected(String),
    /// The container is gone or stopped (not transient): its tmux server
    /// and every pane in it went with it.
    #[error("container gone: {0}")]
    Gone(String),
    /// tmux ran and refused a command (not transient). `stdout` holds what
    /// the commands before the failing one printed.
    #[error("tmux failed: {message}")]
    Failed { message: String, stdout: String },
}

impl RuntimeError {
    /// Whether SPEC §8's retry policy applies.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(
            self,
            RuntimeError::Timeout(_)
                | RuntimeError::Unreachable(_)
                | RuntimeError::ServerLost(_)
                | RuntimeError::Disconnected(_)
        )
    }
}

/// Runs tmux commands (as argv, never a shell string) in one container.
#[async_trait::async_trait]
pub(crate) trait Runtime: Send + Sync + fmt::Debug {
    /// The tmux server these commands reach, as recorded on agents.
    fn tmux_socket(&self) -> String;

    /// Runs `tmux <args>` and returns its stdout, over the server's control
    /// connection when it is open (see `call`). Chained commands are
    /// separate `;` arguments (see `tmux::Chain`).
    async fn tmux(&self, args: Vec<String>, timeout: Duration) -> Result<String, RuntimeError>;

    /// The server's control connection.
    fn control(&self) -> &Arc<Control>;

    /// The directory under `<state dir>/logs/` holding this container's pane
    /// logs: a name the operator can put in a bind mount before the
    /// container exists.
    fn log_dir_name(&self) -> String;

    /// The path under which tmux (inside the container) writes the host log
    /// file `host_path`, or why the host could not read it.
    async fn log_target(&self, host_path: &Path) -> Result<PathBuf, String>;
}

/// Runs one call: over the control connection when it is open or this call
/// may open it (it may start the tmux server: a new session), else as one
/// process, after which a call that found the server running opens the
/// connection in the background. `classify` reads the one-process failures
/// of this runtime.
pub(crate) async fn call<L: Launcher + Clone + 'static>(
    launcher: &L,
    control: &Arc<Control>,
    args: Vec<String>,
    timeout: Duration,
    classify: fn(RuntimeError) -> RuntimeError,
) -> Result<String, RuntimeError> {
    if let Some(conn) = control.connection(launcher, starts_server(&args)).await {
        return conn.call(&args, timeout).await;
    }
    let out = run_command(launcher.tmux_command(&args, false), timeout)
        .await
        .map_err(classify);
    if out.is_ok() {
        control.open_soon(Arc::new(launcher.clone()));
    }
    out
}

/// Whether a call creates a session, which starts a tmux server when none
/// runs. Only such a call opens a connection itself: opening attaches to
/// the control session, which would start a server where none should be.
fn starts_server(args: &[String]) -> bool {
    args.first().is_some_and(|a| a == "new-session")
        || args
            .windows(2)
            .any(|w| w[0] == ";" && w[1] == "new-session")
}

/// Runs `program args` with a time limit and classifies the outcome. Shared by
/// every runtime: it is where "exit status / stderr / timeout" becomes a
/// `RuntimeError`.
pub(crate) async fn run_command(
    mut cmd: tokio::process::Command,
    timeout: Duration,
) -> Result<String, RuntimeError> {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| RuntimeError::Unreachable(format!("cannot start: {e}")))?;
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(out) => out.map_err(|e| RuntimeError::Unreachable(e.to_string()))?,
        Err(_) => return Err(RuntimeError::Timeout(timeout)),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if stderr.starts_with("no server running on")
        || (stderr.starts_with("error connecting to") && stderr.contains("No such file"))
    {
        return Err(RuntimeError::NoServer);
    }
    if stderr.contains("server exited unexpectedly") || stderr.contains("lost server") {
        return Err(RuntimeError::ServerLost(stderr));
    }
    Err(RuntimeError::Failed {
        message: if stderr.is_empty() {
            format!("exit status {}", output.status)
        } else {
            stderr
        },
        stdout,
    })
}
