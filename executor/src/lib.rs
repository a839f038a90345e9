//! The per-core cooperative async executor: `no_std` + `alloc`, hardware-blind.
//!
//! It reaches the machine only through [`Platform`] (which core am I, wake
//! core K, now, halt until an interrupt, run with interrupts off, and — for
//! the platform's reports — which task this core works on). The kernel
//! implements it with the Local APIC; host tests implement it with a recording
//! fake, with std threads (the `host` module, feature `host`) and, in the loom
//! models, with loom threads whose interrupts behave like x86's.
//!
//! # Tasks
//!
//! A task is **one heap block** holding its header (state word, run-queue
//! links, id, priority, home core), its future and, once it finishes, its
//! output, which the [`JoinHandle`] reads from the same block (`task.rs`, as
//! in `async-task` and Tokio's task cell). The state word carries the flags
//! *and* the reference count, so a wake is one compare-and-swap, never an
//! allocation, a lock or a free. [`JoinHandle::abort`] cancels a task; a
//! task that can never be woken again (every waker dropped) is cancelled too,
//! and its `JoinHandle` resolves with [`JoinError::Cancelled`] rather than
//! hang. Freeing always happens in task context: a waker dropped in an
//! interrupt handler hands the task to a core instead.
//!
//! # Run queues
//!
//! Per core, one **unbounded intrusive MPSC queue per priority level**
//! (`cordyceps::MpscQueue`, loom-tested upstream; [ADR 0002]): a push links
//! the task's own header in, so a queue can never be full and an idle queue
//! costs a stub node. Anyone pushes (wakers on any core, interrupt handlers,
//! spawns); the owning core pops; a thief or the balancer pops after winning
//! the queue's consumer flag (the owner meanwhile sees "busy" and looks
//! elsewhere). Plus a **LIFO slot** per core: a task woken by code running on
//! its own core runs next, ahead of the queue (cache-warm; the ping-pong fast
//! path), at most [`MAX_LIFO_POLLS`] times in a row.
//!
//! # The core loop
//!
//! [`Executor::run`]: the LIFO slot → the local queues by priority → steal →
//! spin a little ([`Config::idle_spin_rounds`]) → the idle protocol; repeat.
//!
//! - **Priorities.** [`Priority::High`] is polled before `Normal`, `Normal`
//!   before `Low`. *Anti-starvation rule:* each core counts, per lower level,
//!   the consecutive picks that skipped it while it had work; a level skipped
//!   [`Config::starvation_limit`] times in a row gets the next pick (the
//!   lowest such level first).
//! - **Stealing.** A core with nothing local tries at most
//!   [`Config::steal_attempts`] victims, in the order [`victim_order`] gives
//!   (a rotating start, so every core is reachable), and takes about half of
//!   each level of the first victim that has work, at most [`STEAL_BATCH`]
//!   per level. Stolen tasks are re-homed to the thief. Tasks spawned with
//!   [`Executor::spawn_pinned`] are never stolen or migrated.
//! - **Placement**, O(1) ([`Executor::place`]): the spawning core unless it
//!   is overloaded (more than [`Config::spawn_local_limit`] tasks queued, and
//!   that many more than a randomly picked other core, which then gets the
//!   task); from a thread that is not a core, the shorter queue of two cores
//!   picked at random.
//! - **Balancing.** [`Executor::balance_load`] runs in core 0's loop (task
//!   context, never the timer interrupt) every [`Config::balance_interval_ns`]:
//!   it moves half the difference from the longest to the shortest queue
//!   while they differ by more than [`Config::balance_threshold`].
//!
//! # Idle protocol
//!
//! One state word per core: `AWAKE`, or `SLEEPING` with or without the
//! `NOTIFIED` bit. Both sides change it only with atomic read-modify-writes,
//! so every change is totally ordered and each reads the newest value.
//!
//! ```text
//!                 ┌────────────── state.swap(AWAKE) ◄─────────────────────┐
//!                 ▼                                                       │
//!           ┌──────────┐  no task, spin over    ┌───────────┐ recheck:    │
//!           │  AWAKE   │ ─────────────────────► │ SLEEPING  │ all empty   │
//!           │ (polls)  │  state.swap(SLEEPING)  │ cli;      │ ──► sti;hlt ┤
//!           └──────────┘                        │ recheck   │             │
//!                ▲  recheck finds work: sti ────┴───────────┘  interrupt ─┘
//!                │                                   │ first waker's fetch_or:
//!                │                                   ▼
//!                │                         ┌───────────────────┐
//!                └──── swap(AWAKE) ─────── │ SLEEPING|NOTIFIED │ (one IPI sent)
//!                                          └───────────────────┘
//!
//!   waker (any core, any context), after its push onto the target's queue:
//!       prev = target.state.fetch_or(NOTIFIED)
//!       prev == SLEEPING  → platform.wake_core(target)   (exactly one per episode)
//!       otherwise (AWAKE, or already NOTIFIED) → nothing
//!   a waker running on the target itself never notifies (not halted, or an
//!   interrupt that ends the halt / precedes the recheck).
//! ```
//!
//! Why no wake-up is lost, in every sleep episode: the core's
//! `swap(SLEEPING)` and each waker's `fetch_or` are RMWs of one word. If the
//! waker's comes later, it reads `SLEEPING` (or `SLEEPING|NOTIFIED`, when
//! another waker of this episode already sent the IPI) — an IPI for this
//! episode is sent after the push, and since the recheck runs with
//! interrupts off and `sti; hlt` is one step, it is either pending at the
//! halt (ends it at once) or arrives during it. If the waker's comes
//! earlier, the core's `swap(SLEEPING)` (Acquire) reads it or a later RMW of
//! the release sequence it heads, so the push is visible to the recheck and
//! the core does not halt. `NOTIFIED` is erased by the core's own next
//! `swap` — it cannot outlive its episode, which was the executor-v1 bug
//! (a separate `ipi_pending` flag set late, by a waker that had seen the
//! previous episode, survived into the next one and suppressed its IPI). An
//! IPI taken while the core is awake is simply gone; the models check with
//! a platform where that is so (`loom_models.rs`).
//!
//! # Timers
//!
//! [`Executor::sleep`]/[`sleep_until`](Executor::sleep_until) arm an
//! intrusive timer entry that lives inside the [`Sleep`] future, on the list
//! of the core that first polls it; [`Executor::on_timer_tick`] (the kernel's
//! timer interrupt, every core) unlinks what is due under the list's lock and
//! wakes it after releasing the lock: the tick never allocates, frees or runs
//! a waker under a lock (`timer.rs`). [`Executor::timeout`] races a future
//! against a deadline.
//!
//! # Counters ([`CoreStats`])
//!
//! `polls`: every poll. `tasks_run`: distinct tasks polled on this core (a task
//! counts once per run of consecutive polls on this core). `yields`:
//! [`yield_now`] calls. `wakes_local`/`wakes_remote`: effective wakes (the
//! ones that set `QUEUED`; coalesced wakes are not counted) of tasks homed on
//! this core, split by whether the waker ran on that core; a wake during the
//! task's own poll (a yield) counts as local. `steals`: tasks this core took
//! by stealing. `migrations`: tasks moved *to* this core by `balance_load`.
//! `idle_halts`: halts entered. `resched_requested`: `wake_core` calls
//! targeting this core. `lifo_polls`: polls of a task taken from the LIFO
//! slot.
//!
//! # Primitives for services
//!
//! [`sync`]: wait queues, wait cells, mutexes, semaphores (from
//! `maitake-sync`) and one-shot / bounded MPSC channels (ours), generic over
//! the raw lock so the kernel plugs in an IRQ-safe one; interrupt handlers may
//! signal them.
//!
//! [ADR 0002]: ../../docs/adr/0002-executor-run-queues.md
#![cfg_attr(not(any(test, feature = "host")), no_std)]

extern crate alloc;

mod ipi;
mod join;
// The workspace's one loom shim (`ksync::loom`): under `--cfg loom` the
// protocol atomics and cells below are loom's.
use ksync::loom;
mod pad;
mod sched;
mod task;
mod timer;

pub mod sync;

#[cfg(any(test, feature = "host"))]
pub mod host;

#[cfg(all(test, loom))]
mod loom_models;
#[cfg(all(test, loom))]
mod loom_timer;
#[cfg(all(test, not(loom)))]
mod tests;

pub use ipi::IpiLatch;
pub use join::{JoinError, JoinHandle};
pub use sched::{CoreTasks, Executor, MAX_LIFO_POLLS, STEAL_BATCH, victim_order};
pub use task::{YieldNow, yield_now};
pub use timer::{Elapsed, Sleep, Timeout};

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
    /// calls it exactly once per sleep episode of `core` that has work pushed
    /// to it, and only while `core` has announced it is going to sleep. It
    /// may be taken while the core is already awake again (and be lost then):
    /// the protocol does not rely on it surviving.
    fn wake_core(&self, core: CoreId);

    /// Monotonic time, in nanoseconds.
    fn now_ns(&self) -> u64;

    /// The idle step: with interrupts disabled, run `still_idle()`; if it
    /// returns true, halt until an interrupt, re-enabling interrupts and
    /// halting as one step (`sti; hlt`); otherwise just re-enable interrupts
    /// and return. Only an interrupt still pending at the halt, or arriving
    /// during it, ends it.
    fn halt_if(&self, still_idle: &mut dyn FnMut() -> bool);

    /// Runs `f` with this core's interrupts disabled (restoring the previous
    /// state afterwards); a host just runs it. Guards state shared between
    /// task context and the timer interrupt of the same core.
    fn without_interrupts<R>(&self, f: impl FnOnce() -> R) -> R
    where
        Self: Sized;

    /// The calling core starts work on the task with id `task` (`Some`:
    /// polling it, or dropping its future when it was cancelled, or its
    /// output) or has finished it (`None`). Called by the core's own loop,
    /// around each task it picks; the id is the one
    /// [`JoinHandle::id`] returns. The default ignores it; the kernel records
    /// it per CPU, so that a panic or exception report names the task.
    fn set_current_task(&self, task: Option<u64>) {
        let _ = task;
    }
}

/// Tuning constants. Every default is a named constant with its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// An optional admission limit: [`Executor::try_spawn`] and
    /// [`Executor::try_spawn_on`] refuse with [`SpawnError::TooManyTasks`]
    /// while this many tasks are alive. `None` (the default): no limit but
    /// memory. [`Executor::spawn`] never consults it and never fails for
    /// lack of room.
    pub max_tasks: Option<usize>,
    /// How often core 0's loop runs `balance_load` (default 100 ms).
    pub balance_interval_ns: u64,
    /// `balance_load` migrates when the longest and shortest queues differ by
    /// more than this (default 2).
    pub balance_threshold: usize,
    /// Consecutive picks a non-empty lower level may be skipped before it
    /// gets one (default 8).
    pub starvation_limit: u32,
    /// Victims tried per steal round (default `usize::MAX`: every other core).
    pub steal_attempts: usize,
    /// [`Executor::spawn`] keeps a new task on the calling core while that
    /// core has at most this many tasks queued, or at most this many more
    /// than a randomly picked other core ([`SPAWN_LOCAL_LIMIT`]).
    pub spawn_local_limit: usize,
    /// Rounds of spinning (each a short `spin_loop` burst followed by a look
    /// at the local queues and a steal attempt) before a core with no work
    /// halts ([`IDLE_SPIN_ROUNDS`]).
    pub idle_spin_rounds: u32,
}

/// Default [`Config::spawn_local_limit`]: a burst of spawns stays on the
/// spawning core (cache-warm, no wake-up of another core) until it has this
/// many tasks queued, and this many more than a random other core; beyond,
/// placement spreads them, and idle cores steal.
pub const SPAWN_LOCAL_LIMIT: usize = 64;

/// Default [`Config::idle_spin_rounds`]: 16 rounds of 64 `pause`s, each
/// followed by a look at the local queues and a steal attempt. A `pause`
/// costs about 10 cycles on older x86 and about 140 on Skylake and later, so
/// this is roughly 5–50 µs at 3 GHz (less under QEMU TCG, where `pause` is
/// nearly free): enough to catch the next task of a burst or a ping-pong
/// partner's reply without the cost of a halt and a wake-up IPI, short
/// enough not to matter for an idle machine, which then halts.
pub const IDLE_SPIN_ROUNDS: u32 = 16;

impl Default for Config {
    fn default() -> Self {
        Self {
            max_tasks: None,
            balance_interval_ns: 100_000_000,
            balance_threshold: 2,
            starvation_limit: 8,
            steal_attempts: usize::MAX,
            spawn_local_limit: SPAWN_LOCAL_LIMIT,
            idle_spin_rounds: IDLE_SPIN_ROUNDS,
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
    /// Polls of a task taken from the LIFO slot.
    pub lifo_polls: u64,
}

/// Why a spawn failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// `Config::max_tasks` tasks are alive (the optional admission limit).
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
