//! The rule timers a server runs with, in runtime units.

use std::time::Duration;

/// The timers the rules read, already scaled to runtime units (a live run
/// at `--speed 60` divides every configured duration by 60).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// Presence update interval (30 s by default).
    pub presence_interval: Duration,
    /// Spread of start times: presence phases differ by up to this.
    pub start_jitter: Duration,
    /// Invisibility before a peer is lost (the 3-minute rule).
    pub failover_after: Duration,
    /// Renewed visibility before failback (the 10-minute rule).
    pub failback_after: Duration,
    /// After failback, a phone may register on either system this long.
    pub homeless_prevention: Duration,
    /// Phone keepalive interval.
    pub keepalive_interval: Duration,
    /// Deadline of every RPC.
    pub rpc_deadline: Duration,
}

impl Timers {
    /// A gap in presence longer than this breaks a peer's renewed
    /// visibility: two missed updates plus the start spread.
    pub fn presence_gap(&self) -> Duration {
        self.presence_interval * 2 + self.start_jitter
    }

    /// A registration not refreshed for this long has expired: two
    /// keepalive intervals plus a deadline.
    pub fn registration_expiry(&self) -> Duration {
        self.keepalive_interval * 2 + self.rpc_deadline
    }

    /// The documented defaults at real-time speed (for tests and examples).
    pub fn documented() -> Timers {
        Timers {
            presence_interval: Duration::from_secs(30),
            start_jitter: Duration::from_secs(5),
            failover_after: Duration::from_secs(180),
            failback_after: Duration::from_secs(600),
            homeless_prevention: Duration::from_secs(300),
            keepalive_interval: Duration::from_secs(30),
            rpc_deadline: Duration::from_secs(4),
        }
    }
}
