//! Minimal routes between registered agents (removed with their agents).

use super::{Services, validate};
use crate::error::{Error, Result};
use crate::store::models::RouteRow;
use crate::store::{self, agents, constraint_violation, routes};

impl Services {
    /// CreateRoute between two registered agents.
    pub(crate) async fn create_route(&self, source: &str, target: &str) -> Result<RouteRow> {
        validate::field_token("source_agent_id", source)?;
        validate::field_token("target_agent_id", target)?;
        if source == target {
            return Err(Error::validation(
                "target_agent_id",
                "a route needs two different agents",
            ));
        }
        let row = RouteRow {
            route_id: store::new_id(),
            source_agent_id: source.to_string(),
            target_agent_id: target.to_string(),
            created_at: store::now(),
        };
        let insert = row.clone();
        self.store
            .write(move |tx| {
                for (field, id) in [
                    ("source_agent_id", &insert.source_agent_id),
                    ("target_agent_id", &insert.target_agent_id),
                ] {
                    if !agents::get(tx.conn, id)?.is_some_and(|a| a.registered) {
                        return Err(Error::validation(
                            field,
                            format!("no registered agent {id}"),
                        ));
                    }
                }
                routes::insert(tx.conn, &insert).map_err(|e| match constraint_violation(&e) {
                    Some(_) => Error::validation("target_agent_id", "this route already exists"),
                    None => Error::internal(e),
                })?;
                Ok(())
            })
            .await?;
        Ok(row)
    }

    /// ListRoutes, optionally those touching one agent.
    pub(crate) async fn list_routes(&self, agent: Option<String>) -> Result<Vec<RouteRow>> {
        if let Some(a) = &agent {
            validate::field_token("agent_id", a)?;
        }
        self.store
            .read(move |conn| routes::list(conn, agent.as_deref()))
            .await
    }

    /// DeleteRoute.
    pub(crate) async fn delete_route(&self, route_id: &str) -> Result<()> {
        validate::field_token("route_id", route_id)?;
        let id = route_id.to_string();
        let deleted = self
            .store
            .write(move |tx| routes::delete(tx.conn, &id))
            .await?;
        if deleted {
            Ok(())
        } else {
            Err(Error::validation(
                "route_id",
                format!("no route {route_id}"),
            ))
        }
    }
}
