//! [`JoinHandle`]: awaiting a task's output, aborting it.
//!
//! The output lives in the task's own block (`task.rs`, "One allocation per
//! task"); the handle holds one reference to it and the `JOIN_INTEREST` bit,
//! and parks its waker in the task's header. No lock: the hand-over is the
//! `COMPLETE`/`JOIN_WAKER` protocol of the task's state word.

use core::{
    fmt,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    ptr::NonNull,
    task::{Context, Poll},
};

use crate::task::{Header, JoinRef};

/// Why a task produced no output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinError {
    /// The task was aborted ([`JoinHandle::abort`]), or orphaned: it returned
    /// `Pending` and every waker that could wake it was dropped, so it could
    /// never finish. Its future was dropped.
    Cancelled,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cancelled => f.write_str("task was cancelled"),
        }
    }
}

impl core::error::Error for JoinError {}

/// Awaits the output of a spawned task: `Ok(output)`, or
/// `Err(JoinError::Cancelled)` if the task was aborted or orphaned. Dropping
/// the handle detaches the task (it runs on; its output is dropped). Drop it
/// in task context, not in an interrupt handler: it may free the task.
#[must_use = "dropping a JoinHandle detaches the task"]
pub struct JoinHandle<T> {
    raw: JoinRef,
    _output: PhantomData<fn() -> T>,
}

impl<T> JoinHandle<T> {
    /// # Safety
    /// `task` carries this handle's reference and `JOIN_INTEREST`, and its
    /// output type is `T`.
    pub(crate) unsafe fn new(task: NonNull<Header>) -> Self {
        Self {
            // SAFETY: per the contract.
            raw: unsafe { JoinRef::new(task) },
            _output: PhantomData,
        }
    }

    /// True once the task has finished (returned, or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.raw.is_finished()
    }

    /// The task's id (unique per executor, in spawn order from 1).
    pub fn id(&self) -> u64 {
        self.raw.id()
    }

    /// Lets the task run on with nobody awaiting its output: says in code
    /// what dropping the handle would do silently.
    pub fn detach(self) {}

    /// Cancels the task: unless it has already finished, the core that next
    /// picks it drops its future instead of polling it, and this handle
    /// resolves to `Err(JoinError::Cancelled)`. A task that is being polled
    /// right now is cancelled after that poll. Callable from any context that
    /// holds the handle.
    pub fn abort(&self) {
        self.raw.abort();
    }

    /// Takes the output if the task has finished (without a `Context`).
    pub fn try_take(&mut self) -> Option<Result<T, JoinError>> {
        if !self.is_finished() {
            return None;
        }
        let waker = core::task::Waker::noop();
        let mut out: Option<Result<T, JoinError>> = None;
        // SAFETY: `out` has the task's output type.
        let _ = unsafe {
            self.raw
                .poll_output(&Context::from_waker(waker), (&raw mut out).cast())
        };
        out
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    /// # Panics
    /// If polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut out: Option<Result<T, JoinError>> = None;
        // SAFETY: `out` has the task's output type.
        match unsafe { self.raw.poll_output(cx, (&raw mut out).cast()) } {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(out.expect("JoinHandle polled after completion")),
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.raw.drop_handle();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id())
            .field("finished", &self.is_finished())
            .finish()
    }
}
