//! Built-in chaos: schedules written as scenario files run exactly what the
//! campaign ran, a small campaign completes, bad input exits 2.

mod common;

use common::*;
use fleetsim_model::Scenario;
use fleetsim_scenario::chaos::{self, Base, ChaosPlan, FaultClass, Invariant, file, schedule};

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
fn a_small_campaign_on_the_reference_fleet_runs_every_schedule() {
    let mut plan = ChaosPlan::new(Base::reference(), 8);
    plan.calls = false;
    plan.shrink_limit = 0;
    plan.determinism_every = 8;
    plan.jobs = 2;
    let report = chaos::run(&plan);
    assert_eq!(report.schedules, 8);
    assert_eq!(report.determinism_checked, 1);
    assert_eq!(report.count(Invariant::RunCompletes), 0);
    assert_eq!(report.count(Invariant::Deterministic), 0);
    for f in &report.violations {
        assert_eq!(f.minimal, f.drawn, "not shrunk with shrink_limit 0");
        assert!(
            Scenario::parse(
                &fleetsim_model::Source {
                    name: "x",
                    text: &f.scenario_text
                },
                &fleetsim_model::embedded::EmbeddedResolver
            )
            .is_ok()
        );
    }
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
