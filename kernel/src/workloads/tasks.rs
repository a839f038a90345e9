//! Tasks A–D: the first kernel services, and the default workload.
//!
//! Each is an `async fn` loop: a little work, then `yield_now().await`, and at
//! most every 100 ms a `[SCHED][coreN] run X` line naming the core it ran on.
//! They have different priorities and are placed by the scheduler (shortest
//! queue), not pinned, so with several CPUs they spread over several cores.

use executor::{Executor, Priority, yield_now};

use crate::sched::KernelPlatform;
use protocol::sched::TaskRan;

use crate::arch::percpu;
use crate::arch::report;
use crate::time;

/// How often a task may print its `run` line.
const LOG_INTERVAL_NS: u64 = 100_000_000;

/// The four tasks: name, priority, units of work per round.
const TASKS: [(&str, Priority, u32); 4] = [
    ("A", Priority::High, 2_000),
    ("B", Priority::Normal, 4_000),
    ("C", Priority::Normal, 8_000),
    ("D", Priority::Low, 4_000),
];

/// Spawns tasks A–D.
pub fn spawn(executor: &'static Executor<KernelPlatform>) {
    for (name, priority, work) in TASKS {
        executor.spawn(priority, named_task(name, work)).detach();
    }
}

/// One of tasks A–D: work, yield, and now and then say where it runs.
async fn named_task(name: &'static str, work: u32) {
    let mut last_log_ns = 0;
    loop {
        busy_work(work);
        let now = time::uptime_ns();
        if now - last_log_ns >= LOG_INTERVAL_NS {
            last_log_ns = now;
            let core = percpu::this_cpu().index();
            report::line(&TaskRan { core, name });
        }
        yield_now().await;
    }
}

/// Some CPU work the compiler cannot remove.
pub fn busy_work(units: u32) {
    let mut x = 0u64;
    for i in 0..units {
        x = core::hint::black_box(x.wrapping_mul(31).wrapping_add(u64::from(i)));
    }
}
