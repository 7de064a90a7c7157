//! What a phone decides when its system stops answering
//! (docs/domain-coverage.md §3): an IP DECT base's switch to the backup,
//! and media connection preservation of the call it is in.

use std::time::Duration;

use fleetsim_model::{CallKind, PhoneKind};

/// An IP DECT base polls its system every 30 s and switches to the backup
/// only once its polls have failed for the switch time (2 min): should it
/// keep polling its system, its polls having failed for `failing_for`?
/// (A system that answers "not registered here" is not failing: the base
/// registers again at once, and the phone does not ask.)
pub fn dect_keeps_polling(failing_for: Duration, switch_after: Duration) -> bool {
    failing_for < switch_after
}

/// The first tick at or after `now` of a grid that starts at `start` and
/// ticks `every`: when a phone's next keep-alive probe falls.
pub fn next_on_grid<T>(start: T, now: T, every: std::time::Duration) -> T
where
    T: Copy
        + PartialOrd
        + std::ops::Sub<T, Output = std::time::Duration>
        + std::ops::Add<std::time::Duration, Output = T>,
{
    if now <= start || every.is_zero() {
        return start;
    }
    let behind = (now - start).as_nanos();
    let step = every.as_nanos();
    let ahead = behind.div_ceil(step) * step;
    start + std::time::Duration::from_nanos(u64::try_from(ahead).unwrap_or(u64::MAX))
}

/// Whether a phone acts on its timer (registers, or sends a keepalive) at
/// `now`, the timer being set for `next`. Never while it is in a preserved
/// call: it stays in the call and fails over only once the call ends.
pub fn acts_now<T: PartialOrd>(now: T, next: T, in_preserved_call: bool) -> bool {
    !in_preserved_call && now >= next
}

/// Why a call is dropped when its system is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dropped {
    /// An external call over the failed system's own trunk dies with it.
    OwnTrunk,
    /// Held and hunt-group calls (and calls to voicemail) are not preserved.
    NotPreservable(CallKind),
    /// Media connection preservation is off.
    PreservationOff,
    /// An analogue phone is wired to a port of the failed system: its
    /// call has no media of its own to keep.
    Wired,
}

/// What happens to the call a phone is in when its system is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallFate {
    /// Kept up by media connection preservation: the phone stays in the
    /// call (talk and hang up only) and fails over only once it ends.
    Preserved {
        /// How long the call still lasts: to its own end, or to the
        /// preservation limit (2 h), whichever comes first.
        lasts: Duration,
        /// Whether the limit, not the call's own end, ends it.
        cut_by_limit: bool,
    },
    /// Dropped: the phone fails over now.
    Dropped(Dropped),
}

/// Media connection preservation keeps connected two-party and conference
/// calls of IP endpoints (an external call is a two-party call over a
/// trunk, unless the trunk was on the failed system) for up to the limit
/// (`None`: off); an analogue phone's call, wired through the failed
/// system, dies with it. `remaining`: how long the call would still have
/// lasted.
pub fn when_system_lost(
    phone: PhoneKind,
    kind: CallKind,
    own_trunk: bool,
    remaining: Duration,
    limit: Option<Duration>,
) -> CallFate {
    if phone == PhoneKind::Analogue {
        return CallFate::Dropped(Dropped::Wired);
    }
    if kind == CallKind::External && own_trunk {
        return CallFate::Dropped(Dropped::OwnTrunk);
    }
    let Some(limit) = limit else {
        return CallFate::Dropped(Dropped::PreservationOff);
    };
    if !kind.preservable() {
        return CallFate::Dropped(Dropped::NotPreservable(kind));
    }
    CallFate::Preserved {
        lasts: remaining.min(limit),
        cut_by_limit: limit < remaining,
    }
}
