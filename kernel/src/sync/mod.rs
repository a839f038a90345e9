//! Locks that carry their discipline in their type.
//!
//! - [`SpinLock<T>`]: test-and-test-and-set spin lock with exponential backoff,
//!   `Acquire`/`Release` ordering, [`try_lock`](SpinLock::try_lock) and an RAII
//!   guard.
//! - [`IrqSpinLock<T>`]: the same, with interrupts disabled on the holding CPU
//!   while held and restored to their previous state after unlocking. For every
//!   lock an interrupt handler takes.
//! - Every lock has a [`LockRank`]; debug builds assert that each CPU acquires
//!   locks in strictly increasing rank (the rule and the kernel's order are in
//!   [`rank`]), and [`SpinLock::lock_two`] / [`IrqSpinLock::lock_two`] hold
//!   two locks of one rank safely.
//! - Guards are `!Send`: they stay on the CPU that locked, and cannot be held
//!   across an `.await` in a `Send` future.
//! - [`IrqRawMutex`]: the same discipline as a guard-less raw lock
//!   (`mutex_traits::RawMutex`), for `executor::sync`'s async primitives;
//!   [`primitives`] names them with it: [`WaitQueue`], [`WaitCell`],
//!   [`Mutex`], [`RwLock`], [`Semaphore`], [`oneshot`], [`mpsc`].
//!
//! # Hooks the kernel installs
//!
//! This library is hardware-blind, so the two machine-dependent pieces come
//! from the kernel binary at boot:
//!
//! - [`set_interrupt_control`]: an [`InterruptControl`] (`cli`/`sti` and the IF
//!   flag) for [`IrqSpinLock`];
//! - [`set_held_ranks_hook`]: where the current CPU's [`HeldRanks`] lives (its
//!   per-CPU block), for the rank checker.
//!
//! Without them (early boot) `IrqSpinLock` leaves interrupts alone and rank
//! checks are skipped. Host tests install recording fakes.
//!
//! # Model checking
//!
//! The lock word and the protected cell come from a loom shim (`sync/loom.rs`);
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p kernel --lib
//! --release --target-dir target/loom sync` runs the loom models of the spin
//! lock (`sync/loom_models.rs`).

pub mod irq;
pub(crate) mod loom;
pub mod primitives;
pub mod rank;
pub mod raw_mutex;
pub mod spin;

#[cfg(all(test, loom))]
mod loom_models;
#[cfg(all(test, not(loom)))]
mod tests;

pub use irq::{
    InterruptControl, IrqSpinLock, IrqSpinLockGuard, IrqSpinLockPairGuard, SavedIrqState,
    set_interrupt_control,
};
pub use primitives::{
    Closed, Mutex, MutexGuard, RwLock, Semaphore, WaitCell, WaitQueue, WaitResult, mpsc, oneshot,
};
pub use rank::{AlreadyInstalled, HeldRanks, HeldRanksHook, LockRank, set_held_ranks_hook};
pub use raw_mutex::IrqRawMutex;
pub use spin::{MAX_BACKOFF_SPINS, SpinLock, SpinLockGuard};

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
