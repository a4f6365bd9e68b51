//! Adopting panes the daemon did not create.

use agenttower::pb;

use crate::support::*;

#[tokio::test]
async fn an_operator_pane_is_adopted_and_managed_panes_are_not_adoptable_twice() {
    let d = Daemon::start().await;
    let (mine, agent) = d.adopt_own_pane("ops", "ops.main").await;
    let mine = mine.as_str();
    let mut c = d.client().await;
    assert_eq!(agent.origin(), pb::AgentOrigin::Adopted);
    assert_eq!(
        (
            agent.tmux_pane_id.as_str(),
            agent.tmux_session_name.as_str()
        ),
        (mine, "ops")
    );

    let managed = d.create_settled("1m+2s", "team").await;
    let adopted = c
        .list_agents(pb::ListAgentsRequest {
            origin: pb::AgentOrigin::Adopted as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .agents;
    assert_eq!(adopted.len(), 1);
    let all = c
        .list_agents(pb::ListAgentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .agents;
    assert_eq!(all.len(), 4);

    // A pane that is already an agent, a pane that does not exist, a bad id.
    let again = |id: &str| pb::AdoptPaneRequest {
        container_id: "local".into(),
        tmux_pane_id: id.into(),
        role: "r".into(),
        capability: "c".into(),
        label: "l".into(),
    };
    for id in [
        mine,
        managed.panes()[0].tmux_pane_id.as_str(),
        "%999",
        "3",
        "%1;x",
    ] {
        let (_, e) = err(c.adopt_pane(again(id)).await);
        assert_eq!(
            (e.reason.as_str(), e.details["field"].as_str()),
            ("validation_failed", "tmux_pane_id"),
            "{id}"
        );
    }
    // The adopted pane itself was never touched: same title, no marker.
    let title = tmux_ok(d.tmux(&[
        "display-message",
        "-p",
        "-t",
        mine,
        "#{pane_title}|#{@agenttower_marker}",
    ]));
    assert!(
        !title.contains("MANAGED") && title.trim().ends_with('|'),
        "{title}"
    );
}

#[tokio::test]
async fn scan_panes_lists_operator_panes_marks_agents_and_skips_panes_being_created() {
    // A long settle window keeps the layout's panes pending while we scan.
    let d = Daemon::start_with(Setup::default().config("settle_window_ms: 2000\n")).await;
    let mine = tmux_ok(d.tmux(&["new-session", "-d", "-s", "ops", "-P", "-F", "#{pane_id}"]));
    let mine = mine.trim().to_string();
    let mut c = d.client().await;
    let id = c
        .create_layout(create("1m+2s", "busy"))
        .await
        .unwrap()
        .into_inner()
        .layout_id();
    // Wait until tmux has the pending panes (their %ids are recorded).
    eventually("the pending panes in tmux", || {
        let (d, id) = (&d, &id);
        async move {
            d.layout(id)
                .await
                .panes()
                .iter()
                .all(|p| !p.tmux_pane_id.is_empty() && p.pending_marker)
                .then_some(())
        }
    })
    .await;
    let scan = |c: &mut agenttower::client::ManagedSessionsServiceClient| {
        let mut c = c.clone();
        async move {
            c.scan_panes(pb::ScanPanesRequest {
                container_id: "local".into(),
            })
            .await
            .unwrap()
            .into_inner()
            .panes
        }
    };
    let pending = scan(&mut c).await;
    assert_eq!(
        pending
            .iter()
            .map(|p| p.tmux_pane_id.as_str())
            .collect::<Vec<_>>(),
        [mine.as_str()],
        "only the operator's pane, never a pane carrying a pending marker: {pending:?}"
    );
    assert_eq!(pending[0].tmux_session_name, "ops");
    assert!(pending[0].agent_id.is_empty());
    assert!(!pending[0].current_command.is_empty());

    // Once ready, the layout's panes are listed as the agents they are.
    let settled = d.settled(&id).await;
    let after = scan(&mut c).await;
    assert_eq!(after.len(), 4, "{after:?}");
    for p in settled.panes() {
        let listed = after
            .iter()
            .find(|s| s.tmux_pane_id == p.tmux_pane_id)
            .unwrap();
        assert_eq!(listed.agent_id, p.agent_id);
        assert_eq!(listed.title, p.label);
    }
    let (_, e) = err(c
        .scan_panes(pb::ScanPanesRequest {
            container_id: "nowhere".into(),
        })
        .await);
    assert_eq!(e.reason, "container_not_found");
}

#[tokio::test]
async fn send_input_types_into_managed_and_adopted_panes_and_refuses_removed_ones() {
    let d = Daemon::start().await;
    let layout = d.create_settled("1m+2s", "typing").await;
    let worker = layout
        .panes()
        .iter()
        .find(|p| p.label == "typing.s1")
        .unwrap();
    let mut c = d.client().await;
    let typed = |pane: String, needle: &'static str| {
        let socket = d.tmux_socket();
        eventually("the typed command's output", move || {
            let screen = tmux_ok(tmux_on(&socket, &["capture-pane", "-p", "-t", &pane]));
            // A shell that starts after the text arrived prints its prompt
            // before the output line; the typed line never ends this way.
            async move {
                screen
                    .lines()
                    .any(|l| l.trim().ends_with(needle))
                    .then_some(())
            }
        })
    };
    // Shell metacharacters are typed, not interpreted by the daemon.
    c.send_input(pb::SendInputRequest {
        agent_id: worker.agent_id.clone(),
        text: "echo typed-$((6*7)) ';' # x".into(),
        no_enter: false,
    })
    .await
    .unwrap();
    typed(worker.tmux_pane_id.clone(), "typed-42 ;").await;

    // An adopted pane takes input too.
    let (mine, adopted) = d.adopt_own_pane("ops", "ops.main").await;
    c.send_input(pb::SendInputRequest {
        agent_id: adopted.agent_id.clone(),
        text: "echo adopted-$((40+2))".into(),
        no_enter: false,
    })
    .await
    .unwrap();
    typed(mine, "adopted-42").await;

    // Refusals: control characters, an unknown agent, a removed pane.
    let send = |agent: &str, text: &str| pb::SendInputRequest {
        agent_id: agent.into(),
        text: text.into(),
        no_enter: false,
    };
    let (_, e) = err(c.send_input(send(&worker.agent_id, "ls\u{1b}[A")).await);
    assert_eq!(
        (e.reason.as_str(), e.details["field"].as_str()),
        ("validation_failed", "text")
    );
    let (_, e) = err(c.send_input(send("no-such-agent", "ls")).await);
    assert_eq!(
        (e.reason.as_str(), e.details["field"].as_str()),
        ("validation_failed", "agent_id")
    );
    c.remove_pane(pb::RemovePaneRequest {
        pane_id: worker.pane_id.clone(),
    })
    .await
    .unwrap();
    let (code, e) = err(c.send_input(send(&worker.agent_id, "ls")).await);
    assert_eq!(code, tonic::Code::FailedPrecondition);
    assert_eq!(e.reason, "managed_pane_illegal_transition");
    assert_eq!(e.details["current_state"], "removed");
    assert_eq!(e.details["requested_action"], "send_input");
}
