//! A pane's raw output as lines of text, the way a terminal would roughly
//! show them: escape sequences dropped, a carriage return or backspace
//! moving the cursor so later text overwrites earlier text (a spinner or a
//! progress bar redraws one line), and cursor jumps to another row ending
//! the line. It is no terminal emulator: a full-screen program that paints
//! rows out of order is read in the order it painted them.

/// The last `n` non-blank lines of `bytes`, oldest first, without escape
/// sequences or control characters.
pub(crate) fn last_lines(bytes: &[u8], n: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let mut screen = Lines::default();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\u{b}' | '\u{c}' => screen.newline(),
            '\r' => screen.cursor = 0,
            '\u{8}' => screen.cursor = screen.cursor.saturating_sub(1),
            '\t' => {
                let to = (screen.cursor / 8 + 1) * 8;
                while screen.cursor < to {
                    screen.put(' ');
                }
            }
            '\u{1b}' => match chars.next() {
                // CSI: parameters, intermediates, one final byte.
                Some('[') => {
                    let mut params = String::new();
                    let mut last = None;
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            last = Some(c);
                            break;
                        }
                        params.push(c);
                    }
                    if let Some(f) = last {
                        screen.csi(f, &params);
                    }
                }
                // OSC, DCS, SOS, PM, APC: a string up to BEL or ST.
                Some(']' | 'P' | 'X' | '^' | '_') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                // Character set selection and the like: one more byte.
                Some('(' | ')' | '*' | '+' | '#' | '%') => {
                    chars.next();
                }
                // Two-byte sequences (ESC 7, ESC M, ...).
                _ => {}
            },
            c if c.is_control() => {}
            c => screen.put(c),
        }
    }
    screen.newline();
    let start = screen.lines.len().saturating_sub(n);
    screen.lines.split_off(start)
}

/// The non-blank lines seen so far and the one being written. Only the
/// lines are kept, not the screen's geometry.
#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    current: Vec<char>,
    cursor: usize,
}

/// Longest line kept, in characters: a line longer than a terminal is wide
/// is no prompt anyway.
const MAX_LINE_CHARS: usize = 4096;

impl Lines {
    fn put(&mut self, c: char) {
        if self.cursor >= MAX_LINE_CHARS {
            return;
        }
        if self.cursor < self.current.len() {
            self.current[self.cursor] = c;
        } else {
            self.current.resize(self.cursor, ' ');
            self.current.push(c);
        }
        self.cursor += 1;
    }

    /// Ends the current line; a blank one is dropped.
    fn newline(&mut self) {
        let line: String = self.current.drain(..).collect();
        if !line.trim().is_empty() {
            self.lines.push(line);
        }
        self.cursor = 0;
    }

    fn csi(&mut self, f: char, params: &str) {
        let n = || {
            params
                .split(';')
                .next()
                .and_then(|p| p.parse::<usize>().ok())
                .filter(|n| *n > 0)
                .unwrap_or(1)
        };
        match f {
            // Cursor forward: programs skip over blanks with it.
            'C' => {
                for _ in 0..n().min(MAX_LINE_CHARS) {
                    if self.cursor < self.current.len() {
                        self.cursor += 1;
                    } else {
                        self.put(' ');
                    }
                }
            }
            'D' => self.cursor = self.cursor.saturating_sub(n()),
            // Cursor to a column.
            'G' | '`' => self.cursor = (n() - 1).min(MAX_LINE_CHARS),
            // Erase in line: only "to the right" and "whole line" matter.
            'K' => match params {
                "" | "0" => self.current.truncate(self.cursor),
                "2" => self.current.clear(),
                _ => {}
            },
            // Another row: the line ends.
            'A' | 'B' | 'E' | 'F' | 'H' | 'f' | 'd' | 'J' => {
                let column = if matches!(f, 'A' | 'B') {
                    Some(self.cursor)
                } else {
                    None
                };
                self.newline();
                if let Some(c) = column {
                    self.cursor = c.min(MAX_LINE_CHARS);
                }
            }
            // Colours and every other mode: nothing on screen.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str, n: usize) -> Vec<String> {
        last_lines(s.as_bytes(), n)
    }

    #[test]
    fn colours_titles_and_blank_lines_are_dropped() {
        let s = "\x1b]0;my title\x07\x1b[1;32mgreen\x1b[0m text\r\n\r\n  \r\n\x1b[?2004hend $ ";
        assert_eq!(lines(s, 4), ["green text", "end $ "]);
        assert_eq!(lines(s, 1), ["end $ "]);
        assert_eq!(
            lines("a\x1b]2;t\x1b\\b\x1b(Bc\n", 4),
            ["abc"],
            "OSC ended by ST, charset selection"
        );
    }

    #[test]
    fn carriage_returns_overwrite_the_line() {
        assert_eq!(lines("⠋ thinking\r⠙ thinking\r⠹ think", 1), ["⠹ thinking"]);
        assert_eq!(lines("50%\r100%\r\n", 1), ["100%"]);
        assert_eq!(lines("abc\x08\x08X\n", 1), ["aXc"]);
        assert_eq!(lines("long line\r\x1b[Kshort", 1), ["short"]);
        assert_eq!(lines("long line\r\x1b[2Kx", 1), ["x"]);
        assert_eq!(lines("a\tb", 1), ["a       b"]);
    }

    #[test]
    fn cursor_moves_to_other_rows_end_lines() {
        assert_eq!(
            lines("\x1b[H\x1b[2Jrow one\x1b[2;1Hrow two\x1b[3;1H> ", 3),
            ["row one", "row two", "> "]
        );
        assert_eq!(lines("x\x1b[5Cy", 1), ["x     y"]);
        assert_eq!(lines("abcdef\x1b[3Gz", 1), ["abzdef"]);
    }

    #[test]
    fn invalid_utf8_and_a_cut_sequence_do_not_break_it() {
        let mut bytes = vec![0xff, 0xfe];
        bytes.extend_from_slice("ok\n\x1b[31".as_bytes());
        assert_eq!(last_lines(&bytes, 2), ["\u{fffd}\u{fffd}ok"]);
        assert!(last_lines(b"", 4).is_empty());
    }
}
