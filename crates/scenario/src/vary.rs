//! Variations of a scenario: another seed, or a fault moved in time.

use fleetsim_model::{Dur, Expectation, Scenario, fault::check_story};

/// Moves fault `index` (0-based, in time order as `fleetsim check -v` lists
/// them) to `at`, together with every fault written in the same
/// `[[fault]]` table (its undo, the other targets of a glob, a flap's
/// periods), so pairs keep their spacing; an expectation whose window
/// started at that fault moves with it (a takeover's or failback's `after`
/// when it defaulted to that fault, never one written as a time), as does a check at a moment whose
/// latest earlier fault is the one moved. Other faults stay where they are.
pub fn shift_fault(scenario: &Scenario, index: usize, at: Dur) -> Result<Scenario, String> {
    let mut s = scenario.clone();
    let Some(fault) = s.faults.get(index) else {
        return Err(format!(
            "{} has {}; fault index {index} does not exist (faults are counted from 0 in time order, see `fleetsim check -v`)",
            s.name,
            fleetsim_model::words::counted(s.faults.len(), "fault", "faults")
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
    // A time that moves with the fault stays inside the run, as a time
    // written in the file must: never cut silently to its ends.
    let shifted = |t: Dur, name: &str, what: &str| {
        let moved = i128::from(t.as_millis()) + delta;
        if (0..=end).contains(&moved) {
            return Ok(Dur::millis(moved as u64));
        }
        Err(format!(
            "moving fault {index} to {at} would put expectation \"{name}\"'s {what} at {}, outside the run (0 to {}): make the run longer or move the fault less",
            signed(moved),
            s.duration
        ))
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
        let name = e.name.clone();
        match &mut e.expect {
            Expectation::Takeover {
                after,
                after_anchor,
                ..
            }
            | Expectation::Failback {
                after,
                after_anchor,
                ..
            } if *after_anchor == Some(source) => {
                *after = shifted(*after, &name, "`after`")?;
                // As a file's `after` must: something after it must show.
                if *after >= s.duration {
                    return Err(format!(
                        "moving fault {index} to {at} would put expectation \"{name}\"'s `after` at {after}, the end of the run ({}): nothing after it could show; make the run longer or move the fault less",
                        s.duration
                    ));
                }
            }
            Expectation::Service { at: when, .. } | Expectation::Licence { at: when, .. }
                if governed(*when) =>
            {
                *when = shifted(*when, &name, "`at`")?;
            }
            Expectation::Never { window, .. }
            | Expectation::Eventually { window, .. }
            | Expectation::Count { window, .. }
            | Expectation::State { window, .. } => {
                // A state check at a moment is a window of one instant.
                let moment = window.from.at == window.to.at;
                let (from, to) = if moment {
                    ("`at`", "`at`")
                } else {
                    ("`from`", "`to`")
                };
                for (m, what) in [(&mut window.from, from), (&mut window.to, to)] {
                    if m.anchor == Some(source) {
                        m.at = shifted(m.at, &name, what)?;
                    }
                }
                // As a file's window must: one end moved past the other
                // would leave nothing to look at, and pass.
                if window.to.at < window.from.at {
                    return Err(format!(
                        "moving fault {index} to {at} would end expectation \"{name}\"'s window ({}) before it starts ({}): move the fault less, or anchor both ends to it",
                        window.to.at, window.from.at
                    ));
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

/// Several moves at once, each `(index, at)` naming a fault as the
/// scenario lists it before any move (`fleetsim check -v`): a later
/// index never reads the order an earlier move made. Two moves of one
/// `[[fault]]` table (they move together) are refused.
pub fn shift_faults(scenario: &Scenario, moves: &[(usize, Dur)]) -> Result<Scenario, String> {
    let mut targets = Vec::new();
    for (i, &(index, at)) in moves.iter().enumerate() {
        let Some(f) = scenario.faults.get(index) else {
            return shift_fault(scenario, index, at);
        };
        if let Some(&(other, _)) = moves[..i].iter().find(|(o, _)| {
            scenario
                .faults
                .get(*o)
                .is_some_and(|g| g.source == f.source)
        }) {
            return Err(format!(
                "faults {other} and {index} are moved twice: they are one [[fault]] table, which moves as one; give it one time"
            ));
        }
        targets.push((f.clone(), index, at));
    }
    let mut s = scenario.clone();
    for (f, _, at) in targets {
        // Not moved yet, so still where the original scenario put it.
        let now = s
            .faults
            .iter()
            .position(|g| g.source == f.source && g.at == f.at && g.kind == f.kind)
            .ok_or_else(|| format!("fault {} was lost in the move", f.kind.describe()))?;
        s = shift_fault(&s, now, at)?;
    }
    Ok(s)
}

/// A time in milliseconds that may be before 0, as a person writes it.
fn signed(ms: i128) -> String {
    let human = fleetsim_model::human_ms(ms.unsigned_abs().min(u128::from(u64::MAX)) as u64);
    if ms < 0 { format!("-{human}") } else { human }
}

/// Whether `rest` is the " (N)" a repeated derived name is numbered with.
fn is_number_suffix(rest: &str) -> bool {
    rest.strip_prefix(" (")
        .and_then(|r| r.strip_suffix(')'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
