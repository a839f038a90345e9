//! `workload=burst`: a 100,000-task spawn burst (Tokio's `spawn_many_local`
//! at kernel scale; issue "Executor v2", finding 1).
//!
//! One driver task on core 0 spawns [`TASKS`] tasks with
//! [`Executor::spawn`] (placement spreads them: the spawning core until it
//! is overloaded, then two random choices; idle cores steal). Each task
//! marks its own slot in a table. The driver then waits, yielding, until
//! every task has run and been freed, and prints one machine-read line:
//!
//! ```text
//! [BURST] tasks=100000 ran=100000 once=100000 live_tasks=0 spawn_ms=… total_ms=…
//! ```
//!
//! `ran` counts the tasks' runs, `once` the slots marked exactly once, and
//! `live_tasks` the executor's live tasks besides those alive when the burst
//! began (the driver, the kernel services). The run then
//! prints `[STATS]` and ends with success. The table (100 KB) is leaked: the
//! run ends right after.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use executor::{CoreId, Executor, Priority, yield_now};

use crate::arch::report;
use crate::sched::KernelPlatform;
use crate::{stats, time, verdict};

type Exec = &'static Executor<KernelPlatform>;

/// Tasks in the burst.
const TASKS: usize = 100_000;
/// How long the driver waits for the last tasks to be freed after they ran.
const FREE_WAIT_MS: u64 = 1_000;

/// Tasks of the burst that have run.
static RAN: AtomicUsize = AtomicUsize::new(0);

/// Spawns the driver on core 0.
pub fn spawn(executor: Exec) {
    executor
        .spawn_pinned(CoreId(0), Priority::Normal, drive(executor))
        .detach();
}

async fn drive(executor: Exec) {
    let slots: &'static [AtomicU8] = Box::leak(
        (0..TASKS)
            .map(|_| AtomicU8::new(0))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    // The driver and the services: what lives on after the burst.
    let before = executor.live_tasks();
    let start_ms = time::uptime_ms();
    for slot in slots {
        executor
            .spawn(Priority::Normal, async move {
                slot.fetch_add(1, Ordering::Relaxed);
                RAN.fetch_add(1, Ordering::Relaxed);
            })
            .detach();
    }
    let spawn_ms = time::uptime_ms() - start_ms;
    while RAN.load(Ordering::Relaxed) < TASKS {
        yield_now().await;
    }
    // A task is freed right after its poll returns; give stragglers on other
    // cores a moment.
    let deadline = time::uptime_ms() + FREE_WAIT_MS;
    while executor.live_tasks() > before && time::uptime_ms() < deadline {
        yield_now().await;
    }
    let total_ms = time::uptime_ms() - start_ms;
    let once = slots
        .iter()
        .filter(|s| s.load(Ordering::Relaxed) == 1)
        .count();
    report::line(&protocol::sched::Burst {
        tasks: TASKS as u64,
        ran: RAN.load(Ordering::Relaxed) as u64,
        once: once as u64,
        live_tasks: executor.live_tasks().saturating_sub(before) as u64,
        spawn_ms,
        total_ms,
    });
    stats::settle_ipis();
    stats::print();
    verdict::succeed();
}
