//! Who is calling (SPEC §10), from the kernel only: `SO_PEERCRED` gives the
//! caller's pid, its `/proc/<pid>/cgroup` names the container it runs in.
//! Nothing the caller controls — hostname, environment, request fields —
//! takes part.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::UnixStream;
use tokio::sync::OnceCell;
use tonic::transport::server::Connected;

use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::scope::Caller;

/// A client connection on the socket with what the kernel says about its
/// peer: the pid from `SO_PEERCRED` at accept, and the Docker container
/// its process runs in, read from `/proc` on a blocking thread on the
/// connection's first request and kept for the next ones (a process does
/// not change containers; a pid read later could be reused by another).
pub(crate) struct PeerStream {
    inner: UnixStream,
    info: PeerInfo,
}

/// The connect info of a `PeerStream`, in every request's extensions.
#[derive(Debug, Clone)]
pub(crate) struct PeerInfo {
    pid: Option<i32>,
    /// `None`: a host process; `Some(id)`: a Docker container's; an error
    /// when `/proc` could not tell.
    container: Arc<OnceCell<std::result::Result<Option<String>, String>>>,
}

impl PeerStream {
    pub(crate) fn new(inner: UnixStream) -> Self {
        let pid = inner
            .peer_cred()
            .ok()
            .and_then(|cred| cred.pid())
            .filter(|pid| *pid > 0);
        PeerStream {
            inner,
            info: PeerInfo {
                pid,
                container: Arc::default(),
            },
        }
    }
}

impl PeerInfo {
    /// The Docker container id of the peer's process, if any.
    async fn container(&self) -> Result<(i32, Option<String>)> {
        let pid = self
            .pid
            .ok_or_else(|| deny("the kernel gave no peer pid"))?;
        let found = self
            .container
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
                        .map(|cgroup| container_of(&cgroup))
                        .map_err(|e| format!("cannot read /proc/{pid}/cgroup: {e}"))
                })
                .await
                .unwrap_or_else(|e| Err(format!("cannot read /proc/{pid}/cgroup: {e}")))
            })
            .await;
        found.clone().map(|c| (pid, c)).map_err(|why| deny(&why))
    }
}

impl Connected for PeerStream {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The caller of one request, identified here from the kernel: the
/// service layer's `Caller` (its scope; the `Peer` derefs to it) and the
/// pid `SO_PEERCRED` gave, which a report is matched from.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    caller: Caller,
    pid: i32,
}

impl std::ops::Deref for Peer {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl Peer {
    /// Identifies the caller of a request; a caller in a container that is
    /// not exactly one registered container, or one the kernel cannot name,
    /// is refused with `host_only`.
    pub(crate) async fn of<T>(svc: &Services, request: &tonic::Request<T>) -> Result<Peer> {
        let info = request
            .extensions()
            .get::<PeerInfo>()
            .ok_or_else(|| deny("no peer information on the connection"))?;
        let (pid, container) = info.container().await?;
        let Some(id) = container else {
            return Ok(Peer {
                caller: Caller::Host,
                pid,
            });
        };
        match svc.registered_container(&id).await? {
            Some(own) => Ok(Peer {
                caller: Caller::Container(own),
                pid,
            }),
            None => Err(deny(&format!(
                "pid {pid} runs in container {id}, which is not registered"
            ))),
        }
    }

    /// The caller's pid in the daemon's pid namespace, from `SO_PEERCRED`
    /// at connect.
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }
}

fn deny(why: &str) -> Error {
    tracing::warn!(reason = why, "peer refused");
    Error::HostOnly
}

/// The cgroup v1 directory Docker puts its containers in.
const DOCKER_CGROUP: &str = "docker";

/// The Docker container id in a `/proc/<pid>/cgroup` listing: cgroup v1
/// `…:/docker/<id>` (also nested, `/docker/<id>/…`) or v2 / systemd
/// `…/docker-<id>.scope`. `None` means no container: a host process.
pub(crate) fn container_of(cgroup: &str) -> Option<String> {
    let is_id = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    cgroup.lines().find_map(|line| {
        let path = line.splitn(3, ':').nth(2)?;
        let parts: Vec<&str> = path.split('/').collect();
        parts.iter().enumerate().find_map(|(i, part)| {
            if let Some(id) = part
                .strip_prefix("docker-")
                .and_then(|p| p.strip_suffix(".scope"))
                .filter(|id| is_id(id))
            {
                return Some(id.to_ascii_lowercase());
            }
            (*part == DOCKER_CGROUP)
                .then(|| parts.get(i + 1))
                .flatten()
                .filter(|id| is_id(id))
                .map(|id| id.to_ascii_lowercase())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f4e1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";

    #[test]
    fn cgroup_v1_and_v2_forms_name_the_container() {
        let v1 = format!("12:pids:/docker/{ID}\n9:name=systemd:/docker/{ID}\n0::/\n");
        assert_eq!(container_of(&v1).as_deref(), Some(ID));
        let v2 = format!("0::/system.slice/docker-{ID}.scope\n");
        assert_eq!(container_of(&v2).as_deref(), Some(ID));
        let nested = format!("0::/docker/{ID}/init.scope\n");
        assert_eq!(container_of(&nested).as_deref(), Some(ID));
    }

    #[test]
    fn host_cgroups_name_no_container() {
        for host in [
            "0::/\n",
            "0::/user.slice/user-1000.slice/session-2.scope\n",
            "4:memory:/process_api/abc\n0::/\n",
            "0::/docker/not-an-id\n",
            "0::/system.slice/docker.service\n",
        ] {
            assert_eq!(container_of(host), None, "{host}");
        }
    }
}
