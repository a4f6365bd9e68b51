//! The terminal's events (keys, resizes), read on a thread of their own
//! that can be paused. While the console runs a tmux client in its
//! terminal, nothing of the console may read that terminal, or the
//! operator's keystrokes would go to the console instead of the client:
//! `pause` returns only once the thread has stopped reading, and it reads
//! nothing more until `resume`.
//!
//! crossterm's `EventStream` cannot promise that: dropping it only asks its
//! thread to stop, which may still be reading the terminal when the child
//! starts.

use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use crossterm::event::{self, Event};
use tokio::sync::{mpsc, oneshot};

/// How long one read waits before the thread looks for a pause again:
/// the longest `pause` waits.
const POLL: Duration = Duration::from_millis(100);

enum Control {
    /// Stop reading; say so through the sender.
    Pause(oneshot::Sender<()>),
    Resume,
}

/// The terminal's events, as the console loop receives them.
pub(crate) struct Keys {
    events: mpsc::UnboundedReceiver<Event>,
    control: std_mpsc::Sender<Control>,
}

impl Keys {
    /// Starts the reading thread. It ends when `Keys` is dropped, or when
    /// the terminal cannot be read any more.
    pub(crate) fn start() -> std::io::Result<Keys> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (control, control_rx) = std_mpsc::channel();
        std::thread::Builder::new()
            .name("terminal-input".into())
            .spawn(move || read(&events_tx, &control_rx))?;
        Ok(Keys { events, control })
    }

    /// The next event; `None` once the terminal cannot be read.
    pub(crate) async fn next(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Stops reading the terminal; returns once nothing reads it.
    pub(crate) async fn pause(&mut self) {
        let (done, paused) = oneshot::channel();
        if self.control.send(Control::Pause(done)).is_ok() {
            // An error means the thread has ended: nothing reads either.
            let _ = paused.await;
        }
    }

    /// Reads the terminal again.
    pub(crate) fn resume(&mut self) {
        let _ = self.control.send(Control::Resume);
    }
}

/// The thread: polls the terminal in `POLL` slices and looks for a pause
/// between them. Pausing blocks on the control channel, never on the
/// terminal.
fn read(events: &mpsc::UnboundedSender<Event>, control: &std_mpsc::Receiver<Control>) {
    loop {
        match control.try_recv() {
            Ok(Control::Pause(done)) => {
                if !paused(done, control) {
                    return;
                }
            }
            Ok(Control::Resume) | Err(std_mpsc::TryRecvError::Empty) => {}
            Err(std_mpsc::TryRecvError::Disconnected) => return,
        }
        match event::poll(POLL) {
            Ok(true) => match event::read() {
                Ok(e) => {
                    if events.send(e).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            },
            Ok(false) => {}
            Err(_) => return,
        }
    }
}

/// Acknowledges a pause and waits for the resume; false when the console
/// went away meanwhile.
fn paused(done: oneshot::Sender<()>, control: &std_mpsc::Receiver<Control>) -> bool {
    let _ = done.send(());
    loop {
        match control.recv() {
            Ok(Control::Resume) => return true,
            Ok(Control::Pause(again)) => {
                let _ = again.send(());
            }
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pause handshake, without a terminal: the thread acknowledges a
    /// pause, answers a second one while paused, and ends with `Keys`.
    #[tokio::test]
    async fn a_pause_is_acknowledged_before_anything_reads_again() {
        let (control_tx, control_rx) = std_mpsc::channel();
        let (events_tx, _events) = mpsc::unbounded_channel();
        let (done, paused_rx) = oneshot::channel();
        control_tx.send(Control::Pause(done)).unwrap();
        let (again, again_rx) = oneshot::channel();
        control_tx.send(Control::Pause(again)).unwrap();
        let thread = std::thread::spawn(move || read(&events_tx, &control_rx));
        paused_rx.await.expect("the first pause is acknowledged");
        again_rx
            .await
            .expect("a pause while paused is acknowledged");
        drop(control_tx);
        thread.join().unwrap();
    }

    #[tokio::test]
    async fn pausing_a_reader_that_ended_returns_at_once() {
        let (control, control_rx) = std_mpsc::channel();
        drop(control_rx);
        let (_events_tx, events) = mpsc::unbounded_channel();
        let mut keys = Keys { events, control };
        keys.pause().await;
        keys.resume();
    }
}
