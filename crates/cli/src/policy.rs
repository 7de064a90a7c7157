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
            "unknown policy {name:?}{near}; the built-in policies are {} (see `fleetsim policies`); a policy of your own runs from Rust (docs/policies.md)",
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

/// A figure's cell as the one-policy summary says it: nothing where every
/// run failed in the emulator, and how many runs reached it when not all.
fn figure(r: &SweepReport, d: &Distribution, say: fn(&Distribution) -> String) -> String {
    let n = r.results.len();
    if n > 0 && r.errors().count() == n {
        return "no figures".into();
    }
    match d.n {
        0 => say(d),
        k if k == n => say(d),
        k => format!("{} ({k}/{n})", say(d)),
    }
}

/// Prints the reports of one sweep under several policies side by side.
pub(crate) fn table(reports: &[SweepReport]) {
    row("policy", reports, |r| r.policy.clone());
    row("(p50 / max; k/n: in k of n runs)", reports, |_| {
        String::new()
    });
    row("takeover", reports, |r| {
        if r.takeover_incomplete() {
            "never complete".into()
        } else {
            figure(r, &r.takeover_ms, time)
        }
    });
    row("phones moved", reports, |r| {
        figure(r, &r.phones_moved, count)
    });
    row("detection", reports, |r| figure(r, &r.detection_ms, time));
    row("longest phone outage", reports, |r| {
        figure(r, &r.max_phone_outage_ms, time)
    });
    row("phones unregistered at end", reports, |r| {
        figure(r, &r.phones_unregistered_at_end, count)
    });
    row("calls dropped", reports, |r| {
        figure(r, &r.calls_dropped, count)
    });
    row("split-brain findings", reports, |r| {
        figure(r, &r.split_brain, count)
    });
    row("messages + recordings lost", reports, |r| {
        figure(r, &r.lost, count)
    });
    row("runs failed", reports, |r| {
        let n = r.results.len();
        match r.errors().count() {
            0 => format!("{} of {n}", r.failures().count()),
            e => format!(
                "{} of {n}, {}",
                r.failures().count(),
                fleetsim_model::words::counted(e, "error", "errors")
            ),
        }
    });
}
