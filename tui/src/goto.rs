//! Going to a name (`/`): the daemon resolved what the operator typed to a
//! pane, an agent or a layout; the console selects it, clearing a filter
//! that would hide it. `select` is also how `w` moves to a waiting pane.

use agenttower::names::ShortName as _;
use agenttower::pb;

use crate::state::{App, Focus, Status};

impl App {
    /// Selects what `name` resolved to and says what it was.
    pub(crate) fn found(&mut self, name: &str, found: pb::ResolveNameResponse) {
        let how = found.r#match().short_name();
        let pane = found.pane.as_ref().filter(|p| !p.layout_id.is_empty());
        let (selected, what) = match (found.kind(), pane, &found.layout, &found.agent) {
            (pb::NameKind::Pane | pb::NameKind::Agent, Some(p), _, _) => (
                self.select(&p.layout_id, Some((&p.pane_id, p.tmux_pane_index))),
                format!("pane {}", p.label),
            ),
            (pb::NameKind::Layout, _, Some(l), _) => (
                self.select(&l.layout_id, None),
                format!("layout {}", l.tmux_session_name),
            ),
            (pb::NameKind::Agent, None, _, Some(a)) => {
                let container = found.container.as_ref().map_or("", |c| c.name.as_str());
                self.status = Some(Status::Info(format!(
                    "{name}: {} is an adopted agent in {container}; it has no layout to select",
                    a.label
                )));
                return;
            }
            _ => (false, name.to_string()),
        };
        self.status = Some(Status::Info(if selected {
            format!("{name}: {what} (matched by {how})")
        } else {
            format!("{name}: {what} is not in the console's lists yet")
        }));
    }

    /// Selects the layout `layout_id` and, given as (pane id, tmux slot),
    /// its pane (else the layout list gets the focus). A container or
    /// state filter that hides the layout is cleared (a removed layout
    /// shows under the `removed` filter). False when the console does not
    /// know the layout.
    pub(crate) fn select(&mut self, layout_id: &str, pane: Option<(&str, u32)>) -> bool {
        let Some(layout) = self.layouts.get(layout_id) else {
            return false;
        };
        let removed = layout.state() == pb::LayoutState::Removed;
        let listed = |app: &App| {
            app.visible_layouts()
                .iter()
                .position(|l| l.layout_id == layout_id)
        };
        if listed(self).is_none() {
            self.container_filter = None;
            self.state_filter = removed.then_some(pb::LayoutState::Removed);
        }
        let Some(at) = listed(self) else {
            return false;
        };
        self.selected_layout = at;
        self.selected_pane = 0;
        self.focus = Focus::Layouts;
        if let Some((pane_id, slot)) = pane {
            // The pane itself, else its slot's current pane (a successor).
            let panes = self.visible_panes();
            let i = panes
                .iter()
                .position(|p| p.pane_id == pane_id)
                .or_else(|| panes.iter().position(|p| p.tmux_pane_index == slot));
            if let Some(i) = i {
                self.selected_pane = i;
                self.focus = Focus::Panes;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conn::{Request, Server, Snapshot};
    use crate::input::{Action, FormEdit};
    use crate::state::Mode;
    use time::OffsetDateTime;

    fn pane(layout: &str, label: &str, index: u32) -> pb::Pane {
        pb::Pane {
            pane_id: format!("p-{label}"),
            layout_id: layout.into(),
            label: label.into(),
            tmux_pane_index: index,
            state: pb::PaneState::Ready as i32,
            ..Default::default()
        }
    }

    fn layout(id: &str, session: &str, state: pb::LayoutState, container: &str) -> pb::Layout {
        pb::Layout {
            layout_id: id.into(),
            tmux_session_name: session.into(),
            container_id: container.into(),
            state: state as i32,
            panes: vec![
                pane(id, &format!("{session}.m1"), 0),
                pane(id, &format!("{session}.s1"), 1),
            ],
            ..Default::default()
        }
    }

    fn app() -> App {
        let mut app = App::new("s".into(), OffsetDateTime::UNIX_EPOCH);
        app.apply(Server::Snapshot(Snapshot {
            layouts: vec![
                layout("L1", "work", pb::LayoutState::Ready, "local"),
                layout("L2", "build", pb::LayoutState::Ready, "c1"),
                layout("L3", "old", pb::LayoutState::Removed, "local"),
            ],
            ..Default::default()
        }));
        app
    }

    fn found(kind: pb::NameKind, how: pb::NameMatch) -> pb::ResolveNameResponse {
        pb::ResolveNameResponse {
            kind: kind as i32,
            r#match: how as i32,
            container: Some(pb::Container {
                container_id: "local".into(),
                name: "local".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn selected(app: &App) -> (String, Option<String>, Focus) {
        (
            app.selected_layout().unwrap().tmux_session_name.clone(),
            (app.focus == Focus::Panes).then(|| app.selected_pane().unwrap().label.clone()),
            app.focus,
        )
    }

    #[test]
    fn the_prompt_sends_what_was_typed() {
        let mut app = app();
        app.act(Action::OpenGoTo);
        for c in " build.s1 ".chars() {
            app.act(Action::Form(FormEdit::Type(c)));
        }
        assert_eq!(
            app.mode,
            Mode::GoTo {
                name: " build.s1 ".into()
            }
        );
        assert_eq!(
            app.act(Action::Submit),
            Some(Request::GoTo {
                name: "build.s1".into()
            })
        );
        assert_eq!(app.mode, Mode::Normal);
        // Nothing typed: nothing sent; Esc: closed.
        app.act(Action::OpenGoTo);
        assert_eq!(app.act(Action::Submit), None);
        app.act(Action::OpenGoTo);
        app.act(Action::Close);
        assert_eq!(app.mode, Mode::Normal);
    }

    #[test]
    fn a_found_pane_is_selected_even_behind_a_filter() {
        let mut app = app();
        app.container_filter = Some("local".into());
        let mut r = found(pb::NameKind::Pane, pb::NameMatch::Name);
        r.pane = Some(pane("L2", "build.s1", 1));
        app.apply(Server::Found {
            name: "build.s1".into(),
            found: Box::new(r),
        });
        assert_eq!(app.container_filter, None, "the filter hid it");
        assert_eq!(
            selected(&app),
            ("build".into(), Some("build.s1".into()), Focus::Panes)
        );
        assert_eq!(
            app.status,
            Some(Status::Info(
                "build.s1: pane build.s1 (matched by name)".into()
            ))
        );
    }

    #[test]
    fn a_found_layout_is_selected_removed_ones_under_their_filter() {
        let mut app = app();
        let mut r = found(pb::NameKind::Layout, pb::NameMatch::IdPrefix);
        r.layout = Some(layout("L3", "old", pb::LayoutState::Removed, "local"));
        app.apply(Server::Found {
            name: "L3".into(),
            found: Box::new(r),
        });
        assert_eq!(app.state_filter, Some(pb::LayoutState::Removed));
        assert_eq!(selected(&app), ("old".into(), None, Focus::Layouts));
        assert_eq!(
            app.status,
            Some(Status::Info("L3: layout old (matched by id_prefix)".into()))
        );
    }

    #[test]
    fn an_agent_selects_its_pane_or_says_it_has_no_layout() {
        let mut app = app();
        let mut r = found(pb::NameKind::Agent, pb::NameMatch::Id);
        r.agent = Some(pb::Agent {
            label: "work.s1".into(),
            ..Default::default()
        });
        r.pane = Some(pane("L1", "work.s1", 1));
        app.apply(Server::Found {
            name: "a-1".into(),
            found: Box::new(r.clone()),
        });
        assert_eq!(
            selected(&app),
            ("work".into(), Some("work.s1".into()), Focus::Panes)
        );

        r.pane = None;
        r.agent.as_mut().unwrap().label = "notes".into();
        app.apply(Server::Found {
            name: "notes".into(),
            found: Box::new(r),
        });
        assert_eq!(
            app.status,
            Some(Status::Info(
                "notes: notes is an adopted agent in local; it has no layout to select".into()
            ))
        );
        assert_eq!(selected(&app).0, "work", "the selection stays");
    }

    #[test]
    fn a_layout_the_console_has_not_seen_keeps_the_selection() {
        let mut app = app();
        let mut r = found(pb::NameKind::Layout, pb::NameMatch::Name);
        r.layout = Some(layout("L9", "new", pb::LayoutState::Creating, "local"));
        app.apply(Server::Found {
            name: "new".into(),
            found: Box::new(r),
        });
        assert_eq!(
            app.status,
            Some(Status::Info(
                "new: layout new is not in the console's lists yet".into()
            ))
        );
    }
}
