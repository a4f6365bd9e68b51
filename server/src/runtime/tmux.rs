//! Building tmux command chains as argv and reading their output. One chain
//! is one runtime call: every `docker exec` costs tens of milliseconds.

/// A `cmd1 ; cmd2 ; ...` tmux invocation as separate arguments.
#[derive(Debug, Default, Clone)]
pub(crate) struct Chain {
    args: Vec<String>,
    commands: usize,
}

impl Chain {
    pub(crate) fn new() -> Self {
        Chain::default()
    }

    /// Appends one tmux command. Arguments are passed verbatim except that a
    /// trailing `;` is escaped, since tmux would otherwise split the command
    /// there.
    pub(crate) fn cmd<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if self.commands > 0 {
            self.args.push(";".into());
        }
        self.args.extend(args.into_iter().map(|a| escape(a.into())));
        self.commands += 1;
        self
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.commands == 0
    }

    pub(crate) fn into_args(self) -> Vec<String> {
        self.args
    }
}

fn escape(mut arg: String) -> String {
    if arg.ends_with(';') {
        arg.insert(arg.len() - 1, '\\');
    }
    arg
}

/// An exact-session target (`=name:`) so a prefix never matches another
/// session; resolves to the session's active pane.
pub(crate) fn session_target(session: &str) -> String {
    format!("={session}:")
}

/// `#{...}` fields of `list-panes` separated by a tab.
pub(crate) const PANE_FIELDS: &str =
    "#{session_name}\t#{pane_id}\t#{pane_dead}\t#{pane_dead_status}\t#{pane_pipe}\t#{pane_title}";

/// One line of `list-panes -F PANE_FIELDS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PaneInfo {
    pub session: String,
    pub pane_id: String,
    pub dead: bool,
    pub dead_status: Option<i32>,
    pub pipe: bool,
    pub title: String,
}

/// Parses `list-panes -F PANE_FIELDS` output, skipping malformed lines.
pub(crate) fn parse_panes(out: &str) -> Vec<PaneInfo> {
    out.lines()
        .filter_map(|line| {
            let mut f = line.splitn(6, '\t');
            let session = f.next()?.to_string();
            let pane_id = f.next()?.to_string();
            if !pane_id.starts_with('%') {
                return None;
            }
            Some(PaneInfo {
                session,
                pane_id,
                dead: f.next()? == "1",
                dead_status: f.next().and_then(|s| s.parse().ok()),
                pipe: f.next()? == "1",
                title: f.next().unwrap_or("").to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_separate_commands_and_escape_trailing_semicolons() {
        let mut c = Chain::new();
        c.cmd(["new-session", "-d"]).cmd(["run", "a;", "b\\;", ";"]);
        assert_eq!(
            c.into_args(),
            ["new-session", "-d", ";", "run", "a\\;", "b\\\\;", "\\;"]
        );
    }

    #[test]
    fn pane_listing_parses_dead_status_and_titles_with_tabs() {
        let out = "w\t%3\t1\t7\t0\t@MANAGED:t:l\nw\t%4\t0\t\t1\ta\tb\ngarbage\n";
        let panes = parse_panes(out);
        assert_eq!(panes.len(), 2);
        assert_eq!((panes[0].dead, panes[0].dead_status), (true, Some(7)));
        assert_eq!((panes[1].pipe, panes[1].title.as_str()), (true, "a\tb"));
    }
}
