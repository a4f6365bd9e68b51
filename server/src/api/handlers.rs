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

use super::peer::Peer;
use super::{convert, enums};
use crate::error::{Error, Result};
use crate::events::watch::Start;
use crate::service::Services;
use crate::service::agents::AdoptPane;
use crate::service::create::{CreateLayout, LayoutView};
use crate::service::records::{AgentRow as AgentRecord, PaneRow as PaneRecord};
use crate::service::recreate::Recreate;
use crate::service::scope::Owned;

/// The shared implementation behind both services.
#[derive(Clone)]
pub(crate) struct Api {
    pub(super) svc: Arc<Services>,
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

    /// The filter of a WatchEvents or ListEvents request, scoped for the
    /// caller; `None` when it may see nothing.
    async fn event_filter(
        &self,
        peer: &Peer,
        container_id: String,
        layout_id: String,
        pane_id: String,
        event_types: &[i32],
    ) -> Result<Option<crate::service::reads::EventFilter>> {
        let event_types = convert::event_type_filter(event_types)?;
        self.svc
            .event_filter(
                peer,
                opt(container_id),
                opt(layout_id),
                opt(pane_id),
                event_types,
            )
            .await
    }

    async fn create_layout(
        &self,
        peer: &Peer,
        r: pb::CreateLayoutRequest,
    ) -> Result<pb::CreateLayoutResponse> {
        let req = CreateLayout {
            container_id: self.svc.target(peer, r.container_id).await?,
            template_name: r.template_name,
            tmux_session_name: r.tmux_session_name,
            overrides: r.launch_command_overrides.into_iter().collect(),
            idempotency_key: opt(r.idempotency_key),
        };
        let (view, replay) = self.svc.create_layout(req).await?;
        Ok(pb::CreateLayoutResponse {
            layout: Some(self.layout_out(view).await?),
            replay,
        })
    }

    async fn list_layouts(
        &self,
        peer: &Peer,
        r: pb::ListLayoutsRequest,
    ) -> Result<pb::ListLayoutsResponse> {
        let states = convert::state_filter(&r.states, enums::layout_state)?;
        let scope = self.svc.scope(peer, opt(r.container_id)).await?;
        let page = self
            .svc
            .list_layouts(&scope, states, r.page_size, &r.page_token)
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
        let view = self
            .svc
            .get_layout(peer, &r.layout_id, r.include_terminal_panes)
            .await?;
        Ok(pb::GetLayoutResponse {
            layout: Some(self.layout_out(view).await?),
        })
    }

    async fn list_panes(
        &self,
        peer: &Peer,
        r: pb::ListPanesRequest,
    ) -> Result<pb::ListPanesResponse> {
        let states = convert::state_filter(&r.states, enums::pane_state)?;
        let scope = self.svc.scope(peer, opt(r.container_id)).await?;
        let page = self
            .svc
            .list_panes(&scope, opt(r.layout_id), states, r.page_size, &r.page_token)
            .await?;
        Ok(pb::ListPanesResponse {
            panes: self.panes_out(page.items).await?,
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn get_pane(&self, peer: &Peer, r: pb::GetPaneRequest) -> Result<pb::GetPaneResponse> {
        let (pane, chain) = self
            .svc
            .get_pane(peer, &r.pane_id, r.include_predecessor_chain)
            .await?;
        let mut panes = self.panes_out(vec![pane]).await?;
        Ok(pb::GetPaneResponse {
            pane: panes.pop(),
            predecessor_chain: self.panes_out(chain).await?,
        })
    }

    async fn remove_pane(
        &self,
        peer: &Peer,
        r: pb::RemovePaneRequest,
    ) -> Result<pb::RemovePaneResponse> {
        self.svc.guard(peer, Owned::Pane(r.pane_id.clone())).await?;
        let (pane, changed) = self.svc.remove_pane(&r.pane_id).await?;
        Ok(pb::RemovePaneResponse {
            pane: self.panes_out(vec![pane]).await?.pop(),
            changed,
        })
    }

    async fn recreate_pane(
        &self,
        peer: &Peer,
        r: pb::RecreatePaneRequest,
    ) -> Result<pb::RecreatePaneResponse> {
        self.svc
            .guard(peer, Owned::Pane(r.predecessor_pane_id.clone()))
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
            pane: self.panes_out(vec![pane]).await?.pop(),
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
        let view = self.svc.remove_layout(peer, &r.layout_id).await?;
        Ok(pb::RemoveLayoutResponse {
            layout: Some(self.layout_out(view).await?),
        })
    }

    async fn watch_events(
        &self,
        peer: &Peer,
        r: pb::WatchEventsRequest,
    ) -> Result<WatchEventsStream> {
        let filter = self
            .event_filter(peer, r.container_id, r.layout_id, r.pane_id, &r.event_types)
            .await?;
        let Some(filter) = filter else {
            // Another container's events: a stream that never yields.
            return Ok(Box::pin(tokio_stream::pending()));
        };
        let start = if r.from_now {
            Start::Now
        } else {
            Start::After(i64::try_from(r.after_sequence).unwrap_or(i64::MAX))
        };
        let events = self.svc.watch_events(start, filter).await?;
        Ok(Box::pin(ReceiverStream::new(events).map(|item| {
            item.map(|e| pb::WatchEventsResponse {
                item: Some(pb::watch_events_response::Item::Event(convert::event(&e))),
            })
            .map_err(Status::from)
        })))
    }

    async fn list_events(
        &self,
        peer: &Peer,
        r: pb::ListEventsRequest,
    ) -> Result<pb::ListEventsResponse> {
        let filter = self
            .event_filter(peer, r.container_id, r.layout_id, r.pane_id, &r.event_types)
            .await?;
        let Some(filter) = filter else {
            return Ok(pb::ListEventsResponse::default());
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
            events: page.items.iter().map(convert::event).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
        })
    }

    async fn list_containers(
        &self,
        peer: &Peer,
        r: pb::ListContainersRequest,
    ) -> Result<pb::ListContainersResponse> {
        let scope = self.svc.scope(peer, None).await?;
        let page = self
            .svc
            .list_containers(&scope, r.page_size, &r.page_token)
            .await?;
        Ok(pb::ListContainersResponse {
            containers: page.items.into_iter().map(convert::container).collect(),
            next_page_token: page.next_page_token.unwrap_or_default(),
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
        let scope = self.svc.scope(peer, opt(r.container_id)).await?;
        let page = self
            .svc
            .list_agents(
                &scope,
                convert::origin_filter(r.origin)?,
                convert::activity_filter(&r.activities)?,
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
                container_id: self.svc.target(peer, r.container_id).await?,
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

    async fn report_activity(
        &self,
        peer: &Peer,
        r: pb::ReportActivityRequest,
    ) -> Result<pb::ReportActivityResponse> {
        let activity = enums::activity(r.activity).ok_or_else(|| {
            Error::validation("activity", "must be working, waiting_for_input or idle")
        })?;
        let agent_id = self.svc.reporting_agent(peer, peer.pid()).await?;
        let agent = self
            .svc
            .report_activity(&agent_id, activity, opt(r.message))
            .await?;
        Ok(pb::ReportActivityResponse {
            agent: Some(convert::agent(agent)),
        })
    }

    async fn scan_panes(
        &self,
        peer: &Peer,
        r: pb::ScanPanesRequest,
    ) -> Result<pb::ScanPanesResponse> {
        let container = self.svc.target(peer, r.container_id).await?;
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
        for agent in [&r.source_agent_id, &r.target_agent_id] {
            self.svc.guard(peer, Owned::Agent(agent.clone())).await?;
        }
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
        let routes = self.svc.list_routes(opt(r.agent_id)).await?;
        let routes = self.svc.scoped_routes(peer, routes).await?;
        Ok(pb::ListRoutesResponse {
            routes: routes.into_iter().map(convert::route).collect(),
        })
    }

    async fn delete_route(
        &self,
        peer: &Peer,
        r: pb::DeleteRouteRequest,
    ) -> Result<pb::DeleteRouteResponse> {
        self.svc
            .guard(peer, Owned::Route(r.route_id.clone()))
            .await?;
        self.svc.delete_route(&r.route_id).await?;
        Ok(pb::DeleteRouteResponse {})
    }

    async fn send_input(
        &self,
        peer: &Peer,
        r: pb::SendInputRequest,
    ) -> Result<pb::SendInputResponse> {
        self.svc
            .guard(peer, Owned::Agent(r.agent_id.clone()))
            .await?;
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
    /// Panes on the wire, each with its agent's activity (one read).
    async fn panes_out(&self, rows: Vec<PaneRecord>) -> Result<Vec<pb::Pane>> {
        let ids: Vec<String> = rows.iter().filter_map(|p| p.agent_id.clone()).collect();
        let agents = self.svc.agents_by_id(ids).await?;
        Ok(panes_with_activity(rows, &agents))
    }

    /// A layout with its panes on the wire, with their activity (read with
    /// the panes).
    async fn layout_out(&self, view: LayoutView) -> Result<pb::Layout> {
        Ok(pb::Layout {
            panes: panes_with_activity(view.panes, &view.agents),
            ..convert::layout(view.layout, vec![])
        })
    }

    async fn get_version(
        &self,
        _peer: &Peer,
        _: pb::GetVersionRequest,
    ) -> Result<pb::GetVersionResponse> {
        Ok(pb::GetVersionResponse {
            daemon_version: super::DAEMON_VERSION.to_string(),
            api_version: super::API_VERSION.to_string(),
            schema_version: self.svc.schema_version(),
        })
    }
}

/// Panes on the wire, each with the activity of its agent in `agents`.
fn panes_with_activity(
    rows: Vec<PaneRecord>,
    agents: &std::collections::HashMap<String, AgentRecord>,
) -> Vec<pb::Pane> {
    rows.into_iter()
        .map(|p| {
            let activity = p
                .agent_id
                .as_ref()
                .and_then(|id| agents.get(id))
                .map(convert::activity);
            pb::Pane {
                activity,
                ..convert::pane(p)
            }
        })
        .collect()
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
            report_activity(ReportActivityRequest) -> pb::ReportActivityResponse,
            scan_panes(ScanPanesRequest) -> pb::ScanPanesResponse,
            create_route(CreateRouteRequest) -> pb::CreateRouteResponse,
            list_routes(ListRoutesRequest) -> pb::ListRoutesResponse,
            delete_route(DeleteRouteRequest) -> pb::DeleteRouteResponse,
            send_input(SendInputRequest) -> pb::SendInputResponse,
            list_templates(ListTemplatesRequest) -> pb::ListTemplatesResponse,
            list_launch_profiles(ListLaunchProfilesRequest) -> pb::ListLaunchProfilesResponse,
            get_version(GetVersionRequest) -> pb::GetVersionResponse,
            resolve_name(ResolveNameRequest) -> pb::ResolveNameResponse,
        );
    };
}

// Bench-container clients call ManagedSessionsService, each within its own
// container; AppManagedSessionsService is the host app's bridge (SPEC §10).
with_api_methods!(
    ManagedSessions,
    pb::managed_sessions_service_server::ManagedSessionsService,
    false
);
with_api_methods!(
    AppManagedSessions,
    pb::app_managed_sessions_service_server::AppManagedSessionsService,
    true
);
