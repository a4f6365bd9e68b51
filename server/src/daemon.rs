//! Start-up and shutdown of agenttowerd: one daemon per socket, the socket
//! private to its owner, boot steps done before the socket accepts anything,
//! and a graceful stop that lets in-flight work finish.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use nix::fcntl::{Flock, FlockArg};
use tokio::net::UnixListener;

use crate::config::{Config, Paths};
use crate::events::Bus;
use crate::runtime::local::LocalRuntime;
use crate::service::{Runtimes, Services, queue::Queues};
use crate::store::{Store, containers};

/// How long a stopping daemon waits for queued pipeline work.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the daemon until SIGINT or SIGTERM.
pub(crate) async fn run(paths: Paths) -> anyhow::Result<()> {
    let config = Config::load(&paths.config_file())?;
    let socket_dir = paths
        .socket
        .parent()
        .context("the socket path has no directory")?
        .to_path_buf();
    private_dir(&socket_dir)?;
    private_state_dir(&paths.state_dir)?;
    let _lock = single_instance(&paths.db, &paths.socket)?;

    let store = Store::open(
        &paths.db,
        &paths.events_log,
        Bus::new(config.event_bus_capacity),
    )?;
    let runtimes = register_containers(&store, &config).await?;
    let svc = Arc::new(Services {
        store,
        config,
        paths: paths.clone(),
        runtimes,
        queues: Queues::default(),
        catalog_cache: Default::default(),
    });

    // Boot steps, before the socket accepts anything: reach the containers
    // already registered, settle stale creates, then reattach or fail every
    // live pane.
    let boot = std::time::Instant::now();
    svc.register_known_containers()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the container registry: {e:?}"))?;
    let swept = svc
        .sweep()
        .await
        .map_err(|e| anyhow::anyhow!("boot sweep failed: {e:?}"))?;
    let skipped = svc
        .recover()
        .await
        .map_err(|e| anyhow::anyhow!("boot recovery failed: {e:?}"))?;
    tracing::info!(
        swept,
        skipped_containers = skipped,
        elapsed_ms = boot.elapsed().as_secs_f64() * 1000.0,
        "boot recovery done"
    );
    let mut background = Background::default();
    background.forever("health watcher", svc.clone().watch_health());
    background.forever("pending-marker sweep", svc.clone().sweep_forever());
    background.forever("activity watcher", svc.clone().watch_activity());
    if svc.config.docker.scan_at_start {
        // Off the boot path: Docker may be slow or absent.
        let scanner = svc.clone();
        background.once("start-up container scan", async move {
            match scanner.scan_containers().await {
                Ok(scan) => tracing::info!(
                    registered = scan.containers.len(),
                    warnings = ?scan.warnings,
                    "start-up container scan done"
                ),
                Err(e) => tracing::warn!(error = ?e, "start-up container scan failed"),
            }
        });
    }

    let listener = bind(&paths.socket)?;
    tracing::info!(socket = %paths.socket.display(), db = %paths.db.display(), "agenttowerd listening");
    let mut failed = None;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(crate::api::serve(svc.clone(), listener, async {
        let _ = stopped.await;
    }));
    let served = tokio::select! {
        r = &mut server => Some(r),
        () = shutdown_signal() => None,
        e = background.failure() => {
            tracing::error!("{e:#}; stopping the daemon");
            failed = Some(e);
            None
        }
    };
    let _ = std::fs::remove_file(&paths.socket);
    let result = match served {
        // The server stopped on its own: an error.
        Some(r) => r.map_err(anyhow::Error::from).and_then(|r| r),
        None => {
            tracing::info!(
                "stopping: no new connections; finishing in-flight requests and queued work"
            );
            let _ = stop.send(());
            svc.store.bus().close();
            let ((), served) = tokio::join!(
                svc.queues.drain(SHUTDOWN_GRACE),
                tokio::time::timeout(SHUTDOWN_GRACE, &mut server)
            );
            match served {
                Ok(r) => r.map_err(anyhow::Error::from).and_then(|r| r),
                Err(_) => {
                    tracing::warn!(
                        "clients kept connections open past the grace period; closing them"
                    );
                    server.abort();
                    Ok(())
                }
            }
        }
    };
    drop(background);
    svc.runtimes.close().await;
    tracing::info!("agenttowerd stopped");
    match failed {
        Some(e) => Err(e),
        None => result,
    }
}

/// The daemon's background tasks, supervised: a task that panics, or a
/// task meant to run forever that ends, stops the daemon with an error
/// naming it, so it never goes silently dead. Dropping it aborts them all.
#[derive(Default)]
struct Background {
    tasks: tokio::task::JoinSet<()>,
    names: std::collections::HashMap<tokio::task::Id, (&'static str, bool)>,
}

impl Background {
    /// Runs `task`, which must never end (the health watcher, the sweep).
    fn forever(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let id = self.tasks.spawn(task).id();
        self.names.insert(id, (name, true));
    }

    /// Runs `task`, which may end (the start-up scan), but not by panicking.
    fn once(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        let id = self.tasks.spawn(task).id();
        self.names.insert(id, (name, false));
    }

    /// Waits for the first task that panicked or ended when it must not;
    /// pending forever while none has.
    async fn failure(&mut self) -> anyhow::Error {
        loop {
            let (id, panic) = match self.tasks.join_next_with_id().await {
                None => return std::future::pending().await,
                Some(Ok((id, ()))) => (id, None),
                Some(Err(e)) if e.is_panic() => (e.id(), Some(e.into_panic())),
                Some(Err(_)) => continue, // aborted: only at shutdown
            };
            let (name, forever) = self.names.remove(&id).unwrap_or(("background task", true));
            match panic {
                Some(p) => {
                    let message = p
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    return anyhow::anyhow!("the {name} panicked: {message}");
                }
                None if forever => return anyhow::anyhow!("the {name} stopped unexpectedly"),
                None => {}
            }
        }
    }
}

/// Registers the built-in `local` container and the runtimes of every
/// reachable container.
async fn register_containers(store: &Store, config: &Config) -> anyhow::Result<Runtimes> {
    let runtimes = Runtimes::new(crate::runtime::fault::Faults::from_env()?);
    let mut hosts = Vec::new();
    if config.local.enabled {
        hosts.push((
            containers::LOCAL_ID.to_string(),
            config.local.tmux_socket.clone(),
        ));
    }
    for extra in &config.local_containers {
        hosts.push((extra.name.clone(), Some(extra.tmux_socket.clone())));
    }
    for (id, socket) in hosts {
        let key = id.clone();
        store
            .write(move |tx| containers::ensure_local(tx.conn, &key))
            .await
            .map_err(|e| anyhow::anyhow!("cannot register container {id}: {e:?}"))?;
        let control = runtimes.control(&id);
        runtimes.insert(&id, Arc::new(LocalRuntime::new(&id, socket, control)));
    }
    Ok(runtimes)
}

/// Makes `dir` owner-only: created 0700, or tightened to 0700 when it is a
/// directory of ours (its name says AgentTower). Any other existing directory
/// (a shared one like /tmp holding an overridden socket) is left alone; the
/// socket itself is always 0600.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        crate::store::create_private_dir(dir)?;
    } else if dir.ends_with("opensoft/agenttower") {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
    }
    Ok(())
}

/// Makes the state directory owner-only. A missing one is created 0700; one
/// of ours that others can read is tightened to 0700 with a warning. A
/// shared directory (world-writable or sticky, like /tmp) or another user's
/// is refused: others could read or replace the database and logs there.
fn private_state_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = match std::fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return crate::store::create_private_dir(dir);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    let fix = "point AGENTTOWER_STATE_DIR at a directory of your own \
               (the daemon creates it 0700 if it does not exist)";
    if !meta.is_dir() {
        bail!(
            "the state directory {} is not a directory; {fix}",
            dir.display()
        );
    }
    let uid = nix::unistd::geteuid().as_raw();
    if meta.uid() != uid {
        bail!(
            "the state directory {} belongs to uid {}, not to this user (uid {uid}); {fix}",
            dir.display(),
            meta.uid()
        );
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o1002 != 0 {
        bail!(
            "the state directory {} is shared (mode {mode:04o}: world-writable or sticky, \
             like /tmp); refusing to keep the database and logs there; {fix}",
            dir.display()
        );
    }
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
        tracing::warn!(
            path = %dir.display(),
            mode = %format!("{mode:04o}"),
            "the state directory was open to other users; made it 0700"
        );
    }
    Ok(())
}

/// Holds `<database>.lock` for the daemon's lifetime, so a second daemon on
/// the same files is refused; also refuses a socket another daemon (with
/// other files) answers on. The lock is not beside the socket: the socket's
/// directory is mounted into bench containers, which must not be able to
/// hold the daemon's lock.
fn single_instance(db: &Path, socket: &Path) -> anyhow::Result<Flock<File>> {
    let lock_path = PathBuf::from(format!("{}.lock", db.display()));
    if let Some(dir) = lock_path.parent() {
        crate::store::create_private_dir(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    crate::store::keep_private(&file, &lock_path)?;
    let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
            bail!("another agenttowerd is already running on {}", db.display())
        }
        Err((_, e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()));
        }
    };
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        bail!(
            "another agenttowerd is already running on {}",
            socket.display()
        );
    }
    Ok(lock)
}

/// Binds the socket owner-only, replacing a stale one left by a crash (we
/// hold the instance lock, so nobody else is serving it).
fn bind(socket: &Path) -> anyhow::Result<UnixListener> {
    match std::fs::remove_file(socket) {
        Ok(()) => tracing::info!(socket = %socket.display(), "removed a stale socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", socket.display())),
    }
    // The umask closes the window between bind and chmod.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let listener = UnixListener::bind(socket);
    nix::sys::stat::umask(old);
    let listener = listener.with_context(|| format!("cannot bind {}", socket.display()))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the daemon with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_task_stops_the_supervisor_with_its_name() {
        let mut background = Background::default();
        background.forever("health watcher", std::future::pending());
        background.once("start-up container scan", async {});
        background.forever("pending-marker sweep", async {
            tokio::task::yield_now().await;
            panic!("period must be non-zero");
        });
        let e = tokio::time::timeout(Duration::from_secs(10), background.failure())
            .await
            .expect("the panic is reported");
        assert_eq!(
            e.to_string(),
            "the pending-marker sweep panicked: period must be non-zero"
        );
    }

    #[tokio::test]
    async fn a_forever_task_that_ends_is_a_failure() {
        let mut background = Background::default();
        background.forever("health watcher", async {});
        let e = background.failure().await;
        assert_eq!(e.to_string(), "the health watcher stopped unexpectedly");
    }

    #[tokio::test(start_paused = true)]
    async fn a_one_shot_task_that_finishes_is_not_a_failure() {
        let mut background = Background::default();
        background.forever("health watcher", std::future::pending());
        background.once("start-up container scan", async {});
        let waited = tokio::time::timeout(Duration::from_secs(3600), background.failure()).await;
        assert!(waited.is_err(), "no failure: {waited:?}");
    }
}
