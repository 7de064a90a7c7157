//! JUnit XML, so CI systems show each expectation as a test case; written
//! with quick-junit, which escapes every text and drops what XML forbids.

use std::time::Duration;

use fleetsim_scenario::{Mode, RunFailure, RunOutcome};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

/// One `<testsuite>` per run, one `<testcase>` per expectation, and when
/// the emulator itself failed one more test case, `emulator`, with an
/// `<error>` naming each panic. A run that checked nothing is one skipped
/// case, so no CI reads it as a pass.
pub fn render(o: &RunOutcome) -> String {
    let nothing_checked = o.expectations.is_empty();
    // The run's wall time is the suite's. Every case is judged from the
    // one event log it made, so none takes time of its own.
    let time = Duration::from_secs_f64(o.wall_ms.max(0.0) / 1000.0);
    let classname = format!("fleetsim.{}", o.scenario);
    let again = format!("reproduce: {}", crate::again(o));

    let mut suite = TestSuite::new(o.scenario.as_str());
    suite.set_time(time).add_properties(properties(o));
    if nothing_checked {
        let mut status = TestCaseStatus::skipped();
        status.set_message(crate::NOTHING_CHECKED);
        suite.add_test_case(case("no expectations", status, &classname));
    }
    for e in &o.expectations {
        let status = if e.passed {
            TestCaseStatus::success()
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            // An attribute keeps one line; the body keeps every line.
            status
                .set_type("expectation")
                .set_message(e.detail.lines().next().unwrap_or_default())
                .set_description(format!("{}\n{again}", e.detail));
            status
        };
        let mut c = case(&e.name, status, &classname);
        if e.passed {
            c.set_system_out(e.detail.as_str());
        }
        suite.add_test_case(c);
    }
    if let Some(err) = &o.error {
        suite.add_test_case(error_case(err, &classname, &again));
    }
    // `skipped` beside quick-junit's `disabled`: the attribute most CI
    // systems read.
    let skipped = suite.disabled.to_string();
    suite.extra.insert("skipped".into(), skipped.into());

    let mut report = Report::new("fleetsim");
    report.set_time(time).add_test_suite(suite);
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- JUnit report could not be written: {e} -->\n"))
}

/// The run's seed, policy, mode and headline metrics; a metric the run
/// never reached (no detection, no takeover) is left out, as JSON says
/// `null`.
fn properties(o: &RunOutcome) -> Vec<Property> {
    let m = &o.metrics;
    let mode = match o.mode {
        Mode::Sim => "sim",
        Mode::Live => "live",
    };
    let mut props = vec![
        Property::new("seed", o.seed.to_string()),
        Property::new("policy", o.policy.as_str()),
        Property::new("mode", mode),
        Property::new("emulated_ms", o.duration_ms.to_string()),
    ];
    let reached = [
        ("detection_ms", m.detection_ms),
        ("takeover_ms", m.takeover_ms),
    ];
    for (name, value) in reached {
        if let Some(v) = value {
            props.push(Property::new(name, v.to_string()));
        }
    }
    props.push(Property::new(
        "max_phone_outage_ms",
        m.max_phone_outage_ms.to_string(),
    ));
    props.push(Property::new("phones_moved", m.phones_moved.to_string()));
    props
}

/// A test case of this run's suite (no time of its own: see [`render`]).
fn case(name: &str, status: TestCaseStatus, classname: &str) -> TestCase {
    let mut c = TestCase::new(name, status);
    c.set_classname(classname).set_time(Duration::ZERO);
    c
}

/// The `emulator` test case: an `<error>` with every panic kept.
fn error_case(err: &RunFailure, classname: &str, again: &str) -> TestCase {
    let mut lines: Vec<String> = err.panics.iter().map(ToString::to_string).collect();
    lines.push(again.to_string());
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
    status
        .set_type("panic")
        .set_message(err.message.as_str())
        .set_description(lines.join("\n"));
    case("emulator", status, classname)
}
