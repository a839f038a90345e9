//! IPC for kernel services: async tasks on any core talking over ports
//! (issue 10). `no_std` + `alloc`, hardware-blind, built on
//! `executor::sync`'s channels.
//!
//! - [`port()`] makes a port: a bounded queue with one [`ReceiveRight`] and
//!   any number of [`SendRight`]s (clone them). `send` waits while the port
//!   is full (backpressure), `try_send` hands the message back.
//! - [`Request`] / [`ReplyRight`] / [`SendRight::call`]: request/response
//!   over a port, the answer on a one-shot channel.
//! - [`Names`]: the name service; services register a send right under a
//!   name, clients [`lookup`](Names::lookup) it (waiting until it appears).
//! - [`set_counters`]: where messages are counted (the kernel registers
//!   per-CPU counters; before that nothing is counted).
//!
//! The whole story — how a message crosses cores, the ranks — is in
//! `docs/ipc.md`.
//!
//! # A port's life
//!
//! ```text
//!                 ReceiveRight::close()
//!   ┌────────┐    or ReceiveRight dropped    ┌──────────┐  queue empty   ┌─────────┐
//!   │  open  │ ────────────────────────────► │  closed  │ ─────────────► │ drained │
//!   └────────┘                               └──────────┘                └─────────┘
//!       │  every SendRight dropped                                            ▲
//!       └──────────────────── recv drains the queue, then None ──────────────┘
//! ```
//!
//! # Invariants
//!
//! - **Nothing lost, nothing twice.** Every message a send accepted (`Ok`)
//!   is received exactly once, or — if the receive right is dropped first —
//!   dropped exactly once by that drop and counted in
//!   [`IpcCounters::dropped`]. Every message refused (full, closed, a
//!   waiting send whose port closes) is handed back to its sender.
//! - **Order.** Messages from one sender arrive in the order it sent them
//!   (one queue, FIFO; a sender's sends complete one after another).
//!   Messages from different senders interleave in queue order.
//! - **Closing.** Once the port is closed (by [`ReceiveRight::close`] or the
//!   receive right's drop) no send succeeds; what was queued before can
//!   still be received. `recv` returns `None` only when the queue is empty
//!   and nothing can come: every send right is gone, or the port is closed.
//! - **Books.** Once every right of a port is gone, `sent = received +
//!   dropped` for it ([`counters`]).
//! - **No lost wake-up** anywhere: the channel's (see `executor::sync::mpsc`)
//!   for senders and receivers, the name service's for lookups
//!   ([`names`] module docs).
//! - **Locks.** A port's queue is guarded by an [`IrqRawMutex`](ksync::IrqRawMutex)
//!   (rank `WAIT_LIST`, 26), the name table by a spin lock of rank `IPC` (4).
//!   No waker runs under either.
//!
//! # Model checking
//!
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p ipc --lib
//! --release --target-dir target/loom` runs the loom models
//! (`loom_models.rs`): send vs. receive vs. close, a full port's waiting
//! sender, register vs. lookup (also after another name), call vs. a
//! service that answers or drops the reply.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod call;
pub mod counters;
pub mod names;
pub mod port;

#[cfg(all(test, loom))]
mod loom_models;
#[cfg(test)]
mod test_support;
#[cfg(all(test, not(loom)))]
mod tests;

pub use call::{CallError, NoReply, ReplyReceiver, ReplyRight, Request};
pub use counters::{CountersAlreadySet, IpcCounters, set_counters};
pub use names::{LookupError, NameTaken, Names};
pub use port::{ReceiveRight, SendError, SendRight, TryRecvError, TrySendError, port};
