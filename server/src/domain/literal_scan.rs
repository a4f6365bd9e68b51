//! The check that keeps closed sets typed: no server source file outside
//! `domain.rs` (and the wire mapping `api/enums.rs`) spells a closed-set
//! member as a string literal.

use super::CLOSED_SETS;

/// The string literals of Rust source `src`, with their line numbers:
/// comments are skipped, and so is every item under `#[cfg(test)]`.
fn string_literals(src: &str) -> Vec<(usize, String)> {
    #[derive(Debug, PartialEq)]
    enum Tok {
        Str(usize, String),
        Ident(String),
        Punct(char),
    }
    let chars: Vec<char> = src.chars().collect();
    let (mut i, mut line) = (0, 1);
    let mut toks = Vec::new();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(chars[i] == '\n');
                    i += 1;
                }
            }
        } else if c == '"' {
            let start = line;
            let mut text = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    text.push(chars[i]);
                    i += 1;
                }
                line += usize::from(at(i) == '\n');
                text.push(at(i));
                i += 1;
            }
            i += 1;
            toks.push(Tok::Str(start, text));
        } else if c == '\'' {
            // A char literal, else a lifetime or label.
            if at(i + 1) == '\\' {
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let mut word = String::new();
            while at(i).is_alphanumeric() || at(i) == '_' {
                word.push(chars[i]);
                i += 1;
            }
            let raw = matches!(word.as_str(), "r" | "br" | "cr");
            if raw && (at(i) == '"' || at(i) == '#') {
                let mut hashes = 0;
                while at(i) == '#' {
                    hashes += 1;
                    i += 1;
                }
                if at(i) == '"' {
                    let (start, mut text) = (line, String::new());
                    i += 1;
                    let closes = |i: usize| (1..=hashes).all(|k| at(i + k) == '#');
                    while i < chars.len() && !(chars[i] == '"' && closes(i)) {
                        line += usize::from(chars[i] == '\n');
                        text.push(chars[i]);
                        i += 1;
                    }
                    i += 1 + hashes;
                    toks.push(Tok::Str(start, text));
                    continue;
                }
            }
            // `b"…"` and `c"…"` are read as plain strings next.
            if !matches!(word.as_str(), "b" | "c") || at(i) != '"' {
                toks.push(Tok::Ident(word));
            }
        } else {
            toks.push(Tok::Punct(c));
            i += 1;
        }
    }

    let cfg_test = [
        Tok::Punct('#'),
        Tok::Punct('['),
        Tok::Ident("cfg".into()),
        Tok::Punct('('),
        Tok::Ident("test".into()),
        Tok::Punct(')'),
        Tok::Punct(']'),
    ];
    // `const NAME: &str = "…"` of these names is no closed-set value:
    // LOCAL_ID is the host container's id, DOCKER_PROGRAM the default
    // Docker CLI program name, DOCKER_CGROUP the cgroup directory Docker
    // puts containers in.
    let exempt_const = |k: usize| {
        let def = |name: &str| {
            [
                Tok::Ident("const".into()),
                Tok::Ident(name.into()),
                Tok::Punct(':'),
                Tok::Punct('&'),
                Tok::Ident("str".into()),
                Tok::Punct('='),
            ]
        };
        ["LOCAL_ID", "DOCKER_PROGRAM", "DOCKER_CGROUP"]
            .iter()
            .any(|name| k >= 6 && toks[k - 6..k] == def(name))
    };
    let mut out = Vec::new();
    let mut k = 0;
    while k < toks.len() {
        if toks[k..].starts_with(&cfg_test) {
            // Skip the item: up to a `;` or the close of its first block.
            k += cfg_test.len();
            let mut depth = 0i32;
            while k < toks.len() {
                match toks[k] {
                    Tok::Punct('(' | '[' | '{') => depth += 1,
                    Tok::Punct(')' | ']') => depth -= 1,
                    Tok::Punct('}') => {
                        depth -= 1;
                        if depth <= 0 {
                            break;
                        }
                    }
                    // The end of a field, or of a `use`, `const`, ...
                    Tok::Punct(';' | ',') if depth == 0 => break,
                    _ => {}
                }
                k += 1;
            }
        } else if let Tok::Str(line, text) = &toks[k]
            && !exempt_const(k)
        {
            out.push((*line, text.clone()));
        }
        k += 1;
    }
    out
}

#[test]
fn the_literal_scan_sees_strings_but_not_comments_or_tests() {
    let src = r###"
        // "ready" in a comment
        /* "failed" /* nested */ "removed" */
        const LOCAL_ID: &str = "local";
        fn f<'a>(x: &'a str) -> bool {
            let q = '"';
            let e = '\'';
            x == "docker" || x == r#"operator "quoted""# || x == "a\"b"
        }
        #[cfg(test)]
        mod tests {
            const X: &str = "ready";
        }
        #[cfg(test)]
        fn helper() -> &'static str { "daemon" }
        fn g() -> &'static str {
            "degraded"
        }
        const DOCKER_PROGRAM: &str = "docker";
        const OTHER: &str = "adopted";
    "###;
    assert_eq!(
        string_literals(src),
        [
            (8, "docker".to_string()),
            (8, "operator \"quoted\"".to_string()),
            (8, "a\\\"b".to_string()),
            (17, "degraded".to_string()),
            (20, "adopted".to_string()),
        ]
    );
}

/// No closed-set member is spelled as a string literal anywhere in the
/// daemon outside this file's `closed_sets!` (and the wire mapping,
/// `api/enums.rs`): code uses the enums, so the spelling has one home.
/// `bin/` (the bench, a client comparing wire JSON) is not the daemon.
#[test]
fn closed_set_spellings_appear_only_in_the_closed_sets() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let exempt = [
        root.join("domain.rs"),
        root.join("domain/literal_scan.rs"),
        root.join("api/enums.rs"),
    ];
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if path != root.join("bin") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") && !exempt.contains(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() > 20, "{files:?}");
    let mut found = Vec::new();
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        for (line, text) in string_literals(&src) {
            if let Some((set, _)) = CLOSED_SETS
                .iter()
                .find(|(_, names)| names.contains(&text.as_str()))
            {
                let rel = path.strip_prefix(&root).unwrap().display();
                found.push(format!("src/{rel}:{line}: {text:?} (a {set})"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "closed-set spellings outside domain.rs; use the enum:\n{}",
        found.join("\n")
    );
}
