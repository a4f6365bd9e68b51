//! The spawn pipeline (SPEC §8), run on the container's FIFO worker.
//!
//! A layout costs two runtime calls whatever its size (more only when its
//! argv outgrows one tmux message): one chain creates every pane (ownership
//! mark, pending-marker title, `remain-on-exit` and log pipe set before
//! anything else can see the pane), and after the settle window one chain
//! probes all panes and gives each its label title. `settle` then decides
//! each pane's state in one transaction — one pane's failure never touches
//! its siblings.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::Services;
use super::pane_create::create_panes;
use super::pane_log;
use super::settle::{Outcome, judge, record_created, settle};
use crate::error::Result;
use crate::runtime::Runtime;
use crate::runtime::tmux;
use crate::runtime::tmux::ops::retrying;
use crate::store::models::PaneRow;
use crate::store::panes;

/// A resolved launch profile.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    pub profile: String,
    /// Empty means the login shell.
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub working_dir: Option<String>,
}

/// A pane row to spawn with its launch command.
#[derive(Debug, Clone)]
pub(crate) struct PanePlan {
    pub pane: PaneRow,
    pub launch: Launch,
}

/// Where a pane's log goes, or why it cannot.
pub(crate) type LogPlan = std::result::Result<LogFile, String>;

#[derive(Debug, Clone)]
pub(crate) struct LogFile {
    pub host: PathBuf,
    /// The same file as tmux (inside the container) sees it.
    pub target: PathBuf,
}

/// Where the panes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpawnMode {
    /// A new session: a layout being created (an existing session is a
    /// conflict at spawn time).
    NewSession,
    /// Into the layout's session if it still exists (a recreate), else a new
    /// one.
    IntoSession,
}

/// Runs the pipeline for freshly inserted panes of one layout. Errors are
/// logged: every pane that did not settle here is settled by the sweep.
pub(crate) async fn spawn_layout(
    svc: Arc<Services>,
    rt: Arc<dyn Runtime>,
    layout_id: String,
    plans: Vec<PanePlan>,
    mode: SpawnMode,
) {
    if let Err(e) = spawn(&svc, rt.as_ref(), &layout_id, &plans, mode).await {
        tracing::error!(layout_id, error = ?e, "spawn pipeline stopped; the sweep settles what is left");
    }
}

/// Whether `session` exists and holds a pane of layout `layout_id` (by its
/// ownership mark). A session of that name that is not the layout's (the
/// operator's, after a tmux server restart) is never split into; creating
/// the session anew then fails as a conflict, and the pane says so.
async fn session_is_ours(svc: &Services, rt: &dyn Runtime, session: &str, layout_id: &str) -> bool {
    let Ok(owners) = tmux::ops::session_owners(rt, session, svc.config.stage_timeout()).await
    else {
        return false;
    };
    let lid = layout_id.to_string();
    let ours = svc
        .store
        .read(move |conn| panes::for_layout(conn, &lid))
        .await
        .unwrap_or_default();
    owners
        .iter()
        .any(|owner| ours.iter().any(|p| &p.id == owner))
}

async fn spawn(
    svc: &Services,
    rt: &dyn Runtime,
    layout_id: &str,
    plans: &[PanePlan],
    mode: SpawnMode,
) -> Result<()> {
    let Some(first) = plans.first() else {
        return Ok(());
    };
    let session = first.pane.tmux_session_name.clone();
    let split_first =
        mode == SpawnMode::IntoSession && session_is_ours(svc, rt, &session, layout_id).await;
    let mut logs: Vec<LogPlan> = Vec::with_capacity(plans.len());
    for p in plans {
        logs.push(prepare_log(svc, rt, &p.pane.label).await);
    }

    // Stage 1: pane_create, one chained call for the whole layout.
    let created = create_panes(svc, rt, &session, plans, &logs, split_first).await;
    let launched = Instant::now();
    let recorded: Vec<(String, String)> = created
        .ids
        .iter()
        .map(|(i, id)| (plans[*i].pane.id.clone(), id.clone()))
        .collect();
    let failed: Vec<PaneRow> = created
        .failed
        .iter()
        .map(|i| plans[*i].pane.clone())
        .collect();
    let (lid, reason) = (layout_id.to_string(), created.reason.clone());
    svc.store
        .write(move |tx| record_created(tx, &lid, &recorded, &failed, &reason))
        .await?;
    if created.ids.is_empty() {
        return Ok(());
    }

    // Stage 2: launch_command. Dead panes stay visible (remain-on-exit); one
    // chain probes them all after the settle window and, guarded by each
    // pane's ownership mark, gives it its label title and drops its marker
    // (stage 5 in tmux first, so the database never says `ready` for a pane
    // still titled with its marker). A pane that vanished fails only its
    // own retitle; the listing still arrives.
    tokio::time::sleep(svc.config.settle_window()).await;
    let panes: Vec<tmux::ops::Probed<'_>> = created
        .ids
        .iter()
        .map(|(i, id)| {
            let pane = &plans[*i].pane;
            (pane.id.as_str(), id.as_str(), pane.label.as_str())
        })
        .collect();
    let probe = retrying(&svc.config.retry_backoffs(), |_| {
        tmux::ops::probe(rt, &session, &panes, svc.config.stage_timeout())
    })
    .await
    .map(|listed| {
        listed
            .into_iter()
            .map(|p| (p.pane_id.clone(), p))
            .collect::<HashMap<_, _>>()
    });
    let elapsed_ms = launched.elapsed().as_millis() as u64;

    // Stages 3–5 in the database: register, judge the log, settle.
    let outcomes: Vec<Outcome> = created
        .ids
        .iter()
        .map(|(i, id)| judge(&plans[*i], id, &logs[*i], &probe, elapsed_ms))
        .collect();
    let socket = rt.tmux_socket();
    let lid = layout_id.to_string();
    svc.store
        .write(move |tx| settle(tx, &lid, &socket, outcomes))
        .await
}

/// Creates the host log file (so a bad log directory is found here, not by a
/// shell in tmux) and maps it into the runtime.
async fn prepare_log(svc: &Services, rt: &dyn Runtime, label: &str) -> LogPlan {
    let host = pane_log::prepare(
        svc.paths.log_dir.clone(),
        rt.log_dir_name(),
        label.to_string(),
    )
    .await?;
    let target = rt.log_target(&host).await?;
    Ok(LogFile { host, target })
}
