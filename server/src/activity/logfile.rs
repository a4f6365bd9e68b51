//! A pane's log file read as it grows. The file lies in a directory a
//! bench container can write to, so it is opened only as a regular file of
//! the daemon's own with one link, never through a symlink and never
//! blocking; when the path stops being such a file, the file already open
//! is read on. A file truncated or replaced is read again from its start.

use std::fs::{File, Metadata};
use std::os::unix::fs::{FileExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::detector::TAIL_BYTES;

/// An agent's log file, read as it grows.
pub(crate) struct LogFile {
    pub(crate) path: PathBuf,
    open: Option<OpenLog>,
    /// How far the open file has been read.
    offset: u64,
    /// The last problem logged, so each is logged once.
    problem: Option<String>,
    /// Reads since the path was last looked at.
    unchecked: u32,
}

/// How many reads of an open log go by its open file (`fstat`, no path
/// walk) before the path is looked at again to follow a replaced file: at
/// the watcher's 50 ms tick, about once a second. Looking up the path on
/// every tick was most of the daemon's idle CPU (issue 16's profile).
const PATH_CHECK_EVERY: u32 = 20;

struct OpenLog {
    file: File,
    dev: u64,
    ino: u64,
}

impl LogFile {
    pub(crate) fn new(path: PathBuf) -> LogFile {
        LogFile {
            path,
            open: None,
            offset: 0,
            problem: None,
            unchecked: 0,
        }
    }

    /// The file's last bytes and, if it holds any, when it was last
    /// written; later reads start at its end.
    pub(crate) fn seed(&mut self) -> (Vec<u8>, Option<SystemTime>) {
        let Some((meta, _)) = self.current() else {
            return (Vec::new(), None);
        };
        let size = meta.len();
        let start = size.saturating_sub(TAIL_BYTES as u64);
        let bytes = self.read(start, size);
        let written = if size > 0 { meta.modified().ok() } else { None };
        (bytes, written)
    }

    /// What was appended since the last read (at most its last
    /// `TAIL_BYTES`); a file truncated or replaced is read from its start.
    pub(crate) fn appended(&mut self) -> Option<Vec<u8>> {
        let (meta, fresh) = self.current()?;
        let size = meta.len();
        if fresh || size < self.offset {
            self.offset = 0;
        }
        if size == self.offset {
            return None;
        }
        let start = self.offset.max(size.saturating_sub(TAIL_BYTES as u64));
        let bytes = self.read(start, size);
        (!bytes.is_empty()).then_some(bytes)
    }

    /// Reads `start..end` of the open file and moves the offset past what
    /// was read.
    fn read(&mut self, start: u64, end: u64) -> Vec<u8> {
        let Some(open) = &self.open else {
            return Vec::new();
        };
        let mut buf = vec![0; usize::try_from(end.saturating_sub(start)).unwrap_or(0)];
        let mut filled = 0;
        let mut failed = None;
        while filled < buf.len() {
            match open.file.read_at(&mut buf[filled..], start + filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(format!("cannot read it: {e}"));
                    break;
                }
            }
        }
        if let Some(reason) = failed {
            self.note(reason);
        }
        buf.truncate(filled);
        self.offset = start + filled as u64;
        buf
    }

    /// The metadata of the file to read and whether it was opened just now
    /// (a new file at the path). The path is looked at every
    /// `PATH_CHECK_EVERY` reads (and while no file is open), so a replaced
    /// file is followed within about a second; when the path is gone or is
    /// no regular file, the file already open is read on.
    fn current(&mut self) -> Option<(Metadata, bool)> {
        if let Some(open) = &self.open
            && self.unchecked < PATH_CHECK_EVERY
        {
            self.unchecked += 1;
            if let Ok(meta) = open.file.metadata() {
                return Some((meta, false));
            }
        }
        self.unchecked = 0;
        match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_file() => {
                if let Some(open) = &self.open
                    && (open.dev, open.ino) == (m.dev(), m.ino())
                {
                    self.problem = None;
                    return Some((m, false));
                }
                match open_log(&self.path) {
                    Ok((open, opened)) if (open.dev, open.ino) == (m.dev(), m.ino()) => {
                        self.open = Some(open);
                        self.problem = None;
                        return Some((opened, true));
                    }
                    // Replaced between the look and the open: next tick.
                    Ok(_) => return None,
                    Err(reason) => self.note(reason),
                }
            }
            Ok(_) => self.note("it is not a regular file".to_string()),
            Err(e) => self.note(format!("cannot look at it: {e}")),
        }
        let meta = self.open.as_ref()?.file.metadata().ok()?;
        Some((meta, false))
    }

    fn note(&mut self, reason: String) {
        if self.problem.as_ref() != Some(&reason) {
            tracing::warn!(
                path = %self.path.display(),
                %reason,
                "activity detection cannot follow a pane log"
            );
            self.problem = Some(reason);
        }
    }
}

/// Opens `path` for reading if it is a regular file of the daemon's with
/// one link, without following a symlink or blocking on a FIFO.
fn open_log(path: &Path) -> std::result::Result<(OpenLog, Metadata), String> {
    use nix::fcntl::OFlag;
    let file = File::options()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY).bits())
        .open(path)
        .map_err(|e| format!("cannot open it: {e}"))?;
    let m = file
        .metadata()
        .map_err(|e| format!("cannot look at it: {e}"))?;
    if !m.is_file() {
        return Err("it is not a regular file".into());
    }
    let uid = nix::unistd::geteuid().as_raw();
    if m.uid() != uid {
        return Err(format!("it belongs to uid {}, not to the daemon", m.uid()));
    }
    if m.nlink() != 1 {
        return Err("it has other hard links".into());
    }
    let open = OpenLog {
        file,
        dev: m.dev(),
        ino: m.ino(),
    };
    Ok((open, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn append(path: &std::path::Path, bytes: &[u8]) {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
    }

    #[test]
    fn a_log_is_seeded_from_its_end_then_read_as_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        append(&path, &vec![b'x'; 3 * TAIL_BYTES]);
        append(&path, b"Proceed? [y/N] ");
        let mut log = LogFile::new(path.clone());
        let (seed, written) = log.seed();
        assert_eq!(seed.len(), TAIL_BYTES);
        assert!(seed.ends_with(b"[y/N] "));
        assert!(written.is_some());
        assert_eq!(log.appended(), None);
        append(&path, b"y\r\n");
        assert_eq!(log.appended().as_deref(), Some(&b"y\r\n"[..]));
        assert_eq!(log.appended(), None);
        // A burst larger than the tail: only its end is read.
        append(&path, &vec![b'z'; 2 * TAIL_BYTES]);
        append(&path, b"end");
        let got = log.appended().unwrap();
        assert_eq!(got.len(), TAIL_BYTES);
        assert!(got.ends_with(b"zend"));
    }

    /// Reads until the path has been looked at again (at most
    /// `PATH_CHECK_EVERY + 1` reads): the first bytes read, if any.
    fn after_path_check(log: &mut LogFile) -> Option<Vec<u8>> {
        (0..=PATH_CHECK_EVERY).find_map(|_| log.appended())
    }

    #[test]
    fn truncation_replacement_and_removal_do_not_break_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        append(&path, b"first run output\n");
        let mut log = LogFile::new(path.clone());
        log.seed();
        // Truncated, then written again: read from the start.
        std::fs::write(&path, b"new\n").unwrap();
        assert_eq!(log.appended().as_deref(), Some(&b"new\n"[..]));
        // Removed while open: the open file is still read.
        let held = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(log.appended(), None);
        (&held).write_all(b"still writing\n").unwrap();
        assert_eq!(log.appended().as_deref(), Some(&b"still writing\n"[..]));
        // A new file at the path: followed from its start, once the path
        // is looked at again.
        append(&path, b"fresh\n");
        assert_eq!(after_path_check(&mut log).as_deref(), Some(&b"fresh\n"[..]));
        // A symlink or a FIFO in its place is never opened; what was open
        // is read on.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &path).unwrap();
        assert_eq!(after_path_check(&mut log), None);
        assert!(
            log.problem
                .as_deref()
                .unwrap()
                .contains("not a regular file")
        );
        std::fs::remove_file(&path).unwrap();
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(after_path_check(&mut log), None);
        // Never a file at all.
        let mut none = LogFile::new(dir.path().join("missing.log"));
        assert_eq!(none.seed(), (Vec::new(), None));
        assert_eq!(none.appended(), None);
    }

    #[test]
    fn a_hard_linked_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        append(&path, b"x");
        std::fs::hard_link(&path, dir.path().join("b")).unwrap();
        let mut log = LogFile::new(path);
        assert_eq!(log.seed(), (Vec::new(), None));
        assert!(log.problem.as_deref().unwrap().contains("hard links"));
    }
}
