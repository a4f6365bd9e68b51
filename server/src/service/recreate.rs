//! M7 RecreatePane: a new pane in the predecessor's slot (same layout, role,
//! capability, label, tmux slot), linked by `predecessor_id` with
//! `chain_depth + 1`, spawned by the same pipeline into the layout's session.

use std::sync::Arc;

use super::create::{announce_pane, resolve_profile};
use super::lifecycle::{count, pane_event, reaggregate};
use super::pipeline::{self, PanePlan, SpawnMode};
use super::remove::{kill_owned, retire};
use super::{Services, validate};
use crate::config::catalog::SHELL_PROFILE;
use crate::domain::event::PaneRecreated;
use crate::domain::{Actor, PaneState};
use crate::error::{Error, Result};
use crate::store::models::PaneRow;
use crate::store::{self, Tx, constraint_violation, panes};

/// Deepest chain a successor may reach (SPEC §5: chain_depth 0..16).
pub(crate) const CHAIN_LIMIT: u32 = 16;

/// A RecreatePane request after decoding.
#[derive(Debug, Clone)]
pub(crate) struct Recreate {
    pub predecessor_pane_id: String,
    pub launch_command_override: Option<String>,
    pub idempotency_key: Option<String>,
}

/// What the insert transaction decided.
enum Outcome {
    New(PaneRow),
    Replay(PaneRow),
}

impl Services {
    /// M7. Returns the successor and whether this was an idempotent replay.
    pub(crate) async fn recreate_pane(self: &Arc<Self>, req: Recreate) -> Result<(PaneRow, bool)> {
        if let Some(key) = &req.idempotency_key {
            validate::field_identifier("idempotency_key", key)?;
        }
        if let Some(p) = &req.launch_command_override {
            validate::field_catalog_name("launch_command_override", p)?;
        }
        let pred = self
            .managed_pane("predecessor_pane_id", &req.predecessor_pane_id)
            .await?;
        let profile = req
            .launch_command_override
            .clone()
            .or_else(|| pred.launch_command_ref.clone())
            .unwrap_or_else(|| SHELL_PROFILE.to_string());
        // Checked before anything is written: a bogus profile inserts nothing.
        let launch = resolve_profile(&self.catalog().await?, &profile)?;
        let rt = self.runtimes.get(&pred.container_id)?;

        let slot = self.queues.slot(&pred.container_id).await;
        let (pred_id, key) = (pred.id.clone(), req.idempotency_key.clone());
        let launch_for_tx = launch.clone();
        let outcome = self
            .store
            .write(move |tx| insert_successor(tx, &pred_id, key, &launch_for_tx))
            .await?;
        let row = match outcome {
            Outcome::Replay(row) => return Ok((row, true)),
            Outcome::New(row) => row,
        };
        let svc = Arc::clone(self);
        let plan = PanePlan {
            pane: row.clone(),
            launch,
        };
        let old_tmux: Vec<(String, String)> = (pred.state == PaneState::Failed)
            .then(|| pred.tmux_pane_id.clone())
            .flatten()
            .map(|t| (t, pred.id.clone()))
            .into_iter()
            .collect();
        slot.push(async move {
            // A failed predecessor may still have a tmux pane in the slot.
            if let Err(e) = kill_owned(&svc, rt.as_ref(), &old_tmux).await {
                tracing::warn!(error = ?e, "cannot kill the failed predecessor's tmux pane");
            }
            let layout_id = plan.pane.layout_id.clone();
            pipeline::spawn_layout(svc, rt, layout_id, vec![plan], SpawnMode::IntoSession).await
        });
        Ok((row, false))
    }
}

/// The write transaction of M7: every rule re-checked under the writer lock,
/// so two concurrent recreates of one predecessor yield exactly one successor.
fn insert_successor(
    tx: &mut Tx<'_>,
    pred_id: &str,
    key: Option<String>,
    launch: &pipeline::Launch,
) -> Result<Outcome> {
    let pred = panes::get(tx.conn, pred_id)?.ok_or_else(|| Error::PaneNotFound {
        pane_id: pred_id.to_string(),
    })?;
    let successors = panes::successors(tx.conn, pred_id)?;
    if let Some(key) = &key
        && let Some(s) = successors
            .iter()
            .find(|s| s.recreate_idempotency_key.as_deref() == Some(key))
    {
        return Ok(Outcome::Replay(s.clone()));
    }
    let state = pred.state;
    if !matches!(state, PaneState::Removed | PaneState::Failed) {
        return Err(Error::IllegalRecreateSource {
            predecessor_pane_id: pred.id.clone(),
            current_state: state.to_string(),
        });
    }
    if pred.chain_depth as u32 + 1 >= CHAIN_LIMIT {
        return Err(Error::RecreateChainTooDeep {
            predecessor_pane_id: pred.id.clone(),
            predecessor_chain_depth: pred.chain_depth as u32,
            limit: CHAIN_LIMIT,
        });
    }
    for s in &successors {
        if s.state.is_live() {
            return Err(Error::ConcurrentRecreate {
                predecessor_pane_id: pred.id.clone(),
                in_flight_successor_pane_id: s.id.clone(),
            });
        }
    }
    if state == PaneState::Failed {
        retire(tx, &pred.id, Actor::Operator, "superseded by a recreate")?;
    }
    let now = store::now();
    let row = PaneRow {
        id: store::new_id(),
        agent_id: None,
        launch_command_ref: Some(launch.profile.clone()),
        tmux_pane_id: None,
        pending_marker_token: Some(uuid::Uuid::new_v4().simple().to_string()),
        state: PaneState::Creating,
        failed_stage: None,
        failure_reason: None,
        predecessor_id: Some(pred.id.clone()),
        chain_depth: pred.chain_depth + 1,
        log_path: None,
        created_at: now.clone(),
        updated_at: now,
        recreate_idempotency_key: key,
        ..pred.clone()
    };
    panes::insert(tx.conn, std::slice::from_ref(&row)).map_err(|e| {
        match constraint_violation(&e) {
            Some(m) if m.contains("predecessor_id") => Error::ConcurrentRecreate {
                predecessor_pane_id: pred.id.clone(),
                in_flight_successor_pane_id: String::new(),
            },
            Some(m) if m.contains("label") || m.contains("tmux_pane_index") => {
                Error::LabelConflict {
                    container_id: row.container_id.clone(),
                    label: row.label.clone(),
                }
            }
            _ => Error::internal(e),
        }
    })?;
    tx.emit(pane_event(
        Actor::Operator,
        &row,
        PaneRecreated {
            predecessor_id: pred.id.clone(),
            chain_depth: count(row.chain_depth),
            label: row.label.clone(),
        },
    ))?;
    announce_pane(tx, &row, launch)?;
    reaggregate(tx, &row.layout_id, Actor::Operator)?;
    Ok(Outcome::New(row))
}
