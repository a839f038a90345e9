//! The MADT (ACPI "APIC" table), converted into the kernel's own [`Madt`].
//!
//! The firmware describes the machine's interrupt controllers in the Multiple
//! APIC Description Table (ACPI 6.5 §5.2.12). This module turns its raw bytes
//! into plain Rust values; the binary finds the bytes (`arch::x86_64::acpi`)
//! and this code never touches the machine, so every malformed table can be
//! tried on the host.
//!
//! ```text
//! offset  size  field
//!      0    36  SDT header: signature "APIC", length (u32 @4), revision (@8),
//!               checksum (@9: all `length` bytes sum to 0 mod 256), OEM ids
//!     36     4  Local APIC physical address (u32)
//!     40     4  flags: bit 0 PCAT_COMPAT (dual 8259 PICs present)
//!     44     …  entries: type (u8), length (u8, includes these 2 bytes), body
//! ```
//!
//! Entries interpreted (§5.2.12.2 ff.; all little endian):
//!
//! | type | entry | body after type + length |
//! | --- | --- | --- |
//! | 0 | Processor Local APIC | uid u8, APIC id u8, flags u32 |
//! | 1 | I/O APIC | id u8, reserved u8, address u32, GSI base u32 |
//! | 2 | Interrupt Source Override | bus u8, source IRQ u8, GSI u32, MPS INTI flags u16 |
//! | 4 | Local APIC NMI | uid u8 (0xff = all), MPS INTI flags u16, LINT# u8 |
//! | 5 | Local APIC Address Override | reserved u16, address u64 |
//! | 9 | Processor Local x2APIC | reserved u16, x2APIC id u32, flags u32, uid u32 |
//! | 10 | Local x2APIC NMI | MPS INTI flags u16, uid u32 (all ones = all), LINT# u8 |
//!
//! Other types are skipped and listed in [`Madt::skipped_types`] (not a
//! problem: they describe things the kernel does not use).
//!
//! # What is an error and what is a warning
//!
//! A [`MadtError`] means the table as a whole cannot be trusted (wrong
//! signature, impossible length, bad checksum): the kernel then boots on the
//! boot CPU alone. A [`MadtWarning`] concerns one entry; parsing continues past
//! it, or stops cleanly where continuing is impossible (a zero-length entry
//! would never advance; an entry past the end cannot be framed). Whatever the
//! bytes, [`parse`] terminates and never panics: every step advances by at
//! least one entry length ≥ 2 and every read is bounds-checked first.
//!
//! # Which CPUs are kept
//!
//! Processor entries (types 0 and 9) are filtered in this order:
//! 1. an entry neither *enabled* (flags bit 0) nor *online-capable* (bit 1,
//!    honoured from MADT revision 5 / ACPI 6.3 on) is skipped: the CPU is
//!    absent and cannot be added;
//! 2. an APIC id already seen (xAPIC and x2APIC ids share one name space) is
//!    dropped, the first entry wins;
//! 3. past `max_cpus` kept entries the rest is dropped, in table order.
//!
//! Online-capable CPUs are kept in [`Madt::cpus`] with
//! [`CpuState::OnlineCapable`] but the kernel does **not** start them: it
//! brings up only [`CpuState::Enabled`] CPUs ([`Madt::enabled_cpus`]) and does
//! not support CPU hot-add.
//!
//! The MADT does not say which CPU is the boot processor (the BSP reads its own
//! APIC id from its Local APIC), so nothing here pretends to know it.
#![forbid(unsafe_code)]

use alloc::vec::Vec;
use core::fmt;

use drivers::ioapic::{self, IsaOverride, IsaRoute};

/// Length of the ACPI system description table header (ACPI 6.5 §5.2.6).
pub const SDT_HEADER_LEN: usize = 36;
/// Length of the fixed part of the MADT: header, Local APIC address, flags.
pub const MADT_FIXED_LEN: usize = SDT_HEADER_LEN + 8;
/// The MADT's signature.
pub const SIGNATURE: [u8; 4] = *b"APIC";

/// First MADT revision (ACPI 6.3) in which flags bit 1 means online-capable;
/// before it the bit is reserved.
const ONLINE_CAPABLE_MIN_REVISION: u8 = 5;

/// Entry types (ACPI 6.5 table 5.21) and their minimum lengths.
mod entry {
    pub const LOCAL_APIC: u8 = 0;
    pub const LOCAL_APIC_LEN: usize = 8;
    pub const IO_APIC: u8 = 1;
    pub const IO_APIC_LEN: usize = 12;
    pub const SOURCE_OVERRIDE: u8 = 2;
    pub const SOURCE_OVERRIDE_LEN: usize = 10;
    pub const LOCAL_APIC_NMI: u8 = 4;
    pub const LOCAL_APIC_NMI_LEN: usize = 6;
    pub const ADDRESS_OVERRIDE: u8 = 5;
    pub const ADDRESS_OVERRIDE_LEN: usize = 12;
    pub const LOCAL_X2APIC: u8 = 9;
    pub const LOCAL_X2APIC_LEN: usize = 16;
    pub const LOCAL_X2APIC_NMI: u8 = 10;
    pub const LOCAL_X2APIC_NMI_LEN: usize = 12;
}

/// Local APIC flags (ACPI 6.5 table 5.23).
mod cpu_flags {
    pub const ENABLED: u32 = 1 << 0;
    pub const ONLINE_CAPABLE: u32 = 1 << 1;
}

/// Whether a listed CPU may be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuState {
    /// Present and usable now: the kernel starts it.
    Enabled,
    /// Absent at boot but may be hot-added later. The kernel does not start it.
    OnlineCapable,
}

/// One processor of the MADT (a Local APIC or Local x2APIC entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuEntry {
    /// Its Local APIC id (8 bits in an xAPIC entry, 32 in an x2APIC one).
    pub apic_id: u32,
    /// Its ACPI processor UID (matches the processor object in the namespace).
    pub acpi_uid: u32,
    /// Listed by a Processor Local x2APIC entry (type 9).
    pub x2apic: bool,
    /// Whether it is started at boot.
    pub state: CpuState,
}

/// An I/O APIC (entry type 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IoApic {
    /// Its I/O APIC id.
    pub id: u8,
    /// Physical address of its register window.
    pub address: u32,
    /// The first global system interrupt its inputs deliver.
    pub gsi_base: u32,
}

/// Input polarity of MPS INTI flags bits 1:0 (ACPI 6.5 table 5.26).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polarity {
    /// Conforms to the bus's specification (ISA: active high).
    BusDefault,
    /// Active high.
    ActiveHigh,
    /// Active low.
    ActiveLow,
    /// The reserved encoding `0b10`.
    Reserved,
}

/// Trigger mode of MPS INTI flags bits 3:2 (ACPI 6.5 table 5.26).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerMode {
    /// Conforms to the bus's specification (ISA: edge).
    BusDefault,
    /// Edge-triggered.
    Edge,
    /// Level-triggered.
    Level,
    /// The reserved encoding `0b10`.
    Reserved,
}

/// Decodes MPS INTI flags into polarity and trigger mode.
fn inti_flags(flags: u16) -> (Polarity, TriggerMode) {
    let polarity = match flags & 0b11 {
        0b00 => Polarity::BusDefault,
        0b01 => Polarity::ActiveHigh,
        0b11 => Polarity::ActiveLow,
        _ => Polarity::Reserved,
    };
    let trigger = match (flags >> 2) & 0b11 {
        0b00 => TriggerMode::BusDefault,
        0b01 => TriggerMode::Edge,
        0b11 => TriggerMode::Level,
        _ => TriggerMode::Reserved,
    };
    (polarity, trigger)
}

/// An Interrupt Source Override (entry type 2): ISA IRQ `source_irq` arrives
/// at global system interrupt `gsi`, with the given electrical properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterruptOverride {
    /// The bus (0: ISA).
    pub bus: u8,
    /// The bus-relative interrupt source (the ISA IRQ).
    pub source_irq: u8,
    /// The global system interrupt it is wired to.
    pub gsi: u32,
    /// Input polarity.
    pub polarity: Polarity,
    /// Trigger mode.
    pub trigger: TriggerMode,
}

/// A Local APIC NMI entry (type 4 or 10): which LINT pin of which CPUs
/// carries NMI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalApicNmi {
    /// The ACPI processor UID it applies to; `None` means all processors.
    pub acpi_uid: Option<u32>,
    /// The Local APIC input: 0 for LINT0, 1 for LINT1.
    pub lint: u8,
    /// Input polarity.
    pub polarity: Polarity,
    /// Trigger mode.
    pub trigger: TriggerMode,
}

/// The kernel's view of the MADT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Madt {
    /// Physical address of every CPU's Local APIC (xAPIC mode): the 32-bit
    /// field, or a Local APIC Address Override's 64-bit one.
    pub local_apic_base: u64,
    /// PCAT_COMPAT: the machine also has dual 8259 PICs (to be masked).
    pub pcat_compat: bool,
    /// The usable CPUs, in table order, after the filtering of the module doc.
    pub cpus: Vec<CpuEntry>,
    /// The I/O APICs, in table order.
    pub io_apics: Vec<IoApic>,
    /// The interrupt source overrides, in table order.
    pub overrides: Vec<InterruptOverride>,
    /// The Local APIC NMI entries (types 4 and 10), in table order.
    pub nmis: Vec<LocalApicNmi>,
    /// Entry types present but not interpreted, sorted, each once.
    pub skipped_types: Vec<u8>,
    /// Entry-level problems, in the order they were found.
    pub warnings: Vec<MadtWarning>,
}

impl Madt {
    /// The CPUs the kernel starts: those in [`CpuState::Enabled`].
    pub fn enabled_cpus(&self) -> impl Iterator<Item = &CpuEntry> + '_ {
        self.cpus
            .iter()
            .filter(|cpu| cpu.state == CpuState::Enabled)
    }

    /// The APIC ids of the enabled CPUs, displayed as `[0, 1, 2, 3]` (the
    /// same text as `{:?}` of a `&[u32]`).
    pub fn enabled_apic_ids(&self) -> ApicIds<'_> {
        ApicIds {
            cpus: &self.cpus,
            state: CpuState::Enabled,
        }
    }

    /// The APIC ids of the online-capable CPUs (not started), displayed like
    /// [`Madt::enabled_apic_ids`].
    pub fn online_capable_apic_ids(&self) -> ApicIds<'_> {
        ApicIds {
            cpus: &self.cpus,
            state: CpuState::OnlineCapable,
        }
    }

    /// The ISA (bus 0) interrupt source overrides, as the I/O APIC driver
    /// takes them. "Conforms to the bus" becomes `None` (the ISA default:
    /// edge, active high); so does a reserved encoding (`0b10`), which no
    /// firmware should produce and which has no better reading.
    pub fn isa_overrides(&self) -> impl Iterator<Item = IsaOverride> + Clone + '_ {
        self.overrides
            .iter()
            .filter(|o| o.bus == 0)
            .map(|o| IsaOverride {
                source_irq: o.source_irq,
                gsi: o.gsi,
                polarity: match o.polarity {
                    Polarity::ActiveHigh => Some(ioapic::Polarity::ActiveHigh),
                    Polarity::ActiveLow => Some(ioapic::Polarity::ActiveLow),
                    Polarity::BusDefault | Polarity::Reserved => None,
                },
                trigger: match o.trigger {
                    TriggerMode::Edge => Some(ioapic::TriggerMode::Edge),
                    TriggerMode::Level => Some(ioapic::TriggerMode::Level),
                    TriggerMode::BusDefault | TriggerMode::Reserved => None,
                },
            })
    }

    /// Where ISA IRQ `irq` arrives ([`ioapic::resolve_isa_irq`] over
    /// [`Madt::isa_overrides`]).
    pub fn isa_route(&self, irq: u8) -> IsaRoute {
        ioapic::resolve_isa_irq(irq, self.isa_overrides())
    }
}

/// A list of APIC ids that displays as `[0, 1, 2, 3]`, without allocating.
#[derive(Clone, Copy, Debug)]
pub struct ApicIds<'a> {
    cpus: &'a [CpuEntry],
    state: CpuState,
}

impl ApicIds<'_> {
    /// The ids, in table order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        let state = self.state;
        self.cpus
            .iter()
            .filter(move |cpu| cpu.state == state)
            .map(|cpu| cpu.apic_id)
    }

    /// How many ids there are.
    pub fn count(&self) -> usize {
        self.iter().count()
    }
}

impl fmt::Display for ApicIds<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, id) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{id}")?;
        }
        f.write_str("]")
    }
}

/// Why the MADT as a whole is unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MadtError {
    /// Fewer bytes than the table's fixed part.
    Truncated {
        /// Bytes available.
        available: usize,
    },
    /// The signature is not `APIC`.
    BadSignature {
        /// The signature found.
        found: [u8; 4],
    },
    /// The length field is shorter than the fixed part or longer than the
    /// bytes available.
    BadLength {
        /// The header's length field.
        length: u32,
        /// Bytes available.
        available: usize,
    },
    /// The `length` bytes do not sum to 0 mod 256.
    BadChecksum {
        /// Their sum mod 256.
        sum: u8,
    },
}

impl fmt::Display for MadtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { available } => write!(
                f,
                "MADT truncated: {available} bytes, its fixed part alone is {MADT_FIXED_LEN}"
            ),
            Self::BadSignature { found } => write!(
                f,
                "MADT signature is {:?}, expected \"APIC\"",
                Signature(found)
            ),
            Self::BadLength { length, available } => write!(
                f,
                "MADT length field {length} is impossible (at least {MADT_FIXED_LEN}, \
                 at most the {available} bytes mapped)"
            ),
            Self::BadChecksum { sum } => write!(
                f,
                "MADT checksum is wrong: its bytes sum to {sum:#04x}, not 0"
            ),
        }
    }
}

/// A 4-byte signature, shown as text with non-printable bytes escaped.
struct Signature([u8; 4]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for byte in self.0 {
            write!(f, "{}", core::ascii::escape_default(byte))?;
        }
        f.write_str("\"")
    }
}

/// A problem with one entry (or with the set of CPUs). Parsing went on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MadtWarning {
    /// An entry's length field is 0 or 1: it cannot be stepped over.
    /// Parsing stopped there.
    ZeroLengthEntry {
        /// Its offset from the start of the table.
        offset: usize,
        /// Its type.
        entry_type: u8,
        /// Its length field.
        length: u8,
    },
    /// An entry runs past the end of the table (including a lone trailing byte
    /// that cannot even hold type and length). Parsing stopped there.
    EntryPastEnd {
        /// Its offset from the start of the table.
        offset: usize,
        /// Its length field, if the byte is inside the table.
        length: Option<u8>,
        /// The table's length.
        table_len: usize,
    },
    /// An entry is shorter than its type requires. It was skipped.
    EntryTooShort {
        /// Its offset from the start of the table.
        offset: usize,
        /// Its type.
        entry_type: u8,
        /// Its length field.
        length: u8,
        /// The length its type requires.
        required: usize,
    },
    /// Two CPU entries carry the same APIC id. The first was kept.
    DuplicateApicId {
        /// The APIC id.
        apic_id: u32,
        /// The ACPI UID of the dropped entry.
        dropped_uid: u32,
    },
    /// CPU entries neither enabled nor online-capable were skipped.
    DisabledCpus {
        /// Their APIC ids, in table order.
        apic_ids: Vec<u32>,
    },
    /// More usable CPUs than the kernel supports; the first `max_cpus` were
    /// kept.
    TooManyCpus {
        /// The kernel's limit.
        max_cpus: usize,
        /// How many were dropped.
        dropped: usize,
    },
}

impl MadtWarning {
    /// True for what normal firmware produces and a reader need not act on:
    /// placeholder entries for CPUs that are not there (disabled, often with
    /// APIC id 0xFF or 0xFFFFFFFF), which most real machines list. The kernel
    /// logs these at info level, the others as warnings.
    pub fn is_normal_firmware(&self) -> bool {
        matches!(self, Self::DisabledCpus { .. })
    }
}

impl fmt::Display for MadtWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ZeroLengthEntry {
                offset,
                entry_type,
                length,
            } => write!(
                f,
                "MADT entry at offset {offset:#x} (type {entry_type}) has length {length}: \
                 parsing stopped, later entries ignored"
            ),
            Self::EntryPastEnd {
                offset,
                length: Some(length),
                table_len,
            } => write!(
                f,
                "MADT entry at offset {offset:#x} (length {length}) runs past the table end \
                 ({table_len} bytes): parsing stopped, later entries ignored"
            ),
            Self::EntryPastEnd {
                offset,
                length: None,
                table_len,
            } => write!(
                f,
                "MADT has a truncated entry at offset {offset:#x} (table end {table_len}): \
                 parsing stopped"
            ),
            Self::EntryTooShort {
                offset,
                entry_type,
                length,
                required,
            } => write!(
                f,
                "MADT entry at offset {offset:#x} (type {entry_type}) is {length} bytes, \
                 its type needs {required}: entry skipped"
            ),
            Self::DuplicateApicId {
                apic_id,
                dropped_uid,
            } => write!(
                f,
                "MADT lists APIC id {apic_id} twice: the entry with ACPI UID {dropped_uid} \
                 was dropped, the first kept"
            ),
            Self::DisabledCpus { apic_ids } => write!(
                f,
                "MADT lists {} disabled CPU(s), skipped (apic_ids={apic_ids:?})",
                apic_ids.len()
            ),
            Self::TooManyCpus { max_cpus, dropped } => write!(
                f,
                "MADT lists {} usable CPUs, more than MAX_CPUS={max_cpus}: \
                 the last {dropped} are ignored",
                max_cpus + dropped
            ),
        }
    }
}

/// Little-endian reads from an entry whose length was checked against its
/// type's minimum before any read.
fn le_u16(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn le_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from(le_u32(bytes, at)) | u64::from(le_u32(bytes, at + 4)) << 32
}

/// The minimum length of each interpreted entry type; `None` for the others.
fn required_len(entry_type: u8) -> Option<usize> {
    Some(match entry_type {
        entry::LOCAL_APIC => entry::LOCAL_APIC_LEN,
        entry::IO_APIC => entry::IO_APIC_LEN,
        entry::SOURCE_OVERRIDE => entry::SOURCE_OVERRIDE_LEN,
        entry::LOCAL_APIC_NMI => entry::LOCAL_APIC_NMI_LEN,
        entry::ADDRESS_OVERRIDE => entry::ADDRESS_OVERRIDE_LEN,
        entry::LOCAL_X2APIC => entry::LOCAL_X2APIC_LEN,
        entry::LOCAL_X2APIC_NMI => entry::LOCAL_X2APIC_NMI_LEN,
        _ => return None,
    })
}

/// A processor entry before filtering.
struct RawCpu {
    apic_id: u32,
    acpi_uid: u32,
    flags: u32,
    x2apic: bool,
}

/// Parses the raw bytes of a MADT (`table` may extend past its length field;
/// the rest is ignored), keeping at most `max_cpus` CPUs.
///
/// Errors concern the whole table; entry-level problems are collected in
/// [`Madt::warnings`] (see the module doc). Never panics, for any input.
pub fn parse(table: &[u8], max_cpus: usize) -> Result<Madt, MadtError> {
    let table = validate_header(table)?;
    let revision = table[8];
    let mut madt = Madt {
        local_apic_base: u64::from(le_u32(table, SDT_HEADER_LEN)),
        pcat_compat: le_u32(table, SDT_HEADER_LEN + 4) & 1 != 0,
        cpus: Vec::new(),
        io_apics: Vec::new(),
        overrides: Vec::new(),
        nmis: Vec::new(),
        skipped_types: Vec::new(),
        warnings: Vec::new(),
    };
    let mut raw_cpus = Vec::new();

    let mut offset = MADT_FIXED_LEN;
    while offset < table.len() {
        let Some(&length) = table.get(offset + 1) else {
            madt.warnings.push(MadtWarning::EntryPastEnd {
                offset,
                length: None,
                table_len: table.len(),
            });
            break;
        };
        let entry_type = table[offset];
        if length < 2 {
            madt.warnings.push(MadtWarning::ZeroLengthEntry {
                offset,
                entry_type,
                length,
            });
            break;
        }
        let Some(bytes) = table.get(offset..offset + usize::from(length)) else {
            madt.warnings.push(MadtWarning::EntryPastEnd {
                offset,
                length: Some(length),
                table_len: table.len(),
            });
            break;
        };
        match required_len(entry_type) {
            None => {
                if let Err(at) = madt.skipped_types.binary_search(&entry_type) {
                    madt.skipped_types.insert(at, entry_type);
                }
            }
            Some(required) if bytes.len() < required => {
                madt.warnings.push(MadtWarning::EntryTooShort {
                    offset,
                    entry_type,
                    length,
                    required,
                });
            }
            Some(_) => decode_entry(entry_type, bytes, &mut madt, &mut raw_cpus),
        }
        offset += usize::from(length);
    }

    select_cpus(&mut madt, raw_cpus, revision, max_cpus);
    Ok(madt)
}

/// Checks signature, length and checksum; returns exactly the `length` bytes.
fn validate_header(table: &[u8]) -> Result<&[u8], MadtError> {
    if table.len() < SDT_HEADER_LEN {
        return Err(MadtError::Truncated {
            available: table.len(),
        });
    }
    let signature = [table[0], table[1], table[2], table[3]];
    if signature != SIGNATURE {
        return Err(MadtError::BadSignature { found: signature });
    }
    let length = le_u32(table, 4);
    let table = usize::try_from(length)
        .ok()
        .filter(|&len| len >= MADT_FIXED_LEN)
        .and_then(|len| table.get(..len))
        .ok_or(MadtError::BadLength {
            length,
            available: table.len(),
        })?;
    let sum = table.iter().fold(0u8, |sum, &byte| sum.wrapping_add(byte));
    if sum != 0 {
        return Err(MadtError::BadChecksum { sum });
    }
    Ok(table)
}

/// Decodes one entry whose length is at least its type's minimum.
fn decode_entry(entry_type: u8, bytes: &[u8], madt: &mut Madt, raw_cpus: &mut Vec<RawCpu>) {
    match entry_type {
        entry::LOCAL_APIC => raw_cpus.push(RawCpu {
            acpi_uid: u32::from(bytes[2]),
            apic_id: u32::from(bytes[3]),
            flags: le_u32(bytes, 4),
            x2apic: false,
        }),
        entry::IO_APIC => madt.io_apics.push(IoApic {
            id: bytes[2],
            address: le_u32(bytes, 4),
            gsi_base: le_u32(bytes, 8),
        }),
        entry::SOURCE_OVERRIDE => {
            let (polarity, trigger) = inti_flags(le_u16(bytes, 8));
            madt.overrides.push(InterruptOverride {
                bus: bytes[2],
                source_irq: bytes[3],
                gsi: le_u32(bytes, 4),
                polarity,
                trigger,
            });
        }
        entry::LOCAL_APIC_NMI => {
            let (polarity, trigger) = inti_flags(le_u16(bytes, 3));
            madt.nmis.push(LocalApicNmi {
                acpi_uid: (bytes[2] != u8::MAX).then_some(u32::from(bytes[2])),
                lint: bytes[5],
                polarity,
                trigger,
            });
        }
        entry::ADDRESS_OVERRIDE => madt.local_apic_base = le_u64(bytes, 4),
        entry::LOCAL_X2APIC => raw_cpus.push(RawCpu {
            apic_id: le_u32(bytes, 4),
            flags: le_u32(bytes, 8),
            acpi_uid: le_u32(bytes, 12),
            x2apic: true,
        }),
        entry::LOCAL_X2APIC_NMI => {
            let (polarity, trigger) = inti_flags(le_u16(bytes, 2));
            let uid = le_u32(bytes, 4);
            madt.nmis.push(LocalApicNmi {
                acpi_uid: (uid != u32::MAX).then_some(uid),
                lint: bytes[8],
                polarity,
                trigger,
            });
        }
        _ => {}
    }
}

/// Filters the processor entries into [`Madt::cpus`] (see the module doc).
fn select_cpus(madt: &mut Madt, raw_cpus: Vec<RawCpu>, revision: u8, max_cpus: usize) {
    let online_capable_mask = if revision >= ONLINE_CAPABLE_MIN_REVISION {
        cpu_flags::ONLINE_CAPABLE
    } else {
        0
    };
    let mut disabled = Vec::new();
    let mut dropped = 0usize;
    for raw in raw_cpus {
        let state = if raw.flags & cpu_flags::ENABLED != 0 {
            CpuState::Enabled
        } else if raw.flags & online_capable_mask != 0 {
            CpuState::OnlineCapable
        } else {
            disabled.push(raw.apic_id);
            continue;
        };
        if madt.cpus.iter().any(|cpu| cpu.apic_id == raw.apic_id) {
            madt.warnings.push(MadtWarning::DuplicateApicId {
                apic_id: raw.apic_id,
                dropped_uid: raw.acpi_uid,
            });
            continue;
        }
        if madt.cpus.len() >= max_cpus {
            dropped += 1;
            continue;
        }
        madt.cpus.push(CpuEntry {
            apic_id: raw.apic_id,
            acpi_uid: raw.acpi_uid,
            x2apic: raw.x2apic,
            state,
        });
    }
    if !disabled.is_empty() {
        madt.warnings
            .push(MadtWarning::DisabledCpus { apic_ids: disabled });
    }
    if dropped > 0 {
        madt.warnings
            .push(MadtWarning::TooManyCpus { max_cpus, dropped });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use alloc::vec;

    /// Builds a MADT: header (revision `revision`), LAPIC address, flags,
    /// the given raw entries, with length and checksum fixed up.
    struct Builder {
        revision: u8,
        lapic: u32,
        flags: u32,
        entries: Vec<Vec<u8>>,
    }

    impl Builder {
        fn new() -> Self {
            Self {
                revision: 5,
                lapic: 0xfee0_0000,
                flags: 1,
                entries: Vec::new(),
            }
        }

        fn raw(mut self, bytes: Vec<u8>) -> Self {
            self.entries.push(bytes);
            self
        }

        fn lapic(self, uid: u8, apic_id: u8, flags: u32) -> Self {
            let mut e = vec![0, 8, uid, apic_id];
            e.extend_from_slice(&flags.to_le_bytes());
            self.raw(e)
        }

        fn x2apic(self, x2apic_id: u32, flags: u32, uid: u32) -> Self {
            let mut e = vec![9, 16, 0, 0];
            e.extend_from_slice(&x2apic_id.to_le_bytes());
            e.extend_from_slice(&flags.to_le_bytes());
            e.extend_from_slice(&uid.to_le_bytes());
            self.raw(e)
        }

        fn io_apic(self, id: u8, address: u32, gsi_base: u32) -> Self {
            let mut e = vec![1, 12, id, 0];
            e.extend_from_slice(&address.to_le_bytes());
            e.extend_from_slice(&gsi_base.to_le_bytes());
            self.raw(e)
        }

        fn source_override(self, source_irq: u8, gsi: u32, flags: u16) -> Self {
            let mut e = vec![2, 10, 0, source_irq];
            e.extend_from_slice(&gsi.to_le_bytes());
            e.extend_from_slice(&flags.to_le_bytes());
            self.raw(e)
        }

        fn build(&self) -> Vec<u8> {
            let mut t = Vec::new();
            t.extend_from_slice(b"APIC");
            t.extend_from_slice(&0u32.to_le_bytes()); // length, fixed below
            t.push(self.revision);
            t.push(0); // checksum, fixed below
            t.extend_from_slice(b"KTEST ");
            t.extend_from_slice(b"MADTTEST");
            t.extend_from_slice(&1u32.to_le_bytes());
            t.extend_from_slice(b"KTST");
            t.extend_from_slice(&1u32.to_le_bytes());
            assert_eq!(t.len(), SDT_HEADER_LEN);
            t.extend_from_slice(&self.lapic.to_le_bytes());
            t.extend_from_slice(&self.flags.to_le_bytes());
            for e in &self.entries {
                t.extend_from_slice(e);
            }
            fix_up(&mut t);
            t
        }
    }

    /// Sets the length field to the vector's length and fixes the checksum.
    fn fix_up(t: &mut [u8]) {
        let len = t.len() as u32;
        t[4..8].copy_from_slice(&len.to_le_bytes());
        fix_checksum(t);
    }

    fn fix_checksum(t: &mut [u8]) {
        t[9] = 0;
        let sum = t.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        t[9] = 0u8.wrapping_sub(sum);
    }

    /// The QEMU `-smp 4` table of PLATFORM-NOTES.md.
    fn qemu_like() -> Builder {
        Builder::new()
            .lapic(0, 0, 1)
            .lapic(1, 1, 1)
            .lapic(2, 2, 1)
            .lapic(3, 3, 1)
            .io_apic(0, 0xfec0_0000, 0)
            .source_override(0, 2, 0)
            .source_override(5, 5, 0b1101)
            .source_override(9, 9, 0b1101)
            .raw(vec![4, 6, 0xff, 0, 0, 1]) // LAPIC NMI, all CPUs, LINT1
    }

    fn enabled(apic_id: u32, uid: u32) -> CpuEntry {
        CpuEntry {
            apic_id,
            acpi_uid: uid,
            x2apic: false,
            state: CpuState::Enabled,
        }
    }

    #[test]
    fn good_table_converts_every_entry() {
        let madt = parse(&qemu_like().build(), 256).unwrap();
        assert_eq!(madt.local_apic_base, 0xfee0_0000);
        assert!(madt.pcat_compat);
        assert_eq!(
            madt.cpus,
            vec![enabled(0, 0), enabled(1, 1), enabled(2, 2), enabled(3, 3)]
        );
        assert_eq!(
            madt.io_apics,
            vec![IoApic {
                id: 0,
                address: 0xfec0_0000,
                gsi_base: 0
            }]
        );
        assert_eq!(madt.overrides.len(), 3);
        assert_eq!(
            madt.overrides[0],
            InterruptOverride {
                bus: 0,
                source_irq: 0,
                gsi: 2,
                polarity: Polarity::BusDefault,
                trigger: TriggerMode::BusDefault,
            }
        );
        assert_eq!(madt.overrides[2].source_irq, 9);
        assert_eq!(madt.overrides[2].gsi, 9);
        assert_eq!(madt.overrides[2].polarity, Polarity::ActiveHigh);
        assert_eq!(madt.overrides[2].trigger, TriggerMode::Level);
        assert_eq!(
            madt.nmis,
            vec![LocalApicNmi {
                acpi_uid: None,
                lint: 1,
                polarity: Polarity::BusDefault,
                trigger: TriggerMode::BusDefault,
            }]
        );
        assert!(madt.warnings.is_empty(), "{:?}", madt.warnings);
        assert!(madt.skipped_types.is_empty());
        assert_eq!(madt.enabled_cpus().count(), 4);
    }

    #[test]
    fn apic_id_list_formats_like_a_slice() {
        let madt = parse(&qemu_like().build(), 256).unwrap();
        let ids = madt.enabled_apic_ids();
        assert_eq!(ids.to_string(), "[0, 1, 2, 3]");
        assert_eq!(ids.to_string(), format!("{:?}", [0u32, 1, 2, 3]));
        assert_eq!(ids.count(), 4);
        assert_eq!(madt.online_capable_apic_ids().to_string(), "[]");
    }

    #[test]
    fn inti_flags_decode_every_encoding() {
        assert_eq!(
            inti_flags(0b0000),
            (Polarity::BusDefault, TriggerMode::BusDefault)
        );
        assert_eq!(
            inti_flags(0b0101),
            (Polarity::ActiveHigh, TriggerMode::Edge)
        );
        assert_eq!(
            inti_flags(0b1111),
            (Polarity::ActiveLow, TriggerMode::Level)
        );
        assert_eq!(
            inti_flags(0b1010),
            (Polarity::Reserved, TriggerMode::Reserved)
        );
    }

    #[test]
    fn x2apic_entries_and_x2apic_nmi() {
        let mut nmi = vec![10, 12, 0b0101, 0];
        nmi.extend_from_slice(&7u32.to_le_bytes());
        nmi.extend_from_slice(&[1, 0, 0, 0]);
        let t = Builder::new()
            .lapic(0, 0, 1)
            .x2apic(300, 1, 0x1000)
            .x2apic(0x1_0000, 2, 0x1001)
            .raw(nmi)
            .build();
        let madt = parse(&t, 256).unwrap();
        assert_eq!(
            madt.cpus,
            vec![
                enabled(0, 0),
                CpuEntry {
                    apic_id: 300,
                    acpi_uid: 0x1000,
                    x2apic: true,
                    state: CpuState::Enabled
                },
                CpuEntry {
                    apic_id: 0x1_0000,
                    acpi_uid: 0x1001,
                    x2apic: true,
                    state: CpuState::OnlineCapable
                },
            ]
        );
        assert_eq!(madt.enabled_apic_ids().to_string(), "[0, 300]");
        assert_eq!(madt.online_capable_apic_ids().to_string(), "[65536]");
        assert_eq!(
            madt.nmis,
            vec![LocalApicNmi {
                acpi_uid: Some(7),
                lint: 1,
                polarity: Polarity::ActiveHigh,
                trigger: TriggerMode::Edge,
            }]
        );
        assert!(madt.warnings.is_empty(), "{:?}", madt.warnings);
    }

    #[test]
    fn address_override_replaces_the_32_bit_base() {
        let mut e = vec![5, 12, 0, 0];
        e.extend_from_slice(&0x1_2345_6000u64.to_le_bytes());
        let madt = parse(&qemu_like().raw(e).build(), 256).unwrap();
        assert_eq!(madt.local_apic_base, 0x1_2345_6000);
    }

    #[test]
    fn pcat_compat_flag_clear() {
        let mut b = qemu_like();
        b.flags = 0;
        assert!(!parse(&b.build(), 256).unwrap().pcat_compat);
    }

    #[test]
    fn bad_checksum_is_an_error() {
        let mut t = qemu_like().build();
        t[50] ^= 0x40;
        assert_eq!(parse(&t, 256), Err(MadtError::BadChecksum { sum: 0x40 }));
        assert!(
            MadtError::BadChecksum { sum: 0x40 }
                .to_string()
                .contains("checksum")
        );
    }

    #[test]
    fn bad_signature_is_an_error() {
        let mut t = qemu_like().build();
        t[0..4].copy_from_slice(b"FACP");
        fix_checksum(&mut t);
        let err = parse(&t, 256).unwrap_err();
        assert_eq!(err, MadtError::BadSignature { found: *b"FACP" });
        assert_eq!(
            err.to_string(),
            "MADT signature is \"FACP\", expected \"APIC\""
        );
        t[0] = 0;
        assert_eq!(
            parse(&t, 256).unwrap_err().to_string(),
            "MADT signature is \"\\x00ACP\", expected \"APIC\""
        );
    }

    #[test]
    fn length_field_out_of_range_is_an_error() {
        let t = qemu_like().build();
        // Longer than the bytes given.
        let short = &t[..t.len() - 1];
        assert_eq!(
            parse(short, 256),
            Err(MadtError::BadLength {
                length: t.len() as u32,
                available: t.len() - 1
            })
        );
        // Shorter than the fixed part.
        let mut small = t.clone();
        small[4..8].copy_from_slice(&40u32.to_le_bytes());
        fix_checksum(&mut small);
        assert!(matches!(
            parse(&small, 256),
            Err(MadtError::BadLength { length: 40, .. })
        ));
        // Fewer bytes than a header.
        assert_eq!(
            parse(&t[..20], 256),
            Err(MadtError::Truncated { available: 20 })
        );
        assert_eq!(parse(&[], 256), Err(MadtError::Truncated { available: 0 }));
    }

    #[test]
    fn bytes_past_the_length_field_are_ignored() {
        let mut t = qemu_like().build();
        t.extend_from_slice(&[0xde, 0xad, 0, 0]);
        let madt = parse(&t, 256).unwrap();
        assert_eq!(madt.cpus.len(), 4);
        assert!(madt.warnings.is_empty());
    }

    #[test]
    fn zero_length_entry_stops_parsing() {
        for length in [0u8, 1] {
            let t = Builder::new()
                .lapic(0, 0, 1)
                .raw(vec![0, length, 0, 0, 0, 0, 0, 0])
                .lapic(1, 1, 1)
                .build();
            let madt = parse(&t, 256).unwrap();
            assert_eq!(madt.cpus, vec![enabled(0, 0)]);
            assert_eq!(
                madt.warnings,
                vec![MadtWarning::ZeroLengthEntry {
                    offset: 52,
                    entry_type: 0,
                    length
                }]
            );
            assert!(madt.warnings[0].to_string().contains("parsing stopped"));
        }
    }

    #[test]
    fn entry_past_the_table_end_stops_parsing() {
        // The last entry claims 16 bytes but only 8 remain.
        let t = Builder::new()
            .lapic(0, 0, 1)
            .raw(vec![9, 16, 0, 0, 1, 0, 0, 0])
            .build();
        let madt = parse(&t, 256).unwrap();
        assert_eq!(madt.cpus, vec![enabled(0, 0)]);
        assert_eq!(
            madt.warnings,
            vec![MadtWarning::EntryPastEnd {
                offset: 52,
                length: Some(16),
                table_len: 60
            }]
        );
    }

    #[test]
    fn lone_trailing_byte_is_a_truncated_entry() {
        let t = Builder::new().lapic(0, 0, 1).raw(vec![0]).build();
        let madt = parse(&t, 256).unwrap();
        assert_eq!(madt.cpus, vec![enabled(0, 0)]);
        assert_eq!(
            madt.warnings,
            vec![MadtWarning::EntryPastEnd {
                offset: 52,
                length: None,
                table_len: 53
            }]
        );
        assert!(madt.warnings[0].to_string().contains("truncated"));
    }

    #[test]
    fn entry_shorter_than_its_type_is_skipped() {
        let t = Builder::new()
            .raw(vec![1, 6, 0, 0, 0, 0]) // an I/O APIC needs 12
            .lapic(0, 0, 1)
            .build();
        let madt = parse(&t, 256).unwrap();
        assert!(madt.io_apics.is_empty());
        assert_eq!(madt.cpus, vec![enabled(0, 0)]);
        assert_eq!(
            madt.warnings,
            vec![MadtWarning::EntryTooShort {
                offset: 44,
                entry_type: 1,
                length: 6,
                required: 12
            }]
        );
    }

    #[test]
    fn longer_entries_and_unknown_types_are_tolerated() {
        let mut long_lapic = vec![0, 10, 7, 9];
        long_lapic.extend_from_slice(&1u32.to_le_bytes());
        long_lapic.extend_from_slice(&[0xaa, 0xbb]);
        let t = Builder::new()
            .raw(vec![0x7f, 4, 1, 2])
            .raw(long_lapic)
            .raw(vec![3, 8, 0, 0, 0, 0, 0, 0])
            .raw(vec![0x7f, 2])
            .build();
        let madt = parse(&t, 256).unwrap();
        assert_eq!(madt.cpus, vec![enabled(9, 7)]);
        assert_eq!(madt.skipped_types, vec![3, 0x7f]);
        assert!(madt.warnings.is_empty());
    }

    #[test]
    fn duplicate_apic_ids_keep_the_first() {
        let t = Builder::new()
            .lapic(0, 0, 1)
            .lapic(1, 1, 1)
            .lapic(2, 1, 1)
            .x2apic(0, 1, 3)
            .build();
        let madt = parse(&t, 256).unwrap();
        assert_eq!(madt.cpus, vec![enabled(0, 0), enabled(1, 1)]);
        assert_eq!(
            madt.warnings,
            vec![
                MadtWarning::DuplicateApicId {
                    apic_id: 1,
                    dropped_uid: 2
                },
                MadtWarning::DuplicateApicId {
                    apic_id: 0,
                    dropped_uid: 3
                },
            ]
        );
        assert_eq!(
            madt.warnings[0].to_string(),
            "MADT lists APIC id 1 twice: the entry with ACPI UID 2 was dropped, the first kept"
        );
    }

    #[test]
    fn disabled_entries_are_skipped_with_one_warning() {
        let t = Builder::new()
            .lapic(0, 0, 1)
            .lapic(1, 1, 0)
            .lapic(2, 2, 1)
            .x2apic(5, 0, 5)
            .build();
        let madt = parse(&t, 256).unwrap();
        assert_eq!(madt.cpus, vec![enabled(0, 0), enabled(2, 2)]);
        assert_eq!(
            madt.warnings,
            vec![MadtWarning::DisabledCpus {
                apic_ids: vec![1, 5]
            }]
        );
        assert_eq!(
            madt.warnings[0].to_string(),
            "MADT lists 2 disabled CPU(s), skipped (apic_ids=[1, 5])"
        );
        assert!(
            madt.warnings[0].is_normal_firmware(),
            "placeholders are no warning"
        );
    }

    #[test]
    fn only_placeholder_entries_count_as_normal_firmware() {
        let odd = [
            MadtWarning::ZeroLengthEntry {
                offset: 44,
                entry_type: 0,
                length: 0,
            },
            MadtWarning::TooManyCpus {
                max_cpus: 1,
                dropped: 1,
            },
        ];
        assert!(odd.iter().all(|w| !w.is_normal_firmware()));
    }

    #[test]
    fn online_capable_needs_revision_5() {
        let mut b = Builder::new().lapic(0, 0, 1).lapic(1, 1, 2);
        let madt = parse(&b.build(), 256).unwrap();
        assert_eq!(madt.cpus[1].state, CpuState::OnlineCapable);
        assert_eq!(madt.enabled_cpus().count(), 1);
        assert!(madt.warnings.is_empty());

        b.revision = 4; // bit 1 is reserved: the CPU is disabled
        let madt = parse(&b.build(), 256).unwrap();
        assert_eq!(madt.cpus, vec![enabled(0, 0)]);
        assert_eq!(
            madt.warnings,
            vec![MadtWarning::DisabledCpus { apic_ids: vec![1] }]
        );
    }

    #[test]
    fn more_cpus_than_max_keeps_the_first() {
        let mut b = Builder::new();
        for id in 0..10u8 {
            b = b.lapic(id, id, 1);
        }
        let madt = parse(&b.build(), 4).unwrap();
        assert_eq!(madt.enabled_apic_ids().to_string(), "[0, 1, 2, 3]");
        assert_eq!(
            madt.warnings,
            vec![MadtWarning::TooManyCpus {
                max_cpus: 4,
                dropped: 6
            }]
        );
        assert_eq!(
            madt.warnings[0].to_string(),
            "MADT lists 10 usable CPUs, more than MAX_CPUS=4: the last 6 are ignored"
        );
        // Exactly max_cpus: no warning.
        let madt = parse(&b.build(), 10).unwrap();
        assert_eq!(madt.cpus.len(), 10);
        assert!(madt.warnings.is_empty());
        // Zero allowed: all dropped, still no panic.
        assert!(parse(&b.build(), 0).unwrap().cpus.is_empty());
    }

    #[test]
    fn no_entries_at_all() {
        let madt = parse(&Builder::new().build(), 256).unwrap();
        assert!(madt.cpus.is_empty() && madt.io_apics.is_empty());
        assert_eq!(madt.enabled_apic_ids().to_string(), "[]");
    }

    #[test]
    fn every_truncation_of_a_valid_table_is_handled() {
        let full = qemu_like()
            .x2apic(400, 1, 9)
            .raw(vec![5, 12, 0, 0, 0, 0, 0xe0, 0xfe, 0, 0, 0, 0])
            .build();
        for cut in 0..=full.len() {
            // As given: a shorter slice with the original length field.
            let _ = parse(&full[..cut], 256);
            // As if the firmware had written the shorter length and checksum.
            let mut t = full[..cut].to_vec();
            if cut >= SDT_HEADER_LEN {
                fix_up(&mut t);
                let result = parse(&t, 256);
                if cut >= MADT_FIXED_LEN {
                    let madt = result.unwrap();
                    assert!(madt.cpus.len() <= 5);
                } else {
                    assert!(matches!(result, Err(MadtError::BadLength { .. })));
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift64: deterministic, no dependency.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut parsed = 0;
        for round in 0..3000 {
            let len = (next() % 300) as usize;
            let mut t: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len >= SDT_HEADER_LEN {
                t[0..4].copy_from_slice(b"APIC");
                // Small entry lengths and types that we interpret, often.
                for byte in t[MADT_FIXED_LEN.min(len)..].iter_mut() {
                    if next() % 2 == 0 {
                        *byte %= 17;
                    }
                }
                if round % 3 != 0 {
                    fix_up(&mut t);
                }
            }
            if let Ok(madt) = parse(&t, 8) {
                assert!(madt.cpus.len() <= 8);
                parsed += 1;
            }
            // Formatting the result must not panic either.
            let _ = format!("{:?}", parse(&t, 8));
        }
        assert!(parsed > 1000, "only {parsed} random tables parsed");
    }

    #[test]
    fn every_message_is_one_line() {
        let warnings = [
            MadtWarning::ZeroLengthEntry {
                offset: 44,
                entry_type: 0,
                length: 0,
            },
            MadtWarning::EntryPastEnd {
                offset: 44,
                length: Some(16),
                table_len: 50,
            },
            MadtWarning::EntryTooShort {
                offset: 44,
                entry_type: 1,
                length: 6,
                required: 12,
            },
            MadtWarning::TooManyCpus {
                max_cpus: 4,
                dropped: 1,
            },
        ];
        for w in warnings {
            let text = w.to_string();
            assert!(!text.contains('\n') && text.starts_with("MADT"), "{text}");
        }
        let e = MadtError::BadLength {
            length: 4,
            available: 100,
        };
        assert_eq!(
            e.to_string(),
            "MADT length field 4 is impossible (at least 44, at most the 100 bytes mapped)"
        );
    }

    /// QEMU's pc/q35 overrides (IRQ 0 → GSI 2; 5, 9, 10, 11 level, active
    /// high) resolve as the I/O APIC must be programmed for them.
    #[test]
    fn isa_irqs_resolve_through_the_tables_overrides() {
        use drivers::ioapic::{Polarity as Pol, TriggerMode as Trig};
        let table = qemu_like()
            .source_override(10, 10, 0b1101)
            .source_override(11, 11, 0b1101)
            .raw(vec![2, 10, 1, 4, 20, 0, 0, 0, 0b1111, 0]) // bus 1: ignored
            .build();
        let madt = parse(&table, 256).unwrap();
        assert_eq!(madt.isa_overrides().count(), 5);
        let route = |irq| {
            let r = madt.isa_route(irq);
            (r.gsi, r.polarity, r.trigger, r.overridden)
        };
        assert_eq!(route(0), (2, Pol::ActiveHigh, Trig::Edge, true));
        assert_eq!(route(4), (4, Pol::ActiveHigh, Trig::Edge, false));
        assert_eq!(route(1), (1, Pol::ActiveHigh, Trig::Edge, false));
        for irq in [5, 9, 10, 11] {
            assert_eq!(
                route(irq),
                (u32::from(irq), Pol::ActiveHigh, Trig::Level, true)
            );
        }
        // A reserved encoding reads as "conforms".
        let odd = parse(&Builder::new().source_override(3, 7, 0b1010).build(), 256).unwrap();
        let r = odd.isa_route(3);
        assert_eq!(
            (r.gsi, r.polarity, r.trigger),
            (7, Pol::ActiveHigh, Trig::Edge)
        );
    }
}
