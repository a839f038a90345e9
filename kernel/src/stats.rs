//! Run statistics: the `[STATS]` block printed at the end of a `duration`
//! run, one `key=value` line per scope (`docs/kernel-interface.md` §2).

use core::sync::atomic::{AtomicU32, Ordering};

use crate::arch::x86_64::{percpu, smp};
use crate::time;

/// CPUs that have finished their bring-up and run kernel code.
static CPUS_ONLINE: AtomicU32 = AtomicU32::new(0);

/// Counts the calling CPU as online.
pub fn cpu_online() {
    CPUS_ONLINE.fetch_add(1, Ordering::AcqRel);
}

/// CPUs online now.
pub fn cpus_online() -> u32 {
    CPUS_ONLINE.load(Ordering::Acquire)
}

/// Prints the `[STATS]` block: a `total` line, then one line per online CPU.
pub fn print() {
    crate::report!(
        "[STATS] total cpus_online={} uptime_ms={}",
        cpus_online(),
        time::uptime_ms()
    );
    for index in smp::online_cpus() {
        let cpu = percpu::percpu_for(index);
        let c = &cpu.counters;
        crate::report!(
            "[STATS] cpu={index} apic_id={} ipi_sent={} ipi_received={} resched_ipis={} spurious={} idle_wakeups={}",
            cpu.apic_id(),
            c.ipi_sent.load(Ordering::Relaxed),
            c.ipi_received.load(Ordering::Relaxed),
            c.resched_ipis.load(Ordering::Relaxed),
            c.spurious_interrupts.load(Ordering::Relaxed),
            c.idle_wakeups.load(Ordering::Relaxed),
        );
    }
}
