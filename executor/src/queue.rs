//! The per-core, per-priority run queue: a bounded, lock-free MPMC array
//! queue (Dmitry Vyukov's design) of task references.
//!
//! Every slot carries a sequence number. For position `pos` (a free-running
//! counter) the slot `pos & mask` is *free for the push at `pos`* when
//! `seq == pos`, and *holds the element for the pop at `pos`* when
//! `seq == pos + 1`. A push claims `tail` with a CAS, writes the value and
//! publishes it with `seq = pos + 1` (Release); a pop claims `head`, reads the
//! value and frees the slot for the next lap with `seq = pos + capacity`.
//! Producers (wakers, from any core or interrupt) and consumers (the owning
//! core, thieves, the balancer) all go through the same two operations, so
//! stealing needs no extra protocol: a thief pops from the victim's queue and
//! pushes onto its own.
//!
//! It is our own code rather than `crossbeam-queue`'s `ArrayQueue` (the same
//! algorithm) because loom can only model-check atomics that go through the
//! crate's loom shim, and this queue carries every protocol the models check.
//!
//! Properties the executor relies on:
//! - no allocation after [`RunQueue::new`], no lock, no panic: a push onto a
//!   full queue returns the value (`Err`);
//! - *a push can only report "full" when `len() >= capacity - in-flight pops`*:
//!   a slot whose pop has claimed `head` but not yet released the slot looks
//!   occupied. At most one pop per core is in flight (interrupts never pop), so
//!   the executor sizes every queue at `max_tasks + cores + 1`, rounded up to a
//!   power of two; with the queued bit keeping each task in at most one queue,
//!   a wake can never find its queue full;
//! - [`RunQueue::is_empty`] is conservative: it compares the indices, so a push
//!   that has claimed `tail` but not yet published counts as "not empty". The
//!   idle protocol relies on that (see the crate docs).

use alloc::boxed::Box;
use core::mem::MaybeUninit;

use crate::loom::{AtomicUsize, Ordering, UnsafeCell, spin_loop};

/// Pads and aligns a value to its own cache lines (128 bytes: adjacent-line
/// prefetch pairs lines on x86_64), so the head and tail indices and per-core
/// state are not falsely shared.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> core::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// One slot of the ring.
struct Slot<T> {
    seq: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

/// A bounded lock-free MPMC FIFO queue.
pub(crate) struct RunQueue<T> {
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    slots: Box<[Slot<T>]>,
    mask: usize,
}

// SAFETY: values are moved in by one thread and out by another; the sequence
// protocol gives each slot exactly one owner at a time (the push that claimed
// it until it publishes, the pop that claimed it until it releases), so sharing
// the queue only ever transfers `T` between threads, which `T: Send` permits.
unsafe impl<T: Send> Sync for RunQueue<T> {}
// SAFETY: as above; the queue owns `T`s, which may move between threads.
unsafe impl<T: Send> Send for RunQueue<T> {}

impl<T> RunQueue<T> {
    /// A queue holding at least `min_capacity` elements (rounded up to a power
    /// of two, at least 2).
    pub(crate) fn new(min_capacity: usize) -> Self {
        let capacity = min_capacity.max(2).next_power_of_two();
        let slots = (0..capacity)
            .map(|i| Slot {
                seq: AtomicUsize::new(i),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Self {
            head: CachePadded(AtomicUsize::new(0)),
            tail: CachePadded(AtomicUsize::new(0)),
            slots,
            mask: capacity - 1,
        }
    }

    /// The number of slots.
    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    /// Appends `value`; gives it back if the queue is full. Never blocks,
    /// never allocates.
    pub(crate) fn push(&self, value: T) -> Result<(), T> {
        let mut pos = self.tail.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos) as isize;
            if diff == 0 {
                match self.tail.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        slot.value.with_mut(|p| {
                            // SAFETY: winning the CAS on `tail` at `pos` while
                            // `seq == pos` makes this push the slot's only
                            // owner until it publishes `seq = pos + 1` below.
                            unsafe { p.write(MaybeUninit::new(value)) }
                        });
                        slot.seq.store(pos.wrapping_add(1), Ordering::Release);
                        return Ok(());
                    }
                    Err(current) => pos = current,
                }
            } else if diff < 0 {
                // The slot still holds last lap's element: full.
                return Err(value);
            } else {
                // Another push claimed `pos` already; catch up.
                spin_loop();
                pos = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Removes the oldest element, if any. Never blocks, never allocates.
    pub(crate) fn pop(&self) -> Option<T> {
        let mut pos = self.head.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[pos & self.mask];
            let seq = slot.seq.load(Ordering::Acquire);
            let diff = seq.wrapping_sub(pos.wrapping_add(1)) as isize;
            if diff == 0 {
                match self.head.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let value = slot.value.with_mut(|p| {
                            // SAFETY: winning the CAS on `head` at `pos` while
                            // `seq == pos + 1` (published by the push, read
                            // with Acquire) makes this pop the slot's only
                            // owner, and the value is initialised.
                            unsafe { p.read().assume_init() }
                        });
                        slot.seq
                            .store(pos.wrapping_add(self.mask + 1), Ordering::Release);
                        return Some(value);
                    }
                    Err(current) => pos = current,
                }
            } else if diff < 0 {
                // Not yet published (or empty).
                return None;
            } else {
                spin_loop();
                pos = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Approximate number of elements (claimed pushes minus claimed pops).
    pub(crate) fn len(&self) -> usize {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        let len = tail.wrapping_sub(head) as isize;
        usize::try_from(len).unwrap_or(0).min(self.capacity())
    }

    /// True when no push has claimed a position that no pop has claimed yet.
    /// Conservative: an unpublished push counts as an element.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T> Drop for RunQueue<T> {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_full() {
        let q = RunQueue::new(3);
        assert_eq!(q.capacity(), 4);
        for i in 0..4 {
            q.push(i).unwrap();
        }
        assert_eq!(q.push(9), Err(9));
        assert_eq!(q.len(), 4);
        for i in 0..4 {
            assert_eq!(q.pop(), Some(i));
        }
        assert_eq!(q.pop(), None);
        assert!(q.is_empty());
        // Wraps around.
        for lap in 0..10 {
            q.push(lap).unwrap();
            assert_eq!(q.pop(), Some(lap));
        }
    }

    #[test]
    fn concurrent_push_pop_loses_nothing() {
        use std::sync::Arc;
        let q = Arc::new(RunQueue::new(1024));
        let producers: Vec<_> = (0..4)
            .map(|t| {
                let q = q.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000usize {
                        let mut v = t * 100_000 + i;
                        while let Err(back) = q.push(v) {
                            v = back;
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while got.len() < 20_000 {
                        if let Some(v) = q.pop() {
                            got.push(v);
                        }
                    }
                    got
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut all: Vec<usize> = consumers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        all.sort_unstable();
        let mut want: Vec<usize> = (0..4)
            .flat_map(|t| (0..10_000).map(move |i| t * 100_000 + i))
            .collect();
        want.sort_unstable();
        assert_eq!(all, want);
    }
}
