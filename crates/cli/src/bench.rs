//! `fleetsim bench`: emulated time / wall time, wall time and peak memory for
//! the default scenario, the every-service scenario with its call workload,
//! the 33-day licence scenario, a generated 150-server, 3,000-phone fleet
//! with 2,000 calls/h (with `--scaling`, also at 25, 50 and 200 %), a
//! registration storm, a 1,000-seed sweep, a month of the reference fleet
//! with its primary down and a chaos campaign, next to bare tonic baselines
//! (a unary RPC, a stream exchange) measured in the same run; then turmoil
//! beside fleetsim on the same heartbeat workload, when
//! `fleetsim-turmoil-compare` is built.
//!
//! Each stage runs in a child process of its own so its peak memory (VmHWM)
//! is its own. Wall time here is a measurement of the emulator, never an input
//! to it.

mod goals;
mod storm;

use std::process::{Command, ExitCode};
// Wall time is what a benchmark measures; nothing here feeds a run.

use fleetsim_proto::pb;
use serde::{Deserialize, Serialize};

/// Arguments of `fleetsim bench`.
#[derive(clap::Args, Debug)]
pub(crate) struct BenchArgs {
    /// Servers in the generated fleet.
    #[arg(long, default_value_t = 150)]
    servers: usize,
    /// Phones in the generated fleet.
    #[arg(long, default_value_t = 3000)]
    phones: usize,
    /// Emulated length of the generated run.
    #[arg(long, default_value = "1h")]
    duration: String,
    /// When the primary crashes in the generated run.
    #[arg(long, default_value = "5m")]
    crash_at: String,
    /// Random calls per hour in the generated run.
    #[arg(long, default_value_t = 2000)]
    calls_per_hour: u32,
    /// IP phones the primary homes in the registration-storm stage (0 skips it).
    #[arg(long, default_value_t = 1500)]
    storm_phones: usize,
    /// Seeds of the default scenario in the sweep stage (0 skips it).
    #[arg(long, default_value_t = 1000)]
    sweep_seeds: u64,
    /// Emulated days of the reference fleet with its primary down (0 skips it).
    #[arg(long, default_value_t = 30)]
    idle_days: u32,
    /// Also run the generated fleet at 25, 50 and 200 % of its size.
    #[arg(long)]
    scaling: bool,
    /// RPCs in the bare tonic baseline.
    #[arg(long, default_value_t = 20_000)]
    rpcs: u64,
    /// Random fault schedules in the chaos stage (0 skips it).
    #[arg(long, default_value_t = 1000)]
    chaos_schedules: u32,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
    /// Internal: run one stage and print its JSON result.
    #[arg(long, hide = true)]
    stage: Option<String>,
}

impl BenchArgs {
    /// Whether the generated stage runs at the size its goals are set for.
    fn full_size(&self) -> bool {
        self.servers == 150
            && self.phones == 3000
            && self.duration == "1h"
            && self.crash_at == "5m"
            && self.calls_per_hour >= 2000
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StageResult {
    stage: String,
    wall_ms: f64,
    emulated_ms: u64,
    rpcs: u64,
    events: usize,
    peak_rss_kib: u64,
    passed: bool,
    /// Lines said after the table (the storm's distribution, the sweep's count).
    #[serde(default)]
    notes: Vec<String>,
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Why the generated fleet's size is out of the limits every fleet file
/// has ([`fleetsim_model::limits`]), if it is.
fn size_error(args: &BenchArgs) -> Option<String> {
    use fleetsim_model::limits::{MAX_PHONES, MAX_SERVERS};
    if args.servers > MAX_SERVERS {
        return Some(format!(
            "--servers {} is more than the {MAX_SERVERS} servers a fleet may have",
            args.servers
        ));
    }
    if args.phones as u64 > MAX_PHONES {
        return Some(format!(
            "--phones {} is more than the {MAX_PHONES} phones a fleet may have",
            args.phones
        ));
    }
    if args.scaling && (args.servers * 2 > MAX_SERVERS || args.phones as u64 * 2 > MAX_PHONES) {
        return Some(format!(
            "--scaling also runs twice the size ({} servers, {} phones), more than a fleet may have ({MAX_SERVERS} servers, {MAX_PHONES} phones)",
            args.servers * 2,
            args.phones * 2
        ));
    }
    None
}

pub(crate) fn main(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(e) = size_error(&args) {
        errln!("error: {e}");
        return Ok(ExitCode::from(crate::BAD_INPUT));
    }
    if let Some(stage) = &args.stage {
        let r = run_stage(stage, &args)?;
        outln!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe()?;
    let mut results = Vec::new();
    let mut stages: Vec<(String, usize, usize)> = [
        "baseline",
        "baseline-stream",
        "default",
        "services",
        "licence",
    ]
    .iter()
    .map(|s| (s.to_string(), args.servers, args.phones))
    .collect();
    if args.scaling {
        for pct in [25, 50] {
            stages.push((
                "generated".into(),
                args.servers * pct / 100,
                args.phones * pct / 100,
            ));
        }
    }
    stages.push(("generated".into(), args.servers, args.phones));
    if args.scaling {
        stages.push(("generated".into(), args.servers * 2, args.phones * 2));
    }
    for (on, stage) in [
        (args.storm_phones > 0, "storm"),
        (args.sweep_seeds > 0, "sweep"),
        (args.idle_days > 0, "idle"),
        (args.chaos_schedules > 0, "chaos"),
    ] {
        if on {
            stages.push((stage.into(), args.servers, args.phones));
        }
    }
    for (stage, servers, phones) in &stages {
        errln!("bench: running {stage} …");
        let out = Command::new(&exe)
            .args(["bench", "--stage", stage])
            .args([
                "--servers",
                &servers.to_string(),
                "--phones",
                &phones.to_string(),
            ])
            .args(["--calls-per-hour", &args.calls_per_hour.to_string()])
            .args(["--storm-phones", &args.storm_phones.to_string()])
            .args(["--sweep-seeds", &args.sweep_seeds.to_string()])
            .args(["--idle-days", &args.idle_days.to_string()])
            .args([
                "--duration",
                &args.duration,
                "--rpcs",
                &args.rpcs.to_string(),
            ])
            .args(["--crash-at", &args.crash_at])
            .args(["--chaos-schedules", &args.chaos_schedules.to_string()])
            .output()?;
        if !out.status.success() {
            anyhow::bail!(
                "stage {stage} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let r: StageResult = serde_json::from_slice(&out.stdout)?;
        results.push(r);
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(ExitCode::SUCCESS);
    }
    let base = &results[0];
    let base_rate = base.rpcs as f64 / (base.wall_ms / 1000.0);
    outln!(
        "fleetsim bench ({} build)",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    outln!();
    outln!(
        "{:<34} {:>10} {:>12} {:>14} {:>10} {:>12} {:>11}",
        "stage",
        "wall",
        "emulated",
        "emulated/wall",
        "exchanges",
        "per second",
        "peak RSS"
    );
    for r in &results {
        let rate = r.rpcs as f64 / (r.wall_ms / 1000.0);
        let label = match r.stage.as_str() {
            "baseline" => "bare tonic in-memory unary RPC".to_string(),
            "baseline-stream" => "bare tonic stream exchange".to_string(),
            "default" => "default scenario (primary-crash)".to_string(),
            "services" => "primary-services-failover, calls".to_string(),
            "licence" => "licence-grace-expires, 33 days".to_string(),
            "chaos" => format!("chaos, {} fault schedules", args.chaos_schedules),
            "storm" => format!("registration storm, {} phones", args.storm_phones),
            "sweep" => format!("sweep, {} seeds of the default", args.sweep_seeds),
            "idle" => format!("reference fleet, primary down {} d", args.idle_days),
            other => other.to_string(),
        };
        let ratio = if r.emulated_ms > 0 {
            format!("{:.0}×", r.emulated_ms as f64 / r.wall_ms)
        } else {
            "—".into()
        };
        let emulated = if r.emulated_ms > 0 {
            fleetsim_model::human_ms(r.emulated_ms)
        } else {
            "—".into()
        };
        // Stages of many runs (sweep, chaos) count no exchanges of their own.
        let (exchanges, per_second) = if r.rpcs > 0 {
            (r.rpcs.to_string(), format!("{rate:.0}"))
        } else {
            ("—".to_string(), "—".to_string())
        };
        outln!(
            "{:<34} {:>8.0}ms {:>12} {:>14} {:>10} {:>12} {:>8.1}MiB",
            label,
            r.wall_ms,
            emulated,
            ratio,
            exchanges,
            per_second,
            r.peak_rss_kib as f64 / 1024.0
        );
    }
    outln!();
    for r in &results[1..] {
        for n in &r.notes {
            outln!("{}: {n}", r.stage);
        }
        if r.stage == "chaos" {
            outln!(
                "chaos: {} schedules on the reference fleet, every run checked against every invariant; {}",
                args.chaos_schedules,
                if r.passed {
                    "0 violations"
                } else {
                    "VIOLATIONS (run fleetsim chaos)"
                }
            );
            continue;
        }
        let rate = r.rpcs as f64 / (r.wall_ms / 1000.0);
        if r.stage == "baseline-stream" {
            outln!(
                "baseline-stream: an exchange on an open stream costs {:.0}% of a unary RPC",
                100.0 * base_rate / rate
            );
            continue;
        }
        if r.rpcs == 0 {
            outln!(
                "{}: expectations {}",
                r.stage,
                if r.passed { "held" } else { "FAILED" }
            );
            continue;
        }
        outln!(
            "{}: {:.1}% of bare tonic's unary RPC rate (an exchange is a unary RPC or a request/reply on an open stream, and also runs the resilience rules, timers and event log); expectations {}",
            r.stage,
            100.0 * rate / base_rate,
            if r.passed { "held" } else { "FAILED" }
        );
    }
    let (line, turmoil_ratio) = turmoil_stage(&exe);
    outln!("{line}");
    let goals = goals::lines(&results, turmoil_ratio, &args);
    if !goals.is_empty() {
        outln!();
        outln!("goals, against this run's figures:");
        for g in goals {
            outln!("{g}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `fleetsim-turmoil-compare` prints (crates/turmoil-compare; not a
/// dependency, so turmoil stays out of this binary).
#[derive(Deserialize)]
struct TurmoilCompare {
    turmoil_wall_ms: f64,
    fleetsim_wall_ms: f64,
    emulated_ms: u64,
}

/// The `turmoil` stage: `fleetsim-turmoil-compare`, when built next to this
/// executable, run as the stage's child process; one line either way, and
/// never a failed bench; with how many times faster fleetsim was, when
/// both ran.
fn turmoil_stage(exe: &std::path::Path) -> (String, Option<f64>) {
    let name = format!("fleetsim-turmoil-compare{}", std::env::consts::EXE_SUFFIX);
    let compare = exe.with_file_name(name);
    if !compare.exists() {
        return (
            format!(
                "turmoil vs fleetsim: skipped, {} is not built (cargo build --release -p fleetsim-turmoil-compare)",
                compare.display()
            ),
            None,
        );
    }
    errln!("bench: running turmoil …");
    let out = match Command::new(&compare).output() {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            return (
                format!(
                    "turmoil vs fleetsim: failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                None,
            );
        }
        Err(e) => {
            let line = format!("turmoil vs fleetsim: cannot run {}: {e}", compare.display());
            return (line, None);
        }
    };
    match serde_json::from_slice::<TurmoilCompare>(&out.stdout) {
        Ok(c) => (c.line(), Some(c.turmoil_wall_ms / c.fleetsim_wall_ms)),
        Err(e) => (
            format!(
                "turmoil vs fleetsim: unreadable output of {}: {e}",
                compare.display()
            ),
            None,
        ),
    }
}

impl TurmoilCompare {
    /// The bench's line: both wall times and how many times faster fleetsim is.
    fn line(&self) -> String {
        format!(
            "turmoil vs fleetsim, 3 servers heartbeating every 1 s for {}: turmoil {:.1} s, fleetsim {:.2} s ({:.0}× faster)",
            fleetsim_model::human_ms(self.emulated_ms),
            self.turmoil_wall_ms / 1000.0,
            self.fleetsim_wall_ms / 1000.0,
            self.turmoil_wall_ms / self.fleetsim_wall_ms
        )
    }
}

fn run_stage(stage: &str, args: &BenchArgs) -> anyhow::Result<StageResult> {
    match stage {
        "baseline" => baseline(args.rpcs, false),
        "baseline-stream" => baseline(args.rpcs, true),
        "default" | "services" | "licence" | "generated" => {
            let scenario = match stage {
                "default" => crate::files::load_scenario(None)?,
                "services" => crate::files::load_scenario(Some("primary-services-failover"))?,
                "licence" => crate::files::load_scenario(Some("licence-grace-expires"))?,
                _ => fleetsim_model::generate::crash_scenario(
                    args.servers,
                    args.phones,
                    args.calls_per_hour,
                    &args.crash_at,
                    &args.duration,
                )?,
            };
            let mut r = scenario_stage(stage, &scenario)?;
            if stage == "generated" {
                r.stage = format!("generated {}x{}", args.servers, args.phones);
            }
            Ok(r)
        }
        "storm" => storm::stage(args.storm_phones),
        "sweep" => sweep_stage(args.sweep_seeds),
        "idle" => idle_stage(args.idle_days),
        "chaos" => chaos_stage(args.chaos_schedules),
        other => anyhow::bail!("unknown stage {other:?}"),
    }
}

/// One run of `scenario`, measured.
fn scenario_stage(stage: &str, scenario: &fleetsim_model::Scenario) -> anyhow::Result<StageResult> {
    let o = fleetsim_scenario::run(scenario, &fleetsim_scenario::RunOptions::default())?;
    let calls = o
        .events
        .iter()
        .filter(|e| e.kind() == "call-started")
        .count();
    Ok(StageResult {
        stage: stage.into(),
        wall_ms: o.wall_ms,
        emulated_ms: o.duration_ms,
        rpcs: o.rpcs,
        events: o.events.len(),
        peak_rss_kib: peak_rss_kib(),
        passed: o.passed(),
        notes: if calls > 0 {
            vec![format!("{calls} calls started")]
        } else {
            Vec::new()
        },
    })
}

/// `seeds` seeds of the default scenario on every core, as `fleetsim sweep` runs them.
fn sweep_stage(seeds: u64) -> anyhow::Result<StageResult> {
    let scenario = crate::files::load_scenario(None)?;
    let plan = fleetsim_scenario::sweep::SweepPlan::Seeds {
        first: 1,
        count: seeds,
    };
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let wall = fleetsim_scenario::Stopwatch::start();
    let report = fleetsim_scenario::sweep::sweep(
        &scenario,
        &plan,
        &fleetsim_scenario::RunOptions::default(),
        jobs,
        &|_, _| {},
    )?;
    let wall_ms = wall.elapsed_ms();
    Ok(StageResult {
        stage: "sweep".into(),
        wall_ms,
        emulated_ms: scenario.duration.as_millis() * seeds,
        rpcs: 0,
        events: 0,
        peak_rss_kib: peak_rss_kib(),
        passed: report.passed(),
        notes: vec![format!(
            "{seeds} seeds on {jobs} threads in {:.1} s ({:.0} runs/s); {} failed",
            wall_ms / 1000.0,
            seeds as f64 / (wall_ms / 1000.0),
            report.failures().count()
        )],
    })
}

/// The reference fleet with its primary crashed at 5 min and never back,
/// for `days` emulated days: what idle time costs on a real fleet.
fn idle_stage(days: u32) -> anyhow::Result<StageResult> {
    let text = format!(
        "name = \"reference-primary-down-{days}d\"\nfleet = \"fleets/reference.toml\"\nseed = 1\nduration = \"{days}d\"\n\n[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n"
    );
    let scenario = fleetsim_model::Scenario::parse(
        &fleetsim_model::error::Source {
            name: "<idle stage>",
            text: &text,
        },
        &fleetsim_model::embedded::EmbeddedResolver,
    )?;
    scenario_stage("idle", &scenario)
}

/// A chaos campaign on the reference fleet (no shrinking: its cost is the
/// campaign's).
fn chaos_stage(schedules: u32) -> anyhow::Result<StageResult> {
    use fleetsim_scenario::chaos;
    let mut plan = chaos::ChaosPlan::new(chaos::Base::reference(), schedules);
    plan.shrink_limit = 0;
    let wall = fleetsim_scenario::Stopwatch::start();
    let report = chaos::run(&plan);
    Ok(StageResult {
        stage: "chaos".into(),
        wall_ms: wall.elapsed_ms(),
        emulated_ms: report.emulated_ms,
        rpcs: 0,
        events: 0,
        peak_rss_kib: peak_rss_kib(),
        passed: report.violations.is_empty(),
        notes: Vec::new(),
    })
}

/// The smallest useful tonic service: answers every keepalive at once.
struct Echo;

#[tonic::async_trait]
impl pb::telephony_server::Telephony for Echo {
    async fn register(
        &self,
        _: tonic::Request<pb::RegisterRequest>,
    ) -> Result<tonic::Response<pb::RegisterReply>, tonic::Status> {
        Ok(tonic::Response::new(pb::RegisterReply { guest: false }))
    }
    async fn keepalive(
        &self,
        _: tonic::Request<pb::KeepaliveRequest>,
    ) -> Result<tonic::Response<pb::KeepaliveReply>, tonic::Status> {
        Ok(tonic::Response::new(pb::KeepaliveReply { go_home: false }))
    }
    type KeepaliveStreamStream = std::pin::Pin<
        Box<
            dyn tonic::codegen::tokio_stream::Stream<
                    Item = Result<pb::KeepaliveReply, tonic::Status>,
                > + Send,
        >,
    >;
    async fn keepalive_stream(
        &self,
        req: tonic::Request<tonic::Streaming<pb::KeepaliveRequest>>,
    ) -> Result<tonic::Response<Self::KeepaliveStreamStream>, tonic::Status> {
        use tonic::codegen::tokio_stream::StreamExt as _;
        let s = req
            .into_inner()
            .map(|r| r.map(|_| pb::KeepaliveReply { go_home: false }));
        Ok(tonic::Response::new(Box::pin(s)))
    }
    async fn unregister(
        &self,
        _: tonic::Request<pb::UnregisterRequest>,
    ) -> Result<tonic::Response<pb::UnregisterReply>, tonic::Status> {
        Ok(tonic::Response::new(pb::UnregisterReply {}))
    }
    type CallStream = tokio_stream::Empty<Result<pb::CallUpdate, tonic::Status>>;
    async fn call(
        &self,
        _: tonic::Request<pb::CallRequest>,
    ) -> Result<tonic::Response<Self::CallStream>, tonic::Status> {
        Ok(tonic::Response::new(tokio_stream::empty()))
    }
    async fn hangup(
        &self,
        _: tonic::Request<pb::HangupRequest>,
    ) -> Result<tonic::Response<pb::HangupReply>, tonic::Status> {
        Ok(tonic::Response::new(pb::HangupReply {}))
    }
    async fn configure(
        &self,
        _: tonic::Request<pb::ConfigureRequest>,
    ) -> Result<tonic::Response<pb::ConfigureReply>, tonic::Status> {
        Ok(tonic::Response::new(pb::ConfigureReply {}))
    }
}

/// Bare tonic over tokio duplex on a current-thread runtime: the cost of an
/// RPC (or, with `stream`, of one request/reply exchange on a bidirectional
/// stream) with nothing of fleetsim around it.
fn baseline(n: u64, stream: bool) -> anyhow::Result<StageResult> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let wall_ms = rt.block_on(async move {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<
            Result<tokio::io::DuplexStream, std::io::Error>,
        >();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(pb::telephony_server::TelephonyServer::new(Echo))
                .serve_with_incoming(tokio_stream_shim::Stream(rx)),
        );
        let channel = tonic::transport::Endpoint::from_static("http://baseline.invalid")
            .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                let tx = tx.clone();
                async move {
                    let (client, server) = tokio::io::duplex(16 * 1024);
                    tx.send(Ok(server))
                        .map_err(|_| std::io::Error::other("server gone"))?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(client))
                }
            }))
            .await?;
        let mut client = pb::telephony_client::TelephonyClient::new(channel);
        if stream {
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            let mut replies = client
                .keepalive_stream(tokio_stream_shim::Bounded(rx))
                .await?
                .into_inner();
            let start = fleetsim_scenario::Stopwatch::start();
            for _ in 0..n {
                tx.send(pb::KeepaliveRequest {
                    extension: "1".into(),
                    in_call: false,
                })
                .await?;
                replies.message().await?;
            }
            return Ok::<_, anyhow::Error>(start.elapsed_ms());
        }
        let start = fleetsim_scenario::Stopwatch::start();
        for _ in 0..n {
            client
                .keepalive(pb::KeepaliveRequest {
                    extension: "1".into(),
                    in_call: false,
                })
                .await?;
        }
        Ok::<_, anyhow::Error>(start.elapsed_ms())
    })?;
    Ok(StageResult {
        stage: if stream {
            "baseline-stream"
        } else {
            "baseline"
        }
        .into(),
        wall_ms,
        emulated_ms: 0,
        rpcs: n,
        events: 0,
        peak_rss_kib: peak_rss_kib(),
        passed: true,
        notes: Vec::new(),
    })
}

/// A receiver as a `Stream`, without another dependency.
mod tokio_stream_shim {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub(super) struct Stream<T>(pub(super) tokio::sync::mpsc::UnboundedReceiver<T>);
    pub(super) struct Bounded<T>(pub(super) tokio::sync::mpsc::Receiver<T>);
    impl<T> tonic::codegen::tokio_stream::Stream for Bounded<T> {
        type Item = T;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.0.poll_recv(cx)
        }
    }

    impl<T> tonic::codegen::tokio_stream::Stream for Stream<T> {
        type Item = T;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
            self.0.poll_recv(cx)
        }
    }
}
