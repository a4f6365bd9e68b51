//! The CLI starts the daemon when none answers (issue 15): the first
//! command starts it and says so first, the next one reuses it; `--no-start`
//! and an explicit socket opt out with the hinted `daemon_unavailable`
//! (exit 3), and `daemon stop` with nothing running exits 8.

use std::path::PathBuf;
use std::process::{Command, Output};

use agenttower::launch;

use super::json;
use crate::support::*;

/// A state and config directory with no daemon, and a tmux server of its
/// own. Whatever daemon a test's commands start there is killed on drop.
struct Fresh {
    dir: tempfile::TempDir,
}

impl Fresh {
    fn new() -> Fresh {
        // The CLI starts the agenttowerd beside itself.
        let daemon = daemon_bin();
        let cli = PathBuf::from(env!("CARGO_BIN_EXE_agenttower"));
        assert_eq!(
            daemon.parent(),
            cli.parent(),
            "agenttowerd beside agenttower"
        );
        let dir = tempfile::Builder::new().prefix("at").tempdir().unwrap();
        let cfg = dir.path().join("cfg");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(
            cfg.join("config.yaml"),
            "docker:\n  scan_at_start: false\nsettle_window_ms: 300\n",
        )
        .unwrap();
        Fresh { dir }
    }

    /// The default socket: the state directory's.
    fn socket(&self) -> PathBuf {
        self.dir.path().join("state").join("agenttowerd.sock")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("state").join("agenttowerd.log")
    }

    /// The CLI with this directory's state and config, the default socket
    /// (no AGENTTOWER_SOCKET) and `env` on top.
    fn cli_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let path = |p: &str| self.dir.path().join(p).display().to_string();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_agenttower"));
        for var in [
            "AGENTTOWER_SOCKET",
            "AGENTTOWER_DB",
            "AGENTTOWER_EVENTS_LOG",
            "AGENTTOWER_LOG_DIR",
            "TMUX",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("AGENTTOWER_STATE_DIR", path("state"))
            .env("AGENTTOWER_CONFIG_DIR", path("cfg"))
            .env("AGENTTOWER_TMUX_SOCKET", path("tmux.sock"))
            .env("HOME", self.dir.path())
            .env("SHELL", "/bin/sh")
            .envs(env.iter().copied())
            .args(args)
            .output()
            .expect("run agenttower")
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.cli_env(&[], args)
    }

    /// The pid serving the socket, if any.
    fn daemon(&self) -> Option<i32> {
        launch::daemon_pid(&self.socket())
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Some(pid) = self.daemon() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = tmux_on(&self.dir.path().join("tmux.sock"), &["kill-server"]);
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn a_command_starts_the_daemon_and_the_next_reuses_it() {
    let f = Fresh::new();
    assert_eq!(f.daemon(), None);
    let out = f.cli(&["--json", "layout", "list"]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let first = text.lines().next().unwrap_or_default();
    let pid: i32 = first
        .strip_prefix("started agenttowerd (pid ")
        .and_then(|rest| rest.split_once(')'))
        .and_then(|(pid, _)| pid.parse().ok())
        .unwrap_or_else(|| panic!("first line: {first:?}"));
    assert_eq!(
        first,
        format!(
            "started agenttowerd (pid {pid}) on {}; log: {}",
            f.socket().display(),
            f.log().display()
        )
    );
    assert!(f.log().exists());
    // stdout stays one JSON document.
    assert!(json(&out).is_object());
    assert_eq!(f.daemon(), Some(pid), "the kernel's pid for the socket");

    // The second command reuses it and says nothing about starting.
    let out = f.cli(&[
        "--json", "layout", "create", "-t", "1m+2s", "-s", "auto", "--wait",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("started agenttowerd"),
        "{}",
        stderr(&out)
    );
    assert_eq!(f.daemon(), Some(pid));
    let out = f.cli(&["--json", "pane", "get", "auto.s1"]);
    assert_eq!(json(&out)["pane"]["state"], "PANE_STATE_READY");

    // Stopping it, and stopping again: nothing runs, exit 8.
    let out = f.cli(&["daemon", "stop"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!launch::process_running(pid));
    let out = f.cli(&["daemon", "stop"]);
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("no agenttowerd running on {}", f.socket().display())
    );
}

#[tokio::test]
async fn no_start_gives_the_hinted_daemon_unavailable_once() {
    let f = Fresh::new();
    let out = f.cli(&["--no-start", "layout", "list"]);
    assert_eq!(out.status.code(), Some(3));
    let text = stderr(&out);
    assert!(
        text.starts_with(&format!(
            "error: daemon_unavailable: no agenttowerd answers on {}",
            f.socket().display()
        )),
        "{text}"
    );
    assert_eq!(text.matches("daemon_unavailable").count(), 1, "{text}");
    assert_eq!(
        text.lines().last().unwrap(),
        "hint: start it with `agenttower daemon start`, or drop --no-start",
        "{text}"
    );
    // --json: one error object with the hint.
    let out = f.cli(&["--no-start", "--json", "templates"]);
    assert_eq!(out.status.code(), Some(3));
    let e = &json(&out)["error"];
    assert_eq!(e["code"], "daemon_unavailable");
    assert_eq!(e["details"]["socket"], f.socket().display().to_string());
    assert!(
        e["hint"]
            .as_str()
            .unwrap()
            .contains("agenttower daemon start"),
        "{e}"
    );
    assert_eq!(f.daemon(), None, "nothing was started");
}

#[tokio::test]
async fn an_explicit_socket_is_never_started() {
    let f = Fresh::new();
    let socket = f.socket().display().to_string();
    let out = f.cli_env(&[("AGENTTOWER_SOCKET", &socket)], &["layout", "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("hint: start it with `agenttower daemon start`"));
    let out = f.cli(&["--socket", &socket, "layout", "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // Nor by the commands that only look: status, report.
    let out = f.cli(&["daemon", "status"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = f.cli(&["agent", "report", "idle"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = f.cli(&["daemon", "stop"]);
    assert_eq!(out.status.code(), Some(8), "{}", stderr(&out));
    assert_eq!(f.daemon(), None, "nothing was started");
    assert!(!f.log().exists());
}
