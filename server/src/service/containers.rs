//! The container registry (SPEC §3): bench containers found in Docker by
//! label or name, registered with a `docker exec` runtime each. A container
//! that stopped or vanished is marked `stopped`, never deleted: its layouts
//! and their audit trail still point at it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Services;
use super::reads::{Page, decode_token, page_size, paged};
use super::scope::Scope;
use crate::domain::{ContainerState, RuntimeKind};
use crate::error::Result;
use crate::runtime::docker::{DockerCli, DockerRuntime, Inspected};
use crate::store::containers;
use crate::store::models::ContainerRow;

/// A container label naming the `docker exec -u` user for that container.
pub(crate) const USER_LABEL: &str = "agenttower.user";

/// What a scan found, and anything that kept it from looking.
pub(crate) struct Scan {
    pub containers: Vec<ContainerRow>,
    pub warnings: Vec<String>,
}

impl Services {
    /// ListContainers: the registry in id order, scoped for the caller, one
    /// page at a time (the token is the last id returned). The registry is
    /// small — one row per bench container — so it is paged in memory.
    pub(crate) async fn list_containers(
        &self,
        scope: &Scope,
        size: u32,
        token: &str,
    ) -> Result<Page<ContainerRow>> {
        let Some(only) = scope.filter() else {
            return Ok(Page::empty());
        };
        let after = decode_token::<String>(token)?;
        let limit = page_size(size);
        let rows = self.store.read(containers::list).await?;
        let rows: Vec<ContainerRow> = rows
            .into_iter()
            .filter(|c| only.as_ref().is_none_or(|id| *id == c.id))
            .filter(|c| after.as_ref().is_none_or(|a| c.id > *a))
            .take(limit as usize + 1)
            .collect();
        Ok(paged(rows, limit, |c| c.id.clone(), |c| c))
    }

    fn docker(&self) -> DockerCli {
        DockerCli::new(&self.config.docker)
    }

    /// Refreshes the registry from Docker. An unreachable engine is a
    /// warning, and the registry is left as it was.
    pub(crate) async fn scan_containers(&self) -> Result<Scan> {
        let docker = self.docker();
        let timeout = self.config.stage_timeout();
        let cfg = &self.config.docker;
        let found = match docker
            .bench_ids(&cfg.label, cfg.name_pattern.as_deref(), timeout)
            .await
        {
            Ok(ids) => docker.inspect(&ids, timeout).await,
            Err(e) => Err(e),
        };
        let mut warnings = Vec::new();
        match found {
            Ok(found) => self.register(&docker, found).await?,
            Err(e) => {
                tracing::warn!(error = %e, "container scan could not reach Docker");
                warnings.push(format!(
                    "Docker not reachable with `{}`: {e}; the registry is unchanged",
                    cfg.program
                ));
            }
        }
        let containers = self.store.read(containers::list).await?;
        Ok(Scan {
            containers,
            warnings,
        })
    }

    /// Writes what Docker reported and gives every reported container its
    /// runtime; registered containers Docker no longer reports are stopped.
    async fn register(&self, docker: &DockerCli, found: Vec<Inspected>) -> Result<()> {
        let now = crate::store::now();
        let rows: Vec<(ContainerRow, Inspected)> =
            found.into_iter().map(|i| (self.row(&i, &now), i)).collect();
        let write: Vec<ContainerRow> = rows.iter().map(|(r, _)| r.clone()).collect();
        let stopped = self
            .store
            .write(move |tx| {
                for row in &write {
                    containers::upsert_docker(tx.conn, row)?;
                }
                let seen: Vec<String> = write.iter().map(|r| r.id.clone()).collect();
                containers::mark_unseen_stopped(tx.conn, &seen)
            })
            .await?;
        for (row, inspected) in rows {
            tracing::info!(container_id = %row.id, name = %row.name, state = %row.state, "bench container registered");
            self.runtimes.insert(
                &row.id,
                Arc::new(DockerRuntime::new(
                    docker.clone(),
                    &row,
                    Some(inspected.mounts),
                    self.runtimes.control(&row.id),
                )),
            );
        }
        if stopped > 0 {
            tracing::info!(
                stopped,
                "registered containers no longer reported by Docker"
            );
        }
        Ok(())
    }

    fn row(&self, i: &Inspected, now: &str) -> ContainerRow {
        let labels = i.config.labels.clone().unwrap_or_default();
        let user = labels
            .get(USER_LABEL)
            .cloned()
            .or_else(|| self.config.docker.user.clone())
            .filter(|u| !u.is_empty());
        ContainerRow {
            id: i.id.clone(),
            name: i.name.trim_start_matches('/').to_string(),
            runtime: RuntimeKind::Docker,
            state: if i.state.running {
                ContainerState::Running
            } else {
                ContainerState::Stopped
            },
            user,
            labels: serde_json::to_string(&labels.into_iter().collect::<BTreeMap<_, _>>())
                .unwrap_or_else(|_| "{}".into()),
            last_seen: now.to_string(),
        }
    }

    /// Gives every Docker container already in the registry its runtime, so
    /// boot recovery can reach it before any scan. Mounts are read from
    /// Docker the first time a log needs them.
    pub(crate) async fn register_known_containers(&self) -> Result<usize> {
        let rows = self
            .store
            .read(|conn| containers::of_runtime(conn, RuntimeKind::Docker))
            .await?;
        let docker = self.docker();
        for row in &rows {
            self.runtimes.insert(
                &row.id,
                Arc::new(DockerRuntime::new(
                    docker.clone(),
                    row,
                    None,
                    self.runtimes.control(&row.id),
                )),
            );
        }
        Ok(rows.len())
    }
}
