//! Request/response over a port: a [`Request`] carries its body and a
//! [`ReplyRight`], a one-shot channel back to the caller.
//!
//! ```text
//!   caller                                   service (owns the ReceiveRight)
//!   call(body):
//!     (reply, answer) = oneshot
//!     send Request { body, reply } ───────► recv() → Request { body, reply }
//!     await answer                            ...
//!          ◄────────────────────────────── reply.reply(r)      → Ok(r)
//!          ◄──── dropped without replying ─ drop(reply)         → Err(NoReply)
//!   port closed before the send: Err(Closed(body))
//! ```
//!
//! The reply travels over `executor::sync::oneshot` (no lock, no queue); it
//! is not counted as a port message. A caller that gives up (drops the
//! `call` future) makes the service's `reply` fail with the answer handed
//! back.

use core::fmt;

use executor::sync::oneshot;

use crate::port::{SendError, SendRight};

/// A request to a service: the body, and the right to answer it once.
pub struct Request<Q, R> {
    /// What is asked.
    pub body: Q,
    /// Where the answer goes.
    pub reply: ReplyRight<R>,
}

impl<Q, R> Request<Q, R> {
    /// A request for `body`, and the future of its answer: what
    /// [`SendRight::call`] builds, for callers that send it their own way
    /// (`try_send`, or a port of another message type).
    pub fn new(body: Q) -> (Self, ReplyReceiver<R>) {
        let (tx, rx) = oneshot::channel();
        (
            Self {
                body,
                reply: ReplyRight(tx),
            },
            ReplyReceiver(rx),
        )
    }
}

impl<Q: fmt::Debug, R> fmt::Debug for Request<Q, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

/// The right to answer one request, once. Dropping it unanswered makes the
/// caller's [`call`](SendRight::call) fail with [`CallError::NoReply`].
pub struct ReplyRight<R>(oneshot::Sender<R>);

impl<R> ReplyRight<R> {
    /// Sends the answer. Never waits or allocates.
    ///
    /// # Errors
    ///
    /// The caller is gone (gave up waiting): the answer comes back.
    pub fn reply(self, answer: R) -> Result<(), R> {
        self.0.send(answer)
    }

    /// Whether the caller is gone (a reply would fail). A hint.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl<R> fmt::Debug for ReplyRight<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyRight")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The caller's side of a [`Request::new`]: await the answer.
pub struct ReplyReceiver<R>(oneshot::Receiver<R>);

impl<R> ReplyReceiver<R> {
    /// Waits for the answer.
    ///
    /// # Errors
    ///
    /// [`NoReply`] if the reply right was dropped without answering.
    pub async fn answer(self) -> Result<R, NoReply> {
        self.0.await.map_err(|_| NoReply)
    }
}

impl<R> fmt::Debug for ReplyReceiver<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyReceiver").finish_non_exhaustive()
    }
}

/// The service dropped the reply right without answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoReply;

impl fmt::Display for NoReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IPC request dropped without a reply")
    }
}

/// Why a [`call`](SendRight::call) got no answer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CallError<Q> {
    /// The port is closed: the request was not delivered; its body comes
    /// back.
    Closed(Q),
    /// The service took the request but dropped its reply right without
    /// answering.
    NoReply,
}

impl<Q> fmt::Debug for CallError<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed(_) => "Closed(..)",
            Self::NoReply => "NoReply",
        })
    }
}

impl<Q> fmt::Display for CallError<Q> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed(_) => "IPC port closed",
            Self::NoReply => "IPC request dropped without a reply",
        })
    }
}

impl<Q, R> SendRight<Request<Q, R>> {
    /// Sends `body` as a request (waiting while the port is full) and waits
    /// for the answer. Timeouts are the caller's (`Executor::timeout`);
    /// dropping the future abandons the call, and the service's `reply`
    /// then fails.
    ///
    /// # Errors
    ///
    /// [`CallError::Closed`] with the body if the port is closed;
    /// [`CallError::NoReply`] if the service dropped the reply right
    /// without answering (also when it dropped the request unread, for
    /// example with its receive right).
    pub async fn call(&self, body: Q) -> Result<R, CallError<Q>> {
        let (request, answer) = Request::new(body);
        if let Err(SendError(request)) = self.send(request).await {
            return Err(CallError::Closed(request.body));
        }
        answer.answer().await.map_err(|NoReply| CallError::NoReply)
    }
}
