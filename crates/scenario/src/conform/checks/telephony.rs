//! `Telephony` checks (a home phone's life, guests) and malformed input.

use fleetsim_model::PhoneKind;
use fleetsim_proto::pb;
use tonic::Code;

use super::{NO_SUCH_PHONE, NO_SUCH_SERVER, Plan, Probe, ok, refused};
use crate::conform::wire::{self, said};

/// The checks that need a home phone registered first.
const NEEDS_REGISTRATION: [&str; 5] = [
    "telephony.keepalive",
    "telephony.call",
    "telephony.hangup",
    "telephony.call-stream-ends",
    "telephony.unregister",
];

fn register(ext: &str, home: &str, kind: PhoneKind) -> pb::RegisterRequest {
    pb::RegisterRequest {
        extension: ext.to_string(),
        home: home.to_string(),
        kind: pb::PhoneKind::from(kind) as i32,
    }
}

impl Probe<'_> {
    /// A phone of the member registers, keeps alive, calls, hangs up and
    /// unregisters; afterwards it is unknown.
    pub(super) async fn home_phone(&mut self, plan: &Plan) {
        let me = plan.me.name.clone();
        let Some(own) = &plan.own else {
            for name in NEEDS_REGISTRATION {
                self.skip(name, format!("{me} homes no phone"));
            }
            self.skip("telephony.register-home", format!("{me} homes no phone"));
            return self.unknown_phone(plan).await;
        };
        let ext = own.extension.clone();
        let req = register(&ext, &me, own.kind);
        let r = self.rpc(self.tel().register(req)).await;
        let r = ok(r, "OK with guest = false", |v| match v.guest {
            false => Ok(format!("{ext} registered at home")),
            true => Err("guest = true".into()),
        });
        if self.record("telephony.register-home", r) {
            self.registered_phone(&ext).await;
        } else {
            for name in NEEDS_REGISTRATION {
                self.skip(name, "needs telephony.register-home to pass");
            }
        }
        let req = pb::KeepaliveRequest {
            extension: ext.clone(),
            in_call: false,
        };
        let r = self.rpc(self.tel().keepalive(req)).await;
        let r = refused(r, &[Code::NotFound], "not registered any more");
        self.record("telephony.keepalive-unregistered", r);
        self.unknown_phone(plan).await;
    }

    /// Keepalive, a call and its hangup, and unregister for `ext`, registered.
    async fn registered_phone(&mut self, ext: &str) {
        let req = pb::KeepaliveRequest {
            extension: ext.to_string(),
            in_call: false,
        };
        let r = self.rpc(self.tel().keepalive(req)).await;
        let r = ok(r, "OK with go_home = false", |v| match v.go_home {
            false => Ok("registration kept alive".into()),
            true => Err("go_home = true for a phone at home".into()),
        });
        self.record("telephony.keepalive", r);
        self.call_and_hangup(ext).await;
        let req = pb::UnregisterRequest {
            extension: ext.to_string(),
        };
        let r = self.rpc(self.tel().unregister(req)).await;
        let r = ok(r, "OK", |_| Ok(format!("{ext} unregistered")));
        self.record("telephony.unregister", r);
    }

    /// A two-party call is accepted as an open stream; after the phone's
    /// hangup the stream ends without an update.
    async fn call_and_hangup(&mut self, ext: &str) {
        let id = format!("conform-{}", self.nonce);
        let req = pb::CallRequest {
            call: id.clone(),
            extension: ext.to_string(),
            kind: pb::CallKind::TwoParty as i32,
            duration_ms: 60_000,
            ..pb::CallRequest::default()
        };
        let mut stream = match self.rpc(self.tel().call(req)).await {
            Ok(s) => {
                self.record("telephony.call", Ok(format!("call {id} accepted")));
                s
            }
            Err(s) => {
                let r = Err(format!("expected OK (a call stream), got {}", said(&s)));
                self.record("telephony.call", r);
                self.skip("telephony.hangup", "needs telephony.call to pass");
                self.skip("telephony.call-stream-ends", "needs telephony.call to pass");
                return;
            }
        };
        let req = pb::HangupRequest {
            call: id.clone(),
            extension: ext.to_string(),
        };
        let r = self.rpc(self.tel().hangup(req)).await;
        let r = ok(r, "OK", |_| Ok(format!("call {id} hung up")));
        self.record("telephony.hangup", r);
        let end = fleetsim_net::call(self.deadline, stream.message()).await;
        let want = "the call's stream to end (OK, no update) after the hangup";
        let r = match end {
            Ok(None) => Ok("the call's stream ended".into()),
            Ok(Some(u)) => Err(format!("expected {want}, got an update {:?}", u.ended)),
            Err(s) => Err(format!("expected {want}, got {}", said(&s))),
        };
        self.record("telephony.call-stream-ends", r);
    }

    /// Unknown phones are refused by status, not by a crash.
    async fn unknown_phone(&mut self, plan: &Plan) {
        let req = pb::CallRequest {
            call: format!("conform-{}-unregistered", self.nonce),
            extension: NO_SUCH_PHONE.into(),
            kind: pb::CallKind::TwoParty as i32,
            duration_ms: 60_000,
            ..pb::CallRequest::default()
        };
        let r = self.rpc(self.tel().call(req)).await;
        let r = refused(
            r.map(|_| "a call stream"),
            &[Code::NotFound],
            "not registered",
        );
        self.record("telephony.call-unregistered", r);
        let req = register(NO_SUCH_PHONE, &plan.me.name, PhoneKind::Sip);
        let why = format!("{NO_SUCH_PHONE} is not a phone of {}", plan.me.name);
        let r = self.rpc(self.tel().register(req)).await;
        self.record(
            "telephony.register-unknown-phone",
            refused(r, &[Code::NotFound], &why),
        );
    }

    /// Guests: refused while their home is visible, refused when the member
    /// is not their backup, refused for kinds that never fail over.
    pub(super) async fn guests(&mut self, plan: &Plan) {
        let me = plan.me.name.as_str();
        match (&plan.home, &plan.guest) {
            (Some((home, _)), Some(g)) => {
                // The home is visible: it has just sent presence.
                let heard = self
                    .rpc(self.line().presence(plan.presence_from(home)))
                    .await;
                let r = match heard {
                    Err(s) => Err(format!("presence from {home} first: got {}", said(&s))),
                    Ok(_) => {
                        let req = register(&g.extension, home, g.kind);
                        let r = self.rpc(self.tel().register(req)).await;
                        let why = format!("{home} was heard just now");
                        refused(r, &[Code::FailedPrecondition], &why)
                    }
                };
                self.record("telephony.guest-while-home-visible", r);
            }
            _ => self.skip(
                "telephony.guest-while-home-visible",
                format!("no server's phones fail over to {me}"),
            ),
        }
        let (ext, home, kind) = &plan.stranger;
        let req = register(ext, home, *kind);
        let r = self.rpc(self.tel().register(req)).await;
        let why = format!("{me} is not {home}'s backup for {} phones", kind.as_str());
        self.record(
            "telephony.guest-not-backed-up",
            refused(r, &[Code::FailedPrecondition], &why),
        );
        let (ext, home) = &plan.softphone;
        let req = register(ext, home, PhoneKind::Softphone);
        let r = self.rpc(self.tel().register(req)).await;
        self.record(
            "telephony.guest-softphone",
            refused(r, &[Code::FailedPrecondition], "softphones never fail over"),
        );
    }

    /// A role without IP Office serves no Telephony.
    pub(super) async fn no_telephony(&mut self) {
        let req = register(NO_SUCH_PHONE, NO_SUCH_SERVER, PhoneKind::Sip);
        let r = self.rpc(self.tel().register(req)).await;
        let r = refused(r, &[Code::Unimplemented], "no Telephony on this role");
        self.record("telephony.not-served", r);
    }

    /// Empty, out-of-range and undecodable requests are refused by status;
    /// afterwards the member still serves.
    pub(super) async fn malformed(&mut self, plan: &Plan) {
        let r = self
            .rpc(self.line().presence(pb::PresenceRequest::default()))
            .await;
        let r = refused(r, &[Code::PermissionDenied], "no line to \"\"");
        self.record("malformed.presence-empty", r);
        let r = self
            .rpc(self.line().replicate(pb::ReplicateRequest::default()))
            .await;
        let r = refused(r, &[Code::FailedPrecondition], "no backup for \"\"");
        self.record("malformed.replicate-empty", r);
        if plan.me.role.runs_ip_office() {
            self.malformed_telephony(plan).await;
        }
        // Field 1 claims 100 bytes and carries one: no decoder accepts it.
        let garbage = vec![0x0a, 0x64, 0x01];
        let r = wire::raw_unary(self.chan.clone(), "/fleetsim.v1.Line/Presence", garbage);
        let r = fleetsim_net::call(self.deadline, r).await;
        let r = refused(
            r.map(|b| format!("{} bytes", b.len())),
            &[Code::Internal, Code::InvalidArgument],
            "an undecodable request",
        );
        self.record("malformed.undecodable", r);
        let r = match self.health_of("").await {
            Ok(s) => Ok(format!("overall health {}", s.as_str_name())),
            Err(s) => Err(format!("expected an answer, got {}", said(&s))),
        };
        self.record("malformed.still-serving", r);
    }

    async fn malformed_telephony(&mut self, plan: &Plan) {
        let r = self
            .rpc(self.tel().register(pb::RegisterRequest::default()))
            .await;
        let r = refused(r, &[Code::InvalidArgument], "phone kind unspecified");
        self.record("malformed.register-empty", r);
        let ext = plan.own.as_ref().map_or(NO_SUCH_PHONE, |p| &p.extension);
        let req = pb::RegisterRequest {
            extension: ext.to_string(),
            home: plan.me.name.clone(),
            kind: 99,
        };
        let r = self.rpc(self.tel().register(req)).await;
        let r = refused(r, &[Code::InvalidArgument], "phone kind 99 is unknown");
        self.record("malformed.register-unknown-kind", r);
        let r = self
            .rpc(self.tel().keepalive(pb::KeepaliveRequest::default()))
            .await;
        let r = refused(r, &[Code::NotFound], "no phone \"\" registered");
        self.record("malformed.keepalive-empty", r);
        let r = self
            .rpc(self.tel().unregister(pb::UnregisterRequest::default()))
            .await;
        let r = ok(r, "OK (nothing to drop)", |_| Ok("OK".into()));
        self.record("malformed.unregister-empty", r);
        let r = self.rpc(self.tel().call(pb::CallRequest::default())).await;
        let r = refused(
            r.map(|_| "a call stream"),
            &[Code::InvalidArgument],
            "call kind unspecified",
        );
        self.record("malformed.call-empty", r);
    }
}
