//! The local APIC, typed: one interface ([`LocalApic`]), two
//! implementations — [`XApic`] (MMIO) and [`X2Apic`] (MSRs) — and [`Lapic`],
//! the per-CPU value the kernel keeps, chosen from CPUID at boot.
//!
//! References: Intel SDM Vol. 3A, chapter *Advanced Programmable Interrupt
//! Controller (APIC)* (chapter 11 in the 2023 editions cited throughout,
//! chapter 10 in older ones; section numbers shift accordingly). Intel
//! *MultiProcessor Specification* 1.4, appendix B, for INIT-SIPI-SIPI.
//!
//! # Layout
//!
//! | module | contents |
//! | ------ | -------- |
//! | `regs` | [`Register`] (offsets, MSR numbers, access), [`ApicBase`], [`SpuriousVector`], [`LvtEntry`], [`ErrorStatus`], [`ApicVersion`] |
//! | `icr` | [`Icr`] built from [`DeliveryMode`], [`Level`], [`TriggerMode`], [`DestinationShorthand`], [`DestinationMode`] |
//! | `timer` | [`LvtTimer`], [`TimerMode`], [`TimerDivide`], TSC deadline |
//! | `xapic`, `x2apic` | the two implementations |
//!
//! # Choosing the mode at boot
//!
//! Every CPU runs [`Lapic::init_current_cpu`] early (the BSP after mapping
//! the APIC page, each AP in its Rust entry point):
//!
//! 1. read CPUID.01H ([`CpuFeatures`]) and `IA32_APIC_BASE` ([`ApicBase`]);
//! 2. [`select_mode`]: x2APIC if CPUID offers it (ECX\[21\]) *or* firmware
//!    already switched to it (then xAPIC MMIO no longer works), else xAPIC;
//! 3. switch the APIC into that mode along the legal transitions
//!    (disabled → xAPIC → x2APIC, never back; §11.12.5);
//! 4. return the matching implementation.
//!
//! CPUID reports the same features on every CPU of an SMP system, so all
//! CPUs end up in the same mode, which IPI destinations (8- vs 32-bit IDs)
//! require. QEMU's TCG offers x2APIC from 9.0 on (with `-cpu max`), and
//! `cargo xtask test` boots [`X2Apic`] in its `boot-x2apic-*` scenarios
//! (skipped on an older QEMU); the other boots use QEMU's default CPU and
//! [`XApic`]. Neither 7.2 nor 10.0 offers TSC-deadline under TCG, so that
//! timer mode is covered by host tests only.
//!
//! Then [`LocalApic::enable`] software-enables the APIC (SVR) and puts it
//! into a known state; see its documentation for what is masked and why.
//!
//! # IPIs
//!
//! An IPI is an [`Icr`] value: constructors for the common ones
//! ([`Icr::fixed`], [`Icr::broadcast`], [`Icr::init`], [`Icr::startup`],
//! ...) and [`Icr::check`] for the combinations the SDM forbids.
//! [`LocalApic::send_ipi`] writes it; in xAPIC mode it then polls the
//! delivery status a bounded number of times ([`ICR_POLL_LIMIT`]) and
//! reports [`ApicError::DeliveryTimeout`] instead of hanging. x2APIC has no
//! delivery status: the `WRMSR` is the send.
//!
//! Waking an AP (SDM Vol. 3A *MP Initialization Example*, in the chapter
//! *Processor Management and Initialization*; MP spec B.4), as the kernel's SMP code
//! drives it with these pieces:
//!
//! 1. [`Icr::init`] to the AP's APIC ID (resets it to wait-for-SIPI), wait
//!    10 ms (old CPUs also want [`Icr::init_deassert`]);
//! 2. [`Icr::startup`] with the trampoline's page (`0x8000 >> 12 = 0x08`),
//!    wait 200 µs;
//! 3. the same SIPI again (the first may be lost), then wait for the AP to
//!    report in.
//!
//! # Invariants
//!
//! - **One value per CPU.** An [`XApic`] or [`X2Apic`] drives the APIC of
//!   the CPU that uses it, so neither is `Send` nor `Sync`; the kernel
//!   keeps one in per-CPU storage, reached with interrupts disabled so that
//!   a handler cannot interleave with a two-word ICR write.
//! - **Every busy-wait is bounded.**
//! - **What can take over a CPU is `unsafe`.** Reading is safe; raw
//!   [`LocalApic::write`] and [`LocalApic::send_ipi`] are `unsafe` (an INIT
//!   resets CPUs, a SIPI makes one execute whatever is at a page). Fixed
//!   IPIs, EOI and the timer are safe.
//! - **No global state.** The crate keeps nothing; the kernel owns the
//!   values and decides which CPU does what.

mod icr;
mod regs;
mod timer;
mod x2apic;
mod xapic;

use core::fmt;

use x86_64::VirtAddr;
use x86_64::registers::model_specific::Msr;

pub use icr::{DeliveryMode, DestinationMode, DestinationShorthand, Icr, Level, TriggerMode};
pub use regs::{
    Access, ApicBase, ApicVersion, ErrorStatus, LvtDeliveryMode, LvtEntry, Mode, Register,
    RegisterBank, SpuriousVector, X2APIC_MSR_BASE,
};
pub use timer::{
    IA32_TSC_DEADLINE, LvtTimer, TimerDivide, TimerMode, TimerWindow, choose_timer_mode,
    least_disturbed_window, periodic_initial_count, write_tsc_deadline,
};
pub use x2apic::{X2APIC_ICR_MSR, X2Apic};
pub use xapic::{ICR_POLL_LIMIT, XApic};

/// The spurious-interrupt vector the kernel uses (low nibble `0xF`, as P6
/// processors require).
pub const SPURIOUS_VECTOR: u8 = 0xFF;

/// Errors of the local-APIC driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApicError {
    /// The xAPIC ICR still reported "send pending" after `polls` reads.
    DeliveryTimeout {
        /// How many times the delivery status was read.
        polls: u32,
    },
    /// Fixed or lowest-priority delivery of a vector below 16.
    IllegalVector(u8),
    /// A delivery mode / shorthand / level combination the SDM forbids
    /// (see [`Icr::check`]).
    InvalidCombination,
    /// An APIC ID above 255 cannot be addressed in xAPIC mode.
    DestinationOutOfRange(u32),
    /// A timer count of 0 or above `u32::MAX`.
    TimerCountOutOfRange,
    /// x2APIC mode requested on a CPU whose CPUID does not offer it.
    X2ApicUnsupported,
}

impl fmt::Display for ApicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::DeliveryTimeout { polls } => {
                write!(f, "IPI still pending after {polls} delivery-status polls")
            }
            Self::IllegalVector(v) => write!(f, "illegal IPI vector {v:#x} (below 0x10)"),
            Self::InvalidCombination => write!(f, "invalid ICR field combination"),
            Self::DestinationOutOfRange(d) => {
                write!(f, "APIC ID {d} does not fit the xAPIC's 8-bit destination")
            }
            Self::TimerCountOutOfRange => write!(f, "APIC timer count out of range"),
            Self::X2ApicUnsupported => write!(f, "CPU does not support x2APIC"),
        }
    }
}

impl core::error::Error for ApicError {}

/// The APIC-related feature bits of CPUID leaf 01H.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CpuFeatures {
    /// CPUID.01H:ECX.
    pub ecx: u32,
    /// CPUID.01H:EDX.
    pub edx: u32,
}

impl CpuFeatures {
    /// EDX bit 9: on-chip APIC.
    pub const EDX_APIC: u32 = 1 << 9;
    /// ECX bit 21: x2APIC.
    pub const ECX_X2APIC: u32 = 1 << 21;
    /// ECX bit 24: TSC-deadline timer mode.
    pub const ECX_TSC_DEADLINE: u32 = 1 << 24;

    /// Executes CPUID leaf 01H on the current CPU.
    pub fn read() -> Self {
        let leaf = core::arch::x86_64::__cpuid(1);
        Self {
            ecx: leaf.ecx,
            edx: leaf.edx,
        }
    }

    /// Whether the CPU has a local APIC.
    pub const fn apic(self) -> bool {
        self.edx & Self::EDX_APIC != 0
    }

    /// Whether the CPU supports x2APIC mode.
    pub const fn x2apic(self) -> bool {
        self.ecx & Self::ECX_X2APIC != 0
    }

    /// Whether the LAPIC timer supports [`TimerMode::TscDeadline`].
    pub const fn tsc_deadline(self) -> bool {
        self.ecx & Self::ECX_TSC_DEADLINE != 0
    }
}

/// CPUID leaf 0BH (extended topology), subleaf 0, as far as the APIC ID
/// goes: EBX says whether the leaf exists, EDX is the x2APIC ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExtendedTopology {
    /// CPUID.(EAX=0BH,ECX=0):EBX; bits 15:0 are zero where the leaf is not implemented.
    pub ebx: u32,
    /// CPUID.(EAX=0BH,ECX=0):EDX: the x2APIC ID of the executing CPU.
    pub edx: u32,
}

/// The initial APIC ID from raw CPUID results: the 32-bit x2APIC ID of leaf
/// 0BH where that leaf exists (`leaf_0b` is `None` when the highest basic
/// leaf is below 0BH), else CPUID.01H:EBX\[31:24\].
///
/// The SDM (Vol. 2A, CPUID, leaf 0BH) says software detects leaf 0BH by a
/// maximum basic leaf ≥ 0BH *and* a non-zero CPUID.0BH:EBX\[15:0\]. Leaf
/// 01H's field holds only the low 8 bits of the ID; and QEMU (10.0.2, from
/// bookworm-backports; fixed upstream by "i386/cpu: Fix cpu number overflow
/// in CPUID.01H.EBX\[23:16\]") ORs a logical-processor count above 255 into
/// it, shifting the count into EBX\[23:16\] unmasked: with `-smp 264` every
/// CPU reads its ID with bit 0 set, the BSP 1 instead of 0.
pub const fn initial_apic_id_from(leaf_01_ebx: u32, leaf_0b: Option<ExtendedTopology>) -> u32 {
    match leaf_0b {
        Some(topology) if topology.ebx & 0xFFFF != 0 => topology.edx,
        _ => leaf_01_ebx >> 24,
    }
}

/// The executing CPU's initial APIC ID, all 32 bits (executes CPUID; see
/// [`initial_apic_id_from`]). It equals the Local APIC's ID register unless
/// software changed that (possible in xAPIC mode only).
pub fn initial_apic_id() -> u32 {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    let max_basic_leaf = __cpuid(0).eax;
    let leaf_0b = (max_basic_leaf >= 0xB).then(|| {
        let leaf = __cpuid_count(0xB, 0);
        ExtendedTopology {
            ebx: leaf.ebx,
            edx: leaf.edx,
        }
    });
    initial_apic_id_from(__cpuid(1).ebx, leaf_0b)
}

/// Whether the current CPU supports x2APIC mode (executes CPUID).
pub fn x2apic_supported() -> bool {
    CpuFeatures::read().x2apic()
}

/// Whether the current CPU's LAPIC timer supports TSC-deadline mode
/// (executes CPUID).
pub fn tsc_deadline_supported() -> bool {
    CpuFeatures::read().tsc_deadline()
}

/// The mode to run the APIC in: x2APIC if CPUID offers it or firmware
/// already enabled it (leaving x2APIC mode would need a disable/re-enable
/// cycle), xAPIC otherwise.
pub const fn select_mode(features: CpuFeatures, base: ApicBase) -> Mode {
    if features.x2apic() || base.is_x2apic() {
        Mode::X2Apic
    } else {
        Mode::XApic
    }
}

/// Reads `IA32_APIC_BASE` on the current CPU.
pub fn read_apic_base() -> ApicBase {
    // SAFETY: IA32_APIC_BASE exists on every processor with an on-chip
    // APIC, which includes every x86_64 processor; reading has no effect.
    ApicBase::from_bits(unsafe { Msr::new(ApicBase::MSR).read() })
}

/// Writes `IA32_APIC_BASE` on the current CPU.
///
/// # Safety
///
/// `value` is a legal transition from the current state (§11.12.5, figure *Local
/// x2APIC State Transitions*),
/// and no driver value for the old mode is used afterwards: disabling the
/// APIC or switching its mode invalidates [`XApic`]/[`X2Apic`] values, and
/// moving the base invalidates the xAPIC mapping.
pub unsafe fn write_apic_base(value: ApicBase) {
    let mut msr = Msr::new(ApicBase::MSR);
    // SAFETY: the caller promises a legal transition whose consequences it
    // has accounted for; the MSR exists (see `read_apic_base`).
    unsafe { msr.write(value.bits()) }
}

/// Switches the current CPU's APIC into x2APIC mode (via xAPIC mode if it
/// was disabled; nothing if already there). Returns the new register value.
///
/// # Errors
///
/// [`ApicError::X2ApicUnsupported`] if CPUID does not offer x2APIC (and
/// firmware has not already enabled it); nothing is written then.
///
/// # Safety
///
/// No [`XApic`] value of this CPU is used afterwards (its MMIO page stops
/// answering), and interrupts are disabled or no interrupt handler uses the
/// APIC during the switch.
pub unsafe fn enable_x2apic_mode() -> Result<ApicBase, ApicError> {
    let mut base = read_apic_base();
    if base.is_x2apic() {
        return Ok(base);
    }
    if !x2apic_supported() {
        return Err(ApicError::X2ApicUnsupported);
    }
    for step in base.x2apic_transition().into_iter().flatten() {
        // SAFETY: `x2apic_transition` yields only the legal steps
        // disabled → xAPIC → x2APIC; the caller gave up xAPIC access.
        unsafe { write_apic_base(step) };
        base = step;
    }
    Ok(base)
}

/// The operations both APIC modes offer.
///
/// Implementations provide register access and the ICR send; everything
/// else is built on those here, once, so both modes behave alike (and a
/// recording fake tests it on the host).
pub trait LocalApic {
    /// The mode this implementation drives.
    fn mode(&self) -> Mode;

    /// Reads `reg`. A register that does not exist or is write-only in this
    /// mode reads as 0 (and trips a debug assertion) instead of faulting.
    fn read(&self, reg: Register) -> u32;

    /// Writes `value` to `reg`. A register that does not exist or is read
    /// only in this mode is not written (debug assertion).
    ///
    /// # Safety
    ///
    /// The write's effect must be sound: writing [`Register::IcrLow`] sends
    /// an IPI (see [`LocalApic::send_ipi`]); the LVT, SVR and timer
    /// registers route interrupts to vectors that must have handlers; in
    /// x2APIC mode [`Register::Eoi`] and [`Register::Esr`] accept only 0.
    unsafe fn write(&mut self, reg: Register, value: u32);

    /// Reads the 32-bit word of the 256-bit `bank` that holds `vector`'s
    /// bit (test it with [`RegisterBank::bit`]).
    fn read_bank(&self, bank: RegisterBank, vector: u8) -> u32;

    /// Sends the IPI `icr`.
    ///
    /// # Errors
    ///
    /// [`Icr::check`]'s errors (nothing is sent), and in xAPIC mode
    /// [`ApicError::DeliveryTimeout`] if the delivery status stays "send
    /// pending" — before the send (then nothing was sent) or after it.
    ///
    /// # Safety
    ///
    /// 1. INIT and SMI: the targets (all of them, for a shorthand) are not
    ///    running anything whose interruption would be unsound — in
    ///    practice, APs that have not been started yet.
    /// 2. Start-up: the targets are in wait-for-SIPI state and physical page
    ///    `vector` holds a trampoline that is ready to run there.
    /// 3. Fixed, lowest-priority and NMI: no safety requirement beyond the
    ///    kernel's IDT having handlers (the safe
    ///    [`LocalApic::send_fixed_ipi`] covers those).
    unsafe fn send_ipi(&mut self, icr: Icr) -> Result<(), ApicError>;

    /// This CPU's APIC ID: bits 31:24 of the ID register in xAPIC mode, the
    /// whole 32-bit register in x2APIC mode.
    fn id(&self) -> u32 {
        let raw = self.read(Register::Id);
        match self.mode() {
            Mode::XApic => raw >> 24,
            Mode::X2Apic => raw,
        }
    }

    /// The version register.
    fn version(&self) -> ApicVersion {
        ApicVersion(self.read(Register::Version))
    }

    /// Signals end of interrupt (§11.8.5): writes 0 to the EOI register.
    /// Call at the end of every APIC-delivered interrupt handler except the
    /// spurious one.
    fn eoi(&mut self) {
        // SAFETY: writing 0 to EOI retires the highest-priority in-service
        // interrupt (or nothing); 0 is the value x2APIC mode requires.
        unsafe { self.write(Register::Eoi, 0) }
    }

    /// Software-enables the APIC and puts it into a known state:
    ///
    /// 1. SVR = `spurious_vector` | enable (bit 8). First, because while
    ///    the APIC is software-disabled LVT mask bits cannot be cleared
    ///    (§11.4.7.2). Focus checking and EOI-broadcast suppression off.
    /// 2. TPR = 0: accept every priority class.
    /// 3. LINT0 masked: the 8259s are masked and ISA interrupts come through
    ///    the I/O APIC, so the BIOS's virtual-wire ExtINT route is retired.
    /// 4. LINT1 masked: which pin carries NMI is platform data (MADT "Local
    ///    APIC NMI" entries); the kernel unmasks it as
    ///    `LvtEntry::new(LvtDeliveryMode::Nmi, 0)` where the MADT says so.
    /// 5. LVT error masked: errors are still latched in the ESR, which
    ///    [`LocalApic::error_status`] reads (e.g. after an IPI); the kernel
    ///    may route it to a vector once it has a handler.
    /// 6. Timer stopped: LVT timer masked, initial count 0 (firmware may
    ///    have left it running).
    /// 7. ESR cleared (written twice, as §11.5.3 wants back-to-back writes
    ///    on some processors).
    ///
    /// The thermal, performance-counter and CMCI entries keep their values.
    /// In xAPIC mode the DFR and LDR are left alone: the kernel uses
    /// physical destinations only.
    fn enable(&mut self, spurious_vector: u8) {
        // SAFETY: SVR enable with a spurious vector the kernel handles (it
        // needs no EOI); TPR 0; masking LVT entries and stopping the timer
        // only suppress interrupts; writing 0 to the ESR is required in
        // both modes. None of these writes sends an IPI.
        unsafe {
            self.write(
                Register::Svr,
                SpuriousVector::enabled(spurious_vector).bits(),
            );
            self.write(Register::Tpr, 0);
            self.write(Register::LvtLint0, LvtEntry::MASKED.bits());
            self.write(Register::LvtLint1, LvtEntry::MASKED.bits());
            self.write(Register::LvtError, LvtEntry::MASKED.bits());
            self.write(
                Register::LvtTimer,
                LvtTimer::new(0, TimerMode::OneShot).masked().bits(),
            );
            self.write(Register::TimerInitialCount, 0);
            self.write(Register::Esr, 0);
            self.write(Register::Esr, 0);
        }
    }

    /// The errors latched since the last call (§11.5.3: write the ESR,
    /// then read it).
    fn error_status(&mut self) -> ErrorStatus {
        // SAFETY: writing 0 to the ESR only latches the error bits.
        unsafe { self.write(Register::Esr, 0) };
        ErrorStatus(self.read(Register::Esr))
    }

    /// Whether `vector` is in service (its ISR bit is set), e.g. to tell a
    /// real interrupt from a spurious one.
    fn in_service(&self, vector: u8) -> bool {
        self.read_bank(RegisterBank::Isr, vector) & RegisterBank::bit(vector) != 0
    }

    /// Interrupts `vector` on the CPU with APIC ID `destination`.
    ///
    /// # Errors
    ///
    /// As [`LocalApic::send_ipi`].
    fn send_fixed_ipi(&mut self, destination: u32, vector: u8) -> Result<(), ApicError> {
        // SAFETY: fixed delivery only raises an interrupt (contract 3).
        unsafe { self.send_ipi(Icr::fixed(destination, vector)) }
    }

    /// Interrupts `vector` on the CPUs `shorthand` names.
    ///
    /// # Errors
    ///
    /// As [`LocalApic::send_ipi`].
    fn broadcast_fixed_ipi(
        &mut self,
        vector: u8,
        shorthand: DestinationShorthand,
    ) -> Result<(), ApicError> {
        // SAFETY: fixed delivery only raises an interrupt (contract 3).
        unsafe { self.send_ipi(Icr::broadcast(vector, shorthand)) }
    }

    /// Sets the timer's divide configuration.
    fn set_timer_divide(&mut self, divide: TimerDivide) {
        // SAFETY: changes the count rate only.
        unsafe { self.write(Register::TimerDivide, divide.bits()) }
    }

    /// Writes the LVT timer entry. When switching to
    /// [`TimerMode::TscDeadline`] in xAPIC mode, an `MFENCE` follows, so
    /// that a subsequent [`write_tsc_deadline`] is not ordered before the
    /// MMIO write (§11.5.4.1).
    fn set_lvt_timer(&mut self, lvt: LvtTimer) {
        // SAFETY: routes the timer to `lvt.vector()`, for which the kernel
        // installs a handler before unmasking; sends no IPI.
        unsafe { self.write(Register::LvtTimer, lvt.bits()) };
        if self.mode() == Mode::XApic && lvt.mode() == Some(TimerMode::TscDeadline) {
            core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Writes the initial count, (re)starting the timer; 0 stops it.
    fn set_timer_initial_count(&mut self, count: u32) {
        // SAFETY: starts or stops the timer only.
        unsafe { self.write(Register::TimerInitialCount, count) }
    }

    /// The current count.
    fn timer_current_count(&self) -> u32 {
        self.read(Register::TimerCurrentCount)
    }

    /// Starts the timer in periodic mode: divide, then LVT (vector,
    /// periodic, unmasked), then the initial count, which starts it.
    fn start_periodic_timer(&mut self, vector: u8, divide: TimerDivide, initial_count: u32) {
        self.set_timer_divide(divide);
        self.set_lvt_timer(LvtTimer::new(vector, TimerMode::Periodic));
        self.set_timer_initial_count(initial_count);
    }

    /// Stops the timer: initial count 0, LVT entry masked.
    fn stop_timer(&mut self) {
        self.set_timer_initial_count(0);
        let lvt = LvtTimer::from_bits(self.read(Register::LvtTimer)).masked();
        self.set_lvt_timer(lvt);
    }
}

/// The current CPU's local APIC in whichever mode [`select_mode`] picked:
/// the value the kernel keeps per CPU.
#[derive(Debug)]
pub enum Lapic {
    /// xAPIC mode (MMIO).
    XApic(XApic),
    /// x2APIC mode (MSRs).
    X2Apic(X2Apic),
}

impl Lapic {
    /// Brings the current CPU's APIC into the mode [`select_mode`] picks from
    /// CPUID and `IA32_APIC_BASE` (globally enabling it if firmware left it
    /// disabled) and returns its driver. Does not software-enable it: call
    /// [`LocalApic::enable`] next.
    ///
    /// # Errors
    ///
    /// [`ApicError::X2ApicUnsupported`] only if CPUID changed between two
    /// reads (i.e. never on real hardware); the APIC is then untouched.
    ///
    /// # Safety
    ///
    /// 1. `xapic_mmio` satisfies [`XApic::new`]'s contract if xAPIC mode is
    ///    chosen (it is unused in x2APIC mode, so the kernel must map the
    ///    page only when [`select_mode`] returns [`Mode::XApic`], or always).
    /// 2. No other APIC driver value of this CPU exists or is used
    ///    afterwards, and interrupts are disabled.
    pub unsafe fn init_current_cpu(xapic_mmio: VirtAddr) -> Result<Self, ApicError> {
        let base = read_apic_base();
        match select_mode(CpuFeatures::read(), base) {
            Mode::X2Apic => {
                // SAFETY: no xAPIC value of this CPU exists and interrupts
                // are disabled (contract 2).
                unsafe { enable_x2apic_mode() }?;
                // SAFETY: the APIC is now in x2APIC mode; sole value.
                Ok(Self::X2Apic(unsafe { X2Apic::new() }))
            }
            Mode::XApic => {
                if !base.is_enabled() {
                    // SAFETY: disabled -> xAPIC (EN = 1, EXTD = 0) is a
                    // legal transition; no driver value exists yet.
                    unsafe { write_apic_base(base.with_xapic_enabled()) };
                }
                // SAFETY: xAPIC mode; the mapping is the caller's promise.
                Ok(Self::XApic(unsafe { XApic::new(xapic_mmio) }))
            }
        }
    }

    fn inner(&self) -> &dyn LocalApic {
        match self {
            Self::XApic(a) => a,
            Self::X2Apic(a) => a,
        }
    }

    fn inner_mut(&mut self) -> &mut dyn LocalApic {
        match self {
            Self::XApic(a) => a,
            Self::X2Apic(a) => a,
        }
    }
}

impl LocalApic for Lapic {
    fn mode(&self) -> Mode {
        self.inner().mode()
    }

    fn read(&self, reg: Register) -> u32 {
        self.inner().read(reg)
    }

    unsafe fn write(&mut self, reg: Register, value: u32) {
        // SAFETY: forwarded; same contract.
        unsafe { self.inner_mut().write(reg, value) }
    }

    fn read_bank(&self, bank: RegisterBank, vector: u8) -> u32 {
        self.inner().read_bank(bank, vector)
    }

    unsafe fn send_ipi(&mut self, icr: Icr) -> Result<(), ApicError> {
        // SAFETY: forwarded; same contract.
        unsafe { self.inner_mut().send_ipi(icr) }
    }
}

#[cfg(test)]
mod tests;
