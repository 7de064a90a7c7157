//! [`FaultIo`]: a connection that fails when a crash token fires, stalls while
//! a fault holds its bytes (partition, one-way loss, stall, hang), and delays
//! them under latency.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rand::Rng as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::net::Inner;

/// Anything a connection can be carried over.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// The connecting side's view of its link, for direction-aware faults.
pub(crate) struct Link {
    pub(crate) net: Arc<Inner>,
    /// The connecting node.
    pub(crate) from: String,
    /// The server connected to.
    pub(crate) to: String,
    /// Jitter for this connection, seeded from the run and the link.
    pub(crate) rng: crate::seed::Rng,
}

/// Bytes read but held back by latency.
struct Held {
    bytes: Vec<u8>,
    pos: usize,
    until: Pin<Box<Sleep>>,
}

/// A connection wrapped by the fault plane.
pub struct FaultIo {
    io: Box<dyn Io>,
    /// Tokens of the incarnations at either end: when one fires, the
    /// connection is reset.
    guards: Vec<Pin<Box<WaitForCancellationFutureOwned>>>,
    link: Option<Link>,
    reset: bool,
    write_delay: Option<Pin<Box<Sleep>>>,
    held: Option<Held>,
}

impl std::fmt::Debug for FaultIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultIo")
            .field("link", &self.link.as_ref().map(|l| (&l.from, &l.to)))
            .field("reset", &self.reset)
            .finish()
    }
}

#[derive(Clone, Copy)]
enum Dir {
    /// Bytes from the connecting side to the server.
    Out,
    /// Bytes from the server to the connecting side.
    In,
}

impl FaultIo {
    pub(crate) fn new(
        io: Box<dyn Io>,
        tokens: &[&CancellationToken],
        link: Option<Link>,
    ) -> FaultIo {
        FaultIo {
            io,
            guards: tokens
                .iter()
                .map(|t| Box::pin((*t).clone().cancelled_owned()))
                .collect(),
            link,
            reset: false,
            write_delay: None,
            held: None,
        }
    }

    /// Ready(Err) when reset, Pending while the direction is held, Ready(Ok) to go on.
    fn check(&mut self, cx: &mut Context<'_>, dir: Dir) -> Poll<io::Result<()>> {
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
        if let Some(l) = &self.link {
            let (src, dst) = match dir {
                Dir::Out => (&l.from, &l.to),
                Dir::In => (&l.to, &l.from),
            };
            if l.net.is_cut(src, dst, cx) {
                return Poll::Pending;
            }
        }
        Poll::Ready(Ok(()))
    }

    /// The latency to apply to the next chunk, if any.
    fn next_delay(&mut self) -> Option<Duration> {
        let l = self.link.as_mut()?;
        let (delay, jitter) = l.net.latency(&l.from, &l.to);
        if delay.is_zero() && jitter.is_zero() {
            return None;
        }
        let extra = if jitter.is_zero() {
            Duration::ZERO
        } else {
            jitter.mul_f64(l.rng.random_range(0.0..1.0))
        };
        Some(delay + extra)
    }
}

macro_rules! checked {
    ($self:ident, $cx:ident, $dir:expr) => {
        match $self.check($cx, $dir) {
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
        checked!(this, cx, Dir::In);
        if this.held.is_none() {
            let Some(delay) = this.next_delay() else {
                return Pin::new(&mut this.io).poll_read(cx, buf);
            };
            // Read a chunk now and hand it over once the link's latency has passed.
            let mut chunk = vec![0u8; 8 * 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    chunk.truncate(n);
                    this.held = Some(Held {
                        bytes: chunk,
                        pos: 0,
                        until: Box::pin(tokio::time::sleep(delay)),
                    });
                }
                other => return other,
            }
        }
        let Some(h) = this.held.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        if h.until.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        let n = (h.bytes.len() - h.pos).min(buf.remaining());
        buf.put_slice(&h.bytes[h.pos..h.pos + n]);
        h.pos += n;
        if h.pos == h.bytes.len() {
            this.held = None;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for FaultIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        checked!(this, cx, Dir::Out);
        if this.write_delay.is_none()
            && let Some(delay) = this.next_delay()
        {
            this.write_delay = Some(Box::pin(tokio::time::sleep(delay)));
        }
        if let Some(d) = this.write_delay.as_mut()
            && d.as_mut().poll(cx).is_pending()
        {
            return Poll::Pending;
        }
        // The delay is paid once per chunk, not again if the write must wait.
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        if r.is_ready() {
            this.write_delay = None;
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        checked!(this, cx, Dir::Out);
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.check(cx, Dir::Out) {
            // A reset connection has nothing left to close.
            Poll::Ready(Err(_)) => Poll::Ready(Ok(())),
            // Not even a FIN crosses a cut.
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Pin::new(&mut this.io).poll_shutdown(cx),
        }
    }
}

impl tonic::transport::server::Connected for FaultIo {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}
