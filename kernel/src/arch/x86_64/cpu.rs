//! CPU identity and halting.

/// The executing CPU's initial APIC id: the 32-bit x2APIC id of CPUID leaf
/// 0BH, or CPUID leaf 1 EBX bits 31:24 on a CPU without leaf 0BH
/// ([`drivers::apic::initial_apic_id`]; Intel SDM Vol. 2A, CPUID).
///
/// Leaf 1's 8-bit field alone is wrong past 255 CPUs: it truncates the id,
/// and QEMU 10.0 spills the logical-processor count into it (at
/// `-smp 264` the BSP read 1 there, took APIC id 0 for an AP and sent itself
/// INIT, which reset the machine).
///
/// It needs no setup, so it works in every context, including exception
/// handlers that run before per-CPU data exists. Until per-CPU data reached
/// through GS replaces it, it serves as the CPU number printed in panics and
/// exceptions.
pub fn apic_id() -> u32 {
    drivers::apic::initial_apic_id()
}

/// Stops this CPU for good: interrupts off, then `hlt` forever (an NMI or SMI
/// may still wake it, hence the loop).
pub fn halt_forever() -> ! {
    x86_64::instructions::interrupts::disable();
    loop {
        x86_64::instructions::hlt();
    }
}
