//! Crashes and drift: kill -9 mid-spawn, panes killed behind the daemon's
//! back, a container whose tmux cannot be listed, the health watcher and the
//! pending-marker sweep.

use std::collections::HashSet;

use agenttower::pb;

use crate::support::*;

#[tokio::test]
async fn kill_9_during_a_spawn_then_restart_settles_every_pane_once() {
    let mut d = Daemon::start_with(
        Setup::default()
            .config("settle_window_ms: 3000\npending_ttl_ms: 500\nsweep_interval_ms: 100"),
    )
    .await;
    let r = d
        .client()
        .await
        .create_layout(create("1m+2s", "crash"))
        .await
        .unwrap()
        .into_inner();
    // Wait until tmux has the panes (the pipeline is inside its settle window).
    eventually("the panes in tmux", || {
        let out = d.tmux(&["list-panes", "-s", "-t", "=crash:", "-F", "#{pane_id}"]);
        async move { (String::from_utf8_lossy(&out.stdout).lines().count() == 3).then_some(()) }
    })
    .await;
    d.kill9();
    d.restart().await;
    let got = d.settled(&r.layout_id()).await;
    for p in got.panes() {
        assert_ne!(p.state(), pb::PaneState::Creating);
        assert!(!p.pending_marker);
    }
    // Never re-spawned: still the same three tmux panes, no agents invented.
    let tmux = d.tmux_panes();
    assert_eq!(tmux.len(), 3, "{tmux:?}");
    let ids: HashSet<_> = got.panes().iter().map(|p| p.tmux_pane_id.clone()).collect();
    assert_eq!(ids, tmux.into_iter().collect::<HashSet<_>>());
    let agents = d
        .client()
        .await
        .list_agents(pb::ListAgentsRequest {
            include_unregistered: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .agents;
    let unique: HashSet<_> = agents.iter().map(|a| a.tmux_pane_id.clone()).collect();
    assert_eq!(unique.len(), agents.len(), "duplicate agents: {agents:?}");
    // Events agree with states: each pane's last state change names its state.
    let events = d.all_events().await;
    let seqs: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    for p in got.panes() {
        let last = events
            .iter()
            .rev()
            .find(|e| {
                e.pane_id == p.pane_id && e.event_type() == pb::EventType::ManagedPaneStateChanged
            })
            .expect("a state change event");
        assert_eq!(payload(last)["to_state"], p.state().as_str_name());
    }
}

#[tokio::test]
async fn a_pane_killed_while_the_daemon_was_down_is_failed_at_boot() {
    let mut d = Daemon::start().await;
    let got = d.create_settled("1m+2s", "gone").await;
    let victim = got.panes()[1].clone();
    d.kill9();
    tmux_ok(d.tmux(&["kill-pane", "-t", &victim.tmux_pane_id]));
    d.restart().await;
    // Visible as soon as the socket answers.
    let v = d.pane(&victim.pane_id).await;
    assert_eq!(
        (v.state(), v.failed_stage()),
        (pb::PaneState::Failed, pb::FailedStage::RecoveryReattach)
    );
    assert!(v.hint.contains("recreate"));
    for other in [&got.panes()[0], &got.panes()[2]] {
        assert_eq!(d.pane(&other.pane_id).await.state(), pb::PaneState::Ready);
    }
    let layout = d
        .settled(&got.the_layout().clone().layout_id)
        .await
        .layout
        .unwrap();
    assert_eq!(
        (layout.state(), layout.ready_pane_count),
        (pb::LayoutState::Failed, 2)
    );
    let events = d.all_events().await;
    let failed: Vec<_> = events
        .iter()
        .filter(|e| e.event_type() == pb::EventType::ManagedLayoutRecoveryFailed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].pane_id, victim.pane_id);
    let reattached = events
        .iter()
        .filter(|e| e.event_type() == pb::EventType::ManagedLayoutRecoveryReattached)
        .count();
    assert_eq!(reattached, 2);
}

#[tokio::test]
async fn a_container_whose_listing_fails_at_boot_is_left_untouched() {
    let mut d = Daemon::start_with(
        Setup::default()
            .config("stage_timeout_ms: 300\nretry_backoff_ms: [50, 50]")
            .containers(&["c1"]),
    )
    .await;
    let mut req = create("1m+2s", "kept");
    req.container_id = "c1".into();
    let kept = d.create_and_settle(req).await;
    let local = d.create_settled("1m+2s", "lost").await;
    let before = d.all_events().await.len();
    d.kill9();
    // c1's tmux server is frozen (listing it times out), and local's server
    // is gone entirely.
    let c1_server = tmux_ok(tmux_on(
        &d.container_socket("c1"),
        &["display-message", "-p", "#{pid}"],
    ));
    let c1_server = nix::unistd::Pid::from_raw(c1_server.trim().parse().unwrap());
    /// Resumes the frozen server even if an assertion fails, so clean-up
    /// (`tmux kill-server`) cannot hang.
    struct Resume(nix::unistd::Pid);
    impl Drop for Resume {
        fn drop(&mut self) {
            let _ = nix::sys::signal::kill(self.0, nix::sys::signal::Signal::SIGCONT);
        }
    }
    nix::sys::signal::kill(c1_server, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let _resume = Resume(c1_server);
    tmux_ok(d.tmux(&["kill-server"]));
    d.restart().await;
    for p in kept.panes() {
        let now = d.pane(&p.pane_id).await;
        assert_eq!(now.state(), pb::PaneState::Ready);
        assert_eq!(now.update_time, p.update_time, "c1's rows were touched");
    }
    for p in local.panes() {
        assert_eq!(
            d.pane(&p.pane_id).await.failed_stage(),
            pb::FailedStage::RecoveryReattach
        );
    }
    let after = d.all_events().await;
    assert!(
        after[before..].iter().all(|e| e.container_id != "c1"),
        "events written for c1"
    );
    assert!(d.log().contains("container left untouched"), "{}", d.log());
}

#[tokio::test]
async fn the_health_watcher_notices_a_dead_launch_command_and_a_vanished_pane() {
    let d = Daemon::start_with(Setup::default().config("health_interval_ms: 100")).await;
    let mut req = create("1m+2s", "hw");
    req.launch_command_overrides
        .insert("slave:hw.s1".into(), "talker".into());
    let got = d.create_and_settle(req).await;
    let (s1, s2) = (got.panes()[1].clone(), got.panes()[2].clone());
    // Kill the launch command behind the daemon's back.
    let pid = tmux_ok(d.tmux(&[
        "display-message",
        "-p",
        "-t",
        &s1.tmux_pane_id,
        "#{pane_pid}",
    ]));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid.trim().parse().unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    tmux_ok(d.tmux(&["kill-pane", "-t", &s2.tmux_pane_id]));
    let dead = eventually("the watcher to degrade the pane", || async {
        let p = d.pane(&s1.pane_id).await;
        (p.state() != pb::PaneState::Ready).then_some(p)
    })
    .await;
    assert_eq!(
        (dead.state(), dead.failed_stage()),
        (pb::PaneState::Degraded, pb::FailedStage::LaunchCommand)
    );
    let gone = eventually("the watcher to fail the vanished pane", || async {
        let p = d.pane(&s2.pane_id).await;
        (p.state() != pb::PaneState::Ready).then_some(p)
    })
    .await;
    assert_eq!(
        (gone.state(), gone.failed_stage()),
        (pb::PaneState::Failed, pb::FailedStage::RecoveryReattach)
    );
    assert_eq!(
        d.pane(&got.panes()[0].pane_id).await.state(),
        pb::PaneState::Ready
    );
}

#[tokio::test]
async fn the_sweep_fails_stale_creating_panes_and_the_pipeline_does_not_clobber_them() {
    let d = Daemon::start_with(
        Setup::default()
            .config("settle_window_ms: 1500\npending_ttl_ms: 200\nsweep_interval_ms: 50"),
    )
    .await;
    let r = d
        .client()
        .await
        .create_layout(create("1m+2s", "stale"))
        .await
        .unwrap()
        .into_inner();
    let got = d.settled(&r.layout_id()).await;
    for p in got.panes() {
        assert_eq!(p.state(), pb::PaneState::Failed, "{p:?}");
        assert!(!p.pending_marker);
        assert!(p.failure_reason.contains("TTL"), "{}", p.failure_reason);
    }
    // Wait for the pipeline to finish its settle window: its final write is
    // guarded by state = 'creating', so it registers no agent and changes
    // nothing. The layout's log files exist once it got that far.
    eventually("the pipeline's titles", || {
        let out = d.tmux(&["list-panes", "-s", "-t", "=stale:", "-F", "#{pane_title}"]);
        async move {
            String::from_utf8_lossy(&out.stdout)
                .contains("stale.s2")
                .then_some(())
        }
    })
    .await;
    let agents = d
        .client()
        .await
        .list_agents(pb::ListAgentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .agents;
    let again = d.settled(&r.layout_id()).await;
    for (a, b) in got.panes().iter().zip(again.panes()) {
        assert_eq!((a.state(), &a.update_time), (b.state(), &b.update_time));
    }
    assert!(
        agents.is_empty()
            || agents
                .iter()
                .all(|a| !got.panes().iter().any(|p| p.agent_id == a.agent_id))
    );
}

#[tokio::test]
async fn the_sweep_never_touches_a_pane_that_became_ready_in_time() {
    let d = Daemon::start_with(
        Setup::default().config("settle_window_ms: 20\npending_ttl_ms: 300\nsweep_interval_ms: 25"),
    )
    .await;
    let got = d.create_settled("1m+2s", "fresh").await;
    assert_eq!(got.layout.as_ref().unwrap().state(), pb::LayoutState::Ready);
    // Let the TTL run out and the sweep pass many times over these rows.
    let until = std::time::Instant::now() + std::time::Duration::from_millis(300 + 10 * 25);
    eventually("the TTL and ten sweeps to pass", || async move {
        (std::time::Instant::now() >= until).then_some(())
    })
    .await;
    let again = d.settled(&got.the_layout().clone().layout_id).await;
    for (a, b) in got.panes().iter().zip(again.panes()) {
        assert_eq!(
            (b.state(), &b.update_time),
            (pb::PaneState::Ready, &a.update_time)
        );
    }
    let failed = d
        .all_events()
        .await
        .iter()
        .filter(|e| {
            e.event_type() == pb::EventType::ManagedPaneStateChanged
                && payload(e)["to_state"] == "PANE_STATE_FAILED"
        })
        .count();
    assert_eq!(failed, 0);
}
