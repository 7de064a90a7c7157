//! Variations of a scenario: another seed, or a fault moved in time.

use fleetsim_model::{Dur, Expectation, Scenario};

/// Moves fault `index` (0-based, in time order as `fleetsim check` lists
/// them) to `at`, and every later fault and every expectation window that
/// starts at or after it by the same amount, so pairs such as a crash and
/// its restart keep their spacing.
pub fn shift_fault(scenario: &Scenario, index: usize, at: Dur) -> Result<Scenario, String> {
    let mut s = scenario.clone();
    let Some(fault) = s.faults.get(index) else {
        return Err(format!(
            "{} has {} faults; fault index {index} does not exist (faults are counted from 0 in time order)",
            s.name,
            s.faults.len()
        ));
    };
    let from = fault.at.as_millis();
    let to = at.as_millis();
    let shift = |t: u64| {
        if t >= from {
            (t + to).saturating_sub(from)
        } else {
            t
        }
    };
    for f in s.faults.iter_mut().skip(index) {
        f.at = Dur::millis(shift(f.at.as_millis()));
    }
    if let Some(last) = s.faults.last()
        && last.at > s.duration
    {
        return Err(format!(
            "moving fault {index} to {at} puts a fault at {}, after the end of the run ({})",
            last.at, s.duration
        ));
    }
    if s.faults.windows(2).any(|w| w[0].at > w[1].at) {
        return Err(format!(
            "moving fault {index} to {at} would put it before an earlier fault"
        ));
    }
    for e in &mut s.expectations {
        match &mut e.expect {
            Expectation::Takeover { after, .. } | Expectation::Failback { after, .. } => {
                *after = Dur::millis(shift(after.as_millis()));
            }
            Expectation::NoFailover { .. } => {}
        }
    }
    Ok(s)
}
