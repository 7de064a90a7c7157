//! Scenario files: a fleet, a seed, a duration, timed faults and operator
//! actions, a call workload, expectations.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::assertion::{self, EventMatch, RawEvents, RawState, StateProbe, Window};
use crate::duration::Dur;
use crate::embedded;
use crate::error::{FileError, LoadError, Source};
use crate::fault::{Fault, RawFault};
use crate::fleet::{Fleet, RawFleet};
use crate::limits::MAX_PER_HOUR;

/// What the run must show.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Expectation {
    /// `by` holds every failover-eligible phone of `of` within `within` after `after`.
    Takeover {
        /// Failed system.
        of: String,
        /// Backup expected to take over.
        by: String,
        /// Bound.
        within: Dur,
        /// Start of the bound (the fault).
        after: Dur,
        /// The `[[fault]]` table `after` defaulted to (its `source`), so
        /// moving that fault moves it; `None` when `after` was given.
        #[serde(skip)]
        after_anchor: Option<usize>,
    },
    /// No phone of `of` moves and no server fails it over.
    NoFailover {
        /// System that must not be failed over.
        of: String,
    },
    /// Every phone of `to` that moved is home again within `within` after `after`.
    Failback {
        /// Home system.
        to: String,
        /// Bound.
        within: Dur,
        /// Start of the bound (the restart or heal).
        after: Dur,
        /// The `[[fault]]` table `after` defaulted to, as for a takeover.
        #[serde(skip)]
        after_anchor: Option<usize>,
    },
    /// `service` is in `state` (`active`, `standby`, `down`) on `on` at `at`.
    Service {
        /// Service name as in fleet files (`voicemail-pro`, ...).
        service: String,
        /// Server.
        on: String,
        /// Expected state.
        state: String,
        /// When.
        at: Dur,
    },
    /// `server`'s licence state is `state` (`normal`, `grace`, `restricted`) at `at`.
    Licence {
        /// Server.
        server: String,
        /// Expected state.
        state: String,
        /// When.
        at: Dur,
    },
    /// No voicemail message and no recording is lost (end-of-run audit).
    NothingLost,
    /// Bounds on calls dropped and preserved.
    Calls {
        /// At most this many calls dropped.
        max_dropped: Option<u32>,
        /// At least this many calls dropped.
        min_dropped: Option<u32>,
        /// At least this many calls preserved.
        min_preserved: Option<u32>,
    },
    /// A split-brain finding is (`true`) or is not (`false`) reported.
    SplitBrain {
        /// Whether one is expected.
        present: bool,
    },
    /// At least `min` guests were refused on `on` for lack of capacity.
    CapacityOverflow {
        /// Server.
        on: String,
        /// Least number of guests refused.
        min: u32,
    },
    /// No matching event inside the window.
    Never {
        /// The events.
        matching: EventMatch,
        /// When.
        window: Window,
    },
    /// At least one matching event inside the window.
    Eventually {
        /// The events.
        matching: EventMatch,
        /// When.
        window: Window,
    },
    /// Between `min` and `max` matching events inside the window.
    Count {
        /// The events.
        matching: EventMatch,
        /// When.
        window: Window,
        /// Least.
        min: Option<u32>,
        /// Most.
        max: Option<u32>,
    },
    /// Something the run tracks has a value at a moment, or throughout a window.
    State {
        /// What, and the value it must have.
        probe: StateProbe,
        /// When (a single moment for `at`).
        window: Window,
    },
}

/// The kind of a call of the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallKind {
    /// Connected two-party call.
    TwoParty,
    /// Conference.
    Conference,
    /// A call put on hold.
    Held,
    /// A call to a hunt group.
    HuntGroup,
    /// A call answered by voicemail.
    Voicemail,
    /// An external call over a trunk of an IP500 V2.
    External,
}

impl CallKind {
    /// Every kind of call.
    pub const ALL: [CallKind; 6] = [
        CallKind::TwoParty,
        CallKind::Conference,
        CallKind::Held,
        CallKind::HuntGroup,
        CallKind::Voicemail,
        CallKind::External,
    ];

    /// The name used in events.
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::TwoParty => "two-party",
            CallKind::Conference => "conference",
            CallKind::Held => "held",
            CallKind::HuntGroup => "hunt-group",
            CallKind::Voicemail => "voicemail",
            CallKind::External => "external",
        }
    }

    /// Whether media connection preservation keeps it up when its server
    /// fails: connected two-party and conference calls only (docs/domain-coverage.md §3);
    /// an external call is a connected two-party call over a trunk.
    pub fn preservable(self) -> bool {
        matches!(
            self,
            CallKind::TwoParty | CallKind::Conference | CallKind::External
        )
    }
}

/// The call workload of a scenario (`[calls]`), seeded like everything else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Calls {
    /// Calls started per hour across the fleet (0: none).
    pub per_hour: u32,
    /// Mean call length (exponentially distributed, at least 5 s).
    pub mean_duration: Dur,
    /// Per mille of calls that go to voicemail.
    pub voicemail: u32,
    /// Per mille of calls that are conferences.
    pub conference: u32,
    /// Per mille of calls that are put on hold.
    pub held: u32,
    /// Per mille of calls to a hunt group.
    pub hunt_group: u32,
    /// Per mille of external calls (over an IP500 V2's trunks).
    pub external: u32,
    /// Per mille of calls recorded (any kind but voicemail).
    pub recorded: u32,
    /// one-X Portal changes per hour across the fleet's users.
    pub portal_changes_per_hour: u32,
}

impl Calls {
    /// Whether the workload does anything.
    pub fn is_idle(&self) -> bool {
        self.per_hour == 0 && self.portal_changes_per_hour == 0
    }
}

impl Default for Calls {
    fn default() -> Self {
        Calls {
            per_hour: 0,
            mean_duration: Dur::mins(3),
            voicemail: 150,
            conference: 100,
            held: 100,
            hunt_group: 100,
            external: 100,
            recorded: 100,
            portal_changes_per_hour: 0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCalls {
    #[serde(default)]
    per_hour: Option<Spanned<u32>>,
    #[serde(default)]
    mean_duration: Option<Spanned<Dur>>,
    #[serde(default)]
    voicemail: Option<Spanned<f64>>,
    #[serde(default)]
    conference: Option<Spanned<f64>>,
    #[serde(default)]
    held: Option<Spanned<f64>>,
    #[serde(default)]
    hunt_group: Option<Spanned<f64>>,
    #[serde(default)]
    external: Option<Spanned<f64>>,
    #[serde(default)]
    recorded: Option<Spanned<f64>>,
    #[serde(default)]
    portal_changes_per_hour: Option<Spanned<u32>>,
}

impl RawCalls {
    fn validate(&self, src: &Source<'_>, table: Range<usize>) -> Result<Calls, Box<FileError>> {
        let d = Calls::default();
        let share = |v: &Option<Spanned<f64>>, field: &str, default: u32| match v {
            None => Ok(default),
            Some(x) if (0.0..=1.0).contains(x.get_ref()) => {
                Ok((x.get_ref() * 1000.0).round() as u32)
            }
            Some(x) => Err(src.error(
                x.span(),
                Some(&format!("calls.{field}")),
                format!("{} is not a share between 0 and 1", x.get_ref()),
                Some(format!("write e.g. {field} = 0.1 for one call in ten")),
            )),
        };
        let rate = |v: &Option<Spanned<u32>>, field: &str, default: u32| {
            match v {
            None => Ok(default),
            Some(x) if *x.get_ref() <= MAX_PER_HOUR => Ok(*x.get_ref()),
            Some(x) => Err(src.error(
                x.span(),
                Some(&format!("calls.{field}")),
                format!(
                    "{} per hour is more than the {MAX_PER_HOUR} fleetsim takes",
                    x.get_ref()
                ),
                Some("docs/domain-coverage.md's largest servers handle a few thousand concurrent calls".into()),
            )),
        }
        };
        let c = Calls {
            per_hour: rate(&self.per_hour, "per-hour", d.per_hour)?,
            mean_duration: self
                .mean_duration
                .as_ref()
                .map_or(d.mean_duration, |m| *m.get_ref()),
            voicemail: share(&self.voicemail, "voicemail", d.voicemail)?,
            conference: share(&self.conference, "conference", d.conference)?,
            held: share(&self.held, "held", d.held)?,
            hunt_group: share(&self.hunt_group, "hunt-group", d.hunt_group)?,
            external: share(&self.external, "external", d.external)?,
            recorded: share(&self.recorded, "recorded", d.recorded)?,
            portal_changes_per_hour: rate(
                &self.portal_changes_per_hour,
                "portal-changes-per-hour",
                d.portal_changes_per_hour,
            )?,
        };
        if let Some(m) = &self.mean_duration
            && (m.get_ref().0.is_zero() || *m.get_ref() > Dur::days(1))
        {
            return Err(src.error(
                m.span(),
                Some("calls.mean-duration"),
                format!("mean call length {} is out of range", m.get_ref()),
                Some("write e.g. mean-duration = \"3m\"".into()),
            ));
        }
        if c.voicemail + c.conference + c.held + c.hunt_group + c.external > 1000 {
            return Err(self.shares_error(src, table, &c));
        }
        Ok(c)
    }

    /// The shares add up to more than 1: located at the last share given
    /// (or the `[calls]` table), naming every share and its value.
    fn shares_error(&self, src: &Source<'_>, table: Range<usize>, c: &Calls) -> Box<FileError> {
        let given = [
            &self.voicemail,
            &self.conference,
            &self.held,
            &self.hunt_group,
            &self.external,
        ];
        let span = given
            .iter()
            .filter_map(|v| v.as_ref().map(Spanned::span))
            .max_by_key(|s| s.start)
            .unwrap_or(table);
        let shares = format!(
            "voicemail {} + conference {} + held {} + hunt-group {} + external {} = {}",
            per_mille(c.voicemail),
            per_mille(c.conference),
            per_mille(c.held),
            per_mille(c.hunt_group),
            per_mille(c.external),
            per_mille(c.voicemail + c.conference + c.held + c.hunt_group + c.external),
        );
        src.error(
            span,
            Some("calls.voicemail + conference + held + hunt-group + external"),
            format!("the call shares add up to more than 1: {shares}"),
            Some("each call is of one kind, the rest are plain two-party calls; the defaults are voicemail 0.15, conference 0.1, held 0.1, hunt-group 0.1, external 0.1: set the others lower (or 0) when you raise one".into()),
        )
    }
}

/// A per-mille share as a decimal (`150` → `0.15`).
fn per_mille(v: u32) -> String {
    format!("{}", f64::from(v) / 1000.0)
}

/// An expectation with its display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamedExpectation {
    /// Display name (given, or derived from the expectation).
    pub name: String,
    /// The check.
    #[serde(flatten)]
    pub expect: Expectation,
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Where it was loaded from.
    pub origin: String,
    /// The fleet.
    pub fleet: Fleet,
    /// Seed of every random choice.
    pub seed: u64,
    /// Emulated length of the run.
    pub duration: Dur,
    /// Faults, in time order.
    pub faults: Vec<Fault>,
    /// Expectations.
    pub expectations: Vec<NamedExpectation>,
    /// The call workload.
    pub calls: Calls,
    /// Arguments besides the scenario, seed and policy that the command
    /// rerunning it needs, one word each (`--fault-at`, `0=6m`, `--strict`):
    /// empty from a file; the command line adds what it applied.
    #[serde(skip)]
    pub rerun_args: Vec<String>,
    /// Scripted calls (`[[call]]`), in time order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scripted_calls: Vec<crate::call::ScriptedCall>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTakeover {
    of: Spanned<String>,
    #[serde(default)]
    by: Option<Spanned<String>>,
    within: Spanned<Dur>,
    #[serde(default)]
    after: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawNoFailover {
    of: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawFailback {
    to: Spanned<String>,
    within: Spanned<Dur>,
    #[serde(default)]
    after: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawService {
    name: Spanned<String>,
    on: Spanned<String>,
    state: Spanned<String>,
    at: Spanned<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLicence {
    server: Spanned<String>,
    state: Spanned<String>,
    at: Spanned<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCallBounds {
    #[serde(default)]
    max_dropped: Option<u32>,
    #[serde(default)]
    min_dropped: Option<u32>,
    #[serde(default)]
    min_preserved: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCapacity {
    on: Spanned<String>,
    #[serde(default = "one")]
    min: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawExpect {
    #[serde(default)]
    name: Option<Spanned<String>>,
    #[serde(default)]
    service: Option<Spanned<RawService>>,
    #[serde(default)]
    licence: Option<Spanned<RawLicence>>,
    #[serde(default)]
    nothing_lost: Option<Spanned<bool>>,
    #[serde(default)]
    calls: Option<Spanned<RawCallBounds>>,
    #[serde(default)]
    split_brain: Option<Spanned<bool>>,
    #[serde(default)]
    capacity_overflow: Option<Spanned<RawCapacity>>,
    #[serde(default)]
    takeover: Option<Spanned<RawTakeover>>,
    #[serde(default)]
    no_failover: Option<Spanned<RawNoFailover>>,
    #[serde(default)]
    failback: Option<Spanned<RawFailback>>,
    #[serde(default)]
    never: Option<Spanned<RawEvents>>,
    #[serde(default)]
    eventually: Option<Spanned<RawEvents>>,
    #[serde(default)]
    count: Option<Spanned<RawEvents>>,
    #[serde(default)]
    state: Option<Spanned<RawState>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawScenario<F> {
    #[serde(default)]
    name: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<Spanned<String>>,
    fleet: F,
    #[serde(default)]
    seed: Option<u64>,
    duration: Spanned<Dur>,
    #[serde(default)]
    fault: Vec<Spanned<RawFault>>,
    #[serde(default)]
    expect: Vec<Spanned<RawExpect>>,
    #[serde(default)]
    calls: Option<Spanned<RawCalls>>,
    #[serde(default)]
    call: Vec<Spanned<crate::call::RawCall>>,
    #[serde(default)]
    resilience: Option<Spanned<toml::Table>>,
}

/// Finds the text of a fleet file named by a scenario.
pub trait FleetResolver {
    /// Returns (display name, text) of the fleet at `path`, relative to the scenario.
    fn read(&self, path: &str) -> Result<(String, String), LoadError>;
}

/// Resolves fleet paths on disk, relative to the scenario's directory.
#[derive(Debug, Clone)]
pub struct DiskResolver {
    /// The scenario file's directory.
    pub base: PathBuf,
}

impl FleetResolver for DiskResolver {
    fn read(&self, path: &str) -> Result<(String, String), LoadError> {
        let full = self.base.join(path);
        let text = crate::read::read_text(&full)?;
        Ok((full.display().to_string(), text))
    }
}

impl Scenario {
    /// Loads a scenario file from disk (its fleet path is relative to it).
    pub fn load(path: &Path) -> Result<Scenario, LoadError> {
        let shown = path.display().to_string();
        let text = crate::read::read_text(path)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Scenario::parse(
            &Source {
                name: &shown,
                text: &text,
            },
            &DiskResolver { base },
        )
    }

    /// Parses and validates a scenario's text.
    pub fn parse(src: &Source<'_>, resolver: &dyn FleetResolver) -> Result<Scenario, LoadError> {
        // `fleet` is a path or an inline table: peek, then parse with spans intact.
        let peek: toml::Table = toml::from_str(src.text).map_err(|e| src.toml_error(&e))?;
        if Fleet::looks_like(src.text)
            || (peek.contains_key("server") && !peek.contains_key("fleet"))
        {
            return Err(src
                .error(0..0, None, "this is a fleet file, not a scenario",
                    Some("a scenario names its fleet: fleet = \"path/to/this.toml\", plus duration, faults and expectations".into()))
                .into());
        }
        match peek.get("fleet") {
            Some(toml::Value::Table(_)) => {
                let raw: RawScenario<RawFleet> =
                    toml::from_str(src.text).map_err(|e| src.toml_error(&e))?;
                let (rest, raw_fleet) = raw.split();
                let fleet = raw_fleet.validate(src).map_err(in_inline_fleet)?;
                Ok(rest.validate(src, fleet)?)
            }
            _ => {
                let raw: RawScenario<Spanned<String>> =
                    toml::from_str(src.text).map_err(|e| src.toml_error(&e))?;
                let (rest, path) = raw.split();
                let fleet = read_fleet(src, &path, resolver)?;
                Ok(rest.validate(src, fleet)?)
            }
        }
    }

    /// The seed, replaced.
    pub fn with_seed(mut self, seed: u64) -> Scenario {
        self.seed = seed;
        self
    }
}

/// An error of a fleet written inline (`[fleet]`): its fields and the
/// tables its hints name are under `fleet.`.
fn in_inline_fleet(mut e: Box<FileError>) -> Box<FileError> {
    e.field = e.field.map(|f| format!("fleet.{f}"));
    e.hint = e.hint.map(|h| {
        ["line", "server", "hunt-group"].iter().fold(h, |h, t| {
            h.replace(&format!("[[{t}]]"), &format!("[[fleet.{t}]]"))
        })
    });
    e
}

/// The fleet a scenario names: a built-in (`builtin:NAME`), or a path read
/// through `resolver`; an error at `fleet` says what would be right.
fn read_fleet(
    src: &Source<'_>,
    path: &Spanned<String>,
    resolver: &dyn FleetResolver,
) -> Result<Fleet, LoadError> {
    let wrong = |message: String, hint: String| -> LoadError {
        src.error(path.span(), Some("fleet"), message, Some(hint))
            .into()
    };
    let (name, text) = match path.get_ref().strip_prefix(embedded::BUILTIN) {
        Some(b) => match embedded::fleet_file(b) {
            Some((p, t)) => (embedded::shown(p), t.to_string()),
            None => {
                return Err(wrong(
                    format!("there is no built-in fleet {b:?}"),
                    embedded::builtin_fleet_hint(b),
                ));
            }
        },
        None => match resolver.read(path.get_ref()) {
            Ok(x) => x,
            Err(LoadError::Io { path: p, source }) => {
                return Err(wrong(
                    format!("cannot read fleet file {p}: {source}"),
                    embedded::fleet_hint(path.get_ref()),
                ));
            }
            Err(e) => return Err(e),
        },
    };
    Ok(Fleet::from_toml(&Source {
        name: &name,
        text: &text,
    })?)
}

struct RawRest {
    name: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    seed: Option<u64>,
    duration: Spanned<Dur>,
    fault: Vec<Spanned<RawFault>>,
    expect: Vec<Spanned<RawExpect>>,
    calls: Option<Spanned<RawCalls>>,
    call: Vec<Spanned<crate::call::RawCall>>,
    resilience: Option<Spanned<toml::Table>>,
}

impl<F> RawScenario<F> {
    fn split(self) -> (RawRest, F) {
        (
            RawRest {
                name: self.name,
                description: self.description,
                seed: self.seed,
                duration: self.duration,
                fault: self.fault,
                expect: self.expect,
                calls: self.calls,
                call: self.call,
                resilience: self.resilience,
            },
            self.fleet,
        )
    }
}

mod expect;

impl RawRest {
    fn validate(self, src: &Source<'_>, mut fleet: Fleet) -> Result<Scenario, Box<FileError>> {
        if let Some(r) = &self.resilience {
            fleet.resilience = override_resilience(src, &fleet.resilience, r)?;
        }
        let duration = *self.duration.get_ref();
        if duration.0.is_zero() {
            return Err(src.error(
                self.duration.span(),
                Some("duration"),
                "the run must last longer than zero",
                Some("write e.g. duration = \"1h\"".into()),
            ));
        }
        if duration > crate::limits::MAX_DURATION {
            return Err(src.error(
                self.duration.span(),
                Some("duration"),
                format!(
                    "{duration} is longer than the {} fleetsim runs",
                    crate::limits::MAX_DURATION
                ),
                Some("a 30-day licence grace fits easily: write e.g. duration = \"35d\"".into()),
            ));
        }
        let faults = crate::fault::resolve(src, &fleet, &self.fault, duration, true)?;

        let calls = match &self.calls {
            Some(c) => {
                let calls = c.get_ref().validate(src, c.span())?;
                calls_fit_the_run(src, c.span(), &calls, duration)?;
                calls
            }
            None => Calls::default(),
        };
        let scripted_calls = crate::call::resolve(src, &fleet, &self.call, duration)?;
        // The call ids the run can log, for assertions naming one.
        let call_ids = assertion::CallIds {
            scripted: scripted_calls.iter().map(|c| c.id.clone()).collect(),
            random: calls.per_hour > 0,
        };
        let expectations =
            expect::expectations(src, &fleet, &faults, &call_ids, duration, &self.expect)?;

        let name = match &self.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                return Err(src.error(
                    n.span(),
                    Some("name"),
                    "the scenario's name is empty".to_string(),
                    Some("give it a name, or leave `name` out to use the file's name".into()),
                ));
            }
            Some(n) => src.printable(n, "name")?,
            None => Path::new(src.name)
                .file_stem()
                .map_or("scenario".into(), |s| s.to_string_lossy().into_owned()),
        };
        let description = match &self.description {
            Some(d) => src.printable(d, "description")?,
            None => String::new(),
        };
        Ok(Scenario {
            name,
            description,
            origin: src.name.to_string(),
            fleet,
            seed: self.seed.unwrap_or(1),
            duration,
            faults,
            expectations,
            calls,
            rerun_args: Vec::new(),
            scripted_calls,
        })
    }
}

/// The event-log assertions of one `[[expect]]` table (`never`,
/// `eventually`, `count`, `state`).
fn assertions(
    ctx: &assertion::Ctx<'_>,
    er: &RawExpect,
) -> Result<Vec<Expectation>, Box<FileError>> {
    let mut found = Vec::new();
    let sub = |name: &str| assertion::Ctx {
        field: format!("{}.{name}", ctx.field),
        ..*ctx
    };
    if let Some(n) = &er.never {
        let (matching, window) = sub("never").when(n.get_ref(), n.span())?;
        found.push(Expectation::Never { matching, window });
    }
    if let Some(n) = &er.eventually {
        let (matching, window) = sub("eventually").when(n.get_ref(), n.span())?;
        found.push(Expectation::Eventually { matching, window });
    }
    if let Some(c) = &er.count {
        let (matching, window) = sub("count").count(c.get_ref(), c.span())?;
        let (min, max) = (c.get_ref().min, c.get_ref().max);
        found.push(Expectation::Count {
            matching,
            window,
            min,
            max,
        });
    }
    if let Some(st) = &er.state {
        let (probe, window) = sub("state").state(st.get_ref(), st.span())?;
        found.push(Expectation::State { probe, window });
    }
    Ok(found)
}

/// Refuses an expectation on `what` happens inside `server` when it is an
/// external member: fleetsim sees only what its own phones and servers
/// observe of it.
fn observable(
    src: &Source<'_>,
    fleet: &Fleet,
    server: &Spanned<String>,
    field: &str,
    what: &str,
) -> Result<(), Box<FileError>> {
    let name = server.get_ref();
    match fleet.server(name).and_then(|s| s.address.as_ref()) {
        Some(address) => Err(src.error(
            server.span(),
            Some(field),
            format!(
                "{name} is an external member (address = {address:?}): fleetsim does not see its {what}, only what its own phones and servers observe of it"
            ),
            Some("expect what phones observe instead: takeover, failback or no-failover".into()),
        )),
        None => Ok(()),
    }
}

/// Why a scenario's `[resilience]` table does not deserialize, at the
/// first key (in key order) that fails on its own over the fleet's settings (an unknown
/// key, a wrong value), or at the table when none does alone.
fn resilience_key_error(
    src: &Source<'_>,
    table: &Spanned<toml::Table>,
    base: &toml::Table,
    whole: toml::de::Error,
) -> Box<FileError> {
    let fails = |k: &String, v: &toml::Value| {
        let mut one = base.clone();
        one.insert(k.clone(), v.clone());
        toml::Value::Table(one)
            .try_into::<crate::settings::Resilience>()
            .err()
    };
    let culprit = table
        .get_ref()
        .iter()
        .find_map(|(k, v)| fails(k, v).map(|e| (k, e)));
    let Some((key, e)) = culprit else {
        let hint = "see docs/file-format.md, [resilience]";
        return src.error(
            table.span(),
            Some("resilience"),
            whole.message().to_string(),
            Some(hint.into()),
        );
    };
    let message = e.message().to_string();
    let hint = if message.starts_with("unknown field") {
        crate::error::unknown_field_hint(&message)
    } else {
        format!("see docs/file-format.md, [resilience], for {key}")
    };
    let at = src.value_span(table.span(), key);
    src.error(at, Some(&format!("resilience.{key}")), message, Some(hint))
}

/// The fleet's resilience settings with the keys a scenario's
/// `[resilience]` table gives replaced: the same fleet, another release's
/// settings.
fn override_resilience(
    src: &Source<'_>,
    base: &crate::settings::Resilience,
    table: &Spanned<toml::Table>,
) -> Result<crate::settings::Resilience, Box<FileError>> {
    let hint = "see docs/file-format.md, [resilience]";
    let mut merged = toml::Table::try_from(base).map_err(|e| {
        src.error(
            table.span(),
            Some("resilience"),
            e.to_string(),
            Some(hint.into()),
        )
    })?;
    let base_table = merged.clone();
    for (k, v) in table.get_ref() {
        merged.insert(k.clone(), v.clone());
    }
    let r: crate::settings::Resilience = toml::Value::Table(merged)
        .try_into()
        .map_err(|e: toml::de::Error| resilience_key_error(src, table, &base_table, e))?;
    if let Err((field, msg, hint)) = r.check() {
        let key = field.rsplit('.').next().unwrap_or(field);
        let at = src.value_span(table.span(), key);
        return Err(src.error(at, Some(field), msg, Some(hint)));
    }
    Ok(r)
}

/// The start of a takeover or failback window must leave some of the run
/// after it, or the check could see nothing.
/// The calls (and portal changes) a run starts in all stay within
/// [`crate::limits::MAX_CALLS_PER_RUN`]: each keeps events in the log.
fn calls_fit_the_run(
    src: &Source<'_>,
    span: Range<usize>,
    calls: &Calls,
    duration: Dur,
) -> Result<(), Box<FileError>> {
    let hours = duration.as_millis() as f64 / 3_600_000.0;
    let max = crate::limits::MAX_CALLS_PER_RUN;
    for (field, rate) in [
        ("per-hour", calls.per_hour),
        ("portal-changes-per-hour", calls.portal_changes_per_hour),
    ] {
        let total = f64::from(rate) * hours;
        if total > max as f64 {
            return Err(src.error(
                src.value_span(span.clone(), field),
                Some(&format!("calls.{field}")),
                format!(
                    "{rate} an hour for {duration} starts about {total:.0} in all; a run starts at most {max}"
                ),
                Some(format!(
                    "lower the rate to at most {:.0} an hour, or shorten the run",
                    (max as f64 / hours).floor()
                )),
            ));
        }
    }
    Ok(())
}

/// A bound above zero: no takeover or failback happens in no time.
fn positive(src: &Source<'_>, within: &Spanned<Dur>, field: &str) -> Result<Dur, Box<FileError>> {
    let d = *within.get_ref();
    if !d.0.is_zero() {
        return Ok(d);
    }
    Err(src.error(
        within.span(),
        Some(field),
        "a bound of 0s can never hold: phones take time to move",
        Some("give the time it may take, e.g. \"5m\"".into()),
    ))
}

/// `server` runs IP Office, so phones can register there (and overflow it).
fn takes_registrations(
    src: &Source<'_>,
    fleet: &Fleet,
    server: &Spanned<String>,
    field: &str,
) -> Result<(), Box<FileError>> {
    match fleet.server(server.get_ref()) {
        Some(s) if !s.role.runs_ip_office() => Err(src.error(
            server.span(),
            Some(field),
            format!(
                "{} is an {} and runs no IP Office: no phone registers there, so it cannot overflow",
                s.name,
                s.role.as_str()
            ),
            Some("name a server that runs IP Office (not an application server)".into()),
        )),
        _ => Ok(()),
    }
}

fn starts_in_run(
    src: &Source<'_>,
    span: Range<usize>,
    after: Dur,
    duration: Dur,
    field: &str,
) -> Result<(), Box<FileError>> {
    if after < duration {
        return Ok(());
    }
    Err(src.error(
        span,
        Some(field),
        format!(
            "{after} is not before the end of the run ({duration}): nothing after it could show"
        ),
        Some("make `after` earlier or the run longer".into()),
    ))
}

/// A time in the run, or an error naming `field`.
fn at_in_run(
    src: &Source<'_>,
    at: &Spanned<Dur>,
    duration: Dur,
    field: &str,
) -> Result<Dur, Box<FileError>> {
    if *at.get_ref() > duration {
        return Err(src.error(
            at.span(),
            Some(field),
            format!("{} is after the end of the run ({duration})", at.get_ref()),
            Some("check at a time within the run".into()),
        ));
    }
    Ok(*at.get_ref())
}

/// An expectation's own name: one printable line, not already taken (a
/// report, a JUnit test case and a sweep's failure list tell them apart
/// by name).
fn unique_name(
    src: &Source<'_>,
    n: &Spanned<String>,
    i: usize,
    before: &[NamedExpectation],
) -> Result<String, Box<FileError>> {
    let field = format!("expect[{i}].name");
    let name = src.printable(n, &field)?;
    if name.contains(['\n', '\r', '\t']) || name.trim().is_empty() {
        let what = if name.trim().is_empty() {
            "a name cannot be empty"
        } else {
            "a name is one line of text"
        };
        return Err(src.error(
            n.span(),
            Some(&field),
            what.to_string(),
            Some(
                "write it on one line, without tabs, e.g. name = \"no failover during the reboot\""
                    .into(),
            ),
        ));
    }
    if let Some(j) = before.iter().position(|e| e.name == name) {
        return Err(src.error(
            n.span(),
            Some(&field),
            format!("expect[{j}] is already named {name:?}"),
            Some(
                "give each expectation its own name: reports and JUnit tell them apart by it"
                    .into(),
            ),
        ));
    }
    Ok(name)
}

/// A derived name, numbered when an earlier expectation has it already
/// ("… (2)"), so every name in a report is its own.
fn derived_name(name: String, before: &[NamedExpectation]) -> String {
    let taken: std::collections::BTreeSet<&str> = before.iter().map(|e| e.name.as_str()).collect();
    if !taken.contains(name.as_str()) {
        return name;
    }
    // Numbered after the copies there are, so n repeats cost n lookups each.
    let copies = before.iter().filter(|e| e.name.starts_with(&name)).count();
    (copies + 1..)
        .map(|k| format!("{name} ({k})"))
        .find(|n| !taken.contains(n.as_str()))
        .expect("some number is free")
}

/// The name an expectation is given when its file or builder gives none
/// (which names its times, so a moved fault renames it).
pub fn default_name(e: &Expectation) -> String {
    match e {
        Expectation::Service {
            service,
            on,
            state,
            at,
        } => format!("{service} is {state} on {on} at {at}"),
        Expectation::Licence { server, state, at } => {
            format!("{server}'s licence is {state} at {at}")
        }
        Expectation::NothingLost => "no voicemail message or recording is lost".into(),
        Expectation::Calls {
            max_dropped,
            min_dropped,
            min_preserved,
        } => {
            let mut parts = Vec::new();
            if let Some(n) = max_dropped {
                parts.push(format!("at most {n} dropped"));
            }
            if let Some(n) = min_dropped {
                parts.push(format!("at least {n} dropped"));
            }
            if let Some(n) = min_preserved {
                parts.push(format!("at least {n} preserved"));
            }
            format!("calls: {}", parts.join(", "))
        }
        Expectation::SplitBrain { present: true } => "a split-brain finding is reported".into(),
        Expectation::SplitBrain { present: false } => "no split-brain finding".into(),
        Expectation::CapacityOverflow { on, min } => {
            format!(
                "{on} refuses at least {} for lack of capacity",
                crate::words::counted(*min as usize, "guest", "guests")
            )
        }
        Expectation::Takeover {
            of,
            by,
            within,
            after,
            ..
        } => format!("{by} takes over {of}'s phones within {within} of {after}"),
        Expectation::NoFailover { of } => format!("{of} is never failed over"),
        Expectation::Failback {
            to, within, after, ..
        } => {
            format!("phones fail back to {to} within {within} of {after}")
        }
        Expectation::Never { matching, window } => format!("never {matching} {window}"),
        Expectation::Eventually { matching, window } => {
            format!("eventually {matching} {window}")
        }
        Expectation::Count {
            matching,
            window,
            min,
            max,
        } => {
            let bound = crate::assertion::bound(*min, *max);
            format!("{bound} × {matching} {window}")
        }
        Expectation::State { probe, window } if window.is_moment() => format!("{probe} {window}"),
        Expectation::State { probe, window } => format!("{probe} throughout, {window}"),
    }
}
