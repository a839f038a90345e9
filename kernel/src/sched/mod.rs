//! The scheduler: one [`executor::Executor`] for the machine, one run loop per
//! CPU, and the supervisor that ends timed runs.
//!
//! Start-up: the BSP creates the executor over the CPUs that came online,
//! spawns the workload through the function `main` hands to [`start`] (the
//! workloads live a layer above, in the `workloads` module; placement picks the
//! core with the shortest queue), posts [`enter`] to every AP's idle loop,
//! and enters its own run loop. From
//! then on the timer interrupt of each CPU calls [`on_timer_tick`], which
//! `start` registers as `arch`'s tick handler.

mod platform;

use alloc::vec::Vec;

use executor::{Config, CoreId, CoreStats, Executor, Priority};
use kernel::cmdline::KernelArgs;
use spin::Once;

use crate::arch::percpu::IdleCall;
use crate::arch::smp;
use crate::{stats, time, verdict};
pub use platform::KernelPlatform;

static EXECUTOR: Once<Executor<KernelPlatform>> = Once::new();

/// The executor, once [`start`] has created it.
pub fn executor() -> Option<&'static Executor<KernelPlatform>> {
    EXECUTOR.get()
}

/// Starts the executors on every online CPU and runs `args.workload`,
/// spawned by `spawn_workload` (the `workloads` module's `spawn`: the workloads sit above
/// `sched`, so `main` passes them in). Never returns: the boot CPU becomes
/// executor core 0.
pub fn start(
    args: &KernelArgs<'_>,
    spawn_workload: fn(&'static Executor<KernelPlatform>, &KernelArgs<'_>),
) -> ! {
    let cpus: Vec<u32> = smp::online_cpus().collect();
    let executor = EXECUTOR
        .call_once(|| Executor::new(KernelPlatform::new(&cpus), cpus.len(), Config::default()));
    crate::arch::set_tick_handler(on_timer_tick);
    stats::set_core_stats_provider(core_stats);
    if args.duration_ms.is_some() || args.stats_interval_ms.is_some() {
        executor
            .spawn(
                Priority::High,
                supervisor(executor, args.duration_ms, args.stats_interval_ms),
            )
            .detach();
    }
    spawn_workload(executor, args);
    static ENTER: IdleCall = IdleCall::new(enter);
    for &cpu in &cpus[1..] {
        if let Err(error) = smp::run_on(cpu, &ENTER) {
            panic!("cannot start the executor on cpu {cpu}: {error:?}");
        }
    }
    log::info!(
        target: "SCHED",
        "executors running on {} cores, workload {:?}",
        cpus.len(),
        args.workload
    );
    executor.run()
}

/// What an AP runs when the BSP posts it: its executor loop, for good.
fn enter() {
    if let Some(executor) = executor() {
        executor.run();
    }
}

/// Called by every CPU's timer interrupt.
fn on_timer_tick() {
    if let Some(executor) = executor() {
        executor.on_timer_tick();
    }
}

/// The executor counters of CPU `cpu`, if it runs an executor core.
fn core_stats(cpu: u32) -> Option<CoreStats> {
    let executor = executor()?;
    let cores = executor.cores() as u32;
    (0..cores)
        .map(CoreId)
        .find(|&core| executor.platform().cpu_of(core) == cpu)
        .map(|core| executor.stats(core))
}

/// Ends timed runs and prints periodic statistics (`duration=`, `stats=`).
/// A run's `duration` counts from here, when the workload starts, not from
/// boot: under a loaded host, calibration and bring-up can take seconds, and
/// a `duration=2` run counted from boot once left its tasks 7 ms.
async fn supervisor(
    executor: &'static Executor<KernelPlatform>,
    duration_ms: Option<u64>,
    stats_interval_ms: Option<u64>,
) {
    let started_ms = time::uptime_ms();
    let duration_ms = duration_ms.map(|duration| started_ms + duration);
    let mut next_stats_ms = stats_interval_ms.map(|every| started_ms + every);
    loop {
        let wake_ms = match (duration_ms, next_stats_ms) {
            (Some(end), Some(next)) => end.min(next),
            (Some(end), None) => end,
            (None, Some(next)) => next,
            (None, None) => return,
        };
        executor.sleep_until(wake_ms * 1_000_000).await;
        let now = time::uptime_ms();
        // A periodic report that came due before the end is printed even if
        // this wake-up came late, past the end (a busy host delays it): one
        // report per wake-up, then the schedule skips what has passed.
        if let (Some(next), Some(every)) = (next_stats_ms.as_mut(), stats_interval_ms)
            && *next <= now
            && duration_ms.is_none_or(|end| *next < end)
        {
            stats::print();
            while *next <= now {
                *next += every;
            }
        }
        if duration_ms.is_some_and(|end| now >= end) {
            // Let IPIs in flight land: the final books must balance exactly.
            stats::settle_ipis();
            stats::print();
            verdict::succeed();
        }
    }
}
