//! Adopting panes the daemon did not create.

use agenttower::pb;

use crate::support::*;

#[tokio::test]
async fn an_operator_pane_is_adopted_and_managed_panes_are_not_adoptable_twice() {
    let d = Daemon::start().await;
    let mine = tmux_ok(d.tmux(&["new-session", "-d", "-s", "ops", "-P", "-F", "#{pane_id}"]));
    let mine = mine.trim();
    let mut c = d.client().await;
    let agent = c
        .adopt_pane(pb::AdoptPaneRequest {
            container_id: "local".into(),
            tmux_pane_id: mine.into(),
            role: "operator".into(),
            capability: "shell".into(),
            label: "ops.main".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .agent
        .unwrap();
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
        managed.panes[0].tmux_pane_id.as_str(),
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
