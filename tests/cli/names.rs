//! Names instead of ids (issue 15): every CLI command that takes a layout,
//! pane, agent or route also takes its session name or label, qualified by
//! container or not, and a unique id prefix; an ambiguous prefix and an
//! unknown name answer their closed codes, printed once with a hint.

use std::process::Output;

use agenttower::pb;

use super::{cli, json};
use crate::support::*;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The JSON answer of a command that must succeed.
fn ok(d: &Daemon, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = cli(d, &all);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}\n{}",
        stderr(&out),
        d.log()
    );
    json(&out)
}

/// The `--json` error object of a command that must fail with exit 4.
fn refused(d: &Daemon, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = cli(d, &all);
    assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
    json(&out)["error"].clone()
}

/// A pane of a layout answer, by label.
fn labelled<'a>(l: &'a pb::GetLayoutResponse, label: &str) -> &'a pb::Pane {
    l.panes()
        .iter()
        .find(|p| p.label == label)
        .unwrap_or_else(|| panic!("no pane {label}: {l:#?}"))
}

/// The `--json events watch` lines, parsed.
fn watched(d: &Daemon, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["--json", "events", "watch"];
    all.extend_from_slice(args);
    let out = cli(d, &all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn every_command_that_takes_an_id_takes_the_name() {
    let d = Daemon::start().await;
    std::fs::write(
        d.dir.path().join("cfg/launch_commands/quiet.yaml"),
        "name: quiet\ncommand: [sh, -c, 'echo hello; exec sleep 3600']\n\
         activity:\n  working_window_ms: 500\n  quiet_window_ms: 1500\n",
    )
    .unwrap();
    let args = [
        "layout",
        "create",
        "-t",
        "1m+2s",
        "-s",
        "work",
        "--override",
        "master:work.m1=quiet",
        "--wait",
    ];
    ok(&d, &args);
    let listed = d
        .client()
        .await
        .list_layouts(pb::ListLayoutsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .layouts;
    let layout_id = listed[0].layout_id.clone();
    let l = d.layout(&layout_id).await;
    let (m1, s1, s2) = (
        labelled(&l, "work.m1").clone(),
        labelled(&l, "work.s1").clone(),
        labelled(&l, "work.s2").clone(),
    );

    // layout get: by session name, qualified by container or not.
    for name in ["work", "local:work"] {
        let v = ok(&d, &["layout", "get", name]);
        assert_eq!(v["layout"]["layout_id"], layout_id.as_str(), "{name}");
        assert_eq!(v["layout"]["panes"].as_array().unwrap().len(), 3);
    }
    // pane list --layout, pane get.
    let v = ok(&d, &["pane", "list", "--layout", "work"]);
    let panes = v["panes"].as_array().unwrap();
    assert_eq!(panes.len(), 3, "{v}");
    assert!(panes.iter().all(|p| p["layout_id"] == layout_id.as_str()));
    let v = ok(&d, &["pane", "get", "work.s1"]);
    assert_eq!(v["pane"]["pane_id"], s1.pane_id.as_str());

    // events list and watch, --layout and --pane.
    let v = ok(&d, &["events", "list", "--layout", "work"]);
    let events = v["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["layout_id"] == layout_id.as_str()));
    let v = ok(&d, &["events", "list", "--pane", "work.s1"]);
    let events = v["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["pane_id"] == s1.pane_id.as_str()));
    let w = watched(&d, &["--layout", "work", "--after", "0", "--count", "2"]);
    assert!(
        w.iter().all(|e| e["layout_id"] == layout_id.as_str()),
        "{w:?}"
    );
    let w = watched(&d, &["--pane", "work.s1", "--after", "0", "--count", "1"]);
    assert_eq!(w[0]["pane_id"], s1.pane_id.as_str(), "{w:?}");

    // agent wait and send, by label.
    let v = ok(
        &d,
        &[
            "agent",
            "wait",
            "work.m1",
            "--until",
            "idle",
            "--timeout",
            "30s",
        ],
    );
    assert_eq!(v["agent_id"], m1.agent_id.as_str(), "{v}");
    ok(&d, &["send", "work.s1", "echo", "sent-$((40+2))"]);
    let socket = d.tmux_socket();
    let tmux_pane = s1.tmux_pane_id.clone();
    eventually("the sent line's output", || {
        let screen = tmux_ok(tmux_on(&socket, &["capture-pane", "-p", "-t", &tmux_pane]));
        async move { screen.lines().any(|l| l.trim() == "sent-42").then_some(()) }
    })
    .await;

    // route create and list by agent label; delete by id prefix.
    let v = ok(&d, &["route", "create", "work.m1", "work.s1"]);
    let route = &v["routes"][0];
    assert_eq!(route["source_agent_id"], m1.agent_id.as_str(), "{v}");
    assert_eq!(route["target_agent_id"], s1.agent_id.as_str(), "{v}");
    let route_id = route["route_id"].as_str().unwrap().to_string();
    let v = ok(&d, &["route", "list", "--agent", "work.s1"]);
    assert_eq!(v["routes"][0]["route_id"], route_id.as_str(), "{v}");
    ok(&d, &["route", "delete", &route_id[..8]]);
    let v = ok(&d, &["route", "list", "--agent", "work.m1"]);
    assert!(v["routes"].as_array().is_none_or(|r| r.is_empty()), "{v}");

    // pane remove, then recreate by the removed pane's label.
    let v = ok(&d, &["pane", "remove", "work.s2"]);
    assert_eq!(v["pane"]["pane_id"], s2.pane_id.as_str());
    assert_eq!(v["pane"]["state"], "PANE_STATE_REMOVED");
    let v = ok(&d, &["pane", "recreate", "work.s2"]);
    assert_eq!(v["pane"]["predecessor_id"], s2.pane_id.as_str(), "{v}");
    let successor = v["pane"]["pane_id"].as_str().unwrap().to_string();
    d.settled(&layout_id).await;
    // The label now names the live successor.
    let v = ok(&d, &["pane", "get", "work.s2", "--chain"]);
    assert_eq!(v["pane"]["pane_id"], successor.as_str(), "{v}");

    // layout remove by name; the name still finds the removed layout.
    let v = ok(&d, &["layout", "remove", "work"]);
    assert_eq!(v["layout"]["state"], "LAYOUT_STATE_REMOVED");
    let v = ok(&d, &["layout", "get", "work"]);
    assert_eq!(v["layout"]["layout_id"], layout_id.as_str());
}

/// The longest prefix `a` and `b` share.
fn common_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    &a[..n]
}

#[tokio::test]
async fn a_unique_id_prefix_works_and_a_shared_one_lists_the_candidates() {
    let d = Daemon::start().await;
    let l = d.create_settled("1m+2s", "pre").await;
    let ids: Vec<String> = l.panes().iter().map(|p| p.pane_id.clone()).collect();

    // UUIDv7 ids made in the same instant share their timestamp digits.
    let (a, b) = [(0, 1), (0, 2), (1, 2)]
        .into_iter()
        .max_by_key(|&(i, j)| common_prefix(&ids[i], &ids[j]).len())
        .unwrap();
    let shared = common_prefix(&ids[a], &ids[b]).to_string();
    assert!(shared.len() >= 8, "{ids:?}");
    let e = refused(&d, &["pane", "get", &shared]);
    assert_eq!(e["code"], "name_ambiguous", "{e}");
    assert_eq!(e["details"]["kind"], "pane", "{e}");
    let candidate_ids = e["details"]["candidate_ids"].as_str().unwrap();
    let candidates = e["details"]["candidates"].as_str().unwrap();
    for i in [a, b] {
        assert!(candidate_ids.contains(&ids[i]), "{e}");
        assert!(candidates.contains(&l.panes()[i].label), "{e}");
    }
    assert!(
        e["hint"].as_str().unwrap().contains("more of the id"),
        "{e}"
    );
    // In text: the code once, the candidates, the hint.
    let out = cli(&d, &["pane", "get", &shared]);
    assert_eq!(out.status.code(), Some(4));
    let text = stderr(&out);
    assert!(text.starts_with("error: name_ambiguous: "), "{text}");
    assert_eq!(text.matches("name_ambiguous").count(), 1, "{text}");
    assert!(text.contains("  candidate_ids: "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("hint: qualify it with its container")),
        "{text}"
    );

    // One more digit than any other id shares: unique, so it resolves.
    let unique_len = ids
        .iter()
        .filter(|id| **id != ids[a])
        .map(|id| common_prefix(&ids[a], id).len() + 1)
        .max()
        .unwrap()
        .max(8);
    let v = super::json(&cli(&d, &["--json", "pane", "get", &ids[a][..unique_len]]));
    assert_eq!(v["pane"]["pane_id"], ids[a].as_str(), "{v}");
    // Shorter than 8 characters is no prefix at all.
    let e = refused(&d, &["pane", "get", &ids[a][..7]]);
    assert_eq!(e["code"], "name_not_found", "{e}");
    // The layout by a prefix of its id.
    let layout_id = l.layout_id();
    let v = ok(&d, &["layout", "get", &layout_id[..13]]);
    assert_eq!(v["layout"]["layout_id"], layout_id.as_str());
}

#[tokio::test]
async fn an_unknown_name_is_name_not_found_with_a_hint_for_its_kind() {
    let d = Daemon::start().await;
    d.create_settled("1m+2s", "real").await;
    for (args, list) in [
        (&["pane", "get", "nope"][..], "agenttower pane list"),
        (
            &["pane", "list", "--layout", "nope"][..],
            "agenttower layout list",
        ),
        (&["layout", "remove", "nope"][..], "agenttower layout list"),
        (&["send", "nope", "ls"][..], "agenttower agent list"),
        (
            &["route", "delete", "00000000"][..],
            "agenttower route list",
        ),
        (
            &["events", "list", "--pane", "nope"][..],
            "agenttower pane list",
        ),
    ] {
        let e = refused(&d, args);
        assert_eq!(e["code"], "name_not_found", "{args:?}: {e}");
        assert_eq!(e["hint"], format!("list them with `{list}`"), "{args:?}");
        let out = cli(&d, args);
        assert_eq!(out.status.code(), Some(4));
        let text = stderr(&out);
        assert!(text.starts_with("error: name_not_found: "), "{text}");
        assert_eq!(text.matches("name_not_found").count(), 1, "{text}");
        assert!(
            text.lines().last().unwrap() == format!("hint: list them with `{list}`"),
            "{text}"
        );
    }
    // Qualified by its container, a name no one has is as unknown.
    let e = refused(&d, &["layout", "get", "local:nope"]);
    assert_eq!(e["code"], "name_not_found", "{e}");
    let v = ok(&d, &["layout", "get", "local:real"]);
    assert_eq!(v["layout"]["tmux_session_name"], "real");
}
