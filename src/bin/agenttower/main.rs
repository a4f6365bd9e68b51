//! `agenttower`: the command line for scripts and operators. One subcommand
//! per API method, objects named as operators name them (session names,
//! labels, unique id prefixes; the daemon resolves them), human tables by
//! default, `--json` (proto3 JSON) for machines, and exit codes that tell
//! usage errors, an unreachable daemon and API errors apart. A command that
//! needs the daemon starts it when none answers.

mod activity;
mod agents;
mod attach;
mod catalog;
mod completions;
mod daemon;
mod events;
mod failure;
mod layouts;
mod output;
mod resolve;
mod routes;
mod start;

use std::path::PathBuf;
use std::process::ExitCode;

use agenttower::client::ManagedSessionsServiceClient;
use clap::{Args, Parser, Subcommand};

use failure::Exit;
pub(crate) use failure::Failure;
use output::Out;
use start::Socket;

#[derive(Debug, Parser)]
#[command(
    name = "agenttower",
    version,
    about = "Control AgentTower managed tmux layouts",
    after_help = "Layouts, panes and agents are named by session name (`work`, \
                  `c1:work`), label (`work.s1`), id or unique id prefix."
)]
pub(crate) struct Cli {
    /// Daemon socket (default: $AGENTTOWER_SOCKET or the state directory's).
    /// A socket named here or by $AGENTTOWER_SOCKET is never auto-started.
    #[arg(long, global = true, value_hint = clap::ValueHint::FilePath)]
    socket: Option<PathBuf>,
    /// Print machine-readable JSON (proto3 JSON) instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Never start the daemon; fail with daemon_unavailable (exit 3) instead.
    #[arg(long, global = true)]
    no_start: bool,
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
    Container(catalog::ContainerCmd),
    /// Routes between agents.
    #[command(subcommand)]
    Route(routes::RouteCmd),
    /// Show a pane: replace this process with the tmux client for it.
    ///
    /// Outside tmux: a new client (`tmux attach-session`). Inside a client of
    /// the daemon's tmux server: `switch-client` (come back with `tmux
    /// switch-client -l`). Inside another tmux server: a nested client. A
    /// bench container's pane: `docker exec -it … tmux attach-session`.
    Attach(attach::AttachArgs),
    /// Type a line into an agent's pane (then Enter).
    ///
    /// With --wait-ready, first waits until the agent is idle or
    /// waiting_for_input; exit 6 if it is not by --timeout and 7 if it
    /// exited, typing nothing in either case.
    Send(agents::SendArgs),
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
    /// Print a shell completion script to stdout.
    ///
    /// bash: `agenttower completions bash > ~/.local/share/bash-completion/completions/agenttower`;
    /// zsh: `agenttower completions zsh > "${fpath[1]}/_agenttower"`;
    /// fish: `agenttower completions fish > ~/.config/fish/completions/agenttower.fish`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages (agenttower.1 and one per subcommand) into a
    /// directory.
    Man {
        /// The directory to write into (created if missing), e.g.
        /// ~/.local/share/man/man1.
        #[arg(long, value_hint = clap::ValueHint::DirPath)]
        dir: PathBuf,
    },
    /// Live names for shell completion, one a line; never starts the
    /// daemon and prints nothing when it does not answer.
    #[command(name = "__names", hide = true)]
    Names {
        #[arg(value_enum)]
        kind: completions::KindArg,
    },
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
    let socket = Socket::new(cli.socket.clone(), cli.no_start);
    let out = Out { json: cli.json };
    let exit = match run(cli.command, &socket, &out).await {
        Ok(()) => Exit::Ok,
        Err(failure) => failure.report(&out, &socket.path),
    };
    exit.into()
}

/// A ManagedSessionsService client on `socket`, starting the daemon when
/// none answers and this run may (see `start`).
pub(crate) async fn connect(socket: &Socket) -> Result<ManagedSessionsServiceClient, Failure> {
    socket.connect().await
}

async fn run(command: Command, socket: &Socket, out: &Out) -> CliResult {
    match command {
        Command::Daemon(cmd) => daemon::run(cmd, &socket.path, out).await,
        Command::Layout(cmd) => layouts::layout(cmd, connect(socket).await?, out).await,
        Command::Pane(cmd) => layouts::pane(cmd, connect(socket).await?, out).await,
        // A report from a pane names the daemon that runs it; a new one
        // would know no agent.
        Command::Agent(cmd @ agents::AgentCmd::Report { .. }) => {
            let c = ManagedSessionsServiceClient::new(socket.existing().await?);
            agents::run(cmd, c, out).await
        }
        Command::Agent(cmd) => agents::run(cmd, connect(socket).await?, out).await,
        Command::Events(cmd) => events::run(cmd, socket, out).await,
        Command::Route(cmd) => routes::run(cmd, connect(socket).await?, out).await,
        Command::Attach(args) => attach::run(args, connect(socket).await?, out).await,
        Command::Send(args) => agents::send(args, connect(socket).await?, out).await,
        Command::Container(cmd) => catalog::container(cmd, socket, out).await,
        Command::Version { app } => catalog::version(app, socket, out).await,
        Command::Templates => catalog::templates(socket, out).await,
        Command::Profiles => catalog::profiles(socket, out).await,
        Command::Completions { shell } => {
            completions::script(shell);
            Ok(())
        }
        Command::Man { dir } => completions::man_pages(&dir),
        Command::Names { kind } => completions::names(kind, socket).await,
    }
}
