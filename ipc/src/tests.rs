//! Host tests: single-threaded with a counting waker for exact wake-ups,
//! std threads for the cross-core paths. Counts come from the recording
//! fake (`test_support`), per OS thread. The loom models are in
//! `loom_models.rs`.

use std::{
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::Poll,
    thread,
    time::Duration,
    vec::Vec,
};

use executor::host::{CountingWaker, block_on, counting_waker, poll_once};

use crate::test_support::{Counts, install, take};
use crate::{
    CallError, CountersAlreadySet, IpcCounters, LookupError, NameTaken, Names, Request, SendError,
    TryRecvError, TrySendError, port, set_counters,
};

fn wakes(count: &CountingWaker) -> usize {
    count.wakes()
}

/// Counts how many instances were dropped.
#[derive(Debug)]
struct DropCounter(u32, Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------- ports

#[test]
fn sends_and_receives_are_counted() {
    install();
    let (tx, mut rx) = port(2);
    tx.try_send(1_u32).unwrap();
    block_on(tx.send(2)).unwrap();
    assert_eq!(
        tx.try_send(3),
        Err(TrySendError::Full(3)),
        "full: handed back"
    );
    assert_eq!(block_on(rx.recv()), Some(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        take(),
        Counts::new(2, 2, 0),
        "refused messages are not counted"
    );
}

#[test]
fn one_senders_messages_arrive_in_order() {
    install();
    let (tx, mut rx) = port(8);
    let tx2 = tx.clone();
    for i in 0..4_u32 {
        tx.try_send((0, i)).unwrap();
        tx2.try_send((1, i)).unwrap();
    }
    drop((tx, tx2));
    let mut got = Vec::new();
    while let Some(msg) = block_on(rx.recv()) {
        got.push(msg);
    }
    let from = |s| {
        got.iter()
            .filter(|m| m.0 == s)
            .map(|m| m.1)
            .collect::<Vec<_>>()
    };
    assert_eq!(from(0), [0, 1, 2, 3]);
    assert_eq!(from(1), [0, 1, 2, 3]);
    assert_eq!(take(), Counts::new(8, 8, 0));
}

#[test]
fn recv_returns_none_once_every_send_right_is_gone_and_drained() {
    install();
    let (tx, mut rx) = port(2);
    let tx2 = tx.clone();
    tx.try_send(1_u8).unwrap();
    drop(tx);
    let (count, waker) = counting_waker();
    assert_eq!(poll_once(pin!(rx.recv()), &waker), Poll::Ready(Some(1)));
    {
        let mut recv = pin!(rx.recv());
        assert_eq!(poll_once(recv.as_mut(), &waker), Poll::Pending, "tx2 lives");
        drop(tx2);
        assert_eq!(
            wakes(&count),
            1,
            "the last send right's drop wakes the receiver"
        );
        assert_eq!(poll_once(recv, &waker), Poll::Ready(None));
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
}

#[test]
fn close_refuses_sends_but_keeps_queued_messages() {
    install();
    let (tx, mut rx) = port(4);
    tx.try_send(1_u32).unwrap();
    tx.try_send(2).unwrap();
    rx.close();
    rx.close(); // idempotent
    assert!(tx.is_closed());
    assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    assert_eq!(block_on(tx.send(4)), Err(SendError(4)));
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(block_on(rx.recv()), Some(2));
    assert_eq!(
        block_on(rx.recv()),
        None,
        "closed and drained, though tx lives"
    );
    assert_eq!(take(), Counts::new(2, 2, 0));
}

#[test]
fn a_full_port_makes_send_wait_until_a_receive() {
    install();
    let (tx, mut rx) = port(1);
    tx.try_send(1_u32).unwrap();
    let (count, waker) = counting_waker();
    let mut send = pin!(tx.send(2));
    assert_eq!(poll_once(send.as_mut(), &waker), Poll::Pending);
    assert_eq!(wakes(&count), 0);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(wakes(&count), 1, "the receive wakes the waiting sender");
    assert_eq!(poll_once(send, &waker), Poll::Ready(Ok(())));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(take(), Counts::new(2, 2, 0));
}

#[test]
fn a_waiting_send_gets_its_message_back_when_the_port_closes() {
    install();
    let (tx, mut rx) = port(1);
    tx.try_send(1_u32).unwrap();
    let (count, waker) = counting_waker();
    let mut send = pin!(tx.send(2));
    assert_eq!(poll_once(send.as_mut(), &waker), Poll::Pending);
    rx.close();
    assert_eq!(wakes(&count), 1);
    assert_eq!(poll_once(send, &waker), Poll::Ready(Err(SendError(2))));
    assert_eq!(take(), Counts::new(1, 0, 0));
}

#[test]
fn dropping_the_receive_right_drops_and_counts_the_queue() {
    install();
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, mut rx) = port(4);
    for i in 0..3 {
        tx.try_send(DropCounter(i, Arc::clone(&drops))).unwrap();
    }
    assert_eq!(rx.try_recv().map(|m| m.0), Ok(0));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(rx);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "the two queued ones dropped"
    );
    assert_eq!(take(), Counts::new(3, 1, 2));
    // Later sends fail and hand the message back, undropped.
    let back = tx.try_send(DropCounter(7, Arc::clone(&drops)));
    let Err(TrySendError::Closed(msg)) = back else {
        panic!("expected Closed, got {back:?}");
    };
    assert_eq!(msg.0, 7);
    let Err(SendError(msg)) = block_on(tx.send(msg)) else {
        panic!("send after the receive right's drop succeeded");
    };
    assert_eq!((msg.0, drops.load(Ordering::SeqCst)), (7, 3));
    drop(msg);
    assert_eq!(take(), Counts::new(0, 0, 0));
}

#[test]
fn an_empty_receive_right_reports_no_drops() {
    install();
    let (tx, rx) = port::<u8>(1);
    drop(rx);
    drop(tx);
    assert_eq!(take(), Counts::default());
}

#[test]
fn counters_are_set_once() {
    install();
    struct Other;
    impl IpcCounters for Other {
        fn sent(&self) {}
        fn received(&self) {}
        fn dropped(&self, _: u64) {}
    }
    static OTHER: Other = Other;
    assert_eq!(set_counters(&OTHER), Err(CountersAlreadySet));
    // Still the recording fake.
    let (tx, _rx) = port(1);
    tx.try_send(()).unwrap();
    assert_eq!(take().sent, 1);
}

/// N std threads send `(sender, seq)` through a small port (so they wait
/// often) to one receiver: per-sender FIFO, every message exactly once, and
/// the counts of all threads add up.
#[test]
fn many_threads_send_to_one_receiver() {
    const SENDERS: u32 = 4;
    const EACH: u32 = 2_000;
    install();
    let (tx, mut rx) = port(8);
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let tx = tx.clone();
            thread::spawn(move || {
                install();
                for i in 0..EACH {
                    if i % 3 == 0 {
                        // try_send, falling back to waiting when full.
                        if let Err(TrySendError::Full(msg)) = tx.try_send((s, i)) {
                            block_on(tx.send(msg)).unwrap();
                        }
                    } else {
                        block_on(tx.send((s, i))).unwrap();
                    }
                }
                take()
            })
        })
        .collect();
    drop(tx);
    let mut next = [0_u32; SENDERS as usize];
    let mut total = 0;
    while let Some((s, i)) = block_on(rx.recv()) {
        assert_eq!(i, next[s as usize], "sender {s}'s messages in order");
        next[s as usize] += 1;
        total += 1;
    }
    assert_eq!(next, [EACH; SENDERS as usize]);
    let sent = senders
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold(Counts::default(), |a, b| a + b);
    drop(rx);
    let here = take();
    assert_eq!(total, SENDERS * EACH);
    assert_eq!(sent, Counts::new(u64::from(SENDERS * EACH), 0, 0));
    assert_eq!(here, Counts::new(0, u64::from(SENDERS * EACH), 0));
}

// ---------------------------------------------------------------- calls

#[test]
fn call_gets_the_reply() {
    install();
    let (tx, mut rx) = port::<Request<u32, u64>>(2);
    let service = thread::spawn(move || {
        while let Some(Request { body, reply }) = block_on(rx.recv()) {
            reply.reply(u64::from(body) * 10).unwrap();
        }
    });
    assert_eq!(block_on(tx.call(4)), Ok(40));
    assert_eq!(block_on(tx.call(5)), Ok(50));
    drop(tx);
    service.join().unwrap();
    assert_eq!(take().sent, 2);
}

#[test]
fn call_reports_no_reply_when_the_service_drops_the_reply_right() {
    install();
    let (tx, mut rx) = port::<Request<u32, u32>>(1);
    let (count, waker) = counting_waker();
    let mut call = pin!(tx.call(1));
    assert_eq!(poll_once(call.as_mut(), &waker), Poll::Pending);
    let request = rx.try_recv().unwrap();
    assert_eq!(request.body, 1);
    assert!(!request.reply.is_closed());
    drop(request);
    assert_eq!(wakes(&count), 1);
    assert_eq!(
        poll_once(call, &waker),
        Poll::Ready(Err(CallError::NoReply))
    );
}

#[test]
fn call_reports_no_reply_when_the_service_drops_its_receive_right() {
    install();
    let (tx, rx) = port::<Request<u32, u32>>(1);
    let (_count, waker) = counting_waker();
    let mut call = pin!(tx.call(1));
    assert_eq!(poll_once(call.as_mut(), &waker), Poll::Pending);
    drop(rx);
    assert_eq!(
        poll_once(call, &waker),
        Poll::Ready(Err(CallError::NoReply))
    );
    assert_eq!(take(), Counts::new(1, 0, 1));
}

#[test]
fn call_on_a_closed_port_gives_the_body_back() {
    install();
    let (tx, mut rx) = port::<Request<&str, u32>>(1);
    rx.close();
    assert_eq!(block_on(tx.call("ping")), Err(CallError::Closed("ping")));
}

#[test]
fn a_reply_to_a_caller_that_gave_up_comes_back() {
    install();
    let (tx, mut rx) = port::<Request<u32, u32>>(1);
    let (_count, waker) = counting_waker();
    {
        let call = pin!(tx.call(1));
        assert_eq!(poll_once(call, &waker), Poll::Pending);
    } // the caller gives up
    let Request { body, reply } = rx.try_recv().unwrap();
    assert!(reply.is_closed());
    assert_eq!(reply.reply(body + 1), Err(2));
}

// ---------------------------------------------------------------- names

#[test]
fn register_lookup_and_list() {
    install();
    let names = Names::new();
    let (tx, mut rx) = port::<u32>(2);
    names.register("b-svc", tx).unwrap();
    let (tx2, _rx2) = port::<(u8, u8)>(1);
    names.register("a-svc", tx2).unwrap();
    assert_eq!(
        names.names(),
        [("a-svc", "(u8, u8)"), ("b-svc", "u32")],
        "sorted by name, with the message type"
    );
    let svc = names.try_lookup::<u32>("b-svc").unwrap();
    svc.try_send(9).unwrap();
    let svc = block_on(names.lookup::<u32>("b-svc")).unwrap();
    svc.try_send(10).unwrap();
    assert_eq!((rx.try_recv(), rx.try_recv()), (Ok(9), Ok(10)));
}

#[test]
fn a_taken_name_is_refused_and_the_offered_right_dropped() {
    install();
    let names = Names::new();
    let (tx, _rx) = port::<u32>(1);
    names.register("svc", tx).unwrap();
    let (tx2, mut rx2) = port::<u32>(1);
    assert_eq!(names.register("svc", tx2), Err(NameTaken("svc")));
    assert_eq!(
        rx2.try_recv(),
        Err(TryRecvError::Disconnected),
        "tx2 dropped"
    );
}

#[test]
fn lookup_of_the_wrong_type_fails() {
    install();
    let names = Names::new();
    let (tx, _rx) = port::<u32>(1);
    names.register("svc", tx).unwrap();
    let wrong = LookupError::WrongType {
        expected: "u64",
        found: "u32",
    };
    assert_eq!(names.try_lookup::<u64>("svc").unwrap_err(), wrong);
    assert_eq!(block_on(names.lookup::<u64>("svc")).unwrap_err(), wrong);
    assert_eq!(
        names.try_lookup::<u32>("nope").unwrap_err(),
        LookupError::NotFound
    );
}

#[test]
fn unregister_removes_the_name_and_drops_the_right() {
    install();
    let names = Names::new();
    let (tx, mut rx) = port::<u32>(1);
    names.register("svc", tx).unwrap();
    assert!(names.unregister("svc"));
    assert!(!names.unregister("svc"));
    assert_eq!(
        names.try_lookup::<u32>("svc").unwrap_err(),
        LookupError::NotFound
    );
    assert!(names.names().is_empty());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    // The name is free again.
    let (tx, _rx) = port::<u32>(1);
    names.register("svc", tx).unwrap();
}

#[test]
fn a_waiting_lookup_is_woken_by_a_later_register() {
    install();
    let names = Names::new();
    let (count, waker) = counting_waker();
    let mut lookup = pin!(names.lookup::<u32>("svc"));
    assert!(poll_once(lookup.as_mut(), &waker).is_pending());
    // Another name: the lookup is woken, looks again, waits again.
    let (other, _other_rx) = port::<u32>(1);
    names.register("other", other).unwrap();
    assert_eq!(wakes(&count), 1);
    assert!(poll_once(lookup.as_mut(), &waker).is_pending());
    let (tx, mut rx) = port::<u32>(1);
    names.register("svc", tx).unwrap();
    assert_eq!(wakes(&count), 2);
    let Poll::Ready(Ok(svc)) = poll_once(lookup, &waker) else {
        panic!("lookup did not find the registered name");
    };
    svc.try_send(3).unwrap();
    assert_eq!(rx.try_recv(), Ok(3));
}

#[test]
fn lookup_waits_for_a_name_registered_from_another_thread() {
    install();
    static NAMES: Names = Names::new();
    let service = thread::spawn(|| {
        install();
        thread::sleep(Duration::from_millis(20));
        let (tx, mut rx) = port::<u32>(1);
        NAMES.register("late", tx).unwrap();
        let msg = block_on(rx.recv());
        NAMES.unregister("late");
        msg
    });
    let svc = block_on(NAMES.lookup::<u32>("late")).unwrap();
    block_on(svc.send(42)).unwrap();
    assert_eq!(service.join().unwrap(), Some(42));
}
