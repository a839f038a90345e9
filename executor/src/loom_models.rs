//! Loom models of the run queue, the queued bit, the idle protocol, stealing
//! and migration (`cfg(all(test, loom))`; the module path contains `loom`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p executor --release --target-dir target/loom loom
//! ```
//!
//! The models run the real executor code with loom's atomics, on a platform
//! whose cores are loom threads and whose interrupts behave like x86's, not
//! like a friendly unpark token:
//!
//! - each core has **one pending-interrupt bit** (the LAPIC IRR holds one bit
//!   per vector: a second IPI sent before the first is taken merges with it);
//! - an interrupt is **taken, and gone, at the next point where the core runs
//!   with interrupts enabled** — here every `Platform::current_core` call the
//!   core makes outside `halt_if`, which the executor makes at least once per
//!   step of its loop — so an IPI that arrives while the core is awake does
//!   *not* end a later halt;
//! - `halt_if` runs the recheck with interrupts off and then halts until an
//!   interrupt is pending (`sti; hlt`): only an interrupt still pending, or
//!   one that arrives during the halt, ends it;
//! - a timer tick is an interrupt like any other: a "tick" thread can end a
//!   halt at any moment, so models cover a core that wakes for a reason other
//!   than the IPI and goes back to sleep (several sleep episodes).
//!
//! A lost wake-up shows up as a loom deadlock: every thread blocked, the core
//! parked in its halt with work queued.

use std::{
    boxed::Box,
    cell::Cell,
    future::Future,
    pin::Pin,
    sync::{
        Mutex,
        atomic::{AtomicBool as StdAtomicBool, AtomicUsize as StdAtomicUsize, Ordering as Std},
    },
    task::{Context, Poll, Waker},
    vec::Vec,
};

use loom::{
    sync::atomic::{AtomicBool, Ordering},
    thread,
};

use crate::{Config, CoreId, Executor, IpiLatch, JoinError, Platform, Priority, victim_order};

loom::thread_local! {
    /// The core this loom thread is (`u32::MAX`: not a core).
    static CORE: Cell<u32> = Cell::new(u32::MAX);
    /// This thread's interrupt flag (IF): false inside `halt_if`'s recheck.
    static IF: Cell<bool> = Cell::new(true);
}

/// One modelled CPU: its pending-interrupt bits (the LAPIC's IRR bits of the
/// RESCHEDULE and timer vectors), the in-flight latch its wakers use, and
/// the loom thread that is it.
struct Cpu {
    resched: AtomicBool,
    tick: AtomicBool,
    /// The kernel's one-RESCHED-in-flight latch, the very type the kernel
    /// uses: claimed by `wake_core`, released when the IPI is taken.
    latch: IpiLatch,
    thread: Mutex<Option<thread::Thread>>,
    /// RESCHED IPIs sent to this core (claims of the latch).
    ipis: StdAtomicUsize,
    /// The model asked this core's loop to stop: a halt ends (test
    /// scaffolding, not part of the modelled protocol).
    stop: StdAtomicBool,
}

impl Cpu {
    /// Takes the pending interrupts, if any; runs the RESCHED handler's part
    /// (release the latch). Returns whether any was taken. (Each bit is
    /// taken with a compare-exchange, not a `swap`: loom 0.7.3 can let an
    /// unconditional RMW in a park loop miss the newest store, which shows
    /// up as a false deadlock.)
    fn take_interrupts(&self) -> bool {
        let take = |bit: &AtomicBool| {
            bit.compare_exchange(true, false, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        };
        let resched = take(&self.resched);
        if resched {
            self.latch.delivered();
        }
        let tick = take(&self.tick);
        resched || tick
    }
}

/// Cores are loom threads; interrupts behave as on x86 (module docs).
struct LoomPlatform {
    cpus: Vec<Cpu>,
}

impl LoomPlatform {
    fn new(cores: usize) -> Self {
        Self {
            cpus: (0..cores)
                .map(|_| Cpu {
                    resched: AtomicBool::new(false),
                    tick: AtomicBool::new(false),
                    latch: IpiLatch::new(),
                    thread: Mutex::new(None),
                    ipis: StdAtomicUsize::new(0),
                    stop: StdAtomicBool::new(false),
                })
                .collect(),
        }
    }

    /// Makes the calling loom thread core `core`.
    fn enter(&self, core: u32) {
        CORE.with(|c| c.set(core));
        *self.cpus[core as usize].thread.lock().unwrap() = Some(thread::current());
    }

    /// Sets one of `core`'s pending bits (merging with one already pending)
    /// and, if it is halted, lets it run.
    fn raise(&self, core: u32, tick: bool) {
        let cpu = &self.cpus[core as usize];
        if tick {
            cpu.tick.store(true, Ordering::Release);
        } else {
            cpu.resched.store(true, Ordering::Release);
        }
        let t = cpu.thread.lock().unwrap().clone();
        if let Some(t) = t {
            t.unpark();
        }
    }

    /// A timer tick on `core`: an interrupt like any other.
    fn interrupt(&self, core: u32) {
        self.raise(core, true);
    }

    /// Asks `core`'s `run_until` loop to stop: ends its halt for good (the
    /// contract of `Executor::run_until`).
    fn request_stop(&self, core: u32) {
        self.cpus[core as usize].stop.store(true, Std::SeqCst);
        self.interrupt(core);
    }

    /// RESCHED IPIs sent to `core`.
    fn ipis(&self, core: u32) -> usize {
        self.cpus[core as usize].ipis.load(Std::SeqCst)
    }
}

impl Platform for LoomPlatform {
    fn current_core(&self) -> CoreId {
        let core = CORE.with(Cell::get);
        if let Some(cpu) = self.cpus.get(core as usize)
            && IF.with(Cell::get)
        {
            // Taken while awake: the handlers run and the interrupts are gone.
            cpu.take_interrupts();
        }
        CoreId(core)
    }
    fn wake_core(&self, core: CoreId) {
        // What the kernel's `wake_core` does: one RESCHED in flight.
        let cpu = &self.cpus[core.0 as usize];
        if cpu.latch.try_claim() {
            cpu.ipis.fetch_add(1, Std::SeqCst);
            self.raise(core.0, false);
        }
    }
    fn now_ns(&self) -> u64 {
        0
    }
    fn halt_if(&self, still_idle: &mut dyn FnMut() -> bool) {
        IF.with(|f| f.set(false));
        if still_idle() {
            let cpu = &self.cpus[CORE.with(Cell::get) as usize];
            // `sti; hlt`: only a pending interrupt ends the halt. A stale
            // unpark token (from an interrupt already taken) wakes the loom
            // thread spuriously; it halts again.
            while !cpu.take_interrupts() && !cpu.stop.load(Std::SeqCst) {
                thread::park();
            }
        }
        IF.with(|f| f.set(true));
    }
    fn without_interrupts<R>(&self, f: impl FnOnce() -> R) -> R {
        let was = IF.with(|i| i.replace(false));
        let r = f();
        IF.with(|i| i.set(was));
        r
    }
}

/// A loom thread that is core `core` and runs its loop until `stop` holds
/// for the value of `watch`.
fn core_thread(
    exec: &'static Executor<LoomPlatform>,
    core: u32,
    watch: Shared<StdAtomicUsize>,
    stop: fn(usize) -> bool,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        exec.platform().enter(core);
        exec.run_until(&|| stop(watch.load(Std::SeqCst)));
    })
}

fn executor(cores: usize, config: Config) -> &'static Executor<LoomPlatform> {
    Box::leak(Box::new(Executor::new(
        LoomPlatform::new(cores),
        cores,
        config,
    )))
}

/// The models' configuration: no idle spinning (a spin round is just more
/// polls of the same code, and each `spin_loop` is a loom yield).
fn small() -> Config {
    Config {
        idle_spin_rounds: 0,
        ..Config::default()
    }
}

/// Pending until `open`; stores its waker. (Std atomics: the gate is test
/// scaffolding, not part of the modelled protocol.)
struct Gate {
    open: std::sync::Arc<StdAtomicBool>,
    waker: std::sync::Arc<Mutex<Option<Waker>>>,
    polls: std::sync::Arc<StdAtomicUsize>,
}

impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, Std::SeqCst);
        if self.open.load(Std::SeqCst) {
            return Poll::Ready(());
        }
        // Clone outside the lock: the clone is a loom operation (a switch
        // point) and the lock is a std one.
        let w = cx.waker().clone();
        let old = self.waker.lock().unwrap().replace(w);
        drop(old);
        Poll::Pending
    }
}

/// Counts its drops: tells whether a task's future was dropped, and once.
struct CountDrops(std::sync::Arc<StdAtomicUsize>);

impl Drop for CountDrops {
    fn drop(&mut self) {
        self.0.fetch_add(1, Std::SeqCst);
    }
}

type Shared<T> = std::sync::Arc<T>;

/// A gate, its `open` flag, its waker slot and its poll counter.
type GateParts = (
    Gate,
    Shared<StdAtomicBool>,
    Shared<Mutex<Option<Waker>>>,
    Shared<StdAtomicUsize>,
);

fn gate() -> GateParts {
    let open = std::sync::Arc::new(StdAtomicBool::new(false));
    let waker = std::sync::Arc::new(Mutex::new(None));
    let polls = std::sync::Arc::new(StdAtomicUsize::new(0));
    (
        Gate {
            open: open.clone(),
            waker: waker.clone(),
            polls: polls.clone(),
        },
        open,
        waker,
        polls,
    )
}

/// Two concurrent wakes of an idle task enqueue it once.
#[test]
fn loom_queued_bit_two_wakes_enqueue_once() {
    loom::model(|| {
        let exec = executor(1, small());
        exec.platform().enter(0);
        let (g, _open, waker, polls) = gate();
        drop(exec.spawn_on(CoreId(0), Priority::Normal, g));
        assert_eq!(exec.run_until_idle(), 1);
        let w = waker.lock().unwrap().clone().unwrap();
        let wakers: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                thread::spawn(move || w.wake())
            })
            .collect();
        for t in wakers {
            t.join().unwrap();
        }
        assert_eq!(exec.queue_len(CoreId(0)), 1);
        assert_eq!(exec.run_until_idle(), 1);
        assert_eq!(polls.load(Std::SeqCst), 2);
        drop(w);
        // The last waker resurrects the task; the core frees it.
        waker.lock().unwrap().take();
        exec.run_until_idle();
        assert_eq!(exec.live_tasks(), 0);
    });
}

/// A wake during a poll (the task is RUNNING) is not lost and does not
/// produce a second queue entry: the poller requeues it.
#[test]
fn loom_queued_bit_wake_during_poll() {
    loom::model(|| {
        let exec = executor(1, small());
        exec.platform().enter(0);
        let (g, open, waker, polls) = gate();
        drop(exec.spawn_on(CoreId(0), Priority::Normal, g));
        assert_eq!(exec.run_until_idle(), 1);
        let w = waker.lock().unwrap().clone().unwrap();
        w.wake_by_ref();
        let t = thread::spawn(move || {
            open.store(true, Std::SeqCst);
            w.wake();
        });
        // Polls concurrently with the second wake.
        while exec.poll_one() {}
        t.join().unwrap();
        exec.run_until_idle();
        let p = polls.load(Std::SeqCst);
        assert!((2..=3).contains(&p), "polls {p}");
        assert_eq!(exec.queue_len(CoreId(0)), 0);
        waker.lock().unwrap().take();
        exec.run_until_idle();
        assert_eq!(exec.live_tasks(), 0);
    });
}

/// The idle protocol: a wake racing with the core going to sleep is never
/// lost (else the core parks forever: a loom deadlock), and the core is
/// woken at most once per sleep episode.
#[test]
fn loom_wake_vs_idle_no_lost_wakeup() {
    loom::model(|| {
        let exec = executor(1, small());
        exec.platform().enter(0);
        let (g, open, waker, _polls) = gate();
        let done = std::sync::Arc::new(StdAtomicBool::new(false));
        let d = done.clone();
        drop(exec.spawn_on(CoreId(0), Priority::Normal, async move {
            g.await;
            d.store(true, Std::SeqCst);
        }));
        assert_eq!(exec.run_until_idle(), 1);
        let w = waker.lock().unwrap().take().unwrap();
        // "An interrupt handler on another core".
        let t = thread::spawn(move || {
            open.store(true, Std::SeqCst);
            w.wake();
        });
        exec.run_until(&|| done.load(Std::SeqCst));
        // Not joined: see `loom_wakes_across_sleep_episodes_with_a_tick`.
        drop(t);
        assert!(exec.stats(CoreId(0)).resched_requested <= 1);
    });
}

/// The idle protocol between two cores: core 1 runs its loop (and goes to
/// sleep) while core 0 spawns onto it; the spawn's RESCHED must end core 1's
/// halt, and core 1 runs the task exactly once.
#[test]
fn loom_remote_spawn_vs_idle_no_lost_wakeup() {
    loom::model(|| {
        let exec = executor(2, small());
        exec.platform().enter(0);
        let done = std::sync::Arc::new(StdAtomicUsize::new(0));
        let core1 = core_thread(exec, 1, done.clone(), |n| n == 1);
        let d = done.clone();
        drop(exec.spawn_on(CoreId(1), Priority::High, async move {
            d.fetch_add(1, Std::SeqCst);
        }));
        core1.join().unwrap();
        assert_eq!(done.load(Std::SeqCst), 1);
        assert!(exec.stats(CoreId(1)).resched_requested <= 1);
    });
}

fn counted_tasks(
    exec: &'static Executor<LoomPlatform>,
    n: usize,
) -> std::sync::Arc<[StdAtomicUsize; 2]> {
    let counts: std::sync::Arc<[StdAtomicUsize; 2]> = std::sync::Arc::new(Default::default());
    for i in 0..n {
        let c = counts.clone();
        drop(exec.spawn_on(CoreId(0), Priority::Normal, async move {
            c[i].fetch_add(1, Std::SeqCst);
        }));
    }
    counts
}

fn drain_and_check(exec: &'static Executor<LoomPlatform>, counts: &[StdAtomicUsize; 2], n: usize) {
    for core in 0..2 {
        CORE.with(|c| c.set(core));
        exec.run_until_idle();
    }
    for c in &counts[..n] {
        assert_eq!(c.load(Std::SeqCst), 1);
    }
    assert_eq!(exec.live_tasks(), 0);
}

/// Stealing concurrently with the owner: every task is polled exactly once
/// (never lost, never twice; two concurrent polls of one task would also be
/// reported by loom on the future's cell).
#[test]
fn loom_steal_never_loses_or_duplicates() {
    loom::model(|| {
        let exec = executor(2, small());
        exec.platform().enter(0);
        let counts = counted_tasks(exec, 2);
        let thief = thread::spawn(move || {
            exec.platform().enter(1);
            exec.poll_one();
        });
        exec.poll_one();
        thief.join().unwrap();
        drain_and_check(exec, &counts, 2);
    });
}

/// Migration (`balance_load`, from the timer tick) concurrently with the
/// owner popping: never lost, never duplicated.
#[test]
fn loom_migrate_never_loses_or_duplicates() {
    loom::model(|| {
        let exec = executor(
            2,
            Config {
                balance_threshold: 0,
                ..small()
            },
        );
        exec.platform().enter(0);
        let counts = counted_tasks(exec, 2);
        let balancer = thread::spawn(move || {
            CORE.with(|c| c.set(u32::MAX));
            exec.balance_load();
        });
        exec.poll_one();
        balancer.join().unwrap();
        drain_and_check(exec, &counts, 2);
    });
}

/// Victim selection reaches every core (plain exhaustive check).
#[test]
fn loom_victim_selection_reaches_every_core() {
    for cores in 2..=6 {
        for me in 0..cores {
            let mut reached = std::vec![false; cores];
            for start in 0..cores - 1 {
                let first = victim_order(me, cores, start, 1).next().unwrap();
                reached[first] = true;
            }
            assert_eq!(reached.iter().filter(|r| **r).count(), cores - 1);
            assert!(!reached[me]);
        }
    }
}

/// Spawns `n` gate tasks on core 0, polls each once (so each has stored its
/// waker) and returns their gates and the count of finished tasks.
fn gated_tasks(
    exec: &'static Executor<LoomPlatform>,
    n: usize,
) -> (Vec<GateParts>, Shared<StdAtomicUsize>) {
    let done = std::sync::Arc::new(StdAtomicUsize::new(0));
    let mut gates = Vec::new();
    for _ in 0..n {
        let (g, open, waker, polls) = gate();
        let d = done.clone();
        drop(exec.spawn_on(CoreId(0), Priority::Normal, async move {
            g.await;
            d.fetch_add(1, Std::SeqCst);
        }));
        gates.push((
            Gate {
                open: open.clone(),
                waker: waker.clone(),
                polls: polls.clone(),
            },
            open,
            waker,
            polls,
        ));
    }
    assert_eq!(exec.run_until_idle(), n);
    (gates, done)
}

/// Several sleep episodes, three wakers and a timer tick (issue "Executor v2",
/// finding 2): the core sleeps, is woken by its tick while a waker is between
/// "saw SLEEPING" and "request the IPI", takes that IPI while awake (it is
/// gone), runs, sleeps again; the next wakes must still end that second halt.
#[test]
fn loom_wakes_across_sleep_episodes_with_a_tick() {
    loom::model(|| {
        let exec = executor(1, small());
        exec.platform().enter(0);
        let (gates, done) = gated_tasks(exec, 3);
        let mut wakers: Vec<Waker> = gates
            .iter()
            .map(|(_, _, w, _)| w.lock().unwrap().take().unwrap())
            .collect();
        let opens: Vec<_> = gates.iter().map(|(_, o, _, _)| o.clone()).collect();
        let (w3, w2, w1) = (
            wakers.pop().unwrap(),
            wakers.pop().unwrap(),
            wakers.pop().unwrap(),
        );
        let (o1, o2, o3) = (opens[0].clone(), opens[1].clone(), opens[2].clone());
        let tick = thread::spawn(move || exec.platform().interrupt(0));
        let first = thread::spawn(move || {
            o1.store(true, Std::SeqCst);
            w1.wake();
            o2.store(true, Std::SeqCst);
            w2.wake();
        });
        let second = thread::spawn(move || {
            o3.store(true, Std::SeqCst);
            w3.wake();
        });
        exec.run_until(&|| done.load(Std::SeqCst) == 3);
        // Not joined: a join would park this thread, and an interrupt's
        // unpark would wake it spuriously (loom asserts on that). Loom runs
        // every thread to its end before the execution counts as done.
        drop((tick, first, second));
    });
}

/// The same several-episode scenario across two cores: core 1 sleeps, is
/// woken by its tick, sleeps again, while core 0 (this thread) spawns onto it
/// twice. Every spawn must run.
#[test]
fn loom_remote_spawns_across_sleep_episodes_with_a_tick() {
    loom::model(|| {
        let exec = executor(2, small());
        exec.platform().enter(0);
        let done = std::sync::Arc::new(StdAtomicUsize::new(0));
        let core1 = core_thread(exec, 1, done.clone(), |n| n == 2);
        let tick = thread::spawn(move || exec.platform().interrupt(1));
        for _ in 0..2 {
            let d = done.clone();
            drop(exec.spawn_on(CoreId(1), Priority::Normal, async move {
                d.fetch_add(1, Std::SeqCst);
            }));
        }
        core1.join().unwrap();
        drop(tick);
        assert_eq!(done.load(Std::SeqCst), 2);
        assert!(exec.stats(CoreId(1)).resched_requested <= 2);
        // The latch may skip a wake-up whose IPI is still in flight.
        assert!(exec.platform().ipis(1) as u64 <= exec.stats(CoreId(1)).resched_requested);
    });
}

/// `abort` (from another thread) racing with a wake (a third thread) and the
/// core polling: the future is polled at most twice, dropped exactly once,
/// and the JoinHandle sees either its output or `Cancelled`; the block is
/// freed. (Loom checks every access to the stage and join-waker cells.)
#[test]
fn loom_abort_vs_wake_vs_poll() {
    loom::model(|| {
        let exec = executor(1, small());
        exec.platform().enter(0);
        let (g, open, waker, polls) = gate();
        let drops = std::sync::Arc::new(StdAtomicUsize::new(0));
        let guard = CountDrops(drops.clone());
        let handle = exec.spawn_on(CoreId(0), Priority::Normal, async move {
            let _guard = guard;
            g.await;
            5
        });
        assert_eq!(exec.run_until_idle(), 1);
        let w = waker.lock().unwrap().take().unwrap();
        let handle = std::sync::Arc::new(handle);
        let h = handle.clone();
        let aborter = thread::spawn(move || h.abort());
        let waker_thread = thread::spawn(move || {
            open.store(true, Std::SeqCst);
            w.wake();
        });
        aborter.join().unwrap();
        exec.run_until(&|| handle.is_finished());
        drop(waker_thread);
        let mut handle = std::sync::Arc::try_unwrap(handle).unwrap();
        let out = handle.try_take().unwrap();
        // Only a wake makes a poll, and the gate is open before the wake: a
        // second poll completes the task. An aborted task is dropped unpolled.
        match out {
            Ok(5) => assert_eq!(
                polls.load(Std::SeqCst),
                2,
                "completed without its second poll"
            ),
            Err(JoinError::Cancelled) => {
                assert_eq!(polls.load(Std::SeqCst), 1, "polled after the abort")
            }
            other => panic!("{other:?}"),
        }
        // Completion or cancellation dropped the future, exactly once.
        assert_eq!(
            drops.load(Std::SeqCst),
            1,
            "future dropped {} times",
            drops.load(Std::SeqCst)
        );
        drop(handle);
        waker.lock().unwrap().take();
        // The waker thread may still hold the last reference: its drop
        // resurrects the task onto core 0 (and wakes it), which frees it.
        exec.run_until(&|| exec.live_tasks() == 0);
        assert_eq!(drops.load(Std::SeqCst), 1);
    });
}

/// A task on core 1 completes while a task on core 0 awaits its JoinHandle:
/// the join waker hand-over (`JOIN_WAKER`/`COMPLETE`) never loses the
/// joiner's wake-up and delivers the output once.
#[test]
fn loom_join_handle_vs_completion_across_cores() {
    loom::model(|| {
        let exec = executor(2, small());
        exec.platform().enter(0);
        let got = std::sync::Arc::new(StdAtomicUsize::new(0));
        let producer = exec.spawn_pinned(CoreId(1), Priority::Normal, async { 7usize });
        let g = got.clone();
        drop(exec.spawn_pinned(CoreId(0), Priority::Normal, async move {
            g.store(producer.await.unwrap(), Std::SeqCst);
        }));
        // Until the joiner has the output: a steal attempt by core 0 can hold
        // core 1's queue for a moment, so "idle" is not "done".
        let core1 = core_thread(exec, 1, got.clone(), |got| got != 0);
        exec.run_until(&|| got.load(Std::SeqCst) != 0);
        // Core 1 may have halted before the stop condition became true.
        exec.platform().request_stop(1);
        core1.join().unwrap();
        assert_eq!(got.load(Std::SeqCst), 7);
    });
}

/// The last waker of a pending task is dropped on another thread ("an
/// interrupt handler elsewhere") while the task's JoinHandle is awaited on
/// the core: the waker's drop never frees; the task is resurrected as an
/// orphan, cancelled by the core, and the awaiter gets `Cancelled`.
#[test]
fn loom_orphan_by_a_remote_waker_drop_resolves_the_join_handle() {
    loom::model(|| {
        let exec = executor(1, small());
        exec.platform().enter(0);
        let (g, _open, waker, _polls) = gate();
        let orphan = exec.spawn_on(CoreId(0), Priority::Normal, g);
        assert_eq!(exec.run_until_idle(), 1);
        let w = waker.lock().unwrap().take().unwrap();
        let result = std::sync::Arc::new(Mutex::new(None));
        let r = result.clone();
        drop(exec.spawn_on(CoreId(0), Priority::Normal, async move {
            *r.lock().unwrap() = Some(orphan.await);
        }));
        let dropper = thread::spawn(move || drop(w));
        exec.run_until(&|| result.lock().unwrap().is_some());
        drop(dropper);
        assert_eq!(*result.lock().unwrap(), Some(Err(JoinError::Cancelled)));
        exec.run_until_idle();
        assert_eq!(exec.live_tasks(), 0);
    });
}

/// A task completes on core 1 while its JoinHandle is dropped on core 0 —
/// `spawn(..).detach()`, as the burst workload does, with an idle core
/// running the task at once. The handle's drop must not touch the block after
/// it gave up its reference (the completer may free it meanwhile); the output
/// is dropped exactly once and the block is freed.
#[test]
fn loom_join_handle_drop_vs_completion_across_cores() {
    loom::model(|| {
        let exec = executor(2, small());
        exec.platform().enter(0);
        let drops = std::sync::Arc::new(StdAtomicUsize::new(0));
        let output = CountDrops(drops.clone());
        let handle = exec.spawn_pinned(CoreId(1), Priority::Normal, async move { output });
        // Spawned before core 1 registers its thread: nothing unparks it, so
        // it can be joined.
        let core1 = thread::spawn(move || {
            exec.platform().enter(1);
            exec.run_until_idle();
        });
        handle.detach();
        core1.join().unwrap();
        assert_eq!(
            drops.load(Std::SeqCst),
            1,
            "output dropped {} times",
            drops.load(Std::SeqCst)
        );
        assert_eq!(exec.live_tasks(), 0);
    });
}
