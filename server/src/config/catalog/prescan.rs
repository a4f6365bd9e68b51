//! A linear pre-scan that measures how deeply a YAML text nests before
//! serde_yaml sees it. libyaml's scanner costs time in proportion to the
//! nesting depth for every token, so 40,000 `[` take seconds to refuse; this
//! scan takes one pass and stops at the first level over the limit.
//!
//! It follows libyaml's tokenizer (what serde_yaml runs) decision for
//! decision — where plain, quoted and block scalars and comments start and
//! end, and the block indentation stack — so a quote or `#` that is literal
//! text to the parser cannot hide brackets from the count, and brackets the
//! parser reads as text are not counted. Where libyaml would stop with an
//! error the scan carries on: it may over-count a broken file, never
//! under-count one the parser would accept.

/// How deep `text` nests: block collections (each indentation level and
/// `- ` entry) plus flow collections (`[`, `{`) open at once. `Err` holds
/// the 1-based line where the depth first exceeds `limit`.
pub(super) fn check_nesting(text: &str, limit: usize) -> Result<(), usize> {
    // The reader drops a leading byte-order mark before the scanner runs.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut scan = Scan {
        s: text.chars().collect(),
        i: 0,
        line: 0,
        col: 0,
        flow: 0,
        indent: -1,
        indents: Vec::new(),
        key_allowed: true,
        key: None,
        limit,
    };
    scan.run()
}

/// Where a possible simple key (`key: value`) starts, at flow level 0.
#[derive(Clone, Copy)]
struct Mark {
    i: usize,
    line: usize,
    col: usize,
}

/// libyaml's scanner state, without the tokens.
struct Scan {
    s: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    /// Open flow collections.
    flow: usize,
    /// Column of the innermost block collection (-1: none).
    indent: isize,
    /// The enclosing block collections' indents.
    indents: Vec<isize>,
    key_allowed: bool,
    /// The possible simple key of the block context.
    key: Option<Mark>,
    limit: usize,
}

fn is_break(c: Option<char>) -> bool {
    matches!(c, Some('\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
}

fn is_blank(c: Option<char>) -> bool {
    matches!(c, Some(' ' | '\t'))
}

fn is_blankz(c: Option<char>) -> bool {
    c.is_none() || is_blank(c) || is_break(c)
}

/// libyaml's `IS_ALPHA`: anchor names and tag handles.
fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// A tag URI character; `,[]` only inside `!<…>`.
fn is_uri(c: char, verbatim: bool) -> bool {
    is_word(c) || ";/?:@&=+$.%!~*'()".contains(c) || (verbatim && ",[]".contains(c))
}

impl Scan {
    fn at(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }

    fn skip(&mut self) {
        self.i += 1;
        self.col += 1;
    }

    fn skip_line(&mut self) {
        self.i += if self.at(0) == Some('\r') && self.at(1) == Some('\n') {
            2
        } else {
            1
        };
        self.line += 1;
        self.col = 0;
    }

    /// Skips one character, a line break included.
    fn advance(&mut self) {
        if is_break(self.at(0)) {
            self.skip_line();
        } else {
            self.skip();
        }
    }

    fn skip_to_break(&mut self) {
        while self.at(0).is_some() && !is_break(self.at(0)) {
            self.skip();
        }
    }

    fn depth_ok(&self) -> Result<(), usize> {
        if self.indents.len() + self.flow > self.limit {
            return Err(self.line + 1);
        }
        Ok(())
    }

    fn document_marker(&self) -> bool {
        self.col == 0
            && (self.s[self.i..].starts_with(&['-', '-', '-'])
                || self.s[self.i..].starts_with(&['.', '.', '.']))
            && is_blankz(self.at(3))
    }

    fn save_key(&mut self) {
        if self.flow == 0 && self.key_allowed {
            self.key = Some(Mark {
                i: self.i,
                line: self.line,
                col: self.col,
            });
        }
    }

    fn remove_key(&mut self) {
        if self.flow == 0 {
            self.key = None;
        }
    }

    fn roll(&mut self, col: usize) -> Result<(), usize> {
        let col = col as isize;
        if self.flow == 0 && self.indent < col {
            self.indents.push(self.indent);
            self.indent = col;
        }
        self.depth_ok()
    }

    fn unroll(&mut self, col: isize) {
        if self.flow == 0 {
            while self.indent > col {
                self.indent = self.indents.pop().unwrap_or(-1);
            }
        }
    }

    fn run(&mut self) -> Result<(), usize> {
        loop {
            self.skip_to_next_token();
            self.unroll(self.col as isize);
            let Some(c) = self.at(0) else {
                return Ok(());
            };
            if self.col == 0 && (c == '%' || self.document_marker()) {
                self.unroll(-1);
                self.remove_key();
                self.key_allowed = false;
                if c == '%' {
                    self.skip_to_break();
                } else {
                    (0..3).for_each(|_| self.skip());
                }
                continue;
            }
            let next = self.at(1);
            match c {
                '[' | '{' => {
                    self.save_key();
                    self.flow += 1;
                    self.key_allowed = true;
                    self.skip();
                    self.depth_ok()?;
                }
                ']' | '}' => {
                    self.remove_key();
                    self.flow = self.flow.saturating_sub(1);
                    self.key_allowed = false;
                    self.skip();
                }
                ',' => {
                    self.remove_key();
                    self.key_allowed = true;
                    self.skip();
                }
                '-' if is_blankz(next) => {
                    self.roll(self.col)?;
                    self.remove_key();
                    self.key_allowed = true;
                    self.skip();
                }
                '?' if self.flow > 0 || is_blankz(next) => {
                    self.roll(self.col)?;
                    self.remove_key();
                    self.key_allowed = self.flow == 0;
                    self.skip();
                }
                ':' if self.flow > 0 || is_blankz(next) => self.value()?,
                '*' | '&' => {
                    self.save_key();
                    self.key_allowed = false;
                    self.skip();
                    while self.at(0).is_some_and(is_word) {
                        self.skip();
                    }
                }
                '!' => {
                    self.save_key();
                    self.key_allowed = false;
                    self.tag();
                }
                '|' | '>' if self.flow == 0 => {
                    self.remove_key();
                    self.key_allowed = true;
                    self.block_scalar();
                }
                '\'' | '"' => {
                    self.save_key();
                    self.key_allowed = false;
                    self.quoted(c);
                }
                _ if self.plain_start(c, next) => {
                    self.save_key();
                    self.key_allowed = false;
                    self.plain();
                }
                // libyaml stops here with an error; carrying on only
                // over-counts.
                _ => self.skip(),
            }
        }
    }

    /// Spaces, comments and line breaks between tokens.
    fn skip_to_next_token(&mut self) {
        loop {
            if self.col == 0 && self.at(0) == Some('\u{feff}') {
                self.skip();
            }
            while self.at(0) == Some(' ')
                || ((self.flow > 0 || !self.key_allowed) && self.at(0) == Some('\t'))
            {
                self.skip();
            }
            if self.at(0) == Some('#') {
                self.skip_to_break();
            }
            if !is_break(self.at(0)) {
                return;
            }
            self.skip_line();
            if self.flow == 0 {
                self.key_allowed = true;
            }
        }
    }

    /// `:` — a block mapping opens at its key's column.
    fn value(&mut self) -> Result<(), usize> {
        // Inside a flow collection the key is the flow level's own.
        let key = match self.flow {
            0 => self
                .key
                .take()
                .filter(|k| k.line == self.line && k.i + 1024 >= self.i),
            _ => None,
        };
        match key {
            Some(k) => {
                self.roll(k.col)?;
                self.key_allowed = false;
            }
            None => {
                self.roll(self.col)?;
                self.key_allowed = self.flow == 0;
            }
        }
        self.skip();
        Ok(())
    }

    fn plain_start(&self, c: char, next: Option<char>) -> bool {
        let indicator = is_blankz(Some(c)) || "-?:,[]{}#&*!|>'\"%@`".contains(c);
        !indicator
            || (c == '-' && !is_blank(next))
            || (self.flow == 0 && matches!(c, '?' | ':') && !is_blankz(next))
    }

    /// A plain scalar, over as many lines as libyaml folds into it.
    fn plain(&mut self) {
        let indent = self.indent + 1;
        // Whether the scalar ended after a line break.
        let mut broke = false;
        loop {
            if self.document_marker() || self.at(0) == Some('#') {
                break;
            }
            while !is_blankz(self.at(0)) {
                let (c, next) = (self.at(0), self.at(1));
                let ends = (c == Some(':')
                    && (is_blankz(next)
                        || (self.flow > 0
                            && matches!(next, Some(',' | '?' | '[' | ']' | '{' | '}')))))
                    || (self.flow > 0 && matches!(c, Some(',' | '[' | ']' | '{' | '}')));
                if ends {
                    break;
                }
                self.skip();
                broke = false;
            }
            if !(is_blank(self.at(0)) || is_break(self.at(0))) {
                break;
            }
            while is_blank(self.at(0)) || is_break(self.at(0)) {
                broke |= is_break(self.at(0));
                self.advance();
            }
            if self.flow == 0 && (self.col as isize) < indent {
                break;
            }
        }
        if broke {
            self.key_allowed = true;
        }
    }

    /// A single- (`''` escapes) or double-quoted (`\` escapes) scalar.
    fn quoted(&mut self, quote: char) {
        self.skip();
        loop {
            if self.document_marker() {
                return;
            }
            match self.at(0) {
                None => return,
                Some('\'') if quote == '\'' && self.at(1) == Some('\'') => {
                    self.skip();
                    self.skip();
                }
                Some(c) if c == quote => {
                    self.skip();
                    return;
                }
                Some('\\') if quote == '"' => {
                    self.skip();
                    if self.at(0).is_some() {
                        self.advance();
                    }
                }
                Some(_) => self.advance(),
            }
        }
    }

    /// `!tag`, `!handle!suffix` or `!<verbatim>`.
    fn tag(&mut self) {
        let verbatim = self.at(1) == Some('<');
        self.skip();
        if verbatim {
            self.skip();
        }
        while self.at(0).is_some_and(|c| is_uri(c, verbatim)) {
            self.skip();
        }
        if verbatim && self.at(0) == Some('>') {
            self.skip();
        }
    }

    /// `|` or `>`: the header line, then every line indented at least as
    /// far as the first content line.
    fn block_scalar(&mut self) {
        self.skip();
        let mut increment = 0;
        for _ in 0..2 {
            match self.at(0) {
                Some('+' | '-') => self.skip(),
                Some(d @ '1'..='9') if increment == 0 => {
                    increment = d as isize - '0' as isize;
                    self.skip();
                }
                _ => break,
            }
        }
        while is_blank(self.at(0)) {
            self.skip();
        }
        if self.at(0) == Some('#') {
            self.skip_to_break();
        }
        if !is_blankz(self.at(0)) {
            return;
        }
        if is_break(self.at(0)) {
            self.skip_line();
        }
        let mut indent = match increment {
            0 => 0,
            n if self.indent >= 0 => self.indent + n,
            n => n,
        };
        self.block_breaks(&mut indent);
        while self.col as isize == indent && self.at(0).is_some() {
            self.skip_to_break();
            if self.at(0).is_none() {
                return;
            }
            self.skip_line();
            self.block_breaks(&mut indent);
        }
    }

    /// Indentation and empty lines inside a block scalar; fixes its indent
    /// from the first content line when the header gave none.
    fn block_breaks(&mut self, indent: &mut isize) {
        let mut max = 0;
        loop {
            while (*indent == 0 || (self.col as isize) < *indent) && self.at(0) == Some(' ') {
                self.skip();
            }
            max = max.max(self.col as isize);
            if !is_break(self.at(0)) {
                break;
            }
            self.skip_line();
        }
        if *indent == 0 {
            *indent = max.max(self.indent + 1).max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: usize = 32;

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    /// serde_yaml accepts `doc`: what the scan reports is what it would parse.
    fn parses(doc: &str) -> bool {
        serde_yaml::from_str::<serde_yaml::Value>(doc).is_ok()
    }

    #[test]
    fn flow_depth_is_counted_up_to_the_limit() {
        assert_eq!(check_nesting(&nested(LIMIT), LIMIT), Ok(()));
        assert_eq!(check_nesting(&nested(LIMIT + 1), LIMIT), Err(1));
        assert_eq!(check_nesting(&"[".repeat(40_000), LIMIT), Err(1));
        assert_eq!(check_nesting(&"{a: ".repeat(40_000), LIMIT), Err(1));
        // Siblings do not add up.
        let wide = format!("x: [{}]\n", vec![nested(8); 1000].join(", "));
        assert!(parses(&wide));
        assert_eq!(check_nesting(&wide, LIMIT), Ok(()));
    }

    #[test]
    fn block_depth_counts_indentation_and_entries() {
        let mut deep = String::new();
        for level in 0..40 {
            deep.push_str(&format!("{}k{level}:\n", " ".repeat(level)));
        }
        assert!(parses(&deep));
        assert_eq!(check_nesting(&deep, LIMIT), Err(LIMIT + 1));
        let dashes = format!("{}x\n", "- ".repeat(40));
        assert!(parses(&dashes));
        assert_eq!(check_nesting(&dashes, LIMIT), Err(1));
        // Going back out releases the levels.
        let mut wide = String::new();
        for i in 0..100 {
            wide.push_str(&format!("k{i}:\n  a:\n    b: [1, {{c: d}}]\n"));
        }
        assert_eq!(check_nesting(&wide, LIMIT), Ok(()));
    }

    #[test]
    fn brackets_that_are_text_are_not_counted() {
        let deep = "[".repeat(100);
        for doc in [
            format!("a: '{deep}'\n"),
            format!("a: \"{deep}\\\"{deep}\"\n"),
            format!("a: 'it''s {deep}'\n"),
            format!("# {deep}\na: 1 # {deep}\n"),
            format!("a: x{deep}\n"),
            format!("a: |\n  {deep}\n  '{deep}\nb: 1\n"),
            format!("a: >-\n\n    {deep}\n b: 1\n"),
        ] {
            assert_eq!(check_nesting(&doc, LIMIT), Ok(()), "{doc}");
        }
        // A block scalar's own text may hold what looks like a deep value.
        let script = "command:\n  - sh\n  - -c\n  - |\n    x: [[[[\n    'y\n";
        assert!(parses(script));
        assert_eq!(check_nesting(script, LIMIT), Ok(()));
    }

    #[test]
    fn literal_quotes_and_comment_marks_cannot_hide_brackets() {
        let deep = nested(LIMIT + 1);
        for doc in [
            // An apostrophe inside a plain scalar opens no quote.
            format!("a: it's\nb: {deep}\n"),
            format!("a: [it's, {deep}]\n"),
            // A plain scalar continued on the next line: its quote is text.
            format!("a: x\n 'y\nb: {deep}\n"),
            format!("a: [x\n'y, {deep}]\n"),
            // Less indented: a new key, then a real quote that closes.
            format!("a:\n  x\n'y #': {deep}\n"),
            // `#` without a space before it is text, not a comment.
            format!("a: x#y\nb: {deep}\n"),
            // Other line breaks end a comment as well.
            format!("# x\u{2028}b: {deep}\n"),
            format!("# x\rb: {deep}\n"),
            // A tag's apostrophe is part of the tag.
            format!("a: !t'x {deep}\n"),
            // A block scalar ends at the first less indented line.
            format!("a: |\n  'x\nb: {deep}\n"),
            // Double-quoted escapes.
            format!("a: \"x\\\\\"\nb: {deep}\n"),
        ] {
            assert!(parses(&doc), "serde_yaml should accept {doc:?}");
            assert!(check_nesting(&doc, LIMIT).is_err(), "{doc:?}");
        }
    }

    #[test]
    fn the_shipped_examples_are_shallow() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        for dir in ["managed_templates", "launch_commands"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
                assert_eq!(check_nesting(&text, 8), Ok(()), "{text}");
            }
        }
    }
}
