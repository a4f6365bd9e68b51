//! The one module that speaks tmux: command chains as argv, the two escaping
//! rules tmux imposes (its format expander and its command parser),
//! ownership guards, and the parsing of pane listings. One chain is one
//! runtime call where tmux allows it: every `docker exec` costs tens of
//! milliseconds.

pub(crate) mod ops;
mod panes;

pub(crate) use ops::list_marked;
pub(crate) use panes::{Marked, PANE_FIELDS, PaneInfo, parse_panes};

use std::time::Duration;

use super::{Runtime, RuntimeError};

/// tmux user option holding a pane's pending-marker token while it is created.
pub(crate) const MARKER_OPTION: &str = "@agenttower_marker";
/// Prefix of the pending-marker pane title.
pub(crate) const MARKER_PREFIX: &str = "@MANAGED:";
/// tmux pane option naming the managed pane row a tmux pane belongs to. It is
/// set in the command that creates the pane and never removed: it is what
/// makes a tmux pane "ours" (`%N` alone restarts at `%0` with the server).
pub(crate) const OWNER_OPTION: &str = "@agenttower_pane";
/// What a guarded command prints instead of acting on a pane that is not the
/// one it meant: `agenttower-foreign:%N`.
pub(crate) const FOREIGN: &str = "agenttower-foreign:";
/// The identity of a tmux server instance: its pid and start time.
pub(crate) const SERVER_FORMAT: &str = "#{pid}:#{start_time}";
/// Most argv bytes one tmux call carries. The tmux client sends a command's
/// argv in one message of at most 16 KiB and refuses a longer one.
pub(crate) const MAX_CALL_BYTES: usize = 12 * 1024;

/// A `cmd1 ; cmd2 ; ...` tmux invocation, kept as units that are never split
/// across two calls (a pane's creation and the options set on it).
#[derive(Debug, Default, Clone)]
pub(crate) struct Chain {
    units: Vec<Vec<Vec<String>>>,
    /// Commands that do not depend on each other (each guarded): a failing
    /// one does not stop the rest, across calls too.
    independent: bool,
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
        self.units.push(vec![command(args)]);
        self
    }

    /// Appends commands that must run in the same tmux call.
    pub(crate) fn unit(&mut self, unit: Chain) -> &mut Self {
        let commands: Vec<Vec<String>> = unit.units.into_iter().flatten().collect();
        if !commands.is_empty() {
            self.units.push(commands);
        }
        self
    }

    /// Appends `args`, run only if tmux pane `pane` is the one `owner` says
    /// it is, checked by tmux in the same command. A pane that exists but is
    /// not ours prints `agenttower-foreign:%N` and is left alone; a missing
    /// pane fails with tmux's "can't find pane". Guarded commands do not
    /// stop each other.
    pub(crate) fn guarded<I, S>(&mut self, pane: &str, owner: &Owner<'_>, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let action: Vec<String> = args.into_iter().map(|a| quote(&a.into())).collect();
        self.independent = true;
        self.cmd([
            "if-shell".to_string(),
            "-F".into(),
            "-t".into(),
            pane.into(),
            owner.condition(),
            action.join(" "),
            format!("display-message -p -t {pane} {FOREIGN}{pane}"),
        ])
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// The whole chain as the argv of one call.
    #[cfg(test)]
    pub(crate) fn into_args(self) -> Vec<String> {
        join(self.units.into_iter().flatten())
    }

    /// The chain split into calls of at most `MAX_CALL_BYTES` of argv, at
    /// unit boundaries. A single unit over the limit is a call of its own
    /// (tmux refuses it, and says so).
    fn into_calls(self) -> Vec<Vec<String>> {
        let mut calls: Vec<Vec<Vec<String>>> = Vec::new();
        let mut size = 0;
        for unit in self.units {
            // Each argument and its NUL, and a `;` before each command.
            let unit_size: usize = unit
                .iter()
                .map(|cmd| cmd.iter().map(|a| a.len() + 1).sum::<usize>() + 2)
                .sum();
            match calls.last_mut() {
                Some(call) if size + unit_size <= MAX_CALL_BYTES => {
                    call.extend(unit);
                    size += unit_size;
                }
                _ => {
                    calls.push(unit);
                    size = unit_size;
                }
            }
        }
        calls.into_iter().map(join).collect()
    }
}

fn command<I, S>(args: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    args.into_iter()
        .map(|a| {
            let mut a = a.into();
            if a.ends_with(';') {
                a.insert(a.len() - 1, '\\');
            }
            a
        })
        .collect()
}

fn join(commands: impl IntoIterator<Item = Vec<String>>) -> Vec<String> {
    let mut args = Vec::new();
    for (i, cmd) in commands.into_iter().enumerate() {
        if i > 0 {
            args.push(";".into());
        }
        args.extend(cmd);
    }
    args
}

/// Runs `chain`, split into as few calls as tmux accepts, and returns what
/// it printed. A dependent chain stops at the first failing call, as tmux
/// stops a chain at its first failing command; the error's stdout holds what
/// the calls before printed.
pub(crate) async fn run(
    rt: &dyn Runtime,
    chain: Chain,
    timeout: Duration,
) -> Result<String, RuntimeError> {
    let independent = chain.independent;
    let mut out = String::new();
    let mut failures = Vec::new();
    for call in chain.into_calls() {
        match rt.tmux(call, timeout).await {
            Ok(printed) => out.push_str(&printed),
            Err(RuntimeError::Failed { message, stdout }) => {
                out.push_str(&stdout);
                if !independent {
                    return Err(RuntimeError::Failed {
                        message,
                        stdout: out,
                    });
                }
                failures.push(message);
            }
            Err(e) => return Err(e),
        }
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err(RuntimeError::Failed {
            message: failures.join("\n"),
            stdout: out,
        })
    }
}

/// What proves that a tmux pane is the one a row means.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owner<'a> {
    /// A managed pane: its `OWNER_OPTION` holds this pane row id.
    Pane(&'a str),
    /// An adopted pane: it lives on the tmux server instance recorded when
    /// it was adopted (`SERVER_FORMAT`); a server never reuses a pane id.
    Server(&'a str),
}

impl Owner<'_> {
    /// The tmux format that is `1` exactly when the target pane is ours.
    fn condition(&self) -> String {
        match self {
            Owner::Pane(id) => format!("#{{==:#{{{OWNER_OPTION}}},{}}}", format_literal(id)),
            Owner::Server(server) => {
                format!("#{{==:{SERVER_FORMAT},{}}}", format_literal(server))
            }
        }
    }
}

/// The `%N` panes a guarded chain found to be someone else's.
pub(crate) fn foreign_panes(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix(FOREIGN))
        .map(String::from)
        .collect()
}

/// Whether every error in tmux's `message` says a target does not exist.
pub(crate) fn only_missing(message: &str) -> bool {
    message
        .lines()
        .filter(|l| !l.trim().is_empty())
        .all(|l| l.contains("can't find"))
}

/// `s` for a tmux argument that tmux format-expands (`-c`, `-s`, `-T`,
/// `pipe-pane`'s command): every `#` doubled, so `#{…}` and `#(…)` stay
/// literal text and never run.
pub(crate) fn format_literal(s: &str) -> String {
    s.replace('#', "##")
}

/// `arg` as one word for tmux's command parser (the commands `if-shell`
/// runs): bare when it is plainly safe, else single-quoted, where nothing
/// is special but the quote itself.
pub(crate) fn quote(arg: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "%_./:=@+-".contains(c);
    if !arg.is_empty() && arg.chars().all(plain) && !arg.starts_with('%') {
        return arg.to_string();
    }
    if arg.starts_with('%') && arg.len() > 1 && arg[1..].chars().all(|c| c.is_ascii_digit()) {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// An exact-session target (`=name:`) so a prefix never matches another
/// session; resolves to the session's active pane.
pub(crate) fn session_target(session: &str) -> String {
    format!("={session}:")
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
    fn long_chains_split_into_calls_at_unit_boundaries() {
        let mut c = Chain::new();
        for i in 0..64 {
            let mut unit = Chain::new();
            unit.cmd(["split-window", "-e", &format!("K={}", "v".repeat(200))])
                .cmd(["set-option", "-p", "@x", &i.to_string()]);
            c.unit(unit);
        }
        let calls = c.into_calls();
        assert!(calls.len() > 1);
        for call in &calls {
            let size: usize = call.iter().map(|a| a.len() + 1).sum();
            assert!(size <= MAX_CALL_BYTES, "{size}");
            assert_eq!(call[0], "split-window", "a call starts a unit");
            assert!(
                call.last().unwrap().parse::<usize>().is_ok(),
                "a call ends a unit"
            );
        }
        let units: usize = calls
            .iter()
            .map(|c| c.iter().filter(|a| *a == "split-window").count())
            .sum();
        assert_eq!(units, 64);
    }

    #[test]
    fn guarded_commands_quote_operator_text_for_the_parser() {
        let mut c = Chain::new();
        c.guarded(
            "%3",
            &Owner::Pane("0190-ab"),
            [
                "send-keys",
                "-t",
                "%3",
                "-l",
                "--",
                "it's #{x} $HOME ~ ; {}",
            ],
        );
        let args = c.into_args();
        assert_eq!(
            &args[..5],
            [
                "if-shell",
                "-F",
                "-t",
                "%3",
                "#{==:#{@agenttower_pane},0190-ab}"
            ]
        );
        assert_eq!(
            args[5],
            r"send-keys -t %3 -l -- 'it'\''s #{x} $HOME ~ ; {}'"
        );
        assert_eq!(args[6], "display-message -p -t %3 agenttower-foreign:%3");
    }

    #[test]
    fn format_expanded_text_keeps_hashes_literal() {
        assert_eq!(
            format_literal("/x/a#(touch y)#{s}##"),
            "/x/a##(touch y)##{s}####"
        );
        assert_eq!(quote(""), "''");
        assert_eq!(quote("%12"), "%12");
        assert_eq!(quote("%if"), "'%if'");
        assert_eq!(quote("a b"), "'a b'");
    }

    #[test]
    fn foreign_and_missing_panes_are_told_apart() {
        assert_eq!(foreign_panes("agenttower-foreign:%0\nx\n"), ["%0"]);
        assert!(only_missing("can't find pane: %4\ncan't find pane: %5"));
        assert!(!only_missing(
            "can't find pane: %4\nserver exited unexpectedly"
        ));
    }
}
