//! one-X Portal (docs/domain-coverage.md §4): the primary's portal serves users; the
//! backup portal on the secondary pings it and takes over once it has been
//! silent for the portal's own detection time (3 min). At failback
//! (automatic as soon as the primary's portal answers, or manual) the backup
//! hands back and the changes users made on it are dropped, and reported.
//! An application server's portal serves on its own and never fails over.

use std::sync::Arc;
use std::time::Duration;

use fleetsim_model::{Event, Service};
use fleetsim_net::call;
use fleetsim_proto::pb;
use fleetsim_rules::services::{PortalBackupObs, PortalStep};
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::state::Shared;

type PortalClient = pb::portal_client::PortalClient<tonic::transport::Channel>;

/// Portal state of one incarnation.
#[derive(Debug, Default)]
pub(crate) struct PortalState {
    active: bool,
    /// Changes accepted while this (backup) portal was active.
    changes: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortalRole {
    Home,
    Backup,
    Standalone,
}

impl Shared {
    fn portal(&self) -> std::sync::MutexGuard<'_, PortalState> {
        self.portal.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn portal_role(&self) -> Option<PortalRole> {
        if !self.spec.runs(Service::OneXPortal) {
            None
        } else if self.fleet.primary().name == self.name {
            Some(PortalRole::Home)
        } else if self.fleet.portal_backup().map(|s| s.name.as_str()) == Some(&self.name) {
            Some(PortalRole::Backup)
        } else {
            Some(PortalRole::Standalone)
        }
    }

    /// Whether this server's portal is active now.
    pub fn portal_active(&self) -> bool {
        self.portal().active
    }

    fn set_portal_active(&self, active: bool, reason: String) {
        let mut p = self.portal();
        if p.active == active {
            return;
        }
        p.active = active;
        drop(p);
        self.emit_service(
            Service::OneXPortal,
            if active { "active" } else { "standby" },
            reason,
        );
    }

    /// Stands the portal down (a policy's rule, e.g. no quorum).
    pub(crate) fn stand_down_portal(&self, reason: &str) {
        if self
            .portal_role()
            .is_some_and(|r| r != PortalRole::Standalone)
        {
            self.set_portal_active(false, reason.to_string());
        }
    }

    fn portal_client(&self, server: &str) -> PortalClient {
        pb::portal_client::PortalClient::new(self.channel_to(server))
    }
}

/// The backup portal hands back to the primary's; its changes are dropped.
pub(crate) async fn handback(shared: &Arc<Shared>, mode: &str) -> bool {
    if !shared.portal_active() || shared.portal_role() != Some(PortalRole::Backup) {
        return false;
    }
    let primary = shared.fleet.primary().name.clone();
    // Standby first, so the two are never active at once.
    shared.set_portal_active(false, format!("handing back to {primary}"));
    let mut client = shared.portal_client(&primary);
    let req = pb::PortalTakeBackRequest {
        from: shared.name.clone(),
    };
    if call(shared.timing.rpc_deadline, client.take_back(req))
        .await
        .is_err()
        && ping(shared, &primary).await != Some(true)
    {
        // (If only the reply was lost, the primary is active: done.)
        shared.set_portal_active(true, format!("{primary} did not take back; stays active"));
        return false;
    }
    let dropped = std::mem::take(&mut shared.portal().changes);
    shared.emit(Event::PortalHandback {
        changes_dropped: dropped,
        mode: mode.into(),
    });
    true
}

/// Starts the portal and, on the backup, its detection loop.
pub(crate) async fn run(shared: Arc<Shared>, phase: Duration) {
    let Some(role) = shared.portal_role() else {
        return;
    };
    let primary = shared.fleet.primary().name.clone();
    let backup = shared.fleet.portal_backup().map(|s| s.name.clone());
    match role {
        PortalRole::Standalone => {
            shared.set_portal_active(true, "application server portal".into());
            return;
        }
        PortalRole::Home => {
            let backup_active = match &backup {
                Some(b) => ping(&shared, b).await == Some(true),
                None => false,
            };
            if backup_active {
                // (Unless the backup handed back while we asked.)
                if !shared.portal_active() {
                    shared.emit_service(
                        Service::OneXPortal,
                        "standby",
                        "the backup portal is active; waiting for failback",
                    );
                }
            } else {
                shared.set_portal_active(true, "primary portal".into());
            }
        }
        PortalRole::Backup => shared.emit_service(
            Service::OneXPortal,
            "standby",
            format!("backup portal for {primary}"),
        ),
    }
    let res = &shared.fleet.resilience;
    let detect = shared.runtime(res.portal_failover_after);
    let mut last_heard = shared.at(Instant::now());
    let mut tick =
        tokio::time::interval_at(Instant::now() + phase, shared.timing.presence_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match role {
            PortalRole::Home => {
                if !shared.portal_active()
                    && shared.may_run_shared_services()
                    && let Some(b) = &backup
                    && ping(&shared, b).await != Some(true)
                {
                    shared.set_portal_active(true, format!("backup portal on {b} is not active"));
                }
            }
            PortalRole::Backup => {
                // Read after the ping: it may take up to a deadline.
                let answer = ping(&shared, &primary).await;
                let obs = PortalBackupObs {
                    now: shared.at(Instant::now()),
                    active: shared.portal_active(),
                    primary: answer,
                    mode: res.portal_failback,
                    last_heard,
                    detect,
                    visibility: shared.visibility(),
                    timers: shared.timers,
                };
                let (heard, step) = shared.policy.portal_backup(&obs);
                last_heard = heard;
                match step {
                    PortalStep::Handback(mode) => {
                        handback(&shared, mode.as_str()).await;
                    }
                    PortalStep::Activate { silent } => shared.set_portal_active(
                        true,
                        format!(
                            "primary portal silent for {}",
                            fleetsim_model::human_ms(shared.clock().to_emulated_ms(silent))
                        ),
                    ),
                    PortalStep::Wait => {}
                }
            }
            PortalRole::Standalone => {}
        }
    }
}

/// `Some(active)` if `server`'s portal answers.
async fn ping(shared: &Shared, server: &str) -> Option<bool> {
    let mut client = pb::portal_client::PortalClient::new(shared.status_channel(server));
    let req = pb::PingRequest {
        from: shared.name.clone(),
    };
    call(shared.timing.rpc_deadline, client.ping(req))
        .await
        .ok()
        .map(|r| r.get_ref().active)
}

/// `Portal` over a server's shared state.
#[derive(Debug)]
pub(crate) struct PortalSvc(pub(crate) Arc<Shared>);

#[tonic::async_trait]
impl pb::portal_server::Portal for PortalSvc {
    async fn ping(
        &self,
        _req: Request<pb::PingRequest>,
    ) -> Result<Response<pb::PingReply>, Status> {
        self.0.stats.rpc();
        Ok(Response::new(pb::PingReply {
            active: self.0.portal_active(),
        }))
    }

    async fn change(
        &self,
        req: Request<pb::ChangeRequest>,
    ) -> Result<Response<pb::ChangeReply>, Status> {
        self.0.stats.rpc();
        let user = req.into_inner().user;
        {
            let mut p = self.0.portal();
            if !p.active {
                return Err(Status::failed_precondition(format!(
                    "{}: portal on standby",
                    self.0.name
                )));
            }
            p.changes = p.changes.saturating_add(1);
        }
        self.0.emit(Event::PortalChange {
            user,
            accepted: true,
        });
        Ok(Response::new(pb::ChangeReply {}))
    }

    async fn manual_failback(
        &self,
        _req: Request<pb::PortalFailbackRequest>,
    ) -> Result<Response<pb::PortalFailbackReply>, Status> {
        self.0.stats.rpc();
        if self.0.portal_role() != Some(PortalRole::Backup) {
            return Err(Status::failed_precondition(format!(
                "{} is not the backup portal",
                self.0.name
            )));
        }
        let me = self.0.clone();
        self.0.spawn(async move {
            manual_failback(&me).await;
        });
        Ok(Response::new(pb::PortalFailbackReply {}))
    }

    async fn take_back(
        &self,
        req: Request<pb::PortalTakeBackRequest>,
    ) -> Result<Response<pb::PortalTakeBackReply>, Status> {
        self.0.stats.rpc();
        if self.0.portal_role() != Some(PortalRole::Home) {
            return Err(Status::failed_precondition("not the primary's portal"));
        }
        let from = req.into_inner().from;
        self.0
            .set_portal_active(true, format!("{from} handed back"));
        Ok(Response::new(pb::PortalTakeBackReply {}))
    }
}

/// Operator action: manual failback of the portal. Refused, with an event
/// saying why, when this backup is not active (nothing to hand back) or
/// the primary's portal does not answer (handing back would only take the
/// portal down and up again).
pub(crate) async fn manual_failback(shared: &Arc<Shared>) -> bool {
    let primary = shared.fleet.primary().name.clone();
    if !shared.portal_active() {
        shared.emit_service(
            fleetsim_model::Service::OneXPortal,
            "standby",
            format!("manual failback refused: this backup is not active, {primary}'s portal serves the users"),
        );
        return false;
    }
    if ping(shared, &primary).await.is_none() {
        shared.emit_service(
            fleetsim_model::Service::OneXPortal,
            "active",
            format!("manual failback refused: {primary}'s portal does not answer"),
        );
        return false;
    }
    handback(shared, "manual").await
}
