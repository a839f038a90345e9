//! [`IrqRawMutex`]: the kernel's raw lock for `executor::sync`'s primitives.
//!
//! `executor::sync` (`maitake-sync`'s wait queue, mutexes, semaphore, our
//! channels) guards its wait lists with a raw lock given as a type parameter
//! (`mutex_traits::RawMutex`: `lock`, `try_lock`, `unlock` without a guard;
//! `ScopedRawMutex` follows from it). Interrupt handlers signal those
//! primitives, so the lock must be IRQ-safe, exactly like [`IrqSpinLock`]:
//!
//! - `lock`: save the interrupt flag and disable interrupts (through the
//!   [`InterruptControl`] hook, the kernel's one way to `cli`/`sti`), check
//!   the [rank](super::rank) before spinning, take the lock word, record the
//!   rank;
//! - `unlock`: forget the rank, clear the lock word, *then* restore the saved
//!   interrupt flag.
//!
//! A raw mutex has no guard to keep the saved flag and the rank record in,
//! so the holder keeps them in the lock itself (`holder`), written right
//! after acquiring and taken right before releasing; only the holder touches
//! that cell.
//!
//! The default rank is [`LockRank::WAIT_LIST`]: nothing is acquired while a
//! wait list is held and no waker runs under it (module docs of
//! `executor::sync`), and a handler that holds `TIMERS` or `RUNQUEUE` may still
//! signal. Guards of `executor::sync::blocking::Mutex<_, IrqRawMutex>` are
//! `!Send` ([`RawMutex::GuardMarker`] is a raw pointer): the saved flag belongs
//! to the CPU that locked.
//!
//! [`IrqSpinLock`]: super::IrqSpinLock
//! [`InterruptControl`]: super::InterruptControl

use core::fmt;

use executor::sync::RawMutex;

use super::irq::IrqRestore;
use super::loom::UnsafeCell;
use super::rank::{LockRank, RankRecord};
use super::spin::SpinLock;

/// An IRQ-safe, ranked raw mutex (see the [module docs](self)) for the
/// primitives of `executor::sync`; `kernel::sync` names them with it
/// ([`WaitQueue`](super::WaitQueue), [`mpsc`](super::mpsc), ...).
///
/// ```
/// use kernel::sync::{IrqRawMutex, LockRank, WaitQueue};
///
/// // The usual way: the aliases pick `IrqRawMutex` with rank WAIT_LIST.
/// let queue = WaitQueue::new_with_raw_mutex(IrqRawMutex::new());
/// queue.wake(); // stored for the next waiter
/// // A lock of another rank, for a primitive outside the default place.
/// let lock = IrqRawMutex::with_rank(LockRank::new(22));
/// assert_eq!(lock.rank(), LockRank::new(22));
/// ```
pub struct IrqRawMutex {
    /// The lock word and the rank.
    lock: SpinLock<()>,
    /// What the current holder must undo at unlock; `None` while unlocked.
    holder: UnsafeCell<Option<Holder>>,
}

/// The current holder's books.
struct Holder {
    /// Dropped first: removes the rank from this CPU's books.
    rank: RankRecord,
    /// Dropped after the lock word is cleared: restores interrupts.
    irq: IrqRestore,
}

// SAFETY: `holder` is read and written only by the CPU that holds the lock
// word (between a successful acquire and the release), so sharing the mutex
// never gives two CPUs access to it at once; what it stores (a rank record
// pointing at per-CPU books, a saved flag and a `&'static dyn
// InterruptControl`) may be touched from any CPU.
unsafe impl Sync for IrqRawMutex {}
// SAFETY: as above; moving the mutex moves an unlocked (or exclusively
// owned) cell.
unsafe impl Send for IrqRawMutex {}

impl IrqRawMutex {
    /// An unlocked mutex of rank [`LockRank::WAIT_LIST`].
    #[cfg(not(all(test, loom)))]
    pub const fn new() -> Self {
        Self::with_rank(LockRank::WAIT_LIST)
    }

    /// An unlocked mutex of rank `rank`.
    #[cfg(not(all(test, loom)))]
    pub const fn with_rank(rank: LockRank) -> Self {
        Self {
            lock: SpinLock::new(rank, ()),
            holder: UnsafeCell::new(None),
        }
    }

    /// An unlocked mutex of rank [`LockRank::WAIT_LIST`]. (Not `const` under
    /// loom.)
    #[cfg(all(test, loom))]
    pub fn new() -> Self {
        Self::with_rank(LockRank::WAIT_LIST)
    }

    /// An unlocked mutex of rank `rank`. (Not `const` under loom.)
    #[cfg(all(test, loom))]
    pub fn with_rank(rank: LockRank) -> Self {
        Self {
            lock: SpinLock::new(rank, ()),
            holder: UnsafeCell::new(None),
        }
    }

    /// The mutex's rank.
    pub const fn rank(&self) -> LockRank {
        self.lock.rank()
    }

    /// Stores the holder's books. Called right after acquiring.
    fn enter(&self, irq: IrqRestore) {
        let rank = RankRecord::record(self.rank());
        self.holder.with_mut(|holder| {
            // SAFETY: we just acquired the lock word, so no other CPU touches
            // `holder` until we release it, and no reference into it is live.
            unsafe { *holder = Some(Holder { rank, irq }) }
        });
    }
}

impl Default for IrqRawMutex {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(not(all(test, loom)))]
impl executor::sync::ConstInit for IrqRawMutex {
    // Each use of the constant is a new, unlocked mutex: that is the point.
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self::new();
}

// SAFETY: `lock` returns only once this CPU owns the lock word (a successful
// `Acquire` compare-exchange) and `try_lock` returns `true` only then; the word
// is cleared (`Release`) only by `unlock`, which callers may call only while
// they hold the lock. So at most one holder at a time, and each critical
// section happens-before the next.
unsafe impl RawMutex for IrqRawMutex {
    /// Guards must stay on the CPU that locked (the saved interrupt flag is
    /// that CPU's): `!Send`.
    type GuardMarker = *const ();

    #[track_caller]
    fn lock(&self) {
        let irq = IrqRestore::save_and_disable();
        RankRecord::check(self.rank());
        self.lock.acquire();
        self.enter(irq);
    }

    fn try_lock(&self) -> bool {
        let irq = IrqRestore::save_and_disable();
        if self.lock.try_acquire() {
            self.enter(irq);
            true
        } else {
            // Dropping `irq` puts interrupts back as they were.
            false
        }
    }

    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock (this method's contract), so only
        // this CPU touches `holder`, and `enter` filled it.
        let holder = self.holder.with_mut(|holder| unsafe { (*holder).take() });
        let Some(Holder { mut rank, irq }) = holder else {
            unreachable!("IrqRawMutex unlocked while not locked");
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

impl fmt::Debug for IrqRawMutex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IrqRawMutex")
            .field("rank", &self.rank())
            .field("locked", &self.is_locked())
            .finish()
    }
}
