//! ResolveName on the wire: decode the kind, resolve, and answer the object
//! with its container (service::names has the rules).

use agenttower::pb;

use super::handlers::Api;
use super::peer::Peer;
use super::{convert, enums};
use crate::error::{Error, Result};
use crate::service::names::{Found, Matched};

impl Api {
    pub(super) async fn resolve_name(
        &self,
        peer: &Peer,
        r: pb::ResolveNameRequest,
    ) -> Result<pb::ResolveNameResponse> {
        let kind = enums::name_kind(r.kind)
            .ok_or_else(|| Error::validation("kind", "must be layout, pane, agent or route"))?;
        let resolved = self.svc.resolve_name(peer, kind, r.name).await?;
        let mut out = pb::ResolveNameResponse {
            kind: r.kind,
            r#match: match resolved.matched {
                Matched::Id => pb::NameMatch::Id,
                Matched::Name => pb::NameMatch::Name,
                Matched::IdPrefix => pb::NameMatch::IdPrefix,
            } as i32,
            container: resolved.container.map(convert::container),
            ..Default::default()
        };
        match resolved.found {
            Found::Layout(l) => {
                out.id = l.id.clone();
                out.layout = Some(convert::layout(l, vec![]));
            }
            Found::Pane(p, agent) => {
                out.id = p.id.clone();
                out.pane = Some(pb::Pane {
                    activity: agent.as_ref().map(convert::activity),
                    ..convert::pane(p)
                });
                out.agent = agent.map(convert::agent);
            }
            Found::Agent(a, pane) => {
                out.id = a.agent_id.clone();
                out.pane = pane.map(|p| pb::Pane {
                    activity: Some(convert::activity(&a)),
                    ..convert::pane(p)
                });
                out.agent = Some(convert::agent(a));
            }
            Found::Route(route) => {
                out.id = route.route_id.clone();
                out.route = Some(convert::route(route));
            }
        }
        Ok(out)
    }
}
