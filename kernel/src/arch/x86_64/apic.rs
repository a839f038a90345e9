//! The Local APIC as the kernel uses it: set-up per CPU, EOI, IPIs.
//!
//! The register-level driver (xAPIC over MMIO, x2APIC over MSRs, one
//! interface) is `drivers::apic`. This module decides the machine-wide things:
//! which mode (from CPUID, once, on the BSP), where the xAPIC page is mapped
//! (uncached, once), and that every access happens with interrupts disabled —
//! the xAPIC ICR is written as two words, and an interrupt handler sending an
//! IPI between them would corrupt the first sender's IPI.
//!
//! Every CPU sees its *own* Local APIC at the same address (or MSRs), so a
//! driver value holds no per-CPU state: [`with_lapic`] makes a fresh one for
//! the duration of each access.
//!
//! Also here: remapping and masking the legacy 8259 PICs before interrupts are
//! enabled, and the IPI counters of per-CPU data.

use core::sync::atomic::Ordering;

use drivers::apic::{ApicError, Icr, Lapic, LocalApic, Mode, X2Apic, XApic};
use kernel::madt::Madt;
use spin::Once;
use x86_64::instructions::interrupts::without_interrupts;
use x86_64::{PhysAddr, VirtAddr};

use super::interrupts::vector;
use super::{paging, percpu, smp};

/// An IPI that could not be sent.
pub type IpiError = ApicError;

/// The mode every CPU's Local APIC runs in, chosen on the BSP.
static MODE: Once<Mode> = Once::new();
/// Where the xAPIC register page is mapped (xAPIC mode only).
static XAPIC_PAGE: Once<VirtAddr> = Once::new();

/// A driver for the calling CPU's Local APIC. Only with interrupts disabled,
/// and only one at a time per CPU, which [`with_lapic`] guarantees.
fn this_cpu_lapic() -> Lapic {
    match MODE.get() {
        // SAFETY: interrupts are disabled (caller: `with_lapic`), so this is
        // the only driver value of this CPU; the CPU already runs in x2APIC mode.
        Some(Mode::X2Apic) => Lapic::X2Apic(unsafe { X2Apic::new() }),
        // SAFETY: as above; XAPIC_PAGE maps the xAPIC registers uncached.
        _ => Lapic::XApic(unsafe { XApic::new(*XAPIC_PAGE.get().expect("Local APIC not set up")) }),
    }
}

/// Runs `f` on the calling CPU's Local APIC with interrupts disabled.
fn with_lapic<R>(f: impl FnOnce(&mut Lapic) -> R) -> R {
    without_interrupts(|| f(&mut this_cpu_lapic()))
}

/// Brings up the BSP's interrupt hardware: masks the legacy PICs, picks the
/// APIC mode, maps the xAPIC page and enables the BSP's Local APIC. Checks
/// the BSP's APIC id against the MADT. Interrupts must still be disabled.
pub fn init_boot_cpu(madt: Option<&Madt>) {
    // SAFETY: boot is single-threaded, interrupts are off, and nothing else
    // programs the PICs; the vectors are reserved for their spurious IRQs.
    let pics =
        unsafe { drivers::pic::remap_and_mask(vector::PIC_MASTER_BASE, vector::PIC_SLAVE_BASE) };
    if let Err(error) = pics {
        log::error!(target: "SMP", "8259 PIC remap failed: {error:?}");
    }
    let base = madt.map_or_else(
        || drivers::apic::read_apic_base().base().as_u64(),
        |madt| madt.local_apic_base,
    );
    let page = paging::map_mmio(PhysAddr::new(base), 4096)
        .unwrap_or_else(|error| panic!("cannot map the Local APIC at {base:#x}: {error}"));
    XAPIC_PAGE.call_once(|| page);
    let mode = enable_this_cpu();
    MODE.call_once(|| mode);
    let apic_id = id();
    let listed = madt.is_none_or(|madt| madt.enabled_cpus().any(|cpu| cpu.apic_id == apic_id));
    if !listed {
        log::warn!(target: "SMP", "the BSP's APIC id {apic_id} is not an enabled CPU of the MADT");
    }
    if apic_id != percpu::percpu_current().apic_id() {
        log::warn!(
            target: "SMP",
            "Local APIC id {apic_id} differs from CPUID's initial APIC id {}",
            percpu::percpu_current().apic_id()
        );
    }
    log::info!(target: "SMP", "BSP online (apic_id={apic_id})");
    log::info!(target: "SMP", "Local APIC mode: {mode:?}");
}

/// Puts this CPU's Local APIC in the machine's mode and software-enables it.
fn enable_this_cpu() -> Mode {
    without_interrupts(|| {
        let page = *XAPIC_PAGE.get().expect("Local APIC page not mapped");
        // SAFETY: interrupts are off and no other driver value of this CPU
        // exists; `page` maps the xAPIC registers uncached.
        let mut lapic = unsafe { Lapic::init_current_cpu(page) }
            .unwrap_or_else(|error| panic!("Local APIC set-up failed: {error:?}"));
        lapic.enable(vector::APIC_SPURIOUS);
        lapic.mode()
    })
}

/// Enables the calling AP's Local APIC (after the BSP has set things up).
pub fn init_this_cpu() {
    let mode = enable_this_cpu();
    if Some(&mode) != MODE.get() {
        log::warn!(target: "SMP", "this CPU's APIC runs in {mode:?}, the BSP's in {:?}", MODE.get());
    }
}

/// The calling CPU's Local APIC id.
pub fn id() -> u32 {
    with_lapic(|lapic| lapic.id())
}

/// Signals end of interrupt. Called by every handler of an APIC-delivered
/// interrupt (not by the spurious one).
pub fn eoi() {
    with_lapic(|lapic| lapic.eoi());
}

/// Sends an INIT IPI to `apic_id` (first step of starting an AP).
pub fn send_init(apic_id: u32) -> Result<(), IpiError> {
    log::debug!(target: "SMP", "INIT -> apic_id={apic_id} ({:#x?})", Icr::init(apic_id).xapic_words());
    // SAFETY: INIT resets the target CPU; callers send it only to APs that
    // are not running kernel code (not online yet).
    with_lapic(|lapic| unsafe { lapic.send_ipi(Icr::init(apic_id)) })
}

/// Sends a start-up IPI: the target starts in real mode at `page << 12`.
pub fn send_startup(apic_id: u32, page: u8) -> Result<(), IpiError> {
    log::debug!(target: "SMP", "SIPI -> apic_id={apic_id} page={page:#x}");
    // SAFETY: the AP is in wait-for-SIPI (after INIT) and the page holds the
    // trampoline, prepared by `smp` before the first SIPI.
    with_lapic(|lapic| unsafe { lapic.send_ipi(Icr::startup(apic_id, page)) })
}

/// Sends a fixed IPI with `vector` to the CPU with `apic_id`; counts it as sent.
pub fn send_ipi(apic_id: u32, vector: u8) -> Result<(), IpiError> {
    with_lapic(|lapic| lapic.send_fixed_ipi(apic_id, vector))?;
    percpu::percpu_current()
        .counters
        .ipi_sent
        .fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Sends a fixed IPI with `vector` to every online CPU (per `CPU_STATES`),
/// except the caller if `exclude_self`. Returns how many were sent; stops at
/// the first failure.
pub fn broadcast_ipi(vector: u8, exclude_self: bool) -> Result<u32, IpiError> {
    let me = percpu::percpu_current().index();
    let mut sent = 0;
    for index in smp::online_cpus().filter(|&index| !(exclude_self && index == me)) {
        send_ipi(percpu::percpu_for(index).apic_id(), vector)?;
        sent += 1;
    }
    Ok(sent)
}
