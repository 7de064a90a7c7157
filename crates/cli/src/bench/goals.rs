//! The bench's goals, each checked against this run's own figures: a line
//! per goal, met or not, for the stages run at the size the goal is set
//! for (a smaller or larger run says nothing about it).

use super::{BenchArgs, StageResult};

/// One goal: what it is about, the figure measured and whether it is met.
struct Goal {
    what: String,
    measured: String,
    met: bool,
}

/// A goal on a stage's wall time: under `limit_s` seconds, its
/// expectations holding.
fn wall_under(what: &str, r: &StageResult, limit_s: f64, precision: usize) -> Goal {
    Goal {
        what: what.into(),
        measured: format!("{:.precision$} s", r.wall_ms / 1000.0),
        met: r.wall_ms < limit_s * 1000.0 && r.passed,
    }
}

/// What `r`'s exchanges alone would take at the bare tonic stream
/// exchange's cost measured in `bare`, in seconds.
fn bare_floor_s(r: &StageResult, bare: &StageResult) -> Option<f64> {
    (bare.rpcs > 0).then(|| r.rpcs as f64 * bare.wall_ms / bare.rpcs as f64 / 1000.0)
}

/// The goals this run can speak to, as printable lines.
pub(super) fn lines(
    results: &[StageResult],
    turmoil_ratio: Option<f64>,
    args: &BenchArgs,
) -> Vec<String> {
    let mut goals = Vec::new();
    let stage = |name: &str| results.iter().find(|r| r.stage == name);
    if args.full_size()
        && let Some(r) = stage("generated 150x3000")
    {
        let what = "generated 150 servers, 3,000 phones, 1 h: wall < 5 s";
        goals.push(wall_under(what, r, 5.0, 2));
        let mib = r.peak_rss_kib as f64 / 1024.0;
        goals.push(Goal {
            what: "the same run: peak memory < 300 MiB".into(),
            measured: format!("{mib:.1} MiB"),
            met: mib < 300.0,
        });
    }
    if let Some(r) = stage("default") {
        let ratio = r.emulated_ms as f64 / r.wall_ms;
        goals.push(Goal {
            what: "default scenario: ≥ 20,000× real time".into(),
            measured: format!("{ratio:.0}×"),
            met: ratio >= 20_000.0 && r.passed,
        });
    }
    if args.sweep_seeds == 1000
        && let Some(r) = stage("sweep")
    {
        let what = "sweep of 1,000 seeds of the default: < 60 s";
        goals.push(wall_under(what, r, 60.0, 1));
    }
    if let Some(ratio) = turmoil_ratio {
        goals.push(Goal {
            what: "three servers heartbeating for 1 h: ≥ 30× turmoil".into(),
            measured: format!("{ratio:.0}×"),
            met: ratio >= 30.0,
        });
    }
    if args.idle_days == 30
        && let Some(r) = stage("idle")
    {
        let what = "reference fleet, primary down 30 days: < 10 s";
        let mut goal = wall_under(what, r, 10.0, 1);
        if let Some(floor) = stage("baseline-stream").and_then(|b| bare_floor_s(r, b)) {
            // Why the goal is out of reach when it is: the run's messages
            // alone, at bare tonic's price, already cost this much.
            goal.measured += &format!(" (its exchanges at bare tonic's cost: {floor:.1} s)");
        }
        goals.push(goal);
    }
    goals
        .into_iter()
        .map(|g| {
            let mark = if g.met { "met    " } else { "NOT met" };
            format!("  {mark} {:<56} {}", g.what, g.measured)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn result(stage: &str, wall_ms: f64, rpcs: u64) -> StageResult {
        StageResult {
            stage: stage.into(),
            wall_ms,
            emulated_ms: 0,
            rpcs,
            events: 0,
            peak_rss_kib: 0,
            passed: true,
            notes: Vec::new(),
        }
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    #[test]
    fn an_idle_goal_out_of_reach_says_what_its_exchanges_cost_at_bare_tonics_price() {
        let args = Cli::parse_from(["bench"]).bench;
        let results = [
            result("baseline-stream", 60.0, 20_000),
            result("idle", 20_800.0, 4_000_000),
        ];
        let lines = lines(&results, None, &args);
        let idle = lines.iter().find(|l| l.contains("30 days")).unwrap();
        assert!(idle.contains("NOT met"), "{idle}");
        assert!(
            idle.contains("20.8 s (its exchanges at bare tonic's cost: 12.0 s)"),
            "{idle}"
        );
    }
}
