//! Typed events: every state change of a run, with its cause. Expectations and
//! metrics are computed from these, never from polling or sleeps.

use serde::{Deserialize, Serialize};

/// One state change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
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
        /// What was done.
        fault: String,
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
    /// A server shut down cleanly: calls in flight finished, memory gone.
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
    /// The first physical IP phone of a lost home registered: failover begins.
    FailoverStarted {
        /// The failed home.
        home: String,
        /// The phone whose registration triggered it.
        trigger: String,
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
    /// The run ended.
    RunEnded {},
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
        match &self.event {
            Event::RunStarted { .. } => "run-started",
            Event::FaultApplied { .. } => "fault-applied",
            Event::ServerStarted { .. } => "server-started",
            Event::ServerCrashed { .. } => "server-crashed",
            Event::ServerStopped { .. } => "server-stopped",
            Event::PeerLost { .. } => "peer-lost",
            Event::PeerReturned { .. } => "peer-returned",
            Event::RecordsReplicated { .. } => "records-replicated",
            Event::FailoverStarted { .. } => "failover-started",
            Event::FailbackStarted { .. } => "failback-started",
            Event::PhoneRegistered { .. } => "phone-registered",
            Event::RegistrationRefused { .. } => "registration-refused",
            Event::RegistrationExpired { .. } => "registration-expired",
            Event::PhoneLost { .. } => "phone-lost",
            Event::PhoneSentHome { .. } => "phone-sent-home",
            Event::RunEnded {} => "run-ended",
        }
    }
}
