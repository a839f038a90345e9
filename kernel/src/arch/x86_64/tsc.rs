//! The time-stamp counter: the kernel's clock source.
//!
//! The TSC counts at a fixed rate on every CPU the kernel targets (invariant
//! TSC, CPUID 8000_0007h EDX bit 8; QEMU's TSC is derived from the host clock).
//! Its rate is not architecturally reported everywhere, so it is measured once
//! at boot against the PIT, whose input clock is fixed at 1.193182 MHz.
//! Uptime is computed from the TSC, not by counting timer interrupts, so a lost
//! tick cannot skew time.
//!
//! CPUID may state the rate too (leaves `0x15`, `0x16`, `0x4000_0010`);
//! [`cpuid_leaves`] reads them and `kernel::tsc_cpuid` decodes them and
//! cross-checks the PIT result. The PIT result is the clock whatever they say:
//! `kernel::tsc_cpuid`'s module doc gives the reasons (under QEMU's TCG the
//! TSC runs at the host's rate whatever the leaves claim; the measurement
//! carries an error bound, a leaf does not). A leaf more than its tolerance
//! off is reported as a warning, not acted on.

use core::arch::x86_64::{__cpuid, _rdtsc};

use drivers::pit::{self, Pit, PitError};
use kernel::tsc_cpuid::{self, RawLeaves, Regs};
use kernel::tsc_windows::{self, Selection, Timed};

/// Reads the time-stamp counter.
pub fn read() -> u64 {
    // SAFETY: RDTSC is available on every x86_64 CPU and has no side effects
    // (CR4.TSD is clear in ring 0 anyway).
    unsafe { _rdtsc() }
}

/// Executes the CPUID leaves [`tsc_cpuid::decode`] needs, on this CPU.
///
/// All of them, unconditionally: CPUID does not fault on a leaf the CPU
/// lacks (it returns another leaf's data), so reading is harmless and the
/// gating stays in the host-tested decoder.
pub fn cpuid_leaves() -> RawLeaves {
    let leaf = |number| {
        let r = __cpuid(number);
        Regs {
            eax: r.eax,
            ebx: r.ebx,
            ecx: r.ecx,
            edx: r.edx,
        }
    };
    RawLeaves {
        leaf_0: leaf(0),
        leaf_1: leaf(1),
        leaf_15: leaf(tsc_cpuid::LEAF_TSC_CRYSTAL),
        leaf_16: leaf(tsc_cpuid::LEAF_BASE_FREQUENCY),
        leaf_4000_0000: leaf(tsc_cpuid::LEAF_HYPERVISOR),
        leaf_4000_0010: leaf(tsc_cpuid::LEAF_HYPERVISOR_TIMING),
    }
}

/// A TSC calibration: the rate and its error bound.
#[derive(Clone, Copy, Debug)]
pub struct Calibration {
    /// TSC frequency in Hz.
    pub hz: u64,
    /// The error bound of the window it came from, in parts per million
    /// ([`pit::error_ppm`]).
    pub error_ppm: u64,
    /// How many windows were measured.
    pub windows: usize,
}

/// Measures the TSC frequency in Hz over PIT windows of growing length
/// ([`tsc_windows::window_ns`]), keeping the one with the narrowest error
/// bound — the *least disturbed*, not the median: under emulation a vCPU
/// descheduled at a window's edge skews that window by milliseconds, and
/// in more than half of them when the host is busy (issue 8 saw 11–33 %
/// high rates). At least [`tsc_windows::MIN_ROUNDS`] windows, more while
/// none is within [`tsc_windows::BOUND_PPM`]; the lengths differ so that a
/// periodic stall cannot hide every window's end (`kernel::tsc_windows`).
/// The window's error bound comes with the result; the caller reports one
/// wider than [`tsc_windows::BOUND_PPM`].
///
/// Must run with interrupts disabled and before anything else uses the PIT.
pub fn calibrate() -> Result<Calibration, PitError> {
    // SAFETY: boot is single-threaded at this point and nothing else in the
    // kernel programs the PIT.
    let mut pit = unsafe { Pit::new() };
    let mut selection = Selection::new();
    while !selection.done() {
        let window_ns = tsc_windows::window_ns(selection.rounds());
        let timed = Timed {
            window: pit.measure_window(window_ns, read)?,
            reload: pit::reload_value(window_ns)?,
        };
        log::debug!(
            target: "TIME",
            "TSC window {}: {} ns, {} Hz, slack {}, ±{} ppm",
            selection.rounds(),
            pit::period_ns(timed.reload),
            timed.hz(),
            timed.window.slack,
            timed.error_ppm()
        );
        selection.add(timed);
    }
    // `done` needs at least one window.
    let best = selection
        .best()
        .expect("the calibration measured no window");
    Ok(Calibration {
        hz: best.hz(),
        error_ppm: best.error_ppm(),
        windows: selection.rounds(),
    })
}
