//! Peer scoping (SPEC §10) in one place. The api layer learns from the
//! kernel who calls (`Caller`); everything that follows from it — which
//! container a call acts on, what a list may show, whether a named object
//! is within reach — is decided here, against the store.

use diesel::SqliteConnection;

use super::Services;
use crate::error::{Error, Result};
use crate::store::models::RouteRow;
use crate::store::{agents, containers, panes, routes};

/// The caller of one request, as the kernel identified it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A process outside any container: every container is in reach.
    Host,
    /// A process in this registered container (full id): only it is.
    Container(String),
}

/// What a list call may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every container (a host caller that named none).
    All,
    /// One container, by its stored id.
    Only(String),
    /// Nothing: a container caller asked about another container. Lists
    /// are scoped silently, so the answer is empty rather than an error.
    Nothing,
}

impl Scope {
    /// The container filter of a store query; `None` for `Nothing`, whose
    /// answer is empty without a query.
    pub(crate) fn filter(&self) -> Option<Option<String>> {
        match self {
            Scope::All => Some(None),
            Scope::Only(id) => Some(Some(id.clone())),
            Scope::Nothing => None,
        }
    }
}

/// Something a request names by id, whose container decides whether the
/// caller may act on it.
#[derive(Debug, Clone)]
pub(crate) enum Owned {
    /// A managed pane, or (RemovePane) an adopted agent's id.
    Pane(String),
    Agent(String),
    Route(String),
}

impl Caller {
    /// `host_only` unless the caller is on the host (AppManagedSessions,
    /// container scans).
    pub(crate) fn require_host(&self) -> Result<()> {
        match self {
            Caller::Host => Ok(()),
            Caller::Container(_) => Err(Error::HostOnly),
        }
    }

    /// The caller's own container, for a container caller.
    pub(crate) fn own(&self) -> Option<&str> {
        match self {
            Caller::Host => None,
            Caller::Container(id) => Some(id),
        }
    }

    /// `host_only` when a container caller reaches for a row of another
    /// container.
    pub(crate) fn check(&self, container_id: &str) -> Result<()> {
        match self {
            Caller::Container(own) if own != container_id => Err(Error::HostOnly),
            _ => Ok(()),
        }
    }
}

impl Services {
    /// The caller in Docker container `id` (full id, from `/proc`), if
    /// exactly one registered container has that id.
    pub(crate) async fn registered_container(&self, id: &str) -> Result<Option<String>> {
        let key = id.to_string();
        let matches = self
            .store
            .read(move |conn| containers::docker_with_id(conn, &key))
            .await?;
        Ok(match matches.as_slice() {
            [one] => Some(one.id.clone()),
            _ => None,
        })
    }

    /// The container a call aimed at one container acts on. An empty input
    /// means the caller's own: `local` for the host, its own container for
    /// a container caller. A container caller naming any other container,
    /// registered or not, gets `host_only` (no oracle).
    pub(crate) async fn target(&self, caller: &Caller, input: String) -> Result<String> {
        let Some(own) = caller.own() else {
            return Ok(if input.is_empty() {
                containers::LOCAL_ID.to_string()
            } else {
                input
            });
        };
        if input.is_empty() {
            return Ok(own.to_string());
        }
        match self.container(&input).await {
            Ok(c) if c.id == own => Ok(c.id),
            Err(e @ Error::Validation { .. }) => Err(e),
            _ => Err(Error::HostOnly),
        }
    }

    /// What a list call may show: a host sees what it asked for (a named
    /// container must exist: `container_not_found`); a container caller
    /// sees its own container, or nothing when it asked for another one.
    pub(crate) async fn scope(&self, caller: &Caller, requested: Option<String>) -> Result<Scope> {
        let Some(own) = caller.own() else {
            return Ok(match requested {
                Some(c) => Scope::Only(self.container(&c).await?.id),
                None => Scope::All,
            });
        };
        let Some(input) = requested else {
            return Ok(Scope::Only(own.to_string()));
        };
        Ok(match self.container(&input).await {
            Ok(c) if c.id == own => Scope::Only(c.id),
            Err(e @ Error::Validation { .. }) => return Err(e),
            _ => Scope::Nothing,
        })
    }

    /// `host_only` when a container caller names something of another
    /// container. Unknown ids pass, so the call answers its own not-found
    /// (ids are random UUIDv7s: guessing one is no enumeration).
    pub(crate) async fn guard(&self, caller: &Caller, what: Owned) -> Result<()> {
        let Some(own) = caller.own() else {
            return Ok(());
        };
        let own = own.to_string();
        let allowed = self
            .store
            .read(move |conn| {
                Ok(match what {
                    Owned::Pane(id) => match panes::get(conn, &id)? {
                        Some(p) => Some(p.container_id == own),
                        None => agents::get(conn, &id)?.map(|a| a.container_id == own),
                    },
                    Owned::Agent(id) => agents::get(conn, &id)?.map(|a| a.container_id == own),
                    Owned::Route(id) => match routes::get(conn, &id)? {
                        Some(route) => Some(route_within(conn, &route, &own)?),
                        None => None,
                    },
                })
            })
            .await?;
        match allowed {
            Some(false) => Err(Error::HostOnly),
            _ => Ok(()),
        }
    }

    /// The routes a caller may see: all for the host, for a container
    /// caller those whose both ends are its own agents.
    pub(crate) async fn scoped_routes(
        &self,
        caller: &Caller,
        routes: Vec<RouteRow>,
    ) -> Result<Vec<RouteRow>> {
        let Some(own) = caller.own() else {
            return Ok(routes);
        };
        let own = own.to_string();
        self.store
            .read(move |conn| {
                let mut mine = Vec::new();
                for route in routes {
                    if route_within(conn, &route, &own)? {
                        mine.push(route);
                    }
                }
                Ok(mine)
            })
            .await
    }
}

/// Whether both ends of a route are agents of container `own`.
fn route_within(conn: &mut SqliteConnection, route: &RouteRow, own: &str) -> Result<bool> {
    for agent in [&route.source_agent_id, &route.target_agent_id] {
        if agents::get(conn, agent)?.is_some_and(|a| a.container_id != own) {
            return Ok(false);
        }
    }
    Ok(true)
}
