//! A live fleet you can drive (`fleetsim up`): the fleet runs on loopback
//! TCP until stopped, and the `Control` gRPC service reports its status,
//! streams its events and takes faults.
//!
//! The fleet is owned by one task (an actor); Control handlers send it
//! commands, so fleet state has one owner and one source of truth.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use fleetsim_model::{Event, Fault, FaultKind, Fleet};
use fleetsim_net::EventLog;
use fleetsim_proto::pb;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::runner::{FleetUnderTest, Mode, RunError};

/// How to start a live fleet.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Server i of the fleet file listens on 127.0.0.1:(base_port + i); an
    /// external member's slot is left unused.
    pub base_port: u16,
    /// Emulated seconds per wall second.
    pub speed: f64,
    /// Seed of phases and retries.
    pub seed: u64,
    /// The call and portal workload (idle by default).
    pub calls: fleetsim_model::Calls,
    /// The takeover policy every server decides by.
    pub policy: Arc<dyn fleetsim_rules::TakeoverPolicy>,
}

/// A server's place in the live fleet.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// 127.0.0.1 port (0 for an external member).
    pub port: u16,
    /// An external member's `host:port` (fleetsim does not run it).
    pub address: Option<String>,
}

enum Cmd {
    Status(oneshot::Sender<pb::StatusReply>),
    Fault(String, oneshot::Sender<Result<pb::FaultReply, String>>),
}

/// A handle on a running live fleet.
#[derive(Clone, Debug)]
pub struct LiveHandle {
    tx: mpsc::Sender<Cmd>,
    log: EventLog,
}

/// Starts the fleet on loopback TCP (inside a tokio runtime) and returns a
/// handle and where each server listens. The fleet runs until the runtime ends.
pub async fn start_live(
    fleet: Fleet,
    opts: &LiveOptions,
) -> Result<(LiveHandle, Vec<ServerInfo>), RunError> {
    let fleet = Arc::new(fleet);
    let first = Event::RunStarted {
        scenario: format!("live fleet {}", fleet.name),
        seed: opts.seed,
        mode: "live".into(),
    };
    let fut = FleetUnderTest::start(
        fleet.clone(),
        opts.seed,
        crate::runner::Launch {
            mode: Mode::Live,
            speed: opts.speed,
            base_port: Some(opts.base_port),
            policy: opts.policy.clone(),
            inject_panic: None,
        },
        first,
        &opts.calls,
        &[],
    )
    .await?;
    let infos = fleet
        .servers
        .iter()
        .map(|s| ServerInfo {
            name: s.name.clone(),
            role: s.role.to_string(),
            port: fut
                .ctx
                .net
                .port(&s.name)
                .filter(|_| !s.is_external())
                .unwrap_or(0),
            address: s.address.clone(),
        })
        .collect();
    let log = fut.ctx.log.clone();
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(actor(fut, rx));
    Ok((LiveHandle { tx, log }, infos))
}

async fn actor(mut fut: FleetUnderTest, mut rx: mpsc::Receiver<Cmd>) {
    // Undos scheduled by `for`, in time order, and faults in force.
    let mut pending: Vec<(Instant, Fault)> = Vec::new();
    let mut in_force: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let next = pending.first().map(|(t, _)| *t);
        let cmd = tokio::select! {
            biased;
            () = async { if let Some(t) = next { tokio::time::sleep_until(t).await } else { std::future::pending().await } } => {
                let (_, f) = pending.remove(0);
                track(&mut in_force, &f.kind);
                if let Err(e) = fut.apply(&f).await {
                    tracing::warn!(error = %e, "scheduled undo failed");
                }
                continue;
            }
            cmd = rx.recv() => cmd,
        };
        match cmd {
            None => break,
            Some(Cmd::Status(reply)) => {
                let _ = reply.send(status(&fut, &in_force));
            }
            Some(Cmd::Fault(action, reply)) => {
                let faults = match parse_guarded(&fut.fleet, &action) {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                };
                let clock = fut.ctx.log.clock();
                // Live mode only: wall time (tokio's clock, not paused here).
                let now = Instant::now();
                let mut out = pb::FaultReply::default();
                if let Some(err) = faults
                    .iter()
                    .filter(|f| f.at.0.is_zero())
                    .find_map(|f| refuse(&fut, &f.kind))
                {
                    let _ = reply.send(Err(err));
                    continue;
                }
                for f in faults {
                    if f.at.0.is_zero() {
                        out.applied.push(f.kind.describe());
                        track(&mut in_force, &f.kind);
                        if let Err(e) = fut.apply(&f).await {
                            out.applied.push(format!("failed: {e}"));
                        }
                    } else {
                        out.scheduled
                            .push(format!("in {}: {}", f.at, f.kind.describe()));
                        pending.push((now + clock.to_runtime(f.at.0), f));
                        pending.sort_by_key(|(t, _)| *t);
                    }
                }
                let _ = reply.send(Ok(out));
            }
        }
    }
    fut.stop();
}

/// The most bytes of a fault action taken over the control API.
pub const MAX_ACTION_BYTES: usize = 64 * 1024;

/// The most bytes of an error message sent back in `grpc-message` (HTTP/2
/// peers refuse large headers); longer messages are cut with `…`.
pub const MAX_STATUS_MESSAGE: usize = 2 * 1024;

/// Parses a fault action for the live fleet; any failure, even a panic of
/// the parser, is an error message (so no input stops the fleet).
fn parse_guarded(fleet: &Fleet, action: &str) -> Result<Vec<Fault>, String> {
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fleetsim_model::fault::parse_action(fleet, action).map_err(|e| e.to_string())
    }));
    match parsed {
        Ok(r) => r,
        Err(_) => {
            Err("fleetsim could not read this action (an internal error); the fleet runs on".into())
        }
    }
}

/// Why a fault cannot be applied to the live fleet as it stands, if so.
fn refuse(fut: &FleetUnderTest, kind: &FaultKind) -> Option<String> {
    match kind {
        FaultKind::Crash { server } | FaultKind::Stop { server }
            if !fut.servers.contains_key(server) =>
        {
            Some(format!("{server} is already down"))
        }
        FaultKind::Restart { server } if fut.servers.contains_key(server) => Some(format!(
            "{server} is running; only a crashed or stopped server can restart"
        )),
        _ => None,
    }
}

/// Keeps the list of faults in force, keyed by what they act on.
fn track(in_force: &mut BTreeMap<String, String>, kind: &FaultKind) {
    let key = match kind {
        FaultKind::Partition { .. } | FaultKind::Heal => "partition".to_string(),
        FaultKind::OneWay { from, to, .. } => format!("one-way {from:?}→{to:?}"),
        FaultKind::Restart { server }
        | FaultKind::Crash { server }
        | FaultKind::Stop { server } => format!("down {server}"),
        other => format!(
            "{} {:?}",
            other.server().unwrap_or("network"),
            std::mem::discriminant(other)
        ),
    };
    let ends = kind.ends_a_fault() || kind.undo().is_none();
    if matches!(kind, FaultKind::Heal) {
        in_force.retain(|k, _| !k.starts_with("partition") && !k.starts_with("one-way"));
    } else if ends {
        in_force.remove(&key);
    } else {
        in_force.insert(key, kind.describe());
    }
}

fn status(fut: &FleetUnderTest, in_force: &BTreeMap<String, String>) -> pb::StatusReply {
    let mut where_: BTreeMap<String, (String, bool)> = BTreeMap::new();
    let mut servers = Vec::new();
    for s in &fut.fleet.servers {
        let regs = fut
            .servers
            .get(&s.name)
            .map(|h| h.registrations())
            .unwrap_or_default();
        for (ext, guest) in &regs {
            where_.insert(ext.clone(), (s.name.clone(), *guest));
        }
        servers.push(pb::ServerStatus {
            name: s.name.clone(),
            role: s.role.to_string(),
            up: fut.servers.contains_key(&s.name),
            port: u32::from(
                fut.ctx
                    .net
                    .port(&s.name)
                    .filter(|_| !s.is_external())
                    .unwrap_or(0),
            ),
            registered: regs.len() as u32,
            guests: regs.iter().filter(|(_, g)| *g).count() as u32,
            incarnation: fut.incarnations.get(&s.name).copied().unwrap_or(0),
            active: fut
                .servers
                .get(&s.name)
                .map(|h| h.active_services())
                .unwrap_or_default(),
            licence: fut
                .servers
                .get(&s.name)
                .map(|h| h.licence().to_string())
                .unwrap_or_default(),
            address: s.address.clone().unwrap_or_default(),
        });
    }
    let phones = fut
        .fleet
        .phones
        .iter()
        .map(|p| {
            let (server, guest) = where_.get(&p.extension).cloned().unwrap_or_default();
            pb::PhoneStatus {
                extension: p.extension.clone(),
                home: p.home.clone(),
                server,
                guest,
                kind: p.kind.as_str().into(),
            }
        })
        .collect();
    pb::StatusReply {
        t_ms: fut.ctx.log.clock().now_ms(),
        fleet: fut.fleet.name.clone(),
        servers,
        phones,
        faults: in_force.values().cloned().collect(),
    }
}

/// The `Control` service over a live fleet, with optional bearer-token auth.
#[derive(Clone, Debug)]
pub struct ControlSvc {
    fleet: LiveHandle,
    token: Option<String>,
}

impl ControlSvc {
    /// Control of `fleet`; with `token`, every call must carry `authorization: Bearer <token>`.
    pub fn new(fleet: LiveHandle, token: Option<String>) -> ControlSvc {
        ControlSvc { fleet, token }
    }

    fn check<T>(&self, req: &Request<T>) -> Result<(), Status> {
        authorize(self.token.as_deref(), req.metadata())
    }
}

/// Whether a token is unusable: empty or only whitespace.
pub fn blank_token(token: &str) -> bool {
    token.trim().is_empty()
}

/// Lets a call through when no token is required, or when it carries
/// `authorization: Bearer <token>`; a blank token never lets anything in.
fn authorize(token: Option<&str>, meta: &tonic::metadata::MetadataMap) -> Result<(), Status> {
    let Some(want) = token else {
        return Ok(());
    };
    let got = meta
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match got {
        Some(got) if !blank_token(want) && got == want => Ok(()),
        _ => Err(Status::unauthenticated(
            "this control API needs `authorization: Bearer <token>` (fleetsim ctl --token)",
        )),
    }
}

type EventStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::EventLine, Status>> + Send>>;

#[tonic::async_trait]
impl pb::control_server::Control for ControlSvc {
    async fn status(
        &self,
        req: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusReply>, Status> {
        self.check(&req)?;
        let (tx, rx) = oneshot::channel();
        self.fleet
            .tx
            .send(Cmd::Status(tx))
            .await
            .map_err(|_| Status::unavailable("the fleet has stopped"))?;
        rx.await
            .map(Response::new)
            .map_err(|_| Status::unavailable("the fleet has stopped"))
    }

    type WatchStream = EventStream;

    async fn watch(
        &self,
        req: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        self.check(&req)?;
        let mut rx = self.fleet.log.subscribe();
        let stream = async_stream(
            move |tx: mpsc::Sender<Result<pb::EventLine, Status>>| async move {
                loop {
                    match rx.recv().await {
                        Ok(e) => {
                            let json = serde_json::to_string(&e).unwrap_or_default();
                            if tx.send(Ok(pb::EventLine { json })).await.is_err() {
                                break;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    }
                }
            },
        );
        Ok(Response::new(stream))
    }

    async fn fault(
        &self,
        req: Request<pb::FaultRequest>,
    ) -> Result<Response<pb::FaultReply>, Status> {
        self.check(&req)?;
        let action = req.into_inner().action;
        if action.len() > MAX_ACTION_BYTES {
            return Err(Status::invalid_argument(format!(
                "the action is {} bytes; at most {MAX_ACTION_BYTES} are taken",
                action.len()
            )));
        }
        let (tx, rx) = oneshot::channel();
        self.fleet
            .tx
            .send(Cmd::Fault(action, tx))
            .await
            .map_err(|_| Status::unavailable("the fleet has stopped"))?;
        match rx.await {
            Ok(Ok(r)) => Ok(Response::new(r)),
            Ok(Err(e)) => Err(Status::invalid_argument(fleetsim_model::error::truncate(
                &e,
                MAX_STATUS_MESSAGE,
            ))),
            Err(_) => Err(Status::unavailable("the fleet has stopped")),
        }
    }
}

/// A stream fed by a task.
fn async_stream<F, Fut>(f: F) -> EventStream
where
    F: FnOnce(mpsc::Sender<Result<pb::EventLine, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}

/// Serves `Control` (and reflection) on `addr` until the runtime ends. A
/// non-loopback address needs a token; a blank token is refused. With a
/// token, every service on the port (reflection too) needs it.
pub async fn serve_control(
    handle: LiveHandle,
    addr: SocketAddr,
    token: Option<String>,
) -> Result<(), String> {
    let listener = bind_control(addr, token.as_deref()).await?;
    serve_control_on(handle, listener, token).await
}

/// Binds the control API's port, so that a caller can announce the fleet
/// only once every port is its own. Refuses a blank token, and a
/// non-loopback address without a token; a port in use is named.
pub async fn bind_control(
    addr: SocketAddr,
    token: Option<&str>,
) -> Result<tokio::net::TcpListener, String> {
    if token.is_some_and(blank_token) {
        return Err("refusing a blank control API token: give a non-empty --token".into());
    }
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(format!(
            "refusing to serve the control API on {addr} without a token: set --token (or bind 127.0.0.1)"
        ));
    }
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                "port {} of the control API ({addr}) is in use (another `fleetsim up`?): stop what holds it, or give another --control ADDR",
                addr.port()
            )
        } else {
            format!("cannot bind the control API on {addr}: {e}")
        }
    })
}

/// Serves `Control` (and reflection) on a listener from [`bind_control`]
/// until the runtime ends; with `token`, every call needs it.
pub async fn serve_control_on(
    handle: LiveHandle,
    listener: tokio::net::TcpListener,
    token: Option<String>,
) -> Result<(), String> {
    if token.as_deref().is_some_and(blank_token) {
        return Err("refusing a blank control API token: give a non-empty --token".into());
    }
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let reflection = tonic_reflection_service();
    let svc = pb::control_server::ControlServer::new(ControlSvc::new(handle, token.clone()));
    let auth = move |req: Request<()>| authorize(token.as_deref(), req.metadata()).map(|()| req);
    // hyper's wall-clock `date` header is on here too (tonic 0.14 cannot
    // turn it off; see fleetsim_server::start); this server is live-only,
    // real TCP on the wall clock, so no sim byte depends on it.
    tonic::transport::Server::builder()
        .layer(tonic::service::InterceptorLayer::new(auth))
        .add_service(svc)
        .add_optional_service(reflection)
        .serve_with_incoming(incoming)
        .await
        .map_err(|e| format!("control API: {e}"))
}

fn tonic_reflection_service() -> Option<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(fleetsim_proto::FILE_DESCRIPTOR_SET)
        .build_v1()
        .ok()
}
