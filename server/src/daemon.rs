//! Start-up and shutdown of agenttowerd: one daemon per socket, the socket
//! private to its owner, boot steps done before the socket accepts anything,
//! and a graceful stop that lets in-flight work finish.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
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
    private_dir(&paths.state_dir)?;
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
    let mut background = vec![
        tokio::spawn(svc.clone().watch_health()),
        tokio::spawn(svc.clone().sweep_forever()),
    ];
    if svc.config.docker.scan_at_start {
        // Off the boot path: Docker may be slow or absent.
        let scanner = svc.clone();
        background.push(tokio::spawn(async move {
            match scanner.scan_containers().await {
                Ok(scan) => tracing::info!(
                    registered = scan.containers.len(),
                    warnings = ?scan.warnings,
                    "start-up container scan done"
                ),
                Err(e) => tracing::warn!(error = ?e, "start-up container scan failed"),
            }
        }));
    }

    let listener = bind(&paths.socket)?;
    tracing::info!(socket = %paths.socket.display(), db = %paths.db.display(), "agenttowerd listening");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(crate::api::serve(svc.clone(), listener, async {
        let _ = stopped.await;
    }));
    let served = tokio::select! {
        r = &mut server => Some(r),
        () = shutdown_signal() => None,
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
    for task in background {
        task.abort();
    }
    tracing::info!("stopped");
    result
}

/// Registers the built-in `local` container and the runtimes of every
/// reachable container.
async fn register_containers(store: &Store, config: &Config) -> anyhow::Result<Runtimes> {
    let runtimes = Runtimes::default();
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
        runtimes.insert(&id, Arc::new(LocalRuntime::new(&id, socket)));
    }
    Ok(runtimes)
}

/// Makes `dir` owner-only: created 0700, or tightened to 0700 when it is a
/// directory of ours (its name says AgentTower). Any other existing directory
/// (a shared one like /tmp holding an overridden socket) is left alone; the
/// socket itself is always 0600.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    } else if dir.ends_with("opensoft/agenttower") {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private", dir.display()))?;
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
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
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
