//! The agent registry: listing, and adopting a pane the daemon did not create.

use super::reads::{Page, decode_token, page_size, paged};
use super::scope::Scope;
use super::settle::release_stale;
use super::{Services, validate};
use crate::domain::{Activity, Origin};
use crate::error::{Error, Result};
use crate::runtime::RuntimeError;
use crate::runtime::control::CONTROL_SESSION;
use crate::runtime::tmux::{
    self, Chain, MARKER_OPTION, MARKER_PREFIX, OWNER_OPTION, SERVER_FORMAT,
};
use crate::store::agents::{self, AgentFilter};
use crate::store::constraint_violation;
use crate::store::models::AgentRow;

/// An AdoptPane request after decoding.
#[derive(Debug, Clone)]
pub(crate) struct AdoptPane {
    pub container_id: String,
    pub tmux_pane_id: String,
    pub role: String,
    pub capability: String,
    pub label: String,
}

impl Services {
    /// ListAgents.
    pub(crate) async fn list_agents(
        &self,
        scope: &Scope,
        origin: Option<Origin>,
        activities: Vec<Activity>,
        include_unregistered: bool,
        size: u32,
        token: &str,
    ) -> Result<Page<AgentRow>> {
        let Some(container_id) = scope.filter() else {
            return Ok(Page::empty());
        };
        let filter = AgentFilter {
            container_id,
            origin,
            include_unregistered,
            activities,
        };
        let after = decode_token::<String>(token)?;
        let limit = page_size(size);
        let rows = self
            .store
            .read(move |conn| agents::page(conn, &filter, after, limit + 1))
            .await?;
        Ok(paged(rows, limit, |a| a.agent_id.clone(), |a| a))
    }

    /// AdoptPane: registers an existing tmux pane as an `adopted` agent. The
    /// daemon will never kill or retitle it.
    pub(crate) async fn adopt_pane(&self, req: AdoptPane) -> Result<AgentRow> {
        let id = &req.tmux_pane_id;
        if !(id.len() > 1
            && id.len() <= 12
            && id.starts_with('%')
            && id[1..].chars().all(|c| c.is_ascii_digit()))
        {
            return Err(Error::validation(
                "tmux_pane_id",
                "must be a tmux pane id like %3",
            ));
        }
        validate::field_identifier("role", &req.role)?;
        validate::field_identifier("capability", &req.capability)?;
        validate::field_identifier("label", &req.label)?;
        let container = self.container(&req.container_id).await?;
        let rt = self.runtimes.get(&container.id)?;
        let mut chain = Chain::new();
        chain.cmd([
            "display-message",
            "-p",
            "-t",
            id.as_str(),
            &format!(
                "#{{session_name}}\t{SERVER_FORMAT}\t#{{{OWNER_OPTION}}}\t#{{{MARKER_OPTION}}}\t#{{pane_pid}}\t#{{pane_title}}"
            ),
        ]);
        let out = match tmux::run(rt.as_ref(), chain, self.config.stage_timeout()).await {
            Ok(out) => out,
            Err(RuntimeError::Gone(_)) => {
                return Err(super::agent_io::not_running(&container.id));
            }
            Err(RuntimeError::NoServer | RuntimeError::Failed { .. }) => {
                return Err(Error::validation(
                    "tmux_pane_id",
                    format!("no tmux pane {id} in {}", container.id),
                ));
            }
            Err(e) => return Err(Error::internal(e)),
        };
        let mut fields = out.trim_end_matches('\n').splitn(6, '\t');
        let session = fields.next().unwrap_or_default().to_string();
        let server = fields.next().unwrap_or_default().to_string();
        let owner = fields.next().unwrap_or_default();
        let marker = fields.next().unwrap_or_default();
        let pane_pid = fields
            .next()
            .and_then(|p| p.parse().ok())
            .filter(|p| *p > 0);
        let title = fields.next().unwrap_or_default();
        if session.is_empty() {
            return Err(Error::validation(
                "tmux_pane_id",
                format!("no tmux pane {id} in {}", container.id),
            ));
        }
        if title.starts_with(MARKER_PREFIX) || !marker.is_empty() {
            return Err(Error::validation(
                "tmux_pane_id",
                "the daemon is creating this pane; it cannot be adopted",
            ));
        }
        if !owner.is_empty() || session == CONTROL_SESSION {
            return Err(Error::validation(
                "tmux_pane_id",
                "the daemon created this pane; it is managed, not adoptable",
            ));
        }
        let row = AgentRow {
            role: req.role,
            capability: req.capability,
            label: req.label,
            ..AgentRow::registered(
                Origin::Adopted,
                container.id.clone(),
                rt.tmux_socket(),
                session,
                id.clone(),
                server.clone(),
                pane_pid,
            )
        };
        let insert = row.clone();
        let pane = id.clone();
        self.store
            .write(move |tx| {
                // An agent of an earlier server instance may still hold
                // this `%N`: its pane is gone.
                release_stale(
                    tx,
                    &insert.container_id,
                    &insert.tmux_socket,
                    &pane,
                    &server,
                    false,
                )?;
                agents::insert(tx.conn, &insert).map_err(|e| match constraint_violation(&e) {
                    Some(_) => Error::validation(
                        "tmux_pane_id",
                        format!("pane {pane} is already a registered agent"),
                    ),
                    None => Error::internal(e),
                })
            })
            .await?;
        Ok(row)
    }
}
