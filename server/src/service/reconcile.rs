//! Making the table agree with tmux: boot recovery and the health watcher
//! (SPEC §8–§9) share one reconcile of a container against a single pane
//! listing; the pending-marker sweep fails panes stuck in `creating`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::Services;
use super::lifecycle::{Transition, pane_event, reaggregate, transition};
use super::remove::kill_owned;
use crate::domain::event::{LaunchCommandExited, RecoveryFailed, RecoveryReattached};
use crate::domain::{Actor, ContainerState, ExitDetection, FailedStage, Origin, PaneState};
use crate::error::Result;
use crate::runtime::RuntimeError;
use crate::runtime::tmux::ops::{self, retrying};
use crate::runtime::tmux::{self, Marked, PaneInfo};
use crate::store::models::PaneRow;
use crate::store::{Tx, agents, containers, panes};

/// Why a container is being reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Boot recovery: reattach survivors, fail the vanished.
    Boot,
    /// A health-watcher tick.
    Health,
}

/// What a sweep does besides failing stale `creating` panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sweep {
    /// Only that (boot, before the socket accepts anything): lists only
    /// containers with a stale pane whose `%N` was never recorded.
    StaleOnly,
    /// Also kill orphan panes (every tick, the first right after boot).
    AndReap,
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
        let containers = self.store.read(watched_containers).await?;
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
    /// degraded panes and its adopted agents against it, all in one
    /// transaction with the layout aggregates. A container whose listing
    /// fails is left untouched.
    pub(crate) async fn reconcile(&self, container_id: &str, reason: Reason) -> Result<Reconciled> {
        let Ok(rt) = self.runtimes.get(container_id) else {
            tracing::warn!(container_id, "no runtime for the container; not reconciled");
            return Ok(Reconciled::Skipped);
        };
        let listing = retrying(&self.config.retry_backoffs(), |_| {
            ops::list_panes(rt.as_ref(), self.config.stage_timeout())
        })
        .await;
        let mut gone = false;
        // No tmux server lists no pane: every pane is gone.
        let found: HashMap<String, PaneInfo> = match listing {
            Ok(panes) => panes.into_iter().map(|p| (p.pane_id.clone(), p)).collect(),
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
        let (container, socket) = (container_id.to_string(), rt.tmux_socket());
        self.store
            .write(move |tx| {
                if gone {
                    containers::set_state(tx.conn, &container, ContainerState::Stopped)?;
                }
                settle_against(tx, &container, &found, reason)?;
                release_adopted(tx, &container, &socket, &found)
            })
            .await?;
        Ok(Reconciled::Done)
    }

    /// The health watcher: one reconcile per container with live panes,
    /// each run on that container's FIFO, every interval (the safety net)
    /// and as soon as a container's tmux server pushes a doorbell: a pane
    /// died or went, or its control connection closed.
    pub(crate) async fn watch_health(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.health_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let rung = tokio::select! {
                _ = tick.tick() => None,
                rung = self.runtimes.bells.wait() => Some(rung),
            };
            let containers = match self.store.read(watched_containers).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = ?e, "health watcher cannot read panes");
                    continue;
                }
            };
            tracing::trace!(?rung, ?containers, "health watcher woken");
            let containers = containers
                .into_iter()
                .filter(|c| rung.as_ref().is_none_or(|rung| rung.contains(c)));
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
    /// pipeline just settled. This is the boot sweep; the periodic one
    /// (`sweep_forever`) also kills orphans: tmux panes marked as ours whose
    /// row no longer owns them (a tmux that hung past the TTL created them
    /// after their row failed). Returns how many panes it failed.
    pub(crate) async fn sweep(&self) -> Result<usize> {
        self.sweep_with(Sweep::StaleOnly).await
    }

    async fn sweep_with(&self, what: Sweep) -> Result<usize> {
        let ttl =
            time::Duration::try_from(self.config.pending_ttl()).unwrap_or(time::Duration::MAX);
        let cutoff = crate::store::format_time(time::OffsetDateTime::now_utc() - ttl);
        let stale = self
            .store
            .read(move |conn| panes::stale_creating(conn, &cutoff))
            .await?;
        // One listing per container that needs one: for the markers of stale
        // panes with no recorded `%N`, and (when reaping) for the ownership
        // marks of every container with managed panes.
        let unrecorded: BTreeSet<String> = stale
            .iter()
            .filter(|p| p.tmux_pane_id.is_none())
            .map(|p| p.container_id.clone())
            .collect();
        let listed = self.list_marked(what, unrecorded).await?;
        // token → %N of the panes still carrying a pending marker.
        let backed: HashMap<String, String> = listed
            .iter()
            .flat_map(|(_, marked)| marked)
            .filter(|m| !m.marker.is_empty())
            .map(|m| (m.marker.clone(), m.pane_id.clone()))
            .collect();
        let failed = if stale.is_empty() {
            0
        } else {
            self.store
                .write(move |tx| fail_stale(tx, &stale, &backed))
                .await?
        };
        if what == Sweep::AndReap {
            self.kill_orphans(listed).await?;
        }
        Ok(failed)
    }

    /// `(container, marked panes)` of the running containers in `wanted`,
    /// or, when reaping, of every running container with managed panes;
    /// listed in parallel, skipping those that cannot be listed now.
    async fn list_marked(
        &self,
        what: Sweep,
        wanted: BTreeSet<String>,
    ) -> Result<Vec<(String, Vec<Marked>)>> {
        let (rows, wanted) = self
            .store
            .read(move |conn| {
                let wanted: BTreeSet<String> = match what {
                    Sweep::StaleOnly => wanted,
                    Sweep::AndReap => panes::containers_with(conn, PaneState::ALL)?
                        .into_iter()
                        .collect(),
                };
                Ok((containers::list(conn)?, wanted))
            })
            .await?;
        let mut tasks = tokio::task::JoinSet::new();
        for c in rows {
            if c.state != ContainerState::Running || !wanted.contains(&c.id) {
                continue;
            }
            let Ok(rt) = self.runtimes.get(&c.id) else {
                continue;
            };
            let timeout = self.config.stage_timeout();
            tasks.spawn(async move {
                match tmux::list_marked(rt.as_ref(), timeout).await {
                    Ok(marked) => Some((c.id, marked)),
                    Err(e) => {
                        tracing::debug!(container_id = %c.id, error = %e, "sweep cannot list panes");
                        None
                    }
                }
            });
        }
        let mut out = Vec::new();
        while let Some(listed) = tasks.join_next().await {
            out.extend(listed.ok().flatten());
        }
        Ok(out)
    }

    /// Kills the tmux panes marked as a pane row that does not own them:
    /// the row is removed, or it is settled with another (or no) `%N`. A
    /// row still `creating` belongs to its pipeline; a mark naming no row
    /// of ours is another daemon's and is left alone.
    async fn kill_orphans(&self, listed: Vec<(String, Vec<Marked>)>) -> Result<()> {
        for (container_id, marked) in listed {
            let owners: Vec<String> = marked
                .iter()
                .filter(|m| !m.owner.is_empty())
                .map(|m| m.owner.clone())
                .collect();
            if owners.is_empty() {
                continue;
            }
            let rows: HashMap<String, PaneRow> = self
                .store
                .read(move |conn| panes::by_ids(conn, &owners))
                .await?
                .into_iter()
                .map(|p| (p.id.clone(), p))
                .collect();
            let orphans: Vec<(String, String)> = marked
                .into_iter()
                .filter(|m| {
                    rows.get(&m.owner)
                        .is_some_and(|row| is_orphan(row, &m.pane_id))
                })
                .map(|m| (m.pane_id, m.owner))
                .collect();
            if orphans.is_empty() {
                continue;
            }
            let Ok(rt) = self.runtimes.get(&container_id) else {
                continue;
            };
            tracing::warn!(container_id, orphans = ?orphans, "killing tmux panes whose rows no longer own them");
            if let Err(e) = kill_owned(self, rt.as_ref(), &orphans).await {
                tracing::warn!(container_id, error = %e, "cannot kill orphan panes");
            }
        }
        Ok(())
    }

    /// Runs the sweep every interval.
    pub(crate) async fn sweep_forever(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.config.sweep_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is at once: the boot sweep left orphans to it, off
        // the boot path.
        loop {
            tick.tick().await;
            if let Err(e) = self.sweep_with(Sweep::AndReap).await {
                tracing::warn!(error = ?e, "pending-marker sweep failed");
            }
            self.store.sync_mirror().await;
        }
    }
}

/// The states of panes settled with a tmux pane that should still be there:
/// what boot recovery and the health watcher check.
const LIVE_SETTLED: &[PaneState] = &[PaneState::Ready, PaneState::Degraded];

/// Settles a container's ready/degraded panes against `found` (its tmux
/// listing). A pane is present when its `%N` exists in the same session.
fn settle_against(
    tx: &mut Tx<'_>,
    container_id: &str,
    found: &HashMap<String, PaneInfo>,
    reason: Reason,
) -> Result<()> {
    let live = panes::of_container_in(tx.conn, container_id, LIVE_SETTLED)?;
    let mut touched = BTreeSet::new();
    for pane in &live {
        let state = pane.state;
        let info = pane
            .tmux_pane_id
            .as_ref()
            .and_then(|id| found.get(id))
            .filter(|i| i.session == pane.tmux_session_name && i.owned_by(&pane.id));
        match info {
            None => {
                // Its `%N` is released: a new pane may get it.
                if let Some(agent) = &pane.agent_id {
                    super::activity::unregister(tx, agent)?;
                }
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
                            Actor::Daemon,
                            pane,
                            RecoveryFailed {
                                label: pane.label.clone(),
                                tmux_pane_id: pane.tmux_pane_id.clone(),
                            },
                        ))?;
                    }
                    touched.insert(pane.layout_id.clone());
                }
            }
            Some(info) if info.dead && state == PaneState::Ready => {
                tx.emit(pane_event(
                    Actor::Daemon,
                    pane,
                    LaunchCommandExited {
                        exit_code: info.dead_status,
                        elapsed_ms: None,
                        detected_by: ExitDetection::HealthWatcher,
                        profile: None,
                        argv: Vec::new(),
                    },
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
            Some(info) if reason == Reason::Boot => {
                keep_pane_pid(tx, pane.agent_id.as_deref(), info)?;
                tx.emit(pane_event(
                    Actor::Daemon,
                    pane,
                    RecoveryReattached {
                        label: pane.label.clone(),
                        tmux_pane_id: pane.tmux_pane_id.clone(),
                        state,
                    },
                ))?;
            }
            Some(info) => keep_pane_pid(tx, pane.agent_id.as_deref(), info)?,
        }
    }
    for id in touched {
        reaggregate(tx, &id, Actor::Daemon)?;
    }
    Ok(())
}

/// Containers the health watcher and boot recovery look at: those with
/// live managed panes or registered adopted agents.
fn watched_containers(conn: &mut diesel::SqliteConnection) -> Result<Vec<String>> {
    let mut all: BTreeSet<String> = panes::containers_with(conn, LIVE_SETTLED)?
        .into_iter()
        .collect();
    all.extend(agents::containers_with(conn, Origin::Adopted)?);
    Ok(all.into_iter().collect())
}

/// Unregisters the adopted agents of a container whose tmux pane is gone:
/// its `%N` is missing, or it now names a pane of another server instance
/// than the one the agent was adopted on.
fn release_adopted(
    tx: &mut Tx<'_>,
    container_id: &str,
    socket: &str,
    found: &HashMap<String, PaneInfo>,
) -> Result<()> {
    for agent in agents::of_container(tx.conn, container_id, Origin::Adopted)? {
        if agent.tmux_socket != socket {
            continue;
        }
        let present = found
            .get(&agent.tmux_pane_id)
            .filter(|i| agent.tmux_server.as_deref().is_none_or(|s| s == i.server));
        match present {
            Some(info) if info.pid != agent.pane_pid => {
                keep_pane_pid(tx, Some(&agent.agent_id), info)?;
            }
            Some(_) => {}
            None => {
                tracing::info!(agent_id = %agent.agent_id, tmux_pane = %agent.tmux_pane_id, "adopted pane is gone; agent unregistered");
                super::activity::unregister(tx, &agent.agent_id)?;
            }
        }
    }
    Ok(())
}

/// Records a live pane's current `#{pane_pid}` on its agent (a respawned
/// pane has a new process): what a report's caller is matched against.
fn keep_pane_pid(tx: &mut Tx<'_>, agent_id: Option<&str>, info: &PaneInfo) -> Result<()> {
    match (agent_id, info.pid) {
        (Some(agent_id), Some(pid)) if !info.dead => agents::set_pane_pid(tx.conn, agent_id, pid),
        _ => Ok(()),
    }
}

/// The sweep's write: fails every stale `creating` pane (see `sweep`).
fn fail_stale(
    tx: &mut Tx<'_>,
    stale: &[PaneRow],
    backed: &HashMap<String, String>,
) -> Result<usize> {
    let mut failed = 0;
    let mut touched = BTreeSet::new();
    for pane in stale {
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
}

/// Whether tmux pane `tmux_pane_id`, marked as `row`'s, is an orphan: the
/// row is removed, or settled without owning that `%N`.
fn is_orphan(row: &PaneRow, tmux_pane_id: &str) -> bool {
    match row.state {
        PaneState::Creating => false,
        PaneState::Removed => true,
        PaneState::Ready | PaneState::Degraded | PaneState::Failed => {
            row.tmux_pane_id.as_deref() != Some(tmux_pane_id)
        }
    }
}
