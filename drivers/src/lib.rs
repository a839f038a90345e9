//! Device drivers for the legacy PC platform, with typed registers.
//!
//! # What lives here
//!
//! - [`serial`]: the COM1 console, a thin, allocation-free layer over the
//!   [`uart_16550`] crate that adds `\n` → `\r\n` translation and
//!   [`core::fmt::Write`].
//! - [`pit`]: the Intel 8253/8254 Programmable Interval Timer, used as the
//!   reference clock to calibrate the TSC and the local-APIC timer.
//! - [`apic`]: the local APIC behind one interface, [`apic::LocalApic`],
//!   with xAPIC (MMIO) and x2APIC (MSR) implementations chosen from CPUID;
//!   IPIs built from enums, the LAPIC timer registers.
//! - [`ioapic`]: the I/O APIC (82093AA): IOREGSEL/IOWIN access behind a
//!   trait, redirection entries as a typed struct, and where an ISA IRQ
//!   arrives given the MADT's interrupt source overrides.
//! - [`pic`]: the legacy 8259A pair, remapped and masked so that it stays
//!   out of the way of the APICs.
//!
//! # Rules
//!
//! - **Drivers never depend on `kernel/`.** The dependency points the other
//!   way: the kernel owns policy (locking, logging, which CPU calibrates
//!   what) and wires the drivers in. A driver therefore takes no locks and
//!   knows nothing about CPUs, interrupt controllers or the allocator.
//! - **No allocation, no `static mut`, no global state.** Every driver is a
//!   value that owns its ports; whoever constructs it promises exclusive use
//!   of the hardware (that is what the `unsafe` constructors mean).
//! - **Registers are types.** Command words and status bits are modelled as
//!   enums and newtypes whose encodings are checked at compile time and by
//!   host tests; the only raw numbers are the documented port addresses.
//! - **Pure logic is host-tested.** The crate is `no_std` except under
//!   `cfg(test)`, so everything that does not touch a port (encodings,
//!   period arithmetic, newline translation) runs as plain `#[test]`s on the
//!   build machine. The port-I/O parts compile on the host but only run in
//!   the kernel.
#![cfg_attr(not(test), no_std)]

pub mod apic;
pub mod ioapic;
pub mod pic;
pub mod pit;
pub mod serial;
