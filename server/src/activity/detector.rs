//! What one pane's output says its agent is doing: a pure state machine fed
//! with the bytes the pane appended and asked, on every tick, what it would
//! propose. It never touches a file, a clock or the store.
//!
//! - Output within `working_window` → working.
//! - Quiet for `quiet_window` → idle; between the two windows it proposes
//!   nothing, so the agent keeps its activity (hysteresis: a progress bar
//!   that pauses does not flap).
//! - Quiet for `prompt_quiet` and the last lines match a rule → the rule's
//!   activity, with the last line as the message. While that prompt is in
//!   effect, output that leaves the lines still matching is a redraw, not
//!   work.

use std::sync::Arc;
#[cfg(test)]
use std::time::Duration;
use std::time::Instant;

use super::ansi;
use super::rules::Detection;
use crate::domain::{Activity, ActivitySource};
use crate::service::activity::{Proposal, bounded_message};

/// How many bytes of a pane's latest output are kept: enough for the last
/// lines of any prompt.
pub(crate) const TAIL_BYTES: usize = 8 * 1024;

/// The detection state of one pane.
#[derive(Debug)]
pub(crate) struct Detector {
    detection: Arc<Detection>,
    /// The latest output, at most `2 * TAIL_BYTES` (cut back to
    /// `TAIL_BYTES` when it grows past that).
    tail: Vec<u8>,
    /// When output last counted as output (a prompt's redraw does not).
    last_output: Instant,
    /// Whether the pane has written anything at all.
    output_seen: bool,
    /// What the rules make of `tail`; `None` once the tail changed.
    matched: Option<Option<(Activity, String)>>,
    /// The rule's activity proposed last, while the rule keeps matching.
    prompt: Option<Activity>,
    /// The activity proposed last.
    proposed: Option<Activity>,
}

impl Detector {
    /// A detector for a pane whose log ends with `seed` (its last bytes)
    /// and was last written at `last_output` (`None`: never written; the
    /// quiet then counts from `now`).
    pub(crate) fn new(
        detection: Arc<Detection>,
        seed: &[u8],
        last_output: Option<Instant>,
        now: Instant,
    ) -> Detector {
        let start = seed.len().saturating_sub(TAIL_BYTES);
        Detector {
            detection,
            tail: seed[start..].to_vec(),
            last_output: last_output.unwrap_or(now),
            output_seen: last_output.is_some(),
            matched: None,
            prompt: None,
            proposed: None,
        }
    }

    /// The profile's settings changed (the file was edited).
    pub(crate) fn set_detection(&mut self, detection: Arc<Detection>) {
        self.detection = detection;
        self.matched = None;
    }

    /// The pane appended `bytes` (read at `now`).
    pub(crate) fn feed(&mut self, now: Instant, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if bytes.len() >= TAIL_BYTES {
            self.tail.clear();
            self.tail
                .extend_from_slice(&bytes[bytes.len() - TAIL_BYTES..]);
        } else {
            self.tail.extend_from_slice(bytes);
            if self.tail.len() > 2 * TAIL_BYTES {
                self.tail.drain(..self.tail.len() - TAIL_BYTES);
            }
        }
        self.matched = None;
        if let Some(prompt) = self.prompt {
            if self.rule_match().map(|(a, _)| a) == Some(prompt) {
                // The prompt redrew itself (a TUI repaints, a cursor
                // blinks): the agent still waits.
                return;
            }
            self.prompt = None;
        }
        self.last_output = now;
        self.output_seen = true;
    }

    /// What the pane's output says at `now`; `None` keeps the activity the
    /// agent has.
    pub(crate) fn tick(&mut self, now: Instant) -> Option<Proposal> {
        let proposal = self.answer(now);
        if let Some(p) = &proposal {
            self.proposed = Some(p.activity);
        }
        proposal
    }

    fn answer(&mut self, now: Instant) -> Option<Proposal> {
        let d = Arc::clone(&self.detection);
        let quiet = now.saturating_duration_since(self.last_output);
        if quiet >= d.prompt_quiet
            && let Some((activity, line)) = self.rule_match()
        {
            self.prompt = Some(activity);
            return Some(Proposal {
                activity,
                source: ActivitySource::PromptRule,
                message: Some(line),
            });
        }
        self.prompt = None;
        let activity = if self.output_seen && quiet < d.working_window {
            // Output that ends in a prompt is the prompt appearing (or a
            // quick command ending at the shell prompt), not work: unless
            // the agent already works, wait for prompt_quiet to tell.
            if self.proposed != Some(Activity::Working)
                && quiet < d.prompt_quiet
                && self.rule_match().is_some()
            {
                return None;
            }
            Activity::Working
        } else if quiet >= d.quiet_window {
            Activity::Idle
        } else {
            return None;
        };
        Some(Proposal {
            activity,
            source: ActivitySource::Output,
            message: None,
        })
    }

    /// How long the pane has been quiet at `now`.
    #[cfg(test)]
    pub(crate) fn quiet_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_output)
    }

    /// The first rule matching the last lines, with the last line bounded
    /// as a message; computed once per change of the tail.
    fn rule_match(&mut self) -> Option<(Activity, String)> {
        if self.matched.is_none() {
            let start = self.tail.len().saturating_sub(TAIL_BYTES);
            let lines = ansi::last_lines(&self.tail[start..], self.detection.tail_lines);
            let found = lines.last().and_then(|last| {
                self.detection
                    .matching(&lines.join("\n"))
                    .map(|a| (a, bounded_message(last)))
            });
            self.matched = Some(found);
        }
        self.matched.clone().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::rules::{ActivityConfig, default_detection};

    const MS: Duration = Duration::from_millis(1);

    /// A clock and a detector with the default windows (1 s working, 3 s
    /// quiet, 150 ms prompt quiet), ticked every 50 ms like the watcher.
    struct Sim {
        now: Instant,
        d: Detector,
        /// Every activity proposed that differs from the one before, with
        /// the source: what the watcher would apply.
        changes: Vec<(Activity, ActivitySource)>,
        messages: Vec<Option<String>>,
    }

    impl Sim {
        fn new() -> Sim {
            Sim::with(default_detection())
        }

        fn with(detection: Arc<Detection>) -> Sim {
            let now = Instant::now();
            Sim {
                now,
                d: Detector::new(detection, b"", None, now),
                changes: vec![],
                messages: vec![],
            }
        }

        fn print(&mut self, s: &str) {
            self.d.feed(self.now, s.as_bytes());
        }

        /// Lets `ms` pass in 50 ms ticks.
        fn wait(&mut self, ms: u64) {
            let end = self.now + Duration::from_millis(ms);
            while self.now < end {
                self.now += (50 * MS).min(end - self.now);
                if let Some(p) = self.d.tick(self.now)
                    && self.changes.last().map(|c| c.0) != Some(p.activity)
                {
                    self.changes.push((p.activity, p.source));
                    self.messages.push(p.message);
                }
            }
        }

        fn activities(&self) -> Vec<Activity> {
            self.changes.iter().map(|c| c.0).collect()
        }
    }

    use Activity::*;

    #[test]
    fn output_is_working_and_silence_is_idle_after_the_quiet_window() {
        let mut s = Sim::new();
        for i in 0..20 {
            s.print(&format!("building {i}\r\n"));
            s.wait(100);
        }
        assert_eq!(s.changes, [(Working, ActivitySource::Output)]);
        s.wait(2800);
        assert_eq!(s.activities(), [Working], "still inside the quiet window");
        s.wait(100);
        assert_eq!(
            s.changes,
            [
                (Working, ActivitySource::Output),
                (Idle, ActivitySource::Output)
            ]
        );
        assert_eq!(s.messages, [None, None]);
    }

    #[test]
    fn a_spinner_redrawing_one_line_stays_working() {
        let mut s = Sim::new();
        let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
        for i in 0..100 {
            s.print(&format!("\r{} Thinking… ({i}s)", frames[i % frames.len()]));
            s.wait(100);
        }
        assert_eq!(s.activities(), [Working]);
    }

    #[test]
    fn a_progress_bar_pausing_shorter_than_the_quiet_window_does_not_flap() {
        let mut s = Sim::new();
        for pct in (0..=100).step_by(10) {
            let bar = "=".repeat(pct / 10);
            s.print(&format!("\r\x1b[K[{bar:<10}] {pct:>3}%"));
            // Bursts, then pauses past the working window but short of the
            // quiet window.
            s.wait(if pct % 20 == 0 { 2500 } else { 100 });
        }
        assert_eq!(s.activities(), [Working]);
        s.wait(3000);
        assert_eq!(s.activities(), [Working, Idle]);
    }

    #[test]
    fn a_yes_no_prompt_is_waiting_and_its_redraws_are_not_work() {
        let mut s = Sim::new();
        s.print("Downloading...\r\nUnpacking...\r\n");
        s.wait(100);
        s.print("\x1b[1mProceed? [y/N]\x1b[0m ");
        s.wait(100);
        assert_eq!(s.activities(), [Working], "not before prompt_quiet");
        s.wait(100);
        assert_eq!(
            s.changes,
            [
                (Working, ActivitySource::Output),
                (WaitingForInput, ActivitySource::PromptRule)
            ]
        );
        assert_eq!(s.messages[1].as_deref(), Some("Proceed? [y/N]"));
        // A TUI repainting the prompt, for longer than the quiet window.
        for _ in 0..50 {
            s.print("\r\x1b[KProceed? [y/N] ");
            s.wait(100);
        }
        assert_eq!(s.activities(), [Working, WaitingForInput]);
        // The answer is echoed: the agent works again.
        s.print("y\r\n");
        s.wait(50);
        assert_eq!(s.activities(), [Working, WaitingForInput, Working]);
        s.print("done\r\n");
        s.wait(3100);
        assert_eq!(s.activities(), [Working, WaitingForInput, Working, Idle]);
    }

    #[test]
    fn a_shell_prompt_is_idle_at_once() {
        let mut s = Sim::new();
        s.print(
            "$ ls\r\nCargo.toml  src\r\n\x1b[01;32malice@box\x1b[00m:\x1b[01;34m~/src\x1b[00m$ ",
        );
        s.wait(100);
        assert!(s.changes.is_empty(), "a quick command is no work");
        s.wait(50);
        assert_eq!(s.changes, [(Idle, ActivitySource::PromptRule)]);
        assert_eq!(s.messages[0].as_deref(), Some("alice@box:~/src$"));
        // Typing a command echoes: working until the next prompt.
        s.print("m");
        s.wait(50);
        s.print("ake\r\n");
        s.wait(50);
        assert_eq!(s.activities(), [Idle, Working]);
        s.print("cc -o x x.c\r\n");
        s.wait(50);
        s.print("$ ");
        s.wait(150);
        assert_eq!(s.activities(), [Idle, Working, Idle]);
    }

    #[test]
    fn a_prompt_appearing_after_silence_is_waiting_without_a_working_blip() {
        let mut s = Sim::new();
        s.print("step 1\r\nstep 2\r\n");
        s.wait(3100);
        assert_eq!(s.activities(), [Working, Idle]);
        s.print("Proceed? [y/N] ");
        s.wait(200);
        assert_eq!(s.activities(), [Working, Idle, WaitingForInput]);
        // A prompt printed in two pieces: the first piece is output.
        let mut s = Sim::new();
        s.wait(3100);
        s.print("Overwrite config.toml? ");
        s.wait(50);
        s.print("(y/n) ");
        s.wait(200);
        assert_eq!(s.activities(), [Idle, Working, WaitingForInput]);
    }

    #[test]
    fn a_pane_that_never_printed_becomes_idle_after_the_quiet_window() {
        let mut s = Sim::new();
        s.wait(2950);
        assert!(s.changes.is_empty());
        s.wait(100);
        assert_eq!(s.changes, [(Idle, ActivitySource::Output)]);
    }

    #[test]
    fn a_seeded_detector_resumes_from_the_log() {
        let now = Instant::now();
        let old = now.checked_sub(Duration::from_secs(60)).unwrap_or(now);
        let seed = format!("{}\r\nContinue? (y/n) ", "x".repeat(3 * TAIL_BYTES));
        let mut d = Detector::new(default_detection(), seed.as_bytes(), Some(old), now);
        assert_eq!(d.tail.len(), TAIL_BYTES);
        let p = d.tick(now).unwrap();
        assert_eq!(
            (p.activity, p.source, p.message.as_deref()),
            (
                WaitingForInput,
                ActivitySource::PromptRule,
                Some("Continue? (y/n)")
            )
        );
        // Output written just before the restart is still work.
        let mut d = Detector::new(default_detection(), b"compiling\r\n", Some(now), now);
        assert_eq!(d.tick(now + 10 * MS).unwrap().activity, Working);
        assert!(d.quiet_for(now + 10 * MS) < Duration::from_secs(1));
    }

    #[test]
    fn the_tail_stays_bounded_and_long_lines_still_match() {
        let mut s = Sim::new();
        for _ in 0..100 {
            s.print(&"y".repeat(1000));
        }
        assert!(s.d.tail.len() <= 2 * TAIL_BYTES);
        s.print(&format!("{}\r\n", "z".repeat(3 * TAIL_BYTES)));
        assert_eq!(s.d.tail.len(), TAIL_BYTES);
        s.print("ok? [Y/n] ");
        s.wait(200);
        assert_eq!(s.activities(), [WaitingForInput]);
    }

    #[test]
    fn profile_rules_and_windows_apply_and_can_change() {
        let cfg: ActivityConfig = serde_yaml::from_str(
            "working_window_ms: 200\nquiet_window_ms: 800\nprompt_quiet_ms: 100\nrules:\n  - {match: 'Allow\\?$', activity: waiting_for_input}\n",
        )
        .unwrap();
        let mut s = Sim::with(Arc::new(cfg.compile().unwrap()));
        s.print("thinking\n");
        s.wait(750);
        assert_eq!(s.activities(), [Working]);
        s.wait(100);
        assert_eq!(s.activities(), [Working, Idle]);
        s.print("Allow?");
        s.wait(100);
        assert_eq!(s.activities(), [Working, Idle, WaitingForInput]);
        s.wait(1000);
        s.d.set_detection(default_detection());
        s.wait(50);
        assert_eq!(
            s.activities(),
            [Working, Idle, WaitingForInput],
            "between the default windows: kept"
        );
        s.wait(2000);
        assert_eq!(
            s.activities(),
            [Working, Idle, WaitingForInput, Idle],
            "without the rule the prompt is only silence"
        );
    }
}
