//! Scenarios built in code, for regression tests in a few lines. The builder
//! writes the same TOML a scenario file holds and parses it with the same
//! validation, so a built scenario can never be one a file could not be.
//!
//! A builder also carries the takeover policy to run under, so a test of
//! your own takeover logic is a few lines:
//!
//! ```
//! use std::time::Duration;
//! use fleetsim_scenario::{ScenarioBuilder, TakeoverPolicy, rules::Timers};
//!
//! /// Takes over after 40 s of silence instead of 3 minutes.
//! #[derive(Debug)]
//! struct Hasty;
//!
//! impl TakeoverPolicy for Hasty {
//!     fn name(&self) -> &str { "hasty" }
//!     fn summary(&self) -> &str { "fails over after 40 s of silence" }
//!     fn failover_after(&self, _: &Timers) -> Duration { Duration::from_secs(40) }
//! }
//!
//! // A 2-minute reboot of the primary: the documented guard rides it out...
//! let reboot = ScenarioBuilder::on_builtin_fleet("reference")
//!     .duration("20m")
//!     .crash("5m", "primary")
//!     .restart("7m", "primary")
//!     .expect_no_failover("primary");
//! assert!(reboot.run().unwrap().passed());
//! // ...and without it the primary's phones fail over and back.
//! assert!(!reboot.policy(Hasty).run().unwrap().passed());
//! ```
//!
//! The rest of a scenario file has its typed method too: the random call
//! workload ([`ScenarioBuilder::calls`]), `[resilience]` settings
//! ([`ScenarioBuilder::resilience`]), scripted calls
//! ([`ScenarioBuilder::call`]) and a fleet written inline
//! ([`ScenarioBuilder::on_inline_fleet`]). A run from async code awaits
//! [`ScenarioBuilder::run_async`] (in a `#[tokio::test]`, `run` works too,
//! blocking its thread):
//!
//! ```
//! use fleetsim_model::{CallKind, Calls, Event, VoicemailFailback};
//! use fleetsim_scenario::{ResilienceSetting, ScenarioBuilder};
//!
//! let fleet = r#"
//! [[server]]
//! name = "primary"
//! role = "primary"
//! phones = { sip = 4 }
//!
//! [[server]]
//! name = "secondary"
//! role = "secondary"
//! phones = { sip = 2 }
//! "#;
//! let scenario = ScenarioBuilder::on_inline_fleet(fleet)
//!     .duration("20m")
//!     // A few random calls, a third of them recorded...
//!     .calls(Calls { per_hour: 30, recorded: 333, ..Calls::default() })
//!     .resilience(ResilienceSetting::VoicemailFailback(VoicemailFailback::Manual))
//!     // ...and one call we know: 2001 calls 3001 at 2m, for 10 minutes.
//!     .call("2m", "2001", "3001", "10m", CallKind::TwoParty)
//!     .crash("5m", "primary");
//!
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let outcome = rt.block_on(scenario.run_async()).unwrap();
//! // Connected when the primary crashed: kept up, and ended at 12m.
//! let ended = outcome
//!     .first(|e| matches!(&e.event, Event::CallEnded { call, .. } if call == "s1-2001"))
//!     .unwrap();
//! assert_eq!(ended.t_ms, 12 * 60_000);
//! assert!(matches!(ended.event, Event::CallEnded { preserved: true, .. }));
//! ```

use std::fmt::Write as _;
use std::path::PathBuf;

use fleetsim_model::embedded::EmbeddedResolver;
use fleetsim_model::scenario::{DiskResolver, FleetResolver};
use std::sync::Arc;

use fleetsim_model::{
    CallKind, Calls, Dur, FailbackMode, FileError, LicenceRule, LoadError, Scenario, Source,
    VoicemailFailback,
};
use fleetsim_rules::TakeoverPolicy;
use serde::Serialize;

use crate::{RunError, RunOptions, RunOutcome};

/// Builds a [`Scenario`] in code.
///
/// Times and durations are human strings (`"5m"`, `"30s"`); targets are
/// server names, roles or globs, as in files.
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    fleet: FleetSource,
    name: String,
    seed: u64,
    duration: String,
    body: String,
    policy: Option<Arc<dyn TakeoverPolicy>>,
    /// `[calls]`, when set.
    calls: Option<Calls>,
    /// `[resilience]`: the settings replaced, by key.
    resilience: toml::Table,
    /// The first key chained onto a whole-run check, which takes none.
    stray: Option<Stray>,
}

/// A key chained onto a whole-run check (`Expect::nothing_lost().from(..)`).
#[derive(Clone, Debug)]
struct Stray {
    check: &'static str,
    key: String,
    /// Where in `body` its line starts.
    at: usize,
}

#[derive(Clone, Debug)]
enum FleetSource {
    BuiltIn(String),
    File(PathBuf),
    /// A fleet file's text, written into the scenario as `[fleet]`.
    Inline(String),
}

/// Where an inline fleet's text is named in errors about it.
const INLINE_FLEET: &str = "<inline fleet>";

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

impl ScenarioBuilder {
    /// On a built-in fleet (`"reference"` is `scenarios/fleets/reference.toml`;
    /// `"builtin:reference"`, `"reference.toml"` and `"fleets/reference.toml"`
    /// name it too).
    pub fn on_builtin_fleet(name: &str) -> ScenarioBuilder {
        let bare = name
            .strip_prefix(fleetsim_model::embedded::BUILTIN)
            .unwrap_or(name);
        let path = if bare.contains('/') {
            format!("{}.toml", bare.trim_end_matches(".toml"))
        } else {
            format!("fleets/{}.toml", bare.trim_end_matches(".toml"))
        };
        ScenarioBuilder::with(FleetSource::BuiltIn(path))
    }

    /// On a fleet file on disk.
    pub fn on_fleet_file(path: impl Into<PathBuf>) -> ScenarioBuilder {
        ScenarioBuilder::with(FleetSource::File(path.into()))
    }

    fn with(fleet: FleetSource) -> ScenarioBuilder {
        ScenarioBuilder {
            fleet,
            name: "built-in-code".into(),
            seed: 1,
            duration: "1h".into(),
            body: String::new(),
            policy: None,
            calls: None,
            resilience: toml::Table::new(),
            stray: None,
        }
    }

    /// Names the scenario.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the emulated length of the run.
    pub fn duration(mut self, d: &str) -> Self {
        self.duration = d.to_string();
        self
    }

    /// Adds a fault written as in a file, e.g. `fault("5m", "crash = \"primary\"")`
    /// or `fault("5m", "latency = { target = \"expansion-v2\", delay = \"300ms\" }")`.
    pub fn fault(mut self, at: &str, action: &str) -> Self {
        let _ = write!(self.body, "\n[[fault]]\nat = {}\n{action}\n", quoted(at));
        self
    }

    /// Crashes `target` at `at`.
    pub fn crash(self, at: &str, target: &str) -> Self {
        let a = format!("crash = {}", quoted(target));
        self.fault(at, &a)
    }

    /// Restarts `target` at `at`.
    pub fn restart(self, at: &str, target: &str) -> Self {
        let a = format!("restart = {}", quoted(target));
        self.fault(at, &a)
    }

    /// Cuts `nodes` off from everything else at `at` for `for_`.
    pub fn isolate(self, at: &str, nodes: &[&str], for_: &str) -> Self {
        let list: Vec<String> = nodes.iter().map(|n| quoted(n)).collect();
        let a = format!(
            "partition = [[{}]]\nfor = {}",
            list.join(", "),
            quoted(for_)
        );
        self.fault(at, &a)
    }

    /// Adds any expectation a file's `[[expect]]` can hold, e.g.
    /// `Expect::never("failover-started").on("secondary").to("fault 0 + 2m")`
    /// (see [`Expect`](crate::Expect)).
    pub fn expect(mut self, e: impl Into<crate::Expect>) -> Self {
        let e = e.into();
        let start = self.body.len() + 1;
        let _ = write!(self.body, "\n{}", e.to_toml());
        if self.stray.is_none()
            && let Some((check, key)) = e.stray_key()
        {
            let line = format!("\n{key} = ");
            let at = self.body[start..]
                .find(&line)
                .map_or(start, |i| start + i + 1);
            self.stray = Some(Stray { check, key, at });
        }
        self
    }

    /// Expects `of`'s backup to hold all its IP phones within `within` of the fault.
    pub fn expect_takeover(mut self, of: &str, within: &str) -> Self {
        let _ = write!(
            self.body,
            "\n[[expect]]\ntakeover = {{ of = {}, within = {} }}\n",
            quoted(of),
            quoted(within)
        );
        self
    }

    /// Expects `of` never to be failed over.
    pub fn expect_no_failover(mut self, of: &str) -> Self {
        let _ = write!(
            self.body,
            "\n[[expect]]\nno-failover = {{ of = {} }}\n",
            quoted(of)
        );
        self
    }

    /// Expects `to`'s phones home again within `within` of its return.
    pub fn expect_failback(mut self, to: &str, within: &str) -> Self {
        let _ = write!(
            self.body,
            "\n[[expect]]\nfailback = {{ to = {}, within = {} }}\n",
            quoted(to),
            quoted(within)
        );
        self
    }

    /// The scenario's TOML, as a file would hold it (an inline fleet as
    /// `[fleet]`, after everything else).
    pub fn to_toml(&self) -> String {
        let fleet = match &self.fleet {
            FleetSource::BuiltIn(p) => format!("fleet = {}\n", quoted(p)),
            FleetSource::File(p) => format!(
                "fleet = {}\n",
                quoted(
                    &p.file_name()
                        .map_or(String::new(), |f| { f.to_string_lossy().into_owned() })
                )
            ),
            FleetSource::Inline(_) => String::new(),
        };
        let mut text = format!(
            "name = {}\n{fleet}seed = {}\nduration = {}\n{}",
            quoted(&self.name),
            self.seed,
            quoted(&self.duration),
            self.body
        );
        text.push_str(&self.tables());
        text
    }

    /// `[calls]`, `[resilience]` and an inline `[fleet]`, as set.
    fn tables(&self) -> String {
        let mut t = toml::Table::new();
        if let Some(c) = &self.calls {
            t.insert("calls".into(), crate::chaos::file::calls_table(c));
        }
        if !self.resilience.is_empty() {
            t.insert("resilience".into(), self.resilience.clone().into());
        }
        if let FleetSource::Inline(text) = &self.fleet {
            // Not TOML: `build` refuses it, located in the fleet's text.
            let fleet: toml::Table = toml::from_str(text).unwrap_or_default();
            t.insert("fleet".into(), fleet.into());
        }
        if t.is_empty() {
            return String::new();
        }
        let tables = toml::to_string(&t).expect("a TOML table serialises");
        format!("\n{tables}")
    }

    /// Validates and builds the scenario; errors are those a file would get.
    pub fn build(&self) -> Result<Scenario, LoadError> {
        if let FleetSource::Inline(text) = &self.fleet {
            inline_fleet_is_toml(text)?;
        }
        let text = self.to_toml();
        let src = Source {
            name: "<built in code>",
            text: &text,
        };
        if let FleetSource::BuiltIn(p) = &self.fleet
            && fleetsim_model::embedded::fleet_file(p).is_none()
        {
            // Said for the builder's argument, not a file's `fleet = …`.
            let name = p.trim_start_matches("fleets/").trim_end_matches(".toml");
            let at = text
                .find("fleet = ")
                .map_or(0..0, |i| i + 8..text.len().min(i + 8 + p.len() + 2));
            return Err(src
                .error(
                    at,
                    Some("fleet"),
                    fleetsim_model::embedded::unknown_fleet(name),
                    Some("on_builtin_fleet takes a built-in fleet's name (\"reference\"); on_fleet_file a path".into()),
                )
                .into());
        }
        if let FleetSource::File(p) = &self.fleet
            && let Err(e) = std::fs::metadata(p)
        {
            // Said for the builder's argument: there is no scenario file.
            let at = text.find("fleet = ").map_or(0..0, |i| i + 8..i + 8);
            return Err(src
                .error(
                    at,
                    Some("fleet"),
                    format!("on_fleet_file({}): {e}", p.display()),
                    Some("give on_fleet_file the path of a fleet file (relative to the working directory), or on_builtin_fleet a built-in's name (\"reference\")".into()),
                )
                .into());
        }
        if let Some(stray) = &self.stray {
            let body_at = text.find(&self.body).unwrap_or_default();
            return Err(stray_error(&src, body_at, stray).into());
        }
        let resolver: Box<dyn FleetResolver> = match &self.fleet {
            FleetSource::BuiltIn(_) | FleetSource::Inline(_) => Box::new(EmbeddedResolver),
            FleetSource::File(p) => Box::new(DiskResolver {
                base: p.parent().map(PathBuf::from).unwrap_or_default(),
            }),
        };
        Scenario::parse(&src, resolver.as_ref())
    }

    /// The takeover policy the servers decide by (default: the documented
    /// Server Edition behaviour, [`fleetsim_rules::ServerEdition`]).
    pub fn policy(mut self, policy: impl TakeoverPolicy + 'static) -> Self {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// Runs under a policy already shared, such as a built-in from
    /// [`crate::rules::by_name`] or [`crate::rules::builtin`], so a loop
    /// can run the same scenario under each of them and yours.
    pub fn shared_policy(mut self, policy: Arc<dyn TakeoverPolicy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Options that run the scenario in sim mode under the builder's policy.
    pub fn run_options(&self) -> RunOptions {
        let mut opts = RunOptions::default();
        if let Some(p) = &self.policy {
            opts.policy = p.clone();
        }
        opts
    }

    /// Builds the scenario and runs it in sim mode under the builder's policy.
    pub fn run(&self) -> Result<RunOutcome, RunError> {
        let scenario = self.build()?;
        crate::run(&scenario, &self.run_options())
    }
}

/// Refuses an inline fleet that is not TOML, located in its own text.
fn inline_fleet_is_toml(text: &str) -> Result<(), LoadError> {
    let src = Source {
        name: INLINE_FLEET,
        text,
    };
    toml::from_str::<toml::Table>(text).map_err(|e| LoadError::from(src.toml_error(&e)))?;
    Ok(())
}

/// One `[resilience]` setting a scenario replaces (docs/file-format.md,
/// `[resilience]`; each is the [`fleetsim_model::Resilience`] field of the
/// same name, with its meaning and default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResilienceSetting {
    /// `licence-rule`: current (30 days, kept across restarts) or older.
    LicenceRule(LicenceRule),
    /// `licence-grace`: the grace period's length.
    LicenceGrace(Dur),
    /// `licence-renew`: how often licences are renewed with the primary.
    LicenceRenew(Dur),
    /// `portal-failover-after`: the backup one-X Portal's silence timer.
    PortalFailoverAfter(Dur),
    /// `portal-failback`: automatic or manual.
    PortalFailback(FailbackMode),
    /// `voicemail-failback`: manual, graceful or automatic.
    VoicemailFailback(VoicemailFailback),
    /// `voicemail-failback-timeout`: automatic failback at the latest (≤ 60 min).
    VoicemailFailbackTimeout(Dur),
    /// `phone-failback`: automatic or manual (H.323 phones only).
    PhoneFailback(FailbackMode),
    /// `homeless-prevention`: the window after failback.
    HomelessPrevention(Dur),
    /// `dect-poll`: the IP DECT master base's poll interval.
    DectPoll(Dur),
    /// `dect-switch-after`: an IP DECT base switches after failing polls this long.
    DectSwitchAfter(Dur),
    /// `media-preservation`: connected calls survive their server's loss.
    MediaPreservation(bool),
    /// `preservation-limit`: a preserved call lasts at most this.
    PreservationLimit(Dur),
    /// `media-collect-interval`: Media Manager's collection interval.
    MediaCollectInterval(Dur),
}

/// A whole-run check with a key chained onto it, said for the builder
/// call; `body_at` is where the builder's body starts in `src`.
fn stray_error(src: &Source<'_>, body_at: usize, s: &Stray) -> Box<FileError> {
    let at = body_at + s.at;
    let method = match s.key.as_str() {
        "server" => ".on(..)".to_string(),
        "where" => ".with(..)".to_string(),
        k => format!(".{}(..)", k.replace('-', "_")),
    };
    src.error(
        at..at + s.key.len(),
        Some(&s.key),
        format!("{} is a whole-run check: it takes no {method}", s.check),
        Some(format!(
            "remove {method}; a window, a server and fields belong to never, eventually, count and state"
        )),
    )
}

/// Scenario-file tables beyond faults and expectations: the call workload,
/// resilience settings, scripted calls, an inline fleet, and async runs.
impl ScenarioBuilder {
    /// On a fleet written inline: `fleet` is a fleet file's text (as in
    /// `scenarios/fleets/`), put into the scenario as its `[fleet]` table.
    /// A fleet that is not TOML is refused by [`Self::build`] with the line
    /// and column in `fleet`; other errors name the line in [`Self::to_toml`].
    pub fn on_inline_fleet(fleet: &str) -> ScenarioBuilder {
        ScenarioBuilder::with(FleetSource::Inline(fleet.to_string()))
    }

    /// The random call and portal workload (`[calls]`); shares are per
    /// mille, as in [`Calls`]: `Calls { per_hour: 600, held: 200,
    /// ..Calls::default() }` is 600 calls an hour, a fifth of them held.
    /// A second call replaces the first.
    pub fn calls(mut self, calls: Calls) -> Self {
        self.calls = Some(calls);
        self
    }

    /// Replaces one setting of the fleet's `[resilience]` for this
    /// scenario; the others stay the fleet's. Call it once per setting (a
    /// setting given twice keeps the last).
    pub fn resilience(mut self, setting: ResilienceSetting) -> Self {
        let pair = toml::Table::try_from(setting).expect("a setting is one key and its value");
        self.resilience.extend(pair);
        self
    }

    /// A scripted call (`[[call]]`): at `at`, extension `from` places a
    /// call of `kind` to `to` that lasts `lasts` (docs/file-format.md says
    /// what `to` names for each kind). Its events carry the call id
    /// `s<N>-<from>`, N its place among the scripted calls, from 1.
    pub fn call(self, at: &str, from: &str, to: &str, lasts: &str, kind: CallKind) -> Self {
        self.scripted(at, from, to, lasts, kind, false)
    }

    /// A scripted call, as [`Self::call`], that is recorded (VRL).
    pub fn recorded_call(
        self,
        at: &str,
        from: &str,
        to: &str,
        lasts: &str,
        kind: CallKind,
    ) -> Self {
        self.scripted(at, from, to, lasts, kind, true)
    }

    fn scripted(
        mut self,
        at: &str,
        from: &str,
        to: &str,
        lasts: &str,
        kind: CallKind,
        recorded: bool,
    ) -> Self {
        let _ = write!(
            self.body,
            "\n[[call]]\nat = {}\nfrom = {}\nto = {}\nlasts = {}\nkind = {}\n",
            quoted(at),
            quoted(from),
            quoted(to),
            quoted(lasts),
            quoted(kind.as_str())
        );
        if recorded {
            self.body.push_str("recorded = true\n");
        }
        self
    }

    /// Builds the scenario and awaits its run in sim mode under the
    /// builder's policy, without blocking the caller's runtime
    /// ([`crate::run_async`]).
    pub async fn run_async(&self) -> Result<RunOutcome, RunError> {
        let scenario = self.build()?;
        crate::run_async(&scenario, &self.run_options()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_resilience_setting_is_a_key_of_the_resilience_table() {
        let keys = toml::Table::try_from(fleetsim_model::Resilience::default()).unwrap();
        let settings = [
            ResilienceSetting::LicenceRule(LicenceRule::Older),
            ResilienceSetting::LicenceGrace(Dur::days(1)),
            ResilienceSetting::LicenceRenew(Dur::mins(1)),
            ResilienceSetting::PortalFailoverAfter(Dur::mins(1)),
            ResilienceSetting::PortalFailback(FailbackMode::Manual),
            ResilienceSetting::VoicemailFailback(VoicemailFailback::Manual),
            ResilienceSetting::VoicemailFailbackTimeout(Dur::mins(1)),
            ResilienceSetting::PhoneFailback(FailbackMode::Manual),
            ResilienceSetting::HomelessPrevention(Dur::mins(1)),
            ResilienceSetting::DectPoll(Dur::secs(10)),
            ResilienceSetting::DectSwitchAfter(Dur::mins(1)),
            ResilienceSetting::MediaPreservation(false),
            ResilienceSetting::PreservationLimit(Dur::mins(1)),
            ResilienceSetting::MediaCollectInterval(Dur::mins(1)),
        ];
        for s in settings {
            let pair = toml::Table::try_from(s).unwrap();
            let key = pair.keys().next().unwrap();
            // `licence-grace` is unset by default, so not in the table.
            assert!(keys.contains_key(key) || key == "licence-grace", "{key}");
        }
        // One setting per field (licence-grace, unset, is not serialised).
        assert_eq!(settings.len(), keys.len() + 1);
    }

    #[test]
    fn resilience_settings_are_written_as_one_table() {
        let b = ScenarioBuilder::on_builtin_fleet("reference")
            .resilience(ResilienceSetting::VoicemailFailback(
                VoicemailFailback::Manual,
            ))
            .resilience(ResilienceSetting::PreservationLimit(Dur::mins(90)));
        let s = b.build().unwrap();
        assert_eq!(
            s.fleet.resilience.voicemail_failback,
            VoicemailFailback::Manual
        );
        assert_eq!(s.fleet.resilience.preservation_limit, Dur::mins(90));
    }
}
