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
use std::time::Duration;

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

/// A boxed future: calls of [`Members`] that may cross the network.
pub type Call<'a, T> = Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Fleet members run as processes of their own, either children of `up`
/// (`fleetsim up --processes`) or `fleetsim node`s started elsewhere that
/// `up` attaches to through their member control ports (a fleet file's
/// `control`). The live fleet treats each as external, asks this to crash,
/// stop or restart one, and sends each running member the fault plane over
/// its member control port ([`crate::member`]), so link, hang, gray and
/// clock faults apply inside the member processes too.
pub trait Members: Send + Sync + std::fmt::Debug {
    /// Whether `name` is one of these members.
    fn runs(&self, name: &str) -> bool;
    /// Whether `name`'s process runs now.
    fn is_up(&self, name: &str) -> bool;
    /// `name`'s incarnation: 1 for the first process, then +1 per restart.
    fn incarnation(&self, name: &str) -> u64;
    /// Ends `name`'s process at once, as kill -9 does.
    fn crash(&self, name: &str) -> Call<'_, Result<(), String>>;
    /// Starts a new process for `name`.
    fn restart(&self, name: &str) -> Result<(), String>;
    /// Why fleetsim cannot start `name` again itself, if so (an attached
    /// node's orchestrator does).
    fn cannot_restart(&self, _name: &str) -> Option<String> {
        None
    }
    /// The member control port (`host:port`) of `name`'s running process.
    fn control(&self, name: &str) -> Option<String>;
    /// `name`'s process was asked to end (a graceful stop): its exit is
    /// not to be reported as unexpected.
    fn will_stop(&self, name: &str);
    /// The fleet has started on `net`, logging to `log`: the members'
    /// events go there from now on.
    fn started(&self, net: &fleetsim_net::Net, log: &EventLog);
    /// The token the members' control ports require, if any.
    fn token(&self) -> Option<&str> {
        None
    }
}

enum Cmd {
    Status(oneshot::Sender<pb::StatusReply>),
    End(oneshot::Sender<()>),
    Fault(String, oneshot::Sender<Result<pb::FaultReply, String>>),
    Faults(oneshot::Sender<pb::FaultsReply>),
    Clear(String, oneshot::Sender<Result<pb::ClearReply, String>>),
}

/// A handle on a running live fleet.
#[derive(Clone, Debug)]
pub struct LiveHandle {
    tx: mpsc::Sender<Cmd>,
    log: EventLog,
    /// Fired by `Control.Stop`: the drill is over.
    stop: Arc<tokio::sync::Notify>,
    /// What the drill's outcome is built from, besides the log.
    drill: Arc<Drill>,
}

/// The live fleet as started, for the drill's outcome.
#[derive(Debug)]
struct Drill {
    fleet: Arc<Fleet>,
    seed: u64,
    calls: fleetsim_model::Calls,
    policy: String,
    stats: Arc<fleetsim_server::Stats>,
    /// Live only: tokio's clock runs on wall time here.
    started: Instant,
}

impl LiveHandle {
    /// The fleet's event log.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Resolves once `Control.Stop` asked the drill to end.
    pub async fn stop_requested(&self) {
        self.stop.notified().await;
    }

    /// Ends the drill's log as a run's ends: the end-of-run audit of
    /// voicemail messages and recordings (a fleet in this process only: a
    /// member process's disks are its own), then `run-ended`.
    pub async fn end(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Cmd::End(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// The drill so far as a run: every event, and the faults given live
    /// (read back from the log, so a report shows them as fault windows).
    /// It has no expectations.
    pub fn outcome(&self) -> crate::RunOutcome {
        let d = &self.drill;
        let mut events = self.log.snapshot();
        // The drill ends at `run-ended`: what the fleet still logs while it
        // stops (a replication already under way) is no part of it.
        if let Some(end) = events
            .iter()
            .position(|e| matches!(e.event, Event::RunEnded {}))
        {
            events.truncate(end + 1);
        }
        let faults = events
            .iter()
            .filter_map(|e| match &e.event {
                Event::FaultApplied { spec, .. } => Some(Fault {
                    at: fleetsim_model::Dur(std::time::Duration::from_millis(e.t_ms)),
                    kind: spec.clone(),
                    source: 0,
                }),
                _ => None,
            })
            .collect();
        let duration_ms = self.log.clock().now_ms();
        // A drill still going counts its open outages up to now; an ended
        // one up to its end.
        let until = match events.last() {
            Some(e) if matches!(e.event, Event::RunEnded {}) => e.t_ms,
            _ => duration_ms,
        };
        let spec = fleetsim_model::Scenario {
            name: format!("live drill on {}", d.fleet.name),
            description: "faults given live with fleetsim ctl".into(),
            origin: fleetsim_model::embedded::LIVE_DRILL.into(),
            fleet: (*d.fleet).clone(),
            seed: d.seed,
            duration: fleetsim_model::Dur(std::time::Duration::from_millis(duration_ms)),
            faults,
            expectations: Vec::new(),
            calls: d.calls.clone(),
            rerun_args: Vec::new(),
            scripted_calls: Vec::new(),
        };
        crate::RunOutcome {
            scenario: spec.name.clone(),
            metrics: crate::Metrics::compute_until(&spec, &events, until),
            seed: d.seed,
            mode: Mode::Live,
            policy: d.policy.clone(),
            duration_ms,
            events,
            expectations: Vec::new(),
            wall_ms: d.started.elapsed().as_secs_f64() * 1000.0,
            rpcs: d.stats.rpcs.load(std::sync::atomic::Ordering::Relaxed),
            error: None,
            spec,
        }
    }
}

/// Starts the fleet on loopback TCP (inside a tokio runtime) and returns a
/// handle and where each server listens. The fleet runs until the runtime ends.
pub async fn start_live(
    fleet: Fleet,
    opts: &LiveOptions,
) -> Result<(LiveHandle, Vec<ServerInfo>), RunError> {
    start_live_with(fleet, opts, None).await
}

/// [`start_live`], with every external member of `fleet` that `members`
/// [runs](Members::runs) a process it supervises: `crash` and `restart` of
/// such a member go to `members`, faults it cannot apply across processes
/// are refused, and the members' own events are expected in the log (the
/// phones do not log what they see of them).
pub async fn start_live_with(
    fleet: Fleet,
    opts: &LiveOptions,
    members: Option<Arc<dyn Members>>,
) -> Result<(LiveHandle, Vec<ServerInfo>), RunError> {
    crate::runner::check_policy_name(opts.policy.as_ref())?;
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
            observe_external: members.is_none(),
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
    let drill = Arc::new(Drill {
        fleet: fleet.clone(),
        seed: opts.seed,
        calls: opts.calls.clone(),
        policy: opts.policy.name().to_string(),
        stats: fut.ctx.stats.clone(),
        started: Instant::now(),
    });
    let member_peers = MemberPeers::default();
    if let Some(m) = &members {
        m.started(&fut.ctx.net, &fut.ctx.log);
        let names = fleet.servers.iter().map(|s| s.name.clone()).collect();
        tokio::spawn(poll_member_peers(
            m.clone(),
            names,
            Arc::downgrade(&member_peers),
        ));
    }
    let (tx, rx) = mpsc::channel(64);
    let live = Live {
        fut,
        members,
        member_peers,
    };
    tokio::spawn(actor(live, rx));
    let stop = Arc::new(tokio::sync::Notify::new());
    Ok((
        LiveHandle {
            tx,
            log,
            stop,
            drill,
        },
        infos,
    ))
}

/// The fleet under test and the supervisor of its member processes, if any.
struct Live {
    fut: FleetUnderTest,
    members: Option<Arc<dyn Members>>,
    /// Each running member process's peer timers, as it last reported them.
    member_peers: MemberPeers,
}

/// Peer timers by member as last polled, and when, kept fresh by
/// [`poll_member_peers`].
type MemberPeers = Arc<PeersByMember>;

/// What [`MemberPeers`] shares.
type PeersByMember = std::sync::Mutex<BTreeMap<String, Polled>>;

/// A member's peer timers and the moment they were read.
type Polled = (tokio::time::Instant, Vec<pb::PeerTimer>);

/// `timers` read `age_ms` (emulated) ago, as they stand now: a silence or
/// a return counted on by that much, so a countdown does not lag by up to
/// a poll (at `--speed 60`, 15 s of emulated time).
fn aged(timers: &[pb::PeerTimer], age_ms: u64) -> Vec<pb::PeerTimer> {
    (timers.iter())
        .map(|t| pb::PeerTimer {
            silent_ms: t.silent_ms + age_ms,
            visible_ms: if t.visible_ms > 0 {
                t.visible_ms + age_ms
            } else {
                0
            },
            ..t.clone()
        })
        .collect()
}

/// How often the member processes are asked for their peer timers.
const PEERS_POLL: Duration = Duration::from_millis(250);

/// Asks every running member process for its peer timers (what `ctl
/// status` and `watch` count down from), until the fleet is gone.
async fn poll_member_peers(
    members: Arc<dyn Members>,
    names: Vec<String>,
    cache: std::sync::Weak<PeersByMember>,
) {
    // One connection per member process, kept while it answers (a new
    // process, at a new control port, gets a new one).
    let mut clients: BTreeMap<String, (String, crate::member::Client)> = BTreeMap::new();
    loop {
        tokio::time::sleep(PEERS_POLL).await;
        for name in names.iter().filter(|n| members.runs(n)) {
            let Some(addr) = members.control(name).filter(|_| members.is_up(name)) else {
                clients.remove(name);
                continue;
            };
            if clients.get(name).is_none_or(|(a, _)| *a != addr)
                && let Ok(c) = crate::member::member_client(&addr, members.token()).await
            {
                clients.insert(name.clone(), (addr, c));
            }
            let peers = match clients.get_mut(name) {
                Some((a, c)) => crate::member::info_of(c, a).await.map(|i| i.peers),
                None => Err(String::new()),
            };
            if peers.is_err() {
                clients.remove(name);
            }
            let peers = peers.unwrap_or_default();
            let Some(cache) = cache.upgrade() else {
                return;
            };
            cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name.clone(), (tokio::time::Instant::now(), peers));
        }
        if cache.strong_count() == 0 {
            return;
        }
    }
}

impl Live {
    /// The supervisor, when `server` is a member process it runs.
    fn process(&self, server: &str) -> Option<&Arc<dyn Members>> {
        self.members.as_ref().filter(|m| m.runs(server))
    }

    /// The fleet faults are parsed against: member processes count as
    /// fleetsim's own there, so that `crash` and `restart` of one parse.
    fn parse_fleet(&self) -> Fleet {
        let mut fleet = (*self.fut.fleet).clone();
        for s in &mut fleet.servers {
            if self.process(&s.name).is_some() {
                s.address = None;
            }
        }
        fleet
    }

    /// Applies `fault`: a crash or restart of a member process through its
    /// supervisor, anything else to the fleet under test.
    async fn apply(&mut self, fault: &Fault) -> Result<(), String> {
        let log = self.fut.ctx.log.clone();
        let applied = |words: String| {
            log.emit(
                fault.kind.logged_by(&self.fut.fleet),
                Event::FaultApplied {
                    fault: words,
                    spec: fault.kind.clone(),
                },
            )
        };
        let crash = matches!(fault.kind, FaultKind::Crash { .. });
        match &fault.kind {
            // A crash, or the stop of a hung member, which cannot wind
            // down: a kill, as in one process.
            FaultKind::Crash { server } | FaultKind::Stop { server }
                if let Some(m) = self.process(server).cloned()
                    && (crash || self.fut.ctx.net.is_hung(server)) =>
            {
                applied(if crash {
                    fault.kind.describe()
                } else {
                    crate::runner::killed_stop_words(&fault.kind)
                });
                let registered_phones = registered_on(&log.snapshot(), server);
                m.crash(server).await?;
                log.emit(server, Event::ServerCrashed { registered_phones });
                self.process_ended(server).await
            }
            FaultKind::Stop { server } if let Some(m) = self.process(server).cloned() => {
                applied(fault.kind.describe());
                let registered_phones = registered_on(&log.snapshot(), server);
                stop_process(m.as_ref(), server).await?;
                log.emit(server, Event::ServerStopped { registered_phones });
                self.process_ended(server).await
            }
            FaultKind::Restart { server } if let Some(m) = self.process(server).cloned() => {
                // Logged before the process starts: its first event (its
                // start) must come after the restart that caused it.
                applied(fault.kind.describe());
                if let Err(e) = m.restart(server) {
                    log.emit(
                        "operator",
                        Event::ActionFailed {
                            action: fault.kind.describe(),
                            target: server.clone(),
                            reason: e.clone(),
                        },
                    );
                    return Err(e);
                }
                // The new process starts with no faults: it gets those in force.
                self.push_faults(Some(server)).await
            }
            _ => {
                self.fut.apply(fault).await.map_err(|e| e.to_string())?;
                self.push_faults(None).await
            }
        }
    }

    /// A member process crashed or stopped: its hang or gray failure ends
    /// with it, here and in every other member's fault plane.
    async fn process_ended(&self, server: &str) -> Result<(), String> {
        self.fut.ctx.net.forget_server(server);
        self.push_faults(None).await
    }

    /// Sends the fault plane in force to `only` or to every running member
    /// process; the first failure is returned, after all were tried.
    async fn push_faults(&self, only: Option<&str>) -> Result<(), String> {
        let Some(m) = &self.members else {
            return Ok(());
        };
        let plane = self.fut.ctx.net.fault_plane();
        let mut first = Ok(());
        for s in &self.fut.fleet.servers {
            if only.is_some_and(|o| o != s.name) {
                continue;
            }
            if let Some(addr) = m.control(&s.name)
                && let Err(e) = crate::member::push_faults(&addr, m.token(), &plane).await
            {
                first = first.and(Err(format!("{}: {e}", s.name)));
            }
        }
        first
    }
}

/// Stops member process `server` gracefully through its control port and
/// waits (up to 5 s) for it to end; one that does not is killed.
async fn stop_process(m: &dyn Members, server: &str) -> Result<(), String> {
    let addr = m
        .control(server)
        .ok_or_else(|| format!("{server} is already down"))?;
    m.will_stop(server);
    // The member may be gone before its answer leaves: its end is what
    // counts, and the answer only says why, if it never comes.
    let asked = crate::member::stop_member(&addr, m.token()).await;
    if until_down(m, server, Duration::from_secs(5)).await {
        return Ok(());
    }
    asked?;
    m.crash(server).await
}

/// Waits up to `within` for `name`'s process to be down; whether it is.
pub async fn until_down(m: &dyn Members, name: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while m.is_up(name) {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// How many phones the log has registered on `server` now (for member
/// processes, whose registrations fleetsim's status cannot ask).
pub fn registered_on(events: &[fleetsim_model::EventRecord], server: &str) -> u32 {
    crate::findings::Whereabouts::of(events)
        .iter()
        .filter(|(_, h)| h.server == server)
        .count() as u32
}

/// How many phones `server` held when it was last heard from: for a
/// member process found dead, whose phones may have logged finding it
/// gone (under its name) before its end was noticed.
pub fn registered_when_last_heard(events: &[fleetsim_model::EventRecord], server: &str) -> u32 {
    let last_own = events.iter().rposition(|e| {
        e.server == server && !matches!(e.event, fleetsim_model::Event::PhoneLost { .. })
    });
    registered_on(&events[..last_own.map_or(0, |i| i + 1)], server)
}

async fn actor(mut live: Live, mut rx: mpsc::Receiver<Cmd>) {
    let mut ledger = Ledger::default();
    loop {
        let next = ledger.pending.front().map(|p| p.when);
        let cmd = tokio::select! {
            biased;
            () = async { if let Some(t) = next { tokio::time::sleep_until(t).await } else { std::future::pending().await } } => {
                let Some(p) = ledger.pending.pop_front() else { continue };
                let now_ms = live.fut.ctx.log.clock().now_ms();
                ledger.record(&p.fault.kind, now_ms, p.batch);
                if let Err(e) = live.apply(&p.fault).await {
                    tracing::warn!(error = %e, "scheduled fault failed");
                }
                continue;
            }
            cmd = rx.recv() => cmd,
        };
        if let Some(m) = &live.members {
            ledger.settle(m.as_ref());
        }
        match cmd {
            None => break,
            Some(Cmd::End(reply)) => {
                let log = live.fut.ctx.log.clone();
                // Only a fleet in this process has disks to read.
                if live.members.is_none() {
                    log.emit("runner", live.fut.audit(&log.snapshot()));
                }
                log.emit("runner", Event::RunEnded {});
                let _ = reply.send(());
            }
            Some(Cmd::Status(reply)) => {
                let _ = reply.send(status(&live, &ledger));
            }
            Some(Cmd::Faults(reply)) => {
                let _ = reply.send(pb::FaultsReply {
                    t_ms: live.fut.ctx.log.clock().now_ms(),
                    faults: ledger.listed(&live),
                });
            }
            Some(Cmd::Clear(which, reply)) => {
                let _ = reply.send(clear(&mut live, &mut ledger, &which).await);
            }
            Some(Cmd::Fault(action, reply)) => {
                let faults = match parse_guarded(&live.parse_fleet(), &action) {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                };
                if let Some(err) = faults
                    .iter()
                    .filter(|f| f.at.0.is_zero())
                    .find_map(|f| refuse(&live, &f.kind))
                {
                    let _ = reply.send(Err(err));
                    continue;
                }
                let clock = live.fut.ctx.log.clock();
                // Live mode only: wall time (tokio's clock, not paused here).
                let now = Instant::now();
                let now_ms = clock.now_ms();
                let batch = ledger.new_batch();
                let mut out = pb::FaultReply::default();
                // What happens now first, so the undos `for` schedules
                // find the faults they end in force.
                let (now_faults, later): (Vec<Fault>, Vec<Fault>) =
                    faults.into_iter().partition(|f| f.at.0.is_zero());
                for f in now_faults {
                    match live.apply(&f).await {
                        Ok(()) => {
                            // With its id, so `ctl clear ID` needs no lookup.
                            // An operator action is a request the fleet may
                            // refuse: its answer is in the log, not here.
                            let said = match ledger.record(&f.kind, now_ms, batch) {
                                Some(id) => format!("#{id} {}", f.kind.describe()),
                                None => f.kind.describe(),
                            };
                            if f.kind.is_operator_action() {
                                out.sent.push(said);
                            } else {
                                out.applied.push(said);
                            }
                        }
                        Err(e) => out.failed.push(format!("{}: {e}", f.kind.describe())),
                    }
                }
                // A flap schedules thousands of steps: the reply names the
                // first few and counts the rest, so it stays small.
                let (steps, last) = (later.len(), later.last().map(|f| f.at));
                for (i, f) in later.into_iter().enumerate() {
                    if i < SCHEDULED_SHOWN {
                        out.scheduled
                            .push(format!("in {}: {}", f.at, f.kind.describe()));
                    } else if i == SCHEDULED_SHOWN
                        && let Some(last) = last
                    {
                        out.scheduled.push(format!(
                            "… {} more steps, the last in {last}",
                            steps - SCHEDULED_SHOWN
                        ));
                    }
                    ledger.schedule(Pending {
                        when: now + clock.to_runtime(f.at.0),
                        at_ms: now_ms + u64::try_from(f.at.0.as_millis()).unwrap_or(u64::MAX),
                        fault: f,
                        batch,
                    });
                }
                ledger.mark_flaps(batch);
                let _ = reply.send(Ok(out));
            }
        }
    }
    live.fut.stop();
}

/// How many scheduled steps a `ctl fault` reply names one by one.
const SCHEDULED_SHOWN: usize = 20;

/// A fault `for` (or a flap) scheduled for later.
struct Pending {
    /// When, on tokio's clock.
    when: Instant,
    /// When, in emulated ms since the fleet started.
    at_ms: u64,
    fault: Fault,
    /// The `ctl` command it came from.
    batch: u32,
}

/// A fault applied live and not yet undone.
#[derive(Clone, Debug)]
struct InForce {
    id: u32,
    kind: FaultKind,
    since_ms: u64,
    /// The `ctl` command it came from: that command's scheduled faults on
    /// the same slot (its `for`) belong to it.
    batch: u32,
    /// Part of a flap: listed until the flap's last step.
    flap: bool,
    /// A flap between its steps down: nothing to undo now.
    resting: bool,
}

/// The faults in force and the faults scheduled: the live fleet's one
/// record of them, kept as data beside the fleet by its owning task.
#[derive(Default)]
struct Ledger {
    in_force: Vec<InForce>,
    /// In time order (a flap schedules thousands: taken from the front).
    pending: std::collections::VecDeque<Pending>,
    last_id: u32,
    last_batch: u32,
}

/// A fault of the links between nodes, which `heal` clears.
fn is_link(kind: &FaultKind) -> bool {
    matches!(
        kind,
        FaultKind::Partition { .. }
            | FaultKind::OneWay { .. }
            | FaultKind::Latency { .. }
            | FaultKind::Stall { .. }
    )
}

impl Ledger {
    fn new_batch(&mut self) -> u32 {
        self.last_batch += 1;
        self.last_batch
    }

    /// Keeps `pending` in time order, and steps due at the same moment in
    /// the order they were scheduled, in O(log n) for a flap's steps.
    fn schedule(&mut self, p: Pending) {
        let at = self.pending.partition_point(|q| q.when <= p.when);
        self.pending.insert(at, p);
    }

    /// Notes `kind`, applied at `now_ms` by command `batch`: it ends the
    /// fault on its slot, or replaces it (and that fault's scheduled end).
    /// The id it is listed under, if it stays in force.
    fn record(&mut self, kind: &FaultKind, now_ms: u64, batch: u32) -> Option<u32> {
        if matches!(kind, FaultKind::Heal) {
            // With their scheduled ends: a `for` left behind would end a
            // newer partition.
            let healed: Vec<InForce> = (self.in_force.iter())
                .filter(|f| f.kind.healed())
                .cloned()
                .collect();
            for f in &healed {
                self.cancel(f);
            }
            self.in_force.retain(|f| !f.kind.healed());
            return None;
        }
        if let FaultKind::Crash { server } | FaultKind::Stop { server } = kind {
            self.end_process_faults(server);
        }
        let slot = kind.slot()?;
        // Stalls and hangs count up: each command's stays its own, ended
        // by its own schedule or `clear`.
        let mine = |f: &InForce| slot_of(f) == slot && (!kind.counted() || f.batch == batch);
        if let Some(i) = self.in_force.iter().position(mine) {
            let old = &self.in_force[i];
            // A flap's steps: one fault in force, under one id, until its
            // last step.
            if old.flap && old.batch == batch && self.steps_left(batch, &slot) {
                let id = old.id;
                self.in_force[i].resting = kind.ends_a_fault();
                return Some(id);
            }
            let old = self.in_force.remove(i);
            if old.batch != batch {
                self.cancel(&old);
            }
        }
        if kind.ends_a_fault() {
            return None;
        }
        self.last_id += 1;
        self.in_force.push(InForce {
            id: self.last_id,
            kind: kind.clone(),
            since_ms: now_ms,
            batch,
            flap: false,
            resting: false,
        });
        Some(self.last_id)
    }

    /// A crash or a stop ends `server`'s process and with it a hang or a
    /// gray failure of it (the network forgets them too): they leave the
    /// list, with their scheduled ends, so a restart is not listed hung.
    fn end_process_faults(&mut self, server: &str) {
        let gone: Vec<InForce> = (self.in_force.iter())
            .filter(|f| match &f.kind {
                FaultKind::Hang { server: s, .. } | FaultKind::Gray { server: s, .. } => {
                    s == server
                }
                _ => false,
            })
            .cloned()
            .collect();
        for f in &gone {
            self.cancel(f);
        }
        self.in_force.retain(|f| !gone.iter().any(|g| g.id == f.id));
    }

    /// Whether command `batch` has steps still to come on `slot`.
    fn steps_left(&self, batch: u32, slot: &str) -> bool {
        (self.pending.iter())
            .any(|p| p.batch == batch && p.fault.kind.slot().as_deref() == Some(slot))
    }

    /// Marks the faults command `batch` put in force that it also turns
    /// on again later (a flap), so they stay listed as one fault.
    fn mark_flaps(&mut self, batch: u32) {
        let again: Vec<String> = (self.pending.iter())
            .filter(|p| p.batch == batch && !p.fault.kind.ends_a_fault())
            .filter_map(|p| p.fault.kind.slot())
            .collect();
        for f in self.in_force.iter_mut().filter(|f| f.batch == batch) {
            f.flap = again.contains(&slot_of(f));
        }
    }

    /// Drops the crashes and stops in force of members whose process runs
    /// again without a `ctl restart` (an orchestrator restarted it, or a
    /// node was started by hand), with their scheduled ends.
    fn settle(&mut self, members: &dyn Members) {
        let back: Vec<InForce> = (self.in_force.iter())
            .filter(|f| match &f.kind {
                FaultKind::Crash { server } | FaultKind::Stop { server } => {
                    members.runs(server) && members.is_up(server)
                }
                _ => false,
            })
            .cloned()
            .collect();
        for f in back {
            self.cancel(&f);
            self.in_force.retain(|g| g.id != f.id);
        }
    }

    /// Drops what `f`'s command scheduled on its slot (its `for`).
    fn cancel(&mut self, f: &InForce) {
        let mine = slot_of(f);
        self.pending
            .retain(|p| p.batch != f.batch || p.fault.kind.slot().as_deref() != Some(&mine));
    }

    /// When `f`'s scheduled end comes, in emulated ms, if it has one.
    fn until_ms(&self, f: &InForce) -> Option<u64> {
        let mine = slot_of(f);
        // A flap's end is its last step.
        let mut ends = self.pending.iter().filter(|p| {
            p.batch == f.batch
                && p.fault.kind.ends_a_fault()
                && p.fault.kind.slot().as_deref() == Some(&mine)
        });
        let end = if f.flap {
            ends.next_back()
        } else {
            ends.next()
        };
        end.map(|p| p.at_ms)
    }

    fn listed(&self, live: &Live) -> Vec<pb::FaultInForce> {
        self.in_force.iter().map(|f| self.entry(f, live)).collect()
    }

    fn entry(&self, f: &InForce, live: &Live) -> pb::FaultInForce {
        pb::FaultInForce {
            id: f.id,
            what: if f.flap {
                format!("flap: {}, on and off", f.kind.describe())
            } else {
                f.kind.describe()
            },
            since_ms: f.since_ms,
            until_ms: self.until_ms(f).unwrap_or(0),
            link: is_link(&f.kind),
            kept_because: kept_because(live, &f.kind).unwrap_or_default(),
        }
    }
}

fn slot_of(f: &InForce) -> String {
    f.kind.slot().unwrap_or_default()
}

/// Undoes the faults in force `which` names: an id (`3` or `#3`), `all`,
/// or `links`; cancels what their commands scheduled on them.
async fn clear(
    live: &mut Live,
    ledger: &mut Ledger,
    which: &str,
) -> Result<pb::ClearReply, String> {
    let which = which.trim();
    let chosen: Vec<InForce> = match which {
        "all" => ledger.in_force.clone(),
        "links" => ledger
            .in_force
            .iter()
            .filter(|f| is_link(&f.kind))
            .cloned()
            .collect(),
        id => {
            let n: u32 = id.trim_start_matches('#').parse().map_err(|_| {
                format!("{id:?} is not a fault id: give an id from `fleetsim ctl faults`, or `all`")
            })?;
            let f = ledger.in_force.iter().find(|f| f.id == n).ok_or_else(|| {
                format!("no fault #{n} is in force; `fleetsim ctl faults` lists those that are")
            })?;
            vec![f.clone()]
        }
    };
    let mut out = pb::ClearReply::default();
    // Newest first: undo in the reverse of the order applied.
    for f in chosen.iter().rev() {
        let Some(undo) = f.kind.undo() else { continue };
        // A crash fleetsim cannot undo stays in force until the member is back.
        if let Some(why) = kept_because(live, &f.kind) {
            out.failed
                .push(format!("#{} {}: {why}", f.id, f.kind.describe()));
            continue;
        }
        ledger.cancel(f);
        let now_ms = live.fut.ctx.log.clock().now_ms();
        ledger.record(&undo, now_ms, f.batch);
        if f.resting {
            out.cleared.push(format!(
                "#{} flap of {}: its remaining steps cancelled",
                f.id,
                f.kind.describe()
            ));
            continue;
        }
        // Stalls and hangs count up: ending one of several resumes nothing.
        let others = (ledger.in_force.iter())
            .filter(|g| g.id != f.id && f.kind.counted() && g.kind.slot() == f.kind.slot())
            .count();
        let said = match others {
            0 => undo.describe(),
            n => format!("{n} more of its kind in force on the same node, so it stays as it was"),
        };
        out.cleared
            .push(format!("#{} {}: undone ({said})", f.id, f.kind.describe()));
        let undo = Fault {
            at: fleetsim_model::Dur::ZERO,
            kind: undo,
            source: 0,
        };
        if let Err(e) = live.apply(&undo).await {
            out.failed
                .push(format!("#{} {}: {e}", f.id, f.kind.describe()));
        }
    }
    out.left = ledger.listed(live);
    Ok(out)
}

/// Why `clear` cannot undo `kind`, if so: the crash of a member that its
/// own orchestrator restarts.
fn kept_because(live: &Live, kind: &FaultKind) -> Option<String> {
    match kind.undo()? {
        FaultKind::Restart { server } => live.process(&server)?.cannot_restart(&server),
        _ => None,
    }
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
fn refuse(live: &Live, kind: &FaultKind) -> Option<String> {
    let up = |server: &str| match live.process(server) {
        Some(m) => m.is_up(server),
        None => live.fut.servers.contains_key(server),
    };
    match kind {
        FaultKind::Crash { server } | FaultKind::Stop { server } if !up(server) => {
            Some(format!("{server} is already down"))
        }
        FaultKind::Restart { server } if up(server) && live.fut.ctx.net.is_hung(server) => {
            Some(format!(
                "{server} is running, hung; only a crashed or stopped server can restart: end the hang first (ctl clear, with the id ctl faults gives it), or crash it"
            ))
        }
        FaultKind::Restart { server } if up(server) => Some(format!(
            "{server} is running; only a crashed or stopped server can restart"
        )),
        FaultKind::Restart { server } => {
            live.process(server).and_then(|m| m.cannot_restart(server))
        }
        FaultKind::Hang { server, on: true } if !up(server) => Some(format!(
            "{server} is down; only a running server can hang (this hang would do nothing)"
        )),
        _ => None,
    }
}

/// What runs on member process `spec` and its licence state, as the events
/// logged under its name tell since its process last started: the services
/// of its role (voicemail and portal only while active), the hunt groups
/// running there, the last licence state (`normal` until one is logged).
fn standing_in_log(
    events: &[fleetsim_model::EventRecord],
    spec: &fleetsim_model::ServerSpec,
) -> (Vec<String>, String) {
    let mut states: BTreeMap<&str, &str> = BTreeMap::new();
    let mut hunts: BTreeMap<&str, bool> = BTreeMap::new();
    let mut licence = "normal";
    for e in events.iter().filter(|e| e.server == spec.name) {
        match &e.event {
            Event::ServerStarted { .. }
            | Event::ServerCrashed { .. }
            | Event::ServerStopped { .. } => {
                // A new process, or none: nothing of the last one stands.
                states.clear();
                hunts.clear();
                licence = "normal";
            }
            Event::ServiceState { service, state, .. } => {
                states.insert(service, state);
            }
            Event::HuntGroupState { group, active, .. } => {
                hunts.insert(group, *active);
            }
            Event::LicenceState { state, .. } => licence = state,
            _ => {}
        }
    }
    let mut active: Vec<String> = (spec.services.iter())
        .filter(|s| match s {
            fleetsim_model::Service::VoicemailPro | fleetsim_model::Service::OneXPortal => {
                states.get(s.as_str()) == Some(&"active")
            }
            _ => true,
        })
        .map(|s| s.as_str().to_string())
        .collect();
    active.extend(
        (hunts.iter())
            .filter(|(_, on)| **on)
            .map(|(g, _)| format!("hunt-group {g}")),
    );
    (active, licence.to_string())
}

/// A server's peer timers in emulated milliseconds (live time runs
/// `speed` times faster than the wall clock).
fn peer_timers(
    h: &fleetsim_server::ServerHandle,
    clock: &fleetsim_net::Clock,
) -> Vec<pb::PeerTimer> {
    peer_timers_pb(h.peer_timers(), clock)
}

/// `timers` on the wire, in emulated milliseconds.
pub(crate) fn peer_timers_pb(
    timers: Vec<fleetsim_server::PeerTimer>,
    clock: &fleetsim_net::Clock,
) -> Vec<pb::PeerTimer> {
    timers
        .into_iter()
        .map(|t| pb::PeerTimer {
            peer: t.peer,
            silent_ms: clock.to_emulated_ms(t.silent),
            lost: t.lost,
            visible_ms: t.visible.map_or(0, |v| clock.to_emulated_ms(v).max(1)),
            backing_up: t.backing_up,
        })
        .collect()
}

fn status(live: &Live, ledger: &Ledger) -> pb::StatusReply {
    let fut = &live.fut;
    let clock = fut.ctx.log.clock();
    let mut where_: BTreeMap<String, (String, bool)> = BTreeMap::new();
    let mut servers = Vec::new();
    // Member processes, external members and hung servers: their
    // registrations and calls as the events logged under their names tell
    // (a process's own, what the phones observed of an external member; a
    // hung server still holds in memory the phones that have left it).
    let hung = |name: &str| fut.ctx.net.is_hung(name);
    let by_log = |s: &fleetsim_model::ServerSpec| {
        live.process(&s.name).is_some() || s.is_external() || hung(&s.name)
    };
    let snapshot = if fut.fleet.servers.iter().any(by_log) {
        fut.ctx.log.snapshot()
    } else {
        Vec::new()
    };
    let logged = crate::findings::Whereabouts::of(&snapshot);
    for s in &fut.fleet.servers {
        let process = live.process(&s.name);
        let regs: Vec<(String, bool)> = if by_log(s) {
            logged
                .iter()
                .filter(|(_, h)| h.server == s.name)
                .map(|(ext, h)| (ext.clone(), h.guest))
                .collect()
        } else {
            fut.servers
                .get(&s.name)
                .map(|h| h.registrations())
                .unwrap_or_default()
        };
        for (ext, guest) in &regs {
            where_.insert(ext.clone(), (s.name.clone(), *guest));
        }
        let handle = fut.servers.get(&s.name);
        let (active, licence) = match (process, handle) {
            (Some(_), _) => standing_in_log(&snapshot, s),
            (None, Some(h)) => (h.active_services(), h.licence().to_string()),
            (None, None) => Default::default(),
        };
        servers.push(pb::ServerStatus {
            name: s.name.clone(),
            role: s.role.to_string(),
            up: match process {
                Some(m) => m.is_up(&s.name),
                None => fut.servers.contains_key(&s.name),
            },
            // A member process shows as fleetsim's own, at its port.
            port: u32::from(match process {
                Some(_) => s
                    .address
                    .as_deref()
                    .and_then(|a| fleetsim_model::external::parse_address(a).ok())
                    .map_or(0, |a| a.port),
                None => fut
                    .ctx
                    .net
                    .port(&s.name)
                    .filter(|_| !s.is_external())
                    .unwrap_or(0),
            }),
            registered: regs.len() as u32,
            guests: regs.iter().filter(|(_, g)| *g).count() as u32,
            incarnation: match process {
                Some(m) => m.incarnation(&s.name),
                None => fut.incarnations.get(&s.name).copied().unwrap_or(0),
            },
            active,
            licence,
            address: match process {
                Some(_) => String::new(),
                None => s.address.clone().unwrap_or_default(),
            },
            calls: match handle {
                Some(h) if !by_log(s) => h.calls_up(),
                _ => crate::assertion::calls_up_now(&s.name, &snapshot),
            },
            // A hung server counts nothing down: its timers are frozen.
            peers: match process {
                Some(_) => (live.member_peers.lock().unwrap_or_else(|e| e.into_inner()))
                    .get(&s.name)
                    .filter(|_| !hung(&s.name))
                    .map(|(at, timers)| aged(timers, clock.to_emulated_ms(at.elapsed())))
                    .unwrap_or_default(),
                None => (handle.filter(|_| !hung(&s.name)))
                    .map(|h| peer_timers(h, &clock))
                    .unwrap_or_default(),
            },
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
        faults: ledger
            .in_force
            .iter()
            .map(|f| format!("#{} {}", f.id, f.kind.describe()))
            .collect(),
        events: fut.ctx.log.len() as u64,
        failover_after_ms: fut.fleet.timers.failover_after.as_millis(),
        failback_after_ms: fut.fleet.timers.failback_after.as_millis(),
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

/// A client interceptor that sends `authorization: Bearer <token>` with
/// every call (nothing without a token): how `ctl`, `watch` and the member
/// control plane present their token.
#[derive(Clone, Debug)]
pub struct Bearer(Option<tonic::metadata::AsciiMetadataValue>);

impl Bearer {
    /// The interceptor for `token`; refused if it cannot be header text.
    pub fn new(token: Option<&str>) -> Result<Bearer, String> {
        token
            .map(|t| format!("Bearer {t}").parse())
            .transpose()
            .map(Bearer)
            .map_err(|_| "the token is not valid header text".to_string())
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// The token of an `authorization` header value `Bearer <token>`; the
/// scheme's case does not matter (RFC 7235).
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

/// Lets a call through when no token is required, or when it carries
/// `authorization: Bearer <token>`; a blank token never lets anything in.
pub(crate) fn authorize(
    token: Option<&str>,
    meta: &tonic::metadata::MetadataMap,
) -> Result<(), Status> {
    let Some(want) = token else {
        return Ok(());
    };
    let got = meta
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match got {
        Some(got) if !blank_token(want) && got == want => Ok(()),
        Some(_) => Err(Status::unauthenticated(
            "this control API refused the token given (`authorization: Bearer <token>`; fleetsim takes it from --token or FLEETSIM_TOKEN)",
        )),
        None => Err(Status::unauthenticated(
            "this control API needs `authorization: Bearer <token>` (fleetsim takes it from --token or FLEETSIM_TOKEN)",
        )),
    }
}

/// The events of `log` as JSON lines: with `history`, every event so far
/// first; then each new one, until the log's fleet goes.
pub(crate) fn event_lines(log: &EventLog, history: bool) -> EventStream {
    let (past, mut rx) = log.history_and_subscribe();
    let past = if history { past } else { Vec::new() };
    async_stream(
        move |tx: mpsc::Sender<Result<pb::EventLine, Status>>| async move {
            for e in past {
                let json = serde_json::to_string(&e).unwrap_or_default();
                if tx.send(Ok(pb::EventLine { json })).await.is_err() {
                    return;
                }
            }
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
    )
}

pub(crate) type EventStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::EventLine, Status>> + Send>>;

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
        // The drill so far first, then each event as it comes.
        let stream = event_lines(&self.fleet.log, true);
        Ok(Response::new(stream))
    }

    async fn stop(&self, req: Request<pb::StopRequest>) -> Result<Response<pb::StopReply>, Status> {
        self.check(&req)?;
        self.fleet.stop.notify_one();
        Ok(Response::new(pb::StopReply {}))
    }

    async fn faults(
        &self,
        req: Request<pb::FaultsRequest>,
    ) -> Result<Response<pb::FaultsReply>, Status> {
        self.check(&req)?;
        let (tx, rx) = oneshot::channel();
        self.fleet
            .tx
            .send(Cmd::Faults(tx))
            .await
            .map_err(|_| Status::unavailable("the fleet has stopped"))?;
        rx.await
            .map(Response::new)
            .map_err(|_| Status::unavailable("the fleet has stopped"))
    }

    async fn clear(
        &self,
        req: Request<pb::ClearRequest>,
    ) -> Result<Response<pb::ClearReply>, Status> {
        self.check(&req)?;
        let which = req.into_inner().which;
        if which.len() > 64 {
            return Err(Status::invalid_argument(
                "give a fault id from `fleetsim ctl faults`, `all` or `links`",
            ));
        }
        let (tx, rx) = oneshot::channel();
        self.fleet
            .tx
            .send(Cmd::Clear(which, tx))
            .await
            .map_err(|_| Status::unavailable("the fleet has stopped"))?;
        match rx.await {
            Ok(Ok(r)) => Ok(Response::new(r)),
            Ok(Err(e)) => Err(Status::invalid_argument(e)),
            Err(_) => Err(Status::unavailable("the fleet has stopped")),
        }
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

/// Serves `Control`, reflection (v1 and v1alpha) and `grpc.health.v1` on
/// `addr` until the runtime ends. A non-loopback address needs a token; a
/// blank token is refused. With a token, every service on the port but
/// health (reflection too) needs it.
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
                "port {} of the control API ({addr}) is in use (another `fleetsim up`?): stop what holds it, or give another --control ADDR{}",
                addr.port(),
                ephemeral_note(addr.port())
            )
        } else {
            format!("cannot bind the control API on {addr}: {e}")
        }
    })
}

/// Serves `Control`, reflection (v1 and v1alpha) and `grpc.health.v1` on a
/// listener from [`bind_control`] until the runtime ends; with `token`,
/// every call but a health check needs it.
pub async fn serve_control_on(
    handle: LiveHandle,
    listener: tokio::net::TcpListener,
    token: Option<String>,
) -> Result<(), String> {
    if token.as_deref().is_some_and(blank_token) {
        return Err("refusing a blank control API token: give a non-empty --token".into());
    }
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let svc = pb::control_server::ControlServer::new(ControlSvc::new(handle, token.clone()));
    let auth = move |req: Request<()>| authorize(token.as_deref(), req.metadata()).map(|()| req);
    use tonic::service::interceptor::InterceptedService as Guarded;
    let names = [pb::control_server::SERVICE_NAME, "grpc.health.v1.Health"];
    let (reflection_v1, reflection_v1alpha) = fleetsim_server::reflect::reflection(&names).unzip();
    // Health answers without the token, as probes (a Kubernetes gRPC
    // probe, grpc_health_probe) send none; it tells only that the port serves.
    let (health, health_svc) = tonic_health::server::health_reporter();
    health
        .set_serving::<pb::control_server::ControlServer<ControlSvc>>()
        .await;
    // hyper's wall-clock `date` header is on here: this server is
    // live-only, real TCP on the wall clock, so no sim byte depends on it.
    tonic::transport::Server::builder()
        .add_service(health_svc)
        .add_service(Guarded::new(svc, auth.clone()))
        .add_optional_service(reflection_v1.map(|r| Guarded::new(r, auth.clone())))
        .add_optional_service(reflection_v1alpha.map(|r| Guarded::new(r, auth)))
        .serve_with_incoming(incoming)
        .await
        .map_err(|e| format!("control API: {e}"))
}

/// For a port found in use: when it lies in this system's ephemeral range
/// (Linux: /proc/sys/net/ipv4/ip_local_port_range), where outgoing
/// connections take their local ports, why it can be busy with nothing
/// listening on it, and what avoids that. Empty otherwise.
pub fn ephemeral_note(port: u16) -> String {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok();
    let bounds: Option<(u16, u16)> = range.as_deref().and_then(|r| {
        let mut it = r.split_whitespace().map(|n| n.parse::<u16>().ok());
        Some((it.next()??, it.next()??))
    });
    match bounds {
        Some((lo, hi)) if (lo..=hi).contains(&port) => format!(
            " ({port} is in this system's ephemeral range {lo}–{hi}, where outgoing connections take their local ports, so it can be busy with nothing listening: ports below {lo} avoid that)"
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Ledger, Pending, aged, bearer_token};

    #[test]
    fn a_member_process_s_timers_count_on_from_when_they_were_read() {
        let silent = fleetsim_proto::pb::PeerTimer {
            peer: "primary".into(),
            silent_ms: 113_000,
            visible_ms: 0,
            ..Default::default()
        };
        let back = fleetsim_proto::pb::PeerTimer {
            peer: "primary".into(),
            silent_ms: 1_000,
            visible_ms: 60_000,
            ..Default::default()
        };
        let now = aged(&[silent, back], 14_000);
        assert_eq!((now[0].silent_ms, now[0].visible_ms), (127_000, 0));
        assert_eq!((now[1].silent_ms, now[1].visible_ms), (15_000, 74_000));
    }

    /// A `ctl fault` command on the reference fleet, noted as the actor
    /// notes it: what applies now is recorded, the rest scheduled.
    fn command(ledger: &mut Ledger, action: &str) {
        let fleet = fleetsim_model::embedded::fleet("reference")
            .unwrap()
            .unwrap();
        let faults = fleetsim_model::fault::parse_action(&fleet, action).unwrap();
        let batch = ledger.new_batch();
        let now = tokio::time::Instant::now();
        for f in faults {
            let at_ms = u64::try_from(f.at.0.as_millis()).unwrap();
            if at_ms == 0 {
                ledger.record(&f.kind, 0, batch);
            } else {
                ledger.schedule(Pending {
                    when: now + f.at.0,
                    at_ms,
                    fault: f,
                    batch,
                });
            }
        }
        ledger.mark_flaps(batch);
    }

    /// The next scheduled step, as the actor applies it.
    fn step(ledger: &mut Ledger) {
        let p = ledger.pending.pop_front().unwrap();
        ledger.record(&p.fault.kind, p.at_ms, p.batch);
    }

    fn ids(ledger: &Ledger) -> Vec<u32> {
        ledger.in_force.iter().map(|f| f.id).collect()
    }

    #[test]
    fn a_crash_or_a_stop_ends_the_hang_and_the_gray_failure_of_its_server_in_the_list() {
        for end in [r#"crash = "expansion-l""#, r#"stop = "expansion-l""#] {
            let mut ledger = Ledger::default();
            command(&mut ledger, r#"hang = "expansion-l""#);
            command(
                &mut ledger,
                r#"gray = { target = "expansion-l", drop = ["presence"] }"#,
            );
            command(&mut ledger, r#"hang = "primary""#);
            command(&mut ledger, end);
            let listed: Vec<String> = ledger.in_force.iter().map(|f| f.kind.describe()).collect();
            assert_eq!(listed.len(), 2, "{end}: {listed:?}");
            assert!(listed[0].contains("primary"), "{end}: {listed:?}");
            assert!(
                listed[1].contains("expansion-l"),
                "{end}: the crash or stop itself: {listed:?}"
            );
        }
    }

    #[test]
    fn a_flap_is_one_fault_in_force_under_one_id_until_its_last_step() {
        let mut ledger = Ledger::default();
        command(
            &mut ledger,
            r#"flap = { target = "expansion-v2", period = "1m", duty = 0.5, count = 3 }"#,
        );
        let first = ids(&ledger);
        assert_eq!(first.len(), 1);
        let f = &ledger.in_force[0];
        assert_eq!(ledger.until_ms(f), Some(150_000), "its last step");
        while ledger.pending.len() > 1 {
            step(&mut ledger);
            assert_eq!(ids(&ledger), first, "{} steps left", ledger.pending.len());
        }
        step(&mut ledger);
        assert!(ledger.in_force.is_empty());
    }

    #[test]
    fn a_heal_cancels_the_scheduled_end_of_the_partition_it_ends() {
        let mut ledger = Ledger::default();
        command(&mut ledger, "partition = [[\"apps\"]]\nfor = \"2m\"");
        assert_eq!(ledger.pending.len(), 1);
        command(&mut ledger, "heal = true");
        assert!(ledger.in_force.is_empty() && ledger.pending.is_empty());
    }

    #[test]
    fn two_stalls_of_one_node_are_each_in_force_and_each_ends_its_own() {
        let mut ledger = Ledger::default();
        command(&mut ledger, "stall = \"apps\"\nfor = \"2m\"");
        command(&mut ledger, "stall = \"apps\"\nfor = \"1m\"");
        assert_eq!(ids(&ledger).len(), 2);
        assert_eq!(ledger.pending.len(), 2, "neither end is cancelled");
        step(&mut ledger);
        assert_eq!(ids(&ledger).len(), 1);
        step(&mut ledger);
        assert!(ledger.in_force.is_empty());
    }

    #[test]
    fn a_bearer_token_is_read_whatever_the_case_of_its_scheme() {
        assert_eq!(bearer_token("Bearer s3cret"), Some("s3cret"));
        assert_eq!(bearer_token("bearer s3cret"), Some("s3cret"));
        assert_eq!(bearer_token("BEARER s3cret"), Some("s3cret"));
        assert_eq!(
            bearer_token("Bearer  s3cret"),
            Some(" s3cret"),
            "the token as sent"
        );
        assert_eq!(bearer_token("Basic s3cret"), None);
        assert_eq!(bearer_token("Bearers3cret"), None);
    }
}
