//! Voicemail Pro and Media Manager (docs/domain-coverage.md §4).
//!
//! The primary's voicemail is active and keeps the backup's (on the
//! secondary) in sync. The backup becomes active when the primary is failed
//! over (the first of its phones registers as a guest) or on an operator's
//! "activate backup", and hands back once the primary's voicemail answers
//! again, as the failback mode says: manual, graceful (after the last active
//! voicemail call) or automatic (graceful, or at the timeout, cutting calls).
//! Every message left on the backup is kept on its disk, marked unsynced,
//! until the primary has taken it: none is lost to a crash, a restart or a
//! lost reply.
//!
//! Recordings (VRL) are archived by the primary's Media Manager; the backup
//! keeps those it makes while the primary is away and Media Manager collects
//! them (acknowledged, so at least once) when it is back.

use std::sync::Arc;
use std::time::Duration;

use fleetsim_model::{Event, Service};
use fleetsim_net::call;
use fleetsim_proto::pb;
use fleetsim_rules::services::{VmBackupObs, VmStandbyObs, VmStandbyStep, VmStep};
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::state::Shared;

type VmClient = pb::voicemail_client::VoicemailClient<tonic::transport::Channel>;

/// What this server's voicemail is to the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum VmRole {
    /// The primary's voicemail.
    Home,
    /// The server that backs up the primary's voicemail.
    Backup,
}

/// The stream of a watched message (`LeaveWatched`): dropped when the
/// message is complete, after a `cut` update when it is cut short.
type LeaveTx = tokio::sync::mpsc::UnboundedSender<Result<pb::LeaveUpdate, Status>>;

/// A voicemail call or recording in progress.
#[derive(Debug, Clone)]
pub(crate) struct VmCall {
    mailbox: String,
    recording: bool,
    /// The caller's system watching the message, if it asked to.
    watch: Option<LeaveTx>,
}

/// Voicemail state of one incarnation (what is on disk is in [`crate::Disk`]).
#[derive(Debug, Default)]
pub(crate) struct Vm {
    active: bool,
    handing_back: bool,
    calls: std::collections::BTreeMap<String, VmCall>,
    /// Backup side: the primary's voicemail has answered since.
    primary_back_since: Option<Instant>,
    /// Backup side, manual mode: the operator asked for failback.
    failback_requested: bool,
    /// Backup side: a handback is held back by messages being left (said
    /// once, when it starts waiting).
    waiting_on_messages: bool,
}

impl Shared {
    fn vm(&self) -> std::sync::MutexGuard<'_, Vm> {
        self.vm.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This server's voicemail role, if it has one.
    pub(crate) fn vm_role(&self) -> Option<VmRole> {
        if !self.spec.runs(Service::VoicemailPro) {
            return None;
        }
        if self.fleet.primary().name == self.name {
            Some(VmRole::Home)
        } else if self.fleet.voicemail_backup().map(|s| s.name.as_str()) == Some(&self.name) {
            Some(VmRole::Backup)
        } else {
            None
        }
    }

    /// Whether this server's voicemail is active now.
    pub fn voicemail_active(&self) -> bool {
        let vm = self.vm();
        vm.active && !vm.handing_back
    }

    fn set_vm_active(&self, active: bool, reason: String) {
        let mut vm = self.vm();
        // A handback under way decides for itself how it ends.
        if vm.active == active || (active && vm.handing_back) {
            return;
        }
        vm.active = active;
        if !active {
            vm.primary_back_since = None;
        }
        drop(vm);
        self.emit_service(
            Service::VoicemailPro,
            if active { "active" } else { "standby" },
            reason,
        );
    }

    /// Stands the voicemail down (a policy's rule, e.g. no quorum).
    pub(crate) fn stand_down_voicemail(&self, reason: &str) {
        if self.vm_role().is_some() && self.voicemail_active() {
            self.set_vm_active(false, reason.to_string());
        }
    }

    fn vm_client(&self, server: &str) -> VmClient {
        pb::voicemail_client::VoicemailClient::new(self.channel_to(server))
    }

    /// A voicemail call or recording ends (or is cut short, and `cut` says
    /// why): store it, and tell a watching caller's system of a cut.
    fn vm_complete(self: &Arc<Self>, id: &str, cut: Option<&str>) {
        let Some(c) = self.vm().calls.remove(id) else {
            return;
        };
        let partial = cut.is_some();
        if let (Some(tx), Some(why)) = (&c.watch, cut) {
            let _ = tx.send(Ok(pb::LeaveUpdate { cut: why.into() }));
        }
        let role = self.vm_role();
        if c.recording {
            let archived = role == Some(VmRole::Home) && self.spec.runs(Service::MediaManager);
            if archived {
                self.disk.archive([id.to_string()]);
            } else {
                self.disk.keep_recording(id);
            }
            self.emit(Event::RecordingMade {
                recording: id.to_string(),
                archived,
            });
            return;
        }
        self.disk
            .store_message(id, &c.mailbox, partial, role == Some(VmRole::Backup));
        self.emit(Event::VoicemailLeft {
            message: id.to_string(),
            mailbox: c.mailbox,
            partial,
        });
        if role == Some(VmRole::Home)
            && let Some(backup) = self.fleet.voicemail_backup().map(|s| s.name.clone())
        {
            // Keep the standby in sync, best effort: at failback the backup
            // hands back what it took, so nothing depends on this copy.
            let me = self.clone();
            let msg = self.disk.message(id);
            self.spawn(async move {
                let mut client = me.vm_client(&backup);
                let req = pb::SyncRequest {
                    from: me.name.clone(),
                    messages: msg.into_iter().collect(),
                };
                tokio::select! {
                    biased;
                    () = me.token.cancelled() => {}
                    r = call(me.timing.rpc_deadline, client.sync(req)) => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, "voicemail sync to standby failed");
                        }
                    }
                }
            });
        }
    }

    /// Starts a voicemail call or recording of `ms` emulated milliseconds.
    fn vm_begin(self: &Arc<Self>, id: String, c: VmCall, ms: u64) -> Result<(), Status> {
        let watch = c.watch.clone();
        // The longest message or recording taken: a day.
        const MAX_MS: u64 = 86_400_000;
        if ms == 0 || ms > MAX_MS || id.is_empty() {
            return Err(Status::invalid_argument(format!(
                "a message or recording needs an id and a length from 1 ms to {MAX_MS} ms, got {ms} ms"
            )));
        }
        {
            let mut vm = self.vm();
            if !vm.active || vm.handing_back {
                return Err(Status::failed_precondition(format!(
                    "{}: voicemail is on standby",
                    self.name
                )));
            }
            if vm.calls.contains_key(&id) || self.disk.message(&id).is_some() {
                return Err(Status::already_exists(format!("{id} already taken")));
            }
            vm.calls.insert(id.clone(), c);
        }
        let me = self.clone();
        let d = self.clock().to_runtime(Duration::from_millis(ms));
        self.spawn(async move {
            tokio::select! {
                biased;
                // A crash cuts the call: nothing was left.
                () = me.token.cancelled() => {}
                () = tokio::time::sleep(d) => me.vm_complete(&id, None),
                // A watching caller's system gone (crashed, cut off): the
                // caller is gone with it, and the message ends there.
                () = watch_closed(watch) => {
                    me.vm_complete(&id, Some("the caller's system went away"));
                }
            }
        });
        Ok(())
    }

    /// A caller starts leaving a message, watched by its system or not.
    fn vm_leave(
        self: &Arc<Self>,
        r: pb::LeaveRequest,
        watch: Option<LeaveTx>,
    ) -> Result<(), Status> {
        let c = VmCall {
            mailbox: r.mailbox,
            recording: false,
            watch,
        };
        self.vm_begin(r.id, c, r.duration_ms)
    }

    /// Messages and recordings in progress: (messages, recordings).
    pub(crate) fn vm_in_progress(&self) -> (u32, u32) {
        let vm = self.vm();
        let recordings = vm.calls.values().filter(|c| c.recording).count() as u32;
        (vm.calls.len() as u32 - recordings, recordings)
    }

    /// Operator action (manual mode): fail back as soon as the primary's
    /// voicemail answers and no message is being left.
    /// Operator action: manual failback of the active backup voicemail
    /// (done once the primary's answers). A backup that is not active has
    /// nothing to hand back: the request is refused, and the event says
    /// why, rather than left to act in a later outage.
    pub(crate) fn vm_request_failback(&self) -> bool {
        if self.vm_role() != Some(VmRole::Backup) {
            return false;
        }
        if !self.voicemail_active() {
            let primary = &self.fleet.primary().name;
            self.emit_service(
                Service::VoicemailPro,
                "standby",
                format!("manual failback refused: this backup is not active, {primary}'s voicemail holds the mailboxes"),
            );
            return false;
        }
        let first = !std::mem::replace(&mut self.vm().failback_requested, true);
        if first {
            let primary = &self.fleet.primary().name;
            self.emit_service(
                Service::VoicemailPro,
                "active",
                format!("manual failback requested: hands back once {primary}'s voicemail answers and no message is being left here"),
            );
        }
        true
    }

    /// Operator action: the backup voicemail becomes active now, unless
    /// the primary's answers as active (two active voicemails would split
    /// the mailboxes): then the action is refused, and the event says why.
    pub(crate) fn vm_activate_backup(self: &Arc<Self>) -> bool {
        if self.vm_role() != Some(VmRole::Backup) {
            return false;
        }
        let me = self.clone();
        self.spawn(async move {
            let primary = me.fleet.primary().name.clone();
            if me.voicemail_active() {
                me.emit_service(
                    Service::VoicemailPro,
                    "active",
                    "activate backup changed nothing: this backup is already active",
                );
                return;
            }
            if voicemail_state(&me, &primary).await == Some(true) {
                me.emit_service(
                    Service::VoicemailPro,
                    "standby",
                    format!("activate backup refused: {primary}'s voicemail is active"),
                );
                return;
            }
            me.set_vm_active(true, "activated by the operator (activate backup)".into());
        });
        true
    }
}

/// Resolves when the caller's system watching a message stops listening;
/// never for an unwatched one.
async fn watch_closed(watch: Option<LeaveTx>) {
    match watch {
        Some(tx) => tx.closed().await,
        None => std::future::pending().await,
    }
}

/// The primary has been failed over here: the backup voicemail takes over.
pub(crate) fn on_failover(shared: &Shared, why: &str) {
    if shared.vm_role() == Some(VmRole::Backup) {
        shared.set_vm_active(true, format!("primary failed over: {why}"));
    }
}

/// Hands the backup's voicemail back to the primary's; `cut` ends calls in
/// progress (keeping what was recorded). Returns whether it was handed back.
pub(crate) async fn handback(shared: &Arc<Shared>, mode: &str, cut: bool) -> bool {
    // Voicemail calls (messages being left) hold a graceful failback back;
    // call recordings in progress do not: they finish here and are kept for
    // Media Manager to collect.
    let cut_ids: Vec<String> = {
        let mut vm = shared.vm();
        let messages: Vec<String> = vm
            .calls
            .iter()
            .filter(|(_, c)| !c.recording)
            .map(|(id, _)| id.clone())
            .collect();
        if !vm.active || vm.handing_back {
            return false;
        }
        if !cut && !messages.is_empty() {
            if !std::mem::replace(&mut vm.waiting_on_messages, true) {
                drop(vm);
                say_handback_waits(shared, mode, messages.len());
            }
            return false;
        }
        vm.waiting_on_messages = false;
        vm.handing_back = true;
        messages
    };
    let cut_calls = cut_ids.len() as u32;
    let why = format!("the {mode} voicemail failback cut it short");
    for id in &cut_ids {
        shared.vm_complete(id, Some(&why));
    }
    let primary = shared.fleet.primary().name.clone();
    // Standby first, so the two are never active at once; back to active if
    // the primary does not take over.
    shared.set_vm_active(false, format!("handing back to {primary}"));
    let messages = shared.disk.unsynced();
    let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
    let mut client = shared.vm_client(&primary);
    let req = pb::TakeBackRequest {
        from: shared.name.clone(),
        messages,
    };
    let reply = call(shared.timing.rpc_deadline, client.take_back(req)).await;
    // Only what the primary confirmed counts as handed back; the rest stays
    // marked unsynced here and goes by the late sync.
    let confirmed = reply.as_ref().map_or(0, |r| r.get_ref().taken);
    if reply.is_err() {
        // The reply may be what was lost: if the primary is active, it took
        // over; the messages stay marked unsynced and go by the late sync.
        let taken = backup_is_active(shared, &primary).await;
        shared.vm().handing_back = false;
        if !taken {
            shared.set_vm_active(true, format!("{primary} did not take back; stays active"));
            return false;
        }
    } else {
        shared.vm().handing_back = false;
        shared.disk.mark_synced(&ids);
    }
    shared.vm().failback_requested = false;
    shared.emit(Event::VoicemailHandback {
        messages: confirmed,
        cut_calls,
        mode: mode.into(),
    });
    true
}

/// The backup's word when a `mode` handback starts waiting for the
/// `messages` being left here.
fn say_handback_waits(shared: &Shared, mode: &str, messages: usize) {
    let n = fleetsim_model::words::counted(messages, "message", "messages");
    let until = if mode == "automatic" {
        ", until its timeout cuts them"
    } else {
        ""
    };
    shared.emit_service(
        Service::VoicemailPro,
        "active",
        format!("{mode} failback waits: {n} being left here{until}"),
    );
}

/// Starts the voicemail: decides active or standby, then (backup) watches
/// for the primary's return, or (home, standby) for the backup's handback.
pub(crate) async fn run(shared: Arc<Shared>, phase: Duration) {
    let Some(role) = shared.vm_role() else {
        shared.emit_service(Service::VoicemailPro, "standby", "backs up no voicemail");
        return;
    };
    let backup = shared.fleet.voicemail_backup().map(|s| s.name.clone());
    let primary = shared.fleet.primary().name.clone();
    let res = &shared.fleet.resilience;
    match role {
        VmRole::Home => {
            let backup_active = match &backup {
                Some(b) => backup_is_active(&shared, b).await,
                None => false,
            };
            if backup_active {
                // Not active yet: the backup hands back (with its messages),
                // unless that already happened while we asked.
                if !shared.voicemail_active() {
                    shared.emit_service(
                        Service::VoicemailPro,
                        "standby",
                        "the backup voicemail is active; waiting for it to hand back",
                    );
                }
            } else {
                shared.set_vm_active(true, "primary voicemail".into());
            }
        }
        VmRole::Backup => shared.emit_service(
            Service::VoicemailPro,
            "standby",
            format!("standby for {primary}, kept in sync while both run"),
        ),
    }
    let every = shared.timing.presence_interval;
    let timeout = shared.runtime(res.voicemail_failback_timeout);
    let mode = res.voicemail_failback;
    let mut tick = tokio::time::interval_at(Instant::now() + phase, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut collected: Vec<String> = Vec::new();
    let mut next_collect = Instant::now() + phase;
    loop {
        tick.tick().await;
        match role {
            VmRole::Home => {
                let active = shared.vm().active;
                if !active
                    && shared.may_run_shared_services()
                    && let Some(b) = &backup
                    && !backup_is_active(&shared, b).await
                {
                    shared.set_vm_active(true, format!("backup voicemail on {b} is not active"));
                }
                if shared.spec.runs(Service::MediaManager)
                    && let Some(b) = &backup
                    && Instant::now() >= next_collect
                {
                    next_collect = Instant::now() + shared.runtime(res.media_collect_interval);
                    collected = collect(&shared, b, std::mem::take(&mut collected)).await;
                }
            }
            VmRole::Backup => {
                let active = shared.vm().active;
                if !active {
                    // Messages that missed the handback (finished while it
                    // was under way, or kept across a restart) go now.
                    let late = shared.disk.unsynced();
                    if !late.is_empty() {
                        let ids: Vec<String> = late.iter().map(|m| m.id.clone()).collect();
                        let mut client = shared.vm_client(&primary);
                        let req = pb::SyncRequest {
                            from: shared.name.clone(),
                            messages: late,
                        };
                        if call(shared.timing.rpc_deadline, client.sync(req))
                            .await
                            .is_ok()
                        {
                            shared.disk.mark_synced(&ids);
                            shared.emit(Event::VoicemailSynced {
                                to: primary.clone(),
                                messages: ids.len() as u32,
                            });
                        }
                    }
                    standby_step(&shared, &primary).await;
                    continue;
                }
                // Read after the query: it may take up to a deadline.
                let answer = voicemail_state(&shared, &primary).await;
                // One lock, released before the policy decides.
                let (failback_requested, back_since) = {
                    let vm = shared.vm();
                    (vm.failback_requested, vm.primary_back_since)
                };
                let obs = VmBackupObs {
                    now: shared.at(Instant::now()),
                    primary: answer,
                    mode,
                    failback_requested,
                    back_since: back_since.map(|i| shared.at(i)),
                    timeout,
                };
                let (back_since, step) = shared.policy.voicemail_backup(&obs);
                shared.vm().primary_back_since = back_since.map(|d| shared.instant(d));
                match step {
                    VmStep::Handback { mode, cut } => {
                        handback(&shared, mode.as_str(), cut).await;
                    }
                    // A later wait for messages is a new one, said again.
                    VmStep::Wait => shared.vm().waiting_on_messages = false,
                }
            }
        }
    }
}

/// The standby backup asks the rules whether the primary's users held here
/// (guests) are left without voicemail; the primary's voicemail is asked only
/// when the answer could matter (guests here, the primary lost).
async fn standby_step(shared: &Arc<Shared>, primary: &str) {
    let (guests, primary_lost) = shared.holds_users_of(primary);
    if guests == 0 || !primary_lost || !shared.may_run_shared_services() {
        return;
    }
    let obs = VmStandbyObs {
        guests,
        primary_lost,
        primary: voicemail_state(shared, primary).await,
    };
    if let VmStandbyStep::Activate { guests } = shared.policy.voicemail_standby(&obs) {
        shared.set_vm_active(
            true,
            format!("{primary} lost again with its voicemail silent; {guests} of its phones are still guests here"),
        );
    }
}

/// Whether `server`'s voicemail answers and is active.
async fn backup_is_active(shared: &Shared, server: &str) -> bool {
    voicemail_state(shared, server).await == Some(true)
}

/// `Some(active)` if `server`'s voicemail answers.
async fn voicemail_state(shared: &Shared, server: &str) -> Option<bool> {
    let mut client = pb::voicemail_client::VoicemailClient::new(shared.status_channel(server));
    call(
        shared.timing.rpc_deadline,
        client.status(pb::VoicemailStatusRequest {}),
    )
    .await
    .ok()
    .map(|r| r.get_ref().active)
}

/// Media Manager collects the recordings `from` kept, acknowledging the last
/// batch; returns this batch (to acknowledge next time).
async fn collect(shared: &Shared, from: &str, ack: Vec<String>) -> Vec<String> {
    let mut client = shared.vm_client(from);
    let req = pb::CollectRequest { ack: ack.clone() };
    match call(shared.timing.rpc_deadline, client.collect(req)).await {
        Ok(r) => {
            let ids = r.into_inner().recordings;
            let new = shared.disk.archive(ids.iter().cloned());
            if new > 0 {
                shared.emit(Event::RecordingsCollected {
                    from: from.to_string(),
                    recordings: new,
                });
            }
            ids
        }
        // Not acknowledged: ask again with the same batch next time.
        Err(_) => ack,
    }
}

/// `Voicemail` over a server's shared state.
#[derive(Debug)]
pub(crate) struct VoicemailSvc(pub(crate) Arc<Shared>);

#[tonic::async_trait]
impl pb::voicemail_server::Voicemail for VoicemailSvc {
    async fn leave(
        &self,
        req: Request<pb::LeaveRequest>,
    ) -> Result<Response<pb::LeaveReply>, Status> {
        self.0.stats.rpc();
        self.0.vm_leave(req.into_inner(), None)?;
        Ok(Response::new(pb::LeaveReply {}))
    }

    type LeaveWatchedStream =
        tokio_stream::wrappers::UnboundedReceiverStream<Result<pb::LeaveUpdate, Status>>;

    async fn leave_watched(
        &self,
        req: Request<pb::LeaveRequest>,
    ) -> Result<Response<Self::LeaveWatchedStream>, Status> {
        self.0.stats.rpc();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        // Taken: the first update.
        let _ = tx.send(Ok(pb::LeaveUpdate::default()));
        self.0.vm_leave(req.into_inner(), Some(tx))?;
        Ok(Response::new(
            tokio_stream::wrappers::UnboundedReceiverStream::new(rx),
        ))
    }

    async fn record(
        &self,
        req: Request<pb::RecordRequest>,
    ) -> Result<Response<pb::RecordReply>, Status> {
        self.0.stats.rpc();
        let r = req.into_inner();
        self.0.vm_begin(
            r.id,
            VmCall {
                mailbox: String::new(),
                recording: true,
                watch: None,
            },
            r.duration_ms,
        )?;
        Ok(Response::new(pb::RecordReply {}))
    }

    async fn status(
        &self,
        _req: Request<pb::VoicemailStatusRequest>,
    ) -> Result<Response<pb::VoicemailStatusReply>, Status> {
        self.0.stats.rpc();
        Ok(Response::new(pb::VoicemailStatusReply {
            server: self.0.name.clone(),
            active: self.0.voicemail_active(),
        }))
    }

    async fn take_back(
        &self,
        req: Request<pb::TakeBackRequest>,
    ) -> Result<Response<pb::TakeBackReply>, Status> {
        self.0.stats.rpc();
        if self.0.vm_role() != Some(VmRole::Home) {
            return Err(Status::failed_precondition(format!(
                "{} is not the primary's voicemail",
                self.0.name
            )));
        }
        let r = req.into_inner();
        let n = r.messages.len() as u32;
        for m in &r.messages {
            self.0
                .disk
                .store_message(&m.id, &m.mailbox, m.partial, false);
        }
        self.0.set_vm_active(
            true,
            format!(
                "{} handed back with {}",
                r.from,
                fleetsim_model::words::counted(n as usize, "message", "messages")
            ),
        );
        Ok(Response::new(pb::TakeBackReply { taken: n }))
    }

    async fn sync(&self, req: Request<pb::SyncRequest>) -> Result<Response<pb::SyncReply>, Status> {
        self.0.stats.rpc();
        if self.0.vm_role().is_none() {
            return Err(Status::failed_precondition("no voicemail role"));
        }
        for m in req.into_inner().messages {
            self.0
                .disk
                .store_message(&m.id, &m.mailbox, m.partial, false);
        }
        Ok(Response::new(pb::SyncReply {}))
    }

    async fn activate_backup(
        &self,
        _req: Request<pb::ActivateBackupRequest>,
    ) -> Result<Response<pb::ActivateBackupReply>, Status> {
        self.0.stats.rpc();
        if !self.0.vm_activate_backup() {
            return Err(Status::failed_precondition(format!(
                "{} does not back up the primary's voicemail",
                self.0.name
            )));
        }
        Ok(Response::new(pb::ActivateBackupReply {}))
    }

    async fn manual_failback(
        &self,
        _req: Request<pb::VoicemailFailbackRequest>,
    ) -> Result<Response<pb::VoicemailFailbackReply>, Status> {
        self.0.stats.rpc();
        if self.0.vm_role() != Some(VmRole::Backup) {
            return Err(Status::failed_precondition(format!(
                "{} does not back up the primary's voicemail",
                self.0.name
            )));
        }
        if !self.0.vm_request_failback() {
            return Err(Status::failed_precondition(format!(
                "the backup voicemail on {} is not active",
                self.0.name
            )));
        }
        Ok(Response::new(pb::VoicemailFailbackReply {}))
    }

    async fn collect(
        &self,
        req: Request<pb::CollectRequest>,
    ) -> Result<Response<pb::CollectReply>, Status> {
        self.0.stats.rpc();
        let recordings = self.0.disk.collect(&req.into_inner().ack);
        Ok(Response::new(pb::CollectReply { recordings }))
    }
}

/// `MediaManager` on the primary: archives recordings.
#[derive(Debug)]
pub(crate) struct MediaSvc(pub(crate) Arc<Shared>);

#[tonic::async_trait]
impl pb::media_manager_server::MediaManager for MediaSvc {
    async fn archive(
        &self,
        req: Request<pb::ArchiveRequest>,
    ) -> Result<Response<pb::ArchiveReply>, Status> {
        self.0.stats.rpc();
        self.0.disk.archive(req.into_inner().recordings);
        Ok(Response::new(pb::ArchiveReply {}))
    }
}

/// `Collaboration` on the primary.
#[derive(Debug)]
pub(crate) struct CollabSvc(pub(crate) Arc<Shared>);

#[tonic::async_trait]
impl pb::collaboration_server::Collaboration for CollabSvc {
    async fn join(
        &self,
        _req: Request<pb::JoinRequest>,
    ) -> Result<Response<pb::JoinReply>, Status> {
        self.0.stats.rpc();
        Ok(Response::new(pb::JoinReply {}))
    }
}
