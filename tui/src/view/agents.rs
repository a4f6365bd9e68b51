//! What the agents are doing: the activity cell and its colours, the
//! needs-you group at the top, and the selected pane's preview.

use agenttower::pb;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize as _};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, Widget};

use super::panel;
use crate::activity::{self, Waiting};
use crate::state::App;
use crate::words::age;

/// Rows of the needs-you group before it stops growing (its title counts
/// them all).
const NEEDS_ROWS: usize = 4;
/// The preview panel: four lines of the log and the border.
pub(super) const PREVIEW_HEIGHT: u16 = 6;

/// The needs-you group's height: one quiet line while nobody waits, else a
/// bordered list.
pub(super) fn needs_height(waiting: usize) -> u16 {
    if waiting == 0 {
        1
    } else {
        2 + waiting.min(NEEDS_ROWS) as u16
    }
}

/// How an activity looks: waiting stands out, idle fades.
pub(crate) fn activity_style(a: pb::Activity) -> Style {
    match a {
        pb::Activity::Working => Style::new().fg(Color::Green),
        pb::Activity::WaitingForInput => {
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD)
        }
        pb::Activity::Idle => Style::new().fg(Color::DarkGray),
        pb::Activity::Exited => Style::new().fg(Color::Red),
        pb::Activity::Unknown | pb::Activity::Unspecified => Style::new(),
    }
}

/// A layout's waiting panes as a cell: `2 waiting`, or nothing.
pub(super) fn waiting_cell(l: &pb::Layout) -> Cell<'static> {
    let n = l
        .panes
        .iter()
        .filter(|p| !matches!(p.state(), pb::PaneState::Removed | pb::PaneState::Failed))
        .filter(|p| activity::of(p.activity.as_ref()) == pb::Activity::WaitingForInput)
        .count();
    if n == 0 {
        Cell::from("")
    } else {
        Cell::from(format!("{n} waiting")).style(activity_style(pb::Activity::WaitingForInput))
    }
}

impl App {
    /// `waiting 2m`, `idle 5s`, `working 1h`, `exited`, `unknown`; empty
    /// for a pane without an agent. Coloured by activity.
    pub(super) fn activity_cell(&self, a: Option<&pb::AgentActivity>) -> Cell<'static> {
        let act = activity::of(a);
        let word = activity::word(act);
        let text = match act {
            pb::Activity::Working | pb::Activity::WaitingForInput | pb::Activity::Idle => {
                match a.and_then(|a| a.since_time.as_ref()) {
                    Some(t) => format!("{word} {}", age(self.now, Some(t.seconds))),
                    None => word.to_string(),
                }
            }
            _ => word.to_string(),
        };
        Cell::from(text).style(activity_style(act))
    }

    /// Every agent waiting for input, longest wait first.
    pub(super) fn needs_panel(&self, needs: &[Waiting], area: Rect, buf: &mut Buffer) {
        if needs.is_empty() {
            Line::from(" needs you: no agent is waiting for input")
                .dark_gray()
                .render(area, buf);
            return;
        }
        let waiting = activity_style(pb::Activity::WaitingForInput);
        let rows = needs.iter().map(|w| {
            Row::new(vec![
                Cell::from(w.label.clone()).style(waiting),
                Cell::from(format!("in {}", w.place)),
                Cell::from(format!(
                    "waiting {}",
                    age(self.now, w.since.map(|(s, _)| s))
                )),
                Cell::from(w.message.clone()),
            ])
        });
        let table = Table::new(
            rows,
            [
                Constraint::Length(16),
                Constraint::Length(16),
                Constraint::Length(12),
                Constraint::Min(10),
            ],
        )
        .block(
            Block::bordered()
                .title(format!(
                    " Needs you ({}) · w selects the next ",
                    needs.len()
                ))
                .border_style(Style::new().fg(Color::Magenta)),
        );
        Widget::render(table, area, buf);
    }

    /// The selected pane's last log lines (already made printable).
    pub(super) fn preview_panel(&self, area: Rect, buf: &mut Buffer) {
        let pane = self.selected_pane();
        let title = match pane {
            Some(p) => format!("Preview of {}", p.label),
            None => "Preview".to_string(),
        };
        let height = area.height.saturating_sub(2) as usize;
        let current = pane.is_some_and(|p| p.pane_id == self.preview.pane_id);
        let lines: Vec<Line> = match (&self.preview.note, current) {
            (_, false) => Vec::new(),
            (Some(note), true) => vec![Line::from(format!(" {note}")).dark_gray()],
            (None, true) => {
                let l = &self.preview.lines;
                l[l.len().saturating_sub(height)..]
                    .iter()
                    .map(|s| Line::raw(s.as_str()))
                    .collect()
            }
        };
        Paragraph::new(lines)
            .block(panel(&title, false))
            .render(area, buf);
    }
}
