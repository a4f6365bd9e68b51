//! ScanPanes and SendInput: reading a container's tmux panes and typing
//! into an agent's pane. Panes the daemon is still creating are never
//! listed; removed panes never receive input.

use std::collections::{HashMap, HashSet};

use super::Services;
use super::domain::PaneState;
use super::pipeline::{MARKER_OPTION, MARKER_PREFIX};
use crate::error::{Error, Result};
use crate::runtime::RuntimeError;
use crate::runtime::tmux::Chain;
use crate::store::{agents, panes};

/// Longest text SendInput types.
const MAX_INPUT_BYTES: usize = 16 * 1024;

/// A tmux pane found by ScanPanes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scanned {
    pub session: String,
    pub pane_id: String,
    pub title: String,
    pub current_command: String,
    /// Set when the pane is already a registered agent.
    pub agent_id: Option<String>,
}

impl Services {
    /// ScanPanes: every tmux pane of the container except panes being
    /// created (title with the `@MANAGED:` prefix, or a marker the table
    /// holds), each marked with its agent when it is one.
    pub(crate) async fn scan_panes(&self, container: &str) -> Result<Vec<Scanned>> {
        let container = self.container(container).await?;
        let rt = self.runtimes.get(&container.id)?;
        let mut chain = Chain::new();
        chain.cmd([
            "list-panes",
            "-a",
            "-F",
            &format!(
                "#{{session_name}}\t#{{pane_id}}\t#{{pane_current_command}}\t#{{{MARKER_OPTION}}}\t#{{pane_title}}"
            ),
        ]);
        let out = match rt
            .tmux(chain.into_args(), self.config.stage_timeout())
            .await
        {
            Ok(out) => out,
            // No tmux server: no panes.
            Err(RuntimeError::NoServer) => String::new(),
            Err(RuntimeError::Gone(_)) => return Err(not_running(&container.id)),
            Err(e) => return Err(Error::internal(e)),
        };
        let (id, socket) = (container.id.clone(), rt.tmux_socket());
        let (pending, agents): (HashSet<String>, HashMap<String, String>) = self
            .store
            .read(move |conn| {
                let pending = panes::of_container_in(conn, &id, &[PaneState::Creating.as_str()])?
                    .into_iter()
                    .filter_map(|p| p.pending_marker_token)
                    .collect();
                let agents = agents::registered_on(conn, &id, &socket)?
                    .into_iter()
                    .map(|a| (a.tmux_pane_id, a.agent_id))
                    .collect();
                Ok((pending, agents))
            })
            .await?;
        Ok(out
            .lines()
            .filter_map(|line| {
                let mut f = line.splitn(5, '\t');
                let (session, pane_id) = (f.next()?, f.next()?);
                let (current_command, marker, title) =
                    (f.next()?, f.next()?, f.next().unwrap_or(""));
                if !pane_id.starts_with('%')
                    || title.starts_with(MARKER_PREFIX)
                    || pending.contains(marker)
                {
                    return None;
                }
                Some(Scanned {
                    session: session.to_string(),
                    pane_id: pane_id.to_string(),
                    title: title.to_string(),
                    current_command: current_command.to_string(),
                    agent_id: agents.get(pane_id).cloned(),
                })
            })
            .collect())
    }

    /// SendInput: types `text` literally into a registered agent's pane,
    /// then Enter unless `no_enter`. A removed managed pane (or any
    /// unregistered agent) is refused.
    pub(crate) async fn send_input(
        &self,
        agent_id: &str,
        text: &str,
        no_enter: bool,
    ) -> Result<()> {
        super::validate::field_token("agent_id", agent_id)?;
        if text.len() > MAX_INPUT_BYTES {
            return Err(Error::validation(
                "text",
                format!("longer than {MAX_INPUT_BYTES} bytes"),
            ));
        }
        if text.chars().any(|c| c.is_control() && c != '\t') {
            return Err(Error::validation(
                "text",
                "control characters are not typed; send one line (Enter is added unless no_enter)",
            ));
        }
        let id = agent_id.to_string();
        let (agent, pane) = self
            .store
            .read(move |conn| Ok((agents::get(conn, &id)?, panes::of_agent(conn, &id)?)))
            .await?;
        let Some(agent) = agent else {
            return Err(Error::validation(
                "agent_id",
                format!("no agent {agent_id}"),
            ));
        };
        if let Some(p) = pane.filter(|p| {
            p.state != PaneState::Ready.as_str() && p.state != PaneState::Degraded.as_str()
        }) {
            return Err(Error::IllegalTransition {
                pane_id: p.id,
                current_state: p.state,
                requested_action: "send_input".into(),
            });
        }
        if !agent.registered {
            return Err(Error::validation(
                "agent_id",
                format!("agent {agent_id} is no longer registered"),
            ));
        }
        let rt = self.runtimes.get(&agent.container_id)?;
        let mut chain = Chain::new();
        if !text.is_empty() {
            chain.cmd(["send-keys", "-t", &agent.tmux_pane_id, "-l", "--", text]);
        }
        if !no_enter {
            chain.cmd(["send-keys", "-t", &agent.tmux_pane_id, "Enter"]);
        }
        if chain.is_empty() {
            return Ok(());
        }
        match rt
            .tmux(chain.into_args(), self.config.stage_timeout())
            .await
        {
            Ok(_) => Ok(()),
            Err(RuntimeError::NoServer | RuntimeError::Failed { .. } | RuntimeError::Gone(_)) => {
                Err(Error::validation(
                    "agent_id",
                    format!(
                        "the pane {} of agent {agent_id} no longer exists",
                        agent.tmux_pane_id
                    ),
                ))
            }
            Err(e) => Err(Error::internal(e)),
        }
    }
}

/// A stopped container has no panes to scan, adopt or type into.
pub(crate) fn not_running(container_id: &str) -> Error {
    Error::validation(
        "container_id",
        format!("container {container_id} is not running"),
    )
}
