//! Locks that carry their discipline in their type: the bottom layer of the
//! kernel and of its executor.
//!
//! - [`SpinLock<T>`]: test-and-test-and-set spin lock with exponential
//!   backoff, `Acquire`/`Release` ordering, [`try_lock`](SpinLock::try_lock)
//!   and an RAII guard.
//! - [`IrqSpinLock<T>`]: the same, with interrupts disabled on the holding
//!   CPU while held and restored to their previous state after unlocking. For
//!   every lock an interrupt handler takes.
//! - Raw locks ([`raw`]), for code generic over a lock type: [`IrqRawMutex`]
//!   (`mutex_traits::RawMutex`, what `executor::sync`'s async primitives
//!   take) and [`RawSpinLock`] (also `lock_api::RawMutex`, what talc's heap
//!   takes).
//! - Every lock has a [`LockRank`]; debug builds assert that each CPU acquires
//!   locks in strictly increasing rank (the rule and the kernel's order are in
//!   [`rank`]), and [`SpinLock::lock_two`] / [`IrqSpinLock::lock_two`] hold
//!   two locks of one rank safely.
//! - Guards are `!Send`: they stay on the CPU that locked, and cannot be held
//!   across an `.await` in a `Send` future.
//! - [`loom`]: the loom shim of the whole workspace.
//!
//! # Where it sits
//!
//! Below everything: `executor` (its timer lists are [`SpinLock`]s of rank
//! [`LockRank::TIMERS`], its shared atomics come from [`loom`]) and `kernel`
//! (which re-exports this crate as `kernel::sync` and adds the async
//! primitives over [`IrqRawMutex`]) both build on it. It has no dependency on
//! either, and no hardware access.
//!
//! # Hooks the kernel installs
//!
//! This crate is hardware-blind, so the two machine-dependent pieces come from
//! the kernel at boot:
//!
//! - [`set_interrupt_control`]: an [`InterruptControl`] (`cli`/`sti` and the
//!   IF flag) for [`IrqSpinLock`] and [`IrqRawMutex`];
//! - [`set_held_ranks_hook`]: where the current CPU's [`HeldRanks`] lives (its
//!   per-CPU block), for the rank checker.
//!
//! Without them (early boot, host tests of other crates) IRQ-safe locks leave
//! interrupts alone and rank checks are skipped. This crate's host tests
//! install recording fakes.
//!
//! # Model checking
//!
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p ksync --lib
//! --release --target-dir target/loom` runs the loom models of the spin lock
//! and the raw lock (`loom_models.rs`).

#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod irq;
pub mod loom;
pub mod rank;
pub mod raw;
pub mod spin;

#[cfg(all(test, loom))]
mod loom_models;
#[cfg(all(test, not(loom)))]
mod tests;

pub use irq::{
    InterruptControl, IrqSpinLock, IrqSpinLockGuard, IrqSpinLockPairGuard, SavedIrqState,
    set_interrupt_control,
};
pub use rank::{AlreadyInstalled, HeldRanks, HeldRanksHook, LockRank, set_held_ranks_hook};
pub use raw::{IrqRawMutex, RawSpinLock};
pub use spin::{MAX_BACKOFF_SPINS, SpinLock, SpinLockGuard};
