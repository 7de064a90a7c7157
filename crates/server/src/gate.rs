//! A hang as a gate: every task of a server incarnation runs behind it, and
//! while the network says the server is hung none of them is polled, so
//! nothing of that process moves (timers, routing, voicemail, trunk holds)
//! until the hang ends. Domain code never asks whether it is hung.

use std::future::Future;

use fleetsim_net::Net;
use tokio::task::JoinHandle;

use crate::state::Shared;

/// Runs `fut`, but polls it only while `server` is not hung on `net`.
pub(crate) async fn gated<F: Future>(net: Net, server: String, fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut changes = net.changes();
    loop {
        if net.is_hung(&server) {
            changes.changed().await;
            continue;
        }
        tokio::select! {
            biased;
            out = &mut fut => return out,
            () = changes.changed() => {}
        }
    }
}

impl Shared {
    /// Spawns work of this incarnation behind its hang gate; it ends when
    /// the incarnation dies.
    pub(crate) fn spawn<F>(&self, fut: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let token = self.token.clone();
        let work = gated(self.net.clone(), self.name.clone(), fut);
        tokio::spawn(async move {
            tokio::select! {
                biased;
                () = token.cancelled() => {}
                () = work => {}
            }
        })
    }
}
