//! Loom models of the hand-written primitives (`cfg(all(test, loom))`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p executor --release --target-dir target/loom loom_sync
//! ```
//!
//! Under `--cfg loom` our state words and value slots come from the
//! executor's loom shim, and `maitake-sync` switches its `WaitCell` atomics,
//! its `WaitQueue` list lock (`DefaultMutex` becomes a loom mutex) and its
//! blocking `Mutex` cell to loom's types; so each model explores the
//! interleavings of the real code on both sides. Waiting is
//! `loom::future::block_on`, which parks the thread until its waker runs: a
//! lost wake-up is a loom deadlock ("all threads blocked"), a double or
//! missing drop fails the drop count, a racy slot access is a loom error.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::vec::Vec;

use ksync::loom::block_on;
use loom::sync::Arc;
use loom::thread;

use super::mpsc::{self, SendError, TrySendError};
use super::oneshot::{self, RecvError};

/// A value that counts its drops (plain std atomic: read only after every
/// thread is joined).
#[derive(Debug)]
struct Tracked {
    id: u32,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(id: u32, drops: &Arc<AtomicUsize>) -> Self {
        Self {
            id,
            drops: Arc::clone(drops),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------- oneshot

/// Send on one thread, await on another: the receiver always gets the
/// value (a lost wake-up would leave it parked: loom reports a deadlock).
#[test]
fn oneshot_send_vs_recv() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel();
        let sender = thread::spawn(move || tx.send(7_u32));
        assert_eq!(block_on(rx), Ok(7));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

/// The sender is dropped unsent while the receiver waits: the receiver
/// wakes with `RecvError`.
#[test]
fn oneshot_drop_sender_vs_recv() {
    loom::model(|| {
        let (tx, rx) = oneshot::channel::<u32>();
        let sender = thread::spawn(move || drop(tx));
        assert_eq!(block_on(rx), Err(RecvError));
        sender.join().unwrap();
    });
}

/// Send races the receiver's drop: either the send succeeds and the
/// receiver's side drops the value, or the send fails and the value comes
/// back; in every interleaving it is dropped exactly once.
#[test]
fn oneshot_send_vs_receiver_drop() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = oneshot::channel();
        let value = Tracked::new(1, &drops);
        let sender = thread::spawn(move || match tx.send(value) {
            Ok(()) => true,
            Err(back) => {
                assert_eq!(back.id, 1);
                false
            }
        });
        drop(rx);
        let _sent = sender.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 1, "dropped exactly once");
    });
}

// ---------------------------------------------------------------- mpsc

/// Two producers against the receiver on a channel of capacity 1: one
/// awaits `send`, the other ("an interrupt handler") calls `try_send` once,
/// which may find the channel full and get its value back. Every accepted
/// value arrives exactly once, then `None`.
#[test]
fn mpsc_two_senders_vs_recv() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let irq_tx = tx.clone();
        let producer = thread::spawn(move || block_on(tx.send(1_u32)));
        let irq = thread::spawn(move || match irq_tx.try_send(2_u32) {
            Ok(()) => true,
            Err(TrySendError::Full(2)) => false,
            Err(other) => panic!("unexpected {other:?}"),
        });
        let mut got = Vec::new();
        while let Some(value) = block_on(rx.recv()) {
            got.push(value);
        }
        got.sort_unstable();
        assert_eq!(producer.join().unwrap(), Ok(()));
        let expected: &[u32] = if irq.join().unwrap() { &[1, 2] } else { &[1] };
        assert_eq!(got, expected);
    });
}

/// Capacity 1 and one sender sending two values: the second send finds the
/// channel full (in most interleavings) and waits; the receive must wake
/// it. Values arrive in order, then `None`.
#[test]
fn mpsc_full_channel_sender_woken_by_recv() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let producer = thread::spawn(move || {
            block_on(async {
                tx.send(1_u32).await.unwrap();
                tx.send(2).await.unwrap();
            });
        });
        assert_eq!(block_on(rx.recv()), Some(1));
        assert_eq!(block_on(rx.recv()), Some(2));
        assert_eq!(block_on(rx.recv()), None);
        producer.join().unwrap();
    });
}

/// Send vs. recv vs. close, on a channel of capacity 1 that starts full:
/// the receiver takes one value and goes away; the producer's first send
/// either gets the freed slot or fails, its second send finds the channel
/// full again (or closed) and must be woken by the close with its value
/// handed back. Every value is dropped exactly once; nobody is left waiting.
#[test]
fn mpsc_send_vs_recv_vs_close() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(Tracked::new(1, &drops)).unwrap();
        let producer = {
            let drops = Arc::clone(&drops);
            thread::spawn(move || {
                block_on(async {
                    match tx.send(Tracked::new(2, &drops)).await {
                        Ok(()) => {}
                        Err(SendError(back)) => assert_eq!(back.id, 2),
                    }
                    let Err(SendError(back)) = tx.send(Tracked::new(3, &drops)).await else {
                        panic!("no slot can free up for the third value");
                    };
                    assert_eq!(back.id, 3);
                });
            })
        };
        let first = block_on(rx.recv()).expect("the first value arrives");
        assert_eq!(first.id, 1);
        drop(rx);
        producer.join().unwrap();
        drop(first);
        assert_eq!(drops.load(Ordering::SeqCst), 3, "each value dropped once");
    });
}

/// The receiver waits on an empty channel while an "interrupt handler"
/// thread does a single `try_send`: the receiver must wake with it.
#[test]
fn mpsc_no_lost_wake_up_for_waiting_receiver() {
    loom::model(|| {
        let (tx, mut rx) = mpsc::channel(1);
        let irq = thread::spawn(move || {
            tx.try_send(5_u32).unwrap();
            // Keep the sender alive until the value is in: `None` must not
            // be what wakes the receiver.
            tx
        });
        assert_eq!(block_on(rx.recv()), Some(5));
        drop(irq.join().unwrap());
    });
}
