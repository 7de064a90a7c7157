//! The shape of every event: its kebab-case name and its fields with their
//! types, read from the events themselves (one sample of each kind,
//! serialised), so assertions in scenario files are checked against what a
//! run can actually log and never drift from it.

use std::fmt;

use strum::IntoEnumIterator;

use crate::event::{Event, EventKind};
use crate::fault::FaultKind;

/// The type of an event field, as an assertion's `where` compares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// A string (matched exactly, or as a glob with `*` and `?`).
    Text,
    /// A whole number.
    Number,
    /// `true` or `false`.
    Flag,
    /// A table (the structured fault of `fault-applied`): not comparable.
    Table,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::Text => "a string",
            FieldType::Number => "a whole number",
            FieldType::Flag => "true or false",
            FieldType::Table => "a table",
        })
    }
}

impl FieldType {
    /// The type of a value written in a file.
    pub fn of(v: &toml::Value) -> FieldType {
        match v {
            toml::Value::Integer(_) | toml::Value::Float(_) => FieldType::Number,
            toml::Value::Boolean(_) => FieldType::Flag,
            toml::Value::Table(_) | toml::Value::Array(_) => FieldType::Table,
            _ => FieldType::Text,
        }
    }

    /// Whether a value written in a file can be compared with this field:
    /// a whole number with a number (a decimal never equals one), a
    /// string with a string, a flag with a flag; a table never.
    pub fn accepts(self, v: &toml::Value) -> bool {
        matches!(
            (self, v),
            (FieldType::Number, toml::Value::Integer(_))
                | (FieldType::Text, toml::Value::String(_))
                | (FieldType::Flag, toml::Value::Boolean(_))
        )
    }
}

/// What a value written in a file is, in words (for errors).
pub fn written(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::Integer(_) => "a whole number",
        toml::Value::Float(_) => "a decimal number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::String(_) => "a string",
        toml::Value::Array(_) => "an array",
        toml::Value::Table(_) => "a table",
        toml::Value::Datetime(_) => "a date",
    }
}

/// Every event name, in declaration order.
pub fn event_names() -> Vec<&'static str> {
    EventKind::iter().map(<&str>::from).collect()
}

/// The fields of events of `kind` (without `event`, `t_ms` and `server`),
/// in alphabetical order.
pub fn fields(kind: EventKind) -> Vec<(String, FieldType)> {
    let table = as_table(&sample(kind));
    table
        .into_iter()
        .filter(|(k, _)| k != "event")
        .map(|(k, v)| {
            let t = FieldType::of(&v);
            (k, t)
        })
        .collect()
}

/// An event as a table of its fields (with `event`), as assertions see it.
pub fn as_table(event: &Event) -> toml::Table {
    if let Ok(t) = toml::Table::try_from(event) {
        return t;
    }
    // Only a number past TOML's 64-bit signed range fails: a seed from
    // --seed. Its other fields must still match, so the seed reads as its
    // digits (no file can write it as a number anyway).
    match event {
        Event::RunStarted {
            scenario,
            seed,
            mode,
        } => toml::Table::from_iter([
            ("event".to_string(), "run-started".into()),
            ("scenario".to_string(), scenario.as_str().into()),
            ("seed".to_string(), seed.to_string().into()),
            ("mode".to_string(), mode.as_str().into()),
        ]),
        _ => toml::Table::new(),
    }
}

/// One event of `kind` with placeholder values: the source of its field list.
fn sample(kind: EventKind) -> Event {
    let s = String::new;
    match kind {
        EventKind::RunStarted => Event::RunStarted {
            scenario: s(),
            seed: 0,
            mode: s(),
        },
        EventKind::FaultApplied => Event::FaultApplied {
            fault: s(),
            spec: FaultKind::Heal,
        },
        EventKind::ActionFailed => Event::ActionFailed {
            action: s(),
            target: s(),
            reason: s(),
        },
        EventKind::ServerStarted => Event::ServerStarted {
            role: s(),
            incarnation: 0,
        },
        EventKind::ServerCrashed => Event::ServerCrashed {
            registered_phones: 0,
        },
        EventKind::PeerLost => Event::PeerLost {
            peer: s(),
            silent_for_ms: 0,
            backing_up: false,
            records_held: 0,
        },
        EventKind::ServerStopped => Event::ServerStopped {
            registered_phones: 0,
        },
        EventKind::PeerReturned => Event::PeerReturned {
            peer: s(),
            silent_for_ms: 0,
        },
        EventKind::RecordsReplicated => Event::RecordsReplicated {
            home: s(),
            phones: 0,
        },
        EventKind::FailoverStarted => Event::FailoverStarted {
            home: s(),
            trigger: s(),
            // Not 0, which the log leaves out: the sample lists every field.
            already_here: 1,
        },
        EventKind::FailbackStarted => Event::FailbackStarted {
            home: s(),
            visible_for_ms: 0,
            guests: 0,
        },
        _ => sample_phone_or_service(kind),
    }
}

fn sample_phone_or_service(kind: EventKind) -> Event {
    let s = String::new;
    match kind {
        EventKind::PhoneRegistered => Event::PhoneRegistered {
            phone: s(),
            home: s(),
            guest: false,
        },
        EventKind::RegistrationRefused => Event::RegistrationRefused {
            phone: s(),
            home: s(),
            reason: s(),
        },
        EventKind::RegistrationExpired => Event::RegistrationExpired {
            phone: s(),
            home: s(),
            guest: false,
            silent_for_ms: 0,
        },
        EventKind::RegistrationEnded => Event::RegistrationEnded {
            phone: s(),
            home: s(),
            reason: s(),
        },
        EventKind::PhoneUnregistered => Event::PhoneUnregistered {
            phone: s(),
            home: s(),
            guest: false,
        },
        EventKind::PhoneLost => Event::PhoneLost {
            phone: s(),
            reason: s(),
        },
        EventKind::PhoneSentHome => Event::PhoneSentHome {
            phone: s(),
            home: s(),
        },
        EventKind::LicenceState => Event::LicenceState {
            state: s(),
            reason: s(),
        },
        EventKind::ServiceState => Event::ServiceState {
            service: s(),
            state: s(),
            reason: s(),
        },
        EventKind::ConfigChange => Event::ConfigChange {
            accepted: false,
            reason: s(),
        },
        EventKind::HuntGroupState => Event::HuntGroupState {
            group: s(),
            home: s(),
            active: false,
        },
        EventKind::CapacityExceeded => Event::CapacityExceeded {
            phone: s(),
            home: s(),
            capacity: 0,
        },
        _ => sample_call(kind),
    }
}

fn sample_call(kind: EventKind) -> Event {
    let s = String::new;
    match kind {
        EventKind::CallStarted => Event::CallStarted {
            call: s(),
            phone: s(),
            kind: s(),
            recorded: false,
        },
        EventKind::CallEnded => Event::CallEnded {
            call: s(),
            phone: s(),
            preserved: false,
        },
        EventKind::CallDropped => Event::CallDropped {
            call: s(),
            phone: s(),
            reason: s(),
        },
        EventKind::CallPreserved => Event::CallPreserved {
            call: s(),
            phone: s(),
            until_ms: 0,
        },
        EventKind::CallPreservationExpired => Event::CallPreservationExpired {
            call: s(),
            phone: s(),
            limit_ms: 0,
        },
        EventKind::CallFailed => Event::CallFailed {
            call: s(),
            phone: s(),
            reason: s(),
        },
        EventKind::TrunkSeized => Event::TrunkSeized {
            call: s(),
            from: s(),
            busy: 0,
        },
        EventKind::TrunkReleased => Event::TrunkReleased {
            call: s(),
            busy: 0,
            reason: s(),
        },
        _ => sample_store(kind),
    }
}

fn sample_store(kind: EventKind) -> Event {
    let s = String::new;
    match kind {
        EventKind::VoicemailLeft => Event::VoicemailLeft {
            message: s(),
            mailbox: s(),
            partial: false,
        },
        EventKind::RecordingFailed => Event::RecordingFailed {
            call: s(),
            reason: s(),
        },
        EventKind::VoicemailCut => Event::VoicemailCut {
            messages: 0,
            recordings: 0,
        },
        EventKind::VoicemailHandback => Event::VoicemailHandback {
            messages: 0,
            cut_calls: 0,
            mode: s(),
        },
        EventKind::VoicemailSynced => Event::VoicemailSynced {
            to: s(),
            messages: 0,
        },
        EventKind::RecordingMade => Event::RecordingMade {
            recording: s(),
            archived: false,
        },
        EventKind::RecordingsCollected => Event::RecordingsCollected {
            from: s(),
            recordings: 0,
        },
        EventKind::PortalHandback => Event::PortalHandback {
            changes_dropped: 0,
            mode: s(),
        },
        EventKind::PortalChange => Event::PortalChange {
            user: s(),
            accepted: false,
        },
        EventKind::Audit => Event::Audit {
            messages_left: 0,
            messages_lost: 0,
            messages_waiting: 0,
            recordings_made: 0,
            recordings_lost: 0,
            recordings_pending: 0,
        },
        _ => Event::RunEnded {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_past_toml_integers_leaves_the_other_fields_to_match() {
        for seed in [1, u64::MAX] {
            let t = as_table(&Event::RunStarted {
                scenario: "s".into(),
                seed,
                mode: "sim".into(),
            });
            assert_eq!(
                t.get("mode").and_then(|v| v.as_str()),
                Some("sim"),
                "{seed}"
            );
            assert_eq!(t.get("event").and_then(|v| v.as_str()), Some("run-started"));
        }
    }

    #[test]
    fn every_event_kind_has_a_sample_of_its_own_kind() {
        for kind in EventKind::iter() {
            assert_eq!(EventKind::from(&sample(kind)), kind, "sample of {kind:?}");
        }
    }

    #[test]
    fn phone_registered_has_phone_home_and_guest() {
        let f = fields(EventKind::PhoneRegistered);
        let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["guest", "home", "phone"]);
        assert_eq!(f[0].1, FieldType::Flag);
    }
}
