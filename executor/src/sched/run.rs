//! The core loop and the idle protocol: [`Executor::run`] and its single
//! steps, the pick of the next local task (LIFO slot, priorities,
//! anti-starvation rule), the poll of one task, and both halves of the idle
//! protocol (`idle`/`recheck_idle` on the core, `notify` on the waker).
//!
//! Relies on the crate docs' "The core loop" and "Idle protocol": the state
//! word only changes by read-modify-writes, the recheck runs with
//! interrupts off, and a waker on the target core itself never notifies.

use core::{
    ptr::{self, NonNull},
    sync::atomic::Ordering::Relaxed,
    task::Poll,
};

use super::{
    AWAKE, Executor, MAX_LIFO_POLLS, NOTIFIED, SLEEPING, SPIN_PER_ROUND,
    stats::{bump, bump_owned},
};
use crate::{
    CoreId, LEVELS, Platform,
    loom::{Ordering, spin_loop},
    task::{AfterPending, CANCELLED, COMPLETE, ORPHAN, TaskRef},
};

impl<P: Platform> Executor<P> {
    /// The calling core's loop: local work → steal → spin → the idle
    /// protocol; repeat. Never returns.
    pub fn run(&'static self) -> ! {
        loop {
            self.step();
        }
    }

    /// The core loop until `stop()` returns true (checked between steps; the
    /// platform must end a halt when the stop is requested).
    pub fn run_until(&'static self, stop: &dyn Fn() -> bool) {
        while !stop() {
            self.step();
        }
    }

    /// One step of the core loop: poll one task (LIFO slot, local queues,
    /// else a steal); if there is none, spin for a while
    /// ([`Config::idle_spin_rounds`](crate::Config::idle_spin_rounds))
    /// looking for work, then go through the idle protocol once. Returns
    /// whether a task was polled.
    pub fn step(&'static self) -> bool {
        let me = self.me();
        if me == 0 {
            self.maybe_balance(false);
        }
        if self.poll_one_on(me) {
            return true;
        }
        for _ in 0..self.config.idle_spin_rounds {
            for _ in 0..SPIN_PER_ROUND {
                spin_loop();
            }
            if self.poll_one_on(me) {
                return true;
            }
        }
        if me == 0 {
            self.maybe_balance(true);
        }
        self.idle(me);
        false
    }

    /// Polls one task of the calling core (LIFO slot, local queues by
    /// priority, else a steal). Returns false when there was nothing to run.
    /// Never halts.
    pub fn poll_one(&'static self) -> bool {
        self.poll_one_on(self.me())
    }

    fn poll_one_on(&'static self, me: usize) -> bool {
        let task = match self.pick_local(me) {
            Ok(Some(task)) => Some(task),
            _ => self.steal(me),
        };
        match task {
            Some(task) => {
                self.poll_task(me, task);
                true
            }
            None => false,
        }
    }

    /// Polls tasks of the calling core until there are none (no halt).
    /// Returns how many polls it made.
    pub fn run_until_idle(&'static self) -> usize {
        let mut n = 0;
        while self.poll_one() {
            n += 1;
        }
        n
    }

    /// Picks the next local task: the LIFO slot (at most
    /// [`MAX_LIFO_POLLS`] in a row), then the anti-starvation rule, then the
    /// highest non-empty level (crate docs, "Priorities"). `Err(())` when
    /// nothing was taken but a queue was momentarily unreadable.
    fn pick_local(&self, me: usize) -> Result<Option<TaskRef>, ()> {
        let core = &self.cores[me];
        if !core.lifo.load(Ordering::Relaxed).is_null()
            && let Some(task) = NonNull::new(core.lifo.swap(ptr::null_mut(), Ordering::AcqRel))
        {
            // SAFETY: the slot held a reference put there by `into_raw`.
            let task = unsafe { TaskRef::from_raw(task) };
            let streak = core.lifo_streak.load(Relaxed);
            if streak < MAX_LIFO_POLLS {
                core.lifo_streak.store(streak + 1, Relaxed);
                bump_owned(&core.stats.lifo_polls, 1);
                return Ok(Some(task));
            }
            // The slot has had its turns: to the back of the queue.
            core.push_level(task.header().priority as usize, task);
        }
        core.lifo_streak.store(0, Relaxed);
        let mut busy = false;
        // A lower level that has been skipped `starvation_limit` times in a
        // row gets this pick (the lowest such level first).
        for level in (1..LEVELS).rev() {
            if core.skips[level].load(Relaxed) >= self.config.starvation_limit {
                match core.pop_level(level) {
                    Ok(Some(task)) => {
                        core.skips[level].store(0, Relaxed);
                        return Ok(Some(task));
                    }
                    Ok(None) => {}
                    Err(()) => busy = true,
                }
            }
        }
        for level in 0..LEVELS {
            match core.pop_level(level) {
                Ok(Some(task)) => {
                    core.skips[level].store(0, Relaxed);
                    for lower in level + 1..LEVELS {
                        if core.queued[lower].load(Relaxed) == 0 {
                            core.skips[lower].store(0, Relaxed);
                        } else {
                            core.skips[lower].fetch_add(1, Relaxed);
                        }
                    }
                    return Ok(Some(task));
                }
                Ok(None) => {}
                Err(()) => busy = true,
            }
        }
        if busy { Err(()) } else { Ok(None) }
    }

    /// Everything the core does with one task it picked (poll it, or drop
    /// its future or output), reported to the platform as its current task.
    fn poll_task(&'static self, me: usize, task: TaskRef) {
        self.platform.set_current_task(Some(task.header().id));
        self.work_on(me, task);
        self.platform.set_current_task(None);
    }

    fn work_on(&'static self, me: usize, task: TaskRef) {
        let header = task.header();
        let stats = &self.cores[me].stats;
        let prev = task.start_running();
        if prev & (COMPLETE | ORPHAN | CANCELLED) != 0 {
            // Complete already (resurrected only to be freed), orphaned
            // (nothing can wake it again) or aborted: cancel, in task context.
            if prev & COMPLETE == 0 {
                task.cancel();
            }
            task.complete();
            return;
        }
        bump_owned(&stats.polls, 1);
        // Only the poller (one at a time: RUNNING) touches `last_core` and
        // `yielded`: plain loads and stores, no locked instruction per poll.
        if header.last_core.load(Relaxed) != me as u32 {
            header.last_core.store(me as u32, Relaxed);
            bump_owned(&stats.tasks_run, 1);
        }
        let result = task.poll();
        if header.yielded.load(Relaxed) {
            header.yielded.store(false, Relaxed);
            bump_owned(&stats.yields, 1);
        }
        match result {
            Poll::Ready(()) => task.complete(),
            Poll::Pending => match task.after_pending() {
                AfterPending::Woken(task) => {
                    // A yield (counted here, as a local wake): to the back of
                    // its home queue, which is this core's unless the wake
                    // came from elsewhere after a migration.
                    bump_owned(&stats.requeues, 1);
                    let home = self.home_of(task.header());
                    self.enqueue(task, home, Some(me));
                }
                AfterPending::Orphaned(task) => {
                    let home = self.home_of(task.header());
                    self.enqueue(task, home, Some(me));
                }
                AfterPending::Idle => {}
            },
        }
    }

    /// The core's half of the idle protocol (crate docs, "Idle protocol").
    fn idle(&self, me: usize) {
        let core = &self.cores[me];
        core.state.swap(SLEEPING, Ordering::AcqRel);
        let mut halted = false;
        self.platform.halt_if(&mut || {
            halted = self.recheck_idle(me);
            halted
        });
        core.state.swap(AWAKE, Ordering::AcqRel);
        if halted {
            bump_owned(&core.stats.idle_halts, 1);
        } else {
            // The recheck found work, or a queue in the middle of a push or a
            // steal: let that finish (a `pause`; under loom, a yield).
            spin_loop();
        }
    }

    /// The recheck, with interrupts off: true when the LIFO slot and every
    /// local queue are empty. A task found in a queue is moved to the (empty)
    /// LIFO slot so that it is not lost to the recheck.
    pub(crate) fn recheck_idle(&self, me: usize) -> bool {
        let core = &self.cores[me];
        if !core.lifo.load(Ordering::Acquire).is_null() {
            return false;
        }
        for level in 0..LEVELS {
            match core.pop_level(level) {
                Ok(None) => {}
                Ok(Some(task)) => {
                    let old = core.lifo.swap(task.into_raw().as_ptr(), Ordering::AcqRel);
                    debug_assert!(old.is_null(), "LIFO slot filled with interrupts off");
                    return false;
                }
                Err(()) => return false,
            }
        }
        true
    }

    /// The waker's half of the idle protocol (crate docs), after its push:
    /// one atomic read-modify-write on the target's state word; the waker
    /// that turns `SLEEPING` into `SLEEPING|NOTIFIED` sends the wake-up.
    /// `here` is the caller's core ([`current_index`](Self::current_index)),
    /// which callers on the wake path have at hand already.
    pub(crate) fn notify(&self, target: usize, here: Option<usize>) {
        if here == Some(target) {
            // Running on the target itself: task context (not halted), or an
            // interrupt that ends its halt / precedes its recheck (interrupts
            // are off between recheck and halt).
            return;
        }
        let core = &self.cores[target];
        if core.state.fetch_or(NOTIFIED, Ordering::AcqRel) == SLEEPING {
            bump(&core.stats.resched_requested, 1);
            self.platform.wake_core(CoreId(target as u32));
        }
    }
}
