//! The `Telephony` service: phones register, keep alive and unregister.

use std::sync::Arc;

use fleetsim_proto::pb;
use tonic::{Request, Response, Status};

use crate::state::Shared;

/// `Telephony` over a server's shared state.
#[derive(Debug)]
pub(crate) struct TelephonySvc(pub(crate) Arc<Shared>);

impl Shared {
    /// Under a gray failure of telephony, requests are silently dropped: the
    /// handler never answers and the phone's deadline fires.
    async fn telephony_gate(&self) {
        if self.net.gray(&self.name).1 {
            std::future::pending::<()>().await;
        }
    }
}

#[tonic::async_trait]
impl pb::telephony_server::Telephony for TelephonySvc {
    async fn register(
        &self,
        req: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterReply>, Status> {
        self.0.stats.rpc();
        self.0.telephony_gate().await;
        let r = req.into_inner();
        let kind = fleetsim_proto::convert::phone_kind(r.kind)
            .ok_or_else(|| Status::invalid_argument(format!("unknown phone kind {}", r.kind)))?;
        if r.home == self.0.name {
            self.0
                .register_home(&r.extension)
                .map_err(Status::not_found)?;
            Ok(Response::new(pb::RegisterReply { guest: false }))
        } else {
            self.0
                .register_guest(&r.extension, &r.home, kind)
                .map_err(Status::failed_precondition)?;
            Ok(Response::new(pb::RegisterReply { guest: true }))
        }
    }

    async fn keepalive(
        &self,
        req: Request<pb::KeepaliveRequest>,
    ) -> Result<Response<pb::KeepaliveReply>, Status> {
        self.0.stats.rpc();
        self.0.telephony_gate().await;
        let r = req.into_inner();
        match self.0.keepalive(&r.extension) {
            Ok(go_home) => Ok(Response::new(pb::KeepaliveReply { go_home })),
            Err(()) => Err(Status::not_found(format!(
                "{} is not registered on {}",
                r.extension, self.0.name
            ))),
        }
    }

    async fn unregister(
        &self,
        req: Request<pb::UnregisterRequest>,
    ) -> Result<Response<pb::UnregisterReply>, Status> {
        self.0.stats.rpc();
        self.0.telephony_gate().await;
        self.0.unregister(&req.into_inner().extension);
        Ok(Response::new(pb::UnregisterReply {}))
    }
}
