//! Stage 1 of the spawn pipeline (SPEC §8, pane_create): the one chain that
//! creates a layout's panes with their marks, its retries, and the clean-up
//! that keeps a retry from duplicating panes.

use super::Services;
use super::pipeline::{LogPlan, PanePlan};
use crate::domain::PaneState;
use crate::runtime::tmux::ops::{self, NewPane, retrying};
use crate::runtime::tmux::{self, Chain, MARKER_PREFIX};
use crate::runtime::{Runtime, RuntimeError};
use crate::store::models::PaneRow;
use crate::store::panes;

fn marker_title(pane: &PaneRow) -> String {
    format!(
        "{MARKER_PREFIX}{}:{}",
        pane.pending_marker_token.as_deref().unwrap_or_default(),
        pane.label
    )
}

/// The chain that creates the panes `live` (indexes into `plans`).
fn create_chain(
    svc: &Services,
    session: &str,
    plans: &[PanePlan],
    logs: &[LogPlan],
    live: &[usize],
    split_first: bool,
) -> std::result::Result<Chain, String> {
    let mut new = Vec::with_capacity(live.len());
    for &i in live {
        let (plan, log) = (&plans[i], &logs[i]);
        let log = match log {
            Ok(log) => Some(
                log.target
                    .to_str()
                    .ok_or_else(|| format!("log path {} is not UTF-8", log.target.display()))?,
            ),
            Err(_) => None,
        };
        new.push(NewPane {
            row_id: &plan.pane.id,
            marker_token: plan
                .pane
                .pending_marker_token
                .as_deref()
                .unwrap_or_default(),
            marker_title: marker_title(&plan.pane),
            command: &plan.launch.command,
            env: &plan.launch.env,
            working_dir: plan.launch.working_dir.as_deref(),
            log,
        });
    }
    let size = (svc.config.pane_columns, svc.config.pane_rows);
    ops::create_chain(session, split_first, size, &new)
}

/// What stage 1 did: `%N` of each created pane (by plan index), the panes
/// that failed at `pane_create` and why. Panes that stopped being
/// `creating` meanwhile (the sweep failed them) are in neither.
pub(crate) struct Created {
    pub ids: Vec<(usize, String)>,
    pub failed: Vec<usize>,
    pub reason: String,
}

/// Stage 1. Before every attempt the rows are read again under the queue:
/// a pane the sweep has already failed is never created. A retry first
/// kills what an attempt that timed out may have built, so it never
/// duplicates panes.
pub(crate) async fn create_panes(
    svc: &Services,
    rt: &dyn Runtime,
    session: &str,
    plans: &[PanePlan],
    logs: &[LogPlan],
    split_first: bool,
) -> Created {
    let timeout = svc.config.stage_timeout();
    let outcome = retrying(&svc.config.retry_backoffs(), |attempt| async move {
        if attempt > 0 {
            remove_partial(svc, rt, plans).await?;
        }
        let live = still_creating(svc, plans).await;
        if live.is_empty() {
            return Ok((live, Vec::new(), None));
        }
        let chain = create_chain(svc, session, plans, logs, &live, split_first).map_err(|e| {
            RuntimeError::Failed {
                message: format!("cannot build the tmux command: {e}"),
                stdout: String::new(),
            }
        })?;
        let (ids, error) = ops::create(rt, chain, timeout).await?;
        Ok((live, ids, error))
    })
    .await;
    match outcome {
        Ok((live, ids, error)) => created(live, ids, error),
        Err(e) => {
            if let Err(cleanup) = remove_partial(svc, rt, plans).await {
                tracing::warn!(error = %cleanup, "cannot remove a partial session");
            }
            created(
                still_creating(svc, plans).await,
                Vec::new(),
                Some(e.to_string()),
            )
        }
    }
}

/// Pairs the `%N` tmux printed with the panes it was asked to create, in
/// order; tmux stops a chain at the first failing command, so the rest
/// were not created.
fn created(live: Vec<usize>, printed: Vec<String>, error: Option<String>) -> Created {
    let ids: Vec<(usize, String)> = live.iter().copied().zip(printed).collect();
    let failed = live[ids.len()..].to_vec();
    let reason = error.unwrap_or_else(|| "tmux printed fewer pane ids than requested".into());
    Created {
        ids,
        failed,
        reason,
    }
}

/// Indexes of the plans whose rows are still `creating`. A read failure
/// keeps them all: the settle transaction re-checks each row anyway.
async fn still_creating(svc: &Services, plans: &[PanePlan]) -> Vec<usize> {
    let ids: Vec<String> = plans.iter().map(|p| p.pane.id.clone()).collect();
    let read = svc
        .store
        .read(move |conn| {
            let mut live = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                if panes::get(conn, id)?.is_some_and(|p| p.state == PaneState::Creating) {
                    live.push(i);
                }
            }
            Ok(live)
        })
        .await;
    read.unwrap_or_else(|e| {
        tracing::warn!(error = ?e, "cannot re-read the panes being created");
        (0..plans.len()).collect()
    })
}

/// Kills every tmux pane that carries the ownership mark of one of `plans`,
/// i.e. that an attempt which timed out built; anything else is left alone.
async fn remove_partial(
    svc: &Services,
    rt: &dyn Runtime,
    plans: &[PanePlan],
) -> std::result::Result<(), RuntimeError> {
    let marked = tmux::list_marked(rt, svc.config.stage_timeout()).await?;
    let ours: Vec<(String, String)> = marked
        .into_iter()
        .filter(|m| plans.iter().any(|p| p.pane.id == m.owner))
        .map(|m| (m.pane_id, m.owner))
        .collect();
    super::remove::kill_owned(svc, rt, &ours).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_ids_pair_with_the_panes_asked_for() {
        let c = created(
            vec![0, 2, 3],
            vec!["%7".into(), "%8".into()],
            Some("tmux refused: x".into()),
        );
        assert_eq!(c.ids, [(0, "%7".to_string()), (2, "%8".to_string())]);
        assert_eq!(c.failed, [3]);
        assert_eq!(c.reason, "tmux refused: x");
    }
}
