//! Keys to intents. `map` turns a key press into an `Action` for the
//! current mode; the state decides what the action means.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::state::{CreateForm, Mode};

/// What the operator asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Quit,
    Help,
    /// Close the overlay.
    Close,
    Up,
    Down,
    /// Move between the layout list and the pane list.
    SwitchFocus,
    OpenCreate,
    Form(FormEdit),
    Submit,
    RemovePane,
    RecreatePane,
    RemoveLayout,
    /// Yes to a confirmation.
    Confirm,
    ShowLog,
    /// Show the selected pane's tmux pane in this terminal.
    Attach,
    /// Open the go-to prompt.
    OpenGoTo,
    /// Select the next pane waiting for input.
    NextWaiting,
    CycleContainer,
    CycleState,
}

/// The fields of the create dialog, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Container,
    Template,
    Session,
    IdempotencyKey,
}

const FIELDS: [Field; 4] = [
    Field::Container,
    Field::Template,
    Field::Session,
    Field::IdempotencyKey,
];

/// An edit inside the create dialog or the go-to prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FormEdit {
    NextField,
    PrevField,
    /// Previous / next choice of a list field.
    Choice(i8),
    Type(char),
    Backspace,
}

impl FormEdit {
    /// Applies the edit; `containers` and `templates` bound the choices.
    pub(crate) fn apply(&self, form: &mut CreateForm, containers: usize, templates: usize) {
        let at = FIELDS.iter().position(|f| *f == form.field).unwrap_or(0);
        match self {
            FormEdit::NextField => form.field = FIELDS[(at + 1) % FIELDS.len()],
            FormEdit::PrevField => form.field = FIELDS[(at + FIELDS.len() - 1) % FIELDS.len()],
            FormEdit::Choice(step) => {
                let (value, len) = match form.field {
                    Field::Container => (&mut form.container, containers),
                    Field::Template => (&mut form.template, templates),
                    _ => return,
                };
                if len > 0 {
                    *value = (*value as isize + *step as isize).rem_euclid(len as isize) as usize;
                }
            }
            FormEdit::Type(_) | FormEdit::Backspace => {
                if let Some(text) = text_field(form) {
                    self.apply_text(text);
                }
            }
        }
    }

    /// Applies a typing edit to `text`; other edits leave it alone.
    pub(crate) fn apply_text(&self, text: &mut String) {
        match self {
            FormEdit::Type(c) => {
                // Names are short identifiers; the daemon validates them.
                if text.chars().count() < 64 && !c.is_control() {
                    text.push(*c);
                }
            }
            FormEdit::Backspace => {
                text.pop();
            }
            FormEdit::NextField | FormEdit::PrevField | FormEdit::Choice(_) => {}
        }
    }
}

fn text_field(form: &mut CreateForm) -> Option<&mut String> {
    match form.field {
        Field::Session => Some(&mut form.session),
        Field::IdempotencyKey => Some(&mut form.idempotency_key),
        _ => None,
    }
}

/// The action of `key` in `mode`, if it means anything there.
pub(crate) fn map(mode: &Mode, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    match mode {
        Mode::Normal => normal(key.code),
        Mode::Help | Mode::Log { .. } => match key.code {
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') | KeyCode::Enter => {
                Some(Action::Close)
            }
            _ => None,
        },
        Mode::ConfirmRemoveLayout { .. } => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => Some(Action::Confirm),
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Char('q') => {
                Some(Action::Close)
            }
            _ => None,
        },
        Mode::Create(form) => create(form, key.code),
        Mode::GoTo { .. } => go_to(key.code),
    }
}

fn normal(code: KeyCode) -> Option<Action> {
    Some(match code {
        KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Tab | KeyCode::Left | KeyCode::Right => Action::SwitchFocus,
        KeyCode::Char('c') | KeyCode::Char('n') => Action::OpenCreate,
        KeyCode::Char('x') => Action::RemovePane,
        KeyCode::Char('r') => Action::RecreatePane,
        KeyCode::Char('X') => Action::RemoveLayout,
        KeyCode::Char('l') => Action::ShowLog,
        KeyCode::Enter | KeyCode::Char('a') => Action::Attach,
        KeyCode::Char('/') => Action::OpenGoTo,
        KeyCode::Char('w') => Action::NextWaiting,
        KeyCode::Char('f') => Action::CycleContainer,
        KeyCode::Char('s') => Action::CycleState,
        _ => return None,
    })
}

fn create(form: &CreateForm, code: KeyCode) -> Option<Action> {
    let choice = matches!(form.field, Field::Container | Field::Template);
    Some(match code {
        KeyCode::Esc => Action::Close,
        KeyCode::Enter => Action::Submit,
        KeyCode::Tab | KeyCode::Down => Action::Form(FormEdit::NextField),
        KeyCode::BackTab | KeyCode::Up => Action::Form(FormEdit::PrevField),
        KeyCode::Left if choice => Action::Form(FormEdit::Choice(-1)),
        KeyCode::Right | KeyCode::Char(' ') if choice => Action::Form(FormEdit::Choice(1)),
        KeyCode::Backspace => Action::Form(FormEdit::Backspace),
        KeyCode::Char(c) if !choice => Action::Form(FormEdit::Type(c)),
        _ => return None,
    })
}

/// The go-to prompt: every printable key types, as in a shell.
fn go_to(code: KeyCode) -> Option<Action> {
    Some(match code {
        KeyCode::Esc => Action::Close,
        KeyCode::Enter => Action::Submit,
        KeyCode::Backspace => Action::Form(FormEdit::Backspace),
        KeyCode::Char(c) => Action::Form(FormEdit::Type(c)),
        _ => return None,
    })
}

/// The key help, as (keys, what) rows.
pub(crate) const HELP: &[(&str, &str)] = &[
    ("↑ ↓  j k", "move in the focused list"),
    ("Tab ← →", "switch between layouts and panes"),
    ("c", "create a layout (container, template, session, key)"),
    ("x", "remove the selected pane"),
    ("r", "recreate the selected (removed or failed) pane"),
    ("X", "remove the selected layout (asks first)"),
    (
        "Enter  a",
        "attach to the selected pane (detach to come back)",
    ),
    ("/", "go to a name: label, session, c1:work, id prefix"),
    ("l", "show the tail of the selected pane's log"),
    ("w", "select the next pane waiting for you (needs you)"),
    ("f", "filter layouts by container (cycles, then all)"),
    ("s", "filter layouts by state (cycles, then all live)"),
    ("?", "this help"),
    ("q  Esc", "quit (or close the overlay)"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn form(field: Field) -> CreateForm {
        CreateForm {
            container: 0,
            template: 0,
            session: String::new(),
            idempotency_key: String::new(),
            field,
        }
    }

    #[test]
    fn normal_keys_map_to_actions() {
        let m = Mode::Normal;
        assert_eq!(map(&m, key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(map(&m, key(KeyCode::Char('?'))), Some(Action::Help));
        assert_eq!(map(&m, key(KeyCode::Char('c'))), Some(Action::OpenCreate));
        assert_eq!(map(&m, key(KeyCode::Char('x'))), Some(Action::RemovePane));
        assert_eq!(map(&m, key(KeyCode::Char('r'))), Some(Action::RecreatePane));
        assert_eq!(map(&m, key(KeyCode::Char('X'))), Some(Action::RemoveLayout));
        assert_eq!(map(&m, key(KeyCode::Char('j'))), Some(Action::Down));
        assert_eq!(map(&m, key(KeyCode::Char('w'))), Some(Action::NextWaiting));
        assert_eq!(map(&m, key(KeyCode::Enter)), Some(Action::Attach));
        assert_eq!(map(&m, key(KeyCode::Char('a'))), Some(Action::Attach));
        assert_eq!(map(&m, key(KeyCode::Char('l'))), Some(Action::ShowLog));
        assert_eq!(map(&m, key(KeyCode::Char('/'))), Some(Action::OpenGoTo));
        assert_eq!(map(&m, key(KeyCode::Char('z'))), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(map(&m, ctrl_c), Some(Action::Quit));
    }

    #[test]
    fn typing_in_the_dialog_edits_text_fields_only() {
        let m = Mode::Create(form(Field::Session));
        assert_eq!(
            map(&m, key(KeyCode::Char('q'))),
            Some(Action::Form(FormEdit::Type('q'))),
            "q types into a text field instead of quitting"
        );
        let m = Mode::Create(form(Field::Template));
        assert_eq!(map(&m, key(KeyCode::Char('q'))), None);
        assert_eq!(
            map(&m, key(KeyCode::Right)),
            Some(Action::Form(FormEdit::Choice(1)))
        );
        assert_eq!(map(&m, key(KeyCode::Esc)), Some(Action::Close));
        assert_eq!(map(&m, key(KeyCode::Enter)), Some(Action::Submit));
    }

    #[test]
    fn form_edits_wrap_and_stay_in_bounds() {
        let mut f = form(Field::Container);
        FormEdit::Choice(-1).apply(&mut f, 3, 2);
        assert_eq!(f.container, 2);
        FormEdit::NextField.apply(&mut f, 3, 2);
        assert_eq!(f.field, Field::Template);
        FormEdit::Choice(1).apply(&mut f, 3, 2);
        FormEdit::Choice(1).apply(&mut f, 3, 2);
        assert_eq!(f.template, 0);
        FormEdit::NextField.apply(&mut f, 3, 2);
        for c in "ab".chars() {
            FormEdit::Type(c).apply(&mut f, 3, 2);
        }
        FormEdit::Backspace.apply(&mut f, 3, 2);
        FormEdit::Type('\u{7}').apply(&mut f, 3, 2);
        assert_eq!(f.session, "a");
        FormEdit::PrevField.apply(&mut f, 3, 2);
        FormEdit::PrevField.apply(&mut f, 3, 2);
        FormEdit::PrevField.apply(&mut f, 3, 2);
        assert_eq!(f.field, Field::IdempotencyKey);
    }

    #[test]
    fn the_go_to_prompt_types_every_character() {
        let m = Mode::GoTo {
            name: String::new(),
        };
        for c in ['q', 'a', 'x', '/', ':', '?'] {
            assert_eq!(
                map(&m, key(KeyCode::Char(c))),
                Some(Action::Form(FormEdit::Type(c))),
                "{c} types into the prompt"
            );
        }
        assert_eq!(
            map(&m, key(KeyCode::Backspace)),
            Some(Action::Form(FormEdit::Backspace))
        );
        assert_eq!(map(&m, key(KeyCode::Enter)), Some(Action::Submit));
        assert_eq!(map(&m, key(KeyCode::Esc)), Some(Action::Close));
        assert_eq!(map(&m, key(KeyCode::Tab)), None);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(map(&m, ctrl_c), Some(Action::Quit));
        let mut text = String::new();
        for edit in [
            FormEdit::Type('c'),
            FormEdit::Type('1'),
            FormEdit::Type('\u{1b}'),
            FormEdit::Backspace,
            FormEdit::Type('2'),
            FormEdit::NextField,
        ] {
            edit.apply_text(&mut text);
        }
        assert_eq!(text, "c2", "control characters are not typed");
    }

    #[test]
    fn confirmation_needs_a_yes() {
        let m = Mode::ConfirmRemoveLayout {
            layout_id: "l".into(),
            session: "s".into(),
        };
        assert_eq!(map(&m, key(KeyCode::Char('y'))), Some(Action::Confirm));
        assert_eq!(map(&m, key(KeyCode::Char('n'))), Some(Action::Close));
        assert_eq!(map(&m, key(KeyCode::Char('x'))), None);
    }
}
