//! Test harness: starts the real `agenttowerd` on a temp socket, temp
//! database and its own tmux server, and talks to it through the generated
//! client. Every daemon, tmux server and directory belongs to one test, so
//! tests run in parallel without colliding.

#![allow(dead_code)]

/// The daemon's own tmux session (docs/architecture.md, "The control
/// connection"): infrastructure in every server it talks to, never a layout.
pub const CONTROL_SESSION: &str = "agenttower+control";
/// A `list-panes` / `list-sessions` filter (`-f`) leaving it out.
pub const NOT_CONTROL: &str = "#{!=:#{session_name},agenttower+control}";

pub mod docker;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use agenttower::client::{ApiError, ManagedSessionsServiceClient, api_error};
use agenttower::pb;

/// How long a poll waits before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The daemon binary Cargo built for this test run.
pub fn daemon_bin() -> PathBuf {
    if let Some(p) = option_env!("CARGO_BIN_EXE_agenttowerd") {
        return PathBuf::from(p);
    }
    // Tests of the root crate: the workspace build puts it beside deps/.
    let exe = std::env::current_exe().expect("test exe");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("agenttowerd");
    assert!(
        bin.exists(),
        "{} missing: run the workspace tests (cargo nextest run --workspace)",
        bin.display()
    );
    bin
}

/// A running daemon and everything it owns.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    extra_env: Vec<(String, String)>,
}

/// Settings a test may change before the daemon starts.
#[derive(Default, Clone)]
pub struct Setup {
    /// Extra lines of config.yaml.
    pub config: String,
    /// Files under the config dir: (relative path, contents).
    pub files: Vec<(String, String)>,
    /// Extra environment for the daemon.
    pub env: Vec<(String, String)>,
    /// Extra local containers, each on its own tmux server in the temp dir.
    pub containers: Vec<String>,
}

impl Setup {
    pub fn config(mut self, yaml: &str) -> Self {
        self.config.push_str(yaml);
        self.config.push('\n');
        self
    }
    pub fn profile(mut self, name: &str, yaml: &str) -> Self {
        self.files
            .push((format!("launch_commands/{name}.yaml"), yaml.to_string()));
        self
    }
    pub fn template(mut self, name: &str, yaml: &str) -> Self {
        self.files
            .push((format!("managed_templates/{name}.yaml"), yaml.to_string()));
        self
    }
    pub fn containers(mut self, names: &[&str]) -> Self {
        self.containers.extend(names.iter().map(|n| n.to_string()));
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
}

/// A launch profile that prints a line and stays alive.
pub const TALKER: &str =
    "name: talker\ncommand: [sh, -c, 'echo talker-started; exec sleep 3600']\n";

impl Daemon {
    /// A daemon with a short settle window and the `talker` profile.
    pub async fn start() -> Daemon {
        Daemon::start_with(Setup::default()).await
    }

    pub async fn start_with(setup: Setup) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("at")
            .tempdir()
            .expect("tempdir");
        let cfg = dir.path().join("cfg");
        std::fs::create_dir_all(cfg.join("launch_commands")).unwrap();
        std::fs::create_dir_all(cfg.join("managed_templates")).unwrap();
        std::fs::write(cfg.join("launch_commands/talker.yaml"), TALKER).unwrap();
        let mut config = setup.config.clone();
        if !config.contains("docker:") {
            // Only Docker tests look at Docker, each with its own label.
            config.push_str("docker:\n  scan_at_start: false\n");
        }
        if !config.contains("settle_window_ms") {
            config.push_str("settle_window_ms: 300\n");
        }
        if !setup.containers.is_empty() {
            config.push_str("local_containers:\n");
            for n in &setup.containers {
                let sock = dir.path().join(format!("tmux-{n}.sock"));
                config.push_str(&format!(
                    "  - {{name: {n}, tmux_socket: {}}}\n",
                    sock.display()
                ));
            }
        }
        std::fs::write(cfg.join("config.yaml"), config).unwrap();
        for (path, text) in &setup.files {
            std::fs::write(cfg.join(path), text).unwrap();
        }
        let mut d = Daemon {
            dir,
            child: None,
            extra_env: setup.env,
        };
        d.spawn_and_wait().await;
        d
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }
    pub fn socket(&self) -> PathBuf {
        // Its own directory, as a bench container mounts it (socket + lock).
        self.dir.path().join("run").join("agenttowerd.sock")
    }
    pub fn db(&self) -> PathBuf {
        self.state_dir().join("agenttower.sqlite3")
    }
    pub fn tmux_socket(&self) -> PathBuf {
        self.dir.path().join("tmux.sock")
    }
    /// The tmux socket of an extra local container named `name`.
    pub fn container_socket(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("tmux-{name}.sock"))
    }
    pub fn events_log(&self) -> PathBuf {
        self.state_dir().join("events.jsonl")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.state_dir().join("logs")
    }

    /// The environment that points a daemon or the CLI at this test's files.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "AGENTTOWER_STATE_DIR".to_string(),
                self.state_dir().display().to_string(),
            ),
            (
                "AGENTTOWER_CONFIG_DIR".to_string(),
                self.dir.path().join("cfg").display().to_string(),
            ),
            (
                "AGENTTOWER_TMUX_SOCKET".to_string(),
                self.tmux_socket().display().to_string(),
            ),
            (
                "AGENTTOWER_SOCKET".to_string(),
                self.socket().display().to_string(),
            ),
            // Login shells in panes must not depend on the machine's rc
            // files (a slow ~/.bashrc would stall every `shell` pane).
            ("HOME".to_string(), self.dir.path().display().to_string()),
            ("SHELL".to_string(), "/bin/sh".to_string()),
        ];
        env.extend(self.extra_env.iter().cloned());
        env
    }

    /// Starts the daemon process without waiting for it.
    pub fn spawn(&mut self) -> &mut Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        let child = Command::new(daemon_bin())
            .envs(self.env())
            .env("AGENTTOWER_LOG", "info,agenttower_server=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn agenttowerd");
        self.child = Some(child);
        self.child.as_mut().unwrap()
    }

    async fn spawn_and_wait(&mut self) {
        self.spawn();
        self.wait_ready().await;
    }

    /// Polls until the socket answers, or fails with the daemon log.
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(ch) = agenttower::client::connect(self.socket()).await {
                let mut c = ManagedSessionsServiceClient::new(ch);
                if c.list_containers(pb::ListContainersRequest::default())
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("agenttowerd exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "daemon not ready:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The daemon's own log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    pub async fn client(&self) -> ManagedSessionsServiceClient {
        ManagedSessionsServiceClient::new(
            agenttower::client::connect(self.socket())
                .await
                .expect("connect"),
        )
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon running").id()
    }

    /// The daemon's resident memory in KiB (VmRSS).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Opens a WatchEvents stream.
    pub async fn watch(
        &self,
        req: pb::WatchEventsRequest,
    ) -> tonic::Streaming<pb::WatchEventsResponse> {
        self.client()
            .await
            .watch_events(req)
            .await
            .expect("watch")
            .into_inner()
    }

    /// SIGKILL, no clean-up: a crash.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for exit; returns the exit status. Waits without
    /// blocking the test's runtime, so its client connections can close.
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon running");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        eventually("the daemon to exit", || {
            let status = c.try_wait().unwrap();
            async move { status }
        })
        .await
    }

    /// Starts the daemon again on the same files.
    pub async fn restart(&mut self) {
        self.spawn_and_wait().await;
    }

    /// Runs `tmux -S <this test's socket> args`.
    pub fn tmux(&self, args: &[&str]) -> Output {
        tmux_on(&self.tmux_socket(), args)
    }

    /// `%N` of every pane of this test's tmux server but the daemon's own
    /// control session.
    pub fn tmux_panes(&self) -> Vec<String> {
        let out = self.tmux(&["list-panes", "-a", "-f", NOT_CONTROL, "-F", "#{pane_id}"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect()
    }

    /// Starts tmux session `session` of the operator's own (not the
    /// daemon's) and adopts its pane as `label`; the pane id and the agent.
    pub async fn adopt_own_pane(&self, session: &str, label: &str) -> (String, pb::Agent) {
        let pane =
            tmux_ok(self.tmux(&["new-session", "-d", "-s", session, "-P", "-F", "#{pane_id}"]))
                .trim()
                .to_string();
        let agent = self
            .client()
            .await
            .adopt_pane(pb::AdoptPaneRequest {
                container_id: "local".into(),
                tmux_pane_id: pane.clone(),
                role: "operator".into(),
                capability: "shell".into(),
                label: label.into(),
            })
            .await
            .expect("adopt")
            .into_inner()
            .agent
            .expect("agent");
        (pane, agent)
    }

    /// GetLayout with every pane, removed ones included.
    pub async fn layout(&self, layout_id: &str) -> pb::GetLayoutResponse {
        self.client()
            .await
            .get_layout(pb::GetLayoutRequest {
                layout_id: layout_id.into(),
                include_terminal_panes: true,
            })
            .await
            .expect("get layout")
            .into_inner()
    }

    /// The container registry (ListContainers).
    pub async fn containers(&self) -> Vec<pb::Container> {
        self.client()
            .await
            .list_containers(pb::ListContainersRequest::default())
            .await
            .expect("list containers")
            .into_inner()
            .containers
    }

    /// Polls until every pane of the layout is `failed` at
    /// `recovery_reattach` (the health watcher saw its tmux pane go).
    pub async fn until_panes_gone(&self, layout_id: &str) {
        eventually("the health watcher to fail the layout's panes", || async {
            let l = self.layout(layout_id).await;
            l.layout
                .unwrap()
                .panes
                .iter()
                .all(|p| {
                    p.state() == pb::PaneState::Failed
                        && p.failed_stage() == pb::FailedStage::RecoveryReattach
                })
                .then_some(())
        })
        .await
    }

    /// Polls GetLayout until the layout leaves `creating`.
    pub async fn settled(&self, layout_id: &str) -> pb::GetLayoutResponse {
        let mut c = self.client().await;
        let deadline = Instant::now() + DEADLINE;
        loop {
            let r = c
                .get_layout(pb::GetLayoutRequest {
                    layout_id: layout_id.into(),
                    include_terminal_panes: true,
                })
                .await
                .expect("get layout")
                .into_inner();
            if r.layout.as_ref().unwrap().state() != pb::LayoutState::Creating {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "layout {layout_id} never settled:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Creates a layout and waits until it settles.
    pub async fn create_and_settle(&self, req: pb::CreateLayoutRequest) -> pb::GetLayoutResponse {
        let r = self
            .client()
            .await
            .create_layout(req)
            .await
            .expect("create")
            .into_inner();
        self.settled(&r.layout_id()).await
    }

    /// Creates a layout of `template` on `local` and waits until it settles.
    pub async fn create_settled(&self, template: &str, session: &str) -> pb::GetLayoutResponse {
        self.create_and_settle(create(template, session)).await
    }

    /// One pane through GetPane.
    pub async fn pane(&self, id: &str) -> pb::Pane {
        self.client()
            .await
            .get_pane(pb::GetPaneRequest {
                pane_id: id.into(),
                ..Default::default()
            })
            .await
            .expect("get pane")
            .into_inner()
            .pane
            .expect("pane")
    }

    /// Every event in the table, oldest first.
    /// Every event but `agent_activity_changed`, which activity detection
    /// writes on its own schedule (what exact event counts compare).
    pub async fn lifecycle_events(&self) -> Vec<pb::LifecycleEvent> {
        let mut all = self.all_events().await;
        all.retain(|e| e.event_type() != pb::EventType::AgentActivityChanged);
        all
    }

    pub async fn all_events(&self) -> Vec<pb::LifecycleEvent> {
        let mut c = self.client().await;
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let r = c
                .list_events(pb::ListEventsRequest {
                    page_size: 200,
                    page_token: token,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            out.extend(r.events);
            if r.next_page_token.is_empty() {
                return out;
            }
            token = r.next_page_token;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
        let _ = tmux_on(&self.tmux_socket(), &["kill-server"]);
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with("tmux-") && name.ends_with(".sock") {
                    let _ = tmux_on(&e.path(), &["kill-server"]);
                }
            }
        }
    }
}

/// `format` of each client of the tmux server at `socket` but control-mode
/// ones (the daemon's own), one line each.
pub fn clients_on(socket: &Path, format: &str) -> Vec<String> {
    let out = tmux_on(
        socket,
        &[
            "list-clients",
            "-F",
            &format!("#{{client_control_mode}}\t{format}"),
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("0\t"))
        .map(String::from)
        .collect()
}

/// Runs tmux on an explicit socket.
pub fn tmux_on(socket: &Path, args: &[&str]) -> Output {
    Command::new("tmux")
        .arg("-S")
        .arg(socket)
        .args(args)
        .output()
        .expect("run tmux")
}

/// stdout of a tmux command that must succeed.
pub fn tmux_ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "tmux failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A CreateLayout request on `local`.
pub fn create(template: &str, session: &str) -> pb::CreateLayoutRequest {
    pb::CreateLayoutRequest {
        container_id: "local".into(),
        template_name: template.into(),
        tmux_session_name: session.into(),
        ..Default::default()
    }
}

/// The closed-set error of a failed call.
pub fn err<T: std::fmt::Debug>(r: Result<T, tonic::Status>) -> (tonic::Code, ApiError) {
    let status = r.expect_err("call should fail");
    let api = api_error(&status).unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    (status.code(), api)
}

/// Polls `f` until it returns Some, or fails after the deadline.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The next event of a watch stream, failing the test after the deadline.
pub async fn next_event(s: &mut tonic::Streaming<pb::WatchEventsResponse>) -> pb::LifecycleEvent {
    let item = tokio::time::timeout(DEADLINE, s.message())
        .await
        .expect("an event before the deadline")
        .expect("stream ok")
        .expect("stream open");
    match item.item {
        Some(pb::watch_events_response::Item::Event(e)) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Reads a watch stream until `done` holds for an event; returns them all.
pub async fn events_until(
    s: &mut tonic::Streaming<pb::WatchEventsResponse>,
    done: impl Fn(&pb::LifecycleEvent) -> bool,
) -> Vec<pb::LifecycleEvent> {
    let mut out = Vec::new();
    loop {
        let e = next_event(s).await;
        let stop = done(&e);
        out.push(e);
        if stop {
            return out;
        }
    }
}

/// Whether `e` says layout `layout_id` became `state`.
pub fn layout_became(e: &pb::LifecycleEvent, layout_id: &str, state: &str) -> bool {
    use agenttower::names::ShortName as _;
    matches!(
        &e.payload,
        Some(pb::lifecycle_event::Payload::ManagedLayoutStateChanged(p))
            if e.layout_id == layout_id && p.to_state().short_name() == state
    )
}

/// The sequences of `events`.
pub fn sequences(events: &[pb::LifecycleEvent]) -> Vec<u64> {
    events.iter().map(|e| e.sequence).collect()
}

/// The event's payload member (named like its type) as proto3 JSON.
pub fn payload(e: &pb::LifecycleEvent) -> serde_json::Value {
    use agenttower::names::ShortName as _;
    let mut v = serde_json::to_value(e).expect("an event encodes");
    v[e.event_type().short_name()].take()
}

impl Daemon {
    /// Starts the daemon again on the same files with its umask set to
    /// `umask` (the test process's own umask is left alone).
    pub async fn restart_with_umask(&mut self, umask: u32) {
        use std::os::unix::process::CommandExt as _;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))
            .unwrap();
        let mode = nix::sys::stat::Mode::from_bits_truncate(umask);
        let mut cmd = Command::new(daemon_bin());
        cmd.envs(self.env())
            .env("AGENTTOWER_LOG", "info,agenttower_server=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: umask(2) is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(move || {
                nix::sys::stat::umask(mode);
                Ok(())
            });
        }
        self.child = Some(cmd.spawn().expect("spawn agenttowerd"));
        self.wait_ready().await;
    }
}

impl Daemon {
    /// Starts a daemon on these files (plus `extra_env`) that is expected
    /// to refuse to start: its exit status and stderr. One still running at
    /// the deadline is killed and fails the test.
    pub async fn exit_of_a_start(
        &self,
        extra_env: &[(&str, &str)],
    ) -> (std::process::ExitStatus, String) {
        let stderr = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(daemon_bin())
            .envs(self.env())
            .envs(extra_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr.reopen().unwrap())
            .spawn()
            .expect("spawn agenttowerd");
        let read = || std::fs::read_to_string(stderr.path()).unwrap();
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, read());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("agenttowerd started instead of refusing:\n{}", read());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Shorthands over the 1.0 answer shapes, where a layout answer carries
/// its panes inside `layout` (and nothing twice).
pub trait LayoutAnswer {
    /// The answer's layout (a default one if the daemon sent none).
    fn the_layout(&self) -> &pb::Layout;
    fn panes(&self) -> &[pb::Pane] {
        &self.the_layout().panes
    }
    fn layout_id(&self) -> String {
        self.the_layout().layout_id.clone()
    }
    fn state(&self) -> pb::LayoutState {
        self.the_layout().state()
    }
}

static NO_LAYOUT: std::sync::LazyLock<pb::Layout> = std::sync::LazyLock::new(Default::default);

impl LayoutAnswer for pb::GetLayoutResponse {
    fn the_layout(&self) -> &pb::Layout {
        self.layout.as_ref().unwrap_or(&NO_LAYOUT)
    }
}

impl LayoutAnswer for pb::CreateLayoutResponse {
    fn the_layout(&self) -> &pb::Layout {
        self.layout.as_ref().unwrap_or(&NO_LAYOUT)
    }
}
