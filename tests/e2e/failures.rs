//! A pane that fails reaches its own state; its siblings and the layout go on.

use agenttower::pb;

use crate::support::*;

#[tokio::test]
async fn a_launch_command_that_exits_degrades_only_its_pane() {
    let d = Daemon::start_with(Setup::default().profile(
        "crash",
        "name: crash\ncommand: [sh, -c, 'echo dying; exit 7']\n",
    ))
    .await;
    let mut req = create("1m+2s", "crash");
    req.launch_command_overrides
        .insert("slave:crash.s1".into(), "crash".into());
    req.launch_command_overrides
        .insert("master:crash.m1".into(), "talker".into());
    let got = d.create_and_settle(req).await;
    let layout = got.the_layout().clone();
    assert_eq!(layout.state(), pb::LayoutState::Degraded);
    assert_eq!(layout.failed_stage(), pb::FailedStage::LaunchCommand);
    assert_eq!(layout.ready_pane_count, 2);
    let states: Vec<_> = got
        .panes()
        .iter()
        .map(|p| (p.label.as_str(), p.state(), p.failed_stage()))
        .collect();
    assert_eq!(
        states,
        [
            (
                "crash.m1",
                pb::PaneState::Ready,
                pb::FailedStage::Unspecified
            ),
            (
                "crash.s1",
                pb::PaneState::Degraded,
                pb::FailedStage::LaunchCommand
            ),
            (
                "crash.s2",
                pb::PaneState::Ready,
                pb::FailedStage::Unspecified
            ),
        ]
    );
    let dead = &got.panes()[1];
    assert!(
        dead.failure_reason.contains("status 7"),
        "{}",
        dead.failure_reason
    );
    assert!(dead.hint.contains("recreate"), "{}", dead.hint);
    assert!(
        !dead.agent_id.is_empty(),
        "a degraded pane is still registered"
    );
    // remain-on-exit keeps the dead pane visible in tmux with its status.
    let status = tmux_ok(d.tmux(&[
        "display-message",
        "-p",
        "-t",
        &dead.tmux_pane_id,
        "#{pane_dead} #{pane_dead_status}",
    ]));
    assert_eq!(status.trim(), "1 7");
    let exited: Vec<_> = d
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.event_type() == pb::EventType::ManagedPaneLaunchCommandExited)
        .collect();
    assert_eq!(exited.len(), 1);
    assert_eq!(exited[0].pane_id, dead.pane_id);
    let p = payload(&exited[0]);
    assert_eq!(p["exit_code"], 7);
    assert_eq!(p["detected_by"], "EXIT_DETECTION_SETTLE_PROBE");
    // proto3 JSON writes a Duration as decimal seconds: "0.312s".
    let elapsed: f64 = p["elapsed"]
        .as_str()
        .unwrap()
        .trim_end_matches('s')
        .parse()
        .unwrap();
    assert!(elapsed >= 0.3, "{p}");
    // Its output still reached its log.
    let log = std::fs::read_to_string(d.log_dir().join("local/crash.s1.log")).unwrap();
    assert!(log.contains("dying"), "{log:?}");
}

#[tokio::test]
async fn an_unwritable_log_dir_degrades_panes_and_the_layout_completes() {
    let blocker = tempfile::NamedTempFile::new().unwrap();
    // A regular file where the log directory should be: nobody, not even
    // root, can create files under it.
    let d = Daemon::start_with(
        Setup::default().env("AGENTTOWER_LOG_DIR", &blocker.path().display().to_string()),
    )
    .await;
    let got = d.create_settled("1m+2s", "nolog").await;
    let layout = got.the_layout().clone();
    assert_eq!(layout.state(), pb::LayoutState::Degraded);
    assert_eq!(layout.failed_stage(), pb::FailedStage::LogAttach);
    for p in got.panes() {
        assert_eq!(p.state(), pb::PaneState::Degraded);
        assert_eq!(p.failed_stage(), pb::FailedStage::LogAttach);
        assert!(
            p.failure_reason.contains("cannot write the log file"),
            "{}",
            p.failure_reason
        );
        assert!(!p.log_attached && !p.agent_id.is_empty());
    }
    // The panes themselves run, titled with their labels.
    let titles = tmux_ok(d.tmux(&[
        "list-panes",
        "-s",
        "-t",
        "=nolog:",
        "-F",
        "#{pane_title} #{pane_dead}",
    ]));
    let mut titles: Vec<_> = titles.lines().collect();
    titles.sort();
    assert_eq!(titles, ["nolog.m1 0", "nolog.s1 0", "nolog.s2 0"]);
    let failed = d
        .all_events()
        .await
        .iter()
        .filter(|e| e.event_type() == pb::EventType::ManagedPaneLogAttachFailed)
        .count();
    assert_eq!(failed, 3);
}

#[tokio::test]
async fn a_session_taken_at_spawn_time_fails_every_pane_at_pane_create() {
    // Slow the pipeline's queue with a first layout, then take the second
    // layout's session name in tmux before its spawn runs.
    let d = Daemon::start_with(Setup::default().config("settle_window_ms: 1500")).await;
    let mut c = d.client().await;
    let first = c
        .create_layout(create("1m+2s", "first"))
        .await
        .unwrap()
        .into_inner();
    let second = c
        .create_layout(create("1m+2s", "second"))
        .await
        .unwrap()
        .into_inner();
    tmux_ok(d.tmux(&["new-session", "-d", "-s", "second"]));
    let got = d.settled(&second.layout_id()).await;
    assert_eq!(got.the_layout().clone().state(), pb::LayoutState::Failed);
    for p in got.panes() {
        assert_eq!(
            (p.state(), p.failed_stage()),
            (pb::PaneState::Failed, pb::FailedStage::PaneCreate)
        );
        assert!(
            p.failure_reason.contains("duplicate session"),
            "{}",
            p.failure_reason
        );
        assert!(p.tmux_pane_id.is_empty());
    }
    assert_eq!(
        d.settled(&first.layout_id()).await.layout.unwrap().state(),
        pb::LayoutState::Ready
    );
    // The operator's session was not touched.
    let panes = tmux_ok(d.tmux(&["list-panes", "-s", "-t", "=second:", "-F", "#{pane_title}"]));
    assert_eq!(panes.lines().count(), 1);
}

#[tokio::test]
async fn a_pane_killed_before_the_probe_fails_alone_and_its_siblings_still_get_their_titles() {
    // A long settle window leaves time to kill the first pane after tmux
    // created it and before the probe (which also retitles every pane).
    let d = Daemon::start_with(Setup::default().config("settle_window_ms: 1500\n")).await;
    let id = d
        .client()
        .await
        .create_layout(create("1m+2s", "gone"))
        .await
        .unwrap()
        .into_inner()
        .layout_id();
    let master = eventually("the master's tmux pane", || {
        let (d, id) = (&d, &id);
        async move {
            let l = d.layout(id).await;
            let m = l.panes().iter().find(|p| p.label == "gone.m1")?.clone();
            (!m.tmux_pane_id.is_empty()).then_some(m)
        }
    })
    .await;
    tmux_ok(d.tmux(&["kill-pane", "-t", &master.tmux_pane_id]));

    let settled = d.settled(&id).await;
    for p in settled.panes() {
        if p.label == "gone.m1" {
            assert_eq!(p.state(), pb::PaneState::Failed);
            assert_eq!(p.failed_stage(), pb::FailedStage::Registration);
        } else {
            assert_eq!(p.state(), pb::PaneState::Ready, "{}", p.label);
        }
    }
    // The survivors carry their labels and no marker, although the chained
    // retitle stopped at the vanished pane.
    let listing = tmux_ok(d.tmux(&[
        "list-panes",
        "-s",
        "-t",
        "=gone:",
        "-F",
        "#{pane_title} #{@agenttower_marker}|",
    ]));
    let mut titles: Vec<_> = listing.lines().collect();
    titles.sort();
    assert_eq!(titles, ["gone.s1 |", "gone.s2 |"]);
}
