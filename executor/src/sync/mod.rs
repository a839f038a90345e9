//! Async synchronization primitives for kernel services: usable across
//! cores, signal-able from interrupt handlers.
//!
//! # Where they come from
//!
//! | primitive | from | waits with |
//! | --- | --- | --- |
//! | [`WaitQueue`] | `maitake-sync` | any number of tasks, FIFO; `wake` / `wake_all` / `close` |
//! | [`WaitCell`] | `maitake-sync` | one task; lock-free (an atomic state word and one `Waker`) |
//! | [`Mutex`] | `maitake-sync` | async mutex (a `WaitQueue` inside), guard held across `.await` |
//! | [`RwLock`] | `maitake-sync` | async reader-writer lock (a `Semaphore` inside) |
//! | [`Semaphore`] | `maitake-sync` | async counting semaphore, FIFO-fair |
//! | [`oneshot`] | ours | one value, once: a `WaitCell` and a three-bit state word |
//! | [`mpsc`] | ours | bounded multi-producer queue: a ring under a blocking mutex, a `WaitQueue` for full-channel senders, a `WaitCell` for the receiver |
//!
//! `maitake-sync` (Eliza Weisman's, from the mycelium kernel) is loom-tested
//! upstream and honours `cfg(loom)`, so the loom models of our own primitives
//! (`sync/loom_sync.rs`) run the real `WaitCell` / `WaitQueue` code too. We
//! wrote only what it lacks (channels); their module docs say why and how.
//!
//! # The lock parameter
//!
//! Every primitive that keeps a list of waiters protects it with a short
//! *blocking* critical section, and that lock is a type parameter, `L` /
//! `Lock`, bounded by the `mutex-traits` crate's [`ScopedRawMutex`] ("run this
//! closure with the lock held") or [`RawMutex`] (lock / unlock; needed by
//! [`Semaphore`] and [`RwLock`]). A type implementing [`ConstInit`] has a
//! `const` initial value, which `const` constructors need. The default is
//! `maitake-sync`'s portable spin lock ([`DefaultMutex`]; `Spinlock` where a
//! [`RawMutex`] is required), which does *not* touch interrupts — right for
//! host tests, wrong for a kernel whose interrupt handlers signal. The kernel
//! plugs in its IRQ-safe, ranked raw mutex (`kernel::sync::IrqRawMutex`) and
//! names the results once (`kernel::sync::{WaitQueue, WaitCell, mpsc, ...}`).
//! Construct with a custom lock through `new_with_raw_mutex`
//! ([`WaitQueue::new_with_raw_mutex`], [`Mutex::new_with_raw_mutex`], ...) or
//! [`mpsc::channel_with_raw_mutex`]. [`WaitCell`] and [`oneshot`] take no lock
//! at all.
//!
//! # Interrupt-handler rules
//!
//! The *signalling* side may run in an interrupt handler:
//! [`WaitCell::wake`], [`WaitQueue::wake`] / [`wake_all`](WaitQueue::wake_all),
//! [`oneshot::Sender::send`], [`mpsc::Sender::try_send`]. These
//!
//! - never allocate (the channel's ring is allocated once, at creation);
//! - never wait except for a short critical section of the lock parameter —
//!   which is why that lock must be IRQ-safe: an interrupt arriving while its
//!   own CPU holds the lock would spin forever;
//! - never run a waker while holding a lock: `WaitQueue::wake` dequeues the
//!   waker under the lock and wakes it after unlocking; `wake_all` and `close`
//!   collect up to 16 wakers in a stack batch, unlock, wake them, repeat;
//!   `Semaphore` permit release does the same. `WaitCell` has no lock. Our
//!   channels release the ring lock before waking anyone. (Checked in
//!   `maitake-sync` 0.3.0's source. One exception there: `Semaphore::close`
//!   wakes its waiters with its wait-list lock held. Neither of our channels
//!   uses a `Semaphore`, and `close` is a task-context operation; the
//!   executor's wakers take no lock, so this cannot deadlock, it only makes
//!   that critical section longer.)
//!
//! What an interrupt handler must *not* do: await (it is not a task), call
//! the waiting side, or drop the last handle of a channel — the shared block
//! is freed by whichever handle goes last (see [`oneshot`] and [`mpsc`]).
//! Waking itself is safe there because the executor's wakers never allocate,
//! free, block or panic (crate docs).

pub mod mpsc;
pub mod oneshot;

#[cfg(all(test, loom))]
mod loom_sync;
#[cfg(all(test, not(loom)))]
mod tests;

/// The channels' shared blocks are reference counted with the shim's `Arc`
/// (loom's in the loom models), so the count's happens-before edges (the last
/// handle frees the block) are modelled too.
use crate::loom::Arc;

pub use maitake_sync::blocking;
pub use maitake_sync::blocking::{ConstInit, DefaultMutex, RawMutex, ScopedRawMutex};
pub use maitake_sync::mutex::Lock as MutexLock;
pub use maitake_sync::spin::Spinlock;
pub use maitake_sync::{
    Closed, Mutex, MutexGuard, OwnedMutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
    Semaphore, WaitCell, WaitQueue, WaitResult, semaphore, wait_cell, wait_queue,
};
