//! Tasks, their reference counts, their state word and their waker.
//!
//! A task is one heap block (`Task<P>`, allocated at spawn) holding a
//! [`Header`] first (`repr(C)`), the executor it belongs to and the boxed
//! future. The header carries a manual reference count: one reference per
//! queue entry, one for the core that is polling it, one per [`Waker`].
//!
//! # The state word
//!
//! | bit | meaning |
//! | --- | --- |
//! | `QUEUED` | the task sits in (or is being moved between) run queues, *or* it is running and has been woken since its poll began, so the poller must requeue it |
//! | `RUNNING` | a core has popped it and is polling it; only that core touches the future |
//! | `COMPLETE` | the future returned `Ready` and has been dropped |
//!
//! - **wake**: if `COMPLETE` or `QUEUED` is set, nothing (wakes coalesce);
//!   otherwise set `QUEUED`; if `RUNNING` was clear, the waker pushes a new
//!   reference onto the home core's queue, else the poller will.
//! - **pop → poll**: the popping core swaps `QUEUED` for `RUNNING`, so a wake
//!   during the poll sets `QUEUED` again instead of pushing a second copy.
//! - **after poll**: `Ready` → `COMPLETE` (both other bits cleared); `Pending`
//!   → clear `RUNNING`, and if `QUEUED` is set, push the task back (to the back
//!   of its home queue: this is how [`yield_now`] works).
//!
//! Hence a task is in at most one queue at a time, is polled by at most one
//! core at a time, and a migration (steal, balance) moves the queue's
//! reference without touching the state: `QUEUED` stays set throughout.
//!
//! # Never free in a waker
//!
//! Dropping a [`Waker`] may drop the last reference, and wakers are dropped
//! from interrupt handlers, where freeing memory could deadlock on the heap
//! lock (and dropping an unfinished future runs arbitrary code). So a waker
//! never frees: when its drop releases the last reference it resurrects the
//! task (count back to 1, `QUEUED | ORPHAN` set) and pushes it onto its home
//! queue; the core pops it and, in task context, drops the future (if the task
//! never finished: nothing can wake it any more, so it is cancelled, as in
//! `async-task`) and frees the block.

use alloc::boxed::Box;
use core::{
    future::Future,
    pin::Pin,
    ptr::NonNull,
    sync::atomic::AtomicBool as PlainAtomicBool,
    task::{Context, Poll, RawWaker, RawWakerVTable, Waker},
};

use crate::{
    Executor, Platform, Priority,
    loom::{AtomicU32, AtomicUsize, Ordering, UnsafeCell, fence},
};

pub(crate) const QUEUED: usize = 1 << 0;
pub(crate) const RUNNING: usize = 1 << 1;
pub(crate) const COMPLETE: usize = 1 << 2;
/// Set when the last waker was dropped: the task can never be woken again, so
/// the core that pops it drops its future and frees it instead of polling.
pub(crate) const ORPHAN: usize = 1 << 3;

/// No core has polled the task yet (`Header::last_core`).
pub(crate) const NO_CORE: u32 = u32::MAX;

/// The type-erased part of a task, first in its block.
#[repr(C)]
pub(crate) struct Header {
    pub(crate) state: AtomicUsize,
    refs: AtomicUsize,
    pub(crate) id: u64,
    pub(crate) priority: Priority,
    /// Pinned to its spawn core: never stolen or migrated (`spawn_pinned`).
    pub(crate) pinned: bool,
    /// The core whose queue a wake pushes onto (spawn core; the thief or the
    /// balancer's target after a migration).
    pub(crate) home: AtomicU32,
    /// The core that polled it last (for `tasks_run`); only pollers touch it.
    pub(crate) last_core: core::sync::atomic::AtomicU32,
    /// Set by [`yield_now`] during a poll; read and cleared by the poller.
    pub(crate) yielded: PlainAtomicBool,
    vtable: &'static TaskVTable,
}

/// The executor-specific operations behind the (single, non-generic) waker
/// vtable.
struct TaskVTable {
    wake_by_ref: unsafe fn(NonNull<Header>),
    drop_waker_ref: unsafe fn(NonNull<Header>),
}

/// The boxed future of a task.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A task of executor `Executor<P>`.
#[repr(C)]
pub(crate) struct Task<P: Platform> {
    header: Header,
    exec: &'static Executor<P>,
    future: UnsafeCell<Option<BoxFuture>>,
}

/// One counted reference to a task: the currency of run queues and pollers.
/// It is deliberately not `Drop`: every owner either hands it on (push) or
/// releases it with [`TaskRef::release`] (task context) /
/// [`TaskRef::release_from_waker`].
pub(crate) struct TaskRef<P: Platform>(NonNull<Task<P>>);

// SAFETY: a `TaskRef` is a counted reference to a `Task<P>`, whose shared
// parts are atomics and whose future (`Send`) is only touched by the core that
// holds `RUNNING`; handing the reference to another thread is what run queues
// do.
unsafe impl<P: Platform> Send for TaskRef<P> {}

impl<P: Platform> Task<P> {
    const VTABLE: TaskVTable = TaskVTable {
        wake_by_ref: Self::wake_by_ref_raw,
        drop_waker_ref: Self::drop_waker_ref_raw,
    };

    /// Allocates a task with one reference (returned), `QUEUED` set, homed on
    /// `home`.
    pub(crate) fn allocate(
        exec: &'static Executor<P>,
        id: u64,
        priority: Priority,
        home: u32,
        pinned: bool,
        future: BoxFuture,
    ) -> TaskRef<P> {
        let task = Box::new(Task {
            header: Header {
                state: AtomicUsize::new(QUEUED),
                refs: AtomicUsize::new(1),
                id,
                priority,
                pinned,
                home: AtomicU32::new(home),
                last_core: core::sync::atomic::AtomicU32::new(NO_CORE),
                yielded: PlainAtomicBool::new(false),
                vtable: &Self::VTABLE,
            },
            exec,
            future: UnsafeCell::new(Some(future)),
        });
        TaskRef(NonNull::from(Box::leak(task)))
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// # Safety
    /// `header` points at the header of a live `Task<P>` on which the caller
    /// holds a reference.
    unsafe fn wake_by_ref_raw(header: NonNull<Header>) {
        // SAFETY: the header is the first field of a `repr(C)` `Task<P>`, and
        // the caller's reference keeps the block alive.
        let task = unsafe { header.cast::<Task<P>>().as_ref() };
        task.exec.wake_task(task);
    }

    /// # Safety
    /// As for `wake_by_ref_raw`; the caller gives its reference up.
    unsafe fn drop_waker_ref_raw(header: NonNull<Header>) {
        TaskRef::<P>(header.cast()).release_from_waker();
    }
}

impl<P: Platform> TaskRef<P> {
    fn task(&self) -> &Task<P> {
        // SAFETY: a `TaskRef` is a counted reference, so the block is live.
        unsafe { self.0.as_ref() }
    }

    pub(crate) fn header(&self) -> &Header {
        &self.task().header
    }

    /// Takes another reference (for a waker's push).
    pub(crate) fn from_task(task: &Task<P>) -> Self {
        task.header.refs.fetch_add(1, Ordering::Relaxed);
        TaskRef(NonNull::from(task))
    }

    /// Polls the future. The caller holds `RUNNING`.
    pub(crate) fn poll(&self) -> Poll<()> {
        let waker = core::mem::ManuallyDrop::new(
            // SAFETY: the data pointer is this task's header with the vtable
            // that treats it as one; `ManuallyDrop` keeps this borrowed waker
            // from releasing our reference, and clones take their own.
            unsafe { Waker::from_raw(RawWaker::new(self.0.as_ptr().cast(), &WAKER_VTABLE)) },
        );
        let mut cx = Context::from_waker(&waker);
        self.task().future.with_mut(|future| {
            // SAFETY: the caller holds `RUNNING`, which one core at a time
            // owns (see the module docs), so this is the only access.
            match unsafe { &mut *future } {
                Some(f) => f.as_mut().poll(&mut cx),
                None => Poll::Ready(()),
            }
        })
    }

    /// Drops the future (task context, after `Ready`). The caller holds
    /// `RUNNING`.
    pub(crate) fn drop_future(&self) {
        let old = self.task().future.with_mut(|future| {
            // SAFETY: as in `poll`.
            unsafe { (*future).take() }
        });
        drop(old);
    }

    /// Releases this reference in task context: the last one frees the task
    /// (dropping the future if it never completed). Returns whether it freed.
    pub(crate) fn release(self) -> bool {
        if self.header().refs.fetch_sub(1, Ordering::Release) != 1 {
            return false;
        }
        fence(Ordering::Acquire);
        let exec = self.task().exec;
        // SAFETY: this was the last reference, so nothing else can reach the
        // block, which `allocate` made with `Box::new`.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
        exec.task_freed();
        true
    }

    /// Releases this reference from a waker (any context, including interrupt
    /// handlers): never frees; the last reference resurrects the task onto
    /// its home queue so that a core frees it (module docs).
    pub(crate) fn release_from_waker(self) {
        if self.header().refs.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        // Nobody else holds a reference, so nobody can observe or race with
        // the resurrection: the task is in no queue and not running.
        self.header().refs.store(1, Ordering::Relaxed);
        self.header()
            .state
            .fetch_or(QUEUED | ORPHAN, Ordering::AcqRel);
        let exec = self.task().exec;
        exec.enqueue_orphan(self);
    }
}

/// The one waker vtable of every task of every executor: the data pointer is
/// the task's [`Header`], whose own vtable leads to the executor.
static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

/// The header behind a waker data pointer.
///
/// # Safety
/// `data` comes from a waker with [`WAKER_VTABLE`] that is still alive.
unsafe fn header<'a>(data: *const ()) -> &'a Header {
    // SAFETY: per the contract, `data` points at a live task's header.
    unsafe { &*data.cast::<Header>() }
}

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: called on a live waker of ours.
    let header = unsafe { header(data) };
    header.refs.fetch_add(1, Ordering::Relaxed);
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: called on a live waker of ours, which owns a reference; it is
    // used, then given up (the waker is consumed).
    unsafe {
        waker_wake_by_ref(data);
        waker_drop(data);
    }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: called on a live waker of ours.
    let header = unsafe { header(data) };
    // SAFETY: the waker's reference keeps the task alive during the call.
    unsafe { (header.vtable.wake_by_ref)(NonNull::from(header)) }
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: called on a live waker of ours.
    let header = unsafe { header(data) };
    // SAFETY: the waker owned a reference, which it hands over.
    unsafe { (header.vtable.drop_waker_ref)(NonNull::from(header)) }
}

/// Yields to the other tasks of this core once: returns `Pending` once, after
/// waking itself, so the task goes to the back of its queue.
///
/// Counted in [`CoreStats::yields`](crate::CoreStats::yields) when the task
/// runs on this executor (the waker is recognised by its vtable).
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        let waker = cx.waker();
        if core::ptr::eq(waker.vtable(), &WAKER_VTABLE) {
            // SAFETY: the waker is one of ours and alive (we borrow it).
            unsafe { header(waker.data()) }
                .yielded
                .store(true, core::sync::atomic::Ordering::Relaxed);
        }
        waker.wake_by_ref();
        Poll::Pending
    }
}
