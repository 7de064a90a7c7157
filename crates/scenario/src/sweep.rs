//! Sweeps: many variations of one scenario (seeds, or a fault's time), run
//! in parallel, one current-thread runtime per run, with the distribution
//! of the results and every failing variation.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use fleetsim_model::{Dur, Scenario};
use serde::{Deserialize, Serialize};

use crate::metrics::percentile;
use crate::panics::{RunFailure, unrecorded};
use crate::runner::{RunError, RunOptions, RunOutcome, run};
use crate::vary::shift_fault;

/// One variation of a sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variation {
    /// Seed.
    pub seed: u64,
    /// (fault index, new time), when the sweep moves a fault.
    pub fault_at: Option<(usize, Dur)>,
}

impl std::fmt::Display for Variation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.fault_at {
            Some((index, at)) => write!(f, "seed {} with fault {index} at {at}", self.seed),
            None => write!(f, "seed {}", self.seed),
        }
    }
}

/// What a sweep varies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SweepPlan {
    /// Seeds `first..first + count`.
    Seeds {
        /// First seed.
        first: u64,
        /// How many.
        count: u64,
    },
    /// Fault `index` at every `step` from `from` to `to` (inclusive), seed fixed.
    FaultTime {
        /// Fault index (0-based, time order).
        index: usize,
        /// First time.
        from: Dur,
        /// Last time.
        to: Dur,
        /// Step.
        step: Dur,
    },
}

/// The most variations one sweep runs.
pub const MAX_VARIATIONS: u64 = 100_000;

impl SweepPlan {
    /// How many variations the plan makes.
    pub fn len(&self) -> u64 {
        match self {
            SweepPlan::Seeds { count, .. } => *count,
            SweepPlan::FaultTime { from, to, step, .. } => {
                to.as_millis().saturating_sub(from.as_millis()) / step.as_millis().max(1) + 1
            }
        }
    }

    /// Whether the plan makes no variation.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many variations the plan makes, or why a sweep refuses it (none,
    /// or more than [`MAX_VARIATIONS`]).
    pub fn checked_len(&self) -> Result<usize, String> {
        if self.is_empty() || self.len() > MAX_VARIATIONS {
            return Err(format!(
                "a sweep runs from 1 to {MAX_VARIATIONS} variations; this one would run {}",
                self.len()
            ));
        }
        Ok(self.len() as usize)
    }

    /// The variations, in order.
    pub fn variations(&self, scenario: &Scenario) -> Vec<Variation> {
        (0..self.len() as usize)
            .map(|i| self.variation(i, scenario.seed))
            .collect()
    }

    /// Variation `i` (below [`Self::len`]); `seed` is the scenario's, which
    /// a fault-time sweep keeps.
    pub fn variation(&self, i: usize, seed: u64) -> Variation {
        match self {
            SweepPlan::Seeds { first, .. } => Variation {
                seed: first.wrapping_add(i as u64),
                fault_at: None,
            },
            SweepPlan::FaultTime {
                index, from, step, ..
            } => Variation {
                seed,
                fault_at: Some((
                    *index,
                    Dur::millis(from.as_millis() + step.as_millis().max(1) * i as u64),
                )),
            },
        }
    }
}

/// The result of one variation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariationResult {
    /// The variation.
    pub variation: Variation,
    /// Whether the emulator ran without error and every expectation held.
    pub passed: bool,
    /// The emulator's own failure (a panic), which makes the variation an
    /// error rather than a failure.
    pub error: Option<RunFailure>,
    /// The failed expectations: (name, detail).
    pub failures: Vec<(String, String)>,
    /// Takeover time, if any: every failover-eligible phone on its backup.
    pub takeover_ms: Option<u64>,
    /// Phones that registered as a guest somewhere (some may move without a
    /// complete takeover, as in a split network).
    #[serde(default)]
    pub phones_moved: u32,
    /// Detection time, if any.
    pub detection_ms: Option<u64>,
    /// Longest phone outage.
    pub max_phone_outage_ms: u64,
    /// Phones unregistered at the end.
    pub phones_unregistered_at_end: u32,
    /// Calls dropped.
    pub calls_dropped: u32,
    /// Calls kept up by media connection preservation.
    pub calls_preserved: u32,
    /// Voicemail messages plus recordings lost (end-of-run audit).
    pub lost: u32,
    /// Split-brain findings.
    pub split_brain: u32,
}

impl VariationResult {
    /// The result of a finished run.
    fn of(variation: Variation, o: &RunOutcome) -> VariationResult {
        VariationResult {
            variation,
            passed: o.passed(),
            error: o.error.clone(),
            failures: o
                .expectations
                .iter()
                .filter(|e| !e.passed)
                .map(|e| (e.name.clone(), e.detail.clone()))
                .collect(),
            takeover_ms: o.metrics.takeover_ms,
            phones_moved: o.metrics.phones_moved,
            detection_ms: o.metrics.detection_ms,
            max_phone_outage_ms: o.metrics.max_phone_outage_ms,
            phones_unregistered_at_end: o.metrics.phones_unregistered_at_end,
            calls_dropped: o.metrics.calls_dropped,
            calls_preserved: o.metrics.calls_preserved,
            lost: o.metrics.messages_lost + o.metrics.recordings_lost,
            split_brain: o.metrics.split_brain.len() as u32,
        }
    }

    /// A run whose panic escaped it: an emulator error with no figures.
    fn escaped(variation: Variation, payload: &(dyn std::any::Any + Send)) -> VariationResult {
        VariationResult {
            variation,
            passed: false,
            error: unrecorded(payload),
            failures: Vec::new(),
            takeover_ms: None,
            phones_moved: 0,
            detection_ms: None,
            max_phone_outage_ms: 0,
            phones_unregistered_at_end: 0,
            calls_dropped: 0,
            calls_preserved: 0,
            lost: 0,
            split_brain: 0,
        }
    }
}

/// p50, p99 and max of a figure over the variations that have it (in
/// JSON, `null` when none has it: no takeover is not a takeover in 0 ms).
#[derive(Clone, Debug, Default)]
pub struct Distribution {
    /// How many variations had the figure.
    pub n: usize,
    /// Median.
    pub p50: u64,
    /// 99th percentile (nearest rank).
    pub p99: u64,
    /// Maximum.
    pub max: u64,
}

impl Serialize for Distribution {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let seen = |v: u64| (self.n > 0).then_some(v);
        let mut st = s.serialize_struct("Distribution", 4)?;
        st.serialize_field("n", &self.n)?;
        st.serialize_field("p50", &seen(self.p50))?;
        st.serialize_field("p99", &seen(self.p99))?;
        st.serialize_field("max", &seen(self.max))?;
        st.end()
    }
}

impl Distribution {
    fn of(values: impl Iterator<Item = u64>) -> Distribution {
        let mut v: Vec<u64> = values.collect();
        v.sort_unstable();
        Distribution {
            n: v.len(),
            p50: percentile(&v, 50.0),
            p99: percentile(&v, 99.0),
            max: v.last().copied().unwrap_or(0),
        }
    }
}

/// A finished sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    /// Scenario name.
    pub scenario: String,
    /// The takeover policy of every run (its name).
    pub policy: String,
    /// Every variation's result, in plan order.
    pub results: Vec<VariationResult>,
    /// Takeover time distribution.
    pub takeover_ms: Distribution,
    /// Phones moved to a backup, per run.
    pub phones_moved: Distribution,
    /// Detection time distribution.
    pub detection_ms: Distribution,
    /// Longest-phone-outage distribution.
    pub max_phone_outage_ms: Distribution,
    /// Phones-unregistered-at-end distribution.
    pub phones_unregistered_at_end: Distribution,
    /// Calls-dropped distribution.
    pub calls_dropped: Distribution,
    /// Calls-preserved distribution.
    pub calls_preserved: Distribution,
    /// Messages-and-recordings-lost distribution (must stay at 0).
    pub lost: Distribution,
    /// Split-brain-findings distribution.
    pub split_brain: Distribution,
}

impl SweepReport {
    /// No run completed a takeover, though phones moved in some
    /// ([`crate::Metrics::takeover_incomplete`] over the runs).
    pub fn takeover_incomplete(&self) -> bool {
        self.takeover_ms.n == 0 && self.phones_moved.max > 0
    }

    /// Whether every variation passed.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }

    /// The variations whose expectations failed (without an emulator error).
    pub fn failures(&self) -> impl Iterator<Item = &VariationResult> {
        self.results
            .iter()
            .filter(|r| !r.passed && r.error.is_none())
    }

    /// The variations where the emulator itself failed.
    pub fn errors(&self) -> impl Iterator<Item = &VariationResult> {
        self.results.iter().filter(|r| r.error.is_some())
    }
}

/// One of `count` disjoint slices of a sweep's variations, `index` counted
/// from 0. Variation `i` belongs to slice `i % count`: the slices are
/// disjoint and cover every variation for any `count` (a slice may be
/// empty), and each gets its share of early and late variations alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// Which slice (0-based, below `count`).
    pub index: usize,
    /// How many slices.
    pub count: usize,
}

impl Shard {
    /// The one slice holding everything.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether variation `i` belongs to this slice.
    pub fn holds(self, i: usize) -> bool {
        i % self.count.max(1) == self.index
    }

    /// The variations of `0..total` in this slice, in order.
    pub fn indices(self, total: usize) -> Vec<usize> {
        (0..total).filter(|&i| self.holds(i)).collect()
    }
}

/// Runs every variation of `plan` on `jobs` threads (each run on its own
/// current-thread runtime), calling `progress(done, total)` as runs finish.
pub fn sweep(
    scenario: &Scenario,
    plan: &SweepPlan,
    opts: &RunOptions,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SweepReport, RunError> {
    let all: Vec<usize> = (0..plan.checked_len().map_err(RunError::Sweep)?).collect();
    let results = sweep_some(scenario, plan, opts, jobs, progress, &all)?;
    Ok(SweepReport::of(&scenario.name, opts.policy.name(), results))
}

/// Runs the variations of `plan` numbered `which` (plan order, 0-based) as
/// [`sweep`] does and returns their results in the order of `which`. Every
/// variation of the plan is checked first, run or not, so each slice of a
/// sharded sweep refuses bad input as the whole sweep would.
pub fn sweep_some(
    scenario: &Scenario,
    plan: &SweepPlan,
    opts: &RunOptions,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
    which: &[usize],
) -> Result<Vec<VariationResult>, RunError> {
    plan.checked_len().map_err(RunError::Sweep)?;
    let variations = plan.variations(scenario);
    if let Some(i) = which.iter().find(|&&i| i >= variations.len()) {
        return Err(RunError::Sweep(format!(
            "variation {i} does not exist: the sweep has {}",
            variations.len()
        )));
    }
    // Check every variation before starting any: bad input fails fast.
    let mut scenarios: Vec<Option<Scenario>> = Vec::with_capacity(variations.len());
    let mut wanted = vec![false; variations.len()];
    which.iter().for_each(|&i| wanted[i] = true);
    for (v, keep) in variations.iter().zip(&wanted) {
        let s = match v.fault_at {
            Some((i, at)) => shift_fault(scenario, i, at).map_err(RunError::Sweep)?,
            None => scenario.clone(),
        };
        scenarios.push(keep.then(|| s.with_seed(v.seed)));
    }
    parallel(which.len(), jobs, progress, |j| {
        let i = which[j];
        let scenario = scenarios[i].as_ref().expect("kept: it is run");
        // A run catches its own panics; this is for one that escapes.
        let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run(
                scenario,
                &RunOptions {
                    seed: None,
                    ..opts.clone()
                },
            )
        }));
        match attempt {
            Ok(r) => r.map(|o| VariationResult::of(variations[i].clone(), &o)),
            Err(p) => Ok(VariationResult::escaped(variations[i].clone(), p.as_ref())),
        }
    })
    .into_iter()
    .collect()
}

impl SweepReport {
    /// The report of a sweep of `scenario` under `policy` from every
    /// variation's result, in plan order (also the merge of a sharded
    /// sweep's parts).
    pub fn of(scenario: &str, policy: &str, results: Vec<VariationResult>) -> SweepReport {
        // Figures of a run whose emulator failed cannot be trusted: left out.
        let clean: Vec<&VariationResult> = results.iter().filter(|r| r.error.is_none()).collect();
        let results_ok = || clean.iter().copied();
        SweepReport {
            scenario: scenario.to_string(),
            policy: policy.to_string(),
            takeover_ms: Distribution::of(results_ok().filter_map(|r| r.takeover_ms)),
            phones_moved: Distribution::of(results_ok().map(|r| u64::from(r.phones_moved))),
            detection_ms: Distribution::of(results_ok().filter_map(|r| r.detection_ms)),
            max_phone_outage_ms: Distribution::of(results_ok().map(|r| r.max_phone_outage_ms)),
            phones_unregistered_at_end: Distribution::of(
                results_ok().map(|r| u64::from(r.phones_unregistered_at_end)),
            ),
            calls_dropped: Distribution::of(results_ok().map(|r| u64::from(r.calls_dropped))),
            calls_preserved: Distribution::of(results_ok().map(|r| u64::from(r.calls_preserved))),
            lost: Distribution::of(results_ok().map(|r| u64::from(r.lost))),
            split_brain: Distribution::of(results_ok().map(|r| u64::from(r.split_brain))),
            results,
        }
    }
}

/// The message of a caught panic.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}

/// The sweep's pool: calls `f(i)` for every `i` in `0..total` on `jobs`
/// threads (each run makes its own current-thread runtime), calling
/// `progress(done, total)` as items finish; results in index order.
pub fn parallel<R: Send>(
    total: usize,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
    f: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<R>>> = Mutex::new((0..total).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, total.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let r = f(i);
                    slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every slot is filled"))
        .collect()
}
