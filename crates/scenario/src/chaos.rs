//! Built-in chaos: random fault schedules on a fleet, run in parallel, each
//! event log checked against invariants; a failing schedule is shrunk to a
//! minimal one and given as a self-contained scenario file.
//!
//! ```no_run
//! use fleetsim_scenario::chaos::{self, Base, ChaosPlan};
//!
//! let plan = ChaosPlan::new(Base::reference(), 8);
//! let report = chaos::run(&plan);
//! for v in &report.violations {
//!     println!("{}: {}", v.violation.invariant.name(), v.violation.detail);
//! }
//! ```

pub mod file;
pub mod invariants;
pub mod schedule;

use std::sync::Arc;

use fleetsim_model::embedded::EmbeddedResolver;
use fleetsim_model::scenario::FleetResolver;
use fleetsim_model::{Calls, Fleet, LoadError, Scenario, Source};

use crate::TakeoverPolicy;
use crate::runner::{RunOptions, run as run_scenario};
use crate::sweep::{panic_message, parallel};
pub use invariants::{Invariant, Violation};
pub use schedule::{FaultClass, Schedule};

/// Why a chaos base could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    /// The scenario or fleet file is invalid.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The fleet fails back so slowly that no drawn run fits in the
    /// longest run fleetsim takes.
    #[error(
        "{name}: failback-after = \"{failback_after}\" needs a settle tail of {floor} after the last fault, so no drawn run fits in the {max} fleetsim runs: give a failback-after under {room}"
    )]
    NoRoom {
        /// The base's name.
        name: String,
        /// Its failback time.
        failback_after: fleetsim_model::Dur,
        /// The settle tail every schedule then needs.
        floor: fleetsim_model::Dur,
        /// The longest run.
        max: fleetsim_model::Dur,
        /// A failback time that leaves a day for the faults.
        room: fleetsim_model::Dur,
    },
}

/// What the schedules are drawn on: a fleet, its settings and a workload.
#[derive(Clone, Debug)]
pub struct Base {
    /// Name (the scenario's or the fleet's), used in file names.
    pub name: String,
    /// The validated fleet (with the scenario's `[resilience]`).
    pub fleet: Fleet,
    /// The fleet as a TOML table, written inline in each schedule's file.
    pub fleet_table: toml::Table,
    /// The scenario's `[resilience]` replacements, if any.
    pub resilience: Option<toml::Table>,
    /// The call workload of runs with calls: the scenario's `[calls]`, or
    /// 240 calls an hour with the default mix.
    pub calls: Calls,
}

/// `base`, if a drawn run on it fits in the longest run: its settle tail
/// (the fleet's failback time and a little) and a day for the faults.
fn room(base: Base) -> Result<Base, ChaosError> {
    use fleetsim_model::Dur;
    let max = fleetsim_model::limits::MAX_DURATION;
    let floor = schedule::settle_floor(&base.fleet);
    let day = Dur::days(1);
    if floor.0 + day.0 <= max.0 {
        return Ok(base);
    }
    let failback_after = base.fleet.timers.failback_after;
    let extra = floor.0.saturating_sub(failback_after.0);
    Err(ChaosError::NoRoom {
        name: base.name,
        failback_after,
        floor,
        max,
        room: Dur(max.0.saturating_sub(day.0 + extra)),
    })
}

/// The workload of runs with calls when the scenario has none.
pub fn default_calls() -> Calls {
    Calls {
        per_hour: 240,
        ..Calls::default()
    }
}

impl Base {
    /// The built-in reference fleet.
    pub fn reference() -> Base {
        let (_, text) = EmbeddedResolver
            .read("fleets/reference.toml")
            .expect("the reference fleet is built in");
        Base::from_text("reference.toml", &text, &EmbeddedResolver)
            .expect("the reference fleet is valid")
    }

    /// A base from a scenario or fleet file's text (a fleet has `[[server]]`
    /// tables and no `fleet`); `resolver` finds a scenario's fleet file.
    pub fn from_text(
        name: &str,
        text: &str,
        resolver: &dyn FleetResolver,
    ) -> Result<Base, ChaosError> {
        let src = Source { name, text };
        let peek: toml::Table =
            toml::from_str(text).map_err(|e| LoadError::from(src.toml_error(&e)))?;
        if peek.contains_key("server") && !peek.contains_key("fleet") {
            let fleet = Fleet::from_toml(&src).map_err(LoadError::from)?;
            return room(Base {
                name: fleet.name.clone(),
                fleet,
                fleet_table: peek,
                resilience: None,
                calls: default_calls(),
            });
        }
        let scenario = Scenario::parse(&src, resolver)?;
        let fleet_table = match peek.get("fleet") {
            Some(toml::Value::Table(t)) => t.clone(),
            Some(toml::Value::String(path)) => {
                // A built-in fleet is no file: read it as Scenario::parse did.
                let builtin = (path.strip_prefix(fleetsim_model::embedded::BUILTIN))
                    .and_then(fleetsim_model::embedded::fleet_file)
                    .map(|(p, t)| (p.to_string(), t.to_string()));
                let (shown, text) = match builtin {
                    Some(b) => b,
                    None => resolver.read(path)?,
                };
                toml::from_str(&text).map_err(|e| {
                    LoadError::from(
                        Source {
                            name: &shown,
                            text: &text,
                        }
                        .toml_error(&e),
                    )
                })?
            }
            _ => unreachable!("Scenario::parse checked the fleet"),
        };
        let resilience = match peek.get("resilience") {
            Some(toml::Value::Table(t)) => Some(t.clone()),
            _ => None,
        };
        room(Base {
            name: scenario.name.clone(),
            fleet: scenario.fleet.clone(),
            fleet_table,
            resilience,
            calls: if scenario.calls.per_hour > 0 {
                scenario.calls.clone()
            } else {
                default_calls()
            },
        })
    }

    /// The scenario that runs `schedule`: parsed from its file text, so the
    /// file written is exactly what ran.
    pub fn scenario(&self, schedule: &Schedule) -> Result<Scenario, LoadError> {
        let text = file::scenario_text(self, schedule);
        Scenario::parse(
            &Source {
                name: "<chaos>",
                text: &text,
            },
            &EmbeddedResolver,
        )
    }
}

/// A chaos campaign.
#[derive(Clone, Debug)]
pub struct ChaosPlan {
    /// What the schedules are drawn on.
    pub base: Base,
    /// How many schedules.
    pub schedules: u32,
    /// The campaign's seed: the same seed draws the same schedules.
    pub seed: u64,
    /// The fault classes drawn from (default: all).
    pub classes: Vec<FaultClass>,
    /// Parallel runs.
    pub jobs: usize,
    /// Every this many schedules (from the first) is run twice and the
    /// event logs compared (0: never).
    pub determinism_every: u32,
    /// Violations shrunk per invariant (the others are given as drawn).
    pub shrink_limit: usize,
    /// Runs one shrink may spend.
    pub shrink_budget: u32,
    /// Whether runs may have calls (the generator gives most runs the
    /// base's workload); false: no run has calls.
    pub calls: bool,
    /// The takeover policy every run decides by (default: the documented
    /// Server Edition behaviour), so a policy of one's own meets chaos too.
    pub policy: Arc<dyn TakeoverPolicy>,
    /// Test hook, not an emulated fault: the server named here panics on
    /// its first gRPC request in every run ([`RunOptions::inject_panic`]),
    /// so tests can get a violation on demand.
    #[doc(hidden)]
    pub inject_panic: Option<String>,
}

impl ChaosPlan {
    /// A plan with the defaults: seed 1, every fault class, every core,
    /// 1 schedule in 20 rerun, 5 violations shrunk per invariant.
    pub fn new(base: Base, schedules: u32) -> ChaosPlan {
        ChaosPlan {
            base,
            schedules,
            seed: 1,
            classes: FaultClass::ALL.to_vec(),
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            determinism_every: 20,
            shrink_limit: 5,
            shrink_budget: 30,
            calls: true,
            policy: RunOptions::default().policy,
            inject_panic: None,
        }
    }

    /// How each schedule is run: in sim, under the plan's policy.
    pub fn run_options(&self) -> RunOptions {
        RunOptions {
            policy: self.policy.clone(),
            inject_panic: self.inject_panic.clone(),
            ..RunOptions::default()
        }
    }
}

/// A broken invariant in one schedule, with the schedule that shows it.
#[derive(Clone, Debug)]
pub struct Found {
    /// The schedule as drawn.
    pub drawn: Schedule,
    /// The violation as first seen.
    pub violation: Violation,
    /// The smallest schedule found that still breaks the same invariant
    /// (the drawn one when not shrunk).
    pub minimal: Schedule,
    /// The violation as the minimal schedule shows it.
    pub minimal_detail: String,
    /// Whether shrinking was tried.
    pub shrunk: bool,
    /// Runs spent shrinking.
    pub shrink_runs: u32,
    /// The minimal schedule's scenario file text.
    pub scenario_text: String,
}

/// The outcome of a campaign.
#[derive(Clone, Debug)]
pub struct ChaosReport {
    /// The base's name.
    pub base: String,
    /// The campaign's seed.
    pub seed: u64,
    /// Schedules run.
    pub schedules: u32,
    /// Schedules rerun for determinism.
    pub determinism_checked: u32,
    /// Every violation, by schedule then invariant.
    pub violations: Vec<Found>,
    /// Emulated time run in all (ms, the schedules as drawn).
    pub emulated_ms: u64,
}

impl ChaosReport {
    /// Violations of `inv`.
    pub fn count(&self, inv: Invariant) -> usize {
        self.violations
            .iter()
            .filter(|f| f.violation.invariant == inv)
            .count()
    }
}

/// Runs the scenario and checks every invariant (determinism too when
/// `twice`); a run that errs or panics breaks `run-completes`.
pub fn check_scenario(scenario: &Scenario, twice: bool) -> Vec<Violation> {
    check_scenario_with(scenario, &RunOptions::default(), twice)
}

/// [`check_scenario`], run with `opts` (a takeover policy, say).
pub fn check_scenario_with(scenario: &Scenario, opts: &RunOptions, twice: bool) -> Vec<Violation> {
    let once = || {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_scenario(scenario, opts)
        }))
        .map_err(|p| format!("the run panicked: {}", panic_message(p.as_ref())))
        .and_then(|r| r.map_err(|e| format!("the run failed: {e}")))
        .and_then(|o| match &o.error {
            Some(e) => Err(format!("the emulator failed: {e}")),
            None => Ok(o),
        })
    };
    let first = match once() {
        Ok(o) => o,
        Err(detail) => {
            return vec![Violation {
                invariant: Invariant::RunCompletes,
                detail,
            }];
        }
    };
    let mut v = invariants::check(scenario, &first.events);
    if twice {
        match once() {
            Ok(again) => v.extend(determinism(&first, &again)),
            Err(detail) => v.push(Violation {
                invariant: Invariant::RunCompletes,
                detail: format!("the rerun: {detail}"),
            }),
        }
    }
    v
}

fn determinism(a: &crate::RunOutcome, b: &crate::RunOutcome) -> Option<Violation> {
    let (la, lb) = (crate::jsonl_lines(a), crate::jsonl_lines(b));
    if la == lb {
        return None;
    }
    let i = la.iter().zip(&lb).take_while(|(x, y)| x == y).count();
    let none = String::from("(nothing)");
    Some(Violation {
        invariant: Invariant::Deterministic,
        detail: format!(
            "the rerun's event log differs at line {}: {} vs {}",
            i + 1,
            la.get(i).unwrap_or(&none),
            lb.get(i).unwrap_or(&none)
        ),
    })
}

/// Runs `schedule` on the plan's base, as the plan runs it, and checks it.
pub fn check_schedule(plan: &ChaosPlan, schedule: &Schedule, twice: bool) -> Vec<Violation> {
    match plan.base.scenario(schedule) {
        Ok(s) => check_scenario_with(&s, &plan.run_options(), twice),
        Err(e) => vec![Violation {
            invariant: Invariant::RunCompletes,
            detail: format!("the generated scenario is invalid: {e}"),
        }],
    }
}

/// Runs a campaign: draws every schedule, runs them in parallel, checks
/// them, then shrinks the first violations of each invariant.
pub fn run(plan: &ChaosPlan) -> ChaosReport {
    run_with_progress(plan, &|_, _| {})
}

/// [`run`], calling `progress(done, total)` as schedules finish.
pub fn run_with_progress(
    plan: &ChaosPlan,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> ChaosReport {
    let classes = if plan.classes.is_empty() {
        FaultClass::ALL.to_vec()
    } else {
        plan.classes.clone()
    };
    let schedules: Vec<Schedule> = (0..plan.schedules)
        .map(|i| {
            let mut s = schedule::generate(&plan.base.fleet, &classes, plan.seed, i);
            s.calls &= plan.calls;
            s
        })
        .collect();
    let twice = |i: u32| plan.determinism_every > 0 && i.is_multiple_of(plan.determinism_every);
    let checked = parallel(schedules.len(), plan.jobs, progress, |i| {
        check_schedule(plan, &schedules[i], twice(i as u32))
    });
    let mut found: Vec<(Schedule, Violation, bool)> = Vec::new();
    let mut per_inv: std::collections::BTreeMap<Invariant, usize> = Default::default();
    for (s, vs) in schedules.iter().zip(checked) {
        for v in vs {
            let n = per_inv.entry(v.invariant).or_default();
            *n += 1;
            found.push((s.clone(), v, *n <= plan.shrink_limit));
        }
    }
    let violations = parallel(found.len(), plan.jobs, &|_, _| {}, |i| {
        let (s, v, shrink_it) = &found[i];
        shrink::found(plan, s, v, *shrink_it)
    });
    ChaosReport {
        base: plan.base.name.clone(),
        seed: plan.seed,
        schedules: plan.schedules,
        determinism_checked: (0..plan.schedules).filter(|i| twice(*i)).count() as u32,
        violations,
        emulated_ms: schedules.iter().map(|s| s.duration().as_millis()).sum(),
    }
}

/// Shrinks `drawn`, which breaks `violation` under `plan`: the smallest
/// schedule found (fewer faults, no calls, shorter faults, earlier, a
/// shorter tail) that still breaks the same invariant, within
/// [`ChaosPlan::shrink_budget`] runs.
pub fn shrink(plan: &ChaosPlan, drawn: &Schedule, violation: &Violation) -> Found {
    shrink::found(plan, drawn, violation, true)
}

mod shrink;
