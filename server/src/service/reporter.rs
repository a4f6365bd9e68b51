//! Who sent a report (docs/activity.md, "Reports"): the registered agent
//! whose pane the calling process runs in, found from the kernel only. The
//! caller's pid (`SO_PEERCRED`) is walked up its ancestors in `/proc`; the
//! nearest ancestor that is an agent's `pane_pid`, and whose own parent is
//! that pane's tmux server, names the agent. A Docker caller is compared in
//! its container's pid namespace (the last `NSpid:` value), against its own
//! container's agents only; a host caller against the agents of the local
//! runtime only. No environment variable and no request field takes part.

use std::collections::BTreeMap;

use diesel::SqliteConnection;

use super::Services;
use super::scope::Caller;
use crate::domain::{Activity, RuntimeKind};
use crate::error::{Error, Result};
use crate::runtime::RuntimeError;
use crate::runtime::tmux::{PaneInfo, ops};
use crate::store::models::AgentRow;
use crate::store::{agents, containers};
use lineage::lineage;

mod lineage;

/// An agent a caller may be matched to, with what identifies its pane's
/// process: its `pane_pid` and its tmux server's pid, both as that tmux
/// server numbers them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    agent_id: String,
    pane_pid: Option<i32>,
    server_pid: Option<i32>,
}

impl Candidate {
    fn of(row: &AgentRow) -> Candidate {
        Candidate {
            agent_id: row.agent_id.clone(),
            pane_pid: row.pane_pid,
            server_pid: row.tmux_server.as_deref().and_then(server_pid),
        }
    }
}

/// What matching a caller's lineage against candidates found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Found {
    One(String),
    None,
    /// Two agents claim the same process: a stale `pane_pid`.
    Ambiguous,
}

impl Services {
    /// The registered agent whose pane the caller (pid `pid`, in the
    /// daemon's pid namespace) runs in: `caller_not_in_agent_pane` when it
    /// is in none. The stored `pane_pid`s are tried first; only when they
    /// miss are the candidates' tmux servers listed once, live, to refresh
    /// them before refusing.
    pub(crate) async fn reporting_agent(&self, caller: &Caller, pid: i32) -> Result<String> {
        let own = caller.own().map(str::to_string);
        let walk_in = own.clone();
        let lineage = tokio::task::spawn_blocking(move || {
            lineage(pid, walk_in.as_deref(), |pid, file| {
                std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()
            })
        })
        .await
        .map_err(Error::internal)?;
        let rows = self
            .store
            .read(move |conn| candidates(conn, own.as_deref()))
            .await?;
        if lineage.is_empty() || rows.is_empty() {
            return Err(refuse(pid, "no candidate agent or no lineage"));
        }
        let cached: Vec<Candidate> = rows.iter().map(Candidate::of).collect();
        if let Found::One(agent_id) = find(&lineage, &cached) {
            return Ok(agent_id);
        }
        tracing::debug!(
            pid,
            "no stored pane_pid matches the caller; listing the panes"
        );
        let live = self.live_candidates(&rows).await?;
        match find(&lineage, &live) {
            Found::One(agent_id) => Ok(agent_id),
            Found::None => Err(refuse(pid, "no agent's pane is an ancestor")),
            Found::Ambiguous => Err(refuse(pid, "two live panes claim one process")),
        }
    }

    /// The candidates as their tmux servers list them now: only agents of
    /// live panes, with their current `pane_pid`, which is stored when it
    /// changed. A container whose listing fails has no live candidate.
    async fn live_candidates(&self, rows: &[AgentRow]) -> Result<Vec<Candidate>> {
        let mut by_container: BTreeMap<&str, Vec<&AgentRow>> = BTreeMap::new();
        for row in rows {
            by_container.entry(&row.container_id).or_default().push(row);
        }
        let mut live = Vec::new();
        let mut changed = Vec::new();
        for (container_id, agents) in by_container {
            let Ok(rt) = self.runtimes.get(container_id) else {
                continue;
            };
            let found: BTreeMap<String, PaneInfo> = match ops::list_panes(
                rt.as_ref(),
                self.config.stage_timeout(),
            )
            .await
            {
                Ok(panes) => panes.into_iter().map(|p| (p.pane_id.clone(), p)).collect(),
                Err(RuntimeError::Gone(_)) => continue,
                Err(e) => {
                    tracing::warn!(container_id, error = %e, "cannot list panes to match a report");
                    continue;
                }
            };
            let socket = rt.tmux_socket();
            for agent in agents {
                let Some(info) = found.get(&agent.tmux_pane_id).filter(|i| {
                    agent.tmux_socket == socket
                        && !i.dead
                        && agent.tmux_server.as_deref().is_none_or(|s| s == i.server)
                }) else {
                    continue;
                };
                let Some(pid) = info.pid else {
                    continue;
                };
                if agent.pane_pid != Some(pid) {
                    changed.push((agent.agent_id.clone(), pid));
                }
                live.push(Candidate {
                    agent_id: agent.agent_id.clone(),
                    pane_pid: Some(pid),
                    server_pid: server_pid(&info.server),
                });
            }
        }
        if !changed.is_empty() {
            self.store
                .write(move |tx| {
                    for (agent_id, pid) in &changed {
                        agents::set_pane_pid(tx.conn, agent_id, *pid)?;
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(live)
    }
}

fn refuse(pid: i32, why: &str) -> Error {
    tracing::debug!(
        pid,
        reason = why,
        "report refused: caller not in an agent's pane"
    );
    Error::NotInAgentPane
}

/// The agents a caller may report for: the registered agents of its own
/// container, or for a host caller those of every local-runtime container.
/// An `exited` agent's process is gone: nothing runs in its pane.
fn candidates(conn: &mut SqliteConnection, own: Option<&str>) -> Result<Vec<AgentRow>> {
    let containers: Vec<String> = match own {
        Some(own) => vec![own.to_string()],
        None => containers::of_runtime(conn, RuntimeKind::Local)?
            .into_iter()
            .map(|c| c.id)
            .collect(),
    };
    let mut out = Vec::new();
    for c in containers {
        out.extend(
            agents::registered_in(conn, &c)?
                .into_iter()
                .filter(|a| a.activity != Activity::Exited),
        );
    }
    Ok(out)
}

/// The agent whose pane process is the nearest ancestor in `lineage`
/// (nearest first) whose parent — the next entry — is that pane's tmux
/// server: a `pane_pid` reused by an unrelated process does not match.
fn find(lineage: &[i32], candidates: &[Candidate]) -> Found {
    for (i, pid) in lineage.iter().enumerate() {
        let parent = lineage.get(i + 1);
        let mut hits = candidates.iter().filter(|c| {
            c.pane_pid == Some(*pid) && c.server_pid.is_some_and(|s| parent == Some(&s))
        });
        match (hits.next(), hits.next()) {
            (Some(one), None) => return Found::One(one.agent_id.clone()),
            (Some(_), Some(_)) => return Found::Ambiguous,
            _ => {}
        }
    }
    Found::None
}

/// The pid of a tmux server instance `#{pid}:#{start_time}`.
fn server_pid(server: &str) -> Option<i32> {
    server.split_once(':')?.0.parse().ok().filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, pane_pid: i32, server: i32) -> Candidate {
        Candidate {
            agent_id: id.into(),
            pane_pid: Some(pane_pid),
            server_pid: Some(server),
        }
    }

    #[test]
    fn the_nearest_pane_under_its_own_server_wins() {
        let a = candidate("a", 400, 300);
        let b = candidate("b", 600, 300);
        assert_eq!(
            find(&[500, 400, 300, 1], &[a.clone(), b.clone()]),
            Found::One("a".into())
        );
        // Nested: the inner pane (nearer) wins over the outer one.
        let outer = candidate("outer", 200, 100);
        let inner = candidate("inner", 400, 300);
        assert_eq!(
            find(&[500, 400, 300, 200, 100, 1], &[outer, inner]),
            Found::One("inner".into())
        );
        // In no pane.
        assert_eq!(find(&[500, 450, 1], &[a.clone(), b]), Found::None);
    }

    #[test]
    fn a_reused_pane_pid_under_another_parent_does_not_match() {
        // Agent `a`'s pane died; its pid 400 now belongs to a process whose
        // parent is not a's tmux server.
        let a = candidate("a", 400, 300);
        assert_eq!(
            find(&[500, 400, 350, 1], std::slice::from_ref(&a)),
            Found::None
        );
        // An unknown server (no identity recorded) never matches from the
        // cache alone.
        let unknown = Candidate {
            server_pid: None,
            ..a
        };
        assert_eq!(find(&[500, 400, 300, 1], &[unknown]), Found::None);
    }

    #[test]
    fn two_agents_on_one_process_are_ambiguous() {
        let a = candidate("a", 400, 300);
        let b = candidate("b", 400, 300);
        assert_eq!(find(&[500, 400, 300], &[a, b]), Found::Ambiguous);
    }

    #[test]
    fn a_server_identity_names_its_pid() {
        assert_eq!(server_pid("4242:1700000000"), Some(4242));
        assert_eq!(server_pid(""), None);
        assert_eq!(server_pid("x:1"), None);
    }
}
