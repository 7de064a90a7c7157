//! A server over real gRPC: health per service, and bad requests answered
//! with a status, never a panic.

use std::sync::Arc;

use fleetsim_model::embedded;
use fleetsim_net::{Clock, EventLog, Mode, Net, Timing, channel};
use fleetsim_proto::pb;
use fleetsim_server::{Ctx, ServerConfig, ServerHandle, Stats};
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

struct Rig {
    net: Net,
    timing: Timing,
    me: CancellationToken,
    _servers: Vec<ServerHandle>,
}

async fn rig(names: &[&str]) -> Rig {
    let scenario = embedded::scenario("primary-crash").unwrap().unwrap();
    let fleet = Arc::new(scenario.fleet);
    let clock = Clock::start(1.0);
    let timing = Timing::new(&fleet.timers, &clock);
    let net = Net::new(Mode::Sim, timing.rpc_deadline);
    let ctx = Ctx {
        net: net.clone(),
        log: EventLog::new(clock),
        stats: Arc::new(Stats::default()),
        policy: Arc::new(fleetsim_rules::ServerEdition),
    };
    let mut servers = Vec::new();
    for n in names {
        let cfg = ServerConfig {
            fleet: fleet.clone(),
            name: n.to_string(),
            incarnation: 1,
            seed: 1,
            timing,
            disk: fleetsim_server::Disk::default(),
            panic_on_first_request: false,
            panic_in_spawned_work: false,
        };
        servers.push(fleetsim_server::start(cfg, ctx.clone()).await.unwrap());
    }
    Rig {
        net,
        timing,
        me: CancellationToken::new(),
        _servers: servers,
    }
}

impl Rig {
    fn channel(&self, to: &str) -> tonic::transport::Channel {
        channel(&self.net, "tester", &self.me, to, self.timing.channel())
    }
}

async fn health(rig: &Rig, server: &str, service: &str) -> Result<i32, Code> {
    HealthClient::new(rig.channel(server))
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .map(|r| r.into_inner().status)
        .map_err(|s| s.code())
}

#[tokio::test(start_paused = true)]
async fn every_server_reports_health_per_service() {
    let rig = rig(&["primary", "apps"]).await;
    let serving = Ok(ServingStatus::Serving as i32);
    assert_eq!(health(&rig, "primary", "fleetsim.v1.Line").await, serving);
    assert_eq!(
        health(&rig, "primary", "fleetsim.v1.Telephony").await,
        serving
    );
    assert_eq!(health(&rig, "apps", "fleetsim.v1.Line").await, serving);
    // The application server runs no IP Office, so no Telephony.
    assert_eq!(
        health(&rig, "apps", "fleetsim.v1.Telephony").await,
        Err(Code::NotFound)
    );
}

#[tokio::test(start_paused = true)]
async fn bad_requests_get_a_status_not_a_panic() {
    let rig = rig(&["primary", "secondary"]).await;
    let mut tel = pb::telephony_client::TelephonyClient::new(rig.channel("secondary"));
    let reg = |ext: &str, home: &str, kind: i32| pb::RegisterRequest {
        extension: ext.into(),
        home: home.into(),
        kind,
    };

    let e = tel.register(reg("2001", "primary", 99)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    // A guest while its home is visible is refused, and says why.
    let e = tel
        .register(reg("2001", "primary", pb::PhoneKind::Sip as i32))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(
        e.message().contains("failover needs 3m of silence"),
        "{}",
        e.message()
    );
    let e = tel
        .register(reg("9999", "nowhere", pb::PhoneKind::Sip as i32))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let e = tel
        .register(reg("2001", "secondary", pb::PhoneKind::Sip as i32))
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::NotFound,
        "2001 is not the secondary's phone"
    );
    let e = tel
        .keepalive(pb::KeepaliveRequest {
            in_call: false,
            extension: "".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    tel.unregister(pb::UnregisterRequest {
        extension: "\u{0}".into(),
    })
    .await
    .unwrap();

    let mut line = pb::line_client::LineClient::new(rig.channel("secondary"));
    let e = line
        .presence(pb::PresenceRequest {
            hunt_groups: Vec::new(),
            from: "stranger".into(),
            incarnation: 1,
            records_version: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = line
        .replicate(pb::ReplicateRequest {
            from: "apps".into(),
            incarnation: 1,
            version: 1,
            phones: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
}

#[tokio::test(start_paused = true)]
async fn each_role_reports_health_for_its_own_services() {
    let rig = rig(&["primary", "secondary", "apps"]).await;
    let serving = Ok(ServingStatus::Serving as i32);
    for svc in [
        "Licensing",
        "Voicemail",
        "Portal",
        "MediaManager",
        "Collaboration",
    ] {
        let name = format!("fleetsim.v1.{svc}");
        assert_eq!(health(&rig, "primary", &name).await, serving, "{svc}");
    }
    // The secondary runs voicemail and one-X, not licensing, Media Manager
    // or Collaboration; the application server one-X only.
    assert_eq!(
        health(&rig, "secondary", "fleetsim.v1.Voicemail").await,
        serving
    );
    assert_eq!(
        health(&rig, "secondary", "fleetsim.v1.Portal").await,
        serving
    );
    for svc in ["Licensing", "MediaManager", "Collaboration"] {
        let name = format!("fleetsim.v1.{svc}");
        assert_eq!(health(&rig, "secondary", &name).await, Err(Code::NotFound));
    }
    assert_eq!(health(&rig, "apps", "fleetsim.v1.Portal").await, serving);
    assert_eq!(
        health(&rig, "apps", "fleetsim.v1.Voicemail").await,
        Err(Code::NotFound)
    );
}

#[tokio::test(start_paused = true)]
async fn bad_service_requests_get_a_status_not_a_panic() {
    let rig = rig(&["primary", "secondary"]).await;
    // Let the primary's voicemail and portal decide they are active.
    tokio::time::sleep(std::time::Duration::from_secs(10)).await;

    let mut vm = pb::voicemail_client::VoicemailClient::new(rig.channel("secondary"));
    let leave = |id: &str, ms: u64| pb::LeaveRequest {
        id: id.into(),
        mailbox: "2001".into(),
        duration_ms: ms,
    };
    // The standby voicemail refuses messages; the primary's takes them,
    // within bounds.
    let e = vm.leave(leave("m1", 30_000)).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    let mut pvm = pb::voicemail_client::VoicemailClient::new(rig.channel("primary"));
    pvm.leave(leave("m1", 30_000)).await.unwrap();
    for (id, ms) in [("m2", u64::MAX), ("m3", 0), ("", 1_000)] {
        let e = pvm.leave(leave(id, ms)).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{id:?} {ms}");
    }
    let e = pvm.leave(leave("m1", 30_000)).await.unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    // Only the primary's voicemail takes back.
    let e = vm
        .take_back(pb::TakeBackRequest {
            from: "x".into(),
            messages: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    vm.collect(pb::CollectRequest {
        ack: vec!["nothing".into(), "\u{0}".into()],
    })
    .await
    .unwrap();

    let mut portal = pb::portal_client::PortalClient::new(rig.channel("secondary"));
    let e = portal
        .change(pb::ChangeRequest {
            user: "2001".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::FailedPrecondition,
        "backup portal on standby"
    );
    let e = portal
        .take_back(pb::PortalTakeBackRequest { from: "x".into() })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);

    let mut tel = pb::telephony_client::TelephonyClient::new(rig.channel("primary"));
    let call = |kind: i32, ext: &str| pb::CallRequest {
        call: "c1".into(),
        extension: ext.into(),
        kind,
        target: "2002".into(),
        group: String::new(),
        duration_ms: 60_000,
        recorded: false,
    };
    let e = tel.call(call(42, "2001")).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let e = tel
        .call(call(pb::CallKind::TwoParty as i32, "2001"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "2001 is not registered");
    tel.hangup(pb::HangupRequest {
        call: "never".into(),
        extension: "2001".into(),
    })
    .await
    .unwrap();
    tel.configure(pb::ConfigureRequest {
        change: "add a user".into(),
    })
    .await
    .unwrap();

    let mut line = pb::line_client::LineClient::new(rig.channel("secondary"));
    let e = line
        .hunt_call(pb::HuntCallRequest {
            group: "sales".into(),
            call: "c1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Code::FailedPrecondition,
        "sales runs on the primary"
    );
}

#[tokio::test(start_paused = true)]
async fn a_simulated_answer_is_dated_by_the_emulated_clock_not_the_wall_clock() {
    let rig = rig(&["primary"]).await;
    tokio::time::sleep(std::time::Duration::from_secs(90)).await;
    let answer = HealthClient::new(rig.channel("primary"))
        .check(HealthCheckRequest {
            service: "fleetsim.v1.Line".into(),
        })
        .await
        .unwrap();
    let date = answer.metadata().get("date").unwrap().to_str().unwrap();
    assert_eq!(date, "Sat, 01 Jan 2000 00:01:30 GMT");
}
