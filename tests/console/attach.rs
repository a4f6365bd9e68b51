//! Enter on a pane attaches to it. From a tmux server of its own (the
//! harness's), the console hands its terminal to a nested client of the
//! agents' tmux server; what the operator types reaches the agent, not the
//! console; detaching brings the console back intact. `/` goes to a name.
//! From a client of the agents' own server, it switches that client.

use super::support::*;
use super::{Console, frame_intact, line_with, pane_ready};

/// Creates a 1m+2s layout named `session` from the console's keys and
/// waits until it is ready; returns the tmux id of its second pane.
async fn create_layout(c: &Console, session: &str) -> String {
    c.wait_for("the console to connect", |s| s.contains("connected"))
        .await;
    c.keys(&["c"]);
    c.wait_for("the create dialog", |s| s.contains("Create layout"))
        .await;
    c.text(session);
    c.keys(&["Enter"]);
    c.wait_for("the layout to be ready", |s| {
        ["m1", "s1", "s2"]
            .iter()
            .all(|p| pane_ready(s, &format!("{session}.{p}")))
    })
    .await;
    let panes = tmux_ok(tmux_on(
        &c.local_socket(),
        &[
            "list-panes",
            "-s",
            "-t",
            &format!("={session}"),
            "-F",
            "#{pane_index} #{pane_id}",
        ],
    ));
    panes
        .lines()
        .find_map(|l| l.strip_prefix("1 "))
        .expect("pane 1")
        .to_string()
}

#[tokio::test]
async fn enter_attaches_to_the_pane_and_detaching_comes_back() {
    let c = Console::start();
    let s1 = create_layout(&c, "att").await;
    let local = c.local_socket();

    // Select att.s1 and press Enter.
    c.keys(&["Tab", "Down"]);
    c.wait_for("att.s1 to be selected", |s| s.contains("Preview of att.s1"))
        .await;
    c.keys(&["Enter"]);
    // The console's pane shows a client of the agents' server: its status
    // line names the session, and that client shows att.s1.
    c.wait_for("the nested tmux client", |s| {
        s.lines().any(|l| l.starts_with("[att]")) && !s.contains("AgentTower")
    })
    .await;
    let clients = || clients_on(&local, "#{pane_id}").join("\n");
    eventually("a client on att.s1", || {
        let on = clients();
        let want = s1.clone();
        async move { (on == want).then_some(()) }
    })
    .await;

    // Keystrokes go to the agent: the console reads nothing meanwhile.
    c.text("echo typed-through-the-console");
    c.keys(&["Enter"]);
    eventually("att.s1 to run what was typed", || {
        let screen = tmux_ok(tmux_on(&local, &["capture-pane", "-p", "-t", &s1]));
        async move {
            screen
                .lines()
                .any(|l| l.trim_end() == "typed-through-the-console")
                .then_some(())
        }
    })
    .await;

    // Detach (the agents' tmux prefix, then d): the console comes back
    // whole, and says where from.
    c.keys(&["C-b", "d"]);
    let screen = c
        .wait_for("the console to come back", |s| {
            frame_intact(s) && s.contains("back from att.s1") && s.contains("Preview of att.s1")
        })
        .await;
    assert!(screen.contains(" Panes of att "), "{screen}");
    c.wait_for("the preview of what att.s1 printed", |s| {
        s.lines()
            .any(|l| l.starts_with("│typed-through-the-console "))
    })
    .await;
    assert_eq!(clients(), "", "the nested client is gone");

    // The console reads its keys again: `/` goes to a name.
    c.keys(&["/"]);
    c.wait_for("the go-to prompt", |s| {
        s.lines().last().is_some_and(|l| l.starts_with(" / "))
    })
    .await;
    c.text("att.m1");
    c.keys(&["Enter"]);
    c.wait_for("att.m1 to be selected", |s| {
        s.contains("Preview of att.m1") && s.contains("att.m1: pane att.m1 (matched by name)")
    })
    .await;
    // A layout by its full id: no pane or agent has it.
    let layout_id = line_with(&screen, " Panes of att (")
        .and_then(|l| l.split(" Panes of att (").nth(1))
        .and_then(|rest| rest.split(')').next())
        .expect("the layout id in the panes' title")
        .to_string();
    c.keys(&["/"]);
    c.text(&layout_id);
    c.keys(&["Enter"]);
    c.wait_for("the layout to be selected by its id", |s| {
        s.contains(&format!("{layout_id}: layout att (matched by id)"))
    })
    .await;
    c.keys(&["/"]);
    c.text("no-such-name");
    c.keys(&["Enter"]);
    c.wait_for("the closed code of an unknown name", |s| {
        line_with(s, "name_not_found").is_some_and(|l| l.contains("no-such-name"))
    })
    .await;
    c.keys(&["q"]);
}

#[tokio::test]
async fn inside_the_agents_server_enter_switches_the_client() {
    let c = Console::start_in_the_agents_server();
    let s1 = create_layout(&c, "sw").await;
    let ui = c.ui_socket();
    // An operator's client on the console's session: a tmux client of the
    // same server, running in a pane of another session (TMUX unset, as
    // in a terminal of its own).
    tmux_ok(tmux_on(
        &ui,
        &[
            "new-session",
            "-d",
            "-s",
            "viewer",
            "-x",
            "120",
            "-y",
            "40",
            "env",
            "-u",
            "TMUX",
            "tmux",
            "-S",
            ui.to_str().unwrap(),
            "attach-session",
            "-t",
            "=ui",
        ],
    ));
    let clients = || clients_on(&ui, "#{session_name} #{pane_id}").join("\n");
    eventually("the operator's client on the console", || {
        let on = clients();
        async move { on.starts_with("ui ").then_some(()) }
    })
    .await;

    c.keys(&["Tab", "Down"]);
    c.wait_for("sw.s1 to be selected", |s| s.contains("Preview of sw.s1"))
        .await;
    c.keys(&["Enter"]);
    let want = format!("sw {s1}");
    eventually("the client to show sw.s1", || {
        let on = clients();
        let want = want.clone();
        async move { (on == want).then_some(()) }
    })
    .await;
    // The console went on running in its own window, and says how to
    // come back.
    let screen = c
        .wait_for("the switch on the status line", |s| {
            s.contains("switched this tmux client to sw.s1; prefix L (switch-client -l) comes back")
        })
        .await;
    assert!(frame_intact(&screen), "{screen}");
    let tty = tmux_ok(tmux_on(&ui, &["list-clients", "-F", "#{client_tty}"]));
    tmux_ok(tmux_on(&ui, &["switch-client", "-c", tty.trim(), "-l"]));
    assert!(clients().starts_with("ui "), "{}", clients());
    c.keys(&["q"]);
}
