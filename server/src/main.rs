//! agenttowerd: the AgentTower managed-session daemon (see the library).

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
    /// Log filter (tracing syntax), e.g. `info` or `agenttower_server=debug`.
    #[arg(long, env = "AGENTTOWER_LOG", default_value = "info")]
    log: String,
}

fn main() -> std::process::ExitCode {
    agenttower_server::run(&Args::parse().log)
}
