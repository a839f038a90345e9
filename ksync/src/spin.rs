//! [`SpinLock`]: a ranked test-and-test-and-set spin lock with exponential
//! backoff.
//!
//! The lock word is one `AtomicBool`. Acquiring is a `compare_exchange` from
//! `false` to `true` with `Acquire` ordering; releasing is a `Release` store of
//! `false`. So everything the previous holder wrote inside the critical section
//! happens-before everything the next holder does in its own.
//!
//! A waiter does not hammer the word with read-modify-writes (each would pull
//! the cache line over exclusively and slow down the holder too). After a failed
//! attempt it only *reads* the word — the line stays shared in every waiter's
//! cache — and between reads it executes `pause` ([`core::hint::spin_loop`]) 1,
//! 2, 4, ... times, capped at [`MAX_BACKOFF_SPINS`]. Only when the word reads
//! `false` does it try the `compare_exchange` again. The lock is not fair: under
//! heavy contention a CPU can lose repeatedly. Kernel critical sections are
//! short, so this is acceptable.

use core::fmt;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};

use crate::loom::{AtomicBool, Ordering, UnsafeCell, spin_loop};
use crate::rank::{LockRank, RankRecord};

/// Most `pause` instructions a waiter executes between two reads of a busy lock
/// word.
///
/// The backoff doubles from 1 up to this cap. The cap bounds how late a waiter
/// notices a release: 64 `pause`s are roughly 0.2–3 µs at 3 GHz (`pause` takes
/// ~10 cycles on older cores, ~140 on Skylake and later), short next to a time
/// slice yet long enough to keep the waiters off the bus. Under loom
/// (`cfg(loom)`) each `spin_loop` is a yield to the model checker,
/// and more of them only multiply the explored states, so the cap is 1 there.
pub const MAX_BACKOFF_SPINS: u32 = if cfg!(loom) { 1 } else { 64 };

/// A spin lock protecting a `T`, with a [rank](LockRank) in the kernel's lock
/// order.
///
/// Does not touch interrupts: a lock that an interrupt handler also takes must
/// be an [`IrqSpinLock`](crate::IrqSpinLock), or the handler can spin forever on
/// a lock its own CPU holds.
///
/// ```
/// use ksync::{LockRank, SpinLock};
///
/// static COUNTER: SpinLock<u64> = SpinLock::new(LockRank::FRAMES, 0);
///
/// *COUNTER.lock() += 1;
/// assert_eq!(*COUNTER.lock(), 1);
/// ```
///
/// The guard cannot leave the CPU (thread) that took the lock — it is not
/// `Send`, so it cannot be moved into another thread nor held across an
/// `.await` in a `Send` future:
///
/// ```compile_fail,E0277
/// use ksync::{LockRank, SpinLock};
///
/// static LOCK: SpinLock<u64> = SpinLock::new(LockRank::FRAMES, 0);
///
/// let guard = LOCK.lock();
/// std::thread::spawn(move || drop(guard));
/// ```
pub struct SpinLock<T> {
    locked: AtomicBool,
    rank: LockRank,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to the `T` to one holder at a time
// (`locked` is set by a successful `compare_exchange` and cleared only by that
// holder's guard), so sharing the lock between CPUs only ever *moves* access to
// the `T` between them: that needs `T: Send`, not `T: Sync`.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A new, unlocked lock of the given rank holding `value`.
    #[cfg(not(loom))]
    pub const fn new(rank: LockRank, value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            rank,
            data: UnsafeCell::new(value),
        }
    }

    /// A new, unlocked lock of the given rank holding `value`. (Not `const`
    /// under loom, whose atomics cannot be built in a constant.)
    #[cfg(loom)]
    pub fn new(rank: LockRank, value: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            rank,
            data: UnsafeCell::new(value),
        }
    }

    /// The lock's rank.
    pub const fn rank(&self) -> LockRank {
        self.rank
    }

    /// Spins until the lock is free, then takes it.
    ///
    /// # Panics
    ///
    /// In debug builds, before spinning, if the current CPU holds a lock whose
    /// rank is not below this one's (including this very lock) — see
    /// [`LockRank`].
    #[track_caller]
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        RankRecord::check(self.rank);
        self.acquire();
        SpinLockGuard::new(self)
    }

    /// Takes the lock if it is free right now, without waiting.
    ///
    /// Not checked against the lock order (it cannot wait, so it cannot
    /// deadlock), but the lock counts as held once taken.
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        self.try_acquire().then(|| SpinLockGuard::new(self))
    }

    /// Whether some CPU holds the lock. Only a hint: the answer may be stale by
    /// the time it is used.
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }

    /// Locks two locks of the **same rank** — e.g. two run queues during a
    /// migration — in a fixed global order, so that two CPUs locking the same
    /// pair can never deadlock. Returns the guards in argument order.
    ///
    /// The order is by address. Any one total order prevents the deadlock;
    /// for locks stored in a per-CPU array, address order is "lower CPU
    /// index first".
    ///
    /// # Panics
    ///
    /// If `a` and `b` are the same lock. In debug builds also if their ranks
    /// differ (lock them one after the other in rank order instead), or if the
    /// current CPU holds a lock of this rank or above.
    #[track_caller]
    pub fn lock_two<'a>(a: &'a Self, b: &'a Self) -> (SpinLockGuard<'a, T>, SpinLockGuard<'a, T>) {
        assert!(
            !core::ptr::eq(a, b),
            "lock_two: both arguments are the same lock"
        );
        debug_assert_eq!(a.rank, b.rank, "lock_two: locks of different ranks");
        RankRecord::check(a.rank);
        if Self::acquires_first(a, b) {
            a.acquire();
            let first = SpinLockGuard::new(a);
            b.acquire();
            (first, SpinLockGuard::new(b))
        } else {
            b.acquire();
            let first = SpinLockGuard::new(b);
            a.acquire();
            (SpinLockGuard::new(a), first)
        }
    }

    /// Whether `lock_two` takes `a` before `b`.
    pub(crate) fn acquires_first(a: &Self, b: &Self) -> bool {
        core::ptr::from_ref(a).addr() < core::ptr::from_ref(b).addr()
    }

    /// Clears the lock word whoever holds it: the emergency break of a fatal
    /// path (a console that must print the panic of the CPU that holds it).
    /// The holder's guard, if it is ever dropped, clears the word again and
    /// removes its own rank record; this call records nothing.
    ///
    /// # Safety
    ///
    /// The holder must never touch the value again (it was interrupted by a
    /// fatal path that does not resume it), or the value must stay valid
    /// under two writers at once (plain data that at worst comes out
    /// interleaved, such as an I/O port number). Otherwise two CPUs get
    /// `&mut T` at once.
    pub unsafe fn force_unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }

    /// Mutable access without locking: `&mut self` proves no one else can
    /// hold the lock.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` is exclusive, so no guard exists and no other
        // reference to the value can be live.
        self.data.with_mut(|value| unsafe { &mut *value })
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// Spins until the lock word goes from `false` to `true` under our hands.
    /// (No rank bookkeeping: for the raw mutex, which does its own.)
    pub(crate) fn acquire(&self) {
        let mut backoff = 1;
        while !self.try_acquire() {
            // Test before test-and-set: wait with plain loads until it looks free.
            while self.locked.load(Ordering::Relaxed) {
                for _ in 0..backoff {
                    spin_loop();
                }
                backoff = (backoff * 2).min(MAX_BACKOFF_SPINS);
            }
        }
    }

    /// One attempt at setting the lock word.
    pub(crate) fn try_acquire(&self) -> bool {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }
}

impl SpinLock<()> {
    /// Clears the lock word (`Release`), for the raw mutex, which has no
    /// guard. The caller must hold the lock and have released its rank.
    pub(crate) fn release_raw(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

impl<T: fmt::Debug> fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SpinLock");
        d.field("rank", &self.rank);
        // Not `lock()`: Debug must not wait, nor trip the rank checker.
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

/// Access to the value of a locked [`SpinLock`]; unlocks when dropped.
///
/// Not `Send` (the `PhantomData<*const ()>`): the rank bookkeeping and, for
/// the IRQ-safe variant, the saved interrupt flag belong to the CPU that took
/// the lock, so the guard must be dropped on that CPU. It also means the
/// compiler rejects holding a guard across an `.await` in a future that must be
/// `Send` (a spin lock held while the task is suspended would block every other
/// CPU that wants it).
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
    rank: RankRecord,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared `&SpinLockGuard` only gives out `&T` (`Deref`), so sharing
// the guard between threads is sharing `&T`, which `T: Sync` permits. The guard
// itself stays on its CPU (`!Send`).
unsafe impl<T: Sync> Sync for SpinLockGuard<'_, T> {}

impl<'a, T> SpinLockGuard<'a, T> {
    /// Wraps a lock the caller has just acquired.
    fn new(lock: &'a SpinLock<T>) -> Self {
        Self {
            lock,
            rank: RankRecord::record(lock.rank),
            _not_send: PhantomData,
        }
    }
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock, so no other guard exists and the
        // only references to the value are borrows of this guard, which the
        // signature ties to `&self`.
        self.lock.data.with(|value| unsafe { &*value })
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` excludes the guard's other
        // borrows.
        self.lock.data.with_mut(|value| unsafe { &mut *value })
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        // Forget the rank *before* unlocking: an interrupt arriving in between
        // then sees at worst a lock missing from the books (a missed check),
        // never a released lock still counted (a false violation).
        self.rank.release();
        self.lock.locked.store(false, Ordering::Release);
    }
}

impl<T: fmt::Debug> fmt::Debug for SpinLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
