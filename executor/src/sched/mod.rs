//! [`Executor`]: per-core state, the core loop, wakes, stealing and balancing.

use alloc::{boxed::Box, vec::Vec};
use core::{
    future::Future,
    ptr::{self, NonNull},
    sync::atomic::{
        AtomicU32 as PlainAtomicU32, AtomicU64, AtomicUsize as PlainAtomicUsize, Ordering::Relaxed,
    },
    task::Poll,
    time::Duration,
};

use cordyceps::{MpscQueue, mpsc_queue::TryDequeueError};

use crate::{
    Config, CoreId, CoreStats, JoinHandle, LEVELS, Platform, Priority, SpawnError,
    loom::{AtomicPtr, AtomicU8, Ordering, spin_loop},
    pad::CachePadded,
    task::{self, AfterPending, CANCELLED, COMPLETE, Header, ORPHAN, TaskRef},
    timer::{Sleep, Timeout, TimerList, Timers, WakeBatch},
};

/// Per-core idle state (`Core::state`): running its loop.
pub(crate) const AWAKE: u8 = 0;
/// Idle-state bit: the core announced that it is about to halt.
pub(crate) const SLEEPING: u8 = 1;
/// Idle-state bit: a waker pushed work since the core's last transition; set
/// on a `SLEEPING` core by exactly one waker per sleep episode, the one that
/// sends the wake-up.
pub(crate) const NOTIFIED: u8 = 2;

/// Polls in a row the LIFO slot may win before the queue gets a turn (so a
/// pair of tasks waking each other cannot starve the rest of the core).
pub const MAX_LIFO_POLLS: u32 = 3;

/// Most tasks one steal takes from one queue of one victim.
pub const STEAL_BATCH: usize = 32;

/// Core 0 looks at the clock for the balancer once every this many steps of
/// its loop (and whenever it goes idle), not on every poll.
const BALANCE_CHECK_EVERY: u32 = 64;

/// Statistics counters of one core (plain atomics: not part of any protocol).
#[derive(Default)]
struct Counters {
    polls: AtomicU64,
    tasks_run: AtomicU64,
    yields: AtomicU64,
    wakes_local: AtomicU64,
    /// Wakes during the task's own poll (`yield_now`), counted by the
    /// poller (owner only); reported as part of `wakes_local`.
    requeues: AtomicU64,
    wakes_remote: AtomicU64,
    steals: AtomicU64,
    migrations: AtomicU64,
    idle_halts: AtomicU64,
    resched_requested: AtomicU64,
    lifo_polls: AtomicU64,
}

/// Adds `n` from any context (an atomic read-modify-write).
fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}

/// Adds `n` to a counter only its own core's task context writes: a plain
/// load and store, no locked instruction.
fn bump_owned(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

/// Everything the executor keeps per core.
pub(crate) struct Core {
    /// Run queues, index = `Priority as usize` (0 = High): intrusive MPSC
    /// queues (`cordyceps`): anyone pushes, the owner pops, a thief or the
    /// balancer pops after winning the queue's consumer flag.
    queues: [MpscQueue<Header>; LEVELS],
    /// Approximate queue lengths (placement, stealing, balancing; not part of
    /// any protocol).
    queued: [PlainAtomicUsize; LEVELS],
    /// The task most recently woken by code running on this core, run next
    /// (owned by this core's task context and its interrupt handlers; swapped
    /// atomically because both touch it).
    lifo: AtomicPtr<Header>,
    /// LIFO polls in a row (owner only).
    lifo_streak: PlainAtomicU32,
    /// [`AWAKE`], or `SLEEPING` with or without `NOTIFIED` (idle protocol).
    pub(crate) state: CachePadded<AtomicU8>,
    /// Armed timers (intrusive entries inside the `Sleep`s; `timer.rs`).
    timers: Timers,
    stats: CachePadded<Counters>,
    /// Anti-starvation: consecutive picks that skipped a non-empty level.
    skips: [PlainAtomicU32; LEVELS],
    /// Rotating start of the victim order (owner only).
    steal_cursor: PlainAtomicUsize,
    /// Random state for spawn placement (owner only).
    rng: PlainAtomicU32,
    /// Steps since the balancer last looked at the clock (core 0 only).
    balance_countdown: PlainAtomicU32,
}

impl Core {
    fn new(index: usize) -> Self {
        Self {
            queues: core::array::from_fn(|_| MpscQueue::new_with_stub(Header::stub())),
            queued: Default::default(),
            lifo: AtomicPtr::new(ptr::null_mut()),
            lifo_streak: PlainAtomicU32::new(0),
            state: CachePadded(AtomicU8::new(AWAKE)),
            timers: Timers::new(),
            stats: CachePadded(Counters::default()),
            skips: Default::default(),
            steal_cursor: PlainAtomicUsize::new(0),
            rng: PlainAtomicU32::new(0x9E37_79B9 ^ (index as u32).wrapping_mul(0x85EB_CA6B) | 1),
            balance_countdown: PlainAtomicU32::new(0),
        }
    }

    fn len(&self) -> usize {
        self.queued.iter().map(|q| q.load(Relaxed)).sum()
    }

    /// Pops from one level: `Ok(None)` when empty, `Err(())` when the queue
    /// is momentarily unreadable (a push in progress, or a thief holds it).
    fn pop_level(&self, level: usize) -> Result<Option<TaskRef>, ()> {
        match self.queues[level].try_dequeue() {
            Ok(task) => {
                self.queued[level].fetch_sub(1, Relaxed);
                Ok(Some(task))
            }
            Err(TryDequeueError::Empty) => Ok(None),
            Err(TryDequeueError::Inconsistent | TryDequeueError::Busy) => Err(()),
        }
    }

    fn push_level(&self, level: usize, task: TaskRef) {
        self.queued[level].fetch_add(1, Relaxed);
        self.queues[level].enqueue(task);
    }

    /// Next random number (xorshift32; owner only).
    fn random(&self) -> u32 {
        let mut x = self.rng.load(Relaxed);
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng.store(x, Relaxed);
        x
    }
}

/// The executor of the whole machine: one per kernel, per-core state inside.
/// See the crate docs for the scheduling rules.
pub struct Executor<P: Platform> {
    platform: P,
    config: Config,
    cores: Box<[Core]>,
    /// Allocated task blocks (spawned and not yet freed).
    live: PlainAtomicUsize,
    next_id: AtomicU64,
    last_balance_ns: AtomicU64,
    /// Random state for placement by threads that are not cores.
    rng: PlainAtomicU32,
}

impl<P: Platform> Executor<P> {
    /// An executor for `cores` cores (`CoreId(0..cores)`). Allocates only
    /// small per-core state: queues grow with the tasks in them (intrusive).
    ///
    /// # Panics
    /// If `cores` is 0.
    pub fn new(platform: P, cores: usize, config: Config) -> Self {
        assert!(cores > 0, "an executor needs at least one core");
        let cores = (0..cores).map(Core::new).collect();
        Self {
            platform,
            config,
            cores,
            live: PlainAtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            last_balance_ns: AtomicU64::new(0),
            rng: PlainAtomicU32::new(0x2545_F491),
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

    /// Armed timers on `core`.
    pub fn timers_armed(&self, core: CoreId) -> usize {
        self.with_timers(core.0 as usize, |list| list.len())
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

    /// Spawns `future` at `priority` on the core [`place`](Self::place)
    /// picks. Never fails for lack of room: only memory bounds the number of
    /// tasks (an allocation failure is the global allocator's error path).
    pub fn spawn<F>(&'static self, priority: Priority, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(self.place(), priority, future, false)
    }

    /// Spawns `future` on `core` (it may be stolen or migrated later).
    ///
    /// # Panics
    /// If `core` is out of range (a caller bug, in task context).
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
        assert!(
            (core.0 as usize) < self.cores.len(),
            "executor: no core {}",
            core.0
        );
        self.spawn_inner(core.0 as usize, priority, future, false)
    }

    /// Spawns `future` on `core` for good: stealing and balancing leave a
    /// pinned task where it is (for work that must run on one core, such as
    /// the two ends of a cross-core ping-pong).
    ///
    /// # Panics
    /// If `core` is out of range.
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
        assert!(
            (core.0 as usize) < self.cores.len(),
            "executor: no core {}",
            core.0
        );
        self.spawn_inner(core.0 as usize, priority, future, true)
    }

    /// [`spawn`](Self::spawn), subject to the optional admission limit
    /// [`Config::max_tasks`].
    pub fn try_spawn<F>(
        &'static self,
        priority: Priority,
        future: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.admit()?;
        Ok(self.spawn_inner(self.place(), priority, future, false))
    }

    /// [`spawn_on`](Self::spawn_on), reporting a bad core or the admission
    /// limit as an error.
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
        if core.0 as usize >= self.cores.len() {
            return Err(SpawnError::NoSuchCore(core));
        }
        self.admit()?;
        Ok(self.spawn_inner(core.0 as usize, priority, future, false))
    }

    fn admit(&self) -> Result<(), SpawnError> {
        match self.config.max_tasks {
            Some(max) if self.live.load(Relaxed) >= max => Err(SpawnError::TooManyTasks { max }),
            _ => Ok(()),
        }
    }

    fn spawn_inner<F>(
        &'static self,
        target: usize,
        priority: Priority,
        future: F,
        pinned: bool,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.live.fetch_add(1, Relaxed);
        let id = self.next_id.fetch_add(1, Relaxed);
        let (task, join) = task::allocate(self, id, priority, target as u32, pinned, future);
        self.enqueue(task, target, self.current_index());
        // SAFETY: `allocate` gave the JoinHandle its reference and
        // JOIN_INTEREST, and `F::Output` is the handle's type.
        unsafe { JoinHandle::new(join) }
    }

    /// The placement rule, O(1). From a core: that core, unless it is
    /// *overloaded* — more than [`Config::spawn_local_limit`] tasks queued
    /// and more than that many beyond a randomly picked other core — in
    /// which case that other core. From a thread that is not a core: the
    /// shorter queue of two cores picked at random ("power of two choices").
    ///
    /// Staying local keeps a spawner and what it spawns on one core (a task
    /// and the task it talks to share caches and wake each other through the
    /// LIFO slot); the relative test spreads a one-sided burst; idle cores
    /// steal the rest.
    pub fn place(&self) -> usize {
        let n = self.cores.len();
        if n == 1 {
            return 0;
        }
        let limit = self.config.spawn_local_limit;
        if let Some(me) = self.current_index() {
            let mine = self.cores[me].len();
            if mine <= limit {
                return me;
            }
            let r = self.cores[me].random() as usize;
            let other = (me + 1 + r % (n - 1)) % n;
            return if mine <= self.cores[other].len() + limit {
                me
            } else {
                other
            };
        }
        // Not a core (a host thread): a shared counter, hashed.
        let x = self.rng.fetch_add(0x9E37_79B9, Relaxed);
        let r = x.wrapping_mul(0x85EB_CA6B) ^ (x >> 15);
        let a = (r as usize) % n;
        let b = ((r >> 16) as usize) % n;
        if self.cores[b].len() < self.cores[a].len() {
            b
        } else {
            a
        }
    }

    pub(crate) fn task_freed(&self) {
        self.live.fetch_sub(1, Relaxed);
    }

    // ----- waking and enqueueing ------------------------------------------

    /// A woken task (with `QUEUED` and one reference for the queue) goes to
    /// its home core: into that core's LIFO slot when the waker runs on that
    /// core (it runs next), else onto its queue with a notification. Any
    /// context; never blocks, allocates or frees.
    pub(crate) fn schedule(&self, task: TaskRef) {
        let header = task.header();
        let home = self.home_of(header);
        let here = self.current_index();
        let core = &self.cores[home];
        if here == Some(home) {
            bump(&core.stats.wakes_local, 1);
            if header.state.load(Ordering::Relaxed) & ORPHAN == 0 {
                let old = core.lifo.swap(task.into_raw().as_ptr(), Ordering::AcqRel);
                if let Some(old) = NonNull::new(old) {
                    // SAFETY: the slot held a reference put there by
                    // `into_raw`; the swap took it out.
                    let old = unsafe { TaskRef::from_raw(old) };
                    let level = old.header().priority as usize;
                    core.push_level(level, old);
                }
                return;
            }
        } else {
            bump(&core.stats.wakes_remote, 1);
        }
        self.enqueue(task, home, here);
    }

    /// The core whose queue a wake of this task goes to (its home, clamped to
    /// the cores that exist).
    fn home_of(&self, header: &Header) -> usize {
        (header.home.load(Ordering::Relaxed) as usize).min(self.cores.len() - 1)
    }

    /// Pushes `task` (with `QUEUED` set) onto `target`'s queue at its
    /// priority and notifies `target` (idle protocol).
    pub(crate) fn enqueue(&self, task: TaskRef, target: usize, here: Option<usize>) {
        let level = task.header().priority as usize;
        self.cores[target].push_level(level, task);
        self.notify(target, here);
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

    // ----- the core loop ---------------------------------------------------

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
    /// ([`Config::idle_spin_rounds`]) looking for work, then go through the
    /// idle protocol once. Returns whether a task was polled.
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

    // ----- stealing and balancing ------------------------------------------

    /// Steals from the first victim (in rotating order) that has work: about
    /// half of each of its levels, at most [`STEAL_BATCH`] per level, highest
    /// level first. Returns one stolen task to run; the others go onto the
    /// thief's queues. Bounded: at most `config.steal_attempts` victims.
    fn steal(&self, me: usize) -> Option<TaskRef> {
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
                task.header().home.store(to as u32, Ordering::Relaxed);
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
    fn maybe_balance(&self, going_idle: bool) {
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

    // ----- time --------------------------------------------------------------

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

    /// Test access to per-core state.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn core(&self, core: usize) -> &Core {
        &self.cores[core]
    }

    /// All cores' stats.
    pub fn all_stats(&self) -> Vec<CoreStats> {
        (0..self.cores.len())
            .map(|c| self.stats(CoreId(c as u32)))
            .collect()
    }
}

/// `spin_loop` hints (`pause`) per idle spin round; the rounds are
/// [`Config::idle_spin_rounds`] (its default's docs give the time).
const SPIN_PER_ROUND: u32 = 64;

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
