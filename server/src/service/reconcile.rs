//! Making the table agree with tmux: boot recovery and the health watcher
//! (SPEC §8–§9) share one reconcile of a container against a single pane
//! listing; the pending-marker sweep fails panes stuck in `creating`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::json;

use super::Services;
use super::domain::{Actor, EventType, FailedStage, PaneState};
use super::lifecycle::{Transition, pane_event, pane_state, reaggregate, transition};
use super::pipeline::{MARKER_OPTION, with_retries};
use crate::error::Result;
use crate::runtime::RuntimeError;
use crate::runtime::tmux::{Chain, PANE_FIELDS, PaneInfo, parse_panes};
use crate::store::{Tx, containers, panes};

/// Why a container is being reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Boot recovery: reattach survivors, fail the vanished.
    Boot,
    /// A health-watcher tick.
    Health,
}

/// What happened to one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reconciled {
    Done,
    /// The listing failed; nothing was touched.
    Skipped,
}

impl Services {
    /// Boot recovery of every container with live panes, in parallel, before
    /// the socket accepts requests. Returns how many containers were skipped.
    pub(crate) async fn recover(self: &Arc<Self>) -> Result<usize> {
        let containers = self
            .store
            .read(|conn| panes::containers_with(conn, &["ready", "degraded"]))
            .await?;
        let mut tasks = tokio::task::JoinSet::new();
        for c in containers {
            let svc = Arc::clone(self);
            tasks.spawn(async move { svc.reconcile(&c, Reason::Boot).await });
        }
        let mut skipped = 0;
        while let Some(r) = tasks.join_next().await {
            if matches!(r, Ok(Ok(Reconciled::Skipped))) {
                skipped += 1;
            }
        }
        Ok(skipped)
    }

    /// Lists the container's tmux panes once and settles its ready and
    /// degraded panes against it, all in one transaction with the layout
    /// aggregates. A container whose listing fails is left untouched.
    pub(crate) async fn reconcile(&self, container_id: &str, reason: Reason) -> Result<Reconciled> {
        let Ok(rt) = self.runtimes.get(container_id) else {
            tracing::warn!(container_id, "no runtime for the container; not reconciled");
            return Ok(Reconciled::Skipped);
        };
        let listing = with_retries(&self.config.retry_backoffs(), |_| {
            let mut chain = Chain::new();
            chain.cmd(["list-panes", "-a", "-F", PANE_FIELDS]);
            rt.tmux(chain.into_args(), self.config.stage_timeout())
        })
        .await;
        let mut gone = false;
        let found: HashMap<String, PaneInfo> = match listing {
            Ok(out) => parse_panes(&out)
                .into_iter()
                .map(|p| (p.pane_id.clone(), p))
                .collect(),
            // No tmux server: every pane is gone.
            Err(RuntimeError::NoServer) => HashMap::new(),
            // The container went, and its tmux server with it.
            Err(RuntimeError::Gone(why)) => {
                tracing::warn!(container_id, reason = %why, "container gone; its panes are gone");
                gone = true;
                HashMap::new()
            }
            Err(e) => {
                tracing::warn!(container_id, error = %e, "cannot list tmux panes; container left untouched");
                return Ok(Reconciled::Skipped);
            }
        };
        let container = container_id.to_string();
        self.store
            .write(move |tx| {
                if gone {
                    containers::set_state(tx.conn, &container, "stopped")?;
                }
                settle_against(tx, &container, &found, reason)
            })
            .await?;
        Ok(Reconciled::Done)
    }

    /// The health watcher: every interval, one reconcile per container with
    /// live panes, each run on that container's FIFO.
    pub(crate) async fn watch_health(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.health_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let containers = match self
                .store
                .read(|conn| panes::containers_with(conn, &["ready", "degraded"]))
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = ?e, "health watcher cannot read panes");
                    continue;
                }
            };
            let mut tasks = tokio::task::JoinSet::new();
            for c in containers {
                let svc = Arc::clone(&self);
                tasks.spawn(async move {
                    let inner = Arc::clone(&svc);
                    let key = c.clone();
                    svc.queues
                        .run(
                            &c,
                            async move { inner.reconcile(&key, Reason::Health).await },
                        )
                        .await
                });
            }
            while tasks.join_next().await.is_some() {}
        }
    }

    /// The pending-marker sweep: a pane still `creating` after the TTL is
    /// failed — at `registration` if a tmux pane backs it (its `%N` was
    /// recorded, or a pane carries its marker token, e.g. after a crash
    /// before the id was committed), else at `pane_create`. The update is
    /// guarded by `state = 'creating'`, so it never clobbers a pane the
    /// pipeline just settled. Returns how many panes it failed.
    pub(crate) async fn sweep(&self) -> Result<usize> {
        let ttl =
            time::Duration::try_from(self.config.pending_ttl()).unwrap_or(time::Duration::MAX);
        let cutoff = crate::store::format_time(time::OffsetDateTime::now_utc() - ttl);
        let stale = self
            .store
            .read(move |conn| panes::stale_creating(conn, &cutoff))
            .await?;
        if stale.is_empty() {
            return Ok(0);
        }
        // token → %N, one listing per container that has an unrecorded pane.
        let mut backed: HashMap<String, String> = HashMap::new();
        let mut containers: Vec<&str> = stale
            .iter()
            .filter(|p| p.tmux_pane_id.is_none())
            .map(|p| p.container_id.as_str())
            .collect();
        containers.sort();
        containers.dedup();
        for c in containers {
            backed.extend(self.marked_panes(c).await);
        }
        self.store
            .write(move |tx| {
                let mut failed = 0;
                let mut touched = BTreeSet::new();
                for pane in &stale {
                    let found = pane
                        .pending_marker_token
                        .as_ref()
                        .and_then(|t| backed.get(t))
                        .cloned();
                    let stage = if pane.tmux_pane_id.is_some() || found.is_some() {
                        FailedStage::Registration
                    } else {
                        FailedStage::PaneCreate
                    };
                    let mut t = Transition::stopped(
                        PaneState::Failed,
                        stage,
                        "still creating when the pending-marker TTL ran out",
                    );
                    if pane.tmux_pane_id.is_none() && found.is_some() {
                        t.changes.tmux_pane_id = Some(found);
                    }
                    if transition(tx, pane, t, Actor::Daemon)? {
                        failed += 1;
                        touched.insert(pane.layout_id.clone());
                    }
                }
                for id in touched {
                    reaggregate(tx, &id, Actor::Daemon)?;
                }
                Ok(failed)
            })
            .await
    }

    /// `marker token → %N` of the container's panes that carry a pending
    /// marker; empty when tmux cannot be listed.
    async fn marked_panes(&self, container_id: &str) -> HashMap<String, String> {
        let Ok(rt) = self.runtimes.get(container_id) else {
            return HashMap::new();
        };
        let mut chain = Chain::new();
        chain.cmd([
            "list-panes",
            "-a",
            "-F",
            &format!("#{{pane_id}}\t#{{{MARKER_OPTION}}}"),
        ]);
        match rt
            .tmux(chain.into_args(), self.config.stage_timeout())
            .await
        {
            Ok(out) => out
                .lines()
                .filter_map(|l| l.split_once('\t'))
                .filter(|(_, token)| !token.is_empty())
                .map(|(id, token)| (token.to_string(), id.to_string()))
                .collect(),
            Err(_) => HashMap::new(),
        }
    }

    /// Runs the sweep every interval.
    pub(crate) async fn sweep_forever(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.sweep_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the boot sweep already ran
        loop {
            tick.tick().await;
            if let Err(e) = self.sweep().await {
                tracing::warn!(error = ?e, "pending-marker sweep failed");
            }
            self.store.sync_mirror().await;
        }
    }
}

/// Settles a container's ready/degraded panes against `found` (its tmux
/// listing). A pane is present when its `%N` exists in the same session.
fn settle_against(
    tx: &mut Tx<'_>,
    container_id: &str,
    found: &HashMap<String, PaneInfo>,
    reason: Reason,
) -> Result<()> {
    let live = panes::of_container_in(tx.conn, container_id, &["ready", "degraded"])?;
    let mut touched = BTreeSet::new();
    for pane in &live {
        let state = pane_state(pane)?;
        let info = pane
            .tmux_pane_id
            .as_ref()
            .and_then(|id| found.get(id))
            .filter(|i| i.session == pane.tmux_session_name);
        match info {
            None => {
                let t = Transition::stopped(
                    PaneState::Failed,
                    FailedStage::RecoveryReattach,
                    format!(
                        "tmux pane {} is gone",
                        pane.tmux_pane_id.as_deref().unwrap_or("?")
                    ),
                );
                if transition(tx, pane, t, Actor::Daemon)? {
                    if reason == Reason::Boot {
                        tx.emit(pane_event(
                            EventType::RecoveryFailed,
                            Actor::Daemon,
                            pane,
                            json!({ "label": pane.label, "tmux_pane_id": pane.tmux_pane_id }),
                        ))?;
                    }
                    touched.insert(pane.layout_id.clone());
                }
            }
            Some(info) if info.dead && state == PaneState::Ready => {
                tx.emit(pane_event(
                    EventType::LaunchCommandExited,
                    Actor::Daemon,
                    pane,
                    json!({ "exit_code": info.dead_status, "detected_by": "health_watcher" }),
                ))?;
                let status = info
                    .dead_status
                    .map_or("an unknown status".to_string(), |c| format!("status {c}"));
                let t = Transition::stopped(
                    PaneState::Degraded,
                    FailedStage::LaunchCommand,
                    format!("the launch command exited with {status} after the pane was ready"),
                );
                if transition(tx, pane, t, Actor::Daemon)? {
                    touched.insert(pane.layout_id.clone());
                }
            }
            Some(_) if reason == Reason::Boot => {
                tx.emit(pane_event(
                    EventType::RecoveryReattached,
                    Actor::Daemon,
                    pane,
                    json!({ "label": pane.label, "tmux_pane_id": pane.tmux_pane_id, "state": pane.state }),
                ))?;
            }
            Some(_) => {}
        }
    }
    for id in touched {
        reaggregate(tx, &id, Actor::Daemon)?;
    }
    Ok(())
}
