//! [`Executor`]: the executor's types and per-core state; its methods live in
//! the submodules, one concern each:
//!
//! - `run`: the core loop (LIFO slot, priorities, anti-starvation), the
//!   poll of one task, and both halves of the idle protocol;
//! - `spawn`: spawning, placement, and where a woken task is queued;
//! - `steal`: stealing and load balancing between cores;
//! - `timers`: the timer tick, `sleep` and `timeout`;
//! - `stats`: the per-core counters and the read-only views of the queues.
//!
//! The rules they implement (run queues, the core loop, the idle protocol
//! and its state machine, timers, counters) are described in the crate docs.

mod run;
mod spawn;
mod stats;
mod steal;
mod timers;

use alloc::boxed::Box;
use core::{
    ptr,
    sync::atomic::{
        AtomicU32 as PlainAtomicU32, AtomicU64, AtomicUsize as PlainAtomicUsize, Ordering::Relaxed,
    },
};

use cordyceps::{MpscQueue, mpsc_queue::TryDequeueError};

pub use stats::CoreTasks;
pub use steal::victim_order;

use crate::{
    Config, LEVELS, Platform,
    loom::{AtomicPtr, AtomicU8},
    pad::CachePadded,
    task::{Header, TaskRef},
    timer::Timers,
};
use stats::Counters;

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

/// `spin_loop` hints (`pause`) per idle spin round; the rounds are
/// [`Config::idle_spin_rounds`] (its default's docs give the time).
const SPIN_PER_ROUND: u32 = 64;

/// Everything the executor keeps per core.
pub(crate) struct Core {
    /// Run queues, index = `Priority as usize` (0 = High): intrusive MPSC
    /// queues (`cordyceps`): anyone pushes, the owner pops, a thief or the
    /// balancer pops after winning the queue's consumer flag.
    queues: [MpscQueue<Header>; LEVELS],
    /// Approximate queue lengths (placement, stealing, balancing; not part of
    /// any protocol).
    queued: [PlainAtomicUsize; LEVELS],
    /// Live tasks whose home is this core, by priority (a view for people:
    /// moved with the home on a steal or migration, taken back when the task
    /// is freed; not part of any protocol).
    live: [PlainAtomicUsize; LEVELS],
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
            live: Default::default(),
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

    /// The calling core's index, if it is one of ours.
    pub(crate) fn current_index(&self) -> Option<usize> {
        let c = self.platform.current_core().0 as usize;
        (c < self.cores.len()).then_some(c)
    }

    fn me(&self) -> usize {
        self.current_index()
            .expect("Platform::current_core() is not a core of this executor")
    }

    /// Test access to per-core state.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn core(&self, core: usize) -> &Core {
        &self.cores[core]
    }
}
