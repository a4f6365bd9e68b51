//! The activity column, the needs-you group and the preview, drawn from
//! state built directly.

use super::tests::{app, event, layout, pane};
use super::*;
use crate::conn::{Server, Snapshot};
use crate::input::Action;
use agenttower::pb::lifecycle_event::Payload;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn activity(a: pb::Activity, since: &str, message: &str) -> Option<pb::AgentActivity> {
    Some(pb::AgentActivity {
        activity: a as i32,
        source: pb::ActivitySource::PromptRule as i32,
        since_time: agenttower::time::from_rfc3339(since),
        message: message.into(),
    })
}

fn activity_changed(
    sequence: u64,
    pane: &str,
    to: pb::Activity,
    message: &str,
) -> pb::LifecycleEvent {
    let mut e = event(
        sequence,
        pb::EventType::AgentActivityChanged,
        pane,
        Payload::AgentActivityChanged(pb::AgentActivityChanged {
            agent_id: "agent-1".into(),
            label: "work.s1".into(),
            from_activity: pb::Activity::Working as i32,
            to_activity: to as i32,
            source: pb::ActivitySource::PromptRule as i32,
            message: message.into(),
        }),
    );
    e.layout_id = "L1".into();
    e
}

/// Three agents wait: two managed panes in two layouts and an adopted one.
/// The needs-you group lists them longest wait first, the layouts with a
/// waiting pane sort first, the pane list shows every activity in its
/// colour, and the preview shows the selected pane's log with its escape
/// sequences gone.
#[test]
fn activity_column_and_needs_you_group() {
    let mut app = app();
    let prompt = "Proceed? [y/N]";
    let mut work = layout(
        pb::LayoutState::Ready,
        vec![
            pane("work.m1", 0, pb::PaneState::Ready),
            pane("work.s1", 1, pb::PaneState::Ready),
            pane("work.s2", 2, pb::PaneState::Ready),
        ],
    );
    work.panes[0].activity = activity(pb::Activity::Working, "2026-11-22T09:59:55.000Z", "");
    work.panes[1].activity = activity(
        pb::Activity::WaitingForInput,
        "2026-11-22T09:58:00.000Z",
        prompt,
    );
    work.panes[2].activity = activity(pb::Activity::Idle, "2026-11-22T09:59:20.000Z", "");
    let mut build = layout(
        pb::LayoutState::Ready,
        vec![
            pane("build.m1", 0, pb::PaneState::Ready),
            pane("build.s1", 1, pb::PaneState::Ready),
        ],
    );
    build.layout_id = "L2".into();
    build.tmux_session_name = "build".into();
    build.template_name = "1m+1s".into();
    build.intended_pane_count = 2;
    for p in &mut build.panes {
        p.layout_id = "L2".into();
        p.pane_id = format!("p-{}", p.label);
        p.agent_id = format!("agent-{}", p.label);
    }
    build.panes[0].activity = activity(pb::Activity::Exited, "2026-11-22T09:59:00.000Z", "");
    build.panes[1].activity = activity(
        pb::Activity::WaitingForInput,
        "2026-11-22T09:59:30.000Z",
        "Allow edit to src/main.rs? (y/n)",
    );
    let mut docs = layout(
        pb::LayoutState::Ready,
        vec![pane("docs.m1", 0, pb::PaneState::Ready)],
    );
    docs.layout_id = "L3".into();
    docs.tmux_session_name = "docs".into();
    docs.panes[0].layout_id = "L3".into();
    docs.panes[0].pane_id = "p-docs.m1".into();
    docs.panes[0].agent_id = "agent-docs".into();
    docs.panes[0].activity = activity(pb::Activity::Unknown, "2026-11-22T09:59:00.000Z", "");
    // Newer than the others: without waiting panes it would list first.
    docs.create_time = agenttower::time::from_rfc3339("2026-11-22T09:59:58.000Z");
    app.apply(Server::Snapshot(Snapshot {
        containers: app.containers.clone(),
        templates: app.templates.clone(),
        layouts: vec![work, build, docs],
        agents: vec![pb::Agent {
            agent_id: "agent-notes".into(),
            container_id: "local".into(),
            label: "notes".into(),
            origin: pb::AgentOrigin::Adopted as i32,
            registered: true,
            activity: Some(pb::AgentActivity {
                activity: pb::Activity::WaitingForInput as i32,
                source: pb::ActivitySource::Report as i32,
                since_time: agenttower::time::from_rfc3339("2026-11-22T09:59:50.000Z"),
                message: "review the plan\u{1b}]0;title\u{7}".into(),
            }),
            ..Default::default()
        }],
        tail: vec![
            // Working ↔ idle is left out of the log; waiting is shown.
            activity_changed(1, "p-work.m1", pb::Activity::Idle, ""),
            activity_changed(2, "p-work.s1", pb::Activity::WaitingForInput, prompt),
        ],
    }));
    // `app()` took the first snapshot; this one is a reconnect, so the
    // agents that started waiting meanwhile alert, longest wait first.
    let alerted: Vec<&str> = app.alerts.iter().map(|a| a.label.as_str()).collect();
    assert_eq!(alerted, ["work.s1", "build.s1", "notes"]);
    // `w` selects the longest-waiting pane: work.s1.
    app.act(Action::NextWaiting);
    assert_eq!(
        app.selected_pane().map(|p| p.label.as_str()),
        Some("work.s1")
    );
    let raw = "\u{1b}[2J\u{1b}[Hcargo build\r\n   Compiling x v0.1\r\u{1b}[K\u{1b}[32mFinished\u{1b}[0m\n\
               \u{1b}]0;pwned\u{7}Apply the patch?\u{1b}[5A\n\tProceed? [y/N] ";
    app.preview = crate::preview::Preview {
        pane_id: "p-work.s1".into(),
        lines: crate::preview::tail_lines(raw.as_bytes(), false, 64),
        note: None,
    };
    let screen = draw_sized(&app, 110, 36);
    // Colours do not show in the text snapshot: check them cell by cell.
    let style = |row: &str, text: &str| {
        let buf = screen.buffer();
        let area = buf.area;
        for y in 0..area.height {
            let line: String = (0..area.width).map(|x| buf[(x, y)].symbol()).collect();
            if line.contains(row)
                && let Some(at) = line.find(text)
            {
                let x = line[..at].chars().count() as u16;
                return buf[(x, y)].style();
            }
        }
        panic!("no {text:?} on the line of {row:?}");
    };
    let waiting = style("work.s1        slave", "waiting 2m");
    assert_eq!(waiting.fg, Some(Color::Magenta));
    assert!(waiting.add_modifier.contains(Modifier::BOLD));
    assert_eq!(
        style("work.m1        master", "working").fg,
        Some(Color::Green)
    );
    assert_eq!(
        style("work.s2        slave", "idle").fg,
        Some(Color::DarkGray)
    );
    assert_eq!(style("work  ", "1 waiting").fg, Some(Color::Magenta));
    assert_eq!(style("│work.s1  ", "work.s1").fg, Some(Color::Magenta));
    assert_eq!(
        agents::activity_style(pb::Activity::Exited).fg,
        Some(Color::Red)
    );
    assert_eq!(agents::activity_style(pb::Activity::Unknown).fg, None);
    insta::assert_snapshot!(screen);
}

fn draw_sized(app: &App, width: u16, height: u16) -> TestBackend {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| f.render_widget(app, f.area())).unwrap();
    terminal.backend().clone()
}
