//! [`Session`]: request/reply exchanges on one long-lived gRPC stream
//! (phone keepalives, presence), a message each way per exchange instead of
//! a unary call, with the same deadline and the same answers. A member that
//! does not serve the stream (`UNIMPLEMENTED`) gets unary calls instead.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Response, Status, Streaming};

use crate::channel::call;

/// The requests of a session's stream, as its opener hands them to the
/// gRPC call. Boxed on the way: the channel's first block holds 32 of them
/// whatever its bound, and at thousands of open streams unboxed requests
/// made that block alone megabytes.
pub type Requests<Req> = tokio_stream::adapters::Map<ReceiverStream<Box<Req>>, fn(Box<Req>) -> Req>;

/// The open stream of a session.
struct Open<Req, Rep> {
    tx: mpsc::Sender<Box<Req>>,
    replies: Streaming<Rep>,
}

/// Exchanges with one peer over one stream, reopened after any failure.
pub struct Session<Req, Rep> {
    open: Option<Open<Req, Rep>>,
    /// The peer answered `UNIMPLEMENTED` to the stream: unary from now on.
    unary: bool,
}

impl<Req, Rep> Default for Session<Req, Rep> {
    fn default() -> Self {
        Session {
            open: None,
            unary: false,
        }
    }
}

impl<Req, Rep> std::fmt::Debug for Session<Req, Rep> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("open", &self.open.is_some())
            .field("unary", &self.unary)
            .finish()
    }
}

impl<Req: Clone, Rep> Session<Req, Rep> {
    /// Ends the stream: the next exchange opens a new one.
    pub fn reset(&mut self) {
        self.open = None;
    }

    /// Whether the peer serves no stream, so every exchange is a unary call.
    pub fn is_unary(&self) -> bool {
        self.unary
    }

    /// What the peer says on the open stream unasked, between exchanges:
    /// its next message, or why the stream ended (which ends it here too).
    /// Pending while no stream is open.
    pub async fn pushed(&mut self) -> Result<Rep, Status> {
        let Some(o) = self.open.as_mut() else {
            return std::future::pending().await;
        };
        let r = reply(o).await;
        if r.is_err() {
            self.open = None;
        }
        r
    }

    /// One exchange, answered within `deadline` or failed as the unary call
    /// would fail. `stream` opens the stream (the first request rides on
    /// it); `unary` is the fallback. Any failure ends the stream.
    pub async fn exchange<S, SF, U, UF>(
        &mut self,
        req: Req,
        deadline: Duration,
        stream: S,
        unary: U,
    ) -> Result<Rep, Status>
    where
        S: FnOnce(Requests<Req>) -> SF,
        SF: Future<Output = Result<Response<Streaming<Rep>>, Status>>,
        U: FnOnce(Req) -> UF,
        UF: Future<Output = Result<Response<Rep>, Status>>,
    {
        if !self.unary {
            let r = call(deadline, self.send(req.clone(), stream)).await;
            match r {
                Ok(reply) => return Ok(reply),
                Err(s) if s.code() == tonic::Code::Unimplemented => self.unary = true,
                Err(s) => {
                    self.open = None;
                    return Err(s);
                }
            }
            self.open = None;
        }
        call(deadline, Box::pin(unary(req)))
            .await
            .map(Response::into_inner)
    }

    /// Sends `req` on the open stream and waits for its reply; a stream found
    /// broken (its connection died while idle) is opened afresh once, as a
    /// unary call would reconnect before sending.
    async fn send<S, SF>(&mut self, req: Req, stream: S) -> Result<Rep, Status>
    where
        S: FnOnce(Requests<Req>) -> SF,
        SF: Future<Output = Result<Response<Streaming<Rep>>, Status>>,
    {
        if let Some(o) = self.open.as_mut() {
            match next(o, req.clone()).await {
                Err(s) if broken(&s) => self.open = None,
                r => return r,
            }
        }
        let (tx, rx) = mpsc::channel(1);
        let _ = tx.try_send(Box::new(req));
        // Boxed: opening is rare, and its future (a whole tonic call) would
        // otherwise be copied into every exchange's future.
        let unbox: fn(Box<Req>) -> Req = |r| *r;
        let requests = tokio_stream::StreamExt::map(ReceiverStream::new(rx), unbox);
        let replies = Box::pin(stream(requests)).await?.into_inner();
        let o = self.open.insert(Open { tx, replies });
        reply(o).await
    }
}

/// Whether an error says the stream's connection is gone (not a refusal).
fn broken(s: &Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
    )
}

/// Sends `req` on an open stream and waits for its reply.
async fn next<Req, Rep>(o: &mut Open<Req, Rep>, req: Req) -> Result<Rep, Status> {
    o.tx.try_send(Box::new(req))
        .map_err(|_| Status::unavailable("stream closed"))?;
    reply(o).await
}

/// The next reply on the stream.
async fn reply<Req, Rep>(o: &mut Open<Req, Rep>) -> Result<Rep, Status> {
    match o.replies.message().await? {
        Some(reply) => Ok(reply),
        None => Err(Status::unavailable("stream ended")),
    }
}
