#![allow(dead_code)]

//! A real terminal for the tmux clients attach tests start: a
//! pseudo-terminal whose slave is the child's stdin, stdout and stderr, and
//! whose master a thread drains (a client that cannot write its screen
//! would block). Included by the root crate's tests only, which enable
//! nix's `term` feature.

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::DEADLINE;

/// A child process on its own pseudo-terminal; killed on drop.
pub struct PtyChild {
    child: Child,
    screen: Arc<Mutex<Vec<u8>>>,
}

impl PtyChild {
    /// Spawns `cmd` on a new 80x24 pseudo-terminal, in a session of its own.
    pub fn spawn(mut cmd: Command) -> PtyChild {
        let size = nix::pty::Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).expect("openpty");
        let fd = || Stdio::from(pty.slave.try_clone().expect("dup the pty slave"));
        cmd.stdin(fd()).stdout(fd()).stderr(fd());
        // SAFETY: setsid(2) is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()?;
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn on a pty");
        // Only the child holds the slave now: reads end (EIO) when it exits.
        drop(cmd);
        drop(pty.slave);
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = screen.clone();
        let mut master = std::fs::File::from(pty.master);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        PtyChild { child, screen }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the child wrote to its terminal so far (for failure
    /// messages).
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.screen.lock().unwrap()).into_owned()
    }

    /// The child's exit status if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait for the pty child")
    }

    /// Waits (polling) until the child exits, or fails after the deadline.
    pub async fn exited(&mut self) -> ExitStatus {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the pty child is still running:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for PtyChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
