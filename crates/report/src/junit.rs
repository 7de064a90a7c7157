//! JUnit XML, so CI systems show each expectation as a test case.

use std::fmt::Write as _;

use fleetsim_scenario::{Mode, RunFailure, RunOutcome};

/// Escapes text for XML attributes and content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// One `<testsuite>` per run, one `<testcase>` per expectation, and when
/// the emulator itself failed one more test case, `emulator`, with an
/// `<error>` naming each panic.
pub fn render(o: &RunOutcome) -> String {
    let failures = o.expectations.iter().filter(|e| !e.passed).count();
    let errors = usize::from(o.error.is_some());
    // Nothing checked is one skipped case, so no CI reads it as a pass.
    let skipped = usize::from(o.expectations.is_empty());
    let n = o.expectations.len() + errors + skipped;
    let secs = o.wall_ms / 1000.0;
    let per_case = if n > 0 { secs / n as f64 } else { 0.0 };
    let suite = escape(&o.scenario);
    let mut x = String::new();
    let _ = writeln!(x, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        x,
        r#"<testsuites name="fleetsim" tests="{n}" failures="{failures}" errors="{errors}" time="{secs:.3}">"#
    );
    let _ = writeln!(
        x,
        r#"  <testsuite name="{suite}" tests="{n}" failures="{failures}" errors="{errors}" skipped="{skipped}" time="{secs:.3}">"#
    );
    let m = &o.metrics;
    let mode = match o.mode {
        Mode::Sim => "sim",
        Mode::Live => "live",
    };
    let props = [
        ("seed", o.seed.to_string()),
        ("policy", o.policy.clone()),
        ("mode", mode.to_string()),
        ("emulated_ms", o.duration_ms.to_string()),
        (
            "detection_ms",
            m.detection_ms.map_or("none".into(), |v| v.to_string()),
        ),
        (
            "takeover_ms",
            m.takeover_ms.map_or("none".into(), |v| v.to_string()),
        ),
        ("max_phone_outage_ms", m.max_phone_outage_ms.to_string()),
        ("phones_moved", m.phones_moved.to_string()),
    ];
    let _ = writeln!(x, "    <properties>");
    for (k, v) in props {
        let _ = writeln!(x, r#"      <property name="{k}" value="{}"/>"#, escape(&v));
    }
    let _ = writeln!(x, "    </properties>");
    if skipped > 0 {
        let _ = writeln!(
            x,
            r#"    <testcase classname="fleetsim.{suite}" name="no expectations" time="0.000"><skipped message="{}"/></testcase>"#,
            crate::NOTHING_CHECKED
        );
    }
    let again = escape(&rerun_line(o));
    for e in &o.expectations {
        let name = escape(&e.name);
        if e.passed {
            let _ = writeln!(
                x,
                r#"    <testcase classname="fleetsim.{suite}" name="{name}" time="{per_case:.3}">"#
            );
            let _ = writeln!(x, "      <system-out>{}</system-out>", escape(&e.detail));
            let _ = writeln!(x, "    </testcase>");
        } else {
            let detail = escape(&e.detail);
            // An attribute keeps one line; the body keeps every line.
            let message = escape(e.detail.lines().next().unwrap_or_default());
            let _ = writeln!(
                x,
                r#"    <testcase classname="fleetsim.{suite}" name="{name}" time="{per_case:.3}">"#
            );
            let _ = writeln!(
                x,
                r#"      <failure type="expectation" message="{message}">{detail}&#10;{again}</failure>"#
            );
            let _ = writeln!(x, "    </testcase>");
        }
    }
    if let Some(err) = &o.error {
        error_case(&mut x, err, &suite, &again);
    }
    let _ = writeln!(x, "  </testsuite>");
    let _ = writeln!(x, "</testsuites>");
    x
}

/// The line under a failure that says how to run it again.
fn rerun_line(o: &RunOutcome) -> String {
    format!("reproduce: {}", crate::again(o))
}

/// The `emulator` test case: an `<error>` with every panic kept.
fn error_case(x: &mut String, err: &RunFailure, suite: &str, again: &str) {
    let _ = writeln!(
        x,
        r#"    <testcase classname="fleetsim.{suite}" name="emulator" time="0.000">"#
    );
    let panics: Vec<String> = err.panics.iter().map(|p| escape(&p.to_string())).collect();
    let _ = writeln!(
        x,
        r#"      <error type="panic" message="{}">{}&#10;{again}</error>"#,
        escape(&err.message),
        panics.join("&#10;")
    );
    let _ = writeln!(x, "    </testcase>");
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(escape(r#"a<b & "c"'"#), "a&lt;b &amp; &quot;c&quot;&apos;");
        assert_eq!(escape("x\u{1}y"), "x?y");
    }
}
