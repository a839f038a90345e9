//! Tasks: one heap block per task, its state word, its waker.
//!
//! # One allocation per task
//!
//! [`Cell<F, P>`](Cell) holds everything a task needs, in one `Box`:
//!
//! ```text
//! ┌──────────────── Cell<F, P> (repr(C)) ────────────────┐
//! │ Header: state word · run-queue links · vtable · id   │  ← TaskRef / Waker data point here
//! │         priority · pinned · home core · join waker   │
//! │ exec: &'static Executor<P>                           │
//! │ stage: Running(F) │ Finished(Result<Output>) │ Gone  │  ← JoinHandle reads the output here
//! └──────────────────────────────────────────────────────┘
//! ```
//!
//! Run queues, wakers and the [`JoinHandle`](crate::JoinHandle) hold
//! type-erased pointers to the [`Header`]; the per-`(F, P)` [`Vtable`] does
//! what needs the types (poll, cancel, read the output, free).
//!
//! # The state word
//!
//! One `AtomicUsize`: flags in the low byte, the reference count above them
//! (`REF_ONE = 1 << 8`), so that every transition — including "wake and take a
//! reference for the queue" — is one compare-and-swap.
//!
//! | bit | meaning |
//! | --- | --- |
//! | `QUEUED` | in a run queue (or being moved between queues), *or* running and woken since its poll began: the poller requeues it |
//! | `RUNNING` | a core popped it and polls it; only that core touches the future |
//! | `COMPLETE` | the future is gone: it returned, or it was cancelled; the output (or `JoinError`) is in the stage |
//! | `CANCELLED` | [`JoinHandle::abort`](crate::JoinHandle::abort) asked for cancellation |
//! | `ORPHAN` | no waker can ever wake it again: the core that pops it cancels it (if unfinished) and drops the queue's reference |
//! | `JOIN_INTEREST` | a `JoinHandle` exists (and holds one reference) |
//! | `JOIN_WAKER` | the `JoinHandle` has stored its waker in the header; only the completer reads it |
//!
//! References: one per queue entry (while `QUEUED` and not `RUNNING`), one for
//! the poller (the popped queue entry's, while `RUNNING`), one per [`Waker`],
//! one for the `JoinHandle`.
//!
//! ```text
//!  spawn ─► QUEUED ──pop──► RUNNING ──Ready──────────────────► COMPLETE ─► freed when
//!             ▲               │  │                                ▲         refs reach 0
//!             │      Pending, │  └─ CANCELLED or ORPHAN seen at ──┘         (task context)
//!             │      not woken│     pop: future dropped, Err(Cancelled)
//!             │               ▼
//!             └───wake────── idle (neither bit) ── last waker gone ──► ORPHAN|QUEUED
//!   (a wake while RUNNING sets QUEUED; the poller requeues after the poll)
//! ```
//!
//! - **wake**: `COMPLETE` or `QUEUED` set → nothing (wakes coalesce).
//!   Otherwise set `QUEUED`; if `RUNNING` is clear the waker also takes a
//!   reference (same CAS) and pushes the task onto its home core's queue.
//! - **pop → poll**: `QUEUED` → `RUNNING`.
//! - **after `Pending`**: clear `RUNNING`; if `QUEUED` was set meanwhile, the
//!   poller's reference goes back into a queue; otherwise it is dropped —
//!   unless the only other reference is the `JoinHandle` (no waker exists: the
//!   task can never be woken), then the task becomes `ORPHAN` and is requeued
//!   to be cancelled.
//! - **after `Ready`** (or cancellation): the output is written to the stage
//!   while `RUNNING` is held, then `RUNNING` → `COMPLETE`. If `JOIN_INTEREST`
//!   was already gone, the poller drops the output; if `JOIN_WAKER` is set, it
//!   wakes the joiner.
//! - **`JoinHandle` drop**: clear `JOIN_INTEREST | JOIN_WAKER`. If `COMPLETE`
//!   is set already the output is the handle's: it drops it while still
//!   holding its reference and only then releases that; otherwise the same CAS
//!   releases the reference. No one touches a block after giving up their
//!   reference: the holder of the last one may free it at once.
//!
//! # Never free outside task context
//!
//! Wakers are dropped in interrupt handlers, where freeing memory could
//! deadlock on the heap lock and dropping an unfinished future runs arbitrary
//! code. So a waker's drop never frees: when it releases the last reference
//! (or the last one besides the `JoinHandle`'s) it resurrects the task as
//! `ORPHAN | QUEUED` and pushes it onto its home queue; the core pops it and,
//! in task context, cancels it (if unfinished: nothing can wake it any more,
//! as in `async-task`) and releases the queue's reference, which frees the
//! block when it is the last. The `JoinHandle` of an orphaned task resolves
//! with [`JoinError::Cancelled`](crate::JoinError::Cancelled) instead of
//! hanging.

use alloc::boxed::Box;
use core::{
    future::Future,
    marker::PhantomPinned,
    mem,
    pin::Pin,
    ptr::{NonNull, addr_of_mut},
    sync::atomic::{AtomicBool as PlainAtomicBool, AtomicU32 as PlainAtomicU32},
    task::{Context, Poll, RawWaker, RawWakerVTable, Waker},
};

use cordyceps::{Linked, mpsc_queue::Links};

use crate::{
    Executor, JoinError, Platform, Priority,
    loom::{AtomicU32, AtomicUsize, Ordering, UnsafeCell},
};

pub(crate) const QUEUED: usize = 1 << 0;
pub(crate) const RUNNING: usize = 1 << 1;
pub(crate) const COMPLETE: usize = 1 << 2;
pub(crate) const CANCELLED: usize = 1 << 3;
pub(crate) const ORPHAN: usize = 1 << 4;
pub(crate) const JOIN_INTEREST: usize = 1 << 5;
pub(crate) const JOIN_WAKER: usize = 1 << 6;
/// One reference in the state word.
pub(crate) const REF_ONE: usize = 1 << 8;

/// The reference count in a state word.
pub(crate) const fn refs(state: usize) -> usize {
    state / REF_ONE
}

/// No core has polled the task yet (`Header::last_core`).
pub(crate) const NO_CORE: u32 = u32::MAX;

/// The type-erased part of a task, first in its block.
#[repr(C)]
pub(crate) struct Header {
    /// Flags and reference count (module docs).
    pub(crate) state: AtomicUsize,
    /// Run-queue links (`cordyceps::MpscQueue`): a task sits in at most one
    /// queue, which the `QUEUED` bit guarantees.
    links: Links<Header>,
    vtable: &'static Vtable,
    pub(crate) id: u64,
    pub(crate) priority: Priority,
    /// Never stolen or migrated (`spawn_pinned`).
    pub(crate) pinned: bool,
    /// The core whose queue a wake pushes onto.
    pub(crate) home: AtomicU32,
    /// The core that polled it last (for `tasks_run`); only pollers touch it.
    pub(crate) last_core: PlainAtomicU32,
    /// Set by [`yield_now`] during a poll; read and cleared by the poller.
    pub(crate) yielded: PlainAtomicBool,
    /// The `JoinHandle`'s waker. Written only by the `JoinHandle` while
    /// `JOIN_WAKER` is clear; read only by the completer once it has set
    /// `COMPLETE` and seen `JOIN_WAKER` set; dropped with the block.
    join_waker: UnsafeCell<Option<Waker>>,
    /// Loom builds only: the block was freed. `dealloc` quarantines the block
    /// instead of freeing it and sets this; every vtable dispatch asserts it
    /// clear, so a use after free fails the model instead of being silent
    /// undefined behaviour (loom does not check dangling pointers).
    #[cfg(all(test, loom))]
    freed: crate::loom::AtomicBool,
    _pin: PhantomPinned,
}

/// What needs the task's concrete types.
pub(crate) struct Vtable {
    /// Polls the future; on `Ready` stores the output in the stage.
    poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> Poll<()>,
    /// Drops the future and stores `Err(Cancelled)` in the stage.
    cancel: unsafe fn(NonNull<Header>),
    /// Drops the stored output.
    drop_output: unsafe fn(NonNull<Header>),
    /// Moves the stored output into `*mut Option<Result<T, JoinError>>`.
    read_output: unsafe fn(NonNull<Header>, *mut ()),
    /// Pushes the task (one reference given) onto its home core's queue.
    schedule: unsafe fn(NonNull<Header>),
    /// Frees the block (task context).
    dealloc: unsafe fn(NonNull<Header>),
}

/// Where a task's future, then its output, lives.
enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Gone,
}

/// A task's whole heap block.
#[repr(C)]
struct Cell<F: Future, P: Platform> {
    header: Header,
    exec: &'static Executor<P>,
    stage: UnsafeCell<Stage<F>>,
}

/// One counted reference to a task: the currency of run queues and pollers.
/// Deliberately not `Drop`: every owner hands it on (push) or gives it up
/// with [`TaskRef::release`] (task context).
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: a `TaskRef` is a counted reference to a task, whose shared parts
// are atomics and whose future (`Send`) is only touched by the core holding
// `RUNNING`; handing the reference to another thread is what run queues do.
unsafe impl Send for TaskRef {}

// SAFETY:
// 1. `into_ptr`/`from_ptr` convert a `TaskRef` to and from the raw pointer
//    without touching the count: the queue owns the reference meanwhile.
// 2. `links` returns a pointer into the pointee without creating a
//    reference to the whole header (`addr_of_mut!`).
// 3. A task is in at most one queue at a time (the `QUEUED` bit), and its
//    block does not move or get freed while a queue holds it (the queue's
//    reference keeps it alive).
unsafe impl Linked<Links<Header>> for Header {
    type Handle = TaskRef;

    fn into_ptr(task: TaskRef) -> NonNull<Header> {
        task.0
    }

    unsafe fn from_ptr(ptr: NonNull<Header>) -> TaskRef {
        TaskRef(ptr)
    }

    unsafe fn links(ptr: NonNull<Header>) -> NonNull<Links<Header>> {
        // SAFETY: the caller passes a pointer to a live header.
        unsafe { NonNull::new_unchecked(addr_of_mut!((*ptr.as_ptr()).links)) }
    }
}

impl Header {
    /// The task's vtable. In loom builds, first asserts that the block has not
    /// been freed (the load is also a point where loom may switch threads).
    fn vtable(&self) -> &'static Vtable {
        #[cfg(all(test, loom))]
        assert!(
            !self.freed.load(Ordering::SeqCst),
            "executor: task block used after it was freed"
        );
        self.vtable
    }

    /// A queue's stub node: never polled, woken or freed.
    pub(crate) fn stub() -> TaskRef {
        static STUB_VTABLE: Vtable = Vtable {
            poll: |_, _| unreachable!("stub polled"),
            cancel: |_| unreachable!("stub cancelled"),
            drop_output: |_| unreachable!("stub output"),
            read_output: |_, _| unreachable!("stub output"),
            schedule: |_| unreachable!("stub scheduled"),
            dealloc: |_| unreachable!("stub freed"),
        };
        let header = Box::new(Header {
            state: AtomicUsize::new(0),
            links: Links::new_stub(),
            vtable: &STUB_VTABLE,
            id: 0,
            priority: Priority::Normal,
            pinned: true,
            home: AtomicU32::new(0),
            last_core: PlainAtomicU32::new(NO_CORE),
            yielded: PlainAtomicBool::new(false),
            join_waker: UnsafeCell::new(None),
            #[cfg(all(test, loom))]
            freed: crate::loom::AtomicBool::new(false),
            _pin: PhantomPinned,
        });
        TaskRef(NonNull::from(Box::leak(header)))
    }
}

/// Allocates a task: one block, two references (the run queue's, returned
/// first, and the `JoinHandle`'s), `QUEUED | JOIN_INTEREST`.
pub(crate) fn allocate<F, P>(
    exec: &'static Executor<P>,
    id: u64,
    priority: Priority,
    home: u32,
    pinned: bool,
    future: F,
) -> (TaskRef, NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    P: Platform,
{
    let cell = Box::new(Cell {
        header: Header {
            state: AtomicUsize::new(QUEUED | JOIN_INTEREST | (2 * REF_ONE)),
            links: Links::new(),
            vtable: &Cell::<F, P>::VTABLE,
            id,
            priority,
            pinned,
            home: AtomicU32::new(home),
            last_core: PlainAtomicU32::new(NO_CORE),
            yielded: PlainAtomicBool::new(false),
            join_waker: UnsafeCell::new(None),
            #[cfg(all(test, loom))]
            freed: crate::loom::AtomicBool::new(false),
            _pin: PhantomPinned,
        },
        exec,
        stage: UnsafeCell::new(Stage::Running(future)),
    });
    let ptr = NonNull::from(Box::leak(cell)).cast::<Header>();
    (TaskRef(ptr), ptr)
}

impl<F, P> Cell<F, P>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    P: Platform,
{
    const VTABLE: Vtable = Vtable {
        poll: Self::poll,
        cancel: Self::cancel,
        drop_output: Self::drop_output,
        read_output: Self::read_output,
        schedule: Self::schedule,
        dealloc: Self::dealloc,
    };

    /// # Safety
    /// `ptr` is the header of a live `Cell<F, P>`.
    unsafe fn from_header<'a>(ptr: NonNull<Header>) -> &'a Self {
        // SAFETY: the header is the first field of a `repr(C)` cell.
        unsafe { ptr.cast::<Self>().as_ref() }
    }

    /// # Safety
    /// The caller holds `RUNNING` (exclusive access to the stage).
    unsafe fn poll(ptr: NonNull<Header>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: per the contract.
        let cell = unsafe { Self::from_header(ptr) };
        cell.stage.with_mut(|stage| {
            // SAFETY: `RUNNING` gives this core the only access to the stage.
            let stage = unsafe { &mut *stage };
            let Stage::Running(future) = stage else {
                return Poll::Ready(());
            };
            // SAFETY: the future lives in a heap block that is never moved
            // and is dropped in place (`cancel`, `dealloc`).
            let future = unsafe { Pin::new_unchecked(future) };
            match future.poll(cx) {
                Poll::Ready(output) => {
                    *stage = Stage::Finished(Ok(output));
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            }
        })
    }

    /// # Safety
    /// As for `poll`.
    unsafe fn cancel(ptr: NonNull<Header>) {
        // SAFETY: per the contract.
        let cell = unsafe { Self::from_header(ptr) };
        cell.stage.with_mut(|stage| {
            // SAFETY: `RUNNING` gives this core the only access to the stage.
            let stage = unsafe { &mut *stage };
            if matches!(stage, Stage::Running(_)) {
                *stage = Stage::Finished(Err(JoinError::Cancelled));
            }
        });
    }

    /// # Safety
    /// `COMPLETE` is set and the caller is the one owner of the output (the
    /// completer without `JOIN_INTEREST`, or the `JoinHandle`).
    unsafe fn drop_output(ptr: NonNull<Header>) {
        // SAFETY: per the contract.
        let cell = unsafe { Self::from_header(ptr) };
        // SAFETY: per the contract, nothing else touches the stage.
        cell.stage.with_mut(|stage| unsafe { *stage = Stage::Gone });
    }

    /// # Safety
    /// As for `drop_output`, and `dst` points at an
    /// `Option<Result<F::Output, JoinError>>`.
    unsafe fn read_output(ptr: NonNull<Header>, dst: *mut ()) {
        // SAFETY: per the contract.
        let cell = unsafe { Self::from_header(ptr) };
        cell.stage.with_mut(|stage| {
            // SAFETY: per the contract, nothing else touches the stage.
            let stage = unsafe { mem::replace(&mut *stage, Stage::Gone) };
            if let Stage::Finished(result) = stage {
                // SAFETY: per the contract, `dst` has this type.
                unsafe { *dst.cast::<Option<Result<F::Output, JoinError>>>() = Some(result) };
            }
        });
    }

    /// # Safety
    /// The caller gives up one reference to a live task with `QUEUED` set.
    unsafe fn schedule(ptr: NonNull<Header>) {
        // SAFETY: per the contract.
        let cell = unsafe { Self::from_header(ptr) };
        cell.exec.schedule(TaskRef(ptr));
    }

    /// # Safety
    /// The last reference is gone; task context.
    #[cfg(not(all(test, loom)))]
    unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: nothing else can reach the block, which `allocate` made
        // with `Box::new` as a `Cell<F, P>`.
        let cell = unsafe { Box::from_raw(ptr.cast::<Self>().as_ptr()) };
        let exec = cell.exec;
        exec.task_freed(&cell.header);
        drop(cell);
    }

    /// Loom builds: drops what the block owns but keeps (leaks) the block,
    /// marked `freed`, so that a later use is caught ([`Header::vtable`]).
    ///
    /// # Safety
    /// As for the real `dealloc`.
    #[cfg(all(test, loom))]
    unsafe fn dealloc(ptr: NonNull<Header>) {
        // SAFETY: the block is live (quarantined blocks are never freed).
        let cell = unsafe { Self::from_header(ptr) };
        // SAFETY: the last reference is gone: nothing else touches the cells.
        cell.stage.with_mut(|stage| unsafe { *stage = Stage::Gone });
        // SAFETY: as above.
        drop(cell.header.join_waker.with_mut(|w| unsafe { (*w).take() }));
        cell.header.freed.store(true, Ordering::SeqCst);
        cell.exec.task_freed(&cell.header);
    }
}

/// What the poller does after [`TaskRef::poll`] returned `Pending`.
pub(crate) enum AfterPending {
    /// Woken during the poll (a yield): push the reference back.
    Woken(TaskRef),
    /// Orphaned (no waker exists): push the reference back so that the core
    /// that pops it cancels it.
    Orphaned(TaskRef),
    /// Idle until a wake; the poller's reference is gone.
    Idle,
}

impl TaskRef {
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: a `TaskRef` is a counted reference, so the block is live.
        unsafe { self.0.as_ref() }
    }

    /// Rebuilds a reference from [`into_raw`](Self::into_raw).
    ///
    /// # Safety
    /// `ptr` came from `into_raw` and that reference was not used since.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Self {
        TaskRef(ptr)
    }

    /// Gives the reference up as a raw pointer (for the LIFO slot).
    pub(crate) fn into_raw(self) -> NonNull<Header> {
        self.0
    }

    /// `QUEUED` → `RUNNING` after a pop. Returns the state before.
    pub(crate) fn start_running(&self) -> usize {
        let prev = self
            .header()
            .state
            .fetch_xor(QUEUED | RUNNING, Ordering::AcqRel);
        // Task context: a broken invariant is a bug in this crate, and
        // stopping beats polling one future on two cores.
        assert_eq!(
            prev & (QUEUED | RUNNING),
            QUEUED,
            "executor: popped a task that is not (only) QUEUED"
        );
        prev
    }

    /// Polls the future (the caller holds `RUNNING`).
    pub(crate) fn poll(&self) -> Poll<()> {
        let waker = mem::ManuallyDrop::new(
            // SAFETY: the data pointer is this task's header, which the
            // vtable treats as one; `ManuallyDrop` keeps this borrowed waker
            // from releasing the poller's reference (clones take their own).
            unsafe { Waker::from_raw(RawWaker::new(self.0.as_ptr().cast(), &WAKER_VTABLE)) },
        );
        let mut cx = Context::from_waker(&waker);
        // SAFETY: the caller holds `RUNNING`.
        unsafe { (self.header().vtable().poll)(self.0, &mut cx) }
    }

    /// Drops the future and records `Err(Cancelled)` (the caller holds
    /// `RUNNING`).
    pub(crate) fn cancel(&self) {
        // SAFETY: the caller holds `RUNNING`.
        unsafe { (self.header().vtable().cancel)(self.0) }
    }

    /// `RUNNING` → idle or requeue, after `Pending` (module docs).
    pub(crate) fn after_pending(self) -> AfterPending {
        let state = &self.header().state;
        let mut cur = state.load(Ordering::Acquire);
        loop {
            debug_assert!(cur & RUNNING != 0);
            let idle = cur & !RUNNING;
            let (next, kind) = if cur & QUEUED != 0 {
                // Woken during the poll: our reference goes back in.
                (idle, 1)
            } else if refs(cur) == 1 || (refs(cur) == 2 && cur & JOIN_INTEREST != 0) {
                // Nothing but us (and perhaps the JoinHandle) refers to it:
                // no waker exists, it can never be woken. Cancel it.
                (idle | QUEUED | ORPHAN, 2)
            } else {
                (idle - REF_ONE, 0)
            };
            match state.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) if kind == 1 => return AfterPending::Woken(self),
                Ok(_) if kind == 2 => return AfterPending::Orphaned(self),
                Ok(_) => return AfterPending::Idle,
                Err(actual) => cur = actual,
            }
        }
    }

    /// `RUNNING` → `COMPLETE` once the stage holds the output (or
    /// `Err(Cancelled)`); hands the output to the `JoinHandle` or drops it,
    /// wakes the joiner, then releases the poller's reference.
    pub(crate) fn complete(self) {
        let header = self.header();
        let mut cur = header.state.load(Ordering::Acquire);
        loop {
            let next = (cur & !(RUNNING | QUEUED)) | COMPLETE;
            match header
                .state
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        if cur & JOIN_INTEREST == 0 {
            // SAFETY: `COMPLETE` is set and no JoinHandle exists: the output
            // is ours to drop.
            unsafe { (header.vtable().drop_output)(self.0) };
        } else if cur & JOIN_WAKER != 0 {
            header.join_waker.with(|w| {
                // SAFETY: `JOIN_WAKER` was set when we set `COMPLETE`, so the
                // JoinHandle no longer writes the waker (module docs); our
                // reference keeps the block alive.
                if let Some(w) = unsafe { &*w } {
                    w.wake_by_ref();
                }
            });
        }
        self.release();
    }

    /// Releases this reference in task context: the last one frees the task.
    /// Returns whether it freed.
    pub(crate) fn release(self) -> bool {
        let prev = self.header().state.fetch_sub(REF_ONE, Ordering::AcqRel);
        debug_assert!(refs(prev) >= 1, "task reference count underflow");
        if refs(prev) != 1 {
            return false;
        }
        // SAFETY: that was the last reference, and this is task context.
        unsafe { (self.header().vtable().dealloc)(self.0) };
        true
    }
}

// ----- the JoinHandle's side ---------------------------------------------

/// The JoinHandle's operations on the raw task (its reference is `ptr`).
pub(crate) struct JoinRef(NonNull<Header>);

// SAFETY: as for `TaskRef`; the output moved out through it is `Send`.
unsafe impl Send for JoinRef {}
// SAFETY: `&JoinRef` only reads atomics.
unsafe impl Sync for JoinRef {}

impl JoinRef {
    /// # Safety
    /// `ptr` carries the `JoinHandle`'s reference and `JOIN_INTEREST`.
    pub(crate) unsafe fn new(ptr: NonNull<Header>) -> Self {
        JoinRef(ptr)
    }

    fn header(&self) -> &Header {
        // SAFETY: the JoinHandle's reference keeps the block alive.
        unsafe { self.0.as_ref() }
    }

    pub(crate) fn id(&self) -> u64 {
        self.header().id
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.header().state.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// Polls for the output: `dst` is an `Option<Result<T, JoinError>>` of
    /// the task's output type `T`, filled when the task is complete.
    ///
    /// # Safety
    /// `dst` has the task's output type.
    pub(crate) unsafe fn poll_output(&self, cx: &Context<'_>, dst: *mut ()) -> Poll<()> {
        let header = self.header();
        let state = &header.state;
        let mut cur = state.load(Ordering::Acquire);
        if cur & COMPLETE == 0 {
            if cur & JOIN_WAKER != 0 {
                let same = header.join_waker.with(|w| {
                    // SAFETY: the waker is only written by us (the
                    // JoinHandle, `&mut` through `Pin<&mut>` callers) while
                    // `JOIN_WAKER` is clear; reading is always fine for us.
                    unsafe { &*w }
                        .as_ref()
                        .is_some_and(|w| w.will_wake(cx.waker()))
                });
                if same {
                    return Poll::Pending;
                }
                // Take the right to write back: clear JOIN_WAKER unless the
                // task completed meanwhile.
                loop {
                    if cur & COMPLETE != 0 {
                        break;
                    }
                    match state.compare_exchange_weak(
                        cur,
                        cur & !JOIN_WAKER,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => {
                            cur &= !JOIN_WAKER;
                            break;
                        }
                        Err(actual) => cur = actual,
                    }
                }
            }
            if cur & COMPLETE == 0 {
                let new = cx.waker().clone();
                let old = header.join_waker.with_mut(|w| {
                    // SAFETY: `JOIN_WAKER` is clear, so the completer does not
                    // read the slot; only this JoinHandle writes it.
                    unsafe { (*w).replace(new) }
                });
                drop(old);
                loop {
                    if cur & COMPLETE != 0 {
                        break;
                    }
                    match state.compare_exchange_weak(
                        cur,
                        cur | JOIN_WAKER,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) => return Poll::Pending,
                        Err(actual) => cur = actual,
                    }
                }
            }
        }
        // SAFETY: `COMPLETE` is set (read with Acquire: the stage write is
        // visible) and the JoinHandle owns the output (`JOIN_INTEREST`).
        unsafe { (header.vtable().read_output)(self.0, dst) };
        Poll::Ready(())
    }

    /// Requests cancellation: sets `CANCELLED` and wakes the task, so the core
    /// that pops it drops the future instead of polling it.
    pub(crate) fn abort(&self) {
        let state = &self.header().state;
        let prev = state.fetch_or(CANCELLED, Ordering::AcqRel);
        if prev & (COMPLETE | CANCELLED) == 0 {
            // SAFETY: our reference keeps the task alive during the call.
            unsafe { wake_by_ref_raw(self.0) };
        }
    }

    /// Drops the JoinHandle's interest and reference (task context): drops an
    /// unread output, frees the task if this was the last reference.
    ///
    /// The block must not be touched once the reference is given up: the
    /// completer (or a waker's resurrection) may free it at once. So when the
    /// task is already complete, the output is dropped *before* the reference
    /// is released; otherwise one CAS gives up both interest and reference.
    pub(crate) fn drop_handle(&self) {
        let header = self.header();
        let state = &header.state;
        let mut cur = state.load(Ordering::Acquire);
        loop {
            let mut next = cur & !(JOIN_INTEREST | JOIN_WAKER);
            if cur & COMPLETE == 0 {
                // The completer will see `JOIN_INTEREST` clear and drop the
                // output itself: nothing left for us to do in the block.
                next -= REF_ONE;
            }
            match state.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        if cur & COMPLETE != 0 {
            // SAFETY: the task completed while we held `JOIN_INTEREST`: the
            // output is ours, and our reference (still held) keeps the block
            // alive.
            unsafe { (header.vtable().drop_output)(self.0) };
            let prev = state.fetch_sub(REF_ONE, Ordering::AcqRel);
            if refs(prev) == 1 {
                // SAFETY: that was the last reference; JoinHandles are
                // dropped in task context.
                unsafe { (header.vtable().dealloc)(self.0) };
            }
        } else if refs(cur) == 1 {
            // SAFETY: that was the last reference (the CAS gave it up);
            // JoinHandles are dropped in task context.
            unsafe { (header.vtable().dealloc)(self.0) };
        }
    }
}

// ----- wakers -----------------------------------------------------------------

/// The one waker vtable of every task of every executor: the data pointer is
/// the task's [`Header`], whose own vtable leads to the executor.
static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: called on a live waker of ours, whose reference keeps the
    // header alive.
    let header = unsafe { &*data.cast::<Header>() };
    let prev = header.state.fetch_add(REF_ONE, Ordering::Relaxed);
    // An overflow would wrap into the flags: stop (task context or not, it
    // is a leak of 2^55 wakers).
    assert!(
        refs(prev) < usize::MAX / REF_ONE / 2,
        "waker count overflow"
    );
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: called on a live waker of ours, which owns a reference that is
    // handed over.
    unsafe { wake_by_val_raw(NonNull::new_unchecked(data.cast_mut().cast())) }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    // SAFETY: called on a live waker of ours.
    unsafe { wake_by_ref_raw(NonNull::new_unchecked(data.cast_mut().cast())) }
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: called on a live waker of ours, which owns a reference.
    unsafe { drop_waker_raw(NonNull::new_unchecked(data.cast_mut().cast())) }
}

/// Wakes the task behind `ptr` (any context, including interrupt handlers):
/// no allocation, no lock, no free.
///
/// # Safety
/// The caller holds a reference to a live task.
pub(crate) unsafe fn wake_by_ref_raw(ptr: NonNull<Header>) {
    // SAFETY: per the contract.
    let header = unsafe { ptr.as_ref() };
    let mut cur = header.state.load(Ordering::Acquire);
    loop {
        if cur & (COMPLETE | QUEUED) != 0 {
            return;
        }
        let (next, push) = if cur & RUNNING != 0 {
            (cur | QUEUED, false)
        } else {
            ((cur | QUEUED) + REF_ONE, true)
        };
        match header
            .state
            .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) if push => break,
            Ok(_) => return,
            Err(actual) => cur = actual,
        }
    }
    // SAFETY: we took a reference for the queue in the CAS above.
    unsafe { (header.vtable().schedule)(ptr) }
}

/// Wakes and gives up the caller's reference (`Waker::wake`).
///
/// # Safety
/// The caller owns a reference to a live task.
unsafe fn wake_by_val_raw(ptr: NonNull<Header>) {
    // SAFETY: per the contract.
    let header = unsafe { ptr.as_ref() };
    let mut cur = header.state.load(Ordering::Acquire);
    loop {
        if cur & (COMPLETE | QUEUED | RUNNING) != 0 {
            // No push: the reference is simply dropped (which may orphan).
            if cur & (COMPLETE | QUEUED) == 0 {
                // RUNNING: set QUEUED so the poller requeues it.
                match header.state.compare_exchange_weak(
                    cur,
                    cur | QUEUED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => {}
                    Err(actual) => {
                        cur = actual;
                        continue;
                    }
                }
            }
            // SAFETY: we own the reference.
            unsafe { drop_waker_raw(ptr) };
            return;
        }
        // Idle: the waker's reference becomes the queue's.
        match header.state.compare_exchange_weak(
            cur,
            cur | QUEUED,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => break,
            Err(actual) => cur = actual,
        }
    }
    // SAFETY: the reference we own now belongs to the queue.
    unsafe { (header.vtable().schedule)(ptr) }
}

/// Gives up a waker's reference (any context): never frees. The last
/// reference — or the last besides the JoinHandle's, on an idle task —
/// resurrects the task as `ORPHAN | QUEUED` so that a core cancels and frees
/// it in task context (module docs).
///
/// # Safety
/// The caller owns a reference to a live task.
unsafe fn drop_waker_raw(ptr: NonNull<Header>) {
    // SAFETY: per the contract.
    let header = unsafe { ptr.as_ref() };
    let mut cur = header.state.load(Ordering::Acquire);
    loop {
        let idle = cur & (QUEUED | RUNNING | COMPLETE) == 0;
        let last = refs(cur) == 1;
        let only_join_left = refs(cur) == 2 && cur & JOIN_INTEREST != 0 && idle;
        let next = if last || only_join_left {
            // Resurrect: keep our reference for the queue.
            cur | QUEUED | ORPHAN
        } else {
            cur - REF_ONE
        };
        match header
            .state
            .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) if next & ORPHAN != 0 && cur & ORPHAN == 0 => break,
            Ok(_) => return,
            Err(actual) => cur = actual,
        }
    }
    // SAFETY: the reference we own now belongs to the queue.
    unsafe { (header.vtable().schedule)(ptr) }
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
            unsafe { &*waker.data().cast::<Header>() }
                .yielded
                .store(true, core::sync::atomic::Ordering::Relaxed);
        }
        waker.wake_by_ref();
        Poll::Pending
    }
}
