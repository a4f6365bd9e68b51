//! The Python client against the real daemon: the stubs are generated from
//! proto/ by clients/python/generate.py, the package is installed into a
//! virtualenv under Cargo's target dir, and the example scripts run as a
//! script author would run them.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::*;

/// The venv's python, prepared once per test process: the tests of this
/// file run in parallel, and a reinstall under one of them would pull the
/// package from under the other's running script.
fn python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(install_python).clone()
}

/// Creates (once, under a lock shared by parallel test processes) a venv
/// with grpcio-tools and grpcio-reflection, regenerates the stubs and
/// installs the package. Returns the venv's python.
fn install_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-client");
    std::fs::create_dir_all(venv.parent().unwrap()).unwrap();
    let lock = std::fs::File::create(venv.with_extension("lock")).unwrap();
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("lock the venv");
    let py = venv.join("bin/python");
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients/python");
    if !venv.join(".deps-installed").exists() {
        run_ok(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        run_ok(Command::new(&py).args([
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "grpcio-tools>=1.62",
            "grpcio-reflection>=1.62",
            "googleapis-common-protos>=1.63",
        ]));
        std::fs::write(venv.join(".deps-installed"), "").unwrap();
    }
    // Always from the current proto: the stubs are build output.
    run_ok(Command::new(&py).arg(client.join("generate.py")));
    run_ok(
        Command::new(&py)
            .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
            .args(["--no-deps", "--no-build-isolation", "--force-reinstall"])
            .arg(&client),
    );
    py
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn script(py: &Path, d: &Daemon, name: &str, args: &[&str]) -> Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("clients/python/examples")
        .join(name);
    // Run from a neutral directory so the installed package is what imports.
    Command::new(py)
        .arg(path)
        .args(args)
        .envs(d.env())
        .current_dir(d.dir.path())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn python_examples_create_watch_list_remove_and_recreate() {
    let py = python();
    let d = Daemon::start().await;

    let out = script(&py, &d, "create_and_wait.py", &["py"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    // Short names through agenttower_client.short_name, times as RFC 3339.
    assert!(stdout.contains("with 3 panes"), "layout.panes: {stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("#") && l.ends_with("Z managed_layout_created")),
        "{stdout}"
    );
    assert!(!stdout.contains("EVENT_TYPE_"), "{stdout}");
    assert!(
        stdout.contains("managed_pane_state_changed py.s2 ready"),
        "seen through the typed payload: {stdout}"
    );
    assert!(
        stdout.contains("managed_layout_state_changed ready (3/3 ready)"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("settled ready"), "{stdout}");

    let out = script(&py, &d, "list_layouts.py", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layout = &listed["layouts"][0];
    assert_eq!(layout["tmux_session_name"], "py");
    assert_eq!(layout["state"], "LAYOUT_STATE_READY");
    assert_eq!(layout["ready_pane_count"], 3);
    // A Timestamp in proto3 JSON is RFC 3339 text.
    let created = layout["create_time"].as_str().unwrap();
    assert!(
        agenttower::time::from_rfc3339(created).is_some(),
        "{created}"
    );
    // ListLayouts leaves the panes out; --panes reads them with GetLayout.
    assert!(layout.get("panes").is_none(), "{layout}");
    let out = script(&py, &d, "list_layouts.py", &["--panes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let panes = listed["layouts"][0]["panes"].as_array().unwrap();
    assert_eq!(panes.len(), 3, "{listed}");
    assert!(
        panes.iter().all(|p| p["state"] == "PANE_STATE_READY"),
        "{listed}"
    );

    let pane = d
        .settled(layout["layout_id"].as_str().unwrap())
        .await
        .layout
        .unwrap()
        .panes
        .into_iter()
        .find(|p| p.label == "py.s1")
        .unwrap();
    let out = script(&py, &d, "remove_recreate.py", &[&pane.pane_id]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("removed py.s1 (removed)"), "{stdout}");
    assert!(stdout.contains("chain depth 1"), "{stdout}");
    assert!(stdout.trim_end().ends_with("successor ready"), "{stdout}");

    // A bogus id: the closed code and its details, decoded from ErrorInfo.
    let out = script(&py, &d, "remove_recreate.py", &["bogus"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}{stderr}", text(&out.stdout));
    assert!(
        stderr.contains(r#"error: managed_pane_not_found {"pane_id": "bogus"}"#),
        "{stderr}"
    );
}

#[tokio::test]
async fn reflection_lists_the_services_and_invokes_a_method_without_protos() {
    let py = python();
    let d = Daemon::start().await;
    let out = script(&py, &d, "reflect.py", &[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    for service in [
        "agenttower.v1.AppManagedSessionsService",
        "agenttower.v1.ManagedSessionsService",
        "grpc.health.v1.Health",
    ] {
        assert!(stdout.lines().any(|l| l == service), "{service}: {stdout}");
    }
    assert!(
        stdout.contains(
            "WatchEvents(agenttower.v1.WatchEventsRequest) returns (stream agenttower.v1.WatchEventsResponse)"
        ),
        "{stdout}"
    );
    let out = script(
        &py,
        &d,
        "reflect.py",
        &["agenttower.v1.ManagedSessionsService/GetVersion", "{}"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["api_version"], "agenttower.v1");
    assert_eq!(v["daemon_version"], env!("CARGO_PKG_VERSION"));
}
