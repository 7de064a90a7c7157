//! `fleetsim chaos`: random fault schedules on a fleet, checked against the
//! invariants of docs/chaos.md; each violation is written as a minimal
//! scenario file with the command that reruns it.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use fleetsim_model::embedded::{self, EmbeddedResolver, FILES};
use fleetsim_model::{human_ms, scenario::DiskResolver, suggest};
use fleetsim_scenario::chaos::{self, Base, ChaosPlan, ChaosReport, FaultClass, Found, Invariant};

use crate::BAD_INPUT;

/// Arguments of `fleetsim chaos`.
#[derive(clap::Args, Debug)]
pub(crate) struct ChaosArgs {
    /// Scenario or fleet file, or a built-in's name (default: the reference fleet).
    base: Option<String>,
    /// How many schedules to draw and run (1 to 100000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    schedules: u32,
    /// Seed of the campaign: the same seed draws the same schedules.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    seed: u64,
    /// Fault classes to draw from, comma-separated (default: all): crash,
    /// stop, reboot, partition, one-way, latency, stall, flap, gray, hang,
    /// clock-offset, operator.
    #[arg(long, value_name = "LIST")]
    faults: Option<String>,
    /// Where the scenario file of each violation is written.
    #[arg(long, value_name = "DIR", default_value = "chaos-failures")]
    out: PathBuf,
    /// Parallel runs (default: every core).
    #[arg(long, short)]
    jobs: Option<usize>,
    /// No calls in any run (default: most runs have the scenario's calls).
    #[arg(long)]
    no_calls: bool,
    /// Violations shrunk per invariant (the rest are written as drawn).
    #[arg(long, default_value_t = 5)]
    shrink_limit: usize,
    /// Run one scenario file (e.g. one written by a campaign) or built-in
    /// scenario and check the invariants on it, determinism included.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["base", "faults"])]
    replay: Option<String>,
    /// Takeover policy every run decides by (see `fleetsim policies`).
    #[arg(long, value_name = "NAME", default_value = fleetsim_scenario::rules::DEFAULT_POLICY)]
    policy: String,
    /// Test hook: SERVER's first gRPC request panics in every run.
    #[arg(long, value_name = "SERVER", hide = true)]
    inject_panic: Option<String>,
}

impl ChaosArgs {
    /// The flags a rerun needs besides the file: a policy other than the
    /// default, and the test hook (without it a rerun would not panic).
    fn rerun_flags(&self) -> String {
        let mut flags = crate::policy::flag(&self.policy);
        if let Some(server) = &self.inject_panic {
            flags.push_str(&format!(
                " --inject-panic {}",
                fleetsim_report::shell_word(server)
            ));
        }
        flags
    }
}

fn load_base(arg: Option<&str>) -> Result<Base, String> {
    let Some(a) = arg else {
        return Ok(Base::reference());
    };
    let path = Path::new(a);
    if path.exists() {
        let text = fleetsim_model::read_text(path).map_err(|e| e.to_string())?;
        let resolver = DiskResolver {
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        return Base::from_text(a, &text, &resolver).map_err(|e| e.to_string());
    }
    let (p, text) = embedded::scenario_file(a)
        .or_else(|| embedded::fleet_file(a))
        .ok_or_else(|| {
            // Named as every other command names them: `reference`, not
            // `fleets/reference`.
            let known: Vec<&str> = FILES
                .iter()
                .map(|(p, _)| p.trim_start_matches("fleets/").trim_end_matches(".toml"))
                .collect();
            format!(
                "{a}: no such file, and no built-in of that name{} (built-ins: {})",
                suggest::did_you_mean(a, embedded::scenario_names().chain(embedded::fleet_names())),
                known.join(", ")
            )
        })?;
    Base::from_text(p, text, &EmbeddedResolver).map_err(|e| e.to_string())
}

/// `fleetsim chaos`.
pub(crate) fn main(args: ChaosArgs) -> anyhow::Result<ExitCode> {
    let bad = |msg: String| {
        errln!("error: {msg}");
        Ok(ExitCode::from(BAD_INPUT))
    };
    let policy = match crate::policy::parse(&args.policy) {
        Ok(p) => p,
        Err(e) => return bad(e),
    };
    if let Some(file) = &args.replay {
        let opts = fleetsim_scenario::RunOptions {
            policy,
            inject_panic: args.inject_panic.clone(),
            ..Default::default()
        };
        return replay(file, &opts);
    }
    let base = match load_base(args.base.as_deref()) {
        Ok(b) => b,
        Err(e) => return bad(e),
    };
    if let Err(e) = crate::files::sim_only(&base.fleet, "chaos") {
        return bad(e);
    }
    let classes = match args.faults.as_deref().map(FaultClass::parse_list) {
        None => FaultClass::ALL.to_vec(),
        Some(Ok(c)) => c,
        Some(Err(e)) => return bad(format!("--faults: {e}")),
    };
    if let Err(e) = crate::files::check_out_dir(&args.out) {
        return bad(e);
    }
    let mut plan = ChaosPlan::new(base, args.schedules);
    plan.seed = args.seed;
    plan.classes = classes;
    plan.shrink_limit = args.shrink_limit;
    plan.calls = !args.no_calls;
    plan.policy = policy;
    plan.inject_panic = args.inject_panic.clone();
    if let Some(j) = args.jobs {
        plan.jobs = j.max(1);
    }
    outln!(
        "chaos on {} · seed {} · {} schedules{} · faults: {}",
        plan.base.name,
        plan.seed,
        plan.schedules,
        if args.policy == fleetsim_scenario::rules::DEFAULT_POLICY {
            String::new()
        } else {
            format!(" · policy {}", args.policy)
        },
        plan.classes
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let wall = fleetsim_scenario::Stopwatch::start();
    let tty = std::io::stderr().is_terminal();
    let report = chaos::run_with_progress(&plan, &|done, total| {
        // Dropped if stderr is gone, never a panic.
        use std::io::Write as _;
        let mut err = std::io::stderr().lock();
        let secs = wall.elapsed_secs();
        let to_go = crate::time_to_go(secs, done as u64, total as u64);
        let line = format!("{done}/{total} schedules run in {secs:.0} s{to_go}");
        if tty {
            let _ = write!(err, "\r  {line}\x1b[K");
            if done == total {
                let _ = writeln!(err, " · shrinking violations");
            }
        } else if secs >= 3.0
            && crate::crosses_tenth(done.saturating_sub(1) as u64, done as u64, total as u64)
        {
            // In a log, a line at each tenth once the campaign takes a while.
            let _ = writeln!(err, "  {line}");
        }
    });
    let secs = wall.elapsed_secs();
    for f in &report.violations {
        print_found(f, &report, &args.out, &args.rerun_flags())?;
    }
    print_summary(&report, secs);
    Ok(if report.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn file_name(report: &ChaosReport, f: &Found) -> String {
    let base: String = report
        .base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!(
        "chaos-{base}-seed{}-{}-{}.toml",
        report.seed,
        f.drawn.index,
        f.violation.invariant.name()
    )
}

fn shape(s: &chaos::Schedule) -> String {
    let n = s.faults.len();
    format!(
        "{n} fault{}, {}{}",
        if n == 1 { "" } else { "s" },
        s.duration(),
        if s.calls { ", calls" } else { "" }
    )
}

fn print_found(f: &Found, report: &ChaosReport, out: &Path, flags: &str) -> anyhow::Result<()> {
    let path = out.join(file_name(report, f));
    std::fs::write(&path, &f.scenario_text)
        .with_context(|| format!("cannot write {}", path.display()))?;
    outln!(
        "VIOLATION {} · schedule {}: {}",
        f.violation.invariant.name(),
        f.drawn.index,
        f.violation.detail
    );
    if f.shrunk {
        outln!(
            "  shrunk from {} to {} ({}): {}",
            shape(&f.drawn),
            shape(&f.minimal),
            fleetsim_model::words::counted(f.shrink_runs as usize, "run", "runs"),
            f.minimal_detail
        );
    } else {
        outln!("  not shrunk (--shrink-limit): {}", shape(&f.drawn));
    }
    outln!("  scenario: {}", path.display());
    for line in rerun_lines(&path, flags) {
        outln!("  {line}");
    }
    Ok(())
}

/// The commands printed under a violation, its file as one shell word,
/// with the campaign's `flags` (policy, test hook).
fn rerun_lines(path: &Path, flags: &str) -> [String; 2] {
    let p = fleetsim_report::path_word(&path.display().to_string());
    [
        format!("rerun:    fleetsim chaos --replay {p}{flags}"),
        format!("events:   fleetsim run {p}{flags} --events events.jsonl"),
    ]
}

fn print_summary(report: &ChaosReport, secs: f64) {
    outln!();
    outln!(
        "{} schedules ({} rerun for determinism), {} emulated in {secs:.1} s wall",
        report.schedules,
        report.determinism_checked,
        human_ms(report.emulated_ms)
    );
    for inv in Invariant::ALL {
        outln!("  {:<30} {}", inv.name(), report.count(inv));
    }
    let failing: std::collections::BTreeSet<u32> =
        report.violations.iter().map(|f| f.drawn.index).collect();
    if report.violations.is_empty() {
        outln!("Verdict: every invariant held");
    } else {
        outln!(
            "Verdict: {} violations in {} of {} schedules",
            report.violations.len(),
            failing.len(),
            report.schedules
        );
    }
}

fn replay(file: &str, opts: &fleetsim_scenario::RunOptions) -> anyhow::Result<ExitCode> {
    let scenario = match crate::files::load_scenario(Some(file)) {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    let violations = chaos::check_scenario_with(&scenario, opts, true);
    for v in &violations {
        outln!("VIOLATION {}: {}", v.invariant.name(), v.detail);
    }
    outln!(
        "{file}: {}",
        if violations.is_empty() {
            "every invariant held".to_string()
        } else {
            fleetsim_model::words::counted(
                violations.len(),
                "invariant broken",
                "invariants broken",
            )
        }
    );
    Ok(if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::rerun_lines;

    #[test]
    fn a_violation_file_in_a_directory_with_a_space_is_one_shell_word() {
        let [replay, events] = rerun_lines(std::path::Path::new("my runs/chaos-x.toml"), "");
        assert!(replay.ends_with("fleetsim chaos --replay 'my runs/chaos-x.toml'"));
        assert!(events.contains("fleetsim run 'my runs/chaos-x.toml' --events"));
    }

    #[test]
    fn a_rerun_carries_the_campaigns_policy() {
        let [replay, events] = rerun_lines(std::path::Path::new("c.toml"), " --policy no-guard");
        assert!(replay.ends_with("fleetsim chaos --replay c.toml --policy no-guard"));
        assert!(events.contains("fleetsim run c.toml --policy no-guard --events"));
    }
}
