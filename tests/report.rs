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
    let fleet = std::fs::read_to_string(root().join("scenarios/fleets/reference.toml")).unwrap();
    write(&dir, "fleets/reference.toml", &fleet);
    let s = write(
        &dir,
        "s.toml",
        "fleet = \"fleets/reference.toml\"\nduration = \"10m\"\n[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n[[expect]]\ntakeover = { of = \"primary\", within = \"1m\" }\n",
    );
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
