//! Per-core timers: [`Sleep`] and the structure the timer tick expires.
//!
//! Each core has a list of armed timers sorted by `(deadline, sequence)`,
//! latest first, so the tick pops expired entries off the end. The list is
//! shared between task context (arming and cancelling, possibly from another
//! core when a task migrated) and the timer interrupt of its core, so it is a
//! spin lock that task context only takes inside
//! [`Platform::without_interrupts`]: the interrupt can never spin on a lock its
//! own core holds.
//!
//! - **Where a sleeper registers**: on the list of the core whose task polls
//!   the [`Sleep`] for the first time (`Platform::current_core`). It stays
//!   there if the task migrates; the expiry wakes the task on its (new) home
//!   core like any other wake.
//! - **Precision**: the tick expires every entry with `deadline <= now`, and a
//!   poll that finds `now >= deadline` completes at once; a sleeper never
//!   completes before its deadline and is woken by the first tick at or after
//!   it.
//! - **No allocation or free in the interrupt**: arming allocates (the entry,
//!   and the list may grow — task context); the tick only pops entries (a
//!   `Vec::pop` never frees) and wakes by reference. The [`Sleep`] holds its
//!   own reference to the entry and removes the list's reference on drop under
//!   the lock, so the tick never drops the last one.

use alloc::{sync::Arc, vec::Vec};
use core::{
    future::Future,
    pin::Pin,
    sync::atomic::{AtomicBool, Ordering},
    task::{Context, Poll, Waker},
};

use crate::{Executor, Platform};

/// An armed timer: shared by the [`Sleep`] and its core's list.
pub(crate) struct TimerEntry {
    fired: AtomicBool,
    /// Only accessed while holding the owning list's lock.
    waker: spin::Mutex<Option<Waker>>,
}

/// One core's armed timers, latest deadline first.
pub(crate) struct TimerList {
    entries: Vec<(u64, u64, Arc<TimerEntry>)>,
}

impl TimerList {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
        }
    }

    fn position(&self, key: (u64, u64)) -> Result<usize, usize> {
        // Descending order: compare reversed.
        self.entries
            .binary_search_by(|(d, s, _)| key.cmp(&(*d, *s)))
    }

    fn insert(&mut self, deadline: u64, seq: u64, entry: Arc<TimerEntry>) {
        let at = match self.position((deadline, seq)) {
            Ok(at) | Err(at) => at,
        };
        self.entries.insert(at, (deadline, seq, entry));
    }

    fn remove(&mut self, deadline: u64, seq: u64) -> Option<Arc<TimerEntry>> {
        let at = self.position((deadline, seq)).ok()?;
        Some(self.entries.remove(at).2)
    }

    /// Number of armed timers.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Fires every entry with `deadline <= now`; returns how many.
    pub(crate) fn expire(&mut self, now: u64) -> usize {
        let mut fired = 0;
        while let Some((deadline, _, _)) = self.entries.last() {
            if *deadline > now {
                break;
            }
            let Some((_, _, entry)) = self.entries.pop() else {
                break;
            };
            entry.fired.store(true, Ordering::Release);
            if let Some(waker) = entry.waker.lock().as_ref() {
                waker.wake_by_ref();
            }
            fired += 1;
            // `entry` is not the last reference: the `Sleep` holds one until
            // it has removed this entry from the list under this lock.
        }
        fired
    }
}

/// Completes at (not before) a deadline on the executor's clock: see
/// [`Executor::sleep`] and the module docs.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep<P: Platform> {
    exec: &'static Executor<P>,
    deadline: u64,
    armed: Option<Armed>,
}

struct Armed {
    core: usize,
    seq: u64,
    entry: Arc<TimerEntry>,
}

impl<P: Platform> Sleep<P> {
    pub(crate) fn new(exec: &'static Executor<P>, deadline: u64) -> Self {
        Self {
            exec,
            deadline,
            armed: None,
        }
    }

    /// The deadline, in nanoseconds on [`Platform::now_ns`]'s clock.
    pub fn deadline_ns(&self) -> u64 {
        self.deadline
    }

    fn disarm(&mut self) {
        if let Some(armed) = self.armed.take() {
            if armed.entry.fired.load(Ordering::Acquire) {
                return;
            }
            let removed = self
                .exec
                .with_timers(armed.core, |list| list.remove(self.deadline, armed.seq));
            drop(removed);
        }
    }
}

impl<P: Platform> Future for Sleep<P> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Some(armed) = &this.armed
            && armed.entry.fired.load(Ordering::Acquire)
        {
            this.armed = None;
            return Poll::Ready(());
        }
        if this.exec.platform().now_ns() >= this.deadline {
            this.disarm();
            return Poll::Ready(());
        }
        match &this.armed {
            None => {
                let core = this.exec.current_index().unwrap_or(0);
                let seq = this.exec.next_timer_seq();
                let entry = Arc::new(TimerEntry {
                    fired: AtomicBool::new(false),
                    waker: spin::Mutex::new(Some(cx.waker().clone())),
                });
                let list_ref = entry.clone();
                let deadline = this.deadline;
                this.exec
                    .with_timers(core, |list| list.insert(deadline, seq, list_ref));
                this.armed = Some(Armed { core, seq, entry });
            }
            Some(armed) => {
                let new = cx.waker().clone();
                let old = this.exec.with_timers(armed.core, |_| {
                    let mut slot = armed.entry.waker.lock();
                    match &*slot {
                        Some(w) if w.will_wake(&new) => Some(new),
                        _ => slot.replace(new),
                    }
                });
                drop(old);
            }
        }
        Poll::Pending
    }
}

impl<P: Platform> Drop for Sleep<P> {
    fn drop(&mut self) {
        self.disarm();
    }
}

impl<P: Platform> Unpin for Sleep<P> {}
