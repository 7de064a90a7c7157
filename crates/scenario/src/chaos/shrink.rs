//! Shrinking: the smallest schedule that still breaks the same invariant
//! (fewer faults, no calls, shorter faults, the first fault earlier, the
//! shortest settle tail), greedily, within a budget of runs.

use fleetsim_model::Dur;

use super::schedule::{Action, Schedule};
use super::{ChaosPlan, Found, Invariant, Violation, check_schedule, file};

struct Shrinker<'a> {
    plan: &'a ChaosPlan,
    inv: Invariant,
    runs: u32,
    best: Schedule,
    detail: String,
}

impl Shrinker<'_> {
    /// Keeps `candidate` if it still breaks the invariant.
    fn try_keep(&mut self, candidate: Schedule) -> bool {
        if self.runs >= self.plan.shrink_budget || candidate == self.best {
            return false;
        }
        self.runs += 1;
        let twice = self.inv == Invariant::Deterministic;
        let still = check_schedule(self.plan, &candidate, twice)
            .into_iter()
            .find(|v| v.invariant == self.inv);
        match still {
            Some(v) => {
                self.best = candidate;
                self.detail = v.detail;
                true
            }
            None => false,
        }
    }

    fn drop_faults(&mut self) {
        let mut i = self.best.faults.len();
        while i > 0 {
            i -= 1;
            let mut c = self.best.clone();
            c.faults.remove(i);
            self.try_keep(c);
        }
    }

    fn shorten_faults(&mut self) {
        for i in 0..self.best.faults.len() {
            for _ in 0..3 {
                let mut c = self.best.clone();
                let f = &mut c.faults[i];
                match (&mut f.action, f.for_) {
                    (Action::Flap { count, .. }, _) if *count > 1 => *count = count.div_ceil(2),
                    (_, Some(d)) if d.as_millis() >= 20_000 => {
                        f.for_ = Some(Dur::secs(d.as_millis() / 2000));
                    }
                    _ => break,
                }
                if !self.try_keep(c) {
                    break;
                }
            }
        }
    }

    fn earlier_and_shorter(&mut self) {
        if let Some(first) = self.best.faults.first().map(|f| f.at.as_millis())
            && first > 60_000
        {
            let mut c = self.best.clone();
            for f in &mut c.faults {
                f.at = Dur::millis(f.at.as_millis() - (first - 60_000));
            }
            self.try_keep(c);
        }
        if self.best.tail > Dur::mins(30) {
            let mut c = self.best.clone();
            c.tail = Dur::mins(30);
            self.try_keep(c);
        }
    }
}

/// A violation with its minimal schedule (shrunk when `shrink_it`).
pub(super) fn found(plan: &ChaosPlan, drawn: &Schedule, v: &Violation, shrink_it: bool) -> Found {
    let mut s = Shrinker {
        plan,
        inv: v.invariant,
        runs: 0,
        best: drawn.clone(),
        detail: v.detail.clone(),
    };
    if shrink_it {
        s.drop_faults();
        if s.best.calls {
            let mut c = s.best.clone();
            c.calls = false;
            s.try_keep(c);
        }
        s.shorten_faults();
        s.earlier_and_shorter();
    }
    Found {
        drawn: drawn.clone(),
        violation: v.clone(),
        scenario_text: file::scenario_text(&plan.base, &s.best),
        minimal: s.best,
        minimal_detail: s.detail,
        shrunk: shrink_it,
        shrink_runs: s.runs,
    }
}
