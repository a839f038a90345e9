//! Build-time configuration of the kernel.

/// Scheduler tick rate: how often the Local APIC timer interrupts each core.
/// Defined in `protocol`, because the host must know it too.
pub use protocol::SCHED_HZ;

/// The most CPUs the kernel manages. Per-CPU tables are sized by it; CPUs that
/// the firmware lists beyond it are reported and left offline. 512 is past
/// every xAPIC machine (8-bit ids) and QEMU's x2APIC limit for q35 with an
/// IOMMU (288); it costs about 200 KiB of static per-CPU tables. The AP
/// trampoline's table search is written for exactly this value. Defined in
/// `protocol`, because the host bounds `--smp` by it.
pub use protocol::MAX_CPUS;

/// Kernel version, printed in the `[BOOT]` line.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
