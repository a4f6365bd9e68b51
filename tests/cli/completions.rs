//! Completion scripts and man pages generated from the CLI definition
//! (issue 15): the shells parse the scripts, bash completes live names from
//! the daemon, and `man --dir` writes a roff page per command.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_agenttower");

fn completions(shell: &str) -> String {
    let out = Command::new(BIN)
        .args(["completions", shell])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `shell -n` on `script` (parse only, run nothing).
fn parses(shell: &str, script: &str, dir: &Path) -> Output {
    let file = dir.join(format!("agenttower.{shell}"));
    std::fs::write(&file, script).unwrap();
    Command::new(shell).arg("-n").arg(&file).output().unwrap()
}

#[test]
fn the_completion_scripts_parse() {
    let dir = tempfile::tempdir().unwrap();
    let bash = completions("bash");
    assert!(
        bash.contains("complete -F _agenttower_live_names"),
        "{bash}"
    );
    let out = parses("bash", &bash, dir.path());
    assert!(out.status.success(), "bash -n: {out:?}");
    // zsh only where it is installed.
    let zsh = completions("zsh");
    assert!(zsh.starts_with("#compdef agenttower"), "{zsh}");
    if installed("zsh") {
        let out = parses("zsh", &zsh, dir.path());
        assert!(out.status.success(), "zsh -n: {out:?}");
    }
    let fish = completions("fish");
    assert!(fish.contains("complete -c agenttower"), "{fish}");
    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_writes_a_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man1");
    let out = Command::new(BIN)
        .args(["man", "--dir"])
        .arg(&man)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mut pages: Vec<String> = std::fs::read_dir(&man)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    for page in [
        "agenttower.1",
        "agenttower-layout-get.1",
        "agenttower-pane-recreate.1",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page} in {pages:?}");
    }
    assert!(!pages.iter().any(|p| p.contains("__names")), "{pages:?}");
    for page in &pages {
        let text = std::fs::read_to_string(man.join(page)).unwrap();
        // The title request opens the page, after roff's two-line string
        // definition for apostrophes (`.ie`/`.el`).
        let first = text
            .lines()
            .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
            .unwrap();
        let name = page.trim_end_matches(".1");
        assert!(
            first.starts_with(&format!(".TH {name} 1")),
            "{page}: {first}"
        );
    }
}

#[tokio::test]
async fn bash_completes_live_names_from_the_daemon() {
    let d = Daemon::start().await;
    d.create_settled("1m+2s", "live").await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("agenttower.bash");
    std::fs::write(&script, completions("bash")).unwrap();
    // What bash offers for `agenttower <words> <cur>` at TAB: it calls the
    // function with the command, the current word and the previous one.
    let offered = |words: &[&str], cur: &str| -> Vec<String> {
        let line = format!(
            "source {}; COMP_WORDS=({BIN} {} {cur:?}); COMP_CWORD={}; \
             _agenttower_live_names \"${{COMP_WORDS[0]}}\" {cur:?} \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words.join(" "),
            words.len() + 1
        );
        let out = Command::new("bash")
            .args(["-c", &line])
            .envs(d.env())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        v.sort();
        v
    };
    assert_eq!(offered(&["pane", "get"], "live.s"), ["live.s1", "live.s2"]);
    assert_eq!(offered(&["layout", "remove"], ""), ["live"]);
    assert_eq!(
        offered(&["events", "list", "--pane"], "live.m"),
        ["live.m1"]
    );
    assert_eq!(offered(&["send"], "live.m"), ["live.m1"]);
    assert_eq!(
        offered(&["route", "create", "live.m1"], "live.s2"),
        ["live.s2"]
    );
    // Anywhere else, clap's own completion.
    assert_eq!(offered(&["layout"], "ge"), ["get"]);
}
