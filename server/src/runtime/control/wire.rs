//! The control-mode wire (tmux(1), "CONTROL MODE"): a call's argv written
//! as one line for tmux's command parser, and tmux's reply stream cut into
//! reply blocks and notifications. Pure functions, so every quoting and
//! framing rule is tested without a tmux.

/// The argv of one call, as `tmux::Chain` builds it (commands separated by
/// a lone `;`, a trailing `;` of an argument escaped as `\;`), as one
/// control-mode line. Every argument is one word for the parser, whatever it
/// holds: a newline cannot end the line early and nothing is expanded.
pub(crate) fn line(args: &[String]) -> String {
    let mut out = String::new();
    for arg in args {
        if !out.is_empty() {
            out.push(' ');
        }
        if arg == ";" {
            out.push(';');
            continue;
        }
        // `Chain` escaped a trailing `;` for the argv parser; the quoting
        // below already keeps it literal.
        let arg = match arg.strip_suffix("\\;") {
            Some(head) => format!("{head};"),
            None => arg.clone(),
        };
        out.push_str(&word(&arg));
    }
    out
}

/// Bytes that are plain text to tmux's parser anywhere in a word.
fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_./:=@+-,%".contains(&b)
}

/// `arg` as one parser word: bare when plainly safe, else double-quoted
/// with every byte that could mean anything to the parser (quotes, `\`,
/// `$`, `~`, `#`, braces, `;`, control characters, non-ASCII) written as a
/// `\ooo` octal escape, which the parser turns back into that byte.
fn word(arg: &str) -> String {
    let bytes = arg.as_bytes();
    if !bytes.is_empty() && bytes.iter().all(|b| plain(*b)) && bytes[0] != b'%' {
        return arg.to_string();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for &b in bytes {
        if plain(b) || b == b' ' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    out.push('"');
    out
}

/// One reply block: what a command printed, and whether it failed
/// (`%error` instead of `%end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    pub failed: bool,
    pub lines: Vec<String>,
}

/// What a line of the stream completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A reply block closed.
    Block(Block),
    /// A doorbell: `%output`, a pane of the attached control session
    /// printed.
    Bell,
    /// `%exit`: the server is detaching this client.
    Exit,
}

/// Most bytes one reply block keeps; a longer reply fails rather than grow
/// without bound.
pub(crate) const MAX_BLOCK_BYTES: usize = 16 << 20;

/// Cuts the stream into blocks. A block is the lines between `%begin T N F`
/// and the `%end T N F` or `%error T N F` with the same command number `N`;
/// tmux never sends a notification inside one.
#[derive(Debug, Default)]
pub(crate) struct Framer {
    open: Option<Open>,
}

#[derive(Debug)]
struct Open {
    number: String,
    lines: Vec<String>,
    bytes: usize,
    overflow: bool,
}

impl Framer {
    /// Feeds one line (without its newline).
    pub(crate) fn feed(&mut self, line: &str) -> Option<Item> {
        if let Some(open) = &mut self.open {
            for (guard, failed) in [("%end ", false), ("%error ", true)] {
                if let Some(rest) = line.strip_prefix(guard)
                    && number(rest) == Some(open.number.as_str())
                {
                    let open = self.open.take()?;
                    return Some(Item::Block(if open.overflow {
                        Block {
                            failed: true,
                            lines: vec![format!("reply longer than {MAX_BLOCK_BYTES} bytes")],
                        }
                    } else {
                        Block {
                            failed,
                            lines: open.lines,
                        }
                    }));
                }
            }
            open.bytes += line.len() + 1;
            if open.bytes > MAX_BLOCK_BYTES {
                open.overflow = true;
                open.lines = Vec::new();
            } else {
                open.lines.push(line.to_string());
            }
            return None;
        }
        if let Some(rest) = line.strip_prefix("%begin ") {
            self.open = number(rest).map(|n| Open {
                number: n.to_string(),
                lines: Vec::new(),
                bytes: 0,
                overflow: false,
            });
            None
        } else if line.starts_with("%output ") || line.starts_with("%extended-output ") {
            Some(Item::Bell)
        } else if line == "%exit" || line.starts_with("%exit ") {
            Some(Item::Exit)
        } else {
            None
        }
    }
}

/// The command number `N` of a guard's `T N F`.
fn number(rest: &str) -> Option<&str> {
    let mut f = rest.split(' ');
    let (_time, number, _flags) = (f.next()?, f.next()?, f.next()?);
    number.bytes().all(|b| b.is_ascii_digit()).then_some(number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::tmux::Chain;

    #[test]
    fn a_chain_becomes_one_line_of_words() {
        let mut c = Chain::new();
        c.cmd(["new-session", "-d", "-s", "w"])
            .cmd(["set-option", "-p", "@x", "a;"])
            .cmd(["display-message", "-p", "#{pane_id}"]);
        assert_eq!(
            line(&c.into_args()),
            r#"new-session -d -s w ; set-option -p @x "a\073" ; display-message -p "\043\173pane_id\175""#
        );
    }

    #[test]
    fn operator_text_never_breaks_the_line_or_expands() {
        let hostile = "it's $HOME ~ \"x\\\" #{y} ; {z}\nrm -rf /\t\u{1}é";
        let w = word(hostile);
        assert!(!w.contains('\n') && !w.contains('\'') && !w.contains('$'));
        assert!(w.starts_with('"') && w.ends_with('"'));
        assert!(!w[1..w.len() - 1].contains('"'));
        // Bare only when plain; `%` alone would start a directive.
        assert_eq!(word("%3"), r#""%3""#);
        assert_eq!(word("-t"), "-t");
        assert_eq!(word(""), r#""""#);
        assert_eq!(word("~x"), r#""\176x""#);
    }

    fn feed(framer: &mut Framer, text: &str) -> Vec<Item> {
        text.lines().filter_map(|l| framer.feed(l)).collect()
    }

    #[test]
    fn blocks_are_matched_by_their_command_number() {
        let mut f = Framer::default();
        let items = feed(
            &mut f,
            "%begin 1 10 1\n%end 1 99 1\nout\n%end 1 10 1\n%output %0 x\n\
             %begin 2 11 1\ncan't find pane: %9\n%error 2 11 1\n%sessions-changed\n\
             %output %0 \\015\\012\n%exit\n",
        );
        assert_eq!(
            items,
            [
                Item::Block(Block {
                    failed: false,
                    lines: vec!["%end 1 99 1".into(), "out".into()]
                }),
                Item::Bell,
                Item::Block(Block {
                    failed: true,
                    lines: vec!["can't find pane: %9".into()]
                }),
                Item::Bell,
                Item::Exit,
            ]
        );
    }

    #[test]
    fn a_reply_past_the_bound_fails_instead_of_growing() {
        let mut f = Framer::default();
        assert_eq!(f.feed("%begin 1 5 1"), None);
        let big = "x".repeat(1 << 20);
        for _ in 0..20 {
            assert_eq!(f.feed(&big), None);
        }
        match f.feed("%end 1 5 1") {
            Some(Item::Block(b)) => assert!(b.failed && b.lines.len() == 1, "{b:?}"),
            other => panic!("{other:?}"),
        }
    }
}
