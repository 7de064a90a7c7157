//! `fleetsim`: run failover scenarios on an emulated Server Edition network.
//!
//! Exit codes (`run`, `sweep`, `sweep-merge`, `determinism`, `check`):
//! - 0: every expectation holds (every run of a sweep; identical logs);
//! - 1: an expectation failed (or a golden timeline differs, or the event
//!   logs of a determinism check differ, or `--strict` found nothing
//!   checked);
//! - 2: bad input or usage: a file, a flag, a value, an output path that
//!   cannot be written (checked before the run);
//! - 3: the emulator itself failed: a panic in any task of a run, a runtime
//!   or I/O error.
//!
//! # Layout
//! - `main`: arguments and dispatch.
//! - `files`: finding, checking, listing and showing scenario and fleet
//!   files (built-ins by name, the nearest name for a misspelt one).
//! - `bench`: the benchmark (`fleetsim bench`).
//! - `live`: `up`, `ctl` and `watch` for a live fleet.
//! - `screen`: the `watch` screen, rendered from status and events.
//! - `regress`: sweeps, the determinism guard, golden timelines, `--fault-at`.
//! - `shard`: sharded sweeps (`sweep --shard K/N --out FILE`, `sweep-merge`).
//! - `chaos`: random fault schedules checked against invariants.
//! - `conform`: a live fleet member checked against the protocol contract
//!   (exit 0 every check passes, 1 one fails, 2 bad usage).

/// `print!` that ends the process quietly when stdout is closed (e.g. piped
/// into `head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => { $crate::write_stdout(&format!($($arg)*)) };
}

/// `println!`, the same way.
macro_rules! outln {
    () => { $crate::write_stdout("\n") };
    ($($arg:tt)*) => { $crate::write_stdout(&format!("{}\n", format!($($arg)*))) };
}

/// `eprintln!` that drops the line when stderr is gone (`eprintln!` would
/// panic, exit 101, when whatever reads it stops early).
macro_rules! errln {
    () => { $crate::note_stderr("") };
    ($($arg:tt)*) => { $crate::note_stderr(&format!($($arg)*)) };
}

mod alloc;
mod bench;
mod chaos;
mod conform;
mod files;
mod live;
mod node;
mod page;
mod policy;
mod regress;
mod screen;
mod shard;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use fleetsim_report::text::TextOptions;
use fleetsim_scenario::{Mode, RunOptions};

/// Emulates a Server Edition telephony network and its failover.
#[derive(Parser, Debug)]
#[command(name = "fleetsim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario (the built-in primary-crash when none is given).
    Run(RunArgs),
    /// Validate scenario and fleet files.
    Check {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Also list each scenario's faults with their index (for --fault-at and sweeps).
        #[arg(long, short)]
        verbose: bool,
    },
    /// List scenarios with their one-line descriptions.
    List {
        /// Directory to list (default: ./scenarios if present, else the built-ins).
        dir: Option<PathBuf>,
    },
    /// Run many variations (seeds, or a fault's time) in parallel; exit 1 if any fails.
    Sweep(regress::SweepArgs),
    /// Merge the part files of a sharded sweep (`sweep … --shard K/N --out FILE`)
    /// and print its summary as the unsharded sweep would, with its exit code.
    SweepMerge(shard::MergeArgs),
    /// Run a scenario several times and check the event logs are identical.
    Determinism(regress::DeterminismArgs),
    /// Random fault schedules, run in parallel and checked against invariants; exit 1 on a violation.
    Chaos(chaos::ChaosArgs),
    /// Start a fleet on 127.0.0.1 and serve its control API until Ctrl-C, SIGTERM or `ctl stop`.
    Up(live::UpArgs),
    /// Run one member of a fleet as its own process, reaching the others at their `address`.
    Node(node::NodeArgs),
    /// Drive a running fleet: status, crash, restart, partition, heal, any fault.
    Ctl {
        #[command(flatten)]
        conn: live::Conn,
        #[command(subcommand)]
        cmd: live::CtlCmd,
    },
    /// Watch a running fleet live: where every phone is, each server's state.
    Watch {
        #[command(flatten)]
        conn: live::Conn,
        /// Print the status once and exit.
        #[arg(long)]
        once: bool,
        /// Show in the tail only events whose kind or server matches one of
        /// these globs (`call-*`, `secondary`); milestones always show.
        #[arg(long, value_delimiter = ',')]
        filter: Vec<String>,
    },
    /// Measure emulated time / wall time, memory and RPC cost against bare tonic.
    Bench(bench::BenchArgs),
    /// Print a built-in scenario or fleet (TOML, to copy and edit); without NAME, list them.
    Show {
        /// A built-in scenario (`primary-crash`) or fleet (`reference`).
        name: Option<String>,
    },
    /// List the built-in takeover policies, one line each.
    Policies,
    /// Check a live fleet member at HOST:PORT against the protocol (docs/protocol.md).
    Conform(conform::ConformArgs),
}

impl Command {
    /// Whether the command ends with a verdict its exit code carries.
    fn has_verdict(&self) -> bool {
        matches!(
            self,
            Command::Run(_)
                | Command::Check { .. }
                | Command::Sweep(_)
                | Command::SweepMerge(_)
                | Command::Determinism(_)
                | Command::Chaos(_)
                | Command::Bench(_)
                | Command::Conform(_)
        )
    }
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Scenario file, or the name of a built-in scenario.
    scenario: Option<String>,
    /// Replace the scenario's seed.
    #[arg(long, allow_negative_numbers = true)]
    seed: Option<u64>,
    /// Takeover policy the servers decide by (see `fleetsim policies`).
    #[arg(long, value_name = "NAME", value_parser = policy::parse)]
    policy: Option<policy::Policy>,
    /// sim: in-memory network, virtual time; live: TCP on 127.0.0.1, wall clock.
    #[arg(long, value_enum, default_value_t = ModeArg::Sim)]
    mode: ModeArg,
    /// Live mode: emulated seconds per wall second (every duration divided by it).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    speed: f64,
    /// Live mode: server i of the fleet file listens on 127.0.0.1:BASE+i
    /// (what an external member is told); default: ports the system picks.
    #[arg(long, value_name = "BASE")]
    base_port: Option<u16>,
    /// Write the event log as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Show every phone event instead of grouping them.
    #[arg(long, short)]
    verbose: bool,
    /// Write a self-contained HTML report to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Write the expectations as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Compare with the golden timeline in FILE (recorded there if missing).
    #[arg(long, value_name = "FILE")]
    golden: Option<PathBuf>,
    /// Record the golden timeline again instead of comparing.
    #[arg(long, requires = "golden")]
    update_golden: bool,
    /// Golden comparison: times within this much count as equal.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "0",
        requires = "golden"
    )]
    golden_tolerance: String,
    /// Move fault INDEX (0-based, time order) to TIME, with the steps of its own [[fault]] table (its `for` undo, a reboot's restart, a flap's periods).
    #[arg(long, value_name = "INDEX=TIME")]
    fault_at: Vec<regress::FaultAt>,
    /// Fail (exit 1) when nothing was checked: no expectations and no golden.
    #[arg(long)]
    strict: bool,
    /// Test hook (checks the harness): SERVER's first gRPC request panics;
    /// `spawned:SERVER`, work it spawns; `phone:EXT`, that phone's task.
    #[arg(long, value_name = "SITE", hide = true)]
    inject_panic: Option<String>,
}

impl Default for RunArgs {
    fn default() -> Self {
        RunArgs {
            scenario: None,
            seed: None,
            policy: None,
            mode: ModeArg::Sim,
            speed: 1.0,
            base_port: None,
            events: None,
            format: Format::Text,
            verbose: false,
            report: None,
            junit: None,
            golden: None,
            update_golden: false,
            golden_tolerance: "0".into(),
            fault_at: Vec::new(),
            strict: false,
            inject_panic: None,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
enum ModeArg {
    #[default]
    Sim,
    Live,
}

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Format {
    #[default]
    Text,
    Json,
}

/// Exit code for an expectation that failed.
pub(crate) const FAILED: u8 = 1;
/// Exit code for bad input or usage.
pub(crate) const BAD_INPUT: u8 = 2;
/// Exit code for an emulator that failed (panic, runtime or I/O error).
pub(crate) const EMULATOR_FAILED: u8 = 3;

/// Bad input or usage found by a command: exit 2 with this message.
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Exits on a command line clap refused, as clap would, but with the
/// output flags named rightly: `--json` is `--format json` on the commands
/// that have `--format` (clap's own tip, "use '-- --json'", misleads).
fn usage_exit(e: clap::Error) -> ! {
    use clap::CommandFactory as _;
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let json = e.kind() == ErrorKind::UnknownArgument
        && matches!(e.get(ContextKind::InvalidArg), Some(ContextValue::String(a)) if a == "--json");
    let has_format = (std::env::args().nth(1))
        .and_then(|name| {
            let cmd = Cli::command();
            let sub = cmd.find_subcommand(&name)?;
            Some(sub.get_arguments().any(|a| a.get_long() == Some("format")))
        })
        .unwrap_or(false);
    if !(json && has_format) {
        e.exit()
    }
    let text = e.render().to_string();
    let tip = text.replace(
        "tip: to pass '--json' as a value, use '-- --json'",
        "tip: for JSON output, use '--format json'",
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), tip.as_bytes());
    std::process::exit(2)
}

fn main() -> ExitCode {
    alloc::keep_freed_pages();
    init_tracing();
    let cli = Cli::try_parse().unwrap_or_else(|e| usage_exit(e));
    if cli.command.as_ref().is_none_or(Command::has_verdict) {
        // A verdict outlives its reader: `run | head` still exits 1 when an
        // expectation fails.
        outlive_stdout();
    }
    let result = match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Run(args) => run(args),
        Command::Check { files, verbose } => Ok(files::check(&files, verbose)),
        Command::List { dir } => files::list(dir.as_deref()),
        Command::Show { name } => files::show(name.as_deref()),
        Command::Sweep(args) => regress::sweep(args),
        Command::SweepMerge(args) => shard::merge(args),
        Command::Determinism(args) => regress::determinism(args),
        Command::Chaos(args) => chaos::main(args),
        Command::Up(args) => live::up(args),
        Command::Node(args) => node::node(args),
        Command::Ctl { conn, cmd } => live::ctl(conn, cmd),
        Command::Watch { conn, once, filter } => live::watch(conn, once, &filter),
        Command::Bench(args) => bench::main(args),
        Command::Policies => {
            policy::list();
            Ok(ExitCode::SUCCESS)
        }
        Command::Conform(args) => conform::main(args),
    };
    match result {
        Ok(_) if let Some(e) = stdout_failed() => {
            errln!(
                "error: cannot write to stdout: {e}; the output was cut short (any --events, --report or --junit file was written)"
            );
            ExitCode::from(EMULATOR_FAILED)
        }
        Ok(code) => code,
        Err(e) if e.downcast_ref::<Usage>().is_some() => {
            errln!("error: {e:#}");
            ExitCode::from(BAD_INPUT)
        }
        Err(e) => match e.downcast_ref::<tonic::Status>() {
            // A control API that wants a token, or another: the caller's
            // mistake, not the emulator's.
            Some(s) if s.code() == tonic::Code::Unauthenticated => {
                // One was sent and refused: saying "give it" would read as
                // if none had been.
                let fix = if s.message().contains("refused the token") {
                    "give the token `fleetsim up` was started with"
                } else {
                    "give it with --token or FLEETSIM_TOKEN"
                };
                errln!("error: {}: {fix}", s.message());
                ExitCode::from(BAD_INPUT)
            }
            // Anything else is the emulator's own failure, not the fleet's.
            _ => {
                errln!("error: the emulator failed: {e:#}");
                ExitCode::from(EMULATOR_FAILED)
            }
        },
    }
}

/// Set by commands whose work outlasts their reader: those with a verdict
/// (`run`, `sweep`, `check`, …), whose exit code must not depend on who
/// reads their output, and `up`, so a drill piped through `tee` and
/// stopped with Ctrl-C still writes its files. A closed stdout then drops
/// what they print instead of ending them.
static OUTLIVE_STDOUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A write to stdout that failed other than by a closed pipe (a full
/// disk), seen by a command that outlives it: the run ends with exit 3.
static STDOUT_FAILED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// From now on a closed stdout no longer ends the process.
pub(crate) fn outlive_stdout() {
    OUTLIVE_STDOUT.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The first failed write to stdout that was not a closed pipe, if any.
fn stdout_failed() -> Option<String> {
    STDOUT_FAILED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

/// Writes to stdout. A closed pipe ends the process with success, and
/// any other failure with exit 3, unless [`outlive_stdout`] was called:
/// then what cannot be written is dropped, the command goes on, and a
/// failure other than a closed pipe makes its exit code 3 at the end.
pub(crate) fn write_stdout(s: &str) {
    use std::io::Write as _;
    let outlive = OUTLIVE_STDOUT.load(std::sync::atomic::Ordering::Relaxed);
    let mut out = std::io::stdout().lock();
    let Err(e) = out.write_all(s.as_bytes()).and_then(|()| out.flush()) else {
        return;
    };
    match (e.kind() == std::io::ErrorKind::BrokenPipe, outlive) {
        (true, true) => {}
        (true, false) => std::process::exit(0),
        (false, true) => {
            let mut failed = STDOUT_FAILED.lock().unwrap_or_else(|e| e.into_inner());
            failed.get_or_insert_with(|| e.to_string());
        }
        (false, false) => {
            errln!("error: cannot write to stdout: {e}");
            std::process::exit(EMULATOR_FAILED.into());
        }
    }
}

/// An address flag: `IP:PORT`, or `HOST:PORT` looked up now (an IPv4
/// address preferred), so `localhost:7100` works as `127.0.0.1:7100` does.
pub(crate) fn socket_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    if let Some(rest) = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
    {
        let rest = rest.trim_end_matches('/');
        return Err(format!(
            "{s:?} is a URL; give the address alone, without its scheme: {rest}"
        ));
    }
    if s.parse::<u16>().is_ok() {
        return Err(format!(
            "{s:?} is a port alone; give the host too, for example 127.0.0.1:{s}"
        ));
    }
    let found: Vec<std::net::SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| match s.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() => {
                format!(
                    "cannot look up {host:?} ({e}); give an IP address or a host name that resolves"
                )
            }
            _ => format!("{s:?} is not HOST:PORT or IP:PORT; for example 127.0.0.1:7100"),
        })?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| format!("{s:?} names no address"))
}

/// Writes a line to stderr, dropping it if stderr is gone (`eprintln!`
/// would panic), for what a command says while it ends.
pub(crate) fn note_stderr(s: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{s}");
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    struct Emulated;
    impl tracing_subscriber::fmt::time::FormatTime for Emulated {
        fn format_time(
            &self,
            w: &mut tracing_subscriber::fmt::format::Writer<'_>,
        ) -> std::fmt::Result {
            match fleetsim_net::Clock::current_ms() {
                Some(ms) => write!(w, "{}", fleetsim_report::text::clock(ms)),
                None => write!(w, "-"),
            }
        }
    }
    let filter = EnvFilter::try_from_env("FLEETSIM_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    // Colour only on a terminal that wants it: a log redirected to a file
    // keeps no escape codes.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(Emulated)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    files::clear_stale(&run_inputs(&args), &run_outputs(&args, None));
    let RunInput {
        scenario,
        tolerance,
        as_written,
    } = match run_input(&args) {
        Ok(v) => v,
        Err(e) => return Err(Usage(e).into()),
    };
    let mode = match args.mode {
        ModeArg::Sim => Mode::Sim,
        ModeArg::Live => Mode::Live,
    };
    if mode == Mode::Sim && args.speed != 1.0 {
        errln!("note: --speed applies to live mode; sim mode runs as fast as it can");
    }
    if mode == Mode::Sim && args.base_port.is_some() {
        errln!("note: --base-port applies to live mode; sim mode listens on no port");
    }
    // Output paths are checked before the run: a bad one is a usage error.
    let golden = match check_outputs(&args) {
        Ok(g) => g,
        Err(e) => return Err(Usage(e).into()),
    };
    if let Some(note) = files::long_run_note(&scenario, mode, args.speed) {
        errln!("{note}");
    }
    if mode == Mode::Live
        && let Some(note) = speed_note(&scenario.fleet, args.speed)
    {
        errln!("{note}");
    }
    // A bar left open by a run that ended early is closed before the report.
    let bar_open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opts = RunOptions {
        mode,
        speed: args.speed,
        seed: args.seed,
        base_port: args.base_port,
        progress: match mode {
            Mode::Live => std::io::stderr().is_terminal().then(live_progress),
            Mode::Sim => Some(sim_progress(
                std::io::stderr().is_terminal(),
                bar_open.clone(),
            )),
        },
        policy: args
            .policy
            .clone()
            .unwrap_or_else(|| RunOptions::default().policy),
        inject_panic: args.inject_panic.clone(),
    };
    let ran = fleetsim_scenario::run(&scenario, &opts);
    if bar_open.swap(false, std::sync::atomic::Ordering::Relaxed) {
        errln!();
    }
    let mut outcome = match ran {
        Err(e @ fleetsim_scenario::RunError::ExternalNeedsLive { .. }) => {
            return Err(Usage(e.to_string()).into());
        }
        r => r?,
    };
    // The command line's own checks join the expectations before any view
    // is written, so text, JSON, JUnit, HTML and the exit code agree.
    let mut compared = false;
    if let (Some(path), None) = (&args.golden, &outcome.error) {
        let check = regress::golden(
            path,
            golden,
            &outcome,
            &as_written,
            args.update_golden,
            tolerance,
        )?;
        compared = check.is_some();
        outcome.expectations.extend(check);
    }
    // A golden timeline recorded, not compared, checked nothing: a
    // mistyped or uncommitted golden path must not turn a gate green.
    if args.strict && !compared {
        let recorded = args.golden.as_ref().filter(|_| outcome.error.is_none());
        strict_check(&mut outcome, recorded);
    }
    outcome.spec.rerun_args.extend(rerun_args(&args, compared));
    if let Some(code) = write_outputs(&args, &outcome) {
        return Ok(code);
    }
    if let Some(e) = &outcome.error {
        errln!("error: {e}");
        return Ok(ExitCode::from(EMULATOR_FAILED));
    }
    Ok(if outcome.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FAILED)
    })
}

/// `--strict`: a run that checked nothing fails, saying so when the
/// golden timeline it was given was `recorded` rather than compared.
fn strict_check(outcome: &mut fleetsim_scenario::RunOutcome, recorded: Option<&PathBuf>) {
    if outcome.expectations.is_empty() {
        let mut detail = fleetsim_report::NOTHING_CHECKED.to_string();
        if let Some(path) = recorded {
            detail.push_str(&format!(
                " (the golden timeline was recorded in {}, not compared: commit it, and the next run compares with it)",
                path.display()
            ));
        }
        outcome
            .expectations
            .push(fleetsim_scenario::ExpectationResult {
                name: fleetsim_report::STRICT_CHECK.into(),
                passed: false,
                detail,
            });
    }
}

/// The arguments a command rerunning this run repeats, besides the
/// scenario, seed and policy: one word each. A golden timeline this run
/// only recorded is left out under `--strict`, so the rerun fails as this
/// run did (nothing checked) rather than pass by comparing with it.
fn rerun_args(args: &RunArgs, golden_compared: bool) -> Vec<String> {
    let mut v = Vec::new();
    for m in &args.fault_at {
        v.extend(["--fault-at".into(), format!("{}={}", m.index, m.at)]);
    }
    let repeat_golden = !args.update_golden && (golden_compared || !args.strict);
    if let Some(g) = args.golden.as_ref().filter(|_| repeat_golden) {
        let g = fleetsim_report::unflagged(&g.display().to_string());
        v.extend(["--golden".into(), g]);
        if args.golden_tolerance != "0" {
            v.extend(["--golden-tolerance".into(), args.golden_tolerance.clone()]);
        }
    }
    if args.strict {
        v.push("--strict".into());
    }
    // A live run's deadlines follow its speed, and its members may be told
    // their ports: a rerun needs both as given.
    if matches!(args.mode, ModeArg::Live) {
        if args.speed != 1.0 {
            v.extend(["--speed".into(), args.speed.to_string()]);
        }
        if let Some(port) = args.base_port {
            v.extend(["--base-port".into(), port.to_string()]);
        }
    }
    // The test hook too: without it a rerun would not panic.
    if let Some(server) = &args.inject_panic {
        v.extend(["--inject-panic".into(), server.clone()]);
    }
    v
}

/// The scenario (with `--fault-at` applied) and the golden tolerance, or
/// what is wrong with the input.
fn run_input(args: &RunArgs) -> Result<RunInput, String> {
    let written = files::load_scenario(args.scenario.as_deref()).map_err(|e| e.to_string())?;
    let scenario = regress::apply_fault_at(written.clone(), &args.fault_at)
        .map_err(|e| format!("--fault-at: {e}"))?;
    // A derived name says the times it checks, so a moved fault renames
    // it; the golden file keeps the names as written.
    let as_written = scenario
        .expectations
        .iter()
        .zip(&written.expectations)
        .filter(|(now, was)| now.name != was.name)
        .map(|(now, was)| (now.name.clone(), was.name.clone()))
        .collect();
    let tolerance = fleetsim_model::parse_duration(&args.golden_tolerance)
        .map_err(|e| format!("--golden-tolerance: {e}"))?;
    check_speed(args.speed)?;
    if let (ModeArg::Live, Some(base)) = (&args.mode, args.base_port) {
        check_base_port(base, scenario.fleet.servers.len(), &[])?;
    }
    Ok(RunInput {
        scenario,
        tolerance,
        as_written,
    })
}

/// What `fleetsim run` runs, read from its arguments.
struct RunInput {
    /// The scenario, with `--fault-at` applied.
    scenario: fleetsim_model::Scenario,
    /// The golden tolerance.
    tolerance: fleetsim_model::Dur,
    /// Expectation names a moved fault changed, each with its name as written.
    as_written: std::collections::BTreeMap<String, String>,
}

/// `--base-port BASE` for a fleet of `servers`: server i listens on
/// 127.0.0.1:BASE+i, so every such port must exist and none may be the
/// port of another address given (`--control`, `--http`).
pub(crate) fn check_base_port(
    base: u16,
    servers: usize,
    others: &[(&str, std::net::SocketAddr)],
) -> Result<(), String> {
    let last = u32::from(base) + servers.saturating_sub(1) as u32;
    if base == 0 {
        return Err(
            "--base-port 0: give a port from 1 up; server i of the fleet listens on BASE+i".into(),
        );
    }
    if last > u32::from(u16::MAX) {
        return Err(format!(
            "--base-port {base}: the fleet's {servers} servers would need ports {base} to {last}, past 65535; give at most {}",
            65536 - servers
        ));
    }
    let clash = others.iter().find(|(_, a)| {
        (a.ip().is_loopback() || a.ip().is_unspecified())
            && (u32::from(base)..=last).contains(&u32::from(a.port()))
    });
    match clash {
        Some((flag, a)) => Err(format!(
            "--base-port {base}: the fleet's servers take ports {base} to {last}, which includes {flag} {a}; give ports that do not overlap"
        )),
        None => Ok(()),
    }
}

/// `--speed` within what the clock takes (run, up and node alike).
pub(crate) fn check_speed(speed: f64) -> Result<(), String> {
    if (fleetsim_net::Clock::MIN_SPEED..=fleetsim_net::Clock::MAX_SPEED).contains(&speed) {
        Ok(())
    } else {
        Err(format!(
            "--speed must be between 0.01 and 10000, got {speed}"
        ))
    }
}

/// A live fleet of many phones sped up so far that every deadline is a
/// sliver of wall time: a busy machine may then miss answers and a healthy
/// server look lost. Says so before the drill, with what to do.
pub(crate) fn speed_note(fleet: &fleetsim_model::Fleet, speed: f64) -> Option<String> {
    /// Below this much wall time a deadline is at the mercy of scheduling.
    const TIGHT_MS: f64 = 250.0;
    /// Fleets smaller than this keep a loaded machine comfortably ahead.
    const MANY_PHONES: usize = 500;
    let t = &fleet.timers;
    let deadline_ms = (t.rpc_deadline.as_millis() as f64 / speed).max(50.0);
    let phones = fleet.phones.len();
    if deadline_ms >= TIGHT_MS || phones < MANY_PHONES {
        return None;
    }
    let per_second = phones as f64 * speed / (t.registration_wait.as_millis() as f64 / 1000.0);
    Some(format!(
        "note: at --speed {speed} each {} deadline is {deadline_ms:.0} ms of wall time, and {phones} phones refresh their registrations about {per_second:.0} times a second: on a busy machine answers can miss their deadline and a healthy server look lost; if servers lose each other with no fault applied, lower --speed",
        t.rpc_deadline
    ))
}

/// The files a run writes, each with its flag: the views asked for, and
/// `golden` when the run records one.
fn run_outputs<'a>(
    args: &'a RunArgs,
    golden: Option<&'a std::path::PathBuf>,
) -> Vec<(&'static str, &'a std::path::PathBuf)> {
    [
        ("--events", args.events.as_ref()),
        ("--report", args.report.as_ref()),
        ("--junit", args.junit.as_ref()),
        ("--golden", golden),
    ]
    .into_iter()
    .filter_map(|(flag, p)| p.map(|p| (flag, p)))
    .collect()
}

/// The files a run reads: the scenario, its fleet, and a golden file
/// compared with.
fn run_inputs(args: &RunArgs) -> Vec<(&'static str, std::path::PathBuf)> {
    let mut inputs = files::scenario_inputs(args.scenario.as_deref());
    if let Some(g) = args
        .golden
        .as_ref()
        .filter(|g| !args.update_golden && g.exists())
    {
        inputs.push(("the golden file compared with", g.clone()));
    }
    inputs
}

/// Checks every output path before the run; returns the golden timeline to
/// compare with, when there is one.
fn check_outputs(args: &RunArgs) -> Result<Option<fleetsim_scenario::golden::Golden>, String> {
    let recorded = args
        .golden
        .as_ref()
        .filter(|g| args.update_golden || !g.exists());
    let outputs = run_outputs(args, recorded);
    files::check_distinct(&run_inputs(args), &outputs)?;
    for (flag, p) in &outputs {
        if *flag != "--golden" {
            files::check_writable(flag, p)?;
        }
    }
    match &args.golden {
        // Compared with: read now. Recorded: must be writable.
        Some(p) if !args.update_golden && p.exists() => regress::load_golden(p),
        Some(p) => files::check_writable("--golden", p).map(|()| None),
        None => Ok(None),
    }
}

/// `[#####     ]`: a progress bar 30 wide, `done` of `total` filled.
pub(crate) fn bar(done: u64, total: u64) -> String {
    const WIDTH: u64 = 30;
    let filled = (done.min(total) * WIDTH / total.max(1)) as usize;
    format!(
        "[{}{}]",
        "#".repeat(filled),
        " ".repeat(WIDTH as usize - filled)
    )
}

/// Whether going from `before` to `now` of `total` passes a tenth of it:
/// when a log, which cannot redraw a bar, gets a progress line.
pub(crate) fn crosses_tenth(before: u64, now: u64, total: u64) -> bool {
    now * 10 / total.max(1) > before * 10 / total.max(1)
}

/// `, about 12 s to go` after `secs` of wall time for `done` of `total`
/// (nothing at the start or the end).
pub(crate) fn time_to_go(secs: f64, done: u64, total: u64) -> String {
    if done == 0 || done >= total {
        return String::new();
    }
    let left = (secs * (total - done) as f64 / done as f64).ceil();
    if left < 60.0 {
        format!(", about {left:.0} s to go")
    } else {
        format!(
            ", about {} to go",
            fleetsim_model::human_ms(left as u64 * 1000)
        )
    }
}

/// The progress of a sim run that takes a while: silent for its first
/// seconds (most runs are over by then), then a bar with the time to go on
/// a terminal, or a line at each tenth of the run in a log.
fn sim_progress(
    tty: bool,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> fleetsim_scenario::Progress {
    /// Wall seconds before a run says how far it is.
    const QUIET_SECS: f64 = 3.0;
    let wall = fleetsim_scenario::Stopwatch::start();
    // Whether a line was shown yet, and how far the last call had come.
    let shown = std::sync::Mutex::new((false, 0u64));
    fleetsim_scenario::Progress(std::sync::Arc::new(move |done: u64, total: u64| {
        use std::io::Write as _;
        let secs = wall.elapsed_secs();
        let mut shown = shown.lock().unwrap_or_else(|e| e.into_inner());
        let (started, before) = &mut *shown;
        if secs < QUIET_SECS && !*started {
            *before = done;
            return;
        }
        let mut err = std::io::stderr().lock();
        let to_go = time_to_go(secs, done, total);
        let line = format!(
            "{} of {} emulated in {:.0} s{to_go}",
            fleetsim_model::human_ms(done),
            fleetsim_model::human_ms(total),
            secs
        );
        if tty {
            let _ = write!(err, "\r  {} {line}\x1b[K", bar(done, total));
            let finished = done >= total;
            if finished {
                let _ = writeln!(err);
            }
            open.store(!finished, std::sync::atomic::Ordering::Relaxed);
        } else if !*started || crosses_tenth(*before, done, total) {
            let _ = writeln!(err, "  {line}");
        }
        *started = true;
        *before = done;
    }))
}

/// The progress bar of a live run on a terminal.
fn live_progress() -> fleetsim_scenario::Progress {
    fleetsim_scenario::Progress(std::sync::Arc::new(|done: u64, total: u64| {
        use std::io::Write as _;
        let _ = write!(
            std::io::stderr(),
            "\r  {} {} / {} emulated",
            bar(done, total),
            fleetsim_model::human_ms(done),
            fleetsim_model::human_ms(total)
        );
        if done >= total {
            errln!();
        }
    }))
}

/// Writes every output file asked for, then prints the report on stdout.
/// A file that cannot be written (a full disk) is an I/O error, exit 3,
/// and no report is printed: a verdict on stdout must never read as a
/// pass while the exit code says otherwise.
fn write_outputs(args: &RunArgs, outcome: &fleetsim_scenario::RunOutcome) -> Option<ExitCode> {
    let written = args
        .events
        .as_deref()
        .map_or(Ok(()), |path| write_events(path, outcome))
        .and_then(|()| write_report_files(args.report.as_deref(), args.junit.as_deref(), outcome));
    if let Err(e) = written {
        let verdict = match (&outcome.error, outcome.passed()) {
            (Some(_), _) => "ERROR",
            (None, true) => "PASSED",
            (None, false) => "FAILED",
        };
        errln!(
            "error: {e:#}: the run ended {verdict}, but its output is incomplete, so no report is printed; give a path that can be written"
        );
        return Some(ExitCode::from(EMULATOR_FAILED));
    }
    match args.format {
        Format::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let opts = TextOptions {
                color,
                verbose: args.verbose,
            };
            out!("{}", fleetsim_report::text::render(outcome, opts));
        }
        Format::Json => outln!("{}", fleetsim_report::json::to_string(outcome)),
    }
    None
}

/// Writes the event log as JSON lines to `path`.
pub(crate) fn write_events(
    path: &std::path::Path,
    outcome: &fleetsim_scenario::RunOutcome,
) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
    );
    fleetsim_report::jsonl::write_events(&mut f, &outcome.events)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::flush(&mut f).with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the HTML report and the JUnit file asked for.
pub(crate) fn write_report_files(
    report: Option<&std::path::Path>,
    junit: Option<&std::path::Path>,
    outcome: &fleetsim_scenario::RunOutcome,
) -> anyhow::Result<()> {
    if let Some(path) = report {
        std::fs::write(path, fleetsim_report::html::render(outcome))
            .with_context(|| format!("cannot write {}", path.display()))?;
        note_stderr(&format!("report written to {}", path.display()));
    }
    if let Some(path) = junit {
        std::fs::write(path, fleetsim_report::junit::render(outcome))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::speed_note;

    #[test]
    fn progress_says_the_time_to_go_from_the_pace_so_far_and_draws_a_full_bar_at_the_end() {
        assert_eq!(super::time_to_go(10.0, 1, 4), ", about 30 s to go");
        assert_eq!(super::time_to_go(60.0, 1, 3), ", about 2m to go");
        assert_eq!(super::time_to_go(5.0, 0, 4), "", "no pace yet");
        assert_eq!(super::time_to_go(5.0, 4, 4), "", "done");
        assert_eq!(super::bar(30, 30), format!("[{}]", "#".repeat(30)));
        assert_eq!(super::bar(0, 0), format!("[{}]", " ".repeat(30)));
        assert!(super::crosses_tenth(9, 10, 100) && !super::crosses_tenth(10, 19, 100));
    }

    #[test]
    fn a_large_fleet_sped_up_until_deadlines_are_slivers_is_warned_about() {
        let big = fleetsim_model::generate::crash_scenario(38, 2000, 0, "5m", "1h")
            .unwrap()
            .fleet;
        let note = speed_note(&big, 60.0).expect("2000 phones at 60×");
        assert!(
            note.contains("67 ms of wall time") && note.contains("lower --speed"),
            "{note}"
        );
        assert_eq!(speed_note(&big, 10.0), None, "400 ms deadlines");
        let small = fleetsim_model::generate::crash_scenario(5, 44, 0, "5m", "1h")
            .unwrap()
            .fleet;
        assert_eq!(speed_note(&small, 60.0), None);
    }
}
