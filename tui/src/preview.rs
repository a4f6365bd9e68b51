//! The selected pane's last lines, read from its log file on the host.
//! Only the tail is read (`PREVIEW_BYTES`), only when the file changed
//! (size and mtime), on a blocking thread so a slow file system never
//! stalls the console. The bytes go through `sanitize` before they are
//! drawn. `l`'s log view reads a longer tail the same way.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::time::SystemTime;

use crate::conn::Server;
use crate::sanitize;

/// How much of the log's end the preview reads.
pub(crate) const PREVIEW_BYTES: u64 = 16 * 1024;
/// Lines kept from that tail; the panel shows the last that fit.
const PREVIEW_LINES: usize = 64;
/// Log lines shown by the log view (`l`), read from at most this much of
/// its end.
const LOG_TAIL_LINES: usize = 200;
const LOG_TAIL_BYTES: u64 = 256 * 1024;

/// What the preview panel shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Preview {
    /// The pane whose log this is; empty when no pane is selected.
    pub pane_id: String,
    pub lines: Vec<String>,
    /// Why there is nothing to show (no log yet, unreadable), if so.
    pub note: Option<String>,
}

/// A file's identity for "did it change": length and modification time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

/// The last `max` bytes of the log at `path`, with its stamp; `None` when
/// the stamp is still `seen`. A bench container controls its log
/// directory, so only a regular file is read: never through a symlink,
/// never a FIFO (which would block the read). Returns whether the read
/// started mid-file (its first line is then partial).
pub(crate) fn read_tail(
    path: &str,
    max: u64,
    seen: Option<Stamp>,
) -> std::io::Result<Option<(Stamp, Vec<u8>, bool)>> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let flags = nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_NONBLOCK;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits())
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let stamp = Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
    };
    if seen == Some(stamp) {
        return Ok(None);
    }
    let start = meta.len().saturating_sub(max);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity(max.min(meta.len()) as usize);
    // The file may grow while we read; never take more than `max`.
    file.take(max).read_to_end(&mut bytes)?;
    Ok(Some((stamp, bytes, start > 0)))
}

/// A tail's bytes as printable lines, at most `keep`, trailing blank lines
/// dropped. A first line cut by the tail's start is dropped too.
pub(crate) fn tail_lines(bytes: &[u8], cut: bool, keep: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let text = match (cut, text.find('\n')) {
        (true, Some(i)) => &text[i + 1..],
        _ => &text[..],
    };
    let mut lines = sanitize::lines(text);
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let skip = lines.len().saturating_sub(keep);
    lines.drain(..skip);
    lines
}

/// The result of one read for the console loop.
#[derive(Debug)]
pub(crate) struct Read {
    pub pane_id: String,
    /// `None`: unchanged since the last read.
    pub update: Option<(Stamp, Result<Vec<String>, String>)>,
}

/// Reads `path`'s tail for `pane_id` on a blocking thread.
pub(crate) async fn read(pane_id: String, path: String, seen: Option<Stamp>) -> Read {
    let result = tokio::task::spawn_blocking(move || {
        if path.is_empty() {
            return Ok(None);
        }
        read_tail(&path, PREVIEW_BYTES, seen)
    })
    .await;
    let update = match result {
        Ok(Ok(Some((stamp, bytes, cut)))) => {
            Some((stamp, Ok(tail_lines(&bytes, cut, PREVIEW_LINES))))
        }
        Ok(Ok(None)) => None,
        Ok(Err(e)) => Some((Stamp::default(), Err(e.to_string()))),
        Err(e) => Some((Stamp::default(), Err(e.to_string()))),
    };
    Read { pane_id, update }
}

/// The last lines of a pane's log, read from the host.
pub(crate) async fn log_tail(label: String, path: String) -> Server {
    if path.is_empty() {
        return Server::Done(format!("pane {label} has no log"));
    }
    let read = tokio::task::spawn_blocking(move || read_tail(&path, LOG_TAIL_BYTES, None)).await;
    match read {
        Ok(Ok(Some((_, bytes, cut)))) => Server::LogTail {
            label,
            lines: tail_lines(&bytes, cut, LOG_TAIL_LINES),
        },
        Ok(Ok(None)) => Server::Done(format!("the log of {label} is unchanged")),
        Ok(Err(e)) => Server::Done(format!("cannot read the log of {label}: {e}")),
        Err(e) => Server::Done(format!("cannot read the log of {label}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_tail_is_read_and_only_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.log");
        let mut text = String::new();
        for i in 0..5000 {
            text.push_str(&format!("line {i}\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let p = path.to_str().unwrap();
        let (stamp, bytes, cut) = read_tail(p, 1024, None).unwrap().unwrap();
        assert_eq!(bytes.len(), 1024);
        assert!(cut);
        let lines = tail_lines(&bytes, cut, 3);
        assert_eq!(lines, ["line 4997", "line 4998", "line 4999"]);
        assert!(read_tail(p, 1024, Some(stamp)).unwrap().is_none());
        // A short file is read whole; its first line is kept.
        std::fs::write(&path, "first\n\u{1b}[31msecond\u{1b}[0m\n\n").unwrap();
        let (_, bytes, cut) = read_tail(p, 1024, Some(stamp)).unwrap().unwrap();
        assert!(!cut);
        assert_eq!(tail_lines(&bytes, cut, 10), ["first", "second"]);
    }

    #[test]
    fn symlinks_and_fifos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t.log");
        std::fs::write(&target, "x\n").unwrap();
        let link = dir.path().join("l.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(read_tail(link.to_str().unwrap(), 1024, None).is_err());
        let fifo = dir.path().join("f.log");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(read_tail(fifo.to_str().unwrap(), 1024, None).is_err());
    }
}
