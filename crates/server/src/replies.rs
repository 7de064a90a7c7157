//! [`Replies`]: the answers on a long-lived request/reply stream (phone
//! keepalives, presence), one per request as it arrives, with no task of its
//! own: the connection that carries the stream polls it. The first refusal
//! ends it, and so does a graceful stop (a server shutting down answers no new
//! requests, on streams as on closing connections).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::{Status, Streaming};

use crate::state::Shared;

/// How a server answers one request of the stream.
pub(crate) type Answer<Req, Rep> = fn(&Arc<Shared>, Req) -> Result<Rep, Status>;

/// The reply stream.
pub(crate) struct Replies<Req, Rep> {
    requests: Streaming<Req>,
    shared: Arc<Shared>,
    answer: Answer<Req, Rep>,
    done: bool,
}

impl<Req, Rep> Replies<Req, Rep> {
    /// Answers each of `requests` with `answer`.
    pub(crate) fn new(
        requests: Streaming<Req>,
        shared: Arc<Shared>,
        answer: Answer<Req, Rep>,
    ) -> Self {
        Replies {
            requests,
            shared,
            answer,
            done: false,
        }
    }
}

impl<Req, Rep> tokio_stream::Stream for Replies<Req, Rep> {
    type Item = Result<Rep, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let req = match Pin::new(&mut self.requests).poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => return Poll::Ready(None),
            Poll::Ready(Some(Ok(req))) => req,
        };
        self.shared.stats.rpc();
        let reply = if self.shared.draining.is_cancelled() {
            Err(Status::unavailable(format!(
                "{} is shutting down",
                self.shared.name
            )))
        } else {
            (self.answer)(&self.shared, req)
        };
        self.done = reply.is_err();
        Poll::Ready(Some(reply))
    }
}
