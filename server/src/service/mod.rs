//! The domain: layouts and panes, their lifecycle and the spawn pipeline.
//! Handlers call into `Services`; nothing here knows about gRPC.

pub(crate) mod activity;
pub(crate) mod agent_io;
pub(crate) mod agents;
pub(crate) mod containers;
pub(crate) mod create;
pub(crate) mod lifecycle;
pub(crate) mod names;
pub(crate) mod pane_create;
pub(crate) mod pane_log;
pub(crate) mod pipeline;
pub(crate) mod queue;
pub(crate) mod reads;
pub(crate) mod reconcile;
pub(crate) mod recreate;
pub(crate) mod remove;
pub(crate) mod reporter;
pub(crate) mod routes;
pub(crate) mod scope;
pub(crate) mod settle;
pub(crate) mod validate;

/// The records the service layer answers with. They are the store's row
/// types, re-exported so callers (the api layer) depend on the service
/// only, never on the store.
pub(crate) mod records {
    pub(crate) use crate::store::models::{
        AgentRow, ContainerRow, EventRow, LayoutRow, PaneRow, RouteRow,
    };
}

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::config::catalog::{Catalog, CatalogCache};
use crate::config::{Config, Paths};
use crate::error::{Error, Result};
use crate::runtime::Runtime;
use crate::runtime::control::{Control, Doorbells};
use crate::runtime::fault::{FaultRuntime, Faults};
use crate::store::Store;
use crate::store::models::ContainerRow;

/// Everything a request or a background job needs.
pub(crate) struct Services {
    pub store: Store,
    pub config: Config,
    pub paths: Paths,
    pub runtimes: Runtimes,
    pub queues: queue::Queues,
    /// Parsed operator templates and profiles, re-read when a file changes.
    pub catalog_cache: Arc<CatalogCache>,
}

impl Services {
    /// The merged template / profile catalog as the files are now, loaded
    /// off the async reactor: a slow disk or a hostile file stalls no other
    /// request.
    pub(crate) async fn catalog(&self) -> Result<Catalog> {
        let cache = Arc::clone(&self.catalog_cache);
        let (templates, profiles) = (self.paths.templates_dir(), self.paths.profiles_dir());
        tokio::task::spawn_blocking(move || cache.load(&templates, &profiles))
            .await
            .map_err(Error::internal)
    }

    /// The newest database schema migration this daemon knows.
    pub(crate) fn schema_version(&self) -> String {
        crate::store::schema_version()
    }

    /// Looks a container up by id, short id or name (`container_not_found`).
    pub(crate) async fn container(&self, input: &str) -> Result<ContainerRow> {
        // Docker prints names with a leading `/`.
        let input = input.strip_prefix('/').unwrap_or(input);
        validate::field_token("container_id", input)?;
        let key = input.to_string();
        self.store
            .read(move |conn| crate::store::containers::resolve(conn, &key))
            .await?
            .ok_or_else(|| Error::ContainerNotFound {
                container_id: input.to_string(),
            })
    }
}

/// The runtime of every container the daemon can reach. Container scans
/// add to it while requests read it. Each container's tmux control
/// connection lives here too, so a scan that builds a new runtime keeps it.
#[derive(Default)]
pub(crate) struct Runtimes {
    by_container: RwLock<HashMap<String, Arc<dyn Runtime>>>,
    controls: Mutex<HashMap<String, Arc<Control>>>,
    /// What the control connections push, for the health watcher.
    pub bells: Arc<Doorbells>,
    /// Test faults (`AGENTTOWER_TEST_FAULTS`) wrapped around every runtime.
    faults: Option<Arc<Faults>>,
}

impl Runtimes {
    pub(crate) fn new(faults: Option<Arc<Faults>>) -> Self {
        Runtimes {
            faults,
            ..Runtimes::default()
        }
    }

    pub(crate) fn insert(&self, container_id: &str, runtime: Arc<dyn Runtime>) {
        let runtime = match &self.faults {
            Some(faults) => Arc::new(FaultRuntime {
                inner: runtime,
                faults: Arc::clone(faults),
            }),
            None => runtime,
        };
        self.by_container
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(container_id.to_string(), runtime);
    }

    /// The control connection of a container's tmux server.
    pub(crate) fn control(&self, container_id: &str) -> Arc<Control> {
        let mut controls = self.controls.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            controls
                .entry(container_id.to_string())
                .or_insert_with(|| Arc::new(Control::new(container_id, Arc::clone(&self.bells)))),
        )
    }

    /// Closes every control connection (daemon shutdown).
    pub(crate) async fn close(&self) {
        let controls: Vec<Arc<Control>> = self
            .controls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for control in controls {
            control.close().await;
        }
    }

    /// The runtime for a registered container.
    pub(crate) fn get(&self, container_id: &str) -> Result<Arc<dyn Runtime>> {
        self.by_container
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(container_id)
            .cloned()
            .ok_or_else(|| Error::ContainerNotFound {
                container_id: container_id.to_string(),
            })
    }
}
