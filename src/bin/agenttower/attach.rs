//! `agenttower attach <pane>`: replaces this process with the tmux client
//! that shows the pane (`agenttower::attach` decides which), or prints that
//! command with `--print`.

use std::os::unix::process::CommandExt as _;

use agenttower::attach::{self, AttachError, Terminal};
use agenttower::client::ManagedSessionsServiceClient;
use agenttower::pb;
use clap::Args;

use crate::output::Out;
use crate::resolve::{resolve, resolve_if_any};
use crate::{CliResult, Failure};

#[derive(Debug, Args)]
pub(crate) struct AttachArgs {
    /// The pane's name, id or unique id prefix: its label (`work.s1`,
    /// `c1:work.s1`), or an adopted agent's label.
    pane: String,
    /// Print the command instead of running it (a JSON array with --json).
    #[arg(long)]
    print: bool,
}

/// Resolves the pane (then, for adopted panes, the agent), plans the tmux
/// client and runs it in place of this process.
pub(crate) async fn run(
    args: AttachArgs,
    mut c: ManagedSessionsServiceClient,
    out: &Out,
) -> CliResult {
    let resolved = match resolve_if_any(&mut c, pb::NameKind::Pane, &args.pane).await? {
        Some(pane) => pane,
        // Adopted panes are agents without a managed pane.
        None => resolve(&mut c, pb::NameKind::Agent, &args.pane).await?,
    };
    let plan = attach::plan_resolved(&resolved, &Terminal::current()).map_err(|e| match e {
        AttachError::NoTmuxPane { .. } => Failure::NotReady(format!("error: {e}")),
        AttachError::UnknownRuntime { .. } => Failure::Usage(e.to_string()),
    })?;
    if args.print {
        let argv = plan.argv();
        out.show(&argv, || println!("{}", words(&argv)));
        return Ok(());
    }
    drop(c);
    // Only returns when the program could not be started.
    let e = plan.command().exec();
    Err(Failure::Usage(format!(
        "cannot run {}: {e}",
        plan.program.to_string_lossy()
    )))
}

/// `argv` as one line of words, single-quoted where a shell would split or
/// expand them (for people to read or paste).
fn words(argv: &[String]) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "%+,-./:=@_".contains(c);
    argv.iter()
        .map(|w| {
            if !w.is_empty() && w.chars().all(safe) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_where_a_shell_would_need_it() {
        let argv = [
            "tmux",
            "-S",
            "/tmp/a b/x.sock",
            "attach-session",
            "-t",
            "%3",
            "it's",
            "",
        ]
        .map(String::from);
        assert_eq!(
            words(&argv),
            r"tmux -S '/tmp/a b/x.sock' attach-session -t %3 'it'\''s' ''"
        );
    }
}
