//! `agenttower`: the command line for scripts and operators. One subcommand
//! per API method, human tables by default, `--json` (proto3 JSON) for
//! machines, and exit codes that tell usage errors, an unreachable daemon and
//! API errors apart.

mod daemon;
mod events;
mod output;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use agenttower::client::{self, ManagedSessionsServiceClient};
use agenttower::names::ShortName as _;
use agenttower::pb;
use agenttower::time;
use clap::{Args, Parser, Subcommand, ValueEnum};

use output::{Out, print_table};

/// Exit code: success.
const EXIT_OK: u8 = 0;
/// Exit code: the daemon is not reachable on its socket.
const EXIT_UNAVAILABLE: u8 = 3;
/// Exit code: the API answered with a closed-set error (printed).
const EXIT_API: u8 = 4;
/// Exit code: `layout create --wait` settled degraded or failed.
const EXIT_NOT_READY: u8 = 5;
/// Exit code: `--wait` gave up before the layout settled.
const EXIT_TIMEOUT: u8 = 6;

#[derive(Debug, Parser)]
#[command(
    name = "agenttower",
    version,
    about = "Control AgentTower managed tmux layouts"
)]
struct Cli {
    /// Daemon socket (default: $AGENTTOWER_SOCKET or the state directory's).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    /// Print machine-readable JSON (proto3 JSON) instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Managed layouts.
    #[command(subcommand)]
    Layout(LayoutCmd),
    /// Panes of managed layouts.
    #[command(subcommand)]
    Pane(PaneCmd),
    /// Registered agents (managed and adopted panes).
    #[command(subcommand)]
    Agent(AgentCmd),
    /// The lifecycle event log.
    #[command(subcommand)]
    Events(events::EventsCmd),
    /// The container registry.
    #[command(subcommand)]
    Container(ContainerCmd),
    /// Routes between agents.
    #[command(subcommand)]
    Route(RouteCmd),
    /// Type a line into an agent's pane (then Enter).
    Send {
        agent_id: String,
        /// The text, typed literally (words are joined with spaces).
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        text: Vec<String>,
        /// Do not press Enter after the text.
        #[arg(long)]
        no_enter: bool,
    },
    /// Layout templates (built-in and operator files).
    Templates,
    /// Launch profiles (built-in and operator files).
    Profiles,
    /// Start, stop or check agenttowerd.
    #[command(subcommand)]
    Daemon(daemon::DaemonCmd),
    /// The daemon's release, API and schema versions.
    Version {
        /// Ask through AppManagedSessions, the host app's surface (refused
        /// with host_only inside a bench container).
        #[arg(long)]
        app: bool,
    },
}

#[derive(Debug, Subcommand)]
enum LayoutCmd {
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
        layout_id: String,
        /// Include removed panes.
        #[arg(long)]
        include_removed: bool,
    },
    /// Remove every live pane of a layout (kills only panes it created).
    Remove { layout_id: String },
}

#[derive(Debug, Args)]
struct CreateArgs {
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
enum PaneCmd {
    /// List panes: state priority, layout, pane index.
    List {
        #[arg(long)]
        container: Option<String>,
        #[arg(long)]
        layout: Option<String>,
        #[arg(long = "state", value_enum)]
        states: Vec<StateArg>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show one pane.
    Get {
        pane_id: String,
        /// Also show its predecessor chain, newest first.
        #[arg(long)]
        chain: bool,
    },
    /// Kill a managed pane and mark it removed (already removed: no change).
    Remove { pane_id: String },
    /// Create a successor of a removed or failed pane in the same slot.
    Recreate {
        pane_id: String,
        /// Launch profile for the successor (default: the predecessor's).
        #[arg(long)]
        profile: Option<String>,
        #[arg(long)]
        idempotency_key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum RouteCmd {
    /// Link two registered agents.
    Create {
        source_agent_id: String,
        target_agent_id: String,
    },
    /// List routes, optionally those touching one agent.
    List {
        #[arg(long)]
        agent: Option<String>,
    },
    /// Delete a route.
    Delete { route_id: String },
}

#[derive(Debug, Subcommand)]
enum AgentCmd {
    /// List registered agents.
    List {
        #[arg(long)]
        container: Option<String>,
        #[arg(long, value_enum)]
        origin: Option<OriginArg>,
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
}

#[derive(Debug, Subcommand)]
enum ContainerCmd {
    /// List registered containers.
    List,
    /// Refresh the registry from Docker (bench containers by label or name).
    Scan,
}

#[derive(Debug, Args)]
pub(crate) struct PageArgs {
    /// Rows per page (default 50, max 200).
    #[arg(long, default_value_t = 0)]
    page_size: u32,
    /// Continue from a previous page's next_page_token.
    #[arg(long, default_value = "")]
    page_token: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StateArg {
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

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OriginArg {
    Managed,
    Adopted,
}

/// Why a command failed, mapped to its exit code.
pub(crate) enum Failure {
    Unavailable(String),
    Api(tonic::Status),
    Usage(String),
    NotReady(String),
    Timeout(String),
}

impl From<client::DaemonUnavailable> for Failure {
    fn from(e: client::DaemonUnavailable) -> Self {
        Failure::Unavailable(e.to_string())
    }
}

impl From<tonic::Status> for Failure {
    fn from(s: tonic::Status) -> Self {
        Failure::Api(s)
    }
}

pub(crate) type CliResult = Result<(), Failure>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Behave like any Unix filter when the reader goes away (`| head`).
    // SAFETY: set once at start-up, before any other thread exists.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    let cli = Cli::parse();
    let socket = cli
        .socket
        .clone()
        .unwrap_or_else(agenttower::paths::socket_path);
    let out = Out { json: cli.json };
    let result = run(cli.command, &socket, &out).await;
    ExitCode::from(match result {
        Ok(()) => EXIT_OK,
        Err(Failure::Unavailable(e)) => {
            out.error(
                "daemon_unavailable",
                &e,
                &HashMap::from([("socket".to_string(), socket.display().to_string())]),
            );
            EXIT_UNAVAILABLE
        }
        Err(Failure::Api(status)) => {
            match client::api_error(&status) {
                Some(api) => out.error(
                    &api.reason,
                    &api.message,
                    &api.details.into_iter().collect(),
                ),
                None if status.code() == tonic::Code::Unavailable => {
                    out.error("daemon_unavailable", status.message(), &HashMap::new());
                    return ExitCode::from(EXIT_UNAVAILABLE);
                }
                None => out.error("internal_error", status.message(), &HashMap::new()),
            }
            EXIT_API
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            2
        }
        Err(Failure::NotReady(msg)) => {
            eprintln!("{msg}");
            EXIT_NOT_READY
        }
        Err(Failure::Timeout(msg)) => {
            eprintln!("{msg}");
            EXIT_TIMEOUT
        }
    })
}

pub(crate) async fn connect(
    socket: &std::path::Path,
) -> Result<ManagedSessionsServiceClient, Failure> {
    Ok(ManagedSessionsServiceClient::new(
        client::connect(socket).await?,
    ))
}

async fn run(command: Command, socket: &std::path::Path, out: &Out) -> CliResult {
    match command {
        Command::Daemon(cmd) => daemon::run(cmd, socket, out).await,
        Command::Layout(cmd) => layout(cmd, connect(socket).await?, out).await,
        Command::Pane(cmd) => pane(cmd, connect(socket).await?, out).await,
        Command::Agent(cmd) => agent(cmd, connect(socket).await?, out).await,
        Command::Events(cmd) => events::run(cmd, socket, out).await,
        Command::Route(cmd) => route(cmd, connect(socket).await?, out).await,
        Command::Send {
            agent_id,
            text,
            no_enter,
        } => {
            let r = connect(socket)
                .await?
                .send_input(pb::SendInputRequest {
                    agent_id,
                    text: text.join(" "),
                    no_enter,
                })
                .await?
                .into_inner();
            out.show(&r, || {});
            Ok(())
        }
        Command::Container(ContainerCmd::Scan) => {
            let r = connect(socket)
                .await?
                .scan_containers(pb::ScanContainersRequest::default())
                .await?
                .into_inner();
            out.show(&r, || {
                for w in &r.warnings {
                    eprintln!("warning: {w}");
                }
                print_containers(&r.containers);
            });
            Ok(())
        }
        Command::Container(ContainerCmd::List) => {
            let r = connect(socket)
                .await?
                .list_containers(pb::ListContainersRequest::default())
                .await?
                .into_inner();
            out.show(&r, || print_containers(&r.containers));
            Ok(())
        }
        Command::Version { app } => {
            let clients = client::open(socket).await?;
            let r = if app {
                clients
                    .app
                    .clone()
                    .get_version(pb::GetVersionRequest {})
                    .await
            } else {
                clients
                    .managed
                    .clone()
                    .get_version(pb::GetVersionRequest {})
                    .await
            }?
            .into_inner();
            out.show(&r, || {
                println!("daemon  {}", r.daemon_version);
                println!("api     {}", r.api_version);
                println!("schema  {}", r.schema_version);
            });
            Ok(())
        }
        Command::Templates => {
            let r = connect(socket)
                .await?
                .list_templates(pb::ListTemplatesRequest::default())
                .await?
                .into_inner();
            out.show(&r, || {
                print_table(
                    &["TEMPLATE", "PANES", "SOURCE"],
                    r.templates.iter().map(|t| {
                        let panes = t
                            .panes
                            .iter()
                            .map(|p| format!("{}:{}", p.role, p.label_pattern))
                            .collect::<Vec<_>>()
                            .join(" ");
                        vec![t.name.clone(), panes, t.source.clone()]
                    }),
                );
                output::warnings(&r.warnings);
            });
            Ok(())
        }
        Command::Profiles => {
            let r = connect(socket)
                .await?
                .list_launch_profiles(pb::ListLaunchProfilesRequest::default())
                .await?
                .into_inner();
            out.show(&r, || {
                print_table(
                    &["PROFILE", "COMMAND", "SOURCE"],
                    r.profiles.iter().map(|p| {
                        let cmd = if p.command.is_empty() {
                            "(login shell)".to_string()
                        } else {
                            format!("{:?}", p.command)
                        };
                        vec![p.name.clone(), cmd, p.source.clone()]
                    }),
                );
                output::warnings(&r.warnings);
            });
            Ok(())
        }
    }
}

async fn layout(cmd: LayoutCmd, mut c: ManagedSessionsServiceClient, out: &Out) -> CliResult {
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
            layout_id,
            include_removed,
        } => {
            let r = c
                .get_layout(pb::GetLayoutRequest {
                    layout_id,
                    include_terminal_panes: include_removed,
                })
                .await?
                .into_inner();
            out.show(&r, || {
                if let Some(l) = &r.layout {
                    output::layouts_table(std::slice::from_ref(l));
                    println!();
                    output::panes_table(&l.panes);
                }
            });
            Ok(())
        }
        LayoutCmd::Remove { layout_id } => {
            let r = c
                .remove_layout(pb::RemoveLayoutRequest { layout_id })
                .await?
                .into_inner();
            out.show(&r, || {
                if let Some(l) = &r.layout {
                    output::layouts_table(std::slice::from_ref(l));
                    println!();
                    output::panes_table(&l.panes);
                }
            });
            Ok(())
        }
    }
}

async fn pane(cmd: PaneCmd, mut c: ManagedSessionsServiceClient, out: &Out) -> CliResult {
    match cmd {
        PaneCmd::List {
            container,
            layout,
            states,
            page,
        } => {
            let r = c
                .list_panes(pb::ListPanesRequest {
                    container_id: container.unwrap_or_default(),
                    layout_id: layout.unwrap_or_default(),
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
        PaneCmd::Get { pane_id, chain } => {
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
        PaneCmd::Remove { pane_id } => {
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
            pane_id,
            profile,
            idempotency_key,
        } => {
            let r = c
                .recreate_pane(pb::RecreatePaneRequest {
                    predecessor_pane_id: pane_id,
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

async fn route(cmd: RouteCmd, mut c: ManagedSessionsServiceClient, out: &Out) -> CliResult {
    let routes = match cmd {
        RouteCmd::Create {
            source_agent_id,
            target_agent_id,
        } => c
            .create_route(pb::CreateRouteRequest {
                source_agent_id,
                target_agent_id,
            })
            .await?
            .into_inner()
            .route
            .into_iter()
            .collect::<Vec<_>>(),
        RouteCmd::List { agent } => {
            c.list_routes(pb::ListRoutesRequest {
                agent_id: agent.unwrap_or_default(),
            })
            .await?
            .into_inner()
            .routes
        }
        RouteCmd::Delete { route_id } => {
            let r = c
                .delete_route(pb::DeleteRouteRequest { route_id })
                .await?
                .into_inner();
            out.show(&r, || println!("deleted"));
            return Ok(());
        }
    };
    let r = pb::ListRoutesResponse { routes };
    out.show(&r, || {
        print_table(
            &["ROUTE", "SOURCE", "TARGET", "CREATED"],
            r.routes.iter().map(|x| {
                vec![
                    x.route_id.clone(),
                    x.source_agent_id.clone(),
                    x.target_agent_id.clone(),
                    time::rfc3339(x.create_time.as_ref()),
                ]
            }),
        )
    });
    Ok(())
}

async fn agent(cmd: AgentCmd, mut c: ManagedSessionsServiceClient, out: &Out) -> CliResult {
    let r = match cmd {
        AgentCmd::List {
            container,
            origin,
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
                    activities: vec![],
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
    };
    out.show(&r, || output::agents_table(r.agent.as_slice()));
    Ok(())
}

fn print_containers(containers: &[pb::Container]) {
    print_table(
        &["CONTAINER", "NAME", "RUNTIME", "STATE", "USER", "LAST SEEN"],
        containers.iter().map(|c| {
            vec![
                c.container_id.clone(),
                c.name.clone(),
                c.runtime().short_name(),
                c.state().short_name(),
                c.user.clone(),
                time::rfc3339(c.last_seen_time.as_ref()),
            ]
        }),
    )
}
