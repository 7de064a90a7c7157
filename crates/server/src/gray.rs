//! Gray failure as a serving layer: requests on the gray paths of this
//! server are swallowed before any handler sees them (never answered, so
//! the caller's deadline fires). Domain code never asks about it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use fleetsim_net::Net;

/// The gRPC path prefixes a gray failure of (presence, telephony) drops.
const PRESENCE: &str = "/fleetsim.v1.Line/Presence";
const TELEPHONY: &str = "/fleetsim.v1.Telephony/";
/// Configuration changes are management access, not telephony signalling.
const CONFIGURE: &str = "/fleetsim.v1.Telephony/Configure";

/// Whether a gray failure of (presence, telephony) drops `path`.
pub(crate) fn drops(gray: (bool, bool), path: &str) -> bool {
    let (presence, telephony) = gray;
    (presence && path == PRESENCE)
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

impl<S, B> tower::Service<tonic::codegen::http::Request<B>> for Gray<S>
where
    S: tower::Service<tonic::codegen::http::Request<B>>,
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

    fn call(&mut self, req: tonic::codegen::http::Request<B>) -> Self::Future {
        let gray = self.layer.net.gray(&self.layer.server);
        if drops(gray, req.uri().path()) {
            return Box::pin(std::future::pending());
        }
        Box::pin(self.inner.call(req))
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
        assert!(!drops((false, true), "/fleetsim.v1.Telephony/Configure"));
        assert!(!drops((false, true), "/fleetsim.v1.Line/Presence"));
    }
}
