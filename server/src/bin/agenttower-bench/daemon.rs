//! A private daemon for the benchmark: temp state and config, its own tmux
//! servers, started from this binary with `--run-daemon`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agenttower::client::ManagedSessionsServiceClient;
use anyhow::{Context as _, bail};

/// How long a start or stop may take before the benchmark gives up.
const PATIENCE: Duration = Duration::from_secs(30);

pub(crate) struct Bench {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Bench {
    /// Writes `config` (YAML; `{dir}` stands for the benchmark's temp dir)
    /// and `templates` (name, YAML), then starts.
    pub(crate) async fn start(config: &str, templates: &[(&str, String)]) -> anyhow::Result<Bench> {
        let dir = tempfile::Builder::new().prefix("atb").tempdir()?;
        let cfg = dir.path().join("cfg");
        std::fs::create_dir_all(cfg.join("managed_templates"))?;
        let config = config.replace("{dir}", &dir.path().display().to_string());
        std::fs::write(cfg.join("config.yaml"), config)?;
        for (name, yaml) in templates {
            std::fs::write(
                cfg.join("managed_templates").join(format!("{name}.yaml")),
                yaml,
            )?;
        }
        let mut b = Bench { dir, child: None };
        b.spawn().await?;
        Ok(b)
    }

    pub(crate) fn socket(&self) -> PathBuf {
        self.dir.path().join("state/agenttowerd.sock")
    }
    pub(crate) fn db(&self) -> PathBuf {
        self.dir.path().join("state/agenttower.sqlite3")
    }
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }
    /// The tmux socket of container `name` (`local` or an extra one).
    pub(crate) fn tmux_socket(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("tmux-{name}.sock"))
    }

    fn env(&self) -> Vec<(&'static str, PathBuf)> {
        let d = self.dir.path();
        vec![
            ("AGENTTOWER_STATE_DIR", d.join("state")),
            ("AGENTTOWER_CONFIG_DIR", d.join("cfg")),
            ("AGENTTOWER_TMUX_SOCKET", self.tmux_socket("local")),
            ("HOME", d.to_path_buf()),
            ("SHELL", PathBuf::from("/bin/sh")),
        ]
    }

    /// Starts the daemon and waits until it answers; returns how long that took.
    pub(crate) async fn spawn(&mut self) -> anyhow::Result<Duration> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.log"))?;
        let started = Instant::now();
        let child = Command::new(std::env::current_exe()?)
            .arg("--run-daemon")
            .envs(self.env())
            .env("AGENTTOWER_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("start the daemon")?;
        self.child = Some(child);
        while !agenttower::launch::healthy(&self.socket()).await {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("the daemon exited with {status}:\n{}", self.log());
            }
            if started.elapsed() > PATIENCE {
                bail!("the daemon did not answer:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(started.elapsed())
    }

    /// SIGTERM and wait for the exit.
    pub(crate) async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )?;
        let started = Instant::now();
        while child.try_wait()?.is_none() {
            if started.elapsed() > PATIENCE {
                let _ = child.kill();
                bail!("the daemon did not stop");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Resident memory of the daemon, MiB.
    pub(crate) fn rss_mib(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(0.0, |kib| kib / 1024.0)
    }

    /// CPU time the daemon has used so far (user + system), from
    /// `/proc/<pid>/stat`.
    pub(crate) fn cpu_time(&self) -> Duration {
        let ticks = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .ok()
            .and_then(|stat| {
                let fields: Vec<u64> = stat
                    .rsplit_once(") ")?
                    .1
                    .split(' ')
                    .skip(11)
                    .take(2)
                    .filter_map(|f| f.parse().ok())
                    .collect();
                Some(fields.iter().sum::<u64>())
            })
            .unwrap_or(0);
        let per_second = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
        Duration::from_secs_f64(ticks as f64 / per_second)
    }

    pub(crate) async fn client(&self) -> anyhow::Result<ManagedSessionsServiceClient> {
        Ok(ManagedSessionsServiceClient::new(
            agenttower::client::connect(self.socket()).await?,
        ))
    }

    /// The `elapsed_ms` of the last "boot recovery done" log line.
    pub(crate) fn last_recovery_ms(&self) -> Option<f64> {
        self.log()
            .lines()
            .rev()
            .find(|l| l.contains("boot recovery done"))
            .and_then(|l| l.split("elapsed_ms=").nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Every tmux server the benchmark started lives in its temp dir.
        if let Ok(entries) = std::fs::read_dir(self.dir.path()) {
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "sock")
                    && path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("tmux-"))
                {
                    kill_tmux(&path);
                }
            }
        }
    }
}

/// `tmux -S socket kill-server`, then waits until that server no longer
/// answers (kill-server returns before the server is gone, and a client
/// that connects meanwhile gets "server exited unexpectedly").
pub(crate) fn kill_tmux(socket: &Path) {
    let tmux = |arg: &str| {
        Command::new("tmux")
            .arg("-S")
            .arg(socket)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let _ = tmux("kill-server");
    let started = Instant::now();
    while tmux("list-sessions") && started.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = std::fs::remove_file(socket);
}
