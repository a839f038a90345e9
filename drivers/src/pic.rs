//! The legacy Intel 8259A Programmable Interrupt Controller pair, remapped
//! and masked.
//!
//! The kernel delivers interrupts through the local APICs and the I/O
//! APIC; the two cascaded 8259As only have to be put out of the way. After
//! reset (and under most BIOSes) the master delivers IRQ 0–7 on vectors
//! `0x08..=0x0F`, which collide with CPU exceptions (`#DF` is 8, `#GP` 13,
//! `#PF` 14), so they are first *remapped* to harmless vectors and then
//! every line is *masked*.
//!
//! References: Intel *8259A Programmable Interrupt Controller* datasheet
//! (order no. 231468), "Initialization Command Words" (Figure 6/7) and
//! "Operation Command Words" (Figure 8); OSDev wiki, *8259 PIC*.
//!
//! # Registers
//!
//! | port   | master/slave | write | read |
//! | ------ | ------------ | ----- | ---- |
//! | `0x20` / `0xA0` | command | ICW1 (bit 4 set), OCW2, OCW3 | IRR or ISR (per OCW3) |
//! | `0x21` / `0xA1` | data    | ICW2–ICW4 after ICW1, then OCW1 (mask) | IMR |
//!
//! Initialization: ICW1 on the command port, then ICW2 (vector offset),
//! ICW3 (cascade wiring: the slave hangs off master IR2) and ICW4 (8086
//! mode) on the data port. Each write is followed by a write to the unused
//! POST port `0x80` (~1 µs) because old 8259As need recovery time between
//! accesses.
//!
//! # Spurious IRQs 7 and 15: the vectors to handle
//!
//! [`remap_and_mask`] is called with offsets `0x20` and `0x28` (the first
//! vectors after the exceptions) and masks every line, so no *real* PIC
//! interrupt is ever raised — in particular nothing from the PIC can land
//! on vector `0x20`, which the kernel reuses for the LAPIC timer.
//! But masking does not stop *spurious* interrupts: if a line is asserted
//! and drops before the CPU's interrupt acknowledge (or was latched just
//! before the mask took effect), the 8259A answers with its lowest-priority
//! input, IR7. Until the local APIC masks LINT0 (which
//! [`crate::apic::LocalApic::enable`] does), the PIC's INTR still reaches
//! the CPU through the BIOS's virtual-wire setup, so a spurious interrupt
//! arrives on
//!
//! - `master_offset + 7` = **`0x27`** (master), or
//! - `slave_offset + 7` = **`0x2F`** (slave, seen by the master as IR2).
//!
//! **The kernel must install handlers on `0x27` and `0x2F`.** They must not
//! send a LAPIC EOI (the LAPIC did not deliver them), and per
//! [`spurious_action`]: a spurious IRQ 7 gets no PIC EOI at all; a spurious
//! IRQ 15 gets an EOI on the master only (the master's IR2 *was* real).
//!
//! # Invariants
//!
//! - The offsets are multiples of 8 (the 8259A takes bits 7:3 from ICW2 and
//!   the IR number as bits 2:0), at least 32 (above the exceptions) and
//!   different; [`init_sequence`] rejects anything else.
//! - ICW1 clears the mask register, so the sequence masks both chips
//!   before *and* after initialization.

use core::fmt;

use x86_64::instructions::port::Port;
use x86_64::instructions::port::PortWriteOnly;

/// Master command port.
pub const MASTER_COMMAND: u16 = 0x20;
/// Master data port.
pub const MASTER_DATA: u16 = 0x21;
/// Slave command port.
pub const SLAVE_COMMAND: u16 = 0xA0;
/// Slave data port.
pub const SLAVE_DATA: u16 = 0xA1;
/// The POST diagnostic port, written to wait about 1 µs.
pub const WAIT_PORT: u16 = 0x80;

/// The master IR line the slave is cascaded on (IBM PC/AT wiring).
pub const CASCADE_IRQ: u8 = 2;

/// Vector offset of the master the kernel uses (IRQ 0 → `0x20`).
pub const MASTER_OFFSET: u8 = 0x20;
/// Vector offset of the slave the kernel uses (IRQ 8 → `0x28`).
pub const SLAVE_OFFSET: u8 = 0x28;

/// Initialization Command Word 1 (command port; bit 4 marks it as ICW1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Icw1(u8);

impl Icw1 {
    /// Bit 0 (IC4): an ICW4 follows.
    pub const ICW4_NEEDED: u8 = 1 << 0;
    /// Bit 1 (SNGL): single 8259A, no ICW3 (clear: cascade mode).
    pub const SINGLE: u8 = 1 << 1;
    /// Bit 2 (ADI): call address interval 4 (MCS-80/85 only).
    pub const INTERVAL4: u8 = 1 << 2;
    /// Bit 3 (LTIM): level-triggered inputs (clear: edge).
    pub const LEVEL_TRIGGERED: u8 = 1 << 3;
    /// Bit 4: this is ICW1 (starts the initialization sequence).
    pub const INIT: u8 = 1 << 4;

    /// The PC/AT setup: edge-triggered, cascaded, ICW4 follows (`0x11`).
    pub const PC_AT: Self = Self(Self::INIT | Self::ICW4_NEEDED);

    /// The byte to write.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

/// Initialization Command Word 3 (data port): the cascade wiring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Icw3(u8);

impl Icw3 {
    /// Master: one bit per IR line that has a slave (IR2 → `0x04`).
    pub const MASTER: Self = Self(1 << CASCADE_IRQ);
    /// Slave: its cascade identity, the master IR line it is on (`0x02`).
    pub const SLAVE: Self = Self(CASCADE_IRQ);

    /// The byte to write.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

/// Initialization Command Word 4 (data port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Icw4(u8);

impl Icw4 {
    /// Bit 0 (µPM): 8086/8088 mode (clear: MCS-80/85).
    pub const MODE_8086: u8 = 1 << 0;
    /// Bit 1 (AEOI): automatic end of interrupt.
    pub const AUTO_EOI: u8 = 1 << 1;
    /// Bit 2 (M/S): buffered-mode master.
    pub const BUFFERED_MASTER: u8 = 1 << 2;
    /// Bit 3 (BUF): buffered mode.
    pub const BUFFERED: u8 = 1 << 3;
    /// Bit 4 (SFNM): special fully nested mode.
    pub const SPECIAL_FULLY_NESTED: u8 = 1 << 4;

    /// 8086 mode, normal EOI, unbuffered, not fully nested (`0x01`).
    pub const PC_AT: Self = Self(Self::MODE_8086);

    /// The byte to write.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

/// Operation Command Word 1 (data port): the interrupt mask, bit n masks
/// IR n.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ocw1(pub u8);

impl Ocw1 {
    /// Every line masked.
    pub const MASK_ALL: Self = Self(0xFF);
}

/// OCW2 non-specific EOI (command port, `0x20`).
pub const OCW2_EOI: u8 = 0x20;
/// OCW3 "read ISR on next read of the command port" (`0x0B`).
pub const OCW3_READ_ISR: u8 = 0x0B;
/// OCW3 "read IRR on next read of the command port" (`0x0A`).
pub const OCW3_READ_IRR: u8 = 0x0A;

/// One port write of the initialization sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortWrite {
    /// The port.
    pub port: u16,
    /// The byte.
    pub value: u8,
}

/// Invalid vector offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PicError {
    /// An offset is not a multiple of 8.
    MisalignedOffset(u8),
    /// An offset is below 32: IRQs would land on exception vectors.
    OffsetOverlapsExceptions(u8),
    /// Both chips were given the same offset.
    SameOffset(u8),
}

impl fmt::Display for PicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::MisalignedOffset(o) => write!(f, "8259 vector offset {o:#x} not a multiple of 8"),
            Self::OffsetOverlapsExceptions(o) => {
                write!(f, "8259 vector offset {o:#x} overlaps CPU exceptions")
            }
            Self::SameOffset(o) => write!(f, "both 8259s at vector offset {o:#x}"),
        }
    }
}

impl core::error::Error for PicError {}

/// Number of writes in [`init_sequence`].
pub const INIT_SEQUENCE_LEN: usize = 12;

/// The port writes [`remap_and_mask`] performs, in order: mask both,
/// ICW1–ICW4 on both (interleaved, master first), mask both again (ICW1
/// cleared the masks).
///
/// # Errors
///
/// See [`PicError`].
pub const fn init_sequence(
    master_offset: u8,
    slave_offset: u8,
) -> Result<[PortWrite; INIT_SEQUENCE_LEN], PicError> {
    let offsets = [master_offset, slave_offset];
    let mut i = 0;
    while i < offsets.len() {
        if offsets[i] % 8 != 0 {
            return Err(PicError::MisalignedOffset(offsets[i]));
        }
        if offsets[i] < 32 {
            return Err(PicError::OffsetOverlapsExceptions(offsets[i]));
        }
        i += 1;
    }
    if master_offset == slave_offset {
        return Err(PicError::SameOffset(master_offset));
    }
    const fn w(port: u16, value: u8) -> PortWrite {
        PortWrite { port, value }
    }
    Ok([
        w(MASTER_DATA, Ocw1::MASK_ALL.0),
        w(SLAVE_DATA, Ocw1::MASK_ALL.0),
        w(MASTER_COMMAND, Icw1::PC_AT.bits()),
        w(SLAVE_COMMAND, Icw1::PC_AT.bits()),
        w(MASTER_DATA, master_offset),
        w(SLAVE_DATA, slave_offset),
        w(MASTER_DATA, Icw3::MASTER.bits()),
        w(SLAVE_DATA, Icw3::SLAVE.bits()),
        w(MASTER_DATA, Icw4::PC_AT.bits()),
        w(SLAVE_DATA, Icw4::PC_AT.bits()),
        w(MASTER_DATA, Ocw1::MASK_ALL.0),
        w(SLAVE_DATA, Ocw1::MASK_ALL.0),
    ])
}

/// Remaps the master to `master_offset..+8` and the slave to
/// `slave_offset..+8`, then masks every line. The kernel calls it once, on
/// the BSP, with [`MASTER_OFFSET`] and [`SLAVE_OFFSET`]; see the
/// [module docs](self) for the spurious vectors this leaves to handle.
///
/// # Errors
///
/// See [`PicError`]; nothing is written then.
///
/// # Safety
///
/// 1. The machine has PC/AT-compatible 8259As at ports `0x20`/`0x21`/
///    `0xA0`/`0xA1` (on one without them the writes must be harmless).
/// 2. Nothing else programs the PICs concurrently, and maskable interrupts
///    are disabled on this CPU for the duration (between ICW1 and the final
///    mask the lines are unmasked).
pub unsafe fn remap_and_mask(master_offset: u8, slave_offset: u8) -> Result<(), PicError> {
    let sequence = init_sequence(master_offset, slave_offset)?;
    let mut wait = PortWriteOnly::<u8>::new(WAIT_PORT);
    for PortWrite { port, value } in sequence {
        // SAFETY: `port` is one of the four 8259A ports (contract 1) and
        // nobody else is programming them (contract 2); port 0x80 is the
        // POST-code port, whose writes have no effect beyond the delay.
        unsafe {
            PortWriteOnly::<u8>::new(port).write(value);
            wait.write(0);
        }
    }
    Ok(())
}

/// Reads the In-Service Registers: master in bits 7:0, slave in 15:8.
///
/// # Safety
///
/// Same as [`remap_and_mask`]; this writes OCW3 and leaves both chips in
/// "read ISR" mode.
pub unsafe fn read_isr() -> u16 {
    let mut master = Port::<u8>::new(MASTER_COMMAND);
    let mut slave = Port::<u8>::new(SLAVE_COMMAND);
    // SAFETY: OCW3 only selects which register the command port reads
    // back; the ports are the PICs' (contract of `remap_and_mask`).
    unsafe {
        master.write(OCW3_READ_ISR);
        slave.write(OCW3_READ_ISR);
        u16::from(master.read()) | u16::from(slave.read()) << 8
    }
}

/// What a handler on a PIC's IR7 vector must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpuriousAction {
    /// The interrupt is real (its ISR bit is set): handle it and send the
    /// usual EOI(s).
    Genuine,
    /// Spurious IRQ 7: send no EOI at all.
    NoEoi,
    /// Spurious IRQ 15: send an EOI to the master only (its IR2 was real).
    EoiMasterOnly,
}

/// How to treat an interrupt on IRQ 7 or 15 given the ISRs read by
/// [`read_isr`] (master in bits 7:0, slave in 15:8). `None` for any other
/// IRQ, which cannot be spurious.
pub const fn spurious_action(irq: u8, isr: u16) -> Option<SpuriousAction> {
    let genuine = isr & (1 << irq as u16) != 0;
    match irq {
        7 | 15 if genuine => Some(SpuriousAction::Genuine),
        7 => Some(SpuriousAction::NoEoi),
        15 => Some(SpuriousAction::EoiMasterOnly),
        _ => None,
    }
}

/// Sends a non-specific EOI to the master.
///
/// # Safety
///
/// Same as [`remap_and_mask`]; only for an interrupt the master delivered
/// (see [`spurious_action`]).
pub unsafe fn eoi_master() {
    // SAFETY: OCW2 EOI on the master's command port retires its
    // highest-priority in-service IR.
    unsafe { PortWriteOnly::<u8>::new(MASTER_COMMAND).write(OCW2_EOI) }
}

const _: () = {
    assert!(Icw1::PC_AT.bits() == 0x11);
    assert!(Icw3::MASTER.bits() == 0x04 && Icw3::SLAVE.bits() == 0x02);
    assert!(Icw4::PC_AT.bits() == 0x01);
    assert!(init_sequence(MASTER_OFFSET, SLAVE_OFFSET).is_ok());
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icw_bit_positions() {
        assert_eq!(Icw1::ICW4_NEEDED, 0x01);
        assert_eq!(Icw1::SINGLE, 0x02);
        assert_eq!(Icw1::INTERVAL4, 0x04);
        assert_eq!(Icw1::LEVEL_TRIGGERED, 0x08);
        assert_eq!(Icw1::INIT, 0x10);
        assert_eq!(Icw1::PC_AT.bits(), 0x11);
        assert_eq!(Icw3::MASTER.bits(), 0b0000_0100);
        assert_eq!(Icw3::SLAVE.bits(), 2);
        assert_eq!(Icw4::MODE_8086, 0x01);
        assert_eq!(Icw4::AUTO_EOI, 0x02);
        assert_eq!(Icw4::BUFFERED_MASTER, 0x04);
        assert_eq!(Icw4::BUFFERED, 0x08);
        assert_eq!(Icw4::SPECIAL_FULLY_NESTED, 0x10);
        assert_eq!(Icw4::PC_AT.bits(), 0x01);
        assert_eq!(Ocw1::MASK_ALL.0, 0xFF);
        // OCW2 has bits 4:3 = 00, OCW3 has 01.
        assert_eq!(OCW2_EOI & 0x18, 0x00);
        assert_eq!(OCW3_READ_ISR & 0x18, 0x08);
        assert_eq!(OCW3_READ_IRR & 0x18, 0x08);
    }

    #[test]
    fn kernel_sequence_bytes() {
        let seq = init_sequence(0x20, 0x28).unwrap();
        let bytes: Vec<(u16, u8)> = seq.iter().map(|w| (w.port, w.value)).collect();
        assert_eq!(
            bytes,
            [
                (0x21, 0xFF),
                (0xA1, 0xFF),
                (0x20, 0x11),
                (0xA0, 0x11),
                (0x21, 0x20),
                (0xA1, 0x28),
                (0x21, 0x04),
                (0xA1, 0x02),
                (0x21, 0x01),
                (0xA1, 0x01),
                (0x21, 0xFF),
                (0xA1, 0xFF),
            ]
        );
    }

    #[test]
    fn spurious_vectors_of_the_kernel_offsets() {
        // IR7 of each chip: where spurious interrupts land.
        assert_eq!(MASTER_OFFSET + 7, 0x27);
        assert_eq!(SLAVE_OFFSET + 7, 0x2F);
    }

    #[test]
    fn offsets_validated() {
        assert_eq!(
            init_sequence(0x21, 0x28),
            Err(PicError::MisalignedOffset(0x21))
        );
        assert_eq!(
            init_sequence(0x20, 0x2C),
            Err(PicError::MisalignedOffset(0x2C))
        );
        assert_eq!(
            init_sequence(0x08, 0x70),
            Err(PicError::OffsetOverlapsExceptions(0x08))
        );
        assert_eq!(init_sequence(0x30, 0x30), Err(PicError::SameOffset(0x30)));
        assert!(init_sequence(0xF0, 0xF8).is_ok());
        assert!(init_sequence(0x28, 0x20).is_ok());
    }

    #[test]
    fn spurious_decisions() {
        assert_eq!(spurious_action(7, 0), Some(SpuriousAction::NoEoi));
        assert_eq!(spurious_action(7, 1 << 7), Some(SpuriousAction::Genuine));
        // Slave IR7 spurious: the master's IR2 is in service.
        assert_eq!(
            spurious_action(15, 1 << 2),
            Some(SpuriousAction::EoiMasterOnly)
        );
        assert_eq!(
            spurious_action(15, 1 << 15 | 1 << 2),
            Some(SpuriousAction::Genuine)
        );
        // Master IR7 genuine does not make slave IR7 genuine.
        assert_eq!(
            spurious_action(15, 1 << 7),
            Some(SpuriousAction::EoiMasterOnly)
        );
        assert_eq!(spurious_action(0, 0), None);
        assert_eq!(spurious_action(2, 0xFFFF), None);
    }

    #[test]
    fn errors_display() {
        let msg = PicError::MisalignedOffset(0x21).to_string();
        assert!(msg.contains("0x21"), "{msg}");
    }
}
