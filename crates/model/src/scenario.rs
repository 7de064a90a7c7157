//! Scenario files: a fleet, a seed, a duration, timed faults, expectations.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::duration::Dur;
use crate::error::{FileError, LoadError, Source};
use crate::fault::{Fault, RawFault};
use crate::fleet::{Fleet, RawFleet};

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
    },
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTakeover {
    of: Spanned<String>,
    #[serde(default)]
    by: Option<Spanned<String>>,
    within: Dur,
    #[serde(default)]
    after: Option<Dur>,
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
    within: Dur,
    #[serde(default)]
    after: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawExpect {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    takeover: Option<Spanned<RawTakeover>>,
    #[serde(default)]
    no_failover: Option<Spanned<RawNoFailover>>,
    #[serde(default)]
    failback: Option<Spanned<RawFailback>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawScenario<F> {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    fleet: F,
    #[serde(default)]
    seed: Option<u64>,
    duration: Spanned<Dur>,
    #[serde(default)]
    fault: Vec<Spanned<RawFault>>,
    #[serde(default)]
    expect: Vec<Spanned<RawExpect>>,
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
        let shown = full.display().to_string();
        let text = std::fs::read_to_string(&full).map_err(|source| LoadError::Io {
            path: shown.clone(),
            source,
        })?;
        Ok((shown, text))
    }
}

impl Scenario {
    /// Loads a scenario file from disk (its fleet path is relative to it).
    pub fn load(path: &Path) -> Result<Scenario, LoadError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: shown.clone(),
            source,
        })?;
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
        if peek.contains_key("server") && !peek.contains_key("fleet") {
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
                let fleet = raw_fleet.validate(src)?;
                Ok(rest.validate(src, fleet)?)
            }
            _ => {
                let raw: RawScenario<Spanned<String>> =
                    toml::from_str(src.text).map_err(|e| src.toml_error(&e))?;
                let (rest, path) = raw.split();
                let (fleet_name, fleet_text) = match resolver.read(path.get_ref()) {
                    Ok(x) => x,
                    Err(LoadError::Io { path: p, source }) => {
                        return Err(src
                            .error(
                                path.span(),
                                Some("fleet"),
                                format!("cannot read fleet file {p}: {source}"),
                                Some("the path is relative to the scenario file".into()),
                            )
                            .into());
                    }
                    Err(e) => return Err(e),
                };
                let fleet = Fleet::from_toml(&Source {
                    name: &fleet_name,
                    text: &fleet_text,
                })?;
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

struct RawRest {
    name: Option<String>,
    description: Option<String>,
    seed: Option<u64>,
    duration: Spanned<Dur>,
    fault: Vec<Spanned<RawFault>>,
    expect: Vec<Spanned<RawExpect>>,
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
            },
            self.fleet,
        )
    }
}

impl RawRest {
    fn validate(self, src: &Source<'_>, fleet: Fleet) -> Result<Scenario, Box<FileError>> {
        let duration = *self.duration.get_ref();
        if duration.0.is_zero() {
            return Err(src.error(
                self.duration.span(),
                Some("duration"),
                "the run must last longer than zero",
                Some("write e.g. duration = \"1h\"".into()),
            ));
        }
        if duration > Dur::secs(400 * 86_400) {
            return Err(src.error(
                self.duration.span(),
                Some("duration"),
                format!("{duration} is longer than the 400 days fleetsim runs"),
                Some("a 30-day licence grace fits easily: write e.g. duration = \"35d\"".into()),
            ));
        }
        let server_names: Vec<String> = fleet.servers.iter().map(|s| s.name.clone()).collect();
        let unknown_server = |s: &Spanned<String>, field: &str| {
            src.error(
                s.span(),
                Some(field),
                format!("unknown server {:?}", s.get_ref()),
                Some(format!(
                    "servers of fleet {:?}: {}",
                    fleet.name,
                    server_names.join(", ")
                )),
            )
        };

        let faults = crate::fault::resolve(src, &fleet, &self.fault, duration, true)?;

        // Expectations.
        let mut expectations = Vec::new();
        for (i, e) in self.expect.iter().enumerate() {
            let er = e.get_ref();
            let field = format!("expect[{i}]");
            let mut found = Vec::new();
            if let Some(t) = &er.takeover {
                let t = t.get_ref();
                let Some(of) = fleet.server(t.of.get_ref()) else {
                    return Err(unknown_server(&t.of, &format!("{field}.takeover.of")));
                };
                let by = match &t.by {
                    Some(b) if fleet.server(b.get_ref()).is_none() => {
                        return Err(unknown_server(b, &format!("{field}.takeover.by")));
                    }
                    Some(b) => b.get_ref().clone(),
                    None => match of.backup_for_phones() {
                        Some(b) => b.to_string(),
                        None => {
                            return Err(src.error(
                                t.of.span(),
                                Some(&format!("{field}.takeover.by")),
                                format!("{:?} has no backup for its IP phones", of.name),
                                Some(
                                    "name the server with `by`, or set `backup` in the fleet"
                                        .into(),
                                ),
                            ));
                        }
                    },
                };
                let after = match t.after.or_else(|| {
                    faults
                        .iter()
                        .find(|f| f.kind.isolates(&of.name))
                        .map(|f| f.at)
                }) {
                    Some(a) => a,
                    None => {
                        return Err(src.error(
                            e.span(),
                            Some(&format!("{field}.takeover.after")),
                            format!(
                                "no fault takes {:?} down, so a takeover has no start",
                                of.name
                            ),
                            Some("add a crash or partition fault, or give `after`".into()),
                        ));
                    }
                };
                found.push(Expectation::Takeover {
                    of: of.name.clone(),
                    by,
                    within: t.within,
                    after,
                });
            }
            if let Some(n) = &er.no_failover {
                let n = n.get_ref();
                if fleet.server(n.of.get_ref()).is_none() {
                    return Err(unknown_server(&n.of, &format!("{field}.no-failover.of")));
                }
                found.push(Expectation::NoFailover {
                    of: n.of.get_ref().clone(),
                });
            }
            if let Some(fb) = &er.failback {
                let fb = fb.get_ref();
                if fleet.server(fb.to.get_ref()).is_none() {
                    return Err(unknown_server(&fb.to, &format!("{field}.failback.to")));
                }
                let to = fb.to.get_ref().clone();
                let lost = faults.iter().position(|f| f.kind.isolates(&to));
                let back = lost.and_then(|i| faults[i..].iter().find(|f| f.kind.restores(&to)));
                let after =
                    match fb.after.or(back.map(|f| f.at)) {
                        Some(a) => a,
                        None => return Err(src.error(
                            e.span(),
                            Some(&format!("{field}.failback.after")),
                            format!("no fault brings {to:?} back, so a failback has no start"),
                            Some(
                                "add a restart or heal fault after the failure, or give `after`"
                                    .into(),
                            ),
                        )),
                    };
                found.push(Expectation::Failback {
                    to,
                    within: fb.within,
                    after,
                });
            }
            if found.len() != 1 {
                return Err(src.error(
                    e.span(),
                    Some(&field),
                    format!(
                        "an expectation needs exactly one check, this one has {}",
                        found.len()
                    ),
                    Some(
                        "use one of: takeover = {...}, no-failover = {...}, failback = {...}"
                            .into(),
                    ),
                ));
            }
            let expect = found.remove(0);
            let name = er.name.clone().unwrap_or_else(|| default_name(&expect));
            expectations.push(NamedExpectation { name, expect });
        }

        let name = self.name.unwrap_or_else(|| {
            Path::new(src.name)
                .file_stem()
                .map_or("scenario".into(), |s| s.to_string_lossy().into_owned())
        });
        Ok(Scenario {
            name,
            description: self.description.unwrap_or_default(),
            origin: src.name.to_string(),
            fleet,
            seed: self.seed.unwrap_or(1),
            duration,
            faults,
            expectations,
        })
    }
}

fn default_name(e: &Expectation) -> String {
    match e {
        Expectation::Takeover {
            of,
            by,
            within,
            after,
        } => format!("{by} takes over {of}'s phones within {within} of {after}"),
        Expectation::NoFailover { of } => format!("{of} is never failed over"),
        Expectation::Failback { to, within, after } => {
            format!("phones fail back to {to} within {within} of {after}")
        }
    }
}
