//! Per-container FIFO (SPEC §9): every mutation of one container runs one at a
//! time in arrival order, on that container's own worker task; different
//! containers proceed in parallel. No time-out on the wait: a `creating` pane
//! is the visible sign of a stuck job.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedMutexGuard, mpsc};
use tokio::task::JoinSet;

type Job = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The queues of every container.
#[derive(Default)]
pub(crate) struct Queues {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    senders: HashMap<String, Arc<tokio::sync::Mutex<mpsc::UnboundedSender<Job>>>>,
    workers: JoinSet<()>,
    closed: bool,
}

/// Exclusive right to append to one container's queue. Holding it across a
/// database insert and the enqueue keeps queue order equal to insert order.
pub(crate) struct Slot(Option<OwnedMutexGuard<mpsc::UnboundedSender<Job>>>);

impl Slot {
    /// Appends `job` behind everything already queued for the container.
    pub(crate) fn push(self, job: impl Future<Output = ()> + Send + 'static) {
        match &self.0 {
            Some(sender) => {
                if sender.send(Box::pin(job)).is_err() {
                    tracing::warn!("container queue closed; job dropped (the sweep settles it)");
                }
            }
            None => tracing::warn!("daemon shutting down; job dropped (the sweep settles it)"),
        }
    }
}

impl Queues {
    /// Waits for (fair, FIFO) the right to enqueue on `container_id`.
    pub(crate) async fn slot(&self, container_id: &str) -> Slot {
        let sender = {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            if inner.closed {
                return Slot(None);
            }
            let inner = &mut *inner;
            inner
                .senders
                .entry(container_id.to_string())
                .or_insert_with(|| {
                    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
                    inner.workers.spawn(async move {
                        while let Some(job) = rx.recv().await {
                            job.await;
                        }
                    });
                    Arc::new(tokio::sync::Mutex::new(tx))
                })
                .clone()
        };
        Slot(Some(sender.lock_owned().await))
    }

    /// Runs `job` behind everything queued for `container_id` and returns its
    /// result (`None` if the daemon is shutting down).
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        container_id: &str,
        job: impl Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.slot(container_id).await.push(async move {
            let _ = tx.send(job.await);
        });
        rx.await.ok()
    }

    /// Stops accepting jobs and waits for queued ones to finish, at most
    /// `grace`. Whatever is left is settled by the next start's sweep.
    pub(crate) async fn drain(&self, grace: std::time::Duration) {
        let mut workers = {
            let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            inner.closed = true;
            inner.senders.clear();
            std::mem::take(&mut inner.workers)
        };
        let all = async { while workers.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!("shutdown grace period over; abandoning queued work");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_of_one_container_run_in_order_one_at_a_time() {
        let queues = Queues::default();
        let log = Arc::new(Mutex::new(Vec::new()));
        for i in 0..5 {
            let log = log.clone();
            queues.slot("c").await.push(async move {
                log.lock().unwrap().push(format!("start {i}"));
                tokio::task::yield_now().await;
                log.lock().unwrap().push(format!("end {i}"));
            });
        }
        queues.drain(std::time::Duration::from_secs(5)).await;
        let log = log.lock().unwrap();
        let expected: Vec<String> = (0..5)
            .flat_map(|i| [format!("start {i}"), format!("end {i}")])
            .collect();
        assert_eq!(*log, expected);
    }
}
