//! Agent activity for scripts: the activity words the flags accept, and
//! waiting until an agent reaches an activity (`agent wait`, `send
//! --wait-ready`).

use std::time::Duration;

use agenttower::client::ManagedSessionsServiceClient;
use agenttower::names::ShortName as _;
use agenttower::pb;
use agenttower::pb::lifecycle_event::Payload;
use agenttower::pb::watch_events_response::Item;
use clap::ValueEnum;
use tokio::time::Instant;

use crate::{Failure, resolve};

/// An activity a flag names. Tables and JSON print the wire's short names
/// (`waiting_for_input`); flags also take the shorter `waiting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ActivityArg {
    Working,
    /// waiting_for_input.
    #[value(alias = "waiting_for_input", alias = "waiting-for-input")]
    Waiting,
    Idle,
    Exited,
    Unknown,
}

impl ActivityArg {
    pub(crate) fn activity(self) -> pb::Activity {
        match self {
            ActivityArg::Working => pb::Activity::Working,
            ActivityArg::Waiting => pb::Activity::WaitingForInput,
            ActivityArg::Idle => pb::Activity::Idle,
            ActivityArg::Exited => pb::Activity::Exited,
            ActivityArg::Unknown => pb::Activity::Unknown,
        }
    }
}

/// An activity an agent can report or be waited for (unknown and exited
/// are the daemon's to say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReachableArg {
    Working,
    /// waiting_for_input.
    #[value(alias = "waiting_for_input", alias = "waiting-for-input")]
    Waiting,
    Idle,
}

impl ReachableArg {
    pub(crate) fn activity(self) -> pb::Activity {
        match self {
            ReachableArg::Working => pb::Activity::Working,
            ReachableArg::Waiting => pb::Activity::WaitingForInput,
            ReachableArg::Idle => pb::Activity::Idle,
        }
    }
}

/// The agent's activity (`unknown` when the daemon sent none).
pub(crate) fn of(agent: &pb::Agent) -> pb::Activity {
    agent
        .activity
        .as_ref()
        .map_or(pb::Activity::Unknown, |a| a.activity())
}

/// `--timeout` values: `30s`, `500ms`, `2m`, `1h`, or plain seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 30s, 500ms, 2m)"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("{s:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    }
}

/// The agent's current row (`None` if the caller can no longer see it):
/// one ResolveName by its id.
async fn current(
    c: &mut ManagedSessionsServiceClient,
    agent: &pb::Agent,
) -> Result<Option<pb::Agent>, Failure> {
    let found = resolve::resolve_if_any(c, pb::NameKind::Agent, &agent.agent_id).await?;
    Ok(found.and_then(|r| r.agent))
}

/// Waits until `agent` is in one of `wanted`, answering its row as of that
/// moment. Race-free: the event stream is anchored before the current
/// activity is read, so a change between the two is never missed. Gives up
/// with `Failure::Timeout` at the deadline and `Failure::Exited` when the
/// agent exits first (unless `exited` is wanted).
pub(crate) async fn wait_for(
    c: &mut ManagedSessionsServiceClient,
    agent: &pb::Agent,
    wanted: &[pb::Activity],
    timeout: Duration,
) -> Result<pb::Agent, Failure> {
    let deadline = Instant::now() + timeout;
    let request = |after: Option<u64>| pb::WatchEventsRequest {
        after_sequence: after.unwrap_or_default(),
        from_now: after.is_none(),
        container_id: agent.container_id.clone(),
        event_types: vec![pb::EventType::AgentActivityChanged as i32],
        ..Default::default()
    };
    let mut stream = c.watch_events(request(None)).await?.into_inner();
    let mut now = current(c, agent).await?.unwrap_or_else(|| agent.clone());
    let names = || {
        wanted
            .iter()
            .map(|a| a.short_name())
            .collect::<Vec<_>>()
            .join(" or ")
    };
    loop {
        let activity = of(&now);
        if wanted.contains(&activity) {
            return Ok(now);
        }
        if activity == pb::Activity::Exited {
            return Err(Failure::Exited(format!(
                "agent {} exited before it was {}",
                display(&now),
                names()
            )));
        }
        let next = tokio::time::timeout_at(deadline, stream.message())
            .await
            .map_err(|_| {
                Failure::Timeout(format!(
                    "agent {} still {} after {timeout:?} (waiting for {})",
                    display(&now),
                    activity.short_name(),
                    names()
                ))
            })??;
        let Some(next) = next else {
            return Err(Failure::Api(tonic::Status::unavailable(
                "the event stream ended before the agent's activity was reached",
            )));
        };
        match next.item {
            Some(Item::Event(e)) => {
                if let Some(Payload::AgentActivityChanged(p)) = &e.payload
                    && p.agent_id == agent.agent_id
                {
                    now.activity = Some(pb::AgentActivity {
                        activity: p.to_activity,
                        source: p.source,
                        since_time: e.event_time,
                        message: p.message.clone(),
                    });
                }
            }
            // Fell behind: resume where the daemon says, missing nothing.
            Some(Item::LaggedResumeAfter(seq)) => {
                stream = c.watch_events(request(Some(seq))).await?.into_inner();
            }
            // A kind of item newer than this CLI.
            None => {}
        }
    }
}

/// How messages name an agent: its label, else its id.
pub(crate) fn display(agent: &pb::Agent) -> &str {
    if agent.label.is_empty() {
        &agent.agent_id
    } else {
        &agent.label
    }
}
