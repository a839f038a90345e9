//! x2APIC mode: the local APIC as MSRs `0x800..=0x8FF` (SDM Vol. 3A §11.12,
//! Table 11-6).
//!
//! Differences from xAPIC mode that this driver relies on:
//!
//! - the APIC ID (MSR `0x802`) is the full 32-bit x2APIC ID, read only
//!   (§11.12.10.1);
//! - EOI is MSR `0x80B` and only `0` may be written (anything else raises
//!   `#GP`, §11.12.1.2); the same holds for the ESR (`0x828`);
//! - the ICR is one 64-bit MSR `0x830` with a 32-bit destination in bits
//!   63:32; a single `WRMSR` sends, and there is no delivery-status bit to
//!   poll (§11.12.9) — the send cannot time out;
//! - there is no DFR, and the LDR is read only;
//! - `WRMSR` to the x2APIC MSRs is not serializing: a store before it may
//!   still be in the store buffer when the IPI arrives. §11.12.3 prescribes
//!   `MFENCE; LFENCE` (or a serializing instruction) before the ICR write
//!   when the IPI announces data in memory.

use core::arch::asm;
use core::marker::PhantomData;

use x86_64::registers::model_specific::Msr;

use super::regs::{Access, Mode, Register, RegisterBank};
use super::{ApicError, Icr, LocalApic};

/// The local APIC of the current CPU, in x2APIC mode.
///
/// Not `Send`/`Sync`: the x2APIC MSRs always address the APIC of the CPU
/// executing `RDMSR`/`WRMSR`. The kernel keeps one per CPU.
#[derive(Debug)]
pub struct X2Apic {
    _per_cpu: PhantomData<*mut ()>,
}

impl X2Apic {
    /// Drives this CPU's APIC through the x2APIC MSRs.
    ///
    /// Performs no access.
    ///
    /// # Safety
    ///
    /// 1. This CPU's APIC is in x2APIC mode (EN = 1, EXTD = 1; see
    ///    [`super::enable_x2apic_mode`]); otherwise every access raises
    ///    `#GP`.
    /// 2. No other live `X2Apic` on this CPU (the kernel keeps the value in
    ///    per-CPU storage that interrupt handlers reach only with
    ///    interrupts disabled).
    pub const unsafe fn new() -> Self {
        Self {
            _per_cpu: PhantomData,
        }
    }

    fn read_msr(&self, msr: u32) -> u64 {
        // SAFETY: `msr` is an x2APIC register that exists and is readable
        // (callers check `Register::access`), and the APIC is in x2APIC
        // mode (contract 1 of `new`); reads have no side effects.
        unsafe { Msr::new(msr).read() }
    }
}

impl LocalApic for X2Apic {
    fn mode(&self) -> Mode {
        Mode::X2Apic
    }

    /// Reads `reg`; for [`Register::IcrLow`] the low half of the 64-bit ICR.
    fn read(&self, reg: Register) -> u32 {
        match reg.x2apic_msr() {
            Some(msr) if reg.access(Mode::X2Apic) != Access::WriteOnly => self.read_msr(msr) as u32,
            _ => {
                debug_assert!(false, "{reg:?} is not readable in x2APIC mode");
                0
            }
        }
    }

    /// Writes `reg`; for [`Register::IcrLow`] a 64-bit write with a zero
    /// destination (use [`LocalApic::send_ipi`] instead).
    unsafe fn write(&mut self, reg: Register, value: u32) {
        match reg.x2apic_msr() {
            Some(msr) if reg.access(Mode::X2Apic) != Access::ReadOnly => {
                // SAFETY: the register exists and is writable in x2APIC
                // mode, which `new` promised; the caller of `write` vouched
                // for the effect of the value.
                unsafe { Msr::new(msr).write(u64::from(value)) }
            }
            _ => debug_assert!(false, "{reg:?} is not writable in x2APIC mode"),
        }
    }

    fn read_bank(&self, bank: RegisterBank, vector: u8) -> u32 {
        self.read_msr(bank.x2apic_msr(vector)) as u32
    }

    /// One `WRMSR` of [`Icr::x2apic_value`] to MSR `0x830`, preceded by
    /// `MFENCE; LFENCE`. Never times out: x2APIC has no delivery status.
    unsafe fn send_ipi(&mut self, icr: Icr) -> Result<(), ApicError> {
        icr.check(true)?;
        // SAFETY: MFENCE and LFENCE only order memory accesses; no stack,
        // no flags. Without `nomem` the asm is also a compiler barrier.
        unsafe { asm!("mfence", "lfence", options(nostack, preserves_flags)) };
        let mut msr = Msr::new(X2APIC_ICR_MSR);
        // SAFETY: MSR 0x830 is the x2APIC ICR (mode promised by `new`);
        // the IPI's effect is the caller's responsibility (`send_ipi`'s
        // contract), and `check` rejected invalid encodings.
        unsafe { msr.write(icr.x2apic_value()) };
        Ok(())
    }
}

/// The x2APIC ICR MSR (Table 11-6).
pub const X2APIC_ICR_MSR: u32 = 0x830;

const _: () = assert!(matches!(
    Register::IcrLow.x2apic_msr(),
    Some(X2APIC_ICR_MSR)
));
