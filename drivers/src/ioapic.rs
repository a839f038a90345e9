//! The I/O APIC (Intel 82093AA and compatibles): typed registers, the
//! indirect IOREGSEL/IOWIN access, and where an ISA IRQ arrives.
//!
//! References:
//!
//! - *82093AA I/O Advanced Programmable Interrupt Controller (IOAPIC)*
//!   datasheet, Intel order no. 290566-001, May 1996: §3.0 *Register
//!   Description*, Table 1 *Memory Mapped Registers* (IOREGSEL at offset
//!   0x00, IOWIN at 0x10), Table 2 *IOAPIC Registers* (indices), §3.2.1
//!   IOAPICID, §3.2.2 IOAPICVER, §3.2.4 IOREDTBL\[23:0\] (Figure 6 / the
//!   bit table of the redirection entries).
//! - ACPI 6.5 §5.2.12.3 *I/O APIC Structure* (where each I/O APIC's window
//!   is and its first global system interrupt, GSI) and §5.2.12.5
//!   *Interrupt Source Override Structure* with Table 5.26 *MPS INTI Flags*
//!   (an ISA IRQ that does not arrive at the identity GSI, or not edge /
//!   active high). The kernel parses those (`kernel::madt`) and hands the
//!   overrides to [`resolve_isa_irq`] as [`IsaOverride`]s.
//!
//! # Shape
//!
//! The registers are reached through two 32-bit MMIO words: write a
//! register index to IOREGSEL, then read or write the register through
//! IOWIN. [`IoApicRegs`] abstracts that pair so that everything above it —
//! [`IoApic`]'s read-modify-write of 64-bit entries, masking, the version
//! decode — runs in host tests against a fake register file; [`MmioRegs`]
//! is the real one. Like every driver here, [`IoApic`] takes no lock: the
//! index/data pair is a two-step protocol, and the kernel must make sure
//! only one CPU at a time uses a given I/O APIC.

use core::fmt;

use x86_64::VirtAddr;

/// Byte offset of IOREGSEL, the register-select word (Table 1).
pub const IOREGSEL_OFFSET: usize = 0x00;
/// Byte offset of IOWIN, the data window (Table 1).
pub const IOWIN_OFFSET: usize = 0x10;
/// Bytes of MMIO the two words need (one page is mapped in practice).
pub const WINDOW_SIZE: u64 = 0x20;

/// Register indices (Table 2).
pub mod index {
    /// IOAPICID: the I/O APIC's id in bits 27:24 (§3.2.1).
    pub const ID: u8 = 0x00;
    /// IOAPICVER: version in bits 7:0, maximum redirection entry in bits
    /// 23:16 (§3.2.2).
    pub const VERSION: u8 = 0x01;
    /// IOAPICARB: arbitration id (§3.2.3).
    pub const ARBITRATION: u8 = 0x02;
    /// First redirection-table word; entry `n` is the pair
    /// `0x10 + 2n` (bits 31:0) and `0x11 + 2n` (bits 63:32) (§3.2.4).
    pub const REDIRECTION_BASE: u8 = 0x10;

    /// Index of the low word of redirection entry `entry`.
    pub const fn redirection_low(entry: u8) -> u8 {
        REDIRECTION_BASE + 2 * entry
    }

    /// Index of the high word of redirection entry `entry`.
    pub const fn redirection_high(entry: u8) -> u8 {
        REDIRECTION_BASE + 2 * entry + 1
    }
}

/// The most redirection entries an I/O APIC can have: IOAPICVER's field is
/// 8 bits wide (max entry 255 ⇒ 256 entries), though the index register
/// only reaches entry 119 (`0x10 + 2·119 + 1 = 0xFF`).
pub const MAX_ENTRIES: u16 = 120;

/// The register pair through which an I/O APIC is reached.
///
/// `read` and `write` select `index` through IOREGSEL and then access
/// IOWIN; an implementation does both steps. Not thread-safe by design:
/// whoever owns the value owns the I/O APIC.
pub trait IoApicRegs {
    /// Reads the 32-bit register `index`.
    fn read(&mut self, index: u8) -> u32;
    /// Writes the 32-bit register `index`.
    fn write(&mut self, index: u8, value: u32);
}

/// The real register pair: IOREGSEL and IOWIN of a mapped I/O APIC window.
#[derive(Debug)]
pub struct MmioRegs {
    base: *mut u32,
}

impl MmioRegs {
    /// Drives the I/O APIC whose register window is mapped at `base`.
    /// Performs no access.
    ///
    /// # Safety
    ///
    /// 1. `base` is the virtual address of an uncached, present, writable
    ///    mapping of an I/O APIC's register window (at least
    ///    [`WINDOW_SIZE`] bytes), valid for the lifetime of the value.
    /// 2. The value has exclusive use of that I/O APIC: no other
    ///    `MmioRegs` for it is used at the same time (a select/access pair
    ///    of another user in between would redirect this one's access).
    pub unsafe fn new(base: VirtAddr) -> Self {
        debug_assert!(base.is_aligned(16u64), "I/O APIC window must be aligned");
        Self {
            base: base.as_mut_ptr(),
        }
    }

    fn word(&self, offset: usize) -> *mut u32 {
        self.base.wrapping_byte_add(offset)
    }
}

impl IoApicRegs for MmioRegs {
    fn read(&mut self, index: u8) -> u32 {
        // SAFETY: both words lie in the window `new`'s caller mapped
        // (contract 1), accessed with aligned 32-bit volatile operations
        // as the datasheet requires; exclusivity (contract 2) keeps the
        // select and the access together.
        unsafe {
            self.word(IOREGSEL_OFFSET).write_volatile(u32::from(index));
            self.word(IOWIN_OFFSET).read_volatile()
        }
    }

    fn write(&mut self, index: u8, value: u32) {
        // SAFETY: as in `read`.
        unsafe {
            self.word(IOREGSEL_OFFSET).write_volatile(u32::from(index));
            self.word(IOWIN_OFFSET).write_volatile(value);
        }
    }
}

/// IOAPICVER decoded (§3.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// Bits 7:0: the implementation version (0x11 for the 82093AA, 0x20
    /// for QEMU's).
    pub version: u8,
    /// Bits 23:16: the index of the last redirection entry (entries − 1;
    /// 0x17 for the 82093AA's 24 inputs).
    pub max_redirection_entry: u8,
}

impl Version {
    /// Decodes the register value.
    pub const fn from_bits(bits: u32) -> Self {
        Self {
            version: bits as u8,
            max_redirection_entry: (bits >> 16) as u8,
        }
    }

    /// How many redirection entries (inputs) the I/O APIC has.
    pub const fn entries(self) -> u16 {
        self.max_redirection_entry as u16 + 1
    }
}

/// Delivery mode, bits 10:8 of a redirection entry (§3.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryMode {
    /// 000: deliver `vector` to the destination.
    Fixed,
    /// 001: to the lowest-priority CPU of the destination.
    LowestPriority,
    /// 010: System Management Interrupt (vector ignored, edge).
    Smi,
    /// 100: NMI (vector ignored, edge).
    Nmi,
    /// 101: INIT (vector ignored, edge).
    Init,
    /// 111: as an 8259 would deliver it (ExtINT, edge).
    ExtInt,
    /// 011 or 110: reserved encodings (read back, never written by us).
    Reserved(u8),
}

impl DeliveryMode {
    const fn bits(self) -> u64 {
        match self {
            Self::Fixed => 0b000,
            Self::LowestPriority => 0b001,
            Self::Smi => 0b010,
            Self::Nmi => 0b100,
            Self::Init => 0b101,
            Self::ExtInt => 0b111,
            Self::Reserved(bits) => (bits & 0b111) as u64,
        }
    }

    const fn from_bits(bits: u64) -> Self {
        match bits & 0b111 {
            0b000 => Self::Fixed,
            0b001 => Self::LowestPriority,
            0b010 => Self::Smi,
            0b100 => Self::Nmi,
            0b101 => Self::Init,
            0b111 => Self::ExtInt,
            other => Self::Reserved(other as u8),
        }
    }
}

/// Destination mode, bit 11 (§3.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestinationMode {
    /// 0: bits 59:56 (xAPIC: 63:56) are an APIC id.
    Physical,
    /// 1: bits 63:56 are a logical destination (set of CPUs).
    Logical,
}

/// Input pin polarity, bit 13 (§3.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    /// 0: active high.
    ActiveHigh,
    /// 1: active low.
    ActiveLow,
}

/// Trigger mode, bit 15 (§3.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerMode {
    /// 0: edge-sensitive.
    Edge,
    /// 1: level-sensitive (the Local APIC's EOI clears Remote IRR).
    Level,
}

/// One 64-bit redirection-table entry (IOREDTBL, §3.2.4):
///
/// ```text
/// 63..56 destination   16 mask (1 = masked)       13 polarity (1 = low)
/// 15 trigger (1 = level)   14 remote IRR (RO)     12 delivery status (RO)
/// 11 destination mode (1 = logical)  10..8 delivery mode  7..0 vector
/// ```
///
/// The read-only bits (delivery status, remote IRR) are decoded but
/// [`RedirectionEntry::to_bits`] writes them as 0 (writes to them are
/// ignored by the hardware anyway).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedirectionEntry {
    /// Bits 7:0: the vector delivered (0x10..=0xFE are valid).
    pub vector: u8,
    /// Bits 10:8.
    pub delivery_mode: DeliveryMode,
    /// Bit 11.
    pub destination_mode: DestinationMode,
    /// Bit 12 (read only): an interrupt is waiting to be delivered.
    pub delivery_pending: bool,
    /// Bit 13.
    pub polarity: Polarity,
    /// Bit 14 (read only, level mode): the interrupt was accepted and its
    /// EOI is still outstanding.
    pub remote_irr: bool,
    /// Bit 15.
    pub trigger: TriggerMode,
    /// Bit 16: the input is masked (no interrupt is sent).
    pub masked: bool,
    /// Bits 63:56: the destination APIC id (physical) or set (logical).
    pub destination: u8,
}

impl RedirectionEntry {
    const VECTOR_MASK: u64 = 0xFF;
    const DELIVERY_MODE_SHIFT: u32 = 8;
    const DESTINATION_MODE: u64 = 1 << 11;
    const DELIVERY_STATUS: u64 = 1 << 12;
    const POLARITY: u64 = 1 << 13;
    const REMOTE_IRR: u64 = 1 << 14;
    const TRIGGER: u64 = 1 << 15;
    /// Bit 16 of the low word: the mask bit.
    pub const MASK: u32 = 1 << 16;
    const DESTINATION_SHIFT: u32 = 56;

    /// A masked, fixed, physical entry for `vector` to the CPU with APIC
    /// id `destination`, with the given electrical properties.
    pub const fn fixed(
        vector: u8,
        destination: u8,
        polarity: Polarity,
        trigger: TriggerMode,
    ) -> Self {
        Self {
            vector,
            delivery_mode: DeliveryMode::Fixed,
            destination_mode: DestinationMode::Physical,
            delivery_pending: false,
            polarity,
            remote_irr: false,
            trigger,
            masked: true,
            destination,
        }
    }

    /// The state every entry has after reset (§3.2.4: "all bits are
    /// undefined except the mask bit, which is set"): masked, the rest 0.
    pub const MASKED: Self = Self::fixed(0, 0, Polarity::ActiveHigh, TriggerMode::Edge);

    /// Decodes the 64 bits of an entry.
    pub const fn from_bits(bits: u64) -> Self {
        Self {
            vector: (bits & Self::VECTOR_MASK) as u8,
            delivery_mode: DeliveryMode::from_bits(bits >> Self::DELIVERY_MODE_SHIFT),
            destination_mode: if bits & Self::DESTINATION_MODE != 0 {
                DestinationMode::Logical
            } else {
                DestinationMode::Physical
            },
            delivery_pending: bits & Self::DELIVERY_STATUS != 0,
            polarity: if bits & Self::POLARITY != 0 {
                Polarity::ActiveLow
            } else {
                Polarity::ActiveHigh
            },
            remote_irr: bits & Self::REMOTE_IRR != 0,
            trigger: if bits & Self::TRIGGER != 0 {
                TriggerMode::Level
            } else {
                TriggerMode::Edge
            },
            masked: bits & Self::MASK as u64 != 0,
            destination: (bits >> Self::DESTINATION_SHIFT) as u8,
        }
    }

    /// Encodes the entry (read-only bits as 0).
    pub const fn to_bits(self) -> u64 {
        let mut bits = self.vector as u64;
        bits |= self.delivery_mode.bits() << Self::DELIVERY_MODE_SHIFT;
        if let DestinationMode::Logical = self.destination_mode {
            bits |= Self::DESTINATION_MODE;
        }
        if let Polarity::ActiveLow = self.polarity {
            bits |= Self::POLARITY;
        }
        if let TriggerMode::Level = self.trigger {
            bits |= Self::TRIGGER;
        }
        if self.masked {
            bits |= Self::MASK as u64;
        }
        bits | (self.destination as u64) << Self::DESTINATION_SHIFT
    }

    /// The entry with its mask bit set or cleared.
    pub const fn with_mask(mut self, masked: bool) -> Self {
        self.masked = masked;
        self
    }
}

/// Why the I/O APIC refused an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoApicError {
    /// IOAPICVER read as all ones: nothing answers at the window (an
    /// unmapped or absent device reads as `0xFFFF_FFFF` on PCs).
    NotResponding,
    /// The entry index is past the I/O APIC's last entry.
    NoSuchEntry {
        /// The index asked for.
        entry: u8,
        /// How many entries there are.
        entries: u16,
    },
    /// The vector cannot be used for a fixed interrupt (0..=0x0F are
    /// reserved by the Local APIC, 0xFF is not allowed either).
    BadVector(u8),
}

impl fmt::Display for IoApicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotResponding => f.write_str("I/O APIC does not respond (reads all ones)"),
            Self::NoSuchEntry { entry, entries } => {
                write!(f, "I/O APIC has {entries} entries, no entry {entry}")
            }
            Self::BadVector(v) => write!(f, "vector {v:#x} is not usable for a device interrupt"),
        }
    }
}

impl core::error::Error for IoApicError {}

/// An I/O APIC reached through `R`.
#[derive(Debug)]
pub struct IoApic<R> {
    regs: R,
    entries: u16,
}

impl<R: IoApicRegs> IoApic<R> {
    /// Reads IOAPICVER to learn the number of entries; fails if the
    /// register reads all ones.
    pub fn new(mut regs: R) -> Result<Self, IoApicError> {
        let bits = regs.read(index::VERSION);
        if bits == u32::MAX {
            return Err(IoApicError::NotResponding);
        }
        let entries = Version::from_bits(bits).entries().min(MAX_ENTRIES);
        Ok(Self { regs, entries })
    }

    /// IOAPICID bits 27:24 (§3.2.1).
    pub fn id(&mut self) -> u8 {
        ((self.regs.read(index::ID) >> 24) & 0x0F) as u8
    }

    /// IOAPICVER decoded (§3.2.2).
    pub fn version(&mut self) -> Version {
        Version::from_bits(self.regs.read(index::VERSION))
    }

    /// How many redirection entries (inputs) there are.
    pub fn entries(&self) -> u16 {
        self.entries
    }

    fn check(&self, entry: u8) -> Result<(), IoApicError> {
        if u16::from(entry) < self.entries {
            Ok(())
        } else {
            Err(IoApicError::NoSuchEntry {
                entry,
                entries: self.entries,
            })
        }
    }

    /// Reads redirection entry `entry` (low word, then high word).
    pub fn read_entry(&mut self, entry: u8) -> Result<RedirectionEntry, IoApicError> {
        self.check(entry)?;
        let low = self.regs.read(index::redirection_low(entry));
        let high = self.regs.read(index::redirection_high(entry));
        Ok(RedirectionEntry::from_bits(
            u64::from(high) << 32 | u64::from(low),
        ))
    }

    /// Writes redirection entry `entry` so that the input is never live
    /// with a half-written entry: the low word is first written masked,
    /// then the high word (destination), then the low word as given.
    pub fn write_entry(&mut self, entry: u8, value: RedirectionEntry) -> Result<(), IoApicError> {
        self.check(entry)?;
        if !value.masked && !(0x10..=0xFE).contains(&value.vector) {
            return Err(IoApicError::BadVector(value.vector));
        }
        let bits = value.to_bits();
        let (low, high) = (bits as u32, (bits >> 32) as u32);
        self.regs
            .write(index::redirection_low(entry), low | RedirectionEntry::MASK);
        self.regs.write(index::redirection_high(entry), high);
        if !value.masked {
            self.regs.write(index::redirection_low(entry), low);
        }
        Ok(())
    }

    /// Sets or clears the mask bit of `entry`, leaving the rest as it is
    /// (one read and one write of the low word).
    pub fn set_masked(&mut self, entry: u8, masked: bool) -> Result<(), IoApicError> {
        self.check(entry)?;
        let low = self.regs.read(index::redirection_low(entry));
        let low = if masked {
            low | RedirectionEntry::MASK
        } else {
            low & !RedirectionEntry::MASK
        };
        self.regs.write(index::redirection_low(entry), low);
        Ok(())
    }

    /// Masks every entry, resetting it to [`RedirectionEntry::MASKED`].
    pub fn mask_all(&mut self) {
        for entry in 0..self.entries {
            // `entry < entries ≤ MAX_ENTRIES`: in range, and fits a u8.
            let _ = self.write_entry(entry as u8, RedirectionEntry::MASKED);
        }
    }
}

/// An ISA interrupt source override as [`resolve_isa_irq`] takes it
/// (ACPI 6.5 §5.2.12.5; only bus 0, ISA, is meaningful). `None` for the
/// polarity or trigger means "conforms to the bus" (MPS INTI flags 00),
/// which for ISA is active high, edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsaOverride {
    /// The ISA IRQ.
    pub source_irq: u8,
    /// The GSI it is wired to.
    pub gsi: u32,
    /// Its polarity, `None` if the bus's default.
    pub polarity: Option<Polarity>,
    /// Its trigger mode, `None` if the bus's default.
    pub trigger: Option<TriggerMode>,
}

/// Where an ISA IRQ arrives and how it is signalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsaRoute {
    /// The global system interrupt.
    pub gsi: u32,
    /// Pin polarity to program.
    pub polarity: Polarity,
    /// Trigger mode to program.
    pub trigger: TriggerMode,
    /// Whether an override said so (false: the ISA identity default).
    pub overridden: bool,
}

/// ISA's electrical default: active high (ACPI 6.5 Table 5.26, "conforms
/// to the specifications of the bus").
pub const ISA_POLARITY: Polarity = Polarity::ActiveHigh;
/// ISA's trigger default: edge.
pub const ISA_TRIGGER: TriggerMode = TriggerMode::Edge;

/// Resolves ISA IRQ `irq`: the first override whose source is `irq` wins;
/// without one the IRQ arrives at GSI `irq`, edge, active high (ACPI 6.5
/// §5.2.12.5: "it is assumed that the ISA interrupts will be identity-mapped
/// into the first I/O APIC sources" and are edge/active high unless
/// overridden). A "conforms" field resolves to the ISA default.
pub fn resolve_isa_irq(irq: u8, overrides: impl IntoIterator<Item = IsaOverride>) -> IsaRoute {
    match overrides.into_iter().find(|o| o.source_irq == irq) {
        Some(o) => IsaRoute {
            gsi: o.gsi,
            polarity: o.polarity.unwrap_or(ISA_POLARITY),
            trigger: o.trigger.unwrap_or(ISA_TRIGGER),
            overridden: true,
        },
        None => IsaRoute {
            gsi: u32::from(irq),
            polarity: ISA_POLARITY,
            trigger: ISA_TRIGGER,
            overridden: false,
        },
    }
}

/// The I/O APIC input (entry) of `gsi` among I/O APICs given as
/// `(gsi_base, entries)`: `Some((which, entry))` where `which` indexes the
/// iterator, `None` if no I/O APIC covers `gsi`.
pub fn find_input(gsi: u32, apics: impl IntoIterator<Item = (u32, u16)>) -> Option<(usize, u8)> {
    apics
        .into_iter()
        .enumerate()
        .find_map(|(which, (base, entries))| {
            let offset = gsi.checked_sub(base)?;
            (offset < u32::from(entries)).then_some((which, offset as u8))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake register file: IOAPICID, IOAPICVER and `2 × entries` words,
    /// with a log of the writes.
    #[derive(Debug)]
    struct Fake {
        id: u32,
        version: u32,
        words: Vec<u32>,
        writes: Vec<(u8, u32)>,
    }

    impl Fake {
        fn new(entries: usize) -> Self {
            Self {
                id: 0x0200_0000,
                version: ((entries as u32 - 1) << 16) | 0x20,
                // Reset state: mask set, the rest undefined (here zero).
                words: (0..2 * entries)
                    .map(|i| if i % 2 == 0 { 1 << 16 } else { 0 })
                    .collect(),
                writes: Vec::new(),
            }
        }
    }

    impl IoApicRegs for Fake {
        fn read(&mut self, index: u8) -> u32 {
            match index {
                index::ID => self.id,
                index::VERSION => self.version,
                i if i >= index::REDIRECTION_BASE => self
                    .words
                    .get(usize::from(i - index::REDIRECTION_BASE))
                    .copied()
                    .unwrap_or(u32::MAX),
                _ => 0,
            }
        }

        fn write(&mut self, index: u8, value: u32) {
            self.writes.push((index, value));
            if index >= index::REDIRECTION_BASE {
                self.words[usize::from(index - index::REDIRECTION_BASE)] = value;
            }
        }
    }

    #[test]
    fn indices_follow_table_2() {
        assert_eq!(index::redirection_low(0), 0x10);
        assert_eq!(index::redirection_high(0), 0x11);
        assert_eq!(index::redirection_low(23), 0x3E);
        assert_eq!(index::redirection_high(23), 0x3F);
        assert_eq!(index::redirection_high((MAX_ENTRIES - 1) as u8), 0xFF);
    }

    #[test]
    fn version_decodes_82093aa_and_qemu() {
        // 82093AA: version 0x11, 24 entries.
        let v = Version::from_bits(0x0017_0011);
        assert_eq!(v.version, 0x11);
        assert_eq!(v.max_redirection_entry, 23);
        assert_eq!(v.entries(), 24);
        // QEMU's ioapic: version 0x20, 24 entries.
        assert_eq!(Version::from_bits(0x0017_0020).entries(), 24);
        assert_eq!(Version::from_bits(0x00FF_0020).entries(), 256);
    }

    #[test]
    fn entry_encodes_known_bit_patterns() {
        // Vector 0x24, fixed, physical, active high, edge, unmasked, to APIC 3.
        let e = RedirectionEntry::fixed(0x24, 3, Polarity::ActiveHigh, TriggerMode::Edge)
            .with_mask(false);
        assert_eq!(e.to_bits(), 0x0300_0000_0000_0024);
        // Level, active low, masked, logical, lowest priority, destination 0xFF.
        let e = RedirectionEntry {
            vector: 0x31,
            delivery_mode: DeliveryMode::LowestPriority,
            destination_mode: DestinationMode::Logical,
            delivery_pending: false,
            polarity: Polarity::ActiveLow,
            remote_irr: false,
            trigger: TriggerMode::Level,
            masked: true,
            destination: 0xFF,
        };
        // 0x31 | 001<<8 | 1<<11 | 1<<13 | 1<<15 | 1<<16 | 0xFF<<56
        assert_eq!(e.to_bits(), 0xFF00_0000_0001_A931);
        assert_eq!(RedirectionEntry::MASKED.to_bits(), 0x0001_0000);
        // ExtINT, NMI, INIT, SMI.
        for (mode, bits) in [
            (DeliveryMode::Smi, 0x200),
            (DeliveryMode::Nmi, 0x400),
            (DeliveryMode::Init, 0x500),
            (DeliveryMode::ExtInt, 0x700),
        ] {
            let e = RedirectionEntry {
                delivery_mode: mode,
                ..RedirectionEntry::MASKED
            };
            assert_eq!(e.to_bits(), 0x0001_0000 | bits, "{mode:?}");
        }
    }

    #[test]
    fn entry_decodes_read_only_bits_and_round_trips() {
        let raw = 0x0100_0000_0001_F030u64; // remote IRR, delivery status, level, low, masked
        let e = RedirectionEntry::from_bits(raw);
        assert_eq!(e.vector, 0x30);
        assert!(e.delivery_pending);
        assert!(e.remote_irr);
        assert_eq!(e.polarity, Polarity::ActiveLow);
        assert_eq!(e.trigger, TriggerMode::Level);
        assert!(e.masked);
        assert_eq!(e.destination, 1);
        // Read-only bits are not written back.
        assert_eq!(e.to_bits(), raw & !(1 << 12) & !(1 << 14));
        assert_eq!(
            RedirectionEntry::from_bits(0x6000),
            RedirectionEntry {
                delivery_pending: false,
                remote_irr: true,
                polarity: Polarity::ActiveLow,
                masked: false,
                ..RedirectionEntry::MASKED
            }
        );
        assert_eq!(
            RedirectionEntry::from_bits(0x300).delivery_mode,
            DeliveryMode::Reserved(3)
        );
        for bits in [0u64, 0x0F00_0000_0001_A9FE, 0xFF00_0000_0000_0810] {
            assert_eq!(RedirectionEntry::from_bits(bits).to_bits(), bits);
        }
    }

    #[test]
    fn all_ones_is_not_responding() {
        let mut fake = Fake::new(24);
        fake.version = u32::MAX;
        assert_eq!(IoApic::new(fake).unwrap_err(), IoApicError::NotResponding);
    }

    #[test]
    fn id_version_and_entry_count() {
        let mut apic = IoApic::new(Fake::new(24)).unwrap();
        assert_eq!(apic.entries(), 24);
        assert_eq!(apic.id(), 2);
        assert_eq!(apic.version().version, 0x20);
    }

    #[test]
    fn write_entry_masks_first_and_reads_back() {
        let mut apic = IoApic::new(Fake::new(24)).unwrap();
        let e = RedirectionEntry::fixed(0x24, 5, Polarity::ActiveHigh, TriggerMode::Edge)
            .with_mask(false);
        apic.write_entry(4, e).unwrap();
        assert_eq!(
            apic.regs.writes,
            vec![
                (0x18, 0x0001_0024),
                (0x19, 0x0500_0000),
                (0x18, 0x0000_0024)
            ]
        );
        assert_eq!(apic.read_entry(4).unwrap(), e);
        apic.set_masked(4, true).unwrap();
        assert_eq!(apic.read_entry(4).unwrap(), e.with_mask(true));
        apic.set_masked(4, false).unwrap();
        assert_eq!(apic.read_entry(4).unwrap(), e);
    }

    #[test]
    fn masked_write_never_unmasks() {
        let mut apic = IoApic::new(Fake::new(24)).unwrap();
        let e = RedirectionEntry::fixed(0x24, 1, Polarity::ActiveLow, TriggerMode::Level);
        apic.write_entry(2, e).unwrap();
        assert!(
            apic.regs
                .writes
                .iter()
                .all(|&(_, v)| v & (1 << 16) != 0 || v == 0x0100_0000)
        );
        assert_eq!(apic.read_entry(2).unwrap(), e);
    }

    #[test]
    fn bad_entries_and_vectors_are_refused() {
        let mut apic = IoApic::new(Fake::new(24)).unwrap();
        assert_eq!(
            apic.read_entry(24).unwrap_err(),
            IoApicError::NoSuchEntry {
                entry: 24,
                entries: 24
            }
        );
        let e = RedirectionEntry::fixed(0x0F, 0, Polarity::ActiveHigh, TriggerMode::Edge);
        assert_eq!(
            apic.write_entry(0, e.with_mask(false)).unwrap_err(),
            IoApicError::BadVector(0x0F)
        );
        // A masked entry may carry any vector (the reset state has 0).
        apic.write_entry(0, e).unwrap();
        assert!(apic.set_masked(30, true).is_err());
    }

    #[test]
    fn mask_all_masks_every_entry() {
        let mut fake = Fake::new(24);
        fake.words.iter_mut().for_each(|w| *w = 0x24);
        let mut apic = IoApic::new(fake).unwrap();
        apic.mask_all();
        for entry in 0..24 {
            assert_eq!(apic.read_entry(entry).unwrap(), RedirectionEntry::MASKED);
        }
    }

    /// The overrides of QEMU's MADT (pc and q35): IRQ 0 → GSI 2 conforming;
    /// IRQs 5, 9, 10, 11 level, active high (flags 0b1101).
    fn qemu_overrides() -> Vec<IsaOverride> {
        let level_high = |irq: u8| IsaOverride {
            source_irq: irq,
            gsi: u32::from(irq),
            polarity: Some(Polarity::ActiveHigh),
            trigger: Some(TriggerMode::Level),
        };
        vec![
            IsaOverride {
                source_irq: 0,
                gsi: 2,
                polarity: None,
                trigger: None,
            },
            level_high(5),
            level_high(9),
            level_high(10),
            level_high(11),
        ]
    }

    #[test]
    fn isa_irqs_resolve_through_qemus_overrides() {
        let o = qemu_overrides();
        assert_eq!(
            resolve_isa_irq(0, o.iter().copied()),
            IsaRoute {
                gsi: 2,
                polarity: Polarity::ActiveHigh,
                trigger: TriggerMode::Edge,
                overridden: true
            }
        );
        assert_eq!(
            resolve_isa_irq(4, o.iter().copied()),
            IsaRoute {
                gsi: 4,
                polarity: Polarity::ActiveHigh,
                trigger: TriggerMode::Edge,
                overridden: false
            }
        );
        for irq in [5, 9, 10, 11] {
            let r = resolve_isa_irq(irq, o.iter().copied());
            assert_eq!(
                (r.gsi, r.trigger, r.polarity),
                (u32::from(irq), TriggerMode::Level, Polarity::ActiveHigh)
            );
        }
        // Nothing overrides IRQ 2; it maps to GSI 2 too (the cascade, unused).
        assert_eq!(resolve_isa_irq(2, o.iter().copied()).gsi, 2);
        assert_eq!(resolve_isa_irq(4, []).gsi, 4);
    }

    #[test]
    fn an_active_low_override_moves_and_inverts() {
        let o = [IsaOverride {
            source_irq: 9,
            gsi: 20,
            polarity: Some(Polarity::ActiveLow),
            trigger: None,
        }];
        assert_eq!(
            resolve_isa_irq(9, o),
            IsaRoute {
                gsi: 20,
                polarity: Polarity::ActiveLow,
                trigger: TriggerMode::Edge,
                overridden: true
            }
        );
    }

    #[test]
    fn gsis_find_their_io_apic_input() {
        let apics = [(0, 24), (24, 32)];
        assert_eq!(find_input(0, apics), Some((0, 0)));
        assert_eq!(find_input(23, apics), Some((0, 23)));
        assert_eq!(find_input(24, apics), Some((1, 0)));
        assert_eq!(find_input(55, apics), Some((1, 31)));
        assert_eq!(find_input(56, apics), None);
        assert_eq!(find_input(4, []), None);
        assert_eq!(find_input(4, [(8, 24)]), None);
    }
}
