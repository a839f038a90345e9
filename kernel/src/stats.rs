//! Run statistics: the `[STATS]` block printed at the end of a `duration`
//! run, one `key=value` line per scope (`docs/kernel-interface.md` §2),
//! printed as one unit.

use alloc::vec::Vec;

use executor::CoreStats;
use protocol::stats::{StatsBlock, StatsCpu, StatsTotal};
use spin::Once;

use crate::arch::report;
use crate::arch::{percpu, smp};
use crate::config::SCHED_HZ;
use crate::time;

/// Where the per-CPU executor counters come from: a provider the scheduler
/// registers when it starts ([`set_core_stats_provider`]). `stats` sits below
/// `sched` (ADR 0004), so it cannot ask it; before a provider exists, or
/// for a CPU it does not know, the counters print as 0.
static CORE_STATS: Once<fn(u32) -> Option<CoreStats>> = Once::new();

/// One CPU's IPC books (`ipc_sent= ipc_received= ipc_dropped=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpcCounts {
    /// Messages put on a port.
    pub sent: u64,
    /// Messages taken off a port.
    pub received: u64,
    /// Messages discarded with a dropped receive right.
    pub dropped: u64,
}

/// Where the per-CPU IPC counters come from: the IPC layer registers it
/// (it sits above `stats`); without one they print as 0.
static IPC_STATS: Once<fn(u32) -> IpcCounts> = Once::new();

/// Registers the provider of CPU `cpu`'s executor counters.
///
/// # Panics
/// If one is registered already.
pub fn set_core_stats_provider(provider: fn(u32) -> Option<CoreStats>) {
    kernel::sync::set_once(&CORE_STATS, provider, "core stats provider");
}

/// One CPU's user-thread counters (`syscalls= user_preemptions=
/// user_faults=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserCounts {
    /// System calls handled.
    pub syscalls: u64,
    /// Preemptions of user threads.
    pub preemptions: u64,
    /// User threads killed for a fault.
    pub faults: u64,
}

/// Where the per-CPU user counters come from: the process layer registers
/// it; without one they print as 0.
static USER_STATS: Once<fn(u32) -> UserCounts> = Once::new();

/// Registers the provider of CPU `cpu`'s user-thread counters.
///
/// # Panics
/// If one is registered already.
pub fn set_user_stats_provider(provider: fn(u32) -> UserCounts) {
    kernel::sync::set_once(&USER_STATS, provider, "user stats provider");
}

/// Registers the provider of CPU `cpu`'s IPC counters.
///
/// # Panics
/// If one is registered already.
pub fn set_ipc_stats_provider(provider: fn(u32) -> IpcCounts) {
    kernel::sync::set_once(&IPC_STATS, provider, "IPC stats provider");
}

/// How long [`settle_ipis`] waits at most: 100 ms plus 4 ms per online CPU.
/// Under an emulator with many more virtual CPUs than host cores, a halted
/// vCPU can wait a long time for the host to run it and take its IPI (at
/// 255 CPUs on 2 host cores, 100 ms left 25 IPIs in flight).
pub fn settle_limit_ns() -> u64 {
    (100 + 4 * cpus_online() as u64) * 1_000_000
}

/// Waits (at most [`settle_limit_ns`]) until every IPI sent has been
/// received, so that a final report is a consistent snapshot; warns if the
/// books still do not balance.
pub fn settle_ipis() {
    let limit = settle_limit_ns();
    let deadline = time::uptime_ns() + limit;
    loop {
        let (mut sent, mut received) = (0, 0);
        for index in smp::online_cpus() {
            let c = percpu::percpu_for(index).counters();
            sent += c.ipi_sent();
            received += c.ipi_received();
        }
        if sent == received {
            return;
        }
        if time::uptime_ns() >= deadline {
            log::warn!(target: "STATS", "IPIs still in flight after {} ms", limit / 1_000_000);
            return;
        }
        core::hint::spin_loop();
    }
}

/// CPUs online now: the bits set in `smp::CPU_STATES`.
pub fn cpus_online() -> usize {
    smp::online_cpus().count()
}

/// Prints the `[STATS]` block: a `total` line, then one line per online CPU,
/// as one unit. The counters are read into a snapshot first; then the block
/// goes out in one console write, so no other CPU's line can come between
/// its lines (one did in 7 of 82 runs when each line was its own write), and
/// nothing allocates while the console is held.
pub fn print() {
    let total = StatsTotal {
        cpus_online: cpus_online() as u64,
        cpus_expected: u64::from(smp::expected_real_cpus()),
        cpus_late: u64::from(smp::late_aps()),
        uptime_ms: time::uptime_ms(),
    };
    let mut cpus = Vec::with_capacity(total.cpus_online as usize);
    for index in smp::online_cpus() {
        let cpu = percpu::percpu_for(index);
        let c = cpu.counters();
        // The clock is read for each line, next to that CPU's counters:
        // reading 255 CPUs takes a while, and ticks go on meanwhile.
        let now_ns = time::uptime_ns();
        let ticks = cpu.ticks();
        let started = cpu.timer_started_ns();
        let timer_ns = if started == 0 {
            0
        } else {
            now_ns.saturating_sub(started)
        };
        let timer_ms = timer_ns / 1_000_000;
        // Lost as of now, not only as of this CPU's last tick: a CPU whose
        // ticks stopped coming long ago has lost them too.
        let due_now = (u128::from(timer_ns) * u128::from(SCHED_HZ) / 1_000_000_000) as u64;
        let ticks_lost = cpu.ticks_lost().max(due_now.saturating_sub(ticks));
        // Every executor counter goes into the line: a counter added to
        // `CoreStats` does not compile here until it is printed.
        let CoreStats {
            polls,
            tasks_run,
            yields,
            wakes_local,
            wakes_remote,
            steals,
            migrations,
            idle_halts,
            resched_requested,
            lifo_polls,
        } = CORE_STATS
            .get()
            .and_then(|provider| provider(index))
            .unwrap_or_default();
        let IpcCounts {
            sent: ipc_sent,
            received: ipc_received,
            dropped: ipc_dropped,
        } = IPC_STATS
            .get()
            .map(|provider| provider(index))
            .unwrap_or_default();
        let UserCounts {
            syscalls,
            preemptions: user_preemptions,
            faults: user_faults,
        } = USER_STATS
            .get()
            .map(|provider| provider(index))
            .unwrap_or_default();
        cpus.push(StatsCpu {
            cpu: index,
            apic_id: cpu.apic_id(),
            ticks,
            ticks_lost,
            ticks_late: cpu.ticks_late(),
            timer_ms,
            polls,
            tasks_run,
            yields,
            wakes_local,
            wakes_remote,
            ipi_sent: c.ipi_sent(),
            ipi_received: c.ipi_received(),
            resched_ipis: c.resched_ipis(),
            steals,
            migrations,
            idle_halts,
            spurious: c.spurious_interrupts(),
            resched_requested,
            lifo_polls,
            ipc_sent,
            ipc_received,
            ipc_dropped,
            syscalls,
            user_preemptions,
            user_faults,
        });
    }
    let total = StatsTotal {
        cpus_online: cpus.len() as u64,
        ..total
    };
    report::line(&StatsBlock { total, cpus: &cpus });
}
