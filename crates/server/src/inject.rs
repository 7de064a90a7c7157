//! A test hook, not an emulated fault: a layer that makes the server's
//! first gRPC request panic, so tests can check that a panic in a handler
//! makes the run an error instead of looking like a reset connection.
//!
//! It is installed only when [`crate::ServerConfig::panic_on_first_request`]
//! asks for it; no domain code knows of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Wraps a service so its first request panics (once per incarnation).
#[derive(Clone, Debug, Default)]
pub(crate) struct PanicOnce {
    armed: Arc<AtomicBool>,
}

impl PanicOnce {
    /// A layer armed for one panic.
    pub(crate) fn armed() -> PanicOnce {
        PanicOnce {
            armed: Arc::new(AtomicBool::new(true)),
        }
    }
}

impl<S> tower::Layer<S> for PanicOnce {
    type Service = PanicOnceSvc<S>;
    fn layer(&self, inner: S) -> Self::Service {
        PanicOnceSvc {
            inner,
            armed: self.armed.clone(),
        }
    }
}

/// The service [`PanicOnce`] makes.
#[derive(Clone, Debug)]
pub(crate) struct PanicOnceSvc<S> {
    inner: S,
    armed: Arc<AtomicBool>,
}

impl<S: tower::Service<R>, R> tower::Service<R> for PanicOnceSvc<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        if self.armed.swap(false, Ordering::Relaxed) {
            panic!("injected panic in a gRPC handler (test hook)");
        }
        self.inner.call(req)
    }
}
