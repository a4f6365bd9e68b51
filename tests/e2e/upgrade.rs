//! Upgrade safety: a database and `events.jsonl` written by the daemon of
//! commit 8a4b631 (before API 1.0; see tests/fixtures/db-8a4b631/README.md
//! for how they were made) open with this daemon, lose nothing, and read
//! back through the 1.0 API with typed states, timestamps and payloads.

use std::path::Path;

use agenttower::pb;
use agenttower::pb::lifecycle_event::Payload;

use crate::support::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/db-8a4b631");
const LAYOUT: &str = "01a203e7-df05-72b5-9fd5-63666539b56e";
const REMOVED_LAYOUT: &str = "01a203e8-12a4-777e-8fd8-443f2a61374d";
/// The recreated `upgrade.s1` and its removed predecessor.
const SUCCESSOR: &str = "01a203e8-05ba-7090-9d1b-9fa5e8155812";
const PREDECESSOR: &str = "01a203e7-df05-72b5-9fd5-63680f726c4c";
/// Events the old daemon committed.
const OLD_EVENTS: usize = 44;

fn install_fixture(state: &Path) {
    for stale in ["agenttower.sqlite3-wal", "agenttower.sqlite3-shm"] {
        let _ = std::fs::remove_file(state.join(stale));
    }
    for file in ["agenttower.sqlite3", "events.jsonl"] {
        std::fs::copy(Path::new(FIXTURE).join(file), state.join(file)).unwrap();
    }
}

#[tokio::test]
async fn a_database_from_before_1_0_upgrades_and_reads_back_through_the_new_api() {
    let mut d = Daemon::start().await;
    d.kill9();
    install_fixture(&d.state_dir());
    d.restart().await;
    let mut c = d.client().await;

    // Every event is still there, in order, each with its typed payload.
    let events = d.all_events().await;
    assert!(events.len() >= OLD_EVENTS, "{} events", events.len());
    assert_eq!(
        sequences(&events[..OLD_EVENTS]),
        (1..=OLD_EVENTS as u64).collect::<Vec<_>>()
    );
    for e in &events {
        assert!(e.payload.is_some(), "no typed payload: {e:?}");
        assert!(e.event_time.is_some(), "no time: {e:?}");
    }
    let Some(Payload::ManagedLayoutCreated(created)) = &events[0].payload else {
        panic!("{:?}", events[0]);
    };
    assert_eq!(
        (
            created.tmux_session_name.as_str(),
            created.intended_pane_count
        ),
        ("upgrade", 3)
    );
    // Old payloads spelled states as lower-case words under "from"/"to".
    let first_ready = events
        .iter()
        .find_map(|e| match &e.payload {
            Some(Payload::ManagedPaneStateChanged(p)) => Some(p),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        (first_ready.from_state(), first_ready.to_state()),
        (pb::PaneState::Creating, pb::PaneState::Ready)
    );

    // The layouts, with the recreate chain intact. The old tmux server is
    // gone, so boot recovery fails the live panes: that is new history on
    // top of the old, never a loss.
    let got = d.layout(LAYOUT).await;
    assert_eq!(got.the_layout().tmux_session_name, "upgrade");
    assert!(got.the_layout().create_time.is_some());
    let labels: Vec<&str> = got.panes().iter().map(|p| p.label.as_str()).collect();
    // The harness asks for removed panes too: s1's removed predecessor.
    assert_eq!(
        labels,
        ["upgrade.m1", "upgrade.s1", "upgrade.s1", "upgrade.s2"]
    );
    let pane = c
        .get_pane(pb::GetPaneRequest {
            pane_id: SUCCESSOR.into(),
            include_predecessor_chain: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pane.pane.unwrap().chain_depth, 1);
    assert_eq!(pane.predecessor_chain.len(), 1);
    assert_eq!(pane.predecessor_chain[0].pane_id, PREDECESSOR);
    assert_eq!(pane.predecessor_chain[0].state(), pb::PaneState::Removed);
    let removed = c
        .list_layouts(pb::ListLayoutsRequest {
            states: vec![pb::LayoutState::Removed as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .layouts;
    assert_eq!(
        removed
            .iter()
            .map(|l| l.layout_id.as_str())
            .collect::<Vec<_>>(),
        [REMOVED_LAYOUT]
    );

    // Agents (managed and the adopted one) and the route between them.
    let agents = c
        .list_agents(pb::ListAgentsRequest {
            include_unregistered: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .agents;
    let adopted: Vec<_> = agents
        .iter()
        .filter(|a| a.origin() == pb::AgentOrigin::Adopted)
        .collect();
    assert_eq!(adopted.len(), 1);
    assert_eq!(adopted[0].label, "op.r1");
    assert_eq!(agents.len(), 8, "{agents:#?}");
    let routes = c
        .list_routes(pb::ListRoutesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .routes;
    assert_eq!(routes.len(), 1);
    assert!(routes[0].create_time.is_some());

    // events.jsonl now holds every event in the 1.0 shape: the wire
    // message in proto3 JSON, equal to what the API answers.
    let mirror: Vec<serde_json::Value> = std::fs::read_to_string(d.events_log())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // (A prefix of the table: activity detection may write more.)
    let events = d.all_events().await;
    assert!(mirror.len() <= events.len() && mirror.len() >= OLD_EVENTS);
    for (line, e) in mirror.iter().zip(&events) {
        assert_eq!(*line, serde_json::to_value(e).unwrap());
        assert!(line.get("payload").is_none() && line.get("timestamp").is_none());
    }
}
