//! Gray failure as a serving layer: requests on the gray paths of this
//! server are swallowed before any handler sees them (never answered, so
//! the caller's deadline fires), and so are the messages that arrive on a
//! long-lived stream of a gray path while the failure lasts (a keepalive
//! stream opened before it). Domain code never asks about it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use fleetsim_net::Net;

/// The gRPC path prefixes a gray failure of (presence, telephony) drops.
const PRESENCE: &str = "/fleetsim.v1.Line/Presence";
/// Presence on a long-lived stream.
const PRESENCE_STREAM: &str = "/fleetsim.v1.Line/PresenceStream";
const TELEPHONY: &str = "/fleetsim.v1.Telephony/";
/// Configuration changes are management access, not telephony signalling.
const CONFIGURE: &str = "/fleetsim.v1.Telephony/Configure";

/// Whether a gray failure of (presence, telephony) drops `path`.
pub(crate) fn drops(gray: (bool, bool), path: &str) -> bool {
    let (presence, telephony) = gray;
    (presence && (path == PRESENCE || path == PRESENCE_STREAM))
        || (telephony && path.starts_with(TELEPHONY) && path != CONFIGURE)
}

/// The layer: filters requests to `server` by the network's gray paths.
#[derive(Clone, Debug)]
pub(crate) struct GrayLayer {
    net: Net,
    server: String,
}

impl GrayLayer {
    /// A gray filter for `server` on `net`.
    pub(crate) fn new(net: Net, server: &str) -> GrayLayer {
        GrayLayer {
            net,
            server: server.to_string(),
        }
    }
}

impl<S> tower::Layer<S> for GrayLayer {
    type Service = Gray<S>;
    fn layer(&self, inner: S) -> Gray<S> {
        Gray {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`GrayLayer`] makes.
#[derive(Clone, Debug)]
pub(crate) struct Gray<S> {
    inner: S,
    layer: GrayLayer,
}

type Request = tonic::codegen::http::Request<tonic::body::Body>;

impl<S> tower::Service<Request> for Gray<S>
where
    S: tower::Service<Request>,
    S::Future: Send + 'static,
    S::Response: 'static,
    S::Error: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let gray = self.layer.net.gray(&self.layer.server);
        let path = req.uri().path();
        if drops(gray, path) {
            return Box::pin(std::future::pending());
        }
        // A stream may outlive the moment it was let through.
        let req = if path.ends_with("Stream") {
            let path = path.to_string();
            let layer = self.layer.clone();
            req.map(|inner| tonic::body::Body::new(GrayBody { inner, layer, path }))
        } else {
            req
        };
        Box::pin(self.inner.call(req))
    }
}

/// The request body of a long-lived stream: while its path is gray, each
/// message that arrives is swallowed, unseen by the handler.
struct GrayBody {
    inner: tonic::body::Body,
    layer: GrayLayer,
    path: String,
}

impl http_body::Body for GrayBody {
    type Data = tonic::codegen::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        loop {
            let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
            let gray = self.layer.net.gray(&self.layer.server);
            match frame {
                Some(Ok(f)) if f.is_data() && drops(gray, &self.path) => continue,
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::drops;

    #[test]
    fn gray_presence_drops_presence_only() {
        assert!(drops((true, false), "/fleetsim.v1.Line/Presence"));
        assert!(!drops((true, false), "/fleetsim.v1.Line/Replicate"));
        assert!(!drops((true, false), "/fleetsim.v1.Telephony/Register"));
    }

    #[test]
    fn gray_telephony_drops_signalling_but_not_configuration() {
        assert!(drops((false, true), "/fleetsim.v1.Telephony/Register"));
        assert!(drops((false, true), "/fleetsim.v1.Telephony/Hangup"));
        assert!(drops(
            (false, true),
            "/fleetsim.v1.Telephony/KeepaliveStream"
        ));
        assert!(!drops((false, true), "/fleetsim.v1.Telephony/Configure"));
        assert!(!drops((false, true), "/fleetsim.v1.Line/Presence"));
    }
}
