//! `fleetsim`: run failover scenarios on an emulated Server Edition network.
//!
//! Exit codes: 0 every expectation holds, 1 one fails, 2 bad input.
//!
//! # Layout
//! - `main`: arguments and dispatch.
//! - `files`: finding, checking and listing scenario and fleet files.
//! - `bench`: the benchmark (`fleetsim bench`).

mod bench;
mod files;

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
    },
    /// List scenarios with their one-line descriptions.
    List {
        /// Directory to list (default: ./scenarios if present, else the built-ins).
        dir: Option<PathBuf>,
    },
    /// Measure emulated time / wall time, memory and RPC cost against bare tonic.
    Bench(bench::BenchArgs),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Scenario file, or the name of a built-in scenario.
    scenario: Option<String>,
    /// Replace the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// sim: in-memory network, virtual time; live: TCP on 127.0.0.1, wall clock.
    #[arg(long, value_enum, default_value_t = ModeArg::Sim)]
    mode: ModeArg,
    /// Live mode: emulated seconds per wall second (every duration divided by it).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Write the event log as JSON lines to FILE.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Show every phone event instead of grouping them.
    #[arg(long, short)]
    verbose: bool,
}

impl Default for RunArgs {
    fn default() -> Self {
        RunArgs {
            scenario: None,
            seed: None,
            mode: ModeArg::Sim,
            speed: 1.0,
            events: None,
            format: Format::Text,
            verbose: false,
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
enum Format {
    #[default]
    Text,
    Json,
}

/// Exit code for bad input.
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Run(args) => run(args),
        Command::Check { files } => Ok(files::check(&files)),
        Command::List { dir } => files::list(dir.as_deref()),
        Command::Bench(args) => bench::main(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(Emulated)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenario = match files::load_scenario(args.scenario.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    let mode = match args.mode {
        ModeArg::Sim => Mode::Sim,
        ModeArg::Live => Mode::Live,
    };
    if !(fleetsim_net::Clock::MIN_SPEED..=fleetsim_net::Clock::MAX_SPEED).contains(&args.speed) {
        eprintln!(
            "error: --speed must be between 0.01 and 10000, got {}",
            args.speed
        );
        return Ok(ExitCode::from(BAD_INPUT));
    }
    if mode == Mode::Sim && args.speed != 1.0 {
        eprintln!("note: --speed applies to live mode; sim mode runs as fast as it can");
    }
    let opts = RunOptions {
        mode,
        speed: args.speed,
        seed: args.seed,
    };
    let outcome = fleetsim_scenario::run(&scenario, &opts)?;
    if let Some(path) = &args.events {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        );
        fleetsim_report::jsonl::write_events(&mut f, &outcome.events)
            .with_context(|| format!("cannot write {}", path.display()))?;
        std::io::Write::flush(&mut f)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    match args.format {
        Format::Text => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print!(
                "{}",
                fleetsim_report::text::render(
                    &outcome,
                    TextOptions {
                        color,
                        verbose: args.verbose
                    }
                )
            );
        }
        Format::Json => println!("{}", fleetsim_report::json::to_string(&outcome)),
    }
    Ok(if outcome.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
