//! Variations of a scenario: another seed, or a fault moved in time.

use fleetsim_model::{Dur, Expectation, Scenario, fault::check_story};

/// Moves fault `index` (0-based, in time order as `fleetsim check -v` lists
/// them) to `at`, together with every fault written in the same
/// `[[fault]]` table (its undo, the other targets of a glob, a flap's
/// periods), so pairs keep their spacing; an expectation whose window
/// started at that fault moves with it, as does a check at a moment whose
/// latest earlier fault is the one moved. Other faults stay where they are.
pub fn shift_fault(scenario: &Scenario, index: usize, at: Dur) -> Result<Scenario, String> {
    let mut s = scenario.clone();
    let Some(fault) = s.faults.get(index) else {
        return Err(format!(
            "{} has {} faults; fault index {index} does not exist (faults are counted from 0 in time order, see `fleetsim check -v`)",
            s.name,
            s.faults.len()
        ));
    };
    if at >= s.duration {
        let when = if at > s.duration { "after" } else { "at" };
        return Err(format!(
            "{at} is {when} the end of the run ({}): nothing after the fault would show what it did",
            s.duration
        ));
    }
    let from = i128::from(fault.at.as_millis());
    let delta = i128::from(at.as_millis()) - from;
    let source = fault.source;
    let end = i128::from(s.duration.as_millis());
    for f in s.faults.iter_mut().filter(|f| f.source == source) {
        let t = i128::from(f.at.as_millis()) + delta;
        if t < 0 || t > end {
            return Err(format!(
                "moving fault {index} to {at} would put \"{}\" outside the run (0 to {})",
                f.kind.describe(),
                s.duration
            ));
        }
        f.at = Dur::millis(t as u64);
    }
    s.faults.sort_by_key(|f| (f.at, !f.kind.ends_a_fault()));
    check_story(&s.faults).map_err(|e| format!("moving fault {index} to {at}: {e}"))?;
    // A check at a moment (`service`, `licence`) observes what the latest
    // fault before it led to: if that fault is the one moved, the check
    // moves with it, keeping its distance.
    let governed = |t: Dur| {
        scenario
            .faults
            .iter()
            .rev()
            .find(|f| f.at <= t)
            .is_some_and(|f| f.source == source)
    };
    let shifted = |t: Dur| {
        let moved = (i128::from(t.as_millis()) + delta).clamp(0, end);
        Dur::millis(moved as u64)
    };
    for e in &mut s.expectations {
        // A derived name says the times it checks: renamed when they move,
        // keeping the number a repeated one was given ("… (2)").
        let before = fleetsim_model::scenario::default_name(&e.expect);
        let derived = e
            .name
            .strip_prefix(before.as_str())
            .filter(|rest| rest.is_empty() || is_number_suffix(rest))
            .map(str::to_string);
        match &mut e.expect {
            Expectation::Takeover { after, .. } | Expectation::Failback { after, .. }
                if i128::from(after.as_millis()) == from =>
            {
                *after = at;
            }
            Expectation::Service { at: when, .. } | Expectation::Licence { at: when, .. }
                if governed(*when) =>
            {
                *when = shifted(*when);
            }
            Expectation::Never { window, .. }
            | Expectation::Eventually { window, .. }
            | Expectation::Count { window, .. }
            | Expectation::State { window, .. } => {
                for m in [&mut window.from, &mut window.to] {
                    if m.anchor == Some(source) {
                        m.at = shifted(m.at);
                    }
                }
            }
            _ => {}
        }
        if let Some(suffix) = derived {
            e.name = fleetsim_model::scenario::default_name(&e.expect) + &suffix;
        }
    }
    Ok(s)
}

/// Whether `rest` is the " (N)" a repeated derived name is numbered with.
fn is_number_suffix(rest: &str) -> bool {
    rest.strip_prefix(" (")
        .and_then(|r| r.strip_suffix(')'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
