//! Host tests of the locks, with recording fakes for the kernel's hooks.
//!
//! The hooks are process-wide and installed once ([`install_fakes`]); the fakes
//! keep their state in thread-locals, so every test thread is its own "CPU"
//! with its own held ranks and interrupt flag, and tests running in parallel do
//! not see each other.

use std::cell::{Cell, RefCell};
#[cfg(debug_assertions)]
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;
use std::vec::Vec;

use crate::*;

// ---------------------------------------------------------------- fakes

/// One call into the fake interrupt controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IrqEvent {
    /// `save_and_disable`, which found interrupts enabled (or not).
    Save { were_enabled: bool },
    /// `restore`, with the state it was given and whether the watched lock was
    /// still held at that moment.
    Restore {
        to_enabled: bool,
        watched_locked: Option<bool>,
    },
}

thread_local! {
    /// This "CPU"'s held ranks (leaked: the hook hands out `&'static`).
    static HELD: &'static HeldRanks = Box::leak(Box::new(HeldRanks::new()));
    /// `false` simulates a CPU before its per-CPU block exists.
    static RANKS_ON: Cell<bool> = const { Cell::new(true) };
    /// This "CPU"'s interrupt flag.
    static IRQ_ENABLED: Cell<bool> = const { Cell::new(true) };
    /// Calls into the fake controller, in order.
    static IRQ_LOG: RefCell<Vec<IrqEvent>> = const { RefCell::new(Vec::new()) };
    /// A lock whose state `restore` records (to check unlock-before-restore).
    static WATCHED: Cell<Option<&'static IrqSpinLock<u32>>> = const { Cell::new(None) };
}

fn fake_held_ranks() -> Option<&'static HeldRanks> {
    RANKS_ON.get().then(|| HELD.with(|held| *held))
}

struct FakeIrq;

impl InterruptControl for FakeIrq {
    fn are_enabled(&self) -> bool {
        IRQ_ENABLED.get()
    }

    fn save_and_disable(&self) -> SavedIrqState {
        let were_enabled = IRQ_ENABLED.replace(false);
        IRQ_LOG.with_borrow_mut(|log| log.push(IrqEvent::Save { were_enabled }));
        SavedIrqState::new(were_enabled)
    }

    fn restore(&self, saved: SavedIrqState) {
        assert!(!IRQ_ENABLED.get(), "restore called with interrupts enabled");
        let watched_locked = WATCHED.get().map(IrqSpinLock::is_locked);
        IRQ_LOG.with_borrow_mut(|log| {
            log.push(IrqEvent::Restore {
                to_enabled: saved.were_enabled(),
                watched_locked,
            });
        });
        IRQ_ENABLED.set(saved.were_enabled());
    }
}

static FAKE_IRQ: FakeIrq = FakeIrq;

/// Installs both fakes (once per process) and resets this thread's state.
fn install_fakes() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        set_held_ranks_hook(fake_held_ranks).unwrap();
        set_interrupt_control(&FAKE_IRQ).unwrap();
    });
    RANKS_ON.set(true);
    IRQ_ENABLED.set(true);
    IRQ_LOG.with_borrow_mut(Vec::clear);
    assert!(held().is_empty(), "test thread starts holding locks");
}

fn held() -> &'static HeldRanks {
    HELD.with(|held| *held)
}

/// `held().count(rank) == n` in debug builds; release builds record nothing.
#[track_caller]
fn expect_count(rank: LockRank, n: u8) {
    let expected = if cfg!(debug_assertions) { n } else { 0 };
    assert_eq!(held().count(rank), expected);
}

/// `held().highest() == highest` in debug builds; release builds record nothing.
#[track_caller]
fn expect_highest(highest: Option<LockRank>) {
    let expected = if cfg!(debug_assertions) {
        highest
    } else {
        None
    };
    assert_eq!(held().highest(), expected);
}

fn irq_log() -> Vec<IrqEvent> {
    IRQ_LOG.with_borrow(Clone::clone)
}

const LOW: LockRank = LockRank::new(3);
const MID: LockRank = LockRank::new(5);
const HIGH: LockRank = LockRank::new(7);
/// A rank with no name, below the IRQ level, for the `lock_two` and
/// interrupt tests.
const PAIR: LockRank = LockRank::new(10);

// ---------------------------------------------------------------- SpinLock

#[test]
fn threads_incrementing_a_counter_lose_no_update() {
    install_fakes();
    const THREADS: u64 = 4;
    const INCREMENTS: u64 = 20_000;
    let lock = Arc::new(SpinLock::new(MID, 0_u64));
    let start = Arc::new(Barrier::new(THREADS as usize));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (lock, start) = (Arc::clone(&lock), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                for _ in 0..INCREMENTS {
                    // Read, yield the CPU now and then, write: a broken lock
                    // loses updates.
                    let mut guard = lock.lock();
                    let value = *guard;
                    if value % 1000 == 0 {
                        thread::yield_now();
                    }
                    *guard = value + 1;
                }
                assert!(held().is_empty());
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    assert_eq!(*lock.lock(), THREADS * INCREMENTS);
}

#[test]
fn try_lock_fails_while_held_and_succeeds_after() {
    install_fakes();
    let lock = SpinLock::new(MID, 1);
    assert!(!lock.is_locked());
    let guard = lock.try_lock().expect("free lock");
    assert!(lock.is_locked());
    assert!(lock.try_lock().is_none());
    // Also from another thread (another "CPU").
    thread::scope(|s| {
        s.spawn(|| assert!(lock.try_lock().is_none()));
    });
    drop(guard);
    assert!(!lock.is_locked());
    assert_eq!(*lock.try_lock().expect("released"), 1);
}

#[test]
fn lock_waits_for_the_holder() {
    install_fakes();
    let lock = SpinLock::new(MID, 0);
    let released = AtomicBool::new(false);
    let guard = lock.lock();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut guard = lock.lock();
            assert!(released.load(Ordering::SeqCst), "got the lock while held");
            *guard += 1;
        });
        thread::sleep(Duration::from_millis(20));
        assert!(!waiter.is_finished());
        released.store(true, Ordering::SeqCst);
        drop(guard);
    });
    assert_eq!(lock.into_inner(), 1);
}

#[test]
fn guard_gives_access_and_lock_gives_it_back() {
    install_fakes();
    let mut lock = SpinLock::new(MID, vec![1, 2]);
    lock.lock().push(3);
    assert_eq!(lock.lock().len(), 3);
    lock.get_mut().push(4);
    assert_eq!(format!("{:?}", lock.lock()), "[1, 2, 3, 4]");
    let guard = lock.lock();
    assert_eq!(
        format!("{lock:?}"),
        "SpinLock { rank: LockRank(5), data: <locked> }"
    );
    drop(guard);
    assert_eq!(lock.rank(), MID);
    assert_eq!(lock.into_inner(), vec![1, 2, 3, 4]);
}

#[test]
fn backoff_cap_is_a_power_of_two() {
    assert!(MAX_BACKOFF_SPINS.is_power_of_two());
}

// ---------------------------------------------------------------- ranks

#[test]
fn named_ranks_strictly_increase_and_print_their_names() {
    let table = LockRank::NAMED.map(|(rank, _)| rank);
    assert!(table.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        table.iter().max(),
        Some(&LockRank::CONSOLE),
        "console is innermost"
    );
    assert_eq!(format!("{:?}", LockRank::CONSOLE), "CONSOLE(30)");
    assert_eq!(format!("{}", LockRank::new(9)), "LockRank(9)");
    assert_eq!(LockRank::TIMERS.name(), Some("TIMERS"));
    assert_eq!(LockRank::new(31).value(), 31);
}

#[test]
#[should_panic(expected = "lock rank out of range")]
fn rank_beyond_count_is_rejected() {
    let _ = LockRank::new(LockRank::COUNT as u8);
}

#[test]
fn increasing_order_is_allowed_and_recorded() {
    install_fakes();
    let (low, mid, high) = (
        SpinLock::new(LOW, ()),
        SpinLock::new(MID, ()),
        SpinLock::new(HIGH, ()),
    );
    let a = low.lock();
    let b = mid.lock();
    expect_highest(Some(MID));
    let c = high.lock();
    expect_highest(Some(HIGH));
    expect_count(LOW, 1);
    drop((a, b, c));
    assert!(held().is_empty());
    // Skipping ranks is fine too.
    let a = low.lock();
    let c = high.lock();
    drop((c, a));
    assert!(held().is_empty());
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "acquiring a LockRank(3) lock while holding a LockRank(5) lock")]
fn decreasing_order_panics_naming_both_ranks() {
    install_fakes();
    let (low, mid) = (SpinLock::new(LOW, ()), SpinLock::new(MID, ()));
    let _mid = mid.lock();
    let _low = low.lock();
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "lock rank violation")]
fn two_locks_of_one_rank_panic() {
    install_fakes();
    let (a, b) = (SpinLock::new(MID, ()), SpinLock::new(MID, ()));
    let _a = a.lock();
    let _b = b.lock();
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "acquiring a CONSOLE(30) lock while holding a CONSOLE(30) lock")]
fn relocking_the_same_lock_panics_instead_of_hanging() {
    install_fakes();
    let console = IrqSpinLock::new(LockRank::CONSOLE, ());
    let _outer = console.lock();
    let _inner = console.lock();
}

#[test]
#[cfg(debug_assertions)]
fn violation_leaves_the_books_balanced() {
    install_fakes();
    let (low, mid) = (SpinLock::new(LOW, ()), SpinLock::new(MID, ()));
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let _mid = mid.lock();
        let _low = low.lock();
    }));
    assert!(result.is_err());
    assert!(held().is_empty());
    assert!(!low.is_locked() && !mid.is_locked());
}

#[test]
fn release_in_any_order() {
    install_fakes();
    let (low, mid, high) = (
        SpinLock::new(LOW, ()),
        SpinLock::new(MID, ()),
        SpinLock::new(HIGH, ()),
    );
    let a = low.lock();
    let b = mid.lock();
    drop(a);
    expect_count(LOW, 0);
    expect_highest(Some(MID));
    // Still holding MID: HIGH is fine, LOW would not be.
    let c = high.lock();
    drop(b);
    drop(c);
    assert!(held().is_empty());
}

#[test]
fn try_lock_is_not_order_checked_but_is_recorded() {
    install_fakes();
    let (low, high) = (SpinLock::new(LOW, ()), SpinLock::new(HIGH, ()));
    let h = high.lock();
    let l = low.try_lock().expect("free");
    expect_count(LOW, 1);
    expect_count(HIGH, 1);
    drop(h);
    // LOW is still held, so MID-and-above are allowed, LOW itself is not.
    expect_highest(Some(LOW));
    drop(l);
    assert!(held().is_empty());
}

#[test]
fn checks_are_skipped_without_per_cpu_state() {
    install_fakes();
    RANKS_ON.set(false); // as in early boot
    let (low, mid) = (SpinLock::new(LOW, ()), SpinLock::new(MID, ()));
    let m = mid.lock();
    let l = low.lock(); // out of order, but nothing to check against
    assert!(held().is_empty(), "nothing recorded");
    // The hook appears while locks are held: releasing them must not
    // underflow the books, and new locks are checked from now on.
    RANKS_ON.set(true);
    drop(m);
    drop(l);
    assert!(held().is_empty());
    let _m = mid.lock();
    expect_highest(Some(MID));
}

#[test]
fn guard_released_after_the_hook_disappears_balances_its_own_books() {
    install_fakes();
    let lock = SpinLock::new(MID, ());
    let guard = lock.lock();
    RANKS_ON.set(false);
    drop(guard);
    RANKS_ON.set(true);
    assert!(held().is_empty());
}

// ---------------------------------------------------------------- lock_two

#[test]
fn lock_two_returns_guards_in_argument_order() {
    install_fakes();
    let (x, y) = (SpinLock::new(MID, 'x'), SpinLock::new(MID, 'y'));
    for (a, b, expected) in [(&x, &y, ('x', 'y')), (&y, &x, ('y', 'x'))] {
        let (ga, gb) = SpinLock::lock_two(a, b);
        assert_eq!((*ga, *gb), expected);
        assert!(x.is_locked() && y.is_locked());
        expect_count(MID, 2);
        // Above the pair's rank is fine.
        drop(SpinLock::new(HIGH, ()).lock());
        drop((ga, gb));
    }
    let (ga, gb) = SpinLock::lock_two(&y, &x);
    assert_eq!((*ga, *gb), ('y', 'x'));
    drop(gb); // either order
    drop(ga);
    assert!(held().is_empty());
}

#[test]
fn lock_two_acquires_in_address_order_whatever_the_argument_order() {
    install_fakes();
    let pair = [SpinLock::new(MID, 0), SpinLock::new(MID, 0)];
    let (lower, upper) = (&pair[0], &pair[1]); // lower address: "lower CPU index"
    assert!(SpinLock::acquires_first(lower, upper));
    for upper_first in [false, true] {
        // Hold the upper lock elsewhere; lock_two must take the lower one and
        // then wait for the upper one.
        let holder = upper.lock();
        thread::scope(|s| {
            let locker = s.spawn(|| {
                let (g1, g2) = if upper_first {
                    SpinLock::lock_two(upper, lower)
                } else {
                    SpinLock::lock_two(lower, upper)
                };
                drop((g1, g2));
            });
            while !lower.is_locked() {
                thread::yield_now();
            }
            thread::sleep(Duration::from_millis(10));
            assert!(
                !locker.is_finished(),
                "lock_two finished without the upper lock"
            );
            assert!(
                lower.is_locked(),
                "lock_two did not take the lower lock first"
            );
            drop(holder);
        });
        assert!(!lower.is_locked() && !upper.is_locked());
    }
}

#[test]
fn opposite_lock_two_calls_do_not_deadlock() {
    install_fakes();
    let locks = Arc::new([SpinLock::new(PAIR, 0_u64), SpinLock::new(PAIR, 0)]);
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let locks = Arc::clone(&locks);
            thread::spawn(move || {
                for _ in 0..20_000 {
                    let (mut a, mut b) = SpinLock::lock_two(&locks[i], &locks[1 - i]);
                    *a += 1;
                    *b += 1;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let first = *locks[0].lock();
    assert_eq!(first + *locks[1].lock(), 80_000);
}

#[test]
#[should_panic(expected = "same lock")]
fn lock_two_of_one_lock_panics() {
    install_fakes();
    let lock = SpinLock::new(MID, ());
    let _ = SpinLock::lock_two(&lock, &lock);
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "different ranks")]
fn lock_two_of_different_ranks_panics() {
    install_fakes();
    let (a, b) = (SpinLock::new(MID, ()), SpinLock::new(HIGH, ()));
    let _ = SpinLock::lock_two(&a, &b);
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "acquiring a LockRank(10) lock while holding a LockRank(10) lock")]
fn same_rank_after_lock_two_panics() {
    install_fakes();
    let rq = [
        SpinLock::new(PAIR, ()),
        SpinLock::new(PAIR, ()),
        SpinLock::new(PAIR, ()),
    ];
    let _pair = SpinLock::lock_two(&rq[0], &rq[1]);
    let _third = rq[2].lock();
}

// ---------------------------------------------------------------- IrqSpinLock

#[test]
fn irq_lock_disables_then_restores_after_unlocking() {
    install_fakes();
    static LOCK: IrqSpinLock<u32> = IrqSpinLock::new(LockRank::CONSOLE, 0);
    WATCHED.set(Some(&LOCK));
    {
        let mut guard = LOCK.lock();
        assert!(!IRQ_ENABLED.get(), "interrupts off while held");
        *guard += 1;
    }
    WATCHED.set(None);
    assert!(IRQ_ENABLED.get(), "interrupts back on");
    assert_eq!(
        irq_log(),
        [
            IrqEvent::Save { were_enabled: true },
            IrqEvent::Restore {
                to_enabled: true,
                watched_locked: Some(false) // unlocked before restoring
            },
        ]
    );
    assert!(held().is_empty());
}

#[test]
fn nested_irq_locks_keep_interrupts_off_until_the_outer_one_goes() {
    install_fakes();
    let outer = IrqSpinLock::new(PAIR, ());
    let inner = IrqSpinLock::new(LockRank::CONSOLE, ());
    let o = outer.lock();
    let i = inner.lock();
    assert!(!IRQ_ENABLED.get());
    drop(i);
    assert!(!IRQ_ENABLED.get(), "inner guard enabled interrupts");
    drop(o);
    assert!(IRQ_ENABLED.get());
    assert_eq!(
        irq_log(),
        [
            IrqEvent::Save { were_enabled: true },
            IrqEvent::Save {
                were_enabled: false
            },
            IrqEvent::Restore {
                to_enabled: false,
                watched_locked: None
            },
            IrqEvent::Restore {
                to_enabled: true,
                watched_locked: None
            },
        ]
    );
}

#[test]
fn irq_lock_with_interrupts_already_off_leaves_them_off() {
    install_fakes();
    IRQ_ENABLED.set(false);
    let lock = IrqSpinLock::new(PAIR, ());
    drop(lock.lock());
    assert!(!IRQ_ENABLED.get());
}

#[test]
fn irq_try_lock_failure_restores_at_once() {
    install_fakes();
    let lock = IrqSpinLock::new(PAIR, ());
    thread::scope(|s| {
        let guard = lock.lock();
        s.spawn(|| {
            IRQ_ENABLED.set(true);
            assert!(lock.try_lock().is_none());
            assert!(IRQ_ENABLED.get(), "failed try_lock left interrupts off");
        })
        .join()
        .unwrap();
        drop(guard);
    });
    let guard = lock.try_lock().expect("free");
    assert!(!IRQ_ENABLED.get());
    drop(guard);
    assert!(IRQ_ENABLED.get());
}

#[test]
fn irq_lock_two_saves_once_and_restores_once_after_both_unlock() {
    install_fakes();
    static RQ: [IrqSpinLock<u32>; 2] = [IrqSpinLock::new(PAIR, 10), IrqSpinLock::new(PAIR, 20)];
    WATCHED.set(Some(&RQ[0]));
    {
        let mut pair = IrqSpinLock::lock_two(&RQ[1], &RQ[0]);
        assert_eq!(pair.get(), (&20, &10));
        let (from, to) = pair.get_mut();
        *from -= 1;
        *to += 1;
        assert!(!IRQ_ENABLED.get());
        expect_count(PAIR, 2);
    }
    WATCHED.set(None);
    assert!(IRQ_ENABLED.get());
    assert!(held().is_empty());
    assert_eq!(
        irq_log(),
        [
            IrqEvent::Save { were_enabled: true },
            IrqEvent::Restore {
                to_enabled: true,
                watched_locked: Some(false)
            },
        ]
    );
    // (One at a time: both guards alive in one expression is a same-rank
    // violation, which the checker reports.)
    assert_eq!(*RQ[0].lock(), 11);
    assert_eq!(*RQ[1].lock(), 19);
}

#[test]
#[cfg(debug_assertions)]
fn irq_lock_rank_violation_restores_interrupts_while_unwinding() {
    install_fakes();
    let (rq, console) = (
        IrqSpinLock::new(PAIR, ()),
        IrqSpinLock::new(LockRank::CONSOLE, ()),
    );
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let _c = console.lock();
        let _r = rq.lock();
    }));
    assert!(result.is_err());
    assert!(IRQ_ENABLED.get());
    assert!(held().is_empty());
}

#[test]
fn irq_lock_counter_across_threads() {
    install_fakes();
    const THREADS: u32 = 4;
    const INCREMENTS: u32 = 10_000;
    let lock = IrqSpinLock::new(PAIR, 0_u32);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..INCREMENTS {
                    *lock.lock() += 1;
                    assert!(IRQ_ENABLED.get());
                }
            });
        }
    });
    assert_eq!(lock.into_inner(), THREADS * INCREMENTS);
}

// ---------------------------------------------------------------- IrqRawMutex

use maitake_sync::blocking;
use mutex_traits::RawMutex;

/// Runs `future` to completion on this thread, parking between polls.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

#[test]
fn raw_mutex_disables_ranks_then_unlocks_before_restoring() {
    install_fakes();
    let lock = IrqRawMutex::new();
    assert_eq!(lock.rank(), LockRank::WAIT_LIST);
    lock.lock();
    assert!(lock.is_locked());
    assert!(!IRQ_ENABLED.get(), "interrupts off while held");
    expect_count(LockRank::WAIT_LIST, 1);
    // SAFETY: this thread locked it just above.
    unsafe { lock.unlock() };
    assert!(!lock.is_locked());
    assert!(IRQ_ENABLED.get(), "interrupts back on");
    assert!(held().is_empty());
    assert_eq!(
        irq_log(),
        [
            IrqEvent::Save { were_enabled: true },
            IrqEvent::Restore {
                to_enabled: true,
                watched_locked: None
            },
        ]
    );
}

#[test]
fn raw_mutex_try_lock_failure_restores_at_once() {
    install_fakes();
    let lock = IrqRawMutex::new();
    lock.lock();
    thread::scope(|s| {
        s.spawn(|| {
            install_fakes();
            assert!(!lock.try_lock());
            assert!(IRQ_ENABLED.get(), "failed try_lock left interrupts off");
            assert!(held().is_empty());
        })
        .join()
        .unwrap();
    });
    // SAFETY: this thread holds it.
    unsafe { lock.unlock() };
    assert!(lock.try_lock());
    assert!(!IRQ_ENABLED.get());
    // SAFETY: taken by the try_lock above.
    unsafe { lock.unlock() };
    assert!(IRQ_ENABLED.get());
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "acquiring a WAIT_LIST(26) lock while holding a CONSOLE(30) lock")]
fn raw_mutex_checks_the_rank_order() {
    install_fakes();
    let console = IrqSpinLock::new(LockRank::CONSOLE, ());
    let _c = console.lock();
    IrqRawMutex::new().lock();
}

#[test]
fn raw_mutex_excludes_across_threads() {
    install_fakes();
    const THREADS: u32 = 4;
    const INCREMENTS: u32 = 10_000;
    let counter = blocking::Mutex::new_with_raw_mutex(0_u32, IrqRawMutex::new());
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                install_fakes();
                for _ in 0..INCREMENTS {
                    counter.with_lock(|n| *n += 1);
                    assert!(IRQ_ENABLED.get());
                }
                assert!(held().is_empty());
            });
        }
    });
    assert_eq!(counter.into_inner(), THREADS * INCREMENTS);
}

/// A `maitake-sync` wait queue over the raw mutex (what `executor::sync`'s
/// primitives are), woken from another host thread ("CPU"): no lock is left
/// held, interrupts come back on, and the rank checker sees no nesting.
#[test]
fn wait_queue_over_the_irq_raw_mutex() {
    install_fakes();
    let queue = Arc::new(maitake_sync::WaitQueue::new_with_raw_mutex(
        IrqRawMutex::new(),
    ));
    let waker = {
        let queue = Arc::clone(&queue);
        thread::spawn(move || {
            install_fakes();
            // Until the waiter is queued, a `wake` is stored for the next
            // waiter; either way the waiter returns.
            queue.wake();
            assert!(IRQ_ENABLED.get() && held().is_empty());
        })
    };
    block_on(queue.wait()).unwrap();
    waker.join().unwrap();
    assert!(IRQ_ENABLED.get() && held().is_empty());
}

// ---------------------------------------------------------------- RawSpinLock

#[test]
fn raw_spin_lock_ranks_without_touching_interrupts() {
    install_fakes();
    let lock: lock_api::Mutex<RawSpinLock<{ LockRank::HEAP.value() }>, u32> =
        lock_api::Mutex::new(0);
    {
        let mut guard = lock.lock();
        *guard += 1;
        expect_count(LockRank::HEAP, 1);
        assert!(IRQ_ENABLED.get(), "a RawSpinLock leaves interrupts alone");
    }
    assert!(held().is_empty());
    assert!(irq_log().is_empty());
    assert_eq!(*lock.lock(), 1);
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "acquiring a HEAP(16) lock while holding a TIMERS(20) lock")]
fn allocating_under_an_irq_level_lock_is_a_rank_violation() {
    install_fakes();
    let timers = IrqSpinLock::new(LockRank::TIMERS, ());
    let heap: lock_api::Mutex<RawSpinLock<{ LockRank::HEAP.value() }>, ()> =
        lock_api::Mutex::new(());
    let _t = timers.lock();
    let _h = heap.lock();
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "TIMERS(20) is an IRQ-level lock, acquired with interrupts enabled")]
fn an_irq_level_spin_lock_with_interrupts_on_panics() {
    install_fakes();
    let timers = SpinLock::new(LockRank::TIMERS, ());
    let _t = timers.lock();
}

#[test]
fn an_irq_level_spin_lock_with_interrupts_off_is_fine() {
    install_fakes();
    // As the executor takes its timer lists: a plain spin lock, inside the
    // platform's `without_interrupts`.
    IRQ_ENABLED.set(false);
    let timers = SpinLock::new(LockRank::TIMERS, 0);
    *timers.lock() += 1;
    expect_count(LockRank::TIMERS, 0);
    IRQ_ENABLED.set(true);
    assert_eq!(timers.into_inner(), 1);
    // Below the IRQ level, interrupts may be on.
    assert!(!LockRank::HEAP.is_irq_level() && LockRank::TIMERS.is_irq_level());
    drop(SpinLock::new(LockRank::HEAP, ()).lock());
}

#[test]
fn raw_spin_lock_excludes_across_threads() {
    install_fakes();
    const THREADS: u32 = 4;
    const INCREMENTS: u32 = 10_000;
    let counter: lock_api::Mutex<RawSpinLock<5>, u32> = lock_api::Mutex::new(0);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                install_fakes();
                for _ in 0..INCREMENTS {
                    *counter.lock() += 1;
                }
                assert!(held().is_empty());
            });
        }
    });
    assert_eq!(counter.into_inner(), THREADS * INCREMENTS);
}

/// The `(rank, name)` rows of a Markdown rank table: every table row whose
/// first cell is a number and whose second names a rank in backticks
/// (`` `IPC` `` or `` [`LockRank::IPC`] ``).
fn rank_table_rows(text: &str) -> Vec<(u8, String)> {
    text.lines()
        .map(|line| line.trim_start_matches("//!").trim())
        .filter(|line| line.starts_with('|'))
        .filter_map(|line| {
            let mut cells = line.split('|').skip(1).map(str::trim);
            let rank = cells.next()?.parse::<u8>().ok()?;
            let cell = cells.next()?;
            let name = cell.split('`').nth(1)?;
            let name = name.rsplit("::").next()?;
            let name: String = name
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            Some((rank, name))
        })
        .collect()
}

/// The rank tables in `docs/architecture.md` and in `rank.rs`'s module docs
/// list exactly the named ranks of the code, with their values.
#[test]
fn the_docs_rank_tables_match_the_code() {
    let code: Vec<(u8, String)> = LockRank::NAMED
        .iter()
        .map(|(rank, name)| (rank.value(), (*name).to_owned()))
        .collect();
    let architecture = include_str!("../../docs/architecture.md");
    let section = architecture
        .split("## Locks and their order")
        .nth(1)
        .expect("docs/architecture.md has a 'Locks and their order' section");
    let section = section.split("\n## ").next().unwrap_or(section);
    assert_eq!(
        rank_table_rows(section),
        code,
        "docs/architecture.md's rank table"
    );
    assert_eq!(
        rank_table_rows(include_str!("rank.rs")),
        code,
        "rank.rs's rank table"
    );
}

#[test]
fn a_stale_rank_table_is_caught() {
    let stale = "| 4 | `IPC` (ports) | spin | |\n| 18 | `PIT` | irq | |\n";
    assert_eq!(
        rank_table_rows(stale),
        vec![(4, "IPC".to_owned()), (18, "PIT".to_owned())]
    );
    let code: Vec<(u8, String)> = LockRank::NAMED
        .iter()
        .map(|(rank, name)| (rank.value(), (*name).to_owned()))
        .collect();
    assert_ne!(rank_table_rows(stale), code);
}
