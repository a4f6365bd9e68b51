//! `agenttower attach` with real tmux clients on real pseudo-terminals:
//! typed inside a client of the daemon's tmux server it switches that
//! client; outside tmux it becomes a new client; `--print` shows the argv.

#[path = "../support/pty.rs"]
mod pty;

use std::process::{Command, Output};

use agenttower::pb;
use pty::PtyChild;

use super::{cli, in_pane, json};
use crate::support::*;

/// A pane of a layout answer, by label.
fn labelled<'a>(l: &'a pb::GetLayoutResponse, label: &str) -> &'a pb::Pane {
    l.panes()
        .iter()
        .find(|p| p.label == label)
        .unwrap_or_else(|| panic!("no pane {label}: {l:#?}"))
}

/// `client_pid pane_id` of every client of the daemon's tmux server.
fn clients(d: &Daemon) -> Vec<(u32, String)> {
    clients_on(&d.tmux_socket(), "#{client_pid} #{pane_id}")
        .iter()
        .filter_map(|l| {
            let (pid, pane) = l.split_once(' ')?;
            Some((pid.parse().ok()?, pane.to_string()))
        })
        .collect()
}

/// Polls until the client with process id `pid` shows tmux pane `pane`;
/// fails with what the client's terminal showed.
async fn until_client_shows(d: &Daemon, pid: u32, pane: &str, client: &PtyChild) {
    let deadline = std::time::Instant::now() + DEADLINE;
    while !clients(d)
        .iter()
        .any(|(p, shown)| *p == pid && shown == pane)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "client {pid} never showed {pane}: {:?}\n{}",
            clients(d),
            client.output()
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// `agenttower args` with the daemon's environment, minus `$TMUX` (the
/// test itself may run inside tmux).
fn cli_command(d: &Daemon, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agenttower"));
    cmd.envs(d.env())
        .env_remove("TMUX")
        .env_remove("TMUX_PANE")
        .env("TERM", "xterm")
        .args(args);
    cmd
}

#[tokio::test]
async fn attach_switches_the_client_it_runs_in_and_outside_tmux_becomes_a_client() {
    let d = Daemon::start().await;
    let l = d.create_settled("1m+2s", "work").await;
    let (s1, s2) = (labelled(&l, "work.s1"), labelled(&l, "work.s2"));

    // A harness session on the daemon's tmux server, shown by a real
    // client on a pseudo-terminal, as an operator's terminal would.
    let harness = tmux_ok(d.tmux(&[
        "new-session",
        "-d",
        "-s",
        "harness",
        "-x",
        "80",
        "-y",
        "24",
        "-P",
        "-F",
        "#{pane_id}",
    ]))
    .trim()
    .to_string();
    let mut attach = Command::new("tmux");
    attach
        .arg("-S")
        .arg(d.tmux_socket())
        .args(["attach-session", "-t", "=harness"])
        .env_remove("TMUX")
        .env("TERM", "xterm");
    let operator = PtyChild::spawn(attach);
    until_client_shows(&d, operator.pid(), &harness, &operator).await;

    // Typed by name inside that client: it switches to work.s1 and returns.
    let ran = in_pane(&d, &harness, &[], &["attach", "work.s1"]).await;
    let (code, stderr) = (ran.code, ran.stderr);
    assert_eq!(code, 0, "{stderr}\n{}", d.log());
    until_client_shows(&d, operator.pid(), &s1.tmux_pane_id, &operator).await;
    // `tmux switch-client -l` (prefix + L) comes back.
    tmux_ok(d.tmux(&["switch-client", "-l", "-c", &client_tty(&d, operator.pid())]));
    until_client_shows(&d, operator.pid(), &harness, &operator).await;

    // Outside tmux: the process becomes a new client on work.s2, and ends
    // when that client detaches.
    let mut outside = PtyChild::spawn(cli_command(&d, &["attach", "work.s2"]));
    until_client_shows(&d, outside.pid(), &s2.tmux_pane_id, &outside).await;
    tmux_ok(d.tmux(&["detach-client", "-t", &client_tty(&d, outside.pid())]));
    let status = outside.exited().await;
    assert!(status.success(), "{status}: {}", outside.output());
    assert_eq!(
        clients(&d)
            .into_iter()
            .map(|(pid, _)| pid)
            .collect::<Vec<_>>(),
        [operator.pid()]
    );
}

/// The tty of the client with process id `pid`.
fn client_tty(d: &Daemon, pid: u32) -> String {
    tmux_ok(d.tmux(&["list-clients", "-F", "#{client_pid} #{client_tty}"]))
        .lines()
        .find_map(|l| {
            let (p, tty) = l.split_once(' ')?;
            (p == pid.to_string()).then(|| tty.to_string())
        })
        .unwrap_or_else(|| panic!("no client with pid {pid}"))
}

/// The argv `attach --print --json` prints, with `tmux` set as `$TMUX`.
fn printed(d: &Daemon, tmux: Option<&str>, name: &str) -> Result<Vec<String>, Output> {
    let mut cmd = cli_command(d, &["--json", "attach", "--print", name]);
    if let Some(t) = tmux {
        cmd.env("TMUX", t);
    }
    let out = cmd.output().expect("run agenttower");
    if !out.status.success() {
        return Err(out);
    }
    Ok(serde_json::from_value(json(&out)).expect("a JSON array of words"))
}

#[tokio::test]
async fn attach_print_shows_the_argv_for_names_prefixes_and_adopted_agents() {
    let d = Daemon::start().await;
    let l = d.create_settled("1m+2s", "work").await;
    let s1 = labelled(&l, "work.s1");
    let sock = d.tmux_socket().display().to_string();
    let attach_to = |pane: &str| -> Vec<String> {
        ["tmux", "-S", &sock, "attach-session", "-t", pane]
            .map(String::from)
            .to_vec()
    };

    // Outside tmux, by label, full id and unique id prefix. Ids are
    // UUIDv7: panes made together share their first characters, so a
    // prefix works once it is long enough to be unique.
    let others: Vec<&str> = l
        .panes()
        .iter()
        .map(|p| p.pane_id.as_str())
        .filter(|id| *id != s1.pane_id)
        .collect();
    let n = (8..=s1.pane_id.len())
        .find(|&n| others.iter().all(|o| !o.starts_with(&s1.pane_id[..n])))
        .unwrap();
    for name in ["work.s1", s1.pane_id.as_str(), &s1.pane_id[..n]] {
        assert_eq!(
            printed(&d, None, name).unwrap(),
            attach_to(&s1.tmux_pane_id),
            "{name}"
        );
    }
    if n > 8 {
        let out = printed(&d, None, &s1.pane_id[..n - 1]).unwrap_err();
        assert_eq!(out.status.code(), Some(4));
        assert_eq!(json(&out)["error"]["code"], "name_ambiguous", "{out:?}");
    }
    // Inside a client of the daemon's server: switch-client.
    let inside = format!("{sock},1,0");
    assert_eq!(
        printed(&d, Some(&inside), "work.s1").unwrap(),
        ["tmux", "-S", &sock, "switch-client", "-t", &s1.tmux_pane_id]
    );
    // Inside another tmux server: a nested client.
    assert_eq!(
        printed(&d, Some("/tmp/elsewhere.sock,1,0"), "work.s1").unwrap(),
        attach_to(&s1.tmux_pane_id)
    );
    // Without --json: one line of words.
    let out = cli_command(&d, &["attach", "--print", "work.s1"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("tmux -S {sock} attach-session -t {}\n", s1.tmux_pane_id)
    );

    // An adopted agent has no managed pane: attach finds it by its label.
    let (own, _) = d.adopt_own_pane("ops", "ops").await;
    assert_eq!(printed(&d, None, "ops").unwrap(), attach_to(&own));

    // A name that names nothing: the closed code, exit 4.
    let out = printed(&d, None, "nowhere.s1").unwrap_err();
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(json(&out)["error"]["code"], "name_not_found");

    // A removed pane has no tmux pane to attach to: exit 5.
    let s2 = labelled(&l, "work.s2");
    assert!(cli(&d, &["pane", "remove", &s2.pane_id]).status.success());
    let out = printed(&d, None, "work.s2").unwrap_err();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("work.s2 has no tmux pane to attach to"),
        "{out:?}"
    );

    // tmux missing from PATH: a clear error, not a panic.
    let empty = tempfile::tempdir().unwrap();
    let out = cli_command(&d, &["attach", "work.s1"])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("error: cannot run tmux: "), "{stderr}");
}
