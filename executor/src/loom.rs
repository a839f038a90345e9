//! The one place the executor takes its *shared-protocol* atomics and cells
//! from.
//!
//! In the loom test build (`cfg(all(test, loom))`) these are [loom]'s
//! model-checked doubles, so the models in `loom_models` explore every
//! interleaving of the real run-queue, task-state and idle-protocol code;
//! otherwise they are the plain `core` types at zero cost (tokio's
//! `src/loom/mod.rs` pattern; `test` too because loom is a dev-dependency, so a
//! non-test `--cfg loom` build keeps the `core` types).
//!
//! Only state that is part of a modelled protocol goes through the shim: the
//! task state word (flags and reference count), a task's home core, the join
//! waker and output cells, the per-core idle state word, the LIFO slot, and
//! the timer lists. The run queues are `cordyceps::MpscQueue`s, which take
//! loom's types themselves under `cfg(loom)`. Statistics counters, the
//! approximate queue lengths, the anti-starvation bookkeeping and the steal
//! cursor are not part of any protocol and use `core` atomics directly.
//!
//! [loom]: https://docs.rs/loom

#[cfg(all(test, loom))]
pub(crate) use loom::{
    cell::UnsafeCell,
    hint::spin_loop,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicUsize, Ordering},
};

#[cfg(not(all(test, loom)))]
pub(crate) use self::plain::UnsafeCell;
#[cfg(not(all(test, loom)))]
pub(crate) use core::{
    hint::spin_loop,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicUsize, Ordering},
};

/// `core::cell::UnsafeCell` behind loom's closure-based interface.
#[cfg(not(all(test, loom)))]
mod plain {
    /// A `core::cell::UnsafeCell` with loom's `with`/`with_mut` interface, so
    /// that the code reads the same under both configurations.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        pub(crate) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        /// Calls `f` with a pointer for shared access.
        #[inline(always)]
        #[allow(dead_code)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a pointer for exclusive access.
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}
