//! [`IpiLatch`]: at most one wake-up IPI in flight per core.
//!
//! The idle protocol sends one wake-up per sleep episode, but an episode's
//! IPI can still be in flight when the core — woken by its tick — has
//! already started the next episode, whose waker sends another. Two IPIs of
//! one vector merge in the target's LAPIC (one IRR bit per vector), so the
//! kernel's books (IPIs sent = IPIs received) would not balance. The latch
//! keeps one in flight: a waker sends only if it *claims* the latch; the
//! target's IPI handler *releases* it.
//!
//! ```text
//!   waker:  try_claim()  false → true : send the IPI   (true → true: skip it)
//!           send failed: release_unsent()
//!   target's handler:    delivered()  (true → false)
//! ```
//!
//! Skipping is safe only because of how `delivered` releases the latch: a
//! waker that found it set relies on the in-flight IPI, whose handler runs
//! after that waker's claim attempt. `delivered` is a swap with Acquire: it
//! reads the skipping waker's write (or a later one), so that waker's push
//! happens-before everything the target does after the handler — its idle
//! recheck sees the push. (A plain store would not synchronize; on x86 the
//! recheck's loads could even pass the store.) The loom models' platform
//! uses this very type, so they check it with the idle protocol.

use crate::loom::{AtomicBool, Ordering};

/// One core's "a wake-up IPI is in flight" flag (module docs).
#[derive(Debug)]
pub struct IpiLatch {
    in_flight: AtomicBool,
}

impl IpiLatch {
    /// A released latch (no IPI in flight).
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            in_flight: AtomicBool::new(false),
        }
    }

    /// A released latch (no IPI in flight).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            in_flight: AtomicBool::new(false),
        }
    }

    /// The waker's side: true if the caller claimed the latch and must send
    /// the IPI; false if one is in flight already (send nothing).
    pub fn try_claim(&self) -> bool {
        !self.in_flight.swap(true, Ordering::AcqRel)
    }

    /// The waker's side, when sending the claimed IPI failed.
    pub fn release_unsent(&self) {
        self.in_flight.store(false, Ordering::Release);
    }

    /// The target's IPI handler: the IPI has left the IRR; the next wake-up
    /// may send again. Synchronizes with every waker that skipped meanwhile.
    pub fn delivered(&self) {
        self.in_flight.swap(false, Ordering::AcqRel);
    }

    /// True while an IPI is in flight (for reports).
    pub fn in_flight(&self) -> bool {
        self.in_flight.load(Ordering::Acquire)
    }
}

impl Default for IpiLatch {
    fn default() -> Self {
        Self::new()
    }
}
