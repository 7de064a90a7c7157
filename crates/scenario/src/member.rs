//! The control plane's line to a member process (`fleetsim node`): the
//! `Member` service a node serves on its control port, and the client the
//! supervisor (`fleetsim up --processes`) calls it with. The fault plane
//! crosses the wire here and only here.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fleetsim_net::{FaultPlane, Net};
use fleetsim_proto::pb;
use tonic::{Request, Response, Status};

/// How long the control plane waits for a member to take a fault plane.
const PUSH_DEADLINE: Duration = Duration::from_secs(2);

/// The `Member` service of one node: applies the fault planes it is sent to
/// the node's own [`Net`], and ends the node on `Stop`.
#[derive(Clone, Debug)]
pub struct MemberSvc {
    net: Net,
    stop: Arc<tokio::sync::Notify>,
    token: Option<String>,
}

impl MemberSvc {
    /// The service over `net`; `stop` is notified on `Stop`; with `token`,
    /// every call must carry `authorization: Bearer <token>`.
    pub fn new(net: Net, stop: Arc<tokio::sync::Notify>, token: Option<String>) -> MemberSvc {
        MemberSvc { net, stop, token }
    }
}

#[tonic::async_trait]
impl pb::member_server::Member for MemberSvc {
    async fn set_faults(
        &self,
        req: Request<pb::FaultPlane>,
    ) -> Result<Response<pb::SetFaultsReply>, Status> {
        crate::live::authorize(self.token.as_deref(), req.metadata())?;
        self.net.set_fault_plane(from_pb(req.into_inner()));
        Ok(Response::new(pb::SetFaultsReply {}))
    }

    async fn stop(
        &self,
        req: Request<pb::MemberStopRequest>,
    ) -> Result<Response<pb::MemberStopReply>, Status> {
        crate::live::authorize(self.token.as_deref(), req.metadata())?;
        self.stop.notify_one();
        Ok(Response::new(pb::MemberStopReply {}))
    }
}

/// Serves `svc` (and `grpc.health.v1`, without the token) on `listener`, a
/// port from [`crate::live::bind_control`], until the runtime ends.
pub async fn serve_member(svc: MemberSvc, listener: tokio::net::TcpListener) -> Result<(), String> {
    let (health, health_svc) = tonic_health::server::health_reporter();
    health
        .set_serving::<pb::member_server::MemberServer<MemberSvc>>()
        .await;
    tonic::transport::Server::builder()
        .add_service(health_svc)
        .add_service(pb::member_server::MemberServer::new(svc))
        .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
        .await
        .map_err(|e| format!("member control port: {e}"))
}

/// Sends `plane` to the member whose control port is `addr`.
pub async fn push_faults(
    addr: SocketAddr,
    token: Option<&str>,
    plane: &FaultPlane,
) -> Result<(), String> {
    let mut req = Request::new(to_pb(plane));
    with_token(&mut req, token)?;
    on_member(
        addr,
        |mut c| async move { c.set_faults(req).await.map(drop) },
    )
    .await
}

/// Asks the member whose control port is `addr` to stop gracefully.
pub async fn stop_member(addr: SocketAddr, token: Option<&str>) -> Result<(), String> {
    let mut req = Request::new(pb::MemberStopRequest {});
    with_token(&mut req, token)?;
    on_member(addr, |mut c| async move { c.stop(req).await.map(drop) }).await
}

type Client = pb::member_client::MemberClient<tonic::transport::Channel>;

/// Connects to the member control port `addr` and makes one call, within
/// [`PUSH_DEADLINE`]; every failure names the port.
async fn on_member<F, Fut>(addr: SocketAddr, call: F) -> Result<(), String>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = Result<(), Status>>,
{
    let whole = async {
        let client = Client::connect(format!("http://{addr}"))
            .await
            .map_err(|e| e.to_string())?;
        call(client).await.map_err(|e| e.message().to_string())
    };
    match tokio::time::timeout(PUSH_DEADLINE, whole).await {
        Ok(r) => r.map_err(|e| format!("member control port {addr}: {e}")),
        Err(_) => Err(format!(
            "member control port {addr}: no answer within {PUSH_DEADLINE:?}"
        )),
    }
}

fn with_token<T>(req: &mut Request<T>, token: Option<&str>) -> Result<(), String> {
    if let Some(t) = token {
        let v = format!("Bearer {t}")
            .parse()
            .map_err(|_| "the token is not a valid header value".to_string())?;
        req.metadata_mut().insert("authorization", v);
    }
    Ok(())
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
