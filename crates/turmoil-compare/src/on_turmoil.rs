//! The heartbeat workload on turmoil: three hosts, each serving fleetsim's
//! `Line` service with tonic over turmoil's simulated TCP and calling
//! `Line/Presence` on the other two every second. turmoil's defaults stand
//! (1 ms tick, its latency between 0 and 100 ms), but for a fixed seed and a
//! simulation a minute longer than the run; a client that sleeps the
//! emulated length ends it.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use fleetsim_model::Dur;
use fleetsim_proto::pb;
use fleetsim_proto::pb::line_client::LineClient;
use fleetsim_proto::pb::line_server::{Line, LineServer};
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};

use crate::{CompareError, HEARTBEAT, Side};

/// The three hosts, named as turmoil resolves them.
pub const HOSTS: [&str; 3] = ["primary", "secondary", "expansion"];
/// Where every host serves `Line`.
const PORT: u16 = 9999;
/// Each RPC's deadline: fleetsim's default `rpc-deadline`.
const DEADLINE: Duration = Duration::from_secs(4);
/// turmoil's random latencies, fixed.
const SEED: u64 = 42;
/// Simulated time past the run, so the closing client ends the simulation
/// before turmoil's own limit does.
const MARGIN: Duration = Duration::from_secs(60);

/// Runs the three hosts for `emulated`: turmoil's wall time and the
/// presence RPCs its hosts served.
pub fn run(emulated: Dur) -> Result<Side, CompareError> {
    let served = Arc::new(AtomicU64::new(0));
    let wall = fleetsim_scenario::Stopwatch::start();
    let mut sim = turmoil::Builder::new()
        .simulation_duration(emulated.0.saturating_add(MARGIN))
        .rng_seed(SEED)
        .build();
    for name in HOSTS {
        let served = served.clone();
        sim.host(name, move || host(name, served.clone()));
    }
    sim.client("clock", async move {
        tokio::time::sleep(emulated.0).await;
        Ok(())
    });
    sim.run().map_err(|e| CompareError::Turmoil {
        emulated,
        reason: e.to_string(),
    })?;
    Ok(Side {
        wall_ms: wall.elapsed_ms(),
        rpcs: served.load(Ordering::Relaxed),
    })
}

/// One host: heartbeats to each other host, and `Line` served.
async fn host(name: &'static str, served: Arc<AtomicU64>) -> turmoil::Result {
    for peer in HOSTS.into_iter().filter(|p| *p != name) {
        tokio::spawn(heartbeat(name, peer));
    }
    let listener =
        turmoil::net::TcpListener::bind((IpAddr::from(Ipv4Addr::UNSPECIFIED), PORT)).await?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let accepted = listener.accept().await.map(|(s, _)| io::Accepted(s));
            if tx.send(accepted).is_err() {
                return;
            }
        }
    });
    Server::builder()
        .add_service(LineServer::new(Presence { name, served }))
        .serve_with_incoming(tokio_stream::wrappers::UnboundedReceiverStream::new(rx))
        .await?;
    Ok(())
}

/// `Line/Presence` from `name` to `peer` every [`HEARTBEAT`], for ever. A
/// failed call (the peer not listening yet) is retried at the next beat.
async fn heartbeat(name: &'static str, peer: &'static str) {
    let Ok(endpoint) = Endpoint::from_shared(format!("http://{peer}:{PORT}")) else {
        return;
    };
    let channel = endpoint
        .timeout(DEADLINE)
        .connect_with_connector_lazy(io::connector());
    let mut client = LineClient::new(channel);
    let mut beat = tokio::time::interval(HEARTBEAT);
    loop {
        beat.tick().await;
        let request = pb::PresenceRequest {
            from: name.into(),
            incarnation: 1,
            ..Default::default()
        };
        // Only what the peer served is counted, there.
        let _ = client.presence(request).await;
    }
}

/// `Line` as small as a heartbeat needs: presence answered and counted,
/// the rest unimplemented.
struct Presence {
    name: &'static str,
    served: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl Line for Presence {
    async fn presence(
        &self,
        _: Request<pb::PresenceRequest>,
    ) -> Result<Response<pb::PresenceReply>, Status> {
        self.served.fetch_add(1, Ordering::Relaxed);
        Ok(Response::new(pb::PresenceReply {
            server: self.name.into(),
            ..Default::default()
        }))
    }
    type PresenceStreamStream = tokio_stream::Empty<Result<pb::PresenceReply, Status>>;
    async fn presence_stream(
        &self,
        _: Request<tonic::Streaming<pb::PresenceRequest>>,
    ) -> Result<Response<Self::PresenceStreamStream>, Status> {
        // One unary call per heartbeat: the plain tonic workload turmoil runs.
        Err(Status::unimplemented("heartbeats only"))
    }
    async fn replicate(
        &self,
        _: Request<pb::ReplicateRequest>,
    ) -> Result<Response<pb::ReplicateReply>, Status> {
        Err(Status::unimplemented("heartbeats only"))
    }
    async fn hunt_call(
        &self,
        _: Request<pb::HuntCallRequest>,
    ) -> Result<Response<pb::HuntCallReply>, Status> {
        Err(Status::unimplemented("heartbeats only"))
    }
    type TrunkStream = tokio_stream::Empty<Result<pb::TrunkEvent, Status>>;
    async fn trunk(
        &self,
        _: Request<pb::TrunkRequest>,
    ) -> Result<Response<Self::TrunkStream>, Status> {
        Err(Status::unimplemented("heartbeats only"))
    }
    async fn release_trunk(
        &self,
        _: Request<pb::ReleaseTrunkRequest>,
    ) -> Result<Response<pb::ReleaseTrunkReply>, Status> {
        Err(Status::unimplemented("heartbeats only"))
    }
    async fn reach(
        &self,
        _: Request<pb::ReachRequest>,
    ) -> Result<Response<pb::ReachReply>, Status> {
        Err(Status::unimplemented("heartbeats only"))
    }
}

/// turmoil's TCP for tonic: a server-side stream tonic can ask for its
/// addresses, and a client connector (as in turmoil's own gRPC example).
mod io {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper_util::rt::TokioIo;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tonic::transport::Uri;
    use tonic::transport::server::{Connected, TcpConnectInfo};
    use turmoil::net::TcpStream;

    /// An accepted turmoil connection.
    pub(super) struct Accepted(pub(super) TcpStream);

    impl Connected for Accepted {
        type ConnectInfo = TcpConnectInfo;

        fn connect_info(&self) -> Self::ConnectInfo {
            TcpConnectInfo {
                local_addr: self.0.local_addr().ok(),
                remote_addr: self.0.peer_addr().ok(),
            }
        }
    }

    impl AsyncRead for Accepted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Accepted {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }

        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }

    /// Dials a `http://host:port` URI over turmoil's TCP.
    pub(super) fn connector() -> impl tower::Service<
        Uri,
        Response = TokioIo<TcpStream>,
        Error = std::io::Error,
        Future = impl Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(|uri: Uri| async move {
            let authority = uri
                .authority()
                .map(|a| a.to_string())
                .ok_or_else(|| std::io::Error::other(format!("{uri} names no host:port")))?;
            let stream = TcpStream::connect(authority).await?;
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        })
    }
}
