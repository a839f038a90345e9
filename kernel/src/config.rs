//! Build-time configuration of the kernel.

/// Scheduler tick rate: how often the Local APIC timer interrupts each core.
pub const SCHED_HZ: u32 = 100;

/// The most CPUs the kernel manages. Per-CPU tables are sized by it; CPUs that
/// the firmware lists beyond it are reported and left offline. 256 covers every
/// xAPIC id (8 bits); x2APIC machines larger than this need a bigger value.
pub const MAX_CPUS: usize = 256;

/// Kernel version, printed in the `[BOOT]` line.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
