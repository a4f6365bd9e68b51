//! State changes inside a write transaction: a pane transition with its
//! events, and the layout aggregate recomputed in the same transaction.

use crate::domain::event::{LayoutStateChanged, PaneStateChanged, PendingMarkerCleared};
use crate::domain::{Actor, EventPayload, FailedStage, PaneState, aggregate};
use crate::error::{Error, Result};
use crate::store::Tx;
use crate::store::events::NewEvent;
use crate::store::layouts;
use crate::store::models::PaneRow;
use crate::store::panes::{self, PaneChanges};

/// An event about one pane of a layout.
pub(crate) fn pane_event(
    actor: Actor,
    pane: &PaneRow,
    payload: impl Into<EventPayload>,
) -> NewEvent {
    NewEvent {
        actor,
        container_id: Some(pane.container_id.clone()),
        layout_id: Some(pane.layout_id.clone()),
        pane_id: Some(pane.id.clone()),
        payload: payload.into(),
    }
}

/// The outcome a pipeline step or an operator asks for.
#[derive(Debug, Clone)]
pub(crate) struct Transition {
    pub to: PaneState,
    pub stage: Option<FailedStage>,
    pub reason: Option<String>,
    /// Further columns to set in the same update.
    pub changes: PaneChanges,
}

impl Transition {
    pub(crate) fn to(to: PaneState) -> Self {
        Transition {
            to,
            stage: None,
            reason: None,
            changes: PaneChanges::default(),
        }
    }

    pub(crate) fn stopped(to: PaneState, stage: FailedStage, reason: impl Into<String>) -> Self {
        Transition {
            to,
            stage: Some(stage),
            reason: Some(reason.into()),
            changes: PaneChanges::default(),
        }
    }
}

/// Applies `t` to `pane` if it is still in the state it was read in. Returns
/// `false` (and writes nothing) when another writer moved it first; refuses
/// transitions SPEC §6 does not allow.
pub(crate) fn transition(
    tx: &mut Tx<'_>,
    pane: &PaneRow,
    t: Transition,
    actor: Actor,
) -> Result<bool> {
    let from = pane.state;
    // SPEC §8/§9: a ready pane whose tmux pane vanished becomes failed at
    // recovery_reattach. That is the daemon recording a fact, not a request,
    // so it is the one edge beyond the §6 table.
    let vanished = from == PaneState::Ready
        && t.to == PaneState::Failed
        && t.stage == Some(FailedStage::RecoveryReattach);
    if !from.can_become(t.to) && !vanished {
        return Err(Error::IllegalTransition {
            pane_id: pane.id.clone(),
            current_state: from.to_string(),
            requested_action: format!("become {}", t.to),
        });
    }
    // The agent's process exited while its pane stays: activity `exited`.
    let exited_agent = (t.to == PaneState::Degraded && t.stage == Some(FailedStage::LaunchCommand))
        .then(|| {
            t.changes
                .agent_id
                .clone()
                .flatten()
                .or_else(|| pane.agent_id.clone())
        })
        .flatten();
    let mut changes = t.changes;
    changes.state = Some(t.to);
    changes.failed_stage = Some(t.stage);
    changes.failure_reason = Some(t.reason.clone());
    let clears_marker = from == PaneState::Creating;
    if clears_marker {
        changes.pending_marker_token = Some(None);
    }
    if !panes::update_if(tx.conn, &pane.id, from, changes)? {
        return Ok(false);
    }
    if clears_marker {
        tx.emit(pane_event(
            actor,
            pane,
            PendingMarkerCleared {
                token: pane.pending_marker_token.clone(),
                label: pane.label.clone(),
            },
        ))?;
    }
    tx.emit(pane_event(
        actor,
        pane,
        PaneStateChanged {
            from_state: from,
            to_state: t.to,
            failed_stage: t.stage,
            reason: t.reason,
            label: pane.label.clone(),
        },
    ))?;
    if let Some(agent) = exited_agent {
        super::activity::exited(tx, &agent)?;
    }
    Ok(true)
}

/// Recomputes a layout's state, failed stage and ready count from its panes
/// and stores them, emitting `managed_layout_state_changed` on a change. An
/// unknown layout id changes nothing.
pub(crate) fn reaggregate(tx: &mut Tx<'_>, layout_id: &str, actor: Actor) -> Result<()> {
    let Some(layout) = layouts::get(tx.conn, layout_id)? else {
        return Ok(());
    };
    let rows = panes::for_layout(tx.conn, &layout.id)?;
    let state = aggregate(rows.iter().map(|p| p.state));
    let stage = rows
        .iter()
        .find(|p| matches!(state, PaneState::Failed | PaneState::Degraded) && p.state == state)
        .and_then(|p| p.failed_stage);
    let ready = rows.iter().filter(|p| p.state == PaneState::Ready).count() as i32;
    let current = &layout;
    if current.state == state && current.failed_stage == stage && current.ready_pane_count == ready
    {
        return Ok(());
    }
    layouts::set_aggregate(tx.conn, &layout.id, state, stage, ready)?;
    if current.state != state {
        tx.emit(NewEvent {
            actor,
            container_id: Some(layout.container_id.clone()),
            layout_id: Some(layout.id.clone()),
            pane_id: None,
            payload: LayoutStateChanged {
                from_state: current.state,
                to_state: state,
                failed_stage: stage,
                ready_pane_count: count(ready),
                intended_pane_count: count(layout.intended_pane_count),
            }
            .into(),
        })?;
    }
    Ok(())
}

/// A stored count (never negative) as a payload count.
pub(crate) fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or_default()
}
