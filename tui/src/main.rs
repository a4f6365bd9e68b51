//! agenttower-tui: the operator console. It starts `agenttowerd` when no
//! daemon answers, then shows containers, layouts and panes live from
//! `WatchEvents`, with each agent's activity. One `Event` enum drives one
//! loop; `conn` talks to the daemon, `state` is the view model (`actions`
//! and `activity` extend it), `view` draws it, `input` maps keys,
//! `preview` reads the selected pane's log tail, `notify` alerts the
//! operator when an agent starts waiting, `keys` reads the terminal on a
//! thread that `attach` pauses while a tmux client runs on it, `resolve`
//! and `goto` turn typed names into selections.

mod actions;
mod activity;
mod attach;
mod conn;
mod goto;
mod input;
mod keys;
mod notify;
mod preview;
mod resolve;
mod sanitize;
mod state;
mod view;
mod words;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use crossterm::event::Event as TermEvent;
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
    /// What the terminal gets when an agent starts waiting for input
    /// (default: `notify` in console.yaml, else bell).
    #[arg(long, value_enum)]
    notify: Option<notify::TerminalAlert>,
    /// Also send a desktop notification through notify-send when it is on
    /// PATH (default: `desktop_notify` in console.yaml, else off).
    #[arg(long, value_name = "on|off", num_args = 0..=1, default_missing_value = "on",
          value_parser = clap::builder::BoolishValueParser::new())]
    desktop_notify: Option<bool>,
}

/// What wakes the loop.
enum Event {
    /// Twice a second: ages move on, the preview is re-read if it changed.
    Tick,
    Term(TermEvent),
    Server(conn::Server),
    Preview(preview::Read),
}

/// How often the loop ticks.
const TICK: Duration = Duration::from_millis(500);

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
    let config_file = agenttower::paths::config_dir().join("console.yaml");
    let config = notify::ConsoleConfig::load(&config_file)?;
    let desktop = args
        .desktop_notify
        .unwrap_or(config.desktop_notify)
        .then(|| notify::find_program("notify-send", std::env::var_os("PATH").as_deref()))
        .flatten();
    let mut notifier = notify::Notifier::new(args.notify.unwrap_or(config.notify), desktop)
        .inside_tmux(std::env::var_os("TMUX").is_some());
    let socket = args.socket.unwrap_or_else(agenttower::paths::socket_path);
    let started = if args.no_start || agenttower::launch::healthy(&socket).await {
        None
    } else {
        Some(start_daemon(&socket).await?)
    };

    let mut app = App::new(socket.display().to_string(), OffsetDateTime::now_utc());
    app.status = started.map(Status::Info);
    app.terminal = agenttower::attach::Terminal::current();
    let (server_tx, mut server_rx) = mpsc::channel(256);
    let (request_tx, request_rx) = mpsc::channel(16);
    let connection = tokio::spawn(conn::run(socket.clone(), server_tx, request_rx));

    let mut terminal = ratatui::init();
    let _guard = TerminalGuard;
    let mut keys = keys::Keys::start()?;
    let mut tick = tokio::time::interval(TICK);
    // After a long attach, one tick, not a burst of them.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (preview_tx, mut preview_rx) = mpsc::channel(4);
    let mut reader = PreviewReader::default();
    let mut dirty = true;
    while !app.quit {
        if dirty {
            terminal.draw(|f| f.render_widget(&app, f.area()))?;
        }
        // Between frames: a bell or OSC 9 moves no cursor and prints no
        // cell, so the frame just drawn stays intact.
        if !app.alerts.is_empty() {
            notifier.send(std::mem::take(&mut app.alerts), terminal.backend_mut())?;
        }
        // A new selection is previewed at once, the same one on the tick.
        reader.follow(&mut app, &preview_tx, false);
        let event = tokio::select! {
            _ = tick.tick() => Event::Tick,
            Some(e) = keys.next() => Event::Term(e),
            Some(m) = server_rx.recv() => Event::Server(m),
            Some(r) = preview_rx.recv() => Event::Preview(r),
        };
        dirty = match event {
            Event::Tick => {
                app.now = OffsetDateTime::now_utc();
                reader.follow(&mut app, &preview_tx, true);
                true
            }
            Event::Preview(read) => reader.done(&mut app, read),
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
        if let Some(attaching) = app.attach.take() {
            let outcome = attach::run(&attaching.plan, &mut terminal, &mut keys).await?;
            app.attached(&attaching, outcome);
            dirty = true;
        }
    }
    connection.abort();
    Ok(())
}

/// Keeps the preview on the selected pane: reads its tail when the
/// selection changes, and again on the tick (only if the file changed);
/// one read at a time.
#[derive(Default)]
struct PreviewReader {
    /// The pane being previewed and the stamp of its last read.
    pane_id: String,
    seen: Option<preview::Stamp>,
    busy: bool,
    /// A read is due (new selection or tick) and starts once none runs.
    due: bool,
}

impl PreviewReader {
    fn follow(&mut self, app: &mut state::App, tx: &mpsc::Sender<preview::Read>, tick: bool) {
        let (pane_id, path) = app
            .selected_pane()
            .map(|p| (p.pane_id.clone(), p.log_path.clone()))
            .unwrap_or_default();
        let moved = pane_id != self.pane_id;
        if moved {
            self.pane_id = pane_id.clone();
            self.seen = None;
            app.preview = preview::Preview {
                pane_id: pane_id.clone(),
                lines: Vec::new(),
                note: path.is_empty().then(|| "no log for this pane".to_string()),
            };
        }
        self.due |= moved || tick;
        if self.busy || !self.due || pane_id.is_empty() || path.is_empty() {
            return;
        }
        self.busy = true;
        self.due = false;
        let (tx, seen) = (tx.clone(), self.seen);
        tokio::spawn(async move {
            let _ = tx.send(preview::read(pane_id, path, seen).await).await;
        });
    }

    /// Folds a finished read in; whether the screen changed.
    fn done(&mut self, app: &mut state::App, read: preview::Read) -> bool {
        self.busy = false;
        let Some((stamp, result)) = read.update else {
            return false;
        };
        if read.pane_id != self.pane_id {
            return false;
        }
        self.seen = Some(stamp);
        let (lines, note) = match result {
            Ok(lines) => (lines, None),
            Err(e) => (Vec::new(), Some(format!("cannot read the log: {e}"))),
        };
        app.preview = preview::Preview {
            pane_id: read.pane_id,
            lines,
            note,
        };
        true
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_flags_override_the_config_file() {
        let parse = |args: &[&str]| Args::try_parse_from([&["agenttower-tui"], args].concat());
        let a = parse(&[]).unwrap();
        assert_eq!((a.notify, a.desktop_notify), (None, None));
        let a = parse(&["--notify", "osc9", "--desktop-notify"]).unwrap();
        assert_eq!(
            (a.notify, a.desktop_notify),
            (Some(notify::TerminalAlert::Osc9), Some(true))
        );
        let a = parse(&["--notify=off", "--desktop-notify=off"]).unwrap();
        assert_eq!(
            (a.notify, a.desktop_notify),
            (Some(notify::TerminalAlert::Off), Some(false))
        );
        assert!(parse(&["--notify", "loud"]).is_err());
    }
}
