//! The kernel's synchronization: [`ksync`]'s ranked locks, re-exported, plus
//! the async primitives named with the kernel's IRQ-safe raw lock.
//!
//! - From `ksync` (see its docs for the rules): [`SpinLock`],
//!   [`IrqSpinLock`], the raw locks [`IrqRawMutex`] and [`RawSpinLock`],
//!   [`LockRank`] and the rank checker, and the two hooks the kernel installs
//!   at boot ([`set_interrupt_control`], [`set_held_ranks_hook`]).
//! - [`primitives`]: `executor::sync`'s async primitives over
//!   [`IrqRawMutex`]: [`WaitQueue`], [`WaitCell`], [`Mutex`], [`RwLock`],
//!   [`Semaphore`], [`oneshot`], [`mpsc`].
//! - [`set_once`]: the registration slots of ADR 0004.

pub mod primitives;

pub use ksync::{
    AlreadyInstalled, HeldRanks, HeldRanksHook, InterruptControl, IrqRawMutex, IrqSpinLock,
    IrqSpinLockGuard, IrqSpinLockPairGuard, LockRank, MAX_BACKOFF_SPINS, RawSpinLock,
    SavedIrqState, SpinLock, SpinLockGuard, irq, rank, raw, set_held_ranks_hook,
    set_interrupt_control, spin,
};
pub use primitives::{
    Closed, Mutex, MutexGuard, RwLock, Semaphore, WaitCell, WaitQueue, WaitResult, mpsc, oneshot,
};

/// Fills a registration slot that must be set exactly once (a tick handler,
/// a fatal hook, a provider: ADR 0004's registration points).
///
/// # Panics
/// If `slot` is set already: a second registration is a wiring bug.
pub fn set_once<T>(slot: &::spin::Once<T>, value: T, what: &str) {
    let mut fresh = false;
    slot.call_once(|| {
        fresh = true;
        value
    });
    assert!(fresh, "{what} registered twice");
}
