//! `agenttower`: the command line for scripts and operators. One subcommand
//! per API method, human tables by default, `--json` (proto3 JSON) for
//! machines, and exit codes that tell usage errors, an unreachable daemon and
//! API errors apart.

mod activity;
mod agents;
mod daemon;
mod events;
mod layouts;
mod output;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use agenttower::client::{self, ManagedSessionsServiceClient};
use agenttower::names::ShortName as _;
use agenttower::pb;
use agenttower::time;
use clap::{Args, Parser, Subcommand};

use output::{Out, print_table};

/// Exit code: success.
const EXIT_OK: u8 = 0;
/// Exit code: the daemon is not reachable on its socket.
const EXIT_UNAVAILABLE: u8 = 3;
/// Exit code: the API answered with a closed-set error (printed).
const EXIT_API: u8 = 4;
/// Exit code: `layout create --wait` settled degraded or failed.
const EXIT_NOT_READY: u8 = 5;
/// Exit code: `--wait` gave up before the layout settled; `agent wait` or
/// `send --wait-ready` gave up before the agent reached the activity.
const EXIT_TIMEOUT: u8 = 6;
/// Exit code: `agent wait` or `send --wait-ready`: the agent exited first.
const EXIT_AGENT_EXITED: u8 = 7;

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
    Layout(layouts::LayoutCmd),
    /// Panes of managed layouts.
    #[command(subcommand)]
    Pane(layouts::PaneCmd),
    /// Registered agents (managed and adopted panes).
    #[command(subcommand)]
    Agent(agents::AgentCmd),
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
    ///
    /// With --wait-ready, first waits until the agent is idle or
    /// waiting_for_input; exit 6 if it is not by --timeout and 7 if it
    /// exited, typing nothing in either case.
    Send {
        /// The agent's agent_id or its label.
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

/// Why a command failed, mapped to its exit code.
pub(crate) enum Failure {
    Unavailable(String),
    Api(tonic::Status),
    Usage(String),
    NotReady(String),
    Timeout(String),
    /// The agent exited before reaching the awaited activity.
    Exited(String),
    /// A request the CLI itself refuses as the daemon would
    /// (`validation_failed`, exit 4), e.g. an agent name that names no one.
    Invalid {
        field: &'static str,
        message: String,
    },
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
        Err(Failure::Exited(msg)) => {
            eprintln!("{msg}");
            EXIT_AGENT_EXITED
        }
        Err(Failure::Invalid { field, message }) => {
            out.error(
                "validation_failed",
                &message,
                &HashMap::from([("field".to_string(), field.to_string())]),
            );
            EXIT_API
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
        Command::Layout(cmd) => layouts::layout(cmd, connect(socket).await?, out).await,
        Command::Pane(cmd) => layouts::pane(cmd, connect(socket).await?, out).await,
        Command::Agent(cmd) => agents::run(cmd, connect(socket).await?, out).await,
        Command::Events(cmd) => events::run(cmd, socket, out).await,
        Command::Route(cmd) => route(cmd, connect(socket).await?, out).await,
        Command::Send {
            agent,
            text,
            no_enter,
            wait_ready,
            timeout,
        } => {
            let mut c = connect(socket).await?;
            let agent = activity::resolve(&mut c, &agent).await?;
            if wait_ready {
                let ready = [pb::Activity::Idle, pb::Activity::WaitingForInput];
                activity::wait_for(&mut c, &agent, &ready, timeout).await?;
            }
            let r = c
                .send_input(pb::SendInputRequest {
                    agent_id: agent.agent_id,
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
