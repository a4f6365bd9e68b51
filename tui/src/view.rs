//! Drawing. `impl Widget for &App` renders the whole screen from the view
//! model and never changes it.

use agenttower::pb;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Cell, Clear, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use crate::input::{Field, HELP};
use crate::state::{App, CreateForm, Focus, Link, Mode, Status, age, enum_name};

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
        s => enum_name(s.as_str_name(), "FAILED_STAGE_"),
    }
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
            self.state_filter.map_or("live".to_string(), |s| enum_name(
                s.as_str_name(),
                "LAYOUT_STATE_"
            ))
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
            let state = enum_name(c.state().as_str_name(), "CONTAINER_STATE_");
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
                Cell::from(enum_name(l.state().as_str_name(), "LAYOUT_STATE_"))
                    .style(Style::new().fg(layout_colour(l.state()))),
                Cell::from(format!(
                    "{}/{} ready",
                    l.ready_pane_count, l.intended_pane_count
                )),
                Cell::from(age(self.now, &l.created_at)),
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
                Cell::from(enum_name(p.state().as_str_name(), "PANE_STATE_"))
                    .style(Style::new().fg(pane_colour(p.state()))),
                Cell::from(stage(p.failed_stage())),
                Cell::from(age(self.now, &p.created_at)),
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
                let payload: serde_json::Value =
                    serde_json::from_str(&e.payload_json).unwrap_or_default();
                let what = match (payload["from"].as_str(), payload["to"].as_str()) {
                    (Some(from), Some(to)) => format!("{from} → {to}"),
                    _ => String::new(),
                };
                let subject = self
                    .pane_label(&e.pane_id)
                    .map(str::to_string)
                    .or_else(|| {
                        self.layouts
                            .get(&e.layout_id)
                            .map(|l| l.tmux_session_name.clone())
                    })
                    .unwrap_or_default();
                let time = e.timestamp.get(11..19).unwrap_or_default();
                Line::from(vec![
                    Span::raw(format!("{:>6} ", e.sequence)).dark_gray(),
                    Span::raw(format!("{time} ")).dark_gray(),
                    Span::raw(format!(
                        "{:<36} ",
                        enum_name(e.event_type().as_str_name(), "EVENT_TYPE_")
                    )),
                    Span::raw(format!("{subject:<14} ")).bold(),
                    Span::raw(what),
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
            created_at: "2026-11-22T09:59:48.000Z".into(),
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
            created_at: "2026-11-22T09:59:48.000Z".into(),
            panes,
            ..Default::default()
        }
    }

    fn event(sequence: u64, kind: pb::EventType, pane: &str, payload: &str) -> pb::LifecycleEvent {
        pb::LifecycleEvent {
            sequence,
            event_type: kind as i32,
            layout_id: "L1".into(),
            pane_id: pane.into(),
            timestamp: format!("2026-11-22T09:59:{:02}.000Z", 48 + sequence),
            payload_json: payload.into(),
            ..Default::default()
        }
    }

    fn draw(app: &App) -> TestBackend {
        let mut terminal = Terminal::new(TestBackend::new(110, 32)).unwrap();
        terminal.draw(|f| f.render_widget(app, f.area())).unwrap();
        terminal.backend().clone()
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
        app.apply(Server::Event(event(
            1,
            pb::EventType::ManagedLayoutCreated,
            "",
            "{}",
        )));
        for (seq, label) in [(2, "work.m1"), (3, "work.s1")] {
            app.apply(Server::Event(event(
                seq,
                pb::EventType::ManagedPaneStateChanged,
                &format!("p-{label}"),
                r#"{"from":"creating","to":"ready"}"#,
            )));
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
        app.apply(Server::Event(event(
            7,
            pb::EventType::ManagedLayoutCreated,
            "",
            "{}",
        )));
        app.apply(Server::Lost("connection refused".into()));
        insta::assert_snapshot!(draw(&app));
    }
}
