//! Activity rows (issue 14): report → event, prompt → waiting_for_input,
//! output stops → idle past the quiet window, daemon CPU with 100 panes
//! printing against the same 100 panes silent, and the accuracy corpus.
//! Every latency is the event's arrival at a watcher minus the wall-clock
//! mark the agent pane wrote at the moment measured from (`agent.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agenttower::client::ManagedSessionsServiceClient;
use agenttower::names::ShortName as _;
use agenttower::pb;
use agenttower::pb::lifecycle_event::Payload;
use anyhow::Context as _;
use tokio::sync::mpsc;

use crate::Args;
use crate::agent::now_ns;
use crate::daemon::Bench;
use crate::scenarios::{self, Scenario};
use crate::stats::{Row, Samples};

/// The quiet window of the latency agents' profiles.
const QUIET_MS: u64 = 1000;
/// The detection defaults the corpus runs with (docs/activity.md).
const DEFAULT_QUIET_MS: u64 = 3000;

/// One `agent_activity_changed` as a watcher received it.
#[derive(Debug, Clone)]
struct Seen {
    at_ns: u128,
    label: String,
    to: pb::Activity,
    source: pb::ActivitySource,
}

fn profile(name: &str, argv: &[String], activity: &str) -> String {
    let argv: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    format!("name: {name}\ncommand: [{}]\n{activity}", argv.join(", "))
}

fn write_profile(b: &Bench, name: &str, yaml: &str) -> anyhow::Result<()> {
    let dir = b.dir.path().join("cfg/launch_commands");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(format!("{name}.yaml")), yaml)?;
    Ok(())
}

fn agent_argv(exe: &Path, mode: &str, extra: &[String]) -> Vec<String> {
    let mut v = vec![exe.display().to_string(), "--agent".into(), mode.into()];
    v.extend(extra.iter().cloned());
    v
}

fn marks(path: &Path) -> Vec<u128> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Collects every activity event from now on.
async fn collect(
    c: &mut ManagedSessionsServiceClient,
) -> anyhow::Result<mpsc::UnboundedReceiver<Seen>> {
    let mut stream = c
        .watch_events(pb::WatchEventsRequest {
            from_now: true,
            event_types: vec![pb::EventType::AgentActivityChanged as i32],
            ..Default::default()
        })
        .await?
        .into_inner();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(m)) = stream.message().await {
            let at_ns = now_ns();
            if let Some(pb::watch_events_response::Item::Event(e)) = m.item
                && let Some(Payload::AgentActivityChanged(p)) = e.payload
            {
                let seen = Seen {
                    at_ns,
                    label: p.label.clone(),
                    to: p.to_activity(),
                    source: p.source(),
                };
                if tx.send(seen).is_err() {
                    return;
                }
            }
        }
    });
    Ok(rx)
}

async fn create(
    c: &mut ManagedSessionsServiceClient,
    template: &str,
    session: &str,
    overrides: &[(String, String)],
) -> anyhow::Result<String> {
    let r = c
        .create_layout(pb::CreateLayoutRequest {
            container_id: "local".into(),
            template_name: template.into(),
            tmux_session_name: session.into(),
            launch_command_overrides: overrides.iter().cloned().collect(),
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(r.layout.map(|l| l.layout_id).unwrap_or_default())
}

/// For each mark, the first event after it that `wanted` accepts, minus the
/// mark and `minus_ms`; marks with no such event before the next mark are
/// counted as missed.
fn latencies(
    marks: &[u128],
    seen: &[Seen],
    wanted: impl Fn(&Seen) -> bool,
    minus_ms: f64,
) -> (Samples, usize) {
    let mut s = Samples::default();
    let mut missed = 0;
    for (i, m) in marks.iter().enumerate() {
        let next = marks.get(i + 1).copied().unwrap_or(u128::MAX);
        match seen
            .iter()
            .find(|e| e.at_ns >= *m && e.at_ns < next && wanted(e))
        {
            Some(e) => s.0.push((e.at_ns - m) as f64 / 1e6 - minus_ms),
            None => missed += 1,
        }
    }
    (s, missed)
}

/// The activity rows, and notes on misses and mismatches.
pub(crate) async fn rows(args: &Args, exe: &Path) -> anyhow::Result<(Vec<Row>, Vec<String>)> {
    let cycles = args.runs.max(2);
    let config = "settle_window_ms: 100\ncapacity: 400\n";
    let solo = crate::measure::template("solo", 0);
    let mut b = Bench::start(config, &[("solo", solo.1)]).await?;
    let dir = b.dir.path().to_path_buf();
    let socket = b.socket();
    let fast = format!("activity:\n  quiet_window_ms: {QUIET_MS}\n");
    let mark = |n: &str| dir.join(format!("marks-{n}"));
    let num = |n: usize| n.to_string();
    let flag = |f: &str, v: String| [f.to_string(), v];
    write_profile(
        &b,
        "bench-report",
        &profile(
            "bench-report",
            &agent_argv(
                exe,
                "report",
                &[
                    flag("--cycles", num(cycles * 2)).to_vec(),
                    flag("--agent-socket", socket.display().to_string()).to_vec(),
                    flag("--marks", mark("report").display().to_string()).to_vec(),
                ]
                .concat(),
            ),
            "",
        ),
    )?;
    write_profile(
        &b,
        "bench-prompt",
        &profile(
            "bench-prompt",
            &agent_argv(
                exe,
                "prompt",
                &[
                    flag("--cycles", num(cycles)).to_vec(),
                    flag("--marks", mark("prompt").display().to_string()).to_vec(),
                ]
                .concat(),
            ),
            &fast,
        ),
    )?;
    write_profile(
        &b,
        "bench-quiet",
        &profile(
            "bench-quiet",
            &agent_argv(
                exe,
                "quiet",
                &[
                    flag("--cycles", num(cycles)).to_vec(),
                    flag("--quiet-ms", QUIET_MS.to_string()).to_vec(),
                    flag("--marks", mark("quiet").display().to_string()).to_vec(),
                ]
                .concat(),
            ),
            &fast,
        ),
    )?;
    let corpus = scenarios::all();
    for s in &corpus {
        let name = format!("bench-scenario-{}", s.name);
        let argv = agent_argv(exe, "scenario", &flag("--scenario", s.name.clone()));
        write_profile(&b, &name, &profile(&name, &argv, ""))?;
    }

    let mut c = b.client().await?;
    let mut events = collect(&mut c).await?;
    let ov = |role: &str, label: &str, p: &str| (format!("{role}:{label}"), p.to_string());
    create(
        &mut c,
        "1m+2s",
        "act",
        &[
            ov("master", "act.m1", "bench-report"),
            ov("slave", "act.s1", "bench-prompt"),
            ov("slave", "act.s2", "bench-quiet"),
        ],
    )
    .await?;
    let mut corpus_labels: HashMap<String, Scenario> = HashMap::new();
    for (i, s) in corpus.iter().enumerate() {
        let session = format!("sc{i}");
        let label = format!("{session}.m1");
        let p = format!("bench-scenario-{}", s.name);
        create(&mut c, "solo", &session, &[ov("master", &label, &p)]).await?;
        corpus_labels.insert(label, s.clone());
    }
    // Long enough for every cycle and every scenario to play out.
    let longest = corpus
        .iter()
        .map(Scenario::length)
        .max()
        .unwrap_or_default();
    let wait = (Duration::from_millis(1300 + 200) * cycles as u32)
        .max(Duration::from_millis((QUIET_MS + 800) * cycles as u64))
        .max(longest + Duration::from_millis(DEFAULT_QUIET_MS + 2000));
    tokio::time::sleep(wait + Duration::from_secs(2)).await;
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }

    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let of = |label: &'static str| move |e: &Seen| e.label == label;
    let report = of("act.m1");
    let (rep, rep_missed) = latencies(
        &marks(&mark("report")),
        &seen,
        |e| report(e) && e.source == pb::ActivitySource::Report,
        0.0,
    );
    let prompt = of("act.s1");
    let (pr, pr_missed) = latencies(
        &marks(&mark("prompt")),
        &seen,
        |e| prompt(e) && e.to == pb::Activity::WaitingForInput,
        0.0,
    );
    let quiet = of("act.s2");
    let (qu, qu_missed) = latencies(
        &marks(&mark("quiet")),
        &seen,
        |e| quiet(e) && e.to == pb::Activity::Idle,
        QUIET_MS as f64,
    );
    for (what, s, missed, p99) in [
        ("report → event", &rep, rep_missed, "p99 ≤ 50 ms"),
        (
            "prompt appears → waiting_for_input",
            &pr,
            pr_missed,
            "p99 ≤ 300 ms",
        ),
        (
            "output stops → idle, past the quiet window",
            &qu,
            qu_missed,
            "≤ 300 ms past the window",
        ),
    ] {
        rows.push(Row::per_run(
            format!("{what}, p50 ({} samples)", s.0.len()),
            "ms",
            &Samples(vec![s.median()]),
            "—",
        ));
        rows.push(Row::per_run(
            format!("{what}, p99"),
            "ms",
            &Samples(vec![s.percentile(99.0)]),
            p99,
        ));
        if missed > 0 {
            notes.push(format!("{what}: {missed} cycles saw no event"));
        }
    }

    let mut matched = 0;
    for (label, s) in &corpus_labels {
        let observed: Vec<String> = seen
            .iter()
            .filter(|e| &e.label == label)
            .map(|e| e.to.short_name())
            .collect();
        if observed == s.expect {
            matched += 1;
        } else {
            notes.push(format!(
                "scenario {}: expected {}, observed {}",
                s.name,
                s.expect.join(" → "),
                observed.join(" → ")
            ));
        }
    }
    rows.push(Row::per_run(
        format!(
            "accuracy: scenarios whose sequence matched, of {}",
            corpus_labels.len()
        ),
        "count",
        &Samples(vec![matched as f64]),
        format!("{} of {}", corpus_labels.len(), corpus_labels.len()),
    ));
    drop(events);
    drop(c);
    b.stop().await?;
    drop(b);

    let (floor, busy) = cpu(args, exe).await?;
    rows.push(Row::per_run(
        "daemon CPU, 100 live panes silent (floor)",
        "% core",
        &Samples(vec![floor]),
        "—",
    ));
    rows.push(Row::per_run(
        "daemon CPU, 100 panes printing 10 lines/s each",
        "% core",
        &Samples(vec![busy]),
        "≤ 5 %",
    ));
    Ok((rows, notes))
}

/// Daemon CPU (user + system, % of one core) over a window with 100 panes:
/// silent shells (the floor), then agents printing ten lines a second.
async fn cpu(args: &Args, exe: &Path) -> anyhow::Result<(f64, f64)> {
    let config = "settle_window_ms: 100\ncapacity: 400\n";
    let mut ten_quiet = crate::measure::template("quiet10", 9);
    let mut ten_print = crate::measure::template("print10", 9);
    ten_print.1 = ten_print.1.replace(
        "label_pattern:",
        "default_launch_command_ref: bench-print, label_pattern:",
    );
    ten_quiet.1 = ten_quiet.1.replace(
        "label_pattern:",
        "default_launch_command_ref: bench-silent, label_pattern:",
    );
    let mut b = Bench::start(
        config,
        &[("quiet10", ten_quiet.1), ("print10", ten_print.1)],
    )
    .await?;
    write_profile(
        &b,
        "bench-print",
        &profile("bench-print", &agent_argv(exe, "print", &[]), ""),
    )?;
    write_profile(
        &b,
        "bench-silent",
        &profile(
            "bench-silent",
            &agent_argv(exe, "quiet", &["--cycles".into(), "0".into()]),
            "",
        ),
    )?;
    let window = if args.quick {
        Duration::from_secs(3)
    } else {
        Duration::from_secs(20)
    };
    let mut c = b.client().await?;
    let mut out = Vec::new();
    for template in ["quiet10", "print10"] {
        let mut ids = Vec::new();
        for i in 0..10 {
            ids.push(create(&mut c, template, &format!("{template}x{i}"), &[]).await?);
        }
        // Every pane registered and watched before the window starts.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = cpu_ticks(b.pid()).context("reading daemon CPU")?;
        tokio::time::sleep(window).await;
        let after = cpu_ticks(b.pid()).context("reading daemon CPU")?;
        out.push((after - before) as f64 / clock_ticks() / window.as_secs_f64() * 100.0);
        for id in ids {
            c.remove_layout(pb::RemoveLayoutRequest { layout_id: id })
                .await?;
        }
    }
    drop(c);
    b.stop().await?;
    Ok((out[0], out[1]))
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5); `after` starts at field 3.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn clock_ticks() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100.0, |t| t as f64)
}

/// This benchmark binary, run as the agents' launch command.
pub(crate) fn exe() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("cannot find the benchmark binary")
}
