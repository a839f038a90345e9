//! Per-core timers the timer interrupt can own: [`Sleep`], [`Timeout`] and
//! the list the tick expires.
//!
//! # Layout
//!
//! A timer entry lives *inside* its [`Sleep`] future: no allocation when it
//! is armed, nothing to free when it fires. Each core has one intrusive
//! doubly linked list (`cordyceps::List`) of armed entries, sorted by
//! deadline, equal deadlines in arming order. The list only holds pointers;
//! the `Sleep` owns the memory, which is why a `Sleep` is `!Unpin`: once an
//! entry is linked it must not move, and `Sleep`'s `Drop` unlinks it before
//! the memory can be reused (the `Pin` drop guarantee).
//!
//! The list is guarded by a spin lock ([`Timers`]) that task context only
//! takes inside [`Platform::without_interrupts`], so a core's timer interrupt
//! never spins on a lock its own core holds; a task that migrated takes the
//! lock of the core that armed its entry, from its new core.
//!
//! # The entry's state machine
//!
//! ```text
//!   ┌──────────┐  first poll before the deadline:      ┌───────────────┐
//!   │ UNARMED  │  store the waker (owner only), lock,  │ ARMED         │
//!   │ not      │  deadline still ahead? link into      │ linked; list  │
//!   │ linked   │  this core's list, ARMED; unlock      │ owns the waker│
//!   └──────────┘ ────────────────────────────────────► └───────────────┘
//!        ▲                                              │           │
//!        │   cancel (drop, or poll after the deadline,  │           │ tick,
//!        │   or Timeout's future finished first):       │           │ deadline <= now:
//!        │   lock; still ARMED? unlink, take the waker, │           │ lock; unlink,
//!        │   state = UNARMED; unlock; drop the waker    │           │ take the waker,
//!        └──────────────────────────────────────────────┘           │ state = FIRED
//!                                                                   ▼ (last touch); unlock;
//!                                                          ┌───────────────┐ wake
//!                                                          │ FIRED         │
//!                                                          │ unlinked; the │
//!                                                          │ Sleep is Ready│
//!                                                          └───────────────┘
//! ```
//!
//! # Invariants
//!
//! 1. An entry is linked into a list iff its state is `ARMED`; `ARMED` is
//!    entered and left only under that list's lock.
//! 2. While `ARMED`, the entry's links and waker slot are the list's: they
//!    are touched only under the lock (the owner's waker refresh and cancel
//!    take it too). While `UNARMED` or `FIRED`, nothing but the owning
//!    `Sleep` can reach the entry, so the owner touches the slot freely.
//! 3. The tick's store of `FIRED` (`Release`) is its last access to the
//!    entry. A `Sleep` that loads `FIRED` (`Acquire`) may therefore be
//!    dropped and its memory reused at once, even while that tick is still
//!    running on another core: the entry is never used after free, and the
//!    tick never frees (nothing it holds is the last owner of anything).
//! 4. No waker is cloned, woken or dropped under the lock. The tick moves the
//!    wakers of due entries into a fixed-size on-stack [`WakeBatch`]
//!    ([`WAKE_BATCH`] at a time), releases the lock, wakes them, and repeats
//!    until nothing is due. Arming clones the waker before it locks; a
//!    refresh compares with `will_wake` under the lock and clones outside;
//!    replaced and cancelled wakers are dropped after the unlock.
//! 5. The tick neither allocates nor frees: a list of pointers, a batch on
//!    the stack, and wakers whose wake never frees (the task waker resurrects
//!    its task instead, see `task.rs`).
//!
//! # Timing
//!
//! An entry sits on the list of the core that first polled its `Sleep` and
//! stays there if the task migrates: the expiry wakes the task through its
//! waker, on whichever core is its home by then. The tick fires every entry
//! with `deadline <= now`, and a poll that finds `now >= deadline` completes
//! at once: a sleeper never completes before its deadline, and is woken by
//! the first tick of its core at or after it. Arming walks the list from the
//! latest deadline back (O(n) with interrupts off; fine for the thousands of
//! timers the workloads arm, a wheel would make it O(1)).

use core::{
    fmt,
    future::Future,
    marker::PhantomPinned,
    pin::Pin,
    ptr::NonNull,
    sync::atomic::AtomicUsize as PlainAtomicUsize,
    task::{Context, Poll, Waker},
};

use cordyceps::{
    Linked,
    list::{self, List},
};

use crate::{
    Executor, Platform,
    loom::{AtomicU8, Ordering, UnsafeCell},
};
use ksync::{LockRank, SpinLock};

/// Not linked; only the owning [`Sleep`] can reach the entry.
const UNARMED: u8 = 0;
/// Linked into a core's list, which owns the links and the waker slot.
const ARMED: u8 = 1;
/// Unlinked by a tick, waker taken: the deadline has passed.
const FIRED: u8 = 2;

/// Wakers the tick collects per pass under the lock (smaller under loom, so
/// that the models go through more than one pass).
pub(crate) const WAKE_BATCH: usize = if cfg!(all(test, loom)) { 1 } else { 32 };

/// A timer entry: lives inside its [`Sleep`], linked into a core's list while
/// armed.
pub(crate) struct Entry {
    /// The list's links (invariant 2: under the lock while `ARMED`).
    links: list::Links<Entry>,
    /// Immutable after construction.
    deadline: u64,
    /// `UNARMED`, `ARMED` or `FIRED` (module docs).
    state: AtomicU8,
    /// The waker to wake at the deadline (invariant 2).
    waker: UnsafeCell<Option<Waker>>,
    _pinned: PhantomPinned,
}

// SAFETY: an entry's shared parts are its atomic state, its immutable
// deadline, and its links and waker slot, which are only touched under the
// owning list's lock or by the one `Sleep` that owns the entry when no list
// can reach it (invariants 1 and 2). `Waker` is `Send + Sync`.
unsafe impl Send for Entry {}
// SAFETY: as for `Send`.
unsafe impl Sync for Entry {}

// SAFETY: the list holds plain pointers (`Handle = NonNull<Entry>`) to
// entries pinned inside their `Sleep`s, which unlink them before they are
// dropped (invariant 1, `Sleep`'s `Drop`), so every linked pointer is valid;
// `links` returns the entry's own `links` field.
unsafe impl Linked<list::Links<Entry>> for Entry {
    type Handle = NonNull<Entry>;

    fn into_ptr(handle: NonNull<Entry>) -> NonNull<Entry> {
        handle
    }

    unsafe fn from_ptr(ptr: NonNull<Entry>) -> NonNull<Entry> {
        ptr
    }

    unsafe fn links(target: NonNull<Entry>) -> NonNull<list::Links<Entry>> {
        // SAFETY: `target` points at a live entry (the trait's contract);
        // `&raw mut` projects to the field without creating a reference.
        let links = unsafe { &raw mut (*target.as_ptr()).links };
        // SAFETY: a field of a non-null pointer is not null.
        unsafe { NonNull::new_unchecked(links) }
    }
}

impl Entry {
    fn new(deadline: u64) -> Self {
        Self {
            links: list::Links::new(),
            deadline,
            state: AtomicU8::new(UNARMED),
            waker: UnsafeCell::new(None),
            _pinned: PhantomPinned,
        }
    }
}

/// One core's armed timers, earliest deadline first.
pub(crate) struct TimerList {
    entries: List<Entry>,
}

impl TimerList {
    fn new() -> Self {
        Self {
            entries: List::new(),
        }
    }

    /// Number of armed timers.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Links `entry` after every entry with a deadline `<=` its own.
    ///
    /// # Safety
    /// `entry` is pinned, not linked anywhere, and stays valid until it is
    /// unlinked again (by [`remove`](Self::remove) or the tick).
    unsafe fn insert(&mut self, entry: NonNull<Entry>) {
        // SAFETY: valid per the contract.
        let deadline = unsafe { entry.as_ref() }.deadline;
        let mut cursor = self.entries.cursor_back_mut();
        while let Some(current) = cursor.current() {
            if current.deadline <= deadline {
                break;
            }
            cursor.move_prev();
        }
        // At the null position (every entry is later, or the list is
        // empty) this inserts at the front.
        cursor.insert_after(entry);
    }

    /// Unlinks `entry`; returns whether it was linked here.
    ///
    /// # Safety
    /// `entry` is valid and, if linked, linked into this list.
    unsafe fn remove(&mut self, entry: NonNull<Entry>) -> bool {
        // SAFETY: per the contract.
        unsafe { self.entries.remove(entry) }.is_some()
    }

    /// Unlinks due entries (`deadline <= now`) in deadline order, moving
    /// their wakers into `batch`, until none is due or the batch is full.
    /// Returns whether due entries remain.
    pub(crate) fn take_due(&mut self, now: u64, batch: &mut WakeBatch) -> bool {
        while !batch.is_full() {
            match self.entries.front() {
                Some(front) if front.deadline <= now => {}
                _ => return false,
            }
            let Some(entry) = self.entries.pop_front() else {
                return false;
            };
            // SAFETY: linked entries are valid (invariant 1: their `Sleep`
            // unlinks them under this lock, which the caller holds, before
            // they go away).
            let entry = unsafe { entry.as_ref() };
            let waker = entry.waker.with_mut(|slot| {
                // SAFETY: the entry was `ARMED` until now, so its slot is the
                // list's, and the caller holds the list's lock (invariant 2).
                unsafe { (*slot).take() }
            });
            // The last access (invariant 3): from here on the owner may drop
            // the entry.
            entry.state.store(FIRED, Ordering::Release);
            batch.push(waker);
        }
        self.entries
            .front()
            .is_some_and(|front| front.deadline <= now)
    }
}

/// A core's timer list and the lock that guards it: a ranked
/// [`ksync::SpinLock`] of rank [`LockRank::TIMERS`] (on the loom shim's
/// atomics, so that the models check the protocol around it).
///
/// Task context must only lock it inside [`Platform::without_interrupts`]
/// (see [`Executor::with_timers`]): the tick of the same core would spin
/// forever otherwise. That makes it an IRQ-level lock although it is not an
/// [`IrqSpinLock`](ksync::IrqSpinLock): interrupts are the platform's to
/// switch, and the tick takes it with them off already.
pub(crate) struct Timers {
    list: SpinLock<TimerList>,
}

impl Timers {
    pub(crate) fn new() -> Self {
        Self {
            list: SpinLock::new(LockRank::TIMERS, TimerList::new()),
        }
    }

    /// Whether someone holds the lock (a test hook).
    pub(crate) fn is_locked(&self) -> bool {
        self.list.is_locked()
    }

    /// Runs `f` on the list with the lock held. Never called re-entrantly
    /// (`f` only edits the list).
    #[track_caller]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut TimerList) -> R) -> R {
        let mut list = self.list.lock();
        #[cfg(all(test, loom))]
        let _held = HeldHere::set();
        f(&mut list)
    }
}

#[cfg(all(test, loom))]
loom::thread_local! {
    /// Whether this (loom) thread holds some timer lock.
    static HELD_HERE: core::cell::Cell<bool> = core::cell::Cell::new(false);
}

/// Marks this thread as holding a timer lock while alive (loom models only).
#[cfg(all(test, loom))]
struct HeldHere;

#[cfg(all(test, loom))]
impl HeldHere {
    fn set() -> Self {
        HELD_HERE.with(|h| h.set(true));
        HeldHere
    }
}

#[cfg(all(test, loom))]
impl Drop for HeldHere {
    fn drop(&mut self) {
        HELD_HERE.with(|h| h.set(false));
    }
}

/// Whether the calling thread holds a timer lock (loom models' wakers check
/// that they never run or drop under one).
#[cfg(all(test, loom))]
pub(crate) fn lock_held_here() -> bool {
    HELD_HERE.with(core::cell::Cell::get)
}

/// Wakers taken out of the list under the lock, woken after it is released:
/// a fixed-size array on the stack, so the tick never allocates.
pub(crate) struct WakeBatch {
    wakers: [Option<Waker>; WAKE_BATCH],
    len: usize,
}

impl WakeBatch {
    pub(crate) fn new() -> Self {
        Self {
            wakers: [const { None }; WAKE_BATCH],
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == WAKE_BATCH
    }

    /// Number of wakers collected (including empty slots of entries that had
    /// none, which cannot happen for an armed entry).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, waker: Option<Waker>) {
        self.wakers[self.len] = waker;
        self.len += 1;
    }

    /// Wakes every collected waker (call without the lock).
    pub(crate) fn wake_all(&mut self) {
        for slot in &mut self.wakers[..self.len] {
            if let Some(waker) = slot.take() {
                waker.wake();
            }
        }
        self.len = 0;
    }
}

/// Completes at (not before) a deadline on the executor's clock: see
/// [`Executor::sleep`] and the module docs. `!Unpin`: its timer entry is
/// linked into a core's list while armed.
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep<P: Platform> {
    exec: &'static Executor<P>,
    /// The core whose list the entry was linked into when armed; written by
    /// the owner only, before it links the entry.
    core: PlainAtomicUsize,
    entry: Entry,
}

impl<P: Platform> Sleep<P> {
    pub(crate) fn new(exec: &'static Executor<P>, deadline: u64) -> Self {
        Self {
            exec,
            core: PlainAtomicUsize::new(0),
            entry: Entry::new(deadline),
        }
    }

    /// The deadline, in nanoseconds on [`Platform::now_ns`]'s clock.
    pub fn deadline_ns(&self) -> u64 {
        self.entry.deadline
    }

    fn core(&self) -> usize {
        self.core.load(core::sync::atomic::Ordering::Relaxed)
    }

    /// UNARMED → ARMED on the calling core's list, waking `waker`. Returns
    /// false (and stays UNARMED) if the deadline has passed by the time it
    /// holds the lock: a tick that ran while it was arming cannot be missed.
    fn arm(&self, waker: &Waker) -> bool {
        let waker = waker.clone();
        self.entry.waker.with_mut(|slot| {
            // SAFETY: `UNARMED`: no list can reach the entry (invariant 2).
            unsafe { *slot = Some(waker) }
        });
        let core = self.exec.current_index().unwrap_or(0);
        self.core.store(core, core::sync::atomic::Ordering::Relaxed);
        let entry = NonNull::from(&self.entry);
        let armed = self.exec.with_timers(core, |list| {
            if self.exec.platform().now_ns() >= self.entry.deadline {
                return false;
            }
            self.entry.state.store(ARMED, Ordering::Relaxed);
            // SAFETY: the entry is pinned (`Sleep` is `!Unpin` and we were
            // reached through `Pin`), unlinked (`UNARMED`), and `Drop`
            // unlinks it before it goes away.
            unsafe { list.insert(entry) };
            true
        });
        if !armed {
            let unused = self.entry.waker.with_mut(|slot| {
                // SAFETY: still `UNARMED` (invariant 2).
                unsafe { (*slot).take() }
            });
            drop(unused);
        }
        armed
    }

    /// While `ARMED`: makes sure the entry will wake `waker`. Returns false
    /// if the tick fired it meanwhile.
    fn refresh(&self, waker: &Waker) -> bool {
        let core = self.core();
        let same = self.exec.with_timers(core, |_| {
            if self.entry.state.load(Ordering::Relaxed) != ARMED {
                return None;
            }
            let same = self.entry.waker.with(|slot| {
                // SAFETY: `ARMED` and we hold the lock (invariant 2).
                unsafe { (*slot).as_ref() }.is_some_and(|w| w.will_wake(waker))
            });
            Some(same)
        });
        match same {
            None => return false,
            Some(true) => return true,
            Some(false) => {}
        }
        // A new waker (the task migrated, or a combinator's): clone it
        // outside the lock, swap it in, drop the old one outside the lock.
        let new = waker.clone();
        let swapped = self.exec.with_timers(core, |_| {
            if self.entry.state.load(Ordering::Relaxed) != ARMED {
                return Err(new);
            }
            Ok(self.entry.waker.with_mut(|slot| {
                // SAFETY: `ARMED` and we hold the lock (invariant 2).
                unsafe { (*slot).replace(new) }
            }))
        });
        match swapped {
            Ok(old) => {
                drop(old);
                true
            }
            Err(unused) => {
                drop(unused);
                false
            }
        }
    }

    /// Cancels: ARMED → UNARMED (unlinks the entry) unless the tick fired it
    /// first. Afterwards no list can reach the entry.
    pub(crate) fn disarm(&self) {
        if self.entry.state.load(Ordering::Acquire) != ARMED {
            // UNARMED: never linked (or already cancelled). FIRED: the tick
            // is done with the entry (invariant 3).
            return;
        }
        let entry = NonNull::from(&self.entry);
        let old = self.exec.with_timers(self.core(), |list| {
            if self.entry.state.load(Ordering::Relaxed) != ARMED {
                return None; // fired while we waited for the lock
            }
            // SAFETY: `ARMED`, so the entry is linked into this core's list
            // (invariant 1), whose lock we hold.
            let removed = unsafe { list.remove(entry) };
            debug_assert!(removed, "an ARMED timer entry was not linked");
            self.entry.state.store(UNARMED, Ordering::Relaxed);
            // SAFETY: unlinked, under the lock.
            self.entry.waker.with_mut(|slot| unsafe { (*slot).take() })
        });
        drop(old);
    }
}

impl<P: Platform> Future for Sleep<P> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // Shared access only: the tick may be reading the entry right now.
        let this = self.into_ref().get_ref();
        match this.entry.state.load(Ordering::Acquire) {
            FIRED => return Poll::Ready(()),
            ARMED => {
                if this.exec.platform().now_ns() >= this.entry.deadline {
                    this.disarm();
                    return Poll::Ready(());
                }
                if !this.refresh(cx.waker()) {
                    return Poll::Ready(()); // the tick fired it
                }
            }
            _ => {
                if this.exec.platform().now_ns() >= this.entry.deadline || !this.arm(cx.waker()) {
                    return Poll::Ready(());
                }
            }
        }
        Poll::Pending
    }
}

impl<P: Platform> Drop for Sleep<P> {
    fn drop(&mut self) {
        // `Sleep` is `!Unpin`, so this `&mut` is not assumed unique while
        // the tick still reads a linked entry; we only use it shared.
        let this: &Self = self;
        this.disarm();
        // Nothing but us can reach the entry now: take the (empty) slot as
        // the final exclusive access (the loom models check that no tick
        // touches the entry after this).
        let leftover = this.entry.waker.with_mut(|slot| {
            // SAFETY: `UNARMED` or `FIRED` after `disarm` (invariant 2).
            unsafe { (*slot).take() }
        });
        drop(leftover);
    }
}
/// The error of a [`Timeout`] whose deadline came first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    deadline_ns: u64,
}

impl Elapsed {
    /// The deadline that passed, on [`Platform::now_ns`]'s clock.
    pub fn deadline_ns(&self) -> u64 {
        self.deadline_ns
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "deadline elapsed (at {} ns) before the future completed",
            self.deadline_ns
        )
    }
}

impl core::error::Error for Elapsed {}

/// Runs a future with a deadline: see [`Executor::timeout`].
///
/// Polls the future first, then the deadline: `Ok(output)` if the future
/// completes (the timer is cancelled at once), `Err(Elapsed)` once the
/// deadline has passed (the future is dropped at once, in task context).
#[must_use = "futures do nothing unless awaited"]
pub struct Timeout<P: Platform, F> {
    sleep: Sleep<P>,
    /// `None` once the future completed or was dropped on the deadline.
    future: Option<F>,
}

impl<P: Platform, F: Future> Timeout<P, F> {
    pub(crate) fn new(sleep: Sleep<P>, future: F) -> Self {
        Self {
            sleep,
            future: Some(future),
        }
    }

    /// The deadline, in nanoseconds on [`Platform::now_ns`]'s clock.
    pub fn deadline_ns(&self) -> u64 {
        self.sleep.deadline_ns()
    }
}

impl<P: Platform, F: Future> Future for Timeout<P, F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning of both fields: `Timeout` never moves
        // them out (the future is dropped in place with `Pin::set`), has no
        // `Drop` of its own and no `Unpin` impl, and is `!Unpin` through
        // `sleep`. (No `&mut` to the sleep's entry is used while it may be
        // linked: `Sleep` only takes it shared.)
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let mut future = unsafe { Pin::new_unchecked(&mut this.future) };
        // SAFETY: as above.
        let sleep = unsafe { Pin::new_unchecked(&mut this.sleep) };
        let Some(inner) = future.as_mut().as_pin_mut() else {
            panic!("Timeout polled after it completed");
        };
        if let Poll::Ready(output) = inner.poll(cx) {
            future.set(None);
            sleep.into_ref().get_ref().disarm();
            return Poll::Ready(Ok(output));
        }
        let deadline_ns = sleep.deadline_ns();
        match sleep.poll(cx) {
            Poll::Ready(()) => {
                future.set(None);
                Poll::Ready(Err(Elapsed { deadline_ns }))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
