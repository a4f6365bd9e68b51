//! The console's view model: what the daemon told us (containers, layouts
//! with their panes, the event log) plus what the operator is doing
//! (selection, filters, dialogs, the status line). `apply` folds server
//! messages in; `act` (in `actions`) folds operator actions in and says
//! which request, if any, to send; `activity` derives the needs-you group
//! and alerts. Nothing here does I/O.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use agenttower::pb;
use time::OffsetDateTime;

use crate::activity::Alert;
use crate::attach::Attaching;
use crate::conn::Server;
use crate::input::Field;
use crate::preview::Preview;

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
    /// The go-to prompt on the status line: what has been typed so far.
    GoTo {
        name: String,
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
    /// Adopted agents (managed ones are the layouts' panes).
    pub agents: Vec<pb::Agent>,
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
    /// The selected pane's last log lines (`main` reads them).
    pub preview: Preview,
    /// Agents waiting for input at the last look, by id.
    pub waiting: BTreeSet<String>,
    /// False until the first snapshot: what waits at start alerts nothing.
    pub primed: bool,
    /// Agents that started waiting, for `main` to notify and clear.
    pub alerts: Vec<Alert>,
    /// A layout just asked for, by session name: selected once it shows.
    pub follow: Option<String>,
    /// The terminal the console runs in, which decides how to attach.
    pub terminal: agenttower::attach::Terminal,
    /// A pane to attach to, for `main` to run and clear.
    pub attach: Option<Attaching>,
}

impl App {
    pub(crate) fn new(socket: String, now: OffsetDateTime) -> Self {
        App {
            socket,
            link: Link::Connecting,
            containers: Vec::new(),
            templates: Vec::new(),
            layouts: BTreeMap::new(),
            agents: Vec::new(),
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
            preview: Preview::default(),
            waiting: BTreeSet::new(),
            primed: false,
            alerts: Vec::new(),
            follow: None,
            terminal: agenttower::attach::Terminal::default(),
            attach: None,
        }
    }

    /// Layouts as listed: filtered; those with an agent waiting for input
    /// first, longest wait first (the needs-you group); then state
    /// priority, then newest first (SPEC §7 M2). Removed layouts show only
    /// when filtered for.
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
        let waits = |l: &pb::Layout| {
            let since = self.layout_waiting_since(l);
            (since.is_none(), since)
        };
        v.sort_by(|a, b| {
            waits(a)
                .cmp(&waits(b))
                .then_with(|| state_rank(a.state()).cmp(&state_rank(b.state())))
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

    /// Folds a message from the connection in. The selected layout stays
    /// selected while the list reorders around it.
    pub(crate) fn apply(&mut self, msg: Server) {
        let mut selected = self.selected_layout().map(|l| l.layout_id.clone());
        let mut snapshot = false;
        match msg {
            Server::Snapshot(s) => {
                snapshot = true;
                self.link = Link::Connected;
                self.containers = s.containers;
                self.templates = s.templates;
                self.layouts = s
                    .layouts
                    .into_iter()
                    .map(|l| (l.layout_id.clone(), l))
                    .collect();
                self.agents = s.agents;
                for e in s.tail {
                    self.push_event(e);
                }
            }
            Server::Agents(agents) => self.agents = agents,
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
                // A create that failed leaves nothing to follow.
                self.follow = None;
                self.status = Some(Status::Error {
                    code,
                    message,
                    hint,
                })
            }
            Server::LogTail { label, lines } => self.mode = Mode::Log { label, lines },
            Server::AttachTo(found) => self.attach_to(*found),
            Server::Found { name, found } => {
                self.found(&name, *found);
                // What it selected is the selection to keep.
                selected = self.selected_layout().map(|l| l.layout_id.clone());
            }
        }
        self.reselect(selected);
        self.clamp_selection();
        self.track_waiting();
        self.primed |= snapshot;
    }

    /// Selects the followed layout once it shows, else keeps `selected`.
    fn reselect(&mut self, selected: Option<String>) {
        let ids: Vec<(String, String)> = self
            .visible_layouts()
            .iter()
            .map(|l| (l.layout_id.clone(), l.tmux_session_name.clone()))
            .collect();
        let followed = self
            .follow
            .as_ref()
            .and_then(|session| ids.iter().position(|(_, s)| s == session));
        if let Some(i) = followed {
            self.follow = None;
            if Some(&ids[i].0) != selected.as_ref() {
                self.selected_pane = 0;
            }
        }
        let kept = || {
            let id = selected.as_ref()?;
            ids.iter().position(|(l, _)| l == id)
        };
        if let Some(i) = followed.or_else(kept) {
            self.selected_layout = i;
        }
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

    pub(crate) fn clamp_selection(&mut self) {
        let layouts = self.visible_layouts().len();
        self.selected_layout = self.selected_layout.min(layouts.saturating_sub(1));
        let panes = self.visible_panes().len();
        self.selected_pane = self.selected_pane.min(panes.saturating_sub(1));
        if panes == 0 {
            self.focus = Focus::Layouts;
        }
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

/// A layout's creation time as a sortable key (unset sorts first).
fn layout_created(l: &pb::Layout) -> Option<(i64, i32)> {
    l.create_time.as_ref().map(|t| (t.seconds, t.nanos))
}

/// A pane's creation time as a sortable key (unset sorts first).
fn pane_created(p: &pb::Pane) -> Option<(i64, i32)> {
    p.create_time.as_ref().map(|t| (t.seconds, t.nanos))
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
}
