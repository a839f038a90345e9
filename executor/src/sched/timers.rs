//! The executor's side of timers: the tick ([`Executor::on_timer_tick`],
//! [`Executor::expire_timers`]), the futures [`Executor::sleep`] and
//! [`Executor::timeout`], and `with_timers`, the only way to a core's list.
//!
//! Relies on the crate docs' "Timers" and `timer.rs`: a core's list is
//! locked only with interrupts disabled (`with_timers`), so that core's tick
//! never spins on a lock its own core holds, and wakers run after the lock
//! is released, never under it.

use core::{future::Future, time::Duration};

use super::Executor;
use crate::{
    CoreId, Platform,
    timer::{Sleep, Timeout, TimerList, WakeBatch},
};

impl<P: Platform> Executor<P> {
    /// The kernel's timer interrupt calls this on every core (interrupts
    /// disabled): expires the calling core's timers. Never allocates, frees,
    /// blocks or panics.
    pub fn on_timer_tick(&self) {
        if let Some(me) = self.current_index() {
            self.tick_core(CoreId(me as u32));
        }
    }

    /// [`on_timer_tick`](Self::on_timer_tick) for `core`, callable from any
    /// thread (hosts that drive every core's tick from one ticker thread).
    /// Returns the number of timers that fired.
    pub fn tick_core(&self, core: CoreId) -> usize {
        self.expire_timers(core)
    }

    /// Fires every timer of `core` whose deadline is `<= now`; returns how
    /// many. Under the lock it only unlinks due entries and moves their
    /// wakers into an on-stack batch; it wakes them after releasing the lock,
    /// and repeats until nothing is due. Never allocates or frees.
    pub fn expire_timers(&self, core: CoreId) -> usize {
        let now = self.platform.now_ns();
        let mut fired = 0;
        loop {
            let mut batch = WakeBatch::new();
            let more = self.with_timers(core.0 as usize, |list| list.take_due(now, &mut batch));
            fired += batch.len();
            batch.wake_all();
            if !more {
                return fired;
            }
        }
    }

    /// A future that completes `d` from now (no earlier; woken by the first
    /// tick at or after the deadline).
    pub fn sleep(&'static self, d: Duration) -> Sleep<P> {
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sleep_until(self.platform.now_ns().saturating_add(d))
    }

    /// A future that completes at `deadline_ns` on [`Platform::now_ns`]'s
    /// clock.
    pub fn sleep_until(&'static self, deadline_ns: u64) -> Sleep<P> {
        Sleep::new(self, deadline_ns)
    }

    /// Whether `core`'s timer-list lock is held right now (a test hook: the
    /// integration tests check that no waker runs under it).
    #[doc(hidden)]
    pub fn timer_lock_held(&self, core: CoreId) -> bool {
        self.cores[core.0 as usize].timers.is_locked()
    }

    /// Runs `future` with a deadline `d` from now: resolves to
    /// `Ok(output)` if the future completes first (its timer is cancelled at
    /// once), or to `Err(Elapsed)` once the deadline has passed, never
    /// earlier (the future is then dropped at once, in task context).
    pub fn timeout<F: Future>(&'static self, d: Duration, future: F) -> Timeout<P, F> {
        Timeout::new(self.sleep(d), future)
    }

    /// [`timeout`](Self::timeout) with a deadline at `deadline_ns` on
    /// [`Platform::now_ns`]'s clock.
    pub fn timeout_at<F: Future>(&'static self, deadline_ns: u64, future: F) -> Timeout<P, F> {
        Timeout::new(self.sleep_until(deadline_ns), future)
    }

    /// Runs `f` on `core`'s timer list, locked with interrupts disabled (so
    /// that this core's tick never spins on a lock its own core holds).
    pub(crate) fn with_timers<R>(&self, core: usize, f: impl FnOnce(&mut TimerList) -> R) -> R {
        self.platform
            .without_interrupts(|| self.cores[core].timers.with(f))
    }
}
