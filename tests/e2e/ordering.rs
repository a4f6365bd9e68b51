//! Concurrency: capacity is never overshot, one container's work runs in
//! arrival order, and every state change has its event in order.

use std::collections::{BTreeMap, HashMap};

use agenttower::pb;

use crate::support::*;

#[tokio::test]
async fn concurrent_creates_on_different_containers_never_overshoot_capacity() {
    let names = ["c1", "c2", "c3", "c4"];
    let d = Daemon::start_with(Setup::default().config("capacity: 3").containers(&names)).await;

    let mut tasks = Vec::new();
    for i in 0..12 {
        let mut c = d.client().await;
        let container = names[i % names.len()].to_string();
        tasks.push(tokio::spawn(async move {
            let mut req = create("1m+2s", &format!("s{i}"));
            req.container_id = container;
            c.create_layout(req).await
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(status) => {
                let e = agenttower::client::api_error(&status).unwrap();
                assert_eq!(e.reason, "managed_layout_capacity_exceeded");
                assert_eq!(e.details["limit"], "3");
                assert_eq!(e.details["current_count"], "3");
                refused += 1;
            }
        }
    }
    assert_eq!((ok, refused), (3, 9));
    let layouts = d
        .client()
        .await
        .list_layouts(pb::ListLayoutsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .layouts;
    assert_eq!(layouts.len(), 3);
    for l in &layouts {
        let got = d.settled(&l.layout_id).await;
        assert_eq!(got.the_layout().clone().state(), pb::LayoutState::Ready);
        // Each layout lives in its own container's tmux server.
        let sessions = tmux_ok(tmux_on(
            &d.container_socket(&l.container_id),
            &["list-sessions", "-F", "#{session_name}"],
        ));
        assert!(
            sessions.lines().any(|s| s == l.tmux_session_name),
            "{sessions}"
        );
    }
}

#[tokio::test]
async fn creates_on_one_container_spawn_one_after_the_other_in_arrival_order() {
    let d = Daemon::start().await;
    let mut tasks = Vec::new();
    for i in 0..3 {
        let mut c = d.client().await;
        tasks.push(tokio::spawn(async move {
            c.create_layout(create("1m+2s", &format!("q{i}")))
                .await
                .unwrap()
                .into_inner()
                .layout_id()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    for id in &ids {
        d.settled(id).await;
    }
    let events = d.all_events().await;
    // Arrival order = the order their layouts were inserted.
    let mut arrival: Vec<(u64, String)> = events
        .iter()
        .filter(|e| e.event_type() == pb::EventType::ManagedLayoutCreated)
        .map(|e| (e.sequence, e.layout_id.clone()))
        .collect();
    arrival.sort();
    assert_eq!(arrival.len(), 3);
    // The daemon's pipeline events of one layout all come before the next
    // layout's first: no interleaving, and in arrival order.
    let spans: Vec<(u64, u64)> = arrival
        .iter()
        .map(|(_, id)| {
            let seqs: Vec<u64> = events
                .iter()
                .filter(|e| &e.layout_id == id && e.actor() == pb::Actor::Daemon)
                .map(|e| e.sequence)
                .collect();
            (*seqs.iter().min().unwrap(), *seqs.iter().max().unwrap())
        })
        .collect();
    for w in spans.windows(2) {
        assert!(
            w[0].1 < w[1].0,
            "pipelines interleaved or out of order: {spans:?}"
        );
    }
}

#[tokio::test]
async fn every_state_change_has_its_event_in_order_in_the_table_and_the_mirror() {
    let d = Daemon::start_with(
        Setup::default().profile("crash", "name: crash\ncommand: [sh, -c, 'exit 3']\n"),
    )
    .await;
    let mut req = create("1m+2s", "ev");
    req.launch_command_overrides
        .insert("slave:ev.s2".into(), "crash".into());
    let got = d.create_and_settle(req).await;
    let events = d.all_events().await;

    // Sequences are 1..=n with no gap.
    let seqs: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());

    // Replaying each pane's state-change events from `creating` lands on the
    // state the API reports.
    let mut replayed: HashMap<String, String> = HashMap::new();
    for e in events
        .iter()
        .filter(|e| e.event_type() == pb::EventType::ManagedPaneStateChanged)
    {
        let p = payload(e);
        let from = replayed
            .get(&e.pane_id)
            .cloned()
            .unwrap_or_else(|| "PANE_STATE_CREATING".into());
        assert_eq!(p["from_state"], from.as_str(), "event {e:?}");
        replayed.insert(
            e.pane_id.clone(),
            p["to_state"].as_str().unwrap().to_string(),
        );
    }
    for p in got.panes() {
        assert_eq!(
            replayed[&p.pane_id],
            p.state().as_str_name(),
            "pane {}",
            p.label
        );
    }
    // Each pane: created, marker set, marker cleared, one state change.
    for p in got.panes() {
        let kinds: Vec<pb::EventType> = events
            .iter()
            .filter(|e| e.pane_id == p.pane_id)
            .map(|e| e.event_type())
            .filter(|t| *t != pb::EventType::AgentActivityChanged)
            .collect();
        let expected_tail = if p.state() == pb::PaneState::Degraded {
            vec![pb::EventType::ManagedPaneLaunchCommandExited]
        } else {
            vec![]
        };
        let mut expected = vec![
            pb::EventType::ManagedPaneCreated,
            pb::EventType::ManagedPanePendingMarkerSet,
        ];
        expected.extend(expected_tail);
        expected.extend([
            pb::EventType::ManagedPanePendingMarkerCleared,
            pb::EventType::ManagedPaneStateChanged,
        ]);
        assert_eq!(kinds, expected, "pane {}", p.label);
    }
    // The layout went creating → degraded exactly once, after its panes.
    let layout_changes: Vec<_> = events
        .iter()
        .filter(|e| e.event_type() == pb::EventType::ManagedLayoutStateChanged)
        .collect();
    assert_eq!(layout_changes.len(), 1);
    assert_eq!(
        payload(layout_changes[0])["to_state"],
        "LAYOUT_STATE_DEGRADED"
    );
    let last_lifecycle = events
        .iter()
        .rfind(|e| e.event_type() != pb::EventType::AgentActivityChanged)
        .unwrap();
    assert_eq!(layout_changes[0].sequence, last_lifecycle.sequence);

    // events.jsonl mirrors the table line for line, each line the wire
    // message in proto3 JSON. Activity detection may append more events
    // meanwhile: the mirror is then a prefix of the table read after it.
    let mirror: Vec<serde_json::Value> = std::fs::read_to_string(d.events_log())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let table = d.all_events().await;
    assert!(mirror.len() >= events.len() && mirror.len() <= table.len());
    for (m, e) in mirror.iter().zip(&table) {
        assert_eq!(*m, serde_json::to_value(e).unwrap());
    }
    let by_type: BTreeMap<String, usize> = mirror.iter().fold(BTreeMap::new(), |mut acc, m| {
        *acc.entry(m["event_type"].as_str().unwrap().to_string())
            .or_default() += 1;
        acc
    });
    assert_eq!(by_type["EVENT_TYPE_MANAGED_PANE_CREATED"], 3);
    assert_eq!(by_type["EVENT_TYPE_MANAGED_PANE_STATE_CHANGED"], 3);
}

#[tokio::test]
async fn a_mirror_behind_the_table_is_caught_up_at_start() {
    let mut d = Daemon::start().await;
    d.create_settled("1m+2s", "m").await;
    let before = d.all_events().await;
    let total = before.len();
    // Lose the mirror's last lines, as a crash between commit and append would.
    let text = std::fs::read_to_string(d.events_log()).unwrap();
    let kept: Vec<&str> = text.lines().take(total - 4).collect();
    std::fs::write(d.events_log(), format!("{}\n", kept.join("\n"))).unwrap();
    d.kill9();
    d.restart().await;
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(d.events_log())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let seqs: Vec<u64> = lines
        .iter()
        .map(|l| l["sequence"].as_str().unwrap().parse().unwrap())
        .collect();
    // Every event of the table, including those the restart itself wrote
    // (boot recovery reattaching the three panes), exactly once, in order.
    // (Activity detection may have written more since: the mirror is a
    // prefix of the table.)
    let lifecycle = |events: &[pb::LifecycleEvent]| {
        events
            .iter()
            .filter(|e| e.event_type() != pb::EventType::AgentActivityChanged)
            .count()
    };
    let now = d.all_events().await;
    assert_eq!(lifecycle(&now), lifecycle(&before) + 3);
    assert!(seqs.len() >= before.len() + 3 && seqs.len() <= now.len());
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
}
