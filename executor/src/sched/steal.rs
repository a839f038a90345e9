//! Moving tasks between cores: stealing by an idle core ([`victim_order`],
//! `steal`) and core 0's periodic [`Executor::balance_load`].
//!
//! Relies on the crate docs' run-queue rules: a thief or the balancer pops
//! a queue only after winning its consumer flag (the owner meanwhile sees
//! "busy"), moved tasks keep `QUEUED` and are re-homed, pinned tasks never
//! move. Balancing runs in task context, never in the timer interrupt.

use core::sync::atomic::Ordering::Relaxed;

use super::{
    BALANCE_CHECK_EVERY, Executor, STEAL_BATCH,
    stats::{bump, bump_owned},
};
use crate::{LEVELS, Platform, loom::Ordering, task::TaskRef};

impl<P: Platform> Executor<P> {
    /// Steals from the first victim (in rotating order) that has work: about
    /// half of each of its levels, at most [`STEAL_BATCH`] per level, highest
    /// level first. Returns one stolen task to run; the others go onto the
    /// thief's queues. Bounded: at most `config.steal_attempts` victims.
    pub(super) fn steal(&self, me: usize) -> Option<TaskRef> {
        let n = self.cores.len();
        if n < 2 {
            return None;
        }
        let core = &self.cores[me];
        let start = core.steal_cursor.load(Relaxed);
        core.steal_cursor.store(start.wrapping_add(1), Relaxed);
        for victim in victim_order(me, n, start, self.config.steal_attempts) {
            if self.cores[victim].len() == 0 {
                continue;
            }
            let mut first = None;
            let moved = self.move_tasks(victim, me, usize::MAX, true, &mut first);
            if moved > 0 {
                bump_owned(&core.stats.steals, moved as u64);
                return first;
            }
        }
        None
    }

    /// Moves tasks from `from` to `to`, highest level first: at most `limit`,
    /// and with `half` set about half of each level of `from` (rounded up, at
    /// most [`STEAL_BATCH`]). The tasks keep `QUEUED` throughout and get `to`
    /// as their home. With `keep` given, the first task moved is handed back
    /// through it instead of being queued (the thief runs it). Pinned tasks
    /// met on the way go back to the end of `from`'s queue.
    fn move_tasks(
        &self,
        from: usize,
        to: usize,
        limit: usize,
        half: bool,
        keep: &mut Option<TaskRef>,
    ) -> usize {
        let (src, dst) = (&self.cores[from], &self.cores[to]);
        let mut moved = 0;
        let mut repushed = false;
        for level in 0..LEVELS {
            let len = src.queued[level].load(Relaxed);
            if len == 0 {
                continue;
            }
            let want = if half {
                len.div_ceil(2).min(STEAL_BATCH)
            } else {
                len
            };
            // The consumer flag: while we hold it the owner's pops report
            // "busy" (it retries); a failed try means someone else pops.
            let Some(consumer) = src.queues[level].try_consume() else {
                continue;
            };
            for _ in 0..want {
                if moved == limit {
                    break;
                }
                let Ok(task) = consumer.try_dequeue() else {
                    break;
                };
                src.queued[level].fetch_sub(1, Relaxed);
                if task.header().pinned {
                    src.push_level(level, task);
                    repushed = true;
                    continue;
                }
                let header = task.header();
                let from = header.home.swap(to as u32, Ordering::Relaxed) as usize;
                let level = header.priority as usize;
                self.cores[from.min(self.cores.len() - 1)].live[level].fetch_sub(1, Relaxed);
                dst.live[level].fetch_add(1, Relaxed);
                if half && keep.is_none() {
                    *keep = Some(task);
                } else {
                    dst.push_level(level, task);
                }
                moved += 1;
            }
            drop(consumer);
        }
        if repushed {
            self.notify(from, self.current_index());
        }
        moved
    }

    /// Runs [`balance_load`](Self::balance_load) when
    /// `config.balance_interval_ns` has passed since the last run. Core 0's
    /// loop calls it (task context, never the timer interrupt): every
    /// [`BALANCE_CHECK_EVERY`] steps, and before it goes idle.
    pub(super) fn maybe_balance(&self, going_idle: bool) {
        let countdown = &self.cores[0].balance_countdown;
        if !going_idle {
            let left = countdown.load(Relaxed);
            if left > 0 {
                countdown.store(left - 1, Relaxed);
                return;
            }
        }
        countdown.store(BALANCE_CHECK_EVERY, Relaxed);
        let now = self.platform.now_ns();
        let last = self.last_balance_ns.load(Relaxed);
        if now.saturating_sub(last) >= self.config.balance_interval_ns {
            self.last_balance_ns.store(now, Relaxed);
            self.balance_load();
        }
    }

    /// Evens out queue lengths: while the longest and the shortest queue
    /// differ by more than `config.balance_threshold`, moves half the
    /// difference from the longest to the shortest and notifies the target
    /// (RESCHED if it sleeps). At most `cores` rounds. Returns the number of
    /// tasks migrated. Task context (it may contend for a queue's consumer
    /// flag).
    pub fn balance_load(&self) -> usize {
        let n = self.cores.len();
        let mut total = 0;
        for _ in 0..n {
            let (mut max, mut min) = ((0, 0), (0, usize::MAX));
            for c in 0..n {
                let len = self.cores[c].len();
                if len > max.1 {
                    max = (c, len);
                }
                if len < min.1 {
                    min = (c, len);
                }
            }
            if max.1 - min.1 <= self.config.balance_threshold {
                break;
            }
            let moved = self.move_tasks(max.0, min.0, (max.1 - min.1) / 2, false, &mut None);
            if moved == 0 {
                break;
            }
            bump(&self.cores[min.0].stats.migrations, moved as u64);
            self.notify(min.0, self.current_index());
            total += moved;
        }
        total
    }
}

/// The order in which core `me` of `cores` tries victims when it steals:
/// `attempts` (at most `cores - 1`) cores other than `me`, starting at offset
/// `start` (a per-core counter that advances by one per steal round), so that
/// every other core is the *first* victim once every `cores - 1` rounds: every
/// core is reachable however small `attempts` is.
pub fn victim_order(
    me: usize,
    cores: usize,
    start: usize,
    attempts: usize,
) -> impl Iterator<Item = usize> {
    let others = cores.saturating_sub(1);
    (0..attempts.min(others)).map(move |i| (me + 1 + (start.wrapping_add(i)) % others) % cores)
}
