//! The activity watcher: every tick it stats the log file of each watched
//! agent, reads only what was appended, feeds the agent's detector and
//! proposes the detector's answer when it differs from what the agent is
//! known to be doing. The file work of all panes is one blocking call per
//! tick; no tmux command is ever run, so the cost grows with the output,
//! not with a per-pane probe.
//!
//! The watched set is the managed agents with an attached log
//! (`store::agents::with_logs`), read again every second and whenever a
//! lifecycle event says panes changed. An agent's known activity comes from
//! its row and from `agent_activity_changed` on the event bus, so a report
//! or another writer is seen at once.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::broadcast::error::TryRecvError;

use super::detector::Detector;
use super::logfile::LogFile;
use super::rules::{Detection, default_detection};
use crate::config::catalog::SHELL_PROFILE;
use crate::domain::{Activity, ActivitySource, EventPayload, EventType, Origin};
use crate::error::Result;
use crate::service::Services;
use crate::service::activity::{Applied, Proposal, report_hold_ends};
use crate::store::models::{AgentRow, EventRow};
use crate::store::{agents, panes};

/// How often the log files are checked.
const TICK: Duration = Duration::from_millis(50);
/// How often the watched set and the profiles are read again without a
/// lifecycle event asking for it.
const REFRESH: Duration = Duration::from_secs(1);
/// How long to wait before proposing again after a failed write.
const RETRY: Duration = Duration::from_secs(1);

/// One watched agent.
struct Watched {
    agent_id: String,
    /// The launch profile whose `activity:` block applies.
    profile: String,
    detection: Arc<Detection>,
    log: LogFile,
    /// `None` until the first tick seeds it from the log.
    detector: Option<Detector>,
    /// What the agent is doing as far as the store says.
    known: Activity,
    /// Propose nothing before this: a report holds detection off, or the
    /// last write failed.
    quiet_until: Option<Instant>,
}

impl Services {
    /// Detects every managed agent's activity from its log, forever.
    pub(crate) async fn watch_activity(self: Arc<Self>) {
        let mut events = self.store.bus().subscribe();
        let mut watched: HashMap<String, Watched> = HashMap::new();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refreshed: Option<Instant> = None;
        loop {
            tick.tick().await;
            let stale = drain(&mut events, &mut watched);
            if stale || refreshed.is_none_or(|t| t.elapsed() >= REFRESH) {
                if let Err(e) = self.refresh_watched(&mut watched).await {
                    tracing::warn!(error = ?e, "activity watcher cannot read the agents");
                }
                refreshed = Some(Instant::now());
            }
            if watched.is_empty() {
                continue;
            }
            let batch = std::mem::take(&mut watched);
            let (back, proposals) = match tokio::task::spawn_blocking(move || poll(batch)).await {
                Ok(done) => done,
                Err(e) => match e.try_into_panic() {
                    Ok(panic) => std::panic::resume_unwind(panic),
                    // Cancelled: the runtime is shutting down.
                    Err(_) => return std::future::pending().await,
                },
            };
            watched = back;
            for (agent_id, proposal, hold) in proposals {
                self.propose(&mut watched, agent_id, proposal, hold).await;
            }
        }
    }

    /// Reads the watched set again: new agents are added (their profile
    /// looked up once), gone ones dropped, and every agent's known activity,
    /// report hold and profile settings refreshed.
    async fn refresh_watched(&self, watched: &mut HashMap<String, Watched>) -> Result<()> {
        let seen: HashSet<String> = watched.keys().cloned().collect();
        let (rows, mut profiles) = self
            .store
            .read(move |conn| {
                let rows: Vec<AgentRow> = agents::with_logs(conn)?
                    .into_iter()
                    .filter(|a| a.origin == Origin::Managed)
                    .collect();
                let mut profiles = HashMap::new();
                for r in rows.iter().filter(|r| !seen.contains(&r.agent_id)) {
                    let profile =
                        panes::of_agent(conn, &r.agent_id)?.and_then(|p| p.launch_command_ref);
                    profiles.insert(r.agent_id.clone(), profile);
                }
                Ok((rows, profiles))
            })
            .await?;
        let catalog = self.catalog().await?;
        let detection_of = |profile: &str| {
            catalog
                .profiles
                .get(profile)
                .map(|p| Arc::clone(&p.detection))
                .unwrap_or_else(default_detection)
        };
        let live: HashSet<&str> = rows.iter().map(|r| r.agent_id.as_str()).collect();
        watched.retain(|id, _| live.contains(id.as_str()));
        let now = Instant::now();
        for row in &rows {
            let Some(path) = row.log_path.as_deref().map(PathBuf::from) else {
                continue;
            };
            let w = match watched.entry(row.agent_id.clone()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let profile = profiles
                        .remove(&row.agent_id)
                        .flatten()
                        .unwrap_or_else(|| SHELL_PROFILE.to_string());
                    let detection = detection_of(&profile);
                    e.insert(Watched {
                        agent_id: row.agent_id.clone(),
                        profile,
                        detection,
                        log: LogFile::new(path.clone()),
                        detector: None,
                        known: row.activity,
                        quiet_until: None,
                    })
                }
            };
            if w.log.path != path {
                w.log = LogFile::new(path);
                w.detector = None;
            }
            w.known = row.activity;
            let detection = detection_of(&w.profile);
            if !Arc::ptr_eq(&detection, &w.detection) {
                if let Some(d) = &mut w.detector {
                    d.set_detection(Arc::clone(&detection));
                }
                w.detection = detection;
            }
            if let Some(until) = report_held_until(row, w.detection.report_hold, now) {
                w.quiet_until = w.quiet_until.max(Some(until));
            }
        }
        Ok(())
    }

    /// Applies one proposal and records what the agent is now.
    async fn propose(
        &self,
        watched: &mut HashMap<String, Watched>,
        agent_id: String,
        proposal: Proposal,
        hold: Duration,
    ) {
        let (activity, source) = (proposal.activity, proposal.source);
        let applied = self.detected_activity(&agent_id, proposal, hold).await;
        let Some(w) = watched.get_mut(&agent_id) else {
            return;
        };
        match applied {
            Ok(Applied::Changed(row)) => {
                tracing::debug!(agent = %agent_id, %activity, %source, "activity detected");
                w.known = row.activity;
            }
            Ok(Applied::Unchanged(row)) => w.known = row.activity,
            Ok(Applied::Held { row, until }) => {
                w.known = row.activity;
                let left = until - time::OffsetDateTime::now_utc();
                let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
                w.quiet_until = Some(Instant::now() + left);
            }
            Ok(Applied::Missing) => {
                watched.remove(&agent_id);
            }
            Err(e) => {
                tracing::warn!(agent = %agent_id, error = ?e, "cannot store a detected activity");
                w.quiet_until = Some(Instant::now() + RETRY);
            }
        }
    }
}

/// When a report on `row` stops holding detection off, if it still does.
fn report_held_until(row: &AgentRow, hold: Duration, now: Instant) -> Option<Instant> {
    let left = report_hold_ends(row, hold)? - time::OffsetDateTime::now_utc();
    Duration::try_from(left)
        .ok()
        .filter(|d| !d.is_zero())
        .map(|d| now + d)
}

/// Takes in the events committed since the last tick: activity changes
/// update the agents' known activity (a report also starts its hold); any
/// other event may have changed the panes, so it asks for a refresh (as
/// does falling behind the bus). Returns whether a refresh is wanted.
fn drain(
    events: &mut tokio::sync::broadcast::Receiver<Arc<EventRow>>,
    watched: &mut HashMap<String, Watched>,
) -> bool {
    let mut stale = false;
    loop {
        match events.try_recv() {
            Ok(e) if e.event_type == EventType::AgentActivityChanged => {
                let Ok(EventPayload::AgentActivityChanged(p)) = e.payload() else {
                    continue;
                };
                if let Some(w) = watched.get_mut(&p.agent_id) {
                    w.known = p.to_activity;
                    if p.source == ActivitySource::Report {
                        let until = Instant::now() + w.detection.report_hold;
                        w.quiet_until = w.quiet_until.max(Some(until));
                    }
                }
            }
            Ok(_) | Err(TryRecvError::Lagged(_)) => stale = true,
            Err(TryRecvError::Empty | TryRecvError::Closed) => return stale,
        }
    }
}

/// One tick's file work and detection for every watched agent (blocking:
/// run it off the reactor). Returns the set and the proposals to apply.
#[allow(clippy::type_complexity)]
fn poll(
    mut watched: HashMap<String, Watched>,
) -> (HashMap<String, Watched>, Vec<(String, Proposal, Duration)>) {
    let now = Instant::now();
    let mut proposals = Vec::new();
    for w in watched.values_mut() {
        if w.detector.is_none() {
            let (seed, written) = w.log.seed();
            let last_output = written.map(|at| {
                let age = SystemTime::now().duration_since(at).unwrap_or_default();
                now.checked_sub(age).unwrap_or(now)
            });
            w.detector = Some(Detector::new(
                Arc::clone(&w.detection),
                &seed,
                last_output,
                now,
            ));
        } else if let Some(bytes) = w.log.appended()
            && let Some(d) = &mut w.detector
        {
            d.feed(now, &bytes);
        }
        let Some(detector) = &mut w.detector else {
            continue;
        };
        let Some(p) = detector.tick(now) else {
            continue;
        };
        if w.known == Activity::Exited
            || p.activity == w.known
            || w.quiet_until.is_some_and(|t| now < t)
        {
            continue;
        }
        proposals.push((w.agent_id.clone(), p, w.detection.report_hold));
    }
    (watched, proposals)
}
