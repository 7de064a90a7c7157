//! Reports: the HTML report is self-contained and shows what happened; JUnit
//! XML has one test case per expectation.

mod common;

use common::*;

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
        2
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
    assert!(xml.contains("<failure type=\"expectation\""), "{xml}");
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
    assert!(v.text.contains("PASSED (2/2 expectations)"), "{}", v.text);
    assert_eq!(v.json["passed"], true);
    assert!(v.json["error"].is_null());
    assert_eq!(v.json["expectations"].as_array().unwrap().len(), 2);
    assert_eq!(junit_counts(&v.junit), (2, 0, 0), "{}", v.junit);
    assert!(!v.junit.contains("<failure") && !v.junit.contains("<error"));
}

#[test]
fn a_panicking_server_handler_is_an_error_in_text_json_junit_and_exit_code_alike() {
    let dir = temp_dir("agree-panic");
    // The expectations of primary-crash hold: only the panic makes it an error.
    let v = verdicts(&dir, &["primary-crash", "--inject-panic", "primary"]);
    assert_eq!(v.code, 3, "{}", v.text_report);
    assert!(
        v.text.contains("ERROR: the emulator failed (1 panic)"),
        "{}",
        v.text
    );
    assert!(v.text_report.contains("Emulator error"));
    assert!(v.text_report.contains("injected panic in a gRPC handler"));
    assert_eq!(v.json["passed"], false);
    let err = &v.json["error"];
    assert_eq!(err["panic_count"], 1, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("the emulator panicked")
    );
    let location = err["panics"][0]["location"].as_str().unwrap();
    assert!(
        location.starts_with("crates/server/src/inject.rs:"),
        "{location}"
    );
    assert!(v.json["expectations"][0]["passed"] == true);
    assert_eq!(junit_counts(&v.junit), (2, 0, 1), "{}", v.junit);
    assert!(v.junit.contains(r#"name="emulator""#), "{}", v.junit);
    assert!(
        v.junit
            .contains(r#"<error type="panic" message="the emulator panicked"#)
    );
}
