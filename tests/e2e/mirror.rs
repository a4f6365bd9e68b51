//! `events.jsonl` equals the event table: a torn or foreign line is cut and
//! rewritten at start, and appends that failed (a full disk) are redone from
//! the table once writing works again, without a restart.

use std::path::{Path, PathBuf};

use crate::support::*;

/// The sequence of every line, or why a line is not a complete event.
fn mirror_sequences(path: &Path) -> Result<Vec<u64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("the last line is torn".into());
    }
    text.lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).map_err(|e| format!("{e}: {l:?}"))?;
            // proto3 JSON writes a uint64 as a decimal string.
            v["sequence"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("no sequence: {l}"))
        })
        .collect()
}

/// Polls until the mirror at `path` holds exactly the table's events.
async fn mirror_equals_table(d: &Daemon, path: &Path) {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let table = sequences(&d.all_events().await);
        let mirror = mirror_sequences(path);
        if mirror.as_ref() == Ok(&table) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the mirror never equalled the table:\nmirror {mirror:?}\ntable  {table:?}\n{}",
            d.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_torn_last_line_and_a_missing_middle_line_are_rewritten_at_start() {
    let mut d = Daemon::start().await;
    d.create_settled("1m+2s", "torn").await;
    assert!(d.terminate().await.success());
    let len = std::fs::metadata(d.events_log()).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(d.events_log())
        .unwrap()
        .set_len(len - 40)
        .unwrap();
    assert!(mirror_sequences(&d.events_log()).is_err());
    d.restart().await;
    mirror_equals_table(&d, &d.events_log()).await;

    // A line lost in the middle: the sequences diverge there.
    assert!(d.terminate().await.success());
    let text = std::fs::read_to_string(d.events_log()).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() > 4);
    lines.remove(2);
    std::fs::write(d.events_log(), format!("{}\n", lines.join("\n"))).unwrap();
    d.restart().await;
    mirror_equals_table(&d, &d.events_log()).await;
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the file system holding `path` until a write fails.
fn fill(path: &Path) {
    use std::io::Write as _;
    let mut f = std::fs::File::create(path).unwrap();
    let block = [0u8; 4096];
    while f.write_all(&block).is_ok() {}
    while f.write_all(&block[..64]).is_ok() {}
}

#[tokio::test]
async fn appends_that_failed_on_a_full_disk_are_redone_from_the_table() {
    let root = tempfile::tempdir().unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(root.path())
        .output();
    match mounted {
        Ok(out) if out.status.success() => {}
        other => {
            println!(
                "SKIPPED appends_that_failed_on_a_full_disk_are_redone_from_the_table: \
                 cannot mount a tmpfs (needs root): {other:?}"
            );
            return;
        }
    }
    let _tmpfs = Tmpfs(root.path().to_path_buf());
    let log = root.path().join("events.jsonl");
    let filler = root.path().join("filler");
    let mut d = Daemon::start_with(
        Setup::default()
            .env("AGENTTOWER_EVENTS_LOG", &log.display().to_string())
            .config("sweep_interval_ms: 200"),
    )
    .await;

    fill(&filler);
    for i in 0..4 {
        d.create_settled("1m+2s", &format!("full{i}")).await;
    }
    let table = sequences(&d.all_events().await);
    let mirror = mirror_sequences(&log).unwrap_or_default();
    assert!(
        mirror.len() < table.len(),
        "the disk was full, yet the mirror has every event: {mirror:?}"
    );

    // Space again: the sweep's tick (or the next write) catches it up.
    std::fs::remove_file(&filler).unwrap();
    mirror_equals_table(&d, &log).await;

    // Full again, with a write that fails; then a write after space returns.
    fill(&filler);
    d.create_settled("1m+2s", "again").await;
    std::fs::remove_file(&filler).unwrap();
    d.create_settled("1m+2s", "after").await;
    mirror_equals_table(&d, &log).await;

    assert!(d.terminate().await.success());
    d.restart().await;
    mirror_equals_table(&d, &log).await;
    drop(d);
}
