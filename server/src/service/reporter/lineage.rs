//! A caller's ancestry as the kernel shows it in `/proc`: the process and
//! its parents, numbered the way the tmux server it may run under numbers
//! them (the host's pids, or a container's own through `NSpid`).

use crate::api::peer::container_of;

/// Most ancestors of a caller that are looked at (a process tree is rarely
/// deeper than a dozen; this bounds a hostile one).
const MAX_ANCESTORS: usize = 64;

/// The caller `pid` and its ancestors, nearest first, as the tmux servers
/// it could run under number them. A host caller (`container` `None`):
/// the pids themselves, up to pid 1. A caller in Docker container
/// `container`: the pid inside the container of each ancestor still in it,
/// stopping at the first one outside. `read(pid, file)` reads
/// `/proc/<pid>/<file>`; a process that vanished ends the walk.
pub(super) fn lineage(
    pid: i32,
    container: Option<&str>,
    read: impl Fn(i32, &str) -> Option<String>,
) -> Vec<i32> {
    let mut out = Vec::new();
    let mut next = pid;
    while next > 0 && out.len() < MAX_ANCESTORS {
        let current = next;
        let Some(stat) = read(current, "stat") else {
            break;
        };
        let Some(ppid) = parent_of(&stat) else {
            break;
        };
        match container {
            None => out.push(current),
            Some(own) => {
                let inside = read(current, "cgroup")
                    .and_then(|cgroup| container_of(&cgroup))
                    .is_some_and(|id| id == own);
                let Some(ns_pid) = inside
                    .then(|| read(current, "status"))
                    .flatten()
                    .and_then(|status| innermost_pid(&status))
                else {
                    break;
                };
                out.push(ns_pid);
            }
        }
        next = ppid;
    }
    out
}

/// The parent pid in a `/proc/<pid>/stat` line: the second field after the
/// command name, which is parenthesised and may itself hold spaces and
/// parentheses (so the last `)` ends it).
fn parent_of(stat: &str) -> Option<i32> {
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The process's pid in its own (innermost) pid namespace: the last value
/// of `NSpid:` in `/proc/<pid>/status`.
fn innermost_pid(status: &str) -> Option<i32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))?
        .split_whitespace()
        .last()?
        .parse()
        .ok()
        .filter(|p| *p > 0)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const ID: &str = "3f4e1c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
    const OTHER: &str = "0000000000000000000000000000000000000000000000000000000000000001";

    fn stat(pid: i32, comm: &str, ppid: i32) -> String {
        format!("{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 100 0 0 0")
    }

    /// A fake `/proc`: pid → (stat, cgroup, status).
    fn procfs(
        entries: &[(i32, &str, i32, Option<&str>, &str)],
    ) -> impl Fn(i32, &str) -> Option<String> {
        let map: HashMap<i32, (String, String, String)> = entries
            .iter()
            .map(|(pid, comm, ppid, container, nspid)| {
                let cgroup = match container {
                    Some(id) => format!("0::/system.slice/docker-{id}.scope\n"),
                    None => "0::/user.slice\n".to_string(),
                };
                (
                    *pid,
                    (
                        stat(*pid, comm, *ppid),
                        cgroup,
                        format!("Name:\t{comm}\nPid:\t{pid}\nNSpid:\t{nspid}\n"),
                    ),
                )
            })
            .collect();
        move |pid, file| {
            let (stat, cgroup, status) = map.get(&pid)?;
            Some(match file {
                "stat" => stat.clone(),
                "cgroup" => cgroup.clone(),
                "status" => status.clone(),
                _ => return None,
            })
        }
    }

    #[test]
    fn the_parent_is_read_after_the_last_parenthesis() {
        assert_eq!(parent_of(&stat(42, "sh", 7)), Some(7));
        assert_eq!(parent_of(&stat(42, "evil) S 1 (x", 9)), Some(9));
        assert_eq!(parent_of(&stat(42, "a b ) c", 10)), Some(10));
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn the_innermost_pid_is_the_last_nspid_value() {
        assert_eq!(innermost_pid("Name:\tsh\nNSpid:\t4242\t17\n"), Some(17));
        assert_eq!(innermost_pid("NSpid:\t4242\n"), Some(4242));
        assert_eq!(innermost_pid("Name:\tsh\n"), None);
    }

    #[test]
    fn a_host_lineage_walks_to_pid_one() {
        let read = procfs(&[
            (500, "agenttower", 400, None, "500"),
            (400, "sh", 300, None, "400"),
            (300, "tmux: server", 1, None, "300"),
            (1, "init", 0, None, "1"),
        ]);
        assert_eq!(lineage(500, None, &read), [500, 400, 300, 1]);
        // A vanished caller has no lineage.
        assert!(lineage(999, None, &read).is_empty());
    }

    #[test]
    fn a_container_lineage_is_in_container_pids_and_stops_at_its_edge() {
        let read = procfs(&[
            (9005, "agenttower", 9004, Some(ID), "9005\t25"),
            (9004, "sh", 9003, Some(ID), "9004\t24"),
            (9003, "tmux: server", 9001, Some(ID), "9003\t23"),
            (9001, "tini", 9000, Some(ID), "9001\t1"),
            (9000, "containerd-shim", 1, None, "9000"),
            (1, "init", 0, None, "1"),
        ]);
        assert_eq!(lineage(9005, Some(ID), &read), [25, 24, 23, 1]);
        // Another container's view of the same processes is empty.
        assert!(lineage(9005, Some(OTHER), &read).is_empty());
    }

    #[test]
    fn a_lineage_is_bounded() {
        // A (corrupt) cycle: each process is its own grandparent.
        let read = procfs(&[(10, "a", 11, None, "10"), (11, "b", 10, None, "11")]);
        assert_eq!(lineage(10, None, &read).len(), MAX_ANCESTORS);
    }
}
