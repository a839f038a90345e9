//! Kernel time: uptime from the TSC.
//!
//! The TSC value at the first instruction of `kernel_main` is time zero; the
//! TSC frequency is calibrated against the PIT once. Until calibration,
//! [`uptime_ns`] returns 0.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::x86_64::tsc;

static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

/// Records time zero. Called first thing at boot.
pub fn mark_boot() {
    BOOT_TSC.store(tsc::read(), Ordering::Relaxed);
}

/// Calibrates the clock; returns the TSC calibration (rate and error bound).
pub fn init() -> Result<tsc::Calibration, drivers::pit::PitError> {
    let calibration = tsc::calibrate()?;
    TSC_HZ.store(calibration.hz, Ordering::Relaxed);
    Ok(calibration)
}

/// The calibrated TSC frequency in Hz (0 before calibration).
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Nanoseconds since boot.
pub fn uptime_ns() -> u64 {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        return 0;
    }
    let ticks = tsc::read().wrapping_sub(BOOT_TSC.load(Ordering::Relaxed));
    (u128::from(ticks) * 1_000_000_000 / u128::from(hz)) as u64
}

/// Milliseconds since boot.
pub fn uptime_ms() -> u64 {
    uptime_ns() / 1_000_000
}

/// Busy-waits for `us` microseconds. For hardware protocols (INIT-SIPI-SIPI)
/// that prescribe delays; needs the clock calibrated.
pub fn delay_us(us: u64) {
    let until = uptime_ns() + us * 1000;
    while uptime_ns() < until {
        core::hint::spin_loop();
    }
}
