//! Regression tooling: sweeps, the determinism guard, golden timelines and
//! moving a fault in time (`--fault-at`).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fleetsim_model::{Dur, Scenario, human_ms, parse_duration};
use fleetsim_scenario::golden::Golden;
use fleetsim_scenario::sweep::{Distribution, Shard, SweepPlan};
use fleetsim_scenario::{ExpectationResult, RunOptions, RunOutcome, SweepReport};
use serde::{Deserialize, Serialize};

use crate::{BAD_INPUT, EMULATOR_FAILED, FAILED, Format, files};

/// A fault moved in time: `INDEX=TIME` (0-based index in time order).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FaultAt {
    pub(crate) index: usize,
    pub(crate) at: Dur,
}

impl std::str::FromStr for FaultAt {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (i, t) = s
            .split_once('=')
            .ok_or_else(|| format!("expected INDEX=TIME such as 0=5m30s, got {s:?}"))?;
        let index = i
            .trim()
            .parse()
            .map_err(|_| format!("fault index {i:?} is not a number"))?;
        let at = parse_duration(t).map_err(|e| e.to_string())?;
        Ok(FaultAt { index, at })
    }
}

/// Applies `--fault-at` moves to a scenario; errors are bad input.
pub(crate) fn apply_fault_at(s: Scenario, moves: &[FaultAt]) -> Result<Scenario, String> {
    for (i, m) in moves.iter().enumerate() {
        if moves[..i].iter().any(|o| o.index == m.index) {
            return Err(format!(
                "fault {} is moved twice; give each fault one time",
                m.index
            ));
        }
    }
    let moves: Vec<(usize, fleetsim_model::Dur)> = moves.iter().map(|m| (m.index, m.at)).collect();
    fleetsim_scenario::shift_faults(&s, &moves)
}

/// Arguments of `fleetsim sweep`.
#[derive(clap::Args, Debug)]
pub(crate) struct SweepArgs {
    /// Scenario file, or the name of a built-in scenario.
    scenario: String,
    /// Sweep this many seeds, starting at --first-seed (default the scenario's).
    #[arg(long, conflicts_with = "fault", allow_negative_numbers = true)]
    seeds: Option<u64>,
    /// First seed of a seed sweep.
    #[arg(long, requires = "seeds", allow_negative_numbers = true)]
    first_seed: Option<u64>,
    /// Sweep the time of this fault (0-based, in time order; see `fleetsim check -v`).
    #[arg(long, requires_all = ["from", "to"])]
    fault: Option<usize>,
    /// First time of a fault-time sweep.
    #[arg(long, value_parser = parse_dur)]
    from: Option<Dur>,
    /// Last time of a fault-time sweep (inclusive).
    #[arg(long, value_parser = parse_dur)]
    to: Option<Dur>,
    /// Step of a fault-time sweep [default: 1s].
    #[arg(long, value_parser = parse_dur)]
    step: Option<Dur>,
    /// Parallel runs (default: every core).
    #[arg(long, short, value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Takeover policies, comma-separated: the same variations run under
    /// each and print side by side (see `fleetsim policies`).
    #[arg(long, value_name = "A,B", value_delimiter = ',', value_parser = crate::policy::parse, default_value = "server-edition")]
    policy: Vec<crate::policy::Policy>,
    /// Fail (exit 1) when the scenario has no expectations: nothing is checked.
    #[arg(long)]
    strict: bool,
    /// Test hook: SERVER's first gRPC request panics in every run
    /// (`spawned:SERVER`: work it spawns; `phone:EXT`: that phone's task).
    #[arg(long, value_name = "SITE", hide = true)]
    inject_panic: Option<String>,
    /// Run only the K-th of N disjoint slices of the variations (1/N to N/N)
    /// and write its results to --out, for `fleetsim sweep-merge`.
    #[arg(long, value_name = "K/N", value_parser = crate::shard::parse, requires = "out", conflicts_with = "format")]
    shard: Option<Shard>,
    /// The part file a --shard run writes (JSON).
    #[arg(long, value_name = "FILE", requires = "shard")]
    out: Option<PathBuf>,
}

fn parse_dur(s: &str) -> Result<Dur, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// The takeover's line: when no run completed one but phones moved, it
/// says so rather than "never reached".
fn takeover_line(report: &SweepReport, n: usize) -> String {
    if report.takeover_incomplete() {
        let runs = report
            .results
            .iter()
            .filter(|r| r.error.is_none() && r.phones_moved > 0)
            .count();
        return format!(
            "  {:<32} never complete: phones moved in {runs} of {n} runs, but never every IP phone of the failed server",
            "takeover"
        );
    }
    dist_line("takeover", &report.takeover_ms, n, true)
}

fn dist_line(name: &str, d: &Distribution, of: usize, time: bool) -> String {
    let f = |v: u64| if time { human_ms(v) } else { v.to_string() };
    if d.n == 0 {
        return format!("  {name:<32} never reached");
    }
    let reached = if d.n == of {
        String::new()
    } else {
        format!("  (in {} of {of} runs)", d.n)
    };
    format!(
        "  {name:<32} p50 {:>8}   p99 {:>8}   max {:>8}{reached}",
        f(d.p50),
        f(d.p99),
        f(d.max)
    )
}

/// `fleetsim sweep`.
pub(crate) fn sweep(args: SweepArgs) -> anyhow::Result<ExitCode> {
    if let Some(out) = &args.out {
        let inputs = files::scenario_inputs(Some(&args.scenario));
        if let Err(e) = files::check_distinct(&inputs, &[("--out", out)]) {
            errln!("error: {e}");
            return Ok(ExitCode::from(BAD_INPUT));
        }
        files::clear_stale(&inputs, &[("--out", out)]);
    }
    let scenario = match files::load_scenario(Some(&args.scenario)) {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    if let Err(e) = files::sim_only(&scenario.fleet, "sweep") {
        errln!("error: {e}");
        return Ok(ExitCode::from(BAD_INPUT));
    }
    if let Some(twice) = args
        .policy
        .iter()
        .enumerate()
        .find(|(i, p)| args.policy[..*i].iter().any(|q| q.name() == p.name()))
    {
        errln!(
            "error: --policy names {} twice; each policy's column would be the same",
            twice.1.name()
        );
        return Ok(ExitCode::from(BAD_INPUT));
    }
    if let (Some(count), Some(first)) = (args.seeds, args.first_seed)
        && first.checked_add(count.saturating_sub(1)).is_none()
    {
        errln!(
            "error: --first-seed {first} with --seeds {count} runs past the last seed ({}); start lower",
            u64::MAX
        );
        return Ok(ExitCode::from(BAD_INPUT));
    }
    if args.fault.is_none()
        && let Some(flag) = [
            ("--from", args.from),
            ("--to", args.to),
            ("--step", args.step),
        ]
        .into_iter()
        .find_map(|(flag, v)| v.map(|_| flag))
    {
        errln!(
            "error: {flag} belongs to a fault-time sweep: add --fault I (see `fleetsim check -v` for the faults' numbers), or leave it out of a seed sweep"
        );
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let plan = match (args.seeds, args.fault) {
        (Some(count), _) => SweepPlan::Seeds {
            first: args.first_seed.unwrap_or(scenario.seed),
            count,
        },
        (None, Some(index)) => {
            let (Some(from), Some(to)) = (args.from, args.to) else {
                unreachable!("clap requires them")
            };
            if from > to {
                errln!("error: --from {from} is after --to {to}: give the earlier time first");
                return Ok(ExitCode::from(BAD_INPUT));
            }
            let step = args.step.unwrap_or(Dur(std::time::Duration::from_secs(1)));
            if step.0.is_zero() {
                errln!("error: --step must be above zero, e.g. --step 1s");
                return Ok(ExitCode::from(BAD_INPUT));
            }
            // The first move says what is wrong with the fault before any
            // estimate of the sweep's time.
            if let Err(e) = fleetsim_scenario::shift_fault(&scenario, index, from) {
                errln!("error: {e}");
                return Ok(ExitCode::from(BAD_INPUT));
            }
            SweepPlan::FaultTime {
                index,
                from,
                to,
                step,
            }
        }
        (None, None) => {
            errln!("error: say what to sweep: --seeds N, or --fault I --from T --to T [--step D]");
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    let per_policy = match plan.checked_len() {
        Ok(n) => n,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    // The part file is checked before the runs: a bad path is a usage error.
    if let Some(out) = &args.out
        && let Err(e) = files::check_writable("--out", out)
    {
        errln!("error: {e}");
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        usize::from,
    );
    let tty = std::io::stderr().is_terminal();
    // Progress goes to stderr and is dropped if nobody reads it any more
    // (`eprint!` would panic on a closed pipe).
    let progress = |done: usize, total: usize| {
        use std::io::Write as _;
        let mut err = std::io::stderr().lock();
        if tty {
            let bar = crate::bar(done as u64, total as u64);
            let _ = write!(err, "\r  {bar} {done}/{total} runs");
            if done == total {
                let _ = writeln!(err);
            }
        } else if total >= 1000
            && crate::crosses_tenth(done.saturating_sub(1) as u64, done as u64, total as u64)
        {
            // Piped or logged, a long sweep still shows it is moving: a
            // line at each tenth.
            let _ = writeln!(err, "  {done}/{total} runs");
        }
    };
    let shard = args.shard.unwrap_or(Shard::ALL);
    let runs = shard.indices(per_policy * args.policy.len()).len();
    if let Some(note) = files::long_sweep_note(&scenario, runs, jobs) {
        crate::note_stderr(&note);
    }
    let wall = fleetsim_scenario::Stopwatch::start();
    // Variation i under policy p is number p × per_policy + i of the whole
    // sweep: shards slice across policies too.
    let mut results = Vec::new();
    for (p, policy) in args.policy.iter().enumerate() {
        let opts = RunOptions {
            inject_panic: args.inject_panic.clone(),
            policy: policy.clone(),
            ..RunOptions::default()
        };
        let which: Vec<usize> = (0..per_policy)
            .filter(|i| shard.holds(p * per_policy + i))
            .collect();
        match fleetsim_scenario::sweep::sweep_some(&scenario, &plan, &opts, jobs, &progress, &which)
        {
            Ok(r) => results.push((which, r)),
            Err(fleetsim_scenario::RunError::Sweep(e)) => {
                errln!("error: {e}");
                return Ok(ExitCode::from(BAD_INPUT));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let id = SweepId {
        scenario: scenario.name.clone(),
        plan,
        policies: args.policy.iter().map(|p| p.name().to_string()).collect(),
        nothing_checked: scenario.expectations.is_empty(),
        rerun: Again {
            scenario: fleetsim_model::embedded::run_arg(&scenario.origin)
                .unwrap_or_else(|| args.scenario.clone()),
            strict: args.strict,
            inject_panic: args.inject_panic.clone(),
        },
        fingerprint: fingerprint(&scenario),
    };
    let runs: usize = results.iter().map(|(_, r)| r.len()).sum();
    let timing = format!(
        "{} on {} in {:.1} s",
        fleetsim_model::words::counted(runs, "run", "runs"),
        fleetsim_model::words::counted(jobs, "thread", "threads"),
        wall.elapsed_secs()
    );
    if let (Some(shard), Some(out)) = (args.shard, &args.out) {
        let total = id.plan.len() as usize * id.policies.len();
        crate::shard::write_part(out, shard, id, results)?;
        crate::note_stderr(&timing);
        outln!(
            "shard {}/{} of the sweep of {}: {} written to {} (merge with `fleetsim sweep-merge`)",
            shard.index + 1,
            shard.count,
            scenario.name,
            crate::shard::which_runs(shard, total),
            out.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Wall time and threads vary from run to run: stdout keeps to what the
    // variations gave, so a merged sharded sweep prints it byte for byte.
    crate::note_stderr(&timing);
    let reports = results
        .into_iter()
        .zip(&id.policies)
        .map(|((_, r), policy)| SweepReport::of(&id.scenario, policy, r))
        .collect();
    summarize(&id, reports, args.format)
}

/// What a sweep is, apart from its results: all its summary and reproduce
/// commands need, and what the parts of a sharded sweep must share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SweepId {
    /// The scenario's name.
    pub(crate) scenario: String,
    /// What the sweep varies.
    pub(crate) plan: SweepPlan,
    /// The takeover policies, in the order given.
    pub(crate) policies: Vec<String>,
    /// The scenario has no expectations.
    pub(crate) nothing_checked: bool,
    /// What every reproduce command shares.
    pub(crate) rerun: Again,
    /// A hash of the scenario as loaded (fleet, faults, expectations), so
    /// parts run from a file changed in between are not merged.
    #[serde(default)]
    pub(crate) fingerprint: String,
}

/// FNV-1a (64 bits) of the scenario as loaded, in hex: stable across runs,
/// machines and builds of one version, unlike `std`'s hasher.
pub(crate) fn fingerprint(scenario: &fleetsim_model::Scenario) -> String {
    // What the scenario is, not where it was read from: `s.toml`,
    // `./s.toml` and a CI machine's absolute path are the same scenario.
    let mut what = scenario.clone();
    what.origin.clear();
    let text = serde_json::to_string(&what).unwrap_or_default();
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// Prints a sweep's summary (table, failures, reproduce commands) from
/// every policy's report, and returns the sweep's exit code.
pub(crate) fn summarize(
    id: &SweepId,
    mut reports: Vec<SweepReport>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    if id.nothing_checked && id.rerun.strict {
        reports.iter_mut().for_each(fail_unchecked);
    }
    if format == Format::Json {
        let mut json: Vec<serde_json::Value> = Vec::new();
        for r in &reports {
            json.push(with_reproduce(r, id)?);
        }
        match json.as_slice() {
            [one] => outln!("{}", serde_json::to_string_pretty(one)?),
            all => outln!("{}", serde_json::to_string_pretty(all)?),
        }
    } else {
        let runs: usize = reports.iter().map(|r| r.results.len()).sum();
        outln!(
            "sweep of {} · {} · {}",
            id.scenario,
            plan_words(&id.plan),
            fleetsim_model::words::counted(runs, "run", "runs")
        );
        match reports.as_slice() {
            [one] => print_distributions(one),
            all => crate::policy::table(all),
        }
        if id.nothing_checked {
            outln!("{}", fleetsim_report::NOTHING_CHECKED);
        }
        for r in &reports {
            print_failures(r, &id.rerun, reports.len() > 1);
        }
    }
    let errors = reports.iter().any(|r| r.errors().next().is_some());
    Ok(if errors {
        ExitCode::from(EMULATOR_FAILED)
    } else if reports.iter().all(|r| r.passed()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FAILED)
    })
}

/// What a sweep varies, in words.
fn plan_words(plan: &SweepPlan) -> String {
    match plan {
        SweepPlan::Seeds { first, count } => {
            format!(
                "seeds {first}..{}",
                first.wrapping_add(count.saturating_sub(1))
            )
        }
        SweepPlan::FaultTime {
            index,
            from,
            to,
            step,
        } => format!("fault {index} at {from}..{to} every {step}"),
    }
}

/// One policy's figures, one line each.
fn print_distributions(report: &SweepReport) {
    let n = report.results.len();
    if report.policy != fleetsim_scenario::rules::DEFAULT_POLICY {
        outln!("  policy {}", report.policy);
    }
    if n > 0 && report.errors().count() == n {
        outln!("  no figures: the emulator failed in every run (the errors are listed below)");
        return;
    }
    outln!("{}", takeover_line(report, n));
    outln!(
        "{}",
        dist_line("phones moved", &report.phones_moved, n, false)
    );
    outln!("{}", dist_line("detection", &report.detection_ms, n, true));
    outln!(
        "{}",
        dist_line("longest phone outage", &report.max_phone_outage_ms, n, true)
    );
    outln!(
        "{}",
        dist_line(
            "phones unregistered at the end",
            &report.phones_unregistered_at_end,
            n,
            false
        )
    );
    // Workload figures, when the scenario has calls or findings.
    for (label, d) in [
        ("calls dropped", &report.calls_dropped),
        ("calls preserved", &report.calls_preserved),
        ("messages + recordings lost", &report.lost),
        ("split-brain findings", &report.split_brain),
    ] {
        if d.max > 0
            || (label.starts_with("calls")
                && report.calls_preserved.max + report.calls_dropped.max > 0)
        {
            outln!("{}", dist_line(label, d, n, false));
        }
    }
}

/// `--strict` on a scenario with no expectations: every run that
/// otherwise passed fails, saying why.
fn fail_unchecked(report: &mut SweepReport) {
    for r in report.results.iter_mut().filter(|r| r.passed) {
        r.passed = false;
        r.failures.push((
            fleetsim_report::STRICT_CHECK.into(),
            fleetsim_report::NOTHING_CHECKED.into(),
        ));
    }
}

/// What every reproduce command of a sweep shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Again {
    /// The scenario as `fleetsim run` takes it: a built-in's name or a path.
    pub(crate) scenario: String,
    /// `--strict` was given.
    strict: bool,
    /// The test hook, repeated so that a rerun panics as the sweep did.
    inject_panic: Option<String>,
}

/// A sweep report as JSON: its verdict in counts as the text and exit code
/// give it (`passed`, `runs`, `failed`, `errors`, `nothing_checked`), and
/// each run that failed or erred carrying the command that reruns it
/// (`reproduce`).
fn with_reproduce(r: &SweepReport, id: &SweepId) -> anyhow::Result<serde_json::Value> {
    let again = &id.rerun;
    let mut v = serde_json::to_value(r)?;
    if let Some(obj) = v.as_object_mut() {
        obj.insert("passed".into(), r.passed().into());
        obj.insert("runs".into(), r.results.len().into());
        obj.insert("failed".into(), r.failures().count().into());
        obj.insert("errors".into(), r.errors().count().into());
        obj.insert("nothing_checked".into(), id.nothing_checked.into());
    }
    if let Some(rows) = v.get_mut("results").and_then(|x| x.as_array_mut()) {
        for (row, result) in rows.iter_mut().zip(&r.results) {
            if !result.passed
                && let Some(obj) = row.as_object_mut()
            {
                let cmd = reproduce(again, &result.variation, &r.policy);
                obj.insert("reproduce".into(), cmd.into());
            }
        }
    }
    Ok(v)
}

/// The command that reruns one variation.
fn reproduce(again: &Again, v: &fleetsim_scenario::sweep::Variation, policy: &str) -> String {
    let mut cmd = format!(
        "fleetsim run {} --seed {}{}",
        fleetsim_report::path_word(&again.scenario),
        v.seed,
        crate::policy::flag(policy)
    );
    if let Some((i, at)) = v.fault_at {
        cmd.push_str(&format!(" --fault-at {i}={at}"));
    }
    if again.strict {
        cmd.push_str(" --strict");
    }
    if let Some(server) = &again.inject_panic {
        cmd.push_str(&format!(
            " --inject-panic {}",
            fleetsim_report::shell_word(server)
        ));
    }
    cmd
}

/// Lists the variations whose emulator failed, then those whose
/// expectations failed, each with the command that reproduces it.
fn print_failures(report: &SweepReport, again: &Again, named: bool) {
    let n = report.results.len();
    // Beside other policies, each policy's lines say whose they are.
    let who = if named {
        format!("{}: ", report.policy)
    } else {
        String::new()
    };
    let errors: Vec<_> = report.errors().collect();
    let failing: Vec<_> = report.failures().collect();
    if errors.is_empty() && failing.is_empty() {
        if n == 1 {
            outln!("{who}the 1 run passed");
        } else {
            outln!("{who}all {n} runs passed");
        }
        return;
    }
    if !errors.is_empty() {
        outln!(
            "{who}{} of {n} runs hit an emulator error (their figures are left out); reproduce each with:",
            errors.len()
        );
        for e in errors {
            outln!("  {}", reproduce(again, &e.variation, &report.policy));
            if let Some(err) = &e.error {
                outln!("      error: {err}");
            }
        }
    }
    if !failing.is_empty() {
        outln!(
            "{who}{} of {n} runs failed; reproduce each with:",
            failing.len()
        );
        for f in failing {
            outln!("  {}", reproduce(again, &f.variation, &report.policy));
            for (name, detail) in &f.failures {
                outln!("      {name}: {detail}");
            }
        }
    }
}

/// Arguments of `fleetsim determinism`.
#[derive(clap::Args, Debug)]
pub(crate) struct DeterminismArgs {
    /// Scenario file, or the name of a built-in scenario.
    scenario: Option<String>,
    /// Replace the scenario's seed.
    #[arg(long, allow_negative_numbers = true)]
    seed: Option<u64>,
    /// How many runs to compare (at least 2).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(2..))]
    runs: u16,
    /// Takeover policy the servers decide by (see `fleetsim policies`).
    #[arg(long, value_name = "NAME", value_parser = crate::policy::parse)]
    policy: Option<crate::policy::Policy>,
}

/// `fleetsim determinism`: 0 when every run's event log is identical, 1
/// otherwise, 3 when a run hit an emulator error.
pub(crate) fn determinism(args: DeterminismArgs) -> anyhow::Result<ExitCode> {
    let scenario = match files::load_scenario(args.scenario.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            errln!("error: {e}");
            return Ok(ExitCode::from(BAD_INPUT));
        }
    };
    if let Err(e) = files::sim_only(&scenario.fleet, "determinism") {
        errln!("error: {e}");
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let mut opts = RunOptions {
        seed: args.seed,
        ..RunOptions::default()
    };
    if let Some(policy) = args.policy {
        opts.policy = policy;
    }
    match fleetsim_scenario::check_determinism(&scenario, &opts, usize::from(args.runs))? {
        Ok(o) if o.error.is_some() => {
            let err = o
                .error
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            errln!("error: {err}");
            Ok(ExitCode::from(EMULATOR_FAILED))
        }
        Ok(o) => {
            outln!(
                "deterministic: {} runs of {} (seed {}{}) gave the same {} events",
                usize::from(args.runs),
                o.scenario,
                o.seed,
                o.policy_words(", "),
                o.events.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(d) => {
            outln!("NOT deterministic: {d}");
            Ok(ExitCode::from(FAILED))
        }
    }
}

/// Reads the golden timeline in `path` before a run: none when the file
/// does not exist yet; a file that cannot be read or parsed is bad input.
/// The largest golden timeline read (16 MiB): one line per state change.
const GOLDEN_MAX_BYTES: u64 = 16 << 20;

pub(crate) fn load_golden(path: &Path) -> Result<Option<Golden>, String> {
    if !path.exists() {
        return Ok(None);
    }
    let text = fleetsim_model::read_limited(
        path,
        GOLDEN_MAX_BYTES,
        "name the file `fleetsim run --golden` records",
        "a golden timeline is a few KiB",
    )
    .map_err(|e| format!("--golden {e}"))?;
    Golden::from_json(&text)
        .map(Some)
        .map_err(|e| format!("--golden {}: {e}", path.display()))
}

/// Records a golden timeline (`update`, or no `was` yet: no check) or
/// compares with `was`: a check that passes when nothing differs.
pub(crate) fn golden(
    path: &Path,
    was: Option<Golden>,
    outcome: &RunOutcome,
    as_written: &std::collections::BTreeMap<String, String>,
    update: bool,
    tolerance: Dur,
) -> anyhow::Result<Option<ExpectationResult>> {
    let mut now = Golden::of(outcome);
    now.expectations = std::mem::take(&mut now.expectations)
        .into_iter()
        .map(|(name, passed)| (as_written.get(&name).cloned().unwrap_or(name), passed))
        .collect();
    let was = match was {
        Some(was) if !update => was,
        _ => {
            std::fs::write(path, now.to_json())
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            errln!("golden timeline recorded in {}", path.display());
            return Ok(None);
        }
    };
    let diff = was.diff(&now, tolerance.as_millis());
    let shown = path.display();
    let detail = if diff.is_empty() {
        format!("matches {shown}")
    } else {
        let lines: Vec<String> = diff.iter().map(|d| format!("- {d}")).collect();
        format!(
            "{} from {shown}:\n{}\n(if the change is intended: rerun with --update-golden)",
            fleetsim_model::words::counted(diff.len(), "difference", "differences"),
            lines.join("\n")
        )
    };
    Ok(Some(ExpectationResult {
        name: format!("golden timeline {shown}"),
        passed: diff.is_empty(),
        detail,
    }))
}
