//! Agent activity in the view model: the words and order of the activity
//! axis, the "needs you" group (every agent waiting for input, managed or
//! adopted, longest wait first), and the alerts raised when an agent starts
//! waiting. Nothing here does I/O; `main` hands `App::alerts` to `notify`.

use std::collections::BTreeSet;

use agenttower::pb;

use crate::sanitize;
use crate::state::App;

/// Longest message shown or sent for a waiting agent.
const MESSAGE_CHARS: usize = 120;

/// The activity of a pane's or agent's wire field (`Unspecified` when the
/// pane has no agent yet).
pub(crate) fn of(a: Option<&pb::AgentActivity>) -> pb::Activity {
    a.map_or(pb::Activity::Unspecified, |a| a.activity())
}

/// The word the console shows for an activity; empty when unset.
pub(crate) fn word(a: pb::Activity) -> &'static str {
    match a {
        pb::Activity::Unspecified => "",
        pb::Activity::Unknown => "unknown",
        pb::Activity::Working => "working",
        pb::Activity::WaitingForInput => "waiting",
        pb::Activity::Idle => "idle",
        pb::Activity::Exited => "exited",
    }
}

/// A wire timestamp as a sortable key.
fn key(t: Option<&agenttower::time::Timestamp>) -> Option<(i64, i32)> {
    t.map(|t| (t.seconds, t.nanos))
}

/// An agent waiting for the operator, as the needs-you group lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Waiting {
    pub agent_id: String,
    pub label: String,
    /// The session of its layout, or the container of an adopted pane.
    pub place: String,
    /// When it started waiting (Unix seconds, nanos).
    pub since: Option<(i64, i32)>,
    /// The reporter's message or the prompt line, one printable line.
    pub message: String,
    /// Set for a managed pane: where the jump key goes.
    pub layout_id: Option<String>,
    pub pane_id: Option<String>,
}

/// An agent that just started waiting, for `notify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alert {
    pub agent_id: String,
    pub label: String,
    pub message: String,
}

impl App {
    /// Every agent waiting for input, longest wait first (then by label):
    /// the live panes of every layout, and adopted agents.
    pub(crate) fn needs_you(&self) -> Vec<Waiting> {
        let mut v: Vec<Waiting> = Vec::new();
        for l in self.layouts.values() {
            if l.state() == pb::LayoutState::Removed {
                continue;
            }
            for p in &l.panes {
                if of(p.activity.as_ref()) != pb::Activity::WaitingForInput
                    || matches!(p.state(), pb::PaneState::Removed | pb::PaneState::Failed)
                {
                    continue;
                }
                let a = p.activity.as_ref();
                v.push(Waiting {
                    agent_id: p.agent_id.clone(),
                    label: sanitize::one_line(&p.label, 40),
                    place: l.tmux_session_name.clone(),
                    since: key(a.and_then(|a| a.since_time.as_ref())),
                    message: sanitize::one_line(a.map_or("", |a| &a.message), MESSAGE_CHARS),
                    layout_id: Some(l.layout_id.clone()),
                    pane_id: Some(p.pane_id.clone()),
                });
            }
        }
        for a in &self.agents {
            let act = a.activity.as_ref();
            if !a.registered || of(act) != pb::Activity::WaitingForInput {
                continue;
            }
            if v.iter().any(|w| w.agent_id == a.agent_id) {
                continue;
            }
            v.push(Waiting {
                agent_id: a.agent_id.clone(),
                label: sanitize::one_line(&a.label, 40),
                place: a.container_id.clone(),
                since: key(act.and_then(|a| a.since_time.as_ref())),
                message: sanitize::one_line(act.map_or("", |a| &a.message), MESSAGE_CHARS),
                layout_id: None,
                pane_id: None,
            });
        }
        // Unknown start times sort last.
        v.sort_by(|a, b| {
            (a.since.is_none(), a.since, &a.label).cmp(&(b.since.is_none(), b.since, &b.label))
        });
        v
    }

    /// When the longest-waiting live pane of `l` started waiting, if any
    /// waits: layouts that need the operator list first.
    pub(crate) fn layout_waiting_since(&self, l: &pb::Layout) -> Option<(i64, i32)> {
        if l.state() == pb::LayoutState::Removed {
            return None;
        }
        l.panes
            .iter()
            .filter(|p| !matches!(p.state(), pb::PaneState::Removed | pb::PaneState::Failed))
            .filter(|p| of(p.activity.as_ref()) == pb::Activity::WaitingForInput)
            .map(|p| key(p.activity.as_ref().and_then(|a| a.since_time.as_ref())))
            .min_by_key(|since| (since.is_none(), *since))
            .map(|since| since.unwrap_or((i64::MAX, 0)))
    }

    /// After the state changed: an alert for each agent that started
    /// waiting since the last call. The first snapshot only primes: what
    /// already waited when the console started shows in the group, but
    /// rings nothing.
    pub(crate) fn track_waiting(&mut self) {
        let now: Vec<Waiting> = self.needs_you();
        let ids: BTreeSet<String> = now.iter().map(|w| w.agent_id.clone()).collect();
        if self.primed {
            for w in now.iter().filter(|w| !self.waiting.contains(&w.agent_id)) {
                self.alerts.push(Alert {
                    agent_id: w.agent_id.clone(),
                    label: w.label.clone(),
                    message: w.message.clone(),
                });
            }
        }
        self.waiting = ids;
    }

    /// Selects the next waiting managed pane after the selected one, in
    /// needs-you order (wrapping): its layout, then the pane, focused.
    /// Filters that would hide it are cleared.
    pub(crate) fn jump_to_waiting(&mut self) {
        let targets: Vec<(String, String)> = self
            .needs_you()
            .into_iter()
            .filter_map(|w| Some((w.layout_id?, w.pane_id?)))
            .collect();
        if targets.is_empty() {
            self.status = Some(crate::state::Status::Info(
                "no managed pane is waiting for input".into(),
            ));
            return;
        }
        let current = self.selected_pane().map(|p| p.pane_id.clone());
        let at = targets
            .iter()
            .position(|(_, p)| Some(p) == current.as_ref())
            .map_or(0, |i| (i + 1) % targets.len());
        let (layout_id, pane_id) = targets[at].clone();
        let slot = self
            .layouts
            .get(&layout_id)
            .and_then(|l| l.panes.iter().find(|p| p.pane_id == pane_id))
            .map_or(0, |p| p.tmux_pane_index);
        self.select(&layout_id, Some((&pane_id, slot)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{Server, Snapshot};
    use crate::state::Focus;
    use time::OffsetDateTime;

    fn waiting_pane(label: &str, index: u32, since: i64) -> pb::Pane {
        pb::Pane {
            pane_id: format!("p-{label}"),
            layout_id: "L1".into(),
            agent_id: format!("a-{label}"),
            label: label.into(),
            tmux_pane_index: index,
            state: pb::PaneState::Ready as i32,
            activity: Some(pb::AgentActivity {
                activity: pb::Activity::WaitingForInput as i32,
                source: pb::ActivitySource::PromptRule as i32,
                since_time: Some(agenttower::time::Timestamp {
                    seconds: since,
                    nanos: 0,
                }),
                message: "Proceed? [y/N]\u{1b}[0m".into(),
            }),
            ..Default::default()
        }
    }

    fn layout(panes: Vec<pb::Pane>) -> pb::Layout {
        pb::Layout {
            layout_id: "L1".into(),
            tmux_session_name: "work".into(),
            state: pb::LayoutState::Ready as i32,
            panes,
            ..Default::default()
        }
    }

    #[test]
    fn the_longest_wait_comes_first_and_only_new_waits_alert() {
        let mut app = App::new("s".into(), OffsetDateTime::UNIX_EPOCH);
        // Already waiting at start: listed, but no alert.
        app.apply(Server::Snapshot(Snapshot {
            layouts: vec![layout(vec![waiting_pane("work.s1", 1, 200)])],
            ..Default::default()
        }));
        assert!(app.alerts.is_empty());
        let mut idle = waiting_pane("work.m1", 0, 0);
        idle.activity.as_mut().unwrap().activity = pb::Activity::Idle as i32;
        app.apply(Server::Layout(Box::new(layout(vec![
            idle,
            waiting_pane("work.s1", 1, 200),
            waiting_pane("work.s2", 2, 100),
        ]))));
        let order: Vec<String> = app.needs_you().into_iter().map(|w| w.label).collect();
        assert_eq!(order, ["work.s2", "work.s1"]);
        assert_eq!(
            app.alerts,
            [Alert {
                agent_id: "a-work.s2".into(),
                label: "work.s2".into(),
                message: "Proceed? [y/N]".into(),
            }]
        );
        // Refetching the same state alerts nothing more.
        app.alerts.clear();
        app.apply(Server::Layout(Box::new(layout(vec![
            waiting_pane("work.s1", 1, 200),
            waiting_pane("work.s2", 2, 100),
        ]))));
        assert!(app.alerts.is_empty());
    }

    #[test]
    fn the_jump_key_cycles_through_waiting_panes() {
        let mut app = App::new("s".into(), OffsetDateTime::UNIX_EPOCH);
        let mut idle = waiting_pane("work.m1", 0, 0);
        idle.activity = None;
        app.apply(Server::Snapshot(Snapshot {
            layouts: vec![layout(vec![
                idle,
                waiting_pane("work.s1", 1, 200),
                waiting_pane("work.s2", 2, 100),
            ])],
            ..Default::default()
        }));
        let selected = |app: &App| app.selected_pane().map(|p| p.label.clone());
        app.jump_to_waiting();
        assert_eq!(selected(&app).as_deref(), Some("work.s2"));
        assert_eq!(app.focus, Focus::Panes);
        app.jump_to_waiting();
        assert_eq!(selected(&app).as_deref(), Some("work.s1"));
        app.jump_to_waiting();
        assert_eq!(selected(&app).as_deref(), Some("work.s2"));
    }

    #[test]
    fn a_layout_that_starts_waiting_lists_first_and_the_selection_stays() {
        let mut app = App::new("s".into(), OffsetDateTime::UNIX_EPOCH);
        let quiet = |id: &str, session: &str, created: i64| {
            let mut p = waiting_pane(&format!("{session}.m1"), 0, 0);
            p.layout_id = id.into();
            p.activity = None;
            let mut q = p.clone();
            q.pane_id.push('2');
            q.agent_id.push('2');
            q.tmux_pane_index = 1;
            let mut l = layout(vec![p, q]);
            l.layout_id = id.into();
            l.tmux_session_name = session.into();
            l.create_time = Some(agenttower::time::Timestamp {
                seconds: created,
                nanos: 0,
            });
            l
        };
        let (old, new) = (quiet("L1", "old", 1), quiet("L2", "new", 2));
        app.apply(Server::Snapshot(Snapshot {
            layouts: vec![old.clone(), new],
            ..Default::default()
        }));
        let sessions = |app: &App| -> Vec<String> {
            app.visible_layouts()
                .iter()
                .map(|l| l.tmux_session_name.clone())
                .collect()
        };
        assert_eq!(sessions(&app), ["new", "old"], "newest first");
        // The operator is on `new`, second pane.
        app.act(crate::input::Action::SwitchFocus);
        app.act(crate::input::Action::Down);
        assert_eq!(app.selected_pane().unwrap().tmux_pane_index, 1);
        // `old` starts waiting: it lists first, the selection stays put.
        let mut waits = old;
        waits.panes[0].activity = waiting_pane("x", 0, 5).activity;
        app.apply(Server::Layout(Box::new(waits)));
        assert_eq!(sessions(&app), ["old", "new"]);
        assert_eq!(app.selected_layout().unwrap().tmux_session_name, "new");
        assert_eq!(app.selected_pane().unwrap().tmux_pane_index, 1);
    }
}
