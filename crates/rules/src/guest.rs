//! Phones of other systems: whether one may register here as a guest
//! (failover), when a guest is sent home (failback), and when a
//! registration has expired.

use std::time::Duration;

use fleetsim_model::PhoneKind;

use crate::quorum::Visibility;
use crate::{PeerView, Timers};

/// What a server observes when a phone of `home` asks to register here.
#[derive(Clone, Copy, Debug)]
pub struct GuestObs<'a> {
    /// This server's clock.
    pub now: Duration,
    /// The phone's extension.
    pub phone: &'a str,
    /// Its home system.
    pub home: &'a str,
    /// Its kind.
    pub kind: PhoneKind,
    /// Whether this server backs up `home`'s phones of this kind.
    pub backs_up_kind: bool,
    /// This server's view of `home` (`None`: no line to it).
    pub peer: Option<&'a PeerView>,
    /// Whether a record of the phone, replicated by `home`, is held here.
    pub has_record: bool,
    /// Users plus extensions held here now (own phones and guests).
    pub occupancy: u32,
    /// This server's capacity, guests included.
    pub capacity: u32,
    /// Whether the phone is already registered here.
    pub already: bool,
    /// How much of its line peers this server sees.
    pub visibility: Visibility,
    /// The timers.
    pub timers: &'a Timers,
}

/// Why a registration is refused. The server words it for the event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Analogue, digital and softphone endpoints never fail over.
    DoesNotFailOver(PhoneKind),
    /// This server is not the home's backup for phones of this kind.
    NotBackup(PhoneKind),
    /// There is no line to the home.
    NoLine,
    /// The home failed back this long ago and the homeless-prevention
    /// window is over.
    WindowOver {
        /// Time since failback started.
        since_failback: Duration,
    },
    /// The home is not lost: it was heard this long ago.
    NotSilentLongEnough {
        /// Silence so far.
        silent: Duration,
        /// Silence the policy needs.
        needed: Duration,
    },
    /// The home was lost but is visible again.
    HomeVisible,
    /// No record of the phone was replicated here: resilience lost.
    NoRecord,
    /// Capacity (guests included) reached: no resilience.
    Capacity {
        /// The capacity.
        capacity: u32,
    },
    /// Restricted mode: a softphone's user licence cannot be acquired.
    Restricted,
    /// This server sees only a minority of its line peers.
    NoQuorum {
        /// Systems it sees, itself included.
        visible: u32,
        /// Itself and its line peers.
        electorate: u32,
    },
    /// The home is lost, but the policy waits longer before taking over.
    Fencing {
        /// Silence so far.
        silent: Duration,
        /// Silence the policy needs.
        needed: Duration,
    },
    /// A policy's own reason.
    Custom(String),
}

/// The documented guest rules (docs/domain-coverage.md §3, §5), in order:
/// the phone must fail over at all, this must be its backup, the home must
/// be lost (or in its homeless-prevention window) and not visible again, a
/// record of the phone must be held, and capacity must allow it.
pub fn admit(g: &GuestObs<'_>, failover_after: Duration) -> Result<(), Refusal> {
    if !g.kind.fails_over() {
        return Err(Refusal::DoesNotFailOver(g.kind));
    }
    if !g.backs_up_kind {
        return Err(Refusal::NotBackup(g.kind));
    }
    let p = g.peer.ok_or(Refusal::NoLine)?;
    home_lost(p, g.now, g.timers, failover_after)?;
    if p.returned_since.is_some() {
        return Err(Refusal::HomeVisible);
    }
    if !g.has_record {
        return Err(Refusal::NoRecord);
    }
    if !g.already && g.occupancy >= g.capacity {
        return Err(Refusal::Capacity {
            capacity: g.capacity,
        });
    }
    Ok(())
}

/// The home must be lost, or have failed back within the homeless-prevention
/// window (so a phone that cannot reach home is not stranded).
fn home_lost(p: &PeerView, now: Duration, t: &Timers, needed: Duration) -> Result<(), Refusal> {
    if p.lost || in_homeless_window(p, now, t) {
        return Ok(());
    }
    match p.failback_at {
        Some(f) => Err(Refusal::WindowOver {
            since_failback: now.saturating_sub(f),
        }),
        None => Err(Refusal::NotSilentLongEnough {
            silent: p.silent(now),
            needed,
        }),
    }
}

fn in_homeless_window(p: &PeerView, now: Duration, t: &Timers) -> bool {
    !p.lost
        && p.failback_at
            .is_some_and(|f| now < f + t.homeless_prevention)
}

/// What a server observes when a phone registered here sends a keepalive.
#[derive(Clone, Copy, Debug)]
pub struct HomeObs<'a> {
    /// This server's clock.
    pub now: Duration,
    /// Whether the phone is a guest here.
    pub guest: bool,
    /// Whether it is in a call (calls are never cut to send a phone home).
    pub in_call: bool,
    /// Whether it stays until logged out (H.323 under manual failback).
    pub manual: bool,
    /// This server's view of the phone's home (`None`: no line to it).
    pub peer: Option<&'a PeerView>,
    /// When the phone registered here.
    pub since: Duration,
    /// The timers.
    pub timers: &'a Timers,
}

/// The documented rule: an idle guest goes home once its home has failed
/// back, unless it stays by manual failback or came in during the
/// homeless-prevention window.
pub fn send_home(h: &HomeObs<'_>) -> bool {
    if !h.guest || h.in_call || h.manual {
        return false;
    }
    let Some(p) = h.peer else {
        return false;
    };
    if p.failover != crate::Failover::Idle || p.lost {
        return false;
    }
    let came_in_window = p
        .failback_at
        .is_some_and(|f| h.since >= f && h.now < f + h.timers.homeless_prevention);
    !came_in_window
}

/// A registration refreshed at `refreshed` has expired at `now` (both on
/// the monotonic clock: expiry is a timer a clock step does not move).
pub fn expired(refreshed: Duration, now: Duration, t: &Timers) -> bool {
    now.saturating_sub(refreshed) > t.registration_expiry()
}

/// A server's own phone registers: refused only for a softphone in
/// restricted mode (no user licence can be acquired).
pub fn admit_home(kind: PhoneKind, restricted: bool) -> Result<(), Refusal> {
    if kind == PhoneKind::Softphone && restricted {
        return Err(Refusal::Restricted);
    }
    Ok(())
}
