//! Stage 1 of the spawn pipeline (SPEC §8, pane_create): the one chain that
//! creates a layout's panes with their marks, its retries, and the clean-up
//! that keeps a retry from duplicating panes.

use super::Services;
use super::pipeline::{Launch, LogPlan, PanePlan};
use crate::domain::PaneState;
use crate::error::{Error, Result};
use crate::runtime::tmux::{
    self, Chain, MARKER_OPTION, MARKER_PREFIX, OWNER_OPTION, format_literal, session_target,
};
use crate::runtime::{Runtime, RuntimeError};
use crate::store::models::PaneRow;
use crate::store::panes;

/// The argv tail of `new-session` / `split-window` for a launch profile.
fn launch_args(launch: &Launch) -> Vec<String> {
    let mut args = Vec::new();
    for (k, v) in &launch.env {
        args.push("-e".to_string());
        args.push(format!("{k}={v}"));
    }
    if let Some(dir) = &launch.working_dir {
        // tmux format-expands the start directory.
        args.push("-c".to_string());
        args.push(format_literal(dir));
    }
    if !launch.command.is_empty() {
        args.push("--".to_string());
        // tmux hands a single argument to `sh -c`; with two or more it execs
        // the argv directly. `env --` keeps operator text away from a shell.
        if launch.command.len() == 1 {
            args.extend(["env".to_string(), "--".to_string()]);
        }
        args.extend(launch.command.iter().cloned());
    }
    args
}

fn marker_title(pane: &PaneRow) -> String {
    format!(
        "{MARKER_PREFIX}{}:{}",
        pane.pending_marker_token.as_deref().unwrap_or_default(),
        pane.label
    )
}

/// The chain that creates the panes `live` (indexes into `plans`), one
/// unit per pane so a split into several calls never separates a pane from
/// its marks.
fn create_chain(
    svc: &Services,
    session: &str,
    plans: &[PanePlan],
    logs: &[LogPlan],
    live: &[usize],
    split_first: bool,
) -> Result<Chain> {
    let target = session_target(session);
    let (cols, rows) = (
        svc.config.pane_columns.to_string(),
        svc.config.pane_rows.to_string(),
    );
    let mut chain = Chain::new();
    for (n, &i) in live.iter().enumerate() {
        let (plan, log) = (&plans[i], &logs[i]);
        let new_session = n == 0 && !split_first;
        let mut create: Vec<String> = if new_session {
            let name = format_literal(session);
            ["new-session", "-d", "-s", &name, "-x", &cols, "-y", &rows]
                .map(String::from)
                .to_vec()
        } else {
            ["split-window", "-t", &target].map(String::from).to_vec()
        };
        create.extend(["-P", "-F", "#{pane_id}"].map(String::from));
        create.extend(launch_args(&plan.launch));
        let mut unit = Chain::new();
        unit.cmd(create);
        unit.cmd([
            "set-option",
            "-p",
            "-t",
            &target,
            OWNER_OPTION,
            &plan.pane.id,
        ]);
        unit.cmd(["set-option", "-p", "-t", &target, "remain-on-exit", "on"]);
        unit.cmd([
            "select-pane",
            "-t",
            &target,
            "-T",
            &format_literal(&marker_title(&plan.pane)),
        ]);
        let token = plan.pane.pending_marker_token.clone().unwrap_or_default();
        unit.cmd(["set-option", "-p", "-t", &target, MARKER_OPTION, &token]);
        if let Ok(log) = log {
            let path = log.target.to_str().ok_or_else(|| {
                Error::internal(anyhow::anyhow!(
                    "log path {} is not UTF-8",
                    log.target.display()
                ))
            })?;
            let quoted = shlex::try_quote(path).map_err(Error::internal)?;
            // pipe-pane only takes a shell command, which tmux format-expands
            // first; the path is shell-quoted and its `#` kept literal.
            unit.cmd([
                "pipe-pane",
                "-o",
                "-t",
                &target,
                &format_literal(&format!("exec cat >> {quoted}")),
            ]);
        }
        if !new_session {
            unit.cmd(["select-layout", "-t", &target, "tiled"]);
        }
        chain.unit(unit);
    }
    Ok(chain)
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
    let backoffs = svc.config.retry_backoffs();
    let timeout = svc.config.stage_timeout();
    let mut attempt = 0;
    let mut live = Vec::new();
    loop {
        let outcome = async {
            if attempt > 0 {
                remove_partial(svc, rt, plans).await?;
            }
            live = still_creating(svc, plans).await;
            if live.is_empty() {
                return Ok(String::new());
            }
            let chain =
                create_chain(svc, session, plans, logs, &live, split_first).map_err(|e| {
                    RuntimeError::Failed {
                        message: format!("cannot build the tmux command: {e:?}"),
                        stdout: String::new(),
                    }
                })?;
            tmux::run(rt, chain, timeout).await
        }
        .await;
        return match outcome {
            Err(e) if e.is_transient() && attempt < backoffs.len() => {
                tracing::warn!(error = %e, attempt, "transient runtime failure; retrying");
                tokio::time::sleep(backoffs[attempt]).await;
                attempt += 1;
                continue;
            }
            Ok(out) => created(live, &out, None),
            Err(RuntimeError::Failed { message, stdout }) => {
                created(live, &stdout, Some(format!("tmux refused: {message}")))
            }
            Err(e) => {
                if let Err(cleanup) = remove_partial(svc, rt, plans).await {
                    tracing::warn!(error = %cleanup, "cannot remove a partial session");
                }
                created(live, "", Some(e.to_string()))
            }
        };
    }
}

/// Pairs the `%N` tmux printed with the panes it was asked to create, in
/// order; tmux stops a chain at the first failing command, so the rest
/// were not created.
fn created(live: Vec<usize>, out: &str, error: Option<String>) -> Created {
    let ids: Vec<(usize, String)> = live
        .iter()
        .copied()
        .zip(
            out.lines()
                .map(str::trim)
                .filter(|l| l.starts_with('%'))
                .map(String::from),
        )
        .collect();
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
    use std::collections::BTreeMap;

    #[test]
    fn single_argument_commands_never_reach_a_shell() {
        let launch = Launch {
            profile: "p".into(),
            command: vec!["htop; rm -rf /".into()],
            env: BTreeMap::from([("K".into(), "v;".into())]),
            working_dir: Some("/tmp/#{x}".into()),
        };
        assert_eq!(
            launch_args(&launch),
            [
                "-e",
                "K=v;",
                "-c",
                "/tmp/##{x}",
                "--",
                "env",
                "--",
                "htop; rm -rf /"
            ]
        );
    }

    #[test]
    fn created_ids_pair_with_the_panes_asked_for() {
        let c = created(vec![0, 2, 3], "%7\n%8\n", Some("tmux refused: x".into()));
        assert_eq!(c.ids, [(0, "%7".to_string()), (2, "%8".to_string())]);
        assert_eq!(c.failed, [3]);
        assert_eq!(c.reason, "tmux refused: x");
    }
}
