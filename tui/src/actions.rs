//! Operator actions folded into the view model: `App::act` changes the
//! selection, filters and dialogs, and says which request, if any, to send.

use agenttower::pb;

use crate::conn::Request;
use crate::input::{Action, Field};
use crate::state::{App, CreateForm, Focus, Mode, Status};

impl App {
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
                match &mut self.mode {
                    Mode::Create(form) => {
                        edit.apply(form, self.containers.len(), self.templates.len())
                    }
                    Mode::GoTo { name } => edit.apply_text(name),
                    _ => {}
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
            Action::NextWaiting => {
                self.jump_to_waiting();
                None
            }
            Action::ShowLog => self.selected_pane().map(|p| Request::LogTail {
                label: p.label.clone(),
                path: p.log_path.clone(),
            }),
            Action::Attach => {
                let request = self.selected_pane().map(|p| Request::Attach {
                    pane_id: p.pane_id.clone(),
                });
                if request.is_none() {
                    self.status = Some(Status::Info("no pane to attach to".into()));
                }
                request
            }
            Action::OpenGoTo => {
                self.mode = Mode::GoTo {
                    name: String::new(),
                };
                None
            }
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
        if let Mode::GoTo { name } = &self.mode {
            let name = name.trim().to_string();
            self.mode = Mode::Normal;
            return (!name.is_empty()).then_some(Request::GoTo { name });
        }
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
        // Show the new layout once it appears.
        self.follow = Some(form.session.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_cycle_through_every_value_and_back_to_all() {
        assert_eq!(cycle(&[1, 2], None), Some(1));
        assert_eq!(cycle(&[1, 2], Some(&1)), Some(2));
        assert_eq!(cycle(&[1, 2], Some(&2)), None);
    }
}
