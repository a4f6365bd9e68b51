//! The `agenttower` CLI against the real daemon: tables, `--json`, and exit
//! codes that tell usage errors, an unreachable daemon and API errors apart.

mod support;

use std::process::{Command, Output};

use support::*;

fn cli(d: &Daemon, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agenttower"))
        .envs(d.env())
        .args(args)
        .output()
        .expect("run agenttower")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn layout_create_wait_json_and_reads() {
    let d = Daemon::start().await;
    let out = cli(
        &d,
        &[
            "--json", "layout", "create", "-t", "1m+2s", "-s", "cli", "--wait",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["layout"]["state"], "LAYOUT_STATE_READY");
    assert_eq!(v["layout"]["ready_pane_count"], 3);
    // One shape: the panes travel inside the layout, nowhere else.
    assert!(v.get("panes").is_none(), "{v}");
    let labels: Vec<&str> = v["layout"]["panes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["cli.m1", "cli.s1", "cli.s2"]);
    let layout_id = v["layout"]["layout_id"].as_str().unwrap().to_string();

    // Human tables.
    let out = cli(&d, &["layout", "list"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("LAYOUT"));
    let row = lines.next().unwrap();
    assert!(
        row.contains(&layout_id) && row.contains("ready") && row.contains("3/3"),
        "{row}"
    );

    let out = cli(
        &d,
        &[
            "--json", "pane", "list", "--layout", &layout_id, "--state", "ready",
        ],
    );
    assert_eq!(json(&out)["panes"].as_array().unwrap().len(), 3);
    let out = cli(&d, &["--json", "agent", "list", "--origin", "managed"]);
    assert_eq!(json(&out)["agents"].as_array().unwrap().len(), 3);
    let out = cli(&d, &["templates"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("2m+2s"));
    let out = cli(&d, &["--json", "events", "list", "--layout", &layout_id]);
    let events = json(&out)["events"].as_array().unwrap().clone();
    assert_eq!(events[0]["event_type"], "EVENT_TYPE_MANAGED_LAYOUT_CREATED");
}

#[tokio::test]
async fn exit_codes_tell_api_errors_usage_errors_and_no_daemon_apart() {
    let mut d = Daemon::start().await;
    // API error: 4, with the closed code.
    let out = cli(
        &d,
        &[
            "--json", "layout", "create", "-t", "1m+2s", "-s", "bad name",
        ],
    );
    assert_eq!(out.status.code(), Some(4));
    let v = json(&out);
    assert_eq!(v["error"]["code"], "validation_failed");
    assert_eq!(v["error"]["details"]["field"], "tmux_session_name");
    let out = cli(&d, &["pane", "get", "nope"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("managed_pane_not_found"));
    // Usage error: 2.
    let out = cli(&d, &["layout", "create", "--session", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = cli(
        &d,
        &[
            "layout",
            "create",
            "-t",
            "1m+2s",
            "-s",
            "x",
            "--override",
            "no-equals",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    // A layout that settles degraded under --wait: 5.
    std::fs::write(
        d.dir.path().join("cfg/launch_commands/crash.yaml"),
        "name: crash\ncommand: [sh, -c, 'exit 2']\n",
    )
    .unwrap();
    let out = cli(
        &d,
        &[
            "layout",
            "create",
            "-t",
            "1m+2s",
            "-s",
            "deg",
            "--override",
            "slave:deg.s1=crash",
            "--wait",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("degraded"));
    // No daemon: 3.
    d.kill9();
    let out = cli(&d, &["layout", "list"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("daemon_unavailable"));
    let out = cli(&d, &["daemon", "status"]);
    assert_eq!(out.status.code(), Some(3));
}

#[tokio::test]
async fn daemon_start_status_and_stop() {
    let mut d = Daemon::start().await;
    d.kill9();
    let _ = std::fs::remove_file(d.socket());
    let out = Command::new(env!("CARGO_BIN_EXE_agenttower"))
        .envs(d.env())
        .args([
            "--json",
            "daemon",
            "start",
            "--bin",
            daemon_bin().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let started = json(&out);
    assert_eq!(started["state"], "started");
    let pid = started["pid"].as_i64().unwrap();
    let out = cli(&d, &["--json", "daemon", "status"]);
    assert_eq!(
        json(&out)["pid"].as_i64(),
        Some(pid),
        "status reports the kernel's pid"
    );
    let out = cli(&d, &["daemon", "stop"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Gone, or a zombie waiting for whoever adopted it to reap it.
    assert!(
        !agenttower::launch::process_running(pid as i32),
        "daemon still running"
    );
    assert!(!d.socket().exists());
    let out = cli(&d, &["daemon", "status"]);
    assert_eq!(out.status.code(), Some(3));
}

#[tokio::test]
async fn pane_remove_recreate_and_layout_remove() {
    let d = Daemon::start().await;
    let got = d.create_settled("1m+2s", "cl").await;
    let s1 = got.panes()[1].pane_id.clone();
    let out = cli(&d, &["--json", "pane", "remove", &s1]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["pane"]["state"], "PANE_STATE_REMOVED");
    let out = cli(&d, &["pane", "remove", &s1]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("already removed"));
    let out = cli(&d, &["--json", "pane", "recreate", &s1]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let succ = json(&out)["pane"].clone();
    assert_eq!(succ["chain_depth"], 1);
    assert_eq!(succ["predecessor_id"], s1.as_str());
    let out = cli(&d, &["--json", "pane", "recreate", &s1]);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        json(&out)["error"]["code"],
        "managed_pane_concurrent_recreate"
    );
    d.settled(&got.layout.as_ref().unwrap().layout_id).await;
    let out = cli(
        &d,
        &["--json", "layout", "remove", &got.layout.unwrap().layout_id],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["layout"]["state"], "LAYOUT_STATE_REMOVED");
    let left = d.tmux(&["list-panes", "-a"]);
    assert!(
        !left.status.success() || left.stdout.is_empty(),
        "tmux panes left behind"
    );
}

#[tokio::test]
async fn events_watch_follows_live_and_create_wait_shows_pane_progress() {
    let d = Daemon::start().await;
    let head = d.all_events().await.last().map_or(0, |e| e.sequence);
    // A follower that stops after the first layout state change.
    let follower = Command::new(env!("CARGO_BIN_EXE_agenttower"))
        .envs(d.env())
        .args([
            "--json",
            "events",
            "watch",
            "--type",
            "managed_layout_state_changed",
        ])
        .args(["--after", &head.to_string(), "--count", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();

    let out = cli(
        &d,
        &["layout", "create", "-t", "1m+2s", "-s", "prog", "--wait"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for label in ["prog.m1", "prog.s1", "prog.s2"] {
        assert!(
            stderr.contains(&format!("pane {label}: creating → ready")),
            "{stderr}"
        );
    }
    assert!(stderr.contains(": ready (3/3 ready)"), "{stderr}");

    let followed = follower.wait_with_output().unwrap();
    assert_eq!(followed.status.code(), Some(0));
    let text = String::from_utf8_lossy(&followed.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON object per line: {text}");
    let e: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(e["event_type"], "EVENT_TYPE_MANAGED_LAYOUT_STATE_CHANGED");
    assert_eq!(
        e["managed_layout_state_changed"]["to_state"],
        "LAYOUT_STATE_READY"
    );

    // Replaying the whole log gives every event once, in order.
    let all = d.all_events().await;
    let out = cli(
        &d,
        &[
            "--json",
            "events",
            "watch",
            "--after",
            "0",
            "--count",
            &all.len().to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let seqs: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["sequence"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, sequences(&all));

    // An unknown type is a usage error (2) before anything is sent.
    let out = cli(&d, &["events", "watch", "--type", "nonsense"]);
    assert_eq!(out.status.code(), Some(2));
}

/// An example binary Cargo built beside the tests (`cargo test` builds
/// every example of the package).
fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "{} missing: run `cargo test --workspace`, which builds the examples",
        path.display()
    );
    path
}

#[tokio::test]
async fn the_rust_example_creates_a_layout_and_follows_it_until_ready() {
    let d = Daemon::start().await;
    let run = || {
        Command::new(example("create_and_watch"))
            .envs(d.env())
            .arg("ex")
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("EVENT_TYPE_MANAGED_LAYOUT_CREATED"),
        "{stdout}"
    );
    assert!(stdout.contains("settled LAYOUT_STATE_READY"), "{stdout}");
    for label in ["ex.m1", "ex.s1", "ex.s2"] {
        assert!(
            stdout.contains(&format!("  {label} PANE_STATE_READY %")),
            "{stdout}"
        );
    }
    // The same session again: the closed-set error, decoded, exit 2.
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("managed_session_name_conflict"), "{stderr}");
    assert!(stderr.contains("tmux_session_name=ex"), "{stderr}");
}

#[tokio::test]
async fn agent_scan_and_send_from_the_cli() {
    let d = Daemon::start().await;
    let layout = d.create_settled("1m+2s", "cs").await;
    let master = layout.panes().iter().find(|p| p.label == "cs.m1").unwrap();

    let out = cli(&d, &["--json", "agent", "scan"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let scanned = json(&out)["panes"].as_array().unwrap().clone();
    assert_eq!(scanned.len(), 3);
    assert!(
        scanned
            .iter()
            .any(|p| p["agent_id"] == master.agent_id.as_str())
    );

    let out = cli(&d, &["send", &master.agent_id, "echo", "cli-sent-$((1+1))"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let socket = d.tmux_socket();
    let pane = master.tmux_pane_id.clone();
    eventually("the sent line's output", || {
        let screen = tmux_ok(tmux_on(&socket, &["capture-pane", "-p", "-t", &pane]));
        async move {
            screen
                .lines()
                .any(|l| l.trim() == "cli-sent-2")
                .then_some(())
        }
    })
    .await;
    let out = cli(&d, &["send", "nobody", "ls"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("validation_failed"));
}
