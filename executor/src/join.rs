//! [`JoinHandle`]: awaiting a task's output.
//!
//! The output goes through a small shared slot (allocated at spawn) guarded by
//! a spin lock that only task context takes (the finishing task and the
//! joiner), never an interrupt handler.

use alloc::sync::Arc;
use core::{
    fmt,
    future::Future,
    pin::Pin,
    sync::atomic::{AtomicBool, Ordering},
    task::{Context, Poll, Waker},
};

struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    taken: bool,
}

/// State shared by a task's wrapper future and its [`JoinHandle`].
pub(crate) struct JoinShared<T> {
    finished: AtomicBool,
    slot: spin::Mutex<Slot<T>>,
}

impl<T> JoinShared<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            finished: AtomicBool::new(false),
            slot: spin::Mutex::new(Slot {
                value: None,
                waker: None,
                taken: false,
            }),
        })
    }

    /// Stores the output and wakes the joiner (task context).
    pub(crate) fn complete(&self, value: T) {
        let waker = {
            let mut slot = self.slot.lock();
            slot.value = Some(value);
            self.finished.store(true, Ordering::Release);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Awaits the output of a spawned task. Dropping it detaches the task.
#[must_use = "dropping a JoinHandle detaches the task"]
pub struct JoinHandle<T> {
    shared: Arc<JoinShared<T>>,
    id: u64,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(shared: Arc<JoinShared<T>>, id: u64) -> Self {
        Self { shared, id }
    }

    /// True once the task has returned (its output is waiting here).
    pub fn is_finished(&self) -> bool {
        self.shared.finished.load(Ordering::Acquire)
    }

    /// The task's id (unique per executor, in spawn order from 1).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Lets the task run on with nobody awaiting its output: says in code
    /// what dropping the handle would do silently.
    pub fn detach(self) {}

    /// Takes the output if the task has finished (without a `Context`).
    pub fn try_take(&mut self) -> Option<T> {
        let mut slot = self.shared.slot.lock();
        let value = slot.value.take();
        if value.is_some() {
            slot.taken = true;
        }
        value
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = T;

    /// # Panics
    /// If polled again after it returned `Ready`.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.shared.slot.lock();
        if let Some(value) = slot.value.take() {
            slot.taken = true;
            return Poll::Ready(value);
        }
        assert!(!slot.taken, "JoinHandle polled after completion");
        match &slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => {
                let old = slot.waker.replace(cx.waker().clone());
                drop(slot);
                drop(old);
            }
        }
        Poll::Pending
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}
