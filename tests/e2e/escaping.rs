//! Operator text and paths reach tmux literally (issue 12): `#` in a log
//! path, a working directory, an env value or typed input is never
//! format-expanded, and `#(…)` never runs; log files are only ever regular
//! files of the daemon's own; templates up to the catalog's limit create.

use std::path::Path;

use agenttower::pb;

use crate::support::*;

fn only_pane(l: &pb::GetLayoutResponse) -> &pb::Pane {
    &l.layout.as_ref().unwrap().panes[0]
}

async fn log_contains(path: &Path, text: &str) {
    eventually(&format!("{} to contain {text:?}", path.display()), || {
        let found = std::fs::read_to_string(path).is_ok_and(|s| s.contains(text));
        async move { found.then_some(()) }
    })
    .await;
}

/// A one-pane template running `profile`.
fn one_pane(profile: &str) -> String {
    format!(
        "name: one\npanes:\n  - {{role: m, capability: c, label_pattern: '{{session}}.m1', \
         default_launch_command_ref: {profile}}}\n"
    )
}

#[tokio::test]
async fn hashes_in_paths_env_and_input_reach_tmux_literally() {
    let base = tempfile::tempdir().unwrap();
    // Each would change under tmux's format expander: `#{…}` expands,
    // `#(…)` runs a command, `##` becomes `#`.
    let hashy = "#{session_name}#(echo)##";
    let logs = base.path().join(format!("logs{hashy}"));
    let work = base.path().join(format!("work{hashy}"));
    std::fs::create_dir_all(&work).unwrap();
    let profile = format!(
        "name: hashy\ncommand: [sh, -c, 'echo \"pwd=$(pwd) env=$HASHY\"; exec sleep 3600']\n\
         env: {{HASHY: '{hashy}'}}\nworking_dir: '{}'\n",
        work.display()
    );
    let d = Daemon::start_with(
        Setup::default()
            .env("AGENTTOWER_LOG_DIR", &logs.display().to_string())
            .profile("hashy", &profile)
            .template("one", &one_pane("hashy")),
    )
    .await;
    let l = d.create_settled("one", "hs").await;
    let pane = only_pane(&l);
    assert_eq!(pane.state(), pb::PaneState::Ready, "{pane:?}");
    // pipe-pane's command: the log is where it was announced.
    let log = logs.join("local").join("hs.m1.log");
    assert_eq!(pane.log_path, log.display().to_string());
    // -c and -e: the pane started in the literal directory with the
    // literal value.
    log_contains(&log, &format!("pwd={} env={hashy}", work.display())).await;
    let start = tmux_ok(d.tmux(&[
        "display-message",
        "-p",
        "-t",
        &pane.tmux_pane_id,
        "#{pane_current_path}",
    ]));
    assert_eq!(start.trim(), work.display().to_string());

    // send-keys through the ownership guard: quotes, `;`, `#`, `$`, `~`,
    // braces and backslashes arrive byte for byte.
    let typed = r#"it's "q" ; #{session_name} #(echo) $HOME ~ \ {x} %1"#;
    d.client()
        .await
        .send_input(pb::SendInputRequest {
            agent_id: pane.agent_id.clone(),
            text: typed.into(),
            no_enter: true,
        })
        .await
        .expect("send input");
    log_contains(&log, typed).await;
    assert!(
        !base.path().join("logs").exists() && std::fs::read_dir(base.path()).unwrap().count() == 2,
        "something was written beside the literal paths"
    );
}

#[tokio::test]
async fn a_symlink_or_fifo_at_a_log_path_is_refused_and_nothing_outside_is_written() {
    let d = Daemon::start_with(Setup::default().containers(&["c2"])).await;
    let outside = d.dir.path().join("escape.txt");
    let local = d.log_dir().join("local");
    std::fs::create_dir_all(&local).unwrap();
    std::os::unix::fs::symlink(&outside, local.join("sym.m1.log")).unwrap();
    nix::unistd::mkfifo(
        &local.join("sym.s1.log"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let l = d.create_settled("1m+2s", "sym").await;
    let panes = &l.layout.as_ref().unwrap().panes;
    let by = |suffix: &str| panes.iter().find(|p| p.label.ends_with(suffix)).unwrap();
    for (suffix, found) in [(".m1", "symbolic link"), (".s1", "FIFO")] {
        let p = by(suffix);
        assert_eq!(p.state(), pb::PaneState::Degraded, "{p:?}");
        assert_eq!(p.failed_stage(), pb::FailedStage::LogAttach);
        assert!(p.failure_reason.contains(found), "{}", p.failure_reason);
    }
    assert_eq!(by(".s2").state(), pb::PaneState::Ready);
    assert!(!outside.exists(), "the daemon followed the symlink");

    // A container's whole log directory symlinked elsewhere is refused too.
    let elsewhere = d.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, d.log_dir().join("c2")).unwrap();
    let l = d
        .create_and_settle(pb::CreateLayoutRequest {
            container_id: "c2".into(),
            ..create("1m+2s", "redir")
        })
        .await;
    for p in &l.layout.as_ref().unwrap().panes {
        assert_eq!(p.failed_stage(), pb::FailedStage::LogAttach, "{p:?}");
        assert!(
            p.failure_reason.contains("symbolic link"),
            "{}",
            p.failure_reason
        );
    }
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[tokio::test]
async fn a_template_of_the_catalogs_largest_size_is_created() {
    let mut yaml = String::from("name: wide\npanes:\n");
    for _ in 0..64 {
        yaml.push_str(
            "  - {role: w, capability: c, label_pattern: '{session}.w{ordinal}', \
             default_launch_command_ref: talker}\n",
        );
    }
    let d = Daemon::start_with(Setup::default().template("wide", &yaml)).await;
    let l = d.create_settled("wide", "wide").await;
    let layout = l.layout.unwrap();
    assert_eq!(
        layout.state(),
        pb::LayoutState::Ready,
        "{:?}",
        layout
            .panes
            .iter()
            .find(|p| p.state() != pb::PaneState::Ready)
    );
    assert_eq!(layout.ready_pane_count, 64);
    let listed = tmux_ok(d.tmux(&["list-panes", "-s", "-t", "=wide:", "-F", "#{pane_title}"]));
    assert_eq!(listed.lines().count(), 64);
    assert!(listed.lines().all(|t| t.starts_with("wide.w")), "{listed}");
}
