//! xAPIC mode: the local APIC as a 4 KiB MMIO page (SDM Vol. 3A §11.4.1,
//! Table 11-1).
//!
//! Every register is a 32-bit word at a 16-byte-aligned offset and must be
//! accessed with aligned 32-bit loads and stores (§11.4.1: "all registers
//! must be accessed using 128-bit aligned 32-bit loads or stores").
//! Accesses are volatile; the page must be mapped uncacheable (the kernel's
//! job: PCD|PWT, or a UC PAT entry).

use core::marker::PhantomData;
use core::sync::atomic::{Ordering, compiler_fence};

use x86_64::VirtAddr;

use super::regs::{Access, Mode, Register, RegisterBank};
use super::{ApicError, Icr, LocalApic};

/// How many times [`XApic`] reads the ICR's delivery-status bit before
/// giving up with [`ApicError::DeliveryTimeout`].
///
/// An uncached MMIO read takes roughly 0.1–0.5 µs on real hardware, and an
/// IPI is accepted within a microsecond or so; 2^20 polls is therefore a
/// budget of about 0.1–0.5 s, far beyond any healthy delivery (Linux's
/// `safe_apic_wait_icr_idle` waits up to 100 ms). Under QEMU TCG the bit
/// is never seen set.
pub const ICR_POLL_LIMIT: u32 = 1 << 20;

/// The local APIC of the current CPU, in xAPIC mode.
///
/// Not `Send`/`Sync`: the MMIO page at a given address is always the APIC
/// of the CPU that accesses it, so a value only makes sense on the CPU that
/// created it. The kernel keeps one per CPU.
#[derive(Debug)]
pub struct XApic {
    base: *mut u32,
    _per_cpu: PhantomData<*mut ()>,
}

impl XApic {
    /// Drives the xAPIC whose register page is mapped at `base`.
    ///
    /// Performs no access.
    ///
    /// # Safety
    ///
    /// 1. `base` is the 4 KiB-aligned virtual address of a mapping of the
    ///    local APIC's physical page ([`super::ApicBase::base`], normally
    ///    `0xFEE0_0000`), uncacheable, present and writable for the
    ///    lifetime of the value.
    /// 2. This CPU's APIC is in xAPIC mode (EN = 1, EXTD = 0).
    /// 3. No other live `XApic` on this CPU: the methods assume exclusive
    ///    use of the registers (the two-word ICR write in particular); the
    ///    kernel keeps the value in per-CPU storage that interrupt handlers
    ///    reach only with interrupts disabled.
    pub unsafe fn new(base: VirtAddr) -> Self {
        debug_assert!(base.is_aligned(4096u64), "xAPIC page must be aligned");
        Self {
            base: base.as_mut_ptr(),
            _per_cpu: PhantomData,
        }
    }

    fn word(&self, offset: usize) -> *mut u32 {
        // The offset is below 0x400 (a register of the 4 KiB page): in
        // bounds of the mapping `new` promised.
        self.base.wrapping_byte_add(offset)
    }

    fn read_offset(&self, offset: usize) -> u32 {
        // SAFETY: `offset` names a register of the page `new`'s caller
        // mapped (contract 1); the access is an aligned 32-bit load, as
        // §11.4.1 requires, and reading APIC registers has no side effects.
        unsafe { self.word(offset).read_volatile() }
    }

    fn write_offset(&mut self, offset: usize, value: u32) {
        // SAFETY: as in `read_offset`; the caller of `write` vouched for
        // the effect of the value.
        unsafe { self.word(offset).write_volatile(value) }
    }

    /// Polls the ICR's delivery status until idle, at most
    /// [`ICR_POLL_LIMIT`] times.
    fn wait_icr_idle(&self) -> Result<(), ApicError> {
        for _ in 0..ICR_POLL_LIMIT {
            if self.read_offset(Register::IcrLow.mmio_offset()) & Icr::DELIVERY_STATUS == 0 {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        Err(ApicError::DeliveryTimeout {
            polls: ICR_POLL_LIMIT,
        })
    }
}

impl LocalApic for XApic {
    fn mode(&self) -> Mode {
        Mode::XApic
    }

    fn read(&self, reg: Register) -> u32 {
        if reg.access(Mode::XApic) == Access::WriteOnly {
            debug_assert!(false, "{reg:?} is write-only");
            return 0;
        }
        self.read_offset(reg.mmio_offset())
    }

    unsafe fn write(&mut self, reg: Register, value: u32) {
        if reg.access(Mode::XApic) == Access::ReadOnly {
            debug_assert!(false, "{reg:?} is read-only");
            return;
        }
        self.write_offset(reg.mmio_offset(), value);
    }

    fn read_bank(&self, bank: RegisterBank, vector: u8) -> u32 {
        self.read_offset(bank.mmio_offset(vector))
    }

    /// Writes the high word, then the low word (which sends), polling the
    /// delivery status before (a previous IPI may still be pending) and
    /// after.
    unsafe fn send_ipi(&mut self, icr: Icr) -> Result<(), ApicError> {
        icr.check(false)?;
        self.wait_icr_idle()?;
        let (low, high) = icr.xapic_words();
        // Volatile accesses may be reordered with ordinary ones: make every
        // store before the call (the data the IPI announces) precede the
        // ICR write in program order. The UC store itself is ordered after
        // earlier stores by the hardware.
        compiler_fence(Ordering::SeqCst);
        self.write_offset(Register::IcrHigh.mmio_offset(), high);
        self.write_offset(Register::IcrLow.mmio_offset(), low);
        self.wait_icr_idle()
    }
}
