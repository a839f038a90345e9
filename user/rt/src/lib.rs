//! The runtime of the user programs (issue 11): the entry point, the system
//! calls and the panic handler.
//!
//! A program is a `no_std`, `no_main` binary that names its `main` with
//! [`entry!`]:
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! rt::entry!(main);
//! fn main() -> i32 {
//!     rt::print("hello\n");
//!     0
//! }
//! ```
//!
//! The kernel enters `_start` in ring 3 with `rsp` at the top of the stack;
//! `_start` aligns the stack, calls `main` and passes its result to
//! [`exit`]. A panic writes its message and exits with 101.
//!
//! System calls follow `protocol::syscall`: number in `rax`, arguments in
//! `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`, result in `rax` (negative: an
//! error code), `syscall` clobbering `rcx` and `r11`.
#![no_std]

use core::arch::asm;
use core::fmt;

pub use protocol::syscall;

/// Defines `_start`, which calls `$main` (a `fn() -> i32`) and exits with
/// what it returns.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        /// The program's entry point: the kernel jumps here in ring 3.
        #[unsafe(no_mangle)]
        #[unsafe(naked)]
        pub extern "C" fn _start() -> ! {
            // Clear the frame pointer (the end of backtraces), align the
            // stack as a call expects it, call the Rust entry.
            core::arch::naked_asm!(
                "xor ebp, ebp",
                "and rsp, -16",
                "call {entry}",
                "ud2",
                entry = sym __rt_entry,
            )
        }

        extern "C" fn __rt_entry() -> ! {
            let main: fn() -> i32 = $main;
            $crate::exit(main())
        }
    };
}

/// A system call with up to six arguments; returns `rax`.
///
/// # Safety
/// The call must not make the kernel write to memory the program uses for
/// something else (a receive buffer must be the caller's to overwrite).
#[inline(always)]
pub unsafe fn syscall6(number: u64, args: [u64; 6]) -> i64 {
    let result: i64;
    // SAFETY: `syscall` enters the kernel, which preserves every register
    // but rax (the result), rcx and r11 (declared clobbered); what it does
    // with memory is the caller's contract.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number as i64 => result,
            in("rdi") args[0],
            in("rsi") args[1],
            in("rdx") args[2],
            in("r10") args[3],
            in("r8") args[4],
            in("r9") args[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// A failed system call: the negative code the kernel returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Error(pub i64);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match syscall::error_name(self.0) {
            Some(name) => f.write_str(name),
            None => write!(f, "error {}", self.0),
        }
    }
}

fn result(value: i64) -> Result<u64, Error> {
    if value < 0 {
        Err(Error(value))
    } else {
        Ok(value as u64)
    }
}

/// Writes `bytes` to the console; returns how many were written.
pub fn write(bytes: &[u8]) -> Result<usize, Error> {
    let args = [bytes.as_ptr() as u64, bytes.len() as u64, 0, 0, 0, 0];
    // SAFETY: WRITE only reads the buffer, which is ours.
    result(unsafe { syscall6(syscall::WRITE, args) }).map(|n| n as usize)
}

/// Writes all of `text` to the console, ignoring errors.
pub fn print(text: &str) {
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        match write(rest) {
            Ok(0) | Err(_) => return,
            Ok(n) => rest = &rest[n.min(rest.len())..],
        }
    }
}

/// The console as a [`fmt::Write`] target: `write!(rt::Console, ...)`.
pub struct Console;

impl fmt::Write for Console {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        print(text);
        Ok(())
    }
}

/// Ends the program with `code`.
pub fn exit(code: i32) -> ! {
    // SAFETY: EXIT touches no memory of ours; it does not return.
    unsafe { syscall6(syscall::EXIT, [code as i64 as u64, 0, 0, 0, 0, 0]) };
    // A kernel that returns from EXIT is broken: fault rather than go on.
    loop {
        // SAFETY: `ud2` raises #UD, which ends the program.
        unsafe { asm!("ud2", options(nomem, nostack)) };
    }
}

/// Gives up the CPU to other tasks.
pub fn yield_now() {
    // SAFETY: YIELD touches no memory.
    unsafe { syscall6(syscall::YIELD, [0; 6]) };
}

/// Sleeps for `ms` milliseconds.
pub fn sleep_ms(ms: u64) -> Result<(), Error> {
    // SAFETY: SLEEP touches no memory.
    result(unsafe { syscall6(syscall::SLEEP, [ms, 0, 0, 0, 0, 0]) }).map(|_| ())
}

/// The number of the CPU the program runs on.
pub fn getcpu() -> Result<u64, Error> {
    // SAFETY: GETCPU touches no memory.
    result(unsafe { syscall6(syscall::GETCPU, [0; 6]) })
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    let _ = writeln!(Console, "user panic: {}", info.message());
    exit(101)
}
