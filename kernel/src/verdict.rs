//! Ending a run: the last line the kernel prints and the exit code QEMU
//! returns (`docs/kernel-interface.md` §3).

use core::sync::atomic::{AtomicBool, Ordering};

use protocol::fatal::Exit;

use crate::arch::qemu::{self, ExitCode};
use crate::arch::report;

/// Set by the first CPU that ends the run, so that a second failure during
/// the first one's report (a fault in the panic path, another CPU failing at
/// the same time) exits quietly instead of interleaving reports.
static ENDING: AtomicBool = AtomicBool::new(false);

/// Ends the run with the success verdict.
pub fn succeed() -> ! {
    end(ExitCode::Success)
}

/// Ends the run with the failure verdict. Usable from panic and exception
/// handlers: it takes no lock that it would wait on forever.
pub fn fail() -> ! {
    end(ExitCode::Failure)
}

fn end(code: ExitCode) -> ! {
    if ENDING.swap(true, Ordering::AcqRel) {
        qemu::exit(ExitCode::Failure);
    }
    report::last(&Exit(code));
    qemu::exit(code)
}
