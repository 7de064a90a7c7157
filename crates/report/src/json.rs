//! The machine-readable summary of a run.

use fleetsim_scenario::{ExpectationResult, Metrics, Mode, RunFailure, RunOutcome};
use serde::Serialize;

/// The summary printed by `fleetsim run --format json`.
#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// Seed.
    pub seed: u64,
    /// `sim` or `live`.
    pub mode: &'static str,
    /// The takeover policy the servers decided by.
    pub policy: &'a str,
    /// Whether the emulator ran without error and every expectation held.
    pub passed: bool,
    /// The emulator's own failure (`message`, `panics`, `panic_count`), or
    /// null: when set, the run is an error whatever the expectations say.
    pub error: Option<&'a RunFailure>,
    /// Expectation verdicts.
    pub expectations: &'a [ExpectationResult],
    /// What a reader must know about the verdict: `no expectations:
    /// nothing was checked` when there was nothing to check.
    pub notes: Vec<&'static str>,
    /// The command that reruns this run (`fleetsim run …`), or null for a
    /// scenario built in code.
    pub reproduce: Option<String>,
    /// Metrics.
    pub metrics: &'a Metrics,
    /// Emulated duration.
    pub duration_ms: u64,
    /// Wall time the run took.
    pub wall_ms: f64,
    /// Emulated time / wall time.
    pub speedup: f64,
    /// RPCs served; null when members served elsewhere (not counted).
    pub rpcs: Option<u64>,
}

/// Builds the summary of `o`.
pub fn summary(o: &RunOutcome) -> Summary<'_> {
    Summary {
        scenario: &o.scenario,
        seed: o.seed,
        mode: match o.mode {
            Mode::Sim => "sim",
            Mode::Live => "live",
        },
        policy: &o.policy,
        passed: o.passed(),
        error: o.error.as_ref(),
        expectations: &o.expectations,
        notes: if crate::nothing_checked(o) {
            vec![crate::NOTHING_CHECKED]
        } else {
            Vec::new()
        },
        reproduce: crate::reproduce(o),
        metrics: &o.metrics,
        duration_ms: o.duration_ms,
        wall_ms: (o.wall_ms * 10.0).round() / 10.0,
        speedup: if o.wall_ms > 0.0 {
            (o.duration_ms as f64 / o.wall_ms * 10.0).round() / 10.0
        } else {
            0.0
        },
        rpcs: o.rpcs_counted(),
    }
}

/// The summary as pretty JSON.
pub fn to_string(o: &RunOutcome) -> String {
    serde_json::to_string_pretty(&summary(o)).expect("plain data serialises")
}
