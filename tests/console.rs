//! The real `agenttower-tui` binary inside tmux: it starts its own daemon,
//! creates a layout from keystrokes, watches it converge, survives a daemon
//! restart and a resize, removes and recreates a pane, and restores the
//! terminal on quit; it shows each agent's activity, lists an agent that
//! waits for input under "needs you", rings the bell, runs notify-send and
//! previews the pane's output without its escape sequences; Enter attaches
//! to a pane and detaching comes back (or, inside the agents' own tmux
//! server, switches the operator's client), `/` goes to a name. The screen is
//! read with `capture-pane`.

#[path = "support/mod.rs"]
mod support;

#[path = "console/activity.rs"]
mod activity;
#[path = "console/attach.rs"]
mod attach;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

const TUI: &str = env!("CARGO_BIN_EXE_agenttower-tui");

/// A console in its own tmux server, with its own state, config and daemon.
struct Console {
    dir: tempfile::TempDir,
    /// The agents' tmux server is the console's own (the harness's).
    shared_tmux: bool,
}

impl Console {
    fn start() -> Console {
        Console::start_with("")
    }

    /// A console whose `console.yaml` is `console_yaml`.
    fn start_with(console_yaml: &str) -> Console {
        Console::launch(console_yaml, false)
    }

    /// A console that runs in the agents' own tmux server: the daemon's
    /// tmux socket is the harness's.
    fn start_in_the_agents_server() -> Console {
        Console::launch("", true)
    }

    fn launch(console_yaml: &str, shared_tmux: bool) -> Console {
        let dir = tempfile::Builder::new().prefix("atui").tempdir().unwrap();
        let cfg = dir.path().join("cfg");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(cfg.join("config.yaml"), "settle_window_ms: 300\n").unwrap();
        std::fs::write(cfg.join("console.yaml"), console_yaml).unwrap();
        let c = Console { dir, shared_tmux };
        c.fake_notify_send();
        // remain-on-exit keeps the pane after the console quits, so the
        // test can see what it left behind.
        let out = Command::new("tmux")
            .envs(c.env())
            .arg("-S")
            .arg(c.ui_socket())
            .args([
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "ui",
                "-x",
                "120",
                "-y",
                "40",
            ])
            // A shell records the console's exit status in a file once it
            // quits (tmux itself may lose it: it can see the pty close
            // before it reaps the process). Binary and file are passed as
            // $0 and $1, not interpolated into the script.
            .args(["sh", "-c", r#""$0"; echo $? > "$1""#, TUI])
            .arg(c.dir.path().join("exit-status"))
            .args([";", "set-option", "-g", "remain-on-exit", "on"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        c
    }

    fn env(&self) -> Vec<(String, String)> {
        let d = self.dir.path();
        [
            ("AGENTTOWER_STATE_DIR", d.join("state")),
            ("AGENTTOWER_CONFIG_DIR", d.join("cfg")),
            ("AGENTTOWER_TMUX_SOCKET", self.local_socket()),
            ("HOME", d.to_path_buf()),
            ("SHELL", PathBuf::from("/bin/sh")),
            // A notify-send that records its arguments comes first.
            (
                "PATH",
                PathBuf::from(format!("{}:{}", d.join("bin").display(), path())),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.display().to_string()))
        .collect()
    }

    /// `bin/notify-send`: writes its arguments, one a line, to
    /// `notify-send.args` (through a rename, so a reader sees all or none).
    fn fake_notify_send(&self) {
        use std::os::unix::fs::PermissionsExt as _;
        let bin = self.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let out = self.notify_send_args();
        let script = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{0}.tmp'\nmv '{0}.tmp' '{0}'\n",
            out.display()
        );
        let program = bin.join("notify-send");
        std::fs::write(&program, script).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn notify_send_args(&self) -> PathBuf {
        self.dir.path().join("notify-send.args")
    }

    fn ui_socket(&self) -> PathBuf {
        self.dir.path().join("ui.sock")
    }
    fn daemon_socket(&self) -> PathBuf {
        self.dir.path().join("state/agenttowerd.sock")
    }
    /// The agents' tmux server.
    fn local_socket(&self) -> PathBuf {
        if self.shared_tmux {
            self.ui_socket()
        } else {
            self.dir.path().join("tmux-local.sock")
        }
    }

    fn screen(&self) -> String {
        tmux_ok(tmux_on(
            &self.ui_socket(),
            &["capture-pane", "-p", "-t", "ui"],
        ))
    }

    /// Polls the screen until `ok` holds, failing with the last screen.
    async fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        self.wait_for_or(what, Path::new("/dev/null"), ok).await
    }

    /// `wait_for`, adding the file `log` to the failure message.
    async fn wait_for_or(&self, what: &str, log: &Path, ok: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}\n{}:\n{}",
                log.display(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "ui"];
        args.extend(keys);
        tmux_ok(tmux_on(&self.ui_socket(), &args));
    }

    fn text(&self, text: &str) {
        tmux_ok(tmux_on(
            &self.ui_socket(),
            &["send-keys", "-t", "ui", "-l", text],
        ));
    }

    /// SIGTERMs the daemon serving the socket; returns its pid.
    fn stop_daemon(&self) -> Option<i32> {
        let pid = agenttower::launch::daemon_pid(&self.daemon_socket())?;
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        Some(pid)
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.stop_daemon();
        for socket in [self.ui_socket(), self.local_socket()] {
            let _ = tmux_on(&socket, &["kill-server"]);
        }
    }
}

fn path() -> String {
    std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
}

/// The screen line that mentions `needle`.
fn line_with<'a>(screen: &'a str, needle: &str) -> Option<&'a str> {
    screen.lines().find(|l| l.contains(needle))
}

/// Whether the screen is the console's whole frame and nothing else: its
/// title bar on top, every panel line inside a box, each box closed, and
/// no line wider than the window.
fn frame_intact(screen: &str) -> bool {
    let lines: Vec<&str> = screen.lines().collect();
    let Some((first, rest)) = lines.split_first() else {
        return false;
    };
    // The status line ends it; nobody waiting, the needs-you group is one
    // unboxed line.
    let panels: Vec<&str> = rest[..rest.len().saturating_sub(1)]
        .iter()
        .copied()
        .filter(|l| !l.starts_with(" needs you: "))
        .collect();
    let starts = |c: char| panels.iter().filter(|l| l.starts_with(c)).count();
    first.starts_with(" AgentTower ")
        && !panels.is_empty()
        && panels.iter().all(|l| l.starts_with(['┌', '│', '└']))
        && starts('┌') == starts('└')
        && lines.iter().all(|l| l.chars().count() <= 120)
}

fn pane_ready(screen: &str, label: &str) -> bool {
    line_with(screen, &format!("{label} ")).is_some_and(|l| l.contains(" ready "))
}

#[tokio::test]
async fn the_console_creates_a_layout_from_keys_and_watches_it_converge() {
    let c = Console::start();
    let screen = c
        .wait_for("the console to start its daemon and connect", |s| {
            s.contains("started agenttowerd") && s.contains("connected")
        })
        .await;
    assert!(screen.contains("No layouts yet"), "{screen}");

    // Create a 1m+2s layout named `tui` from the dialog.
    c.keys(&["c"]);
    let dialog = c
        .wait_for("the create dialog", |s| s.contains("Create layout"))
        .await;
    assert!(
        line_with(&dialog, "template").is_some_and(|l| l.contains("1m+2s")),
        "{dialog}"
    );
    c.text("tui");
    c.keys(&["Enter"]);
    // The layout's own state change is the last event of the create; the
    // layout row may show `ready` a frame before the event log does.
    c.wait_for("the layout to converge", |s| {
        line_with(s, "tui ").is_some_and(|l| l.contains("ready") && l.contains("3/3 ready"))
            && ["tui.m1", "tui.s1", "tui.s2"]
                .iter()
                .all(|p| pane_ready(s, p))
            && s.contains("managed_layout_state_changed")
    })
    .await;
    // The panes are real.
    let panes = tmux_ok(tmux_on(
        &c.local_socket(),
        &["list-panes", "-s", "-t", "=tui", "-F", "#{pane_id}"],
    ));
    assert_eq!(panes.lines().count(), 3, "{panes}");

    // A resize redraws at the new size.
    tmux_ok(tmux_on(
        &c.ui_socket(),
        &["resize-window", "-t", "ui", "-x", "100", "-y", "32"],
    ));
    c.wait_for("a redraw at 100 columns", |s| {
        s.lines().all(|l| l.chars().count() <= 100)
            && line_with(s, "tui ").is_some_and(|l| l.contains("3/3 ready"))
            && s.lines().next().is_some_and(|l| l.contains("AgentTower"))
    })
    .await;

    // The daemon restarts under the console: it reconnects and resumes.
    let old = c.stop_daemon().expect("the console's daemon");
    c.wait_for("reconnecting", |s| s.contains("reconnecting"))
        .await;
    // The old daemon holds its lock until it exits; start the new one after.
    eventually("the old daemon to exit", || {
        let gone = !agenttower::launch::process_running(old);
        async move { gone.then_some(()) }
    })
    .await;
    let log = c.dir.path().join("restarted.log");
    let out = std::fs::File::create(&log).unwrap();
    let mut daemon = Command::new(TUI)
        .arg("--run-daemon")
        .envs(c.env())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let restarted = c
        .wait_for_or("the reattach event after the restart", &log, |s| {
            s.contains("connected") && s.contains("managed_layout_recovery_reattached")
        })
        .await;
    assert!(!restarted.contains("reconnecting"), "{restarted}");

    // Remove the second worker, then recreate it, from the pane list.
    c.keys(&["Tab", "Down", "Down", "x"]);
    c.wait_for("the pane to be removed", |s| {
        s.contains("removed pane tui.s2")
            && line_with(s, "tui.s2 ").is_some_and(|l| l.contains("removed"))
    })
    .await;
    c.keys(&["r"]);
    c.wait_for("the successor to be ready", |s| {
        s.contains("recreating pane tui.s2") && pane_ready(s, "tui.s2")
    })
    .await;

    // An API error shows its closed code and hint on the status line: the
    // same session name again.
    c.keys(&["c"]);
    c.wait_for("the create dialog", |s| s.contains("Create layout"))
        .await;
    c.text("tui");
    c.keys(&["Enter"]);
    c.wait_for("the conflict error", |s| {
        line_with(s, "managed_session_name_conflict").is_some_and(|l| l.contains("hint:"))
    })
    .await;

    // Quit: the console exits 0 and leaves the alternate screen.
    c.keys(&["q"]);
    let status_file = c.dir.path().join("exit-status");
    let status = eventually("the console to exit", || {
        let s = std::fs::read_to_string(&status_file).ok();
        async move { s.filter(|s| s.ends_with('\n')) }
    })
    .await;
    assert_eq!(status.trim(), "0", "the console's exit status");
    // tmux reads the pane's last bytes (leave the alternate screen)
    // asynchronously, so poll; a console that never restores fails here.
    let ui = c.ui_socket();
    eventually("the alternate screen to be left", || {
        let on = tmux_ok(tmux_on(
            &ui,
            &["display-message", "-p", "-t", "ui", "#{alternate_on}"],
        ));
        async move { (on.trim() == "0").then_some(()) }
    })
    .await;
    let _ = daemon.kill();
    let _ = daemon.wait();
}
