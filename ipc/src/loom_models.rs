//! Loom models of the IPC layer (`cfg(all(test, loom))`):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p ipc --lib --release --target-dir target/loom
//! ```
//!
//! Under `--cfg loom` the port's ring lock (`ksync::IrqRawMutex`, no hooks:
//! a ranked spin lock on loom atomics), the name table's `SpinLock`, the
//! channels' state words and `maitake-sync`'s `WaitCell` / `WaitQueue` are
//! all loom's, so each model runs the real code on every side. Waiting is a
//! `block_on` that parks on a loom `Notify` until the waker runs: a lost
//! wake-up is a loom deadlock ("all threads blocked"), a lost or duplicated
//! message fails the id checks or the drop count, and the recording counters
//! (summed over the model's threads, which share the test's OS thread) must
//! balance.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::vec::Vec;

use ksync::loom::block_on;
use loom::sync::Arc;
use loom::thread;

use crate::test_support::{Counts, install, take};
use crate::{CallError, Names, Request, SendError, port};

/// A message that counts its drops (plain std atomic: read only after every
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

/// (a) Send vs. receive vs. close on a port of capacity 1. The sender sends
/// two messages (the second usually finds the port full and waits); the
/// receiver takes one, closes the port and drops its right without draining.
/// Every message is received, handed back, or dropped-and-counted exactly
/// once, and the books balance: `sent = received + dropped`.
#[test]
fn send_vs_recv_vs_close() {
    loom::model(|| {
        install();
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = port(1);
        let sender = {
            let drops = Arc::clone(&drops);
            thread::spawn(move || {
                let mut back = Vec::new();
                for id in [1, 2] {
                    if let Err(SendError(msg)) = block_on(tx.send(Tracked::new(id, &drops))) {
                        back.push(msg.id);
                    }
                }
                back
            })
        };
        // The port is open until the close below, so the first send succeeds.
        let first = block_on(rx.recv()).expect("the first message arrives");
        assert_eq!(first.id, 1);
        rx.close();
        drop(rx);
        let back = sender.join().unwrap();
        drop(first);
        let counts = take();
        assert_eq!(drops.load(Ordering::SeqCst), 2, "each message dropped once");
        match back[..] {
            // 2 was refused: it came back and was never counted.
            [2] => assert_eq!(counts, Counts::new(1, 1, 0)),
            // 2 was queued before the close: the receive right dropped it.
            [] => assert_eq!(counts, Counts::new(2, 1, 1)),
            _ => panic!("unexpected hand-backs {back:?}"),
        }
    });
}

/// (b) A full port (capacity 1, pre-filled) and a sender waiting to send one
/// more: the receive must wake it. Messages arrive in order, then `None`.
#[test]
fn full_port_sender_woken_by_recv() {
    loom::model(|| {
        install();
        let (tx, mut rx) = port(1);
        tx.try_send(1_u32).unwrap();
        let sender = thread::spawn(move || block_on(tx.send(2)));
        assert_eq!(block_on(rx.recv()), Some(1));
        assert_eq!(block_on(rx.recv()), Some(2));
        assert_eq!(block_on(rx.recv()), None);
        assert_eq!(sender.join().unwrap(), Ok(()));
        assert_eq!(take(), Counts::new(2, 2, 0));
    });
}

/// (c) Register vs. lookup: the lookup may start before or after the
/// registration; it must find the name either way (a lost wake-up leaves it
/// parked: a loom deadlock).
#[test]
fn register_vs_lookup() {
    loom::model(|| {
        install();
        let names = Arc::new(Names::new());
        let (tx, mut rx) = port::<u32>(1);
        let service = {
            let names = Arc::clone(&names);
            thread::spawn(move || names.register("svc", tx))
        };
        let svc = block_on(names.lookup::<u32>("svc")).expect("the right type");
        svc.try_send(5).unwrap();
        assert_eq!(rx.try_recv(), Ok(5));
        assert_eq!(service.join().unwrap(), Ok(()));
    });
}

/// (d) A call vs. a service that takes the request and drops its reply
/// right unanswered: the caller wakes with `NoReply`, whatever the order.
#[test]
fn call_vs_service_dropping_the_reply() {
    loom::model(|| {
        install();
        let (tx, mut rx) = port::<Request<u32, u32>>(1);
        let service = thread::spawn(move || {
            let request = block_on(rx.recv()).expect("the call's request");
            assert_eq!(request.body, 7);
            drop(request.reply);
        });
        assert_eq!(block_on(tx.call(7)), Err(CallError::NoReply));
        service.join().unwrap();
        assert_eq!(take(), Counts::new(1, 1, 0));
    });
}

/// (d') A call vs. a service that answers: the caller gets the answer,
/// whichever side runs first.
#[test]
fn call_vs_service_replying() {
    loom::model(|| {
        install();
        let (tx, mut rx) = port::<Request<u32, u32>>(1);
        let service = thread::spawn(move || {
            let Request { body, reply } = block_on(rx.recv()).expect("the call's request");
            reply.reply(body + 1)
        });
        assert_eq!(block_on(tx.call(7)), Ok(8));
        assert_eq!(service.join().unwrap(), Ok(()));
    });
}

/// (c') A lookup waiting for one name while another is registered first:
/// the first registration wakes it for nothing, it must subscribe again
/// before looking again, or the second registration's wake-up is lost.
#[test]
fn lookup_survives_a_registration_of_another_name() {
    loom::model(|| {
        install();
        let names = Arc::new(Names::new());
        let (other, _other_rx) = port::<u32>(1);
        let (tx, mut rx) = port::<u32>(1);
        let service = {
            let names = Arc::clone(&names);
            thread::spawn(move || {
                names.register("other", other).unwrap();
                names.register("svc", tx).unwrap();
            })
        };
        let svc = block_on(names.lookup::<u32>("svc")).expect("the right type");
        svc.try_send(5).unwrap();
        assert_eq!(rx.try_recv(), Ok(5));
        service.join().unwrap();
    });
}
