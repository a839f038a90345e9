//! The loom shim: the one place every crate of the workspace takes the
//! atomics, cells and `Arc` of its *shared-memory protocols* from.
//!
//! Built with `--cfg loom` (the loom test runs), these are [loom]'s
//! model-checked doubles, so loom models explore every interleaving of the
//! *real* lock, run-queue, task-state, idle and timer code; otherwise they
//! are the plain `core` / `alloc` types at zero cost. The pattern is tokio's
//! `src/loom/mod.rs`, and `maitake-sync` and `cordyceps` follow the same
//! `cfg(loom)` switch, so under loom the whole stack is modelled together.
//!
//! The switch is `cfg(loom)`, not `cfg(loom)`: a crate whose loom
//! models run (the executor) must see *this* crate's locks on loom's atomics
//! too, and this crate is not under test then.
//!
//! What goes through the shim: state shared between CPUs as part of a
//! protocol (lock words and the data they guard, task state words, idle
//! words, queues' links). What does not: statistics counters, hints, and
//! anything in a `static` (loom's atomics cannot be built in a constant) —
//! such as the per-CPU rank books and the boot-time hooks.
//!
//! Constructors of types built on the shim are `const fn` only when
//! `cfg(not(loom))`; under loom they are plain `fn`s.
//!
//! [loom]: https://docs.rs/loom

#[cfg(loom)]
pub use loom::{
    cell::UnsafeCell,
    hint::spin_loop,
    sync::Arc,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering},
};

#[cfg(not(loom))]
pub use self::plain::UnsafeCell;
#[cfg(not(loom))]
pub use alloc::sync::Arc;
#[cfg(not(loom))]
pub use core::{
    hint::spin_loop,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering},
};

/// `core::cell::UnsafeCell` behind loom's closure-based interface.
#[cfg(not(loom))]
mod plain {
    /// A `core::cell::UnsafeCell` with loom's `with`/`with_mut` interface, so
    /// that code reads the same under both configurations.
    #[derive(Debug)]
    pub struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        pub const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        /// Unwraps the value.
        pub fn into_inner(self) -> T {
            self.0.into_inner()
        }

        /// Calls `f` with a pointer for shared access. (Loom records the
        /// access.)
        #[inline(always)]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a pointer for exclusive access. (Loom records the
        /// access and reports it if it races with another.)
        #[inline(always)]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}

/// Loom models' `block_on` (the models of `executor::sync` and `ipc`).
#[cfg(loom)]
pub use self::model::block_on;

#[cfg(loom)]
mod model {
    extern crate alloc;

    use alloc::sync::Arc;
    use alloc::task::Wake;
    use core::future::Future;
    use core::pin::pin;
    use core::task::{Context, Poll, Waker};

    /// A waker that notifies a loom `Notify` (an unpark token for one
    /// `block_on`, not for the whole thread: a late wake-up must not disturb
    /// the thread once it waits on something else, such as a `join`).
    struct NotifyWaker(loom::sync::Notify);

    impl Wake for NotifyWaker {
        fn wake(self: Arc<Self>) {
            self.0.notify();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.notify();
        }
    }

    /// Polls `future` on this loom thread until it completes, waiting for
    /// its waker between polls (a notification before the wait is kept). If
    /// every thread waits, loom reports a deadlock: that is how a lost
    /// wake-up shows.
    ///
    /// Not `loom::future::block_on`: with loom 0.7.3 its waker and the clone
    /// stored in a `WaitCell` do not compare equal under `Waker::will_wake`
    /// (observed; its vtable is a `&RawWakerVTable::new(..)` built in a
    /// function, whose address need not be unique), so every poll of
    /// `WaitCell::poll_wait` replaces and wakes the stored waker, the thread
    /// never waits, and loom gives up ("exceeded maximum number of
    /// branches"). A `Waker` made from one `Arc<NotifyWaker>` keeps one
    /// identity.
    pub fn block_on<F: Future>(future: F) -> F::Output {
        let notify = Arc::new(NotifyWaker(loom::sync::Notify::new()));
        let waker = Waker::from(Arc::clone(&notify));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            notify.0.wait();
        }
    }
}
