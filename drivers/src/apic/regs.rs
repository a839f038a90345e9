//! Local-APIC registers: the address map and the bit layouts of the simple
//! registers (ID, version, SVR, ESR, the non-timer LVT entries) and of the
//! `IA32_APIC_BASE` MSR.
//!
//! References (Intel SDM Vol. 3A, chapter "Advanced Programmable Interrupt
//! Controller (APIC)", numbered 11 in the 2023 editions, 10 in older ones):
//!
//! - Table 11-1 *Local APIC Register Address Map* (xAPIC MMIO offsets);
//! - §11.12.1.2 *x2APIC Register Address Space* and Table 11-6 *Local APIC
//!   Register Address Map Supported by x2APIC* (MSR = `0x800 + offset / 16`);
//! - §11.4.4 *Local APIC Status and Location*, Figure 11-5 (`IA32_APIC_BASE`);
//! - §11.12.1 *Detecting and Enabling x2APIC Mode*, Table 11-5;
//! - §11.4.8 *Local APIC Version Register*, Figure 11-7;
//! - §11.5.1 *Local Vector Table*, Figure 11-8;
//! - §11.5.3 *Error Handling*, Figure 11-9;
//! - §11.9 *Spurious Interrupt*, Figure 11-23.

use core::fmt;

use x86_64::PhysAddr;

/// How software may access a register (Table 11-1 / Table 11-6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Read only; a write is ignored in xAPIC mode and raises `#GP` in
    /// x2APIC mode.
    ReadOnly,
    /// Write only (EOI); reads are undefined in xAPIC mode and raise `#GP`
    /// in x2APIC mode.
    WriteOnly,
    /// Read and write.
    ReadWrite,
}

/// The operating mode of a local APIC (Table 11-5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// xAPIC: registers are 32-bit words in a 4 KiB MMIO page, 16 bytes
    /// apart; 8-bit APIC IDs.
    XApic,
    /// x2APIC: registers are MSRs `0x800..=0x8FF`; 32-bit APIC IDs; the
    /// ICR is one 64-bit MSR.
    X2Apic,
}

/// A named local-APIC register. The discriminant is the xAPIC MMIO offset
/// from the APIC base (Table 11-1).
///
/// The banked 256-bit registers (ISR, TMR, IRR) are [`RegisterBank`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Register {
    /// Local APIC ID. xAPIC: ID in bits 31:24 (read/write). x2APIC: the
    /// full 32-bit ID (read only).
    Id = 0x020,
    /// Local APIC version, see [`ApicVersion`].
    Version = 0x030,
    /// Task Priority Register (§11.8.3.1).
    Tpr = 0x080,
    /// Arbitration Priority Register (xAPIC only).
    Apr = 0x090,
    /// Processor Priority Register.
    Ppr = 0x0A0,
    /// End Of Interrupt (write only; in x2APIC mode only `0` may be written).
    Eoi = 0x0B0,
    /// Remote Read Register (xAPIC only, obsolete).
    Rrd = 0x0C0,
    /// Logical Destination Register (read only in x2APIC mode).
    Ldr = 0x0D0,
    /// Destination Format Register (xAPIC only; x2APIC mode has no DFR,
    /// §11.12.1.2).
    Dfr = 0x0E0,
    /// Spurious-interrupt Vector Register, see [`SpuriousVector`].
    Svr = 0x0F0,
    /// Error Status Register, see [`ErrorStatus`].
    Esr = 0x280,
    /// LVT Corrected Machine Check Interrupt.
    LvtCmci = 0x2F0,
    /// Interrupt Command Register, bits 31:0. In x2APIC mode this is the
    /// whole 64-bit ICR (MSR `0x830`).
    IcrLow = 0x300,
    /// Interrupt Command Register, bits 63:32 (xAPIC only; folded into MSR
    /// `0x830` in x2APIC mode).
    IcrHigh = 0x310,
    /// LVT Timer, see [`super::LvtTimer`].
    LvtTimer = 0x320,
    /// LVT Thermal Sensor.
    LvtThermal = 0x330,
    /// LVT Performance Monitoring Counters.
    LvtPerfMon = 0x340,
    /// LVT LINT0 (local interrupt pin 0; the 8259's INTR in virtual-wire
    /// mode).
    LvtLint0 = 0x350,
    /// LVT LINT1 (local interrupt pin 1; NMI on PC platforms).
    LvtLint1 = 0x360,
    /// LVT Error.
    LvtError = 0x370,
    /// Timer Initial Count.
    TimerInitialCount = 0x380,
    /// Timer Current Count (read only).
    TimerCurrentCount = 0x390,
    /// Timer Divide Configuration, see [`super::TimerDivide`].
    TimerDivide = 0x3E0,
}

impl Register {
    /// Every named register, in address order.
    pub const ALL: [Self; 23] = [
        Self::Id,
        Self::Version,
        Self::Tpr,
        Self::Apr,
        Self::Ppr,
        Self::Eoi,
        Self::Rrd,
        Self::Ldr,
        Self::Dfr,
        Self::Svr,
        Self::Esr,
        Self::LvtCmci,
        Self::IcrLow,
        Self::IcrHigh,
        Self::LvtTimer,
        Self::LvtThermal,
        Self::LvtPerfMon,
        Self::LvtLint0,
        Self::LvtLint1,
        Self::LvtError,
        Self::TimerInitialCount,
        Self::TimerCurrentCount,
        Self::TimerDivide,
    ];

    /// Byte offset of the register from the xAPIC MMIO base.
    pub const fn mmio_offset(self) -> usize {
        self as usize
    }

    /// The x2APIC MSR holding this register, `0x800 + offset / 16`
    /// (§11.12.1.2), or `None` for the registers x2APIC mode does not have
    /// ([`Apr`](Self::Apr), [`Rrd`](Self::Rrd), [`Dfr`](Self::Dfr) and
    /// [`IcrHigh`](Self::IcrHigh), whose bits live in MSR `0x830`).
    pub const fn x2apic_msr(self) -> Option<u32> {
        match self {
            Self::Apr | Self::Rrd | Self::Dfr | Self::IcrHigh => None,
            _ => Some(X2APIC_MSR_BASE + (self as u32 >> 4)),
        }
    }

    /// Whether the register exists in `mode`.
    pub const fn exists_in(self, mode: Mode) -> bool {
        match mode {
            Mode::XApic => true,
            Mode::X2Apic => self.x2apic_msr().is_some(),
        }
    }

    /// How software may access the register in `mode`.
    pub const fn access(self, mode: Mode) -> Access {
        match (self, mode) {
            (Self::Eoi, _) => Access::WriteOnly,
            (Self::Version | Self::Apr | Self::Ppr | Self::Rrd | Self::TimerCurrentCount, _) => {
                Access::ReadOnly
            }
            // The ID and the logical ID are assigned by hardware in x2APIC
            // mode (§11.12.2, §11.12.10.2).
            (Self::Id | Self::Ldr, Mode::X2Apic) => Access::ReadOnly,
            _ => Access::ReadWrite,
        }
    }
}

/// First MSR of the x2APIC register space (§11.12.1.2).
pub const X2APIC_MSR_BASE: u32 = 0x800;

/// The 256-bit registers, each eight 32-bit words 16 bytes apart: word `n`
/// holds vectors `32 n ..= 32 n + 31` (Table 11-1, §11.8.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum RegisterBank {
    /// In-Service Register (interrupts delivered, not yet EOI-ed).
    Isr = 0x100,
    /// Trigger Mode Register (1 = level-triggered).
    Tmr = 0x180,
    /// Interrupt Request Register (interrupts accepted, not yet delivered).
    Irr = 0x200,
}

impl RegisterBank {
    /// MMIO offset of the word holding `vector`.
    pub const fn mmio_offset(self, vector: u8) -> usize {
        self as usize + (vector as usize / 32) * 0x10
    }

    /// x2APIC MSR of the word holding `vector`.
    pub const fn x2apic_msr(self, vector: u8) -> u32 {
        X2APIC_MSR_BASE + (self.mmio_offset(vector) as u32 >> 4)
    }

    /// Mask of `vector`'s bit in its word.
    pub const fn bit(vector: u8) -> u32 {
        1 << (vector % 32)
    }
}

/// The Local APIC Version Register (Figure 11-7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ApicVersion(pub u32);

impl ApicVersion {
    /// Bits 7:0: the version (`0x1X` for integrated APICs).
    pub const fn version(self) -> u8 {
        self.0 as u8
    }

    /// Bits 23:16: number of LVT entries minus one.
    pub const fn max_lvt_entry(self) -> u8 {
        (self.0 >> 16) as u8
    }

    /// Bit 24: EOI-broadcast suppression can be enabled in the SVR.
    pub const fn eoi_broadcast_suppression(self) -> bool {
        self.0 & (1 << 24) != 0
    }
}

/// The Spurious-Interrupt Vector Register (§11.9, Figure 11-23).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpuriousVector(u32);

impl SpuriousVector {
    /// Bit 8: APIC software enable. While clear, the APIC accepts no
    /// interrupts except NMI, SMI, INIT and SIPI, and all LVT entries read
    /// as masked (§11.4.7.2).
    pub const APIC_ENABLE: u32 = 1 << 8;
    /// Bit 9: focus processor checking *disabled* (when set).
    pub const FOCUS_DISABLE: u32 = 1 << 9;
    /// Bit 12: EOI-broadcast suppression.
    pub const EOI_BROADCAST_SUPPRESSION: u32 = 1 << 12;

    /// Software-enabled, delivering spurious interrupts on `vector`. On
    /// P6/Pentium processors bits 3:0 of the vector are hard-wired to 1, so
    /// use a vector ending in `0xF` (the kernel uses `0xFF`).
    pub const fn enabled(vector: u8) -> Self {
        Self(vector as u32 | Self::APIC_ENABLE)
    }

    /// The register value `bits`.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The raw value.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Bits 7:0: the spurious vector.
    pub const fn vector(self) -> u8 {
        self.0 as u8
    }

    /// Whether the APIC is software-enabled.
    pub const fn is_enabled(self) -> bool {
        self.0 & Self::APIC_ENABLE != 0
    }
}

impl fmt::Debug for SpuriousVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpuriousVector({:#x})", self.0)
    }
}

/// The Error Status Register (§11.5.3, Figure 11-9). Software writes the
/// ESR (with `0`) to latch the errors since the last write, then reads it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorStatus(pub u32);

impl ErrorStatus {
    /// Bit 0: send checksum error (P6/Pentium only).
    pub const SEND_CHECKSUM: u32 = 1 << 0;
    /// Bit 1: receive checksum error (P6/Pentium only).
    pub const RECEIVE_CHECKSUM: u32 = 1 << 1;
    /// Bit 2: send accept error (P6/Pentium only).
    pub const SEND_ACCEPT: u32 = 1 << 2;
    /// Bit 3: receive accept error (P6/Pentium only).
    pub const RECEIVE_ACCEPT: u32 = 1 << 3;
    /// Bit 4: redirectable (lowest-priority) IPI not supported.
    pub const REDIRECTABLE_IPI: u32 = 1 << 4;
    /// Bit 5: an IPI with an illegal vector (0..=15) was sent.
    pub const SEND_ILLEGAL_VECTOR: u32 = 1 << 5;
    /// Bit 6: an interrupt with an illegal vector was received.
    pub const RECEIVE_ILLEGAL_VECTOR: u32 = 1 << 6;
    /// Bit 7: an unimplemented register was accessed (xAPIC MMIO only).
    pub const ILLEGAL_REGISTER_ADDRESS: u32 = 1 << 7;

    /// No error bit set.
    pub const fn is_empty(self) -> bool {
        self.0 & 0xFF == 0
    }
}

impl fmt::Debug for ErrorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorStatus({:#04x})", self.0)
    }
}

/// Delivery mode of a non-timer LVT entry (Figure 11-8, bits 10:8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum LvtDeliveryMode {
    /// Deliver the entry's vector.
    Fixed = 0b000,
    /// System management interrupt (vector must be 0).
    Smi = 0b010,
    /// Non-maskable interrupt (vector ignored).
    Nmi = 0b100,
    /// INIT (LINT0/LINT1 only).
    Init = 0b101,
    /// External interrupt: the vector comes from an 8259 (LINT0/LINT1
    /// only; the BIOS's "virtual wire" setup).
    ExtInt = 0b111,
}

/// A non-timer LVT entry: LINT0, LINT1, error, thermal, performance
/// counters, CMCI (Figure 11-8). The timer entry is [`super::LvtTimer`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct LvtEntry(u32);

impl LvtEntry {
    /// Bit 12 (read only): delivery status, 1 = send pending.
    pub const DELIVERY_STATUS: u32 = 1 << 12;
    /// Bit 13: input pin polarity, 1 = active low (LINT0/1 only).
    pub const ACTIVE_LOW: u32 = 1 << 13;
    /// Bit 14 (read only): remote IRR (LINT0/1, level-triggered only).
    pub const REMOTE_IRR: u32 = 1 << 14;
    /// Bit 15: trigger mode, 1 = level (LINT0/1 only).
    pub const LEVEL_TRIGGERED: u32 = 1 << 15;
    /// Bit 16: masked. The reset value of every LVT entry (§11.4.7.1).
    pub const MASK: u32 = 1 << 16;
    /// Bits 10:8 hold the delivery mode.
    const DELIVERY_MODE_SHIFT: u32 = 8;

    /// A masked entry (everything else zero).
    pub const MASKED: Self = Self(Self::MASK);

    /// An unmasked entry delivering `vector` (fixed delivery, edge, active
    /// high).
    pub const fn fixed(vector: u8) -> Self {
        Self(vector as u32)
    }

    /// An unmasked entry with delivery mode `mode` and `vector` (the vector
    /// is ignored for NMI and ExtINT, and must be 0 for SMI).
    pub const fn new(mode: LvtDeliveryMode, vector: u8) -> Self {
        Self((mode as u32) << Self::DELIVERY_MODE_SHIFT | vector as u32)
    }

    /// `self` masked.
    pub const fn masked(self) -> Self {
        Self(self.0 | Self::MASK)
    }

    /// The register value `bits`.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The raw value.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether the entry is masked.
    pub const fn is_masked(self) -> bool {
        self.0 & Self::MASK != 0
    }
}

impl fmt::Debug for LvtEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LvtEntry({:#x})", self.0)
    }
}

/// The `IA32_APIC_BASE` MSR (§11.4.4, Figure 11-5; §11.12.1, Table 11-5).
///
/// | bits  | meaning |
/// | ----- | ------- |
/// | 8     | BSP flag (read only): this is the bootstrap processor |
/// | 10    | EXTD: x2APIC mode enable |
/// | 11    | EN: APIC global enable |
/// | 12..  | physical base of the xAPIC MMIO page (up to MAXPHYADDR) |
///
/// EN/EXTD: `0/0` disabled, `1/0` xAPIC, `1/1` x2APIC, `0/1` invalid. The
/// only legal way into x2APIC mode is from xAPIC mode; leaving x2APIC mode
/// requires disabling the APIC first (§11.12.5, figure *Local x2APIC
/// State Transitions*).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApicBase(u64);

impl ApicBase {
    /// The MSR number.
    pub const MSR: u32 = 0x1B;
    /// Bit 8: bootstrap processor.
    pub const BSP: u64 = 1 << 8;
    /// Bit 10: x2APIC mode (EXTD).
    pub const X2APIC_ENABLE: u64 = 1 << 10;
    /// Bit 11: APIC global enable (EN).
    pub const GLOBAL_ENABLE: u64 = 1 << 11;
    /// Bits 51:12: the MMIO base (MAXPHYADDR is at most 52).
    pub const BASE_MASK: u64 = 0x000F_FFFF_FFFF_F000;
    /// The architectural reset value of the base: `0xFEE0_0000`.
    pub const DEFAULT_BASE: u64 = 0xFEE0_0000;

    /// The MSR value `bits`.
    pub const fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The raw value.
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// Whether this CPU is the bootstrap processor.
    pub const fn is_bsp(self) -> bool {
        self.0 & Self::BSP != 0
    }

    /// Whether the APIC is globally enabled (EN).
    pub const fn is_enabled(self) -> bool {
        self.0 & Self::GLOBAL_ENABLE != 0
    }

    /// Whether the APIC is in x2APIC mode (EN and EXTD).
    pub const fn is_x2apic(self) -> bool {
        self.0 & (Self::GLOBAL_ENABLE | Self::X2APIC_ENABLE)
            == Self::GLOBAL_ENABLE | Self::X2APIC_ENABLE
    }

    /// The mode the APIC is in, `None` if disabled (or in the invalid state
    /// EN = 0, EXTD = 1).
    pub const fn mode(self) -> Option<Mode> {
        if !self.is_enabled() {
            None
        } else if self.is_x2apic() {
            Some(Mode::X2Apic)
        } else {
            Some(Mode::XApic)
        }
    }

    /// Physical address of the xAPIC MMIO page.
    pub fn base(self) -> PhysAddr {
        PhysAddr::new_truncate(self.0 & Self::BASE_MASK)
    }

    /// `self` in xAPIC mode: EN set, EXTD cleared. Only a legal transition
    /// from the disabled state (or a no-op in xAPIC mode).
    pub const fn with_xapic_enabled(self) -> Self {
        Self((self.0 & !Self::X2APIC_ENABLE) | Self::GLOBAL_ENABLE)
    }

    /// The sequence of values to write to go from `self` to x2APIC mode
    /// along the legal transitions of §11.12.5: at most two writes
    /// (disabled → xAPIC → x2APIC), none if already in x2APIC mode. The
    /// read-only BSP bit is carried along unchanged (writes ignore it).
    pub const fn x2apic_transition(self) -> [Option<Self>; 2] {
        if self.is_x2apic() {
            return [None, None];
        }
        // Drop a stray EXTD (the invalid 0/1 state) before enabling.
        let xapic = self.with_xapic_enabled();
        let x2apic = Self(xapic.0 | Self::X2APIC_ENABLE);
        if self.0 == xapic.0 {
            [Some(x2apic), None]
        } else {
            [Some(xapic), Some(x2apic)]
        }
    }
}

impl fmt::Debug for ApicBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApicBase({:#x})", self.0)
    }
}

// Table 11-6 spot checks and bit positions, at compile time.
const _: () = {
    assert!(Register::Svr.mmio_offset() == 0xF0);
    assert!(matches!(Register::Eoi.x2apic_msr(), Some(0x80B)));
    assert!(matches!(Register::IcrLow.x2apic_msr(), Some(0x830)));
    assert!(Register::IcrHigh.x2apic_msr().is_none());
    assert!(Register::Dfr.x2apic_msr().is_none());
    assert!(SpuriousVector::enabled(0xFF).bits() == 0x1FF);
    assert!(LvtEntry::MASKED.bits() == 0x1_0000);
    assert!(LvtEntry::new(LvtDeliveryMode::Nmi, 0).bits() == 0x400);
    assert!(LvtEntry::new(LvtDeliveryMode::ExtInt, 0).bits() == 0x700);
    assert!(RegisterBank::Isr.x2apic_msr(0xFF) == 0x817);
};
