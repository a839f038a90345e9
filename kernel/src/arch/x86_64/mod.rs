//! x86_64: the only place in the kernel that touches the machine directly.
//!
//! | module | owns |
//! | --- | --- |
//! | [`acpi`] | finding the MADT through the ACPI tables |
//! | [`apic`] | the Local APIC: per-CPU set-up, EOI, IPIs; masking the legacy PICs |
//! | [`clock`] | the kernel's clock: uptime from the TSC |
//! | [`cpu`] | CPU identity (CPUID), halting |
//! | [`gdt`] | GDT and TSS, IST stacks for faults that must not use the current stack |
//! | [`hooks`] | registration points: the tick handler and fatal hook that higher layers fill |
//! | [`interrupts`] | the IDT: a handler for every CPU exception |
//! | [`ioapic`] | the I/O APICs: mapped and masked at boot, ISA IRQs routed from the MADT |
//! | [`extable`] | the exception table: instructions that may fault on purpose |
//! | [`console`] | the COM1 serial console |
//! | [`lock_hooks`] | `cli`/`sti` and per-CPU rank books for `kernel::sync` locks |
//! | [`paging`] | page tables reached through the bootloader's physical-memory map |
//! | [`percpu`] | per-CPU data reached through GS.BASE |
//! | [`serial_rx`] | COM1 input: the receive interrupt fills a ring, tasks read it |
//! | [`smp`] | starting the other CPUs: trampoline, INIT-SIPI-SIPI, idle loop |
//! | [`user`] | ring 3: GDT user segments, `syscall`, entering and leaving user threads, user copies |
//! | [`tsc`] | the time-stamp counter, calibrated against the PIT |
//! | [`report`] | printing the lines the host checks (`protocol` types), whatever the log level |
//! | [`user_tables`] | user page tables: a PML4 per address space sharing the kernel's entries |
//! | [`qemu`] | leaving QEMU with a verdict through `isa-debug-exit` |

pub mod acpi;
pub mod apic;
pub mod clock;
pub mod console;
pub mod cpu;
pub mod extable;
pub mod gdt;
pub mod hooks;
pub mod interrupts;
pub mod ioapic;
pub mod lock_hooks;
pub mod paging;
pub mod percpu;
pub mod qemu;
pub mod report;
pub mod serial_rx;
pub mod smp;
pub mod tsc;
pub mod user;
pub mod user_tables;
