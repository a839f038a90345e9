//! `workload=bench`: micro-benchmarks of the executor in TSC cycles.
//!
//! One driver task, pinned to core 0, measures five things one after the
//! other, each as `SAMPLES` samples (after one discarded warm-up sample) of a
//! fixed batch; a sample is the batch's cycles divided by its size, and the
//! figure printed is the **median** of the samples:
//!
//! | key | batch | one op |
//! | --- | --- | --- |
//! | `spawn_cycles` | [`SPAWN_BATCH`] empty tasks spawned pinned to core 0, then the driver yields until all have run | spawn + first poll + completion + free of an empty task (amortised over the batch) |
//! | `yield_cycles` | the driver, alone on core 0, yields [`YIELDS`] times | one `yield_now` (requeue + pick + poll) |
//! | `wake_local_cycles` | the driver and a partner, both pinned to core 0, bounce a turn [`LOCAL_ROUND_TRIPS`] times | **one wake**: a round trip (two wakes, two polls) halved |
//! | `wake_remote_rtt_cycles` | the driver on core 0 and a partner pinned to core 1 bounce a turn [`REMOTE_ROUND_TRIPS`] times | **one round trip** (not halved): two cross-core wakes, each a RESCHED IPI when the other side has gone to sleep |
//! | `steal_cycles` | [`STEAL_BATCH`] empty tasks spawned on core 0 (not pinned) while the driver keeps core 0 busy, so that only the other cores run them | total batch time / tasks stolen: from the moment the thieves are released to the last task's end; steal + poll + completion of an empty task on a thief |
//! | `ipc_rtt_cycles` | the driver on core 0 calls core 1's echo service (`services::echo`) [`IPC_ROUND_TRIPS`] times | **one IPC round trip**: request on the echo port, the service's wake-up and reply on a one-shot, the driver's wake-up |
//!
//! For `steal_cycles` the thieves are kept awake by a spinning task each
//! until the batch is queued, so a thief's wake-up latency (up to one tick:
//! a halted core learns of work on *another* core's queue only at its next
//! tick) is not part of the figure. Every task of that batch runs on another
//! core (the driver does not yield until all are done); the divisor is the
//! number of tasks that saw themselves run on a core other than 0.
//!
//! Two figures come from ring 3: the `ubench` user program measures a null
//! system call (`syscall_cycles`: `getcpu`) and a round trip to `upong`, a
//! second process on core 1, over two mailboxes (`user_ipc_rtt_cycles`),
//! each the median of 31 samples, and sends them to the driver.
//!
//! With one CPU the cross-core figures print `na`. Then the run ends like a `duration`
//! run: `[STATS]`, then `[EXIT] success`. Under QEMU TCG the figures compare
//! commits on one host, not hardware.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use executor::{CoreId, Executor, Platform, Priority, yield_now};

use protocol::sched::{Bench, Figure};

use ipc::SendRight;

use super::turn::Turn;
use crate::arch::report;
use crate::arch::tsc;
use crate::process::{ports, thread};
use crate::sched::KernelPlatform;
use crate::services::echo::{self, EchoRequest};
use crate::{stats, time, verdict};

type Exec = &'static Executor<KernelPlatform>;

/// Samples per figure (odd: the median is one sample).
const SAMPLES: usize = 31;
/// Empty tasks per spawn sample.
const SPAWN_BATCH: usize = 256;
/// Yields per yield sample.
const YIELDS: u64 = 1_000;
/// Round trips per local-wake sample.
const LOCAL_ROUND_TRIPS: u64 = 500;
/// Round trips per cross-core sample (each may cost two IPIs: fewer).
const REMOTE_ROUND_TRIPS: u64 = 100;
/// IPC round trips per sample.
const IPC_ROUND_TRIPS: u64 = 100;
/// Empty tasks per steal sample.
const STEAL_BATCH: usize = 256;

/// Tasks of the current spawn or steal batch that have run.
static FINISHED: AtomicUsize = AtomicUsize::new(0);
/// Tasks of the current steal batch that ran on a core other than 0.
static ELSEWHERE: AtomicUsize = AtomicUsize::new(0);
/// TSC at the end of the latest task of the current steal batch.
static LAST_END: AtomicU64 = AtomicU64::new(0);

/// Spawns the driver on core 0.
pub fn spawn(executor: Exec) {
    executor
        .spawn_pinned(CoreId(0), Priority::Normal, driver(executor))
        .detach();
}

/// Measures everything, prints `[BENCH]`, `[STATS]`, and ends the run.
async fn driver(executor: Exec) {
    let cpus = executor.cores();
    let spawn = median(measure(|| spawn_sample(executor)).await);
    let yields = median(measure(yield_sample).await);
    let wake_local =
        median(measure(|| ping_pong(executor, CoreId(0), LOCAL_ROUND_TRIPS)).await) / 2;
    let (wake_remote, steal, ipc_rtt) = if cpus > 1 {
        let remote = median(measure(|| ping_pong(executor, CoreId(1), REMOTE_ROUND_TRIPS)).await);
        let steal = median(measure(|| steal_sample(executor)).await);
        let echo = echo::service(executor.platform().cpu_of(CoreId(1)))
            .expect("every CPU has an echo service");
        let ipc = median(measure(|| ipc_sample(&echo)).await);
        (
            Figure::Cycles(remote),
            Figure::Cycles(steal),
            Figure::Cycles(ipc),
        )
    } else {
        (Figure::Na, Figure::Na, Figure::Na)
    };
    let (syscall, user_ipc) = user_figures(executor, cpus).await;
    report::line(&Bench {
        cpus: cpus as u64,
        spawn_cycles: Figure::Cycles(spawn),
        yield_cycles: Figure::Cycles(yields),
        wake_local_cycles: Figure::Cycles(wake_local),
        wake_remote_rtt_cycles: wake_remote,
        steal_cycles: steal,
        ipc_rtt_cycles: ipc_rtt,
        syscall_cycles: syscall,
        user_ipc_rtt_cycles: user_ipc,
        samples: SAMPLES as u64,
        statistic: "median",
        tsc_mhz: time::tsc_hz() / 1_000_000,
    });
    stats::settle_ipis();
    stats::print();
    verdict::succeed();
}

/// Runs one warm-up sample, then [`SAMPLES`] samples; each returns cycles
/// per op.
async fn measure<F, Fut>(mut sample: F) -> Vec<u64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = u64>,
{
    sample().await;
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        samples.push(sample().await);
    }
    samples
}

/// The median (the upper one for an even count).
fn median(mut samples: Vec<u64>) -> u64 {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or(0)
}

/// Cycles per spawned empty task (spawn to completion), on core 0.
async fn spawn_sample(executor: Exec) -> u64 {
    FINISHED.store(0, Ordering::Relaxed);
    let start = tsc::read();
    for _ in 0..SPAWN_BATCH {
        executor
            .spawn_pinned(CoreId(0), Priority::Normal, async {
                FINISHED.fetch_add(1, Ordering::Relaxed);
            })
            .detach();
    }
    // FIFO at one priority: one yield puts the driver behind the whole batch.
    while FINISHED.load(Ordering::Relaxed) < SPAWN_BATCH {
        yield_now().await;
    }
    (tsc::read() - start) / SPAWN_BATCH as u64
}

/// Cycles per IPC round trip: a call from the driver (core 0) to core 1's
/// echo service, and its reply.
async fn ipc_sample(echo: &SendRight<EchoRequest>) -> u64 {
    let start = tsc::read();
    for i in 0..IPC_ROUND_TRIPS {
        let answer = echo.call(i).await;
        assert_eq!(answer.ok(), Some(i), "the echo service answers its body");
    }
    (tsc::read() - start) / IPC_ROUND_TRIPS
}

/// The figures measured in ring 3 by the `ubench` program (against `upong`
/// in another process, on core 1): the null system call and the user-to-user
/// round trip. With one CPU both run on core 0 and the round trip is `na`.
async fn user_figures(executor: Exec, cpus: usize) -> (Figure, Figure) {
    let ping = ports::mailbox("ub.ping", 1);
    let pong = ports::mailbox("ub.pong", 1);
    let result = ports::mailbox("ub.result", 1);
    // Kept alive by the registry; the programs find them by name.
    drop((ping, pong));
    let other = CoreId((cpus > 1).into());
    for (name, core) in [("upong", other), ("ubench", CoreId(0))] {
        if let Err(error) = thread::spawn(executor, name, Some(core)) {
            log::error!(target: "BENCH", "cannot start {name}: {error}");
            verdict::fail();
        }
    }
    let Some(report) = result.recv().await else {
        verdict::fail();
    };
    let word = |at: usize| {
        report
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let syscall = Figure::Cycles(word(0).max(1));
    let user_ipc = if cpus > 1 {
        Figure::Cycles(word(8).max(1))
    } else {
        Figure::Na
    };
    (syscall, user_ipc)
}

/// Cycles per `yield_now` of a task alone on its core.
async fn yield_sample() -> u64 {
    let start = tsc::read();
    for _ in 0..YIELDS {
        yield_now().await;
    }
    (tsc::read() - start) / YIELDS
}

/// The driver (core 0) and a partner pinned to `partner_core` bounce a turn
/// `round_trips` times; returns cycles per round trip.
async fn ping_pong(executor: Exec, partner_core: CoreId, round_trips: u64) -> u64 {
    // Side 0 is the driver, side 1 the partner.
    let turn = Arc::new(Turn::new());
    let theirs = Arc::clone(&turn);
    let partner = executor.spawn_pinned(partner_core, Priority::Normal, async move {
        for _ in 0..round_trips {
            theirs.wait(1).await;
            theirs.pass(0);
        }
    });
    let start = tsc::read();
    for _ in 0..round_trips {
        turn.pass(1);
        turn.wait(0).await;
    }
    let cycles = tsc::read() - start;
    // The partner is never aborted: a cancellation is a bug worth a panic.
    partner.await.expect("ping-pong partner cancelled");
    cycles / round_trips
}

/// Cycles per task stolen from core 0 (see the module docs).
async fn steal_sample(executor: Exec) -> u64 {
    let thieves = executor.cores() - 1;
    let awake = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(AtomicBool::new(false));
    let mut spinners = Vec::with_capacity(thieves);
    for core in 1..executor.cores() {
        let (awake, release) = (Arc::clone(&awake), Arc::clone(&release));
        spinners.push(
            executor.spawn_pinned(CoreId(core as u32), Priority::Normal, async move {
                awake.fetch_add(1, Ordering::AcqRel);
                while !release.load(Ordering::Acquire) {
                    core::hint::spin_loop();
                }
            }),
        );
    }
    // Every thief is in its spinner: none is halted when the batch lands.
    while awake.load(Ordering::Acquire) < thieves {
        core::hint::spin_loop();
    }
    FINISHED.store(0, Ordering::Relaxed);
    ELSEWHERE.store(0, Ordering::Relaxed);
    LAST_END.store(0, Ordering::Relaxed);
    for _ in 0..STEAL_BATCH {
        executor
            .spawn_on(CoreId(0), Priority::Normal, async move {
                if executor.platform().current_core() != CoreId(0) {
                    ELSEWHERE.fetch_add(1, Ordering::Relaxed);
                }
                LAST_END.fetch_max(tsc::read(), Ordering::Relaxed);
                FINISHED.fetch_add(1, Ordering::Release);
            })
            .detach();
    }
    let start = tsc::read();
    release.store(true, Ordering::Release);
    // Keep core 0 busy (no yield) until the thieves have run the batch.
    while FINISHED.load(Ordering::Acquire) < STEAL_BATCH {
        core::hint::spin_loop();
    }
    for spinner in spinners {
        spinner.await.expect("steal-bench spinner cancelled");
    }
    let stolen = ELSEWHERE.load(Ordering::Relaxed).max(1) as u64;
    LAST_END.load(Ordering::Relaxed).saturating_sub(start) / stolen
}
