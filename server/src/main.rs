//! agenttowerd: the AgentTower managed-session daemon. It serves the gRPC API
//! on a Unix socket only (never TCP), keeps state in SQLite, and creates,
//! watches and recovers tmux layouts through a runtime per container.

mod api;
mod config;
mod daemon;
mod error;
mod events;
mod runtime;
mod service;
mod store;

use clap::Parser;

/// Command line of agenttowerd. Paths come from the environment
/// (`AGENTTOWER_STATE_DIR`, `AGENTTOWER_CONFIG_DIR`, `AGENTTOWER_SOCKET`, ...)
/// or the XDG defaults; see docs/operator-guide.md.
#[derive(Debug, Parser)]
#[command(
    name = "agenttowerd",
    version,
    about = "AgentTower managed-session daemon"
)]
struct Args {
    /// Log filter (tracing syntax), e.g. `info` or `agenttowerd=debug`.
    #[arg(long, env = "AGENTTOWER_LOG", default_value = "info")]
    log: String,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
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
