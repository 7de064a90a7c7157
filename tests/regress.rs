//! Regression tooling: sweeps, fault-time variation, golden timelines and the
//! determinism guard.

mod common;

use common::*;
use fleetsim_model::Dur;

/// A copy of primary-crash with a takeover bound some seeds miss.
fn tight_scenario(test: &str) -> std::path::PathBuf {
    let dir = temp_dir(test);
    let fleet = std::fs::read_to_string(root().join("scenarios/fleets/reference.toml")).unwrap();
    write(&dir, "fleets/reference.toml", &fleet);
    let s = std::fs::read_to_string(root().join("scenarios/primary-crash.toml")).unwrap();
    write(
        &dir,
        "tight.toml",
        &s.replace("within = \"5m\"", "within = \"3m20s\""),
    )
}

#[test]
fn a_seed_sweep_reports_distributions_and_passes() {
    let out = fleetsim_out(&["sweep", "primary-crash", "--seeds", "6", "--jobs", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("6 runs"), "{text}");
    assert!(text.contains("takeover") && text.contains("p99"), "{text}");
    assert!(text.contains("all 6 runs passed"), "{text}");
}

#[test]
fn a_failing_sweep_exits_one_and_prints_commands_that_reproduce_each_failure() {
    let s = tight_scenario("sweep-fail");
    let out = fleetsim_out(&[
        "sweep",
        s.to_str().unwrap(),
        "--seeds",
        "12",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failing: Vec<u64> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["passed"] == false)
        .map(|r| r["variation"]["seed"].as_u64().unwrap())
        .collect();
    // JSON gives each failure its command too, the same as the text's.
    for r in report["results"].as_array().unwrap() {
        let cmd = r["reproduce"].as_str();
        match r["passed"].as_bool() {
            Some(false) => assert!(
                cmd.is_some_and(|c| c.ends_with(&format!("--seed {}", r["variation"]["seed"]))),
                "{r}"
            ),
            _ => assert!(cmd.is_none(), "a passing run has nothing to reproduce: {r}"),
        }
    }
    assert!(
        !failing.is_empty(),
        "the tight bound should fail for some seed"
    );
    // The verdict in counts agrees with the runs and the exit code.
    assert_eq!(report["passed"], false);
    assert_eq!(report["runs"], 12);
    assert_eq!(report["failed"], failing.len());
    assert_eq!(report["errors"], 0);
    let text = String::from_utf8_lossy(
        &fleetsim_out(&["sweep", s.to_str().unwrap(), "--seeds", "12"]).stdout,
    )
    .into_owned();
    for seed in failing {
        let cmd = format!("fleetsim run {} --seed {seed}", s.display());
        assert!(text.contains(&cmd), "missing {cmd:?} in:\n{text}");
        // The printed command really reproduces the failure.
        let again = fleetsim_out(&["run", s.to_str().unwrap(), "--seed", &seed.to_string()]);
        assert_eq!(again.status.code(), Some(1));
    }
}

#[test]
fn moving_a_fault_moves_its_own_undo_and_window_but_no_other_fault() {
    // crash and restart are separate [[fault]] tables: the restart stays.
    let s = load("primary-crash-and-return.toml");
    let moved = fleetsim_scenario::shift_fault(&s, 0, Dur::secs(5 * 60 + 37)).unwrap();
    assert_eq!(moved.faults[0].at, Dur::secs(337));
    assert_eq!(
        moved.faults[1].at,
        Dur::mins(25),
        "another table's fault does not move"
    );
    match (&moved.expectations[0].expect, &moved.expectations[1].expect) {
        (
            fleetsim_model::Expectation::Takeover { after: t, .. },
            fleetsim_model::Expectation::Failback { after: f, .. },
        ) => {
            assert_eq!(
                *t,
                Dur::secs(337),
                "the takeover window starts at the moved crash"
            );
            assert_eq!(
                *f,
                Dur::mins(25),
                "the failback window still starts at the restart"
            );
        }
        e => panic!("{e:?}"),
    }
    assert_passed(&run_sim(&moved));
    // A `for` undo belongs to its fault and keeps its spacing.
    let hang = load("primary-hang.toml");
    let moved = fleetsim_scenario::shift_fault(&hang, 0, Dur::mins(6)).unwrap();
    assert_eq!(moved.faults[1].at, Dur::mins(21));
    // Impossible moves are refused, not run.
    assert!(
        fleetsim_scenario::shift_fault(&s, 0, Dur::mins(26)).is_err(),
        "crash after its restart"
    );
    assert!(
        fleetsim_scenario::shift_fault(&hang, 0, Dur::mins(40)).is_err(),
        "undo after the end"
    );
    assert!(fleetsim_scenario::shift_fault(&s, 7, Dur::mins(1)).is_err());
    assert!(fleetsim_scenario::shift_fault(&s, 0, Dur::secs(u64::MAX / 1000)).is_err());
}

#[test]
fn moving_one_of_two_faults_at_one_time_moves_only_the_checks_anchored_to_it() {
    let s = parse(
        r#"
        fleet = "fleets/reference.toml"
        duration = "40m"
        [[fault]]
        at = "5m"
        crash = "primary"
        [[fault]]
        at = "5m"
        crash = "apps"
        [[expect]]
        takeover = { of = "primary", within = "5m" }
        [[expect]]
        takeover = { of = "primary", within = "5m", after = "5m" }
        "#,
    );
    let apps = s
        .faults
        .iter()
        .position(|f| f.kind.server() == Some("apps"))
        .unwrap();
    let moved = fleetsim_scenario::shift_fault(&s, apps, Dur::mins(20)).unwrap();
    for e in &moved.expectations {
        match &e.expect {
            fleetsim_model::Expectation::Takeover { after, .. } => {
                assert_eq!(*after, Dur::mins(5), "{}", e.name)
            }
            other => panic!("{other:?}"),
        }
    }
    assert_passed(&run_sim(&moved));
}

#[test]
fn a_move_that_puts_a_failback_start_at_the_end_of_the_run_is_refused_as_in_a_file() {
    let s = parse(
        r#"
        fleet = "fleets/reference.toml"
        duration = "40m"
        [[fault]]
        at = "5m"
        crash = "primary"
        for = "15m"
        [[expect]]
        failback = { to = "primary", within = "15m" }
        "#,
    );
    let e = fleetsim_scenario::shift_fault(&s, 0, Dur::mins(25)).unwrap_err();
    assert!(e.contains("nothing after it could show"), "{e}");
}

#[test]
fn a_fault_time_sweep_covers_every_step() {
    let report = fleetsim_json(&[
        "sweep",
        "primary-crash",
        "--fault",
        "0",
        "--from",
        "5m",
        "--to",
        "5m10s",
        "--step",
        "2s",
        "--format",
        "json",
    ]);
    let times: Vec<String> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["variation"]["fault_at"][1].as_str().unwrap().to_string())
        .collect();
    assert_eq!(times, ["5m", "5m2s", "5m4s", "5m6s", "5m8s", "5m10s"]);
}

#[test]
fn golden_timeline_is_recorded_then_matched_then_diffed_semantically() {
    let dir = temp_dir("golden");
    let g = dir.join("primary-crash.golden.json");
    let g = g.to_str().unwrap();
    let first = fleetsim_out(&["run", "primary-crash", "--golden", g]);
    assert_eq!(first.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&first.stderr).contains("recorded"));
    let same = fleetsim_out(&["run", "primary-crash", "--golden", g]);
    assert_eq!(same.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&same.stdout)
            .contains(&format!("PASS  golden timeline {g}\n        matches {g}"))
    );
    // A later crash moves the takeover: the diff says so in words, and fails.
    let moved = fleetsim_out(&["run", "primary-crash", "--golden", g, "--fault-at", "0=6m"]);
    assert_eq!(moved.status.code(), Some(1));
    let text = String::from_utf8_lossy(&moved.stdout);
    assert!(
        text.contains("\"fault crash primary\" moved from 5m to 6m"),
        "{text}"
    );
    assert!(
        text.contains("\"secondary failover of primary started\" moved from"),
        "{text}"
    );
    // Within a tolerance, small moves are accepted.
    let tolerant = fleetsim_out(&[
        "run",
        "primary-crash",
        "--golden",
        g,
        "--seed",
        "43",
        "--golden-tolerance",
        "2m",
    ]);
    let text = String::from_utf8_lossy(&tolerant.stdout);
    assert!(!text.contains("moved from 7m"), "{text}");
}

#[test]
fn a_golden_recorded_under_another_policy_says_so_and_fails() {
    let dir = temp_dir("golden-policy");
    let g = dir.join("split.golden.json");
    let g = g.to_str().unwrap();
    let first = fleetsim_out(&["run", "split-network", "--policy", "quorum", "--golden", g]);
    assert!(String::from_utf8_lossy(&first.stderr).contains("recorded"));
    let other = fleetsim_out(&["run", "split-network", "--golden", g]);
    let text = String::from_utf8_lossy(&other.stdout);
    assert_eq!(other.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "the golden was recorded under policy quorum, this run decides by server-edition (--policy quorum)"
        ),
        "{text}"
    );
}

#[test]
fn golden_diff_names_missing_and_new_state_changes() {
    let crash = run_sim(&load("primary-crash.toml"));
    let reboot = run_sim(&load("primary-reboot-2m.toml"));
    let was = fleetsim_scenario::golden::Golden::of(&crash);
    let now = fleetsim_scenario::golden::Golden::of(&reboot);
    let diff = was.diff(&now, 0).join("\n");
    assert!(
        diff.contains("expected \"secondary failover of primary started\""),
        "{diff}"
    );
    assert!(diff.contains("new: \"primary restarted\""), "{diff}");
    assert!(
        diff.contains("takeover moved from 3m22s to never"),
        "{diff}"
    );
}

#[test]
fn the_determinism_guard_passes_and_points_at_the_first_divergence() {
    let out = fleetsim_out(&["determinism", "primary-isolated", "--runs", "3"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("deterministic: 3 runs"));

    let s = load("primary-crash.toml");
    let a = run_sim(&s);
    let mut b = a.clone();
    b.events[40].t_ms += 1;
    let d = fleetsim_scenario::golden::first_divergence(&a, &b, 2).unwrap();
    assert_eq!(d.line, 41);
    assert!(
        d.to_string()
            .contains("run 2 differs from run 1 at event line 41")
    );
}

#[test]
fn a_scenario_built_in_code_is_validated_like_a_file() {
    use fleetsim_scenario::ScenarioBuilder;
    let ok = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("40m")
        .isolate("5m", &["primary"], "15m")
        .expect_takeover("primary", "5m")
        .expect_failback("primary", "15m")
        .build()
        .unwrap();
    assert_eq!(ok.faults.len(), 2, "the partition and its heal");
    assert_passed(&run_sim(&ok));

    let err = ScenarioBuilder::on_builtin_fleet("reference")
        .crash("5m", "primry")
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("<built in code>:"), "{err}");
    assert!(err.contains("target \"primry\" matches no server"), "{err}");
}

#[test]
fn sweeps_of_no_or_too_many_variations_are_bad_input() {
    for args in [
        &["--seeds", "0"][..],
        &["--seeds", "200000"],
        &[
            "--fault", "0", "--from", "5m", "--to", "30d", "--step", "1ms",
        ],
        // Seeds past the last one would wrap around to 0; no threads run nothing.
        &["--seeds", "3", "--first-seed", "18446744073709551614"],
        &["--seeds", "3", "-j", "0"],
    ] {
        let mut all = vec!["sweep", "primary-crash"];
        all.extend_from_slice(args);
        let out = fleetsim_out(&all);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn fault_time_flags_in_a_seed_sweep_are_refused_not_ignored() {
    for flag in ["--from", "--to", "--step"] {
        let out = fleetsim_out(&["sweep", "primary-crash", "--seeds", "2", flag, "1m"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(
            err.contains(&format!(
                "{flag} belongs to a fault-time sweep: add --fault I"
            )),
            "{flag}: {err}"
        );
    }
}

#[test]
fn a_sweep_of_a_fault_that_does_not_exist_is_refused_before_any_estimate_of_its_time() {
    let out = fleetsim_out(&[
        "sweep",
        "primary-crash",
        "--fault",
        "7",
        "--from",
        "1m",
        "--to",
        "30m",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("fault index 7 does not exist"), "{err}");
    assert!(!err.contains("will take roughly"), "{err}");
}

#[test]
fn a_failback_checked_from_the_restart_moves_with_the_fault_whose_undo_it_is() {
    // all-expansions-stop: a stop at 5m `for = "15m"`; the failback is
    // checked from the restart at 20m. Moving the stop (fault 0) or its
    // restart (fault 2) to the same schedule gives the same check.
    let by_stop = fleetsim_out(&["run", "all-expansions-stop", "--fault-at", "0=10m"]);
    let by_restart = fleetsim_out(&["run", "all-expansions-stop", "--fault-at", "2=25m"]);
    let line = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find(|l| l.contains("after 25m") || l.contains("after 20m"))
            .map(str::to_string)
    };
    let (a, b) = (line(&by_stop), line(&by_restart));
    assert!(
        a.as_deref().is_some_and(|l| l.contains("after 25m")),
        "{a:?}"
    );
    assert_eq!(a, b);
    assert_eq!(by_stop.status.code(), by_restart.status.code());
}

#[test]
fn a_time_that_moves_with_its_fault_out_of_the_run_is_refused_not_cut_to_its_end() {
    let s = parse(
        "fleet = \"fleets/reference.toml\"\nduration = \"30m\"\n\
         [[fault]]\nat = \"5m\"\ncrash = \"primary\"\n\
         [[expect]]\nname = \"2001 a guest 20m after the crash\"\n\
         state = { phone = \"2001\", on = \"secondary\", guest = true, at = \"fault 0 + 20m\" }\n",
    );
    assert!(fleetsim_scenario::shift_fault(&s, 0, Dur::mins(10)).is_ok());
    let err = fleetsim_scenario::shift_fault(&s, 0, Dur::mins(15)).unwrap_err();
    assert_eq!(
        err,
        "moving fault 0 to 15m would put expectation \"2001 a guest 20m after the crash\"'s `at` at 35m, outside the run (0 to 30m): make the run longer or move the fault less"
    );
}

#[test]
fn determinism_of_fewer_than_two_runs_is_bad_input() {
    let out = fleetsim_out(&["determinism", "primary-crash", "--runs", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--runs"));
}

#[test]
fn moving_a_fault_moves_the_state_checks_that_follow_it() {
    // primary-services-failover: crash at 10m, restart at 45m; the checks at
    // 30m follow the crash, those at 50m and 1h follow the restart.
    let s = load("primary-services-failover.toml");
    let moved = fleetsim_scenario::shift_fault(&s, 0, Dur::mins(12)).unwrap();
    let ats: Vec<(String, Dur)> = moved
        .expectations
        .iter()
        .filter_map(|e| match &e.expect {
            fleetsim_model::Expectation::Service { service, at, .. } => {
                Some((service.clone(), *at))
            }
            fleetsim_model::Expectation::Licence { at, .. } => Some(("licence".into(), *at)),
            _ => None,
        })
        .collect();
    assert!(
        ats.contains(&("voicemail-pro".into(), Dur::mins(32))),
        "{ats:?}"
    );
    assert!(ats.contains(&("licence".into(), Dur::mins(32))), "{ats:?}");
    assert!(
        ats.contains(&("media-manager".into(), Dur::mins(50))),
        "{ats:?}"
    );
    assert!(ats.contains(&("licence".into(), Dur::mins(60))), "{ats:?}");
    assert_passed(&run_sim(&moved));
}

#[test]
fn a_sweep_lists_variations_with_an_emulator_error_apart_and_exits_three() {
    let out = fleetsim_out(&[
        "sweep",
        "primary-crash",
        "--seeds",
        "2",
        "--jobs",
        "2",
        "--inject-panic",
        "primary",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("2 of 2 runs hit an emulator error"), "{text}");
    assert!(
        text.contains("fleetsim run primary-crash --seed 43"),
        "{text}"
    );
    assert!(text.contains("error: the emulator panicked"), "{text}");
    assert!(!text.contains("runs failed"), "{text}");
    // No run gave figures: none are claimed ("takeover never reached").
    assert!(
        text.contains("no figures: the emulator failed in every run")
            && !text.contains("never reached"),
        "{text}"
    );
}

/// A short crash and takeover, built in code.
fn crash_and_takeover() -> fleetsim_scenario::ScenarioBuilder {
    fleetsim_scenario::ScenarioBuilder::on_builtin_fleet("reference")
        .duration("12m")
        .crash("5m", "primary")
        .expect_takeover("primary", "5m")
}

/// The same scenario run on a thread with no runtime: the reference log.
fn run_outside_any_runtime() -> fleetsim_scenario::RunOutcome {
    std::thread::spawn(|| crash_and_takeover().run().unwrap())
        .join()
        .unwrap()
}

/// `run` and `run_async` from inside a runtime pass and log exactly what a
/// run outside any runtime logs.
async fn runs_as_outside_any_runtime() {
    let reference = run_outside_any_runtime();
    let blocking = crash_and_takeover().run().unwrap();
    let awaited = crash_and_takeover().run_async().await.unwrap();
    for o in [&blocking, &awaited] {
        assert_passed(o);
        assert_same_log(&reference, o);
    }
}

#[tokio::test]
async fn a_scenario_runs_inside_a_tokio_test() {
    runs_as_outside_any_runtime().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_runs_inside_a_multi_thread_tokio_test() {
    runs_as_outside_any_runtime().await;
}

#[tokio::test]
async fn a_panic_in_a_run_from_a_tokio_test_reaches_the_verdict() {
    let scenario = crash_and_takeover().build().unwrap();
    let opts = fleetsim_scenario::RunOptions {
        inject_panic: Some("secondary".into()),
        ..fleetsim_scenario::RunOptions::default()
    };
    let awaited = fleetsim_scenario::run_async(&scenario, &opts)
        .await
        .unwrap();
    let blocking = fleetsim_scenario::run(&scenario, &opts).unwrap();
    for o in [awaited, blocking] {
        assert!(!o.passed());
        let error = o.error.expect("the panic is the run's error");
        assert!(error.message.contains("the emulator panicked"), "{error}");
    }
}

#[test]
fn a_sweep_where_phones_moved_without_a_complete_takeover_says_so() {
    let out = fleetsim_out(&["sweep", "split-network", "--seeds", "2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("never complete: phones moved in 2 of 2 runs"),
        "{text}"
    );
    assert!(
        !text.contains("takeover                         never reached"),
        "{text}"
    );
    let json = fleetsim_json(&["sweep", "split-network", "--seeds", "2", "--format", "json"]);
    assert_eq!(json["takeover_ms"]["n"], 0);
    assert_eq!(json["phones_moved"]["max"], 8);
}

#[test]
fn several_fault_moves_each_name_a_fault_as_listed_before_any_move() {
    let s = parse(
        r#"
        fleet = "fleets/reference.toml"
        duration = "40m"
        [[fault]]
        at = "5m"
        crash = "expansion-l"
        [[fault]]
        at = "10m"
        crash = "primary"
        "#,
    );
    let moved =
        fleetsim_scenario::shift_faults(&s, &[(0, Dur::mins(20)), (1, Dur::mins(2))]).unwrap();
    let at = |server: &str| {
        moved
            .faults
            .iter()
            .find(|f| f.kind.server() == Some(server))
            .unwrap()
            .at
    };
    assert_eq!(
        (at("expansion-l"), at("primary")),
        (Dur::mins(20), Dur::mins(2))
    );
}

#[test]
fn a_move_that_would_turn_a_window_inside_out_is_refused_as_in_a_file() {
    let s = parse(
        r#"
        fleet = "fleets/reference.toml"
        duration = "30m"
        [[fault]]
        at = "5m"
        crash = "primary"
        [[expect]]
        never = { event = "failover-started", from = "fault 0", to = "20m" }
        "#,
    );
    let e = fleetsim_scenario::shift_fault(&s, 0, Dur::mins(25)).unwrap_err();
    assert!(e.contains("before it starts"), "{e}");
}
