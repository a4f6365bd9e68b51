//! The whole product in real Docker bench containers: the `docker exec`
//! runtime, the container registry, host-readable logs through bind mounts,
//! and kernel-verified peer scoping for clients inside containers.
//!
//! Needs a running Docker engine; `.ci/run` installs and starts one. Each
//! test labels its containers uniquely so parallel tests never see each
//! other's, and removes them when it ends.

mod support;

#[path = "docker/control.rs"]
mod control;
#[path = "docker/names.rs"]
mod names;

use std::process::Output;

use agenttower::pb;
use support::docker::{Bench, bench_image, cli_bin, docker_config, docker_ok, unique};
use support::*;
use tonic::Code;

/// Where bench containers see the daemon socket's directory.
const SOCKET_IN: &str = "/run/agenttower/agenttowerd.sock";
/// Where bench containers write pane logs.
const LOGS_IN: &str = "/var/log/agenttower";

async fn daemon(label: &str, extra_config: &str) -> Daemon {
    bench_image();
    Daemon::start_with(
        Setup::default()
            .config(&docker_config(label))
            .config(extra_config),
    )
    .await
}

/// `docker run` options: the host log directory of container `name`, and
/// (when `socket`) the daemon socket's directory and the CLI binary.
fn mounts(d: &Daemon, name: &str, logs: bool, socket: bool) -> Vec<String> {
    let mut v = Vec::new();
    if logs {
        v.push("-v".into());
        v.push(format!("{}:{LOGS_IN}", d.log_dir().join(name).display()));
    }
    if socket {
        v.push("-v".into());
        v.push(format!(
            "{}:/run/agenttower",
            d.socket().parent().unwrap().display()
        ));
        v.push("-v".into());
        v.push(format!(
            "{}:/usr/local/bin/agenttower:ro",
            cli_bin().display()
        ));
    }
    v
}

/// A running bench container for this test's daemon, its log directory
/// mounted; with `socket`, the daemon socket and the CLI too.
fn bench(d: &Daemon, label: &str, prefix: &str, socket: bool) -> Bench {
    let name = unique(prefix);
    Bench::run(label, &name, &mounts(d, &name, true, socket))
}

async fn scan(d: &Daemon) -> pb::ScanContainersResponse {
    d.client()
        .await
        .scan_containers(pb::ScanContainersRequest::default())
        .await
        .expect("scan")
        .into_inner()
}

fn in_container(container: &Bench, template: &str, session: &str) -> pb::CreateLayoutRequest {
    pb::CreateLayoutRequest {
        container_id: container.name.clone(),
        ..create(template, session)
    }
}

fn panes(l: &pb::GetLayoutResponse) -> &[pb::Pane] {
    &l.layout.as_ref().unwrap().panes
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "command failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// Whether a `layout list --json` answer lists no layout (proto3 JSON
/// leaves an empty list out).
fn no_layouts(listed: &serde_json::Value) -> bool {
    listed
        .get("layouts")
        .is_none_or(|l| l.as_array().unwrap().is_empty())
}

/// The CLI's exit code 4 with a `host_only` error and nothing else.
fn assert_host_only(out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(4),
        "expected an API error: {stderr}"
    );
    assert!(stderr.contains("host_only"), "expected host_only: {stderr}");
}

#[tokio::test]
async fn a_layout_in_a_bench_container_becomes_ready_with_host_readable_logs() {
    let label = unique("ready");
    let d = daemon(&label, "").await;
    let name = unique("at-ready");
    let b = Bench::run(&label, &name, &mounts(&d, &name, true, false));

    // The registry: full id, name without Docker's `/`, docker runtime.
    let found = scan(&d).await;
    assert!(found.warnings.is_empty(), "{:?}", found.warnings);
    let row = found
        .containers
        .iter()
        .find(|c| c.container_id == b.id)
        .expect("scan registers the labelled container");
    assert_eq!(row.name, name);
    assert_eq!(row.runtime(), pb::RuntimeKind::Docker);
    assert_eq!(row.state(), pb::ContainerState::Running);

    // The 12-character short id is accepted and normalised.
    let l = d
        .create_and_settle(pb::CreateLayoutRequest {
            container_id: b.id[..12].to_string(),
            ..create("1m+2s", "work")
        })
        .await;
    let layout = l.layout.as_ref().unwrap();
    assert_eq!(layout.container_id, b.id);
    assert_eq!(
        layout.state(),
        pb::LayoutState::Ready,
        "{l:#?}\n{}",
        d.log()
    );
    assert_eq!(panes(&l).len(), 3);

    // tmux inside the container holds exactly these panes, titled by label.
    let listing = b.tmux(&[
        "list-panes",
        "-s",
        "-t",
        "=work:",
        "-F",
        "#{pane_id} #{pane_title}",
    ]);
    assert_eq!(listing.lines().count(), 3, "{listing}");
    for p in panes(&l) {
        assert!(p.log_attached, "{p:#?}");
        assert_eq!(
            p.log_path,
            d.log_dir()
                .join(&name)
                .join(format!("{}.log", p.label))
                .display()
                .to_string()
        );
        assert!(
            listing.contains(&format!("{} {}", p.tmux_pane_id, p.label)),
            "{listing}"
        );
    }

    // Typed input runs in the container; its output reaches the host log.
    let m1 = &panes(&l)[0];
    d.client()
        .await
        .send_input(pb::SendInputRequest {
            agent_id: m1.agent_id.clone(),
            text: "echo marker-$((6*7))".into(),
            no_enter: false,
        })
        .await
        .expect("send input");
    let log = std::path::PathBuf::from(&m1.log_path);
    eventually("the pane's output in the host log file", || {
        let log = log.clone();
        async move {
            std::fs::read_to_string(&log)
                .ok()
                .filter(|t| t.contains("marker-42"))
        }
    })
    .await;

    // Remove and recreate work unchanged on this runtime.
    let mut c = d.client().await;
    c.remove_pane(pb::RemovePaneRequest {
        pane_id: m1.pane_id.clone(),
    })
    .await
    .expect("remove");
    let gone = b.tmux(&["list-panes", "-a", "-F", "#{pane_id}"]);
    assert!(!gone.lines().any(|l| l == m1.tmux_pane_id), "{gone}");
    let next = c
        .recreate_pane(pb::RecreatePaneRequest {
            predecessor_pane_id: m1.pane_id.clone(),
            ..Default::default()
        })
        .await
        .expect("recreate")
        .into_inner()
        .pane
        .unwrap();
    let again = d.settled(&layout.layout_id).await;
    let successor = panes(&again)
        .iter()
        .find(|p| p.pane_id == next.pane_id)
        .expect("successor listed");
    assert_eq!(successor.state(), pb::PaneState::Ready, "{again:#?}");
}

#[tokio::test]
async fn without_a_log_mount_panes_degrade_and_say_what_to_mount() {
    let label = unique("nolog");
    let d = daemon(&label, "").await;
    let name = unique("at-nolog");
    let b = Bench::run(&label, &name, &[]);
    scan(&d).await;

    let l = d.create_and_settle(in_container(&b, "1m+2s", "work")).await;
    let layout = l.layout.as_ref().unwrap();
    assert_eq!(layout.state(), pb::LayoutState::Degraded, "{l:#?}");
    let dir = d.log_dir().join(&name);
    for p in panes(&l) {
        assert_eq!(p.state(), pb::PaneState::Degraded, "{p:#?}");
        assert_eq!(p.failed_stage(), pb::FailedStage::LogAttach);
        assert!(!p.log_attached);
        assert!(
            p.failure_reason.contains(&format!("-v {}:", dir.display())),
            "the reason names the mount to add: {}",
            p.failure_reason
        );
        assert!(!p.agent_id.is_empty(), "still registered: {p:#?}");
    }
}

#[tokio::test]
async fn two_containers_create_in_parallel_and_a_stopped_one_fails_only_its_panes() {
    let label = unique("pair");
    // A settle window long enough to stop a container inside it.
    let d = daemon(&label, "settle_window_ms: 1500").await;
    let a = bench(&d, &label, "at-a", false);
    let b = bench(&d, &label, "at-b", false);
    scan(&d).await;

    let mut c = d.client().await;
    let mut c2 = c.clone();
    let (ra, rb) = tokio::join!(
        c.create_layout(in_container(&a, "1m+2s", "work")),
        c2.create_layout(in_container(&b, "2m+2s", "work")),
    );
    let (la, lb) = (ra.unwrap().into_inner(), rb.unwrap().into_inner());

    // Once B's panes exist in tmux (still inside the settle window), stop B.
    eventually("B's panes created in tmux", || {
        let d = &d;
        let id = lb.layout_id().clone();
        async move {
            let l = d.layout(&id).await;
            panes(&l)
                .iter()
                .all(|p| !p.tmux_pane_id.is_empty() && p.state() == pb::PaneState::Creating)
                .then_some(())
        }
    })
    .await;
    b.kill();

    let (sa, sb) = (
        d.settled(&la.layout_id()).await,
        d.settled(&lb.layout_id()).await,
    );
    assert_eq!(
        sa.layout.as_ref().unwrap().state(),
        pb::LayoutState::Ready,
        "{sa:#?}\n{}",
        d.log()
    );
    assert_eq!(
        sb.layout.as_ref().unwrap().state(),
        pb::LayoutState::Failed,
        "{sb:#?}"
    );
    assert_eq!(panes(&sb).len(), 4);
    for p in panes(&sb) {
        assert_eq!(p.state(), pb::PaneState::Failed, "{p:#?}");
    }
    assert_eq!(
        a.tmux(&["list-panes", "-a", "-f", NOT_CONTROL])
            .lines()
            .count(),
        3
    );

    // The registry keeps the stopped container, marked.
    let rows = scan(&d).await.containers;
    let row_b = rows.iter().find(|r| r.container_id == b.id).expect("kept");
    assert_eq!(row_b.state(), pb::ContainerState::Stopped);
    let row_a = rows.iter().find(|r| r.container_id == a.id).unwrap();
    assert_eq!(row_a.state(), pb::ContainerState::Running);
}

#[tokio::test]
async fn the_cli_inside_a_container_acts_only_on_its_own_container() {
    let label = unique("scope");
    let d = daemon(&label, "").await;
    let a = bench(&d, &label, "at-a", true);
    let b = bench(&d, &label, "at-b", false);
    scan(&d).await;
    // The host creates a layout in B.
    let lb = d
        .create_and_settle(in_container(&b, "1m+2s", "hostmade"))
        .await;
    let lb_id = lb.layout.as_ref().unwrap().layout_id.clone();

    // Inside A: create without naming a container means A itself.
    let created = stdout_json(&a.cli(
        SOCKET_IN,
        &[
            "--json", "layout", "create", "-t", "1m+2s", "-s", "inside", "--wait",
        ],
    ));
    let la_id = created["layout"]["layout_id"]
        .as_str()
        .expect("layout id")
        .to_string();
    let la = d.layout(&la_id).await;
    assert_eq!(la.layout.as_ref().unwrap().container_id, a.id);
    assert_eq!(la.layout.as_ref().unwrap().state(), pb::LayoutState::Ready);
    // Naming itself by name works too.
    let out = a.cli(
        SOCKET_IN,
        &[
            "layout", "create", "-t", "1m+2s", "-s", "named", "-c", &a.name,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Lists are silently scoped to A.
    let listed = stdout_json(&a.cli(SOCKET_IN, &["--json", "layout", "list"]));
    let ids: Vec<&str> = listed["layouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["container_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(ids.iter().all(|c| *c == a.id), "{listed}");
    let panes_listed = stdout_json(&a.cli(SOCKET_IN, &["--json", "pane", "list"]));
    assert!(
        panes_listed["panes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["container_id"] == a.id.as_str()),
        "{panes_listed}"
    );
    let containers = stdout_json(&a.cli(SOCKET_IN, &["--json", "container", "list"]));
    assert_eq!(
        containers["containers"].as_array().unwrap().len(),
        1,
        "{containers}"
    );
    assert_eq!(containers["containers"][0]["container_id"], a.id.as_str());
    let events = stdout_json(&a.cli(SOCKET_IN, &["--json", "events", "list"]));
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["container_id"] == a.id.as_str()),
        "{events}"
    );
    // Asking for B's rows lists nothing rather than refusing.
    let other = stdout_json(&a.cli(
        SOCKET_IN,
        &["--json", "layout", "list", "--container", &b.name],
    ));
    assert!(no_layouts(&other), "{other}");

    // Anything about B by id: host_only with empty details, no id echoed.
    // (A full id goes to the method unresolved; B's names and prefixes
    // answer as names that exist nowhere: tests/docker/names.rs.)
    let pb_id = panes(&lb)[0].pane_id.clone();
    for args in [
        vec!["layout", "get", lb_id.as_str()],
        vec!["layout", "remove", lb_id.as_str()],
        vec!["pane", "remove", pb_id.as_str()],
        vec!["pane", "get", pb_id.as_str()],
        vec![
            "layout",
            "create",
            "-t",
            "1m+2s",
            "-s",
            "x",
            "-c",
            b.name.as_str(),
        ],
        vec!["layout", "create", "-t", "1m+2s", "-s", "x", "-c", "local"],
        vec![
            "layout",
            "create",
            "-t",
            "1m+2s",
            "-s",
            "x",
            "-c",
            "no-such-container",
        ],
        vec!["agent", "scan", "--container", b.name.as_str()],
        vec!["container", "scan"],
        vec!["version", "--app"],
    ] {
        let out = a.cli(SOCKET_IN, &args);
        assert_host_only(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains(&b.id[..12]) && !stderr.contains(&lb_id),
            "{args:?}: {stderr}"
        );
    }
    // B's layout is untouched.
    let still = d.layout(&lb_id).await;
    assert_eq!(
        still.layout.as_ref().unwrap().state(),
        pb::LayoutState::Ready
    );
    assert_eq!(
        b.tmux(&["list-panes", "-a", "-f", NOT_CONTROL])
            .lines()
            .count(),
        3
    );
    // The ManagedSessions surface still answers A.
    let v = stdout_json(&a.cli(SOCKET_IN, &["--json", "version"]));
    assert_eq!(v["api_version"], "agenttower.v1");
}

#[tokio::test]
async fn a_spoofed_hostname_does_not_widen_a_containers_scope() {
    let label = unique("spoof");
    let d = daemon(&label, "").await;
    let nb = unique("at-b");
    let a = bench(&d, &label, "at-a", false);
    scan(&d).await;
    let la = d
        .create_and_settle(in_container(&a, "1m+2s", "victim"))
        .await;
    let la_id = la.layout.as_ref().unwrap().layout_id.clone();
    // B claims to be A by hostname and environment.
    let mut opts = mounts(&d, &nb, true, true);
    opts.extend([
        "--hostname".into(),
        a.name.clone(),
        "-e".into(),
        format!("HOSTNAME={}", a.id),
    ]);
    let b = Bench::run(&label, &nb, &opts);
    scan(&d).await;
    assert_eq!(
        b.exec(&["cat", "/etc/hostname"]).stdout,
        format!("{}\n", a.name).into_bytes()
    );

    let listed = stdout_json(&b.cli(SOCKET_IN, &["--json", "layout", "list"]));
    assert!(no_layouts(&listed), "B sees none of A's layouts: {listed}");
    assert_host_only(&b.cli(SOCKET_IN, &["layout", "get", &la_id]));
    assert_host_only(&b.cli(SOCKET_IN, &["layout", "remove", &la_id]));
    // Naming A (whose name B took as hostname) lists nothing.
    let named = stdout_json(&b.cli(
        SOCKET_IN,
        &["--json", "layout", "list", "--container", &a.name],
    ));
    assert!(no_layouts(&named), "{named}");
    let created = stdout_json(&b.cli(
        SOCKET_IN,
        &["--json", "layout", "create", "-t", "1m+2s", "-s", "mine"],
    ));
    let mine = d
        .layout(created["layout"]["layout_id"].as_str().unwrap())
        .await;
    assert_eq!(
        mine.layout.as_ref().unwrap().container_id,
        b.id,
        "created in B, not A"
    );
    let still = d.layout(&la_id).await;
    assert_eq!(
        still.layout.as_ref().unwrap().state(),
        pb::LayoutState::Ready
    );
}

#[tokio::test]
async fn the_host_has_host_scope_and_an_unregistered_container_is_refused() {
    let label = unique("peer");
    let d = daemon(&label, "").await;
    let a = bench(&d, &label, "at-a", false);
    scan(&d).await;
    d.create_and_settle(in_container(&a, "1m+2s", "work")).await;
    d.create_settled("1m+2s", "hostwork").await;

    let host_cli = |args: &[&str]| {
        std::process::Command::new(cli_bin())
            .envs(d.env())
            .args(args)
            .output()
            .unwrap()
    };
    // The host may scan; the human table names the container.
    let scanned = host_cli(&["container", "scan"]);
    assert!(scanned.status.success(), "{scanned:?}");
    let table = String::from_utf8_lossy(&scanned.stdout);
    assert!(table.contains(&a.id) && table.contains(&a.name), "{table}");
    // The host CLI sees both containers' layouts.
    let listed = stdout_json(&host_cli(&["--json", "layout", "list"]));
    let containers: Vec<&str> = listed["layouts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["container_id"].as_str().unwrap())
        .collect();
    assert!(
        containers.contains(&a.id.as_str()) && containers.contains(&"local"),
        "{listed}"
    );

    // A container with the socket but without the label is not registered:
    // every call is refused, lists included.
    let stranger = unique("at-stranger");
    let s = docker_stranger(&d, &stranger);
    assert_host_only(&s.cli(SOCKET_IN, &["layout", "list"]));
    assert_host_only(&s.cli(SOCKET_IN, &["version"]));
    assert_host_only(&s.cli(SOCKET_IN, &["layout", "create", "-t", "1m+2s", "-s", "x"]));
    let all = d
        .client()
        .await
        .list_layouts(pb::ListLayoutsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.layouts.len(), 2, "the refused create wrote nothing");
}

/// A container with the socket and CLI mounted but a label no daemon scans.
fn docker_stranger(d: &Daemon, name: &str) -> Bench {
    Bench::run(&unique("unscanned"), name, &mounts(d, name, false, true))
}

#[tokio::test]
async fn scan_panes_in_a_container_lists_operator_panes_and_never_pending_ones() {
    let label = unique("scanp");
    let d = daemon(&label, "").await;
    let a = bench(&d, &label, "at-a", false);
    scan(&d).await;
    // The operator's own pane, and a pane carrying a pending marker title.
    a.tmux(&["new-session", "-d", "-s", "ops", "-x", "80", "-y", "24"]);
    let own = a.tmux(&["display-message", "-p", "-t", "=ops:", "#{pane_id}"]);
    let own = own.trim().to_string();
    a.tmux(&["new-session", "-d", "-s", "pending"]);
    a.tmux(&[
        "select-pane",
        "-t",
        "=pending:",
        "-T",
        "@MANAGED:tok123:pending.m1",
    ]);
    let layout = d.create_and_settle(in_container(&a, "1m+2s", "work")).await;

    let mut c = d.client().await;
    let scanned = c
        .scan_panes(pb::ScanPanesRequest {
            container_id: a.name.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .panes;
    let ops = scanned
        .iter()
        .find(|p| p.tmux_pane_id == own)
        .expect("the operator's pane is listed");
    assert!(ops.agent_id.is_empty());
    assert!(
        scanned.iter().all(|p| p.tmux_session_name != "pending"),
        "{scanned:#?}"
    );
    for p in panes(&layout) {
        let s = scanned
            .iter()
            .find(|s| s.tmux_pane_id == p.tmux_pane_id)
            .unwrap();
        assert_eq!(s.agent_id, p.agent_id);
    }

    // Adopting it works in the container, and a rescan marks it.
    let agent = c
        .adopt_pane(pb::AdoptPaneRequest {
            container_id: a.id.clone(),
            tmux_pane_id: own.clone(),
            role: "operator".into(),
            capability: "shell".into(),
            label: "ops".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .agent
        .unwrap();
    assert_eq!(agent.container_id, a.id);
    let rescanned = c
        .scan_panes(pb::ScanPanesRequest {
            container_id: a.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .panes;
    let ops = rescanned.iter().find(|p| p.tmux_pane_id == own).unwrap();
    assert_eq!(ops.agent_id, agent.agent_id);
    // The adopted pane is protected: the daemon never kills it.
    let (code, e) = err(c
        .remove_pane(pb::RemovePaneRequest {
            pane_id: agent.agent_id.clone(),
        })
        .await);
    assert_eq!(
        (code, e.reason.as_str()),
        (Code::FailedPrecondition, "managed_pane_protected_adopted")
    );
    assert!(
        a.tmux(&["list-panes", "-a", "-F", "#{pane_id}"])
            .lines()
            .any(|l| l == own)
    );
}

#[test]
fn the_bench_image_runs_tmux_with_utf8() {
    let image = bench_image();
    let out = docker_ok(&[
        "run",
        "--rm",
        "--init",
        "-e",
        "LC_ALL=C.UTF-8",
        image,
        "tmux",
        "-V",
    ]);
    assert!(out.starts_with("tmux "), "{out}");
}

#[tokio::test]
async fn a_restarted_daemon_reattaches_container_panes_and_a_killed_container_fails_only_its_own() {
    let label = unique("recover");
    let mut d = daemon(&label, "health_interval_ms: 200").await;
    let a = bench(&d, &label, "at-a", false);
    let b = bench(&d, &label, "at-b", false);
    scan(&d).await;
    let la = d.create_and_settle(in_container(&a, "1m+2s", "work")).await;
    let lb = d.create_and_settle(in_container(&b, "1m+2s", "work")).await;
    let (la_id, lb_id) = (
        la.layout.as_ref().unwrap().layout_id.clone(),
        lb.layout.as_ref().unwrap().layout_id.clone(),
    );

    // After a restart (no scan yet) boot recovery reaches both containers
    // through the registry and reattaches every pane.
    assert!(d.terminate().await.success());
    d.restart().await;
    let reattached = d
        .all_events()
        .await
        .into_iter()
        .filter(|e| e.event_type() == pb::EventType::ManagedLayoutRecoveryReattached)
        .count();
    assert_eq!(reattached, 6, "{}", d.log());
    d.client()
        .await
        .send_input(pb::SendInputRequest {
            agent_id: panes(&la)[0].agent_id.clone(),
            text: "echo after-restart".into(),
            no_enter: false,
        })
        .await
        .expect("the runtime is back without a scan");

    // Killing B: the health watcher fails exactly B's panes.
    b.kill();
    d.until_panes_gone(&lb_id).await;
    let a_now = d.layout(&la_id).await;
    assert!(
        panes(&a_now)
            .iter()
            .all(|p| p.state() == pb::PaneState::Ready),
        "{a_now:#?}"
    );
    let rows = d.containers().await;
    let row_b = rows.iter().find(|r| r.container_id == b.id).unwrap();
    assert_eq!(row_b.state(), pb::ContainerState::Stopped);
}

/// A pane of `l` by label suffix.
fn pane<'a>(l: &'a pb::GetLayoutResponse, suffix: &str) -> &'a pb::Pane {
    panes(l)
        .iter()
        .find(|p| p.label.ends_with(suffix))
        .unwrap_or_else(|| panic!("no pane {suffix}"))
}

#[tokio::test]
async fn fifos_planted_in_two_containers_stall_nothing_and_fail_only_their_logs() {
    let label = unique("fifo");
    let d = daemon(&label, "").await;
    let a = bench(&d, &label, "at-fa", false);
    let b = bench(&d, &label, "at-fb", false);
    scan(&d).await;
    for x in [&a, &b] {
        let out = x.exec(&["mkfifo", &format!("{LOGS_IN}/f.m1.log")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut c = d.client().await;
    let mut c2 = c.clone();
    let (ra, rb) = tokio::join!(
        c.create_layout(in_container(&a, "1m+2s", "f")),
        c2.create_layout(in_container(&b, "1m+2s", "f")),
    );
    let (la, lb) = (ra.unwrap().into_inner(), rb.unwrap().into_inner());
    // Unrelated calls answer meanwhile, and a layout on `local` completes.
    tokio::time::timeout(DEADLINE, c.get_version(pb::GetVersionRequest::default()))
        .await
        .expect("GetVersion answers while containers plant FIFOs")
        .expect("version");
    let local = d.create_settled("1m+2s", "loc").await;
    assert_eq!(local.layout.unwrap().state(), pb::LayoutState::Ready);
    for id in [&la.layout_id(), &lb.layout_id()] {
        let l = d.settled(id).await;
        let m1 = pane(&l, ".m1");
        assert_eq!(m1.state(), pb::PaneState::Degraded, "{m1:#?}");
        assert_eq!(m1.failed_stage(), pb::FailedStage::LogAttach);
        assert!(m1.failure_reason.contains("FIFO"), "{}", m1.failure_reason);
        for s in [".s1", ".s2"] {
            assert_eq!(pane(&l, s).state(), pb::PaneState::Ready);
        }
    }
}

#[tokio::test]
async fn a_symlink_planted_in_a_container_never_reaches_a_host_file() {
    let label = unique("sym");
    let d = daemon(&label, "").await;
    let a = bench(&d, &label, "at-sym", false);
    scan(&d).await;
    let escape = d.dir.path().join("escape");
    let out = a.exec(&[
        "ln",
        "-s",
        &escape.display().to_string(),
        &format!("{LOGS_IN}/w.m1.log"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let l = d.create_and_settle(in_container(&a, "1m+2s", "w")).await;
    let m1 = pane(&l, ".m1");
    assert_eq!(m1.state(), pb::PaneState::Degraded, "{m1:#?}");
    assert_eq!(m1.failed_stage(), pb::FailedStage::LogAttach);
    assert!(
        m1.failure_reason.contains("symbolic link"),
        "{}",
        m1.failure_reason
    );
    assert_eq!(pane(&l, ".s1").state(), pb::PaneState::Ready);
    assert!(
        !escape.exists(),
        "the host file was created through the symlink"
    );
}

/// The agent's activity as GetPane shows it.
async fn pane_activity(d: &Daemon, pane_id: &str) -> pb::AgentActivity {
    d.pane(pane_id).await.activity.unwrap_or_default()
}

/// Types `agenttower agent report <args>` into `pane` (through SendInput)
/// and returns its exit code, which the pane's shell writes to `rc` in the
/// container.
async fn report_in_pane(d: &Daemon, b: &Bench, pane: &pb::Pane, args: &str) -> i32 {
    let rc = format!("/tmp/report-{}.rc", pane.label);
    d.client()
        .await
        .send_input(pb::SendInputRequest {
            agent_id: pane.agent_id.clone(),
            text: format!(
                "AGENTTOWER_SOCKET={SOCKET_IN} /usr/local/bin/agenttower agent report {args} \
                 >/tmp/report.out 2>/tmp/report.err; echo $? >{rc}"
            ),
            no_enter: false,
        })
        .await
        .expect("send input");
    eventually(&format!("the report in {} to finish", pane.label), || {
        let out = b.exec(&["cat", &rc]);
        async move { String::from_utf8_lossy(&out.stdout).trim().parse().ok() }
    })
    .await
}

#[tokio::test]
async fn agent_report_in_a_container_pane_changes_only_that_pane_of_that_container() {
    let label = unique("report");
    let d = daemon(&label, "").await;
    let a = bench(&d, &label, "at-ra", true);
    let b = bench(&d, &label, "at-rb", true);
    scan(&d).await;
    // The same layout in both: each pid namespace numbers its panes from
    // the same small start, so pids alone do not tell the containers apart.
    let la = d.create_and_settle(in_container(&a, "1m+2s", "rep")).await;
    let lb = d.create_and_settle(in_container(&b, "1m+2s", "rep")).await;
    for l in [&la, &lb] {
        assert_eq!(
            l.layout.as_ref().unwrap().state(),
            pb::LayoutState::Ready,
            "{l:#?}\n{}",
            d.log()
        );
    }
    let (a1, a2, b1) = (pane(&la, ".m1"), pane(&la, ".s1"), pane(&lb, ".m1"));

    assert_eq!(
        report_in_pane(&d, &a, a1, "waiting --message in-a").await,
        0,
        "{}\n{}",
        String::from_utf8_lossy(&a.exec(&["cat", "/tmp/report.err"]).stdout),
        d.log()
    );
    let now = pane_activity(&d, &a1.pane_id).await;
    assert_eq!(
        (now.activity(), now.source(), now.message.as_str()),
        (
            pb::Activity::WaitingForInput,
            pb::ActivitySource::Report,
            "in-a"
        )
    );
    for other in [a2, b1] {
        let now = pane_activity(&d, &other.pane_id).await;
        assert_ne!(now.source(), pb::ActivitySource::Report, "{}", other.label);
    }
    assert_eq!(report_in_pane(&d, &b, b1, "idle --message in-b").await, 0);
    let now = pane_activity(&d, &b1.pane_id).await;
    assert_eq!(
        (now.activity(), now.source(), now.message.as_str()),
        (pb::Activity::Idle, pb::ActivitySource::Report, "in-b")
    );
    assert_eq!(pane_activity(&d, &a1.pane_id).await.message, "in-a");

    // `docker exec` in the container runs in no pane: refused, even when
    // its environment names A's pane.
    let out = a.cli(
        SOCKET_IN,
        &["agent", "report", "working", "--message", "outside"],
    );
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("caller_not_in_agent_pane"), "{stderr}");
    let env = [
        format!("AGENTTOWER_SOCKET={SOCKET_IN}"),
        format!("TMUX_PANE={}", a1.tmux_pane_id),
        format!("AGENTTOWER_PANE={}", a1.pane_id),
        format!("AGENTTOWER_AGENT_ID={}", a1.agent_id),
    ];
    let mut args = vec!["exec"];
    for e in &env {
        args.extend(["-e", e.as_str()]);
    }
    args.extend([
        a.name.as_str(),
        "/usr/local/bin/agenttower",
        "agent",
        "report",
        "working",
        "--message",
        "spoofed",
    ]);
    let out = support::docker::docker(&args);
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("caller_not_in_agent_pane"), "{stderr}");

    // Nothing changed: two reports, each for its own pane.
    let now = pane_activity(&d, &a1.pane_id).await;
    assert_eq!(
        (now.activity(), now.message.as_str()),
        (pb::Activity::WaitingForInput, "in-a")
    );
    let reported: Vec<(String, String)> = d
        .all_events()
        .await
        .into_iter()
        .filter_map(|e| match &e.payload {
            Some(pb::lifecycle_event::Payload::AgentActivityChanged(p))
                if p.source() == pb::ActivitySource::Report =>
            {
                Some((e.container_id.clone(), p.agent_id.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        reported,
        [
            (a.id.clone(), a1.agent_id.clone()),
            (b.id.clone(), b1.agent_id.clone())
        ]
    );
}
