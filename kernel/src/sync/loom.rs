//! The one place `sync` takes its atomics and cells from.
//!
//! In the loom test build (`cfg(all(test, loom))`) these are [loom]'s
//! model-checked doubles, so the loom models in `sync::loom_models` explore
//! every interleaving of the *real* lock code; otherwise they are the plain
//! `core` types at zero cost. The pattern is tokio's `src/loom/mod.rs`. (`test`
//! too, because loom is a dev-dependency: a non-test build with `--cfg loom`
//! keeps the `core` types.)
//!
//! Only the state shared *between* CPUs goes through the shim (the lock word and
//! the protected value). The per-CPU rank bookkeeping and the boot-time hooks
//! use `core` atomics directly: they are not part of any modelled protocol, and
//! loom's atomics cannot live in `static`s.
//!
//! [loom]: https://docs.rs/loom

#[cfg(all(test, loom))]
pub(crate) use loom::{
    cell::UnsafeCell,
    hint::spin_loop,
    sync::atomic::{AtomicBool, Ordering},
};

#[cfg(not(all(test, loom)))]
pub(crate) use self::plain::UnsafeCell;
#[cfg(not(all(test, loom)))]
pub(crate) use core::{
    hint::spin_loop,
    sync::atomic::{AtomicBool, Ordering},
};

/// `core::cell::UnsafeCell` behind loom's closure-based interface.
#[cfg(not(all(test, loom)))]
mod plain {
    /// A `core::cell::UnsafeCell` with loom's `with`/`with_mut` interface, so
    /// that lock code reads the same under both configurations.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        /// Wraps `value`.
        pub(crate) const fn new(value: T) -> Self {
            Self(core::cell::UnsafeCell::new(value))
        }

        /// Unwraps the value.
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner()
        }

        /// Calls `f` with a pointer for shared access. (Loom records the access.)
        #[inline(always)]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Calls `f` with a pointer for exclusive access. (Loom records the
        /// access and reports it if it races with another.)
        #[inline(always)]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }
}
