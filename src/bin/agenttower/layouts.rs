//! `layout create|list|get|remove` and `pane list|get|remove|recreate`.

use std::collections::HashMap;
use std::time::Duration;

use agenttower::client::ManagedSessionsServiceClient;
use agenttower::pb;
use clap::{Args, Subcommand, ValueEnum};

use crate::output::{self, Out};
use crate::{CliResult, Failure, PageArgs, events, resolve};

#[derive(Debug, Subcommand)]
pub(crate) enum LayoutCmd {
    /// Create a layout from a template (answers at once; --wait follows it).
    Create(CreateArgs),
    /// List layouts: state priority, then newest first.
    List {
        #[arg(long)]
        container: Option<String>,
        #[arg(long = "state", value_enum)]
        states: Vec<StateArg>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one layout with its panes.
    Get {
        /// The layout: its session name (`work`, `c1:work`), id or unique
        /// id prefix.
        layout: String,
        /// Include removed panes.
        #[arg(long)]
        include_removed: bool,
    },
    /// Remove every live pane of a layout (kills only panes it created).
    Remove {
        /// The layout: its session name (`work`, `c1:work`), id or unique
        /// id prefix.
        layout: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    /// Template name, e.g. 1m+2s.
    #[arg(long, short)]
    template: String,
    /// tmux session name (letters, digits, '_', '-').
    #[arg(long, short)]
    session: String,
    /// Container id, short id or name [default: `local` on the host, the
    /// caller's own container inside a bench container].
    #[arg(long, short)]
    container: Option<String>,
    /// Launch profile for one pane: ROLE:LABEL=PROFILE (repeatable).
    #[arg(long = "override", value_name = "ROLE:LABEL=PROFILE")]
    overrides: Vec<String>,
    /// Idempotency key: repeating the create returns the same layout.
    #[arg(long)]
    idempotency_key: Option<String>,
    /// Follow the layout until it settles.
    #[arg(long)]
    wait: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 120)]
    wait_timeout: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PaneCmd {
    /// List panes: state priority, layout, pane index.
    List {
        /// Only this container's panes (id, short id or name).
        #[arg(long)]
        container: Option<String>,
        /// Only this layout's panes: its session name, id or unique id
        /// prefix.
        #[arg(long)]
        layout: Option<String>,
        #[arg(long = "state", value_enum)]
        states: Vec<StateArg>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one pane.
    Get {
        /// The pane: its label (`work.s1`), id or unique id prefix.
        pane: String,
        /// Also show its predecessor chain, newest first.
        #[arg(long)]
        chain: bool,
    },
    /// Kill a managed pane and mark it removed (already removed: no change).
    Remove {
        /// The pane: its label (`work.s1`), id or unique id prefix.
        pane: String,
    },
    /// Create a successor of a removed or failed pane in the same slot.
    Recreate {
        /// The removed or failed pane: its label (the newest removed pane
        /// of that label when no live one has it), id or unique id prefix.
        pane: String,
        /// Launch profile for the successor (default: the predecessor's).
        #[arg(long)]
        profile: Option<String>,
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum StateArg {
    Creating,
    Ready,
    Degraded,
    Failed,
    Removed,
}

impl StateArg {
    fn pane(self) -> i32 {
        (match self {
            StateArg::Creating => pb::PaneState::Creating,
            StateArg::Ready => pb::PaneState::Ready,
            StateArg::Degraded => pb::PaneState::Degraded,
            StateArg::Failed => pb::PaneState::Failed,
            StateArg::Removed => pb::PaneState::Removed,
        }) as i32
    }

    fn layout(self) -> i32 {
        (match self {
            StateArg::Creating => pb::LayoutState::Creating,
            StateArg::Ready => pb::LayoutState::Ready,
            StateArg::Degraded => pb::LayoutState::Degraded,
            StateArg::Failed => pb::LayoutState::Failed,
            StateArg::Removed => pb::LayoutState::Removed,
        }) as i32
    }
}

pub(crate) async fn layout(
    cmd: LayoutCmd,
    mut c: ManagedSessionsServiceClient,
    out: &Out,
) -> CliResult {
    match cmd {
        LayoutCmd::Create(args) => {
            let mut overrides = HashMap::new();
            for o in &args.overrides {
                let (key, profile) = o.split_once('=').ok_or_else(|| {
                    Failure::Usage(format!("--override {o:?} is not ROLE:LABEL=PROFILE"))
                })?;
                overrides.insert(key.to_string(), profile.to_string());
            }
            let r = c
                .create_layout(pb::CreateLayoutRequest {
                    container_id: args.container.unwrap_or_default(),
                    template_name: args.template,
                    tmux_session_name: args.session,
                    launch_command_overrides: overrides,
                    idempotency_key: args.idempotency_key.unwrap_or_default(),
                })
                .await?
                .into_inner();
            if !args.wait {
                out.show(&r, || {
                    let layout = r.layout.clone().unwrap_or_default();
                    println!(
                        "layout {} {}{}",
                        layout.layout_id,
                        output::layout_state(layout.state()),
                        if r.replay { " (replay)" } else { "" }
                    );
                    output::panes_table(&layout.panes);
                });
                return Ok(());
            }
            events::wait_settled(&mut c, &r, Duration::from_secs(args.wait_timeout), out).await
        }
        LayoutCmd::List {
            container,
            states,
            page,
        } => {
            let r = c
                .list_layouts(pb::ListLayoutsRequest {
                    container_id: container.unwrap_or_default(),
                    states: states.iter().map(|s| s.layout()).collect(),
                    page_size: page.page_size,
                    page_token: page.page_token,
                })
                .await?
                .into_inner();
            out.show(&r, || {
                output::layouts_table(&r.layouts);
                output::next_page(&r.next_page_token);
            });
            Ok(())
        }
        LayoutCmd::Get {
            layout,
            include_removed,
        } => {
            let layout_id = resolve::id(&mut c, pb::NameKind::Layout, &layout).await?;
            let r = c
                .get_layout(pb::GetLayoutRequest {
                    layout_id,
                    include_terminal_panes: include_removed,
                })
                .await?
                .into_inner();
            out.show(&r, || {
                if let Some(l) = &r.layout {
                    output::layout_with_panes(l);
                }
            });
            Ok(())
        }
        LayoutCmd::Remove { layout } => {
            let layout_id = resolve::id(&mut c, pb::NameKind::Layout, &layout).await?;
            let r = c
                .remove_layout(pb::RemoveLayoutRequest { layout_id })
                .await?
                .into_inner();
            out.show(&r, || {
                if let Some(l) = &r.layout {
                    output::layout_with_panes(l);
                }
            });
            Ok(())
        }
    }
}

pub(crate) async fn pane(
    cmd: PaneCmd,
    mut c: ManagedSessionsServiceClient,
    out: &Out,
) -> CliResult {
    match cmd {
        PaneCmd::List {
            container,
            layout,
            states,
            page,
        } => {
            let layout_id =
                resolve::filter(&mut c, pb::NameKind::Layout, layout.as_deref()).await?;
            let r = c
                .list_panes(pb::ListPanesRequest {
                    container_id: container.unwrap_or_default(),
                    layout_id,
                    states: states.iter().map(|s| s.pane()).collect(),
                    page_size: page.page_size,
                    page_token: page.page_token,
                })
                .await?
                .into_inner();
            out.show(&r, || {
                output::panes_table(&r.panes);
                output::next_page(&r.next_page_token);
            });
            Ok(())
        }
        PaneCmd::Get { pane, chain } => {
            let pane_id = resolve::id(&mut c, pb::NameKind::Pane, &pane).await?;
            let r = c
                .get_pane(pb::GetPaneRequest {
                    pane_id,
                    include_predecessor_chain: chain,
                })
                .await?
                .into_inner();
            out.show(&r, || {
                output::panes_table(r.pane.as_slice());
                if chain && !r.predecessor_chain.is_empty() {
                    println!("\npredecessors (newest first):");
                    output::panes_table(&r.predecessor_chain);
                }
            });
            Ok(())
        }
        PaneCmd::Remove { pane } => {
            let pane_id = resolve::id(&mut c, pb::NameKind::Pane, &pane).await?;
            let r = c
                .remove_pane(pb::RemovePaneRequest { pane_id })
                .await?
                .into_inner();
            out.show(&r, || {
                output::panes_table(r.pane.as_slice());
                if !r.changed {
                    println!("(already removed; nothing changed)");
                }
            });
            Ok(())
        }
        PaneCmd::Recreate {
            pane,
            profile,
            idempotency_key,
        } => {
            let predecessor_pane_id = resolve::id(&mut c, pb::NameKind::Pane, &pane).await?;
            let r = c
                .recreate_pane(pb::RecreatePaneRequest {
                    predecessor_pane_id,
                    launch_command_override: profile.unwrap_or_default(),
                    idempotency_key: idempotency_key.unwrap_or_default(),
                })
                .await?
                .into_inner();
            out.show(&r, || {
                output::panes_table(r.pane.as_slice());
                if r.replay {
                    println!("(replay of an earlier recreate)");
                }
            });
            Ok(())
        }
    }
}
