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

/// A line being formatted: up to 256 bytes, written with one system call
/// (so the kernel prints it as one `[USER]` line). What does not fit is cut.
pub struct LineBuf {
    buf: [u8; 256],
    len: usize,
}

impl LineBuf {
    /// An empty line.
    pub const fn new() -> Self {
        Self {
            buf: [0; 256],
            len: 0,
        }
    }

    /// Writes the line, with a newline, in one system call.
    pub fn flush(&mut self) {
        if self.len < self.buf.len() {
            self.buf[self.len] = b'\n';
            self.len += 1;
        }
        let _ = write(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl Default for LineBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for LineBuf {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let room = self.buf.len() - self.len;
        let n = text.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&text.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Prints one formatted line with one `write` system call.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        let mut line = $crate::LineBuf::new();
        let _ = core::fmt::Write::write_fmt(&mut line, format_args!($($arg)*));
        line.flush();
    }};
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

/// Sleeps for `ns` nanoseconds.
pub fn sleep_ns(ns: u64) -> Result<(), Error> {
    // SAFETY: SLEEP touches no memory.
    result(unsafe { syscall6(syscall::SLEEP, [ns, 0, 0, 0, 0, 0]) }).map(|_| ())
}

/// Sleeps for `ms` milliseconds.
pub fn sleep_ms(ms: u64) -> Result<(), Error> {
    sleep_ns(ms.saturating_mul(1_000_000))
}

/// The handle of the port named `name`.
pub fn port_lookup(name: &str) -> Result<u64, Error> {
    let args = [name.as_ptr() as u64, name.len() as u64, 0, 0, 0, 0];
    // SAFETY: PORT_LOOKUP only reads the name, which is ours.
    result(unsafe { syscall6(syscall::PORT_LOOKUP, args) })
}

/// Sends `msg` on `port` (waits while the port is full).
pub fn port_send(port: u64, msg: &[u8]) -> Result<(), Error> {
    let args = [port, msg.as_ptr() as u64, msg.len() as u64, 0, 0, 0];
    // SAFETY: PORT_SEND only reads the message, which is ours.
    result(unsafe { syscall6(syscall::PORT_SEND, args) }).map(|_| ())
}

/// Receives a message from `port` into `buf` (waits while the port is
/// empty); returns the message's length (it may exceed `buf`: the rest is
/// cut off).
pub fn port_recv(port: u64, buf: &mut [u8]) -> Result<usize, Error> {
    let args = [port, buf.as_mut_ptr() as u64, buf.len() as u64, 0, 0, 0];
    // SAFETY: PORT_RECV writes at most `buf.len()` bytes into `buf`, ours.
    result(unsafe { syscall6(syscall::PORT_RECV, args) }).map(|n| n as usize)
}

/// Calls the service behind `port` with `msg`; the reply goes into
/// `reply`; returns the reply's length.
pub fn port_call(port: u64, msg: &[u8], reply: &mut [u8]) -> Result<usize, Error> {
    let args = [
        port,
        msg.as_ptr() as u64,
        msg.len() as u64,
        reply.as_mut_ptr() as u64,
        reply.len() as u64,
        0,
    ];
    // SAFETY: PORT_CALL reads `msg` and writes at most `reply.len()` bytes
    // into `reply`, both ours.
    result(unsafe { syscall6(syscall::PORT_CALL, args) }).map(|n| n as usize)
}

/// A thread's stack in a `static`, handed out once: `static S: Stack<N> =
/// Stack::new();` then `S.take()` for [`spawn_thread`], without a mutable static.
pub struct Stack<const N: usize> {
    taken: core::sync::atomic::AtomicBool,
    bytes: core::cell::UnsafeCell<[u8; N]>,
}

// SAFETY: the bytes are reached only through `take`, which hands out the
// one `&mut` at most once (the flag's swap).
unsafe impl<const N: usize> Sync for Stack<N> {}

impl<const N: usize> Stack<N> {
    /// A stack not handed out yet.
    pub const fn new() -> Self {
        Self {
            taken: core::sync::atomic::AtomicBool::new(false),
            bytes: core::cell::UnsafeCell::new([0; N]),
        }
    }

    /// The stack, the first time; `None` after.
    #[expect(
        clippy::mut_from_ref,
        reason = "the flag hands the one &mut out at most once"
    )]
    pub fn take(&'static self) -> Option<&'static mut [u8]> {
        if self.taken.swap(true, core::sync::atomic::Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the swap above let exactly one caller through, so this is
        // the only reference to the bytes, for good.
        Some(unsafe { &mut *self.bytes.get() })
    }
}

impl<const N: usize> Default for Stack<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Starts a thread running `f` on the stack `stack` (which must stay the
/// thread's for good: a `static` array, say). Returns the thread id.
pub fn spawn_thread(f: extern "C" fn() -> !, stack: &'static mut [u8]) -> Result<u64, Error> {
    // The new thread starts at `thread_start` with rsp 16-byte aligned and
    // `f` just above it, where `thread_start` finds it.
    let top = (stack.as_mut_ptr() as u64 + stack.len() as u64) & !15;
    let slot = top - 16;
    // SAFETY: `slot` lies inside `stack`, which is ours for good and
    // 8-aligned at `slot + 8`.
    unsafe { core::ptr::write((slot + 8) as *mut u64, f as *const () as u64) };
    let args = [thread_start as *const () as u64, slot, 0, 0, 0, 0];
    // SAFETY: SPAWN_THREAD touches no memory of ours; the new thread uses
    // `stack`, which nothing else does.
    result(unsafe { syscall6(syscall::SPAWN_THREAD, args) })
}

/// Where a new thread starts: calls the function stored above its stack
/// pointer with the stack aligned as a call expects.
#[unsafe(naked)]
extern "C" fn thread_start() -> ! {
    core::arch::naked_asm!("mov rax, [rsp + 8]", "call rax", "ud2")
}

/// The number of the CPU the program runs on.
pub fn getcpu() -> Result<u64, Error> {
    // SAFETY: GETCPU touches no memory.
    result(unsafe { syscall6(syscall::GETCPU, [0; 6]) })
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("user panic: {}", info.message());
    exit(101)
}
