//! The user-thread counters behind `[STATS]`'s `syscalls=
//! user_preemptions= user_faults=`: one cache line per CPU, bumped by the
//! CPU the thread runs on (like the IPC books, `services::ipc`).

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use kernel::config::MAX_CPUS;

use crate::arch::percpu;
use crate::stats::{self, UserCounts};

/// One CPU's books, alone on its cache line.
#[repr(align(64))]
struct CpuBooks {
    syscalls: AtomicU64,
    preemptions: AtomicU64,
    faults: AtomicU64,
}

static BOOKS: [CpuBooks; MAX_CPUS] = [const {
    CpuBooks {
        syscalls: AtomicU64::new(0),
        preemptions: AtomicU64::new(0),
        faults: AtomicU64::new(0),
    }
}; MAX_CPUS];

/// Times a user thread ran on another CPU than the one it last ran on (or,
/// the first time, was placed on): stolen or migrated.
static MOVED: AtomicU64 = AtomicU64::new(0);

fn here() -> &'static CpuBooks {
    &BOOKS[percpu::this_cpu().index() as usize]
}

/// A system call was handled on this CPU.
pub fn count_syscall() {
    here().syscalls.fetch_add(1, Relaxed);
}

/// A user thread gave this CPU up after an interrupt in ring 3.
pub fn count_preemption() {
    here().preemptions.fetch_add(1, Relaxed);
}

/// A user thread was killed on this CPU for a fault.
pub fn count_fault() {
    here().faults.fetch_add(1, Relaxed);
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
    let books = &BOOKS[cpu as usize];
    UserCounts {
        syscalls: books.syscalls.load(Relaxed),
        preemptions: books.preemptions.load(Relaxed),
        faults: books.faults.load(Relaxed),
    }
}

/// Registers the counters with `[STATS]`.
pub fn init() {
    stats::set_user_stats_provider(counts);
}
