//! Golden timelines: a stable summary of a run (its ordered state changes
//! and headline figures, not every phone's timestamp) recorded once and
//! compared on later runs with a semantic diff: "takeover moved from 3m41s
//! to 4m12s", "expected: secondary failover-started primary — not seen".

use std::collections::BTreeMap;

use fleetsim_model::{Event, format_millis, human_ms};
use serde::{Deserialize, Serialize};

use crate::runner::RunOutcome;

/// The format version written in every golden file.
pub const VERSION: u32 = 1;

/// A state change worth pinning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Milestone {
    /// Stable identity: who, what, about whom, and which occurrence.
    pub key: String,
    /// Emulated time.
    pub t_ms: u64,
}

/// The summary of a run that a golden file holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Golden {
    /// Format version.
    pub fleetsim_golden: u32,
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// The takeover policy the run decided by (goldens written before it
    /// was recorded are of the default, `server-edition`).
    #[serde(default = "default_policy")]
    pub policy: String,
    /// Ordered state changes.
    pub milestones: Vec<Milestone>,
    /// Headline figures (milliseconds or counts; absent when not reached).
    pub figures: BTreeMap<String, Option<u64>>,
    /// Expectation verdicts by name.
    pub expectations: BTreeMap<String, bool>,
}

fn default_policy() -> String {
    "server-edition".into()
}

impl Golden {
    /// The golden summary of `o`.
    pub fn of(o: &RunOutcome) -> Golden {
        let mut seen: BTreeMap<String, u32> = BTreeMap::new();
        let mut milestones = Vec::new();
        for e in &o.events {
            let what = match &e.event {
                Event::FaultApplied { fault, .. } => format!("{FAULT}{fault}"),
                Event::ServerCrashed { .. } => format!("{} crashed", e.server),
                Event::ServerStopped { .. } => format!("{} stopped", e.server),
                Event::ServerStarted { incarnation, .. } if *incarnation > 1 => {
                    format!("{} restarted", e.server)
                }
                Event::PeerLost { peer, .. } => format!("{} lost {peer}", e.server),
                Event::PeerReturned { peer, .. } => format!("{} sees {peer} again", e.server),
                Event::FailoverStarted { home, .. } => {
                    format!("{} failover of {home} started", e.server)
                }
                Event::FailbackStarted { home, .. } => {
                    format!("{} failback to {home} started", e.server)
                }
                _ => continue,
            };
            let n = seen.entry(what.clone()).or_default();
            *n += 1;
            let key = if *n == 1 {
                what
            } else {
                format!("{what} (#{n})")
            };
            milestones.push(Milestone { key, t_ms: e.t_ms });
        }
        let m = &o.metrics;
        let figures = BTreeMap::from([
            ("detection".to_string(), m.detection_ms),
            ("takeover".to_string(), m.takeover_ms),
            ("max phone outage".to_string(), Some(m.max_phone_outage_ms)),
            ("phones moved".to_string(), Some(u64::from(m.phones_moved))),
            (
                "phones failed back".to_string(),
                Some(u64::from(m.phones_failed_back)),
            ),
            (
                "phones unregistered at the end".to_string(),
                Some(u64::from(m.phones_unregistered_at_end)),
            ),
        ]);
        let expectations = o
            .expectations
            .iter()
            .map(|e| (e.name.clone(), e.passed))
            .collect();
        Golden {
            fleetsim_golden: VERSION,
            scenario: o.scenario.clone(),
            seed: o.seed,
            policy: o.policy.clone(),
            milestones,
            figures,
            expectations,
        }
    }

    /// Pretty JSON, one milestone per line-ish, stable across runs.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data serialises") + "\n"
    }

    /// Reads a golden file's text.
    pub fn from_json(text: &str) -> Result<Golden, String> {
        let g: Golden =
            serde_json::from_str(text).map_err(|e| format!("not a fleetsim golden file: {e}"))?;
        if g.fleetsim_golden != VERSION {
            return Err(format!(
                "golden format {} is not supported (this fleetsim writes {VERSION})",
                g.fleetsim_golden
            ));
        }
        Ok(g)
    }

    /// Differences of `now` against `self` (the recorded golden), as sentences.
    /// Times within `tolerance_ms` count as equal.
    pub fn diff(&self, now: &Golden, tolerance_ms: u64) -> Vec<String> {
        let mut out = Vec::new();
        if self.scenario != now.scenario || self.seed != now.seed {
            out.push(format!(
                "the golden is of {} seed {}, this run is {} seed {}",
                self.scenario, self.seed, now.scenario, now.seed
            ));
        }
        if self.policy != now.policy {
            out.push(format!(
                "the golden was recorded under policy {}, this run decides by {} (--policy {})",
                self.policy, now.policy, self.policy
            ));
        }
        let show = |name: &str, v: Option<u64>, other: Option<u64>| match (v, other) {
            (None, _) => "never".to_string(),
            (Some(v), _) if name.starts_with("phones") => v.to_string(),
            (Some(v), Some(o)) => two_times(v, o).0,
            (Some(v), None) => human_ms(v),
        };
        for (name, was) in &self.figures {
            let is = now.figures.get(name).copied().flatten();
            let differs = match (was, is) {
                (Some(a), Some(b)) => {
                    a.abs_diff(b)
                        > if name.starts_with("phones") {
                            0
                        } else {
                            tolerance_ms
                        }
                }
                (a, b) => *a != b,
            };
            if differs {
                out.push(format!(
                    "{name} moved from {} to {}",
                    show(name, *was, is),
                    show(name, is, *was)
                ));
            }
        }
        let old: BTreeMap<&str, u64> = self
            .milestones
            .iter()
            .map(|m| (m.key.as_str(), m.t_ms))
            .collect();
        let new: BTreeMap<&str, u64> = now
            .milestones
            .iter()
            .map(|m| (m.key.as_str(), m.t_ms))
            .collect();
        for m in &self.milestones {
            match new.get(m.key.as_str()) {
                None => out.push(format!(
                    "expected \"{}\" at {}, not seen",
                    m.key,
                    human_ms(m.t_ms)
                )),
                Some(t) if t.abs_diff(m.t_ms) > tolerance_ms => {
                    out.push(self.moved(m, *t, now, tolerance_ms));
                }
                Some(_) => {}
            }
        }
        for m in &now.milestones {
            if !old.contains_key(m.key.as_str()) {
                out.push(format!(
                    "new: \"{}\" at {}, expected none",
                    m.key,
                    human_ms(m.t_ms)
                ));
            }
        }
        for (name, was) in &self.expectations {
            match now.expectations.get(name) {
                None => out.push(format!("expectation \"{name}\" is gone")),
                Some(is) if is != was => out.push(format!(
                    "expectation \"{name}\" {} (it {} in the golden)",
                    if *is { "now passes" } else { "now fails" },
                    if *was { "passed" } else { "failed" }
                )),
                Some(_) => {}
            }
        }
        for name in now.expectations.keys() {
            if !self.expectations.contains_key(name) {
                out.push(format!("new expectation \"{name}\""));
            }
        }
        out
    }
}

impl Golden {
    /// A milestone that moved from `m.t_ms` to `t`, in words; when the
    /// fault before it moved too (`--fault-at`), also its time after that
    /// fault, which shows whether it only moved with the fault.
    fn moved(&self, m: &Milestone, t: u64, now: &Golden, tolerance_ms: u64) -> String {
        let (from, to) = two_times(m.t_ms, t);
        let said = format!("\"{}\" moved from {from} to {to}", m.key);
        let (Some(fa), Some(fb)) = (
            fault_before(&self.milestones, m.t_ms),
            fault_before(&now.milestones, t),
        ) else {
            return said;
        };
        if m.key.starts_with(FAULT) || fa.key != fb.key || fa.t_ms == fb.t_ms {
            return said;
        }
        let (was, is) = (m.t_ms - fa.t_ms, t - fb.t_ms);
        let after = if was.abs_diff(is) <= tolerance_ms {
            format!("{} after it, as before", human_ms(is))
        } else {
            let (was, is) = two_times(was, is);
            format!("{is} after it, was {was}")
        };
        format!("{said} with \"{}\": {after}", fa.key)
    }
}

/// How a fault's milestone key starts.
const FAULT: &str = "fault ";

/// The latest fault at or before `t`.
fn fault_before(milestones: &[Milestone], t: u64) -> Option<&Milestone> {
    milestones
        .iter()
        .rfind(|f| f.key.starts_with(FAULT) && f.t_ms <= t)
}

/// Two times for prose, each rounded as usual, unless rounding would show
/// different times as the same: then both to the millisecond.
fn two_times(a: u64, b: u64) -> (String, String) {
    let (x, y) = (human_ms(a), human_ms(b));
    if x == y && a != b {
        (format_millis(a), format_millis(b))
    } else {
        (x, y)
    }
}

/// Where two runs of one scenario first diverge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Run number (from 2) that differed from the first.
    pub run: usize,
    /// 1-based line of the event log.
    pub line: usize,
    /// The first run's line.
    pub expected: String,
    /// The differing run's line.
    pub found: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {} differs from run 1 at event line {}:\n  run 1: {}\n  run {}: {}",
            self.run, self.line, self.expected, self.run, self.found
        )
    }
}

/// Compares the event log of a run with the first run's, line by line.
pub fn first_divergence(first: &RunOutcome, other: &RunOutcome, run: usize) -> Option<Divergence> {
    let a = crate::jsonl_lines(first);
    let b = crate::jsonl_lines(other);
    let n = a.len().max(b.len());
    (0..n).find(|&i| a.get(i) != b.get(i)).map(|i| Divergence {
        run,
        line: i + 1,
        expected: a.get(i).cloned().unwrap_or_else(|| "(end of log)".into()),
        found: b.get(i).cloned().unwrap_or_else(|| "(end of log)".into()),
    })
}
