//! The workloads selected with `workload=`, each a test of one part of the
//! scheduler that the host checks through the lines it prints:
//!
//! | workload | what | printed |
//! | --- | --- | --- |
//! | `tasks` | tasks A–D (default) | `[SCHED][coreN] run X` |
//! | `imbalance` | 64 yield loops all spawned on core 0: stealing and balancing must spread them | per-core `tasks_run`, `steals`, `migrations` in `[STATS]` |
//! | `sleep` | 1000 tasks sleeping random durations up to 1.5 s | `[SLEEP] sleepers= woke= early= late= max_late_us=` |
//! | `pingpong` | pairs of tasks on different cores waking each other | `[PINGPONG] pairs= round_trips= expected=` |
//! | `bench` | the executor's costs, measured with the TSC ([`bench`]) | `[BENCH] …` |
//! | `burst` | a 100,000-task spawn burst ([`burst`]) | `[BURST] …` |
//! | `ipc` | clients on every core calling services on other cores ([`ipc`]) | `[IPC] calls= replies= expected= max_rtt_us=` |
//! | `user` | user programs in ring 3 ([`user`]) | `[USER][coreN] run yield_loop`, `[USER] … killed: …`, `[USER] result …` |
//! | `syscallstress` | user threads making hostile system calls ([`user`]) | `[SYSCALLSTRESS] …` |
//! | `ipcstress` | services on every core calling each other at random, full and closed ports ([`ipcstress`]) | `[IPCSTRESS] …` |
//!
//! They sit a layer above `sched` ([ADR 0004](../../../docs/adr/0004-kernel-layers.md)):
//! they spawn onto its executor, and `main` hands [`spawn`] to `sched::start`.

mod bench;
mod burst;
mod ipc;
mod ipcstress;
mod tasks;
mod turn;
mod user;

use alloc::sync::Arc;
use alloc::vec::Vec;

use executor::{CoreId, Executor, Priority, yield_now};
use kernel::cmdline::{KernelArgs, Workload};
use kernel::config::SCHED_HZ;
use kernel::sync::mpsc;

use crate::arch::report;
use crate::sched::KernelPlatform;
use crate::time;
use turn::Turn;

type Exec = &'static Executor<KernelPlatform>;

/// Spawns the workload `args` name.
pub fn spawn(executor: Exec, args: &KernelArgs<'_>) {
    match args.workload {
        Workload::Tasks => tasks::spawn(executor),
        Workload::Imbalance => spawn_imbalance(executor),
        Workload::Sleep => {
            executor
                .spawn(Priority::Normal, sleepers(executor))
                .detach();
        }
        Workload::PingPong => {
            executor
                .spawn(Priority::Normal, ping_pong(executor))
                .detach();
        }
        Workload::Bench => bench::spawn(executor),
        Workload::Burst => burst::spawn(executor),
        Workload::Ipc => ipc::spawn(executor),
        Workload::IpcStress => ipcstress::spawn(executor, args.duration_ms),
        Workload::User => user::spawn(executor),
        Workload::SyscallStress => user::spawn_syscall_stress(executor, args.duration_ms),
    }
}

/// Tasks of the `imbalance` workload.
const IMBALANCE_TASKS: usize = 64;

fn spawn_imbalance(executor: Exec) {
    for _ in 0..IMBALANCE_TASKS {
        executor
            .spawn_on(CoreId(0), Priority::Normal, async {
                loop {
                    tasks::busy_work(2_000);
                    yield_now().await;
                }
            })
            .detach();
    }
}

/// Sleepers of the `sleep` workload.
const SLEEPERS: u32 = 1000;
/// The longest sleep.
const MAX_SLEEP_NS: u64 = 1_500_000_000;
/// A sleeper is late if it wakes more than two ticks after its deadline.
const LATE_NS: u64 = 2 * 1_000_000_000 / SCHED_HZ as u64;

/// Spawns the sleepers, collects how each woke, prints `[SLEEP]`.
async fn sleepers(executor: Exec) {
    let mut seed = time::uptime_ns() | 1;
    let mut handles = Vec::with_capacity(SLEEPERS as usize);
    for _ in 0..SLEEPERS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let duration_ns = 1_000_000 + seed % MAX_SLEEP_NS;
        handles.push(executor.spawn(Priority::Normal, async move {
            let deadline = time::uptime_ns() + duration_ns;
            executor.sleep_until(deadline).await;
            // Signed lateness: negative means it woke early.
            time::uptime_ns() as i64 - deadline as i64
        }));
    }
    let (mut woke, mut early, mut late, mut max_late_ns) = (0u32, 0u32, 0u32, 0i64);
    for handle in handles {
        // Sleepers are never aborted; a cancelled one would be a bug that the
        // host check sees as `woke < sleepers`.
        let Ok(lateness) = handle.await else { continue };
        woke += 1;
        if lateness < 0 {
            early += 1;
        } else if lateness as u64 > LATE_NS {
            late += 1;
        }
        max_late_ns = max_late_ns.max(lateness);
    }
    report::line(&protocol::sched::Sleep {
        sleepers: u64::from(SLEEPERS),
        woke: u64::from(woke),
        early: u64::from(early),
        late: u64::from(late),
        max_late_us: max_late_ns.unsigned_abs() / 1000,
        late_limit_us: LATE_NS / 1000,
    });
}

/// Round trips per ping-pong pair.
const ROUND_TRIPS: u32 = 500;

/// Pairs of tasks on different cores bounce a turn between them; each ping
/// task reports its round trips through an `mpsc` channel; prints
/// `[PINGPONG]` when every pair has reported.
async fn ping_pong(executor: Exec) {
    let cores = executor.cores() as u32;
    let pairs = (cores / 2).max(1);
    let (done_tx, mut done_rx) = mpsc::channel::<u32>(pairs as usize);
    for pair in 0..pairs {
        // Side 0 is ping, side 1 pong.
        let court = Arc::new(Turn::new());
        let (ping_core, pong_core) = (CoreId(2 * pair % cores), CoreId((2 * pair + 1) % cores));
        let pong_court = Arc::clone(&court);
        executor
            .spawn_pinned(pong_core, Priority::Normal, async move {
                for _ in 0..ROUND_TRIPS {
                    pong_court.wait(1).await;
                    pong_court.pass(0);
                }
            })
            .detach();
        let done_tx = done_tx.clone();
        executor
            .spawn_pinned(ping_core, Priority::Normal, async move {
                let mut done = 0;
                for _ in 0..ROUND_TRIPS {
                    court.pass(1);
                    court.wait(0).await;
                    done += 1;
                }
                done_tx
                    .send(done)
                    .await
                    .expect("the reporter waits for every pair");
            })
            .detach();
    }
    // Only the ping tasks hold senders now: `recv` ends after the last one.
    drop(done_tx);
    // A pair that never reports leaves `round_trips` short of `expected`.
    let mut round_trips = 0;
    while let Some(done) = done_rx.recv().await {
        round_trips += done;
    }
    report::line(&protocol::sched::PingPong {
        pairs: u64::from(pairs),
        round_trips: u64::from(round_trips),
        expected: u64::from(pairs * ROUND_TRIPS),
    });
}
