//! The checks, in the order they run: health, role services, `Line`
//! (presence, replication), `Telephony` (a home phone's life, guests) and
//! malformed input. Each compares what came back with docs/protocol.md.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fleetsim_model::{Fleet, PhoneKind, ServerSpec, Service};
use fleetsim_proto::pb;
use tonic::transport::Channel;
use tonic::{Code, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;

use super::wire::{self, code_name, said};
use super::{Check, Report, Target, Verdict};

mod telephony;

/// A home name no fleet uses (fleet names are letters, digits, - and _).
pub(super) const NO_SUCH_SERVER: &str = "conform.no-such-server";
/// What the health of an optional service may be.
const SERVED_OR_NOT: &str = "SERVING (or NOT_FOUND: not served)";
/// An extension no fleet uses (fleet extensions have no leading zero).
pub(super) const NO_SUCH_PHONE: &str = "0000";

/// Runs every check in order.
pub(super) async fn run_all(t: &Target, on_check: &mut dyn FnMut(&Check)) -> Report {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let nonce = u64::from(std::process::id()) * 1000 + RUNS.fetch_add(1, Ordering::Relaxed);
    // The fleet's RPC deadline, at least a second: a member on another
    // machine or in another language may be slower than fleetsim's own.
    let deadline = t.fleet.timers.rpc_deadline.0.max(Duration::from_secs(1));
    let mut report = Report::default();
    // A channel, once a gRPC server answers on it.
    let chan = match wire::connect(&t.address, deadline).await {
        Ok(c) => (wire::speaks_grpc(c.clone(), deadline).await)
            .map(|()| c)
            .map_err(|why| format!("expected a gRPC server at {}, but {why}", t.address)),
        Err(e) => Err(format!("expected a gRPC server at {}, got: {e}", t.address)),
    };
    let said = (chan.as_ref())
        .map(|_| format!("a gRPC server answers at {}", t.address))
        .map_err(Clone::clone);
    let check = make_check("connect", said);
    on_check(&check);
    report.checks.push(check);
    // Nothing else can pass where no gRPC server answers.
    let Ok(chan) = chan else {
        return report;
    };
    let plan = Plan::new(t);
    let mut p = Probe {
        chan,
        deadline,
        nonce,
        report,
        on_check,
    };
    p.health(&plan).await;
    p.role_services(&plan).await;
    p.presence(&plan).await;
    p.replication(&plan).await;
    if plan.me.role.runs_ip_office() {
        p.home_phone(&plan).await;
        p.guests(&plan).await;
    } else {
        p.no_telephony().await;
    }
    p.malformed(&plan).await;
    p.report
}

fn make_check(name: &str, r: Result<String, String>) -> Check {
    let (verdict, detail) = match r {
        Ok(d) => (Verdict::Pass, d),
        Err(d) => (Verdict::Fail, d),
    };
    Check {
        name: name.to_string(),
        verdict,
        detail,
    }
}

/// What the fleet file says there is to check on this member.
pub(super) struct Plan {
    /// The server the member plays.
    pub(super) me: ServerSpec,
    /// A line peer to speak as: a home the member backs up, if any.
    pub(super) peer: Option<String>,
    /// A home the member backs up, and the records that home replicates.
    pub(super) home: Option<(String, Vec<pb::PhoneRecord>)>,
    /// A phone of `home` that fails over to the member.
    pub(super) guest: Option<fleetsim_model::PhoneSpec>,
    /// A phone of the member's own (not a softphone, when it has another).
    pub(super) own: Option<fleetsim_model::PhoneSpec>,
    /// A physical phone, and its home, that the member does not back up.
    pub(super) stranger: (String, String, PhoneKind),
    /// A softphone of another server, and its home.
    pub(super) softphone: (String, String),
    /// Hunt groups stored on each server, as its presence advertises them.
    fleet: std::sync::Arc<Fleet>,
}

impl Plan {
    fn new(t: &Target) -> Plan {
        let f = &t.fleet;
        let me = t.spec().clone();
        let fails_over_here =
            |p: &&fleetsim_model::PhoneSpec| f.backup_of_phone(p) == Some(me.name.as_str());
        let homes: Vec<&ServerSpec> = f
            .servers
            .iter()
            .filter(|s| s.backup.as_ref().is_some_and(|b| b.server == me.name))
            .collect();
        let home = homes
            .iter()
            .find(|h| f.phones_of(&h.name).any(|p| fails_over_here(&p)))
            .or(homes.first())
            .map(|h| (h.name.clone(), records_of(f, h)));
        let guest = home
            .as_ref()
            .and_then(|(h, _)| f.phones_of(h).find(fails_over_here).cloned());
        let peer = home
            .as_ref()
            .map(|(h, _)| h.clone())
            .or_else(|| f.line_peers(&me.name).into_iter().next());
        let mine: Vec<_> = f.phones_of(&me.name).collect();
        let own = mine
            .iter()
            .find(|p| p.kind != PhoneKind::Softphone)
            .or(mine.first())
            .map(|p| (*p).clone());
        let stranger = f
            .phones
            .iter()
            .find(|p| p.home != me.name && p.kind.fails_over() && !fails_over_here(p))
            .map_or(
                (NO_SUCH_PHONE.into(), NO_SUCH_SERVER.into(), PhoneKind::Sip),
                |p| (p.extension.clone(), p.home.clone(), p.kind),
            );
        let softphone = f
            .phones
            .iter()
            .find(|p| p.home != me.name && p.kind == PhoneKind::Softphone)
            .map_or(
                (
                    NO_SUCH_PHONE.into(),
                    peer.clone().unwrap_or(NO_SUCH_SERVER.into()),
                ),
                |p| (p.extension.clone(), p.home.clone()),
            );
        Plan {
            me,
            peer,
            home,
            guest,
            own,
            stranger,
            softphone,
            fleet: t.fleet.clone(),
        }
    }

    /// The presence update `from` sends: its hunt groups, as it advertises
    /// them, so the member's picture of `from` stays right.
    pub(super) fn presence_from(&self, from: &str) -> pb::PresenceRequest {
        pb::PresenceRequest {
            from: from.to_string(),
            incarnation: 1,
            records_version: 0,
            hunt_groups: self
                .fleet
                .hunt_groups
                .iter()
                .filter(|g| g.home == from)
                .map(|g| g.name.clone())
                .collect(),
        }
    }
}

/// The records `home` replicates to its backup: its phones of the kinds
/// its line backs up.
fn records_of(f: &Fleet, home: &ServerSpec) -> Vec<pb::PhoneRecord> {
    f.phones_of(&home.name)
        .filter(|p| home.backup_for_kind(p.kind).is_some())
        .map(|p| pb::PhoneRecord {
            extension: p.extension.clone(),
            kind: pb::PhoneKind::from(p.kind) as i32,
        })
        .collect()
}

/// The checker's state while it runs.
pub(super) struct Probe<'a> {
    pub(super) chan: Channel,
    pub(super) deadline: Duration,
    /// Makes call ids and record versions of this run unique.
    pub(super) nonce: u64,
    report: Report,
    on_check: &'a mut dyn FnMut(&Check),
}

impl Probe<'_> {
    /// Records a check: `Ok(what came back)` passes, `Err(expected, got)` fails.
    pub(super) fn record(&mut self, name: &str, r: Result<String, String>) -> bool {
        let passed = r.is_ok();
        self.push(make_check(name, r));
        passed
    }

    /// Records a check not made, and why.
    pub(super) fn skip(&mut self, name: &str, why: impl Into<String>) {
        self.push(Check {
            name: name.to_string(),
            verdict: Verdict::Skip,
            detail: why.into(),
        });
    }

    fn push(&mut self, check: Check) {
        (self.on_check)(&check);
        self.report.checks.push(check);
    }

    /// One RPC under the deadline (waiting for the connection included).
    pub(super) async fn rpc<T>(
        &self,
        fut: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, Status> {
        fleetsim_net::call(self.deadline, fut)
            .await
            .map(Response::into_inner)
    }

    pub(super) fn line(&self) -> pb::line_client::LineClient<Channel> {
        pb::line_client::LineClient::new(self.chan.clone())
    }

    pub(super) fn tel(&self) -> pb::telephony_client::TelephonyClient<Channel> {
        pb::telephony_client::TelephonyClient::new(self.chan.clone())
    }

    /// The serving status the member reports for `service`.
    pub(super) async fn health_of(&self, service: &str) -> Result<ServingStatus, Status> {
        let mut client = tonic_health::pb::health_client::HealthClient::new(self.chan.clone());
        let req = tonic_health::pb::HealthCheckRequest {
            service: service.to_string(),
        };
        let reply = self.rpc(client.check(req)).await?;
        Ok(ServingStatus::try_from(reply.status).unwrap_or(ServingStatus::Unknown))
    }

    /// Overall health, and the services every member of the role must serve.
    async fn health(&mut self, plan: &Plan) {
        let serving = |s: Result<ServingStatus, Status>| match s {
            Ok(ServingStatus::Serving) => Ok("SERVING".to_string()),
            Ok(other) => Err(format!("expected SERVING, got {}", other.as_str_name())),
            Err(s) => Err(format!("expected SERVING, got {}", said(&s))),
        };
        let r = serving(self.health_of("").await);
        self.record("health.overall", r);
        let r = serving(self.health_of("fleetsim.v1.Line").await);
        self.record("health.line", r);
        let telephony = self.health_of("fleetsim.v1.Telephony").await;
        let r = if plan.me.role.runs_ip_office() {
            serving(telephony)
        } else {
            not_served(telephony, plan)
        };
        self.record("health.telephony", r);
    }

    /// The services a role runs beyond Line and Telephony: optional for a
    /// member, checked when it says it serves them.
    async fn role_services(&mut self, plan: &Plan) {
        let services = [
            (Service::Licensing, "licensing", "fleetsim.v1.Licensing"),
            (Service::VoicemailPro, "voicemail", "fleetsim.v1.Voicemail"),
            (Service::OneXPortal, "portal", "fleetsim.v1.Portal"),
            (
                Service::MediaManager,
                "media-manager",
                "fleetsim.v1.MediaManager",
            ),
            (
                Service::CollaborationServer,
                "collaboration",
                "fleetsim.v1.Collaboration",
            ),
        ];
        for (service, short, full) in services {
            if !plan.me.runs(service) {
                continue;
            }
            let name = format!("health.{short}");
            match self.health_of(full).await {
                Ok(ServingStatus::Serving) => {
                    self.record(&name, Ok("SERVING".into()));
                    self.service_answers(plan, service).await;
                }
                Err(s) if s.code() == Code::NotFound => self.skip(
                    &name,
                    format!(
                        "optional: {full} is not served (the fleet sees {} as down on {})",
                        service.as_str(),
                        plan.me.name
                    ),
                ),
                Ok(other) => {
                    let got = other.as_str_name();
                    self.record(&name, Err(format!("expected {SERVED_OR_NOT}, got {got}")));
                }
                Err(s) => {
                    let got = said(&s);
                    self.record(&name, Err(format!("expected {SERVED_OR_NOT}, got {got}")));
                }
            }
        }
    }

    /// A read-only call to a role service the member says it serves.
    async fn service_answers(&mut self, plan: &Plan, service: Service) {
        let me = plan.me.name.as_str();
        let server_is = |got: &str| {
            if got == me {
                Ok(format!("answered by {got:?}"))
            } else {
                Err(format!("server = {got:?}"))
            }
        };
        let (name, r) = match service {
            Service::Licensing => {
                let mut c = pb::licensing_client::LicensingClient::new(self.chan.clone());
                let from = plan.peer.clone().unwrap_or_default();
                let r = self.rpc(c.renew(pb::RenewRequest { from })).await;
                let want = format!("OK with server = {me:?}");
                ("licensing.renew", ok(r, &want, |v| server_is(&v.server)))
            }
            Service::VoicemailPro => {
                let mut c = pb::voicemail_client::VoicemailClient::new(self.chan.clone());
                let r = self.rpc(c.status(pb::VoicemailStatusRequest {})).await;
                let want = format!("OK with server = {me:?}");
                ("voicemail.status", ok(r, &want, |v| server_is(&v.server)))
            }
            Service::OneXPortal => {
                let mut c = pb::portal_client::PortalClient::new(self.chan.clone());
                let from = plan.peer.clone().unwrap_or_default();
                let r = self.rpc(c.ping(pb::PingRequest { from })).await;
                let judge = |v: &pb::PingReply| Ok(format!("active = {}", v.active));
                ("portal.ping", ok(r, "OK", judge))
            }
            _ => return,
        };
        self.record(name, r);
    }

    /// Presence from a line peer is answered; from anyone else refused.
    async fn presence(&mut self, plan: &Plan) {
        let me = plan.me.name.clone();
        match &plan.peer {
            Some(peer) => {
                let req = plan.presence_from(peer);
                let r = self.rpc(self.line().presence(req)).await;
                let want = format!("OK with server = {me:?}");
                let r = ok(r, &want, |v| {
                    if v.server == me {
                        Ok(format!(
                            "{peer} heard; records version held: {}",
                            v.records_version_held
                        ))
                    } else {
                        Err(format!("server = {:?}", v.server))
                    }
                });
                self.record("line.presence", r);
            }
            None => self.skip("line.presence", format!("{me} has no line peer")),
        }
        let req = plan.presence_from(NO_SUCH_SERVER);
        let r = self.rpc(self.line().presence(req)).await;
        let r = refused(r, &[Code::PermissionDenied], "no line to the sender");
        self.record("line.presence-no-line", r);
    }

    /// Records from a home the member backs up are held, their version
    /// reported by presence; records from anyone else refused.
    async fn replication(&mut self, plan: &Plan) {
        let version = 1_000_000_000 + self.nonce;
        if let Some((home, records)) = &plan.home {
            let n = records.len() as u32;
            let req = replicate(home, version, records.clone());
            let r = self.rpc(self.line().replicate(req.clone())).await;
            let r = ok(r, &format!("OK with held = {n}"), |v| held_is(v, n));
            self.record("line.replicate", r);
            let r = self
                .rpc(self.line().presence(plan.presence_from(home)))
                .await;
            let want = format!("OK with records_version_held = {version}");
            let r = ok(r, &want, |v| {
                if v.records_version_held == version {
                    Ok(format!("{home}'s records version {version} held"))
                } else {
                    Err(format!("records_version_held = {}", v.records_version_held))
                }
            });
            self.record("line.presence-reports-held-version", r);
            let r = self.rpc(self.line().replicate(req)).await;
            let r = ok(r, &format!("OK with held = {n}"), |v| held_is(v, n));
            self.record("line.replicate-same-version", r);
        } else {
            let why = format!("{} backs up no server", plan.me.name);
            self.skip("line.replicate", why.clone());
            self.skip("line.presence-reports-held-version", why.clone());
            self.skip("line.replicate-same-version", why);
        }
        let stranger = not_backed_up_by(&plan.fleet, &plan.me.name);
        let req = replicate(&stranger, version, Vec::new());
        let r = self.rpc(self.line().replicate(req)).await;
        let why = format!("{} is not {stranger}'s backup", plan.me.name);
        let r = refused(r, &[Code::FailedPrecondition], &why);
        self.record("line.replicate-not-backup", r);
    }
}

fn replicate(from: &str, version: u64, phones: Vec<pb::PhoneRecord>) -> pb::ReplicateRequest {
    pb::ReplicateRequest {
        from: from.to_string(),
        incarnation: 1,
        version,
        phones,
    }
}

fn held_is(v: &pb::ReplicateReply, n: u32) -> Result<String, String> {
    if v.held == n {
        Ok(format!("{n} records held"))
    } else {
        Err(format!("held = {}", v.held))
    }
}

/// A fleet server whose backup is not `me` (or a name no fleet has).
fn not_backed_up_by(f: &Fleet, me: &str) -> String {
    f.servers
        .iter()
        .find(|s| s.name != me && s.backup.as_ref().is_none_or(|b| b.server != me))
        .map_or(NO_SUCH_SERVER.to_string(), |s| s.name.clone())
}

/// Health of a service the role does not run: NOT_FOUND.
fn not_served(r: Result<ServingStatus, Status>, plan: &Plan) -> Result<String, String> {
    let want = format!(
        "NOT_FOUND (a {} runs no IP Office, so serves no Telephony)",
        plan.me.role
    );
    match r {
        Err(s) if s.code() == Code::NotFound => Ok("NOT_FOUND: not served".into()),
        Err(s) => Err(format!("expected {want}, got {}", said(&s))),
        Ok(st) => Err(format!("expected {want}, got {}", st.as_str_name())),
    }
}

/// Expects OK; `judge` checks the reply, saying what came back.
pub(super) fn ok<T>(
    r: Result<T, Status>,
    expected: &str,
    judge: impl FnOnce(&T) -> Result<String, String>,
) -> Result<String, String> {
    match r {
        Ok(v) => judge(&v).map_err(|got| format!("expected {expected}, got {got}")),
        Err(s) => Err(format!("expected {expected}, got {}", said(&s))),
    }
}

/// Whether a refusal says why, as every refusal by the member must (the
/// transport's own UNIMPLEMENTED and INTERNAL need not).
fn has_reason(s: &Status) -> bool {
    matches!(s.code(), Code::Unimplemented | Code::Internal) || !s.message().trim().is_empty()
}

/// Expects a refusal with one of `codes` and a reason in its message.
pub(super) fn refused<T: Debug>(
    r: Result<T, Status>,
    codes: &[Code],
    why: &str,
) -> Result<String, String> {
    let want = codes
        .iter()
        .map(|c| code_name(*c))
        .collect::<Vec<_>>()
        .join(" or ");
    match r {
        Err(s) if codes.contains(&s.code()) && has_reason(&s) => Ok(said(&s)),
        Err(s) if codes.contains(&s.code()) => Err(format!(
            "expected {want} with a reason ({why}), got {} with no message",
            code_name(s.code())
        )),
        Err(s) => Err(format!("expected {want} ({why}), got {}", said(&s))),
        Ok(v) => Err(format!("expected {want} ({why}), got OK {v:?}")),
    }
}
