//! Typed expectations for [`ScenarioBuilder::expect`](crate::ScenarioBuilder::expect):
//! any check a scenario file's `[[expect]]` can hold, written in Rust and
//! rendered to the same TOML, so it gets the same validation.
//!
//! ```
//! use fleetsim_scenario::{Expect, ScenarioBuilder};
//!
//! let outcome = ScenarioBuilder::on_builtin_fleet("reference")
//!     .duration("20m")
//!     .crash("5m", "primary")
//!     // The 3-minute rule: nothing fails over in the first two minutes...
//!     .expect(Expect::never("failover-started").to("fault 0 + 2m"))
//!     // ...then the secondary takes all 16 IP phones of the primary as guests,
//!     .expect(Expect::count("phone-registered").on("secondary").with("guest", true).exactly(16))
//!     // and phone 2011 is one of them ten minutes after the crash.
//!     .expect(Expect::phone("2011").on("secondary").as_guest(true).at("fault 0 + 10m"))
//!     .run()
//!     .unwrap();
//! outcome.assert_passed();
//! ```

use std::fmt::Write as _;

/// One expectation, as `[[expect]]` would hold it.
#[derive(Clone, Debug)]
pub struct Expect {
    check: &'static str,
    /// A check whose value is not a table (`nothing-lost = true`).
    scalar: Option<toml::Value>,
    entries: toml::Table,
    fields: toml::Table,
    name: Option<String>,
}

impl Expect {
    fn new(check: &'static str) -> Expect {
        Expect {
            check,
            scalar: None,
            entries: toml::Table::new(),
            fields: toml::Table::new(),
            name: None,
        }
    }

    fn set(mut self, key: &str, v: impl Into<toml::Value>) -> Expect {
        self.entries.insert(key.into(), v.into());
        self
    }

    fn event(check: &'static str, event: &str) -> Expect {
        Expect::new(check).set("event", event)
    }

    /// No `event` inside the window.
    pub fn never(event: &str) -> Expect {
        Expect::event("never", event)
    }

    /// At least one `event` inside the window.
    pub fn eventually(event: &str) -> Expect {
        Expect::event("eventually", event)
    }

    /// A number of `event`s inside the window: bound it with
    /// [`exactly`](Self::exactly), [`at_least`](Self::at_least) or
    /// [`at_most`](Self::at_most).
    pub fn count(event: &str) -> Expect {
        Expect::event("count", event)
    }

    /// Where phone `extension` is registered: [`on`](Self::on) a server or
    /// [`nowhere`](Self::nowhere), at a moment or throughout a window.
    pub fn phone(extension: &str) -> Expect {
        Expect::new("state").set("phone", extension)
    }

    /// `service` on `on` is `state` (`active`, `standby`, `down`).
    pub fn service(service: &str, on: &str, state: &str) -> Expect {
        Expect::new("state")
            .set("service", service)
            .set("on", on)
            .set("is", state)
    }

    /// `server`'s licence is `state` (`normal`, `grace`, `restricted`).
    pub fn licence(server: &str, state: &str) -> Expect {
        Expect::new("state").set("licence", server).set("is", state)
    }

    /// Hunt group `group` runs on `on` (`active`) or not.
    pub fn hunt_group(group: &str, on: &str, active: bool) -> Expect {
        let is = if active { "active" } else { "inactive" };
        Expect::new("state")
            .set("hunt-group", group)
            .set("on", on)
            .set("is", is)
    }

    /// Calls up in the fleet (or [`on`](Self::on) one server), bounded like a count.
    pub fn calls_up() -> Expect {
        Expect::new("state").set("calls-up", true)
    }

    /// `of`'s backup holds all its IP phones within `within` of the fault.
    pub fn takeover(of: &str, within: &str) -> Expect {
        Expect::new("takeover").set("of", of).set("within", within)
    }

    /// `of` is never failed over (and a fault visibly took effect).
    pub fn no_failover(of: &str) -> Expect {
        Expect::new("no-failover").set("of", of)
    }

    /// Every moved phone of `to` is home within `within` of its return.
    pub fn failback(to: &str, within: &str) -> Expect {
        Expect::new("failback").set("to", to).set("within", within)
    }

    /// The end-of-run audit finds no voicemail message and no recording lost.
    pub fn nothing_lost() -> Expect {
        let mut e = Expect::new("nothing-lost");
        e.scalar = Some(true.into());
        e
    }

    /// At least one split-brain finding (`true`: a service active on two
    /// servers at once), or none (`false`).
    pub fn split_brain(found: bool) -> Expect {
        let mut e = Expect::new("split-brain");
        e.scalar = Some(found.into());
        e
    }

    /// Bounds on calls dropped and preserved: add [`max_dropped`](Self::max_dropped),
    /// [`min_dropped`](Self::min_dropped), [`min_preserved`](Self::min_preserved).
    pub fn calls() -> Expect {
        Expect::new("calls")
    }

    /// At most `n` calls dropped (with [`calls`](Self::calls)).
    pub fn max_dropped(self, n: u32) -> Expect {
        self.set("max-dropped", i64::from(n))
    }

    /// At least `n` calls dropped (with [`calls`](Self::calls)).
    pub fn min_dropped(self, n: u32) -> Expect {
        self.set("min-dropped", i64::from(n))
    }

    /// At least `n` calls kept by media connection preservation.
    pub fn min_preserved(self, n: u32) -> Expect {
        self.set("min-preserved", i64::from(n))
    }

    /// At least `min` phones refused as guests on `on` because it was full.
    pub fn capacity_overflow(on: &str, min: u32) -> Expect {
        Expect::new("capacity-overflow")
            .set("on", on)
            .set("min", i64::from(min))
    }

    /// The server that takes over (a `takeover`; default the backup).
    pub fn by(self, server: &str) -> Expect {
        self.set("by", server)
    }

    /// The time in the run a `takeover` or `failback` bound counts from
    /// (`"5m"`); by default the fault that isolates, or the return.
    pub fn after(self, t: &str) -> Expect {
        self.set("after", t)
    }

    /// The event's server, or the server a state is checked on.
    pub fn on(self, server: &str) -> Expect {
        let key = if self.check == "state" {
            "on"
        } else {
            "server"
        };
        self.set(key, server)
    }

    /// A phone registered nowhere.
    pub fn nowhere(self) -> Expect {
        self.set("registered", false)
    }

    /// A phone registered as a guest (`true`) or at home (`false`).
    pub fn as_guest(self, guest: bool) -> Expect {
        self.set("guest", guest)
    }

    /// Only events whose `field` has `value` (strings may be globs: `"20*"`).
    pub fn with(mut self, field: &str, value: impl Into<toml::Value>) -> Expect {
        self.fields.insert(field.into(), value.into());
        self
    }

    /// Start of the window: a time (`"5m"`) or relative to a fault (`"fault 0 + 3m"`).
    pub fn from(self, t: &str) -> Expect {
        self.set("from", t)
    }

    /// End of the window (included).
    pub fn to(self, t: &str) -> Expect {
        self.set("to", t)
    }

    /// A single moment, for a state.
    pub fn at(self, t: &str) -> Expect {
        self.set("at", t)
    }

    /// Exactly `n`.
    pub fn exactly(self, n: u32) -> Expect {
        self.at_least(n).at_most(n)
    }

    /// At least `n`.
    pub fn at_least(self, n: u32) -> Expect {
        self.set("min", i64::from(n))
    }

    /// At most `n`.
    pub fn at_most(self, n: u32) -> Expect {
        self.set("max", i64::from(n))
    }

    /// The name reports show (default: derived from the check).
    pub fn named(mut self, name: &str) -> Expect {
        self.name = Some(name.into());
        self
    }

    /// A whole-run check with a key chained onto it: the check and the
    /// first such key (it takes no window, server or field).
    pub(crate) fn stray_key(&self) -> Option<(&'static str, String)> {
        self.scalar.as_ref()?;
        let key = self
            .entries
            .keys()
            .next()
            .cloned()
            .or_else(|| (!self.fields.is_empty()).then(|| "where".to_string()))?;
        Some((self.check, key))
    }

    /// The `[[expect]]` table, as a file would hold it.
    pub fn to_toml(&self) -> String {
        let mut entries = self.entries.clone();
        if !self.fields.is_empty() {
            entries.insert("where".into(), toml::Value::Table(self.fields.clone()));
        }
        let mut s = String::from("[[expect]]\n");
        if let Some(n) = &self.name {
            let _ = writeln!(s, "name = {}", toml::Value::from(n.as_str()));
        }
        match &self.scalar {
            Some(value) => {
                let _ = writeln!(s, "{} = {value}", self.check);
                // A whole-run check takes no window, server or field: keys
                // chained onto one are written beside it, so the file's own
                // validation refuses them by name instead of dropping them.
                for (k, v) in &entries {
                    let _ = writeln!(s, "{k} = {v}");
                }
            }
            None => {
                let _ = writeln!(s, "{} = {}", self.check, toml::Value::Table(entries));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_run_checks_render_as_a_file_would_write_them() {
        assert_eq!(
            Expect::nothing_lost().to_toml(),
            "[[expect]]\nnothing-lost = true\n"
        );
        assert_eq!(
            Expect::split_brain(false).to_toml(),
            "[[expect]]\nsplit-brain = false\n"
        );
        let calls = Expect::calls().max_dropped(0).min_preserved(1).to_toml();
        assert!(
            calls.contains("max-dropped = 0") && calls.contains("min-preserved = 1"),
            "{calls}"
        );
        let t = Expect::takeover("primary", "5m")
            .by("secondary")
            .after("5m")
            .to_toml();
        assert!(
            t.contains(r#"by = "secondary""#) && t.contains(r#"after = "5m""#),
            "{t}"
        );
    }

    #[test]
    fn a_count_renders_as_a_file_would_write_it() {
        let e = Expect::count("phone-registered")
            .on("expansion-v2")
            .with("guest", true)
            .exactly(184);
        let t = e.to_toml();
        assert!(t.starts_with("[[expect]]\ncount = {"), "{t}");
        for part in [
            "event = \"phone-registered\"",
            "server = \"expansion-v2\"",
            "min = 184",
            "max = 184",
            "where = { guest = true }",
        ] {
            assert!(t.contains(part), "{part} missing from {t}");
        }
    }
}
