//! The serial console on COM1: where every kernel line goes.
//!
//! Three ways in:
//! - [`write`] for normal output: takes the console lock, an
//!   [`IrqSpinLock`] of rank [`LockRank::CONSOLE`] (the innermost: code that
//!   holds it takes no other lock), with interrupts disabled, so an interrupt
//!   handler on the same CPU can never find the lock held by the code it
//!   interrupted. Whatever is formatted is formatted under
//!   the lock: it must not allocate or log (the `protocol` line types do
//!   neither).
//! - [`emergency`] for the panic and fatal-exception paths: a CPU exception can
//!   strike while its own CPU holds the lock (interrupts being off does not stop
//!   exceptions), so after a bounded wait it breaks the lock. A run that takes
//!   this path is failing anyway; a garbled line beats a silent hang.
//! - [`last`] for the run's last line: like [`emergency`], but it never gives
//!   the lock back, so no other CPU can write after it while QEMU exits.

use core::fmt::{self, Write};

use drivers::serial::{COM1_BASE, SerialError, SerialPort};
use kernel::sync::{IrqSpinLock, IrqSpinLockGuard, LockRank};
use spin::Once;

static COM1: Once<IrqSpinLock<SerialPort>> = Once::new();

/// How long [`emergency`] waits for the lock before breaking it.
const EMERGENCY_LOCK_ATTEMPTS: u32 = 1 << 20;

/// Initialises COM1. Output written before this is dropped.
///
/// If the UART does not answer its probe, the console is still installed:
/// under some firmware the port works with the settings it was left in, and a
/// console that might work beats none. The error is returned for the caller
/// to report once output is possible.
pub fn init() -> Result<(), SerialError> {
    // SAFETY: COM1's I/O ports belong to this console alone: no other code
    // in the kernel touches ports 0x3F8..=0x3FF.
    let mut port = unsafe { SerialPort::new(COM1_BASE) }?;
    let result = port.init();
    COM1.call_once(|| IrqSpinLock::new(LockRank::CONSOLE, port));
    result
}

/// Turns on COM1's receive interrupt (IER bit 0, OUT2); returns the IER
/// now in effect, or `None` without a console.
pub fn enable_rx_interrupt() -> Option<u8> {
    COM1.get().map(|port| port.lock().enable_rx_interrupt())
}

/// Reads COM1's waiting received bytes (at most `limit`) into `sink`,
/// under the console lock; returns how many. `sink` runs under the lock:
/// it must not log, allocate or take a lock.
pub fn drain_rx(limit: usize, sink: impl FnMut(u8)) -> usize {
    COM1.get()
        .map_or(0, |port| port.lock().drain_rx(limit, sink))
}

/// Writes formatted text to the console.
pub fn write(args: fmt::Arguments<'_>) {
    let Some(port) = COM1.get() else { return };
    // Serial output cannot fail in a way we could report anywhere else.
    let _ = port.lock().write_fmt(args);
}

/// Writes `bytes` as they are (no newline translation): the echo of what a
/// person types, and the monitor's prompt, which has no line end.
pub fn write_raw(bytes: &[u8]) {
    let Some(port) = COM1.get() else { return };
    port.lock().write_raw(bytes);
}

/// Writes formatted text on a fatal path, breaking the console lock if
/// its holder does not release it soon.
pub fn emergency(args: fmt::Arguments<'_>) {
    let Some(port) = COM1.get() else { return };
    let _ = take_or_break(port).write_fmt(args);
}

/// Writes the run's last line (breaking the lock like [`emergency`]) and
/// keeps the console: other CPUs go on running until QEMU has exited, and a
/// line they started after this one would come out cut off. (The forgotten
/// guard leaves interrupts off and CONSOLE on this CPU's rank books: this
/// CPU's next step is to exit.)
pub fn last(args: fmt::Arguments<'_>) {
    let Some(port) = COM1.get() else { return };
    let mut guard = take_or_break(port);
    let _ = guard.write_fmt(args);
    core::mem::forget(guard);
}

/// The console lock, taken within a bounded wait or broken.
///
/// Only `try_lock`, never `lock`: a fatal path may start while this CPU holds
/// the console (a fault inside a write), and `lock` would report that as a
/// rank violation, a panic inside the panic path.
fn take_or_break(port: &IrqSpinLock<SerialPort>) -> IrqSpinLockGuard<'_, SerialPort> {
    for _ in 0..EMERGENCY_LOCK_ATTEMPTS {
        if let Some(guard) = port.try_lock() {
            return guard;
        }
        core::hint::spin_loop();
    }
    // SAFETY: the holder is either the context this CPU interrupted, which
    // the fatal path never resumes, or another CPU that has not released the
    // lock for ~a million attempts. Breaking it can interleave two writers'
    // bytes on the wire but cannot corrupt memory: the port state is plain
    // I/O-port numbers.
    unsafe { port.force_unlock() };
    loop {
        // Another CPU on a fatal path may win the freed lock; it writes its
        // line and gives it back.
        if let Some(guard) = port.try_lock() {
            return guard;
        }
        core::hint::spin_loop();
    }
}
