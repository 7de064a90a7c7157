//! Per-peer timers: wakes at the moment a peer would pass the failover time
//! of silence, or the failback time of renewed visibility, and applies the
//! rule. Presence updates only move `last_seen`; the watchdog re-reads it. A
//! fault change (e.g. a clock step) also wakes it, since deadlines are read
//! on this server's own clock.

use std::sync::Arc;

use crate::state::Shared;

pub(crate) async fn watch(shared: Arc<Shared>, peer: String) {
    let mut changes = shared.net.changes();
    loop {
        let (deadline, notify) = shared.next_deadline(&peer);
        match deadline {
            Some(at) => {
                tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(at) => {}
                    () = notify.notified() => {}
                    () = changes.changed() => {}
                }
            }
            None => {
                tokio::select! {
                    biased;
                    () = notify.notified() => {}
                    () = changes.changed() => {}
                }
            }
        }
        shared.evaluate(&peer);
    }
}
