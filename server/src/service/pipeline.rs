//! The spawn pipeline (SPEC §8), run on the container's FIFO worker.
//!
//! A layout costs three runtime calls whatever its size: one chain creates
//! every pane (pending-marker title, `remain-on-exit` and log pipe set before
//! anything else can see the pane), one listing probes all panes after the
//! settle window, one chain gives the panes their label titles. Each pane then
//! reaches its own state — one pane's failure never touches its siblings — and
//! the layout aggregate is stored in the same transaction.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::Connection as _;
use serde_json::json;

use super::Services;
use super::domain::{Actor, EventType, FailedStage, Origin, PaneState};
use super::lifecycle::{Transition, pane_event, pane_state, reaggregate, transition};
use crate::error::{Error, Result};
use crate::runtime::tmux::{Chain, PANE_FIELDS, PaneInfo, parse_panes, session_target};
use crate::runtime::{Runtime, RuntimeError};
use crate::store::models::{AgentRow, PaneRow};
use crate::store::{self, Tx, agents, panes};

/// tmux user option holding a pane's pending-marker token while it is created.
pub(crate) const MARKER_OPTION: &str = "@agenttower_marker";
/// Prefix of the pending-marker pane title.
pub(crate) const MARKER_PREFIX: &str = "@MANAGED:";

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
type LogPlan = std::result::Result<LogFile, String>;

#[derive(Debug, Clone)]
struct LogFile {
    host: PathBuf,
    /// The same file as tmux (inside the container) sees it.
    target: PathBuf,
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

/// Whether tmux in the container has `session`. An unreachable runtime
/// counts as "no": creation re-checks it when it runs.
pub(crate) async fn session_exists(svc: &Services, rt: &dyn Runtime, session: &str) -> bool {
    let mut chain = Chain::new();
    chain.cmd(["has-session", "-t", &session_target(session)]);
    match rt.tmux(chain.into_args(), svc.config.stage_timeout()).await {
        Ok(_) => true,
        Err(RuntimeError::NoServer | RuntimeError::Failed { .. }) => false,
        Err(e) => {
            tracing::warn!(error = %e, session, "cannot check the tmux session");
            false
        }
    }
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
    let split_first = mode == SpawnMode::IntoSession && session_exists(svc, rt, &session).await;
    let mut logs: Vec<LogPlan> = Vec::with_capacity(plans.len());
    for p in plans {
        logs.push(prepare_log(&svc.paths.log_dir, &p.pane.label, rt).await);
    }

    // Stage 1: pane_create, one chained call for the whole layout.
    let (ids, create_error) = create_panes(svc, rt, &session, plans, &logs, split_first).await;
    let launched = Instant::now();
    let created: Vec<(PanePlan, String, LogPlan)> = plans
        .iter()
        .zip(&logs)
        .zip(ids.iter().map(Some).chain(std::iter::repeat(None)))
        .filter_map(|((p, log), id)| id.map(|id| (p.clone(), id.clone(), log.clone())))
        .collect();
    let failed: Vec<PaneRow> = plans[created.len()..]
        .iter()
        .map(|p| p.pane.clone())
        .collect();
    let reason = create_error.unwrap_or_else(|| "tmux created no pane".into());
    let recorded: Vec<(String, String)> = created
        .iter()
        .map(|(p, id, _)| (p.pane.id.clone(), id.clone()))
        .collect();
    let lid = layout_id.to_string();
    svc.store
        .write(move |tx| record_created(tx, &lid, &recorded, &failed, &reason))
        .await?;
    if created.is_empty() {
        return Ok(());
    }

    // Stage 2: launch_command. Dead panes stay visible (remain-on-exit); one
    // listing probes them all after the settle window.
    tokio::time::sleep(svc.config.settle_window()).await;
    // One call probes every pane and, in the same chain, gives each its
    // label title and drops its marker (stage 5 in tmux first, so the
    // database never says `ready` for a pane still titled with its marker).
    // A retitle fails only for a pane that vanished; the listing before it
    // still arrives, and the panes it shows are retitled again after.
    let labels: Vec<(String, String)> = created
        .iter()
        .map(|(p, id, _)| (id.clone(), p.pane.label.clone()))
        .collect();
    let probe = with_retries(&svc.config.retry_backoffs(), |_| {
        let mut chain = Chain::new();
        chain.cmd([
            "list-panes",
            "-s",
            "-t",
            &session_target(&session),
            "-F",
            PANE_FIELDS,
        ]);
        for (id, label) in &labels {
            retitle(&mut chain, id, label);
        }
        rt.tmux(chain.into_args(), svc.config.stage_timeout())
    })
    .await;
    let retitled = probe.is_ok();
    let probe = match probe {
        Ok(out) => Ok(out),
        Err(RuntimeError::Failed { stdout, .. }) if !stdout.trim().is_empty() => Ok(stdout),
        Err(e) => Err(e),
    }
    .map(|out| {
        parse_panes(&out)
            .into_iter()
            .map(|p| (p.pane_id.clone(), p))
            .collect::<HashMap<_, _>>()
    });
    let elapsed_ms = launched.elapsed().as_millis() as u64;
    if let (false, Ok(found)) = (retitled, &probe) {
        let present: Vec<_> = labels
            .iter()
            .filter(|(id, _)| found.contains_key(id))
            .cloned()
            .collect();
        finalize_titles(svc, rt, &present).await;
    }

    // Stages 3–5 in the database: register, judge the log, settle.
    let outcomes: Vec<Outcome> = created
        .into_iter()
        .map(|(plan, tmux_id, log)| judge(plan, tmux_id, log, &probe, elapsed_ms))
        .collect();
    let socket = rt.tmux_socket();
    let lid = layout_id.to_string();
    svc.store
        .write(move |tx| settle(tx, &lid, &socket, outcomes))
        .await
}

/// Runs `op` and retries it after each back-off while it fails transiently
/// (SPEC §8: timeouts, unreachable runtime). `op` receives the attempt number.
pub(crate) async fn with_retries<T, F, Fut>(
    backoffs: &[Duration],
    mut op: F,
) -> std::result::Result<T, RuntimeError>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = std::result::Result<T, RuntimeError>>,
{
    let mut attempt = 0;
    loop {
        match op(attempt).await {
            Err(e) if e.is_transient() && attempt < backoffs.len() => {
                tracing::warn!(error = %e, attempt, "transient runtime failure; retrying");
                tokio::time::sleep(backoffs[attempt]).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Creates the host log file (so a bad log directory is found here, not by a
/// shell in tmux) and maps it into the runtime.
async fn prepare_log(log_dir: &Path, label: &str, rt: &dyn Runtime) -> LogPlan {
    let host = log_dir.join(rt.log_dir_name()).join(format!("{label}.log"));
    let open = || {
        std::fs::create_dir_all(host.parent().unwrap_or(log_dir))?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&host)
    };
    open().map_err(|e| format!("cannot write the log file {}: {e}", host.display()))?;
    let target = rt.log_target(&host).await?;
    Ok(LogFile { host, target })
}

/// The argv tail of `new-session` / `split-window` for a launch profile.
fn launch_args(launch: &Launch) -> Vec<String> {
    let mut args = Vec::new();
    for (k, v) in &launch.env {
        args.push("-e".to_string());
        args.push(format!("{k}={v}"));
    }
    if let Some(dir) = &launch.working_dir {
        args.push("-c".to_string());
        args.push(dir.clone());
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

/// The one chain that creates every pane of a layout.
fn create_chain(
    svc: &Services,
    session: &str,
    plans: &[PanePlan],
    logs: &[LogPlan],
    split_first: bool,
) -> Result<Chain> {
    let target = session_target(session);
    let (cols, rows) = (
        svc.config.pane_columns.to_string(),
        svc.config.pane_rows.to_string(),
    );
    let mut chain = Chain::new();
    for (i, (plan, log)) in plans.iter().zip(logs).enumerate() {
        let mut create: Vec<String> = if i == 0 && !split_first {
            ["new-session", "-d", "-s", session, "-x", &cols, "-y", &rows]
                .map(String::from)
                .to_vec()
        } else {
            ["split-window", "-t", &target].map(String::from).to_vec()
        };
        create.extend(["-P", "-F", "#{pane_id}"].map(String::from));
        create.extend(launch_args(&plan.launch));
        chain.cmd(create);
        chain.cmd(["set-option", "-p", "-t", &target, "remain-on-exit", "on"]);
        chain.cmd([
            "select-pane",
            "-t",
            &target,
            "-T",
            &marker_title(&plan.pane),
        ]);
        let token = plan.pane.pending_marker_token.clone().unwrap_or_default();
        chain.cmd(["set-option", "-p", "-t", &target, MARKER_OPTION, &token]);
        if let Ok(log) = log {
            let path = log.target.to_str().ok_or_else(|| {
                Error::internal(anyhow::anyhow!(
                    "log path {} is not UTF-8",
                    log.target.display()
                ))
            })?;
            let quoted = shlex::try_quote(path).map_err(Error::internal)?;
            // pipe-pane only takes a shell command; the path is quoted and
            // built from validated labels and the daemon's own log dir.
            chain.cmd([
                "pipe-pane",
                "-o",
                "-t",
                &target,
                &format!("exec cat >> {quoted}"),
            ]);
        }
        if i > 0 || split_first {
            chain.cmd(["select-layout", "-t", &target, "tiled"]);
        }
    }
    Ok(chain)
}

/// Stage 1. Returns the `%N` ids tmux printed (in pane order) and, when not
/// every pane was created, why.
async fn create_panes(
    svc: &Services,
    rt: &dyn Runtime,
    session: &str,
    plans: &[PanePlan],
    logs: &[LogPlan],
    split_first: bool,
) -> (Vec<String>, Option<String>) {
    let chain = match create_chain(svc, session, plans, logs, split_first) {
        Ok(chain) => chain,
        Err(e) => {
            return (
                vec![],
                Some(format!("cannot build the tmux command: {e:?}")),
            );
        }
    };
    let tokens: Vec<String> = plans
        .iter()
        .filter_map(|p| p.pane.pending_marker_token.clone())
        .collect();
    let result = with_retries(&svc.config.retry_backoffs(), |attempt| {
        let args = chain.clone().into_args();
        let tokens = &tokens;
        async move {
            if attempt > 0 {
                // A timed-out attempt may have built part of the session.
                remove_partial(svc, rt, session, tokens).await?;
            }
            rt.tmux(args, svc.config.stage_timeout()).await
        }
    })
    .await;
    let ids = |out: &str| -> Vec<String> {
        out.lines()
            .map(str::trim)
            .filter(|l| l.starts_with('%'))
            .map(String::from)
            .collect()
    };
    let (created, error) = match result {
        Ok(out) => (ids(&out), None),
        Err(RuntimeError::Failed { message, stdout }) => {
            (ids(&stdout), Some(format!("tmux refused: {message}")))
        }
        Err(e) => {
            let _ = remove_partial(svc, rt, session, &tokens).await;
            (vec![], Some(e.to_string()))
        }
    };
    let created: Vec<String> = created.into_iter().take(plans.len()).collect();
    let error = error.or_else(|| {
        (created.len() < plans.len()).then(|| "tmux printed fewer pane ids than requested".into())
    });
    (created, error)
}

/// Kills the panes of `session` that carry one of our tokens, i.e. that this
/// pipeline made in an attempt that timed out; anything else is left alone.
async fn remove_partial(
    svc: &Services,
    rt: &dyn Runtime,
    session: &str,
    tokens: &[String],
) -> std::result::Result<(), RuntimeError> {
    let mut list = Chain::new();
    list.cmd([
        "list-panes",
        "-s",
        "-t",
        &session_target(session),
        "-F",
        &format!("#{{pane_id}}\t#{{{MARKER_OPTION}}}"),
    ]);
    let out = match rt.tmux(list.into_args(), svc.config.stage_timeout()).await {
        Ok(out) => out,
        Err(RuntimeError::NoServer | RuntimeError::Failed { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut kill = Chain::new();
    for line in out.lines() {
        if let Some((pane, token)) = line.split_once('\t')
            && tokens.iter().any(|ours| ours == token.trim())
        {
            kill.cmd(["kill-pane", "-t", pane]);
        }
    }
    if !kill.is_empty() {
        rt.tmux(kill.into_args(), svc.config.stage_timeout())
            .await?;
    }
    Ok(())
}

/// Appends the label title and the marker's removal for pane `id`.
fn retitle(chain: &mut Chain, id: &str, label: &str) {
    chain.cmd(["select-pane", "-t", id, "-T", label]);
    chain.cmd(["set-option", "-p", "-u", "-t", id, MARKER_OPTION]);
}

/// Retitles `panes` (id, label) after the combined probe could not: in one
/// call, else one call per pane so one failure does not skip the rest.
async fn finalize_titles(svc: &Services, rt: &dyn Runtime, panes: &[(String, String)]) {
    let mut chain = Chain::new();
    for (id, label) in panes {
        retitle(&mut chain, id, label);
    }
    if chain.is_empty()
        || rt
            .tmux(chain.into_args(), svc.config.stage_timeout())
            .await
            .is_ok()
    {
        return;
    }
    for (id, label) in panes {
        let mut chain = Chain::new();
        retitle(&mut chain, id, label);
        if let Err(e) = rt.tmux(chain.into_args(), svc.config.stage_timeout()).await {
            tracing::warn!(pane = %id, error = %e, "cannot set the label title");
        }
    }
}

/// Stage 1 in the database: the `%N` of created panes; `failed/pane_create`
/// for the others.
fn record_created(
    tx: &mut Tx<'_>,
    layout_id: &str,
    created: &[(String, String)],
    failed: &[PaneRow],
    reason: &str,
) -> Result<()> {
    for (pane_id, tmux_id) in created {
        panes::update_if(
            tx.conn,
            pane_id,
            PaneState::Creating.as_str(),
            panes::PaneChanges {
                tmux_pane_id: Some(Some(tmux_id.clone())),
                ..Default::default()
            },
        )?;
    }
    for pane in failed {
        let t = Transition::stopped(PaneState::Failed, FailedStage::PaneCreate, reason);
        transition(tx, pane, t, Actor::Daemon)?;
    }
    if !failed.is_empty() {
        reaggregate(tx, layout_id, Actor::Daemon)?;
    }
    Ok(())
}

/// What the probe says about one created pane.
struct Outcome {
    plan: PanePlan,
    tmux_pane_id: String,
    /// `None` when the pane is gone or could not be probed (with why).
    present: std::result::Result<(), String>,
    exited: Option<(Option<i32>, u64)>,
    log: std::result::Result<PathBuf, String>,
    log_host: Option<PathBuf>,
}

fn judge(
    plan: PanePlan,
    tmux_pane_id: String,
    log: LogPlan,
    probe: &std::result::Result<HashMap<String, PaneInfo>, RuntimeError>,
    elapsed_ms: u64,
) -> Outcome {
    let info = match probe {
        Ok(found) => found
            .get(&tmux_pane_id)
            .cloned()
            .ok_or_else(|| format!("tmux pane {tmux_pane_id} vanished before registration")),
        Err(e) => Err(format!("cannot list the session's panes: {e}")),
    };
    let log_host = log.as_ref().ok().map(|l| l.host.clone());
    let log = match (&log, &info) {
        (Err(reason), _) => Err(reason.clone()),
        (Ok(l), Ok(info)) if !info.pipe && !info.dead => Err(format!(
            "the log pipe into {} closed; is the log directory writable from the container?",
            l.target.display()
        )),
        (Ok(l), _) => Ok(l.host.clone()),
    };
    Outcome {
        exited: info
            .as_ref()
            .ok()
            .filter(|i| i.dead)
            .map(|i| (i.dead_status, elapsed_ms)),
        present: info.map(|_| ()),
        plan,
        tmux_pane_id,
        log,
        log_host,
    }
}

/// Stages 3–5 in one transaction: register each present pane as a managed
/// agent (a savepoint each, so one failure stays that pane's), then settle it
/// as ready, degraded or failed, and re-aggregate the layout.
fn settle(tx: &mut Tx<'_>, layout_id: &str, socket: &str, outcomes: Vec<Outcome>) -> Result<()> {
    for o in outcomes {
        let pane = &o.plan.pane;
        // The sweep may have settled it while we waited.
        let Some(current) = panes::get(tx.conn, &pane.id)? else {
            continue;
        };
        if pane_state(&current)? != PaneState::Creating {
            continue;
        }
        if let Err(reason) = &o.present {
            let t =
                Transition::stopped(PaneState::Failed, FailedStage::Registration, reason.clone());
            transition(tx, &current, t, Actor::Daemon)?;
            continue;
        }
        let now = store::now();
        let agent = AgentRow {
            agent_id: store::new_id(),
            container_id: pane.container_id.clone(),
            tmux_socket: socket.to_string(),
            tmux_session: pane.tmux_session_name.clone(),
            tmux_pane_id: o.tmux_pane_id.clone(),
            role: pane.role.clone(),
            capability: pane.capability.clone(),
            label: pane.label.clone(),
            origin: Origin::Managed.to_string(),
            registered: true,
            log_path: o.log.as_ref().ok().map(|p| p.display().to_string()),
            log_attached: o.log.is_ok() && o.exited.is_none(),
            created_at: now.clone(),
            updated_at: now,
        };
        let registered = tx
            .conn
            .transaction::<_, diesel::result::Error, _>(|c| agents::insert(c, &agent));
        let mut t = if let Err(e) = registered {
            tracing::warn!(pane = %pane.id, error = %e, "agent registration failed");
            Transition::stopped(
                PaneState::Failed,
                FailedStage::Registration,
                format!("cannot register the agent for {}", o.tmux_pane_id),
            )
        } else if let Some((code, elapsed_ms)) = o.exited {
            tx.emit(pane_event(
                EventType::LaunchCommandExited,
                Actor::Daemon,
                pane,
                json!({
                    "exit_code": code,
                    "elapsed_ms": elapsed_ms,
                    "profile": o.plan.launch.profile,
                    "argv": o.plan.launch.command,
                }),
            ))?;
            let status = code.map_or("an unknown status".to_string(), |c| format!("status {c}"));
            Transition::stopped(
                PaneState::Degraded,
                FailedStage::LaunchCommand,
                format!("the launch command exited with {status} within {elapsed_ms} ms"),
            )
        } else if let Err(reason) = &o.log {
            tx.emit(pane_event(
                EventType::LogAttachFailed,
                Actor::Daemon,
                pane,
                json!({
                    "reason": reason,
                    "log_path": o.log_host.as_ref().map(|p| p.display().to_string()),
                }),
            ))?;
            Transition::stopped(PaneState::Degraded, FailedStage::LogAttach, reason.clone())
        } else {
            Transition::to(PaneState::Ready)
        };
        if t.to != PaneState::Failed {
            t.changes.agent_id = Some(Some(agent.agent_id.clone()));
            t.changes.log_path = Some(o.log.as_ref().ok().map(|p| p.display().to_string()));
        }
        transition(tx, &current, t, Actor::Daemon)?;
    }
    reaggregate(tx, layout_id, Actor::Daemon)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_twice_then_reported() {
        let calls = AtomicUsize::new(0);
        let backoffs = [Duration::from_secs(1), Duration::from_secs(2)];
        let started = tokio::time::Instant::now();
        let r: std::result::Result<(), _> = with_retries(&backoffs, |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(RuntimeError::Timeout(Duration::from_secs(30))) }
        })
        .await;
        assert!(matches!(r, Err(RuntimeError::Timeout(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn final_failures_are_not_retried() {
        let calls = AtomicUsize::new(0);
        let r: std::result::Result<(), _> = with_retries(&[Duration::from_secs(1)], |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err(RuntimeError::Failed {
                    message: "duplicate session".into(),
                    stdout: String::new(),
                })
            }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn single_argument_commands_never_reach_a_shell() {
        let launch = Launch {
            profile: "p".into(),
            command: vec!["htop; rm -rf /".into()],
            env: BTreeMap::from([("K".into(), "v;".into())]),
            working_dir: Some("/tmp".into()),
        };
        assert_eq!(
            launch_args(&launch),
            [
                "-e",
                "K=v;",
                "-c",
                "/tmp",
                "--",
                "env",
                "--",
                "htop; rm -rf /"
            ]
        );
    }
}
