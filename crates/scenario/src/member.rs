//! The control plane's line to a member process (`fleetsim node`): the
//! `Member` service a node serves on its control port, and the client the
//! supervisor (`fleetsim up --processes`) calls it with. The fault plane
//! crosses the wire here and only here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fleetsim_net::{EventLog, FaultPlane, Net};
use fleetsim_proto::pb;
use tonic::{Request, Response, Status};

/// How long the control plane waits for a member to take a fault plane.
const PUSH_DEADLINE: Duration = Duration::from_secs(2);

/// The `Member` service of one node: applies the fault planes it is sent to
/// the node's own [`Net`], and ends the node on `Stop`. The token is
/// checked before any of it, by [`serve_member`].
#[derive(Clone, Debug)]
pub struct MemberSvc {
    net: Net,
    log: EventLog,
    info: pb::MemberInfo,
    stop: Arc<tokio::sync::Notify>,
    /// The member's server, once started: its peer timers go out with
    /// `Info`. Shared by every clone of the service.
    peers: Arc<std::sync::OnceLock<fleetsim_server::PeerWatch>>,
}

impl MemberSvc {
    /// The service of member `server` (incarnation `incarnation`, at
    /// `speed`) over `net` and its `log`; `stop` is notified on `Stop`.
    pub fn new(
        (net, log): (Net, EventLog),
        (server, speed, incarnation): (&str, f64, u64),
        stop: Arc<tokio::sync::Notify>,
    ) -> MemberSvc {
        let info = pb::MemberInfo {
            server: server.to_string(),
            speed,
            incarnation,
            t_ms: 0,
            peers: Vec::new(),
        };
        MemberSvc {
            net,
            log,
            info,
            stop,
            peers: Default::default(),
        }
    }

    /// The member's server has started: `Info` reports its peer timers
    /// from now on (on every clone of this service).
    pub fn watch_peers(&self, watch: fleetsim_server::PeerWatch) {
        let _ = self.peers.set(watch);
    }

    /// The peer timers `Info` reports: none while the member is hung.
    fn peer_timers(&self) -> Vec<pb::PeerTimer> {
        let Some(watch) = self
            .peers
            .get()
            .filter(|_| !self.net.is_hung(&self.info.server))
        else {
            return Vec::new();
        };
        crate::live::peer_timers_pb(watch.peer_timers(), &self.log.clock())
    }
}

#[tonic::async_trait]
impl pb::member_server::Member for MemberSvc {
    async fn set_faults(
        &self,
        req: Request<pb::FaultPlane>,
    ) -> Result<Response<pb::SetFaultsReply>, Status> {
        self.net.set_fault_plane(from_pb(req.into_inner()));
        Ok(Response::new(pb::SetFaultsReply {}))
    }

    async fn stop(
        &self,
        _req: Request<pb::MemberStopRequest>,
    ) -> Result<Response<pb::MemberStopReply>, Status> {
        self.stop.notify_one();
        Ok(Response::new(pb::MemberStopReply {}))
    }

    async fn crash(
        &self,
        _req: Request<pb::MemberCrashRequest>,
    ) -> Result<Response<pb::MemberCrashReply>, Status> {
        tokio::spawn(async {
            // Long enough for the reply to leave; then gone, as kill -9
            // leaves it: no destructor runs, the kernel closes the sockets.
            tokio::time::sleep(Duration::from_millis(50)).await;
            std::process::exit(CRASH_EXIT);
        });
        Ok(Response::new(pb::MemberCrashReply {}))
    }

    async fn info(
        &self,
        _req: Request<pb::MemberInfoRequest>,
    ) -> Result<Response<pb::MemberInfo>, Status> {
        let mut info = self.info.clone();
        info.t_ms = self.log.clock().now_ms();
        info.peers = self.peer_timers();
        Ok(Response::new(info))
    }

    type EventsStream = crate::live::EventStream;

    async fn events(
        &self,
        req: Request<pb::MemberEventsRequest>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        let history = req.into_inner().history;
        Ok(Response::new(crate::live::event_lines(&self.log, history)))
    }
}

/// The exit code of a member crashed over its control port: 128 + 9, as
/// a shell reports a process killed by SIGKILL.
pub const CRASH_EXIT: i32 = 137;

/// Serves `svc` (and `grpc.health.v1`, without the token) on `listener`, a
/// port from [`crate::live::bind_control`], until the runtime ends; with
/// `token`, every `Member` call must carry `authorization: Bearer <token>`,
/// checked as the control API checks it.
pub async fn serve_member(
    svc: MemberSvc,
    listener: tokio::net::TcpListener,
    token: Option<String>,
) -> Result<(), String> {
    let (health, health_svc) = tonic_health::server::health_reporter();
    health
        .set_serving::<pb::member_server::MemberServer<MemberSvc>>()
        .await;
    let auth = move |req: Request<()>| {
        crate::live::authorize(token.as_deref(), req.metadata()).map(|()| req)
    };
    tonic::transport::Server::builder()
        .add_service(health_svc)
        .add_service(pb::member_server::MemberServer::with_interceptor(svc, auth))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
        .await
        .map_err(|e| format!("member control port: {e}"))
}

/// What the member whose control port is `addr` reports of itself.
pub(crate) async fn member_info(addr: &str, token: Option<&str>) -> Result<pb::MemberInfo, String> {
    let mut client = member_client(addr, token).await?;
    info_of(&mut client, addr).await
}

/// Sends `plane` to the member whose control port is `addr` (`host:port`).
pub async fn push_faults(
    addr: &str,
    token: Option<&str>,
    plane: &FaultPlane,
) -> Result<(), String> {
    let req = to_pb(plane);
    on_member(addr, token, |mut c| async move {
        c.set_faults(req).await.map(drop)
    })
    .await
}

/// Asks the member whose control port is `addr` to stop gracefully.
pub async fn stop_member(addr: &str, token: Option<&str>) -> Result<(), String> {
    let req = pb::MemberStopRequest {};
    on_member(
        addr,
        token,
        |mut c| async move { c.stop(req).await.map(drop) },
    )
    .await
}

/// A client of one member's control port, sending the token with every call.
pub(crate) type Client = pb::member_client::MemberClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, crate::live::Bearer>,
>;

/// Connects to the member control port `addr`, within [`PUSH_DEADLINE`].
pub(crate) async fn member_client(addr: &str, token: Option<&str>) -> Result<Client, String> {
    let bearer = crate::live::Bearer::new(token)?;
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(PUSH_DEADLINE, endpoint.connect()).await {
        Ok(Ok(channel)) => Ok(pb::member_client::MemberClient::with_interceptor(
            channel, bearer,
        )),
        Ok(Err(e)) => Err(format!("member control port {addr}: {e}")),
        Err(_) => Err(format!(
            "member control port {addr}: no answer within {PUSH_DEADLINE:?}"
        )),
    }
}

/// What the member at `addr`, on `client`, reports of itself.
pub(crate) async fn info_of(client: &mut Client, addr: &str) -> Result<pb::MemberInfo, String> {
    let info = async { (client.info(pb::MemberInfoRequest {}).await).map(Response::into_inner) };
    answered(addr, info).await
}

/// `call` to the member control port `addr`, answered within
/// [`PUSH_DEADLINE`]; a failure names the port.
async fn answered<T>(
    addr: &str,
    call: impl std::future::Future<Output = Result<T, Status>>,
) -> Result<T, String> {
    match tokio::time::timeout(PUSH_DEADLINE, call).await {
        Ok(r) => r.map_err(|e| format!("member control port {addr}: {}", e.message())),
        Err(_) => Err(format!(
            "member control port {addr}: no answer within {PUSH_DEADLINE:?}"
        )),
    }
}

/// Connects to the member control port `addr` (sending `token` with every
/// call) and makes one call, the connect and the answer each within
/// [`PUSH_DEADLINE`]; every failure names the port.
async fn on_member<T, F, Fut>(addr: &str, token: Option<&str>, call: F) -> Result<T, String>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>>,
{
    let client = member_client(addr, token).await?;
    answered(addr, call(client)).await
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The plane on the wire.
pub fn to_pb(p: &FaultPlane) -> pb::FaultPlane {
    pb::FaultPlane {
        groups: p
            .groups
            .iter()
            .map(|(n, g)| (n.clone(), u32::try_from(*g).unwrap_or(u32::MAX)))
            .collect(),
        one_way: p
            .one_way
            .iter()
            .map(|(from, to)| pb::OneWayCut {
                from: from.clone(),
                to: to.clone(),
            })
            .collect(),
        stalled: p.stalled.clone().into_iter().collect(),
        hung: p.hung.clone().into_iter().collect(),
        latency: p
            .latency
            .iter()
            .map(|(n, (d, j))| {
                let l = pb::NodeLatency {
                    delay_us: micros(*d),
                    jitter_us: micros(*j),
                };
                (n.clone(), l)
            })
            .collect(),
        gray: p
            .gray
            .iter()
            .map(|(n, (presence, telephony))| {
                let g = pb::GrayPaths {
                    presence: *presence,
                    telephony: *telephony,
                };
                (n.clone(), g)
            })
            .collect(),
        clock_offset_ms: p.clock_offsets.clone().into_iter().collect(),
    }
}

/// The plane off the wire. Maps arrive in any order; the plane keeps them
/// sorted.
pub fn from_pb(p: pb::FaultPlane) -> FaultPlane {
    FaultPlane {
        groups: p
            .groups
            .into_iter()
            .map(|(n, g)| (n, g as usize))
            .collect::<BTreeMap<_, _>>(),
        one_way: p
            .one_way
            .into_iter()
            .map(|c| (c.from, c.to))
            .collect::<BTreeSet<_>>(),
        stalled: p.stalled.into_iter().collect(),
        hung: p.hung.into_iter().collect(),
        latency: p
            .latency
            .into_iter()
            .map(|(n, l)| {
                let d = Duration::from_micros(l.delay_us);
                (n, (d, Duration::from_micros(l.jitter_us)))
            })
            .collect(),
        gray: p
            .gray
            .into_iter()
            .map(|(n, g)| (n, (g.presence, g.telephony)))
            .collect(),
        clock_offsets: p.clock_offset_ms.into_iter().collect(),
    }
}

/// Members run as `fleetsim node` elsewhere (other hosts, Kubernetes pods)
/// that `fleetsim up` attaches to through the member control ports of the
/// fleet file (`control`): their events stream into the fleet's log, faults
/// reach their processes, `crash` ends one over its control port. Starting
/// a member again is its orchestrator's part (a StatefulSet restarts its
/// pod); when the new process answers, it is attached again, sent the faults
/// in force, and counted as a restart.
#[derive(Debug)]
pub struct Attached {
    members: BTreeMap<String, Arc<Follow>>,
    token: Option<String>,
    /// The fleet's `--speed`, which every node must run at.
    speed: f64,
}

/// What is known of one attached member.
#[derive(Debug)]
struct Follow {
    control: String,
    up: std::sync::atomic::AtomicBool,
    incarnation: std::sync::atomic::AtomicU64,
    /// Crashed or stopped by `ctl`: the end of its events is no surprise.
    asked_down: std::sync::atomic::AtomicBool,
}

/// How long to wait before trying a member's control port again.
const RETRY: Duration = Duration::from_millis(250);

impl Attached {
    /// The members of `fleet` that have a `control` port, for a fleet run
    /// at `speed`; `None` if none has.
    pub fn of(
        fleet: &fleetsim_model::Fleet,
        token: Option<String>,
        speed: f64,
    ) -> Option<Attached> {
        let members: BTreeMap<String, Arc<Follow>> = fleet
            .servers
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.control.clone()?)))
            .map(|(name, control)| {
                let f = Follow {
                    control,
                    up: Default::default(),
                    incarnation: Default::default(),
                    asked_down: Default::default(),
                };
                (name, Arc::new(f))
            })
            .collect();
        (!members.is_empty()).then_some(Attached {
            members,
            token,
            speed,
        })
    }
}

impl crate::live::Members for Attached {
    fn runs(&self, name: &str) -> bool {
        self.members.contains_key(name)
    }

    fn is_up(&self, name: &str) -> bool {
        self.members
            .get(name)
            .is_some_and(|f| f.up.load(Ordering::Acquire))
    }

    fn incarnation(&self, name: &str) -> u64 {
        self.members
            .get(name)
            .map_or(0, |f| f.incarnation.load(Ordering::Acquire))
    }

    fn crash(&self, name: &str) -> crate::live::Call<'_, Result<(), String>> {
        let name = name.to_string();
        Box::pin(async move {
            let f = self
                .members
                .get(&name)
                .ok_or_else(|| format!("{name} is not an attached member"))?;
            f.asked_down.store(true, Ordering::Release);
            let req = pb::MemberCrashRequest {};
            // The process may be gone before its reply leaves: its end,
            // seen on the events stream, is what counts.
            let _ = on_member(&f.control, self.token.as_deref(), |mut c| async move {
                c.crash(req).await.map(drop)
            })
            .await;
            if crate::live::until_down(self, &name, PUSH_DEADLINE).await {
                Ok(())
            } else {
                Err(format!("{name} did not end when told to crash"))
            }
        })
    }

    fn restart(&self, name: &str) -> Result<(), String> {
        Err(self.cannot_restart(name).unwrap_or_default())
    }

    fn cannot_restart(&self, name: &str) -> Option<String> {
        Some(format!(
            "{name} runs under its own orchestrator (a StatefulSet restarts its pod): fleetsim attaches to the new process when it answers"
        ))
    }

    fn control(&self, name: &str) -> Option<String> {
        self.members
            .get(name)
            .filter(|f| f.up.load(Ordering::Acquire))
            .map(|f| f.control.clone())
    }

    fn will_stop(&self, name: &str) {
        if let Some(f) = self.members.get(name) {
            f.asked_down.store(true, Ordering::Release);
        }
    }

    fn started(&self, net: &Net, log: &EventLog) {
        for (name, f) in &self.members {
            let ctx = (self.token.clone(), net.clone(), log.clone());
            tokio::spawn(follow(name.clone(), f.clone(), self.speed, ctx));
        }
    }

    fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

/// Follows one attached member for as long as the fleet runs: reads its
/// events into `log`, marks it up while they flow, sends each new process
/// the faults in force, and logs an end nobody asked for as a crash. Why it
/// cannot attach is warned about (on stderr, through `tracing`) each time
/// the reason changes.
async fn follow(name: String, f: Arc<Follow>, speed: f64, ctx: (Option<String>, Net, EventLog)) {
    let (token, net, log) = ctx;
    let mut last_error = String::new();
    loop {
        let (mut lines, attached_at) =
            match attach(&name, &f.control, token.as_deref(), speed).await {
                Ok(attached) => attached,
                Err(e) => {
                    if e != last_error {
                        tracing::warn!("cannot attach to {name} at {}: {e}", f.control);
                        last_error = e;
                    }
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
        last_error.clear();
        let first = f.incarnation.fetch_add(1, Ordering::AcqRel) == 0;
        let incarnation = f.incarnation.load(Ordering::Acquire);
        f.up.store(true, Ordering::Release);
        let plane = net.fault_plane();
        if plane != FaultPlane::default()
            && let Err(e) = push_faults(&f.control, token.as_deref(), &plane).await
        {
            tracing::warn!("faults in force not sent to {name}: {e}");
        }
        while let Ok(Some(line)) = lines.message().await {
            let Ok(rec) = serde_json::from_str::<fleetsim_model::EventRecord>(&line.json) else {
                continue;
            };
            // The first process's past belongs to no drill but what it
            // says of its standing state; a later process's start is part
            // of this drill. Either way stamped again on the fleet's clock.
            if first && rec.t_ms < attached_at && !standing(&rec.event) {
                continue;
            }
            log.emit(&rec.server, numbered(rec.event, incarnation));
        }
        f.up.store(false, Ordering::Release);
        if !f.asked_down.swap(false, Ordering::AcqRel) {
            let registered_phones = crate::live::registered_when_last_heard(&log.snapshot(), &name);
            log.emit(
                &name,
                fleetsim_model::Event::ServerCrashed { registered_phones },
            );
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Checks that the node at `control` runs `name` at `speed`, then opens its
/// events, history first; with the node's emulated time when it was asked.
async fn attach(
    name: &str,
    control: &str,
    token: Option<&str>,
    speed: f64,
) -> Result<(tonic::Streaming<pb::EventLine>, u64), String> {
    let info = member_info(control, token).await?;
    if info.server != name {
        return Err(format!(
            "the node there runs {:?}, not {name:?}: fix the fleet file's `control` entries",
            info.server
        ));
    }
    if (info.speed - speed).abs() > 1e-9 {
        return Err(format!(
            "the node runs at --speed {}, this fleet at --speed {speed}: their timers would disagree; start both at one speed",
            info.speed
        ));
    }
    let events = on_member(control, token, |mut c| async move {
        c.events(pb::MemberEventsRequest { history: true })
            .await
            .map(Response::into_inner)
    })
    .await?;
    Ok((events, info.t_ms))
}

/// Whether `event` tells standing state (what runs, the licence), which a
/// drill that attaches to a running member needs from its past.
fn standing(event: &fleetsim_model::Event) -> bool {
    use fleetsim_model::Event::*;
    matches!(
        event,
        ServerStarted { .. } | ServiceState { .. } | LicenceState { .. } | HuntGroupState { .. }
    )
}

/// `event` with a member's start numbered as the drill counts its
/// processes (a node started by hand says 1 each time).
fn numbered(event: fleetsim_model::Event, incarnation: u64) -> fleetsim_model::Event {
    match event {
        fleetsim_model::Event::ServerStarted { role, .. } => {
            fleetsim_model::Event::ServerStarted { role, incarnation }
        }
        other => other,
    }
}
