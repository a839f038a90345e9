//! How a run ends: the `isa-debug-exit` device, the codes the kernel writes to
//! it and the statuses QEMU exits with (`docs/kernel-interface.md` §3).
//!
//! QEMU runs with `-device isa-debug-exit,iobase=0xf4,iosize=0x04`: writing
//! `v` to the port makes QEMU exit with status `(v << 1) | 1`. Zero is never
//! written, since it would give status 1, which QEMU also uses for its own
//! failures.

/// The I/O port of the `isa-debug-exit` device.
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// The width of the device's port in bytes (the kernel writes a `u32`).
pub const DEBUG_EXIT_PORT_SIZE: u8 = 4;

/// QEMU's exit status after a CPU reset under `-no-reboot` (a triple fault).
pub const QEMU_STATUS_RESET: i32 = 0;

/// The kernel's verdict on a run, as written to [`DEBUG_EXIT_PORT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Everything asked of the run succeeded (QEMU exit status 33).
    Success = 0x10,
    /// A panic, an unexpected exception or a failed test (QEMU exit status 35).
    Failure = 0x11,
}

impl ExitCode {
    /// The value the kernel writes to the port.
    pub const fn value(self) -> u32 {
        self as u32
    }

    /// The status QEMU exits with when the kernel writes this code.
    pub const fn qemu_status(self) -> i32 {
        ((self as i32) << 1) | 1
    }

    /// The code behind a QEMU exit status, if the kernel wrote one.
    pub const fn from_qemu_status(status: i32) -> Option<Self> {
        if status == Self::Success.qemu_status() {
            Some(Self::Success)
        } else if status == Self::Failure.qemu_status() {
            Some(Self::Failure)
        } else {
            None
        }
    }

    /// The word of the `[EXIT]` line.
    pub const fn word(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_statuses() {
        assert_eq!(ExitCode::Success.qemu_status(), 33);
        assert_eq!(ExitCode::Failure.qemu_status(), 35);
        for code in [ExitCode::Success, ExitCode::Failure] {
            assert_eq!(ExitCode::from_qemu_status(code.qemu_status()), Some(code));
        }
        assert_eq!(ExitCode::from_qemu_status(QEMU_STATUS_RESET), None);
        assert_eq!(ExitCode::from_qemu_status(1), None);
    }
}
