//! The `Line` service (presence, record replication) and the presence sender.

use std::sync::Arc;
use std::time::Duration;

use fleetsim_net::{call, channel};
use fleetsim_proto::pb;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use crate::replies::Replies;
use crate::state::Shared;

/// `Line` over a server's shared state.
#[derive(Debug)]
pub(crate) struct LineSvc(pub(crate) Arc<Shared>);

#[tonic::async_trait]
impl pb::line_server::Line for LineSvc {
    async fn presence(
        &self,
        req: Request<pb::PresenceRequest>,
    ) -> Result<Response<pb::PresenceReply>, Status> {
        self.0.stats.rpc();
        presence_reply(&self.0, req.into_inner()).map(Response::new)
    }

    type PresenceStreamStream = Replies<pb::PresenceRequest, pb::PresenceReply>;

    async fn presence_stream(
        &self,
        req: Request<tonic::Streaming<pb::PresenceRequest>>,
    ) -> Result<Response<Self::PresenceStreamStream>, Status> {
        Ok(Response::new(Replies::new(
            req.into_inner(),
            self.0.clone(),
            presence_reply,
        )))
    }

    async fn replicate(
        &self,
        req: Request<pb::ReplicateRequest>,
    ) -> Result<Response<pb::ReplicateReply>, Status> {
        self.0.stats.rpc();
        let r = req.into_inner();
        // Who may send comes first (an empty request is no backup's).
        if self.0.backs_up(&r.from) {
            well_formed(&r)?;
        }
        let phones = r.phones.into_iter().map(|p| p.extension).collect();
        let held = self
            .0
            .on_replicate(&r.from, r.version, phones)
            .map_err(Status::failed_precondition)?;
        Ok(Response::new(pb::ReplicateReply { held }))
    }

    type TrunkStream = crate::trunks::TrunkStream;

    async fn trunk(
        &self,
        req: Request<pb::TrunkRequest>,
    ) -> Result<Response<Self::TrunkStream>, Status> {
        self.0.stats.rpc();
        self.0.seize_trunk(req.into_inner())
    }

    async fn release_trunk(
        &self,
        req: Request<pb::ReleaseTrunkRequest>,
    ) -> Result<Response<pb::ReleaseTrunkReply>, Status> {
        self.0.stats.rpc();
        self.0.free_trunk(&req.into_inner().call, "hung up");
        Ok(Response::new(pb::ReleaseTrunkReply {}))
    }

    async fn reach(
        &self,
        req: Request<pb::ReachRequest>,
    ) -> Result<Response<pb::ReachReply>, Status> {
        self.0.stats.rpc();
        let r = req.into_inner();
        if r.relay {
            return Ok(Response::new(self.0.reach_for_peer(&r.extension).await));
        }
        let registered = self.0.is_registered(&r.extension);
        Ok(Response::new(pb::ReachReply {
            registered,
            why: String::new(),
        }))
    }

    async fn hunt_call(
        &self,
        req: Request<pb::HuntCallRequest>,
    ) -> Result<Response<pb::HuntCallReply>, Status> {
        self.0.stats.rpc();
        let r = req.into_inner();
        if self.0.runs_hunt_group(&r.group) {
            Ok(Response::new(pb::HuntCallReply {}))
        } else {
            Err(Status::failed_precondition(format!(
                "hunt group {:?} does not run on {}",
                r.group, self.0.name
            )))
        }
    }
}

/// A presence update's answer (unary or on the stream), or PERMISSION_DENIED
/// from a server with no line to the sender.
fn presence_reply(
    shared: &Arc<Shared>,
    r: pb::PresenceRequest,
) -> Result<pb::PresenceReply, Status> {
    let held = shared
        .on_presence(&r.from, r.incarnation, r.hunt_groups)
        .ok_or_else(|| {
            Status::permission_denied(format!("{}: no line to {:?}", shared.name, r.from))
        })?;
    Ok(pb::PresenceReply {
        server: shared.name.clone(),
        records_version_held: held,
        running_your_hunt_groups: shared.hunt_groups_run_for(&r.from),
    })
}

/// Sends presence to `peer` every presence interval, starting after `phase`;
/// when `peer` is this server's backup and lacks current records, pushes them.
pub(crate) async fn presence_loop(
    shared: Arc<Shared>,
    peer: String,
    token: CancellationToken,
    phase: Duration,
) {
    // The presence stream reads an answer every presence interval: HTTP/2
    // pings (sent after that long without a read) only go out once those stop.
    let timing = fleetsim_net::ChannelTiming {
        keepalive: shared.timing.presence_interval + shared.timing.rpc_deadline,
        ..shared.timing.channel()
    };
    let chan = channel(&shared.net, &shared.name, &token, &peer, timing);
    let mut client = pb::line_client::LineClient::new(chan);
    // Presence on one long-lived stream; replication stays unary (rare).
    let mut session = fleetsim_net::Session::default();
    let is_backup = shared
        .spec
        .backup
        .as_ref()
        .is_some_and(|b| b.server == peer)
        && !shared.my_records.is_empty();
    let hunt_groups = shared.own_hunt_groups();
    let hunt_backup = fleetsim_rules::hunt::listens_to(
        &hunt_groups,
        shared
            .spec
            .backup_with(fleetsim_model::BackupOption::HuntGroups),
        &peer,
    );
    let version = if is_backup { shared.incarnation } else { 0 };
    // tokio time (virtual in sim mode); the phase comes from the seeded RNG.
    let mut ticker =
        tokio::time::interval_at(Instant::now() + phase, shared.timing.presence_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if shared.net.gray(&shared.name).0 {
            // Gray failure: this server's updates are silently lost.
            continue;
        }
        let req = pb::PresenceRequest {
            from: shared.name.clone(),
            incarnation: shared.incarnation,
            records_version: version,
            hunt_groups: hunt_groups.clone(),
        };
        // The client is cloned only to open a stream (or fall back to unary).
        let c = &client;
        let reply = session
            .exchange(
                req,
                shared.timing.rpc_deadline,
                |rx| {
                    let mut s = c.clone();
                    async move { s.presence_stream(rx).await }
                },
                |req| {
                    let mut u = c.clone();
                    async move { u.presence(req).await }
                },
            )
            .await;
        if hunt_backup {
            // The home runs its hunt groups unless its backup says it runs them.
            let theirs = reply
                .as_ref()
                .map(|r| r.running_your_hunt_groups.clone())
                .unwrap_or_default();
            shared.own_hunt_groups_elsewhere(&theirs, &peer);
        }
        match reply {
            Ok(reply) if is_backup && reply.records_version_held != version => {
                let phones = shared
                    .my_records
                    .iter()
                    .map(|(ext, kind)| pb::PhoneRecord {
                        extension: ext.clone(),
                        kind: pb::PhoneKind::from(*kind) as i32,
                    })
                    .collect();
                let req = pb::ReplicateRequest {
                    from: shared.name.clone(),
                    incarnation: shared.incarnation,
                    version,
                    phones,
                };
                if let Err(e) = call(shared.timing.rpc_deadline, client.replicate(req)).await {
                    tracing::debug!(%peer, error = %e, "replicate failed");
                }
            }
            Ok(_) => {}
            // An unreachable peer is what the watchdogs are for; nothing to do here.
            Err(e) => tracing::trace!(%peer, error = %e, "presence failed"),
        }
    }
}

/// A record set the receiver can hold: a version (the home's incarnation,
/// from 1: 0 means none) and records each with an extension and a known
/// phone kind.
fn well_formed(r: &pb::ReplicateRequest) -> Result<(), Status> {
    if r.version == 0 {
        return Err(Status::invalid_argument(
            "version 0 is no record set (a home's records carry its incarnation, from 1)",
        ));
    }
    for p in &r.phones {
        if p.extension.is_empty() {
            return Err(Status::invalid_argument("a phone record has no extension"));
        }
        if fleetsim_proto::convert::phone_kind(p.kind).is_none() {
            return Err(Status::invalid_argument(format!(
                "phone record {}: kind {} is unknown or unspecified",
                p.extension, p.kind
            )));
        }
    }
    Ok(())
}
