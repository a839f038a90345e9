//! The time-stamp counter: the kernel's clock source.
//!
//! The TSC counts at a fixed rate on every CPU the kernel targets (invariant
//! TSC, CPUID 8000_0007h EDX bit 8; QEMU's TSC is derived from the host clock).
//! Its rate is not architecturally reported everywhere, so it is measured once
//! at boot against the PIT, whose input clock is fixed at 1.193182 MHz.
//! Uptime is computed from the TSC, not by counting timer interrupts, so a lost
//! tick cannot skew time.

use core::arch::x86_64::_rdtsc;

use drivers::pit::{self, Pit, PitError};

/// Length of the PIT window the TSC is measured over.
pub const CALIBRATION_WINDOW_NS: u64 = 10_000_000;
/// Windows measured; the median is kept (see [`pit::median`]).
const CALIBRATION_ROUNDS: usize = 5;

/// Reads the time-stamp counter.
pub fn read() -> u64 {
    // SAFETY: RDTSC is available on every x86_64 CPU and has no side effects
    // (CR4.TSD is clear in ring 0 anyway).
    unsafe { _rdtsc() }
}

/// Measures the TSC frequency in Hz: the median of [`CALIBRATION_ROUNDS`]
/// PIT windows of [`CALIBRATION_WINDOW_NS`].
///
/// Must run with interrupts disabled and before anything else uses the PIT.
pub fn calibrate() -> Result<u64, PitError> {
    // SAFETY: boot is single-threaded at this point and nothing else in the
    // kernel programs the PIT.
    let mut pit = unsafe { Pit::new() };
    let mut samples = [0; CALIBRATION_ROUNDS];
    for sample in &mut samples {
        *sample = pit.measure(CALIBRATION_WINDOW_NS, read)?;
    }
    let ticks = pit::median(&mut samples);
    // The PIT counts whole ticks of 838 ns: divide by the window it really timed.
    let window_ns = pit::period_ns(pit::reload_value(CALIBRATION_WINDOW_NS)?);
    Ok(pit::frequency_hz(ticks, window_ns))
}
