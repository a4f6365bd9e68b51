//! A launch profile's `activity:` block (docs/activity.md): the detection
//! windows, the report hold and the prompt rules, checked and compiled when
//! the profile loads, plus the built-in rules every profile gets unless it
//! turns them off.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::domain::Activity;

/// The `activity:` block as written; every key is optional.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ActivityConfig {
    /// Output within this long → working.
    pub working_window_ms: u64,
    /// No output for this long → idle. Between the two windows the activity
    /// stays what it was (hysteresis).
    pub quiet_window_ms: u64,
    /// The rules are checked once output has been quiet this long.
    pub prompt_quiet_ms: u64,
    /// A report outranks detection this long after it.
    pub report_hold_ms: u64,
    /// How many last non-blank lines the rules see.
    pub tail_lines: usize,
    /// Also apply the built-in rules, after the profile's own.
    pub builtin_rules: bool,
    /// First match wins.
    pub rules: Vec<RuleConfig>,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        ActivityConfig {
            working_window_ms: 1000,
            quiet_window_ms: 3000,
            prompt_quiet_ms: 150,
            report_hold_ms: 600_000,
            tail_lines: 4,
            builtin_rules: true,
            rules: Vec::new(),
        }
    }
}

/// One prompt rule as written.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleConfig {
    /// A regex over the last `tail_lines` lines joined by `\n`.
    #[serde(rename = "match")]
    pub pattern: String,
    /// `waiting_for_input` or `idle`.
    pub activity: Activity,
}

/// Longest window or hold a profile may set: one day.
const MAX_MS: u64 = 24 * 60 * 60 * 1000;
/// Most lines the rules may see.
pub(crate) const MAX_TAIL_LINES: usize = 64;
/// Most rules one profile may have.
const MAX_RULES: usize = 64;
/// Longest pattern, in bytes.
const MAX_PATTERN_BYTES: usize = 1024;
/// Largest compiled program of one pattern: a pathological pattern is
/// refused when the profile loads, not paid for on every check.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A rule ready to run.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    regex: Regex,
    activity: Activity,
}

/// A profile's detection settings, checked and compiled.
#[derive(Debug, Clone)]
pub(crate) struct Detection {
    pub working_window: Duration,
    pub quiet_window: Duration,
    pub prompt_quiet: Duration,
    pub report_hold: Duration,
    pub tail_lines: usize,
    rules: Vec<Rule>,
}

impl Detection {
    /// The activity of the first rule matching `text` (the last lines
    /// joined by `\n`).
    pub(crate) fn matching(&self, text: &str) -> Option<Activity> {
        self.rules
            .iter()
            .find(|r| r.regex.is_match(text))
            .map(|r| r.activity)
    }
}

/// The detection of a profile without an `activity:` block (the built-in
/// `shell` profile among them), compiled once.
pub(crate) fn default_detection() -> Arc<Detection> {
    static DEFAULT: LazyLock<Arc<Detection>> = LazyLock::new(|| {
        Arc::new(
            ActivityConfig::default()
                .compile()
                .expect("the built-in activity rules compile"),
        )
    });
    Arc::clone(&DEFAULT)
}

/// The built-in rules: prompts that wait for an answer, then a shell prompt
/// (which means idle). Each looks at the last line only.
fn builtin_rules() -> &'static [Rule] {
    static BUILTIN: LazyLock<Vec<Rule>> = LazyLock::new(|| {
        [
            // [y/n] (y/n) [Y/n] [y/N] (yes/no) [yes/no], maybe with a ':' or '?'.
            (
                r"(?i)(\[\s*y(es)?\s*/\s*no?\s*\]|\(\s*y(es)?\s*/\s*no?\s*\))[\s:?]*$",
                Activity::WaitingForInput,
            ),
            (
                r"(?i)\b(password|passphrase)\b[^\n]*:\s*$",
                Activity::WaitingForInput,
            ),
            (
                r"(?i)\bpress\s+(enter|return|any\s+key)\b[^\n]*$",
                Activity::WaitingForInput,
            ),
            // A shell prompt: `$ `, `# `, `% `, `> ` or `❯ ` ends the last line.
            (r"[$#%>❯] $", Activity::Idle),
        ]
        .into_iter()
        .map(|(p, activity)| Rule {
            regex: compile_pattern(p).expect("a built-in rule compiles"),
            activity,
        })
        .collect()
    });
    &BUILTIN
}

fn compile_pattern(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        // One line: the parser's caret diagram does not survive a log line.
        .map_err(|e| {
            e.to_string()
                .lines()
                .map(str::trim)
                .filter(|l| l.chars().any(char::is_alphanumeric))
                .collect::<Vec<_>>()
                .join("; ")
        })
}

impl ActivityConfig {
    /// Checks the block and compiles its rules; the error names the key.
    pub(crate) fn compile(&self) -> Result<Detection, String> {
        for (key, ms, min) in [
            ("working_window_ms", self.working_window_ms, 1),
            ("quiet_window_ms", self.quiet_window_ms, 1),
            ("prompt_quiet_ms", self.prompt_quiet_ms, 0),
            ("report_hold_ms", self.report_hold_ms, 0),
        ] {
            if !(min..=MAX_MS).contains(&ms) {
                return Err(format!("{key}: must be {min} to {MAX_MS}"));
            }
        }
        if self.quiet_window_ms < self.working_window_ms {
            return Err(format!(
                "quiet_window_ms: must be at least working_window_ms ({})",
                self.working_window_ms
            ));
        }
        if !(1..=MAX_TAIL_LINES).contains(&self.tail_lines) {
            return Err(format!("tail_lines: must be 1 to {MAX_TAIL_LINES}"));
        }
        if self.rules.len() > MAX_RULES {
            return Err(format!("rules: at most {MAX_RULES} rules"));
        }
        let mut rules = Vec::with_capacity(self.rules.len() + 4);
        for (i, r) in self.rules.iter().enumerate() {
            if !matches!(r.activity, Activity::WaitingForInput | Activity::Idle) {
                return Err(format!(
                    "rules[{i}].activity: must be {} or {}",
                    Activity::WaitingForInput,
                    Activity::Idle
                ));
            }
            if r.pattern.len() > MAX_PATTERN_BYTES {
                return Err(format!(
                    "rules[{i}].match: at most {MAX_PATTERN_BYTES} bytes"
                ));
            }
            let regex =
                compile_pattern(&r.pattern).map_err(|e| format!("rules[{i}].match: {e}"))?;
            rules.push(Rule {
                regex,
                activity: r.activity,
            });
        }
        if self.builtin_rules {
            rules.extend(builtin_rules().iter().cloned());
        }
        Ok(Detection {
            working_window: Duration::from_millis(self.working_window_ms),
            quiet_window: Duration::from_millis(self.quiet_window_ms),
            prompt_quiet: Duration::from_millis(self.prompt_quiet_ms),
            report_hold: Duration::from_millis(self.report_hold_ms),
            tail_lines: self.tail_lines,
            rules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin(text: &str) -> Option<Activity> {
        default_detection().matching(text)
    }

    #[test]
    fn builtin_rules_see_prompts_that_wait_and_shell_prompts() {
        use Activity::*;
        for waiting in [
            "Proceed? [y/N] ",
            "Overwrite file (y/n)?",
            "Continue [Y/n]: ",
            "Really delete? (yes/no) ",
            "Apply? [yes/no]",
            "earlier output\n[sudo] password for alice: ",
            "Enter passphrase for key '/home/a/.ssh/id_ed25519': ",
            "Press Enter to continue...",
            "press any key",
        ] {
            assert_eq!(builtin(waiting), Some(WaitingForInput), "{waiting:?}");
        }
        for idle in [
            "alice@box:~/src$ ",
            "root@box:/# ",
            "box% ",
            ">>> ",
            "~/src ❯ ",
        ] {
            assert_eq!(builtin(idle), Some(Idle), "{idle:?}");
        }
        for nothing in [
            "Proceed? [y/N] y",
            "[y/n] was the question\nnow compiling",
            "cost: 5%",
            "# a heading",
            "password: hunter2 accepted",
            "step 3 of 9",
            "echo $HOME",
        ] {
            assert_eq!(builtin(nothing), None, "{nothing:?}");
        }
    }

    #[test]
    fn profile_rules_come_first_and_builtins_can_be_turned_off() {
        let cfg: ActivityConfig = serde_yaml::from_str(
            "rules:\n  - {match: '(?i)allow this\\?\\s*$', activity: waiting_for_input}\n  - {match: 'READY> $', activity: idle}\n",
        )
        .unwrap();
        assert_eq!(cfg.quiet_window_ms, 3000, "defaults fill the rest");
        let d = cfg.compile().unwrap();
        assert_eq!(d.matching("Allow this? "), Some(Activity::WaitingForInput));
        assert_eq!(d.matching("READY> "), Some(Activity::Idle));
        assert_eq!(
            d.matching("Proceed? [y/N] "),
            Some(Activity::WaitingForInput)
        );
        let off = ActivityConfig {
            builtin_rules: false,
            ..cfg
        }
        .compile()
        .unwrap();
        assert_eq!(off.matching("Proceed? [y/N] "), None);
        assert_eq!(off.matching("READY> "), Some(Activity::Idle));
    }

    #[test]
    fn bad_blocks_are_refused_naming_the_key() {
        let err = |yaml: &str| {
            serde_yaml::from_str::<ActivityConfig>(yaml)
                .map_err(|e| e.to_string())
                .and_then(|c| c.compile().map(|_| ()))
                .unwrap_err()
        };
        assert!(err("rules: [{match: '(', activity: idle}]").starts_with("rules[0].match: "));
        assert!(err("rules: [{match: 'x', activity: working}]").starts_with("rules[0].activity"));
        assert!(err("rules: [{match: 'x', activity: busy}]").contains("is not a Activity"));
        assert!(err("quiet_window_ms: 100\nworking_window_ms: 200").starts_with("quiet_window_ms"));
        assert!(err("tail_lines: 0").starts_with("tail_lines"));
        assert!(err("working_window_ms: 0").starts_with("working_window_ms"));
        assert!(err("bogus: 1").contains("unknown field"));
        assert!(err("rules: [{match: 'x{100000}', activity: idle}]").contains("size limit"));
    }
}
