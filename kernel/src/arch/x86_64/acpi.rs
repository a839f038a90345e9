//! ACPI: from the bootloader's RSDP address to the kernel's [`Madt`].
//!
//! ```text
//! BootInfo.rsdp_addr
//!   └─► RSDP "RSD PTR "   checksum; revision ≥ 2 adds a length and an extended checksum
//!         └─► XSDT (revision ≥ 2, 64-bit entries) or RSDT (revision 0, 32-bit entries)
//!               header + checksum checked before the `acpi` crate walks its entries
//!               └─► physical address of every table
//!                     └─► first table signed "APIC" = the MADT
//!                           └─► its `length` bytes ──► kernel::madt::parse ──► MADT (once)
//! ```
//!
//! Every table is read through the bootloader's physical-memory window
//! ([`paging::phys_to_virt`]): it maps all physical memory for the kernel's
//! whole life, so the [`Handler`] given to the `acpi` crate maps nothing and
//! unmaps nothing, and the MADT bytes can be handed out as `&'static [u8]`.
//! ACPI tables live in memory the firmware reports as ACPI or reserved, which
//! the frame allocator never hands out (it takes usable regions only), and
//! nobody writes them.
//!
//! Checks, in order (ACPI 6.5 §5.2.5 – §5.2.8): the RSDP's signature and
//! checksums (`acpi::rsdp::Rsdp::validate`), the root table's signature and
//! checksum (`SdtHeader::validate`); the `acpi` crate itself only warns about
//! a bad RSDP checksum and never checks the root table, so this module does.
//! The MADT's own checksum is checked by [`madt::parse`]. Length fields are
//! bounded before anything is read through them, so a corrupt length cannot
//! send a read across the address space.
//!
//! Failure policy: any problem is logged as `[SMP] ERROR …` followed by
//! `[SMP] WARN … booting on the BSP alone`, and [`init`] returns `None`; the
//! kernel then runs on the boot CPU only. Nothing here panics on bad tables.
//!
//! Only table parsing is needed, so the AML half of [`Handler`] (memory, port
//! and PCI accesses, timing, mutexes) is not implemented: the kernel never
//! creates an AML interpreter, and those methods panic if called.

use core::fmt;
use core::mem::size_of;
use core::ptr::NonNull;

use acpi::rsdp::Rsdp;
use acpi::sdt::{SdtHeader, Signature};
use acpi::{AcpiTables, Handle, Handler, PciAddress, PhysicalMapping};
use kernel::config::MAX_CPUS;
use kernel::madt::{self, Madt, SDT_HEADER_LEN};
use spin::Once;
use x86_64::PhysAddr;

use crate::arch::x86_64::paging;

/// The largest table this module reads (1 MiB). A length field above it is
/// corruption: a MADT listing thousands of x2APIC CPUs is still under 64 KiB.
const MAX_TABLE_LEN: u32 = 1 << 20;

/// RSDP length from revision 2 on (ACPI 6.5 table 5.3).
const RSDP_V2_LEN: u32 = 36;

/// The largest RSDP length field accepted (a page): the structure is 36 bytes
/// today; anything larger than a page is corruption.
const MAX_RSDP_LEN: u32 = 4096;

/// The converted MADT, set once by [`init`].
static MADT: Once<Madt> = Once::new();

/// Why the MADT could not be found.
#[derive(Clone, Debug)]
pub enum AcpiError {
    /// The bootloader found no RSDP.
    NoRsdp,
    /// The RSDP's length field is impossible.
    RsdpLength(u32),
    /// The RSDP is invalid (signature, OEM id or checksum).
    Rsdp(acpi::AcpiError),
    /// The root table's (RSDT/XSDT) length field is impossible.
    RootTableLength {
        /// `RSDT` or `XSDT`.
        signature: Signature,
        /// The length field.
        length: u32,
    },
    /// The root table is invalid (signature, ids or checksum).
    RootTable(acpi::AcpiError),
    /// No table signed `APIC` in the root table.
    NoMadt,
    /// The MADT's length field is beyond [`MAX_TABLE_LEN`].
    MadtLength(u32),
}

impl fmt::Display for AcpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoRsdp => f.write_str("the bootloader reports no ACPI RSDP: no MADT"),
            Self::RsdpLength(length) => write!(
                f,
                "ACPI RSDP length field {length} is impossible ({RSDP_V2_LEN}..={MAX_RSDP_LEN})"
            ),
            Self::Rsdp(error) => write!(f, "ACPI RSDP is invalid: {error:?}"),
            Self::RootTableLength { signature, length } => write!(
                f,
                "ACPI {signature} length field {length} is impossible \
                 ({SDT_HEADER_LEN}..={MAX_TABLE_LEN})"
            ),
            Self::RootTable(error) => write!(f, "ACPI root table is invalid: {error:?}"),
            Self::NoMadt => f.write_str("ACPI lists no MADT (\"APIC\" table)"),
            Self::MadtLength(length) => write!(
                f,
                "MADT length field {length} is beyond the {MAX_TABLE_LEN}-byte limit"
            ),
        }
    }
}

/// Finds, converts and stores the MADT, and logs what it found: each
/// warning as `[SMP] WARN …` (placeholder entries for absent CPUs, which
/// normal firmware lists, at info level: `[SMP] MADT lists N disabled …`),
/// then
/// `[SMP] CPUs detected: N (apic_ids=[0, 1, 2, 3])` where N counts the
/// *enabled* CPUs (those the kernel starts).
///
/// Returns `None` (after logging why and that the kernel boots on the BSP
/// alone) when there is no usable MADT. Call it on the BSP after
/// `paging::init`; a later call returns the stored result without re-reading.
pub fn init(rsdp_addr: Option<u64>) -> Option<&'static Madt> {
    if let Some(madt) = MADT.get() {
        return Some(madt);
    }
    let bytes = match find_madt(rsdp_addr) {
        Ok(bytes) => bytes,
        Err(error) => return boot_alone(format_args!("{error}")),
    };
    let madt = match madt::parse(bytes, MAX_CPUS) {
        Ok(madt) => MADT.call_once(|| madt),
        Err(error) => return boot_alone(format_args!("{error}")),
    };
    for warning in &madt.warnings {
        if warning.is_normal_firmware() {
            log::info!(target: "SMP", "{warning}");
        } else {
            log::warn!(target: "SMP", "{warning}");
        }
    }
    if !madt.skipped_types.is_empty() {
        log::info!(
            target: "SMP",
            "MADT entry types not used: {:?}",
            madt.skipped_types
        );
    }
    log::debug!(
        target: "SMP",
        "Local APIC at {:#x}, PCAT_COMPAT={}, I/O APICs {:x?}, overrides {:?}",
        madt.local_apic_base,
        madt.pcat_compat,
        madt.io_apics,
        madt.overrides
    );
    let ids = madt.enabled_apic_ids();
    log::info!(target: "SMP", "CPUs detected: {} (apic_ids={ids})", ids.count());
    let hot = madt.online_capable_apic_ids();
    if hot.count() > 0 {
        log::info!(
            target: "SMP",
            "{} online-capable CPU(s) not started (apic_ids={hot})",
            hot.count()
        );
    }
    if ids.count() == 0 {
        log::warn!(target: "SMP", "MADT lists no enabled CPU: booting on the BSP alone");
    }
    Some(madt)
}

/// Logs why there is no MADT and that the kernel runs on the BSP alone.
fn boot_alone(reason: fmt::Arguments<'_>) -> Option<&'static Madt> {
    log::error!(target: "SMP", "{reason}");
    log::warn!(target: "SMP", "no usable MADT: booting on the BSP alone");
    None
}

/// Finds the MADT from the RSDP's physical address and returns its raw bytes
/// (as many as its length field says) through the physical-memory window.
/// The MADT's checksum is *not* checked here: [`madt::parse`] does it.
///
/// Needs `paging::init` to have run.
pub fn find_madt(rsdp_addr: Option<u64>) -> Result<&'static [u8], AcpiError> {
    let rsdp_addr = rsdp_addr.ok_or(AcpiError::NoRsdp)?;
    let (revision, root_addr) = root_table(rsdp_addr)?;
    // SAFETY: `root_table` checked that a whole RSDT (revision 0) or XSDT
    // (otherwise) with a valid checksum lies at `root_addr`.
    let tables = unsafe { AcpiTables::from_rsdt(PhysWindow, revision, root_addr) }
        .map_err(AcpiError::RootTable)?;
    let (address, header) = tables
        .table_headers()
        .find(|(_, header)| header.signature == Signature::MADT)
        .ok_or(AcpiError::NoMadt)?;
    let length = header.length;
    if length > MAX_TABLE_LEN {
        return Err(AcpiError::MadtLength(length));
    }
    let start = paging::phys_to_virt(PhysAddr::new(address as u64));
    // SAFETY:
    // 1. the physical-memory window maps all physical memory, readable, for
    //    the kernel's whole life: the `length` bytes at `start` stay valid for
    //    `'static`;
    // 2. they are ACPI table memory, never handed out by the frame allocator
    //    and never written, so no `&mut` alias exists;
    // 3. `start` is non-null and `length` ≤ MAX_TABLE_LEN ≤ isize::MAX.
    Ok(unsafe { core::slice::from_raw_parts(start.as_ptr::<u8>(), length as usize) })
}

/// Checks the RSDP and the root table it points to; returns the RSDP revision
/// and the root table's physical address, as `AcpiTables::from_rsdt` wants.
fn root_table(rsdp_addr: u64) -> Result<(u8, usize), AcpiError> {
    let (addr, len) = (rsdp_addr as usize, size_of::<Rsdp>());
    // SAFETY: the bootloader found the RSDP at `rsdp_addr`; the window maps
    // the `size_of::<Rsdp>()` bytes there (for a revision-0 RSDP, 20 of them
    // are its own, the rest is readable memory that is not interpreted).
    let rsdp = unsafe { PhysWindow.map_physical_region::<Rsdp>(addr, len) };
    let revision = rsdp.revision();
    if revision > 0 && !(RSDP_V2_LEN..=MAX_RSDP_LEN).contains(&rsdp.length()) {
        return Err(AcpiError::RsdpLength(rsdp.length()));
    }
    rsdp.validate().map_err(AcpiError::Rsdp)?;
    let (signature, address) = if revision == 0 {
        (Signature::RSDT, rsdp.rsdt_address() as usize)
    } else {
        (Signature::XSDT, rsdp.xsdt_address() as usize)
    };
    // SAFETY: the RSDP (valid checksum) says a root table starts at
    // `address`; the window maps its header.
    let header = unsafe { PhysWindow.map_physical_region::<SdtHeader>(address, SDT_HEADER_LEN) };
    let length = header.length;
    if !(SDT_HEADER_LEN as u32..=MAX_TABLE_LEN).contains(&length) {
        return Err(AcpiError::RootTableLength { signature, length });
    }
    // SAFETY: as above; the window maps the whole `length` bytes.
    let root = unsafe { PhysWindow.map_physical_region::<SdtHeader>(address, length as usize) };
    // SAFETY: the mapping covers all `length` bytes of the table, as the
    // checksum computation requires.
    unsafe { root.validate(signature) }.map_err(AcpiError::RootTable)?;
    Ok((revision, address))
}

/// The `acpi` crate's view of physical memory: the bootloader's window.
#[derive(Clone, Copy, Debug)]
struct PhysWindow;

/// The AML-only half of [`Handler`] is never used (no AML interpreter exists).
fn aml_unsupported(what: &str) -> ! {
    panic!("acpi: {what} requested, but the kernel runs no AML interpreter")
}

impl Handler for PhysWindow {
    unsafe fn map_physical_region<T>(
        &self,
        physical_address: usize,
        size: usize,
    ) -> PhysicalMapping<Self, T> {
        let start = paging::phys_to_virt(PhysAddr::new(physical_address as u64));
        PhysicalMapping {
            physical_start: physical_address,
            virtual_start: NonNull::new(start.as_mut_ptr())
                .expect("the physical-memory window never covers address 0"),
            region_length: size,
            mapped_length: size,
            handler: *self,
        }
    }

    /// The window stays mapped: nothing to undo.
    fn unmap_physical_region<T>(_region: &PhysicalMapping<Self, T>) {}

    fn read_u8(&self, _address: usize) -> u8 {
        aml_unsupported("read_u8")
    }
    fn read_u16(&self, _address: usize) -> u16 {
        aml_unsupported("read_u16")
    }
    fn read_u32(&self, _address: usize) -> u32 {
        aml_unsupported("read_u32")
    }
    fn read_u64(&self, _address: usize) -> u64 {
        aml_unsupported("read_u64")
    }
    fn write_u8(&self, _address: usize, _value: u8) {
        aml_unsupported("write_u8")
    }
    fn write_u16(&self, _address: usize, _value: u16) {
        aml_unsupported("write_u16")
    }
    fn write_u32(&self, _address: usize, _value: u32) {
        aml_unsupported("write_u32")
    }
    fn write_u64(&self, _address: usize, _value: u64) {
        aml_unsupported("write_u64")
    }
    fn read_io_u8(&self, _port: u16) -> u8 {
        aml_unsupported("read_io_u8")
    }
    fn read_io_u16(&self, _port: u16) -> u16 {
        aml_unsupported("read_io_u16")
    }
    fn read_io_u32(&self, _port: u16) -> u32 {
        aml_unsupported("read_io_u32")
    }
    fn write_io_u8(&self, _port: u16, _value: u8) {
        aml_unsupported("write_io_u8")
    }
    fn write_io_u16(&self, _port: u16, _value: u16) {
        aml_unsupported("write_io_u16")
    }
    fn write_io_u32(&self, _port: u16, _value: u32) {
        aml_unsupported("write_io_u32")
    }
    fn read_pci_u8(&self, _address: PciAddress, _offset: u16) -> u8 {
        aml_unsupported("read_pci_u8")
    }
    fn read_pci_u16(&self, _address: PciAddress, _offset: u16) -> u16 {
        aml_unsupported("read_pci_u16")
    }
    fn read_pci_u32(&self, _address: PciAddress, _offset: u16) -> u32 {
        aml_unsupported("read_pci_u32")
    }
    fn write_pci_u8(&self, _address: PciAddress, _offset: u16, _value: u8) {
        aml_unsupported("write_pci_u8")
    }
    fn write_pci_u16(&self, _address: PciAddress, _offset: u16, _value: u16) {
        aml_unsupported("write_pci_u16")
    }
    fn write_pci_u32(&self, _address: PciAddress, _offset: u16, _value: u32) {
        aml_unsupported("write_pci_u32")
    }
    fn nanos_since_boot(&self) -> u64 {
        aml_unsupported("nanos_since_boot")
    }
    fn stall(&self, _microseconds: u64) {
        aml_unsupported("stall")
    }
    fn sleep(&self, _milliseconds: u64) {
        aml_unsupported("sleep")
    }
    fn create_mutex(&self) -> Handle {
        aml_unsupported("create_mutex")
    }
    fn acquire(&self, _mutex: Handle, _timeout: u16) -> Result<(), acpi::aml::AmlError> {
        aml_unsupported("acquire")
    }
    fn release(&self, _mutex: Handle) {
        aml_unsupported("release")
    }
}
