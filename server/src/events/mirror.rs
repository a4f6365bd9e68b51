//! The `events.jsonl` mirror: every event of the table once, in sequence
//! order, one `agenttower.v1.LifecycleEvent` per line in proto3 JSON — the
//! shape WatchEvents answers with. The table is the source of truth: at
//! start, and whenever a write to the file failed, the file is cut at its
//! first line that differs from the table's encoding and rewritten from
//! there. A file written by an earlier version (another line shape) is thus
//! rewritten in the current shape on the first start.

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use crate::api::convert::event_line;
use crate::store::events::{EventFilter, list_after};
use crate::store::models::EventRow;
use anyhow::Context as _;
use diesel::SqliteConnection;

/// Events read from the table per query while checking or rewriting.
const PAGE: i64 = 500;

/// A longer line is not one of ours (event lines are a few KiB at most); it
/// is cut like any other bad line, without reading it into memory.
const MAX_LINE: u64 = 16 << 20;

/// Appends committed events to the JSONL file, and repairs it from the table.
pub(crate) struct Mirror {
    path: PathBuf,
    file: File,
    /// The file up to `good.len` bytes equals the table up to `good.sequence`.
    good: Mark,
    state: State,
}

/// A point where the file and the table agree.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Mark {
    len: u64,
    sequence: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// The file is exactly `good`: new events are appended as they commit.
    InSync,
    /// A write failed: past `good` the file is torn or short, and the
    /// table's events after `good.sequence` are still to be written.
    Behind,
    /// Nothing is known about the file (not checked yet, or it changed under
    /// us): it is compared with the table line by line before anything else.
    Unchecked,
}

impl Mirror {
    /// Opens (creating it owner-only) the file; `sync` then makes it equal
    /// to the table.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            crate::store::create_private_dir(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        crate::store::keep_private(&file, path)?;
        Ok(Mirror {
            path: path.to_path_buf(),
            file,
            good: Mark::default(),
            state: State::Unchecked,
        })
    }

    /// Makes the file equal to the table: finds the first line that is torn,
    /// not JSON, or not the table's next event, cuts the file there and
    /// writes the table from that event on. One pass over the file and the
    /// table, a page at a time.
    pub(crate) fn sync(&mut self, conn: &mut SqliteConnection) -> anyhow::Result<()> {
        self.notice_outside_changes();
        if self.state == State::Unchecked {
            self.good = self
                .agreeing_prefix(conn)
                .with_context(|| format!("cannot check {}", self.path.display()))?;
            self.state = State::Behind;
        }
        if self.state == State::Behind {
            self.rewrite_after_good(conn)
                .with_context(|| format!("cannot write {}", self.path.display()))?;
            self.state = State::InSync;
        }
        Ok(())
    }

    /// Catches the file up if a write failed earlier; quiet while it still
    /// fails (the failure that left it behind was logged).
    pub(crate) fn repair(&mut self, conn: &mut SqliteConnection) {
        self.notice_outside_changes();
        if self.state == State::InSync {
            return;
        }
        match self.sync(conn) {
            Ok(()) => tracing::info!(
                path = %self.path.display(),
                sequence = self.good.sequence,
                "the events mirror is caught up with the table again"
            ),
            Err(e) => {
                tracing::debug!(error = %format!("{e:#}"), "the events mirror is still behind")
            }
        }
    }

    /// Appends `events` (just committed, the table's newest). When the file
    /// is behind, it is caught up from the table instead, which holds them.
    /// A failure is logged, not fatal: the table is the source of truth, and
    /// the next write or the sweep's tick retries.
    pub(crate) fn append(&mut self, conn: &mut SqliteConnection, events: &[EventRow]) {
        self.notice_outside_changes();
        if self.state != State::InSync {
            self.repair(conn);
            return;
        }
        if let Err(e) = self.write_lines(events) {
            self.state = State::Behind;
            tracing::error!(
                path = %self.path.display(),
                error = %e,
                "cannot append to the events mirror; it is rewritten from the table when writing works again"
            );
        }
    }

    /// A file whose length is not what we last wrote was changed by someone
    /// else (truncated, rotated, appended to): check it from the start.
    fn notice_outside_changes(&mut self) {
        if self.state == State::InSync
            && self.file.metadata().map(|m| m.len()).ok() != Some(self.good.len)
        {
            tracing::warn!(path = %self.path.display(), "the events mirror changed under the daemon; checking it against the table");
            self.state = State::Unchecked;
        }
    }

    /// Where the file stops agreeing with the table, reading both in order.
    fn agreeing_prefix(&mut self, conn: &mut SqliteConnection) -> anyhow::Result<Mark> {
        (&self.file).seek(SeekFrom::Start(0))?;
        let mut reader = BufReader::new(&self.file);
        let mut table = TableLines::default();
        let mut good = Mark::default();
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line)?;
            if line.last() != Some(&b'\n') {
                break; // the end, or a torn or overlong line
            }
            let sequence = match table.next(conn)? {
                Some((sequence, expected)) if expected == line => sequence,
                _ => break,
            };
            good = Mark {
                len: good.len + n as u64,
                sequence,
            };
        }
        Ok(good)
    }

    /// Cuts the file at `good` and appends the table's events after it.
    fn rewrite_after_good(&mut self, conn: &mut SqliteConnection) -> anyhow::Result<()> {
        self.file.set_len(self.good.len)?;
        loop {
            let rows = list_after(conn, self.good.sequence, &EventFilter::default(), PAGE)
                .map_err(|e| anyhow::anyhow!("cannot read events: {e:?}"))?;
            if rows.is_empty() {
                return Ok(());
            }
            self.write_lines(&rows)?;
        }
    }

    /// Appends one line per event and moves `good` past them; on failure
    /// cuts off whatever part of them reached the file.
    fn write_lines(&mut self, events: &[EventRow]) -> anyhow::Result<()> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        let mut buf = Vec::new();
        for e in events {
            buf.extend_from_slice(&encoded(e));
        }
        if let Err(e) = (&self.file).write_all(&buf) {
            let _ = self.file.set_len(self.good.len);
            return Err(e.into());
        }
        self.good = Mark {
            len: self.good.len + buf.len() as u64,
            sequence: i64::from(last.sequence),
        };
        Ok(())
    }
}

/// One event's line, newline included.
fn encoded(e: &EventRow) -> Vec<u8> {
    let mut line = event_line(e).into_bytes();
    line.push(b'\n');
    line
}

/// The table's events in sequence order as their lines, read a page at a
/// time.
#[derive(Default)]
struct TableLines {
    page: std::vec::IntoIter<EventRow>,
    after: i64,
    exhausted: bool,
}

impl TableLines {
    fn next(&mut self, conn: &mut SqliteConnection) -> anyhow::Result<Option<(i64, Vec<u8>)>> {
        if self.page.len() == 0 && !self.exhausted {
            let page = list_after(conn, self.after, &EventFilter::default(), PAGE)
                .map_err(|e| anyhow::anyhow!("cannot read events: {e:?}"))?;
            self.exhausted = (page.len() as i64) < PAGE;
            self.page = page.into_iter();
        }
        Ok(self.page.next().map(|e| {
            self.after = i64::from(e.sequence);
            (self.after, encoded(&e))
        }))
    }
}
