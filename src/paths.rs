//! Where AgentTower keeps its files (SPEC §15). The daemon, the CLI and the
//! console resolve paths through this one module so they always agree.
//!
//! Every path has an environment override; tests point them all at a temp dir.

use std::path::PathBuf;

use etcetera::BaseStrategy as _;

/// Overrides the state directory (socket, database, events, logs).
pub const ENV_STATE_DIR: &str = "AGENTTOWER_STATE_DIR";
/// Overrides the config directory (config.yaml, templates, launch profiles).
pub const ENV_CONFIG_DIR: &str = "AGENTTOWER_CONFIG_DIR";
/// Overrides the daemon socket path.
pub const ENV_SOCKET: &str = "AGENTTOWER_SOCKET";
/// Overrides the SQLite database path.
pub const ENV_DB: &str = "AGENTTOWER_DB";
/// Overrides the events.jsonl mirror path.
pub const ENV_EVENTS_LOG: &str = "AGENTTOWER_EVENTS_LOG";
/// Overrides the pane log directory.
pub const ENV_LOG_DIR: &str = "AGENTTOWER_LOG_DIR";

const APP_DIR: &str = "opensoft/agenttower";

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home_fallback(rel: &str) -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
        .join(rel)
}

/// `$AGENTTOWER_STATE_DIR`, else `$XDG_STATE_HOME/opensoft/agenttower`,
/// else `~/.local/state/opensoft/agenttower`.
pub fn state_dir() -> PathBuf {
    env_path(ENV_STATE_DIR).unwrap_or_else(|| {
        etcetera::choose_base_strategy()
            .ok()
            .and_then(|b| b.state_dir())
            .unwrap_or_else(|| home_fallback(".local/state"))
            .join(APP_DIR)
    })
}

/// `$AGENTTOWER_CONFIG_DIR`, else `$XDG_CONFIG_HOME/opensoft/agenttower`,
/// else `~/.config/opensoft/agenttower`.
pub fn config_dir() -> PathBuf {
    env_path(ENV_CONFIG_DIR).unwrap_or_else(|| {
        etcetera::choose_base_strategy()
            .map(|b| b.config_dir())
            .unwrap_or_else(|_| home_fallback(".config"))
            .join(APP_DIR)
    })
}

/// The daemon's Unix socket.
pub fn socket_path() -> PathBuf {
    env_path(ENV_SOCKET).unwrap_or_else(|| state_dir().join("agenttowerd.sock"))
}

/// The SQLite database.
pub fn db_path() -> PathBuf {
    env_path(ENV_DB).unwrap_or_else(|| state_dir().join("agenttower.sqlite3"))
}

/// The append-only JSONL mirror of the event log.
pub fn events_log_path() -> PathBuf {
    env_path(ENV_EVENTS_LOG).unwrap_or_else(|| state_dir().join("events.jsonl"))
}

/// Root of the pane logs (`<log dir>/<container>/<label>.log`).
pub fn log_dir() -> PathBuf {
    env_path(ENV_LOG_DIR).unwrap_or_else(|| state_dir().join("logs"))
}
