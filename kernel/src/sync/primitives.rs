//! The async primitives of `executor::sync`, named once with the kernel's
//! [`IrqRawMutex`], so kernel code says `kernel::sync::WaitQueue`,
//! `kernel::sync::mpsc::channel(..)` and gets the IRQ-safe, ranked lock
//! without spelling it.
//!
//! | name | what | lock |
//! | --- | --- | --- |
//! | [`WaitQueue`] | many waiters, FIFO | `IrqRawMutex` |
//! | [`WaitCell`] | one waiter | none (lock-free) |
//! | [`Mutex`], [`MutexGuard`] | async mutex | `IrqRawMutex` |
//! | [`RwLock`] | async reader-writer lock | `IrqRawMutex` |
//! | [`Semaphore`] | async counting semaphore | `IrqRawMutex` |
//! | [`oneshot`] | one value | none |
//! | [`mpsc`] | bounded queue, backpressure | `IrqRawMutex` |
//!
//! Construct a lock-carrying primitive with `Default` (`WaitQueue::default()`,
//! lock rank [`WAIT_LIST`](super::LockRank::WAIT_LIST)) or, in a `static`,
//! with `new_with_raw_mutex(IrqRawMutex::new())`, which is `const`.
//!
//! Interrupt handlers may *signal* (`WaitCell::wake`, `WaitQueue::wake`,
//! `wake_all`, `oneshot::Sender::send`, `mpsc::Sender::try_send`), never wait,
//! and must not drop the last handle of a channel (it frees the channel). The
//! rules and why they hold: `executor::sync`'s module docs.

use super::IrqRawMutex;

pub use executor::sync::{Closed, WaitCell, WaitResult, oneshot};

/// `executor::sync::WaitQueue` over [`IrqRawMutex`].
pub type WaitQueue = executor::sync::WaitQueue<IrqRawMutex>;
/// `executor::sync::Mutex` (async) over [`IrqRawMutex`].
pub type Mutex<T> = executor::sync::Mutex<T, IrqRawMutex>;
/// The guard of [`Mutex`].
pub type MutexGuard<'a, T> = executor::sync::MutexGuard<'a, T, IrqRawMutex>;
/// `executor::sync::RwLock` (async) over [`IrqRawMutex`].
pub type RwLock<T> = executor::sync::RwLock<T, IrqRawMutex>;
/// `executor::sync::Semaphore` over [`IrqRawMutex`].
pub type Semaphore = executor::sync::Semaphore<IrqRawMutex>;

/// `executor::sync::mpsc` over [`IrqRawMutex`].
pub mod mpsc {
    use super::IrqRawMutex;

    pub use executor::sync::mpsc::{SendError, TryRecvError, TrySendError};

    /// The sending half ([`executor::sync::mpsc::Sender`]).
    pub type Sender<T> = executor::sync::mpsc::Sender<T, IrqRawMutex>;
    /// The receiving half ([`executor::sync::mpsc::Receiver`]).
    pub type Receiver<T> = executor::sync::mpsc::Receiver<T, IrqRawMutex>;

    /// A channel of up to `capacity` values whose locks are
    /// [`IrqRawMutex`]es of rank `WAIT_LIST`. Allocates the ring once.
    ///
    /// # Panics
    ///
    /// If `capacity` is 0.
    pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
        executor::sync::mpsc::channel_with_raw_mutex(capacity, IrqRawMutex::new)
    }
}
