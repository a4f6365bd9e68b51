//! The `agenttower` CLI against the real daemon: tables, `--json`, exit
//! codes that tell usage errors, an unreachable daemon and API errors apart,
//! names instead of ids, starting the daemon on demand, `attach`, and the
//! generated completions and man pages.

mod support;

#[path = "cli/attach.rs"]
mod attach;
#[path = "cli/completions.rs"]
mod completions;
#[path = "cli/names.rs"]
mod names;
#[path = "cli/start.rs"]
mod start;

use std::process::{Command, Output};

use support::*;

pub(crate) fn cli(d: &Daemon, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agenttower"))
        .envs(d.env())
        .args(args)
        .output()
        .expect("run agenttower")
}

pub(crate) fn json(out: &Output) -> serde_json::Value {
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
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: name_not_found: "));
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
    // No daemon: 3 (AGENTTOWER_SOCKET names the socket: no auto-start).
    d.kill9();
    let out = cli(&d, &["layout", "list"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: daemon_unavailable: "));
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
    let left = d.tmux(&["list-panes", "-a", "-f", NOT_CONTROL]);
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
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: name_not_found: "));
}

// ------------------------------------------------------------- activity

/// `agent report|list|wait` and `send --wait-ready` (issue 14).
mod activity {
    use super::*;
    use agenttower::pb;

    /// Writes launch profile `name` running `script` under `sh -c`, with short
    /// activity windows so tests see working and idle quickly.
    fn activity_profile(d: &Daemon, name: &str, script: &str) {
        let yaml = format!(
            "name: {name}\ncommand: [sh, -c, {script:?}]\nactivity:\n  working_window_ms: 500\n  quiet_window_ms: 1500\n"
        );
        std::fs::write(
            d.dir
                .path()
                .join(format!("cfg/launch_commands/{name}.yaml")),
            yaml,
        )
        .unwrap();
    }

    /// A script that prints a tick every 100 ms until `stop` exists, then
    /// prints a prompt and echoes the line it reads.
    fn busy_until(stop: &std::path::Path) -> String {
        format!(
            "while [ ! -e {} ]; do echo tick; sleep 0.1; done; printf 'ready> '; read line; echo \"got:$line\"; exec sleep 3600",
            stop.display()
        )
    }

    /// Creates layout `session` from 1m+2s with its master running `profile`;
    /// the master pane.
    async fn master_running(d: &Daemon, session: &str, profile: &str) -> pb::Pane {
        let mut req = create("1m+2s", session);
        req.launch_command_overrides
            .insert(format!("master:{session}.m1"), profile.to_string());
        let got = d.create_and_settle(req).await;
        got.panes()
            .iter()
            .find(|p| p.label == format!("{session}.m1"))
            .expect("master pane")
            .clone()
    }

    /// The agent's current activity, by ListAgents.
    async fn activity_of(d: &Daemon, agent_id: &str) -> pb::Activity {
        let agents = d
            .client()
            .await
            .list_agents(pb::ListAgentsRequest {
                include_unregistered: true,
                page_size: 200,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .agents;
        let a = agents
            .iter()
            .find(|a| a.agent_id == agent_id)
            .expect("agent listed");
        a.activity.clone().unwrap_or_default().activity()
    }

    /// Polls until the agent is in `want`.
    async fn until_activity(d: &Daemon, agent_id: &str, want: pb::Activity) {
        eventually(&format!("agent {agent_id} to be {want:?}"), || async move {
            (activity_of(d, agent_id).await == want).then_some(())
        })
        .await
    }

    fn stderr(out: &Output) -> String {
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    #[tokio::test]
    async fn agent_report_from_the_host_is_refused_and_changes_nothing() {
        let d = Daemon::start().await;
        let layout = d.create_settled("1m+2s", "rep").await;
        let before: Vec<pb::Activity> = {
            let mut v = Vec::new();
            for p in layout.panes() {
                v.push(activity_of(&d, &p.agent_id).await);
            }
            v
        };
        let head = d.all_events().await.last().map_or(0, |e| e.sequence);

        let out = cli(
            &d,
            &["--json", "agent", "report", "waiting", "--message", "hi"],
        );
        assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
        assert_eq!(json(&out)["error"]["code"], "caller_not_in_agent_pane");
        let out = cli(&d, &["agent", "report", "idle"]);
        assert_eq!(out.status.code(), Some(4));
        assert!(
            stderr(&out).contains("caller_not_in_agent_pane"),
            "{}",
            stderr(&out)
        );
        // Only working, waiting and idle are reported; anything else is usage.
        let out = cli(&d, &["agent", "report", "exited"]);
        assert_eq!(out.status.code(), Some(2));

        let reported = d
            .all_events()
            .await
            .into_iter()
            .filter(|e| e.sequence > head)
            .filter(|e| {
                matches!(&e.payload, Some(pb::lifecycle_event::Payload::AgentActivityChanged(p))
                    if p.source() == pb::ActivitySource::Report)
            })
            .count();
        assert_eq!(reported, 0, "a refused report wrote no event");
        for (p, was) in layout.panes().iter().zip(before) {
            let now = activity_of(&d, &p.agent_id).await;
            assert!(
                now != pb::Activity::WaitingForInput || was == now,
                "{} became waiting_for_input",
                p.label
            );
        }
    }

    #[tokio::test]
    async fn agent_list_shows_and_filters_by_activity() {
        let d = Daemon::start().await;
        let stop = d.dir.path().join("never");
        activity_profile(&d, "busy", &busy_until(&stop));
        activity_profile(&d, "quiet", "echo hello; exec sleep 3600");
        let busy = master_running(&d, "lb", "busy").await;
        let quiet = master_running(&d, "lq", "quiet").await;
        until_activity(&d, &busy.agent_id, pb::Activity::Working).await;
        until_activity(&d, &quiet.agent_id, pb::Activity::Idle).await;

        let ids = |args: &[&str]| {
            let mut full = vec!["--json", "agent", "list"];
            full.extend_from_slice(args);
            let out = cli(&d, &full);
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            let v = json(&out);
            v["agents"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x["agent_id"].as_str().unwrap().to_string())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let working = ids(&["--activity", "working"]);
        assert!(working.contains(&busy.agent_id), "{working:?}");
        assert!(!working.contains(&quiet.agent_id), "{working:?}");
        let idle = ids(&["--activity", "idle"]);
        assert!(idle.contains(&quiet.agent_id), "{idle:?}");
        assert!(!idle.contains(&busy.agent_id), "{idle:?}");
        let both = ids(&["--activity", "idle", "--activity", "working"]);
        assert!(
            both.contains(&quiet.agent_id) && both.contains(&busy.agent_id),
            "{both:?}"
        );
        // `waiting` and `waiting_for_input` are the same filter.
        assert_eq!(
            ids(&["--activity", "waiting"]),
            ids(&["--activity", "waiting_for_input"])
        );
        let out = cli(&d, &["agent", "list", "--activity", "busy"]);
        assert_eq!(out.status.code(), Some(2));

        // The table: an ACTIVITY column with short names, and how long.
        let out = cli(&d, &["agent", "list"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let header = text.lines().next().unwrap();
        assert!(
            header.contains("ACTIVITY") && header.contains("FOR"),
            "{header}"
        );
        let row = text.lines().find(|l| l.contains(&busy.agent_id)).unwrap();
        let cells: Vec<&str> = row.split_whitespace().collect();
        let at = cells.iter().position(|c| *c == "working").expect(row);
        assert!(
            cells[at + 1].ends_with('s') || cells[at + 1].ends_with('m'),
            "{row}"
        );
    }

    #[tokio::test]
    async fn agent_wait_returns_when_idle_and_times_out_when_not() {
        let d = Daemon::start().await;
        let stop = d.dir.path().join("stop-w");
        activity_profile(&d, "busy", &busy_until(&stop));
        let pane = master_running(&d, "aw", "busy").await;
        until_activity(&d, &pane.agent_id, pb::Activity::Working).await;

        // Still printing: gives up with 6 after the timeout.
        let started = std::time::Instant::now();
        let out = cli(
            &d,
            &[
                "agent",
                "wait",
                "aw.m1",
                "--until",
                "idle",
                "--timeout",
                "1s",
            ],
        );
        assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
        assert!(started.elapsed() >= std::time::Duration::from_secs(1));
        assert!(stderr(&out).contains("still working"), "{}", stderr(&out));

        // A waiter started while it works returns once it goes quiet.
        let waiter = Command::new(env!("CARGO_BIN_EXE_agenttower"))
            .envs(d.env())
            .args(["--json", "agent", "wait", &pane.agent_id])
            .args(["--until", "idle", "--until", "waiting", "--timeout", "30s"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        assert_eq!(activity_of(&d, &pane.agent_id).await, pb::Activity::Working);
        std::fs::write(&stop, "").unwrap();
        let out = waiter.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let v = json(&out);
        assert_eq!(v["agent_id"], pane.agent_id.as_str());
        let reached = v["activity"]["activity"].as_str().unwrap().to_string();
        assert!(
            ["ACTIVITY_IDLE", "ACTIVITY_WAITING_FOR_INPUT"].contains(&reached.as_str()),
            "{v}"
        );
        // Already there: answers at once, by label, in words.
        let out = cli(
            &d,
            &[
                "agent", "wait", "aw.m1", "--until", "idle", "--until", "waiting",
            ],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with("aw.m1 idle") || text.starts_with("aw.m1 waiting_for_input"),
            "{text}"
        );

        // An unknown name is the daemon's name_not_found (4).
        let out = cli(
            &d,
            &["--json", "agent", "wait", "nobody", "--until", "idle"],
        );
        assert_eq!(out.status.code(), Some(4));
        assert_eq!(json(&out)["error"]["code"], "name_not_found");
        assert_eq!(json(&out)["error"]["details"]["kind"], "agent");
        // --until is required.
        let out = cli(&d, &["agent", "wait", "aw.m1"]);
        assert_eq!(out.status.code(), Some(2));
    }

    #[tokio::test]
    async fn agent_wait_exits_7_when_the_agent_exited() {
        let d = Daemon::start().await;
        std::fs::write(
            d.dir.path().join("cfg/launch_commands/crash.yaml"),
            "name: crash\ncommand: [sh, -c, 'exit 2']\n",
        )
        .unwrap();
        let pane = master_running(&d, "ax", "crash").await;
        until_activity(&d, &pane.agent_id, pb::Activity::Exited).await;
        let out = cli(
            &d,
            &[
                "agent",
                "wait",
                &pane.agent_id,
                "--until",
                "idle",
                "--timeout",
                "30s",
            ],
        );
        assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
        assert!(stderr(&out).contains("exited"), "{}", stderr(&out));
        let out = cli(&d, &["send", &pane.agent_id, "--wait-ready", "ls"]);
        assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    }

    #[tokio::test]
    async fn send_wait_ready_types_only_once_the_agent_is_ready() {
        let d = Daemon::start().await;
        let stop = d.dir.path().join("stop-s");
        activity_profile(&d, "busy", &busy_until(&stop));
        let pane = master_running(&d, "sw", "busy").await;
        until_activity(&d, &pane.agent_id, pb::Activity::Working).await;
        let head = d.all_events().await.last().map_or(0, |e| e.sequence);
        let socket = d.tmux_socket();
        let screen = |pane: String| {
            let socket = socket.clone();
            async move {
                tmux_ok(tmux_on(
                    &socket,
                    &["capture-pane", "-p", "-S", "-", "-t", &pane],
                ))
            }
        };

        // Busy until the timeout: exit 6, nothing typed.
        let out = cli(
            &d,
            &[
                "send",
                "sw.m1",
                "--wait-ready",
                "--timeout",
                "1s",
                "too-early",
            ],
        );
        assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));

        // A sender started while it works types once it is ready.
        let sender = Command::new(env!("CARGO_BIN_EXE_agenttower"))
            .envs(d.env())
            .args(["send", "--wait-ready", "--timeout", "30s", "sw.m1", "hello"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        assert_eq!(activity_of(&d, &pane.agent_id).await, pb::Activity::Working);
        std::fs::write(&stop, "").unwrap();
        let out = sender.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let text = eventually("the prompt to read the sent line", || {
            let s = screen(pane.tmux_pane_id.clone());
            async move {
                let text = s.await;
                text.contains("got:").then_some(text)
            }
        })
        .await;
        // Typed after the prompt, not into the ticks: the tty echoed it on the
        // prompt's line, and the refused send typed nothing at all.
        assert!(
            text.lines().any(|l| l.trim_end() == "ready> hello"),
            "{text}"
        );
        assert!(text.lines().any(|l| l == "got:hello"), "{text}");
        assert!(!text.contains("too-early"), "{text}");
        // The agent was seen ready (an activity event) before the line landed.
        let ready = d
            .all_events()
            .await
            .into_iter()
            .filter(|e| e.sequence > head)
            .any(|e| {
                matches!(&e.payload, Some(pb::lifecycle_event::Payload::AgentActivityChanged(p))
                    if p.agent_id == pane.agent_id
                        && matches!(p.to_activity(), pb::Activity::Idle | pb::Activity::WaitingForInput))
            });
        assert!(ready, "no idle or waiting_for_input event for the agent");
    }
}

// ------------------------------------------------------- typed in panes

/// What a command typed into a pane left behind.
pub(crate) struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Types `env NAME=VALUE… agenttower --socket … args…` into tmux pane
/// `pane` (on this test's tmux server) and waits for it to finish.
pub(crate) async fn in_pane(d: &Daemon, pane: &str, env: &[(&str, &str)], args: &[&str]) -> Ran {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = d.dir.path().join(format!("ran{n}"));
    let file = |ext: &str| base.with_extension(ext).display().to_string();
    let quote = |s: &str| {
        assert!(!s.contains('\''), "{s}");
        format!("'{s}'")
    };
    let mut words: Vec<String> = vec!["env".into()];
    words.extend(env.iter().map(|(k, v)| quote(&format!("{k}={v}"))));
    words.push(quote(env!("CARGO_BIN_EXE_agenttower")));
    words.push("--socket".into());
    words.push(quote(&d.socket().display().to_string()));
    words.extend(args.iter().map(|a| quote(a)));
    let (out, err, tmp, rc) = (file("out"), file("err"), file("tmp"), file("rc"));
    let line = format!(
        "{} >{out} 2>{err}; echo $? >{tmp}; mv {tmp} {rc}",
        words.join(" ")
    );
    tmux_ok(d.tmux(&["send-keys", "-t", pane, "-l", &line]));
    tmux_ok(d.tmux(&["send-keys", "-t", pane, "Enter"]));
    let code = eventually(&format!("the command in {pane} to finish"), || {
        let rc = rc.clone();
        async move { std::fs::read_to_string(rc).ok()?.trim().parse().ok() }
    })
    .await;
    Ran {
        code,
        stdout: std::fs::read_to_string(out).unwrap_or_default(),
        stderr: std::fs::read_to_string(err).unwrap_or_default(),
    }
}

// ------------------------------------------------------------- reports

/// `agent report` typed into tmux panes: the daemon matches the caller
/// from the kernel (its process and ancestors), never from its
/// environment (issue 14).
mod report_in_panes {
    use super::*;
    use agenttower::pb;

    fn assert_refused(ran: &Ran) {
        assert_eq!(ran.code, 4, "{}", ran.stderr);
        assert!(
            ran.stderr.contains("caller_not_in_agent_pane"),
            "{}",
            ran.stderr
        );
    }

    /// The `agent_activity_changed` events written by a report, oldest
    /// first.
    async fn reported(d: &Daemon) -> Vec<(pb::LifecycleEvent, pb::AgentActivityChanged)> {
        d.all_events()
            .await
            .into_iter()
            .filter_map(|e| match &e.payload {
                Some(pb::lifecycle_event::Payload::AgentActivityChanged(p))
                    if p.source() == pb::ActivitySource::Report =>
                {
                    let p = p.clone();
                    Some((e, p))
                }
                _ => None,
            })
            .collect()
    }

    /// The pane's activity as GetPane shows it.
    async fn activity(d: &Daemon, pane_id: &str) -> pb::AgentActivity {
        d.pane(pane_id).await.activity.unwrap_or_default()
    }

    #[tokio::test]
    async fn agent_report_in_a_managed_pane_changes_that_pane_whatever_its_environment_says() {
        let d = Daemon::start().await;
        let l = d.create_settled("1m+2s", "rep").await;
        assert_eq!(l.state(), pb::LayoutState::Ready, "{}", d.log());
        let (a, b) = (l.panes()[0].clone(), l.panes()[1].clone());

        let ran = in_pane(
            &d,
            &a.tmux_pane_id,
            &[],
            &["--json", "agent", "report", "waiting", "--message", "hi"],
        )
        .await;
        assert_eq!(ran.code, 0, "{}\n{}", ran.stderr, d.log());
        let answer: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
        assert_eq!(answer["agent"]["agent_id"], a.agent_id.as_str(), "{answer}");

        // GetPane, ListAgents (filtered by activity) and the event agree.
        let now = activity(&d, &a.pane_id).await;
        assert_eq!(now.activity(), pb::Activity::WaitingForInput, "{now:?}");
        assert_eq!(now.source(), pb::ActivitySource::Report);
        assert_eq!(now.message, "hi");
        assert!(now.since_time.is_some());
        let waiting = d
            .client()
            .await
            .list_agents(pb::ListAgentsRequest {
                activities: vec![pb::Activity::WaitingForInput as i32],
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .agents;
        let ids: Vec<&str> = waiting.iter().map(|a| a.agent_id.as_str()).collect();
        assert_eq!(ids, [a.agent_id.as_str()]);
        let events = reported(&d).await;
        assert_eq!(events.len(), 1, "{events:#?}");
        let (e, p) = &events[0];
        assert_eq!(e.event_type(), pb::EventType::AgentActivityChanged);
        assert_eq!(
            (e.pane_id.as_str(), e.layout_id.as_str()),
            (a.pane_id.as_str(), l.layout_id().as_str())
        );
        assert_eq!(p.agent_id, a.agent_id);
        assert_eq!(p.to_activity(), pb::Activity::WaitingForInput);
        assert_eq!(p.message, "hi");

        // In A, with every variable a client could read set to B's values:
        // A changes, B does not.
        let b_pid = tmux_ok(d.tmux(&[
            "display-message",
            "-p",
            "-t",
            &b.tmux_pane_id,
            "#{pane_pid}",
        ]));
        let spoof = [
            ("TMUX_PANE", b.tmux_pane_id.as_str()),
            ("AGENTTOWER_PANE", b.pane_id.as_str()),
            ("AGENTTOWER_PANE_ID", b.pane_id.as_str()),
            ("AGENTTOWER_AGENT_ID", b.agent_id.as_str()),
            ("AGENTTOWER_LABEL", b.label.as_str()),
            ("PPID", b_pid.trim()),
        ];
        let ran = in_pane(
            &d,
            &a.tmux_pane_id,
            &spoof,
            &["agent", "report", "working", "--message", "spoofed"],
        )
        .await;
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        let now = activity(&d, &a.pane_id).await;
        assert_eq!(
            (now.activity(), now.message.as_str()),
            (pb::Activity::Working, "spoofed")
        );
        let b_now = activity(&d, &b.pane_id).await;
        assert_ne!(b_now.source(), pb::ActivitySource::Report, "{b_now:?}");
        let events = reported(&d).await;
        assert_eq!(events.len(), 2, "{events:#?}");
        assert!(
            events.iter().all(|(_, p)| p.agent_id == a.agent_id),
            "{events:#?}"
        );

        // B's own report is B's.
        let ran = in_pane(&d, &b.tmux_pane_id, &[], &["agent", "report", "idle"]).await;
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        let b_now = activity(&d, &b.pane_id).await;
        assert_eq!(
            (b_now.activity(), b_now.source()),
            (pb::Activity::Idle, pb::ActivitySource::Report)
        );
        assert_eq!(
            activity(&d, &a.pane_id).await.activity(),
            pb::Activity::Working
        );
    }

    #[tokio::test]
    async fn agent_report_from_a_foreign_pane_or_the_host_is_refused_and_changes_nothing() {
        let d = Daemon::start().await;
        let l = d.create_settled("1m+2s", "rep").await;
        assert_eq!(l.state(), pb::LayoutState::Ready, "{}", d.log());
        let a = l.panes()[0].clone();
        let a_env = [
            ("TMUX_PANE", a.tmux_pane_id.as_str()),
            ("AGENTTOWER_PANE", a.pane_id.as_str()),
            ("AGENTTOWER_AGENT_ID", a.agent_id.as_str()),
        ];
        // Two panes of the same tmux server that are no agent: a session of
        // their own, and a window in the layout's session.
        let foreign = tmux_ok(d.tmux(&[
            "new-session",
            "-d",
            "-s",
            "foreign",
            "-P",
            "-F",
            "#{pane_id}",
        ]));
        let window =
            tmux_ok(d.tmux(&["new-window", "-d", "-t", "=rep:", "-P", "-F", "#{pane_id}"]));
        for pane in [foreign.trim(), window.trim()] {
            assert_refused(&in_pane(&d, pane, &[], &["agent", "report", "waiting"]).await);
            assert_refused(
                &in_pane(
                    &d,
                    pane,
                    &a_env,
                    &["agent", "report", "waiting", "--message", "x"],
                )
                .await,
            );
        }
        // The host, naming A through its environment.
        let out = Command::new(env!("CARGO_BIN_EXE_agenttower"))
            .envs(d.env())
            .envs(a_env)
            .args(["agent", "report", "waiting"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4));
        assert!(String::from_utf8_lossy(&out.stderr).contains("caller_not_in_agent_pane"));

        let events = reported(&d).await;
        assert!(events.is_empty(), "{events:#?}");
        for p in l.panes() {
            let now = activity(&d, &p.pane_id).await;
            assert_ne!(
                now.source(),
                pb::ActivitySource::Report,
                "{}: {now:?}",
                p.label
            );
        }
        // The foreign panes are still no agents, and still there.
        let listed = d.tmux_panes();
        assert!(listed.iter().any(|p| p == foreign.trim()), "{listed:?}");
    }

    #[tokio::test]
    async fn agent_report_matches_an_adopted_pane_and_a_respawned_one() {
        // The health watcher stays away: a respawned pane's new process is
        // found by the report's own live listing.
        let d = Daemon::start_with(Setup::default().config("health_interval_ms: 600000")).await;
        let l = d.create_settled("1m+2s", "rep").await;
        let a = l.panes()[0].clone();
        let (own, adopted) = d.adopt_own_pane("ops", "ops").await;

        let ran = in_pane(
            &d,
            &own,
            &[],
            &["agent", "report", "waiting", "--message", "adopted"],
        )
        .await;
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        let listed = d
            .client()
            .await
            .list_agents(pb::ListAgentsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .agents;
        let now = listed
            .iter()
            .find(|x| x.agent_id == adopted.agent_id)
            .and_then(|x| x.activity.clone())
            .unwrap_or_default();
        assert_eq!(
            (now.activity(), now.source(), now.message.as_str()),
            (
                pb::Activity::WaitingForInput,
                pb::ActivitySource::Report,
                "adopted"
            )
        );

        let pid = |pane: &str| {
            tmux_ok(d.tmux(&["display-message", "-p", "-t", pane, "#{pane_pid}"]))
                .trim()
                .to_string()
        };
        let before = pid(&a.tmux_pane_id);
        tmux_ok(d.tmux(&["respawn-pane", "-k", "-t", &a.tmux_pane_id]));
        assert_ne!(pid(&a.tmux_pane_id), before);
        let ran = in_pane(&d, &a.tmux_pane_id, &[], &["agent", "report", "idle"]).await;
        assert_eq!(ran.code, 0, "{}\n{}", ran.stderr, d.log());
        let now = activity(&d, &a.pane_id).await;
        assert_eq!(
            (now.activity(), now.source()),
            (pb::Activity::Idle, pb::ActivitySource::Report)
        );
    }
}
