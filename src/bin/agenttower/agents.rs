//! `agent list|adopt|scan|report|wait` and `send`: registered agents, what
//! they are doing, and typing into their panes.

use std::time::Duration;

use agenttower::client::ManagedSessionsServiceClient;
use agenttower::names::ShortName as _;
use agenttower::pb;
use clap::{Args, Subcommand, ValueEnum};

use crate::activity::{self, ActivityArg, ReachableArg};
use crate::output::{self, Out, print_table};
use crate::{CliResult, Failure, PageArgs, resolve};

#[derive(Debug, Subcommand)]
pub(crate) enum AgentCmd {
    /// List registered agents with their activity and how long they have
    /// been in it.
    List {
        #[arg(long)]
        container: Option<String>,
        #[arg(long, value_enum)]
        origin: Option<OriginArg>,
        /// Only agents in this activity (repeatable: any of them).
        /// `waiting` is waiting_for_input.
        #[arg(long = "activity", value_enum)]
        activities: Vec<ActivityArg>,
        /// Include agents whose pane was removed.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Register an existing tmux pane (one the daemon did not create).
    Adopt {
        /// tmux pane id, e.g. %3.
        tmux_pane_id: String,
        /// Container id, short id or name [default: `local`, or the
        /// caller's own container].
        #[arg(long)]
        container: Option<String>,
        #[arg(long)]
        role: String,
        #[arg(long)]
        capability: String,
        #[arg(long)]
        label: String,
    },
    /// List a container's tmux panes (never panes being created), marking
    /// which are agents: candidates for `agent adopt`.
    Scan {
        /// Container id, short id or name [default: `local`, or the
        /// caller's own container].
        #[arg(long)]
        container: Option<String>,
    },
    /// Report what the agent whose pane runs this command is doing (for
    /// hooks). The daemon finds the pane from the kernel (this process and
    /// its ancestors); run anywhere else it is refused with
    /// caller_not_in_agent_pane (exit 4).
    Report {
        /// What the agent is doing now (`waiting` is waiting_for_input).
        #[arg(value_enum)]
        activity: ReachableArg,
        /// A short note shown with the activity (at most 256 bytes).
        #[arg(long)]
        message: Option<String>,
    },
    /// Wait until an agent is in one of the given activities.
    ///
    /// Exit codes: 0 reached (prints it); 6 timed out; 7 the agent exited
    /// first; 4 the agent is unknown (name_not_found) or another API
    /// error.
    Wait {
        /// The agent: its label, id or unique id prefix.
        agent: String,
        /// The activity to wait for (repeatable: any of them). `waiting` is
        /// waiting_for_input.
        #[arg(long, value_enum, required = true)]
        until: Vec<ReachableArg>,
        /// Give up after this long (e.g. 30s, 500ms, 2m).
        #[arg(long, default_value = "30s", value_parser = activity::parse_duration)]
        timeout: Duration,
    },
}

/// `send`: what to type into which agent's pane.
#[derive(Debug, Args)]
pub(crate) struct SendArgs {
    /// The agent: its label, id or unique id prefix.
    agent: String,
    /// The text, typed literally (words are joined with spaces).
    #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
    text: Vec<String>,
    /// Do not press Enter after the text.
    #[arg(long)]
    no_enter: bool,
    /// Type only once the agent is idle or waiting_for_input.
    #[arg(long)]
    wait_ready: bool,
    /// How long --wait-ready waits (e.g. 30s, 500ms, 2m).
    #[arg(long, default_value = "30s", value_parser = activity::parse_duration, requires = "wait_ready")]
    timeout: Duration,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum OriginArg {
    Managed,
    Adopted,
}

pub(crate) async fn run(
    cmd: AgentCmd,
    mut c: ManagedSessionsServiceClient,
    out: &Out,
) -> CliResult {
    let r = match cmd {
        AgentCmd::List {
            container,
            origin,
            activities,
            all,
            page,
        } => {
            let r = c
                .list_agents(pb::ListAgentsRequest {
                    container_id: container.unwrap_or_default(),
                    origin: match origin {
                        None => pb::AgentOrigin::Unspecified,
                        Some(OriginArg::Managed) => pb::AgentOrigin::Managed,
                        Some(OriginArg::Adopted) => pb::AgentOrigin::Adopted,
                    } as i32,
                    include_unregistered: all,
                    page_size: page.page_size,
                    page_token: page.page_token,
                    activities: activities.iter().map(|a| a.activity() as i32).collect(),
                })
                .await?
                .into_inner();
            out.show(&r, || {
                output::agents_table(&r.agents);
                output::next_page(&r.next_page_token);
            });
            return Ok(());
        }
        AgentCmd::Adopt {
            tmux_pane_id,
            container,
            role,
            capability,
            label,
        } => c
            .adopt_pane(pb::AdoptPaneRequest {
                container_id: container.unwrap_or_default(),
                tmux_pane_id,
                role,
                capability,
                label,
            })
            .await?
            .into_inner(),
        AgentCmd::Scan { container } => {
            let r = c
                .scan_panes(pb::ScanPanesRequest {
                    container_id: container.unwrap_or_default(),
                })
                .await?
                .into_inner();
            out.show(&r, || {
                print_table(
                    &["SESSION", "TMUX", "COMMAND", "AGENT", "TITLE"],
                    r.panes.iter().map(|p| {
                        vec![
                            p.tmux_session_name.clone(),
                            p.tmux_pane_id.clone(),
                            p.current_command.clone(),
                            p.agent_id.clone(),
                            p.title.clone(),
                        ]
                    }),
                )
            });
            return Ok(());
        }
        AgentCmd::Report { activity, message } => {
            let r = c
                .report_activity(pb::ReportActivityRequest {
                    activity: activity.activity() as i32,
                    message: message.unwrap_or_default(),
                })
                .await?
                .into_inner();
            out.show(&r, || {
                if let Some(a) = &r.agent {
                    print_activity(a);
                }
            });
            return Ok(());
        }
        AgentCmd::Wait {
            agent,
            until,
            timeout,
        } => {
            let agent = agent_named(&mut c, &agent).await?;
            let wanted: Vec<pb::Activity> = until.iter().map(|u| u.activity()).collect();
            let reached = activity::wait_for(&mut c, &agent, &wanted, timeout).await?;
            out.show(&reached, || print_activity(&reached));
            return Ok(());
        }
    };
    out.show(&r, || output::agents_table(r.agent.as_slice()));
    Ok(())
}

/// `send`: types the text into the agent's pane, after waiting until it
/// is ready with --wait-ready.
pub(crate) async fn send(
    args: SendArgs,
    mut c: ManagedSessionsServiceClient,
    out: &Out,
) -> CliResult {
    let agent = agent_named(&mut c, &args.agent).await?;
    if args.wait_ready {
        let ready = [pb::Activity::Idle, pb::Activity::WaitingForInput];
        activity::wait_for(&mut c, &agent, &ready, args.timeout).await?;
    }
    let r = c
        .send_input(pb::SendInputRequest {
            agent_id: agent.agent_id,
            text: args.text.join(" "),
            no_enter: args.no_enter,
        })
        .await?
        .into_inner();
    out.show(&r, || {});
    Ok(())
}

/// The agent `name` names (label, id or unique id prefix), as the daemon
/// resolves it.
async fn agent_named(
    c: &mut ManagedSessionsServiceClient,
    name: &str,
) -> Result<pb::Agent, Failure> {
    let r = resolve::resolve(c, pb::NameKind::Agent, name).await?;
    Ok(r.agent.unwrap_or_else(|| pb::Agent {
        agent_id: r.id,
        ..Default::default()
    }))
}

/// `LABEL ACTIVITY [message]`: one agent's activity on one line.
fn print_activity(agent: &pb::Agent) {
    let message = agent
        .activity
        .as_ref()
        .map(|a| a.message.as_str())
        .unwrap_or_default();
    let line = format!(
        "{} {} {}",
        activity::display(agent),
        activity::of(agent).short_name(),
        message
    );
    println!("{}", line.trim_end());
}
