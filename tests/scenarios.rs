//! Every scenario in scenarios/ meets its expectations, runs are reproducible,
//! and the resilience rules behave as docs/domain-coverage.md says.

mod common;

use common::*;
use fleetsim_model::Event;

#[test]
fn every_scenario_file_meets_its_expectations_in_sim_mode_twice_identically() {
    let files = scenario_files();
    assert!(
        files.len() >= 5,
        "expected the scenario library, found {files:?}"
    );
    for f in files {
        let s = fleetsim_model::Scenario::load(&f).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !s.expectations.is_empty(),
            "{}: a scenario must expect something",
            f.display()
        );
        let first = run_sim(&s);
        assert_passed(&first);
        assert_same_log(&first, &run_sim(&s));
    }
}

#[test]
fn same_seed_gives_a_byte_identical_event_log() {
    let s = load("primary-isolated.toml");
    let a = run_sim(&s);
    assert!(a.events.len() > 100, "suspiciously short log");
    for _ in 0..3 {
        assert_same_log(&a, &run_sim(&s));
    }
}

#[test]
fn another_seed_gives_another_timeline() {
    let s = load("primary-crash.toml");
    let a = fleetsim_report::jsonl::events_to_string(&run_sim(&s).events);
    let b = fleetsim_report::jsonl::events_to_string(&run_sim(&s.clone().with_seed(43)).events);
    assert_ne!(a, b, "the seed must drive phone retry times and phases");
}

#[test]
fn secondary_takes_over_primary_phones_only_after_three_minutes_of_silence() {
    let o = run_sim(&load("primary-crash.toml"));
    assert_passed(&o);
    let crash = 5 * 60_000;
    let lost = events(&o, |e| {
        e.server == "secondary"
            && matches!(&e.event, Event::PeerLost { peer, .. } if peer == "primary")
    });
    assert_eq!(lost.len(), 1);
    let Event::PeerLost {
        silent_for_ms,
        backing_up,
        records_held,
        ..
    } = &lost[0].event
    else {
        unreachable!()
    };
    assert_eq!(
        *silent_for_ms, 180_000,
        "failover exactly at the 3-minute rule"
    );
    assert!(*backing_up);
    assert_eq!(*records_held, 16);
    // Presence every 30 s: the primary was last heard within 30 s of the crash.
    assert!(
        lost[0].t_ms >= crash + 150_000 && lost[0].t_ms <= crash + 180_000,
        "{}",
        lost[0].t_ms
    );
    // No guest accepted before then, and every refusal names the rule.
    let guests = events(&o, |e| {
        matches!(e.event, Event::PhoneRegistered { guest: true, .. })
    });
    assert_eq!(guests.len(), 16);
    assert!(guests.iter().all(|g| g.t_ms >= lost[0].t_ms));
    let refused = events(&o, |e| matches!(e.event, Event::RegistrationRefused { .. }));
    assert!(
        !refused.is_empty(),
        "phones try the secondary before the 3 minutes are up"
    );
    assert!(refused.iter().all(|r| r.t_ms < lost[0].t_ms));
}

#[test]
fn softphones_and_analogue_extensions_never_fail_over() {
    let s = load("primary-crash.toml");
    let o = run_sim(&s);
    for p in s.fleet.phones.iter().filter(|p| !p.kind.fails_over()) {
        let moved = events(
            &o,
            |e| matches!(&e.event, Event::PhoneRegistered { phone, guest: true, .. } if *phone == p.extension),
        );
        assert!(moved.is_empty(), "{} ({:?}) moved", p.extension, p.kind);
    }
    assert_eq!(
        o.metrics.phones_unregistered_at_end, 2,
        "the primary's two softphones stay unregistered"
    );
}

#[test]
fn phones_retry_after_fifty_to_ninety_percent_of_the_recovery_wait() {
    let o = run_sim(&load("primary-crash.toml"));
    // Consecutive refusals of one phone are one retry apart: 30–54 s.
    let mut by_phone: std::collections::BTreeMap<&str, Vec<u64>> = Default::default();
    for e in &o.events {
        if let Event::RegistrationRefused { phone, .. } = &e.event {
            by_phone.entry(phone).or_default().push(e.t_ms);
        }
    }
    let gaps: Vec<u64> = by_phone
        .values()
        .flat_map(|t| t.windows(2).map(|w| w[1] - w[0]))
        .collect();
    assert!(gaps.len() > 10);
    assert!(
        gaps.iter().all(|g| (30_000..=54_000).contains(g)),
        "{gaps:?}"
    );
}

#[test]
fn two_minute_reboot_causes_no_failover_and_phones_return_home() {
    let o = run_sim(&load("primary-reboot-2m.toml"));
    assert_passed(&o);
    assert!(events(&o, |e| matches!(e.event, Event::PeerLost { .. })).is_empty());
    // Every phone of the primary is registered at home again after the restart.
    let restart = 7 * 60_000;
    let home_again = events(&o, |e| {
        e.t_ms >= restart
            && e.server == "primary"
            && matches!(e.event, Event::PhoneRegistered { guest: false, .. })
    });
    assert_eq!(home_again.len(), 18);
}

#[test]
fn phones_fail_back_only_after_home_is_visible_for_ten_minutes() {
    let o = run_sim(&load("primary-crash-and-return.toml"));
    assert_passed(&o);
    let returned = events(&o, |e| {
        e.server == "secondary"
            && matches!(&e.event, Event::PeerReturned { peer, .. } if peer == "primary")
    });
    let failback = events(&o, |e| matches!(e.event, Event::FailbackStarted { .. }));
    assert_eq!(returned.len(), 1);
    assert_eq!(failback.len(), 1);
    assert_eq!(failback[0].t_ms - returned[0].t_ms, 600_000);
    let sent = events(&o, |e| matches!(e.event, Event::PhoneSentHome { .. }));
    assert_eq!(sent.len(), 16);
    assert!(sent.iter().all(|e| e.t_ms >= failback[0].t_ms));
    assert_eq!(o.metrics.phones_failed_back, 16);
}

#[test]
fn backup_restarting_during_failover_loses_the_primary_phones_records() {
    let s = parse(
        r#"
        fleet = "fleets/reference.toml"
        duration = "30m"
        [[fault]]
        at = "5m"
        crash = "primary"
        [[fault]]
        at = "12m"
        crash = "secondary"
        [[fault]]
        at = "12m30s"
        restart = "secondary"
        "#,
    );
    let o = run_sim(&s);
    // After its restart the secondary holds no records of the primary's phones.
    let lost_again = events(&o, |e| {
        e.t_ms > 12 * 60_000
            && e.server == "secondary"
            && matches!(&e.event, Event::PeerLost { peer, records_held: 0, backing_up: true, .. } if peer == "primary")
    });
    assert_eq!(
        lost_again.len(),
        1,
        "{:#?}",
        events(&o, |e| e.server == "secondary" && e.t_ms > 12 * 60_000)
    );
    let refused = events(&o, |e| {
        e.t_ms > 12 * 60_000
            && matches!(&e.event, Event::RegistrationRefused { reason, .. } if reason.contains("resilience lost"))
    });
    assert!(!refused.is_empty());
    let guests_after = events(&o, |e| {
        e.t_ms > 12 * 60_000 && matches!(e.event, Event::PhoneRegistered { guest: true, .. })
    });
    assert!(guests_after.is_empty());
}

#[test]
fn a_partition_that_cuts_off_another_server_does_not_start_a_failback_check() {
    let s = parse(
        r#"
fleet = "builtin:reference"
duration = "1h"

[[fault]]
at = "5m"
partition = [["expansion-l"]]
for = "5m"

[[fault]]
at = "20m"
crash = "primary"

[[fault]]
at = "30m"
restart = "primary"

[[expect]]
failback = { to = "primary", within = "15m" }
"#,
    );
    let after = s.expectations.iter().find_map(|e| match &e.expect {
        fleetsim_model::Expectation::Failback { after, .. } => Some(*after),
        _ => None,
    });
    assert_eq!(
        after,
        Some(fleetsim_model::Dur::mins(30)),
        "from the restart"
    );
}

#[test]
fn a_progress_callback_sees_the_run_move_on_and_end_once() {
    let s = load("primary-crash.toml");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let opts = fleetsim_scenario::RunOptions {
        progress: Some(fleetsim_scenario::Progress(std::sync::Arc::new(
            move |done, total| record.lock().unwrap().push((done, total)),
        ))),
        ..Default::default()
    };
    fleetsim_scenario::run(&s, &opts).unwrap().assert_passed();
    let seen = seen.lock().unwrap();
    let total = s.duration.as_millis();
    assert!(seen.len() >= 50, "{} reports", seen.len());
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "never backwards");
    assert_eq!(seen.last(), Some(&(total, total)));
    assert_eq!(seen.iter().filter(|(d, _)| *d >= total).count(), 1);
}

#[test]
fn a_partition_that_leaves_the_primary_out_starts_its_takeover_and_failback_checks() {
    // Everything a partition does not name is one more group: the primary
    // is cut off from the secondary and its own phones.
    let o = run_sim(&parse(
        r#"
name = "primary-left-out"
fleet = "builtin:reference"
duration = "1h"

[[fault]]
at = "5m"
partition = [["secondary", "phones@primary"]]
for = "25m"

[[expect]]
takeover = { of = "primary", within = "6m" }

[[expect]]
failback = { to = "primary", within = "15m" }
"#,
    ));
    assert_passed(&o);
    assert!(
        o.metrics.detection_ms.is_some() && o.metrics.takeover_ms.is_some(),
        "the metrics see the primary cut off too: {:?}",
        o.metrics
    );
}

#[test]
fn a_primary_with_only_softphones_is_never_failed_over() {
    let s = parse(
        r#"
        duration = "20m"
        [fleet]
        [[fleet.server]]
        name = "primary"
        role = "primary"
        phones = { softphone = 5 }
        [[fleet.server]]
        name = "secondary"
        role = "secondary"
        [[fault]]
        at = "2m"
        crash = "primary"
        [[expect]]
        no-failover = { of = "primary" }
        "#,
    );
    let o = run_sim(&s);
    assert_passed(&o);
    // The secondary notices the loss but no physical phone triggers a failover.
    assert_eq!(
        events(&o, |e| matches!(
            e.event,
            Event::PeerLost {
                backing_up: true,
                ..
            }
        ))
        .len(),
        1
    );
    assert!(events(&o, |e| matches!(e.event, Event::FailoverStarted { .. })).is_empty());
}

#[test]
fn a_takeover_expectation_fails_when_its_bound_is_too_tight() {
    let mut s = load("primary-crash.toml");
    if let fleetsim_model::Expectation::Takeover { within, .. } = &mut s.expectations[0].expect {
        *within = fleetsim_model::Dur::mins(1);
    }
    let o = run_sim(&s);
    assert!(!o.passed());
    assert!(
        o.expectations[0].detail.contains("over the bound"),
        "{}",
        o.expectations[0].detail
    );
}

#[test]
fn partitioned_primary_keeps_running_but_is_failed_over_and_handed_back() {
    let o = run_sim(&load("primary-isolated.toml"));
    assert_passed(&o);
    // Nothing crashed: the primary itself saw everyone else vanish.
    assert!(events(&o, |e| matches!(e.event, Event::ServerCrashed { .. })).is_empty());
    let primary_lost = events(&o, |e| {
        e.server == "primary" && matches!(e.event, Event::PeerLost { .. })
    });
    assert_eq!(primary_lost.len(), 4);
    // Phones noticed through deadlines, not resets.
    let lost = events(
        &o,
        |e| matches!(&e.event, Event::PhoneLost { reason, .. } if reason.contains("deadline")),
    );
    assert!(!lost.is_empty());
}

#[test]
fn metrics_come_from_the_event_log() {
    let o = run_sim(&load("expansion-crash.toml"));
    assert_passed(&o);
    let m = &o.metrics;
    assert_eq!(m.subject.as_deref(), Some("expansion-l"));
    let d = m.detection_ms.unwrap();
    let t = m.takeover_ms.unwrap();
    assert!((150_000..=180_000).contains(&d), "detection {d}");
    assert!(t >= d && t <= d + 60_000, "takeover {t}");
    assert_eq!(m.phones_moved, 8);
    assert!(m.max_phone_outage_ms >= t);
}

#[test]
fn a_sites_stall_costs_its_phones_the_same_outage_as_stalling_each_of_them() {
    let with = |faults: &str| {
        run_sim(&parse(&format!(
            "fleet = \"fleets/reference.toml\"\nduration = \"30m\"\n{faults}"
        )))
        .metrics
    };
    let site = with("[[fault]]\nat = \"5m\"\nstall = \"phones@expansion-l\"\nfor = \"5m\"\n");
    let each: String = (4001..=4008)
        .map(|p| format!("[[fault]]\nat = \"5m\"\nstall = \"{p}\"\nfor = \"5m\"\n"))
        .collect();
    let each = with(&each);
    assert!(site.max_phone_outage_ms >= 300_000, "{site:?}");
    assert_eq!(
        (site.max_phone_outage_ms, site.phones_with_outage),
        (each.max_phone_outage_ms, each.phones_with_outage)
    );
}

#[test]
fn a_short_partition_counts_only_its_own_outage() {
    let s = parse(
        r#"
        fleet = "fleets/reference.toml"
        duration = "15m"
        [[fault]]
        at = "5m"
        partition = [["primary"]]
        [[fault]]
        at = "5m20s"
        heal = true
        [[expect]]
        no-failover = { of = "primary" }
        "#,
    );
    let o = run_sim(&s);
    assert_passed(&o);
    assert_eq!(o.metrics.phones_unregistered_at_end, 0);
    assert!(o.metrics.max_phone_outage_ms < 120_000, "{:?}", o.metrics);
    assert!(o.metrics.phones_with_outage >= 1);
}

#[test]
fn a_faults_for_does_not_end_the_newer_fault_that_replaced_it() {
    // The first partition is healed, then another begins: the first's
    // `for` (due at 7m) has nothing left to end.
    let healed = parse(
        r#"
        fleet = "fleets/reference.toml"
        duration = "20m"
        [[fault]]
        at = "5m"
        partition = [["apps"]]
        for = "2m"
        [[fault]]
        at = "6m"
        heal = true
        [[fault]]
        at = "6m30s"
        partition = [["expansion-l"]]
        [[fault]]
        at = "8m"
        latency = { target = "expansion-v2", delay = "100ms" }
        for = "2m"
        [[fault]]
        at = "9m"
        latency = { target = "expansion-v2", delay = "300ms" }
        [[expect]]
        nothing-lost = true
        "#,
    );
    let o = run_sim(&healed);
    assert_ran(&o);
    let faults: Vec<u64> = events(&o, |e| matches!(e.event, Event::FaultApplied { .. }))
        .iter()
        .map(|e| e.t_ms)
        .collect();
    assert_eq!(faults, [300_000, 360_000, 390_000, 480_000, 540_000]);
    // The second partition holds to the end: expansion-l is lost to its peers.
    assert!(lost(&o, "secondary", "expansion-l") >= 1);
}

#[test]
fn the_metrics_follow_the_server_a_takeover_expectation_is_about() {
    let s = parse(
        r#"
        fleet = "fleets/reference.toml"
        duration = "30m"
        [[fault]]
        at = "5m"
        crash = "apps"
        [[fault]]
        at = "10m"
        crash = "primary"
        [[expect]]
        takeover = { of = "primary", within = "5m" }
        "#,
    );
    let o = run_sim(&s);
    assert_passed(&o);
    assert_eq!(o.metrics.subject.as_deref(), Some("primary"));
    assert!(o.metrics.takeover_ms.is_some(), "{:?}", o.metrics);
    // Without the expectation, the first server that homes phones that
    // fail over: the application server homes none.
    let mut bare = s.clone();
    bare.expectations.clear();
    assert_eq!(run_sim(&bare).metrics.subject.as_deref(), Some("primary"));
}

/// Events of kind `peer-lost` seen by `observer` about `peer`.
fn lost(o: &fleetsim_scenario::RunOutcome, observer: &str, peer: &str) -> usize {
    events(o, |e| {
        e.server == observer && matches!(&e.event, Event::PeerLost { peer: p, .. } if p == peer)
    })
    .len()
}

#[test]
fn a_hung_primary_is_found_out_by_deadlines_and_failed_over() {
    let o = run_sim(&load("primary-hang.toml"));
    assert_passed(&o);
    assert!(events(&o, |e| matches!(e.event, Event::ServerCrashed { .. })).is_empty());
    let reasons = events(
        &o,
        |e| matches!(&e.event, Event::PhoneLost { reason, .. } if reason.contains("deadline")),
    );
    assert_eq!(
        reasons.len(),
        18,
        "every primary phone notices through its deadline"
    );
}

#[test]
fn gray_presence_loss_makes_the_backup_ready_but_moves_no_phone() {
    let o = run_sim(&load("primary-gray-presence.toml"));
    assert_passed(&o);
    assert_eq!(lost(&o, "secondary", "primary"), 1);
    assert!(
        events(&o, |e| matches!(e.event, Event::PhoneLost { .. })).is_empty(),
        "telephony kept working"
    );
}

#[test]
fn one_way_loss_is_seen_first_by_the_receiving_side() {
    let o = run_sim(&load("one-way-loss.toml"));
    assert_passed(&o);
    let when = |observer: &str, peer: &str| {
        o.first(|e| {
            e.server == observer && matches!(&e.event, Event::PeerLost { peer: p, .. } if p == peer)
        })
        .map(|e| e.t_ms)
    };
    let receiver = when("secondary", "primary").expect("the secondary loses the primary");
    // Over TCP the loss turns two-way once a connection must be made again.
    if let Some(sender) = when("primary", "secondary") {
        assert!(sender > receiver, "the sending side notices later");
    }
}

#[test]
fn a_forward_clock_step_causes_false_peer_losses_within_seconds() {
    let o = run_sim(&load("clock-step.toml"));
    assert_passed(&o);
    let step = 5 * 60_000 + 10_000;
    let false_losses = events(&o, |e| {
        e.server == "secondary" && matches!(e.event, Event::PeerLost { .. })
    });
    assert_eq!(false_losses.len(), 4, "every peer of the secondary");
    assert!(
        false_losses
            .iter()
            .all(|e| e.t_ms >= step && e.t_ms < step + 30_000)
    );
    // Nobody else was fooled.
    assert_eq!(
        events(&o, |e| matches!(e.event, Event::PeerLost { .. })).len(),
        4
    );
}

#[test]
fn a_flapping_link_under_three_minutes_never_fails_over() {
    let o = run_sim(&load("expansion-flap.toml"));
    assert_passed(&o);
    assert_eq!(lost(&o, "secondary", "expansion-l"), 0);
    let s = load("expansion-flap.toml");
    assert_eq!(s.faults.len(), 20, "ten stalls and ten releases");
}

#[test]
fn latency_beyond_the_fast_response_timeout_strands_ip_phones_but_not_analogue() {
    let s = load("site-latency.toml");
    let o = run_sim(&s);
    assert_passed(&o);
    let analogue: Vec<&str> = s
        .fleet
        .phones
        .iter()
        .filter(|p| p.kind == fleetsim_model::PhoneKind::Analogue)
        .map(|p| p.extension.as_str())
        .collect();
    let lost_phones = events(&o, |e| matches!(e.event, Event::PhoneLost { .. }));
    assert!(!lost_phones.is_empty());
    assert!(lost_phones.iter().all(|e| match &e.event {
        Event::PhoneLost { phone, .. } => !analogue.contains(&phone.as_str()),
        _ => true,
    }));
    // Each registration answered too late is withdrawn: the phone stays
    // out of service from 5m40s to 15m, and the outage says so.
    assert!(
        o.metrics.max_phone_outage_ms >= 9 * 60_000,
        "withdrawn registrations are outage: {} ms",
        o.metrics.max_phone_outage_ms
    );
}

#[test]
fn a_glob_target_hits_every_matching_server() {
    let s = load("all-expansions-stop.toml");
    let stops: Vec<&str> = s
        .faults
        .iter()
        .filter_map(|f| match &f.kind {
            fleetsim_model::FaultKind::Stop { server } => Some(server.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(stops, ["expansion-l", "expansion-v2"]);
    let o = run_sim(&s);
    assert_passed(&o);
    assert_eq!(
        events(&o, |e| matches!(e.event, Event::ServerStopped { .. })).len(),
        2
    );
}

#[test]
fn a_panic_in_a_server_handler_makes_the_outcome_an_error_that_does_not_pass() {
    let s = load("primary-crash.toml");
    let opts = fleetsim_scenario::RunOptions {
        inject_panic: Some("primary".into()),
        ..Default::default()
    };
    let o = fleetsim_scenario::run(&s, &opts).unwrap();
    // The fleet recovers from the reset connection, so only the panic tells.
    assert!(o.expectations.iter().all(|e| e.passed));
    assert!(!o.passed());
    let err = o.error.as_ref().expect("the panic is the run's error");
    assert_eq!(err.panic_count, 1);
    assert_eq!(
        err.panics[0].message,
        "injected panic in a gRPC handler (test hook)"
    );
    assert!(err.panics[0].t_ms.is_some_and(|t| t < 5_000), "{err}");
    let failed = std::panic::catch_unwind(|| o.assert_passed()).unwrap_err();
    let failed = failed.downcast_ref::<String>().unwrap();
    assert!(failed.contains("error: the emulator panicked"), "{failed}");
    // The next run on this thread starts clean.
    assert!(run_sim(&s).error.is_none());
}

/// The phones that lost their gatekeeper in a run.
fn phones_lost(o: &fleetsim_scenario::RunOutcome) -> Vec<String> {
    let mut lost: Vec<String> = events(o, |e| matches!(e.event, Event::PhoneLost { .. }))
        .iter()
        .filter_map(|e| match &e.event {
            Event::PhoneLost { phone, .. } => Some(phone.clone()),
            _ => None,
        })
        .collect();
    lost.dedup();
    lost
}

/// The reference fleet for 15 minutes with `fault` (a fault table's body)
/// on phone 2011 at 5 minutes for 2 minutes.
fn fault_on_2011(fault: &str) -> fleetsim_scenario::RunOutcome {
    let s = parse(&format!(
        "fleet = \"fleets/reference.toml\"\nduration = \"15m\"\n[[fault]]\nat = \"5m\"\n{fault}\nfor = \"2m\"\n[[expect]]\nno-failover = {{ of = \"primary\" }}\n"
    ));
    run_sim(&s)
}

#[test]
fn a_stalled_phone_is_lost_alone_though_its_site_shares_one_connection() {
    // 2011 shares the primary site's connection with 17 other phones: its
    // held streams must not hold theirs.
    let o = fault_on_2011("stall = \"2011\"");
    assert_eq!(phones_lost(&o), vec!["2011".to_string()]);
}

#[test]
fn latency_above_the_deadline_on_one_phone_strands_only_that_phone() {
    let o = fault_on_2011("latency = { target = \"2011\", delay = \"5s\" }");
    assert_eq!(phones_lost(&o), vec!["2011".to_string()]);
    // Once the latency ends, it registers at home again.
    let back = events(&o, |e| {
        e.t_ms > 7 * 60_000
            && matches!(&e.event, Event::PhoneRegistered { phone, .. } if phone == "2011")
    });
    assert!(!back.is_empty(), "2011 never came back");
}

#[test]
fn phones_whose_server_is_down_from_the_start_are_out_for_the_whole_run() {
    let s = parse(
        r#"
name = "primary-down-from-the-start"
fleet = "fleets/reference.toml"
duration = "30m"

[[fault]]
at = "0s"
crash = "primary"
"#,
    );
    let o = run_sim(&s);
    let homed = s
        .fleet
        .phones
        .iter()
        .filter(|p| p.home == "primary")
        .count() as u32;
    let registered = events(
        &o,
        |e| matches!(&e.event, Event::PhoneRegistered { phone, .. } if phone.starts_with("20")),
    );
    assert!(registered.is_empty(), "{registered:?}");
    // Never registered is the worst outage there is, not none.
    assert_eq!(o.metrics.phones_unregistered_at_end, homed);
    assert_eq!(o.metrics.phones_with_outage, homed);
    assert_eq!(o.metrics.max_phone_outage_ms, 30 * 60_000);
}

#[test]
fn registrations_left_during_a_hang_expire_as_the_server_resumes() {
    // The phones leave the hung primary (their probes fail) and drop their
    // keepalive streams, but the hung server reads nothing until it
    // resumes: its first sweep must not take those streams for phones
    // still there.
    let o = fleetsim_scenario::ScenarioBuilder::on_builtin_fleet("reference")
        .seed(13)
        .duration("15m")
        .fault("5m", "hang = \"primary\"\nfor = \"5m10s\"")
        .run()
        .unwrap();
    let expired: Vec<u64> = (o.events.iter())
        .filter(|e| e.server == "primary")
        .filter(|e| matches!(&e.event, Event::RegistrationExpired { phone, .. } if phone == "2001"))
        .map(|e| e.t_ms)
        .collect();
    assert_eq!(expired, [610_000], "expired at the resume, 10m10s");
}

#[test]
fn a_server_whose_telephony_is_gray_tells_its_phones_nothing_and_lets_their_registrations_expire() {
    let o = fleetsim_scenario::ScenarioBuilder::on_builtin_fleet("reference")
        .duration("20m")
        .fault(
            "5m",
            "gray = { target = \"primary\", drop = [\"telephony\"] }\nfor = \"10m\"",
        )
        .run()
        .unwrap();
    let expired = (o.events.iter())
        .filter(|e| e.server == "primary")
        .filter(|e| matches!(&e.event, Event::RegistrationExpired { .. }))
        .map(|e| e.t_ms)
        .min()
        .expect("its registrations expire");
    assert!(
        (5 * 60_000..7 * 60_000).contains(&expired),
        "unrefreshed from the gray failure on: {expired}"
    );
}
