//! The scenario runner: starts the fleet's servers and phones on the chosen
//! network, applies the scenario's faults at their emulated times, records
//! every event, then checks the expectations and computes the metrics, both
//! from the event log alone.
//!
//! A regression test in a few lines, built in code (or load a file with
//! [`fleetsim_model::Scenario::load`]), run, and checked against metrics
//! and events:
//!
//! ```
//! use fleetsim_model::Event;
//! use fleetsim_scenario::{RunOptions, ScenarioBuilder, run};
//!
//! let scenario = ScenarioBuilder::on_builtin_fleet("reference")
//!     .seed(7)
//!     .duration("20m")
//!     .crash("5m", "primary")
//!     .expect_takeover("primary", "5m")
//!     .build()
//!     .unwrap();
//! let outcome = run(&scenario, &RunOptions::default()).unwrap();
//!
//! outcome.assert_passed();
//! // The 3-minute rule: no takeover can finish sooner.
//! assert!(outcome.metrics.takeover_ms.unwrap() >= 150_000);
//! assert_eq!(outcome.metrics.phones_moved, 16);
//! // Softphones never move.
//! let guests = outcome.count(|e| matches!(e.event, Event::PhoneRegistered { guest: true, .. }));
//! assert_eq!(guests, 16);
//! ```
//!
//! # Layout
//! - [`builder`]: [`ScenarioBuilder`], scenarios built in code for tests.
//! - [`runner`]: [`run`] (and [`run_async`], for async code), the fleet
//!   under test and the fault plane.
//! - [`stopwatch`]: wall time measured about the emulator, never fed into it.
//! - [`metrics`]: detection, takeover, per-phone outage, from events.
//! - [`expectation`]: [`Expect`], any expectation written in Rust for the builder.
//! - [`expect`]: evaluates each expectation against the events.
//! - [`assertion`]: `never`, `eventually`, `count` and `state` over the
//!   event log; the positive witness of a `no-failover`.
//! - [`findings`]: split-brain findings, service and licence state at a
//!   moment, the loss audit.
//! - [`vary`]: variations of a scenario (a fault moved in time).
//! - [`golden`]: golden timelines and their semantic diff; run-to-run divergence.
//! - [`live`]: a live fleet on loopback TCP and its `Control` gRPC service.
//! - [`panics`]: a panic in any task of a run makes the run an error.
//! - [`sweep`]: many variations in parallel, with distributions and failures.
//! - [`chaos`]: random fault schedules, invariants on every event log, shrinking.
//! - [`conform`]: conformance checks of a fleet member over the wire (docs/protocol.md).

pub mod assertion;
pub mod builder;
pub mod chaos;
pub mod conform;
pub mod expect;
pub mod expectation;
pub mod findings;
pub mod golden;
pub mod live;
pub mod member;
pub mod metrics;
pub mod panics;
pub mod runner;
pub mod stopwatch;
pub mod sweep;
pub mod vary;

pub use builder::{ResilienceSetting, ScenarioBuilder};
pub use expect::ExpectationResult;
pub use expectation::Expect;
/// The resilience rules and the takeover-policy seam (the `fleetsim-rules` crate).
pub use fleetsim_rules as rules;
pub use fleetsim_rules::TakeoverPolicy;
pub use fleetsim_server::StartError;
pub use metrics::Metrics;
pub use panics::{CaughtPanic, RunFailure};
pub use runner::{Mode, Progress, RunError, RunOptions, RunOutcome, run, run_async};
pub use stopwatch::Stopwatch;
pub use sweep::{SweepPlan, SweepReport, sweep};
pub use vary::{shift_fault, shift_faults};

/// The event log of a run as JSON lines, one string per event.
pub fn jsonl_lines(o: &RunOutcome) -> Vec<String> {
    o.events
        .iter()
        .map(|e| serde_json::to_string(e).expect("plain data serialises"))
        .collect()
}

/// The determinism guard: runs `scenario` `runs` times (at least 2) and
/// returns the first run, or where a later run's event log first differs.
/// A run with an emulator error ends the check: that run is returned.
pub fn check_determinism(
    scenario: &fleetsim_model::Scenario,
    opts: &RunOptions,
    runs: usize,
) -> Result<Result<RunOutcome, golden::Divergence>, RunError> {
    let first = run(scenario, opts)?;
    if first.error.is_some() {
        return Ok(Ok(first));
    }
    for i in 2..=runs.max(2) {
        let again = run(scenario, opts)?;
        if again.error.is_some() {
            return Ok(Ok(again));
        }
        if let Some(d) = golden::first_divergence(&first, &again, i) {
            return Ok(Err(d));
        }
    }
    Ok(Ok(first))
}

/// Event records for unit tests of the log's readers.
#[cfg(test)]
pub(crate) mod test_events {
    use fleetsim_model::{Event, EventRecord, Scenario};

    /// `event`, logged by `server` at `t_ms`.
    pub(crate) fn at(t_ms: u64, server: &str, event: Event) -> EventRecord {
        EventRecord {
            t_ms,
            server: server.into(),
            event,
        }
    }

    /// Every phone of `s` registered at home at `t_ms`.
    pub(crate) fn all_home(s: &Scenario, t_ms: u64) -> Vec<EventRecord> {
        (s.fleet.phones.iter())
            .map(|p| {
                at(
                    t_ms,
                    &p.home,
                    Event::PhoneRegistered {
                        phone: p.extension.clone(),
                        home: p.home.clone(),
                        guest: false,
                    },
                )
            })
            .collect()
    }
}
