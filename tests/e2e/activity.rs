//! Activity detected from a managed pane's output, on real tmux: the
//! scripted agent (tests/support/agents/scripted-agent.sh) works, goes quiet
//! and asks a y/n question; the event stream shows working → idle →
//! waiting_for_input in order and in time, a kill -9 of the daemon keeps the
//! activity and detection goes on, and a pane whose program exits becomes
//! exited.

use std::time::{Duration, Instant};

use agenttower::pb;
use pb::{Activity, ActivitySource};

use crate::support::*;

/// The scripted agent in the repository.
const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/support/agents/scripted-agent.sh"
);

/// The profile's windows, small to keep the tests fast.
const WORKING_WINDOW_MS: u64 = 300;
const QUIET_WINDOW_MS: u64 = 800;
const PROMPT_QUIET_MS: u64 = 150;

/// A profile `scripted` running the scripted agent with `args` (work
/// seconds, quiet seconds, rounds), and a one-pane template `solo` using it.
fn setup(args: [&str; 3]) -> Setup {
    let [work, quiet, rounds] = args;
    Setup::default()
        .profile(
            "scripted",
            &format!(
                "name: scripted\n\
                 command: [sh, '{SCRIPT}', '{work}', '{quiet}', '{rounds}']\n\
                 activity:\n  \
                   working_window_ms: {WORKING_WINDOW_MS}\n  \
                   quiet_window_ms: {QUIET_WINDOW_MS}\n  \
                   prompt_quiet_ms: {PROMPT_QUIET_MS}\n"
            ),
        )
        .template(
            "solo",
            "name: solo\npanes:\n  - {role: agent, capability: worker, label_pattern: '{session}.a', default_launch_command_ref: scripted}\n",
        )
}

/// One `agent_activity_changed`, as the stream delivered it.
#[derive(Debug, Clone)]
struct Change {
    from: Activity,
    to: Activity,
    source: ActivitySource,
    message: String,
    pane_id: String,
    at: Instant,
}

/// A stream of activity changes only.
async fn activity_stream(
    d: &Daemon,
    after_sequence: Option<u64>,
) -> tonic::Streaming<pb::WatchEventsResponse> {
    d.watch(pb::WatchEventsRequest {
        after_sequence: after_sequence.unwrap_or(0),
        from_now: after_sequence.is_none(),
        event_types: vec![pb::EventType::AgentActivityChanged as i32],
        ..Default::default()
    })
    .await
}

/// Reads activity changes of `agent_id` until one to `to`.
async fn changes_until(
    s: &mut tonic::Streaming<pb::WatchEventsResponse>,
    agent_id: &str,
    to: Activity,
) -> Vec<Change> {
    let mut out = Vec::new();
    loop {
        let e = next_event(s).await;
        let Some(pb::lifecycle_event::Payload::AgentActivityChanged(p)) = e.payload else {
            panic!("not an activity change: {e:?}");
        };
        if p.agent_id != agent_id {
            continue;
        }
        let change = Change {
            from: p.from_activity(),
            to: p.to_activity(),
            source: p.source(),
            message: p.message.clone(),
            pane_id: e.pane_id.clone(),
            at: Instant::now(),
        };
        out.push(change);
        if p.to_activity() == to {
            return out;
        }
    }
}

fn transitions(changes: &[Change]) -> Vec<(Activity, Activity, ActivitySource)> {
    changes.iter().map(|c| (c.from, c.to, c.source)).collect()
}

/// Creates the `solo` layout; its one pane once settled.
async fn solo(d: &Daemon, session: &str) -> pb::Pane {
    let got = d.create_settled("solo", session).await;
    assert_eq!(got.state(), pb::LayoutState::Ready, "{got:?}\n{}", d.log());
    got.panes()[0].clone()
}

fn activity_of(p: &pb::Pane) -> (Activity, ActivitySource, String) {
    let a = p
        .activity
        .clone()
        .expect("a registered pane has an activity");
    (a.activity(), a.source(), a.message)
}

#[tokio::test]
async fn the_scripted_agent_is_seen_working_then_idle_then_waiting_in_time() {
    const WORK_S: f64 = 3.0;
    const QUIET_S: f64 = 2.0;
    let d = Daemon::start_with(setup(["3", "2", "1"])).await;
    let mut s = activity_stream(&d, None).await;
    let created = Instant::now();
    let pane = solo(&d, "act").await;

    let changes = changes_until(&mut s, &pane.agent_id, Activity::WaitingForInput).await;
    assert_eq!(
        transitions(&changes),
        [
            (Activity::Unknown, Activity::Working, ActivitySource::Output),
            (Activity::Working, Activity::Idle, ActivitySource::Output),
            (
                Activity::Idle,
                Activity::WaitingForInput,
                ActivitySource::PromptRule
            ),
        ],
        "{changes:#?}"
    );
    let (working, idle, waiting) = (&changes[0], &changes[1], &changes[2]);
    assert_eq!(waiting.message, "Proceed? [y/N]");
    assert!(working.message.is_empty() && idle.message.is_empty());
    assert!(changes.iter().all(|c| c.pane_id == pane.pane_id));
    // Bounds. Working: the agent prints from its first moment; the pane
    // registers after the settle window (300 ms) and is watched at once.
    let bound = |what: &str, took: Duration, max: Duration| {
        assert!(
            took <= max,
            "{what} took {took:?}, more than {max:?}: {changes:#?}\n{}",
            d.log()
        );
    };
    bound(
        "working after the create",
        working.at - created,
        Duration::from_secs(5),
    );
    // Idle: once the output stops (the script prints for WORK_S, with some
    // fork overhead per line) plus the quiet window.
    bound(
        "idle after working",
        idle.at - working.at,
        Duration::from_secs_f64(WORK_S * 1.5) + Duration::from_millis(QUIET_WINDOW_MS + 1000),
    );
    // Waiting: the prompt comes QUIET_S after the output stopped, and is
    // seen PROMPT_QUIET_MS after it.
    bound(
        "waiting after idle",
        waiting.at - idle.at,
        Duration::from_secs_f64(QUIET_S) - Duration::from_millis(QUIET_WINDOW_MS)
            + Duration::from_millis(PROMPT_QUIET_MS + 1000),
    );
    // The pane and the agent show it.
    assert_eq!(
        activity_of(&d.pane(&pane.pane_id).await),
        (
            Activity::WaitingForInput,
            ActivitySource::PromptRule,
            "Proceed? [y/N]".to_string()
        )
    );
}

#[tokio::test]
async fn a_restart_keeps_the_last_activity_and_goes_on_detecting() {
    let mut d = Daemon::start_with(setup(["1", "1.5", "2"])).await;
    let mut s = activity_stream(&d, None).await;
    let pane = solo(&d, "again").await;
    let waiting = changes_until(&mut s, &pane.agent_id, Activity::WaitingForInput).await;
    let prompted = waiting.last().unwrap().at;
    drop(s);
    let before = d.all_events().await.last().unwrap().sequence;

    d.kill9();
    // Down past the quiet window: a watcher that forgot the pane's last
    // lines would now call it idle.
    let down = Duration::from_millis(2 * QUIET_WINDOW_MS);
    tokio::time::sleep(down.saturating_sub(prompted.elapsed())).await;
    d.restart().await;
    // As soon as the socket answers, and while the watcher reads the log
    // again (it refreshes every second): still waiting, from the prompt.
    let watched = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < watched {
        assert_eq!(
            activity_of(&d.pane(&pane.pane_id).await),
            (
                Activity::WaitingForInput,
                ActivitySource::PromptRule,
                "Proceed? [y/N]".to_string()
            )
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut s = activity_stream(&d, Some(before)).await;
    // The answer: the agent works again (round 2), then goes quiet.
    tmux_ok(d.tmux(&["send-keys", "-t", &pane.tmux_pane_id, "y", "Enter"]));
    let changes = changes_until(&mut s, &pane.agent_id, Activity::Idle).await;
    assert_eq!(
        transitions(&changes),
        [
            (
                Activity::WaitingForInput,
                Activity::Working,
                ActivitySource::Output
            ),
            (Activity::Working, Activity::Idle, ActivitySource::Output),
        ],
        "the restart changed nothing by itself: {changes:#?}\n{}",
        d.log()
    );
    // And the next prompt is seen too.
    let changes = changes_until(&mut s, &pane.agent_id, Activity::WaitingForInput).await;
    assert_eq!(
        transitions(&changes),
        [(
            Activity::Idle,
            Activity::WaitingForInput,
            ActivitySource::PromptRule
        )]
    );
}

#[tokio::test]
async fn a_pane_whose_program_exits_becomes_exited_and_stays_so() {
    let d = Daemon::start_with(setup(["0.3", "0.5", "1"]).config("health_interval_ms: 200")).await;
    let mut s = activity_stream(&d, None).await;
    let pane = solo(&d, "bye").await;
    changes_until(&mut s, &pane.agent_id, Activity::WaitingForInput).await;
    // The answer ends the script, and with it the pane's program.
    tmux_ok(d.tmux(&["send-keys", "-t", &pane.tmux_pane_id, "y", "Enter"]));
    let changes = changes_until(&mut s, &pane.agent_id, Activity::Exited).await;
    let last = changes.last().unwrap();
    assert_eq!(last.source, ActivitySource::Process, "{changes:#?}");
    // What the output said before the exit (the echoed answer, "done") may
    // or may not have been seen; nothing else.
    for c in &changes[..changes.len() - 1] {
        assert_eq!(c.to, Activity::Working, "{changes:#?}");
    }
    let p = eventually("the pane to be degraded", || async {
        let p = d.pane(&pane.pane_id).await;
        (p.state() == pb::PaneState::Degraded).then_some(p)
    })
    .await;
    assert_eq!(p.failed_stage(), pb::FailedStage::LaunchCommand);
    assert_eq!(activity_of(&p).0, Activity::Exited);
    // Exited is final: the dead pane's log stays watched and goes quiet
    // past the idle window (several times over), and nothing changes.
    let quiet_until = Instant::now() + Duration::from_millis(3 * QUIET_WINDOW_MS);
    while Instant::now() < quiet_until {
        let p = d.pane(&pane.pane_id).await;
        assert_eq!(activity_of(&p).0, Activity::Exited);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after: Vec<_> = d
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.event_type() == pb::EventType::AgentActivityChanged)
        .collect();
    assert_eq!(
        payload(after.last().unwrap())["to_activity"],
        "ACTIVITY_EXITED"
    );
}
