//! M6 RemovePane and RemoveLayout: on the container's FIFO, kill the tmux pane
//! (its log pipe with it; already gone is fine), then in one transaction
//! delete the agent's routes, unregister it, mark the pane `removed`, and
//! re-aggregate the layout. The row and its events are kept forever.

use std::sync::Arc;

use serde_json::json;

use super::create::LayoutView;
use super::domain::{Actor, EventType, Origin, PaneState};
use super::lifecycle::{Transition, pane_event, pane_state, reaggregate, transition};
use super::pipeline::with_retries;
use super::{Services, validate};
use crate::error::{Error, Result};
use crate::runtime::tmux::Chain;
use crate::runtime::{Runtime, RuntimeError};
use crate::store::models::PaneRow;
use crate::store::{Tx, agents, panes, routes};

fn shutting_down() -> Error {
    Error::internal(anyhow::anyhow!("the daemon is shutting down"))
}

impl Services {
    /// A managed pane by id; an adopted agent's id is refused as protected.
    pub(crate) async fn managed_pane(&self, field: &str, id: &str) -> Result<PaneRow> {
        validate::field_token(field, id)?;
        let key = id.to_string();
        let (pane, agent) = self
            .store
            .read(move |conn| Ok((panes::get(conn, &key)?, agents::get(conn, &key)?)))
            .await?;
        if let Some(p) = pane {
            return Ok(p);
        }
        match agent {
            Some(a) if a.origin == Origin::Adopted.as_str() => Err(Error::ProtectedAdopted {
                agent_id: a.agent_id,
            }),
            _ => Err(Error::PaneNotFound {
                pane_id: id.to_string(),
            }),
        }
    }

    /// M6. Returns the pane and whether anything changed.
    pub(crate) async fn remove_pane(self: &Arc<Self>, id: &str) -> Result<(PaneRow, bool)> {
        let pane = self.managed_pane("pane_id", id).await?;
        if let Some(done) = removable(&pane)? {
            return Ok((done, false));
        }
        let svc = Arc::clone(self);
        let id = id.to_string();
        self.queues
            .run(&pane.container_id, async move {
                // Re-read: queued work before us may have changed it.
                let pane = svc.managed_pane("pane_id", &id).await?;
                if let Some(done) = removable(&pane)? {
                    return Ok((done, false));
                }
                let rt = svc.runtimes.get(&pane.container_id)?;
                kill_panes(
                    &svc,
                    rt.as_ref(),
                    pane.tmux_pane_id.iter().cloned().collect(),
                )
                .await?;
                let pane_id = pane.id.clone();
                svc.store
                    .write(move |tx| {
                        retire(tx, &pane_id, Actor::Operator, "removed by the operator")?;
                        let row =
                            panes::get(tx.conn, &pane_id)?.ok_or_else(|| Error::PaneNotFound {
                                pane_id: pane_id.clone(),
                            })?;
                        Ok((row, true))
                    })
                    .await
            })
            .await
            .ok_or_else(shutting_down)?
    }

    /// RemoveLayout: every live pane of the layout, same rules as M6. A
    /// layout with a pane still being created is refused as a whole.
    pub(crate) async fn remove_layout(self: &Arc<Self>, id: &str) -> Result<LayoutView> {
        let view = self.get_layout(id, false).await?;
        for pane in &view.panes {
            removable(pane)?;
        }
        let svc = Arc::clone(self);
        let id = id.to_string();
        self.queues
            .run(&view.layout.container_id, async move {
                let view = svc.get_layout(&id, false).await?;
                let mut live = Vec::new();
                for pane in &view.panes {
                    if removable(pane)?.is_none() {
                        live.push(pane.clone());
                    }
                }
                let rt = svc.runtimes.get(&view.layout.container_id)?;
                let ids = live.iter().filter_map(|p| p.tmux_pane_id.clone()).collect();
                kill_panes(&svc, rt.as_ref(), ids).await?;
                svc.store
                    .write(move |tx| {
                        for pane in &live {
                            retire(
                                tx,
                                &pane.id,
                                Actor::Operator,
                                "layout removed by the operator",
                            )?;
                        }
                        Ok(())
                    })
                    .await?;
                svc.get_layout(&id, true).await
            })
            .await
            .ok_or_else(shutting_down)?
    }
}

/// `Some(pane)` when removing is a no-op (already removed); an error for a
/// pane still being created.
fn removable(pane: &PaneRow) -> Result<Option<PaneRow>> {
    match pane_state(pane)? {
        PaneState::Removed => Ok(Some(pane.clone())),
        PaneState::Creating => Err(Error::IllegalTransition {
            pane_id: pane.id.clone(),
            current_state: PaneState::Creating.to_string(),
            requested_action: "remove".into(),
        }),
        _ => Ok(None),
    }
}

/// Kills each `%N` pane, which also closes its log pipe (an explicit
/// `pipe-pane` would fail on a dead, remain-on-exit pane). A pane that is
/// already gone is success; the chain is retried pane by pane if one of them
/// is missing.
pub(crate) async fn kill_panes(svc: &Services, rt: &dyn Runtime, ids: Vec<String>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let chain_for = |ids: &[String]| {
        let mut chain = Chain::new();
        for id in ids {
            chain.cmd(["kill-pane", "-t", id.as_str()]);
        }
        chain.into_args()
    };
    let timeout = svc.config.stage_timeout();
    let backoffs = svc.config.retry_backoffs();
    let gone = |e: &RuntimeError| match e {
        RuntimeError::NoServer | RuntimeError::Gone(_) => true,
        RuntimeError::Failed { message, .. } => message.contains("can't find"),
        _ => false,
    };
    match with_retries(&backoffs, |_| rt.tmux(chain_for(&ids), timeout)).await {
        Ok(_) => Ok(()),
        Err(e) if gone(&e) && ids.len() > 1 => {
            for id in &ids {
                match with_retries(&backoffs, |_| {
                    rt.tmux(chain_for(std::slice::from_ref(id)), timeout)
                })
                .await
                {
                    Ok(_) => {}
                    Err(e) if gone(&e) => {}
                    Err(e) => return Err(Error::internal(e)),
                }
            }
            Ok(())
        }
        Err(e) if gone(&e) => Ok(()),
        Err(e) => Err(Error::internal(e)),
    }
}

/// Marks a pane `removed` with its clean-up, in the caller's transaction:
/// routes touching its agent deleted, the agent unregistered (log detached),
/// the removal event, and the layout re-aggregated. Returns false when the
/// pane was already removed.
pub(crate) fn retire(tx: &mut Tx<'_>, pane_id: &str, actor: Actor, reason: &str) -> Result<bool> {
    let Some(pane) = panes::get(tx.conn, pane_id)? else {
        return Ok(false);
    };
    if pane_state(&pane)? == PaneState::Removed {
        return Ok(false);
    }
    let mut deleted = 0;
    if let Some(agent) = &pane.agent_id {
        deleted = routes::delete_for_agent(tx.conn, agent)?;
        agents::unregister(tx.conn, agent)?;
    }
    if !transition(tx, &pane, Transition::to(PaneState::Removed), actor)? {
        return Ok(false);
    }
    tx.emit(pane_event(
        EventType::PaneRemoved,
        actor,
        &pane,
        json!({
            "label": pane.label,
            "tmux_pane_id": pane.tmux_pane_id,
            "agent_id": pane.agent_id,
            "routes_deleted": deleted,
            "reason": reason,
        }),
    ))?;
    reaggregate(tx, &pane.layout_id, actor)?;
    Ok(true)
}
