//! Telling the operator an agent started waiting: a terminal bell or an
//! OSC 9 notification written between two frames (neither moves the cursor
//! nor prints a cell, so the frame stays intact), and optionally a desktop
//! notification through `notify-send`, spawned and reaped in the
//! background. Settings come from `console.yaml` and the command line.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Deserialize;

use crate::activity::Alert;
use crate::sanitize;

/// An agent that starts waiting again within this long alerts once.
pub(crate) const COOLDOWN: Duration = Duration::from_secs(10);
/// A desktop notifier still running after this long is killed.
const DESKTOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest notification text.
const TEXT_CHARS: usize = 200;

/// What the terminal gets when an agent starts waiting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TerminalAlert {
    /// BEL: the terminal (or tmux) flags the window, may beep or flash.
    #[default]
    Bell,
    /// `ESC ] 9 ; text BEL`: a notification in terminals that support it
    /// (iTerm2, WezTerm, kitty, foot, Windows Terminal, ...).
    Osc9,
    /// Nothing on the terminal.
    Off,
}

/// `console.yaml` in the config directory; every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ConsoleConfig {
    /// `bell`, `osc9` or `off`.
    pub notify: TerminalAlert,
    /// Also run `notify-send` (when it is on PATH).
    pub desktop_notify: bool,
}

impl ConsoleConfig {
    /// Reads `path`; a missing or empty file means defaults.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Ok(Self::default()),
            Ok(text) => serde_yaml::from_str(&text)
                .with_context(|| format!("invalid console config {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// `name` as an executable file in one of `path`'s directories.
pub(crate) fn find_program(name: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Sends alerts, at most one per agent per `COOLDOWN`.
#[derive(Debug)]
pub(crate) struct Notifier {
    terminal: TerminalAlert,
    /// `notify-send`, when enabled and found.
    desktop: Option<PathBuf>,
    /// Running inside tmux: OSC 9 goes through tmux's passthrough.
    tmux: bool,
    last: HashMap<String, Instant>,
}

impl Notifier {
    pub(crate) fn new(terminal: TerminalAlert, desktop: Option<PathBuf>) -> Self {
        Notifier {
            terminal,
            desktop,
            tmux: false,
            last: HashMap::new(),
        }
    }

    /// Inside tmux (`$TMUX` set), tmux would drop OSC 9: it is wrapped in
    /// tmux's passthrough (`ESC P tmux; … ESC \`), which tmux forwards to
    /// the outer terminal when `allow-passthrough` is on.
    pub(crate) fn inside_tmux(mut self, tmux: bool) -> Self {
        self.tmux = tmux;
        self
    }

    /// Alerts the operator of `alerts` (one terminal alert and one desktop
    /// notification for the batch); writes to `out` and flushes it.
    pub(crate) fn send(&mut self, alerts: Vec<Alert>, out: &mut impl Write) -> std::io::Result<()> {
        let now = Instant::now();
        self.last.retain(|_, at| now.duration_since(*at) < COOLDOWN);
        let fresh: Vec<Alert> = alerts
            .into_iter()
            .filter(|a| {
                let fresh = !self.last.contains_key(&a.agent_id);
                self.last.insert(a.agent_id.clone(), now);
                fresh
            })
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let (summary, body) = text(&fresh);
        match self.terminal {
            TerminalAlert::Bell => out.write_all(b"\x07")?,
            TerminalAlert::Osc9 => {
                let line = if body.is_empty() {
                    summary.clone()
                } else {
                    format!("{summary}: {body}")
                };
                // The text is printable only: no BEL or ESC can end the
                // sequence early or start another.
                let line = sanitize::one_line(&format!("AgentTower: {line}"), TEXT_CHARS);
                if self.tmux {
                    write!(out, "\x1bPtmux;\x1b\x1b]9;{line}\x07\x1b\\")?;
                } else {
                    write!(out, "\x1b]9;{line}\x07")?;
                }
            }
            TerminalAlert::Off => {}
        }
        out.flush()?;
        if let Some(program) = &self.desktop {
            desktop(program, &summary, &body);
        }
        Ok(())
    }
}

/// A summary ("work.s1 needs you") and a body (its message, or the
/// labels of several agents), both printable single lines.
fn text(alerts: &[Alert]) -> (String, String) {
    match alerts {
        [one] => (
            sanitize::one_line(&format!("{} needs you", one.label), TEXT_CHARS),
            sanitize::one_line(&one.message, TEXT_CHARS),
        ),
        many => (
            format!("{} agents need you", many.len()),
            sanitize::one_line(
                &many
                    .iter()
                    .map(|a| a.label.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                TEXT_CHARS,
            ),
        ),
    }
}

/// Runs `notify-send` with an argument vector (no shell), without waiting:
/// a background task reaps it, or kills it when it hangs.
fn desktop(program: &Path, summary: &str, body: &str) {
    let mut cmd = tokio::process::Command::new(program);
    cmd.arg("--app-name=AgentTower")
        .arg("--")
        .arg(format!("AgentTower: {summary}"));
    if !body.is_empty() {
        cmd.arg(body);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let Ok(mut child) = cmd.spawn() else {
        return;
    };
    tokio::spawn(async move {
        if tokio::time::timeout(DESKTOP_TIMEOUT, child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(label: &str, message: &str) -> Alert {
        Alert {
            agent_id: format!("a-{label}"),
            label: label.into(),
            message: message.into(),
        }
    }

    #[test]
    fn the_config_file_is_optional_and_strict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.yaml");
        assert_eq!(
            ConsoleConfig::load(&path).unwrap(),
            ConsoleConfig::default()
        );
        std::fs::write(&path, "notify: osc9\ndesktop_notify: true\n").unwrap();
        assert_eq!(
            ConsoleConfig::load(&path).unwrap(),
            ConsoleConfig {
                notify: TerminalAlert::Osc9,
                desktop_notify: true
            }
        );
        std::fs::write(&path, "notfy: bell\n").unwrap();
        let e = format!("{:#}", ConsoleConfig::load(&path).unwrap_err());
        assert!(e.contains("notfy"), "{e}");
    }

    #[test]
    fn a_bell_rings_once_per_agent_within_the_cooldown() {
        let mut n = Notifier::new(TerminalAlert::Bell, None);
        let mut out = Vec::new();
        n.send(vec![alert("w.s1", ""), alert("w.s2", "")], &mut out)
            .unwrap();
        assert_eq!(out, b"\x07", "one bell for a batch");
        n.send(vec![alert("w.s1", "")], &mut out).unwrap();
        assert_eq!(out, b"\x07", "no second bell within the cooldown");
        n.send(vec![alert("w.s3", "")], &mut out).unwrap();
        assert_eq!(out, b"\x07\x07");
        let mut off = Notifier::new(TerminalAlert::Off, None);
        let mut out = Vec::new();
        off.send(vec![alert("w.s1", "")], &mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn osc9_text_cannot_end_or_start_a_sequence() {
        let mut n = Notifier::new(TerminalAlert::Osc9, None);
        let mut out = Vec::new();
        n.send(
            vec![alert(
                "w.s1",
                "Proceed?\u{7}\u{1b}]0;pwned\u{7} [y/N]\u{1b}[2J",
            )],
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\u{1b}]9;AgentTower: w.s1 needs you: Proceed? [y/N]\u{7}"
        );
        let mut n = Notifier::new(TerminalAlert::Osc9, None).inside_tmux(true);
        let mut out = Vec::new();
        n.send(vec![alert("w.s2", "")], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\u{1b}Ptmux;\u{1b}\u{1b}]9;AgentTower: w.s2 needs you\u{7}\u{1b}\\"
        );
    }

    #[tokio::test]
    async fn the_desktop_notifier_gets_an_argument_vector() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let args = dir.path().join("args");
        let program = dir.path().join("notify-send");
        std::fs::write(
            &program,
            format!(
                "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > {}.tmp\nmv {0}.tmp {0}\n",
                args.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::ffi::OsString::from(format!("/nonexistent:{}", dir.path().display()));
        let found = find_program("notify-send", Some(&path)).unwrap();
        assert_eq!(found, program);
        assert!(find_program("notify-send", Some(std::ffi::OsStr::new("/nonexistent"))).is_none());

        let mut n = Notifier::new(TerminalAlert::Off, Some(found));
        let pwned = dir.path().join("pwned");
        let message = format!("Proceed? $(touch {}) [y/N]", pwned.display());
        n.send(vec![alert("w.s1", &message)], &mut Vec::new())
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !args.exists() {
            assert!(Instant::now() < deadline, "notify-send never ran");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let got = std::fs::read_to_string(&args).unwrap();
        assert_eq!(
            got,
            format!("--app-name=AgentTower\n--\nAgentTower: w.s1 needs you\n{message}\n")
        );
        assert!(!pwned.exists(), "no shell ran the message");
    }
}
