//! Snapshots of the whole screen (ratatui `TestBackend`), the state built
//! directly.

use super::events::event_summary;
use super::*;
use crate::conn::{Server, Snapshot};
use crate::input::Action;
use agenttower::pb::lifecycle_event::Payload;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::OffsetDateTime;

const NOW: &str = "2026-11-22T10:00:00.000Z";

pub(super) fn app() -> App {
    let now = OffsetDateTime::parse(NOW, &time::format_description::well_known::Rfc3339).unwrap();
    let mut app = App::new("/run/agenttower/agenttowerd.sock".into(), now);
    app.apply(Server::Snapshot(Snapshot {
        containers: vec![pb::Container {
            container_id: "local".into(),
            name: "local".into(),
            state: pb::ContainerState::Running as i32,
            ..Default::default()
        }],
        templates: vec!["1m+2s".into(), "2m+2s".into()],
        ..Default::default()
    }));
    app
}

pub(super) fn pane(label: &str, index: u32, state: pb::PaneState) -> pb::Pane {
    pb::Pane {
        pane_id: format!("p-{label}"),
        layout_id: "L1".into(),
        label: label.into(),
        role: if index == 0 { "master" } else { "slave" }.into(),
        tmux_pane_index: index,
        tmux_pane_id: format!("%{index}"),
        state: state as i32,
        agent_id: if state == pb::PaneState::Ready {
            format!("agent-{index}")
        } else {
            String::new()
        },
        create_time: agenttower::time::from_rfc3339("2026-11-22T09:59:48.000Z"),
        ..Default::default()
    }
}

pub(super) fn layout(state: pb::LayoutState, panes: Vec<pb::Pane>) -> pb::Layout {
    pb::Layout {
        layout_id: "L1".into(),
        container_id: "local".into(),
        template_name: "1m+2s".into(),
        tmux_session_name: "work".into(),
        intended_pane_count: 3,
        ready_pane_count: panes
            .iter()
            .filter(|p| p.state() == pb::PaneState::Ready)
            .count() as u32,
        state: state as i32,
        create_time: agenttower::time::from_rfc3339("2026-11-22T09:59:48.000Z"),
        panes,
        ..Default::default()
    }
}

pub(super) fn event(
    sequence: u64,
    kind: pb::EventType,
    pane: &str,
    payload: Payload,
) -> pb::LifecycleEvent {
    pb::LifecycleEvent {
        sequence,
        event_type: kind as i32,
        layout_id: "L1".into(),
        pane_id: pane.into(),
        event_time: agenttower::time::from_rfc3339(&format!(
            "2026-11-22T09:59:{:02}.000Z",
            48 + sequence
        )),
        payload: Some(payload),
        ..Default::default()
    }
}

fn layout_created() -> Payload {
    Payload::ManagedLayoutCreated(pb::ManagedLayoutCreated {
        template_name: "1m+2s".into(),
        tmux_session_name: "work".into(),
        intended_pane_count: 3,
        idempotency_key: String::new(),
    })
}

fn pane_changed(
    from: pb::PaneState,
    to: pb::PaneState,
    stage: pb::FailedStage,
    reason: &str,
) -> Payload {
    Payload::ManagedPaneStateChanged(pb::ManagedPaneStateChanged {
        from_state: from as i32,
        to_state: to as i32,
        failed_stage: stage as i32,
        reason: reason.into(),
        ..Default::default()
    })
}

pub(super) fn draw(app: &App) -> TestBackend {
    let mut terminal = Terminal::new(TestBackend::new(110, 32)).unwrap();
    terminal.draw(|f| f.render_widget(app, f.area())).unwrap();
    terminal.backend().clone()
}

#[test]
fn events_summarise_their_typed_payload() {
    let changed = |stage, reason| {
        event(
            1,
            pb::EventType::ManagedPaneStateChanged,
            "p",
            pane_changed(pb::PaneState::Ready, pb::PaneState::Degraded, stage, reason),
        )
    };
    assert_eq!(
        event_summary(&changed(pb::FailedStage::Unspecified, "")),
        "ready → degraded"
    );
    assert_eq!(
        event_summary(&changed(pb::FailedStage::LaunchCommand, "exit 3\n")),
        "ready → degraded (launch_command: exit 3 )"
    );
    assert_eq!(
        event_summary(&changed(pb::FailedStage::Unspecified, "removed")),
        "ready → degraded (removed)"
    );
    // Any other payload: its member, as compact proto3 JSON.
    let created = event(1, pb::EventType::ManagedLayoutCreated, "", layout_created());
    let json: serde_json::Value = serde_json::from_str(&event_summary(&created)).unwrap();
    assert_eq!(json["template_name"], "1m+2s");
    assert_eq!(json["intended_pane_count"], 3);
    assert!(
        json.get("idempotency_key").is_none(),
        "defaults left out: {json}"
    );
    // A type newer than the console: a number and no payload.
    let unknown = pb::LifecycleEvent {
        event_type: 99,
        ..Default::default()
    };
    assert_eq!(event_summary(&unknown), "");
}

#[test]
fn empty_state() {
    insta::assert_snapshot!(draw(&app()));
}

#[test]
fn converging_layout() {
    let mut app = app();
    app.apply(Server::Layout(Box::new(layout(
        pb::LayoutState::Creating,
        vec![
            pane("work.m1", 0, pb::PaneState::Ready),
            pane("work.s1", 1, pb::PaneState::Ready),
            pane("work.s2", 2, pb::PaneState::Creating),
        ],
    ))));
    app.apply(Server::Event(Box::new(event(
        1,
        pb::EventType::ManagedLayoutCreated,
        "",
        layout_created(),
    ))));
    for (seq, label) in [(2, "work.m1"), (3, "work.s1")] {
        app.apply(Server::Event(Box::new(event(
            seq,
            pb::EventType::ManagedPaneStateChanged,
            &format!("p-{label}"),
            pane_changed(
                pb::PaneState::Creating,
                pb::PaneState::Ready,
                pb::FailedStage::Unspecified,
                "",
            ),
        ))));
    }
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn degraded_pane_with_its_hint() {
    let mut app = app();
    let mut bad = pane("work.s2", 2, pb::PaneState::Degraded);
    bad.failed_stage = pb::FailedStage::LogAttach as i32;
    bad.failure_reason = "pipe-pane failed: no such directory".into();
    bad.hint = "check the log directory; recreate the pane".into();
    let mut l = layout(
        pb::LayoutState::Degraded,
        vec![
            pane("work.m1", 0, pb::PaneState::Ready),
            pane("work.s1", 1, pb::PaneState::Ready),
            bad,
        ],
    );
    l.failed_stage = pb::FailedStage::LogAttach as i32;
    app.apply(Server::Layout(Box::new(l)));
    app.apply(Server::Event(Box::new(event(
        4,
        pb::EventType::ManagedPaneStateChanged,
        "p-work.s2",
        pane_changed(
            pb::PaneState::Creating,
            pb::PaneState::Degraded,
            pb::FailedStage::LogAttach,
            "pipe-pane failed: no such directory",
        ),
    ))));
    app.apply(Server::Event(Box::new(event(
        5,
        pb::EventType::ManagedLayoutStateChanged,
        "",
        Payload::ManagedLayoutStateChanged(pb::ManagedLayoutStateChanged {
            from_state: pb::LayoutState::Creating as i32,
            to_state: pb::LayoutState::Degraded as i32,
            failed_stage: pb::FailedStage::LogAttach as i32,
            ready_pane_count: 2,
            intended_pane_count: 3,
        }),
    ))));
    app.act(Action::SwitchFocus);
    app.act(Action::Down);
    app.act(Action::Down);
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn create_dialog() {
    let mut app = app();
    app.act(Action::OpenCreate);
    for c in "work".chars() {
        app.act(Action::Form(crate::input::FormEdit::Type(c)));
    }
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn error_line() {
    let mut app = app();
    app.apply(Server::Failed {
        code: "managed_session_name_conflict".into(),
        message: "tmux session work already exists in local".into(),
        hint: crate::words::hint_for(pb::ErrorCode::ManagedSessionNameConflict).into(),
    });
    insta::assert_snapshot!(draw(&app));
}

#[test]
fn reconnecting() {
    let mut app = app();
    app.apply(Server::Event(Box::new(event(
        7,
        pb::EventType::ManagedLayoutCreated,
        "",
        layout_created(),
    ))));
    app.apply(Server::Lost("connection refused".into()));
    insta::assert_snapshot!(draw(&app));
}

/// The go-to prompt replaces the status line, over a pane's live preview
/// whose output moved the cursor, cleared the screen and printed a
/// hyperlink: only the text shows.
#[test]
fn go_to_prompt_over_the_preview() {
    let mut app = app();
    app.apply(Server::Layout(Box::new(layout(
        pb::LayoutState::Ready,
        vec![
            pane("work.m1", 0, pb::PaneState::Ready),
            pane("work.s1", 1, pb::PaneState::Ready),
            pane("work.s2", 2, pb::PaneState::Ready),
        ],
    ))));
    app.act(Action::SwitchFocus);
    app.act(Action::Down);
    let raw = "$ make test\r\n\u{1b}[2J\u{1b}[1;1Hrunning 12 tests\u{1b}[10;40H\n\
               \u{1b}]8;;https://ci.example/run/7\u{7}report\u{1b}]8;;\u{7} ready\n\
               \u{1b}[?1049h\u{1b}[3Atest result: ok\u{1b}]0;title\u{7}\n";
    app.preview = crate::preview::Preview {
        pane_id: "p-work.s1".into(),
        lines: crate::preview::tail_lines(raw.as_bytes(), false, 64),
        note: None,
    };
    app.act(Action::OpenGoTo);
    for c in "c1:build".chars() {
        app.act(Action::Form(crate::input::FormEdit::Type(c)));
    }
    insta::assert_snapshot!(draw(&app));
}
