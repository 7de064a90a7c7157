//! Takeover policies on the command line: `--policy NAME`, `fleetsim
//! policies`, and the side-by-side table of a sweep under several policies.

use std::sync::Arc;

use fleetsim_model::human_ms;
use fleetsim_scenario::rules::{self, DEFAULT_POLICY};
use fleetsim_scenario::sweep::Distribution;
use fleetsim_scenario::{SweepReport, TakeoverPolicy};

/// A takeover policy given by name.
pub(crate) type Policy = Arc<dyn TakeoverPolicy>;

/// Parses `--policy NAME` (spaces around it ignored, as after a comma in
/// `--policy a, b`): a built-in policy, or an error listing them.
pub(crate) fn parse(name: &str) -> Result<Policy, String> {
    let name = name.trim();
    rules::by_name(name).ok_or_else(|| {
        let names: Vec<String> = rules::builtin()
            .iter()
            .map(|p| p.name().to_string())
            .collect();
        let near = fleetsim_model::suggest::nearest(name, names.iter().map(String::as_str))
            .map_or(String::new(), |n| format!(" (did you mean {n}?)"));
        format!(
            "unknown policy {name:?}{near}; the built-in policies are {} (see `fleetsim policies`)",
            names.join(", ")
        )
    })
}

/// `fleetsim policies`: one line per built-in policy.
pub(crate) fn list() {
    for p in rules::builtin() {
        let default = if p.name() == DEFAULT_POLICY {
            " (default)"
        } else {
            ""
        };
        outln!("{:<16} {}{default}", p.name(), p.summary());
    }
    outln!();
    outln!(
        "use one with `fleetsim run SCENARIO --policy NAME`; compare with `fleetsim sweep SCENARIO --seeds 20 --policy server-edition,quorum`"
    );
}

/// The `--policy X` a reproduce line needs (none for the default).
pub(crate) fn flag(name: &str) -> String {
    if name == DEFAULT_POLICY {
        String::new()
    } else {
        format!(" --policy {name}")
    }
}

/// One row of the side-by-side table: a label and a cell per report.
fn row(label: &str, reports: &[SweepReport], cell: impl Fn(&SweepReport) -> String) {
    let mut line = format!("  {label:<30}");
    for r in reports {
        line.push_str(&format!(" {:>22}", cell(r)));
    }
    outln!("{}", line.trim_end());
}

fn time(d: &Distribution) -> String {
    if d.n == 0 {
        "never".into()
    } else {
        format!("{} / {}", human_ms(d.p50), human_ms(d.max))
    }
}

fn count(d: &Distribution) -> String {
    format!("{} / {}", d.p50, d.max)
}

/// Prints the reports of one sweep under several policies side by side.
pub(crate) fn table(reports: &[SweepReport]) {
    row("policy", reports, |r| r.policy.clone());
    row("(p50 / max over the runs)", reports, |_| String::new());
    row("takeover", reports, |r| {
        if r.takeover_incomplete() {
            "never complete".into()
        } else {
            time(&r.takeover_ms)
        }
    });
    row("phones moved", reports, |r| count(&r.phones_moved));
    row("detection", reports, |r| time(&r.detection_ms));
    row("longest phone outage", reports, |r| {
        time(&r.max_phone_outage_ms)
    });
    row("phones unregistered at end", reports, |r| {
        count(&r.phones_unregistered_at_end)
    });
    row("calls dropped", reports, |r| count(&r.calls_dropped));
    row("split-brain findings", reports, |r| count(&r.split_brain));
    row("messages + recordings lost", reports, |r| count(&r.lost));
    row("runs failed", reports, |r| {
        let failed = r.results.iter().filter(|v| !v.passed).count();
        format!("{failed} of {}", r.results.len())
    });
}
