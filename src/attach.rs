//! The tmux client that shows an agent's pane: the argv `agenttower attach`
//! executes and the console runs while it is suspended. One place decides
//! it, so both attach the same way. Never a shell string.
//!
//! - Host tmux, from a terminal outside tmux: `tmux [-S socket] attach-session
//!   -t %N` (tmux selects that pane's window and the pane itself).
//! - Host tmux, from inside a client of the same tmux server:
//!   `tmux [-S socket] switch-client -t %N`, which returns at once.
//! - Host tmux, from inside another tmux server: attach-session with `TMUX`
//!   removed from the environment, i.e. a nested client, as the operator
//!   asked for this pane explicitly.
//! - A bench container: `docker exec -it [-u user] [-e TERM=…] <container>
//!   tmux -u attach-session -t %N`; from a shell inside that same container
//!   (a container peer reaches only its own panes), its tmux directly, as
//!   for host tmux.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::names::ShortName as _;
use crate::pb;

/// The tmux socket name the daemon reports for tmux's default server.
pub const DEFAULT_SOCKET: &str = "default";

/// How to show one pane: run `program` with `args`, minus the environment
/// variables in `env_remove`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attach {
    /// `tmux` or `docker`.
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables to remove from the child's environment.
    pub env_remove: Vec<&'static str>,
    /// True for `switch-client`: the command returns at once and the
    /// current terminal keeps running whatever it ran.
    pub switches_client: bool,
}

impl Attach {
    /// The whole argv, program first (for `--print` and logs).
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// A `std::process::Command` ready to run or `exec`.
    pub fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args);
        for var in &self.env_remove {
            cmd.env_remove(var);
        }
        cmd
    }
}

/// Why a pane cannot be attached to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    /// The pane has no tmux pane yet (still creating) or any more.
    #[error("{label} has no tmux pane to attach to (it is {state})")]
    NoTmuxPane {
        /// The pane's label.
        label: String,
        /// Its state, in words.
        state: String,
    },
    /// The container's runtime is not one this client can reach.
    #[error("container {container} has runtime {runtime}, which attach cannot reach")]
    UnknownRuntime {
        /// The container's name.
        container: String,
        /// Its runtime, in words.
        runtime: String,
    },
}

/// What the calling terminal is: the values of `$TMUX` and `$TERM`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terminal {
    /// `$TMUX`: `socket_path,server_pid,session_index` inside a tmux client.
    pub tmux: Option<String>,
    /// `$TERM`, passed into a container so its tmux client draws correctly.
    pub term: Option<String>,
    /// The full id of the Docker container this process runs in, if any.
    pub container_id: Option<String>,
}

impl Terminal {
    /// This process's terminal, from its environment. These values only
    /// choose how to draw for the operator's own terminal; nothing is
    /// trusted from them.
    pub fn current() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Terminal {
            tmux: var("TMUX"),
            term: var("TERM"),
            container_id: std::fs::read_to_string("/proc/self/mountinfo")
                .ok()
                .and_then(|m| docker_container_id(&m)),
        }
    }

    /// The socket of the tmux server this terminal is a client of.
    fn tmux_socket(&self) -> Option<PathBuf> {
        let tmux = self.tmux.as_deref()?;
        let path = tmux.split(',').next().filter(|p| !p.is_empty())?;
        Some(PathBuf::from(path))
    }
}

/// The id of the Docker container whose `/etc/hostname` is mounted, read
/// from a `/proc/self/mountinfo` text: Docker bind-mounts it from
/// `…/containers/<64 hex id>/hostname`.
fn docker_container_id(mountinfo: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let root = fields.nth(3)?;
        (fields.next()? == "/etc/hostname").then_some(())?;
        let id = root.strip_suffix("/hostname")?.rsplit('/').next()?;
        (id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_string())
    })
}

/// The socket path of tmux's default server for this user:
/// `$TMUX_TMPDIR` (else `/tmp`) `/tmux-<uid>/default`.
pub fn default_socket_path() -> PathBuf {
    let dir = std::env::var_os("TMUX_TMPDIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    dir.join(format!("tmux-{}", nix::unistd::getuid()))
        .join("default")
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// How to show the object a ResolveName answer names (a pane, or an agent
/// for adopted panes): its agent's pane, in its container.
pub fn plan_resolved(
    resolved: &pb::ResolveNameResponse,
    terminal: &Terminal,
) -> Result<Attach, AttachError> {
    let container = resolved.container.clone().unwrap_or_default();
    match (&resolved.agent, &resolved.pane) {
        (Some(agent), _) => plan(agent, &container, terminal),
        // A managed pane is registered once its tmux pane exists.
        (None, Some(pane)) => Err(AttachError::NoTmuxPane {
            label: pane.label.clone(),
            state: pane.state().short_name(),
        }),
        (None, None) => Err(AttachError::NoTmuxPane {
            label: resolved.id.clone(),
            state: "not a pane".into(),
        }),
    }
}

/// How to show `agent`'s pane (in `container`) from `terminal`.
pub fn plan(
    agent: &pb::Agent,
    container: &pb::Container,
    terminal: &Terminal,
) -> Result<Attach, AttachError> {
    let target = agent.tmux_pane_id.clone();
    if target.is_empty() || !agent.registered {
        return Err(AttachError::NoTmuxPane {
            label: agent.label.clone(),
            state: if agent.registered {
                "not created yet".into()
            } else {
                "removed".into()
            },
        });
    }
    let socket = (agent.tmux_socket != DEFAULT_SOCKET && !agent.tmux_socket.is_empty())
        .then(|| PathBuf::from(&agent.tmux_socket));
    match container.runtime() {
        pb::RuntimeKind::Local => Ok(tmux_here(socket, target, terminal)),
        // A shell inside the container itself runs its tmux directly.
        pb::RuntimeKind::Docker
            if terminal.container_id.as_deref() == Some(container.container_id.as_str()) =>
        {
            Ok(tmux_here(socket, target, terminal))
        }
        pb::RuntimeKind::Docker => {
            let mut args: Vec<OsString> = vec!["exec".into(), "-it".into()];
            if !container.user.is_empty() {
                args.extend(["-u".into(), container.user.clone().into()]);
            }
            if let Some(term) = &terminal.term {
                args.extend(["-e".into(), format!("TERM={term}").into()]);
            }
            args.extend([container.container_id.clone().into(), "tmux".into()]);
            args.push("-u".into());
            args.extend(socket_args(&socket));
            args.extend(["attach-session".into(), "-t".into(), target.into()]);
            Ok(Attach {
                program: "docker".into(),
                args,
                env_remove: vec![],
                switches_client: false,
            })
        }
        other => Err(AttachError::UnknownRuntime {
            container: container.name.clone(),
            runtime: other.short_name(),
        }),
    }
}

fn socket_args(socket: &Option<PathBuf>) -> Vec<OsString> {
    match socket {
        Some(s) => vec!["-S".into(), s.clone().into_os_string()],
        None => vec![],
    }
}

/// tmux on this machine (or in this container): switch the client when
/// `terminal` is a client of the same server, else attach a new one.
fn tmux_here(socket: Option<PathBuf>, target: String, terminal: &Terminal) -> Attach {
    let server = socket.clone().unwrap_or_else(default_socket_path);
    let switches_client = terminal
        .tmux_socket()
        .is_some_and(|own| same_file(&own, &server));
    let verb = if switches_client {
        "switch-client"
    } else {
        "attach-session"
    };
    let mut args = socket_args(&socket);
    args.extend([verb.into(), "-t".into(), target.into()]);
    Attach {
        program: "tmux".into(),
        args,
        env_remove: if switches_client {
            vec![]
        } else {
            vec!["TMUX"]
        },
        switches_client,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(socket: &str) -> pb::Agent {
        pb::Agent {
            agent_id: "a".into(),
            container_id: "local".into(),
            tmux_socket: socket.into(),
            tmux_pane_id: "%7".into(),
            label: "work.s1".into(),
            registered: true,
            ..Default::default()
        }
    }

    fn local() -> pb::Container {
        pb::Container {
            container_id: "local".into(),
            name: "local".into(),
            runtime: pb::RuntimeKind::Local as i32,
            ..Default::default()
        }
    }

    #[test]
    fn outside_tmux_attaches_to_the_pane_on_the_daemons_socket() {
        let a = plan(&agent("/tmp/x.sock"), &local(), &Terminal::default()).unwrap();
        assert_eq!(
            a.argv(),
            ["tmux", "-S", "/tmp/x.sock", "attach-session", "-t", "%7"]
        );
        assert_eq!(a.env_remove, ["TMUX"]);
        assert!(!a.switches_client);
    }

    #[test]
    fn inside_the_same_server_switches_the_client() {
        let t = Terminal {
            tmux: Some("/tmp/x.sock,123,0".into()),
            ..Default::default()
        };
        let a = plan(&agent("/tmp/x.sock"), &local(), &t).unwrap();
        assert_eq!(
            a.argv(),
            ["tmux", "-S", "/tmp/x.sock", "switch-client", "-t", "%7"]
        );
        assert!(a.switches_client);
        // Another server: a nested client.
        let a = plan(&agent("/tmp/other.sock"), &local(), &t).unwrap();
        assert_eq!(a.args[2], "attach-session");
    }

    #[test]
    fn a_container_pane_is_reached_through_docker_exec() {
        let c = pb::Container {
            container_id: "abc".into(),
            name: "c1".into(),
            runtime: pb::RuntimeKind::Docker as i32,
            user: "dev".into(),
            ..Default::default()
        };
        let t = Terminal {
            term: Some("xterm-256color".into()),
            ..Default::default()
        };
        let a = plan(&agent(DEFAULT_SOCKET), &c, &t).unwrap();
        assert_eq!(
            a.argv(),
            [
                "docker",
                "exec",
                "-it",
                "-u",
                "dev",
                "-e",
                "TERM=xterm-256color",
                "abc",
                "tmux",
                "-u",
                "attach-session",
                "-t",
                "%7"
            ]
        );
    }

    #[test]
    fn a_removed_agent_cannot_be_attached() {
        let mut a = agent("/tmp/x.sock");
        a.registered = false;
        assert!(matches!(
            plan(&a, &local(), &Terminal::default()),
            Err(AttachError::NoTmuxPane { .. })
        ));
    }

    #[test]
    fn inside_its_own_container_a_client_runs_that_containers_tmux() {
        let id = "a".repeat(64);
        let c = pb::Container {
            container_id: id.clone(),
            name: "c1".into(),
            runtime: pb::RuntimeKind::Docker as i32,
            ..Default::default()
        };
        let t = Terminal {
            term: Some("xterm".into()),
            container_id: Some(id),
            ..Default::default()
        };
        let a = plan(&agent(DEFAULT_SOCKET), &c, &t).unwrap();
        assert_eq!(a.argv(), ["tmux", "attach-session", "-t", "%7"]);
    }

    #[test]
    fn the_container_id_comes_from_the_hostname_mount() {
        let id = "dbc9ab06e922b86a7c14183a14f494551892548b71992f96c2bab4be80e08e39";
        let mountinfo = format!(
            "72 1 0:40 / / rw - overlay overlay rw\n\
             90 72 254:0 /var/lib/docker/containers/{id}/hostname /etc/hostname rw - ext4 /dev/vda rw\n"
        );
        assert_eq!(docker_container_id(&mountinfo).as_deref(), Some(id));
        // The host: /etc/hostname is no mount.
        assert_eq!(
            docker_container_id("22 1 254:0 / / rw - ext4 /dev/vda rw\n"),
            None
        );
    }

    #[test]
    fn a_resolved_pane_without_its_agent_yet_cannot_be_attached() {
        let resolved = pb::ResolveNameResponse {
            pane: Some(pb::Pane {
                label: "work.s1".into(),
                state: pb::PaneState::Creating as i32,
                ..Default::default()
            }),
            container: Some(local()),
            ..Default::default()
        };
        let e = plan_resolved(&resolved, &Terminal::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "work.s1 has no tmux pane to attach to (it is creating)"
        );
        let resolved = pb::ResolveNameResponse {
            agent: Some(agent("/tmp/x.sock")),
            ..resolved
        };
        let a = plan_resolved(&resolved, &Terminal::default()).unwrap();
        assert_eq!(a.args[2], "attach-session");
    }
}
