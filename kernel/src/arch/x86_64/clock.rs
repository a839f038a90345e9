//! The kernel's clock: uptime from the TSC.
//!
//! The TSC value at the first instruction of `kernel_main` is time zero
//! ([`mark_boot`]); the rate is set once, after the `time` module's `init` calibrated it
//! against the PIT ([`set_tsc_hz`]). Until then [`uptime_ns`] returns 0.
//! The clock lives here, in the lowest layer, because code of every layer
//! reads it — the Local APIC driver and AP bring-up included ([ADR 0004]);
//! the `time` module re-exports it for the layers above.
//!
//! [ADR 0004]: ../../../../docs/adr/0004-kernel-layers.md

use core::sync::atomic::{AtomicU64, Ordering};

use super::tsc;

static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);

/// Records time zero. Called first thing at boot.
pub fn mark_boot() {
    BOOT_TSC.store(tsc::read(), Ordering::Relaxed);
}

/// Sets the TSC rate the clock converts with (once, after calibration).
pub fn set_tsc_hz(hz: u64) {
    TSC_HZ.store(hz, Ordering::Relaxed);
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
