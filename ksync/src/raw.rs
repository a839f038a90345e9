//! Raw locks: ranked locks without a guard, for code that is generic over a
//! lock type.
//!
//! Two interfaces from the ecosystem take a "raw" lock (lock / try_lock /
//! unlock, no guard, no data):
//!
//! - `mutex_traits::RawMutex` (+ `ScopedRawMutex`, `ConstInit`): what
//!   `maitake-sync`'s wait queue, mutexes and semaphore — and so every
//!   primitive of `executor::sync` — guard their wait lists with;
//! - `lock_api::RawMutex`: what talc's `TalcLock`, the kernel heap, takes.
//!
//! This module gives both the same discipline as [`SpinLock`] and
//! [`IrqSpinLock`], so that no lock in the kernel escapes the rank checker:
//!
//! - [`IrqRawMutex`]: IRQ-safe. `lock` saves the interrupt flag and disables
//!   interrupts (through the [`InterruptControl`] hook), checks the
//!   [rank](crate::rank) before spinning, takes the lock word and records the
//!   rank; `unlock` forgets the rank, clears the word, *then* restores the
//!   flag. For locks an interrupt handler may take.
//! - [`RawSpinLock`]: the same without touching interrupts, its rank a const
//!   parameter (because `lock_api::RawMutex::INIT` is a constant and takes no
//!   argument). For locks interrupt handlers never take, such as the heap.
//!
//! A raw lock has no guard to keep the rank record and the saved interrupt
//! flag in, so the holder keeps them in the lock itself (`holder`), written
//! right after acquiring and taken right before releasing; only the holder
//! touches that cell.
//!
//! ```text
//!   unlocked ──lock: [save+cli] check rank, acquire word, record──▶ locked
//!      ▲                                                              │
//!      └──unlock: forget rank, release word, [restore IF]─────────────┘
//! ```
//!
//! [`SpinLock`]: crate::SpinLock
//! [`IrqSpinLock`]: crate::IrqSpinLock
//! [`InterruptControl`]: crate::InterruptControl

use core::fmt;

use crate::irq::IrqRestore;
use crate::loom::UnsafeCell;
use crate::rank::{LockRank, RankRecord};
use crate::spin::SpinLock;

/// The lock word, the rank and the holder's books: what both raw locks are.
struct RawCore {
    /// The lock word and the rank.
    lock: SpinLock<()>,
    /// What the current holder must undo at unlock; `None` while unlocked.
    holder: UnsafeCell<Option<Holder>>,
}

/// The current holder's books.
struct Holder {
    /// Dropped first: removes the rank from this CPU's books.
    rank: RankRecord,
    /// Dropped after the lock word is cleared: restores interrupts (IRQ-safe
    /// locks only).
    irq: Option<IrqRestore>,
}

// SAFETY: `holder` is read and written only by the CPU that holds the lock
// word (between a successful acquire and the release), so sharing the lock
// never gives two CPUs access to it at once; what it stores (a rank record
// pointing at per-CPU books, a saved flag and a `&'static dyn
// InterruptControl`) may be touched from any CPU.
unsafe impl Sync for RawCore {}
// SAFETY: as above; moving the lock moves an unlocked (or exclusively
// owned) cell.
unsafe impl Send for RawCore {}

impl RawCore {
    #[cfg(not(loom))]
    const fn new(rank: LockRank) -> Self {
        Self {
            lock: SpinLock::new(rank, ()),
            holder: UnsafeCell::new(None),
        }
    }

    #[cfg(loom)]
    fn new(rank: LockRank) -> Self {
        Self {
            lock: SpinLock::new(rank, ()),
            holder: UnsafeCell::new(None),
        }
    }

    const fn rank(&self) -> LockRank {
        self.lock.rank()
    }

    #[track_caller]
    fn lock(&self, irq_safe: bool) {
        let irq = irq_safe.then(IrqRestore::save_and_disable);
        RankRecord::check(self.rank());
        self.lock.acquire();
        self.enter(irq);
    }

    fn try_lock(&self, irq_safe: bool) -> bool {
        let irq = irq_safe.then(IrqRestore::save_and_disable);
        if self.lock.try_acquire() {
            self.enter(irq);
            true
        } else {
            // Dropping `irq` puts interrupts back as they were.
            false
        }
    }

    /// Stores the holder's books. Called right after acquiring.
    fn enter(&self, irq: Option<IrqRestore>) {
        let rank = RankRecord::record(self.rank());
        self.holder.with_mut(|holder| {
            // SAFETY: we just acquired the lock word, so no other CPU touches
            // `holder` until we release it, and no reference into it is live.
            unsafe { *holder = Some(Holder { rank, irq }) }
        });
    }

    /// # Safety
    /// The calling CPU holds the lock.
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock (this method's contract), so only
        // this CPU touches `holder`, and `enter` filled it.
        let holder = self.holder.with_mut(|holder| unsafe { (*holder).take() });
        let Some(Holder { mut rank, irq }) = holder else {
            unreachable!("raw lock unlocked while not locked");
        };
        // Same order as `IrqSpinLockGuard`: books, lock word, interrupts.
        rank.release();
        self.lock.release_raw();
        drop(irq);
    }

    fn is_locked(&self) -> bool {
        self.lock.is_locked()
    }
}

/// The four methods both raw-lock traits ask for (`lock`, `try_lock`,
/// `unlock`, `is_locked`), forwarded to the [`RawCore`] in field `0`.
macro_rules! raw_lock_methods {
    (irq_safe = $irq:expr) => {
        #[track_caller]
        fn lock(&self) {
            self.0.lock($irq);
        }

        fn try_lock(&self) -> bool {
            self.0.try_lock($irq)
        }

        unsafe fn unlock(&self) {
            // SAFETY: the caller holds the lock (the trait's contract).
            unsafe { self.0.unlock() }
        }

        fn is_locked(&self) -> bool {
            self.0.is_locked()
        }
    };
}

/// An IRQ-safe, ranked raw mutex (see the [module docs](self)) for the
/// primitives of `executor::sync`; `kernel::sync` names them with it
/// (`WaitQueue`, `mpsc`, ...).
///
/// ```
/// use ksync::{IrqRawMutex, LockRank};
/// use mutex_traits::RawMutex;
///
/// // The default rank is WAIT_LIST.
/// let lock = IrqRawMutex::new();
/// assert_eq!(lock.rank(), LockRank::WAIT_LIST);
/// lock.lock();
/// // SAFETY: locked just above, on this thread.
/// unsafe { lock.unlock() };
/// // A lock of another rank, for a primitive outside the default place.
/// let lock = IrqRawMutex::with_rank(LockRank::new(22));
/// assert_eq!(lock.rank(), LockRank::new(22));
/// ```
///
/// The default rank is [`LockRank::WAIT_LIST`]: nothing is acquired while a
/// wait list is held and no waker runs under it (module docs of
/// `executor::sync`), and a handler that holds `TIMERS` or `RUNQUEUE` may
/// still signal. Guards of a `blocking::Mutex<_, IrqRawMutex>` are `!Send`
/// (`GuardMarker` is a raw pointer): the saved flag belongs to the CPU that
/// locked.
pub struct IrqRawMutex(RawCore);

impl IrqRawMutex {
    /// An unlocked mutex of rank [`LockRank::WAIT_LIST`].
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self::with_rank(LockRank::WAIT_LIST)
    }

    /// An unlocked mutex of rank `rank`.
    #[cfg(not(loom))]
    pub const fn with_rank(rank: LockRank) -> Self {
        Self(RawCore::new(rank))
    }

    /// An unlocked mutex of rank [`LockRank::WAIT_LIST`]. (Not `const` under
    /// loom.)
    #[cfg(loom)]
    pub fn new() -> Self {
        Self::with_rank(LockRank::WAIT_LIST)
    }

    /// An unlocked mutex of rank `rank`. (Not `const` under loom.)
    #[cfg(loom)]
    pub fn with_rank(rank: LockRank) -> Self {
        Self(RawCore::new(rank))
    }

    /// The mutex's rank.
    pub const fn rank(&self) -> LockRank {
        self.0.rank()
    }
}

impl Default for IrqRawMutex {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(not(loom))]
impl mutex_traits::ConstInit for IrqRawMutex {
    // Each use of the constant is a new, unlocked mutex: that is the point.
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self::new();
}

// SAFETY: `lock` returns only once this CPU owns the lock word (a successful
// `Acquire` compare-exchange) and `try_lock` returns `true` only then; the word
// is cleared (`Release`) only by `unlock`, which callers may call only while
// they hold the lock. So at most one holder at a time, and each critical
// section happens-before the next.
unsafe impl mutex_traits::RawMutex for IrqRawMutex {
    /// Guards must stay on the CPU that locked (the saved interrupt flag is
    /// that CPU's): `!Send`.
    type GuardMarker = *const ();

    raw_lock_methods!(irq_safe = true);
}

impl fmt::Debug for IrqRawMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IrqRawMutex")
            .field("rank", &self.rank())
            .field("locked", &self.0.is_locked())
            .finish()
    }
}

/// A ranked raw spin lock that leaves interrupts alone, rank `RANK` (a
/// [`LockRank`] value): for `lock_api` users such as talc's `TalcLock`, and
/// for `mutex_traits` users whose lock no interrupt handler takes.
///
/// ```
/// use ksync::{LockRank, RawSpinLock};
///
/// type HeapLock = RawSpinLock<{ LockRank::HEAP.value() }>;
/// let lock: lock_api::Mutex<HeapLock, u32> = lock_api::Mutex::new(1);
/// *lock.lock() += 1;
/// assert_eq!(*lock.lock(), 2);
/// ```
pub struct RawSpinLock<const RANK: u8>(RawCore);

impl<const RANK: u8> RawSpinLock<RANK> {
    /// An unlocked lock.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self(RawCore::new(LockRank::new(RANK)))
    }

    /// An unlocked lock. (Not `const` under loom.)
    #[cfg(loom)]
    pub fn new() -> Self {
        Self(RawCore::new(LockRank::new(RANK)))
    }

    /// The lock's rank.
    pub const fn rank(&self) -> LockRank {
        self.0.rank()
    }
}

impl<const RANK: u8> Default for RawSpinLock<RANK> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const RANK: u8> fmt::Debug for RawSpinLock<RANK> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawSpinLock")
            .field("rank", &self.rank())
            .field("locked", &self.0.is_locked())
            .finish()
    }
}

#[cfg(not(loom))]
impl<const RANK: u8> mutex_traits::ConstInit for RawSpinLock<RANK> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self::new();
}

// SAFETY: as for `IrqRawMutex`: one holder at a time, `Acquire` on taking,
// `Release` on giving back, `unlock` only by the holder.
unsafe impl<const RANK: u8> mutex_traits::RawMutex for RawSpinLock<RANK> {
    /// The rank record belongs to the CPU that locked: `!Send`.
    type GuardMarker = *const ();

    raw_lock_methods!(irq_safe = false);
}

// SAFETY: as above. `lock_api` requires `INIT` to be an unlocked lock, which
// `new` is.
#[cfg(not(loom))]
unsafe impl<const RANK: u8> lock_api::RawMutex for RawSpinLock<RANK> {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self::new();

    type GuardMarker = lock_api::GuardNoSend;

    raw_lock_methods!(irq_safe = false);
}
