//! One small adapter per runtime: start N worker threads, spawn, await a
//! handle, yield, block the main thread on a future, shut down.
//!
//! The benches in `benches.rs` are written once against [`Runtime`] and
//! [`Spawner`]; everything runtime-specific lives in the three modules below,
//! so an API change of one runtime is a change in its module only.

use std::{
    fmt::Debug,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

/// A join handle whose `Result` is unwrapped: no benchmark task fails or is
/// cancelled, so an error is a bug worth a panic. (Ours and Tokio's both
/// resolve to `Result<T, JoinError>`.)
pub struct Unwrapped<J>(J);

impl<J, T, E> Future for Unwrapped<J>
where
    J: Future<Output = Result<T, E>> + Unpin,
    E: Debug,
{
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|result| result.expect("a benchmark task failed or was cancelled"))
    }
}

/// A runtime under test, owned by the main thread.
pub trait Runtime: Sized {
    /// The column name in the table and the JSON.
    const NAME: &'static str;
    /// What tasks capture to spawn more tasks (the `tokio::spawn` of the
    /// original benches).
    type Spawner: Spawner;

    /// Starts the runtime with `threads` worker threads.
    fn start(threads: usize) -> Self;
    /// A spawner for this runtime.
    fn spawner(&self) -> Self::Spawner;
    /// Runs `future` to completion on the calling (main, non-worker) thread.
    fn block_on<F: Future>(&self, future: F) -> F::Output;
    /// Stops the worker threads.
    fn shutdown(self);
}

/// Spawning, from a worker or from outside.
pub trait Spawner: Clone + Send + Sync + 'static {
    /// Awaits a task's output (panics if the task panicked).
    type Join<T: Send + 'static>: Future<Output = T> + Send + 'static;

    /// Spawns `future`; its handle awaits the output.
    fn spawn<F>(&self, future: F) -> Self::Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Spawns `future` with nobody awaiting it (the task runs to completion).
    fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// The runtime's cooperative yield.
    fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static;
}

/// Our executor: [`executor::host::Harness`] with N core threads.
pub mod ours {
    use std::{future::Future, time::Duration};

    use super::Unwrapped;

    use executor::{
        Config, Executor, JoinHandle, Priority,
        host::{Harness, ThreadPlatform, block_on},
    };

    /// The harness's ticker period: the kernel's tick (100 Hz). The benches
    /// use no timers; a tick is an interrupt that ends a halt, as in the
    /// kernel.
    const TICK: Duration = Duration::from_millis(10);

    /// Our executor on N std threads.
    pub struct Ours {
        harness: Harness,
    }

    /// Our executor is `'static` (the harness leaks it): the spawner is the
    /// reference.
    #[derive(Clone, Copy)]
    pub struct OursSpawner(&'static Executor<ThreadPlatform>);

    impl super::Runtime for Ours {
        const NAME: &'static str = "ours";
        type Spawner = OursSpawner;

        fn start(threads: usize) -> Self {
            Self {
                harness: Harness::start(threads, Config::default(), TICK),
            }
        }

        fn spawner(&self) -> OursSpawner {
            OursSpawner(self.harness.executor())
        }

        fn block_on<F: Future>(&self, future: F) -> F::Output {
            block_on(future)
        }

        fn shutdown(self) {
            let _ = self.harness.shutdown();
        }
    }

    impl super::Spawner for OursSpawner {
        type Join<T: Send + 'static> = Unwrapped<JoinHandle<T>>;

        fn spawn<F>(&self, future: F) -> Unwrapped<JoinHandle<F::Output>>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            Unwrapped(self.0.spawn(Priority::Normal, future))
        }

        fn spawn_detached<F>(&self, future: F)
        where
            F: Future<Output = ()> + Send + 'static,
        {
            self.0.spawn(Priority::Normal, future).detach();
        }

        fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
            executor::yield_now()
        }
    }
}

/// Tokio's multi-thread runtime with N workers.
pub mod tokio_rt {
    use std::future::Future;

    use super::Unwrapped;
    use tokio::runtime::{Builder, Handle, Runtime as TokioRuntime};

    /// Tokio's multi-thread runtime.
    pub struct Tokio {
        rt: TokioRuntime,
    }

    /// A runtime handle (what `tokio::spawn` finds in the thread context).
    #[derive(Clone)]
    pub struct TokioSpawner(Handle);

    impl super::Runtime for Tokio {
        const NAME: &'static str = "tokio";
        type Spawner = TokioSpawner;

        fn start(threads: usize) -> Self {
            let rt = Builder::new_multi_thread()
                .worker_threads(threads)
                .build()
                .expect("build the Tokio runtime");
            Self { rt }
        }

        fn spawner(&self) -> TokioSpawner {
            TokioSpawner(self.rt.handle().clone())
        }

        fn block_on<F: Future>(&self, future: F) -> F::Output {
            self.rt.block_on(future)
        }

        fn shutdown(self) {
            drop(self.rt);
        }
    }

    impl super::Spawner for TokioSpawner {
        type Join<T: Send + 'static> = Unwrapped<tokio::task::JoinHandle<T>>;

        fn spawn<F>(&self, future: F) -> Unwrapped<tokio::task::JoinHandle<F::Output>>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            Unwrapped(self.0.spawn(future))
        }

        fn spawn_detached<F>(&self, future: F)
        where
            F: Future<Output = ()> + Send + 'static,
        {
            drop(self.0.spawn(future));
        }

        fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
            tokio::task::yield_now()
        }
    }
}

/// `async-executor`: one shared `Executor`, N threads each running
/// `ex.run(shutdown signal)`.
pub mod async_exec {
    use std::{future::Future, sync::Arc, thread};

    use async_executor::{Executor, Task};
    use futures_channel::oneshot;

    /// async-executor on N threads.
    pub struct AsyncExecutor {
        ex: Arc<Executor<'static>>,
        stop: Vec<oneshot::Sender<()>>,
        threads: Vec<thread::JoinHandle<()>>,
    }

    /// The shared executor.
    #[derive(Clone)]
    pub struct AsyncExecutorSpawner(Arc<Executor<'static>>);

    impl super::Runtime for AsyncExecutor {
        const NAME: &'static str = "async-executor";
        type Spawner = AsyncExecutorSpawner;

        fn start(threads: usize) -> Self {
            let ex = Arc::new(Executor::new());
            let (stop, threads) = (0..threads)
                .map(|i| {
                    let (tx, rx) = oneshot::channel::<()>();
                    let ex = ex.clone();
                    let thread = thread::Builder::new()
                        .name(format!("async-executor-{i}"))
                        .spawn(move || {
                            futures_lite::future::block_on(ex.run(async {
                                let _ = rx.await;
                            }));
                        })
                        .expect("spawn an async-executor thread");
                    (tx, thread)
                })
                .unzip();
            Self { ex, stop, threads }
        }

        fn spawner(&self) -> AsyncExecutorSpawner {
            AsyncExecutorSpawner(self.ex.clone())
        }

        fn block_on<F: Future>(&self, future: F) -> F::Output {
            // The main thread only waits: it does not run `ex.run` (which would
            // make it an N+1st worker).
            futures_lite::future::block_on(future)
        }

        fn shutdown(self) {
            for tx in self.stop {
                let _ = tx.send(());
            }
            for thread in self.threads {
                thread.join().expect("an async-executor thread panicked");
            }
        }
    }

    impl super::Spawner for AsyncExecutorSpawner {
        type Join<T: Send + 'static> = Task<T>;

        fn spawn<F>(&self, future: F) -> Task<F::Output>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            self.0.spawn(future)
        }

        fn spawn_detached<F>(&self, future: F)
        where
            F: Future<Output = ()> + Send + 'static,
        {
            // Dropping a `Task` would cancel it.
            self.0.spawn(future).detach();
        }

        fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
            futures_lite::future::yield_now()
        }
    }
}
