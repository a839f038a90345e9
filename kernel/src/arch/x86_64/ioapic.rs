//! The I/O APICs as the kernel uses them: mapped and fully masked at boot,
//! ISA IRQs routed to a CPU on request.
//!
//! The register-level driver is `drivers::ioapic` (IOREGSEL/IOWIN behind a
//! trait, typed redirection entries, the ISA IRQ → GSI resolution). This
//! module decides the machine-wide things: which I/O APICs exist (the
//! MADT's entries), where their windows are mapped (uncached, once, by
//! [`init`] on the BSP), and that every operation on one holds the
//! [`LockRank::IOAPIC`] lock for its select/data pairs. Where each ISA IRQ
//! arrives is computed once from the MADT's interrupt source overrides at
//! [`init`], so [`route_isa_irq`] needs no table.
//!
//! Nothing here is fatal: no I/O APIC in the MADT, one that reads all ones,
//! or a GSI no I/O APIC covers gives a logged warning at [`init`] or a
//! [`RouteError`] from [`route_isa_irq`], and the kernel runs without that
//! interrupt.

use alloc::vec::Vec;
use core::fmt;

use drivers::ioapic::{self, IoApic, IoApicError, IsaRoute, MmioRegs, RedirectionEntry};
use kernel::madt::Madt;
use kernel::sync::{IrqSpinLock, LockRank};
use spin::Once;
use x86_64::PhysAddr;

use super::paging;

/// One I/O APIC: its MADT facts and its driver.
struct Unit {
    /// The MADT's I/O APIC id.
    id: u8,
    /// Physical address of its register window.
    address: u32,
    /// The first GSI its inputs deliver.
    gsi_base: u32,
    /// The register-level driver over the mapped window.
    apic: IoApic<MmioRegs>,
}

// SAFETY: `MmioRegs` holds a pointer to an MMIO window mapped for the
// kernel's lifetime and valid on every CPU (the mapping is in the shared
// kernel half); the unit is only reached under `UNITS`' lock, which keeps
// each select/data pair together whichever CPU holds it.
unsafe impl Send for Unit {}

/// Every I/O APIC that answered at [`init`], in MADT order.
static UNITS: Once<IrqSpinLock<Vec<Unit>>> = Once::new();

/// Where each ISA IRQ (0..16) arrives, from the MADT at [`init`].
static ISA_ROUTES: Once<[IsaRoute; ISA_IRQS]> = Once::new();

/// ISA IRQs: 0..16.
const ISA_IRQS: usize = 16;

/// Why an interrupt could not be routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// No I/O APIC is usable: none in the MADT, none answered, or no MADT.
    NoIoApic,
    /// The IRQ number is not an ISA IRQ (0..16).
    NotIsa(u8),
    /// No I/O APIC's inputs cover this GSI.
    NoInput {
        /// The GSI asked for.
        gsi: u32,
    },
    /// The destination APIC id does not fit the 8-bit destination field
    /// (x2APIC ids above 255 need interrupt remapping, which we lack).
    Destination(u32),
    /// The I/O APIC refused the entry.
    Device(IoApicError),
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoIoApic => f.write_str("no usable I/O APIC"),
            Self::NotIsa(irq) => write!(f, "IRQ {irq} is not an ISA IRQ (0..16)"),
            Self::NoInput { gsi } => write!(f, "no I/O APIC input covers GSI {gsi}"),
            Self::Destination(id) => {
                write!(
                    f,
                    "APIC id {id} does not fit the I/O APIC's 8-bit destination"
                )
            }
            Self::Device(error) => write!(f, "{error}"),
        }
    }
}

impl From<IoApicError> for RouteError {
    fn from(error: IoApicError) -> Self {
        Self::Device(error)
    }
}

/// Maps every I/O APIC of the MADT, checks it answers and masks all its
/// entries; computes the ISA routes. Returns how many I/O APICs are usable.
/// BSP, at boot, once. Problems are logged as warnings and leave the
/// kernel without the affected I/O APIC.
pub fn init(madt: Option<&Madt>) -> usize {
    let routes: [IsaRoute; ISA_IRQS] = core::array::from_fn(|irq| match madt {
        Some(madt) => madt.isa_route(irq as u8),
        None => ioapic::resolve_isa_irq(irq as u8, []),
    });
    ISA_ROUTES.call_once(|| routes);
    let mut units = Vec::new();
    let listed = madt.map_or(&[][..], |madt| &madt.io_apics[..]);
    if listed.is_empty() {
        log::warn!(target: "IOAPIC", "no I/O APIC in the MADT: no device interrupts");
    }
    for entry in listed {
        if entry.address % 16 != 0 {
            log::warn!(
                target: "IOAPIC",
                "I/O APIC {} at {:#x}: misaligned window, ignored",
                entry.id,
                entry.address
            );
            continue;
        }
        let window =
            match paging::map_mmio(PhysAddr::new(u64::from(entry.address)), ioapic::WINDOW_SIZE) {
                Ok(window) => window,
                Err(error) => {
                    log::warn!(
                        target: "IOAPIC",
                        "I/O APIC {} at {:#x}: cannot map: {error}",
                        entry.id,
                        entry.address
                    );
                    continue;
                }
            };
        // SAFETY: `window` maps the I/O APIC's registers uncached for the
        // kernel's lifetime; the value goes under `UNITS`' lock, the only
        // way to it.
        let regs = unsafe { MmioRegs::new(window) };
        let mut apic = match IoApic::new(regs) {
            Ok(apic) => apic,
            Err(error) => {
                log::warn!(
                    target: "IOAPIC",
                    "I/O APIC {} at {:#x}: {error}; ignored",
                    entry.id,
                    entry.address
                );
                continue;
            }
        };
        apic.mask_all();
        let version = apic.version();
        log::info!(
            target: "IOAPIC",
            "I/O APIC {} at {:#x}: GSI {}..={}, version {:#x}, all masked",
            entry.id,
            entry.address,
            entry.gsi_base,
            entry.gsi_base + u32::from(apic.entries()) - 1,
            version.version
        );
        units.push(Unit {
            id: entry.id,
            address: entry.address,
            gsi_base: entry.gsi_base,
            apic,
        });
    }
    let count = units.len();
    UNITS.call_once(|| IrqSpinLock::new(LockRank::IOAPIC, units));
    count
}

/// Where ISA IRQ `irq` arrives (per the MADT), once [`init`] ran.
pub fn isa_route(irq: u8) -> Result<IsaRoute, RouteError> {
    let routes = ISA_ROUTES.get().ok_or(RouteError::NoIoApic)?;
    routes
        .get(usize::from(irq))
        .copied()
        .ok_or(RouteError::NotIsa(irq))
}

/// Runs `f` on the I/O APIC input that receives `gsi`, under the lock.
fn with_input<R>(
    gsi: u32,
    f: impl FnOnce(&mut IoApic<MmioRegs>, u8) -> Result<R, IoApicError>,
) -> Result<R, RouteError> {
    let units = UNITS.get().ok_or(RouteError::NoIoApic)?;
    let mut units = units.lock();
    if units.is_empty() {
        return Err(RouteError::NoIoApic);
    }
    let (which, input) = ioapic::find_input(
        gsi,
        units
            .iter()
            .map(|unit| (unit.gsi_base, unit.apic.entries())),
    )
    .ok_or(RouteError::NoInput { gsi })?;
    Ok(f(&mut units[which].apic, input)?)
}

/// Programs ISA IRQ `irq` to deliver `vector` to the CPU with APIC id
/// `apic_id` (fixed, physical), with the polarity and trigger mode the MADT
/// gives it. The entry is left **masked**: [`unmask_isa_irq`] once the
/// handler and the device are ready. Returns the route used.
pub fn route_isa_irq(irq: u8, vector: u8, apic_id: u32) -> Result<IsaRoute, RouteError> {
    let route = isa_route(irq)?;
    let destination = u8::try_from(apic_id).map_err(|_| RouteError::Destination(apic_id))?;
    let entry = RedirectionEntry::fixed(vector, destination, route.polarity, route.trigger);
    with_input(route.gsi, |apic, input| apic.write_entry(input, entry))?;
    Ok(route)
}

/// Lets ISA IRQ `irq` through (clears its entry's mask bit).
pub fn unmask_isa_irq(irq: u8) -> Result<(), RouteError> {
    let gsi = isa_route(irq)?.gsi;
    with_input(gsi, |apic, input| apic.set_masked(input, false))
}

/// Stops ISA IRQ `irq` (sets its entry's mask bit).
pub fn mask_isa_irq(irq: u8) -> Result<(), RouteError> {
    let gsi = isa_route(irq)?.gsi;
    with_input(gsi, |apic, input| apic.set_masked(input, true))
}

/// The redirection entry ISA IRQ `irq` arrives at, as the I/O APIC has it.
pub fn isa_entry(irq: u8) -> Result<RedirectionEntry, RouteError> {
    let gsi = isa_route(irq)?.gsi;
    with_input(gsi, |apic, input| apic.read_entry(input))
}

/// What [`init`] found about one I/O APIC, for tests and reports.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    /// The MADT's id.
    pub madt_id: u8,
    /// IOAPICID as read from the device.
    pub device_id: u8,
    /// Physical window address.
    pub address: u32,
    /// First GSI.
    pub gsi_base: u32,
    /// IOAPICVER as read now.
    pub version: ioapic::Version,
    /// Entries in use (capped at what the index register reaches).
    pub entries: u16,
}

/// The usable I/O APICs (empty before [`init`] or without any).
pub fn summaries() -> Vec<Summary> {
    let Some(units) = UNITS.get() else {
        return Vec::new();
    };
    // Nothing may allocate under an IRQ-level lock: size the vector first
    // (the set of units never changes after `init`).
    let count = units.lock().len();
    let mut out = Vec::with_capacity(count);
    let mut units = units.lock();
    for unit in units.iter_mut().take(count) {
        out.push(Summary {
            madt_id: unit.id,
            device_id: unit.apic.id(),
            address: unit.address,
            gsi_base: unit.gsi_base,
            version: unit.apic.version(),
            entries: unit.apic.entries(),
        });
    }
    out
}

mod tests {
    use drivers::ioapic::RedirectionEntry;

    use super::{
        isa_entry, isa_route, mask_isa_irq, route_isa_irq, summaries, unmask_isa_irq, with_input,
    };
    use crate::arch::x86_64::interrupts::vector;
    use crate::arch::x86_64::{apic, serial_rx};
    use crate::ktest::{check, kernel_test};

    kernel_test!(
        fn version_register_is_sensible() {
            let units = summaries();
            check!(!units.is_empty(), "no usable I/O APIC");
            for unit in &units {
                log::info!(
                    target: "IOAPIC",
                    "I/O APIC {} (IOAPICID {}) at {:#x}: GSI base {}, {} entries, version {:#x}",
                    unit.madt_id,
                    unit.device_id,
                    unit.address,
                    unit.gsi_base,
                    unit.entries,
                    unit.version.version
                );
                check!(
                    (1..=240).contains(&unit.entries),
                    "I/O APIC {} has {} entries",
                    unit.madt_id,
                    unit.entries
                );
                check!(
                    unit.version.version != 0xFF && unit.version.version != 0,
                    "I/O APIC {} version {:#x}",
                    unit.madt_id,
                    unit.version.version
                );
            }
            Ok(())
        }
    );

    kernel_test!(
        fn entries_are_masked_except_the_ones_in_use() {
            let units = summaries();
            // The only entry the kernel unmasks is COM1's (ISA IRQ 4).
            let com1_gsi = serial_rx::serial_rx()
                .and_then(|_| isa_route(serial_rx::COM1_IRQ).ok())
                .map(|route| route.gsi);
            for unit in &units {
                for input in 0..unit.entries {
                    let gsi = unit.gsi_base + u32::from(input);
                    let entry = with_input(gsi, |apic, input| apic.read_entry(input))
                        .map_err(|e| alloc::format!("GSI {gsi}: {e}"))?;
                    let expect_masked = Some(gsi) != com1_gsi;
                    check!(
                        entry.masked == expect_masked,
                        "GSI {gsi}: masked={} (expected {expect_masked}): {entry:?}",
                        entry.masked
                    );
                }
            }
            Ok(())
        }
    );

    kernel_test!(
        fn a_routed_entry_reads_back_as_written() {
            // ISA IRQ 9 (ACPI SCI on QEMU, level/high through an override)
            // and IRQ 3 (COM2, ISA default): programmed masked, read back,
            // reset to the boot state.
            let me = apic::id();
            for (irq, vector) in [(9u8, 0x5Au8), (3, 0x5B)] {
                let route =
                    route_isa_irq(irq, vector, me).map_err(|e| alloc::format!("IRQ {irq}: {e}"))?;
                let entry = isa_entry(irq).map_err(|e| alloc::format!("IRQ {irq}: {e}"))?;
                let expected =
                    RedirectionEntry::fixed(vector, me as u8, route.polarity, route.trigger);
                let restore = with_input(route.gsi, |apic, input| {
                    apic.write_entry(input, RedirectionEntry::MASKED)
                });
                check!(
                    entry == expected,
                    "IRQ {irq} (GSI {}): read {entry:?}, wrote {expected:?}",
                    route.gsi
                );
                check!(restore.is_ok(), "IRQ {irq}: reset failed: {restore:?}");
            }
            Ok(())
        }
    );

    kernel_test!(
        fn unmask_and_mask_toggle_only_the_mask_bit() {
            // IRQ 3 (COM2: no device behind it under QEMU, its line stays
            // low) on COM1's vector, whose handler is harmless if it fires.
            let irq = 3;
            route_isa_irq(irq, vector::COM1, apic::id()).map_err(|e| alloc::format!("{e}"))?;
            let routed = isa_entry(irq).map_err(|e| alloc::format!("{e}"))?;
            unmask_isa_irq(irq).map_err(|e| alloc::format!("{e}"))?;
            let open = isa_entry(irq).map_err(|e| alloc::format!("{e}"))?;
            mask_isa_irq(irq).map_err(|e| alloc::format!("{e}"))?;
            let closed = isa_entry(irq).map_err(|e| alloc::format!("{e}"))?;
            let gsi = isa_route(irq).map_err(|e| alloc::format!("{e}"))?.gsi;
            let _ = with_input(gsi, |apic, input| {
                apic.write_entry(input, RedirectionEntry::MASKED)
            });
            check!(routed.masked, "route_isa_irq left IRQ {irq} unmasked");
            check!(
                open == routed.with_mask(false),
                "unmask changed more than the mask: {routed:?} -> {open:?}"
            );
            check!(closed == routed, "mask did not restore: {closed:?}");
            check!(
                super::route_isa_irq(16, vector::COM1, 0) == Err(super::RouteError::NotIsa(16)),
                "IRQ 16 accepted as ISA"
            );
            Ok(())
        }
    );
}
