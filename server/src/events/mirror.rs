//! The append-only `events.jsonl` mirror: one JSON object per line, in
//! sequence order. At start it is caught up with the table, so a crash
//! between commit and append loses nothing.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use diesel::SqliteConnection;

use crate::store::events::{EventFilter, list_after};
use crate::store::models::EventRow;

/// Appends committed events to the JSONL file.
pub(crate) struct Mirror {
    path: PathBuf,
    file: File,
}

impl Mirror {
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(Mirror {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends every event the table has beyond the file's last line.
    pub(crate) fn catch_up(&mut self, conn: &mut SqliteConnection) -> anyhow::Result<()> {
        let mut after = self.last_sequence()?;
        loop {
            let rows = list_after(conn, after, &EventFilter::default(), 1000)
                .map_err(|e| anyhow::anyhow!("cannot read events: {e:?}"))?;
            let Some(last) = rows.last() else { break };
            after = i64::from(last.sequence);
            self.append(&rows);
        }
        Ok(())
    }

    fn last_sequence(&mut self) -> anyhow::Result<i64> {
        let len = self.file.metadata()?.len();
        let start = len.saturating_sub(64 * 1024);
        self.file.seek(SeekFrom::Start(start))?;
        let mut tail = String::new();
        (&self.file)
            .take(len - start)
            .read_to_string(&mut tail)
            .with_context(|| format!("{} is not UTF-8", self.path.display()))?;
        Ok(tail
            .lines()
            .rev()
            .find_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .and_then(|v| v["sequence"].as_i64())
            .unwrap_or(0))
    }

    /// Appends `events`, one line each. A failure is logged, not fatal: the
    /// table is the source of truth and the next start catches up.
    pub(crate) fn append(&mut self, events: &[EventRow]) {
        let mut out = BufWriter::new(&self.file);
        let result = events.iter().try_for_each(|e| {
            serde_json::to_writer(&mut out, e)?;
            out.write_all(b"\n")?;
            Ok::<_, anyhow::Error>(())
        });
        if let Err(e) = result.and_then(|_| out.flush().map_err(Into::into)) {
            tracing::error!(path = %self.path.display(), error = %e, "cannot append to the events mirror");
        }
    }
}
