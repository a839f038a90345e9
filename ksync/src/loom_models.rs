//! Loom models of [`SpinLock`]: every interleaving (up to loom's preemption
//! bound) of the real lock code, with loom checking the protected cell for
//! data races.
//!
//! Run with
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p ksync --lib --release`.
//!
//! The cell inside the lock is loom's `UnsafeCell`, so a guard handed out while
//! another is live would be reported as a concurrent access even if the
//! counter happened to come out right.

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;

use crate::{LockRank, SpinLock};

const RANK: LockRank = LockRank::new(5);

/// Two threads each add one to a counter under the lock, non-atomically (read,
/// then write): the count is exact and loom sees no racing access.
#[test]
fn two_threads_count_exactly() {
    loom::model(|| {
        let lock = Arc::new(SpinLock::new(RANK, 0_usize));
        let other = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || increment(&lock))
        };
        increment(&lock);
        other.join().unwrap();
        assert_eq!(*lock.lock(), 2);
        assert!(!lock.is_locked());
    });
}

/// Three threads: two `lock()`, one `try_lock()`s. The count matches the
/// grants. (Not three `lock()`ers: two waiters that spin, yielding to each
/// other, give loom an unbounded schedule that never runs the holder — loom's
/// documented limit for spin locks, not a bug in the lock.)
#[test]
fn three_threads_count_exactly() {
    loom::model(|| {
        let lock = Arc::new(SpinLock::new(RANK, 0_usize));
        let inside = Arc::new(AtomicBool::new(false));
        let locker = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || increment(&lock))
        };
        let trier = {
            let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
            thread::spawn(move || try_critical(&lock, &inside))
        };
        increment(&lock);
        locker.join().unwrap();
        let tried = trier.join().unwrap();
        assert_eq!(*lock.lock(), 2 + usize::from(tried));
    });
}

fn increment(lock: &SpinLock<usize>) {
    let mut guard = lock.lock();
    let value = *guard;
    *guard = value + 1;
}

/// `try_lock` never grants the lock while another thread holds it: an
/// "inside" flag set by every holder is never found already set.
#[test]
fn try_lock_is_exclusive() {
    loom::model(|| {
        let lock = Arc::new(SpinLock::new(RANK, 0_usize));
        let inside = Arc::new(AtomicBool::new(false));
        let contender = {
            let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
            thread::spawn(move || try_critical(&lock, &inside))
        };
        // The main thread uses the blocking path against the trying one.
        {
            let mut guard = lock.lock();
            assert!(!inside.swap(true, Ordering::Relaxed), "two holders");
            *guard += 1;
            inside.store(false, Ordering::Relaxed);
        }
        let contender_got_it = contender.join().unwrap();
        assert_eq!(*lock.lock(), 1 + usize::from(contender_got_it));
    });
}

/// Enters the critical section if `try_lock` allows; returns whether it did.
fn try_critical(lock: &SpinLock<usize>, inside: &AtomicBool) -> bool {
    match lock.try_lock() {
        Some(mut guard) => {
            assert!(!inside.swap(true, Ordering::Relaxed), "two holders");
            *guard += 1;
            inside.store(false, Ordering::Relaxed);
            true
        }
        None => false,
    }
}

/// Two threads that only `try_lock`: at most both succeed (one after the
/// other), never at once; and one that fails saw the lock held.
#[test]
fn try_lock_against_try_lock() {
    loom::model(|| {
        let lock = Arc::new(SpinLock::new(RANK, 0_usize));
        let inside = Arc::new(AtomicBool::new(false));
        let other = {
            let (lock, inside) = (Arc::clone(&lock), Arc::clone(&inside));
            thread::spawn(move || try_critical(&lock, &inside))
        };
        let mine = try_critical(&lock, &inside);
        let theirs = other.join().unwrap();
        assert!(mine || theirs, "a free lock refused both");
        assert_eq!(*lock.lock(), usize::from(mine) + usize::from(theirs));
    });
}

/// The raw lock keeps its holder's books in a cell inside the lock: two
/// threads locking and unlocking through `mutex_traits::RawMutex` count
/// exactly, and loom sees no racing access to that cell nor to the counter.
#[test]
fn raw_lock_books_and_data_do_not_race() {
    use crate::IrqRawMutex;
    use loom::cell::UnsafeCell;
    use mutex_traits::RawMutex;

    struct Counted {
        lock: IrqRawMutex,
        count: UnsafeCell<usize>,
    }
    // SAFETY: `count` is touched only with `lock` held.
    unsafe impl Sync for Counted {}

    fn bump(counted: &Counted) {
        counted.lock.lock();
        // SAFETY: the lock is held.
        counted.count.with_mut(|n| unsafe { *n += 1 });
        // SAFETY: locked just above by this thread.
        unsafe { counted.lock.unlock() };
    }

    loom::model(|| {
        let counted = Arc::new(Counted {
            lock: IrqRawMutex::new(),
            count: UnsafeCell::new(0),
        });
        let other = {
            let counted = Arc::clone(&counted);
            thread::spawn(move || bump(&counted))
        };
        bump(&counted);
        other.join().unwrap();
        assert!(!counted.lock.is_locked());
        // SAFETY: both threads are done.
        assert_eq!(counted.count.with(|n| unsafe { *n }), 2);
    });
}
