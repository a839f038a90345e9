//! Statistics: the per-core [`Counters`] behind [`CoreStats`], and the
//! read-only views of the executor (queue lengths, live tasks, armed timers).
//!
//! None of it is part of any protocol: the counters are plain atomics read
//! with `Relaxed`, and the queue lengths are the approximate `Core::queued`
//! counts. `bump_owned` is a plain load and store: it relies on only the
//! owning core's task context writing that counter (the core loop's counters
//! in `run`, the thief's `steals` in `steal`); anything else uses `bump`.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::Executor;
use crate::{CoreId, CoreStats, LEVELS, Platform, Priority};

/// Tasks of one core by priority ([`Executor::core_tasks`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreTasks {
    /// Live tasks homed on the core, by priority (`Priority as usize`).
    pub live: [usize; LEVELS],
    /// Of those, queued in its run queues, by priority.
    pub queued: [usize; LEVELS],
}

/// Statistics counters of one core (plain atomics: not part of any protocol).
#[derive(Default)]
pub(super) struct Counters {
    pub(super) polls: AtomicU64,
    pub(super) tasks_run: AtomicU64,
    pub(super) yields: AtomicU64,
    pub(super) wakes_local: AtomicU64,
    /// Wakes during the task's own poll (`yield_now`), counted by the
    /// poller (owner only); reported as part of `wakes_local`.
    pub(super) requeues: AtomicU64,
    pub(super) wakes_remote: AtomicU64,
    pub(super) steals: AtomicU64,
    pub(super) migrations: AtomicU64,
    pub(super) idle_halts: AtomicU64,
    pub(super) resched_requested: AtomicU64,
    pub(super) lifo_polls: AtomicU64,
}

/// Adds `n` from any context (an atomic read-modify-write).
pub(super) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}

/// Adds `n` to a counter only its own core's task context writes: a plain
/// load and store, no locked instruction.
pub(super) fn bump_owned(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

impl<P: Platform> Executor<P> {
    /// Tasks spawned and not yet freed.
    pub fn live_tasks(&self) -> usize {
        self.live.load(Relaxed)
    }

    /// A snapshot of `core`'s counters.
    ///
    /// # Panics
    /// If `core` is out of range.
    pub fn stats(&self, core: CoreId) -> CoreStats {
        let c = &self.cores[core.0 as usize].stats;
        let r = |a: &AtomicU64| a.load(Relaxed);
        CoreStats {
            polls: r(&c.polls),
            tasks_run: r(&c.tasks_run),
            yields: r(&c.yields),
            wakes_local: r(&c.wakes_local) + r(&c.requeues),
            wakes_remote: r(&c.wakes_remote),
            steals: r(&c.steals),
            migrations: r(&c.migrations),
            idle_halts: r(&c.idle_halts),
            resched_requested: r(&c.resched_requested),
            lifo_polls: r(&c.lifo_polls),
        }
    }

    /// The approximate number of queued tasks on `core` (all levels, not the
    /// LIFO slot).
    pub fn queue_len(&self, core: CoreId) -> usize {
        self.cores[core.0 as usize].len()
    }

    /// The approximate number of queued tasks on `core` at `priority`.
    pub fn queue_len_at(&self, core: CoreId, priority: Priority) -> usize {
        self.cores[core.0 as usize].queued[priority as usize].load(Relaxed)
    }

    /// Live tasks homed on `core`, and how many of them are queued, by
    /// priority (index `Priority as usize`). A snapshot of approximate
    /// counters, for people (the kernel monitor's `tasks`); a task in the
    /// LIFO slot or being polled counts as live, not queued.
    ///
    /// # Panics
    /// If `core` is out of range.
    pub fn core_tasks(&self, core: CoreId) -> CoreTasks {
        let c = &self.cores[core.0 as usize];
        CoreTasks {
            live: core::array::from_fn(|level| c.live[level].load(Relaxed)),
            queued: core::array::from_fn(|level| c.queued[level].load(Relaxed)),
        }
    }

    /// Armed timers on `core`.
    pub fn timers_armed(&self, core: CoreId) -> usize {
        self.with_timers(core.0 as usize, |list| list.len())
    }

    /// All cores' stats.
    pub fn all_stats(&self) -> Vec<CoreStats> {
        (0..self.cores.len())
            .map(|c| self.stats(CoreId(c as u32)))
            .collect()
    }
}
