//! gRPC handlers: decode and validate, call one service function, convert
//! the answer. Errors become statuses only through `From<Error> for Status`.
//! Both services share these handlers (SPEC §7: same messages, same
//! implementation).

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt as _};
use tonic::{Request, Response, Status};

use agenttower::pb;

use super::convert;
use super::peer::Peer;
use crate::error::{Error, Result};
use crate::events::watch::Start;
use crate::service::Services;
use crate::service::agents::AdoptPane;
use crate::service::create::CreateLayout;
use crate::service::recreate::Recreate;
use crate::store::events::EventFilter;
use crate::store::models::{EventRow, RouteRow};
use crate::store::{agents, containers, layouts, panes, routes};

/// The shared implementation behind both services.
#[derive(Clone)]
pub(crate) struct Api {
    svc: Arc<Services>,
}

/// The event stream type of WatchEvents.
pub(crate) type WatchEventsStream =
    Pin<Box<dyn Stream<Item = std::result::Result<pb::WatchEventsResponse, Status>> + Send>>;

fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// `not_implemented`: for M8, reserved for good in v1, and for methods whose
/// issue has not landed yet.
fn not_implemented() -> Error {
    Error::NotImplemented {
        reserved_since: "agenttower.v1".into(),
    }
}

impl Api {
    pub(crate) fn new(svc: Arc<Services>) -> Self {
        Api { svc }
    }

    /// The container a call aimed at one container acts on. An empty
    /// `container_id` means the caller's own: `local` for the host, its own
    /// container for a container peer. A container peer naming any other
    /// container, registered or not, gets `host_only` (no oracle).
    async fn target(&self, peer: &Peer, input: String) -> Result<String> {
        let Some(own) = peer.own() else {
            return Ok(if input.is_empty() {
                containers::LOCAL_ID.to_string()
            } else {
                input
            });
        };
        if input.is_empty() {
            return Ok(own.to_string());
        }
        match self.svc.container(&input).await {
            Ok(c) if c.id == own => Ok(c.id),
            Err(e @ Error::Validation { .. }) => Err(e),
            _ => Err(Error::HostOnly),
        }
    }

    /// The container filter a list call runs with: whatever the host asked;
    /// for a container peer its own container, or `None` (an empty answer)
    /// when it asked for another one. Lists are scoped silently.
    async fn list_filter(
        &self,
        peer: &Peer,
        requested: Option<String>,
    ) -> Result<Option<Option<String>>> {
        let Some(own) = peer.own() else {
            return Ok(Some(requested));
        };
        let Some(input) = requested else {
            return Ok(Some(Some(own.to_string())));
        };
        Ok(match self.svc.container(&input).await {
            Ok(c) if c.id == own => Some(Some(c.id)),
            Err(e @ Error::Validation { .. }) => return Err(e),
            _ => None,
        })
    }

    /// `host_only` when a container peer names something of another
    /// container. Unknown ids pass, so the call answers its own not-found
    /// (ids are random UUIDv7s: guessing one is no enumeration).
    async fn guard(&self, peer: &Peer, what: Owned<&str>) -> Result<()> {
        let Some(own) = peer.own() else {
            return Ok(());
        };
        let own = own.to_string();
        let what = what.owned();
        let allowed = self
            .svc
            .store
            .read(move |conn| {
                Ok(match what {
                    Owned::Layout(id) => layouts::get(conn, &id)?.map(|l| l.container_id == own),
                    Owned::Pane(id) => match panes::get(conn, &id)? {
                        Some(p) => Some(p.container_id == own),
                        // RemovePane also takes an adopted agent's id.
                        None => agents::get(conn, &id)?.map(|a| a.container_id == own),
                    },
                    Owned::Agent(id) => agents::get(conn, &id)?.map(|a| a.container_id == own),
                    Owned::Route(id) => match routes::list(conn, None)?
                        .into_iter()
                        .find(|r| r.route_id == id)
                    {
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

    async fn create_layout(
        &self,
        peer: &Peer,
        r: pb::CreateLayoutRequest,
    ) -> Result<pb::CreateLayoutResponse> {
        let req = CreateLayout {
            container_id: self.target(peer, r.container_id).await?,
            template_name: r.template_name,
            tmux_session_name: r.tmux_session_name,
            overrides: r.launch_command_overrides.into_iter().collect(),
            idempotency_key: opt(r.idempotency_key),
        };
        let (view, replay) = self.svc.create_layout(req).await?;
        let layout = convert::layout_view(view);
        Ok(pb::CreateLayoutResponse {
            layout_id: layout.layout_id.clone(),
            state: layout.state,
            panes: layout.panes.clone(),
            layout: Some(layout),
            replay,
        })
    }

    async fn list_layouts(
        &self,
        peer: &Peer,
        r: pb::ListLayoutsRequest,
    ) -> Result<pb::ListLayoutsResponse> {
        let states = convert::state_filter("states", r.state, &r.states)?;
        let Some(container) = self.list_filter(peer, opt(r.container_id)).await? else {
            return Ok(pb::ListLayoutsResponse::default());
        };
        let page = self
            .svc
            .list_layouts(container, states, r.page_size, &r.page_token)
            .await?;
        Ok(pb::ListLayoutsResponse {
            layouts: page
                .items
                .into_iter()
                .map(|l| convert::layout(l, vec![]))
                .collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn get_layout(
        &self,
        peer: &Peer,
        r: pb::GetLayoutRequest,
    ) -> Result<pb::GetLayoutResponse> {
        self.guard(peer, Owned::Layout(&r.layout_id)).await?;
        let view = self
            .svc
            .get_layout(&r.layout_id, r.include_terminal_panes)
            .await?;
        let layout = convert::layout_view(view);
        Ok(pb::GetLayoutResponse {
            panes: layout.panes.clone(),
            layout: Some(layout),
        })
    }

    async fn list_panes(
        &self,
        peer: &Peer,
        r: pb::ListPanesRequest,
    ) -> Result<pb::ListPanesResponse> {
        let states = convert::state_filter("states", r.state, &r.states)?;
        let Some(container) = self.list_filter(peer, opt(r.container_id)).await? else {
            return Ok(pb::ListPanesResponse::default());
        };
        let page = self
            .svc
            .list_panes(
                container,
                opt(r.layout_id),
                states,
                r.page_size,
                &r.page_token,
            )
            .await?;
        Ok(pb::ListPanesResponse {
            panes: page.items.into_iter().map(convert::pane).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn get_pane(&self, peer: &Peer, r: pb::GetPaneRequest) -> Result<pb::GetPaneResponse> {
        self.guard(peer, Owned::Pane(&r.pane_id)).await?;
        let (pane, chain) = self
            .svc
            .get_pane(&r.pane_id, r.include_predecessor_chain)
            .await?;
        Ok(pb::GetPaneResponse {
            pane: Some(convert::pane(pane)),
            predecessor_chain: chain.into_iter().map(convert::pane).collect(),
        })
    }

    async fn remove_pane(
        &self,
        peer: &Peer,
        r: pb::RemovePaneRequest,
    ) -> Result<pb::RemovePaneResponse> {
        self.guard(peer, Owned::Pane(&r.pane_id)).await?;
        let (pane, changed) = self.svc.remove_pane(&r.pane_id).await?;
        Ok(pb::RemovePaneResponse {
            pane: Some(convert::pane(pane)),
            changed,
        })
    }

    async fn recreate_pane(
        &self,
        peer: &Peer,
        r: pb::RecreatePaneRequest,
    ) -> Result<pb::RecreatePaneResponse> {
        self.guard(peer, Owned::Pane(&r.predecessor_pane_id))
            .await?;
        let (pane, replay) = self
            .svc
            .recreate_pane(Recreate {
                predecessor_pane_id: r.predecessor_pane_id,
                launch_command_override: opt(r.launch_command_override),
                idempotency_key: opt(r.idempotency_key),
            })
            .await?;
        Ok(pb::RecreatePaneResponse {
            pane: Some(convert::pane(pane)),
            replay,
        })
    }

    async fn promote_from_adopted(
        &self,
        _peer: &Peer,
        _: pb::PromoteFromAdoptedRequest,
    ) -> Result<pb::PromoteFromAdoptedResponse> {
        // SPEC §7 M8: reserved in v1, never implemented.
        Err(not_implemented())
    }

    async fn remove_layout(
        &self,
        peer: &Peer,
        r: pb::RemoveLayoutRequest,
    ) -> Result<pb::RemoveLayoutResponse> {
        self.guard(peer, Owned::Layout(&r.layout_id)).await?;
        let view = self.svc.remove_layout(&r.layout_id).await?;
        Ok(pb::RemoveLayoutResponse {
            layout: Some(convert::layout_view(view)),
        })
    }

    async fn watch_events(
        &self,
        peer: &Peer,
        r: pb::WatchEventsRequest,
    ) -> Result<WatchEventsStream> {
        let event_types = convert::event_type_filter(&r.event_types)?;
        let Some(container_id) = self.list_filter(peer, opt(r.container_id)).await? else {
            // Another container's events: a stream that never yields.
            return Ok(Box::pin(tokio_stream::pending()));
        };
        let filter = EventFilter {
            container_id,
            layout_id: opt(r.layout_id),
            pane_id: opt(r.pane_id),
            event_types,
        };
        let start = if r.from_now {
            Start::Now
        } else {
            Start::After(i64::try_from(r.after_sequence).unwrap_or(i64::MAX))
        };
        let events = self.svc.watch_events(start, filter).await?;
        Ok(Box::pin(ReceiverStream::new(events).map(|item| {
            item.map(|e| pb::WatchEventsResponse {
                item: Some(pb::watch_events_response::Item::Event(convert::event(
                    EventRow::clone(&e),
                ))),
            })
            .map_err(Status::from)
        })))
    }

    async fn list_events(
        &self,
        peer: &Peer,
        r: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse> {
        let event_types = convert::event_type_filter(&r.event_types)?;
        let Some(container_id) = self.list_filter(peer, opt(r.container_id)).await? else {
            return Ok(pb::ListEventsResponse::default());
        };
        let filter = EventFilter {
            container_id,
            layout_id: opt(r.layout_id),
            pane_id: opt(r.pane_id),
            event_types,
        };
        let page = self
            .svc
            .list_events(
                r.after_sequence,
                filter,
                (r.page_size, &r.page_token),
                r.newest_first,
            )
            .await?;
        Ok(pb::ListEventsResponse {
            events: page.items.into_iter().map(convert::event).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn list_containers(
        &self,
        peer: &Peer,
        _: pb::ListContainersRequest,
    ) -> Result<pb::ListContainersResponse> {
        let rows = self.svc.store.read(crate::store::containers::list).await?;
        Ok(pb::ListContainersResponse {
            containers: rows
                .into_iter()
                .filter(|c| peer.may_touch(&c.id).is_ok())
                .map(convert::container)
                .collect(),
            next_page_token: String::new(),
        })
    }

    async fn scan_containers(
        &self,
        peer: &Peer,
        _: pb::ScanContainersRequest,
    ) -> Result<pb::ScanContainersResponse> {
        // Docker's view of the host is the host's business.
        peer.require_host()?;
        let scan = self.svc.scan_containers().await?;
        Ok(pb::ScanContainersResponse {
            containers: scan
                .containers
                .into_iter()
                .map(convert::container)
                .collect(),
            warnings: scan.warnings,
        })
    }

    async fn list_agents(
        &self,
        peer: &Peer,
        r: pb::ListAgentsRequest,
    ) -> Result<pb::ListAgentsResponse> {
        let Some(container) = self.list_filter(peer, opt(r.container_id)).await? else {
            return Ok(pb::ListAgentsResponse::default());
        };
        let page = self
            .svc
            .list_agents(
                container,
                convert::origin_filter(r.origin)?,
                r.include_unregistered,
                r.page_size,
                &r.page_token,
            )
            .await?;
        Ok(pb::ListAgentsResponse {
            agents: page.items.into_iter().map(convert::agent).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn adopt_pane(
        &self,
        peer: &Peer,
        r: pb::AdoptPaneRequest,
    ) -> Result<pb::AdoptPaneResponse> {
        let agent = self
            .svc
            .adopt_pane(AdoptPane {
                container_id: self.target(peer, r.container_id).await?,
                tmux_pane_id: r.tmux_pane_id,
                role: r.role,
                capability: r.capability,
                label: r.label,
            })
            .await?;
        Ok(pb::AdoptPaneResponse {
            agent: Some(convert::agent(agent)),
        })
    }

    async fn scan_panes(
        &self,
        peer: &Peer,
        r: pb::ScanPanesRequest,
    ) -> Result<pb::ScanPanesResponse> {
        let container = self.target(peer, r.container_id).await?;
        let panes = self.svc.scan_panes(&container).await?;
        Ok(pb::ScanPanesResponse {
            panes: panes.into_iter().map(convert::scanned_pane).collect(),
        })
    }

    async fn create_route(
        &self,
        peer: &Peer,
        r: pb::CreateRouteRequest,
    ) -> Result<pb::CreateRouteResponse> {
        self.guard(peer, Owned::Agent(&r.source_agent_id)).await?;
        self.guard(peer, Owned::Agent(&r.target_agent_id)).await?;
        let route = self
            .svc
            .create_route(&r.source_agent_id, &r.target_agent_id)
            .await?;
        Ok(pb::CreateRouteResponse {
            route: Some(convert::route(route)),
        })
    }

    async fn list_routes(
        &self,
        peer: &Peer,
        r: pb::ListRoutesRequest,
    ) -> Result<pb::ListRoutesResponse> {
        let mut routes = self.svc.list_routes(opt(r.agent_id)).await?;
        if let Some(own) = peer.own() {
            let own = own.to_string();
            routes = self
                .svc
                .store
                .read(move |conn| {
                    let mut mine = Vec::new();
                    for route in routes {
                        if route_within(conn, &route, &own)? {
                            mine.push(route);
                        }
                    }
                    Ok(mine)
                })
                .await?;
        }
        Ok(pb::ListRoutesResponse {
            routes: routes.into_iter().map(convert::route).collect(),
        })
    }

    async fn delete_route(
        &self,
        peer: &Peer,
        r: pb::DeleteRouteRequest,
    ) -> Result<pb::DeleteRouteResponse> {
        self.guard(peer, Owned::Route(&r.route_id)).await?;
        self.svc.delete_route(&r.route_id).await?;
        Ok(pb::DeleteRouteResponse {})
    }

    async fn send_input(
        &self,
        peer: &Peer,
        r: pb::SendInputRequest,
    ) -> Result<pb::SendInputResponse> {
        self.guard(peer, Owned::Agent(&r.agent_id)).await?;
        self.svc
            .send_input(&r.agent_id, &r.text, r.no_enter)
            .await?;
        Ok(pb::SendInputResponse {})
    }

    async fn list_templates(
        &self,
        _peer: &Peer,
        _: pb::ListTemplatesRequest,
    ) -> Result<pb::ListTemplatesResponse> {
        let catalog = self.svc.catalog().await?;
        Ok(pb::ListTemplatesResponse {
            templates: catalog
                .templates
                .into_values()
                .map(convert::template)
                .collect(),
            warnings: catalog.warnings,
        })
    }

    async fn list_launch_profiles(
        &self,
        _peer: &Peer,
        _: pb::ListLaunchProfilesRequest,
    ) -> Result<pb::ListLaunchProfilesResponse> {
        let catalog = self.svc.catalog().await?;
        Ok(pb::ListLaunchProfilesResponse {
            profiles: catalog
                .profiles
                .into_values()
                .map(convert::profile)
                .collect(),
            warnings: catalog.warnings,
        })
    }
}

impl Api {
    async fn get_version(
        &self,
        _peer: &Peer,
        _: pb::GetVersionRequest,
    ) -> Result<pb::GetVersionResponse> {
        Ok(pb::GetVersionResponse {
            daemon_version: super::DAEMON_VERSION.to_string(),
            api_version: super::API_VERSION.to_string(),
            schema_version: crate::store::schema_version(),
        })
    }
}

/// Something a request names by id, whose container the peer check needs.
enum Owned<S = String> {
    Layout(S),
    Pane(S),
    Agent(S),
    Route(S),
}

impl Owned<&str> {
    fn owned(&self) -> Owned<String> {
        match *self {
            Owned::Layout(id) => Owned::Layout(id.to_string()),
            Owned::Pane(id) => Owned::Pane(id.to_string()),
            Owned::Agent(id) => Owned::Agent(id.to_string()),
            Owned::Route(id) => Owned::Route(id.to_string()),
        }
    }
}

/// Whether both ends of a route are agents of container `own`.
fn route_within(conn: &mut diesel::SqliteConnection, route: &RouteRow, own: &str) -> Result<bool> {
    for agent in [&route.source_agent_id, &route.target_agent_id] {
        if agents::get(conn, agent)?.is_some_and(|a| a.container_id != own) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Implements a generated service trait by delegating every method to `Api`.
/// The methods are listed once, in `with_api_methods!`.
macro_rules! serve_with_api {
    ($wrapper:ident, $service:path, $host_only:expr; $($method:ident($req:ident) -> $resp:ty),+ $(,)?) => {
        /// One gRPC surface over the shared `Api`.
        #[derive(Clone)]
        pub(crate) struct $wrapper(pub(crate) Api);

        #[tonic::async_trait]
        impl $service for $wrapper {
            type WatchEventsStream = WatchEventsStream;
            $(
                async fn $method(
                    &self,
                    request: Request<pb::$req>,
                ) -> std::result::Result<Response<$resp>, Status> {
                    let peer = Peer::of(&self.0.svc, &request).await?;
                    if $host_only {
                        peer.require_host()?;
                    }
                    self.0
                        .$method(&peer, request.into_inner())
                        .await
                        .map(Response::new)
                        .map_err(Status::from)
                }
            )+
        }
    };
}

/// Calls `serve_with_api!` with every method of SPEC §7.
macro_rules! with_api_methods {
    ($wrapper:ident, $service:path, $host_only:expr) => {
        serve_with_api!($wrapper, $service, $host_only;
            create_layout(CreateLayoutRequest) -> pb::CreateLayoutResponse,
            list_layouts(ListLayoutsRequest) -> pb::ListLayoutsResponse,
            get_layout(GetLayoutRequest) -> pb::GetLayoutResponse,
            list_panes(ListPanesRequest) -> pb::ListPanesResponse,
            get_pane(GetPaneRequest) -> pb::GetPaneResponse,
            remove_pane(RemovePaneRequest) -> pb::RemovePaneResponse,
            recreate_pane(RecreatePaneRequest) -> pb::RecreatePaneResponse,
            promote_from_adopted(PromoteFromAdoptedRequest) -> pb::PromoteFromAdoptedResponse,
            remove_layout(RemoveLayoutRequest) -> pb::RemoveLayoutResponse,
            watch_events(WatchEventsRequest) -> WatchEventsStream,
            list_events(ListEventsRequest) -> pb::ListEventsResponse,
            list_containers(ListContainersRequest) -> pb::ListContainersResponse,
            scan_containers(ScanContainersRequest) -> pb::ScanContainersResponse,
            list_agents(ListAgentsRequest) -> pb::ListAgentsResponse,
            adopt_pane(AdoptPaneRequest) -> pb::AdoptPaneResponse,
            scan_panes(ScanPanesRequest) -> pb::ScanPanesResponse,
            create_route(CreateRouteRequest) -> pb::CreateRouteResponse,
            list_routes(ListRoutesRequest) -> pb::ListRoutesResponse,
            delete_route(DeleteRouteRequest) -> pb::DeleteRouteResponse,
            send_input(SendInputRequest) -> pb::SendInputResponse,
            list_templates(ListTemplatesRequest) -> pb::ListTemplatesResponse,
            list_launch_profiles(ListLaunchProfilesRequest) -> pb::ListLaunchProfilesResponse,
            get_version(GetVersionRequest) -> pb::GetVersionResponse,
        );
    };
}

// Bench-container clients call ManagedSessions, each within its own
// container; AppManagedSessions is the host app's bridge (SPEC §10).
with_api_methods!(
    ManagedSessions,
    pb::managed_sessions_server::ManagedSessions,
    false
);
with_api_methods!(
    AppManagedSessions,
    pb::app_managed_sessions_server::AppManagedSessions,
    true
);
