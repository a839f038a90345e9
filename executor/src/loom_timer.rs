//! Loom models of the timer protocol (`timer.rs`): arming, the tick and
//! cancellation racing on different threads (`cfg(all(test, loom))`; the
//! module path contains `loom`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p executor --release --target-dir target/loom loom_timer
//! ```
//!
//! The models run the real `Sleep`, timer list, lock and tick with loom's
//! atomics and cells. What they catch:
//!
//! - **a lost wake**: a sleep that returned `Pending` must have its (latest)
//!   waker woken by a tick at or after its deadline;
//! - **use after free**: a `Sleep`'s `Drop` ends with an exclusive access to
//!   its entry's waker slot, so a tick that touches the entry after letting
//!   the owner see `FIRED` is a race loom reports (causality violation);
//! - **a waker run or dropped under a timer lock**: the probe wakers assert
//!   that the calling thread holds no timer lock;
//! - **leaked or double-dropped wakers**: the probes count live clones.
//!
//! The tick is driven from its own thread, as a host ticker does: it stands
//! for the interrupt of core 0, and for another core's task context taking
//! the same lock.

use std::{boxed::Box, cell::Cell, pin::Pin};

use core::{
    future::Future,
    task::{Context, Poll, RawWaker, RawWakerVTable, Waker},
};

use loom::{
    sync::atomic::{AtomicU64, AtomicUsize, Ordering},
    thread,
};

use crate::{Config, CoreId, Executor, Platform, Sleep, timer::lock_held_here};

loom::thread_local! {
    static CORE: Cell<u32> = Cell::new(0);
}

/// A loom clock; cores are loom threads that never halt.
struct ClockPlatform {
    now: AtomicU64,
}

impl Platform for ClockPlatform {
    fn current_core(&self) -> CoreId {
        CoreId(CORE.with(Cell::get))
    }
    fn wake_core(&self, _core: CoreId) {}
    fn now_ns(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
    fn halt_if(&self, still_idle: &mut dyn FnMut() -> bool) {
        still_idle();
    }
    fn without_interrupts<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

type Exec = &'static Executor<ClockPlatform>;

fn executor(cores: usize) -> Exec {
    let platform = ClockPlatform {
        now: AtomicU64::new(0),
    };
    let config = Config {
        idle_spin_rounds: 0,
        ..Config::default()
    };
    Box::leak(Box::new(Executor::new(platform, cores, config)))
}

/// Counts wakes and live wakers; asserts that it is never woken or dropped
/// by a thread that holds a timer lock.
struct Probe {
    wakes: AtomicUsize,
    live: AtomicUsize,
}

impl Probe {
    fn new() -> &'static Probe {
        Box::leak(Box::new(Probe {
            wakes: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
        }))
    }

    fn waker(&'static self) -> Waker {
        self.live.fetch_add(1, Ordering::SeqCst);
        let data: *const () = core::ptr::from_ref(self).cast();
        // SAFETY: `data` is a leaked (`'static`) `Probe`, which is what
        // `PROBE_VTABLE` expects.
        unsafe { Waker::from_raw(RawWaker::new(data, &PROBE_VTABLE)) }
    }

    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }

    fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }
}

static PROBE_VTABLE: RawWakerVTable =
    RawWakerVTable::new(probe_clone, probe_wake, probe_wake_by_ref, probe_drop);

/// # Safety
/// `data` is the data pointer of a probe waker (a leaked `Probe`).
unsafe fn probe(data: *const ()) -> &'static Probe {
    // SAFETY: per the contract, a `'static` probe.
    unsafe { &*data.cast::<Probe>() }
}

unsafe fn probe_clone(data: *const ()) -> RawWaker {
    // SAFETY: a probe waker's data pointer.
    unsafe { probe(data) }.live.fetch_add(1, Ordering::SeqCst);
    RawWaker::new(data, &PROBE_VTABLE)
}

unsafe fn probe_wake(data: *const ()) {
    // SAFETY: a probe waker, consumed: wake by reference, then drop.
    unsafe {
        probe_wake_by_ref(data);
        probe_drop(data);
    }
}

unsafe fn probe_wake_by_ref(data: *const ()) {
    assert!(!lock_held_here(), "a waker was woken under a timer lock");
    // SAFETY: a probe waker's data pointer.
    unsafe { probe(data) }.wakes.fetch_add(1, Ordering::SeqCst);
}

unsafe fn probe_drop(data: *const ()) {
    assert!(!lock_held_here(), "a waker was dropped under a timer lock");
    // SAFETY: a probe waker's data pointer.
    let before = unsafe { probe(data) }.live.fetch_sub(1, Ordering::SeqCst);
    assert!(before > 0, "a waker was dropped twice");
}

type BoxedSleep = Pin<Box<Sleep<ClockPlatform>>>;

fn poll(sleep: &mut BoxedSleep, waker: &Waker) -> Poll<()> {
    sleep.as_mut().poll(&mut Context::from_waker(waker))
}

/// The tick of core 0 at time `now` (another thread).
fn ticker(exec: Exec, now: u64) -> thread::JoinHandle<usize> {
    thread::spawn(move || {
        exec.platform().now.store(now, Ordering::SeqCst);
        exec.tick_core(CoreId(0))
    })
}

/// Arming on core 0 races with core 0's tick passing the deadline: a sleep
/// that returned `Pending` is woken by that tick, never lost.
#[test]
fn loom_timer_arm_vs_tick_no_lost_wake() {
    loom::model(|| {
        let exec = executor(1);
        let probe = Probe::new();
        let task = thread::spawn(move || {
            let mut sleep: BoxedSleep = Box::pin(exec.sleep_until(10));
            let first = poll(&mut sleep, &probe.waker());
            (sleep, first)
        });
        let tick = ticker(exec, 10);
        let (mut sleep, first) = task.join().unwrap();
        let fired = tick.join().unwrap();
        if first.is_pending() {
            assert_eq!(fired, 1, "the tick missed an armed, due timer");
            assert_eq!(probe.wakes(), 1, "lost wake");
            assert!(poll(&mut sleep, &probe.waker()).is_ready());
        } else {
            assert_eq!((fired, probe.wakes()), (0, 0));
        }
        drop(sleep);
        assert_eq!(exec.timers_armed(CoreId(0)), 0);
        assert_eq!(probe.live(), 0, "a waker leaked");
    });
}

/// The reported bug: a sleep armed on core 0 belongs to a task stolen by
/// core 1, which polls it once and drops it while core 0's tick fires it.
/// No use after free, no waker under the lock, no leaked or doubled waker.
#[test]
fn loom_timer_fire_vs_drop_on_another_core() {
    loom::model(|| {
        let exec = executor(2);
        let probe = Probe::new();
        let mut sleep: BoxedSleep = Box::pin(exec.sleep_until(10));
        assert!(poll(&mut sleep, &probe.waker()).is_pending());
        let thief = thread::spawn(move || {
            CORE.with(|c| c.set(1));
            let ready = poll(&mut sleep, &probe.waker()).is_ready();
            drop(sleep);
            ready
        });
        let tick = ticker(exec, 10);
        let ready = thief.join().unwrap();
        let fired = tick.join().unwrap();
        // The thief may cancel first (its poll saw the deadline pass, or
        // its drop came before the tick): then nothing fires.
        assert!(fired <= 1);
        assert_eq!(probe.wakes(), fired);
        let _ = ready;
        assert_eq!(exec.timers_armed(CoreId(0)), 0);
        assert_eq!(probe.live(), 0, "a waker leaked");
    });
}

/// A migrated task re-polls its sleep on core 1 with a new waker while core
/// 0's tick fires it: if the poll returned `Pending`, the new waker is the one
/// woken (the old one never is after the swap).
#[test]
fn loom_timer_new_waker_vs_tick_no_lost_wake() {
    loom::model(|| {
        let exec = executor(2);
        let (old, new) = (Probe::new(), Probe::new());
        let mut sleep: BoxedSleep = Box::pin(exec.sleep_until(10));
        assert!(poll(&mut sleep, &old.waker()).is_pending());
        let task = thread::spawn(move || {
            CORE.with(|c| c.set(1));
            let first = poll(&mut sleep, &new.waker());
            (sleep, first)
        });
        let tick = ticker(exec, 10);
        let (sleep, first) = task.join().unwrap();
        let fired = tick.join().unwrap();
        // Nothing fires if the task's poll saw the deadline pass first.
        assert_eq!(old.wakes() + new.wakes(), fired, "one wake per fire");
        if first.is_pending() {
            assert_eq!(new.wakes(), 1, "lost wake: the new waker was not woken");
        }
        drop(sleep);
        assert_eq!(exec.timers_armed(CoreId(0)), 0);
        assert_eq!((old.live(), new.live()), (0, 0), "a waker leaked");
    });
}

/// Two due sleeps, fired over two passes of the tick (the batch holds one
/// waker under loom), while one of them is cancelled from another core.
#[test]
fn loom_timer_batches_vs_cancel() {
    loom::model(|| {
        let exec = executor(2);
        let (a, b) = (Probe::new(), Probe::new());
        let mut first: BoxedSleep = Box::pin(exec.sleep_until(5));
        let mut second: BoxedSleep = Box::pin(exec.sleep_until(10));
        assert!(poll(&mut first, &a.waker()).is_pending());
        assert!(poll(&mut second, &b.waker()).is_pending());
        let cancel = thread::spawn(move || {
            CORE.with(|c| c.set(1));
            drop(second);
        });
        let fired = ticker(exec, 10).join().unwrap();
        cancel.join().unwrap();
        assert_eq!(a.wakes(), 1);
        assert_eq!(fired, 1 + b.wakes());
        assert!(poll(&mut first, &a.waker()).is_ready());
        drop(first);
        assert_eq!(exec.timers_armed(CoreId(0)), 0);
        assert_eq!((a.live(), b.live()), (0, 0), "a waker leaked");
    });
}
