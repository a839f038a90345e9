//! The name service: services publish a send right under a name, clients
//! look it up (and wait until it appears).
//!
//! # Design
//!
//! - The table maps `&'static str` to a type-erased `SendRight<T>` (a
//!   `Box<dyn Any + Send + Sync>`, with `type_name::<T>()` for listings and
//!   error messages), in a `BTreeMap` under a [`SpinLock`] of rank
//!   [`LockRank::IPC`] (4). Allocating under it is allowed (`HEAP` is 16);
//!   cloning a send right under it takes the port's `WAIT_LIST` lock (26),
//!   also above it. Nothing under it runs a waker: a send right that leaves
//!   the table (`unregister`, or a refused `register`) is dropped after
//!   unlocking, since dropping a port's last send right wakes its receiver.
//! - Waiting lookups wait in a `WaitQueue` over an [`IrqRawMutex`] (rank
//!   `WAIT_LIST`); `register` inserts under the table lock, unlocks, *then*
//!   wakes every waiting lookup (`wake_all`; each looks again, and those
//!   after another name wait again).
//!
//! # No lost wake-up
//!
//! A lookup subscribes to the wait queue *before* it looks at the table
//! (`WaitQueue::wait_for_value`), and a registration inserts *before* it
//! wakes. Both the table and the queue are locks, so their critical sections
//! are totally ordered: if the lookup's look missed the insert, the look came
//! first, so the subscription (earlier still) precedes the registration's
//! `wake_all`, which wakes it. If the look saw the insert, it returns.
//!
//! Task context only: the table lock is not IRQ-safe, so interrupt
//! handlers must not call into the name service.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::any::{Any, type_name};
use core::fmt;

use executor::sync::WaitQueue;
use ksync::{IrqRawMutex, LockRank, SpinLock};

use crate::port::SendRight;

/// One published send right.
struct Entry {
    /// `type_name::<T>()` of the message type.
    type_name: &'static str,
    /// A `SendRight<T>`.
    right: Box<dyn Any + Send + Sync>,
}

/// A registry of named ports (module docs). Usually one, in a `static`:
///
/// ```
/// static NAMES: ipc::Names = ipc::Names::new();
///
/// let (tx, mut rx) = ipc::port::<u32>(4);
/// NAMES.register("echo", tx).unwrap();
/// let echo = NAMES.try_lookup::<u32>("echo").unwrap();
/// echo.try_send(7).unwrap();
/// assert_eq!(rx.try_recv(), Ok(7));
/// assert_eq!(NAMES.names(), [("echo", "u32")]);
/// ```
pub struct Names {
    table: SpinLock<BTreeMap<&'static str, Entry>>,
    /// Lookups waiting for a name to appear.
    waiters: WaitQueue<IrqRawMutex>,
}

/// [`Names::register`]: the name is already taken (the offered send right
/// was dropped).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameTaken(pub &'static str);

impl fmt::Display for NameTaken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IPC name {:?} is already registered", self.0)
    }
}

/// Why a lookup returned no send right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// Nothing is registered under the name ([`Names::try_lookup`] only;
    /// [`Names::lookup`] waits instead).
    NotFound,
    /// The name is registered with another message type.
    WrongType {
        /// The message type asked for.
        expected: &'static str,
        /// The message type registered.
        found: &'static str,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("IPC name not registered"),
            Self::WrongType { expected, found } => write!(
                f,
                "IPC name registered for messages of type {found}, not {expected}"
            ),
        }
    }
}

impl Names {
    /// An empty registry.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            table: SpinLock::new(LockRank::IPC, BTreeMap::new()),
            waiters: WaitQueue::new_with_raw_mutex(IrqRawMutex::new()),
        }
    }

    /// An empty registry. (Not `const` under loom.)
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            table: SpinLock::new(LockRank::IPC, BTreeMap::new()),
            waiters: WaitQueue::new_with_raw_mutex(IrqRawMutex::new()),
        }
    }

    /// Publishes `send_right` under `name`, and wakes the lookups waiting
    /// for it.
    ///
    /// # Errors
    ///
    /// [`NameTaken`] if something is registered under `name` already; the
    /// offered send right is dropped.
    pub fn register<T: Send + 'static>(
        &self,
        name: &'static str,
        send_right: SendRight<T>,
    ) -> Result<(), NameTaken> {
        let refused = {
            let mut table = self.table.lock();
            if table.contains_key(name) {
                Some(send_right)
            } else {
                table.insert(
                    name,
                    Entry {
                        type_name: type_name::<T>(),
                        right: Box::new(send_right),
                    },
                );
                None
            }
        };
        // Unlocked from here on: dropping a send right may wake its port's
        // receiver, and `wake_all` runs wakers.
        match refused {
            Some(send_right) => {
                drop(send_right);
                Err(NameTaken(name))
            }
            None => {
                self.waiters.wake_all();
                Ok(())
            }
        }
    }

    /// Removes `name`; its send right is dropped (after unlocking). Returns
    /// whether it was registered.
    pub fn unregister(&self, name: &str) -> bool {
        let removed = self.table.lock().remove(name);
        removed.is_some()
    }

    /// A send right for `name`, without waiting.
    ///
    /// # Errors
    ///
    /// [`LookupError::NotFound`] if `name` is not registered;
    /// [`LookupError::WrongType`] if it is, with another message type.
    pub fn try_lookup<T: Send + 'static>(&self, name: &str) -> Result<SendRight<T>, LookupError> {
        let table = self.table.lock();
        let entry = table.get(name).ok_or(LookupError::NotFound)?;
        entry
            .right
            .downcast_ref::<SendRight<T>>()
            .cloned()
            .ok_or(LookupError::WrongType {
                expected: type_name::<T>(),
                found: entry.type_name,
            })
    }

    /// A send right for `name`, waiting until something is registered under
    /// it. Bound the wait with the executor's `timeout` if needed;
    /// cancel-safe.
    ///
    /// # Errors
    ///
    /// [`LookupError::WrongType`] if `name` is (or becomes) registered with
    /// another message type.
    pub async fn lookup<T: Send + 'static>(&self, name: &str) -> Result<SendRight<T>, LookupError> {
        let found = self
            .waiters
            .wait_for_value(|| match self.try_lookup(name) {
                Err(LookupError::NotFound) => None,
                decided => Some(decided),
            })
            .await;
        match found {
            Ok(result) => result,
            Err(_closed) => unreachable!("the name service never closes its wait queue"),
        }
    }

    /// What is registered: `(name, message type name)` pairs, sorted by
    /// name (for a monitor command).
    pub fn names(&self) -> Vec<(&'static str, &'static str)> {
        let table = self.table.lock();
        table
            .iter()
            .map(|(name, entry)| (*name, entry.type_name))
            .collect()
    }
}

impl Default for Names {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Names").finish_non_exhaustive()
    }
}
