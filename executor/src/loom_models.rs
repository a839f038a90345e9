//! Loom models of the run queue, the queued bit, the idle protocol, stealing
//! and migration (`cfg(all(test, loom))`; the module path contains `loom`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p executor --release --target-dir target/loom loom
//! ```
//!
//! The models run the real executor code (`Executor`, `RunQueue`, the task
//! state machine) with loom's atomics, on a platform whose cores are loom
//! threads: `halt_if` parks the thread and `wake_core` unparks it, so a lost
//! wake-up shows up as a loom deadlock.

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

use loom::{sync::Arc, thread};

use crate::{Config, CoreId, Executor, Platform, Priority, queue::RunQueue, victim_order};

loom::thread_local! {
    static CORE: Cell<u32> = Cell::new(u32::MAX);
}

/// Cores are loom threads.
struct LoomPlatform {
    threads: Mutex<Vec<Option<thread::Thread>>>,
}

impl LoomPlatform {
    fn enter(&self, core: u32) {
        CORE.with(|c| c.set(core));
        if let Some(slot) = self.threads.lock().unwrap().get_mut(core as usize) {
            *slot = Some(thread::current());
        }
    }
}

impl Platform for LoomPlatform {
    fn current_core(&self) -> CoreId {
        CoreId(CORE.with(Cell::get))
    }
    fn wake_core(&self, core: CoreId) {
        let t = self.threads.lock().unwrap()[core.0 as usize].clone();
        if let Some(t) = t {
            t.unpark();
        }
    }
    fn now_ns(&self) -> u64 {
        0
    }
    fn halt_if(&self, still_idle: &mut dyn FnMut() -> bool) {
        if still_idle() {
            thread::park();
        }
    }
    fn without_interrupts<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
}

fn executor(cores: usize, config: Config) -> &'static Executor<LoomPlatform> {
    let platform = LoomPlatform {
        threads: Mutex::new((0..cores).map(|_| None).collect()),
    };
    Box::leak(Box::new(Executor::new(platform, cores, config)))
}

fn small() -> Config {
    Config {
        max_tasks: 2,
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

/// Concurrent push, pop and "steal" (pop from one queue, push onto another):
/// every element comes out exactly once.
#[test]
fn loom_run_queue_push_pop_steal() {
    loom::model(|| {
        let q = Arc::new(RunQueue::new(2));
        let other = Arc::new(RunQueue::new(2));
        q.push(0usize).unwrap();
        let producer = {
            let q = q.clone();
            thread::spawn(move || {
                q.push(1).unwrap();
            })
        };
        let thief = {
            let (q, other) = (q.clone(), other.clone());
            thread::spawn(move || {
                if let Some(v) = q.pop() {
                    other.push(v).unwrap();
                }
            })
        };
        let mut got = Vec::new();
        if let Some(v) = q.pop() {
            got.push(v);
        }
        producer.join().unwrap();
        thief.join().unwrap();
        while let Some(v) = q.pop() {
            got.push(v);
        }
        while let Some(v) = other.pop() {
            got.push(v);
        }
        got.sort_unstable();
        assert_eq!(got, [0, 1]);
    });
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
        t.join().unwrap();
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
        let d = done.clone();
        let core1 = thread::spawn(move || {
            exec.platform().enter(1);
            exec.run_until(&|| d.load(Std::SeqCst) == 1);
        });
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
                max_tasks: 2,
                balance_threshold: 0,
                ..Config::default()
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
