//! The registration-storm stage: a primary homing many IP phones crashes and
//! every phone re-registers on the secondary. Reported from the event log:
//! time from the failover to each phone's registration (p50/p99/max),
//! refusals by rule, and the secondary's busiest second.

use std::collections::BTreeMap;

use fleetsim_model::{Event, EventRecord};

use super::{StageResult, peak_rss_kib};

/// Runs the storm with `phones` phones on the primary.
pub(super) fn stage(phones: usize) -> anyhow::Result<StageResult> {
    let scenario = fleetsim_model::generate::storm_scenario(phones)?;
    let o = fleetsim_scenario::run(&scenario, &fleetsim_scenario::RunOptions::default())?;
    let s = Storm::of(&o.events);
    let mut notes = vec![s.summary(phones)];
    notes.extend(
        s.refusals
            .iter()
            .map(|(why, n)| format!("refused {n}×: {why}")),
    );
    Ok(StageResult {
        stage: "storm".into(),
        wall_ms: o.wall_ms,
        emulated_ms: o.duration_ms,
        rpcs: o.rpcs,
        events: o.events.len(),
        peak_rss_kib: peak_rss_kib(),
        passed: o.passed() && s.moved.len() == phones,
        notes,
    })
}

/// What the event log says of the storm.
#[derive(Debug, Default)]
struct Storm {
    /// When the secondary began failover of the primary.
    failover_ms: Option<u64>,
    /// Each moved phone's first guest registration on the secondary.
    moved: BTreeMap<String, u64>,
    /// Refusals after the crash, by rule.
    refusals: BTreeMap<String, u64>,
    /// Registrations on the secondary per emulated second.
    per_second: BTreeMap<u64, u64>,
}

impl Storm {
    fn of(events: &[EventRecord]) -> Storm {
        let mut s = Storm::default();
        for e in events {
            match &e.event {
                Event::FailoverStarted { home, .. } if home == "primary" => {
                    s.failover_ms.get_or_insert(e.t_ms);
                }
                Event::PhoneRegistered {
                    phone, guest: true, ..
                } if e.server == "secondary" => {
                    s.moved.entry(phone.clone()).or_insert(e.t_ms);
                    *s.per_second.entry(e.t_ms / 1000).or_default() += 1;
                }
                Event::RegistrationRefused { reason, .. } => {
                    *s.refusals.entry(rule(reason)).or_default() += 1;
                }
                _ => {}
            }
        }
        s
    }

    fn summary(&self, phones: usize) -> String {
        let Some(f) = self.failover_ms else {
            return "no failover of the primary".into();
        };
        let mut waits: Vec<u64> = self.moved.values().map(|t| t.saturating_sub(f)).collect();
        waits.sort_unstable();
        let at = |q: f64| {
            let i = ((waits.len() as f64 * q).ceil() as usize).clamp(1, waits.len().max(1)) - 1;
            waits.get(i).copied().unwrap_or(0)
        };
        let busiest = self.per_second.values().max().copied().unwrap_or(0);
        format!(
            "{}/{phones} phones on the secondary; failover → registration p50 {} p99 {} max {}; busiest second {busiest} registrations (the secondary answers each REGISTER as it reads it, never waiting on anything else, so it holds at most 1 in flight)",
            waits.len(),
            fleetsim_model::human_ms(at(0.5)),
            fleetsim_model::human_ms(at(0.99)),
            fleetsim_model::human_ms(waits.last().copied().unwrap_or(0)),
        )
    }
}

/// The rule a refusal names: its reason without the figures of the moment
/// ("primary last heard 2m54s ago; failover needs 3m of silence" →
/// "failover needs 3m of silence").
fn rule(reason: &str) -> String {
    reason.rsplit("; ").next().unwrap_or(reason).to_string()
}

#[cfg(test)]
mod tests {
    use super::rule;

    #[test]
    fn a_refusal_is_grouped_by_its_rule_not_its_figures() {
        assert_eq!(
            rule("primary last heard 2m54s ago; failover needs 3m of silence"),
            "failover needs 3m of silence"
        );
        assert_eq!(rule("secondary is full"), "secondary is full");
    }
}
