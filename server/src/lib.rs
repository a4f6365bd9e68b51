//! agenttowerd as a library: the daemon the `agenttowerd` binary runs, also
//! embedded by `agenttower-tui` so one command from a fresh clone can start
//! it. It serves the gRPC API on a Unix socket only (never TCP), keeps state
//! in SQLite, and creates, watches and recovers tmux layouts through a
//! runtime per container.

mod activity;
mod api;
mod config;
mod daemon;
mod domain;
mod error;
mod events;
mod runtime;
mod service;
mod store;

/// Runs the daemon on the paths of the environment (`AGENTTOWER_*` or the
/// XDG defaults) until SIGINT or SIGTERM, logging to stderr with the tracing
/// filter `log`. Returns the process exit code.
pub fn run(log: &str) -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colour only on a terminal: log files stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agenttowerd: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(daemon::run(config::Paths::from_env())) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("agenttowerd: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
