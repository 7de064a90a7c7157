//! Built-in chaos: schedules written as scenario files run exactly what the
//! campaign ran, a small campaign keeps every invariant, a failing schedule
//! shrinks to a smaller one that still fails, a printed rerun command
//! reproduces its violation, bad input exits 2.

mod common;

use std::sync::Arc;

use common::*;
use fleetsim_model::{Dur, Scenario};
use fleetsim_scenario::TakeoverPolicy;
use fleetsim_scenario::chaos::schedule::{Action, ChaosFault, Schedule};
use fleetsim_scenario::chaos::{
    self, Base, ChaosPlan, FaultClass, Invariant, check_schedule, file, schedule,
};
use fleetsim_scenario::rules::HomeObs;

/// A deliberately broken takeover logic: a guest is never sent home, so
/// phones that failed over end the run on their backup, which
/// `registered-at-end` forbids.
#[derive(Debug)]
struct NeverSendsHome;

impl TakeoverPolicy for NeverSendsHome {
    fn name(&self) -> &str {
        "never-sends-home"
    }

    fn summary(&self) -> &str {
        "keeps every guest: phones that failed over never go home"
    }

    fn send_home(&self, _: &HomeObs<'_>) -> bool {
        false
    }
}

fn fault(at: Dur, action: Action, for_: Option<Dur>) -> ChaosFault {
    ChaosFault { at, action, for_ }
}

#[test]
fn a_written_schedule_parses_back_to_the_faults_that_ran() {
    let base = Base::reference();
    let dir = temp_dir("chaos-round-trip");
    for i in 0..40 {
        let s = schedule::generate(&base.fleet, &FaultClass::ALL, 11, i);
        let ran = base.scenario(&s).unwrap();
        let path = write(&dir, &format!("s{i}.toml"), &file::scenario_text(&base, &s));
        let loaded = Scenario::load(&path).unwrap();
        assert_eq!(loaded.faults, ran.faults, "schedule {i}");
        assert_eq!(loaded.duration, s.duration());
        assert_eq!(loaded.seed, ran.seed);
        assert_eq!(loaded.calls, ran.calls);
        assert_eq!(loaded.fleet, base.fleet);
        // One [[fault]] table per drawn fault.
        let sources = loaded
            .faults
            .iter()
            .map(|f| f.source)
            .max()
            .map_or(0, |m| m + 1);
        assert_eq!(sources, s.faults.len());
    }
}

#[test]
fn a_base_keeps_the_scenarios_fleet_resilience_and_calls() {
    let path = root().join("scenarios/voicemail-manual-failback.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let resolver = fleetsim_model::scenario::DiskResolver {
        base: path.parent().unwrap().to_path_buf(),
    };
    let base = Base::from_text("voicemail-manual-failback.toml", &text, &resolver).unwrap();
    let original = load("voicemail-manual-failback.toml");
    assert_eq!(base.fleet, original.fleet);
    let s = schedule::generate(&base.fleet, &FaultClass::ALL, 1, 0);
    assert_eq!(base.scenario(&s).unwrap().fleet, original.fleet);
}

#[test]
fn a_base_from_a_scenario_naming_a_builtin_fleet_reads_that_fleet() {
    let (_, text) = fleetsim_model::embedded::scenario_file("primary-crash").unwrap();
    let text = text.replace("fleets/reference.toml", "builtin:reference");
    assert!(text.contains("fleet = \"builtin:reference\""), "{text}");
    let resolver = fleetsim_model::scenario::DiskResolver {
        base: std::env::temp_dir(),
    };
    let base = Base::from_text("mine.toml", &text, &resolver).unwrap();
    assert_eq!(base.fleet, Base::reference().fleet);
}

#[test]
fn a_base_that_fails_back_too_slowly_for_any_run_to_fit_is_refused_before_any_runs() {
    let (_, fleet) = fleetsim_model::embedded::fleet_file("reference").unwrap();
    let slow = fleet.replacen(
        "mode = \"server-edition\"",
        "mode = \"server-edition\"\n\n[timers]\nfailback-after = \"100d\"",
        1,
    );
    assert_ne!(slow, fleet);
    match Base::from_text(
        "slow.toml",
        &slow,
        &fleetsim_model::embedded::EmbeddedResolver,
    ) {
        Err(e) => assert!(
            e.to_string()
                .contains("no drawn run fits in the 90d fleetsim runs"),
            "{e}"
        ),
        Ok(_) => panic!("a 100-day failback leaves no room for a run"),
    }
}

#[test]
fn a_small_campaign_on_the_reference_fleet_keeps_every_invariant() {
    let mut plan = ChaosPlan::new(Base::reference(), 8);
    plan.calls = false;
    plan.shrink_limit = 0;
    plan.determinism_every = 8;
    plan.jobs = 2;
    let report = chaos::run(&plan);
    assert_eq!(report.schedules, 8);
    assert_eq!(report.determinism_checked, 1);
    let broken: Vec<String> = report
        .violations
        .iter()
        .map(|f| {
            format!(
                "schedule {}: {}: {}",
                f.drawn.index,
                f.violation.invariant.name(),
                f.violation.detail
            )
        })
        .collect();
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn shrinking_a_failing_schedule_gives_a_smaller_one_that_still_fails() {
    let mut plan = ChaosPlan::new(Base::reference(), 1);
    plan.policy = Arc::new(NeverSendsHome);
    plan.shrink_budget = 12;
    // The primary's outage is what breaks the invariant under this policy;
    // the latency, the operator's change and the calls are noise.
    let drawn = Schedule {
        index: 0,
        seed: 5,
        faults: vec![
            fault(
                Dur::mins(2),
                Action::Crash("primary".into()),
                Some(Dur::mins(8)),
            ),
            fault(
                Dur::mins(4),
                Action::ConfigChange("expansion-l".into()),
                None,
            ),
            fault(
                Dur::mins(6),
                Action::Latency {
                    node: "apps".into(),
                    delay: Dur::millis(200),
                    jitter: Dur::ZERO,
                },
                Some(Dur::mins(4)),
            ),
        ],
        tail: Dur::mins(40),
        calls: true,
    };
    let fair = ChaosPlan::new(Base::reference(), 1);
    assert_eq!(
        check_schedule(&fair, &drawn, false),
        vec![],
        "under the documented policy the schedule keeps every invariant"
    );
    let broken = check_schedule(&plan, &drawn, false);
    let v = broken
        .iter()
        .find(|v| v.invariant == Invariant::RegisteredAtEnd)
        .unwrap_or_else(|| panic!("registered-at-end holds: {broken:?}"));

    let found = chaos::shrink(&plan, &drawn, v);
    let minimal = &found.minimal;
    assert!(found.shrunk);
    assert!(found.shrink_runs <= plan.shrink_budget);
    assert!(
        minimal.faults.len() < drawn.faults.len(),
        "{:?}",
        minimal.faults
    );
    assert!(minimal.duration() < drawn.duration());
    assert!(!minimal.calls, "the calls play no part");
    assert!(
        minimal
            .faults
            .iter()
            .any(|f| f.action == Action::Crash("primary".into())),
        "the crash is what breaks it: {:?}",
        minimal.faults
    );
    let again = check_schedule(&plan, minimal, false);
    assert!(
        again.iter().any(|x| x.invariant == v.invariant),
        "the minimal schedule no longer fails: {again:?}"
    );
    assert_eq!(
        found.scenario_text,
        file::scenario_text(&plan.base, minimal)
    );
}

#[test]
fn a_printed_rerun_command_runs_as_printed_and_reproduces_the_violation() {
    let dir = temp_dir("chaos-rerun");
    let out = fleetsim_out(&[
        "chaos",
        "--schedules",
        "1",
        "--no-calls",
        "--jobs",
        "1",
        "--shrink-limit",
        "1",
        "--inject-panic",
        "secondary",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let violation = stdout
        .lines()
        .find_map(|l| l.strip_prefix("VIOLATION "))
        .unwrap_or_else(|| panic!("no violation printed: {stdout}"));
    let invariant = violation.split(' ').next().unwrap();
    let rerun = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("rerun:"))
        .unwrap_or_else(|| panic!("no rerun command printed: {stdout}"))
        .trim();

    let again = run_as_printed(rerun);
    let replayed = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(1), "{rerun}: {replayed}");
    assert!(
        replayed.contains(&format!("VIOLATION {invariant}: ")),
        "{rerun} did not reproduce {invariant}: {replayed}"
    );
}

#[test]
fn chaos_with_bad_input_exits_2() {
    for args in [
        &["chaos", "--schedules", "0"][..],
        &["chaos", "--faults", "crash,meteor"],
        &["chaos", "no-such-fleet"],
        &["chaos", "--replay", "no-such-file.toml"],
    ] {
        let out = fleetsim_out(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn replay_takes_a_built_in_scenario_by_name_as_run_does() {
    let out = fleetsim_out(&["chaos", "--replay", "primary-crash-and-return"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("primary-crash-and-return: every invariant held"),
        "{text}"
    );
}
