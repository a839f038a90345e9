//! The kernel's side of the `ipc` crate: the machine's name service, and
//! the per-CPU message counters behind `[STATS]`'s `ipc_sent=
//! ipc_received= ipc_dropped=`.
//!
//! The counters are one cache line per CPU index, bumped with a relaxed
//! read-modify-write on the CPU that sends or receives (a task cannot
//! migrate in the middle of a poll, and a count on the wrong line would
//! still add up: the host checks sums). They never allocate or lock, so
//! `try_send` from an interrupt handler may count too.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};

use core::time::Duration;

use ipc::{IpcCounters, LookupError, Names, SendRight};

use super::Exec;
use kernel::config::MAX_CPUS;

use crate::arch::percpu;
use crate::stats::{self, IpcCounts};

/// The name service every kernel service registers with and looks up in.
pub static NAMES: Names = Names::new();

/// One CPU's IPC books, alone on its cache line.
#[repr(align(64))]
struct CpuBooks {
    sent: AtomicU64,
    received: AtomicU64,
    dropped: AtomicU64,
}

static BOOKS: [CpuBooks; MAX_CPUS] = [const {
    CpuBooks {
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
    }
}; MAX_CPUS];

/// Why [`lookup_within`] found no service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupFailed {
    /// Nothing registered the name in time.
    TimedOut,
    /// The name carries messages of another type.
    Lookup(LookupError),
}

/// Looks `name` up in [`NAMES`], waiting at most `within` for a service to
/// register it.
///
/// # Errors
/// [`LookupFailed`]: the time ran out, or the name has another type.
pub async fn lookup_within<T: Send + 'static>(
    executor: Exec,
    name: &str,
    within: Duration,
) -> Result<SendRight<T>, LookupFailed> {
    match executor.timeout(within, NAMES.lookup::<T>(name)).await {
        Ok(found) => found.map_err(LookupFailed::Lookup),
        Err(_elapsed) => Err(LookupFailed::TimedOut),
    }
}

/// The books of the calling CPU.
fn here() -> &'static CpuBooks {
    &BOOKS[percpu::this_cpu().index() as usize]
}

/// What the `ipc` crate calls on every message.
struct PerCpuCounters;

impl IpcCounters for PerCpuCounters {
    fn sent(&self) {
        here().sent.fetch_add(1, Relaxed);
    }

    fn received(&self) {
        here().received.fetch_add(1, Relaxed);
    }

    fn dropped(&self, n: u64) {
        here().dropped.fetch_add(n, Relaxed);
    }
}

static COUNTERS: PerCpuCounters = PerCpuCounters;

/// CPU `cpu`'s books, for `[STATS]`.
fn counts(cpu: u32) -> IpcCounts {
    let books = &BOOKS[cpu as usize];
    IpcCounts {
        sent: books.sent.load(Relaxed),
        received: books.received.load(Relaxed),
        dropped: books.dropped.load(Relaxed),
    }
}

/// Registers the counters with the `ipc` crate and with `[STATS]`.
///
/// # Panics
/// If called twice.
pub fn init() {
    ipc::set_counters(&COUNTERS).expect("IPC counters registered once");
    stats::set_ipc_stats_provider(counts);
}
