//! x86_64: the only place in the kernel that touches the machine directly.
//!
//! | module | owns |
//! | --- | --- |
//! | [`cpu`] | CPU identity (CPUID), halting |
//! | [`gdt`] | GDT and TSS, IST stacks for faults that must not use the current stack |
//! | [`interrupts`] | the IDT: a handler for every CPU exception |
//! | [`extable`] | the exception table: instructions that may fault on purpose |
//! | [`console`] | the COM1 serial console |
//! | [`paging`] | page tables reached through the bootloader's physical-memory map |
//! | [`tsc`] | the time-stamp counter, calibrated against the PIT |
//! | [`qemu`] | leaving QEMU with a verdict through `isa-debug-exit` |

pub mod console;
pub mod cpu;
pub mod extable;
pub mod gdt;
pub mod interrupts;
pub mod paging;
pub mod qemu;
pub mod tsc;
