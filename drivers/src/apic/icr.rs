//! The Interrupt Command Register: inter-processor interrupts built from
//! enums.
//!
//! Layout (SDM Vol. 3A §11.6.1, Figure 11-12; x2APIC: §11.12.9, figure
//! *Interrupt Command Register (ICR) in x2APIC Mode*):
//!
//! | bits  | field |
//! | ----- | ----- |
//! | 7:0   | vector ([`Icr::vector`]; the page number for a start-up IPI) |
//! | 10:8  | [`DeliveryMode`] |
//! | 11    | [`DestinationMode`] |
//! | 12    | delivery status, read only, **xAPIC only** ([`Icr::DELIVERY_STATUS`]) |
//! | 14    | [`Level`] |
//! | 15    | [`TriggerMode`] |
//! | 19:18 | [`DestinationShorthand`] |
//! | 63:56 | destination, xAPIC (bits 31:24 of the high word at `0x310`) |
//! | 63:32 | destination, x2APIC (the full 32-bit APIC ID) |
//!
//! All other bits are reserved and written as 0.
//!
//! In xAPIC mode the ICR is two MMIO words: writing the low word (offset
//! `0x300`) sends the IPI, so the high word (`0x310`, destination in bits
//! 31:24) is written first. The delivery-status bit (12) reads 1 while the
//! APIC is still sending. In x2APIC mode the ICR is one 64-bit MSR
//! (`0x830`), written with one `WRMSR` that sends the IPI; there is **no
//! delivery status** to poll (§11.12.9).

use super::ApicError;

/// Delivery mode (bits 10:8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DeliveryMode {
    /// Deliver `vector` to the destination.
    Fixed = 0b000,
    /// Deliver `vector` to the lowest-priority processor of the destination
    /// (model specific; unsupported in x2APIC mode on some processors).
    LowestPriority = 0b001,
    /// System management interrupt; vector must be 0.
    Smi = 0b010,
    /// Non-maskable interrupt; vector ignored.
    Nmi = 0b100,
    /// INIT: the target resets into wait-for-SIPI state; vector must be 0.
    Init = 0b101,
    /// Start-up IPI: a target in wait-for-SIPI state starts in real mode at
    /// `CS:IP = (vector << 8):0000`, i.e. physical address `vector << 12`.
    StartUp = 0b110,
}

/// Destination mode (bit 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DestinationMode {
    /// The destination is an APIC ID.
    Physical = 0,
    /// The destination is matched against the LDR (and, in xAPIC mode, the
    /// DFR).
    Logical = 1,
}

/// Level (bit 14). Must be [`Level::Assert`] for every delivery mode except
/// the INIT level de-assert (§11.6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Level {
    /// De-assert: only for the INIT level de-assert IPI.
    Deassert = 0,
    /// Assert.
    Assert = 1,
}

/// Trigger mode (bit 15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TriggerMode {
    /// Edge.
    Edge = 0,
    /// Level (only meaningful for the INIT level de-assert).
    Level = 1,
}

/// Destination shorthand (bits 19:18). Anything but
/// [`DestinationShorthand::None`] ignores the destination field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DestinationShorthand {
    /// Use the destination field.
    None = 0b00,
    /// The sending processor only (fixed delivery only).
    SelfOnly = 0b01,
    /// Every processor, the sender included.
    AllIncludingSelf = 0b10,
    /// Every processor except the sender.
    AllExcludingSelf = 0b11,
}

/// An IPI, as the fields of the Interrupt Command Register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Icr {
    vector: u8,
    delivery_mode: DeliveryMode,
    destination_mode: DestinationMode,
    level: Level,
    trigger_mode: TriggerMode,
    shorthand: DestinationShorthand,
    destination: u32,
}

impl Icr {
    const DELIVERY_MODE_SHIFT: u32 = 8;
    const DESTINATION_MODE_SHIFT: u32 = 11;
    /// Bit 12 (read only, xAPIC only): 1 while the IPI is being sent.
    pub const DELIVERY_STATUS: u32 = 1 << 12;
    const LEVEL_SHIFT: u32 = 14;
    const TRIGGER_SHIFT: u32 = 15;
    const SHORTHAND_SHIFT: u32 = 18;
    /// Bit position of the 8-bit xAPIC destination in the high word.
    const XAPIC_DESTINATION_SHIFT: u32 = 24;
    /// Largest destination the xAPIC's 8-bit field holds.
    pub const XAPIC_MAX_DESTINATION: u32 = 0xFF;

    /// An edge-triggered, level-assert, physical-destination IPI.
    pub const fn new(
        delivery_mode: DeliveryMode,
        vector: u8,
        shorthand: DestinationShorthand,
        destination: u32,
    ) -> Self {
        Self {
            vector,
            delivery_mode,
            destination_mode: DestinationMode::Physical,
            level: Level::Assert,
            trigger_mode: TriggerMode::Edge,
            shorthand,
            destination,
        }
    }

    /// Interrupt `vector` on the CPU with APIC ID `destination`.
    pub const fn fixed(destination: u32, vector: u8) -> Self {
        Self::new(
            DeliveryMode::Fixed,
            vector,
            DestinationShorthand::None,
            destination,
        )
    }

    /// Interrupt `vector` on the CPUs `shorthand` names.
    pub const fn broadcast(vector: u8, shorthand: DestinationShorthand) -> Self {
        Self::new(DeliveryMode::Fixed, vector, shorthand, 0)
    }

    /// An NMI to the CPU with APIC ID `destination`.
    pub const fn nmi(destination: u32) -> Self {
        Self::new(
            DeliveryMode::Nmi,
            0,
            DestinationShorthand::None,
            destination,
        )
    }

    /// INIT, level assert, edge: resets `destination` into the
    /// wait-for-SIPI state. Step one of INIT-SIPI-SIPI (Intel MP spec
    /// B.4; SDM Vol. 3A *MP Initialization Example*).
    pub const fn init(destination: u32) -> Self {
        Self::new(
            DeliveryMode::Init,
            0,
            DestinationShorthand::None,
            destination,
        )
    }

    /// INIT level de-assert (level-triggered, level 0): needed after
    /// [`Icr::init`] only on 82489DX-era discrete APICs; Pentium 4 and later
    /// ignore it. Not supported in x2APIC mode.
    pub const fn init_deassert(destination: u32) -> Self {
        Self {
            level: Level::Deassert,
            trigger_mode: TriggerMode::Level,
            ..Self::init(destination)
        }
    }

    /// Start-up IPI: `destination` starts executing in real mode at
    /// physical address `page << 12` (so the trampoline at `0x8000` is page
    /// `0x08`). Sent twice, ~200 µs apart, after [`Icr::init`] and a 10 ms
    /// wait.
    pub const fn startup(destination: u32, page: u8) -> Self {
        Self::new(
            DeliveryMode::StartUp,
            page,
            DestinationShorthand::None,
            destination,
        )
    }

    /// `self` with logical destination mode.
    pub const fn with_destination_mode(self, destination_mode: DestinationMode) -> Self {
        Self {
            destination_mode,
            ..self
        }
    }

    /// The vector (the page number for a start-up IPI).
    pub const fn vector(self) -> u8 {
        self.vector
    }

    /// The delivery mode.
    pub const fn delivery_mode(self) -> DeliveryMode {
        self.delivery_mode
    }

    /// The destination shorthand.
    pub const fn shorthand(self) -> DestinationShorthand {
        self.shorthand
    }

    /// The destination APIC ID (ignored by the hardware with a shorthand).
    pub const fn destination(self) -> u32 {
        self.destination
    }

    /// Bits 31:0, common to both modes (delivery status reads as 0 here: it
    /// is read-only).
    pub const fn low(self) -> u32 {
        self.vector as u32
            | (self.delivery_mode as u32) << Self::DELIVERY_MODE_SHIFT
            | (self.destination_mode as u32) << Self::DESTINATION_MODE_SHIFT
            | (self.level as u32) << Self::LEVEL_SHIFT
            | (self.trigger_mode as u32) << Self::TRIGGER_SHIFT
            | (self.shorthand as u32) << Self::SHORTHAND_SHIFT
    }

    /// The xAPIC encoding `(low, high)`: the destination goes into bits
    /// 31:24 of the high word. Only the low 8 bits of the destination are
    /// representable; the senders reject larger IDs with
    /// [`ApicError::DestinationOutOfRange`] (see [`Icr::check`]).
    pub const fn xapic_words(self) -> (u32, u32) {
        (
            self.low(),
            (self.destination & Self::XAPIC_MAX_DESTINATION) << Self::XAPIC_DESTINATION_SHIFT,
        )
    }

    /// The x2APIC encoding: the 32-bit destination in bits 63:32.
    pub const fn x2apic_value(self) -> u64 {
        (self.destination as u64) << 32 | self.low() as u64
    }

    /// Rejects combinations the SDM calls invalid (§11.6.1, "Valid
    /// Combinations for the Local xAPIC Interrupt Command Register"), before
    /// they reach the hardware:
    ///
    /// - fixed or lowest-priority delivery of vectors 0–15 (the APIC raises
    ///   "send illegal vector" and drops them);
    /// - the [`DestinationShorthand::SelfOnly`] shorthand with anything but
    ///   fixed delivery;
    /// - lowest priority to [`DestinationShorthand::AllIncludingSelf`];
    /// - level de-assert or level trigger with anything but INIT (in
    ///   x2APIC mode not even with INIT);
    /// - in xAPIC mode, a destination above `0xFF`.
    ///
    /// # Errors
    ///
    /// [`ApicError::IllegalVector`], [`ApicError::InvalidCombination`],
    /// [`ApicError::DestinationOutOfRange`].
    pub const fn check(self, x2apic: bool) -> Result<(), ApicError> {
        use DeliveryMode::*;
        use DestinationShorthand::*;
        if matches!(self.delivery_mode, Fixed | LowestPriority) && self.vector < 16 {
            return Err(ApicError::IllegalVector(self.vector));
        }
        let invalid = match (self.delivery_mode, self.shorthand) {
            (Fixed, _) => false,
            (_, SelfOnly) | (LowestPriority, AllIncludingSelf) => true,
            _ => false,
        };
        let deassert = matches!(self.level, Level::Deassert)
            || matches!(self.trigger_mode, TriggerMode::Level);
        let bad_deassert = deassert && (x2apic || !matches!(self.delivery_mode, Init));
        if invalid || bad_deassert {
            return Err(ApicError::InvalidCombination);
        }
        if !x2apic
            && matches!(self.shorthand, None)
            && self.destination > Self::XAPIC_MAX_DESTINATION
        {
            return Err(ApicError::DestinationOutOfRange(self.destination));
        }
        Ok(())
    }
}

// The encodings SMP bring-up relies on, checked at compile time.
const _: () = {
    assert!(Icr::init(0).low() == 0x0000_4500);
    assert!(Icr::init_deassert(0).low() == 0x0000_8500);
    assert!(Icr::startup(0, 0x08).low() == 0x0000_4608);
    assert!(Icr::fixed(3, 0x30).xapic_words().1 == 0x0300_0000);
    assert!(Icr::fixed(3, 0x30).x2apic_value() == 0x0000_0003_0000_4030);
};
