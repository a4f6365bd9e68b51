//! Layouts reach `ready` on real tmux: panes, titles, commands, agents, logs.

use agenttower::pb;

use crate::support::*;

fn talker_overrides(session: &str, labels: &[(&str, &str)]) -> pb::CreateLayoutRequest {
    let mut req = create("1m+2s", session);
    for (role, label) in labels {
        req.launch_command_overrides
            .insert(format!("{role}:{label}"), "talker".into());
    }
    req
}

#[tokio::test]
async fn one_master_two_slaves_reach_ready_with_titles_agents_and_logs() {
    let d = Daemon::start().await;
    let mut c = d.client().await;
    let req = talker_overrides(
        "work",
        &[
            ("master", "work.m1"),
            ("slave", "work.s1"),
            ("slave", "work.s2"),
        ],
    );
    let created = c.create_layout(req).await.unwrap().into_inner();
    assert!(!created.replay);
    assert_eq!(created.state(), pb::LayoutState::Creating);
    assert_eq!(created.panes().len(), 3);
    assert!(created.panes().iter().all(|p| p.pending_marker));

    let got = d.settled(&created.layout_id()).await;
    let layout = got.the_layout().clone();
    assert_eq!(layout.state(), pb::LayoutState::Ready, "{:?}", got.panes());
    assert_eq!(
        (layout.ready_pane_count, layout.intended_pane_count),
        (3, 3)
    );
    let labels: Vec<_> = got.panes().iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, ["work.m1", "work.s1", "work.s2"]);
    let roles: Vec<_> = got
        .panes()
        .iter()
        .map(|p| (p.role.as_str(), p.capability.as_str()))
        .collect();
    assert_eq!(
        roles,
        [
            ("master", "orchestrator"),
            ("slave", "worker"),
            ("slave", "worker")
        ]
    );

    // tmux shows exactly these panes, titled with their labels, running the
    // launch command.
    let listing = tmux_ok(d.tmux(&[
        "list-panes",
        "-s",
        "-t",
        "=work:",
        "-F",
        "#{pane_id} #{pane_title} #{pane_dead} #{pane_pipe} #{@agenttower_marker}|",
    ]));
    let mut lines: Vec<_> = listing.lines().collect();
    lines.sort();
    let mut expected: Vec<String> = got
        .panes()
        .iter()
        .map(|p| format!("{} {} 0 1 |", p.tmux_pane_id, p.label))
        .collect();
    expected.sort();
    assert_eq!(lines, expected);
    for p in got.panes() {
        assert_eq!(p.state(), pb::PaneState::Ready);
        assert!(!p.pending_marker && p.log_attached && p.hint.is_empty());
        let cmd = tmux_ok(d.tmux(&[
            "display-message",
            "-p",
            "-t",
            &p.tmux_pane_id,
            "#{pane_current_command}",
        ]));
        assert_eq!(
            cmd.trim(),
            "sleep",
            "pane {} runs its launch command",
            p.label
        );
    }

    // Agents registered as managed with the pane's identity.
    let agents = c
        .list_agents(pb::ListAgentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .agents;
    assert_eq!(agents.len(), 3);
    for p in got.panes() {
        let a = agents
            .iter()
            .find(|a| a.agent_id == p.agent_id)
            .expect("agent for pane");
        assert_eq!(a.origin(), pb::AgentOrigin::Managed);
        assert_eq!(
            (
                a.role.as_str(),
                a.capability.as_str(),
                a.label.as_str(),
                a.tmux_pane_id.as_str()
            ),
            (
                p.role.as_str(),
                p.capability.as_str(),
                p.label.as_str(),
                p.tmux_pane_id.as_str()
            )
        );
        assert!(a.registered && a.log_attached);
    }

    // Each log file receives its own pane's output.
    for p in got.panes() {
        let path = d.log_dir().join("local").join(format!("{}.log", p.label));
        assert_eq!(p.log_path, path.display().to_string());
        let text = eventually("pane output in the log", || {
            let path = path.clone();
            async move {
                let t = std::fs::read_to_string(&path).ok()?;
                t.contains("talker-started").then_some(t)
            }
        })
        .await;
        assert!(text.contains("talker-started"));
    }
}

#[tokio::test]
async fn two_masters_two_slaves_reach_ready_with_the_login_shell() {
    let d = Daemon::start().await;
    let got = d.create_settled("2m+2s", "duo").await;
    assert_eq!(
        got.the_layout().clone().state(),
        pb::LayoutState::Ready,
        "{:?}",
        got.panes()
    );
    let labels: Vec<_> = got.panes().iter().map(|p| p.label.clone()).collect();
    assert_eq!(labels, ["duo.m1", "duo.m2", "duo.s1", "duo.s2"]);
    assert!(got.panes().iter().all(|p| p.launch_command_ref == "shell"));
    // The login shell is alive and its output reaches the log.
    let p = &got.panes()[3];
    tmux_ok(d.tmux(&[
        "send-keys",
        "-t",
        &p.tmux_pane_id,
        "-l",
        "echo shell-says-$((6*7))",
    ]));
    tmux_ok(d.tmux(&["send-keys", "-t", &p.tmux_pane_id, "Enter"]));
    let log = d.log_dir().join("local/duo.s2.log");
    eventually("shell output in the log", || {
        let log = log.clone();
        async move {
            std::fs::read_to_string(&log)
                .ok()?
                .contains("shell-says-42")
                .then_some(())
        }
    })
    .await;
    // Detached sessions get the configured size, not tmux's 80x24.
    let size = tmux_ok(d.tmux(&[
        "display-message",
        "-p",
        "-t",
        "=duo:",
        "#{window_width}x#{window_height}",
    ]));
    assert_eq!(size.trim(), "200x50");
}

#[tokio::test]
async fn two_layouts_of_one_template_coexist_in_one_container() {
    let d = Daemon::start().await;
    let a = d.create_settled("1m+2s", "alpha").await;
    let b = d.create_settled("1m+2s", "beta").await;
    for got in [&a, &b] {
        assert_eq!(got.layout.as_ref().unwrap().state(), pb::LayoutState::Ready);
    }
    let labels = |g: &pb::GetLayoutResponse| {
        g.panes()
            .iter()
            .map(|p| p.label.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(labels(&a), ["alpha.m1", "alpha.s1", "alpha.s2"]);
    assert_eq!(labels(&b), ["beta.m1", "beta.s1", "beta.s2"]);
    let sessions = tmux_ok(d.tmux(&[
        "list-sessions",
        "-f",
        NOT_CONTROL,
        "-F",
        "#{session_name} #{session_windows} #{window_panes}",
    ]));
    let mut sessions: Vec<_> = sessions.lines().collect();
    sessions.sort();
    assert_eq!(sessions, ["alpha 1 3", "beta 1 3"]);
}

#[tokio::test]
async fn launch_argv_env_and_working_dir_reach_the_pane_without_a_shell() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("argv.txt");
    // printf writes its arguments verbatim: a shell would expand `$HOME`,
    // split on `;` and run `$(...)`.
    let profile = format!(
        "name: argv\ncommand: [sh, -c, 'printf \"[%s]\\n\" \"$@\" \"$PWD\" \"$GREETING\" > {}; exec sleep 3600', argv0, '$HOME', 'a;b', '$(id)', 'tail;']\nenv: {{GREETING: hello world, API_TOKEN: s3cret}}\nworking_dir: {}\n",
        out.display(),
        out_dir.path().display()
    );
    let d = Daemon::start_with(Setup::default().profile("argv", &profile)).await;
    let mut req = create("1m+2s", "argv");
    req.launch_command_overrides
        .insert("master:argv.m1".into(), "argv".into());
    let got = d.create_and_settle(req).await;
    assert_eq!(
        got.the_layout().clone().state(),
        pb::LayoutState::Ready,
        "{:?}",
        got.panes()
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "[$HOME]",
            "[a;b]",
            "[$(id)]",
            "[tail;]",
            &format!("[{}]", out_dir.path().display()),
            "[hello world]"
        ]
    );
    // The created event shows argv and working_dir but hides secret env values.
    let created = d
        .all_events()
        .await
        .into_iter()
        .find(|e| {
            e.event_type() == pb::EventType::ManagedPaneCreated && payload(e)["label"] == "argv.m1"
        })
        .unwrap();
    let launch = &payload(&created)["launch"];
    assert_eq!(launch["env"]["API_TOKEN"], "<redacted>");
    assert_eq!(launch["env"]["GREETING"], "hello world");
    assert_eq!(launch["argv"][5], "a;b");
    assert_eq!(launch["working_dir"], out_dir.path().display().to_string());
    let mirror = std::fs::read_to_string(d.events_log()).unwrap();
    assert!(!mirror.contains("s3cret"), "a secret reached events.jsonl");
}

#[tokio::test]
async fn a_template_default_profile_is_used_and_an_override_beats_it() {
    let d = Daemon::start_with(
        Setup::default()
            .profile("quiet", "name: quiet\ncommand: [sleep, '3600']\n")
            .template(
                "pair",
                "name: pair\npanes:\n  - {role: lead, capability: orchestrator, label_pattern: '{session}.lead', default_launch_command_ref: talker}\n  - {role: helper, capability: worker, label_pattern: '{session}.h{ordinal}', default_launch_command_ref: talker}\n",
            ),
    )
    .await;
    let mut req = create("pair", "p");
    req.launch_command_overrides
        .insert("helper:p.h1".into(), "quiet".into());
    let got = d.create_and_settle(req).await;
    let refs: Vec<_> = got
        .panes()
        .iter()
        .map(|p| (p.label.as_str(), p.launch_command_ref.as_str()))
        .collect();
    assert_eq!(refs, [("p.lead", "talker"), ("p.h1", "quiet")]);
    assert_eq!(got.the_layout().clone().state(), pb::LayoutState::Ready);
}

#[tokio::test]
async fn the_same_idempotency_key_replays_one_layout() {
    let d = Daemon::start().await;
    let mut c = d.client().await;
    let mut req = create("1m+2s", "idem");
    req.idempotency_key = "deploy-42".into();
    let first = c.create_layout(req.clone()).await.unwrap().into_inner();
    let second = c.create_layout(req.clone()).await.unwrap().into_inner();
    assert!(!first.replay);
    assert!(second.replay);
    assert_eq!(first.layout_id(), second.layout_id());
    d.settled(&first.layout_id()).await;
    let third = c.create_layout(req).await.unwrap().into_inner();
    assert!(third.replay);
    assert_eq!(third.state(), pb::LayoutState::Ready);
    let layouts = c
        .list_layouts(pb::ListLayoutsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .layouts;
    assert_eq!(layouts.len(), 1);
    let created = d
        .all_events()
        .await
        .iter()
        .filter(|e| e.event_type() == pb::EventType::ManagedLayoutCreated)
        .count();
    assert_eq!(created, 1);
    assert_eq!(
        tmux_ok(d.tmux(&["list-sessions", "-f", NOT_CONTROL, "-F", "#{session_name}"])).trim(),
        "idem"
    );
}
