//! [`run`]: one scenario, start to end, on a runtime of its own; from
//! inside a tokio runtime, on a thread of its own too ([`run_async`] awaits
//! it without blocking the caller's runtime).

use fleetsim_rules::TakeoverPolicy;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use fleetsim_model::{Calls, LoadError, ScriptedCall};
use fleetsim_model::{Event, EventRecord, Fault, FaultKind, Fleet, GrayPath, Scenario, Service};
use fleetsim_net::{Clock, EventLog, Net, Timing};
use fleetsim_phones::PhoneCmd;
use fleetsim_phones::workload::{self, Workload};
use fleetsim_phones::{PhoneConfig, PhoneHandle};
use fleetsim_server::{Ctx, Disk, ServerConfig, ServerHandle, StartError, Stats};

use crate::expect::{ExpectationResult, evaluate};
use crate::metrics::Metrics;
use crate::panics::{Collecting, RunFailure, unrecorded};

pub use fleetsim_net::Mode;

/// How to run a scenario.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Network and clock: `Sim` (virtual time, deterministic) or `Live`.
    pub mode: Mode,
    /// Live mode: emulated seconds per wall second.
    pub speed: f64,
    /// Replaces the scenario's seed.
    pub seed: Option<u64>,
    /// Live mode: server i of the fleet file listens on 127.0.0.1:(base + i)
    /// (an external member's slot is left unused), so an external member
    /// knows where to reach fleetsim's servers; `None`: ports the system picks.
    pub base_port: Option<u16>,
    /// Called with (emulated ms so far, total) about a hundred times per
    /// run, in both modes. In sim mode its timer runs whether a callback is
    /// given or not, so the event log never depends on it.
    pub progress: Option<Progress>,
    /// The takeover policy every server decides by (default: the
    /// documented Server Edition behaviour).
    pub policy: Arc<dyn TakeoverPolicy>,
    /// Test hook, not an emulated fault, so tests can check that a panic
    /// anywhere makes the run an error: `SERVER` panics in the handler of
    /// the first gRPC request its first incarnation serves;
    /// `spawned:SERVER` panics in work that request spawns (the request is
    /// answered as usual); `phone:EXTENSION` panics in that phone's task as
    /// it starts.
    #[doc(hidden)]
    pub inject_panic: Option<String>,
}

/// Where [`RunOptions::inject_panic`] makes the run panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PanicSite<'a> {
    /// A server's gRPC handler.
    Handler(&'a str),
    /// Work a server's gRPC handler spawns.
    SpawnedWork(&'a str),
    /// A phone's task.
    Phone(&'a str),
}

impl PanicSite<'_> {
    fn parse(site: &str) -> PanicSite<'_> {
        if let Some(server) = site.strip_prefix("spawned:") {
            PanicSite::SpawnedWork(server)
        } else if let Some(phone) = site.strip_prefix("phone:") {
            PanicSite::Phone(phone)
        } else {
            PanicSite::Handler(site)
        }
    }
}

/// A progress callback: (emulated ms so far, emulated ms in all).
#[derive(Clone)]
pub struct Progress(pub Arc<dyn Fn(u64, u64) + Send + Sync>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            mode: Mode::Sim,
            speed: 1.0,
            seed: None,
            base_port: None,
            progress: None,
            policy: Arc::new(fleetsim_rules::ServerEdition),
            inject_panic: None,
        }
    }
}

/// Why a run could not happen (as opposed to a run whose expectations fail).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A scenario built in code is invalid (the error a file would get).
    #[error(transparent)]
    Invalid(#[from] LoadError),
    /// The runtime could not be built.
    #[error("cannot build the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Called from inside a tokio runtime, the run needs a thread of its
    /// own, and none could be started.
    #[error("cannot start a thread for the run: {0}")]
    Thread(#[source] std::io::Error),
    /// A server could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// A sweep variation is impossible (e.g. a fault moved past the end).
    #[error("{0}")]
    Sweep(String),
    /// The speed is out of range.
    #[error("speed must be between 0.01 and 10000, got {0}")]
    Speed(f64),
    /// The takeover policy's name would mislead (blank, or a built-in's).
    #[error("{0}")]
    Policy(String),
    /// Sim mode cannot run a fleet with an external member: its network is
    /// in memory and its clock virtual, and the member is a real process.
    #[error("{message}")]
    ExternalNeedsLive {
        /// The external member.
        member: String,
        /// Its address.
        address: String,
        /// The refusal, located at the member's `address` in its fleet file.
        message: String,
    },
}

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// Scenario name.
    pub scenario: String,
    /// The scenario as run (with the seed used).
    pub spec: Scenario,
    /// Seed used.
    pub seed: u64,
    /// Mode used.
    pub mode: Mode,
    /// The takeover policy the servers decided by (its name).
    pub policy: String,
    /// Emulated duration in ms.
    pub duration_ms: u64,
    /// Every event, in order.
    pub events: Vec<EventRecord>,
    /// One result per expectation, in file order.
    pub expectations: Vec<ExpectationResult>,
    /// Metrics computed from the events.
    pub metrics: Metrics,
    /// Wall-clock milliseconds the run took (not part of the event log).
    pub wall_ms: f64,
    /// RPCs served during the run by the servers this process runs (see
    /// [`RunOutcome::rpcs_counted`]).
    pub rpcs: u64,
    /// The emulator itself failed (a panic in any task of the run): the
    /// run is an error, whatever the expectations say.
    pub error: Option<RunFailure>,
}

impl RunOutcome {
    /// RPCs served, when fleetsim counted them all: `None` when a member
    /// serves elsewhere (an external member, or `up --processes`), whose
    /// RPCs this process never sees.
    pub fn rpcs_counted(&self) -> Option<u64> {
        let elsewhere = self.spec.fleet.servers.iter().any(|s| s.is_external());
        (!elsewhere).then_some(self.rpcs)
    }

    /// Whether the run is over ("at the end") or a live drill still going
    /// ("now"): the words for figures read at its last moment.
    pub fn at_the_end(&self) -> &'static str {
        match self.events.last() {
            Some(e)
                if !matches!(e.event, fleetsim_model::Event::RunEnded {})
                    && self.mode == Mode::Live =>
            {
                "now"
            }
            _ => "at the end",
        }
    }

    /// Whether the emulator ran without error and every expectation held.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.expectations.iter().all(|e| e.passed)
    }

    /// `sep` and "policy NAME" for a policy other than the documented
    /// default, which every view leaves unsaid; empty for the default.
    pub fn policy_words(&self, sep: &str) -> String {
        if self.policy == crate::rules::DEFAULT_POLICY {
            String::new()
        } else {
            format!("{sep}policy {}", self.policy)
        }
    }

    /// Whether the run had no expectation to check: it passes, but proves
    /// nothing (the command line says so in every view, and `--strict`
    /// fails it).
    pub fn checked_nothing(&self) -> bool {
        self.expectations.is_empty()
    }

    /// Panics, listing the emulator's error and every failed expectation
    /// with its detail, unless the run passed; also when it checked
    /// nothing, since a test of a run with no expectation cannot fail.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(
            !self.checked_nothing() || self.error.is_some(),
            "{} (seed {}{}) checked nothing: give it an expectation (`.expect(...)`, or `[[expect]]` in its file); a run with none passes whatever happens",
            self.scenario,
            self.seed,
            self.policy_words(", "),
        );
        let failed: Vec<String> = self
            .error
            .iter()
            .map(|e| format!("  error: {e}"))
            .chain(
                self.expectations
                    .iter()
                    .filter(|e| !e.passed)
                    .map(|e| format!("  {}: {}", e.name, e.detail)),
            )
            .collect();
        assert!(
            failed.is_empty(),
            "{} (seed {}{}) failed:\n{}",
            self.scenario,
            self.seed,
            // So a loop over policies says whose run failed.
            self.policy_words(", "),
            failed.join("\n")
        );
    }

    /// The events matching `f`, in order.
    pub fn events_where(&self, f: impl Fn(&EventRecord) -> bool) -> Vec<&EventRecord> {
        self.events.iter().filter(|e| f(e)).collect()
    }

    /// How many events match `f`.
    pub fn count(&self, f: impl Fn(&EventRecord) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }

    /// The first event matching `f`.
    pub fn first(&self, f: impl Fn(&EventRecord) -> bool) -> Option<&EventRecord> {
        self.events.iter().find(|e| f(e))
    }
}

/// Runs `scenario` to its end on a fresh current-thread runtime (paused
/// clock in sim mode) and evaluates it. A panic in any task of the run (or
/// in the runner) does not end the process: the outcome carries it as
/// [`RunOutcome::error`] and does not pass.
///
/// Called from inside a tokio runtime (a `#[tokio::test]` of any flavour),
/// the run goes to a thread of its own, since one thread cannot drive two
/// runtimes, and this call blocks the calling thread until it ends; in
/// async code, [`run_async`] awaits it instead.
pub fn run(scenario: &Scenario, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    if tokio::runtime::Handle::try_current().is_err() {
        return run_here(scenario, opts);
    }
    std::thread::scope(|s| {
        let thread = std::thread::Builder::new()
            .name("fleetsim-run".into())
            .spawn_scoped(s, || run_here(scenario, opts))
            .map_err(RunError::Thread)?;
        // A panic outside the run's own catches (computing its metrics) goes on up.
        thread
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// [`run`] for async code: the run goes to a thread of its own, and this
/// awaits its outcome without blocking the caller's runtime (a
/// `#[tokio::test]`, a service). The same outcome as [`run`]: a panic
/// inside the run is in [`RunOutcome::error`].
pub async fn run_async(scenario: &Scenario, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let (scenario, opts) = (scenario.clone(), opts.clone());
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("fleetsim-run".into())
        .spawn(move || {
            let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_here(&scenario, &opts)
            }));
            let _ = tx.send(done);
        })
        .map_err(RunError::Thread)?;
    match rx.await {
        Ok(Ok(outcome)) => outcome,
        // A panic outside the run's own catches (computing its metrics) goes on up.
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => Err(RunError::Thread(std::io::Error::other(
            "the run's thread ended without an outcome",
        ))),
    }
}

/// [`run`] on this thread, which must not be driving a tokio runtime.
fn run_here(scenario: &Scenario, opts: &RunOptions) -> Result<RunOutcome, RunError> {
    let speed_ok =
        (fleetsim_net::Clock::MIN_SPEED..=fleetsim_net::Clock::MAX_SPEED).contains(&opts.speed);
    if opts.mode == Mode::Live && !speed_ok {
        return Err(RunError::Speed(opts.speed));
    }
    if opts.mode == Mode::Sim {
        needs_no_external(&scenario.fleet)?;
    }
    check_policy_name(opts.policy.as_ref())?;
    let mut scenario = scenario.clone();
    if let Some(seed) = opts.seed {
        scenario.seed = seed;
    }
    let mut builder = tokio::runtime::Builder::new_current_thread();
    if opts.mode == Mode::Sim {
        // In-memory pipes need no I/O driver, and without one an idle
        // instant costs no `epoll_wait` before the clock jumps ahead.
        builder.enable_time().start_paused(true);
    } else {
        builder.enable_all();
    }
    let rt = builder.build().map_err(RunError::Runtime)?;
    let wall = crate::Stopwatch::start();
    let launch = Launch {
        mode: opts.mode,
        speed: if opts.mode == Mode::Live {
            opts.speed
        } else {
            1.0
        },
        base_port: opts.base_port.filter(|_| opts.mode == Mode::Live),
        policy: opts.policy.clone(),
        observe_external: true,
        inject_panic: opts.inject_panic.clone(),
    };
    // In sim mode the timer runs with or without a callback: one more
    // task waking on its own changes nothing else, and always being there
    // keeps it so.
    let progress = match (&opts.progress, opts.mode) {
        (Some(p), _) => Some(p.clone()),
        (None, Mode::Sim) => Some(Progress(Arc::new(|_, _| {}))),
        (None, Mode::Live) => None,
    };
    let collecting = Collecting::start();
    let slot = std::sync::OnceLock::new();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(run_inner(&scenario, launch, progress, &slot))
    }));
    drop(rt);
    let (events, rpcs, runner_panic) = match ran {
        Ok(r) => {
            let (events, rpcs) = r?;
            (events, rpcs, None)
        }
        // The runner itself panicked: what was logged until then.
        Err(payload) => {
            let (events, rpcs) = slot.get().map_or((Vec::new(), 0), |(log, stats): &Probe| {
                (log.snapshot(), stats.rpcs.load(Ordering::Relaxed))
            });
            (events, rpcs, unrecorded(payload.as_ref()))
        }
    };
    let mut error = collecting.finish().or(runner_panic);
    let wall_ms = wall.elapsed_ms();
    let metrics = Metrics::compute(&scenario, &events);
    // The policy's own code runs in the judging too (the takeover bound a
    // `no-failover` waits for): a panic there is the run's error, caught
    // and kept as any other, not the caller's; the expectations then say
    // they were not judged (not that there were none).
    let judging = Collecting::start();
    let judged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        evaluate(&scenario, &events, opts.policy.as_ref())
    }));
    // Where it panicked, as the hook saw it.
    let judge_panic = judging.finish();
    let expectations = judged.unwrap_or_else(|payload| {
        error = (error.take())
            .or(judge_panic)
            .or_else(|| unrecorded(payload.as_ref()));
        vec![crate::expect::ExpectationResult {
            name: "the expectations are judged".into(),
            passed: false,
            detail: "not judged: the takeover policy panicked while the run was judged".into(),
        }]
    });
    Ok(RunOutcome {
        scenario: scenario.name.clone(),
        spec: scenario.clone(),
        seed: scenario.seed,
        mode: opts.mode,
        policy: opts.policy.name().to_string(),
        duration_ms: scenario.duration.as_millis(),
        events,
        expectations,
        metrics,
        wall_ms,
        rpcs,
        error,
    })
}

/// Refuses a policy whose name would mislead every view of its run: a
/// blank one, or a built-in's name on another policy (its runs would read
/// as the built-in's, and the default's name is left unsaid).
pub(crate) fn check_policy_name(policy: &dyn crate::rules::TakeoverPolicy) -> Result<(), RunError> {
    // A policy is the user's code: a panic in its name or Debug is an
    // error of the run, said once, not a crash of the tool.
    let named = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        (policy.name().to_owned(), format!("{policy:?}"))
    }));
    let Ok((name, debug)) = named else {
        return Err(RunError::Policy(
            "the takeover policy panicked when asked its name (TakeoverPolicy::name or its Debug)"
                .into(),
        ));
    };
    let name = name.as_str();
    if name.trim().is_empty() {
        return Err(RunError::Policy(
            "a takeover policy needs a name (TakeoverPolicy::name): every view of its runs names it".into(),
        ));
    }
    // Reproduce lines and tables print it as one word.
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(RunError::Policy(format!(
            "policy name {name:?} has a space or a control character: give it one word, such as \"two-minute-guard\" (every view of its runs prints it)"
        )));
    }
    // Another type, or the same type otherwise set up: a user's struct
    // named like a built-in must not pass for it.
    let shadows = crate::rules::by_name(name)
        .is_some_and(|b| b.type_name() != policy.type_name() || format!("{b:?}") != debug);
    if shadows {
        return Err(RunError::Policy(format!(
            "policy {name:?} has the name of a built-in policy: give yours a name of its own, so its runs are not read as the built-in's"
        )));
    }
    Ok(())
}

/// Refuses a fleet with an external member ([`RunError::ExternalNeedsLive`]):
/// what sim mode must do, since the member is a real process.
fn needs_no_external(fleet: &Fleet) -> Result<(), RunError> {
    match fleet.external_members().next() {
        Some(s) => {
            let address = s.address.clone().unwrap_or_default();
            Err(RunError::ExternalNeedsLive {
                message: s.address_at.say(
                    format!("{} is an external member (address = {address:?}): sim mode cannot run it, since its network is in memory and its clock virtual", s.name),
                    Some("run it in live mode (--mode live), or remove the address to let fleetsim run the server".into()),
                ),
                member: s.name.clone(),
                address,
            })
        }
        None => Ok(()),
    }
}

/// The event log and counters of a run, kept where a panicking runner
/// cannot take them along.
type Probe = (EventLog, Arc<Stats>);

/// How to start the fleet: network mode, speed, ports and the test hook.
pub(crate) struct Launch {
    pub(crate) mode: Mode,
    pub(crate) speed: f64,
    /// Live ports: server i gets base + i.
    pub(crate) base_port: Option<u16>,
    /// See [`RunOptions::policy`].
    pub(crate) policy: Arc<dyn TakeoverPolicy>,
    /// See [`RunOptions::inject_panic`].
    pub(crate) inject_panic: Option<String>,
    /// Whether phones log what they see of external members. Off when the
    /// members are `fleetsim node` processes whose own events reach the log.
    pub(crate) observe_external: bool,
}

/// The fleet under test: the one source of truth for what runs.
pub(crate) struct FleetUnderTest {
    pub(crate) fleet: Arc<Fleet>,
    seed: u64,
    timing: Timing,
    pub(crate) ctx: Ctx,
    pub(crate) servers: BTreeMap<String, ServerHandle>,
    pub(crate) incarnations: BTreeMap<String, u64>,
    /// Each server's disk, kept across its incarnations.
    pub(crate) disks: BTreeMap<String, Disk>,
    phones: BTreeMap<String, PhoneHandle>,
    /// The call and portal workload.
    workload: Vec<tokio::task::JoinHandle<()>>,
    workload_token: tokio_util::sync::CancellationToken,
    /// See [`RunOptions::inject_panic`].
    inject_panic: Option<String>,
    /// The partition in force, so that its end can name it.
    partition: Option<FaultKind>,
    /// Stalls and hangs in force per node: they count up, so the end of
    /// one of several does not read as the node resuming.
    counted: BTreeMap<String, u32>,
}

impl FleetUnderTest {
    /// Starts the clock, the network, every server (awaiting each bind),
    /// then every phone, the call workload and the scripted calls.
    pub(crate) async fn start(
        fleet: Arc<Fleet>,
        seed: u64,
        launch: Launch,
        first_event: Event,
        calls: &Calls,
        script: &[ScriptedCall],
    ) -> Result<FleetUnderTest, RunError> {
        let clock = Clock::start(launch.speed);
        let log = EventLog::new(clock);
        let timing = Timing::new(&fleet.timers, &clock);
        let net = Net::new(launch.mode, timing.connect_timeout);
        net.set_seed(seed);
        if let Some(base) = launch.base_port {
            for (i, s) in fleet.servers.iter().enumerate() {
                net.set_port(&s.name, base.saturating_add(i as u16));
            }
        }
        // Members fleetsim does not run are reached where they listen.
        for s in fleet.external_members() {
            net.set_external(&s.name, s.address.as_deref().unwrap_or_default());
        }
        log.emit("runner", first_event);
        let mut fut = FleetUnderTest {
            fleet: fleet.clone(),
            seed,
            timing,
            ctx: Ctx {
                net: net.clone(),
                log: log.clone(),
                stats: Arc::new(Stats::default()),
                policy: launch.policy,
            },
            servers: BTreeMap::new(),
            incarnations: BTreeMap::new(),
            disks: fleet
                .servers
                .iter()
                .filter(|s| !s.is_external())
                .map(|s| (s.name.clone(), Disk::default()))
                .collect(),
            phones: BTreeMap::new(),
            workload: Vec::new(),
            workload_token: tokio_util::sync::CancellationToken::new(),
            inject_panic: launch.inject_panic,
            partition: None,
            counted: BTreeMap::new(),
        };
        // Every server is bound before any phone starts: readiness is awaited.
        for s in fleet.servers.iter().filter(|s| !s.is_external()) {
            fut.start_server(&s.name).await?;
        }
        for p in &fleet.phones {
            if p.kind == fleetsim_model::PhoneKind::Analogue {
                net.colocate(&p.extension, &p.home);
            }
            let backup = fleet.backup_of_phone(p).map(str::to_string);
            let res = &fleet.resilience;
            let rt = |d: fleetsim_model::Dur| clock.to_runtime(d.0).max(Duration::from_millis(1));
            let cfg = PhoneConfig {
                spec: p.clone(),
                backup,
                seed,
                timing,
                dect_poll: rt(res.dect_poll),
                dect_switch_after: rt(res.dect_switch_after),
                preservation: res.media_preservation.then(|| rt(res.preservation_limit)),
                trunk_systems: fleet
                    .servers
                    .iter()
                    .filter(|s| s.trunks > 0)
                    .map(|s| s.name.clone())
                    .collect(),
                external: if launch.observe_external {
                    fleet.external_members().map(|s| s.name.clone()).collect()
                } else {
                    Vec::new()
                },
                panic_on_start: fut.panic_site() == Some(PanicSite::Phone(&p.extension)),
            };
            fut.phones.insert(
                p.extension.clone(),
                fleetsim_phones::spawn(cfg, net.clone(), log.clone()),
            );
        }
        if !calls.is_idle() {
            let phones = fut.senders();
            let senders = || Workload {
                calls: calls.clone(),
                phones: phones.clone(),
                seed,
            };
            let f = fleet.clone();
            let w = senders();
            fut.workload.push(tokio::spawn(async move {
                workload::run_calls(w, &f, clock).await;
            }));
            let f = fleet.clone();
            let w = senders();
            let (n, l, tok) = (net.clone(), log.clone(), fut.workload_token.clone());
            fut.workload.push(tokio::spawn(async move {
                workload::run_portal_changes(w, &f, n, l, timing, tok).await;
            }));
        }
        // Only a scenario with a script gets the task: a run without one
        // keeps the event log it always had.
        if !script.is_empty() {
            fut.workload.push(tokio::spawn(workload::run_script(
                script.to_vec(),
                fut.senders(),
                log.clone(),
            )));
        }
        Ok(fut)
    }

    /// Every phone's command sender, in fleet order.
    fn senders(&self) -> Vec<(String, fleetsim_phones::Commands)> {
        self.fleet
            .phones
            .iter()
            .filter_map(|p| {
                self.phones
                    .get(&p.extension)
                    .map(|h| (p.extension.clone(), h.sender()))
            })
            .collect()
    }

    /// Where the test hook makes the run panic, if anywhere.
    fn panic_site(&self) -> Option<PanicSite<'_>> {
        self.inject_panic.as_deref().map(PanicSite::parse)
    }

    async fn start_server(&mut self, name: &str) -> Result<(), StartError> {
        let site = self.panic_site();
        let first = self.incarnations.get(name).is_none_or(|n| *n == 0);
        let panic_on_first_request = first && site == Some(PanicSite::Handler(name));
        let panic_in_spawned_work = first && site == Some(PanicSite::SpawnedWork(name));
        let inc = self.incarnations.entry(name.to_string()).or_insert(0);
        *inc += 1;
        let cfg = ServerConfig {
            fleet: self.fleet.clone(),
            name: name.to_string(),
            incarnation: *inc,
            seed: self.seed,
            timing: self.timing,
            disk: self.disks.entry(name.to_string()).or_default().clone(),
            panic_on_first_request,
            panic_in_spawned_work,
        };
        let handle = fleetsim_server::start(cfg, self.ctx.clone()).await?;
        self.servers.insert(name.to_string(), handle);
        Ok(())
    }

    /// The fault in words; the end of a partition names the partition.
    fn words(&mut self, kind: &FaultKind) -> String {
        match kind {
            FaultKind::Partition { groups } if groups.is_empty() => self
                .partition
                .take()
                .map_or_else(|| kind.describe(), |p| p.describe_end()),
            FaultKind::Partition { .. } => {
                self.partition = Some(kind.clone());
                kind.describe()
            }
            FaultKind::Heal => {
                self.partition = None;
                kind.describe()
            }
            FaultKind::Stall { node: n, on } | FaultKind::Hang { server: n, on } => {
                let what = if matches!(kind, FaultKind::Stall { .. }) {
                    "stall"
                } else {
                    "hang"
                };
                let count = self.counted.entry(format!("{what} {n}")).or_insert(0);
                if *on {
                    *count += 1;
                    return kind.describe();
                }
                *count = count.saturating_sub(1);
                match *count {
                    0 => kind.describe(),
                    left => format!(
                        "one {what} of {n} ends; {left} more in force, so it stays {}",
                        if what == "stall" { "stalled" } else { "hung" }
                    ),
                }
            }
            FaultKind::Stop { server } if self.ctx.net.is_hung(server) => killed_stop_words(kind),
            _ => kind.describe(),
        }
    }

    pub(crate) async fn apply(&mut self, fault: &Fault) -> Result<(), StartError> {
        let words = self.words(&fault.kind);
        let log = &self.ctx.log;
        let net = &self.ctx.net;
        let target = fault.kind.logged_by(&self.fleet);
        log.emit(
            target,
            Event::FaultApplied {
                fault: words,
                spec: fault.kind.clone(),
            },
        );
        match &fault.kind {
            FaultKind::Crash { server } => {
                net.forget_server(server);
                if let Some(h) = self.servers.remove(server) {
                    let cut = h.voicemail_in_progress();
                    let registered_phones = h.crash(net);
                    log.emit(server, Event::ServerCrashed { registered_phones });
                    emit_cut(log, server, cut);
                }
            }
            FaultKind::Stop { server } => {
                // A hung process answers nothing, its own shutdown included:
                // what stops it is the kill that follows.
                let hung = net.is_hung(server);
                net.forget_server(server);
                if let Some(h) = self.servers.remove(server) {
                    let cut = h.voicemail_in_progress();
                    if hung {
                        let registered_phones = h.crash(net);
                        log.emit(server, Event::ServerCrashed { registered_phones });
                    } else {
                        let registered_phones = h.stop(net);
                        log.emit(server, Event::ServerStopped { registered_phones });
                    }
                    emit_cut(log, server, cut);
                }
            }
            // Validation refuses restarts of external members; never start one.
            FaultKind::Restart { server } => {
                if !self.servers.contains_key(server) && !self.fleet.is_external(server) {
                    self.start_server(server).await?;
                }
            }
            FaultKind::ActivateBackup { .. } => {
                if let Some(b) = self.fleet.voicemail_backup() {
                    self.operator(&fault.kind, &b.name);
                }
            }
            FaultKind::ManualFailback { service } => {
                let backup = if service == Service::OneXPortal.as_str() {
                    self.fleet.portal_backup()
                } else {
                    self.fleet.voicemail_backup()
                };
                if let Some(b) = backup {
                    self.operator(&fault.kind, &b.name);
                }
            }
            FaultKind::ConfigChange { server } => self.operator(&fault.kind, server),
            FaultKind::RebootPhone { phone } => {
                if let Some(p) = self.phones.get(phone) {
                    p.send(PhoneCmd::Reboot);
                }
            }
            other => {
                let clock = log.clock();
                apply_to_net(net, &self.fleet, other, |d| clock.to_runtime(d));
            }
        }
        Ok(())
    }

    /// An operator action: a gRPC call from the operator's console, a node
    /// on the network like any other, so a partition or a hang keeps the
    /// action from its server. One that does not arrive is an event.
    fn operator(&self, kind: &FaultKind, server: &str) {
        let ch = fleetsim_net::channel(
            &self.ctx.net,
            OPERATOR,
            &self.workload_token,
            server,
            self.timing.channel(),
        );
        let (deadline, log) = (self.timing.rpc_deadline, self.ctx.log.clone());
        let (kind, server) = (kind.clone(), server.to_string());
        tokio::spawn(async move {
            let Err(status) = operator_rpc(ch, deadline, &kind).await else {
                return;
            };
            // A refusal is the server's to log (e.g. restricted mode).
            if status.code() != tonic::Code::FailedPrecondition {
                log.emit(
                    OPERATOR,
                    Event::ActionFailed {
                        action: kind.describe(),
                        target: server,
                        reason: fleetsim_net::failure_reason(&status),
                    },
                );
            }
        });
    }

    /// The end-of-run audit of voicemail messages and recordings, read from
    /// the servers' disks.
    pub(crate) fn audit(&self, events: &[EventRecord]) -> Event {
        let mut left = Vec::new();
        let mut made = Vec::new();
        for e in events {
            match &e.event {
                Event::VoicemailLeft { message, .. } => left.push(message.clone()),
                Event::RecordingMade { recording, .. } => made.push(recording.clone()),
                _ => {}
            }
        }
        // Safe: an active voicemail holds it. Waiting: it will come back on
        // its own (kept by a server that is down, by the primary while its
        // backup is still active, or marked unsynced on the backup). Lost:
        // anything else, e.g. a backup that counted it synced when the
        // primary does not hold it.
        let mut active = std::collections::BTreeSet::new();
        let mut down = std::collections::BTreeSet::new();
        let primary = &self.fleet.primary().name;
        for (name, disk) in &self.disks {
            match self.servers.get(name) {
                Some(h) if h.voicemail_active() => active.extend(disk.message_ids()),
                Some(_) if name == primary => down.extend(disk.message_ids()),
                Some(_) => {}
                None => down.extend(disk.message_ids()),
            }
            down.extend(disk.unsynced_ids());
        }
        let (mut lost, mut waiting) = (0, 0);
        for m in &left {
            if !active.contains(m) {
                if down.contains(m) {
                    waiting += 1;
                } else {
                    lost += 1;
                }
            }
        }
        let mut archived = std::collections::BTreeSet::new();
        let mut pending = std::collections::BTreeSet::new();
        for disk in self.disks.values() {
            archived.extend(disk.archived());
            pending.extend(disk.pending_recordings());
        }
        let recordings_pending = made
            .iter()
            .filter(|r| !archived.contains(*r) && pending.contains(*r))
            .count() as u32;
        let recordings_lost = made
            .iter()
            .filter(|r| !archived.contains(*r) && !pending.contains(*r))
            .count() as u32;
        Event::Audit {
            messages_left: left.len() as u32,
            messages_lost: lost,
            messages_waiting: waiting,
            recordings_made: made.len() as u32,
            recordings_lost,
            recordings_pending,
        }
    }

    pub(crate) fn stop(self) {
        self.workload_token.cancel();
        for w in self.workload {
            w.abort();
        }
        for (_, p) in self.phones {
            p.stop();
        }
        for (_, s) in self.servers {
            s.crash(&self.ctx.net);
        }
    }
}

/// The network node operator actions come from.
const OPERATOR: &str = "operator";

/// The RPC that carries an operator action to its server.
async fn operator_rpc(
    ch: tonic::transport::Channel,
    deadline: Duration,
    kind: &FaultKind,
) -> Result<(), tonic::Status> {
    use fleetsim_net::call;
    use fleetsim_proto::pb;
    match kind {
        FaultKind::ActivateBackup { .. } => {
            let mut c = pb::voicemail_client::VoicemailClient::new(ch);
            call(deadline, c.activate_backup(pb::ActivateBackupRequest {})).await?;
        }
        FaultKind::ManualFailback { service } if service == Service::OneXPortal.as_str() => {
            let mut c = pb::portal_client::PortalClient::new(ch);
            call(deadline, c.manual_failback(pb::PortalFailbackRequest {})).await?;
        }
        FaultKind::ManualFailback { .. } => {
            let mut c = pb::voicemail_client::VoicemailClient::new(ch);
            call(deadline, c.manual_failback(pb::VoicemailFailbackRequest {})).await?;
        }
        FaultKind::ConfigChange { .. } => {
            let mut c = pb::telephony_client::TelephonyClient::new(ch);
            let change = "operator configuration change".to_string();
            call(deadline, c.configure(pb::ConfigureRequest { change })).await?;
        }
        _ => {}
    }
    Ok(())
}

/// Logs the messages and recordings a crash or stop cut, if any.
fn emit_cut(log: &EventLog, server: &str, (messages, recordings): (u32, u32)) {
    if messages + recordings > 0 {
        log.emit(
            server,
            Event::VoicemailCut {
                messages,
                recordings,
            },
        );
    }
}

/// Applies a network-level fault (everything but crash, stop and restart) to
/// `net`. The metrics replay faults through this same function onto a
/// shadow network, so both agree on what was cut.
pub(crate) fn apply_to_net(
    net: &Net,
    fleet: &Fleet,
    kind: &FaultKind,
    to_runtime: impl Fn(Duration) -> Duration,
) {
    let nodes = |n: &str| expand_groups(fleet, &[vec![n.to_string()]]).remove(0);
    match kind {
        FaultKind::Partition { groups } => net.partition(&expand_groups(fleet, groups)),
        FaultKind::OneWay { from, to, on } => {
            let from: Vec<String> = from.iter().flat_map(|n| nodes(n)).collect();
            let to: Vec<String> = to.iter().flat_map(|n| nodes(n)).collect();
            net.one_way(&from, &to, *on);
        }
        FaultKind::Heal => net.heal(),
        FaultKind::Latency {
            node,
            delay,
            jitter,
        } => {
            for n in nodes(node) {
                net.latency(&n, to_runtime(delay.0), to_runtime(jitter.0));
            }
        }
        FaultKind::Stall { node, on } => {
            for n in nodes(node) {
                net.stall(&n, *on);
            }
        }
        FaultKind::Gray { server, drop } => net.set_gray(
            server,
            drop.contains(&GrayPath::Presence),
            drop.contains(&GrayPath::Telephony),
        ),
        FaultKind::Hang { server, on } => net.hang(server, *on),
        FaultKind::ClockOffset { server, offset_ms } => {
            let runtime = to_runtime(Duration::from_millis(offset_ms.unsigned_abs()));
            let ms = i64::try_from(runtime.as_millis()).unwrap_or(i64::MAX);
            net.set_clock_offset(server, if *offset_ms < 0 { -ms } else { ms });
        }
        FaultKind::Crash { .. }
        | FaultKind::Stop { .. }
        | FaultKind::Restart { .. }
        | FaultKind::ActivateBackup { .. }
        | FaultKind::ManualFailback { .. }
        | FaultKind::ConfigChange { .. }
        | FaultKind::RebootPhone { .. } => {}
    }
}

/// Replaces `phones@server` by the extensions of that server's phones.
pub(crate) fn expand_groups(fleet: &Fleet, groups: &[Vec<String>]) -> Vec<Vec<String>> {
    groups
        .iter()
        .map(|g| {
            g.iter()
                .flat_map(|n| match n.strip_prefix("phones@") {
                    Some(s) => fleet.phones_of(s).map(|p| p.extension.clone()).collect(),
                    None => vec![n.clone()],
                })
                .collect()
        })
        .collect()
}

async fn run_inner(
    scenario: &Scenario,
    launch: Launch,
    progress: Option<Progress>,
    probe: &std::sync::OnceLock<Probe>,
) -> Result<(Vec<EventRecord>, u64), RunError> {
    let mode_name = match launch.mode {
        Mode::Sim => "sim",
        Mode::Live => "live",
    };
    let mut fut = FleetUnderTest::start(
        Arc::new(scenario.fleet.clone()),
        scenario.seed,
        launch,
        Event::RunStarted {
            scenario: scenario.name.clone(),
            seed: scenario.seed,
            mode: mode_name.into(),
        },
        &scenario.calls,
        &scenario.scripted_calls,
    )
    .await?;
    let clock = fut.ctx.log.clock();
    let log = fut.ctx.log.clone();
    let stats = fut.ctx.stats.clone();
    let _ = probe.set((log.clone(), stats.clone()));
    let total = scenario.duration.as_millis();
    let last = progress.clone();
    let reporter = progress.map(|p| {
        tokio::spawn(async move {
            let step = clock.to_runtime(std::time::Duration::from_millis((total / 100).max(1)));
            loop {
                // Short of the end: the end is reported once, when it is.
                (p.0)(clock.now_ms().min(total.saturating_sub(1)), total);
                tokio::time::sleep(step).await;
            }
        })
    });
    let mut in_force = fleetsim_model::InForce::default();
    for fault in &scenario.faults {
        tokio::time::sleep_until(clock.at(fault.at.0)).await;
        // A newer fault replaced this one's, or a heal ended it: its
        // scheduled end has nothing left to end.
        if in_force.outdated(fault) {
            continue;
        }
        in_force.note(fault);
        fut.apply(fault).await?;
    }
    tokio::time::sleep_until(clock.at(scenario.duration.0)).await;
    let audit = fut.audit(&log.snapshot());
    log.emit("runner", audit);
    log.emit("runner", Event::RunEnded {});
    if let Some(r) = reporter {
        r.abort();
    }
    // The run is over: a bar shown ends full, on a line of its own.
    if let Some(p) = last {
        (p.0)(total, total);
    }
    fut.stop();
    Ok((log.snapshot(), stats.rpcs.load(Ordering::Relaxed)))
}

/// A graceful stop of a hung server, in words: a hung process answers
/// nothing, its own shutdown included, so what stops it is a kill.
pub(crate) fn killed_stop_words(stop: &FaultKind) -> String {
    format!(
        "{}: it is hung and cannot wind down, so it is killed",
        stop.describe()
    )
}
