//! The per-core cooperative async executor: `no_std` + `alloc`, hardware-blind.
//!
//! It reaches the machine only through [`Platform`] (which core am I, wake
//! core K, now, halt until an interrupt, run with interrupts off). The kernel
//! implements it with the Local APIC; host tests implement it with a recording
//! fake and with std threads (the `host` module, feature `host`).
//!
//! # Tasks, wakes, run queues
//!
//! A task is a pinned boxed future with an id, a [`Priority`] and a *home
//! core*. Each core has one bounded lock-free run queue per priority level
//! (`queue.rs`: Vyukov's MPMC array queue, allocated up front). A task's waker
//! sets the task's `QUEUED` bit and, if it won that bit and the task is not
//! being polled, pushes the task onto its home core's queue: a task sits in at
//! most one queue, is polled by one core at a time, and a wake never
//! allocates, blocks, frees or panics (the state machine is in `task.rs`).
//! Queues hold `max_tasks + cores + 1` entries, so a wake never finds one full.
//!
//! # The core loop
//!
//! [`Executor::run`]: pick a local task (priorities below) → else steal →
//! else the idle protocol; repeat.
//!
//! - **Priorities.** [`Priority::High`] is polled before `Normal`, `Normal`
//!   before `Low`. *Anti-starvation rule:* each core counts, per lower level,
//!   the consecutive picks that skipped it while it had work; a level skipped
//!   [`Config::starvation_limit`] times in a row gets the next pick (the
//!   lowest such level first). So a queued task of any level is picked within
//!   about `LEVELS × (starvation_limit + 1)` picks of its core.
//! - **Stealing.** A core with empty queues tries at most
//!   [`Config::steal_attempts`] victims, in the order [`victim_order`] gives
//!   (starting at a per-core rotating offset, so every core is reachable), and
//!   takes about half (rounded up) of each level of the first victim that has
//!   work. Stolen tasks are re-homed to the thief. Tasks spawned with
//!   [`Executor::spawn_pinned`] are never stolen or migrated.
//! - **Placement.** [`Executor::spawn`] (the `enqueue_task` rule) puts a new
//!   task on the core with the shortest queue
//!   ([`Executor::least_loaded_core`]).
//! - **Balancing.** [`Executor::balance_load`], run from core 0's tick every
//!   [`Config::balance_interval_ns`] (100 ms), moves half the difference from
//!   the longest to the shortest queue while they differ by more than
//!   [`Config::balance_threshold`] (2). Migrated tasks keep `QUEUED` set while
//!   they move, so none is lost or duplicated.
//! - A remote enqueue (wake, spawn, migration) ends with the idle protocol's
//!   notification: at most one `wake_core` (RESCHED IPI) per sleep episode.
//!
//! # Idle protocol
//!
//! Per core: `state` ∈ {`AWAKE`, `SLEEPING`} and the flag `ipi_pending`.
//!
//! ```text
//!                  found work / woke up:
//!        ┌──────── state = AWAKE, ipi_pending = false ◄─────────────┐
//!        ▼                                                          │
//!   ┌─────────┐ no task, no steal   ┌──────────────┐  recheck: all  ┌────────┐
//!   │  AWAKE  │ ──────────────────► │   SLEEPING   │  own queues    │ HALTED │
//!   │ (polls) │ state = SLEEPING    │ (announced)  │  empty:        │ sti;hlt│
//!   └─────────┘ (SeqCst) + fence    │ cli; recheck │ ─────────────► │ /park  │
//!        ▲                          └──────────────┘  halt (atomic) └────────┘
//!        │   recheck finds work: sti, no halt │                         │
//!        └────────────────────────────────────┘     interrupt / IPI ────┘
//!
//!   waker (any core or IRQ):  push task onto target's queue
//!                             fence(SeqCst); load target.state
//!                             SLEEPING and CAS ipi_pending false→true wins
//!                                 → platform.wake_core(target)   (once per episode)
//!                             otherwise (AWAKE, or IPI already pending,
//!                                 or the waker runs on the target) → nothing
//! ```
//!
//! Why no wake-up is lost: the core stores `SLEEPING` then fences then reads
//! its queue indices; the waker claims a queue slot then fences then reads
//! `state`. Of the two `SeqCst` fences one comes first, so either the core's
//! recheck sees the claimed slot (it does not halt) or the waker sees
//! `SLEEPING` (it sends the IPI, which ends the halt: `sti; hlt` keeps the
//! interrupt pending across the recheck→halt step, and a host thread's unpark
//! token does the same). The recheck looks at the core's own queues only: work
//! pushed to another core's queue is that core's to run and notifies it.
//! The loom model `loom_models::wake_vs_idle` checks this exact code.
//!
//! # Timers
//!
//! [`Executor::sleep`]/[`sleep_until`](Executor::sleep_until) arm a timer on the
//! list of the core that first polls them; [`Executor::on_timer_tick`] (the
//! kernel's timer interrupt, every core) fires everything due
//! (`timer.rs`).
//!
//! # Counters ([`CoreStats`])
//!
//! `polls`: every poll. `tasks_run`: distinct tasks polled on this core (a task
//! counts once per run of consecutive polls on this core: each task remembers
//! the last core that polled it, and a poll on a different core counts).
//! `yields`: [`yield_now`] calls. `wakes_local`/`wakes_remote`: effective
//! wakes (the ones that set `QUEUED`; coalesced wakes are not counted), on the
//! task's home core, split by whether the waker ran on that core. `steals`:
//! tasks this core took by stealing. `migrations`: tasks moved *to* this core
//! by `balance_load`. `idle_halts`: halts entered. `resched_requested`:
//! `wake_core` calls targeting this core. `queue_full`: pushes that found the
//! queue full (must stay 0).
//!
//! # Primitives for services
//!
//! [`sync`]: wait queues, wait cells, mutexes, semaphores (from
//! `maitake-sync`) and one-shot / bounded MPSC channels (ours), generic over
//! the raw lock so the kernel plugs in an IRQ-safe one; interrupt handlers may
//! signal them.
#![cfg_attr(not(any(test, feature = "host")), no_std)]

extern crate alloc;

mod join;
mod loom;
mod queue;
mod sched;
mod task;
mod timer;

pub mod sync;

#[cfg(any(test, feature = "host"))]
pub mod host;

#[cfg(all(test, loom))]
mod loom_models;
#[cfg(all(test, not(loom)))]
mod tests;

pub use join::JoinHandle;
pub use sched::{Executor, victim_order};
pub use task::{YieldNow, yield_now};
pub use timer::Sleep;

/// Identifies a CPU core: a dense index `0..cores`, not an APIC id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoreId(pub u32);

/// Number of priority levels.
pub const LEVELS: usize = 3;

/// A task's priority: higher levels are polled first (anti-starvation rule in
/// the crate docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum Priority {
    /// Polled first.
    High = 0,
    /// The default.
    #[default]
    Normal = 1,
    /// Polled when nothing else is ready (or by the anti-starvation rule).
    Low = 2,
}

/// What the executor needs from the machine it runs on.
pub trait Platform: Send + Sync + 'static {
    /// The core the caller runs on. Called from task context and from
    /// interrupt handlers (wakers); a thread that is not one of the
    /// executor's cores returns an index `>= cores`.
    fn current_core(&self) -> CoreId;

    /// Wakes `core` from its halt (x86_64: a RESCHEDULE IPI). The executor
    /// calls it at most once per sleep episode of `core`, and only while
    /// `core` has announced it is going to sleep.
    fn wake_core(&self, core: CoreId);

    /// Monotonic time, in nanoseconds.
    fn now_ns(&self) -> u64;

    /// The idle step: with interrupts disabled, run `still_idle()`; if it
    /// returns true, halt until an interrupt, re-enabling interrupts and
    /// halting as one step (`sti; hlt`); otherwise just re-enable interrupts
    /// and return. A host parks the thread (an earlier `wake_core`'s unpark
    /// token makes the park return at once).
    fn halt_if(&self, still_idle: &mut dyn FnMut() -> bool);

    /// Runs `f` with this core's interrupts disabled (restoring the previous
    /// state afterwards); a host just runs it. Guards state shared between
    /// task context and the timer interrupt of the same core.
    fn without_interrupts<R>(&self, f: impl FnOnce() -> R) -> R
    where
        Self: Sized;
}

/// Tuning constants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Most tasks alive at once (spawned, not yet freed). Sizes every run
    /// queue (`max_tasks + cores + 1`, rounded up to a power of two), so that
    /// a wake can never find its queue full.
    pub max_tasks: usize,
    /// How often core 0's tick runs `balance_load` (default 100 ms).
    pub balance_interval_ns: u64,
    /// `balance_load` migrates when the longest and shortest queues differ by
    /// more than this (default 2).
    pub balance_threshold: usize,
    /// Consecutive picks a non-empty lower level may be skipped before it
    /// gets one (default 8).
    pub starvation_limit: u32,
    /// Victims tried per steal round (default `usize::MAX`: every other core).
    pub steal_attempts: usize,
    /// Initial capacity of each core's timer list (it grows, in task context,
    /// if needed).
    pub timer_capacity: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_tasks: 4096,
            balance_interval_ns: 100_000_000,
            balance_threshold: 2,
            starvation_limit: 8,
            steal_attempts: usize::MAX,
            timer_capacity: 256,
        }
    }
}

/// A snapshot of one core's counters (definitions in the crate docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoreStats {
    /// Every poll of a task.
    pub polls: u64,
    /// Distinct tasks polled here (once per arrival on this core).
    pub tasks_run: u64,
    /// `yield_now` calls.
    pub yields: u64,
    /// Effective wakes of tasks homed here, by a waker on this core.
    pub wakes_local: u64,
    /// Effective wakes of tasks homed here, by a waker elsewhere.
    pub wakes_remote: u64,
    /// Tasks this core stole.
    pub steals: u64,
    /// Tasks `balance_load` moved to this core.
    pub migrations: u64,
    /// Halts entered by the idle protocol.
    pub idle_halts: u64,
    /// `Platform::wake_core` calls targeting this core.
    pub resched_requested: u64,
    /// Pushes that found a queue full (must stay 0).
    pub queue_full: u64,
}

/// Why a spawn failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// `Config::max_tasks` tasks are alive.
    TooManyTasks {
        /// The limit.
        max: usize,
    },
    /// The target core does not exist.
    NoSuchCore(CoreId),
}

impl core::fmt::Display for SpawnError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooManyTasks { max } => {
                write!(
                    f,
                    "task limit reached ({max} tasks alive, Config::max_tasks)"
                )
            }
            Self::NoSuchCore(c) => write!(f, "no core {}", c.0),
        }
    }
}
