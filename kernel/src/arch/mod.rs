//! Architecture support: the facade the rest of the kernel uses.
//!
//! Everything that touches registers, ports, MSRs or page tables is under
//! `x86_64/`; the rest of the kernel reaches the machine only through what
//! this module exports, and never names `arch::x86_64` (ADR 0004; the layer
//! check in `xtask/src/layers.rs` enforces it). The contract is the set of
//! modules re-exported below with their public items: another architecture
//! would provide the same names.

mod x86_64;

pub use x86_64::hooks::{set_fatal_hook, set_tick_handler};
pub use x86_64::serial_rx::serial_rx;
pub use x86_64::{
    acpi, apic, clock, console, gdt, interrupts, ioapic, lock_hooks, paging, percpu, qemu, report,
    serial_rx, smp, tsc, user, user_tables,
};
