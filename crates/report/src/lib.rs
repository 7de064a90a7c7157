//! Reports of a run: a readable text timeline with metrics and verdict, a
//! JSON summary for machines, and the event log as JSON lines.
//!
//! Reports only read a [`RunOutcome`]; they never run anything.
//!
//! # Layout
//! - [`text`]: the terminal timeline, phone events grouped, optional colour.
//! - [`html`]: the self-contained HTML report (swimlanes, phones chart, events).
//! - [`json`]: the one-object summary (`passed`, `expectations`, `metrics`).
//! - [`junit`]: JUnit XML, one test case per expectation.
//! - [`jsonl`]: one JSON object per event (`t_ms`, `server`, `event`, fields).

pub mod html;
pub mod json;
pub mod jsonl;
pub mod junit;
pub mod text;

pub use fleetsim_scenario::RunOutcome;

/// The `--policy NAME` a reproduce command needs (none for the default).
pub(crate) fn policy_flag(policy: &str) -> String {
    if policy == fleetsim_scenario::rules::DEFAULT_POLICY {
        String::new()
    } else {
        format!(" --policy {policy}")
    }
}
