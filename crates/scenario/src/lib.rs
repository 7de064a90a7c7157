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

pub mod expect;
pub mod metrics;
pub mod runner;

pub use expect::ExpectationResult;
pub use metrics::Metrics;
pub use runner::{Mode, RunError, RunOptions, RunOutcome, run};
