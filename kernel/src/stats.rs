//! Run statistics: the `[STATS]` block printed at the end of a `duration`
//! run, one `key=value` line per scope (`docs/kernel-interface.md` §2).

use core::sync::atomic::Ordering;

use crate::arch::x86_64::{percpu, smp};
use crate::{sched, time};

/// Waits (at most `limit_ns`) until every IPI sent has been received, so that
/// a final report is a consistent snapshot. Returns whether the books balance.
pub fn settle_ipis(limit_ns: u64) -> bool {
    let deadline = time::uptime_ns() + limit_ns;
    loop {
        let (mut sent, mut received) = (0, 0);
        for index in smp::online_cpus() {
            let c = &percpu::percpu_for(index).counters;
            sent += c.ipi_sent.load(Ordering::Acquire);
            received += c.ipi_received.load(Ordering::Acquire);
        }
        if sent == received {
            return true;
        }
        if time::uptime_ns() >= deadline {
            return false;
        }
        core::hint::spin_loop();
    }
}

/// CPUs online now: the bits set in `smp::CPU_STATES`.
pub fn cpus_online() -> usize {
    smp::online_cpus().count()
}

/// Prints the `[STATS]` block: a `total` line, then one line per online CPU.
pub fn print() {
    crate::report!(
        "[STATS] total cpus_online={} cpus_expected={} cpus_late={} uptime_ms={}",
        cpus_online(),
        smp::expected_real_cpus(),
        smp::late_aps(),
        time::uptime_ms()
    );
    let now_ns = time::uptime_ns();
    for index in smp::online_cpus() {
        let cpu = percpu::percpu_for(index);
        let c = &cpu.counters;
        let started = cpu.timer_started_ns.load(Ordering::Relaxed);
        let timer_ms = if started == 0 {
            0
        } else {
            now_ns.saturating_sub(started) / 1_000_000
        };
        let e = sched::core_stats(index).unwrap_or_default();
        crate::report!(
            "[STATS] cpu={index} apic_id={} ticks={} ticks_lost={} ticks_late={} timer_ms={timer_ms} polls={} tasks_run={} \
             yields={} wakes_local={} wakes_remote={} ipi_sent={} ipi_received={} \
             resched_ipis={} steals={} migrations={} idle_halts={} spurious={}",
            cpu.apic_id(),
            cpu.ticks.load(Ordering::Relaxed),
            cpu.ticks_lost.load(Ordering::Relaxed),
            cpu.ticks_late.load(Ordering::Relaxed),
            e.polls,
            e.tasks_run,
            e.yields,
            e.wakes_local,
            e.wakes_remote,
            c.ipi_sent.load(Ordering::Relaxed),
            c.ipi_received.load(Ordering::Relaxed),
            c.resched_ipis.load(Ordering::Relaxed),
            e.steals,
            e.migrations,
            e.idle_halts,
            c.spurious_interrupts.load(Ordering::Relaxed),
        );
    }
}
