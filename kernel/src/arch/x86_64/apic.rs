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

use core::sync::atomic::{AtomicU64, Ordering};

use drivers::apic::{
    ApicError, CpuFeatures, Icr, Lapic, LocalApic, LvtTimer, Mode, TimerDivide, TimerMode,
    TimerWindow, X2Apic, XApic, least_disturbed_window,
};
use kernel::config::SCHED_HZ;
use kernel::madt::Madt;
use spin::Once;
use x86_64::instructions::interrupts::without_interrupts;
use x86_64::{PhysAddr, VirtAddr};

use protocol::smp::{ApicMode, ApicTimer, LapicMode};

use super::interrupts::vector;
use super::report;
use super::{clock, paging, percpu, smp, tsc};

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
    let (master, slave) = (vector::PIC_MASTER_BASE, vector::PIC_SLAVE_BASE);
    // SAFETY: boot is single-threaded, interrupts are off, and nothing else
    // programs the PICs; the vectors are reserved for their spurious IRQs.
    let pics = unsafe { drivers::pic::remap_and_mask(master, slave) };
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
    if apic_id != percpu::this_cpu().apic_id() {
        log::warn!(
            target: "SMP",
            "Local APIC id {apic_id} differs from CPUID's initial APIC id {}",
            percpu::this_cpu().apic_id()
        );
    }
    log::info!(target: "SMP", "BSP online (apic_id={apic_id})");
    let mode = match mode {
        Mode::XApic => ApicMode::XApic,
        Mode::X2Apic => ApicMode::X2Apic,
    };
    report::line(&LapicMode { mode });
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

/// Sends a fixed IPI with `vector` to the CPU with `apic_id`; counts it as
/// sent. Counted *before* sending, so that at every instant the sum of
/// `ipi_sent` over all CPUs is at least the sum of `ipi_received`, and the
/// difference is the IPIs in flight.
pub fn send_ipi(apic_id: u32, vector: u8) -> Result<(), IpiError> {
    let this = percpu::this_cpu();
    this.count_ipi_sent();
    with_lapic(|lapic| lapic.send_fixed_ipi(apic_id, vector)).inspect_err(|_| {
        this.uncount_ipi_sent();
    })
}

/// Sends a fixed IPI with `vector` to every online CPU (per `CPU_STATES`),
/// except the caller if `exclude_self`. Returns how many were sent; stops at
/// the first failure.
pub fn broadcast_ipi(vector: u8, exclude_self: bool) -> Result<u32, IpiError> {
    let me = percpu::this_cpu().index();
    let mut sent = 0;
    for index in smp::online_cpus().filter(|&index| !(exclude_self && index == me)) {
        send_ipi(percpu::percpu_for(index).apic_id(), vector)?;
        sent += 1;
    }
    Ok(sent)
}

// ---------------------------------------------------------------------------
// The Local APIC timer: the scheduler tick.
// ---------------------------------------------------------------------------

/// The divider the timer counts through (the choice; ample range at
/// 100 Hz for bus clocks up to tens of GHz).
pub const TIMER_DIVIDE: TimerDivide = TimerDivide::By16;

/// Length of one calibration window, in nanoseconds of TSC time.
const CALIBRATION_WINDOW_NS: u64 = 10_000_000;
/// Windows measured; the least disturbed one is kept.
const CALIBRATION_ROUNDS: usize = 7;
/// A best window with a wider error bound than this is reported (0.1 %).
const CALIBRATION_BOUND_PPM: u64 = 1_000;

/// How the tick is driven, chosen once from CPUID on the BSP.
static TICK_MODE: Once<TimerMode> = Once::new();

/// Why the timer could not be measured.
#[derive(Debug)]
pub enum CalibrationError {
    /// The TSC has no calibrated rate.
    NoTscRate,
    /// No window yielded a rate.
    NoWindow,
}

/// One end of a calibration window: the timer's current count, bracketed by
/// two TSC reads. Returns `(TSC mid-point, count, bracket width)`.
fn bracketed_count() -> (u64, u32, u64) {
    let before = tsc::read();
    let count = with_lapic(|lapic| lapic.timer_current_count());
    let after = tsc::read();
    let width = after.saturating_sub(before);
    (before + width / 2, count, width)
}

/// Measures the calling CPU's timer rate (counts per second after
/// [`TIMER_DIVIDE`]) against the TSC, which was calibrated against the PIT
/// at boot: [`CALIBRATION_ROUNDS`] windows of [`CALIBRATION_WINDOW_NS`], each
/// a one-shot count-down from `u32::MAX` read at both ends, keeping the
/// *least disturbed* window ([`least_disturbed_window`]).
///
/// Each read of the timer is bracketed by two TSC reads, and the bracket's
/// width bounds the error of pairing the two counters. Under QEMU TCG a
/// timer read is an MMIO exit that can wait for QEMU's global lock; with
/// many vCPUs on a loaded host, a median of windows paired without brackets
/// went 19 % high at 128 CPUs. The PIT is not needed: the TSC times the
/// window.
pub fn calibrate_timer() -> Result<u64, CalibrationError> {
    let tsc_hz = clock::tsc_hz();
    if tsc_hz == 0 {
        return Err(CalibrationError::NoTscRate);
    }
    let window_tsc =
        (u128::from(tsc_hz) * u128::from(CALIBRATION_WINDOW_NS) / 1_000_000_000) as u64;
    let mut windows = [TimerWindow {
        counts: 0,
        tsc_elapsed: 0,
        slack: 0,
    }; CALIBRATION_ROUNDS];
    for window in &mut windows {
        with_lapic(|lapic| {
            lapic.set_timer_divide(TIMER_DIVIDE);
            lapic.set_lvt_timer(LvtTimer::new(vector::TIMER, TimerMode::OneShot).masked());
            lapic.set_timer_initial_count(u32::MAX);
        });
        let (start, start_count, start_width) = bracketed_count();
        while tsc::read().saturating_sub(start) < window_tsc {
            core::hint::spin_loop();
        }
        let (end, end_count, end_width) = bracketed_count();
        with_lapic(|lapic| lapic.stop_timer());
        *window = TimerWindow {
            counts: u64::from(start_count.saturating_sub(end_count)),
            tsc_elapsed: end.saturating_sub(start),
            slack: start_width + end_width,
        };
    }
    let best = least_disturbed_window(&windows).ok_or(CalibrationError::NoWindow)?;
    let hz = best.rate(tsc_hz).ok_or(CalibrationError::NoWindow)?;
    if best.error_ppm() > CALIBRATION_BOUND_PPM {
        log::warn!(
            target: "APIC",
            "timer calibration: best of {CALIBRATION_ROUNDS} windows is only good to {} ppm",
            best.error_ppm()
        );
    }
    Ok(hz)
}

/// Starts the calling CPU's scheduler tick: [`SCHED_HZ`] interrupts per second
/// on vector 0x20, in TSC-deadline mode when the CPU offers it, periodic mode
/// otherwise. `timer_hz` is this CPU's calibrated rate.
pub fn start_tick(timer_hz: u64) -> Result<TimerMode, ApicError> {
    let mode = *TICK_MODE.call_once(|| drivers::apic::choose_timer_mode(CpuFeatures::read()));
    match mode {
        TimerMode::TscDeadline => {
            with_lapic(|lapic| lapic.set_lvt_timer(LvtTimer::new(vector::TIMER, mode)));
            rearm_tick();
        }
        _ => {
            let count = drivers::apic::periodic_initial_count(timer_hz, SCHED_HZ)?;
            with_lapic(|lapic| lapic.start_periodic_timer(vector::TIMER, TIMER_DIVIDE, count));
        }
    }
    Ok(mode)
}

/// The tick's period in TSC cycles.
fn tick_period_tsc() -> u64 {
    clock::tsc_hz() / u64::from(SCHED_HZ)
}

/// The tick handler's clock work, on one TSC read and one period: books
/// the tick (counts it, updates `ticks_late` and `ticks_lost`,
/// [`ThisCpu::record_tick`](percpu::ThisCpu::record_tick)) and, in
/// TSC-deadline mode, arms the next deadline. Only this CPU's handler calls
/// it, with interrupts disabled.
pub fn on_tick(this: percpu::ThisCpu, irqs: &percpu::IrqsDisabled) {
    let now = tsc::read();
    let period = tick_period_tsc();
    this.record_tick(irqs, now, period);
    rearm(this, irqs, now, period);
}

/// Arms the first deadline (TSC-deadline mode; nothing in periodic mode).
fn rearm_tick() {
    percpu::with_irqs_disabled(|this, irqs| rearm(this, irqs, tsc::read(), tick_period_tsc()));
}

/// In TSC-deadline mode, arms the next deadline one period after the
/// previous one (so ticks do not drift), or one period from `now` if the CPU
/// fell behind. Nothing to do in periodic mode.
fn rearm(this: percpu::ThisCpu, irqs: &percpu::IrqsDisabled, now: u64, period: u64) {
    if TICK_MODE.get() != Some(&TimerMode::TscDeadline) {
        return;
    }
    let next = this.next_tick_deadline(irqs, now, period);
    // SAFETY: TSC-deadline mode was selected because CPUID offers it, and the
    // LVT timer routes it to vector 0x20, whose handler exists.
    unsafe { drivers::apic::write_tsc_deadline(next) };
}

/// The Local APIC timer rate (counts per second after [`TIMER_DIVIDE`]),
/// measured once by [`calibrate_tick`] on the BSP; 0 until then, or if the
/// measurement failed.
///
/// One measurement serves every CPU: all Local APIC timers count the same
/// clock (the bus or core-crystal clock, Intel SDM Vol. 3A §11.5.4), as Linux
/// also assumes. Measuring on each CPU cost 50 ms per CPU of PIT time, one
/// CPU at a time (the PIT is one device): 3.2 s at 64 CPUs and 12.8 s at 255,
/// while the CPUs waiting their turn spun on the PIT lock.
static TIMER_HZ: AtomicU64 = AtomicU64::new(0);

/// Measures the Local APIC timer rate on the calling CPU (the BSP, before
/// any AP starts its tick) and publishes it for [`init_tick`].
pub fn calibrate_tick() -> Result<u64, CalibrationError> {
    let hz = calibrate_timer()?;
    TIMER_HZ.store(hz, Ordering::Release);
    Ok(hz)
}

/// Starts the calling CPU's scheduler tick at the rate [`calibrate_tick`]
/// measured; reports `[APIC] coreN timer @XHz` (X: the rate after the divider).
/// A CPU without a rate (calibration failed or not yet run) runs without a
/// tick, which is reported.
pub fn init_tick() {
    let this = percpu::this_cpu();
    let core = this.index();
    let hz = TIMER_HZ.load(Ordering::Acquire);
    if hz == 0 {
        log::error!(target: "APIC", "core{core}: no calibrated timer rate; no tick");
        return;
    }
    this.mark_tick_started(clock::uptime_ns());
    match start_tick(hz) {
        Ok(mode) => report::line(&ApicTimer {
            core,
            hz,
            divide: TIMER_DIVIDE.divisor(),
            mode: format_args!("{mode:?}"),
            tick_hz: SCHED_HZ,
        }),
        Err(error) => log::error!(target: "APIC", "core{core} timer start failed: {error:?}"),
    }
}
