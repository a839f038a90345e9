//! CPU identity and halting.

use core::arch::x86_64::__cpuid;

/// The executing CPU's initial APIC id (CPUID leaf 1, EBX bits 31:24; Intel SDM
/// Vol. 2A, CPUID, table 3-8).
///
/// It needs no setup, so it works in every context, including exception
/// handlers that run before per-CPU data exists. Until per-CPU data reached
/// through GS replaces it, it serves as the CPU number printed in panics and
/// exceptions, and as the index of per-CPU arrays (xAPIC ids are < 256).
pub fn apic_id() -> u32 {
    // CPUID leaf 1 exists on every x86_64 CPU.
    let leaf1 = __cpuid(1);
    leaf1.ebx >> 24
}

/// Stops this CPU for good: interrupts off, then `hlt` forever (an NMI or SMI
/// may still wake it, hence the loop).
pub fn halt_forever() -> ! {
    x86_64::instructions::interrupts::disable();
    loop {
        x86_64::instructions::hlt();
    }
}
