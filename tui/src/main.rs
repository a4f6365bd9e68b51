//! agenttower-tui: the operator console. It starts `agenttowerd` when no
//! daemon answers, then shows containers, layouts and panes live from
//! `WatchEvents`. One `Event` enum drives one loop; `conn` talks to the
//! daemon, `state` is the view model, `view` draws it, `input` maps keys.

mod conn;
mod input;
mod state;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt as _;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use state::{App, Status};

/// Command line of the console.
#[derive(Debug, Parser)]
#[command(
    name = "agenttower-tui",
    version,
    about = "AgentTower operator console"
)]
struct Args {
    /// Daemon socket (default: $AGENTTOWER_SOCKET or the state directory's).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// Do not start agenttowerd when none answers; wait for one instead.
    #[arg(long)]
    no_start: bool,
    /// Run the embedded agenttowerd in this process (how the console starts
    /// a daemon; not for interactive use).
    #[arg(long, hide = true)]
    run_daemon: bool,
}

/// What wakes the loop.
enum Event {
    /// Once a second: ages move on.
    Tick,
    Term(TermEvent),
    Server(conn::Server),
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.run_daemon {
        let log = std::env::var("AGENTTOWER_LOG").unwrap_or_else(|_| "info".into());
        return agenttower_server::run(&log);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agenttower-tui: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(console(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agenttower-tui: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Restores the terminal when dropped, also while unwinding from a panic
/// (ratatui's own panic hook restores it before the message prints).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

async fn console(args: Args) -> anyhow::Result<()> {
    let socket = args.socket.unwrap_or_else(agenttower::paths::socket_path);
    let started = if args.no_start || agenttower::launch::healthy(&socket).await {
        None
    } else {
        Some(start_daemon(&socket).await?)
    };

    let mut app = App::new(socket.display().to_string(), OffsetDateTime::now_utc());
    app.status = started.map(Status::Info);
    let (server_tx, mut server_rx) = mpsc::channel(256);
    let (request_tx, request_rx) = mpsc::channel(16);
    let connection = tokio::spawn(conn::run(socket.clone(), server_tx, request_rx));

    let mut terminal = ratatui::init();
    let _guard = TerminalGuard;
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut dirty = true;
    while !app.quit {
        if dirty {
            terminal.draw(|f| f.render_widget(&app, f.area()))?;
        }
        let event = tokio::select! {
            _ = tick.tick() => Event::Tick,
            Some(Ok(e)) = keys.next() => Event::Term(e),
            Some(m) = server_rx.recv() => Event::Server(m),
        };
        dirty = match event {
            Event::Tick => {
                app.now = OffsetDateTime::now_utc();
                true
            }
            Event::Term(TermEvent::Key(key)) => match input::map(&app.mode, key) {
                Some(action) => {
                    if !matches!(action, input::Action::Form(_) | input::Action::Close) {
                        // A new action clears an old message.
                        app.status = None;
                    }
                    if let Some(request) = app.act(action)
                        && request_tx.try_send(request).is_err()
                    {
                        app.status = Some(Status::Info(
                            "still busy with earlier requests; try again".into(),
                        ));
                    }
                    true
                }
                None => false,
            },
            Event::Term(TermEvent::Resize(..)) => {
                terminal.autoresize()?;
                true
            }
            Event::Term(_) => false,
            Event::Server(m) => {
                app.apply(m);
                true
            }
        };
    }
    connection.abort();
    Ok(())
}

/// Starts the embedded daemon detached (it outlives the console) and says
/// so in words the status line can show.
async fn start_daemon(socket: &std::path::Path) -> anyhow::Result<String> {
    let mut daemon = std::process::Command::new(std::env::current_exe()?);
    daemon.arg("--run-daemon");
    let pid = agenttower::launch::start(socket, daemon).await?;
    Ok(format!(
        "no daemon answered on {}; started agenttowerd (pid {pid}, log {})",
        socket.display(),
        agenttower::launch::log_path(socket).display()
    ))
}
