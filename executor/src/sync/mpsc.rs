//! A bounded multi-producer, single-consumer channel with backpressure.
//!
//! ```
//! use core::{future::Future, pin::pin, task::{Context, Poll, Waker}};
//! use executor::sync::mpsc::{self, TryRecvError, TrySendError};
//!
//! let (tx, mut rx) = mpsc::channel(2);
//! let tx2 = tx.clone();
//! tx.try_send(1).unwrap();
//! tx2.try_send(2).unwrap();
//! assert_eq!(tx.try_send(3), Err(TrySendError::Full(3))); // the value comes back
//! drop((tx, tx2));
//! let mut cx = Context::from_waker(Waker::noop());
//! assert_eq!(pin!(rx.recv()).poll(&mut cx), Poll::Ready(Some(1)));
//! assert_eq!(rx.try_recv(), Ok(2));
//! assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected)); // senders gone, drained
//! ```
//!
//! # Why hand-written, and from which pieces
//!
//! `maitake-sync` has no channel, so this one is assembled from its parts:
//!
//! - the values wait in a ring ([`VecDeque`] allocated with the capacity at
//!   creation and never grown: a push happens only while `len < capacity`)
//!   inside a `maitake-sync` blocking `Mutex` over the lock parameter `L`,
//!   with the sender count and the `closed` flag;
//! - senders that find the ring full wait in a [`WaitQueue`] (FIFO); every
//!   receive wakes one of them;
//! - the receiver waits in a [`WaitCell`]; every send and the last sender's
//!   drop wake it.
//!
//! A `Semaphore` of `capacity` permits would be the textbook way to count the
//! free slots, but `maitake-sync`'s needs a [`RawMutex`] (guard-style lock,
//! which its loom build cannot model without spinning) and its `close` wakes
//! waiters while holding its lock; the ring's own length, read under the
//! ring's lock, counts the slots just as well.
//!
//! # Invariants
//!
//! - `queue.len() <= capacity`, checked under the lock on every push, so the
//!   ring never reallocates: no allocation per message.
//! - Every value sent with `Ok` is received exactly once or, if the receiver
//!   goes first, dropped by the receiver's drop; every value refused comes
//!   back to its sender. A sender's values enter the ring in the order it
//!   sent them and leave in ring order (per-sender FIFO).
//! - No lost wake-up, either way:
//!   - receiver: a sender pushes (under the lock), *then* wakes the cell; the
//!     receiver looks at the ring, *then* polls the cell. A wake that finds
//!     no registered waker is stored in the cell (as is one racing the
//!     registration), so that poll returns `Ready` and the receiver looks
//!     again instead of sleeping.
//!   - full-channel sender: `WaitQueue::wait_for_value` subscribes to the
//!     queue *before* trying the push; a receive pops, *then* wakes one
//!     subscriber (or stores the wake-up if none is queued yet). A woken
//!     sender whose future is dropped passes its wake-up on to the next
//!     waiter (`maitake-sync` does that), so a free slot never sits unseen
//!     while a sender waits.
//! - `recv` returns `None` only when the ring is empty and no value can come
//!   any more: every sender is gone, or the receiver closed the channel.
//!
//! # Interrupt handlers
//!
//! [`Sender::try_send`] may run in an interrupt handler: one critical
//! section of `L` (so `L` must be IRQ-safe: the kernel's `IrqRawMutex`) and a
//! `WaitCell::wake` after unlocking; no allocation. The receiver drops the
//! values it discards outside the lock, in task context. The shared block is
//! freed by the handle dropped last, so a handler must not hold the last
//! handle (keep the receiver or another sender alive in task context).
//!
//! The loom models are in `sync/loom_sync.rs`.

use super::Arc;
use alloc::collections::VecDeque;
use core::fmt;
use core::future::poll_fn;
use core::task::{Context, Poll};

use maitake_sync::blocking::{DefaultMutex, Mutex as BlockingMutex, ScopedRawMutex};
use maitake_sync::wait_cell::PollWaitError;
use maitake_sync::{WaitCell, WaitQueue};

use crate::loom::spin_loop;

#[cfg(doc)]
use maitake_sync::blocking::RawMutex;

/// Creates a channel holding up to `capacity` values, with `maitake-sync`'s
/// default (spin, not IRQ-safe) lock. The ring is allocated here, once.
///
/// # Panics
///
/// If `capacity` is 0.
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    channel_with_raw_mutex(capacity, DefaultMutex::new)
}

/// Creates a channel holding up to `capacity` values whose critical sections
/// use the raw mutex `L`; `new_lock` is called once per lock the channel
/// needs (two). The ring is allocated here, once.
///
/// # Panics
///
/// If `capacity` is 0.
pub fn channel_with_raw_mutex<T, L: ScopedRawMutex>(
    capacity: usize,
    mut new_lock: impl FnMut() -> L,
) -> (Sender<T, L>, Receiver<T, L>) {
    assert!(capacity > 0, "mpsc channel capacity must be at least 1");
    let chan = Arc::new(Chan {
        state: BlockingMutex::new_with_raw_mutex(
            State {
                queue: VecDeque::with_capacity(capacity),
                senders: 1,
                closed: false,
            },
            new_lock(),
        ),
        capacity,
        send_waiters: WaitQueue::new_with_raw_mutex(new_lock()),
        rx_waiter: WaitCell::new(),
    });
    (
        Sender {
            chan: Arc::clone(&chan),
        },
        Receiver { chan },
    )
}

/// Why [`Sender::try_send`] refused a value (it is handed back).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel holds `capacity` values.
    Full(T),
    /// The receiver is gone or closed the channel.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(value) | Self::Closed(value) => value,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "Full(..)",
            Self::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full(_) => "channel full",
            Self::Closed(_) => "channel closed",
        })
    }
}

/// [`Sender::send`] failed because the receiver is gone or closed the
/// channel; the value is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("channel closed")
    }
}

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing queued now; senders remain.
    Empty,
    /// Nothing queued, and nothing can come any more.
    Disconnected,
}

/// What the handles share.
struct Chan<T, L: ScopedRawMutex> {
    state: BlockingMutex<State<T>, L>,
    capacity: usize,
    /// Senders waiting for a free slot.
    send_waiters: WaitQueue<L>,
    /// The receiver waiting for a value.
    rx_waiter: WaitCell,
}

/// The part under the lock.
struct State<T> {
    queue: VecDeque<T>,
    /// Live `Sender`s.
    senders: usize,
    /// The receiver closed the channel (or was dropped): no more pushes.
    closed: bool,
}

impl<T, L: ScopedRawMutex> Chan<T, L> {
    /// Pushes if there is room and the channel is open; wakes the receiver
    /// after unlocking.
    fn try_push(&self, value: T) -> Result<(), TrySendError<T>> {
        let result = self.state.with_lock(|state| {
            if state.closed {
                Err(TrySendError::Closed(value))
            } else if state.queue.len() >= self.capacity {
                Err(TrySendError::Full(value))
            } else {
                state.queue.push_back(value);
                Ok(())
            }
        });
        if result.is_ok() {
            self.rx_waiter.wake();
        }
        result
    }

    /// Pops the oldest value; wakes one waiting sender after unlocking.
    fn try_pop(&self) -> Result<T, TryRecvError> {
        let result = self.state.with_lock(|state| match state.queue.pop_front() {
            Some(value) => Ok(value),
            None if state.senders == 0 || state.closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        });
        if result.is_ok() {
            self.send_waiters.wake();
        }
        result
    }
}

/// The sending half; clone it for more producers. `try_send` may be called
/// from an interrupt handler (module docs).
pub struct Sender<T, L: ScopedRawMutex = DefaultMutex> {
    chan: Arc<Chan<T, L>>,
}

impl<T, L: ScopedRawMutex> Sender<T, L> {
    /// Queues `value` if there is room, without waiting. Never allocates.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] with the value if `capacity` values are
    /// queued; [`TrySendError::Closed`] with the value if the receiver is
    /// gone or closed the channel.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_push(value)
    }

    /// Queues `value`, waiting while the channel is full (backpressure).
    /// Waiting senders are served in the order they started waiting, though
    /// a `try_send` may take a freed slot first. Cancel-safe: dropping the
    /// future before it completes sends nothing.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value if the receiver is gone or closes the
    /// channel (also while this send waits).
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut unsent = Some(value);
        let outcome = self
            .chan
            .send_waiters
            .wait_for_value(|| {
                let value = unsent.take()?;
                match self.chan.try_push(value) {
                    Ok(()) => Some(Ok(())),
                    Err(TrySendError::Closed(value)) => Some(Err(SendError(value))),
                    Err(TrySendError::Full(value)) => {
                        unsent = Some(value);
                        None
                    }
                }
            })
            .await;
        match outcome {
            Ok(result) => result,
            // The receiver closed the wait queue: the value was never pushed.
            Err(_closed) => Err(SendError(
                unsent
                    .take()
                    .expect("an unsent value is kept until it is sent"),
            )),
        }
    }

    /// Whether the receiver is gone or closed the channel. A hint: it may
    /// close right after this returns `false`.
    pub fn is_closed(&self) -> bool {
        self.chan.state.with_lock(|state| state.closed)
    }

    /// How many values the channel holds at most.
    pub fn capacity(&self) -> usize {
        self.chan.capacity
    }
}

impl<T, L: ScopedRawMutex> Clone for Sender<T, L> {
    fn clone(&self) -> Self {
        self.chan.state.with_lock(|state| state.senders += 1);
        Self {
            chan: Arc::clone(&self.chan),
        }
    }
}

impl<T, L: ScopedRawMutex> Drop for Sender<T, L> {
    fn drop(&mut self) {
        let last = self.chan.state.with_lock(|state| {
            state.senders -= 1;
            state.senders == 0
        });
        if last {
            // The receiver may be waiting for a value that can no longer come.
            self.chan.rx_waiter.wake();
        }
    }
}

impl<T, L: ScopedRawMutex> fmt::Debug for Sender<T, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Sender")
            .field("capacity", &self.chan.capacity)
            .finish_non_exhaustive()
    }
}

/// The receiving half.
pub struct Receiver<T, L: ScopedRawMutex = DefaultMutex> {
    chan: Arc<Chan<T, L>>,
}

impl<T, L: ScopedRawMutex> Receiver<T, L> {
    /// The next value, in queue order; waits while the channel is empty.
    /// `None` once every sender is gone (or the channel was closed) and the
    /// queue is drained.
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// [`recv`](Self::recv) as a poll function.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        loop {
            match self.chan.try_pop() {
                Ok(value) => return Poll::Ready(Some(value)),
                Err(TryRecvError::Disconnected) => return Poll::Ready(None),
                Err(TryRecvError::Empty) => {}
            }
            match self.chan.rx_waiter.poll_wait(cx) {
                // Registered. A push between the look above and the
                // registration would have made `poll_wait` return `Ready`
                // (the cell stores a wake-up that finds no waker).
                Poll::Pending => return Poll::Pending,
                // A wake-up was stored, or a waker on another CPU is between
                // its two steps (`WaitCell` reports that as a wake too): look
                // again. The pause is for the second case, where the loop
                // waits for that CPU; under loom it is a yield, which tells
                // the model checker this thread needs another one to move.
                Poll::Ready(Ok(())) => spin_loop(),
                // Only the cell's own drop closes it, and we hold the block.
                Poll::Ready(Err(PollWaitError::Closed)) => {
                    unreachable!("mpsc receiver WaitCell closed while the receiver lives")
                }
                // One receiver: no concurrent registration. Harmless anyway.
                Poll::Ready(Err(PollWaitError::Busy)) => {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
    }

    /// The next value if one is queued, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is queued but senders remain;
    /// [`TryRecvError::Disconnected`] if nothing is queued and nothing can
    /// come.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.chan.try_pop()
    }

    /// Closes the channel for senders: sends fail from now on, waiting
    /// senders get their values back; the values already queued can still
    /// be received.
    pub fn close(&mut self) {
        self.chan.state.with_lock(|state| state.closed = true);
        self.chan.send_waiters.close();
    }
}

impl<T, L: ScopedRawMutex> Drop for Receiver<T, L> {
    fn drop(&mut self) {
        self.close();
        // Drop what is left one value at a time, outside the lock (a value's
        // drop may free memory or take other locks).
        while let Some(value) = self.chan.state.with_lock(|state| state.queue.pop_front()) {
            drop(value);
        }
    }
}

impl<T, L: ScopedRawMutex> fmt::Debug for Receiver<T, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Receiver")
            .field("capacity", &self.chan.capacity)
            .finish_non_exhaustive()
    }
}
