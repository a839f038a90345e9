//! The user-thread counters behind `[STATS]`'s `syscalls=
//! user_preemptions= user_faults=`: one cache line per CPU, bumped by the
//! CPU the thread runs on (like the IPC books, `services::ipc`).

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use kernel::cpu_books::CpuBooks;

use crate::arch::percpu;
use crate::stats::{self, UserCounts};

/// Per CPU: system calls, preemptions, faults.
static BOOKS: CpuBooks<3> = CpuBooks::new();
const SYSCALLS: usize = 0;
const PREEMPTIONS: usize = 1;
const FAULTS: usize = 2;

/// Times a user thread ran on another CPU than the one it last ran on (or,
/// the first time, was placed on): stolen or migrated.
static MOVED: AtomicU64 = AtomicU64::new(0);

/// Adds one to counter `counter` of the calling CPU.
fn count(counter: usize) {
    BOOKS.add(percpu::this_cpu().index(), counter, 1);
}

/// A system call was handled on this CPU.
pub fn count_syscall() {
    count(SYSCALLS);
}

/// A user thread gave this CPU up after an interrupt in ring 3.
pub fn count_preemption() {
    count(PREEMPTIONS);
}

/// A user thread was killed on this CPU for a fault.
pub fn count_fault() {
    count(FAULTS);
}

/// A user thread resumed on another CPU.
pub fn count_move() {
    MOVED.fetch_add(1, Relaxed);
}

/// Resumptions on another CPU so far.
pub fn moved() -> u64 {
    MOVED.load(Relaxed)
}

fn counts(cpu: u32) -> UserCounts {
    let [syscalls, preemptions, faults] = BOOKS.read(cpu);
    UserCounts {
        syscalls,
        preemptions,
        faults,
    }
}

/// Registers the counters with `[STATS]`.
pub fn init() {
    stats::set_user_stats_provider(counts);
}
