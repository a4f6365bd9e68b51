//! Drawing. `impl Widget for &App` renders the whole screen from the view
//! model and never changes it: the needs-you group, containers and
//! layouts, the selected layout's panes, the selected pane's preview, the
//! event log and the status line. `agents` draws activity, `events` the
//! event log, `overlay` the dialogs.

#[cfg(test)]
mod activity_tests;
mod agents;
mod events;
mod overlay;
#[cfg(test)]
mod tests;

use agenttower::names::ShortName as _;
use agenttower::pb;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Cell, Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap,
};

use crate::state::{App, Focus, Link, Mode, Status};
use crate::words::age;

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
        let needs = self.needs_you();
        // The pane list asks for room for every pane (and its story line);
        // the layouts get the rest, and no less than five lines.
        let story = if self.pane_story().is_some() { 2 } else { 0 };
        let panes_want = (self.visible_panes().len() as u16 + 3 + story).clamp(6, 16);
        let [top, needs_area, middle, panes, preview, events, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(agents::needs_height(needs.len())),
            Constraint::Min(5),
            Constraint::Min(panes_want),
            Constraint::Min(agents::PREVIEW_HEIGHT),
            Constraint::Length(8),
            Constraint::Length(1),
        ])
        .areas(area);
        self.title_bar(top, buf);
        self.needs_panel(&needs, needs_area, buf);
        let [containers, layouts] =
            Layout::horizontal([Constraint::Length(24), Constraint::Min(40)]).areas(middle);
        self.containers_panel(containers, buf);
        self.layouts_panel(layouts, buf);
        self.panes_panel(panes, buf);
        self.preview_panel(preview, buf);
        self.events_panel(events, buf);
        self.status_line(status, buf);
        match &self.mode {
            Mode::Normal | Mode::GoTo { .. } => {}
            Mode::Help => overlay::help(area, buf),
            Mode::Create(form) => self.create_dialog(form, area, buf),
            Mode::Log { label, lines } => overlay::log_view(label, lines, area, buf),
            Mode::ConfirmRemoveLayout { session, .. } => overlay::confirm(session, area, buf),
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
        let header = Row::new([
            "SESSION",
            "TEMPLATE",
            "CONTAINER",
            "STATE",
            "READY",
            "NEEDS YOU",
            "AGE",
        ])
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
                agents::waiting_cell(l),
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
                Constraint::Length(9),
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
            "LABEL", "ROLE", "TMUX", "STATE", "ACTIVITY", "STAGE", "AGE", "AGENT", "HINT",
        ])
        .style(Style::new().dark_gray());
        let rows = panes.iter().map(|p| {
            Row::new(vec![
                Cell::from(p.label.clone()),
                Cell::from(p.role.clone()),
                Cell::from(p.tmux_pane_id.clone()),
                Cell::from(p.state().short_name()).style(Style::new().fg(pane_colour(p.state()))),
                self.activity_cell(p.activity.as_ref()),
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
        let selected = (self.focus == Focus::Panes).then_some(self.selected_pane);
        // Its two lines are taken from the list only when there is a story.
        let story = self.pane_story();
        let [list, detail] = Layout::vertical([
            Constraint::Min(1),
            Constraint::Length(if story.is_some() { 2 } else { 0 }),
        ])
        .areas(inner);
        let mut state = TableState::default().with_selected(selected);
        StatefulWidget::render(table, list, buf, &mut state);
        if let Some(p) = story {
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

    /// The pane whose whole story shows under the list: the selected one,
    /// or the first in trouble, when it has a reason or a hint (the table
    /// column is too narrow for them).
    fn pane_story(&self) -> Option<&pb::Pane> {
        let panes = self.visible_panes();
        let selected = (self.focus == Focus::Panes).then_some(self.selected_pane);
        selected
            .and_then(|i| panes.get(i).copied())
            .or_else(|| {
                panes
                    .into_iter()
                    .find(|p| matches!(p.state(), pb::PaneState::Degraded | pb::PaneState::Failed))
            })
            .filter(|p| !p.hint.is_empty() || !p.failure_reason.is_empty())
    }

    fn status_line(&self, area: Rect, buf: &mut Buffer) {
        if let Mode::GoTo { name } = &self.mode {
            return go_to_prompt(name, area, buf);
        }
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
                " Enter attach  / go to  c create  x remove pane  r recreate  X remove layout  l log  w waiting  ? help  q quit",
            )
            .dark_gray(),
        };
        line.render(area, buf);
    }
}

/// The go-to prompt, in place of the status line: what is typed so far
/// (its end, when longer than the line) and how to finish.
fn go_to_prompt(name: &str, area: Rect, buf: &mut Buffer) {
    let help = "  Enter go  Esc cancel";
    let room = (area.width as usize).saturating_sub(help.len() + 4);
    let shown: String = {
        let n = name.chars().count();
        name.chars().skip(n.saturating_sub(room)).collect()
    };
    Line::from(vec![
        Span::raw(" / ").bold(),
        Span::raw(shown),
        Span::raw("█"),
        Span::raw(help).dark_gray(),
    ])
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
