//! A simulated Server Edition server: one incarnation of one server of the
//! fleet, serving real gRPC for its role over the transport seam, with the
//! resilience state machine of docs/domain-coverage.md §2, §3 and §5.
//!
//! [`start`] binds the server on the [`Net`], serves `Line`, `Telephony` (on
//! roles that run IP Office) and `grpc.health.v1`, sends presence to every
//! line peer, and watches each peer. [`ServerHandle::crash`] kills the
//! incarnation: connections reset, new ones refused, memory gone. A restart
//! is simply a new [`start`] with the next incarnation number.
//!
//! Beyond phones, each role serves its own services (docs/domain-coverage.md §1, §4), each
//! with its own `grpc.health.v1` status: `Licensing` on the primary (and a
//! renewal loop on every other server), `Voicemail` with Media Manager's
//! collection, `Portal` (one-X), `MediaManager` and `Collaboration`.
//!
//! # Layout
//! - [`state`]: what a server remembers, and the shell that asks the run's
//!   `TakeoverPolicy` (crate `fleetsim-rules`) who is lost, who may register
//!   as a guest, when to fail back, and carries the answer out.
//! - [`disk`]: what survives a restart (messages, recordings, licence grace).
//! - `line`: the `Line` service (presence, replication, hunt-group calls).
//! - `telephony`: the `Telephony` service (registration, calls, configuration).
//! - `reach`: finding a called phone on its home or backup, through a hub
//!   of the star when no line joins the two systems.
//! - `licensing`: licence server and the normal → grace → restricted states.
//! - `voicemail`: Voicemail Pro active/standby, handback, recordings, Media
//!   Manager and Collaboration services.
//! - `portal`: one-X Portal detection, takeover and handback.
//! - `trunks`: IP500 V2 trunks seized for external calls, held while the
//!   call lasts, lost with their V2.
//! - `watchdog`: per-peer timers for the 3-minute and 10-minute rules.
//! - `gate`: a hang as a gate that every task of an incarnation runs behind.
//! - `gray`: gray failure as a serving layer that swallows requests by gRPC path.
//! - `date`: the HTTP `date` header from the emulated clock in simulation.
//! - [`reflect`]: server reflection (v1 and v1alpha) of the services a port serves.
//! - `replies`: answers on the long-lived presence streams.
//! - `watch`: phones' keepalive streams, on which the server also speaks
//!   unasked (sent home, registration ended), swept each keepalive interval.

mod date;
pub mod disk;
mod gate;
mod gray;
mod inject;
mod licensing;
mod line;
mod portal;
mod reach;
pub mod reflect;
mod replies;
pub mod state;
mod telephony;
mod trunks;
mod voicemail;
mod watch;
mod watchdog;

pub use disk::Disk;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fleetsim_model::{Event, Fleet, Service};
use fleetsim_net::{EventLog, Net, Timing};
use fleetsim_proto::pb;
use rand::Rng as _;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::state::Shared;

/// Counters shared by every server of a run.
#[derive(Debug, Default)]
pub struct Stats {
    /// RPCs served.
    pub rpcs: AtomicU64,
}

impl Stats {
    pub(crate) fn rpc(&self) {
        self.rpcs.fetch_add(1, Ordering::Relaxed);
    }
}

/// What one incarnation of a server needs to start.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The fleet it belongs to.
    pub fleet: Arc<Fleet>,
    /// Its name in the fleet.
    pub name: String,
    /// 1 on first start, +1 per restart.
    pub incarnation: u64,
    /// The run's seed.
    pub seed: u64,
    /// Timers in runtime units.
    pub timing: Timing,
    /// The server's disk, kept across its incarnations.
    pub disk: Disk,
    /// Test hook, not an emulated fault: the first gRPC request this
    /// incarnation serves panics (tests of the harness's panic handling).
    #[doc(hidden)]
    pub panic_on_first_request: bool,
    /// Test hook, not an emulated fault: the first gRPC request this
    /// incarnation serves spawns work that panics; the request itself is
    /// answered as usual.
    #[doc(hidden)]
    pub panic_in_spawned_work: bool,
}

/// The run-wide things a server works with.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The network.
    pub net: Net,
    /// The event log.
    pub log: EventLog,
    /// Counters.
    pub stats: Arc<Stats>,
    /// The takeover policy every server of the run decides by.
    pub policy: Arc<dyn fleetsim_rules::TakeoverPolicy>,
}

/// Why a server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The name is not in the fleet.
    #[error("server {0:?} is not in the fleet")]
    UnknownServer(String),
    /// The transport refused to bind.
    #[error("server {server:?}: {source}")]
    Bind {
        /// Server name.
        server: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// A running server incarnation.
#[derive(Debug)]
pub struct ServerHandle {
    name: String,
    token: CancellationToken,
    /// How long a graceful stop lets requests in flight be answered.
    grace: std::time::Duration,
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl ServerHandle {
    /// The server's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Phones registered here now: (extension, guest).
    pub fn registrations(&self) -> Vec<(String, bool)> {
        self.shared.registrations()
    }

    /// What runs here now: services that fail over (`voicemail-pro`,
    /// `one-x-portal`) when active, services that never do, and hunt groups.
    pub fn active_services(&self) -> Vec<String> {
        let mut v = Vec::new();
        for s in &self.shared.spec.services {
            let on = match s {
                Service::VoicemailPro => self.shared.voicemail_active(),
                Service::OneXPortal => self.shared.portal_active(),
                _ => true,
            };
            if on {
                v.push(s.as_str().to_string());
            }
        }
        v.extend(
            self.shared
                .lock()
                .hunt
                .keys()
                .map(|g| format!("hunt-group {g}")),
        );
        v
    }

    /// Calls up here now.
    pub fn calls_up(&self) -> u32 {
        self.shared.lock().calls.len() as u32
    }

    /// What this server observes of each line peer now, in name order:
    /// the inputs of the failover and failback timers.
    pub fn peer_timers(&self) -> Vec<PeerTimer> {
        self.peer_watch().peer_timers()
    }

    /// A handle that reads [`ServerHandle::peer_timers`] for as long as
    /// this incarnation's memory lives (a member process's control port
    /// answers with it).
    pub fn peer_watch(&self) -> PeerWatch {
        PeerWatch(self.shared.clone())
    }

    /// Licence state: `normal`, `grace` or `restricted`.
    pub fn licence(&self) -> &'static str {
        self.shared.licence_name()
    }

    /// Whether this server's Voicemail Pro is active now.
    pub fn voicemail_active(&self) -> bool {
        self.shared.voicemail_active()
    }

    /// Messages being left and recordings being made here now, as
    /// (messages, recordings): a crash or stop cuts them, unkept.
    pub fn voicemail_in_progress(&self) -> (u32, u32) {
        self.shared.vm_in_progress()
    }

    /// Kills the incarnation: every connection to or from it resets, new
    /// connects are refused, its tasks stop and its memory is dropped.
    /// Returns how many phones were registered on it.
    pub fn crash(self, net: &Net) -> u32 {
        let registered = self.shared.registrations().len() as u32;
        net.unbind(&self.name);
        self.token.cancel();
        for t in self.tasks {
            t.abort();
        }
        registered
    }

    /// Stops the incarnation cleanly: new connects are refused, its own
    /// timers stop, requests in flight get the RPC deadline to be answered, then the
    /// connections close. Its memory is dropped as with a crash. Returns how
    /// many phones were registered on it.
    ///
    /// (tonic's own graceful shutdown is not used: it signals connections
    /// through a tokio `watch`, whose wake order is random, and same-seed
    /// runs must give the same event log.)
    pub fn stop(self, net: &Net) -> u32 {
        let registered = self.shared.registrations().len() as u32;
        net.unbind(&self.name);
        self.shared.draining.cancel();
        let mut tasks = self.tasks.into_iter();
        let serve = tasks.next();
        for t in tasks {
            t.abort();
        }
        let (token, grace) = (self.token, self.grace);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            token.cancel();
            if let Some(serve) = serve {
                serve.abort();
            }
        });
        registered
    }
}

/// Reads one incarnation's peer timers ([`ServerHandle::peer_watch`]).
#[derive(Clone)]
pub struct PeerWatch(Arc<Shared>);

impl std::fmt::Debug for PeerWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PeerWatch").field(&self.0.name).finish()
    }
}

impl PeerWatch {
    /// See [`ServerHandle::peer_timers`].
    pub fn peer_timers(&self) -> Vec<PeerTimer> {
        let now = self.0.rules_now();
        let st = self.0.lock();
        st.peers
            .iter()
            .map(|(peer, v)| PeerTimer {
                peer: peer.clone(),
                silent: now.saturating_sub(v.last_seen),
                lost: v.lost,
                visible: v.returned_since.map(|t| now.saturating_sub(t)),
                backing_up: self.0.backs_up(peer),
            })
            .collect()
    }
}

/// One server's view of one line peer ([`ServerHandle::peer_timers`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerTimer {
    /// The peer.
    pub peer: String,
    /// Emulated time since it was last heard.
    pub silent: std::time::Duration,
    /// Declared lost (silent for the failover time).
    pub lost: bool,
    /// Heard again after being lost: visible for this long.
    pub visible: Option<std::time::Duration>,
    /// This server is the peer's backup.
    pub backing_up: bool,
}

/// Starts a server incarnation and returns once it is bound (connects made
/// after this succeed).
pub async fn start(cfg: ServerConfig, ctx: Ctx) -> Result<ServerHandle, StartError> {
    let spec = cfg
        .fleet
        .server(&cfg.name)
        .cloned()
        .ok_or_else(|| StartError::UnknownServer(cfg.name.clone()))?;
    let token = CancellationToken::new();
    let span = tracing::info_span!("server", server = %cfg.name, incarnation = cfg.incarnation);
    let incoming = ctx
        .net
        .bind(&cfg.name, &token)
        .await
        .map_err(|source| StartError::Bind {
            server: cfg.name.clone(),
            source,
        })?;
    let shared = Arc::new(Shared::new(
        &cfg,
        spec,
        &ctx,
        token.clone(),
        cfg.disk.clone(),
    ));
    let mut tasks = Vec::new();

    // gRPC: Line everywhere, Telephony where IP Office runs, health for both.
    let (health, health_svc) = tonic_health::server::health_reporter();
    let line_svc = pb::line_server::LineServer::new(line::LineSvc(shared.clone()));
    health
        .set_serving::<pb::line_server::LineServer<line::LineSvc>>()
        .await;
    let telephony_svc = if shared.spec.role.runs_ip_office() {
        health
            .set_serving::<pb::telephony_server::TelephonyServer<telephony::TelephonySvc>>()
            .await;
        Some(pb::telephony_server::TelephonyServer::new(
            telephony::TelephonySvc(shared.clone()),
        ))
    } else {
        None
    };
    let runs = |s: Service| shared.spec.runs(s);
    let licensing_svc = if runs(Service::Licensing) {
        health
            .set_serving::<pb::licensing_server::LicensingServer<licensing::LicensingSvc>>()
            .await;
        Some(pb::licensing_server::LicensingServer::new(
            licensing::LicensingSvc(shared.clone()),
        ))
    } else {
        None
    };
    let voicemail_svc = if runs(Service::VoicemailPro) {
        health
            .set_serving::<pb::voicemail_server::VoicemailServer<voicemail::VoicemailSvc>>()
            .await;
        Some(pb::voicemail_server::VoicemailServer::new(
            voicemail::VoicemailSvc(shared.clone()),
        ))
    } else {
        None
    };
    let portal_svc = if runs(Service::OneXPortal) {
        health
            .set_serving::<pb::portal_server::PortalServer<portal::PortalSvc>>()
            .await;
        Some(pb::portal_server::PortalServer::new(portal::PortalSvc(
            shared.clone(),
        )))
    } else {
        None
    };
    let media_svc = if runs(Service::MediaManager) {
        health
            .set_serving::<pb::media_manager_server::MediaManagerServer<voicemail::MediaSvc>>()
            .await;
        Some(pb::media_manager_server::MediaManagerServer::new(
            voicemail::MediaSvc(shared.clone()),
        ))
    } else {
        None
    };
    let collab_svc = if runs(Service::CollaborationServer) {
        health
            .set_serving::<pb::collaboration_server::CollaborationServer<voicemail::CollabSvc>>()
            .await;
        Some(pb::collaboration_server::CollaborationServer::new(
            voicemail::CollabSvc(shared.clone()),
        ))
    } else {
        None
    };
    // In simulation the `date` header comes from the emulated clock, so no
    // wall time reaches the simulated wire; live mode keeps hyper's own.
    let sim = ctx.net.mode() == fleetsim_net::Mode::Sim;
    let date = sim.then(|| date::DateLayer::new(ctx.net.clone(), &cfg.name).into_layer());
    let inject = if cfg.panic_in_spawned_work {
        Some(inject::PanicOnce::armed_in_spawned_work())
    } else {
        cfg.panic_on_first_request.then(inject::PanicOnce::armed)
    };
    // Live mode: server reflection, so grpcurl works without the .proto
    // files; it lists exactly the services this member serves.
    let (reflection_v1, reflection_v1alpha) = if ctx.net.mode() == fleetsim_net::Mode::Live {
        let mut names = vec!["grpc.health.v1.Health", pb::line_server::SERVICE_NAME];
        names.extend(
            telephony_svc
                .as_ref()
                .map(|_| pb::telephony_server::SERVICE_NAME),
        );
        names.extend(
            licensing_svc
                .as_ref()
                .map(|_| pb::licensing_server::SERVICE_NAME),
        );
        names.extend(
            voicemail_svc
                .as_ref()
                .map(|_| pb::voicemail_server::SERVICE_NAME),
        );
        names.extend(portal_svc.as_ref().map(|_| pb::portal_server::SERVICE_NAME));
        names.extend(
            media_svc
                .as_ref()
                .map(|_| pb::media_manager_server::SERVICE_NAME),
        );
        names.extend(
            collab_svc
                .as_ref()
                .map(|_| pb::collaboration_server::SERVICE_NAME),
        );
        reflect::reflection(&names).unzip()
    } else {
        (None, None)
    };
    let router = tonic::transport::Server::builder()
        .layer(tower::util::option_layer(inject))
        .layer(tower::util::option_layer(date))
        // Gray failure lives here, in the serving layer, not in handlers.
        .layer(gray::GrayLayer::new(ctx.net.clone(), &cfg.name))
        .add_service(health_svc)
        .add_service(line_svc)
        .add_optional_service(telephony_svc)
        .add_optional_service(licensing_svc)
        .add_optional_service(voicemail_svc)
        .add_optional_service(portal_svc)
        .add_optional_service(media_svc)
        .add_optional_service(collab_svc)
        .add_optional_service(reflection_v1)
        .add_optional_service(reflection_v1alpha);
    let shutdown = token.clone().cancelled_owned();
    tasks.push(tokio::spawn(
        async move {
            if let Err(e) = router
                .serve_with_incoming_shutdown(incoming, shutdown)
                .await
            {
                tracing::warn!(error = %e, "serve ended");
            }
            // Keep the health reporter alive as long as the server serves.
            drop(health);
        }
        .instrument(span.clone()),
    ));

    // Presence to, and a watchdog on, every line peer; phases are seeded so
    // timers started together do not all fire at once.
    let mut rng = fleetsim_net::seed::rng(cfg.seed, &[&cfg.name, &cfg.incarnation.to_string()]);
    let jitter_ms = cfg
        .timing
        .start_jitter
        .min(cfg.timing.presence_interval)
        .as_millis()
        .max(1) as u64;
    for peer in cfg.fleet.line_peers(&cfg.name) {
        let phase = std::time::Duration::from_millis(rng.random_range(0..jitter_ms));
        tasks.push(
            shared.spawn(
                line::presence_loop(shared.clone(), peer.clone(), token.clone(), phase)
                    .instrument(span.clone()),
            ),
        );
        tasks.push(shared.spawn(watchdog::watch(shared.clone(), peer).instrument(span.clone())));
    }

    // Services: licence renewal everywhere but the licence server, voicemail
    // and portal state machines where they run.
    let phase = |rng: &mut fleetsim_net::seed::Rng| {
        std::time::Duration::from_millis(rng.random_range(0..jitter_ms))
    };
    if !runs(Service::Licensing) {
        tasks.push(shared.spawn(
            licensing::renew_loop(shared.clone(), phase(&mut rng)).instrument(span.clone()),
        ));
    }
    if runs(Service::VoicemailPro) {
        tasks.push(
            shared.spawn(voicemail::run(shared.clone(), phase(&mut rng)).instrument(span.clone())),
        );
    }
    if runs(Service::OneXPortal) {
        tasks.push(
            shared.spawn(portal::run(shared.clone(), phase(&mut rng)).instrument(span.clone())),
        );
    }

    let reaper = shared.clone();
    tasks.push(
        shared.spawn(
            async move {
                let mut tick = tokio::time::interval(reaper.timing.keepalive_interval);
                loop {
                    tick.tick().await;
                    // What went unrefreshed too long expires first (a
                    // stream its phone left during a hang or a cut may not
                    // have ended yet); then open streams refresh the rest.
                    reaper.expire_registrations();
                    reaper.sweep_watched();
                }
            }
            .instrument(span.clone()),
        ),
    );

    ctx.log.emit(
        &cfg.name,
        Event::ServerStarted {
            role: shared.spec.role.to_string(),
            incarnation: cfg.incarnation,
        },
    );
    // Services that never fail over are simply up with their server.
    for s in [
        Service::Licensing,
        Service::MediaManager,
        Service::CollaborationServer,
    ] {
        if runs(s) {
            shared.emit_service(s, "active", "runs on this server only; no failover");
        }
    }
    for group in shared
        .own_hunt_groups()
        .into_iter()
        .filter(|g| shared.runs_hunt_group(g))
    {
        ctx.log.emit(
            &cfg.name,
            Event::HuntGroupState {
                group,
                home: cfg.name.clone(),
                active: true,
            },
        );
    }
    Ok(ServerHandle {
        name: cfg.name,
        token,
        grace: cfg.timing.rpc_deadline,
        tasks,
        shared,
    })
}
