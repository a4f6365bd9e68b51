//! Typed tmux operations: everything the service asks of tmux, each one
//! call, each answer parsed here. Service code builds no chains and parses
//! no listings; the retry policy of SPEC §8 is `retrying`, here once.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use super::{
    Chain, MARKER_OPTION, Marked, OWNER_OPTION, Owner, PANE_FIELDS, PaneInfo, foreign_panes,
    format_literal, only_missing, parse_panes, run, session_target,
};
use crate::runtime::{Runtime, RuntimeError};

/// Runs `op` again after each backoff while it fails transiently (SPEC §8):
/// a timeout, an unreachable runtime, a server or connection lost mid-call.
pub(crate) async fn retrying<T, F, Fut>(backoffs: &[Duration], mut op: F) -> Result<T, RuntimeError>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, RuntimeError>>,
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

/// Every pane of the server but the control session's, parsed. No server:
/// none.
pub(crate) async fn list_panes(
    rt: &dyn Runtime,
    timeout: Duration,
) -> Result<Vec<PaneInfo>, RuntimeError> {
    let mut chain = Chain::new();
    chain.cmd(["list-panes", "-a", "-F", PANE_FIELDS]);
    match run(rt, chain, timeout).await {
        Ok(out) => Ok(parse_panes(&out)),
        Err(RuntimeError::NoServer) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Every pane of the server that carries one of the daemon's marks (no
/// server: none), from the one listing format.
pub(crate) async fn list_marked(
    rt: &dyn Runtime,
    timeout: Duration,
) -> Result<Vec<Marked>, RuntimeError> {
    Ok(list_panes(rt, timeout)
        .await?
        .into_iter()
        .filter(|p| !(p.owner.is_empty() && p.marker.is_empty()))
        .map(|p| Marked {
            pane_id: p.pane_id,
            owner: p.owner,
            marker: p.marker,
        })
        .collect())
}

/// Tmux pane `%N`, parsed; `None` when there is no such pane (or no
/// server).
pub(crate) async fn pane(
    rt: &dyn Runtime,
    id: &str,
    timeout: Duration,
) -> Result<Option<PaneInfo>, RuntimeError> {
    let mut chain = Chain::new();
    chain.cmd(["display-message", "-p", "-t", id, PANE_FIELDS]);
    match run(rt, chain, timeout).await {
        Ok(out) => Ok(parse_panes(&out).into_iter().find(|p| p.pane_id == id)),
        Err(RuntimeError::NoServer) => Ok(None),
        Err(RuntimeError::Failed { message, .. }) if only_missing(&message) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether the server has session `session` (exactly that name).
pub(crate) async fn session_exists(
    rt: &dyn Runtime,
    session: &str,
    timeout: Duration,
) -> Result<bool, RuntimeError> {
    let mut chain = Chain::new();
    chain.cmd(["has-session", "-t", &session_target(session)]);
    match run(rt, chain, timeout).await {
        Ok(_) => Ok(true),
        Err(RuntimeError::NoServer | RuntimeError::Failed { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `list-panes` of session `session` (exactly that name), in the one
/// listing format.
fn session_panes(session: &str) -> Chain {
    let mut chain = Chain::new();
    chain.cmd([
        "list-panes",
        "-s",
        "-t",
        &session_target(session),
        "-F",
        PANE_FIELDS,
    ]);
    chain
}

/// The ownership marks (pane row ids) of session `session`'s panes; none
/// when there is no such session.
pub(crate) async fn session_owners(
    rt: &dyn Runtime,
    session: &str,
    timeout: Duration,
) -> Result<Vec<String>, RuntimeError> {
    match run(rt, session_panes(session), timeout).await {
        Ok(out) => Ok(parse_panes(&out)
            .into_iter()
            .map(|p| p.owner)
            .filter(|o| !o.is_empty())
            .collect()),
        Err(RuntimeError::NoServer | RuntimeError::Failed { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// A pane to create, with the marks the daemon gives it in the same call.
#[derive(Debug, Clone)]
pub(crate) struct NewPane<'a> {
    /// The pane row: the ownership mark.
    pub row_id: &'a str,
    /// The pending marker's token and title (`@MANAGED:<token>:<label>`).
    pub marker_token: &'a str,
    pub marker_title: String,
    /// The launch argv; empty means the login shell.
    pub command: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub working_dir: Option<&'a str>,
    /// The log file as tmux sees it, when the pane gets one.
    pub log: Option<&'a str>,
}

/// The argv tail of `new-session` / `split-window` for a launch: `-e`s,
/// `-c`, then the command. tmux hands a single argument to `sh -c`; with
/// two or more it execs the argv directly, so a one-word command is run
/// through `env --` and never reaches a shell.
pub(crate) fn launch_args(
    command: &[String],
    env: &BTreeMap<String, String>,
    working_dir: Option<&str>,
) -> Vec<String> {
    let mut args = Vec::new();
    for (k, v) in env {
        args.push("-e".to_string());
        args.push(format!("{k}={v}"));
    }
    if let Some(dir) = working_dir {
        // tmux format-expands the start directory.
        args.push("-c".to_string());
        args.push(format_literal(dir));
    }
    if !command.is_empty() {
        args.push("--".to_string());
        if command.len() == 1 {
            args.extend(["env".to_string(), "--".to_string()]);
        }
        args.extend(command.iter().cloned());
    }
    args
}

/// The chain that creates `panes` in `session` (a new session of
/// `size` columns × rows first, unless `split_first`), one unit per pane so
/// a split into several calls never separates a pane from its marks. Each
/// pane prints its `%N`.
pub(crate) fn create_chain(
    session: &str,
    split_first: bool,
    size: (u16, u16),
    panes: &[NewPane<'_>],
) -> Result<Chain, String> {
    let target = session_target(session);
    let (cols, rows) = (size.0.to_string(), size.1.to_string());
    let mut chain = Chain::new();
    for (n, pane) in panes.iter().enumerate() {
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
        create.extend(launch_args(pane.command, pane.env, pane.working_dir));
        let mut unit = Chain::new();
        unit.cmd(create);
        unit.cmd(["set-option", "-p", "-t", &target, OWNER_OPTION, pane.row_id]);
        unit.cmd(["set-option", "-p", "-t", &target, "remain-on-exit", "on"]);
        unit.cmd([
            "select-pane",
            "-t",
            &target,
            "-T",
            &format_literal(&pane.marker_title),
        ]);
        unit.cmd([
            "set-option",
            "-p",
            "-t",
            &target,
            MARKER_OPTION,
            pane.marker_token,
        ]);
        if let Some(path) = pane.log {
            let quoted = shlex::try_quote(path).map_err(|e| format!("log path {path:?}: {e}"))?;
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

/// Runs a `create_chain`: the `%N` of each pane created, in order, and the
/// error that stopped it early (tmux stops a chain at its first failing
/// command, so the panes after it were not created).
pub(crate) async fn create(
    rt: &dyn Runtime,
    chain: Chain,
    timeout: Duration,
) -> Result<(Vec<String>, Option<String>), RuntimeError> {
    let ids = |out: &str| -> Vec<String> {
        out.lines()
            .map(str::trim)
            .filter(|l| l.starts_with('%'))
            .map(String::from)
            .collect()
    };
    match run(rt, chain, timeout).await {
        Ok(out) => Ok((ids(&out), None)),
        Err(RuntimeError::Failed { message, stdout }) => {
            Ok((ids(&stdout), Some(format!("tmux refused: {message}"))))
        }
        Err(e) => Err(e),
    }
}

/// A created pane to settle: `(pane row, %N, label)`.
pub(crate) type Probed<'a> = (&'a str, &'a str, &'a str);

/// The settle probe: lists session `session`'s panes and, guarded by each
/// pane's ownership mark, gives it its label as title and drops its pending
/// marker, all in one call (tmux first, so the table never says `ready`
/// for a pane still titled with its marker). A pane that vanished fails
/// only its own retitle; the listing still arrives.
pub(crate) async fn probe(
    rt: &dyn Runtime,
    session: &str,
    panes: &[Probed<'_>],
    timeout: Duration,
) -> Result<Vec<PaneInfo>, RuntimeError> {
    let mut chain = session_panes(session);
    for (row, id, label) in panes {
        let owner = Owner::Pane(row);
        chain.guarded(id, &owner, ["select-pane", "-t", id, "-T", label]);
        chain.guarded(
            id,
            &owner,
            ["set-option", "-p", "-u", "-t", id, MARKER_OPTION],
        );
    }
    match run(rt, chain, timeout).await {
        Ok(out) => Ok(parse_panes(&out)),
        Err(RuntimeError::Failed { stdout, .. }) if !stdout.trim().is_empty() => {
            Ok(parse_panes(&stdout))
        }
        Err(e) => Err(e),
    }
}

/// Kills each `(%N, pane row)` tmux pane if it carries that row's
/// ownership mark, checked by tmux in the same command (which also closes
/// its log pipe). A pane already gone, or no server at all, is success.
/// Returns the `%N`s that were someone else's, left alone.
pub(crate) async fn kill_owned(
    rt: &dyn Runtime,
    panes: &[(String, String)],
    timeout: Duration,
) -> Result<Vec<String>, RuntimeError> {
    if panes.is_empty() {
        return Ok(Vec::new());
    }
    let mut chain = Chain::new();
    for (id, owner) in panes {
        chain.guarded(id, &Owner::Pane(owner), ["kill-pane", "-t", id]);
    }
    let printed = match run(rt, chain, timeout).await {
        Ok(out) => out,
        Err(RuntimeError::NoServer | RuntimeError::Gone(_)) => return Ok(Vec::new()),
        Err(RuntimeError::Failed { message, stdout }) if only_missing(&message) => stdout,
        Err(e) => return Err(e),
    };
    Ok(foreign_panes(&printed))
}

/// What typing into a pane came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Typed {
    Done,
    /// The pane (or its server, or its container) is gone, or its `%N` now
    /// names a pane that is not the one `owner` proves.
    Gone,
}

/// Types `chunks` literally into pane `%N`, then Enter when `enter`, each
/// guarded by `owner` in the same command.
pub(crate) async fn send_keys(
    rt: &dyn Runtime,
    pane: &str,
    owner: &Owner<'_>,
    chunks: &[&str],
    enter: bool,
    timeout: Duration,
) -> Result<Typed, RuntimeError> {
    let mut chain = Chain::new();
    for chunk in chunks {
        chain.guarded(pane, owner, ["send-keys", "-t", pane, "-l", "--", chunk]);
    }
    if enter {
        chain.guarded(pane, owner, ["send-keys", "-t", pane, "Enter"]);
    }
    if chain.is_empty() {
        return Ok(Typed::Done);
    }
    match run(rt, chain, timeout).await {
        Ok(out) if foreign_panes(&out).is_empty() => Ok(Typed::Done),
        Ok(_) | Err(RuntimeError::NoServer | RuntimeError::Gone(_)) => Ok(Typed::Gone),
        Err(RuntimeError::Failed { message, .. }) if only_missing(&message) => Ok(Typed::Gone),
        Err(e) => Err(e),
    }
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
        let r: Result<(), _> = retrying(&backoffs, |_| {
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
        let r: Result<(), _> = retrying(&[Duration::from_secs(1)], |_| {
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
        let env = BTreeMap::from([("K".to_string(), "v;".to_string())]);
        assert_eq!(
            launch_args(&["htop; rm -rf /".to_string()], &env, Some("/tmp/#{x}")),
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
    fn a_new_session_then_splits_each_carry_their_marks() {
        let env = BTreeMap::new();
        let pane = |row: &'static str| NewPane {
            row_id: row,
            marker_token: "tok",
            marker_title: format!("@MANAGED:tok:{row}"),
            command: &[],
            env: &env,
            working_dir: None,
            log: Some("/l/a b.log"),
        };
        let args = create_chain("w", false, (80, 24), &[pane("p1"), pane("p2")])
            .unwrap()
            .into_args();
        assert_eq!(&args[..3], ["new-session", "-d", "-s"]);
        assert_eq!(args.iter().filter(|a| *a == "split-window").count(), 1);
        assert_eq!(args.iter().filter(|a| *a == OWNER_OPTION).count(), 2);
        assert!(
            args.iter().any(|a| a == "exec cat >> '/l/a b.log'"),
            "{args:?}"
        );
    }
}
