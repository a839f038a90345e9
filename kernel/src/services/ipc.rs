//! The kernel's side of the `ipc` crate: the machine's name service, and
//! the per-CPU message counters behind `[STATS]`'s `ipc_sent=
//! ipc_received= ipc_dropped=`.
//!
//! The counters are one cache line per CPU index, bumped with a relaxed
//! read-modify-write on the CPU that sends or receives (a task cannot
//! migrate in the middle of a poll, and a count on the wrong line would
//! still add up: the host checks sums). They never allocate or lock, so
//! `try_send` from an interrupt handler may count too.

use core::time::Duration;

use ipc::{IpcCounters, LookupError, Names, SendRight};

use super::Exec;
use kernel::cpu_books::CpuBooks;

use crate::arch::percpu;
use crate::stats::{self, IpcCounts};

/// The name service every kernel service registers with and looks up in.
pub static NAMES: Names = Names::new();

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

/// Per CPU: messages sent, received, dropped.
static BOOKS: CpuBooks<3> = CpuBooks::new();
const SENT: usize = 0;
const RECEIVED: usize = 1;
const DROPPED: usize = 2;

/// Adds `n` to counter `counter` of the calling CPU.
fn count(counter: usize, n: u64) {
    BOOKS.add(percpu::this_cpu().index(), counter, n);
}

/// What the `ipc` crate calls on every message.
struct PerCpuCounters;

impl IpcCounters for PerCpuCounters {
    fn sent(&self) {
        count(SENT, 1);
    }

    fn received(&self) {
        count(RECEIVED, 1);
    }

    fn dropped(&self, n: u64) {
        count(DROPPED, n);
    }
}

static COUNTERS: PerCpuCounters = PerCpuCounters;

/// CPU `cpu`'s books, for `[STATS]`.
fn counts(cpu: u32) -> IpcCounts {
    let [sent, received, dropped] = BOOKS.read(cpu);
    IpcCounts {
        sent,
        received,
        dropped,
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
