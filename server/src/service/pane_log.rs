//! Pane log files on the host (SPEC §8, log_attach). The directory of a bench
//! container's logs is bind-mounted into that container, so the container
//! controls what lies there: the daemon never follows a symlink below the log
//! root, accepts only a regular file of its own, and opens nothing that could
//! block (a FIFO), all off the async reactor. The worst a container can do is
//! fail its own panes' log_attach.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat, mkdirat};

/// Creates (or reuses) `<root>/<dir>/<label>.log` and returns its path, or
/// says what was found instead of a regular file of ours.
pub(crate) async fn prepare(root: PathBuf, dir: String, label: String) -> Result<PathBuf, String> {
    tokio::task::spawn_blocking(move || open_log(&root, &dir, &format!("{label}.log")))
        .await
        .map_err(|e| format!("cannot prepare the log file: {e}"))?
}

fn open_log(root: &Path, dir: &str, file: &str) -> Result<PathBuf, String> {
    let host = root.join(dir).join(file);
    if [dir, file]
        .iter()
        .any(|n| matches!(*n, "" | "." | "..") || n.contains('/'))
    {
        return Err(format!("refusing the log path {}", host.display()));
    }
    let io = |what: &str, e: &dyn std::fmt::Display| {
        format!("cannot write the log file {}: {what}: {e}", host.display())
    };
    crate::store::create_private_dir(root)
        .map_err(|e| format!("cannot write the log file {}: {e:#}", host.display()))?;
    let in_dir = |fd: Option<&OwnedFd>, name: &Path| -> Result<OwnedFd, String> {
        let flags = OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let opened = match fd {
            Some(fd) => openat(fd, name, flags, Mode::empty()),
            None => openat(nix::fcntl::AT_FDCWD, name, flags, Mode::empty()),
        };
        opened.map_err(|e| match e {
            Errno::ELOOP | Errno::ENOTDIR => format!(
                "refusing the log directory {}: it is {}, not a directory of the daemon's",
                root.join(name).display(),
                describe(fd, name)
            ),
            e => io(&format!("cannot open {}", name.display()), &e),
        })
    };
    let root_fd = in_dir(None, root)?;
    match mkdirat(&root_fd, dir, Mode::from_bits_truncate(0o700)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => {
            return Err(io(
                &format!("cannot create {}", root.join(dir).display()),
                &e,
            ));
        }
    }
    let dir_fd = in_dir(Some(&root_fd), Path::new(dir))?;
    // Look before opening: a FIFO, socket or device is never opened.
    match fstatat(&dir_fd, file, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if kind(&st) != SFlag::S_IFREG => {
            return Err(refusal(&host, &format!("it is {}", kind_name(kind(&st)))));
        }
        Ok(_) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(io("cannot inspect it", &e)),
    }
    let flags = OFlag::O_WRONLY
        | OFlag::O_APPEND
        | OFlag::O_CREAT
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let fd =
        openat(&dir_fd, file, flags, Mode::from_bits_truncate(0o600)).map_err(|e| match e {
            Errno::ELOOP => refusal(&host, "it is a symbolic link"),
            Errno::ENXIO => refusal(&host, "it is a FIFO"),
            e => io("cannot open it", &e),
        })?;
    let st = fstat(&fd).map_err(|e| io("cannot inspect it", &e))?;
    if kind(&st) != SFlag::S_IFREG {
        return Err(refusal(&host, &format!("it is {}", kind_name(kind(&st)))));
    }
    if st.st_uid != nix::unistd::geteuid().as_raw() {
        return Err(refusal(
            &host,
            &format!("it belongs to uid {}, not to the daemon", st.st_uid),
        ));
    }
    if st.st_nlink != 1 {
        return Err(refusal(&host, "it has other hard links"));
    }
    Ok(host)
}

fn refusal(host: &Path, what: &str) -> String {
    format!(
        "refusing the log file {}: {what}; only a regular file the daemon created is used",
        host.display()
    )
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

fn kind_name(kind: SFlag) -> &'static str {
    match kind {
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFLNK => "a symbolic link",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        _ => "not a regular file",
    }
}

/// What `name` (in `dir`, or the cwd) is, for a refusal message.
fn describe(dir: Option<&OwnedFd>, name: &Path) -> &'static str {
    let st = match dir {
        Some(fd) => fstatat(fd, name, AtFlags::AT_SYMLINK_NOFOLLOW),
        None => fstatat(nix::fcntl::AT_FDCWD, name, AtFlags::AT_SYMLINK_NOFOLLOW),
    };
    st.map(|st| kind_name(kind(&st)))
        .unwrap_or("not a directory")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_regular_file_is_created_private_and_reused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("logs");
        let p = open_log(&root, "local", "w.m1.log").unwrap();
        assert_eq!(p, root.join("local/w.m1.log"));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), 0o600);
        assert_eq!(mode(&root.join("local")), 0o700);
        assert_eq!(open_log(&root, "local", "w.m1.log").unwrap(), p);
    }

    #[test]
    fn symlinks_fifos_and_links_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("logs");
        std::fs::create_dir_all(root.join("c")).unwrap();
        let outside = t.path().join("escape");
        std::os::unix::fs::symlink(&outside, root.join("c/a.log")).unwrap();
        let e = open_log(&root, "c", "a.log").unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(!outside.exists());

        nix::unistd::mkfifo(&root.join("c/f.log"), Mode::from_bits_truncate(0o600)).unwrap();
        let e = open_log(&root, "c", "f.log").unwrap_err();
        assert!(e.contains("FIFO"), "{e}");

        std::fs::write(t.path().join("mine"), "x").unwrap();
        std::fs::hard_link(t.path().join("mine"), root.join("c/h.log")).unwrap();
        assert!(
            open_log(&root, "c", "h.log")
                .unwrap_err()
                .contains("hard links")
        );

        std::os::unix::fs::symlink(t.path(), root.join("d")).unwrap();
        let e = open_log(&root, "d", "x.log").unwrap_err();
        assert!(e.contains("symbolic link"), "{e}");
        assert!(!t.path().join("x.log").exists());
        assert!(open_log(&root, "..", "x.log").is_err());
    }
}
