//! Who is calling (SPEC §10), from the kernel only: `SO_PEERCRED` gives the
//! caller's pid, its `/proc/<pid>/cgroup` names the container it runs in.
//! Nothing the caller controls — hostname, environment, request fields —
//! takes part.

use tonic::transport::server::UdsConnectInfo;

use crate::error::{Error, Result};
use crate::service::Services;
use crate::store::containers;

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Peer {
    /// A process outside any container: every container is in reach.
    Host,
    /// A process in this registered container (full id): only it is.
    Container(String),
}

impl Peer {
    /// Identifies the caller of a request; a caller in a container that is
    /// not exactly one registered container, or one the kernel cannot name,
    /// is refused with `host_only`.
    pub(crate) async fn of<T>(svc: &Services, request: &tonic::Request<T>) -> Result<Peer> {
        let pid = request
            .extensions()
            .get::<UdsConnectInfo>()
            .and_then(|info| info.peer_cred)
            .and_then(|cred| cred.pid())
            .filter(|pid| *pid > 0)
            .ok_or_else(|| deny("the kernel gave no peer pid"))?;
        // The peer may have exited since it connected; its pid could then
        // belong to someone else, so an unreadable cgroup is a refusal.
        // Off the reactor: /proc reads are file I/O like any other.
        let cgroup = tokio::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .await
            .map_err(|e| deny(&format!("cannot read /proc/{pid}/cgroup: {e}")))?;
        let Some(id) = container_of(&cgroup) else {
            return Ok(Peer::Host);
        };
        let key = id.clone();
        let matches = svc
            .store
            .read(move |conn| containers::docker_with_id(conn, &key))
            .await?;
        match matches.as_slice() {
            [one] => Ok(Peer::Container(one.id.clone())),
            _ => Err(deny(&format!(
                "pid {pid} runs in container {id}, which is not registered"
            ))),
        }
    }

    /// `host_only` unless the caller is on the host (AppManagedSessions,
    /// container scans).
    pub(crate) fn require_host(&self) -> Result<()> {
        match self {
            Peer::Host => Ok(()),
            Peer::Container(_) => Err(Error::HostOnly),
        }
    }

    /// `host_only` unless the caller may act on `container_id` (a full id).
    pub(crate) fn may_touch(&self, container_id: &str) -> Result<()> {
        match self {
            Peer::Container(own) if own != container_id => Err(Error::HostOnly),
            _ => Ok(()),
        }
    }

    /// The caller's own container, for a container peer.
    pub(crate) fn own(&self) -> Option<&str> {
        match self {
            Peer::Host => None,
            Peer::Container(id) => Some(id),
        }
    }
}

fn deny(why: &str) -> Error {
    tracing::warn!(reason = why, "peer refused");
    Error::HostOnly
}

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
            (*part == "docker")
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
