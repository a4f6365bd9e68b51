//! `route create|list|delete`: links between agents, named by label.

use agenttower::client::ManagedSessionsServiceClient;
use agenttower::pb;
use agenttower::time;
use clap::Subcommand;

use crate::CliResult;
use crate::output::{Out, print_table};
use crate::resolve;

#[derive(Debug, Subcommand)]
pub(crate) enum RouteCmd {
    /// Link two registered agents.
    Create {
        /// The source agent: its label, id or unique id prefix.
        source: String,
        /// The target agent: its label, id or unique id prefix.
        target: String,
    },
    /// List routes, optionally those touching one agent.
    List {
        /// Only routes from or to this agent (label, id or unique id
        /// prefix).
        #[arg(long)]
        agent: Option<String>,
    },
    /// Delete a route.
    Delete {
        /// The route's id or a unique prefix of it (routes have no name).
        route: String,
    },
}

pub(crate) async fn run(
    cmd: RouteCmd,
    mut c: ManagedSessionsServiceClient,
    out: &Out,
) -> CliResult {
    let routes = match cmd {
        RouteCmd::Create { source, target } => {
            let source_agent_id = resolve::id(&mut c, pb::NameKind::Agent, &source).await?;
            let target_agent_id = resolve::id(&mut c, pb::NameKind::Agent, &target).await?;
            c.create_route(pb::CreateRouteRequest {
                source_agent_id,
                target_agent_id,
            })
            .await?
            .into_inner()
            .route
            .into_iter()
            .collect::<Vec<_>>()
        }
        RouteCmd::List { agent } => {
            let agent_id = resolve::filter(&mut c, pb::NameKind::Agent, agent.as_deref()).await?;
            c.list_routes(pb::ListRoutesRequest { agent_id })
                .await?
                .into_inner()
                .routes
        }
        RouteCmd::Delete { route } => {
            let route_id = resolve::id(&mut c, pb::NameKind::Route, &route).await?;
            let r = c
                .delete_route(pb::DeleteRouteRequest { route_id })
                .await?
                .into_inner();
            out.show(&r, || println!("deleted"));
            return Ok(());
        }
    };
    let r = pb::ListRoutesResponse { routes };
    out.show(&r, || {
        print_table(
            &["ROUTE", "SOURCE", "TARGET", "CREATED"],
            r.routes.iter().map(|x| {
                vec![
                    x.route_id.clone(),
                    x.source_agent_id.clone(),
                    x.target_agent_id.clone(),
                    time::rfc3339(x.create_time.as_ref()),
                ]
            }),
        )
    });
    Ok(())
}
