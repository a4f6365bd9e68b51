//! One live tmux connection per server (issue 16): the daemon talks to each
//! tmux server through one control-mode client, hears pane deaths from it
//! instead of waiting for the health poll, and survives losing it.
//!
//! The health poll is set to ten minutes in every push test, so the poll
//! cannot be what noticed anything; each bound below is far shorter.

use std::collections::HashSet;
use std::time::Duration;

use agenttower::pb;

use crate::support::*;

/// Far longer than any test here waits.
const NO_POLL: &str = "health_interval_ms: 600000";
/// How long a pushed change may take to become an event: much shorter than
/// the poll, long enough for a loaded 2-core machine.
const PUSH_BOUND: Duration = Duration::from_secs(5);

/// A profile whose program waits for a line, then exits with status 7.
const EXITS_ON_INPUT: &str = "name: exits\ncommand: [sh, -c, 'echo up; read x; exit 7']\n";

/// The control-mode clients of a tmux server: `(pid, session)`.
fn control_clients(socket: &std::path::Path) -> Vec<(i32, String)> {
    let out = tmux_on(
        socket,
        &[
            "list-clients",
            "-F",
            "#{client_control_mode} #{client_pid} #{session_name}",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ' ');
            (f.next()? == "1").then_some(())?;
            Some((f.next()?.parse().ok()?, f.next()?.to_string()))
        })
        .collect()
}

/// The parent pid of `pid`, from /proc.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.split(' ').nth(1)?.parse().ok()
}

async fn one_control_client(d: &Daemon, socket: &std::path::Path) -> i32 {
    eventually("the daemon's control client", || {
        let clients = control_clients(socket);
        let daemon = d.pid() as i32;
        async move {
            match clients.as_slice() {
                [(pid, session)]
                    if session == CONTROL_SESSION && parent_of(*pid) == Some(daemon) =>
                {
                    Some(*pid)
                }
                _ => None,
            }
        }
    })
    .await
}

#[tokio::test]
async fn the_daemon_drives_tmux_through_one_control_client_of_its_own() {
    let d = Daemon::start().await;
    let a = d.create_settled("1m+2s", "one").await;
    let b = d.create_settled("2m+2s", "two").await;
    for l in [&a, &b] {
        assert_eq!(l.the_layout().state(), pb::LayoutState::Ready);
    }
    // One client, the daemon's child, attached to its own session, and
    // still the same one after two layouts.
    let pid = one_control_client(&d, &d.tmux_socket()).await;
    let c = d.create_settled("1m+2s", "three").await;
    assert_eq!(c.the_layout().state(), pb::LayoutState::Ready);
    assert_eq!(one_control_client(&d, &d.tmux_socket()).await, pid);
    // The control session is no layout and no agent.
    let scanned = d
        .client()
        .await
        .scan_panes(pb::ScanPanesRequest {
            container_id: "local".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .panes;
    assert!(
        scanned
            .iter()
            .all(|p| p.tmux_session_name != CONTROL_SESSION),
        "{scanned:?}"
    );
    assert_eq!(scanned.len(), 10, "{scanned:?}");
}

#[tokio::test]
async fn a_pane_whose_program_exits_after_ready_is_degraded_by_push() {
    let d = Daemon::start_with(
        Setup::default()
            .config(NO_POLL)
            .profile("exits", EXITS_ON_INPUT)
            .template(
                "pair",
                "name: pair\npanes:\n  \
                 - {role: master, capability: worker, label_pattern: '{session}.m', default_launch_command_ref: exits}\n  \
                 - {role: slave, capability: worker, label_pattern: '{session}.s', default_launch_command_ref: talker}\n",
            ),
    )
    .await;
    let l = d.create_settled("pair", "pushy").await;
    assert_eq!(l.the_layout().state(), pb::LayoutState::Ready, "{l:#?}");
    let master = l
        .panes()
        .iter()
        .find(|p| p.role == "master")
        .unwrap()
        .clone();
    let mut s = d
        .watch(pb::WatchEventsRequest {
            pane_id: master.pane_id.clone(),
            ..Default::default()
        })
        .await;
    tmux_ok(d.tmux(&["send-keys", "-t", &master.tmux_pane_id, "go", "Enter"]));
    let events = tokio::time::timeout(
        PUSH_BOUND,
        events_until(&mut s, |e| {
            e.event_type() == pb::EventType::ManagedPaneLaunchCommandExited
        }),
    )
    .await
    .expect("the exit pushed well before the ten-minute poll");
    let exited = events.last().unwrap();
    assert_eq!(payload(exited)["exit_code"], 7, "{exited:?}");
    let p = d.pane(&master.pane_id).await;
    assert_eq!(
        (p.state(), p.failed_stage()),
        (pb::PaneState::Degraded, pb::FailedStage::LaunchCommand)
    );
    // The other pane is untouched.
    let other = l.panes().iter().find(|p| p.role != "master").unwrap();
    assert_eq!(d.pane(&other.pane_id).await.state(), pb::PaneState::Ready);
}

#[tokio::test]
async fn killing_a_tmux_server_fails_exactly_its_panes_by_push() {
    let d = Daemon::start_with(Setup::default().config(NO_POLL).containers(&["c2"])).await;
    let here = d.create_settled("1m+2s", "here").await;
    let there = d
        .create_and_settle(pb::CreateLayoutRequest {
            container_id: "c2".into(),
            ..create("2m+2s", "there")
        })
        .await;
    for l in [&here, &there] {
        assert_eq!(l.the_layout().state(), pb::LayoutState::Ready);
    }
    let mut s = d
        .watch(pb::WatchEventsRequest {
            layout_id: here.the_layout().layout_id.clone(),
            ..Default::default()
        })
        .await;
    tmux_ok(d.tmux(&["kill-server"]));
    let layout_id = here.the_layout().layout_id.clone();
    tokio::time::timeout(
        PUSH_BOUND,
        events_until(&mut s, |e| layout_became(e, &layout_id, "failed")),
    )
    .await
    .expect("the server's end pushed well before the ten-minute poll");
    let got = d.layout(&layout_id).await;
    for p in got.panes() {
        assert_eq!(
            (p.state(), p.failed_stage()),
            (pb::PaneState::Failed, pb::FailedStage::RecoveryReattach),
            "{p:?}"
        );
    }
    // The other server's layout never noticed.
    let still = d.layout(&there.the_layout().layout_id).await;
    assert_eq!(still.the_layout().state(), pb::LayoutState::Ready);
    assert!(
        still
            .panes()
            .iter()
            .all(|p| p.state() == pb::PaneState::Ready)
    );
    // A new layout starts a new server and a new connection to it.
    let again = d.create_settled("1m+2s", "again").await;
    assert_eq!(again.the_layout().state(), pb::LayoutState::Ready);
    one_control_client(&d, &d.tmux_socket()).await;
}

#[tokio::test]
async fn killing_the_control_client_mid_create_duplicates_nothing_and_it_comes_back() {
    // The fault runtime kills the real control client as the create chain
    // is written: the chain may or may not have run.
    let d = Daemon::start_with(
        Setup::default()
            .config("retry_backoff_ms: [50, 100]")
            .env("AGENTTOWER_TEST_FAULTS", "new-session@1=kill"),
    )
    .await;
    let l = d.create_settled("2m+2s", "cut").await;
    let layout = l.the_layout();
    assert_eq!(
        layout.state(),
        pb::LayoutState::Ready,
        "{l:#?}\n{}",
        d.log()
    );
    assert!(d.log().contains("injecting a test fault"), "{}", d.log());
    let ids: HashSet<String> = l.panes().iter().map(|p| p.tmux_pane_id.clone()).collect();
    let live: HashSet<String> = d.tmux_panes().into_iter().collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(live, ids, "exactly the layout's panes, no duplicates");
    one_control_client(&d, &d.tmux_socket()).await;
    // And it serves the next layout.
    let next = d.create_settled("1m+2s", "after").await;
    assert_eq!(next.the_layout().state(), pb::LayoutState::Ready);
}

#[tokio::test]
async fn a_create_chain_that_times_out_is_retried_into_exactly_the_intended_panes() {
    // The chain runs, but its reply is lost: the retry must first remove
    // what it built (by its pending markers), then build it once.
    let d = Daemon::start_with(
        Setup::default()
            .config("retry_backoff_ms: [50, 100]")
            .env("AGENTTOWER_TEST_FAULTS", "new-session@1=timeout"),
    )
    .await;
    let l = d.create_settled("1m+2s", "late").await;
    assert_eq!(
        l.the_layout().state(),
        pb::LayoutState::Ready,
        "{}",
        d.log()
    );
    let log = d.log();
    assert!(log.contains("injecting a test fault"), "{log}");
    assert!(log.contains("transient runtime failure; retrying"), "{log}");
    let ids: HashSet<String> = l.panes().iter().map(|p| p.tmux_pane_id.clone()).collect();
    let live: HashSet<String> = d.tmux_panes().into_iter().collect();
    assert_eq!((ids.len(), live), (3, ids));
    let sessions = tmux_ok(d.tmux(&["list-sessions", "-f", NOT_CONTROL, "-F", "#{session_name}"]));
    assert_eq!(sessions.trim(), "late");
}

#[tokio::test]
async fn a_stopped_daemon_takes_its_control_session_with_it() {
    let mut d = Daemon::start().await;
    let l = d.create_settled("1m+2s", "stay").await;
    assert_eq!(l.the_layout().state(), pb::LayoutState::Ready);
    one_control_client(&d, &d.tmux_socket()).await;
    assert!(d.terminate().await.success());
    // The layout lives on; the daemon's own session does not.
    let sessions = tmux_ok(d.tmux(&["list-sessions", "-F", "#{session_name}"]));
    assert_eq!(sessions.trim(), "stay");
}
