//! The local-APIC timer: LVT timer entry, divide configuration, TSC
//! deadline.
//!
//! References: SDM Vol. 3A §11.5.4 *APIC Timer* (Figure 11-10 *Divide
//! Configuration Register*, Figure 11-8 for the LVT timer entry) and
//! §11.5.4.1 *TSC-Deadline Mode*.
//!
//! # Programming model
//!
//! The timer counts the *current count* down from the *initial count* at
//! the bus/core crystal clock divided by [`TimerDivide`]. Writing the
//! initial count (re)starts it; writing 0 stops it. At zero it raises the
//! LVT timer vector and, in [`TimerMode::Periodic`], reloads. In
//! [`TimerMode::TscDeadline`] the count registers are unused: the interrupt
//! fires when the TSC reaches `IA32_TSC_DEADLINE` (MSR `0x6E0`), and
//! writing 0 there disarms it.
//!
//! The frequency is not architectural (CPUID leaf 0x15 gives it on recent
//! Intel parts only), so the kernel calibrates it against the PIT: divide by
//! 16, initial count `u32::MAX`, one-shot, masked; measure
//! `u32::MAX - current_count` across a PIT window; then
//! [`periodic_initial_count`] gives the count for the tick rate.

use core::fmt;

use x86_64::registers::model_specific::Msr;

use super::ApicError;

/// Timer mode (LVT timer bits 18:17).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TimerMode {
    /// Count down once from the initial count.
    OneShot = 0b00,
    /// Count down, raise the interrupt, reload the initial count, repeat.
    Periodic = 0b01,
    /// Fire when the TSC reaches `IA32_TSC_DEADLINE` (only if CPUID.01H:
    /// ECX\[24\], see [`super::CpuFeatures::tsc_deadline`]; otherwise this
    /// encoding is reserved).
    TscDeadline = 0b10,
}

/// Divide Configuration Register value (Figure 11-10): bits 0, 1 and 3
/// encode the divisor, bit 2 is reserved (0).
///
/// | bits 3,1,0 | divisor |
/// | ---------- | ------- |
/// | 0 0 0      | 2       |
/// | 0 0 1      | 4       |
/// | 0 1 0      | 8       |
/// | 0 1 1      | 16      |
/// | 1 0 0      | 32      |
/// | 1 0 1      | 64      |
/// | 1 1 0      | 128     |
/// | 1 1 1      | 1       |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum TimerDivide {
    /// Divide by 1.
    By1 = 0b1011,
    /// Divide by 2.
    By2 = 0b0000,
    /// Divide by 4.
    By4 = 0b0001,
    /// Divide by 8.
    By8 = 0b0010,
    /// Divide by 16 (the kernel's choice).
    By16 = 0b0011,
    /// Divide by 32.
    By32 = 0b1000,
    /// Divide by 64.
    By64 = 0b1001,
    /// Divide by 128.
    By128 = 0b1010,
}

impl TimerDivide {
    /// Every divisor, from 1 to 128.
    pub const ALL: [Self; 8] = [
        Self::By1,
        Self::By2,
        Self::By4,
        Self::By8,
        Self::By16,
        Self::By32,
        Self::By64,
        Self::By128,
    ];

    /// The register value.
    pub const fn bits(self) -> u32 {
        self as u32
    }

    /// The divisor.
    pub const fn divisor(self) -> u32 {
        match self {
            Self::By1 => 1,
            Self::By2 => 2,
            Self::By4 => 4,
            Self::By8 => 8,
            Self::By16 => 16,
            Self::By32 => 32,
            Self::By64 => 64,
            Self::By128 => 128,
        }
    }

    /// Decodes a register value (bit 2 and bits 31:4 ignored).
    pub const fn from_bits(bits: u32) -> Self {
        match bits & 0b1011 {
            0b0000 => Self::By2,
            0b0001 => Self::By4,
            0b0010 => Self::By8,
            0b0011 => Self::By16,
            0b1000 => Self::By32,
            0b1001 => Self::By64,
            0b1010 => Self::By128,
            _ => Self::By1,
        }
    }
}

/// The LVT timer entry (Figure 11-8): vector in bits 7:0, delivery status
/// (read only) bit 12, mask bit 16, [`TimerMode`] bits 18:17.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct LvtTimer(u32);

impl LvtTimer {
    /// Bit 16: masked.
    pub const MASK: u32 = 1 << 16;
    const MODE_SHIFT: u32 = 17;
    const MODE_MASK: u32 = 0b11 << Self::MODE_SHIFT;

    /// An unmasked entry raising `vector` in `mode`.
    pub const fn new(vector: u8, mode: TimerMode) -> Self {
        Self(vector as u32 | (mode as u32) << Self::MODE_SHIFT)
    }

    /// `self` masked: the timer still counts but raises no interrupt (how
    /// the kernel calibrates it).
    pub const fn masked(self) -> Self {
        Self(self.0 | Self::MASK)
    }

    /// The register value `bits`.
    pub const fn from_bits(bits: u32) -> Self {
        Self(bits)
    }

    /// The raw value.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The vector.
    pub const fn vector(self) -> u8 {
        self.0 as u8
    }

    /// Whether the entry is masked.
    pub const fn is_masked(self) -> bool {
        self.0 & Self::MASK != 0
    }

    /// The timer mode; `None` for the reserved encoding `0b11`.
    pub const fn mode(self) -> Option<TimerMode> {
        match (self.0 & Self::MODE_MASK) >> Self::MODE_SHIFT {
            0b00 => Some(TimerMode::OneShot),
            0b01 => Some(TimerMode::Periodic),
            0b10 => Some(TimerMode::TscDeadline),
            _ => None,
        }
    }
}

impl fmt::Debug for LvtTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LvtTimer({:#x})", self.0)
    }
}

/// How the kernel drives the scheduler tick on a CPU with `features`:
/// TSC-deadline mode when CPUID offers it (SDM Vol. 3A §11.5.4.1: no divider,
/// no drift, re-armed with one MSR write), periodic mode otherwise. Pure, so the
/// decision is tested on the host (QEMU's TCG, 7.2 and 10.0 alike, never offers
/// TSC-deadline).
pub const fn choose_timer_mode(features: super::CpuFeatures) -> TimerMode {
    if features.tsc_deadline() {
        TimerMode::TscDeadline
    } else {
        TimerMode::Periodic
    }
}

/// The initial count that makes a timer counting at `counter_hz` (already
/// divided, as calibrated) fire `tick_hz` times per second, rounded to
/// nearest.
///
/// # Errors
///
/// [`ApicError::TimerCountOutOfRange`] if `tick_hz` is 0 or the count
/// rounds to 0 or exceeds `u32::MAX` (pick another divisor).
pub const fn periodic_initial_count(counter_hz: u64, tick_hz: u32) -> Result<u32, ApicError> {
    if tick_hz == 0 {
        return Err(ApicError::TimerCountOutOfRange);
    }
    let count = (counter_hz + tick_hz as u64 / 2) / tick_hz as u64;
    if count == 0 || count > u32::MAX as u64 {
        Err(ApicError::TimerCountOutOfRange)
    } else {
        Ok(count as u32)
    }
}

/// One calibration window of the Local APIC timer against the TSC. Each end
/// is a timer read bracketed by two TSC reads; `slack` is the sum of both
/// brackets' widths in TSC cycles: how far the timer read may lie from the
/// TSC mid-point it is paired with (a vCPU descheduled inside a bracket
/// widens it). The error is bounded by `slack / tsc_elapsed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerWindow {
    /// Timer counts that passed (the timer counts down: start − end).
    pub counts: u64,
    /// TSC cycles between the two brackets' mid-points.
    pub tsc_elapsed: u64,
    /// Both brackets' widths, in TSC cycles.
    pub slack: u64,
}

impl TimerWindow {
    /// The timer's rate in counts per second, for a TSC at `tsc_hz`; `None`
    /// for an empty window.
    pub const fn rate(&self, tsc_hz: u64) -> Option<u64> {
        if self.tsc_elapsed == 0 {
            return None;
        }
        Some((self.counts as u128 * tsc_hz as u128 / self.tsc_elapsed as u128) as u64)
    }

    /// The window's error bound in parts per million (rounded up).
    pub const fn error_ppm(&self) -> u64 {
        if self.tsc_elapsed == 0 {
            return u64::MAX;
        }
        ((self.slack as u128 * 1_000_000).div_ceil(self.tsc_elapsed as u128)) as u64
    }
}

/// The window with the smallest error bound: the least disturbed. Under
/// emulation a disturbance is one-sided and can be large, so the best
/// window beats the median (which went 19 % high at 128 CPUs on a loaded
/// 2-core host). `None` if `windows` is empty.
pub fn least_disturbed_window(windows: &[TimerWindow]) -> Option<TimerWindow> {
    windows.iter().copied().min_by_key(TimerWindow::error_ppm)
}

/// `IA32_TSC_DEADLINE` (§11.5.4.1).
pub const IA32_TSC_DEADLINE: u32 = 0x6E0;

/// Arms the TSC-deadline timer for TSC value `deadline` (0 disarms it).
/// The LVT timer must be in [`TimerMode::TscDeadline`] (see
/// [`super::LocalApic::set_lvt_timer`], which orders the two writes).
///
/// # Safety
///
/// The CPU supports TSC-deadline mode (CPUID.01H:ECX\[24\], see
/// [`super::CpuFeatures::tsc_deadline`]); otherwise the `WRMSR` raises
/// `#GP`.
pub unsafe fn write_tsc_deadline(deadline: u64) {
    let mut msr = Msr::new(IA32_TSC_DEADLINE);
    // SAFETY: the caller promises the MSR exists; it only arms a timer
    // interrupt and touches no memory.
    unsafe { msr.write(deadline) }
}

const _: () = {
    assert!(TimerDivide::By16.bits() == 0b0011);
    assert!(TimerDivide::By1.bits() == 0b1011);
    assert!(LvtTimer::new(0x20, TimerMode::Periodic).bits() == 0x2_0020);
    assert!(LvtTimer::new(0x20, TimerMode::TscDeadline).bits() == 0x4_0020);
};
