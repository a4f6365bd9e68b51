//! `LocalRuntime`: tmux on the host, on a configurable socket.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Runtime, RuntimeError, run_command};

/// The built-in `local` container: host tmux.
#[derive(Debug, Clone)]
pub(crate) struct LocalRuntime {
    /// The container id (and name) it serves.
    id: String,
    /// `tmux -S <socket>`; `None` uses the user's default server.
    socket: Option<PathBuf>,
}

impl LocalRuntime {
    pub(crate) fn new(id: &str, socket: Option<PathBuf>) -> Self {
        LocalRuntime {
            id: id.to_string(),
            socket,
        }
    }
}

#[async_trait::async_trait]
impl Runtime for LocalRuntime {
    fn tmux_socket(&self) -> String {
        self.socket
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "default".into())
    }

    async fn tmux(&self, args: Vec<String>, timeout: Duration) -> Result<String, RuntimeError> {
        let mut cmd = tokio::process::Command::new("tmux");
        // -u: the panes are UTF-8 whatever the daemon's locale is.
        cmd.arg("-u");
        if let Some(socket) = &self.socket {
            cmd.arg("-S").arg(socket);
        }
        cmd.args(args);
        run_command(cmd, timeout).await
    }

    fn log_dir_name(&self) -> String {
        self.id.clone()
    }

    async fn log_target(&self, host_path: &Path) -> Result<PathBuf, String> {
        Ok(host_path.to_path_buf())
    }
}
