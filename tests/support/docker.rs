//! Real Docker for the tests: a small bench image built locally from the
//! host's own tmux, shell and their libraries (no registry), and containers
//! that are removed when the test ends. Without a usable Docker these tests
//! fail with the reason; they never pass by skipping.

use std::collections::BTreeSet;
use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Programs the bench image holds (with their libraries).
const PROGRAMS: &[&str] = &[
    "tmux", "sh", "dash", "cat", "env", "sleep", "ls", "printf", "mkfifo", "ln",
];

/// The terminfo directory the bench image copies from the host.
const TERMINFO: &str = "/lib/terminfo";

/// Runs `docker args` and returns its output.
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("cannot run the docker CLI: install Docker (.ci/run does)")
}

/// stdout of a `docker` call that must succeed.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Fails the test loudly unless a Docker engine answers.
pub fn require_docker() {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "Docker tests need a running Docker engine, and `docker version` says: {}\n\
             `.ci/run` installs and starts dockerd; locally, start it (dockerd &) and rerun.",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!(
            "Docker tests need the docker CLI ({e}); `.ci/run` installs docker.io, \
             or run `apt-get install docker.io` and start dockerd"
        ),
    }
}

/// The `agenttower` CLI built for this test run, to mount into containers.
pub fn cli_bin() -> PathBuf {
    if let Some(p) = option_env!("CARGO_BIN_EXE_agenttower") {
        return PathBuf::from(p);
    }
    super::daemon_bin().with_file_name("agenttower")
}

fn which(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} not found on PATH; the bench image needs it"))
}

/// Shared libraries `ldd` lists for `binary`, as absolute paths.
fn libraries(binary: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd").arg(binary).output().expect("run ldd");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or
            // "/lib64/ld-linux-x86-64.so.2 (0x…)"
            let path = line.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

fn copy_into(root: &Path, host: &Path, inside: &Path) {
    let dest = root.join(inside.strip_prefix("/").unwrap_or(inside));
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(host, &dest).unwrap_or_else(|e| panic!("copy {}: {e}", host.display()));
}

fn copy_tree(root: &Path, dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            copy_tree(root, &path);
        } else if path.is_file() {
            copy_into(root, &path, &path);
        }
    }
}

/// The bench image tag, built once per test binary (and reused across runs
/// while the host binaries stay the same).
pub fn bench_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        require_docker();
        let programs: Vec<PathBuf> = PROGRAMS.iter().map(|p| which(p)).collect();
        let mut libs = BTreeSet::new();
        for bin in programs.iter().chain([&cli_bin()]) {
            libs.extend(libraries(bin));
        }
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for f in programs.iter().chain(&libs) {
            f.hash(&mut hasher);
            if let Ok(m) = std::fs::metadata(f) {
                m.len().hash(&mut hasher);
            }
        }
        // The image's own files beyond programs and libraries.
        TERMINFO.hash(&mut hasher);
        let tag = format!("agenttower-bench-test:{:016x}", hasher.finish());
        if docker(&["image", "inspect", &tag]).status.success() {
            return tag;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        for (name, host) in PROGRAMS.iter().zip(&programs) {
            copy_into(&root, host, &Path::new("/usr/bin").join(name));
        }
        copy_into(&root, &which("dash"), Path::new("/bin/sh"));
        for lib in &libs {
            copy_into(&root, lib, lib);
        }
        // glibc's C.UTF-8 locale, for tmux.
        if Path::new("/usr/lib/locale/C.utf8").is_dir() {
            copy_tree(&root, Path::new("/usr/lib/locale/C.utf8"));
        }
        // Terminal descriptions, for a tmux client attached from a real
        // terminal (`agenttower attach`).
        if Path::new(TERMINFO).is_dir() {
            copy_tree(&root, Path::new(TERMINFO));
        }
        let etc = root.join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(etc.join("group"), "root:x:0:\n").unwrap();
        for d in ["root", "tmp", "var/log"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        let tar = dir.path().join("rootfs.tar");
        let status = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .expect("run tar");
        assert!(status.success(), "tar of the bench rootfs failed");
        docker_ok(&["import", tar.to_str().unwrap(), &tag]);
        tag
    })
}

/// A label value unique to one test, so a daemon registers only the
/// containers its own test started.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// `config.yaml` lines that make a daemon register containers with `label`.
pub fn docker_config(label: &str) -> String {
    format!("docker:\n  label: agenttower.test={label}\n  scan_at_start: false\n")
}

/// A running bench container, removed (with its anonymous volumes) on drop.
pub struct Bench {
    pub name: String,
    pub id: String,
}

impl Bench {
    /// `docker run -d --init` of the bench image, labelled for `label`, with
    /// `extra` run options (mounts, hostname, ...).
    pub fn run(label: &str, name: &str, extra: &[String]) -> Bench {
        let image = bench_image();
        let label_arg = format!("agenttower.test={label}");
        let mut args: Vec<&str> =
            vec!["run", "-d", "--init", "--name", name, "--label", &label_arg];
        args.extend(extra.iter().map(String::as_str));
        args.extend([image, "sleep", "infinity"]);
        let id = docker_ok(&args);
        Bench {
            name: name.to_string(),
            id,
        }
    }

    /// `docker exec` in the container, with the UTF-8 locale tmux wants.
    pub fn exec(&self, args: &[&str]) -> Output {
        let mut all = vec!["exec", "-e", "LC_ALL=C.UTF-8", &self.name];
        all.extend(args);
        docker(&all)
    }

    /// `tmux` in the container; must succeed.
    pub fn tmux(&self, args: &[&str]) -> String {
        let mut all = vec!["tmux"];
        all.extend(args);
        let out = self.exec(&all);
        assert!(
            out.status.success(),
            "tmux {args:?} in {} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The `agenttower` CLI run inside the container against `socket`.
    pub fn cli(&self, socket: &str, args: &[&str]) -> Output {
        let env = format!("AGENTTOWER_SOCKET={socket}");
        let mut all = vec!["exec", "-e", &env, &self.name, "/usr/local/bin/agenttower"];
        all.extend(args);
        docker(&all)
    }

    pub fn kill(&self) {
        docker_ok(&["kill", &self.name]);
    }

    /// `docker stop` (a second's grace) and `docker start`: the same
    /// container, its processes gone and started again.
    pub fn stop(&self) {
        docker_ok(&["stop", "-t", "1", &self.name]);
    }
    pub fn start(&self) {
        docker_ok(&["start", &self.name]);
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.name]);
    }
}
