//! Per-peer timers: wakes at the moment a peer would pass the failover time
//! of silence, or the failback time of renewed visibility, and applies the
//! rule. Presence updates only move `last_seen`; the watchdog re-reads it. A
//! fault change (e.g. a clock step) also wakes it, since deadlines are read
//! on this server's own clock.

use std::sync::Arc;

use tokio::time::Instant;

use crate::state::Shared;

pub(crate) async fn watch(shared: Arc<Shared>, peer: String) {
    let mut changes = shared.net.changes();
    let mut evaluated: Option<Instant> = None;
    loop {
        let (deadline, notify) = shared.next_deadline(&peer);
        let deadline = deadline.map(|at| not_again(at, evaluated, &shared));
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
        evaluated = Some(Instant::now());
    }
}

/// `at`, unless the rules were last applied at or after it and still name
/// it (a policy whose `evaluate` waits longer than its `deadline` says):
/// then a presence interval from now, so the clock moves on instead of the
/// watchdog evaluating the same moment for ever (a paused clock never
/// advances; a live one would spin).
fn not_again(at: Instant, evaluated: Option<Instant>, shared: &Shared) -> Instant {
    match evaluated {
        Some(e) if at <= e => Instant::now() + shared.timing.presence_interval,
        _ => at,
    }
}
