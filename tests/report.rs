//! Reports: the HTML report is self-contained and shows what happened; JUnit
//! XML has one test case per expectation.

mod common;

use common::*;
use fleetsim_model::{Event, FaultKind, human_ms};
use fleetsim_report::text::{Line, Paint};

#[test]
fn html_report_is_self_contained_and_shows_lanes_chart_faults_events_and_verdict() {
    let dir = temp_dir("html");
    let path = dir.join("r.html");
    let out = fleetsim_out(&[
        "run",
        "primary-crash-and-return",
        "--report",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!doctype html>") && html.trim_end().ends_with("</html>"));
    // Nothing fetched from anywhere: no external scripts, styles, fonts or images.
    for needle in ["src=\"http", "href=\"http", "@import", "url(http"] {
        assert!(!html.contains(needle), "external resource: {needle}");
    }
    for server in [
        "primary",
        "secondary",
        "expansion-l",
        "expansion-v2",
        "apps",
    ] {
        assert!(
            html.contains(&format!(r#"class="lane">{server}</text>"#)),
            "no lane for {server}"
        );
    }
    assert!(
        html.contains(r#"class="fault"><title>crash primary</title>"#),
        "fault window not shaded"
    );
    assert!(
        html.contains("covering primary"),
        "the secondary's takeover is not drawn"
    );
    assert!(html.contains("Phones registered per server") && html.contains("<path d=\"M"));
    assert!(html.contains("FAILOVER of primary begins"));
    assert!(html.contains(r#"<span class="badge pass">PASSED</span>"#));
    assert_eq!(
        html.matches(r#"<span class="badge pass">PASS</span>"#)
            .count(),
        4
    );
}

#[test]
fn html_report_of_a_failing_run_says_so() {
    let dir = temp_dir("html-fail");
    let s = failing_scenario(&dir);
    let path = dir.join("r.html");
    let junit = dir.join("j.xml");
    let out = fleetsim_out(&[
        "run",
        s.to_str().unwrap(),
        "--report",
        path.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.contains(r#"<span class="badge fail">FAILED</span>"#));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"tests="1" failures="1""#), "{xml}");
    assert!(xml.contains("<failure message=\""), "{xml}");
    assert!(xml.contains("type=\"expectation\">"), "{xml}");
}

#[test]
fn junit_has_one_passing_test_case_per_expectation() {
    let dir = temp_dir("junit");
    let junit = dir.join("j.xml");
    let out = fleetsim_out(&[
        "run",
        "all-expansions-stop",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert_eq!(xml.matches("<testcase ").count(), 3);
    assert!(!xml.contains("<failure"));
    assert!(xml.contains(r#"<property name="seed" value="41"/>"#));
}

/// The counts a JUnit file declares on its suite: (tests, failures, errors).
#[test]
fn a_failing_run_says_failed_in_text_json_junit_and_exit_code_alike() {
    let dir = temp_dir("agree-fail");
    let s = failing_scenario(&dir);
    let v = verdicts(&dir, &[s.to_str().unwrap()]);
    assert_eq!(v.code, 1);
    assert!(
        v.text.contains("FAILED (0/1 expectations hold)"),
        "{}",
        v.text
    );
    assert_eq!(v.json["passed"], false);
    assert!(v.json["error"].is_null(), "{}", v.json["error"]);
    let failed_in_json = v.json["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["passed"] == false)
        .count();
    assert_eq!(failed_in_json, 1);
    assert_eq!(
        junit_counts(&v.junit),
        (1, failed_in_json, 0),
        "{}",
        v.junit
    );
    assert_eq!(v.junit.matches("<failure ").count(), 1, "{}", v.junit);
}

#[test]
fn a_passing_run_says_passed_in_text_json_junit_and_exit_code_alike() {
    let dir = temp_dir("agree-pass");
    let v = verdicts(&dir, &["primary-crash-and-return"]);
    assert_eq!(v.code, 0);
    assert!(v.text.contains("PASSED (4/4 expectations)"), "{}", v.text);
    assert_eq!(v.json["passed"], true);
    assert!(v.json["error"].is_null());
    assert_eq!(v.json["expectations"].as_array().unwrap().len(), 4);
    assert_eq!(junit_counts(&v.junit), (4, 0, 0), "{}", v.junit);
    assert!(!v.junit.contains("<failure") && !v.junit.contains("<error"));
}

#[test]
fn a_panicking_server_handler_is_an_error_in_text_json_junit_and_exit_code_alike() {
    assert_panic_is_an_error_everywhere(
        "primary",
        "injected panic in a gRPC handler",
        "crates/server/src/inject.rs:",
    );
}

#[test]
fn a_panic_in_work_a_handler_spawns_is_an_error_in_text_json_junit_and_exit_code_alike() {
    // The request that spawned the work is answered as usual: nobody awaits
    // the task, so only the panic hook sees it.
    assert_panic_is_an_error_everywhere(
        "spawned:primary",
        "injected panic in work a gRPC handler spawned",
        "crates/server/src/inject.rs:",
    );
}

#[test]
fn a_panic_in_a_phone_task_is_an_error_in_text_json_junit_and_exit_code_alike() {
    // 3001 is the secondary's: the primary's takeover holds without it.
    assert_panic_is_an_error_everywhere(
        "phone:3001",
        "injected panic in a phone task",
        "crates/phones/src/lib.rs:",
    );
}

/// Runs primary-crash (whose expectations hold) with a panic injected at
/// `site`, and checks that every channel says the emulator failed, with the
/// panic's `message` and a location starting with `location`.
fn assert_panic_is_an_error_everywhere(site: &str, message: &str, location: &str) {
    let dir = temp_dir(&format!("agree-panic-{}", site.replace(':', "-")));
    let v = verdicts(&dir, &["primary-crash", "--inject-panic", site]);
    assert_eq!(v.code, 3, "{}", v.text_report);
    assert!(
        v.text.contains("ERROR: the emulator failed (1 panic)"),
        "{}",
        v.text
    );
    assert!(v.text_report.contains("Emulator error"));
    assert!(v.text_report.contains(message), "{}", v.text_report);
    assert_eq!(v.json["passed"], false);
    let err = &v.json["error"];
    assert_eq!(err["panic_count"], 1, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("the emulator panicked")
    );
    let at = err["panics"][0]["location"].as_str().unwrap();
    assert!(at.starts_with(location), "{at}");
    assert!(v.json["expectations"][0]["passed"] == true);
    assert_eq!(junit_counts(&v.junit), (2, 0, 1), "{}", v.junit);
    assert!(v.junit.contains(r#"name="emulator""#), "{}", v.junit);
    assert!(
        v.junit.contains(r#"<error message="the emulator panicked"#),
        "{}",
        v.junit
    );
    assert!(v.junit.contains(r#"type="panic">"#), "{}", v.junit);
}

/// The text timeline of a run, uncoloured, grouped as printed.
fn timeline(o: &fleetsim_scenario::RunOutcome) -> Vec<Line> {
    fleetsim_report::text::timeline(o, false, &Paint(false))
}

/// The timeline line of `server` at `t_ms`, of event `kind`.
fn line_at<'a>(lines: &'a [Line], t_ms: u64, server: &str, kind: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.first == t_ms && l.server == server && l.kind == kind)
        .map(|l| l.text.as_str())
        .unwrap_or_else(|| panic!("no {kind} line of {server} at {t_ms} ms"))
}

/// The first timeline line of `server`, of event `kind`, saying `says`.
fn line_saying<'a>(lines: &'a [Line], server: &str, kind: &str, says: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.server == server && l.kind == kind && l.text.contains(says))
        .map(|l| l.text.as_str())
        .unwrap_or_else(|| panic!("no {kind} line of {server} saying {says:?}"))
}

#[test]
fn a_backup_of_a_softphone_only_home_says_it_has_no_physical_ip_phone_not_resilience_lost() {
    let o = run_sim(&load("softphone-only-site.toml"));
    let lost = o
        .first(|e| {
            e.server == "secondary"
                && matches!(&e.event, Event::PeerLost { peer, .. } if peer == "soft-site")
        })
        .expect("the secondary declares soft-site lost");
    let lines = timeline(&o);
    let text = line_at(&lines, lost.t_ms, "secondary", "peer-lost");
    assert!(
        text.contains("soft-site has no physical IP phone") && text.contains("nothing fails over"),
        "{text}"
    );
    assert!(!text.contains("resilience lost"), "{text}");
}

#[test]
fn a_backup_that_lost_the_records_of_ip_phones_still_says_resilience_lost() {
    let o = run_sim(&load("backup-restart-loses-resilience.toml"));
    let lost = o
        .first(|e| {
            e.server == "secondary"
                && matches!(
                    &e.event,
                    Event::PeerLost {
                        records_held: 0,
                        backing_up: true,
                        ..
                    }
                )
        })
        .expect("the restarted secondary declares the primary lost with no records");
    let lines = timeline(&o);
    let text = line_at(&lines, lost.t_ms, "secondary", "peer-lost");
    assert!(text.contains("resilience lost"), "{text}");
}

#[test]
fn a_hunt_group_stopping_on_its_own_server_reads_stops_running_here() {
    let o = run_sim(&load("primary-isolated.toml"));
    let stop = o
        .first(|e| {
            matches!(&e.event, Event::HuntGroupState { home, active: false, .. } if *home == e.server)
        })
        .expect("the returning primary stops running its own hunt group");
    let lines = timeline(&o);
    let text = line_at(&lines, stop.t_ms, &stop.server, "hunt-group-state");
    assert!(text.contains("stops running here"), "{text}");
    assert!(!text.contains("runs here"), "{text}");
}

#[test]
fn a_lost_peer_line_says_when_the_peer_was_last_heard_relative_to_the_fault() {
    let o = run_sim(&load("primary-crash.toml"));
    let crash = 5 * 60_000;
    let lost = o
        .first(|e| e.server == "secondary" && matches!(e.event, Event::PeerLost { .. }))
        .expect("the secondary declares the primary lost");
    let Event::PeerLost { silent_for_ms, .. } = lost.event else {
        unreachable!()
    };
    let heard = lost.t_ms - silent_for_ms;
    assert!(
        heard < crash,
        "presence is heard every 30 s up to the crash"
    );
    let expected = format!(
        "(last heard {} before the crash, so lost {} after it)",
        human_ms(crash - heard),
        human_ms(lost.t_ms - crash)
    );
    let lines = timeline(&o);
    let text = line_at(&lines, lost.t_ms, "secondary", "peer-lost");
    assert!(text.contains(&expected), "{text}\nexpected {expected}");
    let html = fleetsim_report::html::render(&o);
    assert!(
        html.contains(&expected),
        "the HTML report's events say it too"
    );
}

#[test]
fn a_restarted_backup_says_it_has_not_heard_the_home_since_it_started() {
    let o = run_sim(&load("backup-restart-loses-resilience.toml"));
    let restart = 27 * 60_000;
    let reason = o
        .events
        .iter()
        .filter(|e| e.server == "secondary" && e.t_ms > restart)
        .find_map(|e| match &e.event {
            Event::RegistrationRefused { reason, .. } if reason.contains("failover needs") => {
                Some(reason.clone())
            }
            _ => None,
        })
        .expect("the restarted secondary refuses guests before its own 3 minutes");
    assert!(
        reason.starts_with("primary not heard since this server started "),
        "{reason}"
    );
    let lost = o
        .first(|e| {
            e.server == "secondary" && e.t_ms > restart && matches!(e.event, Event::PeerLost { .. })
        })
        .expect("and declares it lost 3 minutes after its start");
    let lines = timeline(&o);
    let text = line_at(&lines, lost.t_ms, "secondary", "peer-lost");
    assert!(
        text.starts_with("has not heard primary since this server started 3m ago"),
        "{text}"
    );
}

#[test]
fn no_refusal_reads_as_silent_for_exactly_the_time_failover_needs() {
    for name in [
        "primary-hang.toml",
        "v2-capacity-overflow.toml",
        "voicemail-automatic-timeout.toml",
    ] {
        let o = run_sim(&load(name));
        for e in &o.events {
            let Event::RegistrationRefused { reason, .. } = &e.event else {
                continue;
            };
            let Some((heard, needs)) = reason.split_once(" ago; failover needs ") else {
                continue;
            };
            let silent = heard.rsplit(' ').next().unwrap();
            let needed = needs.split(' ').next().unwrap();
            assert_ne!(silent, needed, "{name}: {reason}");
        }
    }
}

#[test]
fn the_end_of_a_partition_names_the_partition_it_ends() {
    let o = run_sim(&load("homeless-prevention-window.toml"));
    let ends: Vec<&str> = o
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::FaultApplied {
                fault,
                spec: FaultKind::Partition { groups },
            } if groups.is_empty() => Some(fault.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        ends,
        [
            "end of the partition [primary] | rest: its groups reach each other again (one-way cuts stay)"
        ]
    );
}

#[test]
fn a_log_without_the_end_of_run_audit_says_losses_were_not_audited() {
    let s = load("primary-services-failover.toml");
    let mut o = run_sim(&s);
    // As a drill over member processes ends: no disk was read.
    o.events.retain(|e| !matches!(e.event, Event::Audit { .. }));
    o.metrics = fleetsim_scenario::Metrics::compute(&o.spec, &o.events);
    let left = (o.events.iter())
        .filter(|e| matches!(e.event, Event::VoicemailLeft { .. }))
        .count() as u32;
    assert!(left > 0, "the scenario leaves voicemail");
    assert!(o.metrics.unaudited);
    assert_eq!(o.metrics.messages_left, left);
    let text = fleetsim_report::text::render(&o, Default::default());
    assert!(text.contains("losses not audited"), "{text}");
    assert!(!text.contains("0 messages lost"), "{text}");
    let html = fleetsim_report::html::render(&o);
    assert!(html.contains("not audited"));
}

#[test]
fn a_fault_replaced_by_a_newer_one_on_the_same_link_ends_where_the_newer_one_begins() {
    let dir = temp_dir("html-replaced");
    let s = on_builtin_fleet(
        &dir,
        "s.toml",
        "[[fault]]\nat = \"2m\"\nlatency = { target = \"expansion-v2\", delay = \"300ms\" }\n\
         [[fault]]\nat = \"4m\"\nlatency = { target = \"expansion-v2\", delay = \"500ms\" }\n",
    );
    let path = dir.join("r.html");
    let out = fleetsim_out(&[
        "run",
        s.to_str().unwrap(),
        "--report",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let html = std::fs::read_to_string(&path).unwrap();
    // x and width of the (first) window titled `title`.
    let windows = fault_windows(&html);
    let rect = |title: &str| -> (f64, f64) {
        let (_, x, w) = (windows.iter())
            .find(|(t, _, _)| t == title)
            .unwrap_or_else(|| panic!("no window for {title}: {windows:?}"));
        (*x, *w)
    };
    let (x1, w1) = rect("latency 300ms ± 0s on expansion-v2");
    let (x2, w2) = rect("latency 500ms ± 0s on expansion-v2");
    // 2m–4m, then 4m to the end at 10m: the first ends where the second begins.
    assert!((x1 + w1 - x2).abs() < 0.2, "{x1} + {w1} vs {x2}");
    assert!((w2 / w1 - 3.0).abs() < 0.05, "{w1} {w2}");
}

#[test]
fn a_takeover_that_moved_some_phones_but_not_all_says_incomplete_not_a_dash() {
    let out = fleetsim_out(&["run", "split-network"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("takeover     incomplete  fault → every IP phone of primary on its backup (8 of its phones moved, not all)"),
        "{text}"
    );
}

/// Every fault window of an HTML report: (title, x, width).
fn fault_windows(html: &str) -> Vec<(String, f64, f64)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(end) = rest.find(r#"class="fault"><title>"#) {
        let start = rest[..end].rfind("<rect ").unwrap();
        let attr = |name: &str| -> f64 {
            let at = rest[start..end].find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            rest[start + at..]
                .split('"')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let t0 = end + r#"class="fault"><title>"#.len();
        let title = rest[t0..].split("</title>").next().unwrap().to_string();
        out.push((title, attr("x"), attr("width")));
        rest = &rest[t0..];
    }
    out
}

#[test]
fn a_fault_window_ends_at_the_heal_that_ends_it_not_at_the_end_of_the_run() {
    let o = run_sim(&parse(
        r#"
        fleet = "fleets/reference.toml"
        duration = "20m"
        [[fault]]
        at = "5m"
        one-way = { from = ["secondary"], to = ["primary"] }
        [[fault]]
        at = "5m"
        latency = { target = "expansion-v2", delay = "100ms" }
        for = "2m"
        [[fault]]
        at = "7m"
        heal = true
        "#,
    ));
    let windows = fault_windows(&fleetsim_report::html::render(&o));
    // Each chart draws both; every one lasts 5m to 7m, as the latency does.
    assert!(windows.len() >= 2, "{windows:?}");
    let (x, w) = (windows[0].1, windows[0].2);
    assert!(
        windows
            .iter()
            .all(|(_, x2, w2)| (x - x2).abs() < 0.2 && (w - w2).abs() < 0.2),
        "{windows:?}"
    );
}

#[test]
fn a_server_that_goes_down_stops_covering_the_home_it_covered() {
    let o = run_sim(&parse(
        r#"
        fleet = "fleets/reference.toml"
        duration = "30m"
        [[fault]]
        at = "5m"
        crash = "primary"
        [[fault]]
        at = "12m"
        restart = "primary"
        [[fault]]
        at = "14m"
        stop = "secondary"
        "#,
    ));
    let html = fleetsim_report::html::render(&o);
    let covering = html
        .split("covering primary · ")
        .nth(1)
        .expect("a covering span");
    assert!(
        covering.starts_with("0:07:") && covering.contains("–0:14:00"),
        "{}",
        &covering[..40]
    );
}

#[test]
fn a_backup_covers_its_home_until_its_last_guest_has_left_not_only_until_failback_starts() {
    // Two phones come back as guests in the homeless-prevention window after
    // failback starts (30m), and are sent home at about 35m: the backup
    // covers its home again from their return until they leave.
    let o = run_sim(&load("homeless-prevention-window.toml"));
    let failback = o
        .first(|e| matches!(e.event, Event::FailbackStarted { .. }))
        .expect("a failback")
        .t_ms;
    let last_guest_left = o
        .events
        .iter()
        .filter(|e| e.server == "secondary" && matches!(e.event, Event::PhoneSentHome { .. }))
        .map(|e| e.t_ms)
        .max()
        .expect("guests sent home");
    assert!(
        last_guest_left > failback + 60_000,
        "{failback} {last_guest_left}"
    );
    let html = fleetsim_report::html::render(&o);
    let covering = html
        .split("covering primary · ")
        .last()
        .expect("a covering span");
    let end = covering.split('–').nth(1).unwrap();
    assert!(
        end.starts_with(&fleetsim_report::text::clock(last_guest_left)),
        "{end} vs {}",
        fleetsim_report::text::clock(last_guest_left)
    );
}

#[test]
fn a_lost_peer_is_blamed_on_the_fault_still_in_force_not_one_that_ended() {
    // A 5-second partition, then a hang of apps that lasts: primary loses
    // apps to the hang.
    let o = run_sim(&parse(
        r#"
        fleet = "fleets/reference.toml"
        duration = "20m"
        [[fault]]
        at = "5m"
        partition = [["primary", "phones@primary"]]
        for = "5s"
        [[fault]]
        at = "5m1s"
        hang = "apps"
        for = "10m"
        "#,
    ));
    let lost = o
        .first(|e| {
            e.server == "primary"
                && matches!(&e.event, Event::PeerLost { peer, .. } if peer == "apps")
        })
        .expect("primary loses apps");
    let lines = timeline(&o);
    let text = line_at(&lines, lost.t_ms, "primary", "peer-lost");
    assert!(text.contains("before the hang"), "{text}");
}

#[test]
fn the_end_of_one_of_two_overlapping_hangs_does_not_read_as_the_server_resuming() {
    let o = fleetsim_scenario::ScenarioBuilder::on_builtin_fleet("reference")
        .duration("15m")
        .fault("5m", "hang = \"expansion-v2\"\nfor = \"2m\"")
        .fault("6m", "hang = \"expansion-v2\"\nfor = \"5m\"")
        .run()
        .unwrap();
    let said: Vec<(u64, &str)> = o
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::FaultApplied { fault, .. } => Some((e.t_ms / 60_000, fault.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        said[2..],
        [
            (
                7,
                "one hang of expansion-v2 ends; 1 more in force, so it stays hung"
            ),
            (11, "expansion-v2 resumes"),
        ],
        "{said:?}"
    );
}

#[test]
fn a_graceful_stop_of_a_hung_server_is_a_kill_for_it_cannot_wind_down() {
    let o = fleetsim_scenario::ScenarioBuilder::on_builtin_fleet("reference")
        .duration("15m")
        .fault("5m", "hang = \"expansion-l\"")
        .fault("6m", "stop = \"expansion-l\"")
        .run()
        .unwrap();
    let ends: Vec<&Event> = (o.events.iter())
        .filter(|e| e.server == "expansion-l")
        .map(|e| &e.event)
        .filter(|e| matches!(e, Event::ServerStopped { .. } | Event::ServerCrashed { .. }))
        .collect();
    assert!(
        matches!(ends[..], [Event::ServerCrashed { .. }]),
        "{ends:?}"
    );
    let said = (o.events.iter())
        .find_map(|e| match &e.event {
            Event::FaultApplied { fault, .. } if e.t_ms == 6 * 60_000 => Some(fault.as_str()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        said,
        "graceful stop of expansion-l: it is hung and cannot wind down, so it is killed"
    );
}

#[test]
fn the_verbose_timeline_says_something_of_every_event_calls_included() {
    for name in [
        "preserved-call-and-voicemail-handback.toml",
        "split-network.toml",
    ] {
        let o = run_sim(&load(name));
        let lines = fleetsim_report::text::timeline(&o, true, &Paint(false));
        let blank: Vec<_> = lines
            .iter()
            .filter(|l| l.text.trim().is_empty())
            .map(|l| (l.first, l.kind))
            .collect();
        assert!(blank.is_empty(), "{name}: {blank:?}");
    }
}

#[test]
fn a_licence_state_that_gives_way_at_once_draws_no_empty_span() {
    // The secondary restarts while the primary is down: it starts in
    // normal licensing and enters grace at the same instant; the chart
    // shows grace, not a normal span from 26:00 to 26:00.
    let o = fleetsim_scenario::ScenarioBuilder::on_builtin_fleet("reference")
        .duration("40m")
        .crash("5m", "primary")
        .crash("15m", "secondary")
        .restart("26m", "secondary")
        .run()
        .unwrap();
    let html = fleetsim_report::html::render(&o);
    let spans: Vec<&str> = html
        .split("licence ")
        .skip(1)
        .filter_map(|rest| rest.split_once(" · ").map(|(_, t)| t))
        .filter_map(|t| t.split(['<', '"']).next())
        .collect();
    assert!(!spans.is_empty(), "no licence spans");
    for span in spans {
        if let Some((from, to)) = span.split_once('–') {
            assert_ne!(from, to, "an empty span: {span}");
        }
    }
}

#[test]
fn the_phones_chart_keeps_guests_on_their_backup_when_their_hung_home_resumes_and_expires_them() {
    // The primary resumes at 17m and expires the registrations of phones
    // that moved to the secondary long before: they stay where they are.
    let o = run_sim(&parse(
        "name = \"hang-then-end\"\nfleet = \"builtin:reference\"\nduration = \"22m\"\nseed = 3\n\n\
         [[fault]]\nat = \"5m\"\nhang = \"primary\"\nfor = \"12m\"\n",
    ));
    let html = fleetsim_report::html::render(&o);
    let at_end = |server: &str| -> u32 {
        let key = format!("<title>{server} (");
        let rest = html
            .split(&key)
            .nth(1)
            .unwrap_or_else(|| panic!("no {server} series"));
        rest.split(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(at_end("secondary"), 22, "6 of its own and 16 guests");
    let all: u32 = ["primary", "secondary", "expansion-l", "expansion-v2"]
        .into_iter()
        .map(at_end)
        .sum();
    assert_eq!(all, 44 - o.metrics.phones_unregistered_at_end);
}

#[test]
fn a_hung_server_is_drawn_hung_in_its_swimlane_not_serving() {
    let o = run_sim(&load("primary-hang.toml"));
    let html = fleetsim_report::html::render(&o);
    assert!(
        html.contains(
            r#"class="hung" rx="2"><title>hung: alive, answering nothing · 0:05:00.000–0:20:00.000"#
        ),
        "no hung span 5m–20m on the primary's lane"
    );
    assert!(
        html.contains(r#"<span class="sw hung"></span>hung"#),
        "no legend"
    );
}

#[test]
fn ip_dect_handsets_without_the_ip_dect_option_are_said_to_stay_not_to_follow_their_base() {
    let o = run_sim(&load("dect-base-switch.toml"));
    let lines = timeline(&o);
    let site_b = line_saying(&lines, "site-b", "phone-lost", "IP DECT");
    assert!(
        site_b.contains("no IP DECT backup on its line")
            && site_b.contains("stay unregistered")
            && !site_b.contains("switches to the backup"),
        "{site_b}"
    );
    let lost = line_saying(&lines, "secondary", "peer-lost", "site-b is lost");
    assert!(
        lost.contains(
            "2 of its phones never move here (4003–4004): its line does not back up IP DECT phones"
        ),
        "{lost}"
    );
    // The handsets, refused on their base's clock, are no part of the SIP
    // phones' refusals.
    let refused: Vec<&str> = (lines.iter())
        .filter(|l| l.kind == "registration-refused" && l.text.contains("of primary"))
        .map(|l| l.text.as_str())
        .collect();
    assert!(
        refused
            .iter()
            .all(|t| t.contains("IP DECT handset") != t.contains("(2001–2002")),
        "{refused:#?}"
    );
}

#[test]
fn the_backup_says_which_phones_of_the_lost_home_never_move_and_why() {
    let o = run_sim(&load("primary-crash.toml"));
    let lines = timeline(&o);
    let lost = line_saying(&lines, "secondary", "peer-lost", "primary is lost");
    assert!(
        lost.contains("holds 16 of its phone records")
            && lost.contains(
                "2 of its phones never move here (2017–2018): softphones have no alternate gatekeeper"
            ),
        "{lost}"
    );
}

#[test]
fn registrations_answered_after_the_phone_gave_up_read_as_withdrawn_not_as_registered() {
    let o = run_sim(&load("site-latency.toml"));
    let lines = timeline(&o);
    let during = |kind: &str| {
        lines
            .iter()
            .filter(|l| l.kind == kind && l.first > 5 * MIN && l.last < 15 * MIN)
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
    };
    let registered = during("phone-registered");
    assert!(
        !registered.is_empty()
            && registered
                .iter()
                .all(|t| t.contains("too late") && t.contains("withdraws it")),
        "{registered:?}"
    );
    let dropped = during("phone-unregistered");
    assert!(
        !dropped.is_empty()
            && dropped
                .iter()
                .all(|t| t.contains("withdrawn by their phones")),
        "{dropped:?}"
    );
}

#[test]
fn a_group_of_phone_lines_ends_at_an_operator_reboot() {
    let o = run_sim(&load("h323-manual-failback.toml"));
    let lines = timeline(&o);
    let reboot = lines
        .iter()
        .position(|l| l.text.starts_with("ACTION: 18 phones are rebooted"))
        .expect("the operator reboots the primary's phones");
    for l in &lines[..reboot] {
        assert!(
            l.last <= 50 * MIN,
            "a line before the reboot runs past it: {}",
            l.text
        );
    }
}

#[test]
fn guests_taken_in_the_homeless_prevention_window_are_said_to_be_so_and_others_are_not() {
    let o = run_sim(&load("homeless-prevention-window.toml"));
    let lines = timeline(&o);
    let window = line_saying(&lines, "secondary", "phone-registered", "(2001–2002)");
    assert!(
        window.contains("in the homeless-prevention window of its failback at"),
        "{window}"
    );
    let takeover = line_saying(&lines, "secondary", "phone-registered", "(2001–2016)");
    assert!(!takeover.contains("homeless"), "{takeover}");
}
