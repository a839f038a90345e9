//! Std threads as cores: [`ThreadPlatform`] and the [`Harness`] (the test
//! harness, and the benchmark harness against Tokio).
//!
//! The platform behaves like x86 where it matters to the idle protocol, not
//! like a friendlier machine:
//!
//! - `wake_core` sets the core's **one pending-interrupt bit** (same-vector
//!   IPIs merge, as in the LAPIC's IRR) and unparks the thread;
//! - an interrupt is **taken, and gone, at the next point where the core runs
//!   with interrupts enabled**: every `current_core` call the core thread
//!   makes outside `halt_if` (the executor makes one per step of its loop);
//! - `halt_if` runs the recheck "with interrupts off", then halts until an
//!   interrupt is *pending*: a stale unpark token from an interrupt already
//!   taken does not end the halt (the thread parks again);
//! - ticks are interrupts too: the ticker thread raises one on every core
//!   after expiring its timers, so a halted core wakes on its tick.
//!
//! Other parts: `now_ns` is an `Instant` taken at construction;
//! `without_interrupts` masks the "interrupt taking" above for the closure.

use std::{
    cell::Cell,
    future::Future,
    pin::pin,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
    thread::{self, JoinHandle as ThreadHandle, Thread},
    time::{Duration, Instant},
    vec::Vec,
};

use crate::{Config, CoreId, CoreStats, Executor, Platform};

std::thread_local! {
    static CURRENT_CORE: Cell<u32> = const { Cell::new(u32::MAX) };
    /// This thread's interrupt flag (IF): false inside `halt_if`'s recheck
    /// and `without_interrupts`.
    static INTERRUPTS_ON: Cell<bool> = const { Cell::new(true) };
}

/// One core thread's interrupt line.
#[derive(Debug, Default)]
struct Line {
    thread: OnceLock<Thread>,
    /// The pending-interrupt bit.
    pending: AtomicBool,
}

/// A [`Platform`] whose cores are std threads (module docs: x86 semantics).
#[derive(Debug)]
pub struct ThreadPlatform {
    lines: Vec<Line>,
    start: Instant,
    stop: AtomicBool,
}

impl ThreadPlatform {
    /// A platform for `cores` core threads.
    pub fn new(cores: usize) -> Self {
        Self {
            lines: (0..cores).map(|_| Line::default()).collect(),
            start: Instant::now(),
            stop: AtomicBool::new(false),
        }
    }

    /// Makes the calling thread core `core` (call first thing on a core
    /// thread).
    pub fn enter_core(&self, core: CoreId) {
        CURRENT_CORE.with(|c| c.set(core.0));
        let _ = self.lines[core.0 as usize].thread.set(thread::current());
    }

    /// Raises an interrupt on `core` (an IPI or a tick): sets its pending bit
    /// and lets its thread run if it is halted.
    pub fn interrupt(&self, core: CoreId) {
        if let Some(line) = self.lines.get(core.0 as usize) {
            line.pending.store(true, Ordering::Release);
            if let Some(t) = line.thread.get() {
                t.unpark();
            }
        }
    }

    /// Requests every core loop to stop and wakes all cores.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.lines.iter().filter_map(|l| l.thread.get()) {
            t.unpark();
        }
    }

    /// True once [`request_stop`](Self::request_stop) was called.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

impl Platform for ThreadPlatform {
    fn current_core(&self) -> CoreId {
        let core = CURRENT_CORE.with(Cell::get);
        if let Some(line) = self.lines.get(core as usize)
            && line.pending.load(Ordering::Relaxed)
            && INTERRUPTS_ON.with(Cell::get)
        {
            // Taken while awake: the handler runs (nothing to do) and the
            // interrupt is gone. (A swap, not a store: one raised meanwhile
            // stays pending, as a second IPI would in the IRR.)
            line.pending.swap(false, Ordering::AcqRel);
        }
        CoreId(core)
    }

    fn wake_core(&self, core: CoreId) {
        self.interrupt(core);
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn halt_if(&self, still_idle: &mut dyn FnMut() -> bool) {
        INTERRUPTS_ON.with(|on| on.set(false));
        if !self.stopping() && still_idle() {
            let line = &self.lines[CURRENT_CORE.with(Cell::get) as usize];
            // `sti; hlt`: only a pending interrupt ends the halt.
            while !line.pending.swap(false, Ordering::AcqRel) && !self.stopping() {
                thread::park();
            }
        }
        INTERRUPTS_ON.with(|on| on.set(true));
    }

    fn without_interrupts<R>(&self, f: impl FnOnce() -> R) -> R {
        let was = INTERRUPTS_ON.with(|on| on.replace(false));
        let r = f();
        INTERRUPTS_ON.with(|on| on.set(was));
        r
    }
}

/// An executor running on `cores` std threads plus a ticker thread.
pub struct Harness {
    exec: &'static Executor<ThreadPlatform>,
    cores: Vec<ThreadHandle<()>>,
    ticker: Option<ThreadHandle<()>>,
}

impl Harness {
    /// Starts `cores` core threads and a ticker thread ticking every core
    /// every `tick`. The executor is leaked (it must be `'static`).
    pub fn start(cores: usize, config: Config, tick: Duration) -> Self {
        let exec: &'static Executor<ThreadPlatform> = Box::leak(Box::new(Executor::new(
            ThreadPlatform::new(cores),
            cores,
            config,
        )));
        let core_threads = (0..cores)
            .map(|c| {
                thread::Builder::new()
                    .name(format!("core{c}"))
                    .spawn(move || {
                        exec.platform().enter_core(CoreId(c as u32));
                        exec.run_until(&|| exec.platform().stopping());
                    })
                    .expect("spawn core thread")
            })
            .collect();
        let ticker = thread::Builder::new()
            .name("ticker".into())
            .spawn(move || {
                while !exec.platform().stopping() {
                    thread::sleep(tick);
                    for c in 0..exec.cores() {
                        exec.tick_core(CoreId(c as u32));
                        exec.platform().interrupt(CoreId(c as u32));
                    }
                }
            })
            .expect("spawn ticker thread");
        Self {
            exec,
            cores: core_threads,
            ticker: Some(ticker),
        }
    }

    /// The executor.
    pub fn executor(&self) -> &'static Executor<ThreadPlatform> {
        self.exec
    }

    /// Stops the cores and the ticker and returns every core's counters.
    pub fn shutdown(mut self) -> Vec<CoreStats> {
        self.stop_threads();
        self.exec.all_stats()
    }

    fn stop_threads(&mut self) {
        self.exec.platform().request_stop();
        for t in self.cores.drain(..) {
            t.join().expect("core thread panicked");
        }
        if let Some(t) = self.ticker.take() {
            t.join().expect("ticker thread panicked");
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if !self.cores.is_empty() {
            self.stop_threads();
        }
    }
}

struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Blocks the calling (non-core) thread until `future` completes, e.g. a
/// [`JoinHandle`](crate::JoinHandle).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// A waker that counts its wakes: for tests that check exact wake-ups.
#[derive(Debug, Default)]
pub struct CountingWaker(std::sync::atomic::AtomicUsize);

impl CountingWaker {
    /// Wakes so far.
    pub fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A fresh [`CountingWaker`] and a `Waker` that bumps it.
pub fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let count = Arc::new(CountingWaker::default());
    (Arc::clone(&count), Waker::from(count))
}

/// Polls `future` once with `waker`.
pub fn poll_once<F: Future>(future: core::pin::Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::{
        sync::{
            Arc, Mutex,
            atomic::{AtomicU32, AtomicUsize, Ordering},
        },
        task::{Poll, Waker},
        time::Duration,
        vec::Vec,
    };

    use super::{Harness, block_on};
    use crate::{Config, Platform, Priority, yield_now};

    /// Two tasks taking turns.
    #[derive(Default)]
    struct PingPong {
        turn: AtomicU32,
        wakers: Mutex<[Option<Waker>; 2]>,
    }

    impl PingPong {
        async fn play(&self, me: u32, rounds: u32) {
            for _ in 0..rounds {
                std::future::poll_fn(|cx| {
                    if self.turn.load(Ordering::SeqCst) == me {
                        return Poll::Ready(());
                    }
                    self.wakers.lock().unwrap()[me as usize] = Some(cx.waker().clone());
                    if self.turn.load(Ordering::SeqCst) == me {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
                self.turn.store(1 - me, Ordering::SeqCst);
                let other = self.wakers.lock().unwrap()[1 - me as usize].take();
                if let Some(w) = other {
                    w.wake();
                }
            }
        }
    }

    #[test]
    fn four_cores_run_every_task_exactly_once() {
        const YIELDERS: usize = 1000;
        const YIELDS: usize = 10;
        const SLEEPERS: usize = 200;
        const PAIRS: usize = 100;
        const ROUNDS: u32 = 20;
        let harness = Harness::start(4, Config::default(), Duration::from_millis(1));
        let exec = harness.executor();
        let total = YIELDERS + SLEEPERS + 2 * PAIRS;
        let done: Arc<Vec<AtomicUsize>> =
            Arc::new((0..total).map(|_| AtomicUsize::new(0)).collect());
        let mut handles = Vec::new();
        let prio = |i: usize| [Priority::High, Priority::Normal, Priority::Low][i % 3];
        for i in 0..YIELDERS {
            let done = done.clone();
            handles.push(exec.spawn(prio(i), async move {
                for _ in 0..YIELDS {
                    yield_now().await;
                }
                done[i].fetch_add(1, Ordering::SeqCst);
            }));
        }
        for i in YIELDERS..YIELDERS + SLEEPERS {
            let done = done.clone();
            handles.push(exec.spawn(prio(i), async move {
                let d = Duration::from_micros(500 + (i as u64 % 5) * 1000);
                let start = exec.platform().now_ns();
                exec.sleep(d).await;
                assert!(
                    exec.platform().now_ns() - start >= d.as_nanos() as u64,
                    "woke early"
                );
                done[i].fetch_add(1, Ordering::SeqCst);
            }));
        }
        for p in 0..PAIRS {
            let game = Arc::new(PingPong::default());
            for side in 0..2u32 {
                let i = YIELDERS + SLEEPERS + 2 * p + side as usize;
                let (game, done) = (game.clone(), done.clone());
                handles.push(exec.spawn(Priority::Normal, async move {
                    game.play(side, ROUNDS).await;
                    done[i].fetch_add(1, Ordering::SeqCst);
                }));
            }
        }
        for h in handles {
            block_on(h).expect("no task is cancelled");
        }
        // Tasks are freed just after their JoinHandle completes.
        let t0 = std::time::Instant::now();
        while exec.live_tasks() != 0 && t0.elapsed() < Duration::from_secs(5) {
            std::thread::yield_now();
        }
        let live = exec.live_tasks();
        let stats = harness.shutdown();
        assert_eq!(live, 0, "tasks not freed: {stats:?}");
        assert!(done.iter().all(|d| d.load(Ordering::SeqCst) == 1));
        assert_eq!(exec.live_tasks(), 0);
        let sum = |f: fn(&crate::CoreStats) -> u64| stats.iter().map(f).sum::<u64>();
        assert_eq!(sum(|s| s.yields), (YIELDERS * YIELDS) as u64);
        assert!(sum(|s| s.tasks_run) >= total as u64);
        // Every poll is a first poll, a yield, or follows an effective wake.
        let polls = sum(|s| s.polls);
        let wakes = sum(|s| s.wakes_local + s.wakes_remote);
        assert!(polls <= total as u64 + wakes, "polls {polls} wakes {wakes}");
        assert!(polls >= (YIELDERS * (YIELDS + 1)) as u64);
        // Which cores run depends on the host's scheduler (on a busy 2-CPU
        // machine one core thread may steal everything before the others
        // wake), so no per-core assertion here.
    }
}
