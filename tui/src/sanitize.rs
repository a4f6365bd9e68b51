//! Agent output made safe to draw. Pane logs hold raw terminal output:
//! colours, cursor moves, clear-screen, window titles (OSC), carriage
//! returns, tabs. Drawn as is, they would drive the console's own terminal.
//! `lines` interprets the harmless line-editing part (`\r`, backspace, tab,
//! erase-in-line) the way a terminal would and drops everything else, so
//! what comes out is printable text only.

/// Longest line kept; a preview never shows more.
const MAX_LINE: usize = 1000;

/// What the parser is inside of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    /// After ESC.
    Start,
    /// After ESC and an intermediate byte (` `..`/`), until the final one.
    Intermediate,
    /// CSI (`ESC [` or C1 `\u{9b}`) up to its final byte, with its parameters.
    Csi,
    /// OSC, DCS, SOS, PM or APC: a string up to BEL or ST (`ESC \`).
    Text,
    /// ESC inside a string: `\` ends it, anything else continues it.
    TextEsc,
}

/// The current line as a terminal would show it.
#[derive(Default)]
struct Line {
    chars: Vec<char>,
    col: usize,
}

impl Line {
    fn put(&mut self, c: char) {
        if self.col >= MAX_LINE {
            return;
        }
        if self.col < self.chars.len() {
            self.chars[self.col] = c;
        } else {
            self.chars.resize(self.col, ' ');
            self.chars.push(c);
        }
        self.col += 1;
    }

    /// CSI `K`: 0 erases to the end, 1 to the start, 2 the whole line.
    fn erase(&mut self, params: &str) {
        match params {
            "" | "0" => self.chars.truncate(self.col),
            "1" => {
                let end = (self.col + 1).min(self.chars.len());
                self.chars[..end].fill(' ');
            }
            "2" => self.chars.clear(),
            _ => {}
        }
    }

    fn take(&mut self) -> String {
        self.col = 0;
        let s: String = std::mem::take(&mut self.chars).into_iter().collect();
        s.trim_end().to_string()
    }
}

/// Characters that reorder or hide text (bidirectional overrides,
/// zero-width marks): harmless to the terminal, misleading to the reader.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// One character in escape state `state`: the next state, or `None` when
/// `c` is ordinary text (or a control that cuts a sequence short) for the
/// caller to put on the line.
fn escape(state: Escape, c: char, params: &mut String, line: &mut Line) -> Option<Escape> {
    let control = c < ' ' && c != '\u{1b}';
    Some(match state {
        Escape::None => match c {
            '\u{1b}' => Escape::Start,
            '\u{9b}' => {
                params.clear();
                Escape::Csi
            }
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => Escape::Text,
            _ => return None,
        },
        _ if control && !matches!(state, Escape::Text | Escape::TextEsc) => return None,
        // A string ends at BEL or ST; a newline ends it too, so output
        // after a never-terminated title still shows.
        Escape::Text | Escape::TextEsc if c == '\n' => return None,
        Escape::Start => match c {
            '[' => {
                params.clear();
                Escape::Csi
            }
            ']' | 'P' | 'X' | '^' | '_' => Escape::Text,
            ' '..='/' => Escape::Intermediate,
            '\u{1b}' => Escape::Start,
            // ESC 7, ESC c, ESC M, ...: one character.
            _ => Escape::None,
        },
        Escape::Intermediate => match c {
            ' '..='/' => Escape::Intermediate,
            _ => Escape::None,
        },
        Escape::Csi => match c {
            '@'..='~' => {
                if c == 'K' {
                    line.erase(params);
                }
                Escape::None
            }
            ' '..='?' => {
                if params.len() < 32 {
                    params.push(c);
                }
                Escape::Csi
            }
            '\u{1b}' => Escape::Start,
            _ => Escape::None,
        },
        Escape::Text => match c {
            '\u{7}' | '\u{9c}' => Escape::None,
            '\u{1b}' => Escape::TextEsc,
            _ => Escape::Text,
        },
        Escape::TextEsc => match c {
            '\\' => Escape::None,
            '\u{1b}' => Escape::TextEsc,
            _ => Escape::Text,
        },
    })
}

/// `text` as printable lines: escape sequences and control characters
/// dropped; `\r`, backspace, tab and erase-in-line applied to the line.
pub(crate) fn lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = Line::default();
    let mut state = Escape::None;
    let mut params = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        state = match escape(state, c, &mut params, &mut line) {
            Some(next) => next,
            // A control character cut the sequence short: it acts as itself.
            None => match c {
                '\n' => {
                    out.push(line.take());
                    Escape::None
                }
                '\r' => {
                    // `\r\n` is a plain line end; a lone `\r` rewrites the line.
                    if chars.peek() != Some(&'\n') {
                        line.col = 0;
                    }
                    Escape::None
                }
                '\u{8}' => {
                    line.col = line.col.saturating_sub(1);
                    Escape::None
                }
                '\t' => {
                    let next = (line.col / 8 + 1) * 8;
                    while line.col < next {
                        line.put(' ');
                    }
                    Escape::None
                }
                c if c.is_control() || invisible(c) => Escape::None,
                c => {
                    line.put(c);
                    Escape::None
                }
            },
        };
    }
    let last = line.take();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

/// `text` as one short printable line (a label, a message, notification
/// text): sanitised, lines joined by a space, at most `max` characters.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let joined = lines(text)
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if joined.chars().count() <= max {
        joined
    } else {
        let mut s: String = joined.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_stripped() {
        let raw = concat!(
            "\u{1b}[1;32mok\u{1b}[0m\tdone\u{7}\n",
            // Clear screen, cursor home, cursor moves, save/restore, reset.
            "\u{1b}[2J\u{1b}[H\u{1b}[10;5Hmoved\u{1b}[3A\u{1b}7\u{1b}8\u{1b}c\n",
            // OSC window title (BEL and ST ends), OSC 52 clipboard, OSC 8 link.
            "\u{1b}]0;evil title\u{7}a\u{1b}]52;c;ZXZpbA==\u{1b}\\b",
            "\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\\n",
            // DCS (tmux passthrough), charset designation, C1 CSI and OSC.
            "\u{1b}Ptmux;\u{1b}\u{1b}]9;hi\u{7}\u{1b}\\\u{1b}(Bplain\u{9b}31mred\u{9d}2;t\u{9c}!\n",
            // Bidirectional override, zero-width space, DEL, NUL, C1 NEL.
            "a\u{202e}b\u{200b}c\u{7f}\u{0}\u{85}d\r\n",
        );
        let got = lines(raw);
        assert_eq!(
            got,
            ["ok      done", "moved", "ablink", "plainred!", "abcd"]
        );
        for l in &got {
            assert!(l.chars().all(|c| !c.is_control() && !invisible(c)), "{l:?}");
        }
    }

    #[test]
    fn carriage_returns_and_erase_rewrite_the_line_like_a_terminal() {
        // A progress bar: each frame rewrites the line.
        assert_eq!(lines("10%\r50%\r\u{1b}[K100% done\n"), ["100% done"]);
        assert_eq!(lines("abcdef\rXY"), ["XYcdef"]);
        assert_eq!(lines("abc\u{8}\u{8}Z"), ["aZc"]);
        assert_eq!(lines("spinner |\u{8}/\u{8}-"), ["spinner -"]);
        assert_eq!(lines("a\tb"), ["a       b"]);
        assert_eq!(lines("one\r\ntwo\r\n\r\n"), ["one", "two", ""]);
    }

    #[test]
    fn an_unterminated_sequence_ends_at_the_line() {
        // A CSI cut off by a newline ends there; the next line survives.
        assert_eq!(lines("x\u{1b}[12\nnext"), ["x", "next"]);
        // An OSC never terminated ends at the newline, not at the end.
        assert_eq!(lines("y\u{1b}]0;title\nmore"), ["y", "more"]);
    }

    #[test]
    fn one_line_joins_and_bounds() {
        assert_eq!(
            one_line("Proceed?\u{1b}[0m [y/N]\n\u{7}", 80),
            "Proceed? [y/N]"
        );
        assert_eq!(one_line("a\nb\n", 80), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
    }
}
