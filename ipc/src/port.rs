//! Ports: a bounded message queue with one [`ReceiveRight`] and any number
//! of [`SendRight`]s.
//!
//! A port is an `executor::sync::mpsc` channel whose lock is the kernel's
//! [`IrqRawMutex`] (rank `WAIT_LIST`), plus the [counting](crate::counters)
//! and the close-and-drain on the receive right's drop. The queue, its
//! backpressure and its wake-ups are the channel's (its module docs give
//! the no-lost-wake-up argument); this module adds no lock and no atomics.
//!
//! ```text
//!                 ReceiveRight::close()
//!   ┌────────┐    or ReceiveRight dropped    ┌──────────┐  queue empty   ┌─────────┐
//!   │  open  │ ────────────────────────────► │  closed  │ ─────────────► │ drained │
//!   └────────┘                               └──────────┘                └─────────┘
//!   sends queue (or wait while full)         sends fail, the message     recv: None
//!   recv: next message; None once every      comes back; waiting         (also from
//!   send right is gone and it is empty       senders get theirs back;    open, once
//!                                            recv drains what is queued  every send
//!                                            (the drop drains and counts right is gone)
//!                                            it as dropped)
//! ```

use core::fmt;
use core::task::{Context, Poll};

use executor::sync::mpsc;
use ksync::IrqRawMutex;

use crate::counters::{count_dropped, count_received, count_sent};

/// Creates a port that queues up to `capacity` messages. Allocates its
/// queue here, once; sending and receiving never allocate.
///
/// # Panics
///
/// If `capacity` is 0.
pub fn port<T>(capacity: usize) -> (SendRight<T>, ReceiveRight<T>) {
    let (tx, rx) = mpsc::channel_with_raw_mutex(capacity, IrqRawMutex::new);
    (SendRight { tx }, ReceiveRight { rx })
}

// A port's errors are its channel's: the refused message comes back in
// them unchanged (`TrySendError::{Full, Closed}`, `SendError`), and a
// receive finds the queue `Empty` or `Disconnected`.
pub use executor::sync::mpsc::{SendError, TryRecvError, TrySendError};

/// The right to send to a port. Clone it for more senders; the port stays
/// open for receiving until every send right is gone.
pub struct SendRight<T> {
    tx: mpsc::Sender<T, IrqRawMutex>,
}

impl<T> SendRight<T> {
    /// Queues `msg` if there is room, without waiting. Never allocates;
    /// may be called from an interrupt handler (as long as this is not the
    /// port's last right: the last one frees the queue).
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] with the message if the port holds `capacity`
    /// messages; [`TrySendError::Closed`] with the message if the port is
    /// closed.
    pub fn try_send(&self, msg: T) -> Result<(), TrySendError<T>> {
        self.tx.try_send(msg)?;
        count_sent();
        Ok(())
    }

    /// Queues `msg`, waiting while the port is full (backpressure). Waiting
    /// senders get free slots in the order they started waiting (a
    /// `try_send` may take one first). Cancel-safe: dropping the future
    /// before it completes sends nothing.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the message if the port is closed, or closes while
    /// this send waits.
    pub async fn send(&self, msg: T) -> Result<(), SendError<T>> {
        self.tx.send(msg).await?;
        count_sent();
        Ok(())
    }

    /// Whether the port is closed (sends would fail). A hint: it may close
    /// right after this returns `false`.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// How many messages the port queues at most.
    pub fn capacity(&self) -> usize {
        self.tx.capacity()
    }
}

impl<T> Clone for SendRight<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<T> fmt::Debug for SendRight<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendRight")
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

/// The one right to receive from a port. Dropping it closes the port, drops
/// the messages still queued and counts them as dropped.
pub struct ReceiveRight<T> {
    rx: mpsc::Receiver<T, IrqRawMutex>,
}

impl<T> ReceiveRight<T> {
    /// The next message, in queue order (per sender: the order it sent);
    /// waits while the port is empty. `None` once the queue is drained and
    /// nothing can come any more: every send right is gone, or the port was
    /// closed.
    pub async fn recv(&mut self) -> Option<T> {
        core::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`recv`](Self::recv) as a poll function.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let poll = self.rx.poll_recv(cx);
        if let Poll::Ready(Some(_)) = poll {
            count_received();
        }
        poll
    }

    /// The next message if one is queued, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is queued but more may come;
    /// [`TryRecvError::Disconnected`] if nothing is queued and nothing can
    /// come.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let msg = self.rx.try_recv()?;
        count_received();
        Ok(msg)
    }

    /// Closes the port for senders: sends fail from now on and waiting
    /// senders get their messages back; what is already queued can still be
    /// received. Idempotent.
    pub fn close(&mut self) {
        self.rx.close();
    }
}

impl<T> Drop for ReceiveRight<T> {
    fn drop(&mut self) {
        // Close first, so nothing can be queued behind the count; then drain
        // one message at a time (each dropped outside the channel's lock).
        self.rx.close();
        let mut dropped = 0_u64;
        while let Ok(msg) = self.rx.try_recv() {
            drop(msg);
            dropped += 1;
        }
        count_dropped(dropped);
    }
}

impl<T> fmt::Debug for ReceiveRight<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiveRight").finish_non_exhaustive()
    }
}
