//! The accuracy corpus (`scenarios/*.scenario`): agent-like output patterns,
//! each with the activity sequence detection should report for it. A
//! scenario is a list of steps, one per line (`#` starts a comment):
//!
//! - `expect A B …` — the expected `to_activity` sequence;
//! - `print N GAP_MS` — N log-like lines, GAP_MS apart;
//! - `quiet MS` — silence;
//! - `spin MS FRAME_MS` — a spinner redrawing one line with `\r`;
//! - `progress N GAP_MS` — N progress-bar updates in place, GAP_MS apart;
//! - `say TEXT` — TEXT as is, with `\n`, `\r`, `\e` (ESC) and `\s` (space).

use std::io::Write as _;
use std::time::{Duration, Instant};

/// The corpus, compiled in so the benchmark binary is self-contained.
const CORPUS: &[(&str, &str)] = &[
    (
        "ansi-prompt",
        include_str!("scenarios/ansi-prompt.scenario"),
    ),
    (
        "burst-then-prompt",
        include_str!("scenarios/burst-then-prompt.scenario"),
    ),
    ("late-start", include_str!("scenarios/late-start.scenario")),
    ("password", include_str!("scenarios/password.scenario")),
    (
        "progress-pauses",
        include_str!("scenarios/progress-pauses.scenario"),
    ),
    (
        "shell-prompt",
        include_str!("scenarios/shell-prompt.scenario"),
    ),
    ("spinner", include_str!("scenarios/spinner.scenario")),
    (
        "thinking-pause",
        include_str!("scenarios/thinking-pause.scenario"),
    ),
];

/// One step of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Step {
    Print { lines: u32, gap: Duration },
    Quiet(Duration),
    Spin { total: Duration, frame: Duration },
    Progress { updates: u32, gap: Duration },
    Say(String),
}

/// A parsed scenario.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub name: String,
    /// Expected activities, as `ShortName`s of `pb::Activity`.
    pub expect: Vec<String>,
    pub steps: Vec<Step>,
}

impl Scenario {
    /// How long playing it takes.
    pub(crate) fn length(&self) -> Duration {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Print { lines, gap }
                | Step::Progress {
                    updates: lines,
                    gap,
                } => *gap * *lines,
                Step::Quiet(d) => *d,
                Step::Spin { total, .. } => *total,
                Step::Say(_) => Duration::ZERO,
            })
            .sum()
    }
}

/// Every scenario of the corpus.
pub(crate) fn all() -> Vec<Scenario> {
    CORPUS
        .iter()
        .map(|(name, text)| parse(name, text).unwrap_or_else(|e| panic!("scenario {name}: {e}")))
        .collect()
}

/// The scenario called `name`.
pub(crate) fn find(name: &str) -> Option<Scenario> {
    all().into_iter().find(|s| s.name == name)
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('e') => out.push('\x1b'),
            Some('s') => out.push(' '),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn parse(name: &str, text: &str) -> Result<Scenario, String> {
    let mut s = Scenario {
        name: name.to_string(),
        expect: Vec::new(),
        steps: Vec::new(),
    };
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let nums: Vec<u64> = rest
            .split_whitespace()
            .map(|n| n.parse::<u64>())
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        let ms = |i: usize| Duration::from_millis(nums.get(i).copied().unwrap_or(0));
        let step = match word {
            "expect" => {
                s.expect = rest.split_whitespace().map(str::to_string).collect();
                continue;
            }
            "print" if nums.len() == 2 => Step::Print {
                lines: nums[0] as u32,
                gap: ms(1),
            },
            "quiet" if nums.len() == 1 => Step::Quiet(ms(0)),
            "spin" if nums.len() == 2 => Step::Spin {
                total: ms(0),
                frame: ms(1),
            },
            "progress" if nums.len() == 2 => Step::Progress {
                updates: nums[0] as u32,
                gap: ms(1),
            },
            "say" => Step::Say(unescape(rest)),
            _ => return Err(format!("cannot read {line:?}")),
        };
        s.steps.push(step);
    }
    if s.expect.is_empty() {
        return Err("no `expect` line".into());
    }
    Ok(s)
}

fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Plays a scenario on stdout.
pub(crate) fn play(s: &Scenario) {
    for step in &s.steps {
        match step {
            Step::Print { lines, gap } => {
                for i in 0..*lines {
                    out(&format!("[{i:>3}] running step {i}: ok\n"));
                    std::thread::sleep(*gap);
                }
            }
            Step::Quiet(d) => std::thread::sleep(*d),
            Step::Spin { total, frame } => {
                let frames = ['|', '/', '-', '\\'];
                let started = Instant::now();
                let mut i = 0;
                while started.elapsed() < *total {
                    out(&format!("\r{} thinking", frames[i % frames.len()]));
                    i += 1;
                    std::thread::sleep(*frame);
                }
            }
            Step::Progress { updates, gap } => {
                for i in 1..=*updates {
                    let pct = i * 100 / updates;
                    let bar = "#".repeat((pct / 10) as usize);
                    out(&format!("\rdownloading {pct:>3}% [{bar:<10}]"));
                    std::thread::sleep(*gap);
                }
            }
            Step::Say(text) => out(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corpus_parses() {
        let all = all();
        assert_eq!(all.len(), CORPUS.len());
        for s in &all {
            assert!(!s.steps.is_empty(), "{}", s.name);
            for a in &s.expect {
                assert!(
                    ["working", "idle", "waiting_for_input"].contains(&a.as_str()),
                    "{}: {a}",
                    s.name
                );
            }
        }
        let p = find("password").unwrap();
        assert_eq!(
            p.steps.last(),
            Some(&Step::Say("[sudo] password for agent: ".into()))
        );
    }
}
