//! Assertions over the event log (`never`, `eventually`, `count`, `state`),
//! with times relative to faults, and the positive witness of `no-failover`.

mod common;

use common::{load, parse, parse_error};
use fleetsim_model::{Dur, Expectation};
use fleetsim_scenario::{Expect, ExpectationResult, RunOutcome, ScenarioBuilder, shift_fault};

/// The primary crashes at 5m and returns at 25m; 45 minutes in all.
fn crash_and_return() -> ScenarioBuilder {
    ScenarioBuilder::on_builtin_fleet("reference")
        .duration("45m")
        .crash("5m", "primary")
        .restart("25m", "primary")
}

/// The one expectation's result of a run of `b` with `e` added.
fn only(b: ScenarioBuilder, e: Expect) -> ExpectationResult {
    let o: RunOutcome = b.expect(e).run().unwrap();
    assert_eq!(o.expectations.len(), 1);
    o.expectations[0].clone()
}

#[test]
fn never_fails_on_the_first_offending_event_and_names_it() {
    let r = only(
        crash_and_return(),
        Expect::never("failover-started").on("secondary"),
    );
    assert!(!r.passed);
    assert!(
        r.detail.contains("first offending event: 7m")
            && r.detail.contains("secondary failover-started")
            && r.detail.contains("home = \"primary\""),
        "{}",
        r.detail
    );
}

/// The 3 minutes count from the last presence heard, at most one 30 s
/// presence period before the crash.
#[test]
fn nothing_fails_over_before_three_minutes_after_the_last_presence_heard() {
    let r = only(
        crash_and_return(),
        Expect::never("failover-started").to("fault 0 + 2m29s"),
    );
    assert!(r.passed, "{}", r.detail);
}

#[test]
fn eventually_says_what_was_seen_instead_when_the_window_misses() {
    let r = only(
        crash_and_return(),
        Expect::eventually("failback-started")
            .on("secondary")
            .from("fault 1")
            .to("fault 1 + 5m"),
    );
    assert!(!r.passed);
    assert!(
        r.detail.contains("seen instead outside the window")
            && r.detail.contains("35m2s424ms secondary failback-started"),
        "{}",
        r.detail
    );
}

#[test]
fn the_secondary_accepts_exactly_the_sixteen_ip_phones_of_the_primary_as_guests() {
    let guests = || {
        Expect::count("phone-registered")
            .on("secondary")
            .with("guest", true)
    };
    assert!(only(crash_and_return(), guests().exactly(16)).passed);
    let r = only(crash_and_return(), guests().exactly(15));
    assert!(!r.passed);
    assert!(r.detail.starts_with("16 during the run"), "{}", r.detail);
    // The bound is said, for a named expectation whose title does not.
    assert!(r.detail.contains("expected exactly 15"), "{}", r.detail);
}

#[test]
fn field_globs_pick_phones_by_extension() {
    let r = only(
        crash_and_return(),
        Expect::count("phone-registered")
            .with("phone", "201*")
            .with("guest", true)
            .exactly(7),
    );
    assert!(r.passed, "{}", r.detail);
}

#[test]
fn a_state_that_breaks_and_comes_back_within_one_instant_holds_and_says_so() {
    // A phone's reboot unregisters and re-registers it at the same instant.
    let b = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("30m")
        .fault("10m", "reboot-phone = \"2011\"");
    let r = only(b, Expect::phone("2011").on("primary").from("1m").to("29m"));
    assert!(r.passed, "{}", r.detail);
    assert!(
        r.detail
            .contains("it broke and was back within one instant 1 time (first at 10m"),
        "{}",
        r.detail
    );
}

#[test]
fn a_state_holds_throughout_a_window_or_names_when_it_broke() {
    let on_secondary = || Expect::phone("2011").on("secondary").as_guest(true);
    let r = only(
        crash_and_return(),
        on_secondary().from("fault 0 + 4m").to("fault 1 + 9m"),
    );
    assert!(r.passed, "{}", r.detail);
    let r = only(
        crash_and_return(),
        on_secondary().from("fault 0 + 4m").to("fault 1 + 15m"),
    );
    assert!(!r.passed);
    assert!(
        r.detail.starts_with("at 35m") && r.detail.contains("registered"),
        "{}",
        r.detail
    );
}

#[test]
fn states_of_services_licences_hunt_groups_and_calls() {
    let o = crash_and_return()
        .expect(Expect::service("voicemail-pro", "secondary", "active").at("fault 0 + 5m"))
        .expect(Expect::service("voicemail-pro", "primary", "active").at("fault 1 + 1m"))
        .expect(Expect::licence("expansion-l", "grace").from("6m").to("24m"))
        .expect(Expect::hunt_group("sales", "secondary", true).at("15m"))
        .expect(Expect::hunt_group("sales", "primary", true).at("40m"))
        .expect(Expect::calls_up().at_most(0).from("0s").to("45m"))
        .expect(Expect::phone("2017").nowhere().at("fault 0 + 10m"))
        .run()
        .unwrap();
    o.assert_passed();
}

#[test]
fn times_relative_to_a_fault_move_with_it_in_a_fault_time_sweep() {
    let s = crash_and_return()
        .expect(Expect::never("failover-started").to("fault 0 + 2m"))
        .expect(
            Expect::eventually("failover-started")
                .from("fault 0")
                .to("fault 0 + 5m"),
        )
        .build()
        .unwrap();
    let moved = shift_fault(&s, 0, Dur::mins(12)).unwrap();
    let Expectation::Never { window, .. } = &moved.expectations[0].expect else {
        panic!("not a never: {:?}", moved.expectations[0]);
    };
    assert_eq!(window.to.at, Dur::mins(14));
    assert_eq!(window.from.at, Dur::ZERO, "a fixed time stays");
    let o = fleetsim_scenario::run(&moved, &Default::default()).unwrap();
    o.assert_passed();
}

#[test]
fn repeated_derived_names_are_numbered_and_keep_their_number_when_the_fault_moves() {
    let s = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("30m")
        .crash("5m", "primary")
        .expect(Expect::takeover("primary", "5m"))
        .expect(Expect::takeover("primary", "5m"))
        .build()
        .unwrap();
    let first = s.expectations[0].name.clone();
    assert_eq!(s.expectations[1].name, format!("{first} (2)"));
    let moved = shift_fault(&s, 0, Dur::mins(6)).unwrap();
    let renamed = &moved.expectations[0].name;
    assert!(renamed.ends_with("of 6m"), "{renamed}");
    assert_eq!(moved.expectations[1].name, format!("{renamed} (2)"));
}

#[test]
fn a_moved_fault_renames_the_expectations_named_after_its_time_and_keeps_given_names() {
    let s = load("primary-crash-and-return.toml");
    let moved = shift_fault(&s, 0, Dur::mins(6)).unwrap();
    let names: Vec<&str> = moved.expectations.iter().map(|e| e.name.as_str()).collect();
    assert!(
        names.contains(&"secondary takes over primary's phones within 5m of 6m"),
        "{names:?}"
    );
    let given: Vec<&str> = s.expectations.iter().map(|e| e.name.as_str()).collect();
    assert!(
        names.contains(&"phone 2016 stays a guest on the secondary until failback")
            && given.contains(&"phone 2016 stays a guest on the secondary until failback"),
        "{names:?}"
    );
}

#[test]
fn no_failover_fails_when_no_fault_was_applied() {
    let r = only(
        ScenarioBuilder::on_builtin_fleet("reference").duration("10m"),
        Expect::no_failover("primary"),
    );
    assert!(!r.passed);
    assert!(r.detail.contains("no fault was applied"), "{}", r.detail);
}

#[test]
fn no_failover_fails_when_its_fault_had_no_visible_effect() {
    let r = only(
        ScenarioBuilder::on_builtin_fleet("reference")
            .duration("10m")
            .fault("5m", "latency = { target = \"primary\", delay = \"5ms\" }"),
        Expect::no_failover("primary"),
    );
    assert!(!r.passed);
    assert!(
        r.detail.contains("no fault took visible effect"),
        "{}",
        r.detail
    );
}

#[test]
fn no_failover_fails_when_the_run_ends_before_a_failover_could_show() {
    let r = only(
        ScenarioBuilder::on_builtin_fleet("reference")
            .duration("30m")
            .crash("28m", "primary"),
        Expect::no_failover("primary"),
    );
    assert!(!r.passed, "2 minutes cannot show a failover: {}", r.detail);
    assert!(
        r.detail.contains("the run ends 2m after")
            && r.detail
                .contains("before a failover it caused could show (4m4s"),
        "{}",
        r.detail
    );
}

#[test]
fn no_failover_waits_for_the_phones_to_come_back_after_the_silence() {
    // 3m01s after the crash the secondary has declared the primary lost,
    // but its phones have not retried yet: the failover is still to come.
    let r = only(
        ScenarioBuilder::on_builtin_fleet("reference")
            .duration("29m32s")
            .seed(3)
            .crash("26m31s", "primary"),
        Expect::no_failover("primary"),
    );
    assert!(!r.passed, "{}", r.detail);
    assert!(r.detail.contains("the run ends 3m1s after"), "{}", r.detail);
}

#[test]
fn no_failover_counts_the_run_left_from_each_fault_not_only_the_first() {
    let r = only(
        ScenarioBuilder::on_builtin_fleet("reference")
            .duration("30m")
            .fault("5m", "heal = true")
            .crash("29m", "primary"),
        Expect::no_failover("primary"),
    );
    assert!(!r.passed, "{}", r.detail);
    assert!(r.detail.contains("the run ends 1m after"), "{}", r.detail);
}

#[test]
fn no_failover_takes_no_operator_reboot_or_failed_call_as_its_faults_effect() {
    let r = only(
        ScenarioBuilder::on_builtin_fleet("reference")
            .duration("20m")
            .fault("5m", "latency = { target = \"primary\", delay = \"1ms\" }")
            .fault("6m", "reboot-phone = \"phones@primary\"")
            .call(
                "6m",
                "2011",
                "2012",
                "10m",
                fleetsim_model::CallKind::TwoParty,
            )
            .call(
                "7m",
                "2011",
                "2013",
                "1m",
                fleetsim_model::CallKind::TwoParty,
            ),
        Expect::no_failover("primary"),
    );
    assert!(!r.passed, "{}", r.detail);
    assert!(
        r.detail.contains("no fault took visible effect"),
        "{}",
        r.detail
    );
}

#[test]
fn no_failover_waits_as_long_as_the_policy_takes_to_take_over() {
    // Quorum takes over only after a fencing margin (3m + 2 x 30s): a run
    // that ends 3m30s after the crash cannot show its failover.
    let r = only(
        ScenarioBuilder::on_builtin_fleet("reference")
            .duration("30m")
            .crash("26m30s", "primary")
            .policy(fleetsim_scenario::rules::Quorum),
        Expect::no_failover("primary"),
    );
    assert!(
        !r.passed,
        "3m30s cannot show a quorum failover: {}",
        r.detail
    );
    assert!(r.detail.contains("could show (5m4s"), "{}", r.detail);
}

#[test]
fn a_misspelt_server_in_a_state_or_a_never_is_met_with_the_nearest_name() {
    let head = "fleet = \"fleets/reference.toml\"\nduration = \"30m\"\n[[expect]]\n";
    for (expect, field) in [
        (
            "state = { service = \"voicemail-pro\", on = \"secndary\", is = \"active\", at = \"7m\" }",
            "expect[0].state.on",
        ),
        (
            "never = { event = \"peer-lost\", server = \"primery\" }",
            "expect[0].never.server",
        ),
    ] {
        let e = parse_error(&format!("{head}{expect}\n"));
        assert!(e.contains(field), "{expect}: {e}");
        assert!(
            e.contains("did you mean \"s") || e.contains("did you mean \"p"),
            "{expect}: {e}"
        );
    }
}

#[test]
fn calls_up_must_be_true_and_bounded() {
    let state = |s: &str| {
        parse_error(&format!(
            "fleet = \"fleets/reference.toml\"\nduration = \"30m\"\n[[expect]]\nstate = {{ {s}, at = \"7m\" }}\n"
        ))
    };
    let e = state("calls-up = false");
    assert!(
        e.contains("expect[0].state.calls-up") && e.contains("calls-up = false checks nothing"),
        "{e}"
    );
    assert!(e.contains("max = 0 for no calls up"), "{e}");
    let e = state("calls-up = true");
    assert!(e.contains("calls-up needs a bound"), "{e}");
    let e = state("calls-up = true, min = 3, max = 1");
    assert!(e.contains("min 3 is more than max 1"), "{e}");
}

#[test]
fn a_calls_up_expectation_is_named_in_the_singular_for_one_call() {
    let name = |bounds: &str| {
        parse(&format!(
            "fleet = \"fleets/reference.toml\"\nduration = \"30m\"\n[[expect]]\nstate = {{ calls-up = true, {bounds}, at = \"7m\" }}\n"
        ))
        .expectations[0]
            .name
            .clone()
    };
    for (bounds, words) in [
        ("min = 1", "at least 1 call up in the fleet"),
        ("max = 1", "at most 1 call up in the fleet"),
        ("min = 1, max = 1", "exactly 1 call up in the fleet"),
        ("min = 2", "at least 2 calls up in the fleet"),
        ("min = 1, max = 2", "1 to 2 calls up in the fleet"),
        ("max = 0", "at most 0 calls up in the fleet"),
    ] {
        let n = name(bounds);
        assert!(n.contains(words), "{bounds}: {n}");
    }
}

#[test]
fn a_fault_at_the_very_end_of_the_run_is_refused() {
    let e = parse_error(
        "fleet = \"fleets/reference.toml\"\nduration = \"30m\"\n[[fault]]\nat = \"30m\"\ncrash = \"primary\"\n",
    );
    assert!(
        e.contains("fault[0].at") && e.contains("is at the end of the run (30m)"),
        "{e}"
    );
}

#[test]
fn no_failover_names_the_effect_of_its_fault() {
    let r = only(
        ScenarioBuilder::on_builtin_fleet("reference")
            .duration("15m")
            .crash("5m", "primary")
            .restart("7m", "primary"),
        Expect::no_failover("primary"),
    );
    assert!(r.passed, "{}", r.detail);
    assert!(
        r.detail
            .contains("the fault took effect: 5m primary server-crashed"),
        "{}",
        r.detail
    );
}

#[test]
fn no_failover_of_a_bystander_says_the_fault_left_it_alone() {
    // A crash of the primary and no-failover of the V2, which backs up
    // nothing of the primary's and is not backed up by it: a guard against
    // takeover logic that fails over the wrong server.
    let r = only(
        ScenarioBuilder::on_builtin_fleet("reference")
            .duration("15m")
            .crash("5m", "primary")
            .restart("7m", "primary"),
        Expect::no_failover("expansion-v2"),
    );
    assert!(r.passed, "{}", r.detail);
    assert!(
        r.detail.contains("the fault took effect elsewhere, touching nothing of expansion-v2 (this checks that expansion-v2 is left alone): 5m primary server-crashed"),
        "{}",
        r.detail
    );
}

const HEAD: &str = r#"
fleet = "fleets/reference.toml"
duration = "30m"
[[fault]]
at = "5m"
crash = "primary"
[[expect]]
"#;

#[test]
fn an_unknown_event_is_a_file_error_that_suggests_the_nearest_name() {
    let e = parse_error(&format!("{HEAD}never = {{ event = \"failover-start\" }}"));
    assert!(
        e.contains("inline.toml:8")
            && e.contains("expect[0].never.event")
            && e.contains("did you mean \"failover-started\"?"),
        "{e}"
    );
}

#[test]
fn an_unknown_field_is_a_file_error_that_lists_the_event_fields() {
    let e = parse_error(&format!(
        "{HEAD}count = {{ event = \"phone-registered\", where = {{ guests = true }}, min = 1 }}"
    ));
    assert!(
        e.contains("expect[0].count.where.guests")
            && e.contains("did you mean \"guest\"? fields of phone-registered: guest, home, phone"),
        "{e}"
    );
}

#[test]
fn a_field_of_the_wrong_type_is_a_file_error() {
    let e = parse_error(&format!(
        "{HEAD}count = {{ event = \"phone-registered\", where = {{ guest = \"yes\" }}, min = 1 }}"
    ));
    assert!(
        e.contains("guest of phone-registered is true or false, not a string"),
        "{e}"
    );
    let e = parse_error(&format!(
        "{HEAD}count = {{ event = \"peer-lost\", where = {{ silent-for-ms = \"1\" }}, min = 1 }}"
    ));
    assert!(
        e.contains("write a whole number, e.g. silent-for-ms = 16"),
        "the hint names the field written: {e}"
    );
}

#[test]
fn a_decimal_where_a_whole_number_is_compared_is_a_file_error_not_a_silent_mismatch() {
    let e = parse_error(&format!(
        "{HEAD}never = {{ event = \"peer-lost\", where = {{ records-held = 16.0 }} }}"
    ));
    assert!(
        e.contains("expect[0].never.where.records-held")
            && e.contains("records-held of peer-lost is a whole number, not a decimal number"),
        "{e}"
    );
}

#[test]
fn a_field_given_twice_in_where_is_a_file_error() {
    let e = parse_error(&format!(
        "{HEAD}never = {{ event = \"peer-lost\", where = {{ records-held = 16, records_held = 16 }} }}"
    ));
    assert!(e.contains("is given twice"), "{e}");
}

#[test]
fn an_array_where_a_string_is_compared_is_called_an_array() {
    let e = parse_error(&format!(
        "{HEAD}never = {{ event = \"peer-lost\", where = {{ peer = [\"primary\"] }} }}"
    ));
    assert!(e.contains("is a string, not an array"), "{e}");
}

/// A `never` whose `where` has `field = value` on `event` is a file error
/// that names the field, says it could match no event, and says `says`.
fn assert_refused_as_vacuous(event: &str, field: &str, value: &str, says: &str) {
    let e = parse_error(&format!(
        "{HEAD}never = {{ event = \"{event}\", where = {{ {field} = \"{value}\" }} }}"
    ));
    assert!(
        e.contains(&format!("expect[0].never.where.{field}"))
            && e.contains("could match no event")
            && e.contains(says),
        "{field} = {value:?}: {e}"
    );
}

#[test]
fn a_where_value_naming_no_server_phone_group_or_service_is_a_file_error_not_a_vacuous_never() {
    for (event, field, value, says) in [
        (
            "failover-started",
            "home",
            "primray",
            "did you mean \"primary\"?",
        ),
        ("phone-registered", "phone", "9999", "phones: 2001"),
        ("peer-lost", "peer", "", "no server is named \"\""),
        (
            "hunt-group-state",
            "group",
            "sals",
            "did you mean \"sales\"?",
        ),
        (
            "service-state",
            "service",
            "voicemail",
            "did you mean \"voicemail-pro\"?",
        ),
    ] {
        assert_refused_as_vacuous(event, field, value, says);
    }
    // Globs that match a name are fine.
    let ok = format!(
        "{HEAD}never = {{ event = \"phone-registered\", where = {{ phone = \"20*\", home = \"expansion-*\" }} }}"
    );
    parse(&ok);
}

#[test]
fn a_where_value_outside_a_fields_fixed_set_is_a_file_error_not_a_vacuous_never() {
    for (event, field, value, says) in [
        (
            "service-state",
            "state",
            "actve",
            "did you mean \"active\"?",
        ),
        ("licence-state", "state", "Grace", "did you mean \"grace\"?"),
        (
            "call-started",
            "kind",
            "twoparty",
            "did you mean \"two-party\"?",
        ),
        (
            "server-started",
            "role",
            "expansion-linx",
            "did you mean \"expansion-linux\"?",
        ),
        (
            "voicemail-handback",
            "mode",
            "gracefull",
            "did you mean \"graceful\"?",
        ),
        ("run-started", "mode", "simulated", "is one of: sim, live"),
        (
            "voicemail-synced",
            "to",
            "primray",
            "did you mean \"primary\"?",
        ),
    ] {
        assert_refused_as_vacuous(event, field, value, says);
    }
    // Every value the run logs is accepted, globs too.
    let ok = format!(
        "{HEAD}never = {{ event = \"service-state\", where = {{ state = \"stand*\" }} }}\n\n\
         [[expect]]\nnever = {{ event = \"call-started\", where = {{ kind = \"hunt-group\" }} }}"
    );
    parse(&ok);
}

#[test]
fn a_call_id_in_where_names_a_call_the_run_can_make() {
    // A scripted call's id is s<its place>-<caller>; a random call's
    // c<N>-<caller>, only with a random workload. A typo would pass a
    // `never` unseen.
    let call = "[[call]]\nat = \"6m\"\nfrom = \"2001\"\nto = \"3002\"\nlasts = \"1m\"\n\n";
    let never = |value: &str| {
        format!(
            "{HEAD}never = {{ event = \"call-failed\", where = {{ call = \"{value}\" }} }}\n\n{call}"
        )
    };
    for (value, says) in [
        ("s1-2010", "scripted calls: s1-2001"),
        ("c1-2001", "no random calls"),
    ] {
        let e = parse_error(&never(value));
        assert!(
            e.contains("expect[0].never.where.call")
                && e.contains(&format!("no call of this run has the id {value:?}"))
                && e.contains(says),
            "{value}: {e}"
        );
    }
    parse(&never("s1-2001"));
    parse(&never("s*"));
    let with_random = format!("{}\n[calls]\nper-hour = 60\n", never("c12-3001"));
    parse(&with_random);
    let recording = format!(
        "{HEAD}never = {{ event = \"recording-made\", where = {{ recording = \"s1-2001-rec\" }} }}\n\n{call}"
    );
    parse(&recording);
}

#[test]
fn a_time_relative_to_a_fault_that_does_not_exist_lists_the_faults() {
    let e = parse_error(&format!(
        "{HEAD}never = {{ event = \"peer-lost\", from = \"fault 2\" }}"
    ));
    assert!(
        e.contains("there is no fault 2") && e.contains("fault 0 at 5m: crash primary"),
        "{e}"
    );
}

#[test]
fn a_state_needs_a_moment_or_a_window() {
    let e = parse_error(&format!(
        "{HEAD}state = {{ phone = \"2011\", on = \"primary\" }}"
    ));
    assert!(e.contains("a state needs a moment or a window"), "{e}");
}

#[test]
fn check_lists_each_expectation_with_its_times_resolved() {
    let out = common::fleetsim_out(&["check", "-v", "scenarios/primary-crash-and-return.toml"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("expect  2: no failback in the first 10 minutes of the primary's return")
            && text.contains("expect  3: phone 2016 stays a guest"),
        "{text}"
    );
}

#[test]
fn a_bound_on_never_is_a_file_error_that_points_to_count() {
    let e = parse_error(&format!(
        "{HEAD}never = {{ event = \"peer-lost\", max = 0 }}"
    ));
    assert!(e.contains("min and max bound a count"), "{e}");
}

#[test]
fn every_whole_run_check_of_a_file_is_an_expect_too() {
    ScenarioBuilder::on_builtin_fleet("reference")
        .duration("20m")
        .crash("5m", "primary")
        .expect(
            Expect::takeover("primary", "5m")
                .by("secondary")
                .after("5m"),
        )
        // A message is left, so nothing-lost has something to check, and a
        // call is up at the crash, so calls has.
        .call(
            "1m",
            "3001",
            "2001",
            "1m",
            fleetsim_model::CallKind::Voicemail,
        )
        .call(
            "4m",
            "3003",
            "3004",
            "3m",
            fleetsim_model::CallKind::TwoParty,
        )
        .expect(Expect::nothing_lost())
        .expect(Expect::split_brain(false))
        .expect(Expect::calls().max_dropped(1000))
        .run()
        .unwrap()
        .assert_passed();
}

#[test]
fn nothing_lost_fails_a_run_that_gave_it_nothing_to_check() {
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("20m")
        .crash("5m", "primary")
        .expect(Expect::nothing_lost())
        .run()
        .unwrap();
    let r = &o.expectations[0];
    assert!(!r.passed, "{}: {}", r.name, r.detail);
    assert!(r.detail.contains("checks nothing"), "{}", r.detail);
}

#[test]
fn a_bound_on_calls_in_a_run_that_places_none_is_refused_before_it_runs() {
    let e = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("20m")
        .crash("5m", "primary")
        .expect(Expect::calls().max_dropped(0))
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("the run places no calls, so this would check nothing"),
        "{e}"
    );
}

#[test]
fn a_bound_on_dropped_calls_checks_nothing_when_no_call_was_up_at_a_fault() {
    let run = |at: &str| {
        ScenarioBuilder::on_builtin_fleet("reference")
            .duration("20m")
            .call(at, "3001", "3002", "5m", fleetsim_model::CallKind::TwoParty)
            .crash("6m", "secondary")
            .expect(Expect::calls().max_dropped(1))
            .run()
            .unwrap()
    };
    // Over before the crash: nothing could be dropped.
    let before = run("30s");
    let r = &before.expectations[0];
    assert!(!r.passed, "{}", r.detail);
    assert!(
        r.detail.contains("no call was up when a fault struck"),
        "{}",
        r.detail
    );
    // Up across it: the bound is a check.
    let across = run("3m");
    let r = &across.expectations[0];
    assert!(!r.detail.contains("checks nothing"), "{}", r.detail);
}

#[test]
fn a_calls_check_whose_only_call_the_system_could_not_complete_checks_nothing() {
    // The hunt group runs on the crashed primary until the secondary takes
    // it over (about 7m30s): a call to it at 6m is set up and fails at once.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("20m")
        .crash("5m", "primary")
        .call(
            "6m",
            "3004",
            "sales",
            "1m",
            fleetsim_model::CallKind::HuntGroup,
        )
        .expect(Expect::calls().max_dropped(0))
        .run()
        .unwrap();
    assert_eq!((o.metrics.calls_started, o.metrics.calls_failed), (1, 1));
    let r = &o.expectations[0];
    assert!(!r.passed, "{}", r.detail);
    assert!(
        r.detail
            .contains("1 call set up (not completed by the system)")
            && r.detail.contains("checks nothing"),
        "{}",
        r.detail
    );
}

#[test]
fn nothing_lost_names_what_a_crash_cut_in_progress() {
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("30m")
        .call(
            "2m",
            "3001",
            "2001",
            "1m",
            fleetsim_model::CallKind::Voicemail,
        )
        .call(
            "4m30s",
            "3002",
            "2002",
            "2m",
            fleetsim_model::CallKind::Voicemail,
        )
        .crash("5m", "primary")
        .expect(Expect::nothing_lost())
        .run()
        .unwrap();
    let r = &o.expectations[0];
    assert!(r.passed, "{}", r.detail);
    assert!(
        r.detail.contains("cut before they were stored"),
        "{}",
        r.detail
    );
}

#[test]
fn a_bound_of_min_0_alone_is_refused_as_checking_nothing() {
    for check in [
        r#"count = { event = "call-dropped", min = 0 }"#,
        r#"state = { calls-up = true, min = 0, at = "5m" }"#,
        r#"capacity-overflow = { on = "secondary", min = 0 }"#,
    ] {
        let e = parse_error(&format!("{HEAD}{check}"));
        assert!(e.contains("checks nothing"), "{check}: {e}");
    }
}

#[test]
fn a_window_or_server_chained_onto_a_whole_run_check_is_refused_not_dropped() {
    for (e, key) in [
        (Expect::nothing_lost().from("5m"), "from"),
        (Expect::split_brain(false).on("secondary"), "server"),
        (
            Expect::split_brain(true).with("service", "voicemail"),
            "where",
        ),
    ] {
        let err = ScenarioBuilder::on_builtin_fleet("reference")
            .duration("20m")
            .expect(e)
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is a whole-run check: it takes no"),
            "{key}: {err}"
        );
        assert!(err.contains(&format!("\n8 | {key} = ")), "{key}: {err}");
    }
}

#[test]
fn a_state_key_that_does_not_apply_is_refused_not_ignored() {
    for (state, stray) in [
        (
            r#"phone = "2011", on = "secondary", at = "15m", max = 0"#,
            "`max`",
        ),
        (
            r#"licence = "expansion-l", is = "grace", on = "apps", at = "15m""#,
            "`on`",
        ),
        (
            r#"phone = "2017", registered = false, guest = true, at = "15m""#,
            "`guest`",
        ),
        (
            r#"calls-up = true, max = 0, guest = true, at = "15m""#,
            "`guest`",
        ),
    ] {
        let text = format!(
            "name = \"x\"\nfleet = \"builtin:reference\"\nduration = \"20m\"\n\n[[expect]]\nstate = {{ {state} }}\n"
        );
        let e = parse_error(&text);
        assert!(
            e.contains(&format!("{stray} does not apply")),
            "{state}: {e}"
        );
    }
    // `guest` with `registered = false`: told that it goes with `on`.
    let text = "name = \"x\"\nfleet = \"builtin:reference\"\nduration = \"20m\"\n\n[[expect]]\nstate = { phone = \"2017\", registered = false, guest = true, at = \"15m\" }\n";
    assert!(parse_error(text).contains("`guest` goes with `on`"));
    // Both `on` and `registered = false`: told to keep one of the two.
    let text = "name = \"x\"\nfleet = \"builtin:reference\"\nduration = \"20m\"\n\n[[expect]]\nstate = { phone = \"2011\", registered = false, on = \"secondary\", at = \"5m\" }\n";
    assert!(parse_error(text).contains("contradict each other: give one, not both"));
}

#[test]
fn a_misspelt_built_in_fleet_in_code_gets_the_nearest_name() {
    let e = ScenarioBuilder::on_builtin_fleet("referense")
        .build()
        .unwrap_err()
        .to_string();
    assert!(e.contains("did you mean reference?"), "{e}");
    assert!(
        e.contains("on_builtin_fleet takes a built-in fleet's name"),
        "{e}"
    );
}

#[test]
fn a_server_that_is_down_holds_no_licence_state() {
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("30m")
        .crash("5m", "expansion-l")
        .crash("6m", "primary")
        .expect(Expect::licence("expansion-l", "normal").at("20m"))
        .expect(Expect::licence("expansion-v2", "grace").at("20m"))
        .run()
        .unwrap();
    let [down, up] = &o.expectations[..] else {
        panic!("{:?}", o.expectations)
    };
    assert!(
        !down.passed && down.detail.contains("down"),
        "{}",
        down.detail
    );
    assert!(up.passed, "{}", up.detail);
}

#[test]
fn a_hunt_group_state_on_a_server_without_ip_office_is_refused_like_a_service() {
    let e = parse_error(&format!(
        "{HEAD}state = {{ hunt-group = \"sales\", on = \"apps\", is = \"active\", at = \"10m\" }}"
    ));
    assert!(e.contains("runs no IP Office"), "{e}");
}

#[test]
fn a_takeover_of_a_home_whose_phones_have_no_backup_says_so() {
    // No backup at all: refused before the run, for it could never pass.
    let e = ScenarioBuilder::on_inline_fleet(
        "name = \"nb\"\n[[server]]\nname = \"primary\"\nrole = \"primary\"\nbackup = \"none\"\nphones = { sip = 2 }\n[[server]]\nname = \"secondary\"\nrole = \"secondary\"\n",
    )
    .duration("20m")
    .crash("5m", "primary")
    .expect(Expect::takeover("primary", "10m").by("secondary"))
    .build()
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("\"primary\" has no backup system, so nothing can fail it over"),
        "{e}"
    );
    // A line backing up IP phones but not IP DECT: the missing option named.
    let dect = "name = \"dect\"\n[[server]]\nname = \"primary\"\nrole = \"primary\"\n[[server]]\nname = \"secondary\"\nrole = \"secondary\"\n[[server]]\nname = \"site\"\nrole = \"expansion-linux\"\nbackup = \"secondary\"\nbacks-up = [\"ip-phones\"]\nphones = { dect = 3 }\n";
    let r = only(
        ScenarioBuilder::on_inline_fleet(dect)
            .duration("20m")
            .crash("5m", "site"),
        Expect::takeover("site", "10m").by("secondary"),
    );
    assert!(
        !r.passed
            && r.detail
                .contains("its line to secondary lacks ip-dect (its IP DECT phones)"),
        "{}",
        r.detail
    );
}

#[test]
fn a_default_after_is_the_fault_that_really_isolates_or_returns_the_server() {
    let s = common::parse(
        r#"
fleet = "builtin:reference"
duration = "60m"
[[fault]]
at = "5m"
stall = "primary"
for = "20m"
[[fault]]
at = "6m"
stall = "primary"
for = "1m40s"
[[fault]]
at = "30m"
one-way = { from = ["primary"], to = ["apps"] }
for = "10s"
[[fault]]
at = "40m"
crash = "primary"
[[expect]]
failback = { to = "primary", within = "20m" }
[[expect]]
takeover = { of = "primary", within = "5m", after = "35m" }
"#,
    );
    // The inner stall's end is no return: the outer one holds to 25m.
    match &s.expectations[0].expect {
        fleetsim_model::Expectation::Failback { after, .. } => {
            assert_eq!(after, &fleetsim_model::Dur::mins(25))
        }
        e => panic!("{e:?}"),
    }
    // A one-way cut from the primary to apps hides nothing from its backup.
    let e = parse_error(
        "fleet = \"builtin:reference\"\nduration = \"30m\"\n[[fault]]\nat = \"5m\"\none-way = { from = [\"primary\"], to = [\"apps\"] }\n[[expect]]\ntakeover = { of = \"primary\", within = \"5m\" }\n",
    );
    assert!(e.contains("no fault takes"), "{e}");
}

#[test]
fn a_failback_over_its_bound_names_the_late_phones() {
    let r = only(crash_and_return(), Expect::failback("primary", "15m"));
    assert!(r.passed, "{}", r.detail);
    let r = only(crash_and_return(), Expect::failback("primary", "1s"));
    assert!(!r.passed);
    assert!(
        r.detail.contains("over the bound of 1s; late: 20"),
        "{}",
        r.detail
    );
}

#[test]
fn a_no_failover_of_a_home_with_nothing_to_move_passes_but_says_none_could_move() {
    let o = common::run_sim(&load("softphone-only-site.toml"));
    let r = (o.expectations.iter())
        .find(|r| r.detail.starts_with("no phone of soft-site moved"))
        .expect("the scenario checks no-failover of soft-site");
    assert!(r.passed, "{}", r.detail);
    assert!(
        r.detail
            .contains("(and none could: soft-site homes no physical IP phone"),
        "{}",
        r.detail
    );
}

#[test]
fn a_bound_past_the_end_of_the_run_says_the_run_ended_first() {
    // The primary returns at 22m of a 30m run: failback takes more than
    // 10m of visibility, so the phones cannot be home before the end.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("30m")
        .crash("5m", "primary")
        .restart("22m", "primary")
        .expect(Expect::failback("primary", "12m"))
        .run()
        .unwrap();
    let r = &o.expectations[0];
    assert!(!r.passed, "{}", r.detail);
    assert!(
        r.detail.contains("never returned to primary")
            && r.detail
                .contains("the run ended 8m after 22m, before the bound of 12m had passed"),
        "{}",
        r.detail
    );
}

#[test]
fn phones_home_without_a_failback_pass_but_say_none_was_sent_home() {
    // The secondary covers the primary's phones, then crashes: they are
    // homeless until the primary returns, and register there on their own.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("1h")
        .crash("5m", "primary")
        .crash("20m", "secondary")
        .restart("40m", "primary")
        .expect(Expect::failback("primary", "15m"))
        .run()
        .unwrap();
    let r = &o.expectations[0];
    assert!(r.passed, "{}", r.detail);
    assert!(
        r.detail.contains("none sent home by a failback"),
        "{}",
        r.detail
    );
}

#[test]
fn a_takeover_counts_from_the_crash_not_from_an_earlier_gray_failure_of_presence_alone() {
    // Silent presence alone moves no phone (they still reach their home):
    // the takeover's default start is the crash that follows it.
    let s = parse(
        "name = \"gray-then-crash\"\nfleet = \"builtin:reference\"\nduration = \"40m\"\n\n\
         [[fault]]\nat = \"5m\"\ngray = { target = \"primary\", drop = [\"presence\"] }\nfor = \"1m\"\n\n\
         [[fault]]\nat = \"10m\"\ncrash = \"primary\"\n\n\
         [[expect]]\ntakeover = { of = \"primary\", within = \"4m\" }\n",
    );
    match &s.expectations[0].expect {
        Expectation::Takeover { after, .. } => {
            assert_eq!(after.as_millis(), Dur::mins(10).as_millis())
        }
        other => panic!("{other:?}"),
    }
    let o = common::run_sim(&s);
    common::assert_passed(&o);
}

#[test]
fn a_takeover_after_written_relative_to_a_fault_moves_with_that_fault() {
    // Fault 0 is a gray failure of presence, fault 1 the crash: the
    // takeover is timed from the crash, wherever a sweep moves it.
    let s = parse(
        "name = \"anchored-after\"\nfleet = \"builtin:reference\"\nduration = \"40m\"\n\n\
         [[fault]]\nat = \"5m\"\ngray = { target = \"primary\", drop = [\"presence\"] }\nfor = \"1m\"\n\n\
         [[fault]]\nat = \"10m\"\ncrash = \"primary\"\n\n\
         [[expect]]\ntakeover = { of = \"primary\", within = \"4m\", after = \"fault 2 + 0s\" }\n",
    );
    let after = |s: &fleetsim_model::Scenario| match &s.expectations[0].expect {
        Expectation::Takeover { after, .. } => after.as_millis(),
        other => panic!("{other:?}"),
    };
    assert_eq!(after(&s), Dur::mins(10).as_millis());
    let moved = shift_fault(&s, 2, Dur::mins(15)).unwrap();
    assert_eq!(after(&moved), Dur::mins(15).as_millis());
    common::assert_passed(&common::run_sim(&moved));
    // A fault that does not exist is named with the list of those that do.
    let e = parse_error(
        "name = \"x\"\nfleet = \"builtin:reference\"\nduration = \"40m\"\n\n\
         [[fault]]\nat = \"10m\"\ncrash = \"primary\"\n\n\
         [[expect]]\nfailback = { to = \"primary\", within = \"4m\", after = \"fault 7\" }\n",
    );
    assert!(
        e.contains("expect[0].failback.after") && e.contains("there is no fault 7"),
        "{e}"
    );
}
