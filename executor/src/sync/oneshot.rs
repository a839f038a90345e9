//! A one-shot channel: one value, sent at most once, from one [`Sender`] to
//! one [`Receiver`].
//!
//! ```
//! use core::{future::Future, pin::pin, task::{Context, Poll, Waker}};
//! use executor::sync::oneshot;
//!
//! let mut cx = Context::from_waker(Waker::noop());
//! let (tx, rx) = oneshot::channel();
//! let mut rx = pin!(rx);
//! assert_eq!(rx.as_mut().poll(&mut cx), Poll::Pending);
//! tx.send(7).unwrap();
//! assert_eq!(rx.poll(&mut cx), Poll::Ready(Ok(7)));
//! ```
//!
//! # Why hand-written
//!
//! `maitake-sync` has no channel. A one-shot needs no lock and no queue: one
//! slot for the value, a small state word that says who owns the slot,
//! and a [`WaitCell`] for the receiver's waker. So [`Sender::send`] is a
//! handful of atomic operations and one `WaitCell::wake`, which an interrupt
//! handler may run.
//!
//! # State machine
//!
//! ```text
//!   bits: VALUE   the sender wrote the slot and published it
//!         TX_DONE the sender is finished (sent, or dropped without sending)
//!         RX_GONE the receiver was dropped
//!         TAKEN   the value was moved out (bookkeeping for the final drop)
//!
//!   sender:   write slot; prev = fetch_or(VALUE | TX_DONE)
//!               prev has RX_GONE → take the value back: Err(value)
//!               otherwise        → the slot is the receiver's; wake it: Ok
//!             (send sees RX_GONE already set → Err(value) without writing)
//!   sender dropped unsent: fetch_or(TX_DONE); wake the receiver
//!
//!   receiver poll: state has VALUE   → take the slot: Ready(Ok(value))
//!                  state has TX_DONE → Ready(Err(RecvError))
//!                  else register the waker in the WaitCell, then look again
//!   receiver dropped: prev = fetch_or(RX_GONE)
//!                  prev has VALUE (and not taken) → drop the value now
//! ```
//!
//! Invariants:
//!
//! - The slot has one owner at a time: the sender until its `fetch_or` of
//!   `VALUE`; then the receiver if `RX_GONE` was not yet set, else the sender
//!   again. Both sides decide from the same read-modify-write order on the
//!   state word, so they always agree, and the value is moved out (or
//!   dropped) exactly once.
//! - Publishing is `Release` (the value write happens-before the `VALUE`
//!   bit); the receiver reads the slot only after an `Acquire` load that saw
//!   `VALUE`.
//! - No lost wake-up: the sender publishes, *then* wakes the `WaitCell`; the
//!   receiver reads the state, *then* polls the cell. A wake that finds no
//!   registered waker is stored in the cell (as is one racing the
//!   registration), so the receiver's poll returns `Ready` and it reads the
//!   state again instead of sleeping.
//!
//! # Interrupt handlers
//!
//! [`Sender::send`] never allocates or blocks. The shared block (value slot,
//! state, `WaitCell`) is one allocation made by [`channel`] and freed by
//! whichever handle is dropped last; so the handle an interrupt handler uses
//! must not be the last one alive: keep the [`Receiver`] alive until the
//! sending side is done (after a failed send, the handler also owns the
//! returned value and drops it).
//!
//! The loom models are in `sync/loom_sync.rs`.

use super::Arc;
use core::fmt;
use core::future::Future;
use core::mem::MaybeUninit;
use core::pin::Pin;
use core::task::{Context, Poll};

use maitake_sync::WaitCell;
use maitake_sync::wait_cell::PollWaitError;

use crate::loom::{AtomicU8, Ordering, UnsafeCell, spin_loop};

/// The sender has written the slot and published it.
const VALUE: u8 = 0b001;
/// The sender has sent or been dropped.
const TX_DONE: u8 = 0b010;
/// The receiver has been dropped.
const RX_GONE: u8 = 0b100;
/// The value has been moved out of the slot (by either side).
const TAKEN: u8 = 0b1000;

/// Creates a one-shot channel. Allocates the shared block once; nothing else
/// allocates.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Arc::new(Inner {
        state: AtomicU8::new(0),
        value: UnsafeCell::new(MaybeUninit::uninit()),
        rx_waiter: WaitCell::new(),
    });
    (
        Sender {
            inner: Some(Arc::clone(&inner)),
        },
        Receiver { inner, done: false },
    )
}

/// The receiver's error: the sender was dropped without sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot sender dropped without sending")
    }
}

/// What the two handles share.
struct Inner<T> {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
    rx_waiter: WaitCell,
}

// SAFETY: the slot is accessed by one side at a time (module docs: ownership
// passes through the state word with Release/Acquire), so sharing `Inner`
// moves a `T` between threads at most: `T: Send` suffices.
unsafe impl<T: Send> Sync for Inner<T> {}
// SAFETY: as above; `Inner` owns at most one `T`.
unsafe impl<T: Send> Send for Inner<T> {}

impl<T> Inner<T> {
    /// Moves the value out of the slot and records that it is gone.
    ///
    /// # Safety
    ///
    /// The caller owns the slot (module docs) and it holds a value that was
    /// not taken before.
    unsafe fn take_value(&self) -> T {
        self.state.fetch_or(TAKEN, Ordering::Relaxed);
        self.value.with_mut(|slot| {
            // SAFETY: the caller owns the initialised slot (this function's
            // contract); setting TAKEN first stops `Drop` from dropping it
            // again.
            unsafe { (*slot).assume_init_read() }
        })
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        let state = self.state.load(Ordering::Acquire);
        if state & VALUE != 0 && state & TAKEN == 0 {
            self.value.with_mut(|slot| {
                // SAFETY: `&mut self`: no handle is left. The value was
                // published (VALUE) and never moved out (no TAKEN).
                unsafe { (*slot).assume_init_drop() }
            });
        }
    }
}

/// Sends the one value. May be used from an interrupt handler (module docs).
pub struct Sender<T> {
    /// `None` once sent (so `Drop` knows not to report a drop-without-send).
    inner: Option<Arc<Inner<T>>>,
}

impl<T> Sender<T> {
    /// Sends `value`: the receiver gets `Ok(value)`. Never allocates, never
    /// blocks.
    ///
    /// # Errors
    ///
    /// The receiver is gone: the value comes back.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let inner = self
            .inner
            .take()
            .expect("a Sender holds its block until it sends");
        if inner.state.load(Ordering::Acquire) & RX_GONE != 0 {
            return Err(value);
        }
        // SAFETY: the sender owns the slot until it sets VALUE below, and
        // writes it once (`send` consumes the sender).
        inner.value.with_mut(|slot| unsafe { (*slot).write(value) });
        let prev = inner.state.fetch_or(VALUE | TX_DONE, Ordering::AcqRel);
        if prev & RX_GONE != 0 {
            // The receiver went away before we published: it never looks at
            // the slot again, so the value is still ours.
            // SAFETY: ownership came back to us (module docs), the slot
            // holds the value we just wrote.
            return Err(unsafe { inner.take_value() });
        }
        inner.rx_waiter.wake();
        Ok(())
    }

    /// Whether the receiver has been dropped (a send would fail). A hint:
    /// the receiver may go right after this returns `false`.
    pub fn is_closed(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(|inner| inner.state.load(Ordering::Acquire) & RX_GONE != 0)
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.state.fetch_or(TX_DONE, Ordering::AcqRel);
            inner.rx_waiter.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Awaits the one value: `Ok(value)`, or `Err(RecvError)` if the sender was
/// dropped without sending. Polling it again after it completed panics.
pub struct Receiver<T> {
    inner: Arc<Inner<T>>,
    /// It returned `Ready` already.
    done: bool,
}

impl<T> Receiver<T> {
    /// What the state word says, without waiting: `Some` if it is decided.
    fn check(&mut self) -> Option<Result<T, RecvError>> {
        let state = self.inner.state.load(Ordering::Acquire);
        if state & VALUE != 0 {
            self.done = true;
            // SAFETY: VALUE was set while RX_GONE was not (we are alive), so
            // the slot is ours; `done` makes this the only take.
            return Some(Ok(unsafe { self.inner.take_value() }));
        }
        if state & TX_DONE != 0 {
            self.done = true;
            return Some(Err(RecvError));
        }
        None
    }

    /// Takes the value if it has been sent, without waiting.
    ///
    /// # Errors
    ///
    /// `Ok(None)` while nothing was sent; `Err(RecvError)` if the sender was
    /// dropped without sending (or the value was already received).
    pub fn try_recv(&mut self) -> Result<Option<T>, RecvError> {
        if self.done {
            return Err(RecvError);
        }
        self.check().transpose()
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.done, "oneshot::Receiver polled after completion");
        loop {
            if let Some(result) = this.check() {
                return Poll::Ready(result);
            }
            match this.inner.rx_waiter.poll_wait(cx) {
                // Registered. A send between the check above and the
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
                    unreachable!("oneshot WaitCell closed while the receiver lives")
                }
                // Another registration in progress: impossible with one
                // receiver, but harmless: try again soon.
                Poll::Ready(Err(PollWaitError::Busy)) => {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let prev = self.inner.state.fetch_or(RX_GONE, Ordering::AcqRel);
        if prev & VALUE != 0 && prev & TAKEN == 0 && !self.done {
            // The value arrived and nobody took it: drop it here, in task
            // context, rather than wherever the last handle goes.
            // SAFETY: VALUE was set before RX_GONE, so the slot is ours.
            drop(unsafe { self.inner.take_value() });
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver")
            .field("done", &self.done)
            .finish()
    }
}
