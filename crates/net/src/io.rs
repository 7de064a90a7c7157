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
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::net::Inner;
use crate::pipe::Pipe;

/// Anything a connection can be carried over.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// One end's view of its link, for direction-aware faults: the connecting
/// side's, or (live) a server's view of a connection an external member made.
pub(crate) struct Link {
    pub(crate) net: Arc<Inner>,
    /// This end: the connecting node (or the server that accepted the
    /// external member's connection).
    pub(crate) from: String,
    /// The other end: the server connected to (or the external member).
    pub(crate) to: String,
    /// Jitter for this link, seeded from the run and the link.
    pub(crate) rng: std::sync::Mutex<crate::seed::Rng>,
}

impl Link {
    /// Whether a fault holds what goes `dir` now; if so, the caller is
    /// woken when the faults change.
    pub(crate) fn held(&self, dir: Dir, cx: &mut Context<'_>) -> bool {
        let (src, dst) = match dir {
            Dir::Out => (&self.from, &self.to),
            Dir::In => (&self.to, &self.from),
        };
        self.net.is_cut(src, dst, cx)
    }

    /// Whether the link has no latency now (no jitter drawn).
    fn no_latency(&self) -> bool {
        let (delay, jitter) = self.net.latency(&self.from, &self.to);
        delay.is_zero() && jitter.is_zero()
    }

    /// The latency, with its jitter drawn, that what leaves now pays, if any.
    pub(crate) fn delay(&self) -> Option<Duration> {
        let (delay, jitter) = self.net.latency(&self.from, &self.to);
        if delay.is_zero() && jitter.is_zero() {
            return None;
        }
        if jitter.is_zero() {
            return Some(delay);
        }
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        Some(delay + jitter.mul_f64(rng.random_range(0.0..1.0)))
    }
}

/// A connection wrapped by the fault plane.
pub struct FaultIo {
    io: Box<dyn Io>,
    /// Tokens of the incarnations at either end: when one fires, the
    /// connection is reset. Checked at every read and write; waited on
    /// (`guards`) only while the connection has to wait anyway, so the
    /// busy path takes no waker registration.
    tokens: Vec<CancellationToken>,
    guards: Vec<Pin<Box<WaitForCancellationFutureOwned>>>,
    link: Option<Link>,
    reset: bool,
    /// Bytes read from the server, on their way to this side (latency).
    inbox: Pipe,
    /// Whether the server's side has closed (after what is in `inbox`).
    read_eof: bool,
    /// Bytes written by this side, on their way to the server (latency).
    outbox: Pipe,
    /// Live, with an external member: this connection's local port, noted
    /// while it is open (faulted or not, it is fleetsim's own).
    own_port: Option<crate::net::OwnPort>,
}

impl std::fmt::Debug for FaultIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultIo")
            .field("link", &self.link.as_ref().map(|l| (&l.from, &l.to)))
            .field("reset", &self.reset)
            .finish()
    }
}

/// Which way bytes or messages go on a link.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Dir {
    /// From the connecting side (a phone, a server dialling) to the server.
    Out,
    /// From the server to the connecting side.
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
            tokens: tokens.iter().map(|t| (*t).clone()).collect(),
            guards: tokens
                .iter()
                .map(|t| Box::pin((*t).clone().cancelled_owned()))
                .collect(),
            link,
            reset: false,
            inbox: Pipe::default(),
            read_eof: false,
            outbox: Pipe::default(),
            own_port: None,
        }
    }

    /// Keeps `own` noted as one of fleetsim's own ports while this
    /// connection is open.
    pub(crate) fn keeping(mut self, own: Option<crate::net::OwnPort>) -> FaultIo {
        self.own_port = own;
        self
    }

    /// Ready(Err) when reset, Pending while the direction is held, Ready(Ok) to go on.
    fn check(&mut self, cx: &mut Context<'_>, dir: Dir) -> Poll<io::Result<()>> {
        if !self.reset && self.tokens.iter().any(CancellationToken::is_cancelled) {
            self.reset = true;
        }
        if self.reset {
            return Poll::Ready(Err(reset()));
        }
        if self.link.as_ref().is_some_and(|l| l.held(dir, cx)) {
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    /// On the way out with `Pending`: waits on the tokens too, so a crash
    /// wakes the connection. Whether one has fired meanwhile.
    fn arm(&mut self, cx: &mut Context<'_>) -> bool {
        for g in &mut self.guards {
            if g.as_mut().poll(cx).is_ready() {
                self.reset = true;
            }
        }
        self.reset
    }

    /// `p`, or the reset if a token fired while `p` would wait.
    fn or_reset<T>(&mut self, cx: &mut Context<'_>, p: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if p.is_pending() && self.arm(cx) {
            return Poll::Ready(Err(reset()));
        }
        p
    }

    /// Whether the link has no latency now (no jitter drawn).
    fn next_delay_is_zero(&self) -> bool {
        self.link.as_ref().is_none_or(Link::no_latency)
    }

    /// The latency to apply to the next chunk, if any.
    fn next_delay(&self) -> Option<Duration> {
        self.link.as_ref()?.delay()
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

impl FaultIo {
    /// Takes in what the server sent so far, each chunk due its latency
    /// after it arrived. `Err` only when nothing is left to hand on.
    fn take_in(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        while !self.read_eof && !self.inbox.is_full() {
            let mut chunk = vec![0u8; 8 * 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if rb.filled().is_empty() => self.read_eof = true,
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    chunk.truncate(n);
                    let delay = self.next_delay().unwrap_or_default();
                    self.inbox.push(chunk, delay);
                }
                Poll::Ready(Err(e)) if self.inbox.is_empty() => return Err(e),
                Poll::Ready(Err(_)) | Poll::Pending => break,
            }
        }
        Ok(())
    }

    /// Hands on to the server what is due of `outbox`; Ready once empty.
    fn send_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let bytes = match self.outbox.poll_front(cx) {
                Poll::Ready(Some(b)) => b,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            };
            match Pin::new(&mut self.io).poll_write(cx, bytes) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.outbox.consume(n),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl AsyncRead for FaultIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let p = this.read(cx, buf);
        this.or_reset(cx, p)
    }
}

impl FaultIo {
    fn read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self;
        checked!(this, cx, Dir::In);
        if this.inbox.is_empty() && this.next_delay_is_zero() {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        this.take_in(cx)?;
        match this.inbox.poll_front(cx) {
            Poll::Ready(Some(bytes)) => {
                let n = bytes.len().min(buf.remaining());
                buf.put_slice(&bytes[..n]);
                this.inbox.consume(n);
                Poll::Ready(Ok(()))
            }
            // Nothing in flight: end of stream, or wait for the server.
            Poll::Ready(None) if this.read_eof => Poll::Ready(Ok(())),
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncWrite for FaultIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let p = this.write(cx, buf);
        this.or_reset(cx, p)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let p = this.flush(cx);
        this.or_reset(cx, p)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let p = this.shutdown(cx);
        // A connection reset while closing has nothing left to close.
        if p.is_pending() && this.arm(cx) {
            return Poll::Ready(Ok(()));
        }
        p
    }
}

impl FaultIo {
    fn write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self;
        checked!(this, cx, Dir::Out);
        if this.outbox.is_empty() && this.next_delay_is_zero() {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        }
        if this.outbox.is_full() {
            match this.send_out(cx) {
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                _ if this.outbox.is_full() => return Poll::Pending,
                _ => {}
            }
        }
        // Taken now, handed on once its latency has passed.
        let delay = this.next_delay().unwrap_or_default();
        this.outbox.push(buf.to_vec(), delay);
        if let Poll::Ready(Err(e)) = this.send_out(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self;
        checked!(this, cx, Dir::Out);
        match this.send_out(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.io).poll_flush(cx),
            other => other,
        }
    }

    fn shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self;
        match this.check(cx, Dir::Out) {
            // A reset connection has nothing left to close.
            Poll::Ready(Err(_)) => Poll::Ready(Ok(())),
            // Not even a FIN crosses a cut.
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => match this.send_out(cx) {
                Poll::Ready(Ok(())) => Pin::new(&mut this.io).poll_shutdown(cx),
                other => other,
            },
        }
    }
}

fn reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "peer crashed")
}

impl tonic::transport::server::Connected for FaultIo {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}
