//! One line peer as a server sees it, and the two rules that move it:
//! a peer silent for the failover time (3 minutes) is **lost**, and a lost
//! peer visible again without a break for the failback time (10 minutes)
//! is **failed back** to.

use std::time::Duration;

use crate::quorum::Visibility;
use crate::{TakeoverPolicy, Timers};

/// Failover state towards one peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failover {
    /// Nothing taken over.
    Idle,
    /// The peer is lost and this server backs it up: guests are accepted.
    Ready,
    /// Guests of the peer have registered here.
    Active,
}

/// What a server knows of one line peer (times on this server's clock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerView {
    /// When it was last heard from (start of this incarnation if never).
    pub last_seen: Duration,
    /// Declared lost (invisible for the failover time).
    pub lost: bool,
    /// Heard again after being lost, since.
    pub returned_since: Option<Duration>,
    /// What this server has taken over of it.
    pub failover: Failover,
    /// The peer's incarnation as last heard (0: never heard).
    pub incarnation: u64,
    /// When failback to it last started (homeless-prevention window).
    pub failback_at: Option<Duration>,
}

impl PeerView {
    /// A peer not heard yet, counted as seen at `now` (this incarnation's
    /// start): silence is measured from when we could first have heard it.
    pub fn new(now: Duration) -> PeerView {
        PeerView {
            last_seen: now,
            lost: false,
            returned_since: None,
            failover: Failover::Idle,
            incarnation: 0,
            failback_at: None,
        }
    }

    /// How long it has been silent at `now`.
    pub fn silent(&self, now: Duration) -> Duration {
        now.saturating_sub(self.last_seen)
    }

    /// After this server's clock stepped back, times stamped before the step
    /// lie in its future: clamp them to `now`, or the step would freeze
    /// peer-loss detection and failback for its size.
    pub fn clamp_to(&mut self, now: Duration) {
        self.last_seen = self.last_seen.min(now);
        if let Some(r) = self.returned_since.as_mut() {
            *r = (*r).min(now);
        }
    }

    /// A guest of this peer registered here; returns whether it is the
    /// first, which starts the failover (and hunt-group and voicemail
    /// resilience with it).
    pub fn guest_arrived(&mut self) -> bool {
        let first = self.lost && self.failover != Failover::Active;
        if self.lost {
            self.failover = Failover::Active;
        }
        first
    }
}

/// What a server observes when it evaluates one peer.
#[derive(Clone, Copy, Debug)]
pub struct PeerCtx<'a> {
    /// This server's clock.
    pub now: Duration,
    /// The peer's name.
    pub peer: &'a str,
    /// Whether this server is the peer's backup system.
    pub backing_up: bool,
    /// Phone records of the peer held here.
    pub records_held: u32,
    /// The peer's phones registered here as guests.
    pub guests: u32,
    /// How much of its line peers this server sees.
    pub visibility: Visibility,
    /// The timers.
    pub timers: &'a Timers,
}

/// A decision about one peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerDecision {
    /// Invisible for the failover time: lost.
    Lost {
        /// How long it was silent.
        silent: Duration,
        /// Guests of the peer already registered here (they came during
        /// the homeless-prevention window, or stayed by manual failback)
        /// whose failover begins now; 0 when none, or when the failover
        /// was already in force.
        takes_over: u32,
    },
    /// Visible again for the failback time: its phones go home.
    FailBack {
        /// How long it has been visible.
        visible_for: Duration,
    },
}

/// A presence update heard from a peer: what changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Returned {
    /// How long it had been silent.
    pub silent: Duration,
}

/// Presence from the peer (incarnation `incarnation`) arrived at `now`.
/// Returns `Some` when a lost peer is (again) visible: the failback count
/// starts, or, if nothing was taken over, the peer is simply back.
pub fn heard(view: &mut PeerView, now: Duration, incarnation: u64, t: &Timers) -> Option<Returned> {
    let silent = view.silent(now);
    let restarted = view.incarnation != 0 && view.incarnation != incarnation;
    view.last_seen = now;
    view.incarnation = incarnation;
    // Failback needs the home visible without a break: a restart or a gap
    // of more than two presence intervals starts the count again.
    let broken = restarted || silent > t.presence_gap();
    if !view.lost || (view.returned_since.is_some() && !broken) {
        return None;
    }
    view.returned_since = Some(now);
    if view.failover != Failover::Active {
        // Nothing was taken over, so there is nothing to hand back.
        view.lost = false;
        view.returned_since = None;
        view.failover = Failover::Idle;
    }
    Some(Returned { silent })
}

/// When the peer's watchdog should next evaluate it, or `None` to wait for
/// presence. Clamps the view to `now` first (see [`PeerView::clamp_to`]).
pub fn deadline<P: TakeoverPolicy + ?Sized>(
    policy: &P,
    view: &mut PeerView,
    now: Duration,
    t: &Timers,
) -> Option<Duration> {
    view.clamp_to(now);
    // Saturating: a policy may wait "for ever" (`Duration::MAX`).
    let silence = view.last_seen.saturating_add(policy.failover_after(t));
    if !view.lost {
        return Some(silence);
    }
    view.returned_since
        .map(|r| r.saturating_add(policy.failback_after(t)).min(silence))
}

/// Applies the failover and failback rules to the peer at `ctx.now`.
pub fn evaluate<P: TakeoverPolicy + ?Sized>(
    policy: &P,
    view: &mut PeerView,
    ctx: &PeerCtx<'_>,
) -> Option<PeerDecision> {
    let now = ctx.now;
    view.clamp_to(now);
    let silent = view.silent(now);
    if silent >= policy.failover_after(ctx.timers) && (!view.lost || view.returned_since.is_some())
    {
        // Invisible for the failover time (again): lost.
        view.lost = true;
        view.returned_since = None;
        let mut takes_over = 0;
        if ctx.backing_up && view.failover != Failover::Active {
            // Guests already here are the failover's trigger: their
            // phones re-registered here, only earlier than the loss.
            view.failover = if ctx.guests > 0 {
                takes_over = ctx.guests;
                Failover::Active
            } else {
                Failover::Ready
            };
        }
        return Some(PeerDecision::Lost { silent, takes_over });
    }
    let since = view.returned_since?;
    if now < since.saturating_add(policy.failback_after(ctx.timers)) {
        return None;
    }
    view.lost = false;
    view.returned_since = None;
    view.failover = Failover::Idle;
    view.failback_at = Some(now);
    Some(PeerDecision::FailBack {
        visible_for: now.saturating_sub(since),
    })
}
