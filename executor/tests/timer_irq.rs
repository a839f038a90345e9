//! The timer tick runs in an interrupt handler: it must not allocate or free
//! (the interrupted code may hold the heap lock) and must not run a waker
//! while it holds the timer-list lock (a waker may take other locks, or arm
//! a timer on the same core).
//!
//! A counting global allocator records allocations and frees made on a thread
//! while its "in tick" flag is set; probe wakers record whether the timer lock
//! of their core is held when they are woken or dropped.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    boxed::Box,
    cell::Cell,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Barrier, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll, RawWaker, RawWakerVTable, Waker},
    thread,
    time::Duration,
    vec::Vec,
};

use executor::{Config, CoreId, Executor, Platform, Sleep};

// ----- the counting allocator ---------------------------------------------

std::thread_local! {
    static IN_TICK: Cell<bool> = const { Cell::new(false) };
    static TICK_ALLOCS: Cell<usize> = const { Cell::new(0) };
    static TICK_FREES: Cell<usize> = const { Cell::new(0) };
}

/// `System`, counting this thread's allocations and frees while `IN_TICK`.
struct CountingAlloc;

fn count(counter: &'static std::thread::LocalKey<Cell<usize>>) {
    let in_tick = IN_TICK.try_with(Cell::get).unwrap_or(false);
    if in_tick {
        let _ = counter.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: every call is forwarded to `System` unchanged; the counting only
// touches `const`-initialised thread-locals without destructors, which never
// allocate.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(&TICK_ALLOCS);
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(&TICK_ALLOCS);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(&TICK_FREES);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(&TICK_ALLOCS);
        count(&TICK_FREES);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

// ----- the platform -------------------------------------------------------

std::thread_local! {
    static CORE: Cell<u32> = const { Cell::new(0) };
}

/// The test sets the clock and says which core a thread is.
#[derive(Default)]
struct TestPlatform {
    now: AtomicU64,
}

impl Platform for TestPlatform {
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

type Exec = &'static Executor<TestPlatform>;

fn executor(cores: usize) -> Exec {
    Box::leak(Box::new(Executor::new(
        TestPlatform::default(),
        cores,
        Config::default(),
    )))
}

fn set_now(exec: Exec, now: u64) {
    exec.platform().now.store(now, Ordering::SeqCst);
}

/// What one tick of `core` did: timers fired, allocations and frees.
#[derive(Debug, PartialEq, Eq)]
struct Tick {
    fired: usize,
    allocs: usize,
    frees: usize,
}

/// Ticks `core` on this thread as the interrupt would, counting allocations.
fn tick(exec: Exec, core: u32) -> Tick {
    TICK_ALLOCS.with(|c| c.set(0));
    TICK_FREES.with(|c| c.set(0));
    IN_TICK.with(|c| c.set(true));
    let fired = exec.tick_core(CoreId(core));
    IN_TICK.with(|c| c.set(false));
    Tick {
        fired,
        allocs: TICK_ALLOCS.with(Cell::get),
        frees: TICK_FREES.with(Cell::get),
    }
}

/// Runs `f` as the waker's own work, not the tick's: its allocations are not
/// counted.
fn outside_tick<R>(f: impl FnOnce() -> R) -> R {
    let was = IN_TICK.with(|c| c.replace(false));
    let r = f();
    IN_TICK.with(|c| c.set(was));
    r
}

// ----- probe wakers -------------------------------------------------------

type Hook = Box<dyn FnMut() + Send>;

/// Counts wakes and records every wake or drop of its wakers that happens
/// while the timer lock of `core` is held.
struct Probe {
    exec: Exec,
    core: CoreId,
    wakes: AtomicUsize,
    under_lock: AtomicUsize,
    /// Runs (once) on the first wake, outside the tick's accounting.
    on_wake: Mutex<Option<Hook>>,
}

impl Probe {
    fn new(exec: Exec, core: u32) -> Arc<Self> {
        Arc::new(Self {
            exec,
            core: CoreId(core),
            wakes: AtomicUsize::new(0),
            under_lock: AtomicUsize::new(0),
            on_wake: Mutex::new(None),
        })
    }

    fn check_lock(&self) {
        if self.exec.timer_lock_held(self.core) {
            self.under_lock.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A waker on this probe. The test keeps its own `Arc`, so dropping a
    /// waker never frees the probe.
    fn waker(self: &Arc<Self>) -> Waker {
        let data = Arc::into_raw(self.clone()).cast::<()>();
        // SAFETY: `data` is an `Arc<Probe>` reference owned by the new waker,
        // and `PROBE_VTABLE` treats it as one.
        unsafe { Waker::from_raw(RawWaker::new(data, &PROBE_VTABLE)) }
    }

    fn wakes(&self) -> usize {
        self.wakes.load(Ordering::SeqCst)
    }

    fn under_lock(&self) -> usize {
        self.under_lock.load(Ordering::SeqCst)
    }
}

static PROBE_VTABLE: RawWakerVTable =
    RawWakerVTable::new(probe_clone, probe_wake, probe_wake_by_ref, probe_drop);

/// # Safety
/// `data` is the data pointer of a live probe waker.
unsafe fn probe<'a>(data: *const ()) -> &'a Probe {
    // SAFETY: the waker owns an `Arc<Probe>` reference, so the probe lives.
    unsafe { &*data.cast::<Probe>() }
}

unsafe fn probe_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is an `Arc<Probe>` pointer of a live waker.
    unsafe { Arc::increment_strong_count(data.cast::<Probe>()) };
    RawWaker::new(data, &PROBE_VTABLE)
}

unsafe fn probe_wake(data: *const ()) {
    // SAFETY: a live waker, consumed: wake by reference, then drop.
    unsafe {
        probe_wake_by_ref(data);
        probe_drop(data);
    }
}

unsafe fn probe_wake_by_ref(data: *const ()) {
    // SAFETY: a live waker.
    let p = unsafe { probe(data) };
    p.check_lock();
    p.wakes.fetch_add(1, Ordering::SeqCst);
    let hook = p.on_wake.lock().unwrap().take();
    if let Some(hook) = hook {
        outside_tick(hook);
    }
}

unsafe fn probe_drop(data: *const ()) {
    // SAFETY: a live waker.
    unsafe { probe(data) }.check_lock();
    // SAFETY: the waker gives its `Arc` reference up; the test holds another.
    unsafe { Arc::decrement_strong_count(data.cast::<Probe>()) };
}

/// Polls `fut` once with `waker`.
fn poll_with<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

type BoxedSleep = Pin<Box<Sleep<TestPlatform>>>;

// ----- the tests ----------------------------------------------------------

/// The reported bug: a task stolen to core 1 polls and drops its `Sleep`
/// between the tick marking the timer fired and the tick letting go of the
/// entry; the tick must not be the one that frees it.
#[test]
fn tick_never_frees_when_a_stolen_task_dropped_its_sleep_first() {
    let exec = executor(2);
    let probe = Probe::new(exec, 0);
    set_now(exec, 0);
    let mut sleep: BoxedSleep = Box::pin(exec.sleep_until(100));
    assert!(poll_with(sleep.as_mut(), &probe.waker()).is_pending());
    assert_eq!(exec.timers_armed(CoreId(0)), 1);

    // Core 1 (the thief) holds the sleep; the wake lets it run once.
    let slot: Arc<Mutex<Option<BoxedSleep>>> = Arc::new(Mutex::new(Some(sleep)));
    let go = Arc::new(Barrier::new(2));
    let thief = {
        let (slot, go, probe) = (slot.clone(), go.clone(), probe.clone());
        thread::spawn(move || {
            CORE.with(|c| c.set(1));
            go.wait();
            let mut sleep = slot.lock().unwrap().take().expect("the sleep");
            let ready = poll_with(sleep.as_mut(), &probe.waker()).is_ready();
            drop(sleep);
            go.wait();
            ready
        })
    };
    let go_hook = go.clone();
    *probe.on_wake.lock().unwrap() = Some(Box::new(move || {
        go_hook.wait(); // the thief polls and drops the sleep now
        go_hook.wait();
    }));

    set_now(exec, 100);
    let t = tick(exec, 0);
    assert!(thief.join().unwrap(), "the fired sleep was not ready");
    assert_eq!(probe.wakes(), 1);
    assert_eq!(
        t,
        Tick {
            fired: 1,
            allocs: 0,
            frees: 0
        },
        "the tick allocated or freed"
    );
    assert_eq!(probe.under_lock(), 0, "a waker ran under the timer lock");
    assert_eq!(exec.timers_armed(CoreId(0)), 0);
}

/// Wakes, waker replacement and cancellation never run a waker (or drop
/// one) under the timer lock.
#[test]
fn no_waker_runs_or_drops_under_the_timer_lock() {
    let exec = executor(1);
    set_now(exec, 0);
    let probes: Vec<_> = (0..4).map(|_| Probe::new(exec, 0)).collect();
    let mut sleeps: Vec<BoxedSleep> = (0..4).map(|i| Box::pin(exec.sleep_until(10 + i))).collect();
    for (s, p) in sleeps.iter_mut().zip(&probes) {
        assert!(poll_with(s.as_mut(), &p.waker()).is_pending());
    }
    // Re-poll sleep 0 with another waker: the old one is dropped.
    let other = Probe::new(exec, 0);
    assert!(poll_with(sleeps[0].as_mut(), &other.waker()).is_pending());
    // Cancel sleep 3 while armed.
    drop(sleeps.pop());
    assert_eq!(exec.timers_armed(CoreId(0)), 3);

    set_now(exec, 20);
    let t = tick(exec, 0);
    assert_eq!(t.fired, 3);
    assert_eq!((t.allocs, t.frees), (0, 0), "the tick allocated or freed");
    assert_eq!(other.wakes(), 1);
    assert_eq!(probes[0].wakes(), 0, "the replaced waker was woken");
    assert_eq!((probes[1].wakes(), probes[2].wakes()), (1, 1));
    for s in &mut sleeps {
        assert!(poll_with(s.as_mut(), &Waker::noop().clone()).is_ready());
    }
    drop(sleeps);
    for p in probes.iter().chain([&other]) {
        assert_eq!(p.under_lock(), 0, "a waker ran or dropped under the lock");
    }
}

/// More sleepers than one wake batch fire in a single tick, in deadline
/// order, without allocating.
#[test]
fn one_tick_fires_more_than_a_batch_in_deadline_order() {
    const N: u64 = 100;
    let exec = executor(1);
    set_now(exec, 0);
    let order = Arc::new(Mutex::new(Vec::with_capacity(N as usize)));
    let probes: Vec<_> = (0..N).map(|_| Probe::new(exec, 0)).collect();
    // Armed in a scrambled order; equal deadlines keep their arming order.
    let mut sleeps: Vec<(u64, BoxedSleep)> = Vec::new();
    for i in 0..N {
        let deadline = 1 + (i * 37) % 50;
        let mut s: BoxedSleep = Box::pin(exec.sleep_until(deadline));
        assert!(poll_with(s.as_mut(), &probes[i as usize].waker()).is_pending());
        let order = order.clone();
        *probes[i as usize].on_wake.lock().unwrap() =
            Some(Box::new(move || order.lock().unwrap().push((deadline, i))));
        sleeps.push((deadline, s));
    }
    set_now(exec, 1_000);
    let t = tick(exec, 0);
    assert_eq!(
        t,
        Tick {
            fired: N as usize,
            allocs: 0,
            frees: 0
        }
    );
    let order = order.lock().unwrap().clone();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted, "not woken in (deadline, arming) order");
    assert!(probes.iter().all(|p| p.wakes() == 1 && p.under_lock() == 0));
    assert_eq!(exec.timers_armed(CoreId(0)), 0);
}

/// A task that migrated re-polls its sleep on another core: the timer stays
/// on the core that armed it and wakes the new waker.
#[test]
fn migrated_sleep_stays_on_its_core_and_wakes_the_new_waker() {
    let exec = executor(2);
    set_now(exec, 0);
    let (first, second) = (Probe::new(exec, 0), Probe::new(exec, 0));
    let mut sleep: BoxedSleep = Box::pin(exec.sleep_until(50));
    assert!(poll_with(sleep.as_mut(), &first.waker()).is_pending());
    CORE.with(|c| c.set(1));
    assert!(poll_with(sleep.as_mut(), &second.waker()).is_pending());
    CORE.with(|c| c.set(0));
    assert_eq!(exec.timers_armed(CoreId(0)), 1);
    assert_eq!(exec.timers_armed(CoreId(1)), 0);
    set_now(exec, 50);
    assert_eq!(tick(exec, 1).fired, 0);
    let t = tick(exec, 0);
    assert_eq!((t.fired, t.allocs, t.frees), (1, 0, 0));
    assert_eq!((first.wakes(), second.wakes()), (0, 1));
    assert!(poll_with(sleep.as_mut(), &second.waker()).is_ready());
}

// ----- timeout --------------------------------------------------------------

/// Pending until opened (then ready with 7); records when it is dropped.
#[derive(Clone, Default)]
struct Inner {
    open: Arc<AtomicBool>,
    dropped: Arc<AtomicBool>,
}

struct InnerFuture(Inner);

impl Future for InnerFuture {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<u32> {
        if self.0.open.load(Ordering::SeqCst) {
            Poll::Ready(7)
        } else {
            Poll::Pending
        }
    }
}

impl Drop for InnerFuture {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::SeqCst);
    }
}

#[test]
fn timeout_future_first_is_ok_and_cancels_the_timer() {
    let exec = executor(1);
    set_now(exec, 0);
    let inner = Inner::default();
    let probe = Probe::new(exec, 0);
    let mut t = Box::pin(exec.timeout_at(100, InnerFuture(inner.clone())));
    assert_eq!(t.deadline_ns(), 100);
    assert!(poll_with(t.as_mut(), &probe.waker()).is_pending());
    assert_eq!(exec.timers_armed(CoreId(0)), 1);
    inner.open.store(true, Ordering::SeqCst);
    assert_eq!(poll_with(t.as_mut(), &probe.waker()), Poll::Ready(Ok(7)));
    assert_eq!(exec.timers_armed(CoreId(0)), 0, "timer not cancelled");
    assert!(inner.dropped.load(Ordering::SeqCst));
    set_now(exec, 200);
    assert_eq!(tick(exec, 0).fired, 0);
    assert_eq!(probe.wakes(), 0);
}

#[test]
fn timeout_deadline_first_is_elapsed_never_early_and_drops_the_future() {
    let exec = executor(1);
    set_now(exec, 0);
    let inner = Inner::default();
    let probe = Probe::new(exec, 0);
    let mut t = std::pin::pin!(exec.timeout_at(100, InnerFuture(inner.clone())));
    assert!(poll_with(t.as_mut(), &probe.waker()).is_pending());
    set_now(exec, 99);
    assert_eq!(tick(exec, 0).fired, 0);
    assert!(poll_with(t.as_mut(), &probe.waker()).is_pending(), "early");
    assert!(!inner.dropped.load(Ordering::SeqCst));
    set_now(exec, 100);
    let fired = tick(exec, 0);
    assert_eq!((fired.fired, fired.allocs, fired.frees), (1, 0, 0));
    assert_eq!(probe.wakes(), 1);
    let Poll::Ready(Err(elapsed)) = poll_with(t.as_mut(), &probe.waker()) else {
        panic!("not elapsed");
    };
    assert!(
        inner.dropped.load(Ordering::SeqCst),
        "the inner future outlived the deadline"
    );
    assert_eq!(elapsed.deadline_ns(), 100);
    assert_eq!(
        elapsed.to_string(),
        "deadline elapsed (at 100 ns) before the future completed"
    );
}

#[test]
fn timeout_with_a_duration_in_a_task() {
    let exec = executor(1);
    set_now(exec, 1_000);
    let inner = Inner::default();
    let result = Arc::new(Mutex::new(None));
    let (r, fut) = (result.clone(), InnerFuture(inner.clone()));
    exec.spawn(executor::Priority::Normal, async move {
        let out = exec.timeout(Duration::from_nanos(50), fut).await;
        *r.lock().unwrap() = Some(out);
    })
    .detach();
    exec.run_until_idle();
    assert_eq!(exec.timers_armed(CoreId(0)), 1);
    set_now(exec, 1_049);
    tick(exec, 0);
    exec.run_until_idle();
    assert_eq!(*result.lock().unwrap(), None, "early");
    set_now(exec, 1_050);
    tick(exec, 0);
    exec.run_until_idle();
    let out = result.lock().unwrap().take().expect("not finished");
    assert_eq!(out.map_err(|e| e.deadline_ns()), Err(1_050));
    assert!(inner.dropped.load(Ordering::SeqCst));
}
