//! Names across bench containers (issue 15): the same session name in two
//! containers is ambiguous until qualified (`c1:work`); a container client
//! cannot tell another container's names from names that exist nowhere;
//! `agenttower attach` reaches a container's pane through `docker exec`.

#[path = "../support/pty.rs"]
mod pty;

use std::process::{Command, Output};

use agenttower::pb;
use pty::PtyChild;

use super::{SOCKET_IN, bench, scan, stdout_json};
use crate::support::docker::{Bench, bench_image, cli_bin, docker_config, unique};
use crate::support::*;

/// A one-pane template (`<session>.s1`): the fewest panes to name.
const ONE: &str = "name: one\npanes:\n  - {role: slave, capability: worker, label_pattern: '{session}.s{ordinal}'}\n";

/// A daemon that registers containers labelled `label`, with `ONE`.
async fn daemon(label: &str) -> Daemon {
    bench_image();
    Daemon::start_with(
        Setup::default()
            .config(&docker_config(label))
            .template("one", ONE),
    )
    .await
}

/// Creates layout `session` of `ONE` in container `b` and waits until it
/// is ready.
async fn layout(d: &Daemon, b: &Bench, session: &str) -> pb::Layout {
    let l = d
        .create_and_settle(pb::CreateLayoutRequest {
            container_id: b.id.clone(),
            ..create("one", session)
        })
        .await;
    let layout = l.layout.clone().unwrap();
    assert_eq!(
        layout.state(),
        pb::LayoutState::Ready,
        "{l:#?}\n{}",
        d.log()
    );
    layout
}

/// The host CLI against `d`, outside tmux, on an `xterm`.
fn host(d: &Daemon, args: &[&str]) -> Command {
    let mut cmd = Command::new(cli_bin());
    cmd.envs(d.env())
        .env_remove("TMUX")
        .env("TERM", "xterm")
        .args(args);
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run agenttower")
}

/// What a `--json` command printed, failed or not.
fn answer_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A failed `--json` command's exit code and error object, with `typed`
/// written as `<NAME>` wherever it appears.
fn answer(out: &Output, typed: &str) -> (Option<i32>, String) {
    let v = answer_json(out);
    (out.status.code(), v.to_string().replace(typed, "<NAME>"))
}

#[tokio::test]
async fn the_same_session_in_two_containers_is_ambiguous_until_qualified_and_attach_reaches_it() {
    let label = unique("names");
    let d = daemon(&label).await;
    let c1 = bench(&d, &label, "at-n1", false);
    let c2 = bench(&d, &label, "at-n2", false);
    scan(&d).await;
    let (w1, _) = tokio::join!(layout(&d, &c1, "work"), layout(&d, &c2, "work"));

    // Unqualified: the closed code, listing both candidates.
    let out = run(host(&d, &["--json", "layout", "get", "work"]));
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let e = &answer_json(&out)["error"];
    assert_eq!(e["code"], "name_ambiguous", "{e}");
    let mut candidates: Vec<&str> = e["details"]["candidates"]
        .as_str()
        .unwrap()
        .split(',')
        .collect();
    candidates.sort();
    let mut want = [format!("{}:work", c1.name), format!("{}:work", c2.name)];
    want.sort();
    assert_eq!(candidates, want, "{e}");
    let ids = e["details"]["candidate_ids"].as_str().unwrap();
    assert!(ids.split(',').any(|id| id == w1.layout_id), "{e}");
    // attach too: an ambiguous pane label is not tried as an agent's.
    let out = run(host(&d, &["--json", "attach", "--print", "work.s1"]));
    assert_eq!(
        answer_json(&out)["error"]["code"],
        "name_ambiguous",
        "{out:?}"
    );

    // Qualified by the container's name or short id: that one.
    for c1_work in [
        format!("{}:work", c1.name),
        format!("{}:work", &c1.id[..12]),
    ] {
        let got = stdout_json(&run(host(&d, &["--json", "layout", "get", &c1_work])));
        assert_eq!(
            got["layout"]["layout_id"],
            w1.layout_id.as_str(),
            "{c1_work}"
        );
    }
    let label_s1 = format!("{}:work.s1", c1.name);
    let got = stdout_json(&run(host(&d, &["--json", "pane", "get", &label_s1])));
    assert_eq!(got["pane"]["container_id"], c1.id.as_str(), "{got}");
    let tmux_pane = got["pane"]["tmux_pane_id"].as_str().unwrap().to_string();

    // attach --print: docker exec into c1, that pane, the caller's TERM.
    let printed = stdout_json(&run(host(&d, &["--json", "attach", "--print", &label_s1])));
    assert_eq!(
        printed,
        serde_json::json!([
            "docker",
            "exec",
            "-it",
            "-e",
            "TERM=xterm",
            c1.id,
            "tmux",
            "-u",
            "attach-session",
            "-t",
            tmux_pane
        ])
    );

    // The real attach, on a pseudo-terminal.
    attach_and_detach(&c1, host(&d, &["attach", &label_s1]), &tmux_pane).await;
}

/// Runs `attach` on a pseudo-terminal: a client of `b`'s tmux server comes
/// to show `tmux_pane`; detaching it (session `work`) ends the command.
async fn attach_and_detach(b: &Bench, attach: Command, tmux_pane: &str) {
    let mut client = PtyChild::spawn(attach);
    // Every client but the daemon's own control-mode one.
    let shown = || {
        b.tmux(&["list-clients", "-F", "#{client_control_mode}\t#{pane_id}"])
            .lines()
            .filter_map(|l| l.strip_prefix("0\t"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + DEADLINE;
    while !shown().iter().any(|p| p == tmux_pane) {
        assert!(
            std::time::Instant::now() < deadline,
            "no client of {} shows {tmux_pane}: {:?}\n{}",
            b.name,
            shown(),
            client.output()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.tmux(&["detach-client", "-s", "=work"]);
    let status = client.exited().await;
    assert!(status.success(), "{status}: {}", client.output());
    assert_eq!(shown(), Vec::<String>::new());
}

#[tokio::test]
async fn a_container_client_cannot_tell_another_containers_names_from_none() {
    let label = unique("scoped-names");
    let d = daemon(&label).await;
    let a = bench(&d, &label, "at-na", true);
    let b = bench(&d, &label, "at-nb", false);
    scan(&d).await;
    let (own, _, secret) = tokio::join!(
        layout(&d, &a, "work"),
        layout(&d, &b, "work"),
        layout(&d, &b, "secret"),
    );
    let inside = |args: &[&str]| a.cli(SOCKET_IN, args);

    // Its own names resolve, unambiguously: B's `work` is out of reach.
    let got = stdout_json(&inside(&["--json", "layout", "get", "work"]));
    assert_eq!(got["layout"]["layout_id"], own.layout_id.as_str(), "{got}");
    let got = stdout_json(&inside(&["--json", "pane", "get", "work.s1"]));
    assert_eq!(got["pane"]["container_id"], a.id.as_str(), "{got}");
    // Attaching from inside A runs A's tmux directly (no docker there).
    let printed = stdout_json(&inside(&["--json", "attach", "--print", "work.s1"]));
    assert_eq!(
        printed,
        serde_json::json!(["tmux", "attach-session", "-t", got["pane"]["tmux_pane_id"]])
    );
    // Really attaching there, from a terminal inside A.
    let mut in_a = Command::new("docker");
    in_a.args([
        "exec",
        "-it",
        "-e",
        &format!("AGENTTOWER_SOCKET={SOCKET_IN}"),
        "-e",
        "TERM=xterm",
        &a.name,
        "/usr/local/bin/agenttower",
        "attach",
        "work.s1",
    ]);
    attach_and_detach(&a, in_a, got["pane"]["tmux_pane_id"].as_str().unwrap()).await;

    // B's names answer exactly as names that exist nowhere.
    let n = shortest_unique_prefix(&secret.layout_id, &[&own.layout_id]);
    let nowhere_id = "00000000-0000-7000-8000-000000000000";
    let qualified = format!("{}:secret", b.name);
    let secret_pane = secret.panes[0].pane_id.clone();
    let b_s1 = format!("{}:work.s1", b.name);
    let get = |kind: &'static str| vec!["--json", kind, "get"];
    for (cmd, theirs, none) in [
        (get("layout"), "secret", "absent"),
        (get("layout"), qualified.as_str(), "at-nowhere:secret"),
        // A full id given to `attach` is resolved too (other commands pass
        // full ids to their method unresolved: host_only, tests/docker.rs).
        (
            vec!["--json", "attach", "--print"],
            secret_pane.as_str(),
            nowhere_id,
        ),
        (get("layout"), &secret.layout_id[..n], &nowhere_id[..n]),
        (get("pane"), "secret.s1", "absent.s1"),
        (get("pane"), b_s1.as_str(), "at-nowhere:work.s1"),
        (
            vec!["--json", "attach", "--print"],
            b_s1.as_str(),
            "absent.s1",
        ),
    ] {
        let mine = inside(&[&cmd[..], &[theirs]].concat());
        let expected = inside(&[&cmd[..], &[none]].concat());
        let (code, shape) = answer(&mine, theirs);
        assert_eq!(
            (code, &shape),
            (expected.status.code(), &answer(&expected, none).1),
            "{cmd:?} {theirs}"
        );
        assert_eq!(code, Some(4));
        assert!(shape.contains(r#""code":"name_not_found""#), "{shape}");
        assert!(
            !String::from_utf8_lossy(&mine.stdout).contains(&b.id[..12]),
            "{mine:?}"
        );
    }
    // The host reaches B's names.
    let got = stdout_json(&run(host(&d, &["--json", "layout", "get", "secret"])));
    assert_eq!(got["layout"]["container_id"], b.id.as_str(), "{got}");
}

/// The length of the shortest prefix of `id` (at least 8) that starts none
/// of `others`. Ids are UUIDv7, so ids made in the same minute share their
/// first characters.
fn shortest_unique_prefix(id: &str, others: &[&str]) -> usize {
    (8..=id.len())
        .find(|&n| others.iter().all(|o| !o.starts_with(&id[..n])))
        .expect("distinct ids")
}
