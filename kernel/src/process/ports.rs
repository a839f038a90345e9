//! Ports a user program can reach: *mailboxes* (byte-message ports a
//! workload creates by name; any holder of a handle may send and receive)
//! and *services* (kernel services that answer byte requests; `port_call`).
//!
//! A process keeps its handles in a table; a handle is an index into it.
//! Messages are `Vec<u8>` of at most `kernel::syscall::MAX_MESSAGE` bytes,
//! copied in from and out to user memory by the system calls.

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;

use executor::Priority;
use ipc::{ReceiveRight, Request, SendRight};
use kernel::sync::{IrqRawMutex, LockRank, Mutex, SpinLock};

use crate::sched::KernelPlatform;
use crate::services::ipc::NAMES;

/// A byte request to a kernel service, answered with bytes.
pub type ByteRequest = Request<Vec<u8>, Vec<u8>>;

/// The name of the kernel's byte echo service, for `port_call` tests.
pub const UECHO: &str = "uecho";

/// A named byte port: one queue, any number of senders and receivers.
pub struct Mailbox {
    tx: SendRight<Vec<u8>>,
    rx: Mutex<ReceiveRight<Vec<u8>>>,
}

impl Mailbox {
    /// Sends (waits while full); `Err` if the port is closed.
    pub async fn send(&self, msg: Vec<u8>) -> Result<(), ()> {
        self.tx.send(msg).await.map_err(|_| ())
    }

    /// Receives (waits while empty); `None` if the port is closed and empty.
    pub async fn recv(&self) -> Option<Vec<u8>> {
        self.rx.lock().await.recv().await
    }

    /// Closes the port: later sends fail, what is queued can still be
    /// received.
    pub async fn close(&self) {
        self.rx.lock().await.close();
    }
}

/// Mailboxes by name. Rank IPC: held only to look up or insert (which may
/// allocate, allowed below HEAP), never with another IPC-rank lock.
static MAILBOXES: SpinLock<BTreeMap<&'static str, Arc<Mailbox>>> =
    SpinLock::new(LockRank::IPC, BTreeMap::new());

/// Creates (or returns) the mailbox `name` with room for `capacity` messages.
pub fn mailbox(name: &'static str, capacity: usize) -> Arc<Mailbox> {
    let mut boxes = MAILBOXES.lock();
    Arc::clone(boxes.entry(name).or_insert_with(|| {
        let (tx, rx) = ipc::port(capacity);
        Arc::new(Mailbox {
            tx,
            rx: Mutex::new_with_raw_mutex(rx, IrqRawMutex::new()),
        })
    }))
}

/// What a handle names.
#[derive(Clone)]
pub enum Port {
    /// A mailbox: send and receive.
    Mailbox(Arc<Mailbox>),
    /// A kernel service: call (send drops the reply).
    Service(SendRight<ByteRequest>),
}

/// Looks a port up by name: mailboxes first, then byte services.
pub fn lookup(name: &str) -> Option<Port> {
    if let Some(mailbox) = MAILBOXES.lock().get(name) {
        return Some(Port::Mailbox(Arc::clone(mailbox)));
    }
    NAMES
        .try_lookup::<ByteRequest>(name)
        .ok()
        .map(Port::Service)
}

/// Starts the byte echo service ([`UECHO`]).
pub fn start_uecho(executor: &'static executor::Executor<KernelPlatform>) {
    let (tx, mut rx) = ipc::port::<ByteRequest>(16);
    if NAMES.register(UECHO, tx).is_err() {
        return;
    }
    executor
        .spawn(Priority::Normal, async move {
            while let Some(Request { body, reply }) = rx.recv().await {
                let _ = reply.reply(body);
            }
        })
        .detach();
}
