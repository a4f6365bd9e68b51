//! The rows of issue 16 that the layout rows do not cover: how fast a pane
//! death becomes an event (pushed over the control connection, with the
//! health poll at its 5 s default), and what the daemon costs while idle
//! over 100 layouts on 10 tmux servers.

use std::process::Command;
use std::time::{Duration, Instant};

use agenttower::pb;
use anyhow::{Context as _, bail};

use crate::Args;
use crate::daemon::Bench;
use crate::measure::{
    SETTLE_MS, converge, create_ready, docker_rows, remove, ten_servers, watch_layout_states,
};
use crate::stats::{Row, Samples, table};

/// The issue 16 rows as their own tables: deaths and idle CPU, then Docker.
pub(crate) async fn section(args: &Args) -> anyhow::Result<String> {
    let runs = args.runs.max(1);
    let deaths = death_to_event(runs).await?;
    let (idle_layouts, window) = if args.quick {
        (10, Duration::from_secs(2))
    } else {
        (100, Duration::from_secs(60))
    };
    let idle = idle_cpu(idle_layouts, window, 1).await?;
    let rows = [
        Row::of(
            "pane death → launch_command_exited event (health poll 5 s)",
            &deaths,
            "—",
        ),
        Row::per_run(
            "pane death → event, p50 of all runs",
            "ms",
            &Samples(vec![deaths.percentile(50.0)]),
            "—",
        ),
        Row::per_run(
            "pane death → event, p99 of all runs",
            "ms",
            &Samples(vec![deaths.percentile(99.0)]),
            "≤ 100 ms",
        ),
        Row::per_run(
            format!(
                "daemon CPU while idle {} s, {idle_layouts} layouts / {} panes / 10 servers",
                window.as_secs(),
                idle_layouts * 4
            ),
            "%",
            &idle,
            "≤ 1 % of a core",
        ),
    ];
    let mut out = String::from("Control connection (issue 16)\n\n");
    out.push_str(&table(&rows));
    out.push('\n');
    out.push_str(&docker_rows(runs).await?);
    Ok(out)
}

/// Per run: a ready pane's process is killed (SIGKILL, from here), and the
/// time until its `managed_pane_launch_command_exited` event arrives.
pub(crate) async fn death_to_event(runs: usize) -> anyhow::Result<Samples> {
    let config = format!("settle_window_ms: {SETTLE_MS}\nhealth_interval_ms: 5000\n");
    let b = Bench::start(&config, &[]).await?;
    let mut c = b.client().await?;
    let mut settled = watch_layout_states(&mut c).await?;
    let mut out = Samples::default();
    for i in 0..runs {
        let (_, _, layout_id) =
            converge(&mut c, &mut settled, "local", "1m+2s", &format!("death{i}")).await?;
        let layout = c
            .get_layout(pb::GetLayoutRequest {
                layout_id: layout_id.clone(),
                include_terminal_panes: false,
            })
            .await?
            .into_inner()
            .layout
            .context("no layout")?;
        let pane = layout.panes.first().context("no pane")?.clone();
        let pid = pane_pid(&b, &pane.tmux_pane_id)?;
        let mut events = c
            .watch_events(pb::WatchEventsRequest {
                pane_id: pane.pane_id.clone(),
                ..Default::default()
            })
            .await?
            .into_inner();
        let started = Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        loop {
            let item = tokio::time::timeout(Duration::from_secs(30), events.message())
                .await
                .context("no event for the dead pane")??
                .context("stream ended")?;
            if let Some(pb::watch_events_response::Item::Event(e)) = item.item
                && e.event_type() == pb::EventType::ManagedPaneLaunchCommandExited
            {
                out.push(started.elapsed());
                break;
            }
        }
        remove(&mut c, layout_id).await?;
    }
    Ok(out)
}

/// `#{pane_pid}` of tmux pane `%N` of the bench's local server.
fn pane_pid(b: &Bench, tmux_pane: &str) -> anyhow::Result<i32> {
    let out = Command::new("tmux")
        .arg("-S")
        .arg(b.tmux_socket("local"))
        .args(["display-message", "-p", "-t", tmux_pane, "#{pane_pid}"])
        .output()?;
    if !out.status.success() {
        bail!("tmux: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

/// The daemon's CPU use, in % of one core, over `window` of idleness with
/// `layouts` 4-pane layouts ready over 10 tmux servers; one figure per
/// `window`, `samples` of them.
pub(crate) async fn idle_cpu(
    layouts: usize,
    window: Duration,
    samples: usize,
) -> anyhow::Result<Samples> {
    let b = Bench::start(&ten_servers(), &[]).await?;
    let mut c = b.client().await?;
    let mut settled = watch_layout_states(&mut c).await?;
    create_ready(&mut c, &mut settled, layouts, "idle").await?;
    drop(settled);
    drop(c);
    // Let the last settles and their probes finish.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut out = Samples::default();
    for _ in 0..samples {
        let (cpu, started) = (b.cpu_time(), Instant::now());
        tokio::time::sleep(window).await;
        let used = b.cpu_time().saturating_sub(cpu);
        // A percentage, carried as "milliseconds" by `Samples`.
        out.0
            .push(100.0 * used.as_secs_f64() / started.elapsed().as_secs_f64());
    }
    Ok(out)
}
