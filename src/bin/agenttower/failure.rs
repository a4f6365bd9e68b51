//! Why a command failed, how that is printed (each code once, then its
//! details, then a hint saying what to do) and the exit code it maps to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agenttower::client::{self, ApiError};
use agenttower::names::ShortName as _;
use agenttower::pb::{self, ErrorCode};

use crate::output::Out;

/// The exit codes, documented in docs/operator-guide.md ("Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Ok = 0,
    /// A usage error (clap's own code too).
    Usage = 2,
    /// No daemon answers on the socket.
    Unavailable = 3,
    /// The API answered with a closed-set error (printed).
    Api = 4,
    /// `layout create --wait` settled degraded or failed; `attach`: the
    /// pane has no tmux pane (still creating, or removed).
    NotReady = 5,
    /// `--wait` gave up before the layout settled; `agent wait` or
    /// `send --wait-ready` gave up before the agent reached the activity.
    Timeout = 6,
    /// `agent wait` or `send --wait-ready`: the agent exited first.
    AgentExited = 7,
    /// `daemon stop`: no daemon was running.
    NotRunning = 8,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// Why a command failed.
pub(crate) enum Failure {
    Unavailable(Unavailable),
    Api(tonic::Status),
    Usage(String),
    NotReady(String),
    Timeout(String),
    /// The agent exited before reaching the awaited activity.
    Exited(String),
    /// Already reported to the operator; only the exit code is left.
    Shown(Exit),
}

/// No daemon answers on the socket, and why none was started there.
pub(crate) struct Unavailable {
    pub message: String,
    pub not_started: NotStarted,
}

/// Why the CLI did not start a daemon that would have answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotStarted {
    /// This command never starts one (`daemon status`, `agent report`, a
    /// call after the daemon went away).
    NotAsked,
    /// `--no-start`.
    NoStartFlag,
    /// `--socket` or `AGENTTOWER_SOCKET` names the socket: someone else
    /// manages that daemon.
    ExplicitSocket,
    /// It tried and the daemon did not come up; its log says why.
    StartFailed { log: PathBuf },
}

impl From<tonic::Status> for Failure {
    fn from(s: tonic::Status) -> Self {
        Failure::Api(s)
    }
}

impl Failure {
    /// Prints the failure once (stderr, or a JSON error object on stdout
    /// with --json) and answers its exit code.
    pub(crate) fn report(self, out: &Out, socket: &Path) -> Exit {
        let unavailable = |message: &str, why: &NotStarted| {
            let mut details = BTreeMap::from([("socket", socket.display().to_string())]);
            if let NotStarted::StartFailed { log } = why {
                details.insert("log", log.display().to_string());
            }
            out.error(
                &code_name(ErrorCode::DaemonUnavailable),
                message,
                &details,
                Some(&unavailable_hint(why)),
            );
            Exit::Unavailable
        };
        match self {
            Failure::Unavailable(u) => unavailable(&u.message, &u.not_started),
            Failure::Api(status) => match client::api_error(&status) {
                Some(api) => {
                    report_api(out, &api);
                    match api.code {
                        ErrorCode::DaemonUnavailable => Exit::Unavailable,
                        _ => Exit::Api,
                    }
                }
                // The daemon went away mid-call (no closed code rode along).
                None if status.code() == tonic::Code::Unavailable => {
                    unavailable(status.message(), &NotStarted::NotAsked)
                }
                // A daemon older than this CLI, without the method at all.
                None if status.code() == tonic::Code::Unimplemented => {
                    report_api(
                        out,
                        &ApiError {
                            reason: code_name(ErrorCode::NotImplemented),
                            code: ErrorCode::NotImplemented,
                            details: Default::default(),
                            message: status.message().to_string(),
                        },
                    );
                    Exit::Api
                }
                None => {
                    out.error(
                        &code_name(ErrorCode::InternalError),
                        status.message(),
                        &BTreeMap::new(),
                        None,
                    );
                    Exit::Api
                }
            },
            Failure::Usage(msg) => {
                eprintln!("error: {msg}");
                Exit::Usage
            }
            Failure::NotReady(msg) => {
                eprintln!("{msg}");
                Exit::NotReady
            }
            Failure::Timeout(msg) => {
                eprintln!("{msg}");
                Exit::Timeout
            }
            Failure::Exited(msg) => {
                eprintln!("{msg}");
                Exit::AgentExited
            }
            Failure::Shown(exit) => exit,
        }
    }
}

fn report_api(out: &Out, api: &ApiError) {
    let details = api
        .details
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    out.error(&api.reason, &api.message, &details, hint(api).as_deref());
}

/// What to do about a daemon that does not answer.
pub(crate) fn unavailable_hint(why: &NotStarted) -> String {
    const START: &str = "start it with `agenttower daemon start`";
    match why {
        NotStarted::NotAsked => START.to_string(),
        NotStarted::NoStartFlag => format!("{START}, or drop --no-start"),
        NotStarted::ExplicitSocket => format!(
            "{START} (a socket named by --socket or AGENTTOWER_SOCKET belongs to \
             whoever runs that daemon; the CLI starts none there)"
        ),
        NotStarted::StartFailed { log } => {
            format!("the daemon did not come up; its log is {}", log.display())
        }
    }
}

/// What to do about a closed-set error, for the codes where the operator
/// has a next step.
pub(crate) fn hint(api: &ApiError) -> Option<String> {
    let text = match api.code {
        ErrorCode::NameNotFound => {
            let kind = api
                .details
                .get("kind")
                .and_then(|k| pb::NameKind::from_short_name(k));
            return Some(match kind.and_then(list_command) {
                Some(cmd) => format!("list them with `{cmd}`"),
                None => "list them with `agenttower layout list`, `pane list` or `agent list`"
                    .to_string(),
            });
        }
        ErrorCode::NameAmbiguous => {
            "qualify it with its container (`c1:work`) or use more of the id"
        }
        ErrorCode::DaemonUnavailable => return Some(unavailable_hint(&NotStarted::NotAsked)),
        ErrorCode::ContainerNotFound => {
            "refresh the registry with `agenttower container scan`, then see `agenttower container list`"
        }
        ErrorCode::ManagedTemplateNotFound => "list them with `agenttower templates`",
        ErrorCode::ManagedLaunchCommandNotFound => "list them with `agenttower profiles`",
        ErrorCode::HostOnly => "run it on the host, not inside a bench container",
        ErrorCode::ManagedSessionNameConflict => {
            "pick another session name, or remove the layout first (`agenttower layout remove <session>`)"
        }
        ErrorCode::ManagedPaneLabelConflict => "pick another label",
        ErrorCode::ManagedPaneConcurrentRecreate => {
            "the pane was recreated already: see `agenttower pane get <label> --chain`"
        }
        ErrorCode::ManagedPaneIllegalRecreateSource => {
            "only a removed or failed pane is recreated; remove it first (`agenttower pane remove`)"
        }
        ErrorCode::ManagedPaneProtectedAdopted => {
            "the daemon never kills a pane it did not create; close it in tmux yourself"
        }
        ErrorCode::CallerNotInAgentPane => {
            "run it from inside an agent's pane, e.g. from the agent's hooks"
        }
        ErrorCode::ManagedLayoutCapacityExceeded => {
            "remove a layout you no longer need (`agenttower layout list`)"
        }
        ErrorCode::NotImplemented => {
            "the daemon is older than this CLI: restart it (`agenttower daemon stop`, then `agenttower daemon start`)"
        }
        ErrorCode::Unspecified
        | ErrorCode::ValidationFailed
        | ErrorCode::InternalError
        | ErrorCode::ManagedLayoutNotFound
        | ErrorCode::ManagedPaneNotFound
        | ErrorCode::ManagedPaneIllegalTransition
        | ErrorCode::ManagedPaneRecreateChainTooDeep => return None,
    };
    Some(text.to_string())
}

/// The command listing the objects of a kind.
fn list_command(kind: pb::NameKind) -> Option<&'static str> {
    match kind {
        pb::NameKind::Layout => Some("agenttower layout list"),
        pb::NameKind::Pane => Some("agenttower pane list"),
        pb::NameKind::Agent => Some("agenttower agent list"),
        pb::NameKind::Route => Some("agenttower route list"),
        pb::NameKind::Unspecified => None,
    }
}

/// The wire name of a code (`name_not_found`).
pub(crate) fn code_name(code: ErrorCode) -> String {
    code.short_name()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: ErrorCode, details: &[(&str, &str)]) -> ApiError {
        ApiError {
            reason: code_name(code),
            code,
            details: details
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            message: String::new(),
        }
    }

    #[test]
    fn a_name_not_found_hint_names_the_list_command_of_its_kind() {
        let h = |kind| hint(&api(ErrorCode::NameNotFound, &[("kind", kind)])).unwrap();
        assert_eq!(h("pane"), "list them with `agenttower pane list`");
        assert_eq!(h("layout"), "list them with `agenttower layout list`");
        assert_eq!(h("agent"), "list them with `agenttower agent list`");
        assert!(h("newer").contains("`agenttower layout list`"));
    }

    #[test]
    fn hints_where_there_is_a_next_step_and_none_elsewhere() {
        assert!(
            hint(&api(ErrorCode::NameAmbiguous, &[]))
                .unwrap()
                .contains("`c1:work`")
        );
        assert!(
            hint(&api(ErrorCode::ContainerNotFound, &[]))
                .unwrap()
                .contains("agenttower container scan")
        );
        assert!(hint(&api(ErrorCode::ValidationFailed, &[])).is_none());
        assert_eq!(
            unavailable_hint(&NotStarted::NoStartFlag),
            "start it with `agenttower daemon start`, or drop --no-start"
        );
    }
}
