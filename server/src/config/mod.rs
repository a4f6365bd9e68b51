//! Daemon configuration (SPEC §15): paths, the optional `config.yaml`, and the
//! template / launch-profile catalog in `catalog`.

pub(crate) mod catalog;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;

/// Overrides the local runtime's tmux socket (`tmux -S <path>`).
pub(crate) const ENV_TMUX_SOCKET: &str = "AGENTTOWER_TMUX_SOCKET";

/// Every path the daemon uses.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub state_dir: PathBuf,
    pub config_dir: PathBuf,
    pub socket: PathBuf,
    pub db: PathBuf,
    pub events_log: PathBuf,
    pub log_dir: PathBuf,
}

impl Paths {
    /// Defaults of SPEC §15 with the `AGENTTOWER_*` environment overrides.
    pub(crate) fn from_env() -> Self {
        use agenttower::paths;
        Paths {
            state_dir: paths::state_dir(),
            config_dir: paths::config_dir(),
            socket: paths::socket_path(),
            db: paths::db_path(),
            events_log: paths::events_log_path(),
            log_dir: paths::log_dir(),
        }
    }

    pub(crate) fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.yaml")
    }
    pub(crate) fn templates_dir(&self) -> PathBuf {
        self.config_dir.join("managed_templates")
    }
    pub(crate) fn profiles_dir(&self) -> PathBuf {
        self.config_dir.join("launch_commands")
    }
}

/// The longest duration any `*_ms` key accepts: 30 days.
const MAX_DURATION_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// Tunables; every key is optional in `config.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Config {
    /// Maximum live (non-removed) layouts per daemon.
    pub capacity: u32,
    /// Wait after creating panes before probing whether launch commands died.
    pub settle_window_ms: u64,
    /// Time limit of each pipeline stage (one runtime call).
    pub stage_timeout_ms: u64,
    /// Back-off before the first and second retry of a transient failure.
    pub retry_backoff_ms: [u64; 2],
    /// How often the pending-marker sweep runs (also once at start).
    pub sweep_interval_ms: u64,
    /// A pane still `creating` this long after creation is failed by the sweep.
    pub pending_ttl_ms: u64,
    /// How often the health watcher lists each container's panes.
    pub health_interval_ms: u64,
    /// Size given to detached sessions (tmux would use 80×24).
    pub pane_columns: u16,
    pub pane_rows: u16,
    /// Committed events kept for live watchers before a slow one is resumed
    /// from the event table instead.
    pub event_bus_capacity: usize,
    /// Events queued per WatchEvents stream before its watcher waits.
    pub watch_buffer: usize,
    pub local: LocalConfig,
    /// Further host "containers", each its own tmux server.
    pub local_containers: Vec<ExtraLocal>,
    /// Bench containers reached with `docker exec`.
    pub docker: DockerConfig,
}

/// The Docker CLI run when the configuration names none: a program name,
/// not the `docker` runtime kind it happens to be spelled like.
pub(crate) const DOCKER_PROGRAM: &str = "docker";

/// The `docker` runtime (SPEC §3).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DockerConfig {
    /// The Docker CLI; `DOCKER_HOST` / contexts in the daemon's environment
    /// pick the engine.
    pub program: String,
    /// A container is a bench container when it carries this label
    /// (`key=value` or `key`) ...
    pub label: String,
    /// ... or when its name matches this pattern (Docker's `name` filter).
    pub name_pattern: Option<String>,
    /// `docker exec -u` user; a container's `agenttower.user` label wins.
    pub user: Option<String>,
    /// `LC_ALL` given to tmux in containers; empty leaves the container's.
    pub locale: String,
    /// Register bench containers from Docker when the daemon starts.
    pub scan_at_start: bool,
}

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            program: DOCKER_PROGRAM.into(),
            label: "agenttower.bench=true".into(),
            name_pattern: None,
            user: None,
            locale: "C.UTF-8".into(),
            scan_at_start: true,
        }
    }
}

/// A host tmux server registered as a container of the `local` runtime.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExtraLocal {
    /// Container id and name, an identifier.
    pub name: String,
    pub tmux_socket: PathBuf,
}

/// The built-in `local` container.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LocalConfig {
    pub enabled: bool,
    /// tmux socket path; unset means the user's default tmux server.
    pub tmux_socket: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            capacity: 40,
            settle_window_ms: 1000,
            stage_timeout_ms: 30_000,
            retry_backoff_ms: [1000, 2000],
            sweep_interval_ms: 60_000,
            pending_ttl_ms: 300_000,
            health_interval_ms: 5_000,
            pane_columns: 200,
            pane_rows: 50,
            event_bus_capacity: 4096,
            watch_buffer: 256,
            local: LocalConfig::default(),
            local_containers: Vec::new(),
            docker: DockerConfig::default(),
        }
    }
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            enabled: true,
            tmux_socket: None,
        }
    }
}

impl Config {
    /// Reads `path` if it exists (a missing file means defaults), then applies
    /// environment overrides.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Self> {
        let mut config = match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Config::default(),
            Ok(text) => serde_yaml::from_str(&text)
                .with_context(|| format!("invalid config file {}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        if let Some(sock) = std::env::var_os(ENV_TMUX_SOCKET).filter(|s| !s.is_empty()) {
            config.local.tmux_socket = Some(PathBuf::from(sock));
        }
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.capacity >= 1, "capacity must be at least 1");
        // A zero period panics a timer and a zero TTL or timeout fails every
        // pane; zero waits are fine. Past the limit, deadlines overflow.
        let durations = [
            ("stage_timeout_ms", self.stage_timeout_ms, 1),
            ("sweep_interval_ms", self.sweep_interval_ms, 1),
            ("pending_ttl_ms", self.pending_ttl_ms, 1),
            ("health_interval_ms", self.health_interval_ms, 1),
            ("settle_window_ms", self.settle_window_ms, 0),
            ("retry_backoff_ms", self.retry_backoff_ms[0], 0),
            ("retry_backoff_ms", self.retry_backoff_ms[1], 0),
        ];
        for (key, ms, min) in durations {
            anyhow::ensure!(
                (min..=MAX_DURATION_MS).contains(&ms),
                "{key} must be {min}..={MAX_DURATION_MS} (milliseconds), not {ms}"
            );
        }
        anyhow::ensure!(
            (10..=1000).contains(&self.pane_columns) && (5..=1000).contains(&self.pane_rows),
            "pane_columns must be 10..=1000 and pane_rows 5..=1000"
        );
        anyhow::ensure!(
            (1..=1_000_000).contains(&self.event_bus_capacity)
                && (1..=100_000).contains(&self.watch_buffer),
            "event_bus_capacity must be 1..=1000000 and watch_buffer 1..=100000"
        );
        anyhow::ensure!(
            !self.docker.label.is_empty() && !self.docker.label.chars().any(char::is_whitespace),
            "docker.label must be `key=value` or `key`, without spaces"
        );
        anyhow::ensure!(!self.docker.program.is_empty(), "docker.program is empty");
        let mut names = std::collections::HashSet::from([crate::store::containers::LOCAL_ID]);
        for extra in &self.local_containers {
            crate::service::validate::identifier(&extra.name)
                .map_err(|r| anyhow::anyhow!("local_containers name {:?}: {r}", extra.name))?;
            anyhow::ensure!(
                names.insert(extra.name.as_str()),
                "local_containers name {:?} is used twice (or is the built-in `local`)",
                extra.name
            );
        }
        Ok(())
    }

    pub(crate) fn settle_window(&self) -> Duration {
        Duration::from_millis(self.settle_window_ms)
    }
    pub(crate) fn stage_timeout(&self) -> Duration {
        Duration::from_millis(self.stage_timeout_ms)
    }
    /// Back-off before the first and second retry of a transient failure.
    pub(crate) fn retry_backoffs(&self) -> [Duration; 2] {
        self.retry_backoff_ms.map(Duration::from_millis)
    }
    pub(crate) fn sweep_interval(&self) -> Duration {
        Duration::from_millis(self.sweep_interval_ms)
    }
    pub(crate) fn pending_ttl(&self) -> Duration {
        Duration::from_millis(self.pending_ttl_ms)
    }
    pub(crate) fn health_interval(&self) -> Duration {
        Duration::from_millis(self.health_interval_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_and_missing_keys_default() {
        let c: Config = serde_yaml::from_str("capacity: 3\n").unwrap();
        assert_eq!((c.capacity, c.settle_window_ms), (3, 1000));
        assert!(serde_yaml::from_str::<Config>("capacityy: 3\n").is_err());
    }

    #[test]
    fn zero_periods_and_ttls_are_refused_naming_the_key_but_zero_waits_are_not() {
        let check = |yaml: &str| {
            serde_yaml::from_str::<Config>(yaml)
                .unwrap()
                .check()
                .map_err(|e| e.to_string())
        };
        for key in [
            "stage_timeout_ms",
            "sweep_interval_ms",
            "pending_ttl_ms",
            "health_interval_ms",
        ] {
            let e = check(&format!("{key}: 0\n")).unwrap_err();
            assert!(e.starts_with(&format!("{key} must be 1..=")), "{e}");
        }
        check("settle_window_ms: 0\nretry_backoff_ms: [0, 0]\n").unwrap();
        let e = check("health_interval_ms: 18446744073709551615\n").unwrap_err();
        assert!(e.starts_with("health_interval_ms must be"), "{e}");
        assert!(check("capacity: 0\n").is_err());
    }
}
