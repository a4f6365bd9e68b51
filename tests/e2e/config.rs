//! config.yaml values that would leave the daemon half alive are refused at
//! start, naming the key: a zero period panics a background timer, a zero
//! TTL fails every pane.

use crate::support::*;

#[tokio::test]
async fn zero_intervals_and_ttl_are_refused_at_start_naming_the_key() {
    let mut d = Daemon::start().await;
    assert!(d.terminate().await.success());
    let config = d.dir.path().join("cfg/config.yaml");
    let base = std::fs::read_to_string(&config).unwrap();
    for key in ["health_interval_ms", "sweep_interval_ms", "pending_ttl_ms"] {
        std::fs::write(&config, format!("{base}{key}: 0\n")).unwrap();
        let (status, stderr) = d.exit_of_a_start(&[]).await;
        assert_eq!(status.code(), Some(1), "{key}: {stderr}");
        assert!(
            stderr.contains(&format!("agenttowerd: {key} must be 1..=")),
            "{key}: {stderr}"
        );
        assert!(!d.socket().exists(), "{key}: the daemon never listened");
    }
    // The same file without the zero starts.
    std::fs::write(&config, base).unwrap();
    d.restart().await;
}
