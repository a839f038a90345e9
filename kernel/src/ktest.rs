//! The in-kernel test harness.
//!
//! Tests are plain functions registered with [`kernel_test!`], next to the code
//! they test. The macro places a [`KernelTest`] descriptor in the linker section
//! `ktests`; the linker gathers all of them between the symbols
//! `__start_ktests` and `__stop_ktests`, so the harness finds every test without
//! a central list (the technique of mycelium's `mycotest` and of `linkme`).
//!
//! With the kernel argument `test=<filter>` the kernel runs, in name order,
//! every test whose name contains the filter (`all`: every test), printing
//! `[KTEST]` lines (`docs/kernel-interface.md` §2), then ends the run: success
//! only if at least one test ran and none failed.
//!
//! *Manual* tests (`kernel_test!(manual fn ...)`) check failure paths — they
//! panic or fault on purpose, or need special kernel arguments — so they run
//! only when the filter *names* them: it must be a `::`-separated suffix of
//! the test's path (`harness::deliberate_panic`), never with `all` or a
//! mere substring. The host runs each with what it needs and checks the verdict.

use alloc::string::String;
use alloc::vec::Vec;

use protocol::ktest::Ktest;

use crate::arch::report;
use crate::{time, verdict};

/// What a test returns: `Err` carries the reason, printed after `reason=`.
pub type TestResult = Result<(), String>;

/// A registered test. `repr(C)`: the harness reads these as an array laid
/// out by the linker.
#[repr(C)]
pub struct KernelTest {
    /// Full path, e.g. `kernel::memory::heap::tests::mixed_objects`.
    pub name: &'static str,
    /// The test body.
    pub run: fn() -> TestResult,
    /// Runs only when the filter names it (see the module docs).
    pub manual: bool,
}

/// Registers a test function. `manual` marks a test that must fail the run.
macro_rules! kernel_test {
    (fn $name:ident() $body:block) => {
        $crate::ktest::kernel_test!(@register false, $name, $body);
    };
    (manual fn $name:ident() $body:block) => {
        $crate::ktest::kernel_test!(@register true, $name, $body);
    };
    (@register $manual:literal, $name:ident, $body:block) => {
        fn $name() -> $crate::ktest::TestResult $body
        const _: () = {
            #[used(linker)]
            #[unsafe(link_section = "ktests")]
            static TEST: $crate::ktest::KernelTest = $crate::ktest::KernelTest {
                name: concat!(module_path!(), "::", stringify!($name)),
                run: $name,
                manual: $manual,
            };
        };
    };
}
pub(crate) use kernel_test;

/// Fails the current test with a formatted reason unless `cond` holds.
macro_rules! check {
    ($cond:expr, $($reason:tt)+) => {
        if !$cond {
            return Err(alloc::format!($($reason)+));
        }
    };
}
pub(crate) use check;

// Bounds of the `ktests` section, defined by the linker. Declared as bytes:
// only their addresses are used.
unsafe extern "C" {
    static __start_ktests: u8;
    static __stop_ktests: u8;
}

/// Every registered test.
fn registry() -> &'static [KernelTest] {
    let start = (&raw const __start_ktests).cast::<KernelTest>();
    let stop = (&raw const __stop_ktests).cast::<KernelTest>();
    // SAFETY: the linker defines both symbols around the `ktests` section,
    // which holds only `KernelTest` statics (the macro is the only writer of
    // that section); each is `size_of::<KernelTest>()` long and aligned to its
    // size's divisor, so the section is a packed array of them.
    unsafe {
        let len = stop.offset_from(start) as usize;
        core::slice::from_raw_parts(start, len)
    }
}

/// The name as printed: without the crate prefix.
fn short_name(test: &KernelTest) -> &'static str {
    test.name.strip_prefix("kernel::").unwrap_or(test.name)
}

fn selected(test: &KernelTest, filter: &str) -> bool {
    let name = short_name(test);
    if test.manual {
        name.ends_with(filter) && name[..name.len() - filter.len()].ends_with("::")
    } else {
        filter == protocol::args::test::ALL || name.contains(filter)
    }
}

/// Runs the tests matching `filter` and ends the run with the verdict.
pub fn run(filter: &str) -> ! {
    let mut tests: Vec<&KernelTest> = registry().iter().filter(|t| selected(t, filter)).collect();
    tests.sort_by_key(|t| t.name);
    report::line(&Ktest::Begin {
        count: tests.len() as u64,
        filter,
    });
    let mut failed = 0;
    for test in &tests {
        let name = short_name(test);
        report::line(&Ktest::Run { name });
        let start = time::uptime_ns();
        match (test.run)() {
            Ok(()) => {
                let us = (time::uptime_ns() - start) / 1000;
                report::line(&Ktest::Pass { name, us });
            }
            Err(reason) => {
                failed += 1;
                report::line(&Ktest::Fail {
                    name,
                    reason: &reason,
                });
            }
        }
    }
    let passed = tests.len() as u64 - failed;
    report::line(&Ktest::End { passed, failed });
    if tests.is_empty() {
        log::error!(target: "KTEST", "no test matches filter '{filter}'");
        verdict::fail();
    }
    if failed == 0 {
        verdict::succeed()
    } else {
        verdict::fail()
    }
}

/// Tests of the harness itself and of the kernel's failure paths. All manual:
/// the host runs each and expects the run to fail with the right report.
mod harness {
    kernel_test!(manual fn deliberate_panic() {
        panic!("deliberate panic requested by test harness::deliberate_panic");
    });

    kernel_test!(manual fn lock_order_violation() {
        use kernel::sync::{IrqSpinLock, LockRank};
        let timers = IrqSpinLock::new(LockRank::TIMERS, ());
        let _outer = timers.lock();
        // Allocating takes the heap's lock, and HEAP ranks below TIMERS:
        // the rank check must panic inside the allocator, naming both
        // ranks, before this CPU spins on the heap lock.
        let boxed = alloc::boxed::Box::new(7_u64);
        Err(alloc::format!(
            "allocated {boxed} while a TIMERS lock was held, unreported"
        ))
    });

    kernel_test!(manual fn unexpected_page_fault() {
        let addr = crate::arch::paging::unmapped_test_address();
        // A plain load from an unmapped page, outside the exception table:
        // the page-fault handler must report it and fail the run.
        // SAFETY: deliberately unsound from the kernel's point of view: the
        // load faults, and the fault ends the run before anything observes it.
        unsafe {
            core::arch::asm!("mov {tmp}, qword ptr [{addr}]", addr = in(reg) addr, tmp = out(reg) _);
        }
        Err(alloc::format!("load from unmapped {addr:#x} did not fault"))
    });

    kernel_test!(manual fn stack_overflow() {
        #[allow(unconditional_recursion)]
        fn recurse(depth: u64) -> u64 {
            let frame = core::hint::black_box([depth; 32]);
            recurse(depth + 1).wrapping_add(frame[7])
        }
        let depth = recurse(0);
        Err(alloc::format!("recursed {depth} levels without overflowing"))
    });
}
