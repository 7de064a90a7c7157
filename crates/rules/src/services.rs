//! Voicemail Pro, one-X Portal and licence decisions
//! (docs/domain-coverage.md §4): when a backup hands back or takes over,
//! and how a server's licence state moves.

use std::time::Duration;

use fleetsim_model::{FailbackMode, VoicemailFailback};

use crate::quorum::Visibility;

/// Why a backup hands a service back (the event's `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handback {
    /// The primary came up active while it could not reach the backup.
    PrimaryActive,
    /// An operator asked for it.
    Manual,
    /// The primary is back and no voicemail call is in progress.
    Graceful,
    /// The primary is back (voicemail: calls cut after the timeout).
    Automatic,
}

impl Handback {
    /// The name in the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            Handback::PrimaryActive => "primary already active",
            Handback::Manual => "manual",
            Handback::Graceful => "graceful",
            Handback::Automatic => "automatic",
        }
    }
}

/// What the active backup voicemail observes on one of its ticks.
#[derive(Clone, Copy, Debug)]
pub struct VmBackupObs {
    /// Now (monotonic).
    pub now: Duration,
    /// The primary's voicemail: `None` silent, `Some(active)` answering.
    pub primary: Option<bool>,
    /// The failback mode.
    pub mode: VoicemailFailback,
    /// Whether an operator asked for failback.
    pub failback_requested: bool,
    /// Since when the primary's voicemail has answered.
    pub back_since: Option<Duration>,
    /// Automatic mode: calls in progress are cut this long after the
    /// primary's return.
    pub timeout: Duration,
}

/// What the active backup voicemail does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmStep {
    /// Stay active.
    Wait,
    /// Hand back; `cut` ends messages in progress (keeping what was said).
    Handback {
        /// Why.
        mode: Handback,
        /// Whether calls in progress are cut.
        cut: bool,
    },
}

/// The documented voicemail failback: manual waits for the operator
/// (unless the primary is already active: two active voicemails would split
/// the mailboxes), graceful hands back once no message is being left,
/// automatic also cuts calls after the timeout. Returns the new
/// `back_since` and the step.
pub fn vm_backup(o: &VmBackupObs) -> (Option<Duration>, VmStep) {
    let manual = o.mode == VoicemailFailback::Manual;
    if o.primary == Some(true) && manual && !o.failback_requested {
        let step = VmStep::Handback {
            mode: Handback::PrimaryActive,
            cut: false,
        };
        return (o.back_since, step);
    }
    if o.primary.is_none() {
        return (None, VmStep::Wait);
    }
    let since = o.back_since.unwrap_or(o.now);
    let step = match o.mode {
        VoicemailFailback::Manual if !o.failback_requested => VmStep::Wait,
        VoicemailFailback::Manual => handback(Handback::Manual, false),
        VoicemailFailback::Graceful => handback(Handback::Graceful, false),
        VoicemailFailback::Automatic => handback(Handback::Automatic, o.now >= since + o.timeout),
    };
    (Some(since), step)
}

fn handback(mode: Handback, cut: bool) -> VmStep {
    VmStep::Handback { mode, cut }
}

/// What the standby backup voicemail observes on one of its ticks.
#[derive(Clone, Copy, Debug)]
pub struct VmStandbyObs {
    /// The primary's phones registered here as guests: its users this
    /// backup holds.
    pub guests: u32,
    /// Whether the primary is lost and not heard again since (it may have
    /// come back briefly after an earlier failover and failed again).
    pub primary_lost: bool,
    /// The primary's voicemail: `None` silent, `Some(active)` answering.
    pub primary: Option<bool>,
}

/// What the standby backup voicemail does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmStandbyStep {
    /// Stay on standby.
    Wait,
    /// Become active: the primary's users held here have no voicemail.
    Activate {
        /// Guests of the primary held here.
        guests: u32,
    },
}

/// While a backup holds users of the primary (its guests) and the primary
/// is lost with its voicemail silent, the backup voicemail must be active.
/// Failover activates it with the first guest; this covers a primary that
/// came back, took its voicemail back, and failed again before its phones
/// went home: their guests never left, so no new failover starts. A primary
/// voicemail answering, even on standby, is left to activate itself: two
/// active voicemails would split the mailboxes.
pub fn vm_standby(o: &VmStandbyObs) -> VmStandbyStep {
    if o.guests == 0 || !o.primary_lost || o.primary.is_some() {
        return VmStandbyStep::Wait;
    }
    VmStandbyStep::Activate { guests: o.guests }
}

/// What the backup portal observes on one of its ticks.
#[derive(Clone, Copy, Debug)]
pub struct PortalBackupObs {
    /// Now (monotonic).
    pub now: Duration,
    /// Whether the backup portal is active.
    pub active: bool,
    /// The primary's portal: `None` silent, `Some(active)` answering.
    pub primary: Option<bool>,
    /// The portal failback mode.
    pub mode: FailbackMode,
    /// When the primary's portal last answered.
    pub last_heard: Duration,
    /// The portal's failover detection time (3 minutes by default).
    pub detect: Duration,
    /// How much of its line peers the backup sees.
    pub visibility: Visibility,
    /// The timers.
    pub timers: crate::Timers,
}

/// What the backup portal does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortalStep {
    /// Nothing.
    Wait,
    /// Hand back to the primary.
    Handback(Handback),
    /// Take over: the primary's portal has been silent this long.
    Activate {
        /// Silence.
        silent: Duration,
    },
}

/// The documented portal rules: take over after the detection time of
/// silence; hand back automatically, or (manual) only when the primary is
/// already active. Returns the new `last_heard` and the step.
pub fn portal_backup(o: &PortalBackupObs) -> (Duration, PortalStep) {
    let Some(primary_active) = o.primary else {
        let silent = o.now.saturating_sub(o.last_heard);
        let step = if !o.active && silent >= o.detect {
            PortalStep::Activate { silent }
        } else {
            PortalStep::Wait
        };
        return (o.last_heard, step);
    };
    let step = match o.mode {
        _ if !o.active => PortalStep::Wait,
        FailbackMode::Manual if primary_active => PortalStep::Handback(Handback::PrimaryActive),
        FailbackMode::Manual => PortalStep::Wait,
        FailbackMode::Automatic => PortalStep::Handback(Handback::Automatic),
    };
    (o.now, step)
}

/// A server's licence state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Licence {
    /// Licences renewed with the primary.
    #[default]
    Normal,
    /// The primary cannot be reached; grace ends at this (monotonic) time.
    Grace(Duration),
    /// Grace ran out: configuration changes refused.
    Restricted,
}

impl Licence {
    /// The name in the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            Licence::Normal => "normal",
            Licence::Grace(_) => "grace",
            Licence::Restricted => "restricted",
        }
    }
}

/// Why the licence state changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenceWhy {
    /// A renewal succeeded.
    Renewed,
    /// A renewal failed: grace begins.
    GraceBegins,
    /// Grace ran out.
    RanOut,
    /// Restarted within grace (current rule): grace goes on.
    StillInGrace,
    /// Restarted after grace would have run out.
    RanOutWhileDown,
    /// Restarted during grace under the older rule: grace ends.
    OlderRuleRestart,
}

/// A renewal with the primary succeeded (`ok`) or failed at `now`.
pub fn after_renewal(
    state: Licence,
    ok: bool,
    now: Duration,
    grace: Duration,
) -> Option<(Licence, LicenceWhy)> {
    match (ok, state) {
        (true, Licence::Normal) | (false, Licence::Grace(_) | Licence::Restricted) => None,
        (true, _) => Some((Licence::Normal, LicenceWhy::Renewed)),
        (false, Licence::Normal) => Some((Licence::Grace(now + grace), LicenceWhy::GraceBegins)),
    }
}

/// Grace runs out at its end.
pub fn at(state: Licence, now: Duration) -> Option<(Licence, LicenceWhy)> {
    match state {
        Licence::Grace(end) if now >= end => Some((Licence::Restricted, LicenceWhy::RanOut)),
        _ => None,
    }
}

/// The state a server restarts in, given the grace start kept on its disk.
pub fn after_restart(
    grace_since: Option<Duration>,
    now: Duration,
    grace: Duration,
    survives_restart: bool,
) -> Option<(Licence, LicenceWhy)> {
    let since = grace_since?;
    Some(match survives_restart {
        true if now < since + grace => (Licence::Grace(since + grace), LicenceWhy::StillInGrace),
        true => (Licence::Restricted, LicenceWhy::RanOutWhileDown),
        false => (Licence::Restricted, LicenceWhy::OlderRuleRestart),
    })
}
