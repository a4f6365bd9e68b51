//! The daemon's files are private by their own modes, not only by their
//! directory's: 0600 files and 0700 directories under any umask, a state
//! directory others can read tightened, and a shared one refused.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::support::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Asserts the modes of everything the daemon keeps under its state dir.
fn assert_private(d: &Daemon) {
    let state = d.state_dir();
    assert_eq!(mode(&state), 0o700, "{}", state.display());
    let db = d.db().display().to_string();
    for file in [
        db.clone(),
        format!("{db}-wal"),
        format!("{db}-shm"),
        format!("{db}.lock"),
        d.events_log().display().to_string(),
    ] {
        assert_eq!(mode(Path::new(&file)), 0o600, "{file}");
    }
    let mut dirs = vec![d.log_dir()];
    while let Some(dir) = dirs.pop() {
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
            }
        }
    }
}

#[tokio::test]
async fn files_are_owner_only_under_umask_022_in_an_existing_0755_state_dir() {
    let mut d = Daemon::start().await;
    assert!(d.terminate().await.success());
    // A fresh start in a state directory someone made 0755 beforehand.
    std::fs::remove_dir_all(d.state_dir()).unwrap();
    std::fs::create_dir(d.state_dir()).unwrap();
    std::fs::set_permissions(d.state_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    d.restart_with_umask(0o022).await;
    d.create_settled("1m+2s", "modes").await;
    assert_private(&d);
    assert!(
        d.log().contains(&format!(
            "the state directory was open to other users; made it 0700 path={}",
            d.state_dir().display()
        )),
        "{}",
        d.log()
    );

    // Files an older daemon left readable are tightened at start.
    assert!(d.terminate().await.success());
    std::fs::set_permissions(d.state_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = d.db().display().to_string();
    for file in [
        db.clone(),
        format!("{db}.lock"),
        d.events_log().display().to_string(),
    ] {
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    d.restart_with_umask(0o022).await;
    d.create_settled("1m+2s", "again").await;
    assert_private(&d);
}

#[tokio::test]
async fn a_shared_sticky_state_dir_is_refused_naming_it() {
    let mut d = Daemon::start().await;
    assert!(d.terminate().await.success());
    let shared = tempfile::tempdir().unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let state = shared.path().display().to_string();
    let (status, stderr) = d
        .exit_of_a_start(&[("AGENTTOWER_STATE_DIR", state.as_str())])
        .await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the state directory {} is shared (mode 1777",
            shared.path().display()
        )) && stderr.contains("point AGENTTOWER_STATE_DIR at a directory of your own"),
        "{stderr}"
    );
    // Nothing was written there, and its mode is untouched.
    assert_eq!(std::fs::read_dir(shared.path()).unwrap().count(), 0);
    assert_eq!(mode(shared.path()), 0o1777);
}
