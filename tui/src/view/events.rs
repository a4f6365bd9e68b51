//! The event log panel and the few words each event is summarised in.

use agenttower::names::ShortName as _;
use agenttower::pb;
use agenttower::pb::lifecycle_event::Payload;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Stylize as _;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{panel, stage};
use crate::activity;
use crate::sanitize;
use crate::state::App;

/// Whether the log shows `e`. Activity changes are frequent (every agent
/// goes working → idle and back all day) and the activity column already
/// shows them, so only those that need the operator are logged: an agent
/// starting to wait for input, or exiting.
pub(super) fn shown(e: &pb::LifecycleEvent) -> bool {
    match &e.payload {
        Some(Payload::AgentActivityChanged(p)) => matches!(
            p.to_activity(),
            pb::Activity::WaitingForInput | pb::Activity::Exited
        ),
        _ => true,
    }
}

fn or_unknown(word: &str) -> &str {
    if word.is_empty() { "unknown" } else { word }
}

/// Where an activity came from, in one word.
pub(super) fn activity_source(s: pb::ActivitySource) -> &'static str {
    match s {
        pb::ActivitySource::Unspecified => "",
        pb::ActivitySource::Report => "report",
        pb::ActivitySource::PromptRule => "prompt_rule",
        pb::ActivitySource::Output => "output",
        pb::ActivitySource::Process => "process",
    }
}

impl App {
    pub(super) fn events_panel(&self, area: Rect, buf: &mut Buffer) {
        let height = area.height.saturating_sub(2) as usize;
        let shown: Vec<&pb::LifecycleEvent> = self.events.iter().filter(|e| shown(e)).collect();
        let lines: Vec<Line> = shown[shown.len().saturating_sub(height)..]
            .iter()
            .map(|e| {
                let subject = self
                    .pane_label(&e.pane_id)
                    .map(str::to_string)
                    .or_else(|| {
                        self.layouts
                            .get(&e.layout_id)
                            .map(|l| l.tmux_session_name.clone())
                    })
                    .or_else(|| match &e.payload {
                        Some(Payload::AgentActivityChanged(p)) => {
                            Some(sanitize::one_line(&p.label, 40))
                        }
                        _ => None,
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
}

/// What an event says, in a few words: a state change as `from → to`, with
/// the stage and reason of a failure; any other payload as its compact
/// proto3 JSON (the member named like the event type, without the fields
/// left at their defaults); nothing for a type newer than the console.
pub(super) fn event_summary(e: &pb::LifecycleEvent) -> String {
    match &e.payload {
        Some(Payload::ManagedPaneStateChanged(p)) => transition(
            &p.from_state().short_name(),
            &p.to_state().short_name(),
            &stage(p.failed_stage()),
            &p.reason,
        ),
        Some(Payload::AgentActivityChanged(p)) => transition(
            or_unknown(activity::word(p.from_activity())),
            or_unknown(activity::word(p.to_activity())),
            activity_source(p.source()),
            &sanitize::one_line(&p.message, 80),
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
