//! Run statistics: the `[STATS]` block printed at the end of a `duration`
//! run, one `key=value` line per scope (`docs/kernel-interface.md` §2).

use core::sync::atomic::{AtomicU32, Ordering};

use crate::time;

/// CPUs that have finished their bring-up and run kernel code.
static CPUS_ONLINE: AtomicU32 = AtomicU32::new(0);

/// Counts the calling CPU as online.
pub fn cpu_online() {
    CPUS_ONLINE.fetch_add(1, Ordering::AcqRel);
}

/// Prints the `[STATS]` block.
pub fn print() {
    crate::report!(
        "[STATS] total cpus_online={} uptime_ms={}",
        CPUS_ONLINE.load(Ordering::Acquire),
        time::uptime_ms()
    );
}
