//! Drawing. `impl Widget for &App` renders the whole screen from the view
//! model and never changes it.

use agenttower::names::ShortName as _;
use agenttower::pb;
use agenttower::pb::lifecycle_event::Payload;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Cell, Clear, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use crate::input::{Field, HELP};
use crate::state::{App, CreateForm, Focus, Link, Mode, Status, age};

fn layout_colour(s: pb::LayoutState) -> Color {
    match s {
        pb::LayoutState::Creating => Color::Yellow,
        pb::LayoutState::Ready => Color::Green,
        pb::LayoutState::Degraded => Color::Magenta,
        pb::LayoutState::Failed => Color::Red,
        pb::LayoutState::Removed | pb::LayoutState::Unspecified => Color::DarkGray,
    }
}

fn pane_colour(s: pb::PaneState) -> Color {
    match s {
        pb::PaneState::Creating => Color::Yellow,
        pb::PaneState::Ready => Color::Green,
        pb::PaneState::Degraded => Color::Magenta,
        pb::PaneState::Failed => Color::Red,
        pb::PaneState::Removed | pb::PaneState::Unspecified => Color::DarkGray,
    }
}

fn stage(s: pb::FailedStage) -> String {
    match s {
        pb::FailedStage::Unspecified => String::new(),
        s => s.short_name(),
    }
}

/// What an event says, in a few words: a state change as `from → to`, with
/// the stage and reason of a failure; any other payload as its compact
/// proto3 JSON (the member named like the event type, without the fields
/// left at their defaults); nothing for a type newer than the console.
fn event_summary(e: &pb::LifecycleEvent) -> String {
    match &e.payload {
        Some(Payload::ManagedPaneStateChanged(p)) => transition(
            &p.from_state().short_name(),
            &p.to_state().short_name(),
            &stage(p.failed_stage()),
            &p.reason,
        ),
        Some(Payload::ManagedLayoutStateChanged(p)) => transition(
            &p.from_state().short_name(),
            &p.to_state().short_name(),
            &stage(p.failed_stage()),
            "",
        ),
        Some(_) => serde_json::to_value(e)
            .ok()
            .and_then(|mut v| {
                v.get_mut(e.event_type().short_name())
                    .map(serde_json::Value::take)
            })
            .map(|mut p| {
                if let Some(fields) = p.as_object_mut() {
                    fields.retain(|_, v| !is_default(v));
                }
                p.to_string()
            })
            .unwrap_or_default(),
        None => String::new(),
    }
}

/// A proto3 JSON value that says nothing: empty, zero, false or null.
fn is_default(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// `from → to`, then `(stage: reason)` with whichever of the two is set.
fn transition(from: &str, to: &str, stage: &str, reason: &str) -> String {
    // A reason is daemon text (exit codes, tmux errors): one line only.
    let reason = reason.replace(char::is_control, " ");
    let why = match (stage.is_empty(), reason.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!(" ({stage})"),
        (true, false) => format!(" ({reason})"),
        (false, false) => format!(" ({stage}: {reason})"),
    };
    format!("{from} → {to}{why}")
}

fn panel(title: &str, focused: bool) -> Block<'static> {
    let block = Block::bordered().title(format!(" {title} "));
    if focused {
        block.border_style(Style::new().fg(Color::Cyan))
    } else {
        block
    }
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [top, middle, panes, events, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(6),
            Constraint::Min(6),
            Constraint::Length(8),
            Constraint::Length(1),
        ])
        .areas(area);
        self.title_bar(top, buf);
        let [containers, layouts] =
            Layout::horizontal([Constraint::Length(24), Constraint::Min(40)]).areas(middle);
        self.containers_panel(containers, buf);
        self.layouts_panel(layouts, buf);
        self.panes_panel(panes, buf);
        self.events_panel(events, buf);
        self.status_line(status, buf);
        match &self.mode {
            Mode::Normal => {}
            Mode::Help => help(area, buf),
            Mode::Create(form) => self.create_dialog(form, area, buf),
            Mode::Log { label, lines } => log_view(label, lines, area, buf),
            Mode::ConfirmRemoveLayout { session, .. } => confirm(session, area, buf),
        }
    }
}

impl App {
    fn title_bar(&self, area: Rect, buf: &mut Buffer) {
        let link = match &self.link {
            Link::Connecting => Span::raw("connecting").yellow(),
            Link::Connected => Span::raw("connected").green(),
            Link::Reconnecting { after, .. } => {
                Span::raw(format!("reconnecting (resume after #{after})")).red()
            }
        };
        let filter = format!(
            "container={} state={}",
            self.container_filter.as_deref().unwrap_or("all"),
            self.state_filter
                .map_or("live".to_string(), |s| s.short_name())
        );
        Line::from(vec![
            Span::raw(" AgentTower ").bold().reversed(),
            Span::raw(" "),
            link,
            Span::raw(format!("  {}  ", self.socket)).dark_gray(),
            Span::raw(filter),
            Span::raw("  ? help").dark_gray(),
        ])
        .render(area, buf);
    }

    fn containers_panel(&self, area: Rect, buf: &mut Buffer) {
        let rows = self.containers.iter().map(|c| {
            let selected = self.container_filter.as_ref() == Some(&c.container_id);
            let state = c.state().short_name();
            let name = if c.name.is_empty() {
                &c.container_id
            } else {
                &c.name
            };
            let row = Row::new(vec![Cell::from(name.clone()), Cell::from(state)]);
            if selected {
                row.style(Style::new().add_modifier(Modifier::BOLD))
            } else {
                row
            }
        });
        let table = Table::new(rows, [Constraint::Min(10), Constraint::Length(9)])
            .block(panel("Containers", false));
        Widget::render(table, area, buf);
    }

    fn layouts_panel(&self, area: Rect, buf: &mut Buffer) {
        let layouts = self.visible_layouts();
        let header = Row::new(["SESSION", "TEMPLATE", "CONTAINER", "STATE", "READY", "AGE"])
            .style(Style::new().dark_gray());
        let rows = layouts.iter().map(|l| {
            Row::new(vec![
                Cell::from(l.tmux_session_name.clone()),
                Cell::from(l.template_name.clone()),
                Cell::from(l.container_id.clone()),
                Cell::from(l.state().short_name()).style(Style::new().fg(layout_colour(l.state()))),
                Cell::from(format!(
                    "{}/{} ready",
                    l.ready_pane_count, l.intended_pane_count
                )),
                Cell::from(age(self.now, l.create_time.as_ref().map(|t| t.seconds))),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Min(12),
                Constraint::Length(10),
                Constraint::Length(12),
                Constraint::Length(9),
                Constraint::Length(10),
                Constraint::Length(5),
            ],
        )
        .header(header)
        .row_highlight_style(Style::new().reversed())
        .block(panel(
            &format!("Layouts ({})", layouts.len()),
            self.focus == Focus::Layouts,
        ));
        if layouts.is_empty() {
            Widget::render(table, area, buf);
            let inner = area.inner(ratatui::layout::Margin::new(2, 2));
            Paragraph::new("No layouts yet. Press c to create one.")
                .dark_gray()
                .render(inner, buf);
            return;
        }
        let mut state = TableState::default().with_selected(Some(self.selected_layout));
        StatefulWidget::render(table, area, buf, &mut state);
    }

    fn panes_panel(&self, area: Rect, buf: &mut Buffer) {
        let panes = self.visible_panes();
        let title = match self.selected_layout() {
            Some(l) => format!("Panes of {} ({})", l.tmux_session_name, l.layout_id),
            None => "Panes".to_string(),
        };
        let header = Row::new([
            "LABEL", "ROLE", "TMUX", "STATE", "STAGE", "AGE", "AGENT", "HINT",
        ])
        .style(Style::new().dark_gray());
        let rows = panes.iter().map(|p| {
            Row::new(vec![
                Cell::from(p.label.clone()),
                Cell::from(p.role.clone()),
                Cell::from(p.tmux_pane_id.clone()),
                Cell::from(p.state().short_name()).style(Style::new().fg(pane_colour(p.state()))),
                Cell::from(stage(p.failed_stage())),
                Cell::from(age(self.now, p.create_time.as_ref().map(|t| t.seconds))),
                Cell::from(short_id(&p.agent_id)),
                Cell::from(p.hint.clone()),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Length(14),
                Constraint::Length(7),
                Constraint::Length(5),
                Constraint::Length(9),
                Constraint::Length(11),
                Constraint::Length(5),
                Constraint::Length(12),
                Constraint::Min(10),
            ],
        )
        .header(header)
        .row_highlight_style(Style::new().reversed());
        let block = panel(&title, self.focus == Focus::Panes);
        let inner = block.inner(area);
        block.render(area, buf);
        let [list, detail] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(inner);
        let selected = (self.focus == Focus::Panes).then_some(self.selected_pane);
        let mut state = TableState::default().with_selected(selected);
        StatefulWidget::render(table, list, buf, &mut state);
        // The whole story of the selected pane, or of the first one in
        // trouble: the table column is too narrow for reason and hint.
        let focus = selected.and_then(|i| panes.get(i)).or_else(|| {
            panes
                .iter()
                .find(|p| matches!(p.state(), pb::PaneState::Degraded | pb::PaneState::Failed))
        });
        if let Some(p) = focus.filter(|p| !p.hint.is_empty() || !p.failure_reason.is_empty()) {
            let mut spans = vec![Span::raw(format!("{}: ", p.label)).bold()];
            if p.failed_stage() != pb::FailedStage::Unspecified {
                spans.push(Span::raw(format!("{} ", stage(p.failed_stage()))).magenta());
            }
            spans.push(Span::raw(p.failure_reason.clone()));
            if !p.hint.is_empty() {
                spans.push(Span::raw(format!("  hint: {}", p.hint)).yellow());
            }
            Paragraph::new(Line::from(spans))
                .wrap(Wrap { trim: true })
                .render(detail, buf);
        }
    }

    fn events_panel(&self, area: Rect, buf: &mut Buffer) {
        let height = area.height.saturating_sub(2) as usize;
        let lines: Vec<Line> = self
            .events
            .iter()
            .rev()
            .take(height)
            .rev()
            .map(|e| {
                let subject = self
                    .pane_label(&e.pane_id)
                    .map(str::to_string)
                    .or_else(|| {
                        self.layouts
                            .get(&e.layout_id)
                            .map(|l| l.tmux_session_name.clone())
                    })
                    .unwrap_or_default();
                let time = agenttower::time::rfc3339(e.event_time.as_ref());
                let time = time.get(11..19).unwrap_or_default();
                Line::from(vec![
                    Span::raw(format!("{:>6} ", e.sequence)).dark_gray(),
                    Span::raw(format!("{time} ")).dark_gray(),
                    Span::raw(format!("{:<36} ", e.event_type().short_name())),
                    Span::raw(format!("{subject:<14} ")).bold(),
                    Span::raw(event_summary(e)),
                ])
            })
            .collect();
        Paragraph::new(lines)
            .block(panel("Events", false))
            .render(area, buf);
    }

    fn status_line(&self, area: Rect, buf: &mut Buffer) {
        let line = match (&self.status, &self.link) {
            (Some(Status::Error { code, message, hint }), _) => {
                let mut spans = vec![
                    Span::raw(" error ").white().on_red(),
                    Span::raw(format!(" {code}: ")).red().bold(),
                    Span::raw(message.clone()),
                ];
                if !hint.is_empty() {
                    spans.push(Span::raw(format!("  hint: {hint}")).yellow());
                }
                Line::from(spans)
            }
            (Some(Status::Info(text)), _) => Line::from(format!(" {text}")),
            (None, Link::Reconnecting { reason, .. }) => {
                Line::from(format!(" daemon unreachable: {reason}")).red()
            }
            (None, _) => Line::from(
                " c create  x remove pane  r recreate  X remove layout  l log  f/s filter  ? help  q quit",
            )
            .dark_gray(),
        };
        line.render(area, buf);
    }

    fn create_dialog(&self, form: &CreateForm, area: Rect, buf: &mut Buffer) {
        let area = centered(area, 60, 10);
        Clear.render(area, buf);
        let choice = |field: Field, label: &str, value: &str| {
            let focused = form.field == field;
            let value = if focused {
                Span::raw(format!("◀ {value} ▶")).reversed()
            } else {
                Span::raw(format!("  {value}  "))
            };
            Line::from(vec![Span::raw(format!(" {label:<16}")), value])
        };
        let text = |field: Field, label: &str, value: &str| {
            let focused = form.field == field;
            let shown = if focused {
                Span::raw(format!("{value}█")).reversed()
            } else if value.is_empty() {
                Span::raw("(none)").dark_gray()
            } else {
                Span::raw(value.to_string())
            };
            Line::from(vec![Span::raw(format!(" {label:<16}  ")), shown])
        };
        let container = self
            .containers
            .get(form.container)
            .map_or("", |c| c.container_id.as_str());
        let template = self.templates.get(form.template).map_or("", String::as_str);
        let lines = vec![
            Line::raw(""),
            choice(Field::Container, "container", container),
            choice(Field::Template, "template", template),
            text(Field::Session, "session name", &form.session),
            text(
                Field::IdempotencyKey,
                "idempotency key",
                &form.idempotency_key,
            ),
            Line::raw(""),
            Line::from(" Tab next field  ←/→ choose  Enter create  Esc cancel").dark_gray(),
        ];
        Paragraph::new(lines)
            .block(
                Block::bordered()
                    .title(" Create layout ")
                    .border_style(Style::new().cyan()),
            )
            .render(area, buf);
    }
}

fn help(area: Rect, buf: &mut Buffer) {
    let area = centered(area, 64, HELP.len() as u16 + 4);
    Clear.render(area, buf);
    let mut lines = vec![Line::raw("")];
    lines.extend(HELP.iter().map(|(keys, what)| {
        Line::from(vec![
            Span::raw(format!(" {keys:<10}")).bold(),
            Span::raw(*what),
        ])
    }));
    Paragraph::new(lines)
        .block(Block::bordered().title(" Keys (Esc closes) "))
        .render(area, buf);
}

fn log_view(label: &str, lines: &[String], area: Rect, buf: &mut Buffer) {
    let area = centered(
        area,
        area.width.saturating_sub(8),
        area.height.saturating_sub(4),
    );
    Clear.render(area, buf);
    let height = area.height.saturating_sub(2) as usize;
    let shown: Vec<Line> = lines
        .iter()
        .skip(lines.len().saturating_sub(height))
        .map(|l| Line::raw(l.as_str()))
        .collect();
    Paragraph::new(shown)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().title(format!(" Log of {label} (Esc closes) ")))
        .render(area, buf);
}

fn confirm(session: &str, area: Rect, buf: &mut Buffer) {
    let area = centered(area, 56, 5);
    Clear.render(area, buf);
    Paragraph::new(vec![
        Line::raw(""),
        Line::from(format!(" Remove every pane of layout {session}? (y/n)")),
    ])
    .block(
        Block::bordered()
            .title(" Remove layout ")
            .border_style(Style::new().red()),
    )
    .render(area, buf);
}

/// The distinguishing end of a time-ordered id (its start is the clock).
fn short_id(id: &str) -> String {
    let n = id.chars().count();
    if n <= 12 {
        id.to_string()
    } else {
        format!("…{}", id.chars().skip(n - 11).collect::<String>())
    }
}

/// A `width` × `height` rectangle in the middle of `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{Server, Snapshot};
    use crate::input::Action;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use time::OffsetDateTime;

    const NOW: &str = "2026-11-22T10:00:00.000Z";

    fn app() -> App {
        let now =
            OffsetDateTime::parse(NOW, &time::format_description::well_known::Rfc3339).unwrap();
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

    fn pane(label: &str, index: u32, state: pb::PaneState) -> pb::Pane {
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

    fn layout(state: pb::LayoutState, panes: Vec<pb::Pane>) -> pb::Layout {
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

    fn event(
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

    fn draw(app: &App) -> TestBackend {
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
            hint: crate::state::hint_for("managed_session_name_conflict").into(),
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
}
