//! Typed events: every state change of a run, with its cause. Expectations and
//! metrics are computed from these, never from polling or sleeps.

use serde::{Deserialize, Serialize};

/// One state change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[strum_discriminants(
    name(EventKind),
    doc = "The kind of an [`Event`], without its fields: what assertions name.",
    derive(
        strum::EnumIter,
        strum::IntoStaticStr,
        strum::EnumString,
        Ord,
        PartialOrd,
        Serialize
    ),
    strum(serialize_all = "kebab-case"),
    serde(rename_all = "kebab-case")
)]
pub enum Event {
    /// The run began.
    RunStarted {
        /// Scenario name.
        scenario: String,
        /// Seed.
        seed: u64,
        /// `sim` or `live`.
        mode: String,
    },
    /// The runner applied a fault.
    FaultApplied {
        /// What was done, in words.
        fault: String,
        /// The fault itself, as data: what every view of the run (metrics,
        /// chaos invariants) replays, so none pairs events with the
        /// scenario's fault list by position.
        spec: crate::FaultKind,
    },
    /// An operator action did not reach its server (cut off, hung, down).
    ActionFailed {
        /// The action, in words.
        action: String,
        /// The server it was for (`target`: the record's `server` is the
        /// operator, who logs it).
        target: String,
        /// Why, in words (e.g. "timed out", "unreachable").
        reason: String,
    },
    /// A server incarnation started serving.
    ServerStarted {
        /// Role.
        role: String,
        /// 1 for the first start, then +1 per restart.
        incarnation: u64,
    },
    /// A server died: connections reset, memory gone.
    ServerCrashed {
        /// Phones that were registered on it.
        registered_phones: u32,
    },
    /// A peer on a line has been invisible long enough to be failed over.
    PeerLost {
        /// The peer.
        peer: String,
        /// How long nothing was heard from it.
        silent_for_ms: u64,
        /// Whether this server backs up the peer's IP phones.
        backing_up: bool,
        /// Phone records held for the peer (0: resilience lost).
        records_held: u32,
    },
    /// A server shut down cleanly: gRPC requests in flight answered (phone
    /// calls fare as in a crash), memory gone.
    ServerStopped {
        /// Phones that were registered on it.
        registered_phones: u32,
    },
    /// A lost peer is heard from again.
    PeerReturned {
        /// The peer.
        peer: String,
        /// How long it had been silent.
        silent_for_ms: u64,
    },
    /// The backup received (new) records of the phones it backs up.
    RecordsReplicated {
        /// Home system of the records.
        home: String,
        /// Phone records now held.
        phones: u32,
    },
    /// The first physical IP phone of a lost home registered: failover
    /// begins. Or the home was lost with guests of it registered here
    /// already: the failover begins with them.
    FailoverStarted {
        /// The failed home.
        home: String,
        /// The phone whose registration triggered it (with `already_here`,
        /// the first of those guests).
        trigger: String,
        /// Guests of the home registered here before it was lost (during
        /// the homeless-prevention window after a failback, or kept by
        /// manual failback); left out of the log when 0, the usual case,
        /// a re-registration after the loss.
        #[serde(default, skip_serializing_if = "is_zero")]
        already_here: u32,
    },
    /// The home has been visible long enough: its phones go back.
    FailbackStarted {
        /// The home.
        home: String,
        /// How long it had been visible again.
        visible_for_ms: u64,
        /// Guests held at that moment.
        guests: u32,
    },
    /// A phone registered.
    PhoneRegistered {
        /// Extension.
        phone: String,
        /// Its home system.
        home: String,
        /// Accepted as a guest of a failed-over home.
        guest: bool,
    },
    /// A server refused a registration.
    RegistrationRefused {
        /// Extension.
        phone: String,
        /// Its home system.
        home: String,
        /// Why.
        reason: String,
    },
    /// A server dropped a registration whose phone stopped refreshing it.
    RegistrationExpired {
        /// Extension.
        phone: String,
        /// Its home system.
        home: String,
        /// Whether it was a guest.
        guest: bool,
        /// Time since its last registration or keepalive.
        silent_for_ms: u64,
    },
    /// A server ended a registration itself, at the phone's keepalive: the
    /// policy no longer admits it (restricted mode: a softphone's user
    /// licence cannot be acquired).
    RegistrationEnded {
        /// Extension.
        phone: String,
        /// Its home system.
        home: String,
        /// Why, in words.
        reason: String,
    },
    /// A phone's registration was dropped at its request (a reboot, or a
    /// REGISTER whose answer came too late, withdrawn before the phone moves
    /// on down its gatekeeper list).
    PhoneUnregistered {
        /// Extension.
        phone: String,
        /// Its home system.
        home: String,
        /// Whether it was a guest.
        guest: bool,
    },
    /// A phone found its gatekeeper gone.
    PhoneLost {
        /// Extension.
        phone: String,
        /// What failed.
        reason: String,
    },
    /// A backup released a guest so it registers at home.
    PhoneSentHome {
        /// Extension.
        phone: String,
        /// Where it goes.
        home: String,
    },
    /// A server's licence state changed (docs/domain-coverage.md §4).
    LicenceState {
        /// `normal`, `grace` or `restricted`.
        state: String,
        /// Why, e.g. "renewal with primary failed" or "grace ends at 30d4m".
        reason: String,
    },
    /// A service on this server changed state.
    ServiceState {
        /// The service (`voicemail-pro`, `one-x-portal`, `media-manager`,
        /// `collaboration-server`, `licensing`, `ip-office`).
        service: String,
        /// `active`, `standby` or `down`.
        state: String,
        /// Why.
        reason: String,
    },
    /// A configuration change was made or refused.
    ConfigChange {
        /// Whether the server accepted it.
        accepted: bool,
        /// Why it was refused, or what was changed.
        reason: String,
    },
    /// A hunt group started or stopped running on this server.
    HuntGroupState {
        /// The group.
        group: String,
        /// The system it is stored on.
        home: String,
        /// Running here now.
        active: bool,
    },
    /// A guest was refused because the server is full: no resilience for it.
    CapacityExceeded {
        /// Extension.
        phone: String,
        /// Its home system.
        home: String,
        /// Users plus extensions the server holds, guests included.
        capacity: u32,
    },
    /// A call was set up on this server.
    CallStarted {
        /// Call id.
        call: String,
        /// Calling extension.
        phone: String,
        /// `two-party`, `conference`, `held`, `hunt-group` or `voicemail`.
        kind: String,
        /// Whether it is recorded.
        recorded: bool,
    },
    /// A call ended normally.
    CallEnded {
        /// Call id.
        call: String,
        /// Calling extension.
        phone: String,
        /// Whether it had been kept up by media connection preservation.
        preserved: bool,
    },
    /// A call was cut by the system: the one handling it failed, its trunk
    /// was lost, or the voicemail taking its message crashed or cut it
    /// short.
    CallDropped {
        /// Call id.
        call: String,
        /// Calling extension.
        phone: String,
        /// Why.
        reason: String,
    },
    /// A call survived the loss of its server: media connection preservation.
    CallPreserved {
        /// Call id.
        call: String,
        /// Calling extension.
        phone: String,
        /// The emulated time at which it ends (its own end or the 2 h limit).
        until_ms: u64,
    },
    /// A preserved call reached the media connection preservation limit
    /// (`preservation-limit`, 2 h by default) and was ended by it.
    CallPreservationExpired {
        /// Call id.
        call: String,
        /// Calling extension.
        phone: String,
        /// The limit that ended it (emulated milliseconds).
        limit_ms: u64,
    },
    /// A call failed: refused by the phone or system, or accepted and then
    /// not completed (no trunk, no voicemail, no hunt group).
    CallFailed {
        /// Call id.
        call: String,
        /// Calling extension.
        phone: String,
        /// Why.
        reason: String,
    },
    /// An IP500 V2 seized one of its trunks for an external call.
    TrunkSeized {
        /// Call id.
        call: String,
        /// The system the call is set up on.
        from: String,
        /// Trunks busy now.
        busy: u32,
    },
    /// An IP500 V2 freed a trunk.
    TrunkReleased {
        /// Call id.
        call: String,
        /// Trunks busy now.
        busy: u32,
        /// Why: hung up, or the call's planned end (kept up meanwhile).
        reason: String,
    },
    /// A voicemail message was stored.
    VoicemailLeft {
        /// Message id.
        message: String,
        /// Mailbox (extension).
        mailbox: String,
        /// Cut short by a forced failback (kept as recorded so far).
        partial: bool,
    },
    /// A call was to be recorded, but no voicemail took the recording.
    RecordingFailed {
        /// The call.
        call: String,
        /// Why.
        reason: String,
    },
    /// Messages being left and recordings being made were cut, unkept, by
    /// their server's crash or stop.
    VoicemailCut {
        /// Messages cut.
        messages: u32,
        /// Recordings cut.
        recordings: u32,
    },
    /// The backup voicemail handed back to the primary's.
    VoicemailHandback {
        /// Messages left on the backup during failover that the primary
        /// confirmed it took (any others stay marked unsynced on the
        /// backup and follow by the late sync).
        messages: u32,
        /// Voicemail calls cut by a forced (automatic-mode) failback.
        cut_calls: u32,
        /// The failback mode that decided it.
        mode: String,
    },
    /// Messages left on the backup that missed its handback (finished while
    /// it was under way, or kept on its disk across a restart or a crash)
    /// reached the primary's voicemail by the late sync.
    VoicemailSynced {
        /// The voicemail that took them (the primary's).
        to: String,
        /// Messages it took.
        messages: u32,
    },
    /// A call recording was made by this server's voicemail.
    RecordingMade {
        /// Recording id.
        recording: String,
        /// Archived at once by Media Manager (false: kept locally).
        archived: bool,
    },
    /// The primary's Media Manager collected recordings kept elsewhere.
    RecordingsCollected {
        /// From which server.
        from: String,
        /// How many.
        recordings: u32,
    },
    /// The backup one-X Portal handed back; changes made on it are dropped.
    PortalHandback {
        /// Portal changes made during failover, now dropped.
        changes_dropped: u32,
        /// The failback mode that decided it.
        mode: String,
    },
    /// A one-X Portal change by a user.
    PortalChange {
        /// The user (extension).
        user: String,
        /// Accepted on this server (false: no portal answered).
        accepted: bool,
    },
    /// End-of-run audit of voicemail messages and recordings.
    Audit {
        /// Voicemail messages left during the run.
        messages_left: u32,
        /// Messages no active voicemail holds and nothing will bring back.
        messages_lost: u32,
        /// Messages not on an active voicemail yet, but on their way: kept by
        /// a server that is down, by a primary waiting for its backup's
        /// handback, or unsynced on the backup.
        messages_waiting: u32,
        /// Recordings made.
        recordings_made: u32,
        /// Recordings neither archived nor kept anywhere.
        recordings_lost: u32,
        /// Recordings kept by a voicemail, not yet collected.
        recordings_pending: u32,
    },
    /// The run ended.
    RunEnded {},
}

/// The counts of an end-of-run audit (see [`Event::Audit`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LossAudit {
    /// Voicemail messages left.
    pub messages_left: u32,
    /// Messages lost.
    pub messages_lost: u32,
    /// Messages on their way back.
    pub messages_waiting: u32,
    /// Recordings made.
    pub recordings_made: u32,
    /// Recordings lost.
    pub recordings_lost: u32,
    /// Recordings awaiting collection.
    pub recordings_pending: u32,
}

impl LossAudit {
    /// One sentence with every count.
    pub fn describe(&self) -> String {
        format!(
            "{} left, {} lost, {} on their way back (kept by a server that is down or not yet synced); {} made, {} lost, {} awaiting collection",
            crate::words::counted(
                self.messages_left as usize,
                "voicemail message",
                "voicemail messages"
            ),
            self.messages_lost,
            self.messages_waiting,
            crate::words::counted(self.recordings_made as usize, "recording", "recordings"),
            self.recordings_lost,
            self.recordings_pending
        )
    }

    /// Whether nothing was lost.
    pub fn nothing_lost(&self) -> bool {
        self.messages_lost == 0 && self.recordings_lost == 0
    }
}

impl Event {
    /// The call whose end this event reports (ended, ended by the
    /// preservation limit, dropped or failed).
    pub fn ended_call(&self) -> Option<&str> {
        match self {
            Event::CallEnded { call, .. }
            | Event::CallPreservationExpired { call, .. }
            | Event::CallDropped { call, .. }
            | Event::CallFailed { call, .. } => Some(call),
            _ => None,
        }
    }

    /// The counts of an `audit` event.
    pub fn loss_audit(&self) -> Option<LossAudit> {
        match *self {
            Event::Audit {
                messages_left,
                messages_lost,
                messages_waiting,
                recordings_made,
                recordings_lost,
                recordings_pending,
            } => Some(LossAudit {
                messages_left,
                messages_lost,
                messages_waiting,
                recordings_made,
                recordings_lost,
                recordings_pending,
            }),
            _ => None,
        }
    }
}

/// An event with its emulated time and the server it concerns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Emulated milliseconds since the start of the run.
    pub t_ms: u64,
    /// The server that saw or caused it (`network` for partitions, `runner`).
    pub server: String,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

impl EventRecord {
    /// The event's kebab-case name.
    pub fn kind(&self) -> &'static str {
        EventKind::from(&self.event).into()
    }
}

/// Between the system and the reason in a `phone-lost` whose system ended
/// the registration (`expansion-l ended its registration: restricted
/// mode: …`); that system's `registration-ended` tells the same story.
pub const REGISTRATION_ENDED: &str = " ended its registration: ";

/// Whether a count is 0 (left out of the log).
fn is_zero(n: &u32) -> bool {
    *n == 0
}
