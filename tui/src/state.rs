//! The console's view model: what the daemon told us (containers, layouts
//! with their panes, the event log) plus what the operator is doing
//! (selection, filters, dialogs, the status line). `apply` folds server
//! messages in; `act` folds operator actions in and says which request, if
//! any, to send. Nothing here does I/O.

use std::collections::{BTreeMap, VecDeque};

use agenttower::pb;
use time::OffsetDateTime;

use crate::conn::{Request, Server};
use crate::input::{Action, Field};

/// Event log lines kept in memory.
pub(crate) const EVENT_LOG_LINES: usize = 200;

/// Where the console stands with the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Link {
    Connecting,
    Connected,
    /// Lost the daemon; retrying, resuming after `after`.
    Reconnecting {
        reason: String,
        after: u64,
    },
}

/// Which list the arrow keys move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Focus {
    Layouts,
    Panes,
}

/// A line at the bottom: what just happened, or what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    Info(String),
    /// A closed-set API error: code, message and what to do.
    Error {
        code: String,
        message: String,
        hint: String,
    },
}

/// The create-layout dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreateForm {
    pub container: usize,
    pub template: usize,
    pub session: String,
    pub idempotency_key: String,
    pub field: Field,
}

/// The overlay on top of the dashboard, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    Normal,
    Help,
    Create(CreateForm),
    /// The tail of a pane's log.
    Log {
        label: String,
        lines: Vec<String>,
    },
    /// Confirm removing a whole layout.
    ConfirmRemoveLayout {
        layout_id: String,
        session: String,
    },
}

/// Everything the view draws.
#[derive(Debug)]
pub(crate) struct App {
    pub socket: String,
    pub link: Link,
    pub containers: Vec<pb::Container>,
    pub templates: Vec<String>,
    /// Layouts by id, each with all its panes.
    pub layouts: BTreeMap<String, pb::Layout>,
    pub events: VecDeque<pb::LifecycleEvent>,
    /// The newest sequence folded in; events at or below it are ignored.
    pub last_sequence: u64,
    pub focus: Focus,
    pub selected_layout: usize,
    pub selected_pane: usize,
    pub container_filter: Option<String>,
    pub state_filter: Option<pb::LayoutState>,
    pub mode: Mode,
    pub status: Option<Status>,
    pub now: OffsetDateTime,
    pub quit: bool,
}

impl App {
    pub(crate) fn new(socket: String, now: OffsetDateTime) -> Self {
        App {
            socket,
            link: Link::Connecting,
            containers: Vec::new(),
            templates: Vec::new(),
            layouts: BTreeMap::new(),
            events: VecDeque::new(),
            last_sequence: 0,
            focus: Focus::Layouts,
            selected_layout: 0,
            selected_pane: 0,
            container_filter: None,
            state_filter: None,
            mode: Mode::Normal,
            status: None,
            now,
            quit: false,
        }
    }

    /// Layouts as listed: filtered, then state priority, then newest first
    /// (SPEC §7 M2). Removed layouts show only when filtered for.
    pub(crate) fn visible_layouts(&self) -> Vec<&pb::Layout> {
        let mut v: Vec<&pb::Layout> = self
            .layouts
            .values()
            .filter(|l| match self.state_filter {
                Some(s) => l.state() == s,
                None => l.state() != pb::LayoutState::Removed,
            })
            .filter(|l| {
                self.container_filter
                    .as_ref()
                    .is_none_or(|c| &l.container_id == c)
            })
            .collect();
        v.sort_by(|a, b| {
            state_rank(a.state())
                .cmp(&state_rank(b.state()))
                .then_with(|| layout_created(b).cmp(&layout_created(a)))
                .then_with(|| b.layout_id.cmp(&a.layout_id))
        });
        v
    }

    pub(crate) fn selected_layout(&self) -> Option<&pb::Layout> {
        self.visible_layouts().get(self.selected_layout).copied()
    }

    /// The selected layout's current pane of each tmux slot, in slot order:
    /// the newest of its recreate chain, so a removed pane stays visible
    /// (and recreatable) until it has a successor.
    pub(crate) fn visible_panes(&self) -> Vec<&pb::Pane> {
        let Some(layout) = self.selected_layout() else {
            return Vec::new();
        };
        let mut slots: BTreeMap<u32, &pb::Pane> = BTreeMap::new();
        for p in &layout.panes {
            let newer = slots.get(&p.tmux_pane_index).is_none_or(|cur| {
                (p.chain_depth, pane_created(p)) > (cur.chain_depth, pane_created(cur))
            });
            if newer {
                slots.insert(p.tmux_pane_index, p);
            }
        }
        slots.into_values().collect()
    }

    pub(crate) fn selected_pane(&self) -> Option<&pb::Pane> {
        self.visible_panes().get(self.selected_pane).copied()
    }

    /// A pane's label by id, for the event log.
    pub(crate) fn pane_label(&self, pane_id: &str) -> Option<&str> {
        self.layouts
            .values()
            .flat_map(|l| &l.panes)
            .find(|p| p.pane_id == pane_id)
            .map(|p| p.label.as_str())
    }

    /// Folds a message from the connection in.
    pub(crate) fn apply(&mut self, msg: Server) {
        match msg {
            Server::Snapshot(s) => {
                self.link = Link::Connected;
                self.containers = s.containers;
                self.templates = s.templates;
                self.layouts = s
                    .layouts
                    .into_iter()
                    .map(|l| (l.layout_id.clone(), l))
                    .collect();
                for e in s.tail {
                    self.push_event(e);
                }
            }
            Server::Event(e) => self.push_event(*e),
            Server::Layout(l) => {
                self.layouts.insert(l.layout_id.clone(), *l);
            }
            Server::Lost(reason) => {
                self.link = Link::Reconnecting {
                    reason,
                    after: self.last_sequence,
                };
            }
            Server::Done(text) => self.status = Some(Status::Info(text)),
            Server::Failed {
                code,
                message,
                hint,
            } => {
                self.status = Some(Status::Error {
                    code,
                    message,
                    hint,
                })
            }
            Server::LogTail { label, lines } => self.mode = Mode::Log { label, lines },
        }
        self.clamp_selection();
    }

    fn push_event(&mut self, e: pb::LifecycleEvent) {
        if e.sequence <= self.last_sequence {
            return;
        }
        self.last_sequence = e.sequence;
        self.events.push_back(e);
        while self.events.len() > EVENT_LOG_LINES {
            self.events.pop_front();
        }
    }

    fn clamp_selection(&mut self) {
        let layouts = self.visible_layouts().len();
        self.selected_layout = self.selected_layout.min(layouts.saturating_sub(1));
        let panes = self.visible_panes().len();
        self.selected_pane = self.selected_pane.min(panes.saturating_sub(1));
        if panes == 0 {
            self.focus = Focus::Layouts;
        }
    }

    /// Folds an operator action in; returns the request to send, if any.
    pub(crate) fn act(&mut self, action: Action) -> Option<Request> {
        let request = match action {
            Action::Quit => {
                self.quit = true;
                None
            }
            Action::Help => {
                self.mode = Mode::Help;
                None
            }
            Action::Close => {
                self.mode = Mode::Normal;
                None
            }
            Action::Up => {
                self.move_selection(-1);
                None
            }
            Action::Down => {
                self.move_selection(1);
                None
            }
            Action::SwitchFocus => {
                self.focus = match self.focus {
                    Focus::Layouts if !self.visible_panes().is_empty() => Focus::Panes,
                    _ => Focus::Layouts,
                };
                None
            }
            Action::OpenCreate => {
                if self.containers.is_empty() || self.templates.is_empty() {
                    self.status = Some(Status::Info(
                        "no containers or templates yet (is the daemon connected?)".into(),
                    ));
                } else {
                    let container = self
                        .containers
                        .iter()
                        .position(|c| Some(&c.container_id) == self.container_filter.as_ref())
                        .unwrap_or(0);
                    self.mode = Mode::Create(CreateForm {
                        container,
                        template: 0,
                        session: String::new(),
                        idempotency_key: String::new(),
                        field: Field::Session,
                    });
                }
                None
            }
            Action::Form(edit) => {
                if let Mode::Create(form) = &mut self.mode {
                    edit.apply(form, self.containers.len(), self.templates.len());
                }
                None
            }
            Action::Submit => self.submit(),
            Action::RemovePane => self.selected_pane().map(|p| Request::RemovePane {
                pane_id: p.pane_id.clone(),
                label: p.label.clone(),
            }),
            Action::RecreatePane => self.selected_pane().map(|p| Request::RecreatePane {
                pane_id: p.pane_id.clone(),
                label: p.label.clone(),
            }),
            Action::RemoveLayout => {
                if let Some(l) = self.selected_layout() {
                    self.mode = Mode::ConfirmRemoveLayout {
                        layout_id: l.layout_id.clone(),
                        session: l.tmux_session_name.clone(),
                    };
                }
                None
            }
            Action::Confirm => match std::mem::replace(&mut self.mode, Mode::Normal) {
                Mode::ConfirmRemoveLayout { layout_id, session } => {
                    Some(Request::RemoveLayout { layout_id, session })
                }
                other => {
                    self.mode = other;
                    None
                }
            },
            Action::ShowLog => self.selected_pane().map(|p| Request::LogTail {
                label: p.label.clone(),
                path: p.log_path.clone(),
            }),
            Action::CycleContainer => {
                let ids: Vec<String> = self
                    .containers
                    .iter()
                    .map(|c| c.container_id.clone())
                    .collect();
                self.container_filter = cycle(&ids, self.container_filter.as_ref());
                self.selected_layout = 0;
                None
            }
            Action::CycleState => {
                let states = [
                    pb::LayoutState::Creating,
                    pb::LayoutState::Ready,
                    pb::LayoutState::Degraded,
                    pb::LayoutState::Failed,
                    pb::LayoutState::Removed,
                ];
                self.state_filter = cycle(&states, self.state_filter.as_ref());
                self.selected_layout = 0;
                None
            }
        };
        self.clamp_selection();
        request
    }

    fn move_selection(&mut self, by: isize) {
        let len = match self.focus {
            Focus::Layouts => self.visible_layouts().len(),
            Focus::Panes => self.visible_panes().len(),
        };
        let selected = match self.focus {
            Focus::Layouts => &mut self.selected_layout,
            Focus::Panes => &mut self.selected_pane,
        };
        if len == 0 {
            return;
        }
        *selected = selected.saturating_add_signed(by).min(len - 1);
        if self.focus == Focus::Layouts {
            self.selected_pane = 0;
        }
    }

    fn submit(&mut self) -> Option<Request> {
        let Mode::Create(form) = &self.mode else {
            return None;
        };
        if form.session.is_empty() {
            self.status = Some(Status::Info("type a tmux session name first".into()));
            return None;
        }
        let request = Request::Create {
            container_id: self.containers.get(form.container)?.container_id.clone(),
            template_name: self.templates.get(form.template)?.clone(),
            session: form.session.clone(),
            idempotency_key: form.idempotency_key.clone(),
        };
        self.mode = Mode::Normal;
        Some(request)
    }
}

/// The next value after `current` in `all`, wrapping through "none".
fn cycle<T: Clone + PartialEq>(all: &[T], current: Option<&T>) -> Option<T> {
    match current.and_then(|c| all.iter().position(|x| x == c)) {
        None => all.first().cloned(),
        Some(i) => all.get(i + 1).cloned(),
    }
}

/// SPEC §7 M2 order: creating, degraded, ready, failed, removed.
pub(crate) fn state_rank(s: pb::LayoutState) -> u8 {
    match s {
        pb::LayoutState::Creating => 0,
        pb::LayoutState::Degraded => 1,
        pb::LayoutState::Ready => 2,
        pb::LayoutState::Failed => 3,
        pb::LayoutState::Removed => 4,
        pb::LayoutState::Unspecified => 5,
    }
}

/// What an operator can do about a closed-set error code.
pub(crate) fn hint_for(code: &str) -> &'static str {
    match code {
        "managed_session_name_conflict" => "pick another session name, or remove that layout",
        "managed_pane_label_conflict" => "a live pane already uses that label; remove it first",
        "managed_layout_capacity_exceeded" => "remove a layout, or raise `capacity` in config.yaml",
        "managed_template_not_found" => "add the template under managed_templates/",
        "managed_launch_command_not_found" => "add the launch profile under launch_commands/",
        "managed_pane_illegal_transition" => "wait until the pane leaves `creating`",
        "managed_pane_illegal_recreate_source" => {
            "remove the pane first; only removed or failed panes can be recreated"
        }
        "managed_pane_recreate_chain_too_deep" => "create a new layout instead",
        "managed_pane_concurrent_recreate" => "the pane already has a live successor",
        "managed_pane_protected_adopted" => "adopted panes are never touched by the daemon",
        "container_not_found" => "check `agenttower container list`",
        "validation_failed" => "fix the named field",
        "daemon_unavailable" => "the console reconnects by itself",
        _ => "",
    }
}

/// A layout's creation time as a sortable key (unset sorts first).
fn layout_created(l: &pb::Layout) -> Option<(i64, i32)> {
    l.create_time.as_ref().map(|t| (t.seconds, t.nanos))
}

/// A pane's creation time as a sortable key (unset sorts first).
fn pane_created(p: &pb::Pane) -> Option<(i64, i32)> {
    p.create_time.as_ref().map(|t| (t.seconds, t.nanos))
}

/// How long ago a wire timestamp's `seconds` (Unix time) was, compactly:
/// `42s`, `5m`, `3h`, `2d`; `?` when unset. Callers pass
/// `x.create_time.as_ref().map(|t| t.seconds)`.
pub(crate) fn age(now: OffsetDateTime, seconds: Option<i64>) -> String {
    let Some(seconds) = seconds else {
        return "?".into();
    };
    let secs = (now.unix_timestamp() - seconds).max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::Snapshot;

    pub(crate) fn event(sequence: u64) -> pb::LifecycleEvent {
        pb::LifecycleEvent {
            sequence,
            event_type: pb::EventType::ManagedPaneCreated as i32,
            ..Default::default()
        }
    }

    #[test]
    fn events_are_kept_once_in_order_across_a_replay() {
        let mut app = App::new("s".into(), OffsetDateTime::UNIX_EPOCH);
        for s in [1, 2, 3] {
            app.apply(Server::Event(Box::new(event(s))));
        }
        app.apply(Server::Lost("gone".into()));
        assert_eq!(
            app.link,
            Link::Reconnecting {
                reason: "gone".into(),
                after: 3
            }
        );
        // The resumed stream repeats nothing, but a stale snapshot tail might.
        app.apply(Server::Snapshot(Snapshot {
            tail: vec![event(2), event(3)],
            ..Default::default()
        }));
        app.apply(Server::Event(Box::new(event(4))));
        let seqs: Vec<u64> = app.events.iter().map(|e| e.sequence).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        assert_eq!(app.link, Link::Connected);
    }

    #[test]
    fn the_event_log_is_bounded() {
        let mut app = App::new("s".into(), OffsetDateTime::UNIX_EPOCH);
        for s in 1..=(EVENT_LOG_LINES as u64 + 50) {
            app.apply(Server::Event(Box::new(event(s))));
        }
        assert_eq!(app.events.len(), EVENT_LOG_LINES);
        assert_eq!(app.events.front().unwrap().sequence, 51);
    }

    #[test]
    fn ages_are_compact() {
        let now = OffsetDateTime::parse(
            "2026-11-22T10:00:00.000Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let ago = |text: &str| age(now, agenttower::time::from_rfc3339(text).map(|t| t.seconds));
        assert_eq!(ago("2026-11-22T09:59:19.000Z"), "41s");
        assert_eq!(ago("2026-11-22T09:55:00.000Z"), "5m");
        assert_eq!(ago("2026-11-22T07:00:00.000Z"), "3h");
        assert_eq!(ago("2026-11-20T10:00:00.000Z"), "2d");
        assert_eq!(
            ago("2026-11-22T10:00:30.000Z"),
            "0s",
            "clock skew is not negative"
        );
        assert_eq!(age(now, None), "?");
    }

    #[test]
    fn filters_cycle_through_every_value_and_back_to_all() {
        assert_eq!(cycle(&[1, 2], None), Some(1));
        assert_eq!(cycle(&[1, 2], Some(&1)), Some(2));
        assert_eq!(cycle(&[1, 2], Some(&2)), None);
    }
}
