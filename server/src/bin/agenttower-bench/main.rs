//! agenttower-bench: measures the daemon against the raw tmux floor in one
//! run and prints one table (docs/benchmarks.md explains every row).
//!
//! ```sh
//! cargo run --release -p agenttower-server --bin agenttower-bench            # full run
//! cargo run --release -p agenttower-server --bin agenttower-bench -- --quick # smoke
//! ```
//!
//! Everything runs in a private temp dir: its own daemon (this binary run
//! with `--run-daemon`, the same library as agenttowerd), its own tmux
//! servers, its own SQLite file.

mod activity;
mod agent;
mod control;
mod daemon;
mod measure;
mod scenarios;
mod stats;

use std::process::ExitCode;

use clap::Parser;

/// Command line of the benchmark.
#[derive(Debug, Parser)]
#[command(
    name = "agenttower-bench",
    about = "AgentTower benchmarks against the raw tmux floor"
)]
pub(crate) struct Args {
    /// Repetitions of each timed figure.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// A fast smoke run: 2 repetitions, small counts (figures not meaningful).
    #[arg(long)]
    pub quick: bool,
    /// Run the embedded daemon (how the benchmark starts its own).
    #[arg(long, hide = true)]
    pub run_daemon: bool,
    /// Only the agent activity rows (issue 14).
    #[arg(long)]
    pub activity_only: bool,
    /// Only the control-connection rows (issue 16): pane death → event,
    /// idle CPU over 10 tmux servers, Docker against the raw exec floor.
    #[arg(long)]
    pub control_only: bool,
    /// Run as an agent in a pane (how the activity rows drive detection).
    #[arg(long, hide = true, value_enum)]
    pub agent: Option<agent::Mode>,
    #[command(flatten)]
    pub agent_args: agent::AgentArgs,
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    if args.run_daemon {
        let log = std::env::var("AGENTTOWER_LOG").unwrap_or_else(|_| "info".into());
        return agenttower_server::run(&log);
    }
    if let Some(mode) = args.agent {
        return agent::run(mode, &args.agent_args);
    }
    if args.quick {
        args.runs = 2;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("agenttower-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let run = async {
        if args.activity_only {
            measure::activity_section(&args).await
        } else if args.control_only {
            control::section(&args).await
        } else {
            measure::all(&args).await
        }
    };
    match runtime.block_on(run) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("agenttower-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
