//! Overlays drawn on top of the dashboard: the create dialog, the key
//! help, a pane's log and the remove-layout confirmation.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Style, Stylize as _};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use crate::input::{Field, HELP};
use crate::state::{App, CreateForm};

impl App {
    pub(super) fn create_dialog(&self, form: &CreateForm, area: Rect, buf: &mut Buffer) {
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

pub(super) fn help(area: Rect, buf: &mut Buffer) {
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

pub(super) fn log_view(label: &str, lines: &[String], area: Rect, buf: &mut Buffer) {
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

pub(super) fn confirm(session: &str, area: Rect, buf: &mut Buffer) {
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
