//! The daemon a command talks to, started on demand: when nothing answers
//! on the default socket, the first command that needs the daemon starts
//! one (as the console does) and says so on its first line of stderr.
//! Opted out by `--no-start`, and whenever the socket was named explicitly
//! (`--socket`, `AGENTTOWER_SOCKET`): that daemon is someone else's to run,
//! e.g. the host's, through a socket mounted into a container.

use std::path::{Path, PathBuf};

use agenttower::client::{self, Clients, ManagedSessionsServiceClient};
use agenttower::launch::{self, StartError};
use tonic::transport::Channel;

use crate::daemon::daemon_binary;
use crate::failure::{Failure, NotStarted, Unavailable};

/// The daemon socket of this run and whether a daemon may be started on it.
pub(crate) struct Socket {
    pub path: PathBuf,
    /// `None` when a command may start the daemon; else why not.
    no_start: Option<NotStarted>,
}

impl Socket {
    /// The socket named by `--socket`, else `$AGENTTOWER_SOCKET`, else the
    /// state directory's; auto-start applies to the last one only, and not
    /// with `--no-start`.
    pub(crate) fn new(flag: Option<PathBuf>, no_start: bool) -> Socket {
        let env = std::env::var_os(agenttower::paths::ENV_SOCKET).filter(|v| !v.is_empty());
        let explicit = flag.is_some() || env.is_some();
        let path = flag.unwrap_or_else(agenttower::paths::socket_path);
        let no_start = if no_start {
            Some(NotStarted::NoStartFlag)
        } else if explicit {
            Some(NotStarted::ExplicitSocket)
        } else {
            None
        };
        Socket { path, no_start }
    }

    /// A channel to the daemon, starting one first if none answers and
    /// this run may.
    pub(crate) async fn channel(&self) -> Result<Channel, Failure> {
        match client::connect(&self.path).await {
            Ok(ch) => Ok(ch),
            Err(e) => match &self.no_start {
                Some(why) => Err(unavailable(&self.path, &e, why.clone())),
                None => {
                    self.start().await?;
                    client::connect(&self.path)
                        .await
                        .map_err(|e| unavailable(&self.path, &e, NotStarted::NotAsked))
                }
            },
        }
    }

    /// A channel to a daemon that already runs; never starts one (for
    /// commands where a new daemon would make no sense, like `agent
    /// report`).
    pub(crate) async fn existing(&self) -> Result<Channel, Failure> {
        client::connect(&self.path)
            .await
            .map_err(|e| unavailable(&self.path, &e, NotStarted::NotAsked))
    }

    /// A ManagedSessionsService client (see `channel`).
    pub(crate) async fn connect(&self) -> Result<ManagedSessionsServiceClient, Failure> {
        Ok(ManagedSessionsServiceClient::new(self.channel().await?))
    }

    /// A client for every service (see `channel`).
    pub(crate) async fn clients(&self) -> Result<Clients, Failure> {
        Ok(Clients::new(self.channel().await?))
    }

    /// Starts the daemon beside this binary and prints the first line:
    /// `started agenttowerd (pid N) on <socket>; log: <log>` (stderr, so
    /// `--json` output stays one document). A daemon that another command
    /// started meanwhile is used as it is.
    async fn start(&self) -> Result<(), Failure> {
        let log = launch::log_path(&self.path);
        let daemon = std::process::Command::new(daemon_binary(None));
        match launch::start(&self.path, daemon).await {
            Ok(pid) => {
                eprintln!(
                    "started agenttowerd (pid {pid}) on {}; log: {}",
                    self.path.display(),
                    log.display()
                );
                Ok(())
            }
            // Lost a race with another command starting it: fine.
            Err(_) if launch::healthy(&self.path).await => Ok(()),
            Err(e) => Err(Failure::Unavailable(Unavailable {
                message: format!(
                    "no agenttowerd answers on {} and starting one failed: {}",
                    self.path.display(),
                    start_error(&e)
                ),
                not_started: NotStarted::StartFailed { log },
            })),
        }
    }
}

/// The start error in one line (its log tail follows in the log itself).
fn start_error(e: &StartError) -> String {
    match e {
        StartError::Exited { status, .. } => format!("agenttowerd exited ({status})"),
        other => other.to_string(),
    }
}

/// `daemon_unavailable` for a failed connect, naming the OS's reason
/// (`No such file or directory`, `Connection refused`) rather than the
/// transport's wrapper.
pub(crate) fn unavailable(
    socket: &Path,
    e: &client::DaemonUnavailable,
    why: NotStarted,
) -> Failure {
    let mut cause: &dyn std::error::Error = &e.source;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let cause = cause.to_string();
    // "No such file or directory (os error 2)": the errno adds nothing.
    let cause = match cause.rsplit_once(" (os error ") {
        Some((text, _)) => text,
        None => &cause,
    };
    Failure::Unavailable(Unavailable {
        message: format!("no agenttowerd answers on {}: {cause}", socket.display()),
        not_started: why,
    })
}
