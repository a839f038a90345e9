//! The message counters: a registration point the kernel fills at boot.
//!
//! This crate cannot know which CPU it runs on, so it does not keep the
//! counts itself: it reports each event to the [`IpcCounters`] registered
//! with [`set_counters`] (the kernel's, backed by per-CPU counters), and
//! counts nothing before one is registered.
//!
//! | event | call | when |
//! | --- | --- | --- |
//! | a message entered a port's queue | [`IpcCounters::sent`] | after every successful `send` / `try_send` (and `call`) |
//! | a message left a port's queue | [`IpcCounters::received`] | after every successful `recv` / `try_recv` |
//! | messages were discarded | [`IpcCounters::dropped`]`(n)` | once per dropped receive right that still held `n > 0` messages |
//!
//! Once every right of a port is gone, `sent = received + dropped` for it
//! exactly: a message is counted sent only if it was queued, and every queued
//! message leaves the queue once, either through a receive or through the
//! receive right's drop (which closes the port first, so nothing can be
//! queued behind its count). A message handed back to its sender is counted
//! nowhere.
//!
//! The calls happen right after the queue operation, not atomically with it:
//! while messages are in flight a reader may see `received` ahead of `sent`
//! for a moment (the receiver counted before the sender did).

use alloc::boxed::Box;
use core::fmt;
use core::sync::atomic::{AtomicPtr, Ordering};

/// Where the IPC layer reports its events (module docs). Implementations are
/// called on every send and receive, from any CPU, in task context or — for
/// `try_send` — in an interrupt handler: they must not block, allocate or
/// take locks (per-CPU atomics are the intended implementation).
pub trait IpcCounters: Sync {
    /// One message was queued on a port.
    fn sent(&self);
    /// One message was taken off a port's queue.
    fn received(&self);
    /// A receive right was dropped with `n` messages still queued; they were
    /// dropped with it.
    fn dropped(&self, n: u64);
}

/// Counters were registered before; the new ones were ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountersAlreadySet;

impl fmt::Display for CountersAlreadySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IPC counters already registered")
    }
}

/// The registered counters: a pointer to a leaked `&'static dyn IpcCounters`
/// (a fat reference does not fit an `AtomicPtr`, a reference to one does).
/// Set once, never changed, never freed. A plain `core` atomic, not the loom
/// shim's: it is a `static` set once, as the shim's docs say.
static COUNTERS: AtomicPtr<&'static dyn IpcCounters> = AtomicPtr::new(core::ptr::null_mut());

/// Registers where the IPC layer counts its messages. Call once, at boot;
/// events before that are not counted.
///
/// # Errors
///
/// [`CountersAlreadySet`] if counters were registered before (the first stay).
pub fn set_counters(counters: &'static dyn IpcCounters) -> Result<(), CountersAlreadySet> {
    let cell: *mut &'static dyn IpcCounters = Box::into_raw(Box::new(counters));
    match COUNTERS.compare_exchange(
        core::ptr::null_mut(),
        cell,
        Ordering::AcqRel,
        Ordering::Acquire,
    ) {
        Ok(_) => Ok(()),
        Err(_) => {
            // SAFETY: `cell` came from `Box::into_raw` above and was not
            // published (the exchange failed), so we own it.
            drop(unsafe { Box::from_raw(cell) });
            Err(CountersAlreadySet)
        }
    }
}

/// The registered counters, if any.
fn counters() -> Option<&'static dyn IpcCounters> {
    let cell = COUNTERS.load(Ordering::Acquire);
    // SAFETY: a non-null pointer was published by `set_counters` with
    // `Release` (read with `Acquire` here), points at a leaked box that is
    // never freed or written again, so a shared `'static` reference is valid.
    unsafe { cell.as_ref() }.copied()
}

pub(crate) fn count_sent() {
    if let Some(counters) = counters() {
        counters.sent();
    }
}

pub(crate) fn count_received() {
    if let Some(counters) = counters() {
        counters.received();
    }
}

pub(crate) fn count_dropped(n: u64) {
    if n > 0
        && let Some(counters) = counters()
    {
        counters.dropped(n);
    }
}
