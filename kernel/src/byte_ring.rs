//! [`ByteRing`]: a fixed-size, lock-free, single-producer/single-consumer
//! ring of bytes — what an interrupt handler fills and a task drains.
//!
//! The COM1 receive interrupt pushes every byte it reads from the UART here;
//! the reader task pops them. Neither side allocates, locks or waits: a full
//! ring drops the new byte and counts it ([`ByteRing::dropped`]), because an
//! interrupt handler cannot wait for a task.
//!
//! # Protocol
//!
//! Two free-running indices: `tail` (next slot to write, moved only by the
//! producer) and `head` (next slot to read, moved only by the consumer);
//! `tail - head` (wrapping) is the number of bytes held, at most `N`. The
//! slots are `AtomicU8`s, so the ring needs no `unsafe` at all:
//!
//! - the producer stores the byte into slot `tail % N` (relaxed), then
//!   publishes it with a *Release* store of `tail + 1`;
//! - the consumer loads `tail` with *Acquire* (so the slot's byte is
//!   visible), reads the slot, then frees it with a *Release* store of
//!   `head + 1`, which the producer loads with *Acquire* before reusing the
//!   slot (so the consumer's read happens before the overwrite).
//!
//! "Single" is a contract of use, not of memory safety: two producers (or
//! two consumers) at once could lose or repeat bytes, never touch memory
//! outside the ring. The kernel has one producer (the interrupt handler,
//! which runs on one CPU at a time: the I/O APIC sends the IRQ to one
//! destination) and documents one reader.

use core::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

/// A ring of `N` bytes (`N` a power of two) for one producer and one
/// consumer. See the module documentation.
#[derive(Debug)]
pub struct ByteRing<const N: usize> {
    slots: [AtomicU8; N],
    /// Next slot to read; written by the consumer only.
    head: AtomicUsize,
    /// Next slot to write; written by the producer only.
    tail: AtomicUsize,
    /// Bytes dropped because the ring was full.
    dropped: AtomicU64,
    /// Bytes accepted, over the ring's life.
    pushed: AtomicU64,
}

impl<const N: usize> ByteRing<N> {
    const VALID: () = assert!(N.is_power_of_two(), "ByteRing size must be a power of two");

    /// An empty ring.
    pub const fn new() -> Self {
        let () = Self::VALID;
        Self {
            slots: [const { AtomicU8::new(0) }; N],
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
        }
    }

    /// How many bytes the ring holds when full.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Producer: appends `byte`; if the ring is full, drops it, counts it
    /// in [`ByteRing::dropped`] and returns `false`.
    pub fn push(&self, byte: u8) -> bool {
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        if tail.wrapping_sub(head) >= N {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        self.slots[tail % N].store(byte, Ordering::Relaxed);
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        self.pushed.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Consumer: takes the oldest byte, if any.
    pub fn pop(&self) -> Option<u8> {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        if head == tail {
            return None;
        }
        let byte = self.slots[head % N].load(Ordering::Relaxed);
        self.head.store(head.wrapping_add(1), Ordering::Release);
        Some(byte)
    }

    /// Consumer: moves up to `buf.len()` bytes into `buf`, oldest first;
    /// returns how many.
    pub fn pop_into(&self, buf: &mut [u8]) -> usize {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        let n = tail.wrapping_sub(head).min(buf.len());
        for (i, slot) in buf[..n].iter_mut().enumerate() {
            *slot = self.slots[head.wrapping_add(i) % N].load(Ordering::Relaxed);
        }
        self.head.store(head.wrapping_add(n), Ordering::Release);
        n
    }

    /// How many bytes are waiting (a snapshot: the other side may move).
    pub fn len(&self) -> usize {
        let tail = self.tail.load(Ordering::Acquire);
        let head = self.head.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(N)
    }

    /// Whether no byte is waiting (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes dropped because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Bytes accepted since the ring was made.
    pub fn pushed(&self) -> u64 {
        self.pushed.load(Ordering::Relaxed)
    }
}

impl<const N: usize> Default for ByteRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_and_empty() {
        let ring = ByteRing::<8>::new();
        assert!(ring.is_empty());
        assert_eq!(ring.pop(), None);
        for b in b"abc" {
            assert!(ring.push(*b));
        }
        assert_eq!(ring.len(), 3);
        assert_eq!(ring.pop(), Some(b'a'));
        let mut buf = [0; 8];
        assert_eq!(ring.pop_into(&mut buf), 2);
        assert_eq!(&buf[..2], b"bc");
        assert!(ring.is_empty());
        assert_eq!(ring.pushed(), 3);
    }

    #[test]
    fn wraps_around_many_times() {
        let ring = ByteRing::<4>::new();
        for round in 0..1000u32 {
            let n = (round % 4) as u8 + 1;
            let base = (round as u8).wrapping_mul(7);
            for i in 0..n {
                assert!(ring.push(base.wrapping_add(i)));
            }
            for i in 0..n {
                assert_eq!(ring.pop(), Some(base.wrapping_add(i)));
            }
        }
        assert!(ring.is_empty());
        assert_eq!(ring.dropped(), 0);
    }

    #[test]
    fn full_ring_drops_new_bytes_and_counts_them() {
        let ring = ByteRing::<4>::new();
        for b in 0..4 {
            assert!(ring.push(b));
        }
        assert!(!ring.push(4));
        assert!(!ring.push(5));
        assert_eq!(ring.dropped(), 2);
        assert_eq!(ring.len(), 4);
        // The oldest bytes are kept.
        let mut buf = [0; 8];
        assert_eq!(ring.pop_into(&mut buf), 4);
        assert_eq!(&buf[..4], &[0, 1, 2, 3]);
        // Space again after popping.
        assert!(ring.push(6));
        assert_eq!(ring.pop(), Some(6));
        assert_eq!(ring.pushed(), 5);
    }

    #[test]
    fn pop_into_wraps_and_honours_short_buffers() {
        let ring = ByteRing::<4>::new();
        for b in 0..3 {
            ring.push(b);
        }
        ring.pop();
        ring.pop();
        for b in 3..6 {
            assert!(ring.push(b)); // slots 3, 0, 1: wraps
        }
        let mut two = [0; 2];
        assert_eq!(ring.pop_into(&mut two), 2);
        assert_eq!(two, [2, 3]);
        assert_eq!(ring.pop_into(&mut two), 2);
        assert_eq!(two, [4, 5]);
        assert_eq!(ring.pop_into(&mut two), 0);
    }

    #[test]
    fn indices_wrap_past_usize_max() {
        let ring = ByteRing::<4>::new();
        ring.head.store(usize::MAX - 1, Ordering::Relaxed);
        ring.tail.store(usize::MAX - 1, Ordering::Relaxed);
        for b in 0..4 {
            assert!(ring.push(b));
        }
        assert!(!ring.push(9));
        assert_eq!(ring.len(), 4);
        for b in 0..4 {
            assert_eq!(ring.pop(), Some(b));
        }
        assert_eq!(ring.pop(), None);
    }

    /// One producer thread, one consumer thread, the producer never
    /// waiting (like an interrupt handler): the consumer receives exactly
    /// the bytes the producer's pushes accepted, in order, and every other
    /// push is counted as dropped.
    #[test]
    fn two_threads_lose_nothing_uncounted() {
        use std::sync::atomic::AtomicBool;
        const TOTAL: u32 = 200_000;
        let ring = ByteRing::<64>::new();
        let done = AtomicBool::new(false);
        let (accepted, received) = std::thread::scope(|s| {
            let producer = s.spawn(|| {
                let mut accepted = Vec::new();
                for i in 0..TOTAL {
                    if ring.push(i as u8) {
                        accepted.push(i as u8);
                    }
                    if i % 64 == 0 {
                        std::thread::yield_now();
                    }
                }
                done.store(true, Ordering::Release);
                accepted
            });
            let consumer = s.spawn(|| {
                let mut got = Vec::new();
                let mut buf = [0u8; 16];
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let n = ring.pop_into(&mut buf);
                    got.extend_from_slice(&buf[..n]);
                    if n == 0 && finished {
                        return got;
                    }
                }
            });
            (producer.join().unwrap(), consumer.join().unwrap())
        });
        assert_eq!(received, accepted);
        assert_eq!(ring.pushed(), accepted.len() as u64);
        assert_eq!(ring.pushed() + ring.dropped(), u64::from(TOTAL));
        assert!(ring.is_empty());
    }

    /// Without drops (a consumer that keeps up, a producer that waits), the
    /// sequence arrives exactly.
    #[test]
    fn two_threads_exact_sequence_when_producer_waits() {
        const TOTAL: usize = 100_000;
        let ring = ByteRing::<16>::new();
        let received = std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..TOTAL {
                    while !ring.push(i as u8) {
                        std::hint::spin_loop();
                    }
                }
            });
            s.spawn(|| {
                let mut got = Vec::with_capacity(TOTAL);
                while got.len() < TOTAL {
                    match ring.pop() {
                        Some(b) => got.push(b),
                        None => std::hint::spin_loop(),
                    }
                }
                got
            })
            .join()
            .unwrap()
        });
        assert!(received.iter().enumerate().all(|(i, &b)| b == i as u8));
        assert_eq!(ring.pushed(), TOTAL as u64);
        // The producer's failed pushes were counted as drops, then retried.
        assert!(ring.is_empty());
    }
}
