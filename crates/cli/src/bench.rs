//! `fleetsim bench`: emulated time / wall time, wall time and peak memory for
//! the default scenario, the every-service scenario with its call workload,
//! the 33-day licence scenario and a generated 150-server, 3,000-phone fleet,
//! next to a bare tonic in-memory RPC baseline measured in the same run.
//!
//! Each stage runs in a child process of its own so its peak memory (VmHWM)
//! is its own. Wall time here is a measurement of the emulator, never an input
//! to it.

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

#[derive(Debug, Serialize, Deserialize)]
struct StageResult {
    stage: String,
    wall_ms: f64,
    emulated_ms: u64,
    rpcs: u64,
    events: usize,
    peak_rss_kib: u64,
    passed: bool,
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
    None
}

pub(crate) fn main(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(e) = size_error(&args) {
        eprintln!("error: {e}");
        return Ok(ExitCode::from(crate::BAD_INPUT));
    }
    if let Some(stage) = &args.stage {
        let r = run_stage(stage, &args)?;
        outln!("{}", serde_json::to_string(&r)?);
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe()?;
    let mut results = Vec::new();
    let mut stages = vec!["baseline", "default", "services", "licence", "generated"];
    if args.chaos_schedules > 0 {
        stages.push("chaos");
    }
    for stage in stages {
        eprintln!("bench: running {stage} …");
        let out = Command::new(&exe)
            .args(["bench", "--stage", stage])
            .args([
                "--servers",
                &args.servers.to_string(),
                "--phones",
                &args.phones.to_string(),
            ])
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
        "RPCs",
        "RPC/s",
        "peak RSS"
    );
    for r in &results {
        let rate = r.rpcs as f64 / (r.wall_ms / 1000.0);
        let label = match r.stage.as_str() {
            "baseline" => "bare tonic in-memory unary RPC".to_string(),
            "default" => "default scenario (primary-crash)".to_string(),
            "services" => "primary-services-failover, calls".to_string(),
            "licence" => "licence-grace-expires, 33 days".to_string(),
            "chaos" => format!("chaos, {} fault schedules", args.chaos_schedules),
            _ => format!("generated {}x{} primary crash", args.servers, args.phones),
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
        outln!(
            "{:<34} {:>8.0}ms {:>12} {:>14} {:>10} {:>12.0} {:>8.1}MiB",
            label,
            r.wall_ms,
            emulated,
            ratio,
            r.rpcs,
            rate,
            r.peak_rss_kib as f64 / 1024.0
        );
    }
    outln!();
    for r in &results[1..] {
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
        outln!(
            "{}: {:.1}% of bare tonic's RPC rate (every RPC also runs the resilience rules, timers and event log); expectations {}",
            r.stage,
            100.0 * rate / base_rate,
            if r.passed { "held" } else { "FAILED" }
        );
    }
    eprintln!("bench: running turmoil …");
    outln!("{}", turmoil_stage(&exe));
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
/// never a failed bench.
fn turmoil_stage(exe: &std::path::Path) -> String {
    let name = format!("fleetsim-turmoil-compare{}", std::env::consts::EXE_SUFFIX);
    let compare = exe.with_file_name(name);
    if !compare.exists() {
        return format!(
            "turmoil vs fleetsim: skipped, {} is not built (cargo build --release -p fleetsim-turmoil-compare)",
            compare.display()
        );
    }
    let out = match Command::new(&compare).output() {
        Ok(out) if out.status.success() => out,
        Ok(out) => {
            return format!(
                "turmoil vs fleetsim: failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Err(e) => return format!("turmoil vs fleetsim: cannot run {}: {e}", compare.display()),
    };
    match serde_json::from_slice::<TurmoilCompare>(&out.stdout) {
        Ok(c) => c.line(),
        Err(e) => format!(
            "turmoil vs fleetsim: unreadable output of {}: {e}",
            compare.display()
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
        "baseline" => baseline(args.rpcs),
        "default" | "services" | "licence" | "generated" => {
            let scenario = match stage {
                "default" => crate::files::load_scenario(None)?,
                "services" => crate::files::load_scenario(Some("primary-services-failover"))?,
                "licence" => crate::files::load_scenario(Some("licence-grace-expires"))?,
                _ => fleetsim_model::generate::crash_scenario(
                    args.servers,
                    args.phones,
                    &args.crash_at,
                    &args.duration,
                )?,
            };
            let o = fleetsim_scenario::run(&scenario, &fleetsim_scenario::RunOptions::default())?;
            Ok(StageResult {
                stage: stage.into(),
                wall_ms: o.wall_ms,
                emulated_ms: o.duration_ms,
                rpcs: o.rpcs,
                events: o.events.len(),
                peak_rss_kib: peak_rss_kib(),
                passed: o.passed(),
            })
        }
        "chaos" => chaos_stage(args.chaos_schedules),
        other => anyhow::bail!("unknown stage {other:?}"),
    }
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
        Box<dyn tonic::codegen::tokio_stream::Stream<Item = Result<pb::KeepaliveReply, tonic::Status>> + Send>,
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
/// RPC with nothing of fleetsim around it.
fn baseline(n: u64) -> anyhow::Result<StageResult> {
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
        if std::env::var("STREAM").is_ok() {
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
        stage: "baseline".into(),
        wall_ms,
        emulated_ms: 0,
        rpcs: n,
        events: 0,
        peak_rss_kib: peak_rss_kib(),
        passed: true,
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
