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

use std::fmt::Write as _;
use std::path::PathBuf;

use fleetsim_model::embedded::EmbeddedResolver;
use fleetsim_model::scenario::{DiskResolver, FleetResolver};
use std::sync::Arc;

use fleetsim_model::{LoadError, Scenario, Source};
use fleetsim_rules::TakeoverPolicy;

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
}

#[derive(Clone, Debug)]
enum FleetSource {
    BuiltIn(String),
    File(PathBuf),
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

impl ScenarioBuilder {
    /// On a built-in fleet (`"reference"` is `scenarios/fleets/reference.toml`).
    pub fn on_builtin_fleet(name: &str) -> ScenarioBuilder {
        let path = if name.ends_with(".toml") {
            name.to_string()
        } else {
            format!("fleets/{name}.toml")
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
        let _ = write!(self.body, "\n{}", e.into().to_toml());
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

    /// The scenario's TOML, as a file would hold it.
    pub fn to_toml(&self) -> String {
        let fleet = match &self.fleet {
            FleetSource::BuiltIn(p) => p.clone(),
            FleetSource::File(p) => p
                .file_name()
                .map_or(String::new(), |f| f.to_string_lossy().into_owned()),
        };
        format!(
            "name = {}\nfleet = {}\nseed = {}\nduration = {}\n{}",
            quoted(&self.name),
            quoted(&fleet),
            self.seed,
            quoted(&self.duration),
            self.body
        )
    }

    /// Validates and builds the scenario; errors are those a file would get.
    pub fn build(&self) -> Result<Scenario, LoadError> {
        let text = self.to_toml();
        let src = Source {
            name: "<built in code>",
            text: &text,
        };
        let resolver: Box<dyn FleetResolver> = match &self.fleet {
            FleetSource::BuiltIn(_) => Box::new(EmbeddedResolver),
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
