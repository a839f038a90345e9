//! Leaving QEMU with a verdict.
//!
//! QEMU runs with the `isa-debug-exit` device; writing an
//! [`ExitCode`] to its port makes QEMU exit with a status the host
//! knows (the port and codes are `protocol::exit`'s; see
//! `docs/kernel-interface.md` §3).
//!
//! On a machine without that device the write does nothing and the CPU halts.

use protocol::exit::DEBUG_EXIT_PORT;
pub use protocol::exit::ExitCode;
use x86_64::instructions::port::Port;

use super::cpu::halt_forever;

/// Ends the run with `code`. Under QEMU this does not return; elsewhere the
/// CPU halts.
pub fn exit(code: ExitCode) -> ! {
    let mut port = Port::<u32>::new(DEBUG_EXIT_PORT);
    // SAFETY: port 0xf4 is the isa-debug-exit device under QEMU and unused on
    // the PC platform otherwise; writing it has no effect on memory safety.
    unsafe { port.write(code.value()) };
    halt_forever()
}
