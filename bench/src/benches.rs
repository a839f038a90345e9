//! The seven benches of Tokio's `benches/rt_multi_threaded.rs`, written once
//! against [`Runtime`]/[`Spawner`] (deviations: the crate docs).
//!
//! Each `run_*` function runs `iters` iterations of its bench's body and
//! returns the time they took; setup that the original does outside
//! `b.iter` (the busy background tasks, channels) is outside the timed part
//! here too.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use crate::rt::{Runtime, Spawner};

/// Tasks spawned per iteration by the `spawn_many_*` benches (but busy2).
const NUM_SPAWN: usize = 10_000;
/// Tasks spawned per iteration by `spawn_many_remote_busy2`.
const NUM_SPAWN_BUSY2: usize = 1_000;
/// How long a busy background task burns the CPU per poll.
const STALL: Duration = Duration::from_micros(10);
/// `yield_many`: tasks, and yields per task.
const YIELD_TASKS: usize = 200;
const NUM_YIELD: usize = 1_000;
/// `ping_pong`: ping-pongs per iteration.
const NUM_PINGS: usize = 1_000;
/// `chained_spawn`: length of the chain.
const CHAIN: usize = 1_000;

/// One bench: its name, what one "op" is, and how much work one sample does.
#[derive(Clone, Copy, Debug)]
pub struct Bench {
    /// Tokio's name for it.
    pub name: &'static str,
    /// What the per-op figure divides by.
    pub op: &'static str,
    /// Ops per iteration.
    pub ops_per_iter: u64,
    /// Iterations per sample (chosen so that a whole run stays under ~3
    /// minutes on a 2-core machine; see the crate docs).
    pub iters_per_sample: u32,
    run: Which,
}

#[derive(Clone, Copy, Debug)]
enum Which {
    SpawnManyLocal,
    SpawnManyRemoteIdle,
    SpawnManyRemoteBusy1,
    SpawnManyRemoteBusy2,
    PingPong,
    YieldMany,
    ChainedSpawn,
}

/// Every bench, in Tokio's order.
pub const BENCHES: &[Bench] = &[
    Bench {
        name: "spawn_many_local",
        op: "spawned task",
        ops_per_iter: NUM_SPAWN as u64,
        iters_per_sample: 16,
        run: Which::SpawnManyLocal,
    },
    Bench {
        name: "spawn_many_remote_idle",
        op: "spawned task",
        ops_per_iter: NUM_SPAWN as u64,
        iters_per_sample: 16,
        run: Which::SpawnManyRemoteIdle,
    },
    Bench {
        name: "spawn_many_remote_busy1",
        op: "spawned task",
        ops_per_iter: NUM_SPAWN as u64,
        iters_per_sample: 8,
        run: Which::SpawnManyRemoteBusy1,
    },
    Bench {
        name: "spawn_many_remote_busy2",
        op: "spawned task",
        ops_per_iter: NUM_SPAWN_BUSY2 as u64,
        iters_per_sample: 4,
        run: Which::SpawnManyRemoteBusy2,
    },
    Bench {
        name: "ping_pong",
        op: "ping-pong",
        ops_per_iter: NUM_PINGS as u64,
        iters_per_sample: 32,
        run: Which::PingPong,
    },
    Bench {
        name: "yield_many",
        op: "yield",
        ops_per_iter: (YIELD_TASKS * NUM_YIELD) as u64,
        iters_per_sample: 4,
        run: Which::YieldMany,
    },
    Bench {
        name: "chained_spawn",
        op: "spawned task",
        ops_per_iter: CHAIN as u64,
        iters_per_sample: 80,
        run: Which::ChainedSpawn,
    },
];

impl Bench {
    /// Runs one sample on `rt` with `threads` workers; returns ns per op.
    pub fn sample<R: Runtime>(&self, rt: &R, threads: usize) -> f64 {
        let iters = self.iters_per_sample as usize;
        let elapsed = self.run_iters(rt, threads, iters);
        elapsed.as_nanos() as f64 / (iters as f64 * self.ops_per_iter as f64)
    }

    /// Runs `iters` iterations of the bench body; returns the time they took.
    fn run_iters<R: Runtime>(&self, rt: &R, threads: usize, iters: usize) -> Duration {
        match self.run {
            Which::SpawnManyLocal => spawn_many_local(rt, iters),
            Which::SpawnManyRemoteIdle => spawn_many_remote(rt, iters, NUM_SPAWN),
            Which::SpawnManyRemoteBusy1 => spawn_many_remote_busy1(rt, iters, threads),
            Which::SpawnManyRemoteBusy2 => spawn_many_remote_busy2(rt, iters, threads),
            Which::PingPong => ping_pong(rt, iters),
            Which::YieldMany => yield_many(rt, iters),
            Which::ChainedSpawn => chained_spawn(rt, iters),
        }
    }
}

/// Burns [`STALL`] of CPU time, letting other threads run in between (as
/// Tokio's `stall`).
fn stall() {
    let start = Instant::now();
    while start.elapsed() < STALL {
        thread::yield_now();
    }
}

/// `block_on` a future that spawns `NUM_SPAWN` tasks, each counting down;
/// the last one signals a std channel that the blocked future waits on.
fn spawn_many_local<R: Runtime>(rt: &R, iters: usize) -> Duration {
    let spawner = rt.spawner();
    let (tx, rx) = mpsc::sync_channel(1000);
    let remaining = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for _ in 0..iters {
        remaining.store(NUM_SPAWN, Relaxed);
        rt.block_on(async {
            for _ in 0..NUM_SPAWN {
                let (tx, remaining) = (tx.clone(), remaining.clone());
                spawner.spawn_detached(async move {
                    if remaining.fetch_sub(1, Relaxed) == 1 {
                        tx.send(()).expect("the bench waits on the channel");
                    }
                });
            }
            rx.recv().expect("the last task signals");
        });
    }
    start.elapsed()
}

/// Spawns `count` empty tasks from the main thread, then `block_on`s
/// awaiting every handle.
fn spawn_many_remote<R: Runtime>(rt: &R, iters: usize, count: usize) -> Duration {
    let spawner = rt.spawner();
    let mut handles = Vec::with_capacity(count);
    let start = Instant::now();
    for _ in 0..iters {
        handles.extend((0..count).map(|_| spawner.spawn(async {})));
        rt.block_on(async {
            for handle in handles.drain(..) {
                handle.await;
            }
        });
    }
    start.elapsed()
}

/// [`spawn_many_remote`] while `2 × threads` tasks loop on yield + stall.
fn spawn_many_remote_busy1<R: Runtime>(rt: &R, iters: usize, threads: usize) -> Duration {
    let spawner = rt.spawner();
    let running = Arc::new(AtomicBool::new(true));
    let busy: Vec<_> = (0..2 * threads)
        .map(|_| {
            let (running, s) = (running.clone(), spawner.clone());
            spawner.spawn(async move {
                while running.load(Relaxed) {
                    s.yield_now().await;
                    stall();
                }
            })
        })
        .collect();
    let elapsed = spawn_many_remote(rt, iters, NUM_SPAWN);
    running.store(false, Relaxed);
    rt.block_on(async {
        for handle in busy {
            handle.await;
        }
    });
    elapsed
}

/// One link of a busy2 chain: while `running`, stall and spawn the next link.
fn busy_chain<S: Spawner>(spawner: S, running: Arc<AtomicBool>, live: Arc<AtomicUsize>) {
    let next = spawner.clone();
    spawner.spawn_detached(async move {
        if running.load(Relaxed) {
            stall();
            busy_chain(next, running, live);
        } else {
            live.fetch_sub(1, Relaxed);
        }
    });
}

/// [`spawn_many_remote`] (1,000 tasks) while `threads` chains of tasks stall
/// and spawn their successor.
fn spawn_many_remote_busy2<R: Runtime>(rt: &R, iters: usize, threads: usize) -> Duration {
    let spawner = rt.spawner();
    let running = Arc::new(AtomicBool::new(true));
    let live = Arc::new(AtomicUsize::new(threads));
    for _ in 0..threads {
        let (s, running, live) = (spawner.clone(), running.clone(), live.clone());
        spawner.spawn_detached(async move { busy_chain(s, running, live) });
    }
    let elapsed = spawn_many_remote(rt, iters, NUM_SPAWN_BUSY2);
    running.store(false, Relaxed);
    while live.load(Relaxed) != 0 {
        thread::sleep(Duration::from_millis(1));
    }
    elapsed
}

/// `YIELD_TASKS` tasks spawned from the main thread each yield `NUM_YIELD`
/// times, then signal a std channel; the main thread waits for all.
fn yield_many<R: Runtime>(rt: &R, iters: usize) -> Duration {
    let spawner = rt.spawner();
    let (tx, rx) = mpsc::sync_channel(YIELD_TASKS);
    let start = Instant::now();
    for _ in 0..iters {
        for _ in 0..YIELD_TASKS {
            let (tx, s) = (tx.clone(), spawner.clone());
            spawner.spawn_detached(async move {
                for _ in 0..NUM_YIELD {
                    s.yield_now().await;
                }
                tx.send(()).expect("the bench waits on the channel");
            });
        }
        for _ in 0..YIELD_TASKS {
            rx.recv().expect("every task signals");
        }
    }
    start.elapsed()
}

/// A task spawns `NUM_PINGS` tasks; each spawns a partner and the two bounce
/// one message each way over two oneshot channels; the last to finish
/// signals the main thread.
fn ping_pong<R: Runtime>(rt: &R, iters: usize) -> Duration {
    let spawner = rt.spawner();
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let remaining = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for _ in 0..iters {
        let (done_tx, remaining, s) = (done_tx.clone(), remaining.clone(), spawner.clone());
        remaining.store(NUM_PINGS, Relaxed);
        rt.block_on(async {
            spawner.spawn_detached(async move {
                for _ in 0..NUM_PINGS {
                    let (done_tx, remaining, s2) = (done_tx.clone(), remaining.clone(), s.clone());
                    s.spawn_detached(async move {
                        let (tx1, rx1) = futures_channel::oneshot::channel::<()>();
                        let (tx2, rx2) = futures_channel::oneshot::channel::<()>();
                        s2.spawn_detached(async move {
                            rx1.await.expect("ping sent");
                            tx2.send(()).expect("pong awaited");
                        });
                        tx1.send(()).expect("ping awaited");
                        rx2.await.expect("pong sent");
                        if remaining.fetch_sub(1, Relaxed) == 1 {
                            done_tx.send(()).expect("the bench waits on the channel");
                        }
                    });
                }
            });
            done_rx.recv().expect("the last pair signals");
        });
    }
    start.elapsed()
}

/// Each task spawns the next, `CHAIN` deep; the last signals.
fn chain<S: Spawner>(spawner: S, done: mpsc::SyncSender<()>, n: usize) {
    if n == 0 {
        done.send(()).expect("the bench waits on the channel");
    } else {
        let next = spawner.clone();
        spawner.spawn_detached(async move { chain(next, done, n - 1) });
    }
}

/// `block_on` a future that spawns the head of a `CHAIN`-long chain of
/// spawns and waits for its end.
fn chained_spawn<R: Runtime>(rt: &R, iters: usize) -> Duration {
    let spawner = rt.spawner();
    let (done_tx, done_rx) = mpsc::sync_channel(1000);
    let start = Instant::now();
    for _ in 0..iters {
        let (done_tx, s) = (done_tx.clone(), spawner.clone());
        rt.block_on(async {
            spawner.spawn_detached(async move { chain(s, done_tx, CHAIN) });
            done_rx.recv().expect("the chain's end signals");
        });
    }
    start.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rt::{async_exec::AsyncExecutor, ours::Ours, tokio_rt::Tokio};

    /// One iteration of every bench on every runtime: the ports run to the end
    /// (no figure is checked).
    fn every_bench_completes<R: Runtime>(threads: usize) {
        let rt = R::start(threads);
        for bench in BENCHES {
            bench.run_iters(&rt, threads, 1);
        }
        rt.shutdown();
    }

    #[test]
    fn ours_runs_every_bench() {
        every_bench_completes::<Ours>(2);
    }

    #[test]
    fn tokio_runs_every_bench() {
        every_bench_completes::<Tokio>(2);
    }

    #[test]
    fn async_executor_runs_every_bench() {
        every_bench_completes::<AsyncExecutor>(2);
    }
}
