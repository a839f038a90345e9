//! Host tests of the hand-written primitives (`oneshot`): single
//! threaded with a counting waker for the exact wake-ups, and std threads
//! for the cross-core paths. The loom models are in `loom_sync.rs`.

use std::{
    future::Future,
    pin::{Pin, pin},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
    thread,
};

use super::oneshot::{self, RecvError};
use crate::host::block_on;

/// A waker that counts its wakes.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<CountingWaker>, Waker) {
    let count = Arc::new(CountingWaker::default());
    (Arc::clone(&count), Waker::from(count))
}

fn wakes(count: &CountingWaker) -> usize {
    count.0.load(Ordering::SeqCst)
}

/// Counts how many instances were dropped.
#[derive(Debug)]
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_once<F: Future>(future: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(waker))
}

// ---------------------------------------------------------------- oneshot

#[test]
fn oneshot_send_before_recv() {
    let (tx, rx) = oneshot::channel();
    assert_eq!(tx.send(5_u32), Ok(()));
    let (count, waker) = counting_waker();
    assert_eq!(poll_once(pin!(rx), &waker), Poll::Ready(Ok(5)));
    assert_eq!(wakes(&count), 0);
}

#[test]
fn oneshot_waiting_receiver_is_woken_once_by_send() {
    let (tx, rx) = oneshot::channel();
    let (count, waker) = counting_waker();
    let mut rx = pin!(rx);
    assert_eq!(poll_once(rx.as_mut(), &waker), Poll::Pending);
    assert_eq!(wakes(&count), 0);
    tx.send("hi").unwrap();
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll_once(rx, &waker), Poll::Ready(Ok("hi")));
}

#[test]
fn oneshot_sender_dropped_unsent_is_an_error_and_wakes() {
    let (tx, rx) = oneshot::channel::<u8>();
    let (count, waker) = counting_waker();
    let mut rx = pin!(rx);
    assert_eq!(poll_once(rx.as_mut(), &waker), Poll::Pending);
    drop(tx);
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll_once(rx, &waker), Poll::Ready(Err(RecvError)));
}

#[test]
fn oneshot_send_to_dropped_receiver_hands_the_value_back() {
    let (tx, rx) = oneshot::channel();
    assert!(!tx.is_closed());
    drop(rx);
    assert!(tx.is_closed());
    assert_eq!(tx.send(9), Err(9));
}

#[test]
fn oneshot_value_dropped_exactly_once_whatever_happens() {
    let dropped = Arc::new(AtomicUsize::new(0));
    // Received: the receiver's caller drops it.
    let (tx, mut rx) = oneshot::channel();
    tx.send(DropCounter(Arc::clone(&dropped))).unwrap();
    let value = rx.try_recv().unwrap().unwrap();
    drop(rx);
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    drop(value);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    // Sent, never received: the receiver's drop drops it.
    let (tx, rx) = oneshot::channel();
    tx.send(DropCounter(Arc::clone(&dropped))).unwrap();
    drop(rx);
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    // Refused: it comes back, the sender's caller drops it.
    let (tx, rx) = oneshot::channel();
    drop(rx);
    let back = tx.send(DropCounter(Arc::clone(&dropped))).unwrap_err();
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    drop(back);
    assert_eq!(dropped.load(Ordering::SeqCst), 3);
}

#[test]
fn oneshot_try_recv_states() {
    let (tx, mut rx) = oneshot::channel();
    assert_eq!(rx.try_recv(), Ok(None));
    tx.send(1).unwrap();
    assert_eq!(rx.try_recv(), Ok(Some(1)));
    assert_eq!(rx.try_recv(), Err(RecvError), "already received");
    let (tx, mut rx) = oneshot::channel::<u8>();
    drop(tx);
    assert_eq!(rx.try_recv(), Err(RecvError));
}

#[test]
#[should_panic(expected = "polled after completion")]
fn oneshot_poll_after_completion_panics() {
    let (tx, rx) = oneshot::channel();
    tx.send(1).unwrap();
    let (_count, waker) = counting_waker();
    let mut rx = pin!(rx);
    let _ = poll_once(rx.as_mut(), &waker);
    let _ = poll_once(rx, &waker);
}

#[test]
fn oneshot_across_threads() {
    for round in 0..2000_u32 {
        let (tx, rx) = oneshot::channel();
        let sender = thread::spawn(move || tx.send(round));
        assert_eq!(block_on(rx), Ok(round));
        assert_eq!(sender.join().unwrap(), Ok(()));
    }
}
