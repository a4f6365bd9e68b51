//! Shell completion scripts and man pages, both generated from the clap
//! definition so they never drift from the commands; and the live names
//! (`__names`) the bash script completes layouts, panes and agents with.

use std::path::Path;

use agenttower::client::ManagedSessionsServiceClient;
use agenttower::pb;
use clap::{CommandFactory as _, ValueEnum};
use clap_complete::Shell;

use crate::start::Socket;
use crate::{Cli, CliResult, Failure};

const BIN: &str = "agenttower";

/// What `__names` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum KindArg {
    /// Session names of live layouts.
    Layout,
    /// Labels of live panes.
    Pane,
    /// Labels of registered agents.
    Agent,
}

/// Prints the completion script for `shell`; bash's also completes live
/// names where a command takes a layout, pane or agent.
pub(crate) fn script(shell: Shell) {
    let mut cmd = Cli::command();
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut text);
    let mut text = String::from_utf8_lossy(&text).into_owned();
    if shell == Shell::Bash {
        text.push_str(BASH_LIVE_NAMES);
    }
    print!("{text}");
}

/// Wraps clap's `_agenttower` so that a word naming a layout, pane or
/// agent completes from the daemon's live names (`agenttower __names`,
/// which never starts a daemon); everything else is clap's.
const BASH_LIVE_NAMES: &str = r#"
_agenttower_live_names() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"
    local kind="" words=() w i
    case "$prev" in
        --layout) kind=layout ;;
        --pane) kind=pane ;;
        --agent) kind=agent ;;
    esac
    if [[ -z "$kind" && "$cur" != -* ]]; then
        # The words before this one, options and their values left out.
        for ((i = 1; i < COMP_CWORD; i++)); do
            w="${COMP_WORDS[i]}"
            case "$w" in
                --socket|--container|--layout|--pane|--agent|--profile|--timeout|--until|--template|-t|--session|-s|-c|--override|--idempotency-key|--state|--type|--after|--count|--page-size|--page-token|--message|--origin|--activity|--role|--capability|--label|--bin|--dir)
                    ((i++)) ;;
                -*) ;;
                *) words+=("$w") ;;
            esac
        done
        case "${#words[@]}:${words[*]}" in
            "2:layout get"|"2:layout remove") kind=layout ;;
            "2:pane get"|"2:pane remove"|"2:pane recreate"|"1:attach") kind=pane ;;
            "2:agent wait"|"1:send"|"2:route create"|"3:route create "*) kind=agent ;;
        esac
    fi
    if [[ -n "$kind" ]]; then
        local IFS=$'\n'
        COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" __names "$kind" 2>/dev/null)" -- "$cur"))
        return 0
    fi
    _agenttower "$@"
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _agenttower_live_names -o nosort -o bashdefault -o default agenttower
else
    complete -F _agenttower_live_names -o bashdefault -o default agenttower
fi
"#;

/// Writes agenttower.1 and one page per subcommand
/// (agenttower-layout-create.1, ...) into `dir`.
pub(crate) fn man_pages(dir: &Path) -> CliResult {
    std::fs::create_dir_all(dir)
        .and_then(|()| clap_mangen::generate_to(Cli::command(), dir))
        .map_err(|e| Failure::Usage(format!("cannot write man pages to {}: {e}", dir.display())))?;
    Ok(())
}

/// `__names KIND`: the live names of a kind, one a line, for completion.
/// Never starts the daemon; prints nothing when none answers.
pub(crate) async fn names(kind: KindArg, socket: &Socket) -> CliResult {
    let Ok(channel) = socket.existing().await else {
        return Ok(());
    };
    let mut c = ManagedSessionsServiceClient::new(channel);
    let mut names: Vec<String> = match kind {
        KindArg::Layout => c
            .list_layouts(pb::ListLayoutsRequest {
                page_size: 200,
                ..Default::default()
            })
            .await?
            .into_inner()
            .layouts
            .into_iter()
            .filter(|l| l.state() != pb::LayoutState::Removed)
            .map(|l| l.tmux_session_name)
            .collect(),
        KindArg::Pane => c
            .list_panes(pb::ListPanesRequest {
                page_size: 200,
                ..Default::default()
            })
            .await?
            .into_inner()
            .panes
            .into_iter()
            .filter(|p| p.state() != pb::PaneState::Removed)
            .map(|p| p.label)
            .collect(),
        KindArg::Agent => c
            .list_agents(pb::ListAgentsRequest {
                page_size: 200,
                ..Default::default()
            })
            .await?
            .into_inner()
            .agents
            .into_iter()
            .map(|a| a.label)
            .collect(),
    };
    names.retain(|n| !n.is_empty());
    names.sort();
    names.dedup();
    for n in names {
        println!("{n}");
    }
    Ok(())
}
