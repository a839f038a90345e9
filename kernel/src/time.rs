//! Kernel time: calibrating the clock, and reading it.
//!
//! The clock itself (uptime from the TSC) is `arch`'s — the lowest layer,
//! since the Local APIC driver and AP bring-up read it too (ADR 0004); this
//! module calibrates it at boot and re-exports its readers for the layers
//! above.

pub use crate::arch::clock::{mark_boot, tsc_hz, uptime_ms, uptime_ns};
use crate::arch::{clock, tsc};

/// Calibrates the clock; returns the TSC calibration (rate and error bound).
pub fn init() -> Result<tsc::Calibration, drivers::pit::PitError> {
    let calibration = tsc::calibrate()?;
    clock::set_tsc_hz(calibration.hz);
    Ok(calibration)
}
