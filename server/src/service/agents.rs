//! The agent registry: listing, and adopting a pane the daemon did not create.

use super::reads::{Page, decode_token, page_size, paged};
use super::scope::Scope;
use super::settle::release_stale;
use super::{Services, validate};
use crate::domain::{Activity, Origin};
use crate::error::{Error, Result};
use crate::runtime::RuntimeError;
use crate::runtime::tmux::{MARKER_PREFIX, ops};
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
        // The daemon's own control pane is never listed: it is no pane here.
        let found = match ops::pane(rt.as_ref(), id, self.config.stage_timeout()).await {
            Ok(found) => found,
            Err(RuntimeError::Gone(_)) => {
                return Err(super::agent_io::not_running(&container.id));
            }
            Err(e) => return Err(Error::internal(e)),
        };
        let Some(found) = found else {
            return Err(Error::validation(
                "tmux_pane_id",
                format!("no tmux pane {id} in {}", container.id),
            ));
        };
        let (session, server, pane_pid) = (found.session.clone(), found.server.clone(), found.pid);
        let (owner, marker, title) = (&found.owner, &found.marker, &found.title);
        if title.starts_with(MARKER_PREFIX) || !marker.is_empty() {
            return Err(Error::validation(
                "tmux_pane_id",
                "the daemon is creating this pane; it cannot be adopted",
            ));
        }
        if !owner.is_empty() {
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
