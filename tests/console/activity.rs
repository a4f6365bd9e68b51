//! The console shows each agent's activity, lists an agent that waits for
//! input under "needs you", rings the bell, runs notify-send and previews
//! the pane's output without its escape sequences.

use super::support::*;
use super::{Console, frame_intact, line_with};

/// The pane list's line of `label` (not the needs-you group's).
fn pane_row<'a>(screen: &'a str, label: &str) -> Option<&'a str> {
    screen.lines().find(|l| {
        l.contains(&format!("{label} ")) && (l.contains(" master ") || l.contains(" slave "))
    })
}

#[tokio::test]
async fn the_console_shows_activity_and_who_needs_you() {
    let c = Console::start_with("notify: bell\ndesktop_notify: true\n");
    c.wait_for("the console to connect", |s| s.contains("connected"))
        .await;
    c.keys(&["c"]);
    c.wait_for("the create dialog", |s| s.contains("Create layout"))
        .await;
    c.text("act");
    c.keys(&["Enter"]);
    // Every pane gets its agent's activity: the shell's `$ ` prompt is idle.
    let screen = c
        .wait_for("the shells to be idle", |s| {
            ["act.m1", "act.s1", "act.s2"].iter().all(|p| {
                pane_row(s, p).is_some_and(|l| l.contains(" ready ") && l.contains(" idle "))
            })
        })
        .await;
    assert!(
        line_with(&screen, "LABEL ").is_some_and(|l| l.contains(" ACTIVITY ")),
        "{screen}"
    );
    assert!(
        screen.contains("needs you: no agent is waiting for input"),
        "{screen}"
    );
    let bell = || {
        tmux_ok(tmux_on(
            &c.ui_socket(),
            &["display-message", "-p", "-t", "ui", "#{window_bell_flag}"],
        ))
        .trim()
        .to_string()
    };
    assert_eq!(bell(), "0", "no bell before anyone waits");

    // The second pane's program paints in colour, sets a window title,
    // clears the screen, moves the cursor about, prints a hyperlink, then
    // asks a y/n question and waits. A script, so the pane shows only its
    // name where the command is echoed.
    let script = c.dir.path().join("ask.sh");
    std::fs::write(
        &script,
        "printf '\\033]0;pwned-title\\007\\033[2J\\033[H\\033[31mred-text\\033[0m\\tafter-tab\\n'\n\
         printf '\\033[30;100H\\033[12A\\033[3D\\033]8;;https://pwned.example/\\007link-text\\033]8;;\\007\\n'\n\
         printf 'Proceed? [y/N] '\nread answer\necho \"answered $answer\"\n",
    )
    .unwrap();
    let panes = tmux_ok(tmux_on(
        &c.local_socket(),
        &[
            "list-panes",
            "-s",
            "-t",
            "=act",
            "-F",
            "#{pane_index} #{pane_id}",
        ],
    ));
    let s1 = panes
        .lines()
        .find_map(|l| l.strip_prefix("1 "))
        .expect("pane 1")
        .to_string();
    tmux_ok(tmux_on(
        &c.local_socket(),
        &[
            "send-keys",
            "-t",
            &s1,
            "-l",
            &format!("sh {}", script.display()),
        ],
    ));
    tmux_ok(tmux_on(
        &c.local_socket(),
        &["send-keys", "-t", &s1, "Enter"],
    ));

    let screen = c
        .wait_for("act.s1 under needs you", |s| {
            s.contains("Needs you (1)")
                && line_with(s, "in act ").is_some_and(|l| {
                    l.contains("act.s1") && l.contains("waiting") && l.contains("Proceed? [y/N]")
                })
                && pane_row(s, "act.s1").is_some_and(|l| l.contains(" waiting "))
        })
        .await;
    assert!(
        line_with(&screen, " 1m+2s ").is_some_and(|l| l.contains("1 waiting")),
        "the layout row counts it: {screen}"
    );
    // The bell rang in the console's window (tmux flags a detached one).
    eventually("the bell", || {
        let b = bell();
        async move { (b == "1").then_some(()) }
    })
    .await;
    // notify-send ran with an argument vector.
    let args_file = c.notify_send_args();
    let args = eventually("notify-send to run", || {
        let a = std::fs::read_to_string(&args_file).ok();
        async move { a }
    })
    .await;
    assert_eq!(
        args,
        "--app-name=AgentTower\n--\nAgentTower: act.s1 needs you\nProceed? [y/N]\n"
    );

    // `w` selects it; the preview shows its output, escape sequences gone.
    c.keys(&["w"]);
    let screen = c
        .wait_for("the preview of act.s1", |s| {
            s.contains("Preview of act.s1")
                && s.contains("Proceed? [y/N]")
                && s.contains("red-text")
                && s.contains("│link-text ")
        })
        .await;
    assert!(!screen.contains("pwned.example"), "{screen}");
    assert!(
        line_with(&screen, "red-text").is_some_and(|l| l.contains("red-text        after-tab")),
        "the tab is expanded: {screen}"
    );
    assert!(!screen.contains("pwned-title"), "{screen}");
    // The console's frame is intact: its title bar is still on top, every
    // panel in its box, and the pane's title escape never reached the
    // console's terminal.
    assert!(frame_intact(&screen), "{screen}");
    let title = tmux_ok(tmux_on(
        &c.ui_socket(),
        &["display-message", "-p", "-t", "ui", "#{pane_title}"],
    ));
    assert!(!title.contains("pwned"), "{title}");

    // Answering leaves the group empty again.
    tmux_ok(tmux_on(
        &c.local_socket(),
        &["send-keys", "-t", &s1, "-l", "y"],
    ));
    tmux_ok(tmux_on(
        &c.local_socket(),
        &["send-keys", "-t", &s1, "Enter"],
    ));
    c.wait_for("nobody waiting", |s| {
        s.contains("needs you: no agent is waiting for input")
            && pane_row(s, "act.s1").is_some_and(|l| !l.contains(" waiting "))
            && s.contains("answered y")
    })
    .await;
    c.keys(&["q"]);
}
