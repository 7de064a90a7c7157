//! A test hook, not an emulated fault: a layer that makes the server's
//! first gRPC request panic, either in the handler itself or in work the
//! handler spawns (the request is then served as usual), so tests can check
//! that a panic makes the run an error instead of looking like a reset
//! connection, or going unseen in a task nobody awaits.
//!
//! It is installed only when [`crate::ServerConfig::panic_on_first_request`]
//! or [`crate::ServerConfig::panic_in_spawned_work`] asks for it; no domain
//! code knows of it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// Wraps a service so its first request panics (once per incarnation).
#[derive(Clone, Debug, Default)]
pub(crate) struct PanicOnce {
    armed: Arc<AtomicBool>,
    /// Panic in a task the request spawns, not in the handler.
    spawned: bool,
}

impl PanicOnce {
    /// A layer armed for one panic in the handler.
    pub(crate) fn armed() -> PanicOnce {
        PanicOnce {
            armed: Arc::new(AtomicBool::new(true)),
            spawned: false,
        }
    }

    /// A layer armed for one panic in work the first request spawns.
    pub(crate) fn armed_in_spawned_work() -> PanicOnce {
        PanicOnce {
            spawned: true,
            ..PanicOnce::armed()
        }
    }
}

impl<S> tower::Layer<S> for PanicOnce {
    type Service = PanicOnceSvc<S>;
    fn layer(&self, inner: S) -> Self::Service {
        PanicOnceSvc {
            inner,
            armed: self.armed.clone(),
            spawned: self.spawned,
        }
    }
}

/// The service [`PanicOnce`] makes.
#[derive(Clone, Debug)]
pub(crate) struct PanicOnceSvc<S> {
    inner: S,
    armed: Arc<AtomicBool>,
    spawned: bool,
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
            if !self.spawned {
                panic!("injected panic in a gRPC handler (test hook)");
            }
            // Nobody awaits this task: tokio catches its panic, and the
            // request is answered as if nothing happened.
            tokio::spawn(async {
                panic!("injected panic in work a gRPC handler spawned (test hook)");
            });
        }
        self.inner.call(req)
    }
}
