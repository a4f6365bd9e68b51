//! `LocalRuntime`: tmux on the host, on a configurable socket.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::control::{Control, Launcher};
use super::{Runtime, RuntimeError};

/// The built-in `local` container: host tmux.
#[derive(Debug, Clone)]
pub(crate) struct LocalRuntime {
    /// The container id (and name) it serves.
    id: String,
    /// `tmux -S <socket>`; `None` uses the user's default server.
    socket: Option<PathBuf>,
    control: Arc<Control>,
}

impl LocalRuntime {
    pub(crate) fn new(id: &str, socket: Option<PathBuf>, control: Arc<Control>) -> Self {
        LocalRuntime {
            id: id.to_string(),
            socket,
            control,
        }
    }
}

impl Launcher for LocalRuntime {
    fn tmux_command(&self, args: &[String], _interactive: bool) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("tmux");
        // -u: the panes are UTF-8 whatever the daemon's locale is.
        cmd.arg("-u");
        if let Some(socket) = &self.socket {
            cmd.arg("-S").arg(socket);
        }
        cmd.args(args);
        cmd
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
        super::call(self, &self.control, args, timeout, |e| e).await
    }

    fn control(&self) -> &Arc<Control> {
        &self.control
    }

    fn log_dir_name(&self) -> String {
        self.id.clone()
    }

    async fn log_target(&self, host_path: &Path) -> Result<PathBuf, String> {
        Ok(host_path.to_path_buf())
    }
}
