//! Bad and hostile input over the real socket: the right closed code naming
//! the field, no tmux call, nothing written.

use agenttower::pb;
use tonic::Code;

use crate::support::*;

/// Nothing reached the database or tmux.
async fn nothing_written(d: &Daemon) {
    let mut c = d.client().await;
    let layouts = c
        .list_layouts(pb::ListLayoutsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(
        layouts.layouts.is_empty(),
        "a layout was written: {layouts:?}"
    );
    let panes = c
        .list_panes(pb::ListPanesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(panes.panes.is_empty());
    assert!(d.all_events().await.is_empty(), "an event was written");
    let out = d.tmux(&["list-sessions"]);
    assert!(
        !out.status.success(),
        "a tmux server was started: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn bad_session_names_are_refused_before_tmux_and_before_any_write() {
    let d = Daemon::start().await;
    let mut c = d.client().await;
    let long = "a".repeat(65);
    let huge = "x".repeat(1 << 20);
    for bad in [
        "has space",
        "bell\u{7}",
        "new\nline",
        long.as_str(),
        "a;rm -rf /",
        "$(reboot)",
        "`id`",
        "a|b",
        "quote'",
        "dots.are.rewritten.by.tmux",
        "",
        "ünïcode",
        huge.as_str(),
    ] {
        let (code, e) = err(c.create_layout(create("1m+2s", bad)).await);
        assert_eq!(code, Code::InvalidArgument, "{bad:?}");
        assert_eq!(e.reason, "validation_failed", "{bad:?}");
        assert_eq!(e.code, pb::ErrorCode::ValidationFailed);
        assert_eq!(e.details["field"], "tmux_session_name", "{bad:?}");
        assert!(!e.details["reason"].is_empty());
    }
    nothing_written(&d).await;
}

#[tokio::test]
async fn bad_keys_overrides_and_ids_name_their_field() {
    let d = Daemon::start().await;
    let mut c = d.client().await;
    let cases: Vec<(pb::CreateLayoutRequest, &str)> = vec![
        (
            pb::CreateLayoutRequest {
                idempotency_key: "key with space".into(),
                ..create("1m+2s", "s")
            },
            "idempotency_key",
        ),
        (
            pb::CreateLayoutRequest {
                idempotency_key: "k".repeat(65),
                ..create("1m+2s", "s")
            },
            "idempotency_key",
        ),
        (
            pb::CreateLayoutRequest {
                launch_command_overrides: [("master:s.m1".to_string(), "sh -c 'x'".to_string())]
                    .into(),
                ..create("1m+2s", "s")
            },
            "launch_command_overrides",
        ),
        (
            pb::CreateLayoutRequest {
                launch_command_overrides: [("nocolon".to_string(), "talker".to_string())].into(),
                ..create("1m+2s", "s")
            },
            "launch_command_overrides",
        ),
        (
            pb::CreateLayoutRequest {
                launch_command_overrides: [("slave:s.s9".to_string(), "talker".to_string())].into(),
                ..create("1m+2s", "s")
            },
            "launch_command_overrides",
        ),
        (
            pb::CreateLayoutRequest {
                launch_command_overrides: (0..65)
                    .map(|i| (format!("r:l{i}"), "talker".to_string()))
                    .collect(),
                ..create("1m+2s", "s")
            },
            "launch_command_overrides",
        ),
        (
            pb::CreateLayoutRequest {
                template_name: "1m 2s".into(),
                ..create("x", "s")
            },
            "template_name",
        ),
        (
            pb::CreateLayoutRequest {
                container_id: "a b".into(),
                ..create("1m+2s", "s")
            },
            "container_id",
        ),
        (
            pb::CreateLayoutRequest {
                container_id: "c\u{0}".into(),
                ..create("1m+2s", "s")
            },
            "container_id",
        ),
    ];
    for (req, field) in cases {
        let (code, e) = err(c.create_layout(req.clone()).await);
        assert_eq!(
            (code, e.reason.as_str()),
            (Code::InvalidArgument, "validation_failed"),
            "{req:?}"
        );
        assert_eq!(e.details["field"], field, "{req:?}");
    }
    // Reads validate their ids and tokens too.
    let (_, e) = err(c
        .get_layout(pb::GetLayoutRequest {
            layout_id: "a b".into(),
            ..Default::default()
        })
        .await);
    assert_eq!(e.details["field"], "layout_id");
    let (_, e) = err(c
        .list_panes(pb::ListPanesRequest {
            page_token: "%%%".into(),
            ..Default::default()
        })
        .await);
    assert_eq!(e.details["field"], "page_token");
    let (_, e) = err(c
        .list_layouts(pb::ListLayoutsRequest {
            states: vec![77],
            ..Default::default()
        })
        .await);
    assert_eq!(e.details["field"], "states");
    let (_, e) = err(c
        .list_agents(pb::ListAgentsRequest {
            origin: 9,
            ..Default::default()
        })
        .await);
    assert_eq!(e.details["field"], "origin");
    nothing_written(&d).await;
}

#[tokio::test]
async fn unknown_template_profile_and_container_answer_their_codes() {
    let d = Daemon::start().await;
    let mut c = d.client().await;
    let (code, e) = err(c.create_layout(create("9m+9s", "s")).await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::NotFound, "managed_template_not_found")
    );
    assert_eq!(e.details["template_name"], "9m+9s");
    assert_eq!(e.details["known_templates"], "1m+2s,2m+2s");

    let mut req = create("1m+2s", "s");
    req.launch_command_overrides
        .insert("master:s.m1".into(), "claude".into());
    let (code, e) = err(c.create_layout(req).await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::NotFound, "managed_launch_command_not_found")
    );
    assert_eq!(e.details["profile_name"], "claude");
    assert_eq!(e.details["known_profiles"], "shell,talker");

    let mut req = create("1m+2s", "s");
    req.container_id = "0123456789ab".into();
    let (code, e) = err(c.create_layout(req).await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::NotFound, "container_not_found")
    );
    assert_eq!(e.details["container_id"], "0123456789ab");
    assert_eq!(e.code, pb::ErrorCode::ContainerNotFound);

    let (code, e) = err(c
        .get_layout(pb::GetLayoutRequest {
            layout_id: "nope".into(),
            ..Default::default()
        })
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::NotFound, "managed_layout_not_found")
    );
    assert_eq!(e.details["layout_id"], "nope");
    let (code, e) = err(c
        .get_pane(pb::GetPaneRequest {
            pane_id: "nope".into(),
            ..Default::default()
        })
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::NotFound, "managed_pane_not_found")
    );
    assert_eq!(e.details["pane_id"], "nope");
    nothing_written(&d).await;
}

#[tokio::test]
async fn a_template_default_profile_that_does_not_exist_is_refused() {
    let d = Daemon::start_with(Setup::default().template(
        "ghost",
        "name: ghost\npanes:\n  - {role: r, capability: c, label_pattern: '{session}.x', default_launch_command_ref: missing}\n",
    ))
    .await;
    let (_, e) = err(d.client().await.create_layout(create("ghost", "g")).await);
    assert_eq!(e.reason, "managed_launch_command_not_found");
    assert_eq!(e.details["profile_name"], "missing");
    nothing_written(&d).await;
}

#[tokio::test]
async fn an_existing_tmux_session_is_a_conflict_and_nothing_is_written() {
    let d = Daemon::start().await;
    tmux_ok(d.tmux(&["new-session", "-d", "-s", "mine"]));
    let (code, e) = err(d
        .client()
        .await
        .create_layout(create("1m+2s", "mine"))
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::AlreadyExists, "managed_session_name_conflict")
    );
    assert_eq!(e.details["container_id"], "local");
    assert_eq!(e.details["tmux_session_name"], "mine");
    let mut c = d.client().await;
    assert!(
        c.list_layouts(pb::ListLayoutsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .layouts
            .is_empty()
    );
    assert!(d.all_events().await.is_empty());
    // The operator's session is untouched: one pane, default title.
    let panes = tmux_ok(d.tmux(&["list-panes", "-s", "-t", "=mine:", "-F", "#{pane_title}"]));
    assert_eq!(panes.lines().count(), 1);
    assert!(!panes.contains("MANAGED"));
}

#[tokio::test]
async fn a_live_layouts_session_name_is_a_conflict_while_creating_and_after() {
    let d = Daemon::start_with(Setup::default().config("settle_window_ms: 1000")).await;
    let mut c = d.client().await;
    let first = c
        .create_layout(create("1m+2s", "same"))
        .await
        .unwrap()
        .into_inner();
    let (_, e) = err(c.create_layout(create("2m+2s", "same")).await);
    assert_eq!(e.reason, "managed_session_name_conflict");
    d.settled(&first.layout_id()).await;
    let (_, e) = err(c.create_layout(create("2m+2s", "same")).await);
    assert_eq!(e.reason, "managed_session_name_conflict");
}

#[tokio::test]
async fn promote_from_adopted_stays_reserved() {
    let d = Daemon::start().await;
    let mut c = d.client().await;
    let (code, e) = err(c
        .promote_from_adopted(pb::PromoteFromAdoptedRequest {
            agent_id: "a".into(),
        })
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::Unimplemented, "not_implemented")
    );
    assert_eq!(e.details["reserved_since"], "agenttower.v1");
}
