//! ScanPanes and SendInput: reading a container's tmux panes and typing
//! into an agent's pane. Panes the daemon is still creating are never
//! listed; removed panes never receive input.

use std::collections::{HashMap, HashSet};

use super::Services;
use crate::domain::PaneState;
use crate::error::{Error, Result};
use crate::runtime::RuntimeError;
use crate::runtime::tmux::ops::{self, Typed};
use crate::runtime::tmux::{MARKER_PREFIX, Owner};
use crate::store::{agents, panes};

/// Longest text SendInput types.
const MAX_INPUT_BYTES: usize = 16 * 1024;
/// Text per `send-keys` command, so a long input spreads over as many tmux
/// calls as one message allows.
const KEYS_CHUNK_BYTES: usize = 2 * 1024;

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
        let listed = match ops::list_panes(rt.as_ref(), self.config.stage_timeout()).await {
            Ok(panes) => panes,
            Err(RuntimeError::Gone(_)) => return Err(not_running(&container.id)),
            Err(e) => return Err(Error::internal(e)),
        };
        let (id, socket) = (container.id.clone(), rt.tmux_socket());
        let (pending, agents): (HashSet<String>, HashMap<String, String>) = self
            .store
            .read(move |conn| {
                let pending = panes::of_container_in(conn, &id, &[PaneState::Creating])?
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
        Ok(listed
            .into_iter()
            .filter(|p| !p.title.starts_with(MARKER_PREFIX) && !pending.contains(&p.marker))
            .map(|p| Scanned {
                agent_id: agents.get(&p.pane_id).cloned(),
                session: p.session,
                pane_id: p.pane_id,
                title: p.title,
                current_command: p.current_command,
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
        if let Some(p) = pane
            .as_ref()
            .filter(|p| !matches!(p.state, PaneState::Ready | PaneState::Degraded))
        {
            return Err(Error::IllegalTransition {
                pane_id: p.id.clone(),
                current_state: p.state.to_string(),
                requested_action: "send_input".into(),
            });
        }
        if !agent.registered {
            return Err(Error::validation(
                "agent_id",
                format!("agent {agent_id} is no longer registered"),
            ));
        }
        // Typed only into the pane the agent means: its ownership mark for a
        // managed pane, the server instance it was adopted on otherwise.
        let owner = match (&pane, &agent.tmux_server) {
            (Some(p), _) => Owner::Pane(&p.id),
            (None, Some(server)) => Owner::Server(server),
            (None, None) => {
                return Err(Error::validation(
                    "agent_id",
                    format!(
                        "agent {agent_id} was adopted before the daemon recorded tmux server \
                         identities, so its pane cannot be proven; adopt the pane again"
                    ),
                ));
            }
        };
        let rt = self.runtimes.get(&agent.container_id)?;
        let enter = !no_enter;
        let typed = ops::send_keys(
            rt.as_ref(),
            &agent.tmux_pane_id,
            &owner,
            &chunks(text, KEYS_CHUNK_BYTES),
            enter,
            self.config.stage_timeout(),
        )
        .await
        .map_err(Error::internal)?;
        match typed {
            Typed::Done => Ok(()),
            Typed::Gone => Err(Error::validation(
                "agent_id",
                format!(
                    "the pane {} of agent {agent_id} no longer exists",
                    agent.tmux_pane_id
                ),
            )),
        }
    }
}

/// `text` in pieces of at most `max` bytes, split on character boundaries.
fn chunks(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(max);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (head, tail) = rest.split_at(end);
        out.push(head);
        rest = tail;
    }
    out
}

/// A stopped container has no panes to scan, adopt or type into.
pub(crate) fn not_running(container_id: &str) -> Error {
    Error::validation(
        "container_id",
        format!("container {container_id} is not running"),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_text_splits_on_character_boundaries() {
        let text = "é".repeat(3000);
        let parts = super::chunks(&text, 2048);
        assert!(parts.iter().all(|p| p.len() <= 2048));
        assert_eq!(parts.concat(), text);
        assert!(super::chunks("", 10).is_empty());
    }
}
