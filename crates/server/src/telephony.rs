//! The `Telephony` service: phones register, keep alive and unregister;
//! calls are set up and routed (voicemail, recording, hunt groups); and
//! configuration changes are made (refused in licence-restricted mode).

use std::sync::Arc;

use fleetsim_model::{CallKind, Event, Service};
use fleetsim_net::call;
use fleetsim_proto::pb;
use tonic::{Request, Response, Status};

use crate::state::{CallEntry, CallTx, Shared};
use crate::watch::KeepaliveReplies;

/// `Telephony` over a server's shared state.
#[derive(Debug)]
pub(crate) struct TelephonySvc(pub(crate) Arc<Shared>);

#[tonic::async_trait]
impl pb::telephony_server::Telephony for TelephonySvc {
    async fn register(
        &self,
        req: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterReply>, Status> {
        self.0.stats.rpc();
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
        self.0.keepalive_reply(req.into_inner()).map(Response::new)
    }

    type KeepaliveStreamStream = KeepaliveReplies;

    async fn keepalive_stream(
        &self,
        req: Request<tonic::Streaming<pb::KeepaliveRequest>>,
    ) -> Result<Response<Self::KeepaliveStreamStream>, Status> {
        Ok(Response::new(KeepaliveReplies::new(
            req.into_inner(),
            self.0.clone(),
        )))
    }

    async fn unregister(
        &self,
        req: Request<pb::UnregisterRequest>,
    ) -> Result<Response<pb::UnregisterReply>, Status> {
        self.0.stats.rpc();
        let ext = req.into_inner().extension;
        self.0.unregister(&ext);
        self.0.end_calls_of(&ext);
        Ok(Response::new(pb::UnregisterReply {}))
    }

    type CallStream =
        tokio_stream::wrappers::UnboundedReceiverStream<Result<pb::CallUpdate, Status>>;

    async fn call(
        &self,
        req: Request<pb::CallRequest>,
    ) -> Result<Response<Self::CallStream>, Status> {
        self.0.stats.rpc();
        let r = req.into_inner();
        let kind = fleetsim_proto::convert::call_kind(r.kind)
            .ok_or_else(|| Status::invalid_argument(format!("unknown call kind {}", r.kind)))?;
        if !self.0.is_registered(&r.extension) {
            return Err(Status::not_found(format!(
                "{} is not registered on {}",
                r.extension, self.0.name
            )));
        }
        if let Some(max) = self.0.spec.max_calls
            && self.0.lock().calls.len() >= max as usize
        {
            return Err(Status::failed_precondition(format!(
                "{} is at its limit of {max} concurrent calls",
                self.0.name
            )));
        }
        if r.call.is_empty() || self.0.lock().calls.contains_key(&r.call) {
            return Err(Status::already_exists(format!(
                "call id {:?} in use",
                r.call
            )));
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.0.start_call(kind, r, tx);
        Ok(Response::new(
            tokio_stream::wrappers::UnboundedReceiverStream::new(rx),
        ))
    }

    async fn hangup(
        &self,
        req: Request<pb::HangupRequest>,
    ) -> Result<Response<pb::HangupReply>, Status> {
        self.0.stats.rpc();
        let r = req.into_inner();
        self.0.hang_up(&r.call);
        Ok(Response::new(pb::HangupReply {}))
    }

    async fn configure(
        &self,
        req: Request<pb::ConfigureRequest>,
    ) -> Result<Response<pb::ConfigureReply>, Status> {
        self.0.stats.rpc();
        self.0
            .configure(&req.into_inner().change)
            .map_err(Status::failed_precondition)?;
        Ok(Response::new(pb::ConfigureReply {}))
    }
}

impl Shared {
    /// A keepalive's answer (unary or on the stream): whether the phone is
    /// sent home; NOT_FOUND when this server does not hold it;
    /// FAILED_PRECONDITION, with the reason, when it ends the registration
    /// (a softphone in restricted mode).
    pub(crate) fn keepalive_reply(
        self: &Arc<Self>,
        r: pb::KeepaliveRequest,
    ) -> Result<pb::KeepaliveReply, Status> {
        if !r.in_call {
            // An idle phone with a call here: its hangup was lost on the way.
            self.end_calls_of(&r.extension);
        }
        let answer = self.keepalive(&r.extension, r.in_call);
        crate::watch::to_reply(self, &r.extension, answer)
    }

    /// Whether `ext` is in a call set up here.
    pub(crate) fn has_call_of(&self, ext: &str) -> bool {
        self.lock().calls.values().any(|c| c.phone == ext)
    }

    /// Sets up an accepted call; voicemail, recording and hunt-group routing
    /// run on after the phone has its answer, as a real system's do.
    fn start_call(self: &Arc<Self>, kind: CallKind, r: pb::CallRequest, tx: CallTx) {
        // Every call but one to a phone of this system routes on: to a
        // voicemail, a hunt group, a trunk, or the system the called
        // phone is registered on.
        let local_callee = !matches!(
            kind,
            CallKind::Voicemail | CallKind::HuntGroup | CallKind::External
        ) && self.is_registered(&r.target);
        let needs_routing = r.recorded || !local_callee;
        let entry = CallEntry {
            phone: r.extension.clone(),
            tx,
            setting_up: needs_routing,
            hung_up: false,
        };
        self.lock().calls.insert(r.call.clone(), entry);
        self.emit(Event::CallStarted {
            call: r.call.clone(),
            phone: r.extension.clone(),
            kind: kind.as_str().into(),
            recorded: r.recorded,
        });
        if !needs_routing {
            return;
        }
        let me = self.clone();
        let id = r.call.clone();
        self.spawn(async move {
            tokio::select! {
                biased;
                () = me.token.cancelled() => {}
                () = me.route_call(kind, r) => me.set_up(&id),
            }
        });
    }

    /// The caller hangs up: the call ends, or, still being set up, ends as
    /// its setup does (failed, or at once once routed): a call is never
    /// logged as ended before it was up.
    fn hang_up(self: &Arc<Self>, call: &str) {
        let phone = {
            let mut st = self.lock();
            match st.calls.get_mut(call) {
                Some(c) if c.setting_up => {
                    c.hung_up = true;
                    return;
                }
                _ => st.calls.remove(call).map(|c| c.phone),
            }
        };
        self.release_trunk(call);
        if let Some(phone) = phone {
            self.emit(Event::CallEnded {
                call: call.to_string(),
                phone,
                preserved: false,
            });
        }
    }

    /// A call's setup is over (routed; a failed one is gone already): a
    /// hangup that came during it ends the call now.
    fn set_up(self: &Arc<Self>, call: &str) {
        {
            let mut st = self.lock();
            let Some(c) = st.calls.get_mut(call) else {
                return;
            };
            c.setting_up = false;
            if !c.hung_up {
                return;
            }
        }
        self.hang_up(call);
    }

    /// The system gives up on a call it accepted: the phone hears at once, on
    /// the call's stream, and is free for the next one.
    fn fail_call(&self, call: &str, ext: &str, reason: String) {
        // Already hung up (or ended as lost): nothing left to fail.
        if !self.end_by_system(call, &reason) {
            return;
        }
        self.emit(Event::CallFailed {
            call: call.to_string(),
            phone: ext.to_string(),
            reason,
        });
    }

    /// Ends a call this system holds (the caller logs why): the phone hears
    /// at once, on the call's stream. `false` if the call had already ended.
    pub(crate) fn end_by_system(&self, call: &str, reason: &str) -> bool {
        let entry = {
            let mut st = self.lock();
            st.trunk_of.remove(call);
            st.calls.remove(call)
        };
        let Some(c) = entry else {
            return false;
        };
        let _ = c.tx.send(Ok(pb::CallUpdate {
            ended: reason.to_string(),
        }));
        true
    }

    /// Ends, and logs the end of, every call of `ext` still held here: the
    /// phone is idle or gone, so its hangup was lost on the way. Each ends
    /// as its hangup would have ended it ([`Self::hang_up`]).
    pub(crate) fn end_calls_of(self: &Arc<Self>, ext: &str) {
        let ids: Vec<String> = {
            let st = self.lock();
            (st.calls.iter())
                .filter(|(_, c)| c.phone == ext)
                .map(|(id, _)| id.clone())
                .collect()
        };
        for call in ids {
            self.hang_up(&call);
        }
    }

    /// Voicemail servers to try, in order: the primary's, then its backup.
    fn voicemail_servers(&self) -> Vec<String> {
        let primary = self.fleet.primary();
        let mut v = Vec::new();
        if primary.runs(Service::VoicemailPro) {
            v.push(primary.name.clone());
        }
        if let Some(b) = self.fleet.voicemail_backup() {
            v.push(b.name.clone());
        }
        v
    }

    /// Puts the caller of `r` through to the voicemail on `vm`: `Ok` once
    /// the message is taken. Watched, so that a message cut short (a
    /// failback timeout, the voicemail's crash) ends the call too; a member
    /// without `LeaveWatched` gets a plain `Leave`.
    async fn leave_message(self: &Arc<Self>, vm: &str, r: &pb::CallRequest) -> Result<(), Status> {
        let deadline = self.timing.rpc_deadline;
        let mut client = pb::voicemail_client::VoicemailClient::new(self.channel_to(vm));
        let req = pb::LeaveRequest {
            id: r.call.clone(),
            mailbox: r.target.clone(),
            duration_ms: r.duration_ms,
        };
        let mut updates = match call(deadline, client.leave_watched(req.clone())).await {
            Ok(s) => s.into_inner(),
            Err(e) if e.code() == tonic::Code::Unimplemented => {
                return call(deadline, client.leave(req)).await.map(drop);
            }
            Err(e) => return Err(e),
        };
        match call(deadline, updates.message()).await? {
            Some(taken) if taken.cut.is_empty() => {}
            _ => {
                return Err(Status::unavailable(
                    "the voicemail did not take the message",
                ));
            }
        }
        let me = self.clone();
        let (vm, id, ext) = (vm.to_string(), r.call.clone(), r.extension.clone());
        self.spawn(async move {
            let why = match updates.message().await {
                Ok(Some(u)) if !u.cut.is_empty() => format!("voicemail on {vm}: {}", u.cut),
                Ok(_) => return,
                Err(e) => format!(
                    "lost the voicemail on {vm} mid-message ({})",
                    fleetsim_net::failure_reason(&e)
                ),
            };
            me.drop_call(&id, &ext, &why);
        });
        Ok(())
    }

    async fn route_call(self: &Arc<Self>, kind: CallKind, r: pb::CallRequest) {
        let failed = |reason: String| self.fail_call(&r.call, &r.extension, reason);
        match kind {
            CallKind::Voicemail => {
                for vm in self.voicemail_servers() {
                    if self.leave_message(&vm, &r).await.is_ok() {
                        return;
                    }
                }
                failed("no voicemail server answered".into());
                return;
            }
            CallKind::External => {
                if let Err(reason) = self.external_call(&r, r.duration_ms).await {
                    failed(reason);
                    return;
                }
            }
            CallKind::HuntGroup if !self.runs_hunt_group(&r.group) => {
                let home = self
                    .fleet
                    .hunt_groups
                    .iter()
                    .find(|g| g.name == r.group)
                    .map(|g| g.home.clone());
                let backup = home
                    .as_deref()
                    .and_then(|h| self.fleet.server(h))
                    .and_then(|s| s.backup_with(fleetsim_model::BackupOption::HuntGroups));
                let runners = fleetsim_rules::hunt::runners(&self.name, home.as_deref(), backup);
                let mut taken = false;
                for srv in &runners {
                    let req = pb::HuntCallRequest {
                        group: r.group.clone(),
                        call: r.call.clone(),
                    };
                    let mut client = self.line_client(srv);
                    if call(self.timing.rpc_deadline, client.hunt_call(req))
                        .await
                        .is_ok()
                    {
                        taken = true;
                        break;
                    }
                }
                if !taken {
                    failed(format!(
                        "hunt group {} is not running anywhere reachable",
                        r.group
                    ));
                    return;
                }
            }
            CallKind::TwoParty | CallKind::Conference | CallKind::Held => {
                if let Err(reason) = self.reach(&r.target).await {
                    failed(reason);
                    return;
                }
            }
            _ => {}
        }
        if r.recorded {
            for vm in self.voicemail_servers() {
                let mut client = pb::voicemail_client::VoicemailClient::new(self.channel_to(&vm));
                let req = pb::RecordRequest {
                    id: format!("{}-rec", r.call),
                    duration_ms: r.duration_ms,
                };
                if call(self.timing.rpc_deadline, client.record(req))
                    .await
                    .is_ok()
                {
                    return;
                }
            }
            self.emit(Event::RecordingFailed {
                call: r.call.clone(),
                reason: "no voicemail server answered".into(),
            });
        }
    }
}
