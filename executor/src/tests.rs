//! Host tests of scheduling decisions, on a recording platform: the test picks
//! the "current core" and the clock, and every `wake_core` is recorded.
// Dropping a JoinHandle detaches its task: `let _ = spawn(..)` says so.
#![allow(clippy::let_underscore_future)]

use std::{
    boxed::Box,
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll, Waker},
    time::Duration,
    vec,
    vec::Vec,
};

use crate::{
    Config, CoreId, CoreTasks, Executor, JoinError, MAX_LIFO_POLLS, Platform, Priority,
    SPAWN_LOCAL_LIMIT, SpawnError,
    loom::Ordering as ShimOrdering,
    sched::{AWAKE, NOTIFIED, SLEEPING},
    victim_order, yield_now,
};

type Hook = Box<dyn FnMut() + Send>;

#[derive(Default)]
struct Recording {
    current: AtomicU32,
    now: AtomicU64,
    wakes: Mutex<Vec<u32>>,
    halts: AtomicUsize,
    /// Runs "during the halt" (after `still_idle` returned true).
    during_halt: Mutex<Option<Hook>>,
    /// What `set_current_task` last said.
    current_task: Mutex<Option<u64>>,
}

impl Platform for Recording {
    fn current_core(&self) -> CoreId {
        CoreId(self.current.load(Ordering::SeqCst))
    }
    fn wake_core(&self, core: CoreId) {
        self.wakes.lock().unwrap().push(core.0);
    }
    fn now_ns(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
    fn halt_if(&self, still_idle: &mut dyn FnMut() -> bool) {
        if still_idle() {
            self.halts.fetch_add(1, Ordering::SeqCst);
            let hook = self.during_halt.lock().unwrap().take();
            if let Some(mut hook) = hook {
                hook();
            }
        }
    }
    fn without_interrupts<R>(&self, f: impl FnOnce() -> R) -> R {
        f()
    }
    fn set_current_task(&self, task: Option<u64>) {
        *self.current_task.lock().unwrap() = task;
    }
}

fn exec(cores: usize, config: Config) -> &'static Executor<Recording> {
    Box::leak(Box::new(Executor::new(Recording::default(), cores, config)))
}

fn on(e: &Executor<Recording>, core: u32) {
    e.platform().current.store(core, Ordering::SeqCst);
}

fn wakes(e: &Executor<Recording>) -> Vec<u32> {
    e.platform().wakes.lock().unwrap().clone()
}

type Log = Arc<Mutex<Vec<&'static str>>>;

fn logger(log: &Log, label: &'static str) -> impl Future<Output = ()> + Send + 'static {
    let log = log.clone();
    async move { log.lock().unwrap().push(label) }
}

/// Pending until opened; hands out its waker.
#[derive(Clone, Default)]
struct Gate(Arc<(AtomicBool, Mutex<Option<Waker>>)>);

impl Gate {
    fn open(&self) {
        self.0.0.store(true, Ordering::SeqCst);
    }
    fn waker(&self) -> Waker {
        self.0.1.lock().unwrap().clone().expect("never polled")
    }
}

impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.0.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self.0.1.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn spawn_stays_local_until_overloaded_then_spreads() {
    let e = exec(4, Config::default());
    on(e, 2);
    for _ in 0..SPAWN_LOCAL_LIMIT + 1 {
        let _ = e.spawn(Priority::Normal, async {});
    }
    assert_eq!(
        e.queue_len(CoreId(2)),
        SPAWN_LOCAL_LIMIT + 1,
        "local while not overloaded"
    );
    // Overloaded: a spawn stays local only while core 2 is at most
    // SPAWN_LOCAL_LIMIT ahead of a random other core; so a long burst spreads
    // and core 2 stays about that far ahead of the others.
    for _ in 0..400 {
        let _ = e.spawn(Priority::Normal, async {});
    }
    let others: Vec<usize> = [0, 1, 3].iter().map(|&c| e.queue_len(CoreId(c))).collect();
    let local = e.queue_len(CoreId(2));
    assert!(others.iter().all(|&o| o > 50), "{others:?} local {local}");
    assert!(
        local <= others.iter().max().unwrap() + SPAWN_LOCAL_LIMIT + 1,
        "{others:?} local {local}"
    );
    // A core whose peers are as busy as it is keeps its spawns.
    for c in [0, 1, 3] {
        on(e, c);
        while e.queue_len(CoreId(c)) < local {
            let _ = e.spawn_on(CoreId(c), Priority::Normal, async {});
        }
    }
    on(e, 2);
    let before = e.queue_len(CoreId(2));
    for _ in 0..20 {
        let _ = e.spawn(Priority::Normal, async {});
    }
    assert_eq!(e.queue_len(CoreId(2)), before + 20);
    // A thread that is not a core uses two random choices: the shortest
    // queues get the work.
    on(e, 99);
    let lens = |e: &Executor<Recording>| (0..4).map(|c| e.queue_len(CoreId(c))).collect::<Vec<_>>();
    let start = lens(e);
    for _ in 0..40 {
        let _ = e.spawn(Priority::Normal, async {});
    }
    let end = lens(e);
    assert!(end[2] - start[2] <= 15, "{start:?} -> {end:?}");
}

#[test]
fn higher_priority_polled_first() {
    let e = exec(1, Config::default());
    let log = Log::default();
    let _ = e.spawn_on(CoreId(0), Priority::Low, logger(&log, "low"));
    let _ = e.spawn_on(CoreId(0), Priority::Normal, logger(&log, "normal"));
    let _ = e.spawn_on(CoreId(0), Priority::High, logger(&log, "high"));
    assert_eq!(e.run_until_idle(), 3);
    assert_eq!(*log.lock().unwrap(), ["high", "normal", "low"]);
}

#[test]
fn anti_starvation_serves_lower_levels() {
    let limit = 3;
    let e = exec(
        1,
        Config {
            starvation_limit: limit,
            ..Config::default()
        },
    );
    let log = Log::default();
    let _ = e.spawn_on(CoreId(0), Priority::Low, logger(&log, "low"));
    let _ = e.spawn_on(CoreId(0), Priority::Normal, logger(&log, "normal"));
    // Two High tasks that keep yielding: without the rule, nothing else runs.
    for _ in 0..2 {
        let log = log.clone();
        let _ = e.spawn_on(CoreId(0), Priority::High, async move {
            for _ in 0..20 {
                log.lock().unwrap().push("high");
                yield_now().await;
            }
        });
    }
    e.run_until_idle();
    let log = log.lock().unwrap();
    let normal = log.iter().position(|l| *l == "normal").unwrap();
    let low = log.iter().position(|l| *l == "low").unwrap();
    // Both lower levels are skipped `limit` times; then the lowest starved
    // level is served first, then the next.
    assert_eq!(low, limit as usize, "{log:?}");
    assert_eq!(normal, limit as usize + 1, "{log:?}");
    assert_eq!(log.len(), 42);
}

#[test]
fn yield_now_goes_to_the_back() {
    let e = exec(1, Config::default());
    let log = Log::default();
    let l = log.clone();
    let _ = e.spawn_on(CoreId(0), Priority::Normal, async move {
        l.lock().unwrap().push("a1");
        yield_now().await;
        l.lock().unwrap().push("a2");
    });
    let _ = e.spawn_on(CoreId(0), Priority::Normal, logger(&log, "b"));
    e.run_until_idle();
    assert_eq!(*log.lock().unwrap(), ["a1", "b", "a2"]);
    let s = e.stats(CoreId(0));
    assert_eq!(
        (s.yields, s.polls, s.tasks_run, s.wakes_local),
        (1, 3, 2, 1)
    );
    assert_eq!(e.live_tasks(), 0);
}

#[test]
fn join_handle_returns_the_output() {
    let e = exec(1, Config::default());
    let mut h = e.spawn_on(CoreId(0), Priority::Normal, async { 6 * 7 });
    assert!(!h.is_finished());
    let waiter = e.spawn_on(CoreId(0), Priority::Normal, async move {
        let inner = e.spawn_on(CoreId(0), Priority::Low, async { "inner" });
        inner.await
    });
    e.run_until_idle();
    assert!(h.is_finished());
    assert_eq!(h.try_take(), Some(Ok(42)));
    assert_eq!(h.try_take(), None, "the output is taken once");
    let mut waiter = waiter;
    assert_eq!(waiter.try_take(), Some(Ok(Ok("inner"))));
    assert_eq!(e.live_tasks(), 2, "the two handles keep their tasks");
    drop((h, waiter));
    assert_eq!(e.live_tasks(), 0);
}

/// Finding 1 of the executor-v2 issue: the 4097th live task used to panic
/// `spawn`. Now only memory bounds the task count.
#[test]
fn a_100k_spawn_burst_runs_every_task_once() {
    const N: usize = 100_000;
    let e = exec(2, Config::default());
    on(e, 0);
    let ran: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let r = ran.clone();
    let _ = e.spawn_on(CoreId(0), Priority::Normal, async move {
        for i in 0..N {
            let r = r.clone();
            e.spawn(Priority::Normal, async move {
                r[i].fetch_add(1, Ordering::Relaxed);
            })
            .detach();
        }
    });
    assert!(e.poll_one(), "the spawner runs");
    assert_eq!(e.live_tasks(), N);
    let mut polls = 0;
    for core in [0, 1] {
        on(e, core);
        polls += e.run_until_idle();
    }
    assert_eq!(polls, N);
    assert!(ran.iter().all(|r| r.load(Ordering::Relaxed) == 1));
    assert_eq!(e.live_tasks(), 0);
}

#[test]
fn admission_limit_is_an_error_only_for_try_spawn() {
    let e = exec(
        1,
        Config {
            max_tasks: Some(2),
            ..Config::default()
        },
    );
    let _a = e.spawn_on(CoreId(0), Priority::Normal, async {});
    let _b = e.spawn_on(CoreId(0), Priority::Normal, async {});
    assert!(matches!(
        e.try_spawn(Priority::Normal, async {}),
        Err(SpawnError::TooManyTasks { max: 2 })
    ));
    assert!(matches!(
        e.try_spawn_on(CoreId(5), Priority::Normal, async {}),
        Err(SpawnError::NoSuchCore(CoreId(5)))
    ));
    // `spawn` does not consult the limit, and never panics for room.
    let _c = e.spawn(Priority::Normal, async {});
    assert_eq!(e.live_tasks(), 3);
    drop((_a, _b, _c));
    e.run_until_idle();
    assert_eq!(e.live_tasks(), 0);
    assert!(e.try_spawn(Priority::Normal, async {}).is_ok());
}

/// Sets its flag when dropped (to see a future dropped by cancellation).
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn abort_cancels_an_idle_task_and_the_handle_reports_it() {
    let e = exec(1, Config::default());
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let gate = Gate::default();
    let g = gate.clone();
    let mut h = e.spawn_on(CoreId(0), Priority::Normal, async move {
        let _flag = flag;
        g.await;
        7
    });
    e.run_until_idle();
    assert!(!h.is_finished());
    h.abort();
    let polls = e.stats(CoreId(0)).polls;
    e.run_until_idle();
    assert_eq!(e.stats(CoreId(0)).polls, polls, "cancelled, not polled");
    assert!(dropped.load(Ordering::SeqCst), "future dropped");
    assert!(h.is_finished());
    assert_eq!(h.try_take(), Some(Err(JoinError::Cancelled)));
    // A late wake of the cancelled task is harmless.
    gate.open();
    gate.waker().wake();
    e.run_until_idle();
    *gate.0.1.lock().unwrap() = None;
    drop(h);
    e.run_until_idle();
    assert_eq!(e.live_tasks(), 0);
}

/// Records the platform's current task when dropped.
struct DropProbe(&'static Executor<Recording>, Arc<Mutex<Option<u64>>>);

impl Drop for DropProbe {
    fn drop(&mut self) {
        *self.1.lock().unwrap() = *self.0.platform().current_task.lock().unwrap();
    }
}

#[test]
fn the_platform_is_told_which_task_the_core_works_on() {
    let e = exec(1, Config::default());
    let current = || *e.platform().current_task.lock().unwrap();
    // While polled, the task is the platform's current task.
    let seen = Arc::new(Mutex::new(None));
    let s = seen.clone();
    let polled = e.spawn(Priority::Normal, async move {
        *s.lock().unwrap() = *e.platform().current_task.lock().unwrap();
    });
    assert_eq!(current(), None, "nothing runs yet");
    e.run_until_idle();
    assert_eq!(*seen.lock().unwrap(), Some(polled.id()), "during its poll");
    assert_eq!(current(), None, "after its poll");
    // While a cancelled task's future is dropped, too.
    let dropped_during = Arc::new(Mutex::new(None));
    let probe = DropProbe(e, dropped_during.clone());
    let gate = Gate::default();
    let g = gate.clone();
    let cancelled = e.spawn(Priority::Normal, async move {
        let _probe = probe;
        g.await;
    });
    e.run_until_idle();
    *dropped_during.lock().unwrap() = None;
    cancelled.abort();
    e.run_until_idle();
    assert_eq!(
        *dropped_during.lock().unwrap(),
        Some(cancelled.id()),
        "while its future is dropped"
    );
    assert_eq!(current(), None);
    assert_ne!(polled.id(), cancelled.id());
}

#[test]
fn abort_during_its_own_poll_cancels_after_the_poll() {
    let e = exec(1, Config::default());
    let slot: Arc<Mutex<Option<crate::JoinHandle<()>>>> = Arc::default();
    let s = slot.clone();
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let h = e.spawn_on(CoreId(0), Priority::Normal, async move {
        loop {
            p.fetch_add(1, Ordering::SeqCst);
            if let Some(me) = s.lock().unwrap().as_ref() {
                me.abort();
            }
            yield_now().await;
        }
    });
    assert!(e.poll_one());
    *slot.lock().unwrap() = Some(h);
    e.run_until_idle();
    assert_eq!(
        polls.load(Ordering::SeqCst),
        2,
        "polled once more, then cancelled"
    );
    let h = slot.lock().unwrap().take().unwrap();
    assert!(h.is_finished());
    let out = e.spawn_on(CoreId(0), Priority::Normal, h);
    e.run_until_idle();
    let mut out = out;
    assert_eq!(out.try_take(), Some(Ok(Err(JoinError::Cancelled))));
}

/// Finding 4 of the executor-v2 issue: the JoinHandle of a task that can
/// never be woken again used to hang its awaiter for good.
#[test]
fn awaiting_an_orphaned_task_resolves_cancelled() {
    let e = exec(1, Config::default());
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    // Pending once, and nobody keeps its waker: an orphan.
    let orphan = e.spawn_on(CoreId(0), Priority::Normal, async move {
        let _flag = flag;
        std::future::poll_fn(|_| Poll::<()>::Pending).await;
    });
    let awaiter = e.spawn_on(CoreId(0), Priority::Normal, orphan);
    e.run_until_idle();
    assert!(
        dropped.load(Ordering::SeqCst),
        "the orphan's future was dropped"
    );
    let mut awaiter = awaiter;
    assert_eq!(awaiter.try_take(), Some(Ok(Err(JoinError::Cancelled))));
    drop(awaiter);
    assert_eq!(e.live_tasks(), 0);
}

#[test]
fn a_task_woken_by_the_running_task_runs_next_lifo_capped() {
    let e = exec(1, Config::default());
    let log = Log::default();
    let gates: Vec<Gate> = (0..6).map(|_| Gate::default()).collect();
    for (i, g) in gates.iter().enumerate() {
        let (g, log) = (g.clone(), log.clone());
        let name: &'static str = ["w0", "w1", "w2", "w3", "w4", "w5"][i];
        let _ = e.spawn_on(CoreId(0), Priority::Normal, async move {
            g.await;
            log.lock().unwrap().push(name);
        });
    }
    e.run_until_idle();
    // A chain: the waker task wakes w0; w0 (when it runs) is already done,
    // so instead a driver wakes each next gate from inside a task.
    let gs = gates.clone();
    let _ = e.spawn_on(CoreId(0), Priority::Normal, logger(&log, "queued-before"));
    let l = log.clone();
    let _ = e.spawn_on(CoreId(0), Priority::Normal, async move {
        l.lock().unwrap().push("driver");
        for g in &gs {
            g.open();
        }
        // Wake all six from the running task: each displaces the previous
        // LIFO occupant into the queue, so w5 runs next.
        for g in &gs {
            g.waker().wake();
        }
    });
    // Run "queued-before" first (FIFO), then the driver.
    e.run_until_idle();
    let log = log.lock().unwrap().clone();
    assert_eq!(&log[..3], ["queued-before", "driver", "w5"], "{log:?}");
    assert_eq!(log.len(), 8);
    assert!(e.stats(CoreId(0)).lifo_polls >= 1);
}

#[test]
fn lifo_slot_cannot_starve_the_queue() {
    // Two tasks that wake each other forever would monopolise the LIFO slot;
    // after MAX_LIFO_POLLS in a row the queue gets a turn.
    let e = exec(1, Config::default());
    let log = Log::default();
    let (ga, gb) = (Gate::default(), Gate::default());
    let rounds = Arc::new(AtomicUsize::new(0));
    for (mine, other, name) in [(ga.clone(), gb.clone(), "a"), (gb.clone(), ga.clone(), "b")] {
        let (log, rounds) = (log.clone(), rounds.clone());
        let _ = e.spawn_on(CoreId(0), Priority::Normal, async move {
            loop {
                std::future::poll_fn(|cx| {
                    *mine.0.1.lock().unwrap() = Some(cx.waker().clone());
                    if mine.0.0.swap(false, Ordering::SeqCst) {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
                log.lock().unwrap().push(name);
                if rounds.fetch_add(1, Ordering::SeqCst) >= 20 {
                    return;
                }
                other.open();
                if let Some(w) = other.0.1.lock().unwrap().clone() {
                    w.wake();
                }
            }
        });
    }
    e.run_until_idle();
    let l = log.clone();
    let _ = e.spawn_on(CoreId(0), Priority::Normal, async move {
        l.lock().unwrap().push("other");
    });
    ga.open();
    on(e, 0);
    // Kick `a` from task context so the ping-pong runs through the slot.
    let kick = ga.clone();
    let _ = e.spawn_on(CoreId(0), Priority::Normal, async move {
        kick.waker().wake();
    });
    e.run_until_idle();
    let log = log.lock().unwrap().clone();
    let other = log.iter().position(|l| *l == "other").unwrap();
    assert!(
        other <= MAX_LIFO_POLLS as usize + 1,
        "the queued task waited behind {other} LIFO polls: {log:?}"
    );
    *ga.0.1.lock().unwrap() = None;
    *gb.0.1.lock().unwrap() = None;
}

#[test]
fn sleep_expires_on_the_first_tick_at_or_after_the_deadline() {
    let e = exec(1, Config::default());
    e.platform().now.store(1_000, Ordering::SeqCst);
    let h = e.spawn_on(CoreId(0), Priority::Normal, async move {
        e.sleep(Duration::from_nanos(500)).await;
        e.platform().now_ns()
    });
    e.run_until_idle();
    assert_eq!(e.timers_armed(CoreId(0)), 1);
    e.platform().now.store(1_499, Ordering::SeqCst);
    assert_eq!(e.tick_core(CoreId(0)), 0);
    assert_eq!(e.run_until_idle(), 0, "woken before its deadline");
    e.platform().now.store(1_500, Ordering::SeqCst);
    assert_eq!(e.tick_core(CoreId(0)), 1);
    assert_eq!(e.run_until_idle(), 1);
    let mut h = h;
    assert_eq!(h.try_take(), Some(Ok(1_500)));
    assert_eq!(e.timers_armed(CoreId(0)), 0);
}

#[test]
fn sleep_past_deadline_is_ready_and_dropped_sleep_disarms() {
    let e = exec(1, Config::default());
    e.platform().now.store(100, Ordering::SeqCst);
    let _ = e.spawn_on(CoreId(0), Priority::Normal, async move {
        e.sleep_until(50).await;
    });
    assert_eq!(e.run_until_idle(), 1);
    assert_eq!(e.timers_armed(CoreId(0)), 0);
    // A select-like future that drops its sleep after one poll.
    let _ = e.spawn_on(CoreId(0), Priority::Normal, async move {
        let mut s = Box::pin(e.sleep_until(1_000));
        std::future::poll_fn(|cx| {
            let _ = s.as_mut().poll(cx);
            Poll::Ready(())
        })
        .await;
    });
    e.run_until_idle();
    assert_eq!(e.timers_armed(CoreId(0)), 0);
}

#[test]
fn waking_a_sleeping_core_sends_exactly_one_wake() {
    let e = exec(2, Config::default());
    on(e, 1);
    let (g1, g2) = (Gate::default(), Gate::default());
    let _ = e.spawn_on(CoreId(1), Priority::Normal, g1.clone());
    let _ = e.spawn_on(CoreId(1), Priority::Normal, g2.clone());
    e.run_until_idle();
    // Core 1 announced sleep; core 0 wakes both tasks.
    e.core(1).state.store(SLEEPING, ShimOrdering::SeqCst);
    on(e, 0);
    g1.waker().wake();
    g2.waker().wake();
    assert_eq!(wakes(e), [1], "one RESCHED per sleep episode");
    assert_eq!(e.stats(CoreId(1)).resched_requested, 1);
    assert_eq!(e.stats(CoreId(1)).wakes_remote, 2);
    // An awake core gets none.
    e.core(1).state.store(AWAKE, ShimOrdering::SeqCst);
    on(e, 1);
    e.run_until_idle();
    on(e, 0);
    g1.waker().wake();
    assert_eq!(wakes(e), [1]);
}

#[test]
fn idle_protocol_halts_and_a_wake_during_the_halt_resends_once() {
    let e = exec(2, Config::default());
    on(e, 1);
    let gate = Gate::default();
    let _ = e.spawn_on(CoreId(1), Priority::Normal, gate.clone());
    assert!(e.step(), "polls the task");
    let g = gate.clone();
    *e.platform().during_halt.lock().unwrap() = Some(Box::new(move || {
        // Core 0 wakes the task while core 1 is halted.
        e.platform().current.store(0, Ordering::SeqCst);
        g.open();
        g.waker().wake();
        e.platform().current.store(1, Ordering::SeqCst);
    }));
    assert!(!e.step(), "nothing to run: idle protocol");
    assert_eq!(e.platform().halts.load(Ordering::SeqCst), 1);
    assert_eq!(wakes(e), [1]);
    // After the halt: awake again (NOTIFIED cleared), the task runs.
    assert_eq!(e.core(1).state.load(ShimOrdering::SeqCst), AWAKE);
    assert!(e.step());
    assert_eq!(e.stats(CoreId(1)).idle_halts, 1);
    // The gate still holds the finished task's waker; dropping it lets a core
    // free the task.
    assert_eq!(e.live_tasks(), 1);
    *gate.0.1.lock().unwrap() = None;
    e.run_until_idle();
    assert_eq!(e.live_tasks(), 0);
}

#[test]
fn recheck_finds_work_and_does_not_halt() {
    let e = exec(1, Config::default());
    // Work appears between "no task" and the recheck: simulated by a task
    // pushed while the core is SLEEPING but before halt_if runs the recheck.
    on(e, 0);
    let _ = e.spawn_on(CoreId(0), Priority::Normal, async {});
    let mut halted = true;
    e.platform().halt_if(&mut || {
        halted = e.recheck_idle(0);
        halted
    });
    assert!(!halted);
    assert_eq!(e.platform().halts.load(Ordering::SeqCst), 0);
    // The task the recheck found is kept (in the LIFO slot) and runs.
    assert_eq!(e.run_until_idle(), 1);
    assert!(e.recheck_idle(0));
}

/// Finding 2 of the executor-v2 issue, deterministically: a wake-up claimed
/// in one sleep episode must not suppress the wake-up of the next one.
#[test]
fn every_sleep_episode_gets_its_own_wake_up() {
    // Real sleep episodes of core 1 (its own `step` → idle protocol → halt);
    // "during the halt" core 0 wakes core 1's tasks.
    let e = exec(
        2,
        Config {
            idle_spin_rounds: 0,
            ..Config::default()
        },
    );
    on(e, 1);
    let gates: Vec<Gate> = (0..3).map(|_| Gate::default()).collect();
    for g in &gates {
        let _ = e.spawn_on(CoreId(1), Priority::Normal, g.clone());
    }
    e.run_until_idle();
    let wake_from_core0 = |which: &'static [usize], gates: Vec<Gate>| -> Hook {
        Box::new(move || {
            e.platform().current.store(0, Ordering::SeqCst);
            for &i in which {
                gates[i].open();
                gates[i].waker().wake();
            }
            assert_eq!(
                e.core(1).state.load(ShimOrdering::SeqCst),
                SLEEPING | NOTIFIED
            );
            e.platform().current.store(1, Ordering::SeqCst);
        })
    };
    // Episode 1: core 0's wake claims the episode's IPI.
    *e.platform().during_halt.lock().unwrap() = Some(wake_from_core0(&[0], gates.clone()));
    assert!(!e.step(), "nothing to run: core 1 sleeps");
    assert_eq!(wakes(e), [1]);
    assert_eq!(e.core(1).state.load(ShimOrdering::SeqCst), AWAKE);
    assert!(e.step(), "core 1 runs the woken task");
    // Episode 2: a fresh announcement; the next wakes must send a new IPI.
    *e.platform().during_halt.lock().unwrap() = Some(wake_from_core0(&[1, 2], gates.clone()));
    assert!(!e.step());
    assert_eq!(wakes(e), [1, 1], "one wake-up per episode, every episode");
    assert_eq!(e.stats(CoreId(1)).resched_requested, 2);
    assert_eq!(e.run_until_idle(), 2);
}

#[test]
fn remote_spawn_on_a_sleeping_core_sends_resched() {
    let e = exec(2, Config::default());
    on(e, 0);
    e.core(1).state.store(SLEEPING, ShimOrdering::SeqCst);
    let _ = e.spawn_on(CoreId(1), Priority::Normal, async {});
    let _ = e.spawn_on(CoreId(1), Priority::Normal, async {});
    assert_eq!(wakes(e), [1]);
    // Local spawn on a core: never an IPI to itself.
    e.core(0).state.store(SLEEPING, ShimOrdering::SeqCst);
    let _ = e.spawn_on(CoreId(0), Priority::Normal, async {});
    assert_eq!(wakes(e), [1]);
}

#[test]
fn idle_core_steals_half() {
    let e = exec(2, Config::default());
    on(e, 0);
    for _ in 0..6 {
        let _ = e.spawn_on(CoreId(0), Priority::Normal, async {});
    }
    on(e, 1);
    assert!(e.poll_one());
    assert_eq!(e.stats(CoreId(1)).steals, 3);
    assert_eq!(e.queue_len(CoreId(0)), 3);
    assert_eq!(e.queue_len(CoreId(1)), 2);
    // Its own two, then half of the 3 left (2), its own, the last one.
    assert_eq!(e.run_until_idle(), 5);
    assert_eq!(e.stats(CoreId(1)).steals, 6);
    assert_eq!(e.stats(CoreId(1)).polls, 6);
    assert_eq!(e.queue_len(CoreId(0)), 0);
}

#[test]
fn pinned_tasks_are_never_stolen_or_migrated() {
    let e = exec(2, Config::default());
    on(e, 0);
    for _ in 0..6 {
        let _ = e.spawn_pinned(CoreId(0), Priority::Normal, async {});
    }
    let _ = e.spawn_on(CoreId(0), Priority::Normal, async {});
    e.core(1).state.store(SLEEPING, ShimOrdering::SeqCst);
    assert_eq!(e.balance_load(), 1, "only the unpinned task moves");
    e.core(1).state.store(AWAKE, ShimOrdering::SeqCst);
    on(e, 1);
    assert_eq!(
        e.run_until_idle(),
        1,
        "core 1 runs the migrated task, steals nothing"
    );
    assert_eq!(e.stats(CoreId(1)).steals, 0);
    assert_eq!(e.queue_len(CoreId(0)), 6);
    on(e, 0);
    assert_eq!(e.run_until_idle(), 6);
}

#[test]
fn stolen_task_is_rehomed_to_the_thief() {
    let e = exec(2, Config::default());
    on(e, 0);
    let gate = Gate::default();
    let _ = e.spawn_on(CoreId(0), Priority::Normal, gate.clone());
    on(e, 1);
    assert!(e.poll_one());
    on(e, 0);
    gate.open();
    gate.waker().wake();
    assert_eq!(e.queue_len(CoreId(1)), 1);
    assert_eq!(e.stats(CoreId(1)).wakes_remote, 1);
}

#[test]
fn balance_migrates_only_above_the_threshold() {
    let e = exec(2, Config::default());
    on(e, 0);
    for _ in 0..3 {
        let _ = e.spawn_on(CoreId(0), Priority::Normal, async {});
    }
    let _ = e.spawn_on(CoreId(1), Priority::Normal, async {});
    assert_eq!(e.balance_load(), 0, "3 vs 1: imbalance 2 is fine");
    for _ in 0..3 {
        let _ = e.spawn_on(CoreId(0), Priority::Normal, async {});
    }
    e.core(1).state.store(SLEEPING, ShimOrdering::SeqCst);
    // 6 vs 1: moves 2 → 4 vs 3.
    assert_eq!(e.balance_load(), 2);
    assert_eq!(e.queue_len(CoreId(0)), 4);
    assert_eq!(e.queue_len(CoreId(1)), 3);
    assert_eq!(e.stats(CoreId(1)).migrations, 2);
    assert_eq!(wakes(e), [1], "RESCHED to the sleeping target");
    // Everything still runs exactly once.
    e.core(1).state.store(AWAKE, ShimOrdering::SeqCst);
    on(e, 1);
    assert_eq!(
        e.run_until_idle(),
        7,
        "core 1 runs its own and steals the rest"
    );
    assert_eq!(e.live_tasks(), 0);
}

#[test]
fn balance_runs_from_core0_loop_not_the_tick() {
    let e = exec(
        3,
        Config {
            balance_interval_ns: 100,
            steal_attempts: 0,
            idle_spin_rounds: 0,
            ..Config::default()
        },
    );
    on(e, 1);
    for _ in 0..6 {
        let _ = e.spawn_on(CoreId(1), Priority::Normal, async {});
    }
    e.platform().now.store(100, Ordering::SeqCst);
    for c in 0..3 {
        e.tick_core(CoreId(c));
    }
    e.on_timer_tick();
    assert_eq!(
        e.queue_len(CoreId(1)),
        6,
        "the tick (interrupt context) never balances"
    );
    // Core 0's loop (task context) runs the balancer, which moves half the
    // difference to it (and then evens core 0 against core 2).
    on(e, 0);
    assert!(e.step(), "balanced, then polled a migrated task");
    assert_eq!(e.queue_len(CoreId(1)), 3);
    assert_eq!(e.stats(CoreId(0)).migrations, 3);
    assert_eq!(e.stats(CoreId(2)).migrations, 1);
    assert_eq!(e.run_until_idle(), 1);
    // Not again before the interval has passed.
    on(e, 1);
    let _ = e.spawn_on(CoreId(1), Priority::Normal, async {});
    on(e, 0);
    assert!(!e.step());
    assert_eq!(e.queue_len(CoreId(1)), 4);
    e.platform().now.store(200, Ordering::SeqCst);
    e.step();
    assert!(
        e.queue_len(CoreId(1)) < 4,
        "the interval has passed: balanced again"
    );
}

#[test]
fn counters_add_up() {
    let e = exec(2, Config::default());
    on(e, 0);
    for _ in 0..4 {
        let _ = e.spawn_on(CoreId(0), Priority::Normal, async {
            yield_now().await;
            yield_now().await;
        });
    }
    e.run_until_idle();
    let s = e.stats(CoreId(0));
    assert_eq!(s.polls, 12);
    assert_eq!(s.tasks_run, 4);
    assert_eq!(s.yields, 8);
    assert_eq!(s.wakes_local, 8);
    assert_eq!(s.wakes_remote + s.steals + s.migrations + s.idle_halts, 0);
    assert_eq!(e.stats(CoreId(1)), Default::default());
}

#[test]
fn last_waker_dropped_elsewhere_frees_via_a_core() {
    let e = exec(1, Config::default());
    let gate = Gate::default();
    let _ = e.spawn_on(CoreId(0), Priority::Normal, gate.clone());
    e.run_until_idle();
    let waker = gate.waker();
    // Drop the task's own stored waker: `waker` is now the last reference.
    *gate.0.1.lock().unwrap() = None;
    assert_eq!(e.live_tasks(), 1);
    on(e, 7); // "an interrupt handler elsewhere": no core of ours
    drop(waker);
    assert_eq!(e.live_tasks(), 1, "a waker never frees");
    assert_eq!(e.queue_len(CoreId(0)), 1);
    on(e, 0);
    e.run_until_idle();
    assert_eq!(
        e.live_tasks(),
        0,
        "freed (and its future dropped) by the core"
    );
}

#[test]
fn victim_order_reaches_every_core() {
    for cores in 2..=8 {
        for me in 0..cores {
            for attempts in 1..cores {
                let mut first = vec![false; cores];
                for start in 0..cores - 1 {
                    let order: Vec<_> = victim_order(me, cores, start, attempts).collect();
                    assert_eq!(order.len(), attempts);
                    assert!(!order.contains(&me));
                    first[order[0]] = true;
                }
                let reached = first.iter().filter(|r| **r).count();
                assert_eq!(
                    reached,
                    cores - 1,
                    "cores={cores} me={me} attempts={attempts}"
                );
            }
        }
    }
    assert_eq!(victim_order(0, 1, 0, 5).count(), 0);
}

/// `core_tasks` follows a task's home: counted where it is spawned, by
/// priority, moved with a steal, taken back when the task is freed; a task
/// that waits counts as live but not queued.
#[test]
fn core_tasks_follow_home_and_priority() {
    let e = exec(2, Config::default());
    on(e, 0);
    let gate = Gate::default();
    let gated = e.spawn_on(CoreId(0), Priority::Normal, gate.clone());
    let _ = e.spawn_on(CoreId(0), Priority::Low, async {});
    let _ = e.spawn_on(CoreId(1), Priority::High, async {});
    assert_eq!(
        e.core_tasks(CoreId(0)),
        CoreTasks {
            live: [0, 1, 1],
            queued: [0, 1, 1],
        }
    );
    assert_eq!(e.core_tasks(CoreId(1)).live, [1, 0, 0]);
    // Core 1 runs its own task, then steals from core 0: the gate task
    // (polled, now waiting) and the low one (run, freed).
    on(e, 1);
    assert_eq!(e.run_until_idle(), 3);
    assert_eq!(
        e.core_tasks(CoreId(1)),
        CoreTasks {
            live: [0, 1, 0],
            queued: [0, 0, 0],
        },
        "the waiting gate task is homed on the thief"
    );
    assert_eq!(e.core_tasks(CoreId(0)), CoreTasks::default());
    gate.open();
    gate.waker().wake();
    assert_eq!(e.run_until_idle(), 1);
    assert!(gated.is_finished());
    // The handle and the gate's waker still hold the finished task's block.
    assert_eq!(e.core_tasks(CoreId(1)).live, [0, 1, 0]);
    drop((gated, gate));
    // A waker never frees (it may run in an interrupt handler): the last
    // reference going hands the block to its core, which frees it.
    e.run_until_idle();
    assert_eq!(e.core_tasks(CoreId(1)), CoreTasks::default());
    assert_eq!(e.live_tasks(), 0);
}
