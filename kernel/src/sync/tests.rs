//! Host tests of the kernel's names for the async primitives (the locks
//! themselves are tested in `ksync`).

use std::sync::Arc;
use std::thread;
use std::vec::Vec;

use super::*;

/// Runs `future` to completion on this thread, parking between polls.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        thread::park();
    }
}

/// The kernel's names for the async primitives (`executor::sync` over
/// `IrqRawMutex`), end to end on two host threads: every value arrives once,
/// in order, and the wait queue's stored wake-up is not lost.
#[test]
fn kernel_primitives_over_the_irq_raw_mutex() {
    let (tx, mut rx) = mpsc::channel::<u32>(2);
    let queue = std::sync::Arc::new(WaitQueue::default());
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
