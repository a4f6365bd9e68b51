//! Committed lifecycle events leave the store here: `Mirror` appends them to
//! `events.jsonl`, `Bus` hands them to live watchers. `redact` hides secrets
//! before a payload is ever written.

mod mirror;
pub(crate) mod watch;

pub(crate) use mirror::Mirror;

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{broadcast, watch as flag};

use crate::store::models::EventRow;

/// Fan-out of committed events. Publishing never waits for a watcher; a
/// watcher that falls behind is resumed from the event table by sequence.
#[derive(Clone)]
pub(crate) struct Bus {
    tx: broadcast::Sender<Arc<EventRow>>,
    /// Set once when the daemon stops, so open watch streams end.
    closing: Arc<flag::Sender<bool>>,
}

impl Bus {
    /// A bus keeping up to `capacity` events for watchers that lag.
    pub(crate) fn new(capacity: usize) -> Self {
        Bus {
            tx: broadcast::channel(capacity).0,
            closing: Arc::new(flag::channel(false).0),
        }
    }

    /// Ends every watch stream (daemon shutdown).
    pub(crate) fn close(&self) {
        self.closing.send_replace(true);
    }

    /// A flag that turns true when the daemon stops.
    pub(crate) fn closing(&self) -> flag::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Publishes committed events in sequence order.
    pub(crate) fn publish(&self, events: Vec<EventRow>) {
        for e in events {
            // No receiver is fine: the event is durable in the table.
            let _ = self.tx.send(Arc::new(e));
        }
    }

    /// A new live subscription.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<EventRow>> {
        self.tx.subscribe()
    }
}

const SECRET_MARKERS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "KEY",
    "PASSWORD",
    "PASSWD",
    "AUTH",
    "CREDENTIAL",
    "COOKIE",
    "PRIVATE",
];

/// The placeholder written instead of a secret value.
pub(crate) const REDACTED: &str = "<redacted>";

/// `env` with the values of secret-looking keys replaced (SPEC §10: TOKEN,
/// SECRET, KEY, ... anywhere in the key, any case), as event payloads hold it.
pub(crate) fn redact_env(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.iter()
        .map(|(k, v)| {
            let upper = k.to_ascii_uppercase();
            let secret = SECRET_MARKERS.iter().any(|m| upper.contains(m));
            (k.clone(), if secret { REDACTED.into() } else { v.clone() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_env_values_are_redacted_case_insensitively() {
        let env: BTreeMap<String, String> = [
            ("api_key", "k"),
            ("GitHubToken", "t"),
            ("db_passwd", "p"),
            ("PATH", "/bin"),
            ("LANG", "C.UTF-8"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let v = redact_env(&env);
        assert_eq!(v["api_key"], REDACTED);
        assert_eq!(v["GitHubToken"], REDACTED);
        assert_eq!(v["db_passwd"], REDACTED);
        assert_eq!(v["PATH"], "/bin");
        assert_eq!(v["LANG"], "C.UTF-8");
    }
}
