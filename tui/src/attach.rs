//! Attaching to a pane from the console (Enter or `a`). The daemon
//! resolves the pane to its agent and container, `agenttower::attach::plan`
//! picks the tmux client (the same one `agenttower attach` runs), the state
//! keeps it for `main`, and `run` runs it:
//!
//! - inside a client of the agents' own tmux server, `switch-client`
//!   moves that client to the pane and returns at once; the console keeps
//!   running in its own window (tmux's `prefix L` comes back);
//! - anywhere else the console suspends itself: it stops reading the
//!   terminal, leaves the alternate screen and raw mode, runs the client
//!   on the terminal, and when the operator detaches restores raw mode and
//!   the alternate screen and redraws everything.

use std::process::Stdio;

use agenttower::attach::{Attach, AttachError, plan};
use agenttower::names::ShortName as _;
use agenttower::pb;
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::DefaultTerminal;

use crate::keys::Keys;
use crate::state::{App, Status};

/// A pane to show, planned; `main` runs it and clears it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attaching {
    /// The pane's label, for the status line.
    pub label: String,
    pub plan: Attach,
}

/// How running the client went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `switch-client` moved the operator's tmux client to the pane.
    Switched,
    /// The operator detached; the console is back.
    Returned,
    /// The client could not run, or exited with an error (its words).
    Failed(String),
}

/// Why the console could not show a pane: the console's own closed set,
/// shown on the status line where a daemon error shows its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The pane has no agent or tmux pane (still creating, or removed).
    NoTmuxPane,
    /// The pane's container has a runtime this console cannot reach.
    RuntimeUnreachable,
    /// The tmux (or docker) client could not run or failed.
    AttachFailed,
}

impl Problem {
    /// The code the status line shows.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Problem::NoTmuxPane => "no_tmux_pane",
            Problem::RuntimeUnreachable => "runtime_unreachable",
            Problem::AttachFailed => "attach_failed",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Problem::NoTmuxPane => "wait until the pane is ready; recreate a removed pane with r",
            Problem::RuntimeUnreachable => "use a console as new as the daemon",
            Problem::AttachFailed => "check that tmux (or docker) runs from this terminal",
        }
    }
}

impl App {
    /// Plans the attach to a resolved pane, or says why it cannot be.
    pub(crate) fn attach_to(&mut self, found: pb::ResolveNameResponse) {
        let pane = found.pane.unwrap_or_default();
        let container = found.container.unwrap_or_default();
        let planned = match &found.agent {
            Some(agent) => plan(agent, &container, &self.terminal).map_err(|e| {
                let problem = match e {
                    AttachError::NoTmuxPane { .. } => Problem::NoTmuxPane,
                    AttachError::UnknownRuntime { .. } => Problem::RuntimeUnreachable,
                };
                (problem, e.to_string())
            }),
            None => Err((
                Problem::NoTmuxPane,
                format!(
                    "{} has no agent to attach to yet (it is {})",
                    pane.label,
                    pane.state().short_name()
                ),
            )),
        };
        match planned {
            Ok(plan) => {
                self.attach = Some(Attaching {
                    label: pane.label,
                    plan,
                })
            }
            Err((problem, message)) => self.problem(problem, message),
        }
    }

    /// Says how the attach went.
    pub(crate) fn attached(&mut self, attaching: &Attaching, outcome: Outcome) {
        let label = &attaching.label;
        match outcome {
            Outcome::Switched => {
                self.status = Some(Status::Info(format!(
                    "switched this tmux client to {label}; prefix L (switch-client -l) comes back"
                )))
            }
            Outcome::Returned => self.status = Some(Status::Info(format!("back from {label}"))),
            Outcome::Failed(message) => self.problem(Problem::AttachFailed, message),
        }
    }

    fn problem(&mut self, problem: Problem, message: String) {
        self.status = Some(Status::Error {
            code: problem.code().into(),
            message,
            hint: problem.hint().into(),
        });
    }
}

/// Runs the planned client: a switch at once, anything else with the
/// console suspended. An error means the console's terminal could not be
/// restored, which ends the console.
pub(crate) async fn run(
    plan: &Attach,
    terminal: &mut DefaultTerminal,
    keys: &mut Keys,
) -> std::io::Result<Outcome> {
    if plan.switches_client {
        return Ok(match client(plan, false).await {
            Ok(()) => Outcome::Switched,
            Err(e) => Outcome::Failed(e),
        });
    }
    // Nothing of the console reads the terminal until the client is done.
    keys.pause().await;
    let ran = match suspend(terminal) {
        Ok(()) => client(plan, true).await,
        Err(e) => Err(format!("cannot hand the terminal over: {e}")),
    };
    let restored = restore(terminal);
    keys.resume();
    restored?;
    Ok(match ran {
        Ok(()) => Outcome::Returned,
        Err(e) => Outcome::Failed(e),
    })
}

/// Hands the terminal back as a shell would have it.
fn suspend(terminal: &mut DefaultTerminal) -> std::io::Result<()> {
    terminal.show_cursor()?;
    execute!(terminal.backend_mut(), LeaveAlternateScreen)?;
    disable_raw_mode()
}

/// Takes the terminal again; the next frame is drawn whole.
fn restore(terminal: &mut DefaultTerminal) -> std::io::Result<()> {
    enable_raw_mode()?;
    execute!(terminal.backend_mut(), EnterAlternateScreen)?;
    terminal.clear()
}

/// Runs the client and waits for it; on the terminal when `interactive`,
/// else with no input or output. Its standard error is kept for the
/// status line (neither tmux nor docker draws on it).
async fn client(plan: &Attach, interactive: bool) -> Result<(), String> {
    let stdio = || {
        if interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        }
    };
    let program = plan.program.to_string_lossy().into_owned();
    let out = tokio::process::Command::from(plan.command())
        .stdin(stdio())
        .stdout(stdio())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let said = crate::sanitize::lines(&stderr)
        .into_iter()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or_default();
    Err(format!("{program} ended with {}: {said}", out.status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::Server;
    use time::OffsetDateTime;

    fn found(agent: Option<pb::Agent>) -> Box<pb::ResolveNameResponse> {
        Box::new(pb::ResolveNameResponse {
            kind: pb::NameKind::Pane as i32,
            id: "p1".into(),
            container: Some(pb::Container {
                container_id: "local".into(),
                name: "local".into(),
                runtime: pb::RuntimeKind::Local as i32,
                ..Default::default()
            }),
            pane: Some(pb::Pane {
                pane_id: "p1".into(),
                label: "work.s1".into(),
                state: pb::PaneState::Creating as i32,
                ..Default::default()
            }),
            agent,
            ..Default::default()
        })
    }

    fn agent() -> pb::Agent {
        pb::Agent {
            agent_id: "a1".into(),
            label: "work.s1".into(),
            tmux_socket: "/tmp/agents.sock".into(),
            tmux_pane_id: "%4".into(),
            registered: true,
            ..Default::default()
        }
    }

    fn app(tmux: Option<&str>) -> App {
        let mut app = App::new("s".into(), OffsetDateTime::UNIX_EPOCH);
        app.terminal.tmux = tmux.map(str::to_string);
        app
    }

    #[test]
    fn a_resolved_pane_is_planned_for_main_to_run() {
        // From another tmux server: a nested client, TMUX removed.
        let mut app = app(Some("/tmp/console.sock,1,0"));
        app.apply(Server::AttachTo(found(Some(agent()))));
        let attaching = app.attach.take().expect("planned");
        assert_eq!(attaching.label, "work.s1");
        assert_eq!(
            attaching.plan.argv(),
            [
                "tmux",
                "-S",
                "/tmp/agents.sock",
                "attach-session",
                "-t",
                "%4"
            ]
        );
        assert!(!attaching.plan.switches_client);
        assert_eq!(app.status, None);

        // From a client of the agents' own server: a switch.
        let mut app = super::tests::app(Some("/tmp/agents.sock,1,0"));
        app.apply(Server::AttachTo(found(Some(agent()))));
        let attaching = app.attach.take().expect("planned");
        assert!(attaching.plan.switches_client);
        app.attached(&attaching, Outcome::Switched);
        assert!(
            matches!(&app.status, Some(Status::Info(t)) if t.contains("prefix L")),
            "{:?}",
            app.status
        );
    }

    #[test]
    fn a_pane_without_an_agent_says_so_with_its_code() {
        let mut app = app(None);
        app.apply(Server::AttachTo(found(None)));
        assert_eq!(app.attach, None);
        let Some(Status::Error { code, message, .. }) = &app.status else {
            panic!("{:?}", app.status);
        };
        assert_eq!(code, "no_tmux_pane");
        assert_eq!(
            message,
            "work.s1 has no agent to attach to yet (it is creating)"
        );

        let mut removed = agent();
        removed.registered = false;
        app.apply(Server::AttachTo(found(Some(removed))));
        assert!(
            matches!(&app.status, Some(Status::Error { code, message, .. })
                if code == "no_tmux_pane" && message.contains("removed")),
            "{:?}",
            app.status
        );
    }

    #[test]
    fn how_the_client_ended_shows_on_the_status_line() {
        let mut app = app(None);
        app.apply(Server::AttachTo(found(Some(agent()))));
        let attaching = app.attach.take().unwrap();
        app.attached(&attaching, Outcome::Returned);
        assert_eq!(app.status, Some(Status::Info("back from work.s1".into())));
        app.attached(
            &attaching,
            Outcome::Failed("tmux ended with exit status: 1: no server".into()),
        );
        assert!(
            matches!(&app.status, Some(Status::Error { code, .. }) if code == "attach_failed"),
            "{:?}",
            app.status
        );
    }

    #[tokio::test]
    async fn a_failing_client_reports_what_it_said() {
        let plan = Attach {
            program: "sh".into(),
            args: vec![
                "-c".into(),
                "echo \"can't find pane: %9\" >&2; exit 1".into(),
            ],
            env_remove: vec![],
            switches_client: true,
        };
        assert_eq!(
            client(&plan, false).await,
            Err("sh ended with exit status: 1: can't find pane: %9".into())
        );
        let missing = Attach {
            program: "/nonexistent/tmux".into(),
            ..plan
        };
        let err = client(&missing, false).await.unwrap_err();
        assert!(err.starts_with("cannot run /nonexistent/tmux: "), "{err}");
    }
}
