//! The figures of SPEC §16 and the raw tmux floor, measured in one run.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use agenttower::client::ManagedSessionsServiceClient;
use agenttower::names::ShortName as _;
use agenttower::pb;
use agenttower::pb::lifecycle_event::Payload;
use anyhow::{Context as _, bail};
use diesel::Connection as _;
use diesel::connection::SimpleConnection as _;
use tokio::sync::mpsc;

use crate::Args;
use crate::daemon::{Bench, kill_tmux};
use crate::stats::{Row, Samples, table};

/// The settle window the benchmark daemon waits before probing panes; it
/// is subtracted from convergence and reported on its own row.
pub(crate) const SETTLE_MS: u64 = 100;

pub(crate) fn template(name: &str, workers: usize) -> (String, String) {
    let mut yaml = format!(
        "name: {name}\npanes:\n  - {{role: master, capability: orchestrator, label_pattern: \"{{session}}.m{{ordinal}}\"}}\n"
    );
    for _ in 0..workers {
        yaml.push_str(
            "  - {role: slave, capability: worker, label_pattern: \"{session}.s{ordinal}\"}\n",
        );
    }
    (name.to_string(), yaml)
}

/// Runs every measurement and renders the report.
pub(crate) async fn all(args: &Args) -> anyhow::Result<String> {
    let runs = args.runs.max(1);
    let mut rows = Vec::new();
    let (t6, t12) = (template("1m+5s", 5), template("1m+11s", 11));
    let templates = [
        (t6.0.as_str(), t6.1.clone()),
        (t12.0.as_str(), t12.1.clone()),
    ];
    let config = format!("settle_window_ms: {SETTLE_MS}\ncapacity: 400\n");
    let mut b = Bench::start(&config, &templates).await?;

    rows.push(Row::per_run(
        "daemon RSS, idle",
        "MiB",
        &sample_rss(&b).await,
        "≤ 20 MB",
    ));

    // The floor: the same 3-pane layout in one chained tmux call.
    let floor_socket = b.dir.path().join("tmux-floor.sock");
    let log_dir = b.dir.path().join("floor-logs");
    std::fs::create_dir_all(&log_dir)?;
    let (mut cold, mut warm) = (Samples::default(), Samples::default());
    let (mut warm6, mut warm12) = (Samples::default(), Samples::default());
    for i in 0..runs {
        kill_tmux(&floor_socket);
        cold.push(floor(&floor_socket, &format!("c{i}"), 3, &log_dir)?);
        warm.push(floor(&floor_socket, &format!("w{i}"), 3, &log_dir)?);
        warm6.push(floor(&floor_socket, &format!("six{i}"), 6, &log_dir)?);
        warm12.push(floor(&floor_socket, &format!("twelve{i}"), 12, &log_dir)?);
    }
    kill_tmux(&floor_socket);

    // Ours, on a warm tmux server (the first create starts it).
    let mut c = b.client().await?;
    let mut settled = watch_layout_states(&mut c).await?;
    let (_, _, warmup) = converge(&mut c, &mut settled, "local", "1m+2s", "warmup").await?;
    remove(&mut c, warmup).await?;
    let mut rtt = Samples::default();
    let mut rtt_p99 = Samples::default();
    let mut ours = HashMap::new();
    for (template, panes) in [("1m+2s", 3), ("1m+5s", 6), ("1m+11s", 12)] {
        let mut s = Samples::default();
        for i in 0..runs {
            let (call, total, id) = converge(
                &mut c,
                &mut settled,
                "local",
                template,
                &format!("p{panes}r{i}"),
            )
            .await?;
            remove(&mut c, id).await?;
            rtt.push(call);
            s.push(total.saturating_sub(Duration::from_millis(SETTLE_MS)));
        }
        ours.insert(panes, s);
    }
    for chunk in rtt.0.chunks(10.min(rtt.0.len())) {
        rtt_p99.0.push(Samples(chunk.to_vec()).percentile(99.0));
    }
    let ours3 = &ours[&3];
    rows.push(Row::of(
        "raw tmux floor, 3 panes, one chained call, cold server",
        &cold,
        "19 ms (measured by the issue)",
    ));
    rows.push(Row::of(
        "raw tmux floor, 3 panes, one chained call, warm server",
        &warm,
        "10 ms (measured by the issue)",
    ));
    rows.push(Row::of(
        "ours: 1m+2s ready, minus the settle window",
        ours3,
        "≤ 50 ms",
    ));
    rows.push(ratio_row(
        "ours ÷ cold floor (medians)",
        ours3,
        &cold,
        "≤ 2.5×",
    ));
    rows.push(ratio_row(
        "ours ÷ warm floor (medians)",
        ours3,
        &warm,
        "≤ 1.2×",
    ));
    rows.push(Row::of("raw tmux floor, 6 panes, warm server", &warm6, "—"));
    rows.push(Row::of(
        "ours: 6 panes ready, minus the settle window",
        &ours[&6],
        "floor + constant",
    ));
    rows.push(Row::of(
        "raw tmux floor, 12 panes, warm server",
        &warm12,
        "—",
    ));
    rows.push(Row::of(
        "ours: 12 panes ready, minus the settle window",
        &ours[&12],
        "floor + constant",
    ));
    for (panes, floor) in [(3, &warm), (6, &warm6), (12, &warm12)] {
        let over = Samples(vec![ours[&panes].median() - floor.median()]);
        rows.push(Row::per_run(
            format!("ours − warm floor, {panes} panes (medians)"),
            "ms",
            &over,
            if panes == 12 { "≤ 15 ms" } else { "—" },
        ));
    }
    rows.push(Row {
        figure: "settle window (config, excluded above)".into(),
        unit: "ms",
        min: SETTLE_MS as f64,
        median: SETTLE_MS as f64,
        max: SETTLE_MS as f64,
        target: "default 1000".into(),
    });
    rows.push(Row::of(
        "CreateLayout round trip (all creates)",
        &rtt,
        "p50 ≤ 1 ms",
    ));
    rows.push(Row::per_run(
        "CreateLayout round trip p99 (per 10 creates)",
        "ms",
        &rtt_p99,
        "≤ 5 ms",
    ));

    rows.push(Row::per_run(
        "event delivery to 100 watchers, p99 per create",
        "ms",
        &watchers(&b, &mut c, &mut settled, runs).await?,
        "≤ 10 ms",
    ));

    // Reads with 10,000 panes in the table.
    let seeded = if args.quick { 100 } else { 2500 };
    b.stop().await?;
    seed(&b.db(), seeded)?;
    b.spawn().await?;
    let mut c = b.client().await?;
    let mut settled = watch_layout_states(&mut c).await?;
    // One live layout to read, among the seeded history.
    let (_, _, layout_id) = converge(&mut c, &mut settled, "local", "1m+2s", "reads").await?;
    let calls = if args.quick { 20 } else { 500 };
    let (mut get_p99, mut list_p99, mut resolve_p99, mut rps) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    for _ in 0..runs {
        let (g, l, r) = reads(&mut c, &layout_id, calls).await?;
        get_p99.0.push(g.percentile(99.0));
        list_p99.0.push(l.percentile(99.0));
        resolve_p99.0.push(r.percentile(99.0));
        let window = if args.quick {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(1)
        };
        rps.0.push(read_rate(&b, &layout_id, 4, window).await?);
    }
    let panes = seeded * 4 + 3;
    rows.push(Row::per_run(
        format!("GetLayout p99, {panes} panes in the table"),
        "ms",
        &get_p99,
        "≤ 5 ms",
    ));
    rows.push(Row::per_run(
        format!("ListPanes p99 (first page), {panes} panes"),
        "ms",
        &list_p99,
        "≤ 5 ms",
    ));
    rows.push(Row::per_run(
        format!("ResolveName p99 (a pane label), {panes} panes"),
        "ms",
        &resolve_p99,
        "≤ 1 ms",
    ));
    rows.push(Row::per_run(
        "read RPCs per second, 4 concurrent clients",
        "rps",
        &rps,
        "≥ 20,000",
    ));
    drop(c);
    b.stop().await?;
    drop(b);

    // Recovery: 40 layouts / 160 panes over 10 containers.
    let layouts = if args.quick { 4 } else { 40 };
    let (recovery, restart, rss40) = recovery(layouts, runs.min(10)).await?;
    rows.push(Row::per_run(
        format!("daemon RSS with {layouts} layouts"),
        "MiB",
        &rss40,
        "≤ 40 MB",
    ));
    rows.push(Row::of(
        format!(
            "boot recovery, {layouts} layouts / {} panes / 10 containers",
            layouts * 4
        ),
        &recovery,
        "≤ 500 ms",
    ));
    rows.push(Row::of(
        "restart until the socket answers (includes recovery)",
        &restart,
        "—",
    ));

    let control = crate::control::section(args).await?;
    let activity = activity_section(args).await?;
    let mut report = String::new();
    report.push_str(&machine());
    report.push('\n');
    report.push_str(&table(&rows));
    report.push('\n');
    report.push_str(&control);
    report.push('\n');
    report.push_str(&activity);
    Ok(report)
}

/// The activity rows (issue 14) as their own table, with notes on misses.
pub(crate) async fn activity_section(args: &Args) -> anyhow::Result<String> {
    let exe = crate::activity::exe()?;
    let (rows, notes) = crate::activity::rows(args, &exe).await?;
    let mut out = String::from("Agent activity\n\n");
    out.push_str(&table(&rows));
    for n in notes {
        out.push_str(&format!("\n- {n}"));
    }
    out.push('\n');
    Ok(out)
}

fn ratio_row(figure: &str, ours: &Samples, floor: &Samples, target: &str) -> Row {
    let r = ours.median() / floor.median().max(f64::EPSILON);
    Row {
        figure: figure.into(),
        unit: "×",
        min: r,
        median: r,
        max: r,
        target: target.into(),
    }
}

/// The same layout the pipeline builds (titles, remain-on-exit, a log pipe
/// per pane, tiled), in one chained tmux call; its wall time.
fn floor(socket: &Path, session: &str, panes: usize, log_dir: &Path) -> anyhow::Result<Duration> {
    let mut args: Vec<String> = vec![
        "-u".into(),
        "-S".into(),
        socket.display().to_string(),
        "-f".into(),
        "/dev/null".into(),
    ];
    for i in 0..panes {
        if i == 0 {
            args.extend(
                [
                    "new-session",
                    "-d",
                    "-s",
                    session,
                    "-x",
                    "200",
                    "-y",
                    "50",
                    "-P",
                    "-F",
                    "#{pane_id}",
                ]
                .map(String::from),
            );
        } else {
            args.extend(
                [";", "split-window", "-t", session, "-P", "-F", "#{pane_id}"].map(String::from),
            );
        }
        let log = log_dir.join(format!("{session}.{i}.log"));
        args.extend(
            [
                ";",
                "set-option",
                "-p",
                "-t",
                session,
                "remain-on-exit",
                "on",
            ]
            .map(String::from),
        );
        args.extend([";", "select-pane", "-t", session, "-T"].map(String::from));
        args.push(format!("{session}.{i}"));
        args.extend([";", "pipe-pane", "-o", "-t", session].map(String::from));
        args.push(format!("exec cat >> {}", log.display()));
        if i > 0 {
            args.extend([";", "select-layout", "-t", session, "tiled"].map(String::from));
        }
    }
    let started = Instant::now();
    let out = Command::new("tmux")
        .args(&args)
        .env("SHELL", "/bin/sh")
        .output()?;
    let took = started.elapsed();
    if !out.status.success() {
        bail!(
            "the floor's tmux call failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(took)
}

pub(crate) type Settled = tonic::Streaming<pb::WatchEventsResponse>;

/// A stream of layout state changes from now on.
pub(crate) async fn watch_layout_states(
    c: &mut ManagedSessionsServiceClient,
) -> anyhow::Result<Settled> {
    Ok(c.watch_events(pb::WatchEventsRequest {
        from_now: true,
        event_types: vec![pb::EventType::ManagedLayoutStateChanged as i32],
        ..Default::default()
    })
    .await?
    .into_inner())
}

/// Waits on `settled` for `layout_id` to leave `creating`; its new state.
async fn settle(settled: &mut Settled, layout_id: &str) -> anyhow::Result<String> {
    loop {
        let item = tokio::time::timeout(Duration::from_secs(30), settled.message())
            .await
            .context("a layout never settled")??
            .context("the event stream ended")?;
        if let Some(pb::watch_events_response::Item::Event(e)) = item.item
            && e.layout_id == layout_id
            && let Some(Payload::ManagedLayoutStateChanged(p)) = e.payload
            && p.to_state() != pb::LayoutState::Creating
        {
            return Ok(p.to_state().short_name());
        }
    }
}

/// Creates a layout and waits until it settles `ready`; returns the
/// CreateLayout round trip, the time to ready and the layout's id.
pub(crate) async fn converge(
    c: &mut ManagedSessionsServiceClient,
    settled: &mut Settled,
    container: &str,
    template: &str,
    session: &str,
) -> anyhow::Result<(Duration, Duration, String)> {
    let started = Instant::now();
    let r = c
        .create_layout(pb::CreateLayoutRequest {
            container_id: container.into(),
            template_name: template.into(),
            tmux_session_name: session.into(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let call = started.elapsed();
    let layout_id = r.layout.map(|l| l.layout_id).unwrap_or_default();
    let state = settle(settled, &layout_id).await?;
    let total = started.elapsed();
    if state != pb::LayoutState::Ready.short_name() {
        bail!("layout {session} settled {state}");
    }
    Ok((call, total, layout_id))
}

/// Removes a layout the benchmark no longer needs.
pub(crate) async fn remove(
    c: &mut ManagedSessionsServiceClient,
    layout_id: String,
) -> anyhow::Result<()> {
    c.remove_layout(pb::RemoveLayoutRequest { layout_id })
        .await?;
    Ok(())
}

/// Event delivery: 100 watchers; per create, the time from the call to
/// each watcher receiving the layout's `managed_layout_created` (p99 of
/// the 100, one figure per create).
async fn watchers(
    b: &Bench,
    c: &mut ManagedSessionsServiceClient,
    settled: &mut Settled,
    runs: usize,
) -> anyhow::Result<Samples> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(String, Instant)>();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let mut stream = b
            .client()
            .await?
            .watch_events(pb::WatchEventsRequest {
                from_now: true,
                event_types: vec![pb::EventType::ManagedLayoutCreated as i32],
                ..Default::default()
            })
            .await?
            .into_inner();
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok(Some(m)) = stream.message().await {
                if let Some(pb::watch_events_response::Item::Event(e)) = m.item
                    && tx.send((e.layout_id, Instant::now())).is_err()
                {
                    return;
                }
            }
        }));
    }
    let mut p99 = Samples::default();
    for i in 0..runs {
        let started = Instant::now();
        let r = c
            .create_layout(pb::CreateLayoutRequest {
                container_id: "local".into(),
                template_name: "1m+2s".into(),
                tmux_session_name: format!("w{i}"),
                ..Default::default()
            })
            .await?
            .into_inner();
        let layout_id = r.layout.map(|l| l.layout_id).unwrap_or_default();
        let mut latencies = Samples::default();
        while latencies.0.len() < 100 {
            let (id, at) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .context("a watcher missed an event")?
                .context("watchers ended")?;
            if id == layout_id {
                latencies.push(at - started);
            }
        }
        p99.0.push(latencies.percentile(99.0));
        settle(settled, &layout_id).await?;
        remove(c, layout_id).await?;
    }
    for t in tasks {
        t.abort();
    }
    Ok(p99)
}

/// Fills the table with `layouts` removed layouts of 4 removed panes each
/// (the daemon is stopped): history the reads must page past.
fn seed(db: &Path, layouts: usize) -> anyhow::Result<()> {
    let mut conn = diesel::SqliteConnection::establish(&db.display().to_string())?;
    conn.batch_execute(&format!(
        "BEGIN;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {layouts})
         INSERT INTO managed_layout (id, container_id, template_name, tmux_session_name,
             intended_pane_count, ready_pane_count, state, created_at, updated_at)
         SELECT printf('seed-layout-%06d', i), 'local', '2m+2s', printf('seed%06d', i), 4, 0,
             'removed', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z' FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {layouts}),
              k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 3)
         INSERT INTO managed_pane (id, layout_id, container_id, role, capability, label,
             tmux_session_name, tmux_pane_index, state, created_at, updated_at)
         SELECT printf('seed-pane-%06d-%d', i, j), printf('seed-layout-%06d', i), 'local',
             CASE WHEN j < 2 THEN 'master' ELSE 'slave' END, 'worker',
             printf('seed%06d.%d', i, j), printf('seed%06d', i), j, 'removed',
             '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z' FROM n, k;
         COMMIT;"
    ))?;
    Ok(())
}

/// `calls` sequential GetLayout, ListPanes and ResolveName (the label of
/// one of the layout's panes) round trips.
async fn reads(
    c: &mut ManagedSessionsServiceClient,
    layout_id: &str,
    calls: usize,
) -> anyhow::Result<(Samples, Samples, Samples)> {
    let (mut get, mut list, mut resolve) =
        (Samples::default(), Samples::default(), Samples::default());
    for _ in 0..calls {
        let t = Instant::now();
        c.get_layout(pb::GetLayoutRequest {
            layout_id: layout_id.into(),
            include_terminal_panes: false,
        })
        .await?;
        get.push(t.elapsed());
        let t = Instant::now();
        c.list_panes(pb::ListPanesRequest::default()).await?;
        list.push(t.elapsed());
        let t = Instant::now();
        c.resolve_name(pb::ResolveNameRequest {
            kind: pb::NameKind::Pane as i32,
            name: "reads.s1".into(),
        })
        .await?;
        resolve.push(t.elapsed());
    }
    Ok((get, list, resolve))
}

/// GetLayout calls per second from `clients` connections at once.
async fn read_rate(
    b: &Bench,
    layout_id: &str,
    clients: usize,
    window: Duration,
) -> anyhow::Result<f64> {
    let mut tasks = Vec::new();
    let deadline = Instant::now() + window;
    for _ in 0..clients {
        let mut c = b.client().await?;
        let id = layout_id.to_string();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            // Several calls in flight per connection, as a busy client has.
            while Instant::now() < deadline {
                let batch = (0..8).map(|_| {
                    let mut c = c.clone();
                    let id = id.clone();
                    async move {
                        c.get_layout(pb::GetLayoutRequest {
                            layout_id: id,
                            include_terminal_panes: false,
                        })
                        .await
                    }
                });
                for r in futures_util::future::join_all(batch).await {
                    r?;
                    n += 1;
                }
            }
            c.get_layout(pb::GetLayoutRequest::default()).await.ok();
            Ok::<u64, tonic::Status>(n)
        }));
    }
    let started = Instant::now();
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total as f64 / started.elapsed().max(window).as_secs_f64())
}

/// Boot recovery and restart times over `runs` restarts with `layouts`
/// 4-pane layouts spread over 10 containers; also the RSS with them.
async fn recovery(layouts: usize, runs: usize) -> anyhow::Result<(Samples, Samples, Samples)> {
    let mut b = Bench::start(&ten_servers(), &[]).await?;
    let mut c = b.client().await?;
    let mut settled = watch_layout_states(&mut c).await?;
    create_ready(&mut c, &mut settled, layouts, "r").await?;
    drop(settled);
    drop(c);
    let rss = sample_rss(&b).await;
    let (mut recovered, mut restarted) = (Samples::default(), Samples::default());
    for _ in 0..runs {
        b.stop().await?;
        restarted.push(b.spawn().await?);
        let ms = b
            .last_recovery_ms()
            .context("no recovery time in the daemon log")?;
        recovered.0.push(ms);
    }
    b.stop().await?;
    Ok((recovered, restarted, rss))
}

/// Creates `layouts` 2m+2s layouts (4 panes each) round-robin over
/// containers `c0`…`c9`, sessions `<prefix><i>`, and waits until every one
/// is ready.
pub(crate) async fn create_ready(
    c: &mut ManagedSessionsServiceClient,
    settled: &mut Settled,
    layouts: usize,
    prefix: &str,
) -> anyhow::Result<()> {
    let mut pending = Vec::new();
    for i in 0..layouts {
        let r = c
            .create_layout(pb::CreateLayoutRequest {
                container_id: format!("c{}", i % 10),
                template_name: "2m+2s".into(),
                tmux_session_name: format!("{prefix}{i}"),
                ..Default::default()
            })
            .await?
            .into_inner();
        pending.push(r.layout.map(|l| l.layout_id).unwrap_or_default());
    }
    let mut ready = 0;
    while ready < pending.len() {
        let item = tokio::time::timeout(Duration::from_secs(60), settled.message())
            .await
            .context("layouts never settled")??
            .context("stream ended")?;
        if let Some(pb::watch_events_response::Item::Event(e)) = item.item
            && pending.contains(&e.layout_id)
            && let Some(Payload::ManagedLayoutStateChanged(p)) = &e.payload
            && p.to_state() == pb::LayoutState::Ready
        {
            ready += 1;
        }
    }
    Ok(())
}

/// The config of ten local containers `c0`…`c9`, each its own tmux server.
pub(crate) fn ten_servers() -> String {
    let mut config = format!("settle_window_ms: {SETTLE_MS}\ncapacity: 400\nlocal_containers:\n");
    // The sockets live in the Bench's temp dir (`{dir}`).
    for i in 0..10 {
        config.push_str(&format!(
            "  - {{name: c{i}, tmux_socket: {{dir}}/tmux-c{i}.sock}}\n"
        ));
    }
    config
}

/// Five RSS readings 50 ms apart.
async fn sample_rss(b: &Bench) -> Samples {
    let mut s = Samples::default();
    for _ in 0..5 {
        s.0.push(b.rss_mib());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s
}

/// With `AGENTTOWER_BENCH_DOCKER_IMAGE` (any image with tmux; the tests
/// build `agenttower-bench-test:*`): the raw `docker exec` floor and our
/// 1m+2s convergence in one container of it, logs through a bind mount.
/// Without it, why Docker was not measured.
pub(crate) async fn docker_rows(runs: usize) -> anyhow::Result<String> {
    let Ok(image) = std::env::var("AGENTTOWER_BENCH_DOCKER_IMAGE") else {
        return Ok(
            "Docker: not measured; set AGENTTOWER_BENCH_DOCKER_IMAGE to an image \
                   with tmux (e.g. one `cargo test --test docker` built: \
                   `docker images agenttower-bench-test`).\n"
                .into(),
        );
    };
    let name = format!("agenttower-bench-{}", std::process::id());
    let config = format!(
        "settle_window_ms: {SETTLE_MS}\ndocker:\n  label: agenttower.bench-run={name}\n  scan_at_start: false\n"
    );
    let b = Bench::start(&config, &[]).await?;
    let logs = b.dir.path().join("state/logs").join(&name);
    std::fs::create_dir_all(&logs)?;
    let docker = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new("docker").args(args).output()?;
        if !out.status.success() {
            bail!(
                "docker {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let label = format!("agenttower.bench-run={name}");
    let mount = format!("{}:/var/log/agenttower", logs.display());
    docker(&[
        "run", "-d", "--init", "--name", &name, "--label", &label, "-v", &mount, &image, "sleep",
        "infinity",
    ])?;
    let measured = async {
        let mut raw = Samples::default();
        for i in 0..runs {
            let session = format!("dfloor{i}");
            let started = Instant::now();
            docker(&[
                "exec",
                "-e",
                "LC_ALL=C.UTF-8",
                &name,
                "tmux",
                "new-session",
                "-d",
                "-s",
                &session,
                ";",
                "split-window",
                "-t",
                &session,
                ";",
                "split-window",
                "-t",
                &session,
            ])?;
            raw.push(started.elapsed());
            docker(&["exec", &name, "tmux", "kill-session", "-t", &session])?;
        }
        let mut c = b.client().await?;
        c.scan_containers(pb::ScanContainersRequest::default())
            .await?;
        let mut settled = watch_layout_states(&mut c).await?;
        // The first create opens the control connection (one `docker
        // exec`); the rows are the steady state after it.
        let (_, _, warmup) = converge(&mut c, &mut settled, &name, "1m+2s", "dwarm").await?;
        remove(&mut c, warmup).await?;
        let mut ours = Samples::default();
        for i in 0..runs {
            let (_, total, id) =
                converge(&mut c, &mut settled, &name, "1m+2s", &format!("d{i}")).await?;
            remove(&mut c, id).await?;
            ours.push(total.saturating_sub(Duration::from_millis(SETTLE_MS)));
        }
        anyhow::Ok(table(&[
            Row::of(
                "raw `docker exec` floor, 3 panes chained",
                &raw,
                "87 ms (issue)",
            ),
            Row::of(
                "ours in Docker: 1m+2s ready, minus the settle window",
                &ours,
                "≤ 200 ms",
            ),
            ratio_row(
                "ours in Docker ÷ raw `docker exec` floor (medians)",
                &ours,
                &raw,
                "≤ 0.5×",
            ),
        ]))
    }
    .await;
    let _ = docker(&["rm", "-f", &name]);
    measured
}

/// The machine, in a few lines.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let tmux = Command::new("tmux")
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "machine: {cores} cores ({cpu}), {mem:.0} GiB RAM, {tmux}, Linux {}, agenttowerd {}\n",
        kernel.trim(),
        env!("CARGO_PKG_VERSION")
    )
}
