//! Leaving QEMU with a verdict.
//!
//! QEMU runs with `-device isa-debug-exit,iobase=0xf4,iosize=0x04`: writing
//! value `v` to port `0xf4` makes QEMU exit with status `(v << 1) | 1`. Zero is
//! never written, since it would give status 1, which QEMU also uses for its own
//! failures. See `docs/kernel-interface.md` §3.
//!
//! On a machine without that device the write does nothing and the CPU halts.

use x86_64::instructions::port::Port;

use super::cpu::halt_forever;

/// The port of the `isa-debug-exit` device.
const ISA_DEBUG_EXIT_PORT: u16 = 0xf4;

/// The kernel's verdict on a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Everything asked of the run succeeded (QEMU exit status 33).
    Success = 0x10,
    /// A panic, an unexpected exception or a failed test (QEMU exit status 35).
    Failure = 0x11,
}

/// Ends the run with `code`. Under QEMU this does not return; elsewhere the
/// CPU halts.
pub fn exit(code: ExitCode) -> ! {
    let mut port = Port::<u32>::new(ISA_DEBUG_EXIT_PORT);
    // SAFETY: port 0xf4 is the isa-debug-exit device under QEMU and unused on
    // the PC platform otherwise; writing it has no effect on memory safety.
    unsafe { port.write(code as u32) };
    halt_forever()
}
