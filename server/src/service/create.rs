//! M1 CreateLayout: validate everything synchronously, insert the layout and
//! its panes (in `creating`, with pending markers and events) in one
//! transaction that also counts capacity, then queue the spawn pipeline on
//! the container's FIFO and answer at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::lifecycle::{count, pane_event};
use super::pipeline::{self, Launch, PanePlan, SpawnMode};
use super::{Services, validate};
use crate::config::catalog::{self, Catalog, SHELL_PROFILE};
use crate::domain::event::{LayoutCreated, PaneCreated, PendingMarkerSet, ResolvedLaunch};
use crate::domain::{Actor, PaneState};
use crate::error::{Error, Result};
use crate::events::redact_env;
use crate::runtime::{Runtime, tmux};
use crate::store::events::NewEvent;
use crate::store::models::{AgentRow, LayoutRow, PaneRow};
use crate::store::{self, Tx, agents, layouts, panes};

/// A CreateLayout request after decoding.
#[derive(Debug, Clone)]
pub(crate) struct CreateLayout {
    pub container_id: String,
    pub template_name: String,
    pub tmux_session_name: String,
    /// `role:label` → launch profile name.
    pub overrides: BTreeMap<String, String>,
    pub idempotency_key: Option<String>,
}

/// A layout with its panes.
#[derive(Debug, Clone)]
pub(crate) struct LayoutView {
    pub layout: LayoutRow,
    pub panes: Vec<PaneRow>,
    /// The agents behind its panes by agent id, read with them.
    pub agents: HashMap<String, AgentRow>,
}

impl CreateLayout {
    fn validate(&self) -> Result<()> {
        validate::field_catalog_name("template_name", &self.template_name)?;
        validate::session_name("tmux_session_name", &self.tmux_session_name)?;
        if let Some(key) = &self.idempotency_key {
            validate::field_identifier("idempotency_key", key)?;
        }
        if self.overrides.len() > validate::MAX_MAP_ENTRIES {
            return Err(Error::validation(
                "launch_command_overrides",
                format!("more than {} entries", validate::MAX_MAP_ENTRIES),
            ));
        }
        for (key, profile) in &self.overrides {
            let (role, label) = key.split_once(':').ok_or_else(|| {
                Error::validation(
                    "launch_command_overrides",
                    format!("key {key:?} is not of the form role:label"),
                )
            })?;
            for part in [role, label] {
                validate::identifier(part).map_err(|r| {
                    Error::validation("launch_command_overrides", format!("key {key:?}: {r}"))
                })?;
            }
            validate::catalog_name(profile).map_err(|r| {
                Error::validation(
                    "launch_command_overrides",
                    format!("value for {key:?}: {r}"),
                )
            })?;
        }
        Ok(())
    }
}

/// One template slot resolved for a request.
struct ResolvedSlot {
    role: String,
    capability: String,
    label: String,
    launch: Launch,
}

/// Resolves the template's slots to labels and launch profiles, refusing an
/// override key that names no pane.
fn plan(req: &CreateLayout, catalog: &Catalog) -> Result<Vec<ResolvedSlot>> {
    let template =
        catalog
            .templates
            .get(&req.template_name)
            .ok_or_else(|| Error::TemplateNotFound {
                template_name: req.template_name.clone(),
                known_templates: catalog.templates.keys().cloned().collect(),
            })?;
    let labels = catalog::resolve_labels(template, &req.tmux_session_name);
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(labels.len());
    for (slot, label) in template.panes.iter().zip(labels) {
        validate::identifier(&label).map_err(|r| {
            Error::validation(
                "tmux_session_name",
                format!("resolved label {label:?}: {r}"),
            )
        })?;
        let key = format!("{}:{label}", slot.role);
        let profile = match req.overrides.get(&key) {
            Some(p) => {
                used.insert(key);
                p.as_str()
            }
            None => slot
                .default_launch_command_ref
                .as_deref()
                .unwrap_or(SHELL_PROFILE),
        };
        out.push(ResolvedSlot {
            role: slot.role.clone(),
            capability: slot.capability.clone(),
            label,
            launch: resolve_profile(catalog, profile)?,
        });
    }
    if let Some(unused) = req.overrides.keys().find(|k| !used.contains(*k)) {
        return Err(Error::validation(
            "launch_command_overrides",
            format!("key {unused:?} matches no pane (keys are role:label of the resolved labels)"),
        ));
    }
    Ok(out)
}

/// A launch profile by name (`managed_launch_command_not_found`).
pub(crate) fn resolve_profile(catalog: &Catalog, name: &str) -> Result<Launch> {
    let p = catalog
        .profiles
        .get(name)
        .ok_or_else(|| Error::LaunchCommandNotFound {
            profile_name: name.to_string(),
            known_profiles: catalog.profiles.keys().cloned().collect(),
        })?;
    Ok(Launch {
        profile: p.name.clone(),
        command: p.command.clone(),
        env: p.env.clone(),
        working_dir: p.working_dir.clone(),
    })
}

impl Services {
    /// M1. Returns the layout and whether this was an idempotent replay.
    pub(crate) async fn create_layout(
        self: &Arc<Self>,
        req: CreateLayout,
    ) -> Result<(LayoutView, bool)> {
        req.validate()?;
        let container = self.container(&req.container_id).await?;
        let runtime = self.runtimes.get(&container.id)?;
        if let Some(key) = &req.idempotency_key
            && let Some(view) = self.replay(&container.id, key).await?
        {
            return Ok((view, true));
        }
        let plans = plan(&req, &self.catalog().await?)?;
        if session_taken(self, runtime.as_ref(), &req.tmux_session_name).await {
            return Err(Error::SessionNameConflict {
                container_id: container.id.clone(),
                tmux_session_name: req.tmux_session_name.clone(),
            });
        }

        let now = store::now();
        let layout = LayoutRow {
            id: store::new_id(),
            container_id: container.id.clone(),
            template_name: req.template_name.clone(),
            tmux_session_name: req.tmux_session_name.clone(),
            intended_pane_count: plans.len() as i32,
            ready_pane_count: 0,
            state: PaneState::Creating,
            failed_stage: None,
            idempotency_key: req.idempotency_key.clone(),
            created_at: now.clone(),
            updated_at: now.clone(),
        };
        let plans: Vec<PanePlan> = plans
            .into_iter()
            .enumerate()
            .map(|(index, slot)| {
                let ResolvedSlot {
                    role,
                    capability,
                    label,
                    launch,
                } = slot;
                PanePlan {
                    pane: PaneRow {
                        id: store::new_id(),
                        layout_id: layout.id.clone(),
                        container_id: container.id.clone(),
                        agent_id: None,
                        role,
                        capability,
                        label,
                        launch_command_ref: Some(launch.profile.clone()),
                        tmux_session_name: req.tmux_session_name.clone(),
                        tmux_pane_index: index as i32,
                        tmux_pane_id: None,
                        pending_marker_token: Some(uuid::Uuid::new_v4().simple().to_string()),
                        state: PaneState::Creating,
                        failed_stage: None,
                        failure_reason: None,
                        predecessor_id: None,
                        chain_depth: 0,
                        log_path: None,
                        created_at: now.clone(),
                        updated_at: now.clone(),
                        recreate_idempotency_key: None,
                    },
                    launch,
                }
            })
            .collect();

        // Holding the queue slot across the insert keeps spawn order equal to
        // insert order on this container.
        let slot = self.queues.slot(&container.id).await;
        let capacity = self.config.capacity;
        let rows: Vec<PaneRow> = plans.iter().map(|p| p.pane.clone()).collect();
        let launches: Vec<Launch> = plans.iter().map(|p| p.launch.clone()).collect();
        let inserted = self
            .store
            .write(move |tx| insert_layout(tx, layout, rows, launches, capacity))
            .await?;
        let view = match inserted {
            Inserted::Replay(view) => return Ok((view, true)),
            Inserted::New(view) => view,
        };
        let svc = Arc::clone(self);
        let layout_id = view.layout.id.clone();
        slot.push(async move {
            pipeline::spawn_layout(svc, runtime, layout_id, plans, SpawnMode::NewSession).await
        });
        Ok((view, false))
    }

    async fn replay(&self, container_id: &str, key: &str) -> Result<Option<LayoutView>> {
        let (c, k) = (container_id.to_string(), key.to_string());
        self.store
            .read(move |conn| {
                let Some(layout) = layouts::by_idempotency_key(conn, &c, &k)? else {
                    return Ok(None);
                };
                let panes = panes::for_layout(conn, &layout.id)?;
                let agents = agents::of_panes(conn, &panes)?;
                Ok(Some(LayoutView {
                    layout,
                    panes,
                    agents,
                }))
            })
            .await
    }
}

enum Inserted {
    New(LayoutView),
    Replay(LayoutView),
}

/// The write transaction of M1: replay check, capacity, conflicts, rows and
/// events, all or nothing.
fn insert_layout(
    tx: &mut Tx<'_>,
    layout: LayoutRow,
    rows: Vec<PaneRow>,
    launches: Vec<Launch>,
    capacity: u32,
) -> Result<Inserted> {
    if let Some(key) = &layout.idempotency_key
        && let Some(existing) = layouts::by_idempotency_key(tx.conn, &layout.container_id, key)?
    {
        let panes = panes::for_layout(tx.conn, &existing.id)?;
        let agents = agents::of_panes(tx.conn, &panes)?;
        return Ok(Inserted::Replay(LayoutView {
            layout: existing,
            panes,
            agents,
        }));
    }
    let live = layouts::count_live(tx.conn)?;
    if live >= i64::from(capacity) {
        return Err(Error::CapacityExceeded {
            current_count: live as u32,
            limit: capacity,
        });
    }
    if layouts::session_in_use(tx.conn, &layout.container_id, &layout.tmux_session_name)? {
        return Err(Error::SessionNameConflict {
            container_id: layout.container_id.clone(),
            tmux_session_name: layout.tmux_session_name.clone(),
        });
    }
    layouts::insert(tx.conn, &layout).map_err(|e| conflict(e, &layout, None))?;
    for row in &rows {
        panes::insert(tx.conn, std::slice::from_ref(row))
            .map_err(|e| conflict(e, &layout, Some(&row.label)))?;
    }
    tx.emit(NewEvent {
        actor: Actor::Operator,
        container_id: Some(layout.container_id.clone()),
        layout_id: Some(layout.id.clone()),
        pane_id: None,
        payload: LayoutCreated {
            template_name: layout.template_name.clone(),
            tmux_session_name: layout.tmux_session_name.clone(),
            intended_pane_count: count(layout.intended_pane_count),
            idempotency_key: layout.idempotency_key.clone(),
        }
        .into(),
    })?;
    for (row, launch) in rows.iter().zip(&launches) {
        announce_pane(tx, row, launch)?;
    }
    Ok(Inserted::New(LayoutView {
        layout,
        panes: rows,
        // New panes are not registered yet.
        agents: HashMap::new(),
    }))
}

/// The events of a freshly inserted pane: `managed_pane_created` (with its
/// launch command, secrets redacted) and `managed_pane_pending_marker_set`.
/// Shared by CreateLayout and RecreatePane.
pub(crate) fn announce_pane(tx: &mut Tx<'_>, row: &PaneRow, launch: &Launch) -> Result<()> {
    tx.emit(pane_event(
        Actor::Operator,
        row,
        PaneCreated {
            role: row.role.clone(),
            capability: row.capability.clone(),
            label: row.label.clone(),
            tmux_pane_index: count(row.tmux_pane_index),
            launch: ResolvedLaunch {
                profile: launch.profile.clone(),
                argv: launch.command.clone(),
                env: redact_env(&launch.env),
                working_dir: launch.working_dir.clone(),
            },
        },
    ))?;
    tx.emit(pane_event(
        Actor::Operator,
        row,
        PendingMarkerSet {
            token: row.pending_marker_token.clone(),
            label: row.label.clone(),
        },
    ))
}

/// Maps a constraint violation of the insert to its closed code.
fn conflict(e: diesel::result::Error, layout: &LayoutRow, label: Option<&str>) -> Error {
    match store::constraint_violation(&e) {
        Some(msg) if msg.contains("managed_pane.label") => Error::LabelConflict {
            container_id: layout.container_id.clone(),
            label: label.unwrap_or_default().to_string(),
        },
        Some(msg) if msg.contains("tmux_session_name") => Error::SessionNameConflict {
            container_id: layout.container_id.clone(),
            tmux_session_name: layout.tmux_session_name.clone(),
        },
        _ => Error::internal(e),
    }
}

/// Whether tmux in the container has `session`. An unreachable runtime
/// counts as "no": creation re-checks it when it runs.
async fn session_taken(svc: &Services, rt: &dyn Runtime, session: &str) -> bool {
    match tmux::ops::session_exists(rt, session, svc.config.stage_timeout()).await {
        Ok(exists) => exists,
        Err(e) => {
            tracing::warn!(error = %e, session, "cannot check the tmux session");
            false
        }
    }
}
