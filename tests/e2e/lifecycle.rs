//! Remove and recreate on real tmux: clean-up, protection of adopted panes,
//! predecessor chains, and exactly one successor under concurrency.

use agenttower::pb;
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn removing_a_ready_pane_cleans_up_and_is_idempotent() {
    let d = Daemon::start().await;
    let got = d.create_settled("1m+2s", "rm").await;
    let mut c = d.client().await;
    let (m1, s1) = (&got.panes()[0], &got.panes()[1]);
    let route = c
        .create_route(pb::CreateRouteRequest {
            source_agent_id: m1.agent_id.clone(),
            target_agent_id: s1.agent_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .route
        .unwrap();
    let before = d.all_events().await.len();

    let r = c
        .remove_pane(pb::RemovePaneRequest {
            pane_id: s1.pane_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(r.changed);
    let removed = r.pane.unwrap();
    assert_eq!(removed.state(), pb::PaneState::Removed);
    assert!(!removed.log_attached);
    // tmux pane gone, siblings still there.
    let panes = d.tmux_panes();
    assert!(!panes.contains(&s1.tmux_pane_id), "{panes:?}");
    assert!(panes.contains(&m1.tmux_pane_id) && panes.contains(&got.panes()[2].tmux_pane_id));
    // Routes touching the agent deleted; the agent is kept, unregistered.
    let routes = c
        .list_routes(pb::ListRoutesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .routes;
    assert!(
        routes.iter().all(|r| r.route_id != route.route_id),
        "{routes:?}"
    );
    let agents = c
        .list_agents(pb::ListAgentsRequest {
            include_unregistered: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .agents;
    let agent = agents.iter().find(|a| a.agent_id == s1.agent_id).unwrap();
    assert!(!agent.registered && !agent.log_attached);
    // The row is kept; the layout stays ready beside a removed pane.
    let layout = c
        .get_layout(pb::GetLayoutRequest {
            layout_id: got.layout.as_ref().unwrap().layout_id.clone(),
            include_terminal_panes: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(layout.panes().len(), 3);
    assert_eq!(layout.layout.unwrap().state(), pb::LayoutState::Ready);
    // Events: marker-free state change then the removal record; the
    // agent's activity became `exited` with them. (Activity detection on
    // the other panes may add its own events meanwhile.)
    let lifecycle = |events: &[pb::LifecycleEvent]| -> Vec<pb::LifecycleEvent> {
        events
            .iter()
            .filter(|e| e.event_type() != pb::EventType::AgentActivityChanged)
            .cloned()
            .collect()
    };
    let events = d.all_events().await;
    let new = lifecycle(&events[before..]);
    assert_eq!(
        new.iter()
            .map(|e| (e.event_type(), e.pane_id.clone()))
            .collect::<Vec<_>>(),
        [
            (pb::EventType::ManagedPaneStateChanged, s1.pane_id.clone()),
            (pb::EventType::ManagedPaneRemoved, s1.pane_id.clone()),
        ]
    );
    assert_eq!(payload(&new[1])["routes_deleted"], 1);
    let exited = events[before..].iter().any(|e| {
        e.event_type() == pb::EventType::AgentActivityChanged
            && e.pane_id == s1.pane_id
            && payload(e)["to_activity"] == "ACTIVITY_EXITED"
    });
    assert!(exited, "no exited activity event for the removed pane");

    // Again: success, nothing changes.
    let again = c
        .remove_pane(pb::RemovePaneRequest {
            pane_id: s1.pane_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.changed);
    assert_eq!(
        lifecycle(&d.all_events().await).len(),
        lifecycle(&events).len()
    );

    // Unknown id, bad id.
    let (code, e) = err(c
        .remove_pane(pb::RemovePaneRequest {
            pane_id: "nope".into(),
        })
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::NotFound, "managed_pane_not_found")
    );
    let (_, e) = err(c
        .remove_pane(pb::RemovePaneRequest {
            pane_id: "a b".into(),
        })
        .await);
    assert_eq!(e.reason, "validation_failed");
}

#[tokio::test]
async fn adopted_panes_are_protected_and_untouched_by_managed_removal() {
    let d = Daemon::start().await;
    let (mine, adopted) = d.adopt_own_pane("ops", "ops.me").await;
    let mut c = d.client().await;
    let snapshot = |d: &Daemon| {
        tmux_ok(d.tmux(&[
            "display-message",
            "-p",
            "-t",
            &mine,
            "#{pane_id} #{pane_title} #{pane_pid} #{pane_dead}",
        ]))
    };
    let tmux_before = snapshot(&d);
    let events_before = d.all_events().await.len();

    let (code, e) = err(c
        .remove_pane(pb::RemovePaneRequest {
            pane_id: adopted.agent_id.clone(),
        })
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::FailedPrecondition, "managed_pane_protected_adopted")
    );
    assert_eq!(e.details["agent_id"], adopted.agent_id);
    assert_eq!(e.details["is_adopted"], "true");
    let (_, e) = err(c
        .recreate_pane(pb::RecreatePaneRequest {
            predecessor_pane_id: adopted.agent_id.clone(),
            ..Default::default()
        })
        .await);
    assert_eq!(e.reason, "managed_pane_protected_adopted");

    // A managed layout beside it, removed whole.
    let got = d.create_settled("1m+2s", "team").await;
    c.remove_layout(pb::RemoveLayoutRequest {
        layout_id: got.the_layout().clone().layout_id,
    })
    .await
    .unwrap();

    assert_eq!(snapshot(&d), tmux_before, "the adopted tmux pane changed");
    let agents = c
        .list_agents(pb::ListAgentsRequest {
            origin: pb::AgentOrigin::Adopted as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .agents;
    assert_eq!(agents, vec![adopted], "the adopted agent row changed");
    assert!(
        d.all_events().await[events_before..]
            .iter()
            .all(|e| e.event_type() != pb::EventType::ManagedPaneRemoved || e.pane_id != mine)
    );
    // Only the operator's pane is left in tmux.
    assert_eq!(d.tmux_panes(), [mine]);
}

#[tokio::test]
async fn a_pane_being_created_cannot_be_removed() {
    let d = Daemon::start_with(Setup::default().config("settle_window_ms: 2000")).await;
    let mut c = d.client().await;
    let r = c
        .create_layout(create("1m+2s", "busy"))
        .await
        .unwrap()
        .into_inner();
    let (code, e) = err(c
        .remove_pane(pb::RemovePaneRequest {
            pane_id: r.panes()[0].pane_id.clone(),
        })
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::FailedPrecondition, "managed_pane_illegal_transition")
    );
    assert_eq!(e.details["current_state"], "creating");
    assert_eq!(e.details["requested_action"], "remove");
    let (_, e) = err(c
        .remove_layout(pb::RemoveLayoutRequest {
            layout_id: r.layout_id().clone(),
        })
        .await);
    assert_eq!(e.reason, "managed_pane_illegal_transition");
    let got = d.settled(&r.layout_id()).await;
    assert_eq!(got.the_layout().clone().state(), pb::LayoutState::Ready);
}

#[tokio::test]
async fn recreate_after_remove_and_after_failure_builds_a_readable_chain() {
    let d = Daemon::start_with(
        Setup::default().profile("crash", "name: crash\ncommand: [sh, -c, 'exit 4']\n"),
    )
    .await;
    let got = d.create_settled("1m+2s", "re").await;
    let layout_id = got.the_layout().clone().layout_id;
    let mut c = d.client().await;
    let first = got.panes()[1].clone();

    // removed → recreated (1) → removed → recreated (2) → recreated as a
    // crashing pane (3) → degraded → removed → recreated (4... kept)
    let mut pred = first.clone();
    for depth in 1..=3u32 {
        c.remove_pane(pb::RemovePaneRequest {
            pane_id: pred.pane_id.clone(),
        })
        .await
        .unwrap();
        let r = c
            .recreate_pane(pb::RecreatePaneRequest {
                predecessor_pane_id: pred.pane_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!r.replay);
        let succ = r.pane.unwrap();
        assert_eq!(succ.state(), pb::PaneState::Creating);
        assert_eq!(
            (succ.chain_depth, succ.predecessor_id.as_str()),
            (depth, pred.pane_id.as_str())
        );
        assert_eq!(
            (
                succ.label.as_str(),
                succ.tmux_pane_index,
                succ.role.as_str()
            ),
            ("re.s1", 1, "slave")
        );
        d.settled(&layout_id).await;
        pred = d.pane(&succ.pane_id).await;
        assert_eq!(
            pred.state(),
            pb::PaneState::Ready,
            "{}",
            pred.failure_reason
        );
        // The new pane lives in the layout's session, titled with the label.
        let title = tmux_ok(d.tmux(&[
            "display-message",
            "-p",
            "-t",
            &pred.tmux_pane_id,
            "#{session_name} #{pane_title}",
        ]));
        assert_eq!(title.trim(), "re re.s1");
    }
    let chain = c
        .get_pane(pb::GetPaneRequest {
            pane_id: pred.pane_id.clone(),
            include_predecessor_chain: true,
        })
        .await
        .unwrap()
        .into_inner()
        .predecessor_chain;
    let depths: Vec<u32> = chain.iter().map(|p| p.chain_depth).collect();
    assert_eq!(depths, [2, 1, 0]);
    assert_eq!(chain[2].pane_id, first.pane_id);
    assert!(chain.iter().all(|p| p.state() == pb::PaneState::Removed));
    assert_eq!(d.tmux_panes().len(), 3, "no duplicate tmux panes");

    // A recreate whose launch command fails, then recreate from that state
    // after removal; and from `failed` directly.
    c.remove_pane(pb::RemovePaneRequest {
        pane_id: pred.pane_id.clone(),
    })
    .await
    .unwrap();
    let bad = c
        .recreate_pane(pb::RecreatePaneRequest {
            predecessor_pane_id: pred.pane_id.clone(),
            launch_command_override: "crash".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .pane
        .unwrap();
    let l = d.settled(&layout_id).await;
    assert_eq!(l.layout.unwrap().state(), pb::LayoutState::Degraded);
    let (_, e) = err(c
        .recreate_pane(pb::RecreatePaneRequest {
            predecessor_pane_id: bad.pane_id.clone(),
            ..Default::default()
        })
        .await);
    assert_eq!(e.reason, "managed_pane_illegal_recreate_source");
    assert_eq!(e.details["current_state"], "degraded");
    // A bogus override inserts nothing.
    c.remove_pane(pb::RemovePaneRequest {
        pane_id: bad.pane_id.clone(),
    })
    .await
    .unwrap();
    let n = d.lifecycle_events().await.len();
    let (code, e) = err(c
        .recreate_pane(pb::RecreatePaneRequest {
            predecessor_pane_id: bad.pane_id.clone(),
            launch_command_override: "nope".into(),
            ..Default::default()
        })
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::NotFound, "managed_launch_command_not_found")
    );
    assert_eq!(d.lifecycle_events().await.len(), n);
    let good = c
        .recreate_pane(pb::RecreatePaneRequest {
            predecessor_pane_id: bad.pane_id.clone(),
            launch_command_override: "talker".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .pane
        .unwrap();
    assert_eq!(good.chain_depth, 5);
    let l = d.settled(&layout_id).await;
    assert_eq!(l.layout.unwrap().state(), pb::LayoutState::Ready);
}

#[tokio::test]
async fn a_failed_pane_is_recreated_and_the_layout_recovers() {
    let mut d = Daemon::start().await;
    let got = d.create_settled("1m+2s", "fx").await;
    let layout_id = got.the_layout().clone().layout_id;
    let victim = got.panes()[2].clone();
    tmux_ok(d.tmux(&["kill-pane", "-t", &victim.tmux_pane_id]));
    d.kill9();
    d.restart().await;
    let mut c = d.client().await;
    let failed = d.pane(&victim.pane_id).await;
    assert_eq!(
        (failed.state(), failed.failed_stage()),
        (pb::PaneState::Failed, pb::FailedStage::RecoveryReattach)
    );
    let succ = c
        .recreate_pane(pb::RecreatePaneRequest {
            predecessor_pane_id: victim.pane_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .pane
        .unwrap();
    assert_eq!(succ.chain_depth, 1);
    let l = d.settled(&layout_id).await;
    assert_eq!(l.layout.unwrap().state(), pb::LayoutState::Ready);
    let old = d.pane(&victim.pane_id).await;
    assert_eq!(
        old.state(),
        pb::PaneState::Removed,
        "a recreated failed pane is retired"
    );
}

#[tokio::test]
async fn concurrent_recreates_make_exactly_one_successor_and_keys_replay() {
    let d = Daemon::start().await;
    let got = d.create_settled("1m+2s", "cc").await;
    let target = got.panes()[0].pane_id.clone();
    let mut c = d.client().await;
    c.remove_pane(pb::RemovePaneRequest {
        pane_id: target.clone(),
    })
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let mut c = d.client().await;
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            c.recreate_pane(pb::RecreatePaneRequest {
                predecessor_pane_id: target,
                ..Default::default()
            })
            .await
        }));
    }
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => winners.push(r.into_inner().pane.unwrap().pane_id),
            Err(s) => {
                let e = agenttower::client::api_error(&s).unwrap();
                assert_eq!(
                    (s.code(), e.reason.as_str()),
                    (Code::Aborted, "managed_pane_concurrent_recreate")
                );
                assert_eq!(e.details["predecessor_pane_id"], target);
                assert!(!e.details["in_flight_successor_pane_id"].is_empty());
            }
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let all = c
        .list_panes(pb::ListPanesRequest {
            layout_id: got.the_layout().clone().layout_id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .panes;
    assert_eq!(all.iter().filter(|p| p.predecessor_id == target).count(), 1);

    // Idempotency keys replay the successor they made.
    let other = got.panes()[1].pane_id.clone();
    c.remove_pane(pb::RemovePaneRequest {
        pane_id: other.clone(),
    })
    .await
    .unwrap();
    let req = pb::RecreatePaneRequest {
        predecessor_pane_id: other.clone(),
        idempotency_key: "k-1".into(),
        ..Default::default()
    };
    let a = c.recreate_pane(req.clone()).await.unwrap().into_inner();
    let b = c.recreate_pane(req).await.unwrap().into_inner();
    assert!(!a.replay && b.replay);
    assert_eq!(a.pane.unwrap().pane_id, b.pane.unwrap().pane_id);
}

#[tokio::test]
async fn the_chain_depth_is_bounded() {
    let d = Daemon::start_with(Setup::default().config("settle_window_ms: 20")).await;
    let got = d.create_settled("1m+2s", "deep").await;
    let layout_id = got.the_layout().clone().layout_id;
    let mut c = d.client().await;
    let mut pred = got.panes()[0].pane_id.clone();
    for _ in 1..=15 {
        c.remove_pane(pb::RemovePaneRequest {
            pane_id: pred.clone(),
        })
        .await
        .unwrap();
        pred = c
            .recreate_pane(pb::RecreatePaneRequest {
                predecessor_pane_id: pred.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .pane
            .unwrap()
            .pane_id;
        d.settled(&layout_id).await;
    }
    c.remove_pane(pb::RemovePaneRequest {
        pane_id: pred.clone(),
    })
    .await
    .unwrap();
    let (code, e) = err(c
        .recreate_pane(pb::RecreatePaneRequest {
            predecessor_pane_id: pred.clone(),
            ..Default::default()
        })
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (
            Code::FailedPrecondition,
            "managed_pane_recreate_chain_too_deep"
        )
    );
    assert_eq!(e.details["predecessor_chain_depth"], "15");
    assert_eq!(e.details["limit"], "16");
    let chain = c
        .get_pane(pb::GetPaneRequest {
            pane_id: pred,
            include_predecessor_chain: true,
        })
        .await
        .unwrap()
        .into_inner()
        .predecessor_chain;
    assert_eq!(chain.len(), 15);
}

#[tokio::test]
async fn promote_from_adopted_is_reserved() {
    let d = Daemon::start().await;
    let (code, e) = err(d
        .client()
        .await
        .promote_from_adopted(pb::PromoteFromAdoptedRequest {
            agent_id: "x".into(),
        })
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::Unimplemented, "not_implemented")
    );
    assert_eq!(e.details["reserved_since"], "agenttower.v1");
}
