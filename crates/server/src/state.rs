//! What a server remembers, and the resilience rules it applies to it.
//!
//! Everything here lives in memory only: a crash drops it, as on the real
//! system, where a backup that restarts during failover loses the copies of
//! the records it was keeping.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use fleetsim_model::{Event, Fleet, PhoneKind, ServerSpec, human_ms, human_ms_beside};
use fleetsim_net::{Clock, EventLog, Net, Timing};
use fleetsim_rules::{
    GuestObs, HomeObs, HuntBackupObs, HuntChange, HuntHomeObs, PeerCtx, PeerDecision, PeerView,
    Refusal, TakeoverPolicy, Timers, Visibility, hunt,
};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{Ctx, Disk, ServerConfig, Stats};
use fleetsim_proto::pb;
use tokio_util::sync::CancellationToken;

/// Server clocks read true time plus this base plus their offset, so that a
/// step back (offsets are limited to a day) never goes below the runtime's
/// earliest instant, whatever the machine's uptime: same seed, same run.
const LOCAL_BASE: std::time::Duration = std::time::Duration::from_secs(25 * 3600);

fn shift(t: Instant, ms: i64) -> Instant {
    let d = std::time::Duration::from_millis(ms.unsigned_abs());
    if ms >= 0 {
        t + d
    } else {
        t.checked_sub(d).unwrap_or(t)
    }
}

/// `server`'s clock: true time stepped by its offset (a clock-offset fault).
fn local_now(net: &Net, server: &str) -> Instant {
    // tokio's Instant: virtual (paused) time in sim mode, so this replays.
    shift(Instant::now() + LOCAL_BASE, net.clock_offset(server))
}

/// Why a keepalive is not answered.
#[derive(Debug)]
pub(crate) enum NoKeepalive {
    /// The phone is not registered here.
    Unknown,
    /// Its registration ends now, for this reason (the policy's refusal).
    Refused(String),
}

/// A phone registered here.
#[derive(Debug, Clone)]
pub(crate) struct Reg {
    pub home: String,
    pub guest: bool,
    pub kind: PhoneKind,
    /// When it registered.
    pub since: Instant,
    /// Registration or last keepalive, on the monotonic clock: registration
    /// expiry is a timer, which a step of the server's wall clock does not move.
    pub refreshed: Instant,
}

/// The sender of a call's update stream to its phone.
pub(crate) type CallTx = tokio::sync::mpsc::UnboundedSender<Result<pb::CallUpdate, tonic::Status>>;

/// A call set up here.
#[derive(Debug)]
pub(crate) struct CallEntry {
    /// The calling extension.
    pub phone: String,
    /// Tells the phone when this system ends the call itself.
    pub tx: CallTx,
    /// Still being set up (routed to its called phone, group, voicemail
    /// or trunk): a hangup now ends it only once its setup is over.
    pub setting_up: bool,
    /// The caller hung up during the setup.
    pub hung_up: bool,
}

/// Records held for a home system this server backs up.
#[derive(Debug, Default)]
pub(crate) struct Held {
    pub version: u64,
    pub phones: BTreeSet<String>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub peers: BTreeMap<String, PeerView>,
    pub regs: BTreeMap<String, Reg>,
    pub held: BTreeMap<String, Held>,
    /// Hunt groups each peer advertises (memory only, like the records).
    pub advertised: BTreeMap<String, Vec<String>>,
    /// Hunt groups running here now: group → home.
    pub hunt: BTreeMap<String, String>,
    /// Calls set up here: call id → the call.
    pub calls: BTreeMap<String, CallEntry>,
    /// External calls set up here: call id → the V2 whose trunk carries it.
    pub trunk_of: BTreeMap<String, String>,
    /// Trunks seized here (IP500 V2): call id → trunk number.
    pub trunks: BTreeMap<String, u32>,
}

/// One server incarnation's identity, configuration and state.
#[derive(Debug)]
pub struct Shared {
    pub(crate) name: String,
    pub(crate) spec: ServerSpec,
    pub(crate) fleet: Arc<Fleet>,
    pub(crate) incarnation: u64,
    pub(crate) timing: Timing,
    pub(crate) net: Net,
    pub(crate) log: EventLog,
    pub(crate) stats: Arc<Stats>,
    /// Phones of this server its backup keeps records of.
    pub(crate) my_records: Vec<(String, PhoneKind)>,
    /// This incarnation's life: cancelled when it dies.
    pub(crate) token: CancellationToken,
    /// Cancelled when a graceful stop begins: long-lived keepalive streams
    /// end, as new requests on a closing connection are refused.
    pub(crate) draining: CancellationToken,
    /// What survives a restart.
    pub(crate) disk: Disk,
    /// Licence state (docs/domain-coverage.md §4).
    pub(crate) licence: Mutex<crate::licensing::Licence>,
    /// Voicemail Pro, when this server runs it.
    pub(crate) vm: Mutex<crate::voicemail::Vm>,
    /// one-X Portal, when this server runs it.
    pub(crate) portal: Mutex<crate::portal::PortalState>,
    /// The takeover policy deciding for this server.
    pub(crate) policy: Arc<dyn TakeoverPolicy>,
    /// The rule timers, in runtime units.
    pub(crate) timers: Timers,
    /// The run's start: rule times are measured from it.
    started: Instant,
    /// Wakes a peer's watchdog when the peer is heard again.
    notify: BTreeMap<String, Arc<Notify>>,
    /// Line clients to peers, made on first use.
    lines: Mutex<BTreeMap<String, LineClient>>,
    state: Mutex<State>,
    /// Phones whose keepalive stream is open here.
    pub(crate) watchers: crate::watch::Watchers,
    /// Channels for status queries to peers ([`Shared::status_channel`]).
    status_channels: Mutex<BTreeMap<String, tonic::transport::Channel>>,
}

/// A `Line` client.
pub(crate) type LineClient = pb::line_client::LineClient<tonic::transport::Channel>;

impl Shared {
    pub(crate) fn new(
        cfg: &ServerConfig,
        spec: ServerSpec,
        ctx: &Ctx,
        token: CancellationToken,
        disk: Disk,
    ) -> Shared {
        let started = ctx.log.clock().started();
        let now = local_now(&ctx.net, &cfg.name).saturating_duration_since(started);
        let names = cfg.fleet.line_peers(&cfg.name);
        let peers = names
            .iter()
            .map(|p| (p.clone(), PeerView::new(now)))
            .collect();
        let notify = names
            .into_iter()
            .map(|p| (p, Arc::new(Notify::new())))
            .collect();
        let homeless = ctx
            .log
            .clock()
            .to_runtime(cfg.fleet.resilience.homeless_prevention.0)
            .max(std::time::Duration::from_millis(1));
        let timers = rule_timers(&cfg.timing, homeless);
        // Records follow the line's options: IP phones, and IP DECT phones.
        let my_records = cfg
            .fleet
            .phones_of(&cfg.name)
            .filter(|p| spec.backup_for_kind(p.kind).is_some())
            .map(|p| (p.extension.clone(), p.kind))
            .collect();
        // A restarted home waits for its backup's word before running its
        // hunt groups again: the backup may be running them (failed over).
        let hunt_backup = spec
            .backup_with(fleetsim_model::BackupOption::HuntGroups)
            .is_some();
        let own: Vec<String> = cfg
            .fleet
            .hunt_groups
            .iter()
            .filter(|g| g.home == cfg.name)
            .map(|g| g.name.clone())
            .collect();
        let hunt = hunt::at_start(&cfg.name, &own, cfg.incarnation == 1, hunt_backup);
        Shared {
            name: cfg.name.clone(),
            spec,
            fleet: cfg.fleet.clone(),
            incarnation: cfg.incarnation,
            timing: cfg.timing,
            net: ctx.net.clone(),
            log: ctx.log.clone(),
            stats: ctx.stats.clone(),
            my_records,
            token,
            draining: CancellationToken::new(),
            disk,
            licence: Mutex::new(crate::licensing::Licence::default()),
            vm: Mutex::new(crate::voicemail::Vm::default()),
            portal: Mutex::new(crate::portal::PortalState::default()),
            policy: ctx.policy.clone(),
            timers,
            started,
            notify,
            lines: Mutex::new(BTreeMap::new()),
            watchers: Default::default(),
            status_channels: Mutex::new(BTreeMap::new()),
            state: Mutex::new(State {
                peers,
                hunt,
                ..State::default()
            }),
        }
    }

    /// A `Line` client to `peer`, made on first use.
    pub(crate) fn line_client(&self, peer: &str) -> LineClient {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines
            .entry(peer.to_string())
            .or_insert_with(|| {
                LineClient::new(fleetsim_net::channel(
                    &self.net,
                    &self.name,
                    &self.token,
                    peer,
                    self.timing.channel(),
                ))
            })
            .clone()
    }

    /// The channel to `peer` that status queries (is its voicemail or
    /// portal active?) share, made on first use: a query every presence
    /// interval to a peer down for a month made as many channels, each with
    /// a task of its own. Only read-only queries use it: a request held by a
    /// cut on a kept connection may still arrive after the cut heals.
    pub(crate) fn status_channel(&self, peer: &str) -> tonic::transport::Channel {
        let mut kept = self
            .status_channels
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        kept.entry(peer.to_string())
            .or_insert_with(|| self.channel_to(peer))
            .clone()
    }

    /// A channel to `peer` for another service.
    pub(crate) fn channel_to(&self, peer: &str) -> tonic::transport::Channel {
        fleetsim_net::channel(
            &self.net,
            &self.name,
            &self.token,
            peer,
            self.timing.channel(),
        )
    }

    /// A fleet duration in this run's runtime units.
    pub(crate) fn runtime(&self, d: fleetsim_model::Dur) -> std::time::Duration {
        self.clock()
            .to_runtime(d.0)
            .max(std::time::Duration::from_millis(1))
    }

    /// Hunt groups stored here (advertised to every peer).
    pub(crate) fn own_hunt_groups(&self) -> Vec<String> {
        self.fleet
            .hunt_groups
            .iter()
            .filter(|g| g.home == self.name)
            .map(|g| g.name.clone())
            .collect()
    }

    /// Groups of `home` this server runs now (as its backup).
    pub(crate) fn hunt_groups_run_for(&self, home: &str) -> Vec<String> {
        hunt::run_for(&self.lock().hunt, home)
    }

    /// The backup `backup` says it runs `theirs` of this server's hunt
    /// groups: the policy says which of its own to start or stop here.
    pub(crate) fn own_hunt_groups_elsewhere(&self, theirs: &[String], backup: &str) {
        let own = self.own_hunt_groups();
        let mut st = self.lock();
        let obs = HuntHomeObs {
            home: &self.name,
            own: &own,
            theirs,
            running: &st.hunt,
            visibility: Visibility::from_lost(st.peers.values().map(|p| p.lost)),
        };
        let changes = self.policy.hunt_groups_home(&obs);
        hunt::apply(&mut st.hunt, &changes);
        drop(st);
        for c in changes {
            tracing::debug!(group = %c.group, active = c.active, %backup, "own hunt group");
            self.emit_hunt(c);
        }
    }

    /// A hunt group started or stopped running here.
    fn emit_hunt(&self, c: HuntChange) {
        self.emit(Event::HuntGroupState {
            group: c.group,
            home: c.home,
            active: c.active,
        });
    }

    /// Whether hunt group `group` runs here now.
    pub(crate) fn runs_hunt_group(&self, group: &str) -> bool {
        self.lock().hunt.contains_key(group)
    }

    /// At failover (`failover`) or failback: the policy says which of
    /// `home`'s advertised hunt groups to start or stop running here.
    fn set_guest_hunt_groups(&self, home: &str, failover: bool) {
        let backs_up_groups = self
            .fleet
            .server(home)
            .and_then(|s| s.backup_with(fleetsim_model::BackupOption::HuntGroups))
            == Some(self.name.as_str());
        let mut st = self.lock();
        let advertised = st.advertised.get(home).cloned().unwrap_or_default();
        let obs = HuntBackupObs {
            home,
            backs_up_groups,
            advertised: &advertised,
            running: &st.hunt,
            failover,
        };
        let changes = self.policy.hunt_groups_backup(&obs);
        hunt::apply(&mut st.hunt, &changes);
        drop(st);
        for c in changes {
            self.emit_hunt(c);
        }
    }

    /// This server's own idea of now: true time plus its clock offset.
    pub(crate) fn now(&self) -> Instant {
        local_now(&self.net, &self.name)
    }

    /// An instant as the rules read it: time since the run's start.
    pub(crate) fn at(&self, i: Instant) -> std::time::Duration {
        i.saturating_duration_since(self.started)
    }

    /// The instant the rules mean by `d`.
    pub(crate) fn instant(&self, d: std::time::Duration) -> Instant {
        self.started + d
    }

    /// Whether the policy lets this server run the services only one
    /// system may run at a time, seeing what it sees of its peers now.
    pub(crate) fn may_run_shared_services(&self) -> bool {
        self.policy.run_shared_services(self.visibility())
    }

    /// A peer was lost or failed back: under a policy that stands shared
    /// services down without a majority, do so now (the default never does).
    fn apply_visibility(&self) {
        let v = self.visibility();
        if self.policy.run_shared_services(v) {
            return;
        }
        let why = format!(
            "no quorum: sees {} of {} systems (itself and its line peers); stands down",
            v.visible, v.electorate
        );
        self.stand_down_voicemail(&why);
        self.stand_down_portal(&why);
        self.stand_down_hunt_groups();
    }

    /// Stops running every hunt group that could run elsewhere.
    fn stand_down_hunt_groups(&self) {
        let movable = |home: &str| {
            self.fleet
                .server(home)
                .and_then(|s| s.backup_with(fleetsim_model::BackupOption::HuntGroups))
                .is_some()
        };
        let mut st = self.lock();
        let gone = hunt::stand_down(&st.hunt, movable);
        hunt::apply(&mut st.hunt, &gone);
        drop(st);
        for c in gone {
            self.emit_hunt(c);
        }
    }

    /// This server's clock as the rules read it.
    pub(crate) fn rules_now(&self) -> std::time::Duration {
        self.at(self.now())
    }

    /// The runtime instant at which this server's clock reads `local`.
    pub(crate) fn to_runtime(&self, local: Instant) -> Instant {
        let t = shift(local, -self.net.clock_offset(&self.name));
        t.checked_sub(LOCAL_BASE).unwrap_or(t)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn clock(&self) -> Clock {
        self.log.clock()
    }

    fn ms(&self, d: std::time::Duration) -> u64 {
        self.clock().to_emulated_ms(d)
    }

    pub(crate) fn emit(&self, event: Event) {
        self.log.emit(&self.name, event);
    }

    /// A service here changed state (`active`, `standby`), and why.
    pub(crate) fn emit_service(
        &self,
        service: fleetsim_model::Service,
        state: &str,
        reason: impl Into<String>,
    ) {
        self.emit(Event::ServiceState {
            service: service.as_str().into(),
            state: state.into(),
            reason: reason.into(),
        });
    }

    /// Whether this server is `home`'s backup system (whatever the line backs up).
    pub(crate) fn backs_up(&self, home: &str) -> bool {
        self.fleet
            .server(home)
            .and_then(|s| s.backup.as_ref())
            .is_some_and(|b| b.server == self.name)
    }

    /// Whether this server backs up `home`'s phones of `kind`.
    fn backs_up_kind(&self, home: &str, kind: PhoneKind) -> bool {
        self.fleet
            .server(home)
            .and_then(|s| s.backup_for_kind(kind))
            == Some(self.name.as_str())
    }

    /// Phones registered here: (extension, guest).
    pub fn registrations(&self) -> Vec<(String, bool)> {
        self.lock()
            .regs
            .iter()
            .map(|(e, r)| (e.clone(), r.guest))
            .collect()
    }

    /// A presence update from `from` (incarnation `incarnation`) arrived.
    /// Returns the version of `from`'s records held here, or `None` if there
    /// is no line to `from`.
    pub(crate) fn on_presence(
        &self,
        from: &str,
        incarnation: u64,
        hunt_groups: Vec<String>,
    ) -> Option<u64> {
        let now = self.rules_now();
        let mut st = self.lock();
        let held = st.held.get(from).map_or(0, |h| h.version);
        if st.peers.contains_key(from) {
            st.advertised.insert(from.to_string(), hunt_groups);
        }
        let p = st.peers.get_mut(from)?;
        let returned = self.policy.heard(p, now, incarnation, &self.timers);
        drop(st);
        if let Some(r) = returned {
            self.notify_watchdog(from);
            self.emit(Event::PeerReturned {
                peer: from.to_string(),
                silent_for_ms: self.ms(r.silent),
            });
        }
        Some(held)
    }

    fn notify_watchdog(&self, peer: &str) {
        if let Some(n) = self.notify.get(peer) {
            n.notify_one();
        }
    }

    /// Drops registrations the policy says have expired (by default: not
    /// refreshed for two keepalive intervals plus a deadline): the phone has
    /// gone elsewhere or cannot reach this server.
    pub(crate) fn expire_registrations(&self) {
        // Monotonic time (see `Reg::refreshed`), not the server's clock.
        let now = self.at(Instant::now());
        let mut st = self.lock();
        let expired: Vec<(String, Reg)> = st
            .regs
            .iter()
            .filter(|(_, r)| self.policy.expired(self.at(r.refreshed), now, &self.timers))
            .map(|(e, r)| (e.clone(), r.clone()))
            .collect();
        for (e, _) in &expired {
            st.regs.remove(e);
        }
        drop(st);
        for (phone, r) in expired {
            self.emit(Event::RegistrationExpired {
                phone,
                home: r.home,
                guest: r.guest,
                silent_for_ms: self.ms(now.saturating_sub(self.at(r.refreshed))),
            });
        }
    }

    /// Records of `home`'s phones arrived.
    pub(crate) fn on_replicate(
        &self,
        home: &str,
        version: u64,
        phones: Vec<String>,
    ) -> Result<u32, String> {
        if !self.backs_up(home) {
            return Err(format!(
                "{} is not {home}'s backup for IP phones",
                self.name
            ));
        }
        let n = phones.len() as u32;
        let mut st = self.lock();
        let held = st.held.entry(home.to_string()).or_default();
        if held.version == version {
            return Ok(n);
        }
        held.version = version;
        held.phones = phones.into_iter().collect();
        drop(st);
        self.emit(Event::RecordsReplicated {
            home: home.to_string(),
            phones: n,
        });
        Ok(n)
    }

    /// The watchdog's next deadline for `peer`, or `None` to wait for a notify.
    pub(crate) fn next_deadline(&self, peer: &str) -> (Option<Instant>, Arc<Notify>) {
        let now = self.rules_now();
        let notify = self.notify.get(peer).cloned();
        let mut st = self.lock();
        let (Some(p), Some(notify)) = (st.peers.get_mut(peer), notify) else {
            return (None, Arc::new(Notify::new()));
        };
        // A deadline past what a clock can hold (a policy that never fails
        // over) is no deadline: wait for presence.
        let d = self.policy.deadline(p, now, &self.timers);
        let at = d.and_then(|d| self.started.checked_add(d));
        (at.map(|at| self.to_runtime(at)), notify)
    }

    /// How much of its line peers this server sees now.
    pub(crate) fn visibility(&self) -> Visibility {
        Visibility::from_lost(self.lock().peers.values().map(|p| p.lost))
    }

    /// Applies the policy's failover and failback rules to `peer` now.
    pub(crate) fn evaluate(&self, peer: &str) {
        let now = self.rules_now();
        let backing_up = self.backs_up(peer);
        let mut st = self.lock();
        let records_held = st.held.get(peer).map_or(0, |h| h.phones.len() as u32);
        let guests = st
            .regs
            .values()
            .filter(|r| r.guest && r.home == peer)
            .count() as u32;
        let visibility = Visibility::from_lost(st.peers.values().map(|p| p.lost));
        let Some(p) = st.peers.get_mut(peer) else {
            return;
        };
        let ctx = PeerCtx {
            now,
            peer,
            backing_up,
            records_held,
            guests,
            visibility,
            timers: &self.timers,
        };
        let decision = self.policy.evaluate(p, &ctx);
        // The guests a loss takes over, the first to have come, counted and
        // named under the one lock.
        let first_guest = match decision {
            Some(PeerDecision::Lost { takes_over, .. }) if takes_over > 0 => st
                .regs
                .iter()
                .filter(|(_, r)| r.guest && r.home == peer)
                .min_by_key(|(ext, r)| (r.since, ext.as_str()))
                .map(|(ext, _)| ext.clone()),
            _ => None,
        };
        drop(st);
        match decision {
            Some(PeerDecision::Lost { silent, takes_over }) => {
                self.emit(Event::PeerLost {
                    peer: peer.to_string(),
                    silent_for_ms: self.ms(silent),
                    backing_up,
                    records_held,
                });
                if let Some(first) = first_guest {
                    self.fail_over_guests_here(peer, takes_over, first);
                }
            }
            Some(PeerDecision::FailBack { visible_for }) => {
                self.emit(Event::FailbackStarted {
                    home: peer.to_string(),
                    visible_for_ms: self.ms(visible_for),
                    guests,
                });
                self.set_guest_hunt_groups(peer, false);
            }
            None => {}
        }
        if decision.is_some() {
            self.apply_visibility();
        }
    }

    /// `home` was lost with `n` of its phones registered here already, the
    /// first to come `first` (they came in its homeless-prevention window,
    /// or stayed by manual failback): the failover begins with them, and
    /// hunt-group and voicemail resilience with it, as a re-registration
    /// would start it.
    fn fail_over_guests_here(&self, home: &str, n: u32, first: String) {
        self.emit(Event::FailoverStarted {
            home: home.to_string(),
            trigger: first,
            already_here: n,
        });
        self.resilience_follows(home, "its phones are guests here already");
    }

    /// Registers a phone of this server, or refuses with the reason.
    pub(crate) fn register_home(&self, ext: &str) -> Result<(), String> {
        let Some(spec) = self
            .fleet
            .phones_of(&self.name)
            .find(|p| p.extension == ext)
        else {
            return Err(format!("{ext} is not a phone of {}", self.name));
        };
        if let Err(r) = self.policy.admit_home(spec.kind, self.licence_restricted()) {
            let reason = self.describe(&self.name, ext, &r);
            self.emit(Event::RegistrationRefused {
                phone: ext.to_string(),
                home: self.name.clone(),
                reason: reason.clone(),
            });
            return Err(reason);
        }
        let now = self.now();
        self.lock().regs.insert(
            ext.to_string(),
            Reg {
                home: self.name.clone(),
                guest: false,
                kind: spec.kind,
                since: now,
                refreshed: Instant::now(),
            },
        );
        self.emit(Event::PhoneRegistered {
            phone: ext.to_string(),
            home: self.name.clone(),
            guest: false,
        });
        Ok(())
    }

    /// Users plus extensions held here now: own phones and guests.
    fn occupancy(&self, st: &State) -> u32 {
        let own = self.fleet.phones_of(&self.name).count();
        let guests = st.regs.values().filter(|r| r.guest).count();
        u32::try_from(own + guests).unwrap_or(u32::MAX)
    }

    /// Asks the policy whether a phone of `home` may register here as a
    /// guest; if so, registers it. Returns whether it started the failover.
    fn admit_guest(&self, ext: &str, home: &str, kind: PhoneKind) -> Result<bool, Refusal> {
        let now = self.rules_now();
        let mut st = self.lock();
        let obs = GuestObs {
            now,
            phone: ext,
            home,
            kind,
            backs_up_kind: self.backs_up_kind(home, kind),
            peer: st.peers.get(home),
            has_record: st.held.get(home).is_some_and(|h| h.phones.contains(ext)),
            occupancy: self.occupancy(&st),
            capacity: self.spec.capacity,
            already: st.regs.contains_key(ext),
            visibility: Visibility::from_lost(st.peers.values().map(|p| p.lost)),
            timers: &self.timers,
        };
        self.policy.admit_guest(&obs)?;
        let first = st.peers.get_mut(home).is_some_and(|p| p.guest_arrived());
        let reg = Reg {
            home: home.to_string(),
            guest: true,
            kind,
            since: self.now(),
            refreshed: Instant::now(),
        };
        st.regs.insert(ext.to_string(), reg);
        Ok(first)
    }

    /// Registers a phone of `home` as a guest, if the policy allows it now.
    pub(crate) fn register_guest(
        &self,
        ext: &str,
        home: &str,
        kind: PhoneKind,
    ) -> Result<(), String> {
        let first = match self.admit_guest(ext, home, kind) {
            Ok(first) => first,
            Err(refusal) => {
                if let Refusal::Capacity { capacity } = refusal {
                    self.emit(Event::CapacityExceeded {
                        phone: ext.to_string(),
                        home: home.to_string(),
                        capacity,
                    });
                }
                let reason = self.describe(home, ext, &refusal);
                self.emit(Event::RegistrationRefused {
                    phone: ext.to_string(),
                    home: home.to_string(),
                    reason: reason.clone(),
                });
                return Err(reason);
            }
        };
        if first {
            self.emit(Event::FailoverStarted {
                home: home.to_string(),
                trigger: ext.to_string(),
                already_here: 0,
            });
        }
        self.emit(Event::PhoneRegistered {
            phone: ext.to_string(),
            home: home.to_string(),
            guest: true,
        });
        if first {
            self.resilience_follows(home, "its phones re-registered here");
        }
        Ok(())
    }

    /// Phone failover triggers user, hunt-group and voicemail resilience
    /// (docs/domain-coverage.md §3); `why` ends the voicemail's reason.
    fn resilience_follows(&self, home: &str, why: &str) {
        self.set_guest_hunt_groups(home, true);
        if home == self.fleet.primary().name {
            crate::voicemail::on_failover(self, why);
        }
    }

    /// A refusal in words, for the event log and the phone.
    fn describe(&self, home: &str, ext: &str, r: &Refusal) -> String {
        let human = |d: std::time::Duration| human_ms(self.ms(d));
        match r {
            Refusal::DoesNotFailOver(k) => format!("{} endpoints do not fail over", k.as_str()),
            Refusal::NotBackup(k) => format!(
                "{} is not {home}'s backup for {} phones",
                self.name,
                k.as_str()
            ),
            Refusal::NoLine => format!("no line to {home}"),
            Refusal::WindowOver { since_failback } => format!(
                "{home} failed back {} ago and the {} homeless-prevention window is over; register there",
                human(*since_failback),
                self.fleet.resilience.homeless_prevention,
            ),
            Refusal::NotSilentLongEnough { silent, needed } => format!(
                "{}; {}",
                self.silence(home, *silent, *needed),
                self.needed(*needed),
            ),
            Refusal::HomeVisible => format!("{home} is visible again; register there"),
            Refusal::NoRecord => format!("no record of {ext} from {home}: resilience lost"),
            Refusal::Capacity { capacity } => format!(
                "capacity of {capacity} users and extensions reached (guests included): no resilience"
            ),
            Refusal::Restricted => {
                "restricted mode: no user licence can be acquired for a softphone".to_string()
            }
            Refusal::NoQuorum {
                visible,
                electorate,
            } => format!(
                "no quorum: {} sees {visible} of {electorate} systems (itself and its line peers); a minority never takes over",
                self.name
            ),
            Refusal::Fencing { silent, needed } => format!(
                "{}; the policy takes over after {} (failover time plus a fencing margin, so a cut-off home has stood down)",
                self.silence(home, *silent, *needed),
                human(*needed),
            ),
            Refusal::Custom(reason) => reason.clone(),
        }
    }

    /// How much silence failover needs, in words: a bound no run can reach
    /// (a policy that waits for ever) is said as such, not as a number of
    /// days nobody could wait out.
    fn needed(&self, needed: std::time::Duration) -> String {
        let longest = fleetsim_model::limits::MAX_DURATION;
        if self.ms(needed) > longest.as_millis() {
            format!("failover needs more silence than any run lasts (over {longest})")
        } else {
            format!("failover needs {} of silence", human_ms(self.ms(needed)))
        }
    }

    /// "primary last heard 2m59.6s ago": precise enough not to read as the
    /// bound; a peer not heard by this incarnation is counted from its
    /// start, and the words say so.
    fn silence(
        &self,
        home: &str,
        silent: std::time::Duration,
        needed: std::time::Duration,
    ) -> String {
        let ago = human_ms_beside(self.ms(silent), self.ms(needed));
        let never_heard = self
            .lock()
            .peers
            .get(home)
            .is_some_and(|p| p.incarnation == 0);
        if never_heard {
            format!("{home} not heard since this server started {ago} ago")
        } else {
            format!("{home} last heard {ago} ago")
        }
    }

    /// A keepalive: `Err(Unknown)` if the phone is not registered here,
    /// `Err(Refused)` when the policy no longer admits it (a softphone in
    /// restricted mode: its registration ends now); `Ok(true)` when
    /// the policy sends the phone (a guest whose home has failed back) home
    /// now. By default phones in a call, manual-failback H.323 phones and
    /// phones that came in during the homeless-prevention window stay.
    pub(crate) fn keepalive(&self, ext: &str, in_call: bool) -> Result<bool, NoKeepalive> {
        let now = self.rules_now();
        let restricted = self.licence_restricted();
        let home = {
            let mut guard = self.lock();
            let st = &mut *guard;
            let reg = st.regs.get_mut(ext).ok_or(NoKeepalive::Unknown)?;
            reg.refreshed = Instant::now();
            // A licence lost since it registered (restricted mode) ends an
            // idle phone's registration: the feature stops working.
            if !reg.guest
                && !in_call
                && let Err(r) = self.policy.admit_home(reg.kind, restricted)
            {
                st.regs.remove(ext);
                drop(guard);
                let reason = self.describe(&self.name, ext, &r);
                self.emit(Event::RegistrationEnded {
                    phone: ext.to_string(),
                    home: self.name.clone(),
                    reason: reason.clone(),
                });
                return Err(NoKeepalive::Refused(reason));
            }
            let manual = reg.kind == PhoneKind::H323
                && self.fleet.resilience.phone_failback == fleetsim_model::FailbackMode::Manual;
            let obs = HomeObs {
                now,
                guest: reg.guest,
                in_call,
                manual,
                peer: st.peers.get(&reg.home),
                since: self.at(reg.since),
                timers: &self.timers,
            };
            if !self.policy.send_home(&obs) {
                return Ok(false);
            }
            st.regs.remove(ext).map(|r| r.home).unwrap_or_default()
        };
        self.emit(Event::PhoneSentHome {
            phone: ext.to_string(),
            home,
        });
        Ok(true)
    }

    /// Drops a registration at the phone's request.
    pub(crate) fn unregister(&self, ext: &str) {
        let Some(r) = self.lock().regs.remove(ext) else {
            return;
        };
        self.emit(Event::PhoneUnregistered {
            phone: ext.to_string(),
            home: r.home,
            guest: r.guest,
        });
    }

    /// `home`'s phones registered here as guests, and whether `home` is
    /// lost and not heard since.
    pub(crate) fn holds_users_of(&self, home: &str) -> (u32, bool) {
        let st = self.lock();
        let guests = st
            .regs
            .values()
            .filter(|r| r.guest && r.home == home)
            .count() as u32;
        let lost = st
            .peers
            .get(home)
            .is_some_and(|p| p.lost && p.returned_since.is_none());
        (guests, lost)
    }

    /// Whether the phone `ext` is registered here.
    pub(crate) fn is_registered(&self, ext: &str) -> bool {
        self.lock().regs.contains_key(ext)
    }
}

/// The rule timers of a server with `timing`, in runtime units.
fn rule_timers(timing: &Timing, homeless_prevention: std::time::Duration) -> Timers {
    Timers {
        presence_interval: timing.presence_interval,
        start_jitter: timing.start_jitter,
        failover_after: timing.failover_after,
        failback_after: timing.failback_after,
        homeless_prevention,
        keepalive_interval: timing.keepalive_interval,
        rpc_deadline: timing.rpc_deadline,
    }
}
