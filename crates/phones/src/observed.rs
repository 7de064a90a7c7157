//! What a phone records of an external member: a server fleetsim does not
//! run writes no fleetsim event log, so the phone logs, under the member's
//! name, what it sees of it as its client. These are observed events: a
//! registration accepted (as guest or at home) or refused, a registration
//! dropped at the phone's request, being sent home, a call set up, hung up,
//! or ended by the system. Everything else the member does (presence,
//! failover decisions, services, licences) fleetsim does not see.
//!
//! For a server fleetsim runs every method here does nothing: that server
//! reports the same events itself.

use fleetsim_model::{CallKind, Event};
use fleetsim_net::EventLog;

/// One phone's recorder of what external members do with it.
pub(crate) struct Observer {
    log: EventLog,
    phone: String,
    home: String,
    external: Vec<String>,
}

impl Observer {
    /// A recorder for `phone` (homed on `home`) of the members in `external`.
    pub(crate) fn new(log: EventLog, phone: &str, home: &str, external: Vec<String>) -> Observer {
        Observer {
            log,
            phone: phone.to_string(),
            home: home.to_string(),
            external,
        }
    }

    /// The phone's extension.
    pub(crate) fn phone(&self) -> &str {
        &self.phone
    }

    /// Logs `event` as seen on `server`, when that is an external member.
    fn seen(&self, server: &str, event: impl FnOnce() -> Event) {
        if self.external.iter().any(|e| e == server) {
            self.log.emit(server, event());
        }
    }

    /// `server` accepted the phone's registration.
    pub(crate) fn registered(&self, server: &str, guest: bool) {
        self.seen(server, || Event::PhoneRegistered {
            phone: self.phone.clone(),
            home: self.home.clone(),
            guest,
        });
    }

    /// `server` answered a registration with `status`: logged when it is
    /// the server's own refusal (not a deadline or a lost connection).
    pub(crate) fn register_failed(&self, server: &str, status: &tonic::Status) {
        use tonic::Code::*;
        let refusal = matches!(
            status.code(),
            FailedPrecondition | ResourceExhausted | PermissionDenied | InvalidArgument | NotFound
        );
        if refusal && !fleetsim_net::timed_out(status) {
            self.seen(server, || Event::RegistrationRefused {
                phone: self.phone.clone(),
                home: self.home.clone(),
                reason: fleetsim_net::failure_reason(status),
            });
        }
    }

    /// `server` confirmed the phone's unregistration.
    pub(crate) fn unregistered(&self, server: &str, guest: bool) {
        self.seen(server, || Event::PhoneUnregistered {
            phone: self.phone.clone(),
            home: self.home.clone(),
            guest,
        });
    }

    /// `server` told the phone, a guest there, to go home.
    pub(crate) fn sent_home(&self, server: &str) {
        self.seen(server, || Event::PhoneSentHome {
            phone: self.phone.clone(),
            home: self.home.clone(),
        });
    }

    /// `server` set up the call `id`.
    pub(crate) fn call_started(&self, server: &str, id: &str, kind: CallKind, recorded: bool) {
        self.seen(server, || Event::CallStarted {
            call: id.to_string(),
            phone: self.phone.clone(),
            kind: kind.as_str().to_string(),
            recorded,
        });
    }

    /// `server` confirmed the hangup of call `id`.
    pub(crate) fn call_ended(&self, server: &str, id: &str) {
        self.seen(server, || Event::CallEnded {
            call: id.to_string(),
            phone: self.phone.clone(),
            preserved: false,
        });
    }

    /// `server` ended call `id` itself, saying `why`.
    pub(crate) fn call_ended_by_system(&self, server: &str, id: &str, why: &str) {
        self.seen(server, || Event::CallDropped {
            call: id.to_string(),
            phone: self.phone.clone(),
            reason: format!("{server} ended the call: {why}"),
        });
    }
}
