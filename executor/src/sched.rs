//! [`Executor`]: per-core state, the core loop, wakes, stealing and balancing.

use alloc::{boxed::Box, vec::Vec};
use core::{
    future::Future,
    sync::atomic::{AtomicU32 as PlainAtomicU32, AtomicU64, AtomicUsize as PlainAtomicUsize},
    task::Poll,
    time::Duration,
};

use crate::{
    Config, CoreId, CoreStats, LEVELS, Platform, Priority, SpawnError,
    join::{JoinHandle, JoinShared},
    loom::{AtomicBool, AtomicU8, Ordering, fence, spin_loop},
    queue::{CachePadded, RunQueue},
    task::{COMPLETE, ORPHAN, QUEUED, RUNNING, Task, TaskRef},
    timer::{Sleep, Timeout, TimerList, Timers, WakeBatch},
};

/// Per-core idle state (`Core::state`): running its loop.
pub(crate) const AWAKE: u8 = 0;
/// Per-core idle state: announced that it is about to halt.
pub(crate) const SLEEPING: u8 = 1;

/// Statistics counters of one core (plain atomics: not part of any protocol).
#[derive(Default)]
struct Counters {
    polls: AtomicU64,
    tasks_run: AtomicU64,
    yields: AtomicU64,
    wakes_local: AtomicU64,
    wakes_remote: AtomicU64,
    steals: AtomicU64,
    migrations: AtomicU64,
    idle_halts: AtomicU64,
    resched_requested: AtomicU64,
    queue_full: AtomicU64,
}

fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, core::sync::atomic::Ordering::Relaxed);
}

/// Everything the executor keeps per core.
pub(crate) struct Core<P: Platform> {
    /// Run queues, index = `Priority as usize` (0 = High).
    pub(crate) queues: [RunQueue<TaskRef<P>>; LEVELS],
    /// [`AWAKE`] or [`SLEEPING`] (see the idle protocol in the crate docs).
    pub(crate) state: CachePadded<AtomicU8>,
    /// A wake-up (IPI) has been requested in this sleep episode.
    pub(crate) ipi_pending: AtomicBool,
    /// Armed timers (intrusive entries inside the `Sleep`s; `timer.rs`).
    timers: Timers,
    stats: CachePadded<Counters>,
    /// Anti-starvation: consecutive picks that skipped a non-empty level.
    skips: [PlainAtomicU32; LEVELS],
    /// Rotating start of the victim order.
    steal_cursor: PlainAtomicUsize,
}

/// The executor of the whole machine: one per kernel, per-core state inside.
/// See the crate docs for the scheduling rules.
pub struct Executor<P: Platform> {
    platform: P,
    config: Config,
    cores: Box<[Core<P>]>,
    /// Allocated task blocks (spawned and not yet freed).
    live: PlainAtomicUsize,
    next_id: AtomicU64,
    last_balance_ns: AtomicU64,
}

impl<P: Platform> Executor<P> {
    /// An executor for `cores` cores (`CoreId(0..cores)`), with every run
    /// queue allocated up front: each holds `config.max_tasks + cores + 1`
    /// tasks, rounded up to a power of two (see `queue.rs` for why).
    ///
    /// # Panics
    /// If `cores` is 0 or `config.max_tasks` is 0.
    pub fn new(platform: P, cores: usize, config: Config) -> Self {
        assert!(cores > 0, "an executor needs at least one core");
        assert!(config.max_tasks > 0, "config.max_tasks must be positive");
        let capacity = config.max_tasks + cores + 1;
        let cores = (0..cores)
            .map(|_| Core {
                queues: core::array::from_fn(|_| RunQueue::new(capacity)),
                state: CachePadded(AtomicU8::new(AWAKE)),
                ipi_pending: AtomicBool::new(false),
                timers: Timers::new(),
                stats: CachePadded(Counters::default()),
                skips: Default::default(),
                steal_cursor: PlainAtomicUsize::new(0),
            })
            .collect();
        Self {
            platform,
            config,
            cores,
            live: PlainAtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            last_balance_ns: AtomicU64::new(0),
        }
    }

    /// The number of cores.
    pub fn cores(&self) -> usize {
        self.cores.len()
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Tasks spawned and not yet freed.
    pub fn live_tasks(&self) -> usize {
        self.live.load(core::sync::atomic::Ordering::Relaxed)
    }

    /// A snapshot of `core`'s counters.
    ///
    /// # Panics
    /// If `core` is out of range.
    pub fn stats(&self, core: CoreId) -> CoreStats {
        let c = &self.cores[core.0 as usize].stats;
        let r = |a: &AtomicU64| a.load(core::sync::atomic::Ordering::Relaxed);
        CoreStats {
            polls: r(&c.polls),
            tasks_run: r(&c.tasks_run),
            yields: r(&c.yields),
            wakes_local: r(&c.wakes_local),
            wakes_remote: r(&c.wakes_remote),
            steals: r(&c.steals),
            migrations: r(&c.migrations),
            idle_halts: r(&c.idle_halts),
            resched_requested: r(&c.resched_requested),
            queue_full: r(&c.queue_full),
        }
    }

    /// The approximate number of queued tasks on `core` (all levels).
    pub fn queue_len(&self, core: CoreId) -> usize {
        self.len_of(core.0 as usize)
    }

    /// The approximate number of queued tasks on `core` at `priority`.
    pub fn queue_len_at(&self, core: CoreId, priority: Priority) -> usize {
        self.cores[core.0 as usize].queues[priority as usize].len()
    }

    /// Armed timers on `core`.
    pub fn timers_armed(&self, core: CoreId) -> usize {
        self.with_timers(core.0 as usize, |list| list.len())
    }

    fn len_of(&self, core: usize) -> usize {
        self.cores[core].queues.iter().map(RunQueue::len).sum()
    }

    /// The calling core's index, if it is one of ours.
    pub(crate) fn current_index(&self) -> Option<usize> {
        let c = self.platform.current_core().0 as usize;
        (c < self.cores.len()).then_some(c)
    }

    fn me(&self) -> usize {
        self.current_index()
            .expect("Platform::current_core() is not a core of this executor")
    }

    // ----- spawning ------------------------------------------------------

    /// Spawns `future` at `priority` on the core with the shortest queue
    /// ([`least_loaded_core`](Self::least_loaded_core)).
    ///
    /// # Panics
    /// When `config.max_tasks` tasks are alive (spawn is task context; wakes
    /// never panic). Use [`try_spawn`](Self::try_spawn) to get an error.
    pub fn spawn<F>(&'static self, priority: Priority, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.try_spawn(priority, future)
            .unwrap_or_else(|e| panic!("executor: {e}"))
    }

    /// Spawns `future` on `core`.
    ///
    /// # Panics
    /// When the task limit is reached, or `core` is out of range.
    pub fn spawn_on<F>(
        &'static self,
        core: CoreId,
        priority: Priority,
        future: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.try_spawn_on(core, priority, future)
            .unwrap_or_else(|e| panic!("executor: {e}"))
    }

    /// Spawns `future` on `core` for good: stealing and balancing leave a
    /// pinned task where it is (for work that must run on one core, such as
    /// the two ends of a cross-core ping-pong).
    ///
    /// # Panics
    /// When the task limit is reached, or `core` is out of range.
    pub fn spawn_pinned<F>(
        &'static self,
        core: CoreId,
        priority: Priority,
        future: F,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(core, priority, future, true)
            .unwrap_or_else(|e| panic!("executor: {e}"))
    }

    /// [`spawn`](Self::spawn), reporting the task limit as an error.
    pub fn try_spawn<F>(
        &'static self,
        priority: Priority,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.try_spawn_on(self.least_loaded_core(), priority, future)
    }

    /// [`spawn_on`](Self::spawn_on), reporting the task limit as an error.
    pub fn try_spawn_on<F>(
        &'static self,
        core: CoreId,
        priority: Priority,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(core, priority, future, false)
    }

    fn spawn_inner<F>(
        &'static self,
        core: CoreId,
        priority: Priority,
        future: F,
        pinned: bool,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let target = core.0 as usize;
        if target >= self.cores.len() {
            return Err(SpawnError::NoSuchCore(core));
        }
        let max = self.config.max_tasks;
        let mut live = self.live.load(core::sync::atomic::Ordering::Relaxed);
        loop {
            if live >= max {
                return Err(SpawnError::TooManyTasks { max });
            }
            match self.live.compare_exchange_weak(
                live,
                live + 1,
                core::sync::atomic::Ordering::AcqRel,
                core::sync::atomic::Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => live = actual,
            }
        }
        let id = self
            .next_id
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        let shared = JoinShared::new();
        let output = shared.clone();
        let wrapped = Box::pin(async move {
            let value = future.await;
            output.complete(value);
        });
        let task = Task::allocate(self, id, priority, core.0, pinned, wrapped);
        self.enqueue(task, target);
        Ok(JoinHandle::new(shared, id))
    }

    /// `enqueue_task`'s placement rule: the core with the fewest queued tasks
    /// (all levels); ties go to the calling core, then to the next cores in
    /// index order (wrapping).
    pub fn least_loaded_core(&self) -> CoreId {
        let n = self.cores.len();
        let start = self.current_index().unwrap_or(0);
        let mut best = start;
        let mut best_len = self.len_of(start);
        for i in 1..n {
            let c = (start + i) % n;
            let len = self.len_of(c);
            if len < best_len {
                best = c;
                best_len = len;
            }
        }
        CoreId(best as u32)
    }

    pub(crate) fn task_freed(&self) {
        self.live.fetch_sub(1, core::sync::atomic::Ordering::AcqRel);
    }

    // ----- waking and enqueueing ------------------------------------------

    /// The waker's path (any context): see `task.rs` for the state word.
    pub(crate) fn wake_task(&self, task: &Task<P>) {
        let header = task.header();
        let mut state = header.state.load(Ordering::Acquire);
        loop {
            if state & (COMPLETE | QUEUED) != 0 {
                return;
            }
            match header.state.compare_exchange_weak(
                state,
                state | QUEUED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        let home = (header.home.load(Ordering::Relaxed) as usize).min(self.cores.len() - 1);
        let local = self.current_index() == Some(home);
        let stats = &self.cores[home].stats;
        bump(
            if local {
                &stats.wakes_local
            } else {
                &stats.wakes_remote
            },
            1,
        );
        if state & RUNNING != 0 {
            // The poller requeues it when its poll returns.
            return;
        }
        self.enqueue(TaskRef::from_task(task), home);
    }

    /// Pushes `task` (with `QUEUED` set) onto `target`'s queue at its priority
    /// and notifies `target` (idle protocol). Never blocks, allocates or
    /// panics.
    pub(crate) fn enqueue(&self, task: TaskRef<P>, target: usize) {
        self.push_or_spill(task, target);
        self.notify(target);
    }

    /// Requeues a task resurrected by its last waker's drop onto its home
    /// core, so that the core frees it (and notifies that core: it may sleep).
    pub(crate) fn enqueue_orphan(&self, task: TaskRef<P>) {
        let home = (task.header().home.load(Ordering::Relaxed) as usize).min(self.cores.len() - 1);
        self.enqueue(task, home);
    }

    /// Pushes onto `target`; if that queue is full (impossible with the
    /// capacity rule, see `queue.rs`) tries every other queue rather than
    /// lose the task, and counts the event.
    fn push_or_spill(&self, task: TaskRef<P>, target: usize) {
        let level = task.header().priority as usize;
        let Err(mut task) = self.cores[target].queues[level].push(task) else {
            return;
        };
        bump(&self.cores[target].stats.queue_full, 1);
        let n = self.cores.len();
        for i in 0..n * LEVELS {
            let core = (target + i / LEVELS) % n;
            let level = (level + i) % LEVELS;
            match self.cores[core].queues[level].push(task) {
                Ok(()) => return,
                Err(back) => task = back,
            }
        }
        // Every queue full: unreachable with the capacity rule. `task` goes
        // out of scope here without releasing its reference (`TaskRef` is not
        // `Drop`): the task leaks, which is memory-safe.
    }

    /// The waker's half of the idle protocol: after the push, if `target` has
    /// announced `SLEEPING` and nobody has requested its wake-up in this
    /// episode, request it (one `wake_core` per episode).
    pub(crate) fn notify(&self, target: usize) {
        if self.current_index() == Some(target) {
            // Running on the target itself: it is not halted (task context),
            // or this is an interrupt that ends its halt / precedes its
            // recheck (interrupts are off between recheck and halt).
            return;
        }
        fence(Ordering::SeqCst);
        let core = &self.cores[target];
        if core.state.load(Ordering::SeqCst) == SLEEPING
            && core
                .ipi_pending
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
        {
            bump(&core.stats.resched_requested, 1);
            self.platform.wake_core(CoreId(target as u32));
        }
    }

    // ----- the core loop ---------------------------------------------------

    /// The calling core's loop: local queues by priority → steal → idle
    /// protocol. Never returns.
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

    /// One step of the core loop: poll one task (local, else stolen); if
    /// there is none, go through the idle protocol once. Returns whether a
    /// task was polled.
    pub fn step(&'static self) -> bool {
        if self.poll_one() {
            return true;
        }
        self.idle(self.me());
        false
    }

    /// Polls one task of the calling core (local queues by priority, else a
    /// steal). Returns false when there was nothing to run. Never halts.
    pub fn poll_one(&'static self) -> bool {
        let me = self.me();
        match self.pick_local(me).or_else(|| self.steal(me)) {
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

    /// Picks the next local task: the anti-starvation rule first, then the
    /// highest non-empty level (crate docs, "Priorities").
    fn pick_local(&self, me: usize) -> Option<TaskRef<P>> {
        let core = &self.cores[me];
        let relaxed = core::sync::atomic::Ordering::Relaxed;
        // A lower level that has been skipped `starvation_limit` times in a
        // row gets this pick (the lowest such level first).
        for level in (1..LEVELS).rev() {
            if core.skips[level].load(relaxed) >= self.config.starvation_limit
                && let Some(task) = core.queues[level].pop()
            {
                core.skips[level].store(0, relaxed);
                return Some(task);
            }
        }
        for level in 0..LEVELS {
            if let Some(task) = core.queues[level].pop() {
                core.skips[level].store(0, relaxed);
                for lower in level + 1..LEVELS {
                    if core.queues[lower].is_empty() {
                        core.skips[lower].store(0, relaxed);
                    } else {
                        core.skips[lower].fetch_add(1, relaxed);
                    }
                }
                return Some(task);
            }
        }
        None
    }

    fn poll_task(&'static self, me: usize, task: TaskRef<P>) {
        let header = task.header();
        let stats = &self.cores[me].stats;
        // QUEUED → RUNNING: from here on a wake sets QUEUED instead of pushing.
        let prev = header.state.fetch_xor(QUEUED | RUNNING, Ordering::AcqRel);
        // Task context: a broken invariant here is a bug in this crate, and
        // stopping beats polling one future on two cores.
        assert_eq!(
            prev & (QUEUED | RUNNING),
            QUEUED,
            "executor: popped a task that is not (only) QUEUED"
        );
        if prev & (COMPLETE | ORPHAN) != 0 {
            // Resurrected by its last waker's drop: nothing can wake it again.
            // Drop the future (if unfinished) and free it, in task context.
            task.drop_future();
            header.state.store(COMPLETE, Ordering::Release);
            task.release();
            return;
        }
        bump(&stats.polls, 1);
        if header
            .last_core
            .swap(me as u32, core::sync::atomic::Ordering::Relaxed)
            != me as u32
        {
            bump(&stats.tasks_run, 1);
        }
        let result = task.poll();
        if header
            .yielded
            .swap(false, core::sync::atomic::Ordering::Relaxed)
        {
            bump(&stats.yields, 1);
        }
        match result {
            Poll::Ready(()) => {
                task.drop_future();
                header.state.store(COMPLETE, Ordering::Release);
                task.release();
            }
            Poll::Pending => {
                let prev = header.state.fetch_and(!RUNNING, Ordering::AcqRel);
                if prev & QUEUED != 0 {
                    // Woken during the poll: our reference goes back in.
                    let home =
                        (header.home.load(Ordering::Relaxed) as usize).min(self.cores.len() - 1);
                    self.enqueue(task, home);
                } else {
                    task.release();
                }
            }
        }
    }

    /// The core's half of the idle protocol (crate docs, "Idle protocol").
    fn idle(&self, me: usize) {
        let core = &self.cores[me];
        core.state.store(SLEEPING, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let mut halted = false;
        self.platform.halt_if(&mut || {
            halted = core.queues.iter().all(RunQueue::is_empty);
            halted
        });
        core.state.store(AWAKE, Ordering::SeqCst);
        core.ipi_pending.store(false, Ordering::SeqCst);
        if halted {
            bump(&core.stats.idle_halts, 1);
        } else {
            // The recheck saw a claimed slot: a push is completing (on another
            // core). Let it (a `pause`; under loom, a yield).
            spin_loop();
        }
    }

    // ----- stealing and balancing ------------------------------------------

    /// Steals about half of the first victim (in rotating order) that has
    /// work, then picks locally. Bounded: at most `config.steal_attempts`
    /// victims per call.
    fn steal(&self, me: usize) -> Option<TaskRef<P>> {
        let n = self.cores.len();
        if n < 2 {
            return None;
        }
        let core = &self.cores[me];
        let start = core
            .steal_cursor
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        for victim in victim_order(me, n, start, self.config.steal_attempts) {
            let moved = self.move_tasks(victim, me, usize::MAX, true);
            if moved > 0 {
                bump(&core.stats.steals, moved as u64);
                return self.pick_local(me);
            }
        }
        None
    }

    /// Moves tasks from `from` to `to`, highest level first: at most `limit`,
    /// and with `half` set, about half of each level of `from` (rounded up).
    /// The tasks keep `QUEUED` throughout and get `to` as their home. Pinned
    /// tasks met on the way go back to the end of `from`'s queue.
    fn move_tasks(&self, from: usize, to: usize, limit: usize, half: bool) -> usize {
        let mut moved = 0;
        for level in 0..LEVELS {
            let q = &self.cores[from].queues[level];
            let want = if half { q.len().div_ceil(2) } else { q.len() };
            for _ in 0..want {
                if moved == limit {
                    return moved;
                }
                let Some(task) = q.pop() else { break };
                if task.header().pinned {
                    self.push_or_spill(task, from);
                    continue;
                }
                task.header().home.store(to as u32, Ordering::Relaxed);
                self.push_or_spill(task, to);
                moved += 1;
            }
        }
        moved
    }

    /// Evens out queue lengths: while the longest and the shortest queue
    /// differ by more than `config.balance_threshold`, moves half the
    /// difference from the longest to the shortest and notifies the target
    /// (RESCHED if it sleeps). At most `cores` rounds. Returns the number of
    /// tasks migrated. No allocation, no lock: callable from the timer
    /// interrupt.
    pub fn balance_load(&self) -> usize {
        let n = self.cores.len();
        let mut total = 0;
        for _ in 0..n {
            let (mut max, mut min) = ((0, 0), (0, usize::MAX));
            for c in 0..n {
                let len = self.len_of(c);
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
            let moved = self.move_tasks(max.0, min.0, (max.1 - min.1) / 2, false);
            if moved == 0 {
                break;
            }
            bump(&self.cores[min.0].stats.migrations, moved as u64);
            self.notify(min.0);
            total += moved;
        }
        total
    }

    // ----- time --------------------------------------------------------------

    /// The kernel's timer interrupt calls this on every core (interrupts
    /// disabled): expires the calling core's timers, and on core 0 runs
    /// [`balance_load`](Self::balance_load) every
    /// `config.balance_interval_ns`. Never allocates, frees, blocks or panics.
    pub fn on_timer_tick(&self) {
        if let Some(me) = self.current_index() {
            self.tick_core(CoreId(me as u32));
        }
    }

    /// [`on_timer_tick`](Self::on_timer_tick) for `core`, callable from any
    /// thread (hosts that drive every core's tick from one ticker thread).
    /// Returns the number of timers that fired.
    pub fn tick_core(&self, core: CoreId) -> usize {
        let fired = self.expire_timers(core);
        if core.0 == 0 {
            let now = self.platform.now_ns();
            let last = self
                .last_balance_ns
                .load(core::sync::atomic::Ordering::Relaxed);
            if now.saturating_sub(last) >= self.config.balance_interval_ns
                && self
                    .last_balance_ns
                    .compare_exchange(
                        last,
                        now,
                        core::sync::atomic::Ordering::Relaxed,
                        core::sync::atomic::Ordering::Relaxed,
                    )
                    .is_ok()
            {
                self.balance_load();
            }
        }
        fired
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

    /// Test access to per-core state.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn core(&self, core: usize) -> &Core<P> {
        &self.cores[core]
    }

    /// All cores' stats.
    pub fn all_stats(&self) -> Vec<CoreStats> {
        (0..self.cores.len())
            .map(|c| self.stats(CoreId(c as u32)))
            .collect()
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
