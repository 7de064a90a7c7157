//! [`PathChannel`]: the phones of one site share one HTTP/2 connection to
//! each gatekeeper, as their traffic shares the site's path, while every
//! fault still bites per phone, on that phone's own streams.
//!
//! A connection per phone cost about 95 KiB (HTTP/2 buffers, hyper's and
//! tonic's per-connection tasks and channels) and made a 3,000-phone fleet
//! memory-bound. Sharing changes only where the fault plane holds bytes: on
//! a phone's own request and response (headers and each message, in order,
//! each due its latency after it left) instead of on its own connection.
//! A partition, a cut or a hang holds them; latency delays them; the
//! shared connection fails only with its server's incarnation, as every
//! phone's own connection did.

use http_body::{Body as _, Frame};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::time::Instant;
use tonic::body::Body;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::channel::ChannelTiming;
use crate::io::{Dir, Link};
use crate::net::Net;
use crate::pipe::Due;

/// A phone's view of its path to a gatekeeper is a [`Link`], as a
/// connection's is: the fault plane's pair of nodes and the phone's own
/// jitter.
impl Link {
    /// Waits until a message of a phone that left at `since` going `dir`
    /// arrives.
    async fn pass(&self, dir: Dir, since: Instant) {
        if !self.net.is_impaired() {
            return;
        }
        if let Some(d) = self.delay() {
            tokio::time::sleep_until(since + d).await;
        }
        std::future::poll_fn(|cx| {
            if self.held(dir, cx) {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
    }
}

/// A phone's channel to a gatekeeper: its site's shared connection, with
/// the fault plane applied to this phone's streams alone.
#[derive(Clone)]
pub struct PathChannel {
    ch: Channel,
    link: Arc<Link>,
}

impl std::fmt::Debug for PathChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PathChannel")
            .field("from", &self.link.from)
            .field("to", &self.link.to)
            .finish()
    }
}

impl Net {
    /// A channel from phone `from` at site `site` to server `to`: the
    /// site's one connection to `to` (made on first use; tonic reconnects it
    /// after its server's incarnation ends), with faults applied to
    /// `from`'s streams.
    pub fn path_channel(&self, from: &str, site: &str, to: &str, t: ChannelTiming) -> PathChannel {
        let ch = self.site_channel(site, to, t);
        let rng = crate::seed::rng(self.inner.seed(), &["path", from, to]);
        PathChannel {
            ch,
            link: Arc::new(Link {
                net: self.inner.clone(),
                from: from.to_string(),
                to: to.to_string(),
                rng: Mutex::new(rng),
            }),
        }
    }

    /// The shared connection of `site` to `to`.
    fn site_channel(&self, site: &str, to: &str, t: ChannelTiming) -> Channel {
        let key = (site.to_string(), to.to_string());
        let mut paths = self.inner.paths();
        if let Some(ch) = paths.get(&key) {
            return ch.clone();
        }
        let (net, to) = (self.clone(), to.to_string());
        let mut endpoint = Endpoint::from_static("http://fleetsim.invalid")
            .timeout(t.rpc_deadline)
            .connect_timeout(t.connect_timeout);
        // In sim mode the connection crosses every fault (each phone's own
        // deadline finds a held stream) and resets at once when its
        // server's incarnation ends, so it needs no HTTP/2 keepalive; over
        // real TCP a peer can vanish silently, and pings find that out.
        if self.mode() == crate::net::Mode::Live {
            endpoint = endpoint
                .http2_keep_alive_interval(t.keepalive)
                .keep_alive_timeout(t.rpc_deadline)
                .keep_alive_while_idle(false);
        }
        let ch = endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
            let (net, to) = (net.clone(), to.clone());
            async move { net.connect_path(&to).await.map(TokioIo::new) }
        }));
        paths.insert(key, ch.clone());
        ch
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl PathChannel {
    /// A keep-alive probe of this phone's connection, as TCP keep-alive
    /// sends one: nothing for the server to answer, only the path to
    /// cross, each way, within `deadline`. A partition, a cut, a hang or
    /// latency past the deadline fails it (DEADLINE_EXCEEDED, as an
    /// unanswered RPC); a server that is up but not answering its
    /// services (gray failure) does not.
    pub async fn probe(&self, deadline: std::time::Duration) -> Result<(), tonic::Status> {
        crate::call(deadline, async {
            self.link.pass(Dir::Out, Instant::now()).await;
            self.link.pass(Dir::In, Instant::now()).await;
            Ok(())
        })
        .await
    }
}

impl tower::Service<http::Request<Body>> for PathChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    /// Always ready: the shared channel is made ready inside the call, once
    /// the fault plane lets the request through, so a phone whose requests
    /// are held never holds a place in the channel's queue meanwhile (a
    /// site of thousands of stalled phones would otherwise fill it).
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let link = self.link.clone();
        let since = Instant::now();
        let req = req.map(|b| Body::new(Held::new(b, link.clone(), Dir::Out, since)));
        let mut ch = self.ch.clone();
        Box::pin(async move {
            link.pass(Dir::Out, since).await;
            let ready = tower::ServiceExt::ready(&mut ch).await?;
            let rep = tower::Service::call(ready, req).await?;
            let at = Instant::now();
            link.pass(Dir::In, at).await;
            Ok(rep.map(|b| Body::new(Held::new(b, link, Dir::In, at))))
        })
    }
}

type Item = Result<Frame<bytes::Bytes>, tonic::Status>;

/// Frames a held body takes in ahead of handing them on; past that, HTTP/2
/// flow control holds the sender back, as a full socket buffer would.
const QUEUED: usize = 64;

/// A body whose frames cross one phone's path: each due its latency after
/// it was sent, in order, and held while a fault holds that direction. A
/// body whose reader gives up while it is held is dropped with its stream
/// (reset), so what it held is never delivered: a phone that timed out has
/// abandoned the transaction, as it would a datagram lost in the cut. A
/// broken connection is reported at once, fault or not, as a reset was on
/// a phone's own connection.
struct Held {
    inner: Body,
    link: Arc<Link>,
    dir: Dir,
    /// When the body was handed over: what was ready by its first poll
    /// left then.
    opened: Option<Instant>,
    queue: Due<Item>,
    ended: bool,
}

impl Held {
    fn new(inner: Body, link: Arc<Link>, dir: Dir, opened: Instant) -> Held {
        Held {
            inner,
            link,
            dir,
            opened: Some(opened),
            queue: Due::default(),
            ended: false,
        }
    }

    /// Takes in every frame ready now (up to [`QUEUED`]), each due its
    /// latency after it left.
    fn take_in(&mut self, cx: &mut Context<'_>) {
        let left = self.opened.take().unwrap_or_else(Instant::now);
        while !self.ended && self.queue.len() < QUEUED {
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Err(e))) => {
                    // A broken connection: what was in flight is lost and
                    // the error goes first. It ends the body (a body may
                    // repeat its error for ever).
                    self.ended = true;
                    self.queue.clear();
                    self.queue.push(Err(e), Instant::now());
                }
                Poll::Ready(Some(item)) => {
                    let due = left + self.link.delay().unwrap_or_default();
                    self.queue.push(item, due);
                }
                Poll::Ready(None) => self.ended = true,
                Poll::Pending => break,
            }
        }
    }

    /// The front frame once it is due and nothing holds it (a broken
    /// connection at once).
    fn hand_on(&mut self, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        match self.queue.front() {
            // The end of the stream crosses the path as a frame would.
            None if !self.ended || self.link.held(self.dir, cx) => return Poll::Pending,
            None => return Poll::Ready(None),
            Some(Err(_)) => return Poll::Ready(self.queue.pop_front()),
            Some(Ok(_)) => {}
        }
        if self.queue.poll_front(cx).is_pending() || self.link.held(self.dir, cx) {
            return Poll::Pending;
        }
        Poll::Ready(self.queue.pop_front())
    }
}

impl http_body::Body for Held {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        let this = &mut *self;
        // No fault anywhere and nothing in flight: straight through.
        if this.queue.is_empty() && !this.link.net.is_impaired() {
            if this.ended {
                return Poll::Ready(None);
            }
            this.opened = None;
            return Pin::new(&mut this.inner).poll_frame(cx);
        }
        this.take_in(cx);
        this.hand_on(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.queue.is_empty()
            && !self.link.net.is_impaired()
            && (self.ended || self.inner.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        if self.queue.is_empty() {
            self.inner.size_hint()
        } else {
            http_body::SizeHint::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Mode;
    use std::time::Duration;
    use tokio::sync::mpsc;

    /// A body fed by hand, one frame (or error) at a time.
    struct Fed(mpsc::UnboundedReceiver<Item>);

    impl http_body::Body for Fed {
        type Data = bytes::Bytes;
        type Error = tonic::Status;
        fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
            self.0.poll_recv(cx)
        }
    }

    /// Repeats its error for ever, as some bodies do.
    struct Failing;

    impl http_body::Body for Failing {
        type Data = bytes::Bytes;
        type Error = tonic::Status;
        fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Item>> {
            Poll::Ready(Some(Err(tonic::Status::unavailable("gone"))))
        }
    }

    /// A network with `fault` in force.
    fn net_with(fault: impl FnOnce(&Net)) -> Net {
        let net = Net::new(Mode::Sim, Duration::from_secs(5));
        fault(&net);
        net
    }

    /// Phone 2011's body towards the primary around `inner`.
    fn phone_body(
        net: &Net,
        inner: impl http_body::Body<Data = bytes::Bytes, Error = tonic::Status> + Send + 'static,
    ) -> Held {
        let link = Arc::new(Link {
            net: net.inner.clone(),
            from: "2011".into(),
            to: "primary".into(),
            rng: Mutex::new(crate::seed::rng(1, &["test"])),
        });
        Held::new(Body::new(inner), link, Dir::Out, Instant::now())
    }

    /// Phone 2011's body fed by hand, and when it was opened.
    fn fed_body(net: &Net) -> (mpsc::UnboundedSender<Item>, Held, Instant) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, phone_body(net, Fed(rx)), Instant::now())
    }

    async fn next(body: &mut Held) -> Option<Item> {
        std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
    }

    fn data(s: &'static str) -> Item {
        Ok(Frame::data(bytes::Bytes::from_static(s.as_bytes())))
    }

    #[tokio::test(start_paused = true)]
    async fn each_message_of_a_phone_arrives_its_latency_after_it_left_in_order() {
        let net = net_with(|n| n.latency("2011", Duration::from_millis(300), Duration::ZERO));
        let (tx, mut body, t0) = fed_body(&net);
        tx.send(data("a")).unwrap();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tx.send(data("b")).unwrap();
        });
        assert!(next(&mut body).await.is_some());
        assert_eq!(t0.elapsed(), Duration::from_millis(300));
        assert!(next(&mut body).await.is_some());
        // Pipelined: the second pays its own latency, not the first's too.
        assert_eq!(t0.elapsed(), Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_phone_has_its_messages_held_until_the_stall_ends() {
        let net = net_with(|n| n.stall("2011", true));
        let (tx, mut body, t0) = fed_body(&net);
        tx.send(data("a")).unwrap();
        let released = net.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            released.stall("2011", false);
        });
        assert!(next(&mut body).await.is_some());
        assert_eq!(t0.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn another_phones_fault_does_not_hold_this_phones_messages() {
        let net = net_with(|n| n.stall("2012", true));
        let (tx, mut body, t0) = fed_body(&net);
        tx.send(data("a")).unwrap();
        assert!(next(&mut body).await.is_some());
        assert_eq!(t0.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_ends_a_phones_body_even_when_the_inner_body_repeats_it() {
        let net = net_with(|n| n.latency("2011", Duration::from_millis(50), Duration::ZERO));
        let mut body = phone_body(&net, Failing);
        assert!(matches!(next(&mut body).await, Some(Err(_))));
        assert!(next(&mut body).await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_broken_connection_reaches_a_held_phone_at_once_and_what_was_in_flight_is_lost() {
        let net = net_with(|n| n.stall("2011", true));
        let (tx, mut body, t0) = fed_body(&net);
        tx.send(data("a")).unwrap();
        tx.send(Err(tonic::Status::unknown("connection reset")))
            .unwrap();
        assert!(matches!(next(&mut body).await, Some(Err(_))));
        assert_eq!(t0.elapsed(), Duration::ZERO);
        net.stall("2011", false);
        assert!(next(&mut body).await.is_none());
    }
}
