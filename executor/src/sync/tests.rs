//! Host tests of the hand-written primitives (`oneshot`, `mpsc`): single
//! threaded with a counting waker for the exact wake-ups, and std threads
//! for the cross-core paths. The loom models are in `loom_sync.rs`.

use std::{
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::Poll,
    thread,
    vec::Vec,
};

use super::mpsc::{self, SendError, TryRecvError, TrySendError};
use super::oneshot::{self, RecvError};
use crate::host::{CountingWaker, block_on, counting_waker, poll_once};

fn wakes(count: &CountingWaker) -> usize {
    count.wakes()
}

/// Counts how many instances were dropped.
#[derive(Debug)]
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
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

// ---------------------------------------------------------------- mpsc

#[test]
fn mpsc_fifo_capacity_and_full() {
    let (tx, mut rx) = mpsc::channel(3);
    assert_eq!(tx.capacity(), 3);
    for i in 0..3 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert_eq!(rx.try_recv(), Ok(0));
    tx.try_send(3).unwrap();
    assert_eq!(
        (0..3).map(|_| rx.try_recv().unwrap()).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn mpsc_zero_capacity_panics() {
    let _ = mpsc::channel::<u8>(0);
}

#[test]
fn mpsc_recv_none_only_after_every_sender_is_gone_and_drained() {
    let (tx, mut rx) = mpsc::channel(4);
    let tx2 = tx.clone();
    tx.try_send(1).unwrap();
    drop(tx);
    tx2.try_send(2).unwrap();
    let (count, waker) = counting_waker();
    assert_eq!(poll_once(pin!(rx.recv()), &waker), Poll::Ready(Some(1)));
    assert_eq!(poll_once(pin!(rx.recv()), &waker), Poll::Ready(Some(2)));
    {
        let mut recv = pin!(rx.recv());
        assert_eq!(poll_once(recv.as_mut(), &waker), Poll::Pending);
        drop(tx2);
        assert_eq!(
            wakes(&count),
            1,
            "the last sender's drop wakes the receiver"
        );
        assert_eq!(poll_once(recv, &waker), Poll::Ready(None));
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn mpsc_waiting_receiver_is_woken_by_try_send() {
    let (tx, mut rx) = mpsc::channel(1);
    let (count, waker) = counting_waker();
    let mut recv = pin!(rx.recv());
    assert_eq!(poll_once(recv.as_mut(), &waker), Poll::Pending);
    tx.try_send(7).unwrap();
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll_once(recv, &waker), Poll::Ready(Some(7)));
}

#[test]
fn mpsc_full_sender_waits_and_a_receive_wakes_it() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let (count, waker) = counting_waker();
    let mut send = pin!(tx.send(2));
    assert_eq!(poll_once(send.as_mut(), &waker), Poll::Pending, "full");
    assert_eq!(wakes(&count), 0);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakes(&count), 1, "the receive woke the waiting sender");
    assert_eq!(poll_once(send, &waker), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn mpsc_waiting_senders_are_served_in_order() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let (first_count, first_waker) = counting_waker();
    let (second_count, second_waker) = counting_waker();
    let mut first = pin!(tx.send(1));
    let mut second = pin!(tx.send(2));
    assert!(poll_once(first.as_mut(), &first_waker).is_pending());
    assert!(poll_once(second.as_mut(), &second_waker).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    assert_eq!((wakes(&first_count), wakes(&second_count)), (1, 0));
    assert_eq!(poll_once(first, &first_waker), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakes(&second_count), 1);
    assert_eq!(poll_once(second, &second_waker), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn mpsc_cancelled_woken_sender_passes_the_wake_up_on() {
    let (tx, mut rx) = mpsc::channel(1);
    tx.try_send(0).unwrap();
    let (first_count, first_waker) = counting_waker();
    let (second_count, second_waker) = counting_waker();
    let mut second = pin!(tx.send(2));
    {
        let mut first = pin!(tx.send(1));
        assert!(poll_once(first.as_mut(), &first_waker).is_pending());
        assert!(poll_once(second.as_mut(), &second_waker).is_pending());
        assert_eq!(rx.try_recv(), Ok(0));
        assert_eq!(wakes(&first_count), 1);
        // `first` is dropped here without using its wake-up.
    }
    assert_eq!(wakes(&second_count), 1, "the wake-up moved on to `second`");
    assert_eq!(
        poll_once(second.as_mut(), &second_waker),
        Poll::Ready(Ok(()))
    );
    assert_eq!(rx.try_recv(), Ok(2));
}

#[test]
fn mpsc_receiver_drop_fails_sends_and_wakes_waiting_senders_with_their_values() {
    let (tx, rx) = mpsc::channel(1);
    tx.try_send(1).unwrap();
    let (count, waker) = counting_waker();
    let mut send = pin!(tx.send(2));
    assert!(poll_once(send.as_mut(), &waker).is_pending());
    drop(rx);
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll_once(send, &waker), Poll::Ready(Err(SendError(2))));
    assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    assert!(tx.is_closed());
    assert_eq!(block_on(tx.send(4)), Err(SendError(4)));
}

#[test]
fn mpsc_close_keeps_queued_values_receivable() {
    let (tx, mut rx) = mpsc::channel(2);
    tx.try_send(1).unwrap();
    rx.close();
    assert_eq!(tx.try_send(2), Err(TrySendError::Closed(2)));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(block_on(rx.recv()), None);
}

#[test]
fn mpsc_values_dropped_exactly_once() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = mpsc::channel(4);
    for _ in 0..3 {
        tx.try_send(DropCounter(Arc::clone(&dropped))).unwrap();
    }
    let received = rx.try_recv().unwrap();
    drop(rx); // drops the two still queued
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    let refused = tx
        .try_send(DropCounter(Arc::clone(&dropped)))
        .unwrap_err()
        .into_inner();
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    drop((received, refused, tx));
    assert_eq!(dropped.load(Ordering::SeqCst), 4);
}

#[test]
fn mpsc_many_senders_across_threads_no_loss_no_duplicate_per_sender_fifo() {
    const SENDERS: u32 = 4;
    const EACH: u32 = 2000;
    let (tx, mut rx) = mpsc::channel(3);
    let producers: Vec<_> = (0..SENDERS)
        .map(|id| {
            let tx = tx.clone();
            thread::spawn(move || {
                block_on(async {
                    for seq in 0..EACH {
                        if seq % 7 == 0 {
                            // Mix the IRQ-style path in: spin on try_send.
                            let mut value = (id, seq);
                            while let Err(TrySendError::Full(back)) = tx.try_send(value) {
                                value = back;
                                thread::yield_now();
                            }
                        } else {
                            tx.send((id, seq)).await.unwrap();
                        }
                    }
                });
            })
        })
        .collect();
    drop(tx);
    let mut next = [0_u32; SENDERS as usize];
    let mut total = 0;
    block_on(async {
        while let Some((id, seq)) = rx.recv().await {
            assert_eq!(seq, next[id as usize], "sender {id} out of order");
            next[id as usize] += 1;
            total += 1;
        }
    });
    for producer in producers {
        producer.join().unwrap();
    }
    assert_eq!(total, SENDERS * EACH);
    assert!(next.iter().all(|&n| n == EACH));
}

/// The primitives over ksync's ranked, IRQ-safe raw lock (what the kernel
/// names them with, `kernel::sync::{mpsc, WaitQueue, ...}`), end to end on two
/// host threads: every value arrives once, in order, and the wait queue's
/// stored wake-up is not lost. (ksync's hooks are not installed here, so the
/// lock neither checks ranks nor touches interrupts; ksync tests that.)
#[test]
fn primitives_over_the_ranked_irq_raw_mutex() {
    let (tx, mut rx) = mpsc::channel_with_raw_mutex::<u32, _>(2, ksync::IrqRawMutex::new);
    let queue = std::sync::Arc::new(super::WaitQueue::new_with_raw_mutex(
        ksync::IrqRawMutex::new(),
    ));
    let producer = {
        let queue = std::sync::Arc::clone(&queue);
        thread::spawn(move || {
            block_on(async {
                for i in 0..100 {
                    tx.send(i).await.unwrap();
                }
            });
            queue.wake();
        })
    };
    let received = block_on(async {
        let mut all = Vec::new();
        while let Some(value) = rx.recv().await {
            all.push(value);
        }
        queue.wait().await.unwrap();
        all
    });
    producer.join().unwrap();
    assert_eq!(received, (0..100).collect::<Vec<_>>());

    let (tx, rx) = oneshot::channel();
    tx.send(5).unwrap();
    assert_eq!(block_on(rx), Ok(5));
}
