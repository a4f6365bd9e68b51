//! What "ours" means for a tmux pane (issue 12): after a tmux server restart
//! the daemon touches none of the operator's panes, a tmux that hangs past
//! the pending TTL leaves no pane behind, and a server that exits under a
//! create does not fail the layout.

use std::collections::HashSet;

use agenttower::pb;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::*;

fn label<'a>(l: &'a pb::GetLayoutResponse, suffix: &str) -> &'a pb::Pane {
    l.layout
        .as_ref()
        .unwrap()
        .panes
        .iter()
        .find(|p| p.label.ends_with(suffix))
        .unwrap_or_else(|| panic!("no pane {suffix}"))
}

/// `%N` of every pane of the test's tmux server.
fn tmux_panes(d: &Daemon) -> HashSet<String> {
    d.tmux_panes().into_iter().collect()
}

/// `%N` of the panes that carry one of `owners` as their ownership mark.
fn marked_as(d: &Daemon, owners: &HashSet<String>) -> Vec<String> {
    let out = d.tmux(&["list-panes", "-a", "-F", "#{pane_id}\t#{@agenttower_pane}"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, owner)| owners.contains(*owner))
        .map(|(id, _)| id.to_string())
        .collect()
}

/// The pid of the test's tmux server, started with an operator session.
fn operator_server(d: &Daemon) -> i32 {
    tmux_ok(d.tmux(&["new-session", "-d", "-s", "keep"]));
    tmux_ok(d.tmux(&["display-message", "-p", "#{pid}"]))
        .trim()
        .parse()
        .expect("tmux server pid")
}

fn signal(pid: i32, sig: Signal) {
    kill(Pid::from_raw(pid), sig).expect("signal the tmux server");
}

/// Whether a tmux client running `command` against `socket` is alive. The
/// server (`server_pid`) is not a client, though it keeps the argv of the
/// client that started it.
fn tmux_client_running(socket: &std::path::Path, server_pid: i32, command: &str) -> bool {
    let socket = socket.display().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_str() != Some(server_pid.to_string().as_str()))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|raw| {
            let args: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.first().is_some_and(|a| a.ends_with("tmux"))
                && args.contains(&socket)
                && args.iter().any(|a| a == command)
        })
}

/// Recreates `pane_id` and waits until the successor settles.
async fn recreate_settled(d: &Daemon, pane_id: &str) -> pb::Pane {
    let succ = d
        .client()
        .await
        .recreate_pane(pb::RecreatePaneRequest {
            predecessor_pane_id: pane_id.to_string(),
            ..Default::default()
        })
        .await
        .expect("recreate")
        .into_inner()
        .pane
        .unwrap();
    eventually("the successor to settle", || async {
        let p = d.pane(&succ.pane_id).await;
        (p.state() != pb::PaneState::Creating).then_some(p)
    })
    .await
}

#[tokio::test]
async fn after_a_tmux_restart_the_daemon_touches_only_its_own_panes() {
    let d = Daemon::start_with(Setup::default().config("health_interval_ms: 300")).await;
    let old = d.create_settled("1m+2s", "old").await;
    assert_eq!(old.layout.as_ref().unwrap().state(), pb::LayoutState::Ready);
    let old_ids: HashSet<String> = old
        .layout
        .as_ref()
        .unwrap()
        .panes
        .iter()
        .map(|p| p.tmux_pane_id.clone())
        .collect();

    tmux_ok(d.tmux(&["kill-server"]));
    let old_id = old.layout.as_ref().unwrap().layout_id.clone();
    d.until_panes_gone(&old_id).await;

    // The operator's own session now has the id old.m1 had. tmux numbers
    // panes from %0 again, but the daemon's control session took one of the
    // first ids: the operator makes panes up to m1's number in one command
    // (no other client's command runs in between), the last one is `mine`.
    let m1_id = label(&old, ".m1").tmux_pane_id.clone();
    let n: usize = m1_id[1..].parse().unwrap();
    let mut args = vec!["new-session", "-d", "-s", "mine", "-P", "-F", "#{pane_id}"];
    for _ in 0..n {
        args.extend([
            ";",
            "split-window",
            "-t",
            "=mine:",
            "-P",
            "-F",
            "#{pane_id}",
        ]);
    }
    let made = tmux_ok(d.tmux(&args));
    let mine = made.lines().last().unwrap_or_default().to_string();
    assert_eq!(mine, m1_id, "the scenario reuses %N: {made:?}");

    // A layout created after the restart gets ids the old agents held, and
    // registers every pane.
    let new = d.create_settled("1m+2s", "new").await;
    let new_layout = new.layout.as_ref().unwrap();
    assert_eq!(new_layout.state(), pb::LayoutState::Ready, "{new_layout:?}");
    let new_ids: HashSet<String> = new_layout
        .panes
        .iter()
        .map(|p| p.tmux_pane_id.clone())
        .collect();
    assert!(!new_ids.is_disjoint(&old_ids), "the scenario reuses %N");

    // Removing old.m1 leaves the operator's pane alone.
    let mut c = d.client().await;
    let removed = c
        .remove_pane(pb::RemovePaneRequest {
            pane_id: label(&old, ".m1").pane_id.clone(),
        })
        .await
        .expect("remove")
        .into_inner();
    assert_eq!(removed.pane.unwrap().state(), pb::PaneState::Removed);
    assert!(
        tmux_panes(&d).contains(&mine),
        "the operator's pane was killed"
    );

    // Recreating old.s1, whose %N is now a pane of `new`, kills nothing of `new`.
    let succ = recreate_settled(&d, &label(&old, ".s1").pane_id).await;
    assert_eq!(succ.state(), pb::PaneState::Ready, "{succ:?}");
    let live = tmux_panes(&d);
    assert!(new_ids.is_subset(&live), "a pane of `new` was killed");
    let again = d.layout(&new_layout.layout_id).await;
    assert_eq!(again.layout.unwrap().state(), pb::LayoutState::Ready);

    // The operator's pane can be adopted: no old agent holds its %N.
    let adopted = c
        .adopt_pane(pb::AdoptPaneRequest {
            container_id: "local".into(),
            tmux_pane_id: mine.clone(),
            role: "operator".into(),
            capability: "shell".into(),
            label: "mine".into(),
        })
        .await
        .expect("adopt the operator's pane")
        .into_inner();
    assert_eq!(adopted.agent.unwrap().tmux_pane_id, mine);

    // Registered agents hold distinct panes, all alive.
    let agents = c
        .list_agents(pb::ListAgentsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .agents;
    let held: Vec<&String> = agents.iter().map(|a| &a.tmux_pane_id).collect();
    let distinct: HashSet<&String> = held.iter().copied().collect();
    assert_eq!(held.len(), distinct.len(), "{agents:?}");
    assert!(held.iter().all(|id| live.contains(*id)), "{agents:?}");
}

#[tokio::test]
async fn a_create_survives_a_tmux_server_that_exits_under_it() {
    let d = Daemon::start_with(
        Setup::default().config("stage_timeout_ms: 3000\nretry_backoff_ms: [100, 200]"),
    )
    .await;
    let pid = operator_server(&d);
    signal(pid, Signal::SIGSTOP);
    // has-session times out on the stopped server (the name counts as free);
    // then the pipeline's create chain waits on it.
    let r = d
        .client()
        .await
        .create_layout(create("1m+2s", "churn"))
        .await
        .expect("create")
        .into_inner();
    eventually("the create chain to wait on the stopped server", || {
        let waiting = tmux_client_running(&d.tmux_socket(), pid, "new-session");
        async move { waiting.then_some(()) }
    })
    .await;
    // The server exits while the command is in flight, as it does when its
    // last session is removed at that moment.
    signal(pid, Signal::SIGKILL);
    let got = d.settled(&r.layout_id()).await;
    let layout = got.the_layout().clone();
    assert_eq!(
        layout.state(),
        pb::LayoutState::Ready,
        "{layout:?}\n{}",
        d.log()
    );
    assert_eq!(layout.ready_pane_count, 3);
    assert_eq!(tmux_panes(&d).len(), 3, "no duplicate panes");
}

/// A layout created while the tmux server is stopped: its create chain
/// times out and every pane fails at `pane_create`; the server then runs
/// the queued commands and creates panes for rows that have failed.
async fn layout_behind_a_hung_tmux(d: &Daemon) -> (String, HashSet<String>) {
    let pid = operator_server(d);
    signal(pid, Signal::SIGSTOP);
    let r = d
        .client()
        .await
        .create_layout(create("1m+2s", "hung"))
        .await
        .expect("create")
        .into_inner();
    let got = d.settled(&r.layout_id()).await;
    let layout = got.the_layout().clone();
    assert_eq!(layout.state(), pb::LayoutState::Failed);
    assert!(
        layout
            .panes
            .iter()
            .all(|p| p.failed_stage() == pb::FailedStage::PaneCreate && p.tmux_pane_id.is_empty())
    );
    signal(pid, Signal::SIGCONT);
    let owners = layout.panes.iter().map(|p| p.pane_id.clone()).collect();
    (r.layout_id(), owners)
}

const HUNG: &str = "stage_timeout_ms: 700\nretry_backoff_ms: [50, 50]\npending_ttl_ms: 1500";

#[tokio::test]
async fn remove_layout_kills_the_panes_a_hung_tmux_created_late() {
    let d = Daemon::start_with(Setup::default().config(HUNG)).await;
    let (layout_id, owners) = layout_behind_a_hung_tmux(&d).await;
    let keep: HashSet<String> = tmux_panes(&d)
        .into_iter()
        .filter(|id| !marked_as(&d, &owners).contains(id))
        .collect();
    eventually("the late panes to appear", || {
        let n = marked_as(&d, &owners).len();
        async move { (n == 3).then_some(()) }
    })
    .await;
    let removed = d
        .client()
        .await
        .remove_layout(pb::RemoveLayoutRequest {
            layout_id: layout_id.clone(),
        })
        .await
        .expect("remove layout")
        .into_inner();
    assert_eq!(removed.layout.unwrap().state(), pb::LayoutState::Removed);
    assert!(
        marked_as(&d, &owners).is_empty(),
        "panes of the layout left behind"
    );
    assert!(
        keep.is_subset(&tmux_panes(&d)),
        "the operator's pane was killed: kept {keep:?}, now {}",
        tmux_ok(d.tmux(&[
            "list-panes",
            "-a",
            "-F",
            "#{session_name} #{pane_id} #{@agenttower_pane}"
        ]))
    );
}

#[tokio::test]
async fn the_sweep_kills_the_panes_a_hung_tmux_created_late() {
    let d = Daemon::start_with(Setup::default().config(&format!("{HUNG}\nsweep_interval_ms: 200")))
        .await;
    let (layout_id, owners) = layout_behind_a_hung_tmux(&d).await;
    // The daemon says when it kills such panes: the late panes did appear.
    eventually("the sweep to kill the late panes", || {
        let done = marked_as(&d, &owners).is_empty() && d.log().contains("no longer own them");
        async move { done.then_some(()) }
    })
    .await;
    tmux_ok(d.tmux(&["has-session", "-t", "=keep"]));
    let got = d.layout(&layout_id).await;
    assert_eq!(got.the_layout().clone().state(), pb::LayoutState::Failed);
}

#[tokio::test]
async fn a_recreate_never_splits_into_the_operators_session_of_the_same_name() {
    let d = Daemon::start_with(Setup::default().config("health_interval_ms: 300")).await;
    let l = d.create_settled("1m+2s", "same").await;
    let layout_id = l.layout.as_ref().unwrap().layout_id.clone();
    tmux_ok(d.tmux(&["kill-server"]));
    d.until_panes_gone(&layout_id).await;
    // The operator makes a session with the layout's name on the new server.
    tmux_ok(d.tmux(&["new-session", "-d", "-s", "same"]));
    let succ = recreate_settled(&d, &label(&l, ".m1").pane_id).await;
    assert_eq!(succ.state(), pb::PaneState::Failed, "{succ:?}");
    assert_eq!(succ.failed_stage(), pb::FailedStage::PaneCreate);
    let theirs = tmux_ok(d.tmux(&["list-panes", "-s", "-t", "=same:", "-F", "#{pane_id}"]));
    assert_eq!(
        theirs.lines().count(),
        1,
        "a pane was split into their session"
    );
}
