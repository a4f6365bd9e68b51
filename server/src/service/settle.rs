//! The pipeline's decisions (SPEC §8 stages 3–5): `judge` reads what the
//! probe found for each pane (a pure function), then pure transaction
//! functions record what tmux created, register each present pane as a
//! managed agent and settle it ready, degraded or failed, with the layout
//! aggregate in the same transaction.

use std::collections::HashMap;
use std::path::PathBuf;

use diesel::Connection as _;

use super::lifecycle::{Transition, pane_event, reaggregate, transition};
use super::pipeline::{LogPlan, PanePlan};
use crate::domain::event::{LaunchCommandExited, LogAttachFailed};
use crate::domain::{Actor, ExitDetection, FailedStage, Origin, PaneState};
use crate::error::Result;
use crate::runtime::RuntimeError;
use crate::runtime::tmux::PaneInfo;
use crate::store::models::{AgentRow, PaneRow};
use crate::store::{Tx, agents, panes};

/// Stage 1 in the database: the `%N` of created panes; `failed/pane_create`
/// for the others.
pub(crate) fn record_created(
    tx: &mut Tx<'_>,
    layout_id: &str,
    created: &[(String, String)],
    failed: &[PaneRow],
    reason: &str,
) -> Result<()> {
    for (pane_id, tmux_id) in created {
        panes::update_if(
            tx.conn,
            pane_id,
            PaneState::Creating,
            panes::PaneChanges {
                tmux_pane_id: Some(Some(tmux_id.clone())),
                ..Default::default()
            },
        )?;
    }
    for pane in failed {
        let t = Transition::stopped(PaneState::Failed, FailedStage::PaneCreate, reason);
        transition(tx, pane, t, Actor::Daemon)?;
    }
    if !failed.is_empty() {
        reaggregate(tx, layout_id, Actor::Daemon)?;
    }
    Ok(())
}

pub(crate) struct Outcome {
    pub plan: PanePlan,
    pub tmux_pane_id: String,
    /// The tmux server instance the pane lives on.
    pub server: String,
    /// `#{pane_pid}`, when the probe saw the pane.
    pub pane_pid: Option<i32>,
    /// Why the pane is not there (gone, or the probe failed).
    pub present: std::result::Result<(), String>,
    pub exited: Option<(Option<i32>, u64)>,
    pub log: std::result::Result<PathBuf, String>,
    pub log_host: Option<PathBuf>,
}

/// What the probe says about one created pane.
pub(crate) fn judge(
    plan: &PanePlan,
    tmux_pane_id: &str,
    log: &LogPlan,
    probe: &std::result::Result<HashMap<String, PaneInfo>, RuntimeError>,
    elapsed_ms: u64,
) -> Outcome {
    let info = match probe {
        Ok(found) => found
            .get(tmux_pane_id)
            .filter(|i| i.owned_by(&plan.pane.id))
            .cloned()
            .ok_or_else(|| format!("tmux pane {tmux_pane_id} vanished before registration")),
        Err(e) => Err(format!("cannot list the session's panes: {e}")),
    };
    let log_host = log.as_ref().ok().map(|l| l.host.clone());
    let log = match (log, &info) {
        (Err(reason), _) => Err(reason.clone()),
        (Ok(l), Ok(info)) if !info.pipe && !info.dead => Err(format!(
            "the log pipe into {} closed; is the log directory writable from the container?",
            l.target.display()
        )),
        (Ok(l), _) => Ok(l.host.clone()),
    };
    Outcome {
        exited: info
            .as_ref()
            .ok()
            .filter(|i| i.dead)
            .map(|i| (i.dead_status, elapsed_ms)),
        server: info.as_ref().map(|i| i.server.clone()).unwrap_or_default(),
        pane_pid: info.as_ref().ok().and_then(|i| i.pid),
        present: info.map(|_| ()),
        plan: plan.clone(),
        tmux_pane_id: tmux_pane_id.to_string(),
        log,
        log_host,
    }
}

/// Stages 3–5 in one transaction: register each present pane as a managed
/// agent (a savepoint each, so one failure stays that pane's), then settle it
/// as ready, degraded or failed, and re-aggregate the layout.
pub(crate) fn settle(
    tx: &mut Tx<'_>,
    layout_id: &str,
    socket: &str,
    outcomes: Vec<Outcome>,
) -> Result<()> {
    for o in outcomes {
        let pane = &o.plan.pane;
        // The sweep may have settled it while we waited.
        let Some(current) = panes::get(tx.conn, &pane.id)? else {
            continue;
        };
        if current.state != PaneState::Creating {
            continue;
        }
        if let Err(reason) = &o.present {
            let t =
                Transition::stopped(PaneState::Failed, FailedStage::Registration, reason.clone());
            transition(tx, &current, t, Actor::Daemon)?;
            continue;
        }
        // The pane was just created on this server, so any agent still
        // holding its `%N` belongs to an earlier server instance.
        release_stale(
            tx,
            &pane.container_id,
            socket,
            &o.tmux_pane_id,
            &o.server,
            true,
        )?;
        let agent = AgentRow {
            role: pane.role.clone(),
            capability: pane.capability.clone(),
            label: pane.label.clone(),
            log_path: o.log.as_ref().ok().map(|p| p.display().to_string()),
            log_attached: o.log.is_ok() && o.exited.is_none(),
            ..AgentRow::registered(
                Origin::Managed,
                pane.container_id.clone(),
                socket.to_string(),
                pane.tmux_session_name.clone(),
                o.tmux_pane_id.clone(),
                o.server.clone(),
                o.pane_pid,
            )
        };
        let registered = tx
            .conn
            .transaction::<_, diesel::result::Error, _>(|c| agents::insert(c, &agent));
        let mut t = if let Err(e) = registered {
            tracing::warn!(pane = %pane.id, error = %e, "agent registration failed");
            Transition::stopped(
                PaneState::Failed,
                FailedStage::Registration,
                format!("cannot register the agent for {}", o.tmux_pane_id),
            )
        } else if let Some((code, elapsed_ms)) = o.exited {
            tx.emit(pane_event(
                Actor::Daemon,
                pane,
                LaunchCommandExited {
                    exit_code: code,
                    elapsed_ms: Some(elapsed_ms),
                    detected_by: ExitDetection::SettleProbe,
                    profile: Some(o.plan.launch.profile.clone()),
                    argv: o.plan.launch.command.clone(),
                },
            ))?;
            let status = code.map_or("an unknown status".to_string(), |c| format!("status {c}"));
            Transition::stopped(
                PaneState::Degraded,
                FailedStage::LaunchCommand,
                format!("the launch command exited with {status} within {elapsed_ms} ms"),
            )
        } else if let Err(reason) = &o.log {
            tx.emit(pane_event(
                Actor::Daemon,
                pane,
                LogAttachFailed {
                    reason: reason.clone(),
                    log_path: o.log_host.as_ref().map(|p| p.display().to_string()),
                },
            ))?;
            Transition::stopped(PaneState::Degraded, FailedStage::LogAttach, reason.clone())
        } else {
            Transition::to(PaneState::Ready)
        };
        if t.to != PaneState::Failed {
            t.changes.agent_id = Some(Some(agent.agent_id.clone()));
            t.changes.log_path = Some(o.log.as_ref().ok().map(|p| p.display().to_string()));
        }
        transition(tx, &current, t, Actor::Daemon)?;
    }
    reaggregate(tx, layout_id, Actor::Daemon)?;
    Ok(())
}

/// Releases `%N` on tmux server `socket` of a container from every
/// registered agent that holds it but was registered on another server
/// instance than `server` (pane ids restart at `%0` with the server, so its
/// pane is gone): the agent is unregistered and a live managed pane behind
/// it fails at `recovery_reattach`. Agents registered before server
/// identities were recorded count as stale only when `legacy_too`.
pub(crate) fn release_stale(
    tx: &mut Tx<'_>,
    container_id: &str,
    socket: &str,
    tmux_pane_id: &str,
    server: &str,
    legacy_too: bool,
) -> Result<()> {
    let holders = agents::holding(tx.conn, container_id, socket, tmux_pane_id)?;
    for agent in holders {
        let stale = match agent.tmux_server.as_deref() {
            Some(recorded) => recorded != server,
            None => legacy_too,
        };
        if stale {
            release_agent(
                tx,
                &agent.agent_id,
                &format!("tmux pane {tmux_pane_id} is gone (its tmux server restarted)"),
            )?;
        }
    }
    Ok(())
}

/// Unregisters an agent whose tmux pane is gone, failing the live managed
/// pane behind it at `recovery_reattach`. Returns whether a pane failed.
pub(crate) fn release_agent(tx: &mut Tx<'_>, agent_id: &str, reason: &str) -> Result<bool> {
    super::activity::unregister(tx, agent_id)?;
    let Some(pane) = panes::of_agent(tx.conn, agent_id)? else {
        return Ok(false);
    };
    if !matches!(pane.state, PaneState::Ready | PaneState::Degraded) {
        return Ok(false);
    }
    let t = Transition::stopped(PaneState::Failed, FailedStage::RecoveryReattach, reason);
    let failed = transition(tx, &pane, t, Actor::Daemon)?;
    if failed {
        reaggregate(tx, &pane.layout_id, Actor::Daemon)?;
    }
    Ok(failed)
}
