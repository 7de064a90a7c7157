//! [`FaultIo`]: a connection that fails when a crash token fires and stalls
//! while a partition separates its ends.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::net::Inner;

/// Anything a connection can be carried over.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A connection wrapped by the fault plane.
pub struct FaultIo {
    io: Box<dyn Io>,
    /// Tokens of the incarnations at either end: when one fires, the
    /// connection is reset.
    guards: Vec<Pin<Box<WaitForCancellationFutureOwned>>>,
    /// (net, from, to) for partition checks, on the connecting side.
    link: Option<(Arc<Inner>, String, String)>,
    reset: bool,
}

impl std::fmt::Debug for FaultIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultIo")
            .field("link", &self.link.as_ref().map(|(_, a, b)| (a, b)))
            .field("reset", &self.reset)
            .finish()
    }
}

impl FaultIo {
    pub(crate) fn new(
        io: Box<dyn Io>,
        tokens: &[&CancellationToken],
        link: Option<(Arc<Inner>, String, String)>,
    ) -> FaultIo {
        FaultIo {
            io,
            guards: tokens
                .iter()
                .map(|t| Box::pin((*t).clone().cancelled_owned()))
                .collect(),
            link,
            reset: false,
        }
    }

    /// Ready(Err) when reset, Pending while partitioned, Ready(Ok) to go on.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.reset {
            for g in &mut self.guards {
                if g.as_mut().poll(cx).is_ready() {
                    self.reset = true;
                    break;
                }
            }
        }
        if self.reset {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "peer crashed",
            )));
        }
        if let Some((inner, from, to)) = &self.link
            && inner.is_cut(from, to, cx)
        {
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }
}

macro_rules! checked {
    ($self:ident, $cx:ident) => {
        match $self.check($cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
    };
}

impl AsyncRead for FaultIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        checked!(this, cx);
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        checked!(this, cx);
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        checked!(this, cx);
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.check(cx) {
            // A reset connection has nothing left to close.
            Poll::Ready(Err(_)) => Poll::Ready(Ok(())),
            // Not even a FIN crosses a partition.
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Pin::new(&mut this.io).poll_shutdown(cx),
        }
    }
}

impl tonic::transport::server::Connected for FaultIo {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}
