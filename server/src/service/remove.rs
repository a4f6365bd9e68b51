//! M6 RemovePane and RemoveLayout: on the container's FIFO, kill the tmux pane
//! (its log pipe with it; already gone is fine), then in one transaction
//! delete the agent's routes, unregister it, mark the pane `removed`, and
//! re-aggregate the layout. The row and its events are kept forever.

use std::sync::Arc;

use super::create::LayoutView;
use super::lifecycle::{Transition, pane_event, reaggregate, transition};
use super::scope::Caller;
use super::{Services, validate};
use crate::domain::event::PaneRemoved;
use crate::domain::{Actor, Origin, PaneState};
use crate::error::{Error, Result};
use crate::runtime::tmux;
use crate::runtime::tmux::ops::{self, retrying};
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
            Some(a) if a.origin == Origin::Adopted => Err(Error::ProtectedAdopted {
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
                let owned: Vec<(String, String)> = pane
                    .tmux_pane_id
                    .iter()
                    .map(|t| (t.clone(), pane.id.clone()))
                    .collect();
                kill_owned(&svc, rt.as_ref(), &owned)
                    .await
                    .map_err(Error::internal)?;
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
    pub(crate) async fn remove_layout(
        self: &Arc<Self>,
        caller: &Caller,
        id: &str,
    ) -> Result<LayoutView> {
        let view = self.get_layout(caller, id, false).await?;
        for pane in &view.panes {
            removable(pane)?;
        }
        let svc = Arc::clone(self);
        let id = id.to_string();
        self.queues
            .run(&view.layout.container_id, async move {
                // Removed panes too: their marks count below.
                let view = svc.get_layout(&Caller::Host, &id, true).await?;
                let mut live = Vec::new();
                for pane in &view.panes {
                    if removable(pane)?.is_none() {
                        live.push(pane.clone());
                    }
                }
                let rt = svc.runtimes.get(&view.layout.container_id)?;
                // Every tmux pane marked as one of the layout's, whatever
                // its row says: a pane that appeared after its row failed
                // (a tmux that hung past the TTL) goes too.
                let timeout = svc.config.stage_timeout();
                let listed = retrying(&svc.config.retry_backoffs(), |_| {
                    tmux::list_marked(rt.as_ref(), timeout)
                })
                .await;
                let marked = match listed {
                    Ok(marked) => marked,
                    Err(RuntimeError::Gone(_)) => Vec::new(),
                    Err(e) => return Err(Error::internal(e)),
                };
                let owned: Vec<(String, String)> = marked
                    .into_iter()
                    .filter(|m| view.panes.iter().any(|p| p.id == m.owner))
                    .map(|m| (m.pane_id, m.owner))
                    .collect();
                kill_owned(&svc, rt.as_ref(), &owned)
                    .await
                    .map_err(Error::internal)?;
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
                svc.get_layout(&Caller::Host, &id, true).await
            })
            .await
            .ok_or_else(shutting_down)?
    }
}

/// `Some(pane)` when removing is a no-op (already removed); an error for a
/// pane still being created.
fn removable(pane: &PaneRow) -> Result<Option<PaneRow>> {
    match pane.state {
        PaneState::Removed => Ok(Some(pane.clone())),
        PaneState::Creating => Err(Error::IllegalTransition {
            pane_id: pane.id.clone(),
            current_state: PaneState::Creating.to_string(),
            requested_action: "remove".into(),
        }),
        _ => Ok(None),
    }
}

/// Kills each `(%N, pane row)` tmux pane if it carries that row's
/// ownership mark, checked by tmux in the same command; that also closes
/// its log pipe (an explicit `pipe-pane` would fail on a dead,
/// remain-on-exit pane). A pane already gone is success; a pane that is not
/// ours (its `%N` now names someone else's pane, after a server restart) is
/// left alone.
pub(crate) async fn kill_owned(
    svc: &Services,
    rt: &dyn Runtime,
    panes: &[(String, String)],
) -> std::result::Result<(), RuntimeError> {
    let timeout = svc.config.stage_timeout();
    let foreign = retrying(&svc.config.retry_backoffs(), |_| {
        ops::kill_owned(rt, panes, timeout)
    })
    .await?;
    for id in foreign {
        tracing::warn!(tmux_pane = %id, "not killed: that tmux pane is not ours");
    }
    Ok(())
}

/// Marks a pane `removed` with its clean-up, in the caller's transaction:
/// routes touching its agent deleted, the agent unregistered (log detached),
/// the removal event, and the layout re-aggregated. Returns false when the
/// pane was already removed.
pub(crate) fn retire(tx: &mut Tx<'_>, pane_id: &str, actor: Actor, reason: &str) -> Result<bool> {
    let Some(pane) = panes::get(tx.conn, pane_id)? else {
        return Ok(false);
    };
    if pane.state == PaneState::Removed {
        return Ok(false);
    }
    let mut deleted = 0;
    if let Some(agent) = &pane.agent_id {
        deleted = routes::delete_for_agent(tx.conn, agent)?;
        super::activity::unregister(tx, agent)?;
    }
    if !transition(tx, &pane, Transition::to(PaneState::Removed), actor)? {
        return Ok(false);
    }
    tx.emit(pane_event(
        actor,
        &pane,
        PaneRemoved {
            label: pane.label.clone(),
            tmux_pane_id: pane.tmux_pane_id.clone(),
            agent_id: pane.agent_id.clone(),
            routes_deleted: u32::try_from(deleted).unwrap_or(u32::MAX),
            reason: reason.to_string(),
        },
    ))?;
    reaggregate(tx, &pane.layout_id, actor)?;
    Ok(true)
}
