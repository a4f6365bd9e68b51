//! The agents the activity benchmark runs in its panes: this binary started
//! with `--agent <mode> …` as a pane's launch command. Each writes the
//! wall-clock time of the moment it measures from (a report sent, a prompt
//! printed, output stopped) to a file, one line per cycle, so the benchmark
//! can subtract it from the arrival time of the event it causes.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agenttower::pb;

/// What an agent pane does (`--agent MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Mode {
    /// `--cycles` ReportActivity calls, alternating working / idle.
    Report,
    /// Per cycle: a burst of lines, a pause, then a y/n prompt.
    Prompt,
    /// Per cycle: a burst of lines, then silence past the quiet window.
    Quiet,
    /// Ten lines a second, forever (the CPU row).
    Print,
    /// Runs one scenario of the accuracy corpus (`--scenario NAME`).
    Scenario,
}

/// Arguments of an agent pane.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AgentArgs {
    /// How many cycles to run.
    #[arg(long, default_value_t = 20)]
    pub cycles: usize,
    /// The daemon socket (report mode).
    #[arg(long)]
    pub agent_socket: Option<PathBuf>,
    /// Where to write one start time per cycle (unix nanoseconds).
    #[arg(long)]
    pub marks: Option<PathBuf>,
    /// The quiet window of the pane's profile, in ms (quiet mode).
    #[arg(long, default_value_t = 1000)]
    pub quiet_ms: u64,
    /// The scenario to run (scenario mode).
    #[arg(long)]
    pub scenario: Option<String>,
}

/// Unix time now, in nanoseconds.
pub(crate) fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

fn mark(file: Option<&Path>, at: u128) {
    if let Some(path) = file
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(f, "{at}");
    }
}

fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

fn burst(lines: usize, gap: Duration) {
    for i in 0..lines {
        out(&format!("compiling module {i} of {lines}\n"));
        std::thread::sleep(gap);
    }
}

/// Runs an agent pane until its cycles end, then stays (a pane whose
/// command exits would read `exited`).
pub(crate) fn run(mode: Mode, args: &AgentArgs) -> std::process::ExitCode {
    let marks = args.marks.as_deref();
    match mode {
        Mode::Report => {
            let Some(socket) = args.agent_socket.clone() else {
                eprintln!("--agent report needs --agent-socket");
                return std::process::ExitCode::FAILURE;
            };
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("{e}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            rt.block_on(async {
                let Ok(mut c) = agenttower::client::open(&socket).await.map(|c| c.managed) else {
                    eprintln!("cannot reach {}", socket.display());
                    return;
                };
                // The pane runs before the daemon registers it (after the
                // settle window): wait until a report is accepted.
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                while std::time::Instant::now() < deadline {
                    let r = c
                        .report_activity(pb::ReportActivityRequest {
                            activity: pb::Activity::Idle as i32,
                            message: String::new(),
                        })
                        .await;
                    if r.is_ok() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                for i in 0..args.cycles {
                    let activity = if i % 2 == 0 {
                        pb::Activity::Working
                    } else {
                        pb::Activity::Idle
                    };
                    let at = now_ns();
                    let r = c
                        .report_activity(pb::ReportActivityRequest {
                            activity: activity as i32,
                            message: String::new(),
                        })
                        .await;
                    match r {
                        Ok(_) => mark(marks, at),
                        Err(e) => out(&format!("report refused: {}\n", e.message())),
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
        Mode::Prompt => {
            for _ in 0..args.cycles {
                burst(5, Duration::from_millis(20));
                std::thread::sleep(Duration::from_millis(500));
                let at = now_ns();
                out("Apply these changes? [y/N] ");
                mark(marks, at);
                std::thread::sleep(Duration::from_millis(700));
                out("\n");
            }
        }
        Mode::Quiet => {
            for _ in 0..args.cycles {
                burst(5, Duration::from_millis(20));
                mark(marks, now_ns());
                std::thread::sleep(Duration::from_millis(args.quiet_ms + 700));
            }
        }
        Mode::Print => {
            let mut i = 0u64;
            loop {
                out(&format!("step {i}: running the test suite, 42 passed\n"));
                i += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Mode::Scenario => {
            let name = args.scenario.as_deref().unwrap_or_default();
            let Some(s) = crate::scenarios::find(name) else {
                eprintln!("no scenario {name}");
                return std::process::ExitCode::FAILURE;
            };
            crate::scenarios::play(&s);
        }
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
