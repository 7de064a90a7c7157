//! The scenario runner: starts the fleet's servers and phones on the chosen
//! network, applies the scenario's faults at their emulated times, records
//! every event, then checks the expectations and computes the metrics, both
//! from the event log alone.
//!
//! ```no_run
//! use fleetsim_model::embedded;
//! use fleetsim_scenario::{RunOptions, run};
//!
//! let scenario = embedded::scenario("primary-crash").unwrap().unwrap();
//! let outcome = run(&scenario, &RunOptions::default()).unwrap();
//! assert!(outcome.passed());
//! println!("takeover after {:?} ms", outcome.metrics.takeover_ms);
//! ```
//!
//! # Layout
//! - [`runner`]: [`run`], the fleet under test and the fault plane.
//! - [`metrics`]: detection, takeover, per-phone outage, from events.
//! - [`expect`]: evaluates each expectation against the events.
//! - [`vary`]: variations of a scenario (a fault moved in time).
//! - [`golden`]: golden timelines and their semantic diff; run-to-run divergence.
//! - [`sweep`]: many variations in parallel, with distributions and failures.

pub mod expect;
pub mod golden;
pub mod metrics;
pub mod runner;
pub mod sweep;
pub mod vary;

pub use expect::ExpectationResult;
pub use metrics::Metrics;
pub use runner::{Mode, RunError, RunOptions, RunOutcome, run};
pub use sweep::{SweepPlan, SweepReport, sweep};
pub use vary::shift_fault;

/// The event log of a run as JSON lines, one string per event.
pub fn jsonl_lines(o: &RunOutcome) -> Vec<String> {
    o.events
        .iter()
        .map(|e| serde_json::to_string(e).expect("plain data serialises"))
        .collect()
}

/// The determinism guard: runs `scenario` `runs` times (at least 2) and
/// returns the first run, or where a later run's event log first differs.
pub fn check_determinism(
    scenario: &fleetsim_model::Scenario,
    opts: &RunOptions,
    runs: usize,
) -> Result<Result<RunOutcome, golden::Divergence>, RunError> {
    let first = run(scenario, opts)?;
    for i in 2..=runs.max(2) {
        let again = run(scenario, opts)?;
        if let Some(d) = golden::first_divergence(&first, &again, i) {
            return Ok(Err(d));
        }
    }
    Ok(Ok(first))
}
