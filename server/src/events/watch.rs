//! WatchEvents: one task per watcher. It replays the event table after the
//! watcher's cursor, then follows the live bus. The writer never waits for a
//! watcher: a watcher whose bus receiver falls behind is resumed from the
//! table at its cursor, so it still sees every matching event exactly once
//! and in sequence order (STYLE rule 5).

use std::ops::ControlFlow;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, watch};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::events::{self, EventFilter};
use crate::store::models::EventRow;

/// Rows read from the table per catch-up query.
const CATCH_UP_PAGE: i64 = 500;

/// Where a watcher starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Start {
    /// Replay every event with a greater sequence, then follow.
    After(i64),
    /// Only events committed from now on.
    Now,
}

/// Go on, or end the watcher with this result: `Ok` when the client went
/// away (end quietly), `Err(Stopping)` when the daemon stops.
type Flow = ControlFlow<Result<()>>;

/// Starts a watcher and returns its bounded stream of events. The bus
/// subscription is taken before this returns, so nothing committed after
/// the call can be missed.
pub(crate) async fn spawn(
    store: Store,
    start: Start,
    filter: EventFilter,
    buffer: usize,
) -> Result<mpsc::Receiver<Result<Arc<EventRow>>>> {
    let live = store.bus().subscribe();
    let closing = store.bus().closing();
    if *closing.borrow() {
        return Err(Error::Stopping);
    }
    let cursor = match start {
        Start::After(after) => after,
        Start::Now => store.read(events::head).await?,
    };
    let (tx, rx) = mpsc::channel(buffer);
    tokio::spawn(async move {
        let mut watcher = Watcher {
            store,
            filter,
            cursor,
            tx,
            closing,
        };
        match watcher.run(live).await {
            Ok(()) => tracing::debug!(cursor = watcher.cursor, "watch stream closed by its client"),
            Err(e) => {
                tracing::debug!(cursor = watcher.cursor, error = %e, "watch stream ends");
                let _ = watcher.tx.send(Err(e)).await;
            }
        }
    });
    Ok(rx)
}

struct Watcher {
    store: Store,
    filter: EventFilter,
    /// Every event with a sequence up to here has been handled.
    cursor: i64,
    tx: mpsc::Sender<Result<Arc<EventRow>>>,
    closing: watch::Receiver<bool>,
}

impl Watcher {
    async fn run(&mut self, mut live: broadcast::Receiver<Arc<EventRow>>) -> Result<()> {
        loop {
            if let ControlFlow::Break(end) = self.catch_up().await? {
                return end;
            }
            loop {
                let received = tokio::select! {
                    () = self.tx.closed() => return Ok(()),
                    _ = self.closing.changed() => return Err(Error::Stopping),
                    r = live.recv() => r,
                };
                match received {
                    Ok(e) => {
                        if let ControlFlow::Break(end) = self.offer(e).await {
                            return end;
                        }
                    }
                    // Fell behind the bus: resume from the table.
                    Err(broadcast::error::RecvError::Lagged(skipped)) => {
                        tracing::debug!(
                            skipped,
                            cursor = self.cursor,
                            "watcher resumes from the table"
                        );
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => return Err(Error::Stopping),
                }
            }
        }
    }

    /// Replays the table after the cursor until it is exhausted.
    async fn catch_up(&mut self) -> Result<Flow> {
        loop {
            let (after, filter) = (self.cursor, self.filter.clone());
            let rows = self
                .store
                .read(move |conn| events::list_after(conn, after, &filter, CATCH_UP_PAGE))
                .await?;
            let full = rows.len() as i64 == CATCH_UP_PAGE;
            for row in rows {
                if let end @ ControlFlow::Break(_) = self.offer(Arc::new(row)).await {
                    return Ok(end);
                }
            }
            if !full {
                return Ok(ControlFlow::Continue(()));
            }
        }
    }

    /// Delivers `e` if it is new and matches; waits only on this watcher's
    /// own channel.
    async fn offer(&mut self, e: Arc<EventRow>) -> Flow {
        let sequence = i64::from(e.sequence);
        if sequence <= self.cursor {
            return ControlFlow::Continue(());
        }
        self.cursor = sequence;
        if !self.filter.matches(&e) {
            return ControlFlow::Continue(());
        }
        tokio::select! {
            sent = self.tx.send(Ok(e)) => match sent {
                Ok(()) => ControlFlow::Continue(()),
                Err(_) => ControlFlow::Break(Ok(())),
            },
            _ = self.closing.changed() => ControlFlow::Break(Err(Error::Stopping)),
        }
    }
}
