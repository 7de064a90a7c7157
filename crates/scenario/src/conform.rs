//! Conformance checks of a fleet member over the wire (`fleetsim conform`):
//! a protocol test kit for a server written in any language against the
//! contract of docs/protocol.md.
//!
//! The checker plays the member's line peers and phones: it sends presence
//! and records as one of the member's homes would, registers a phone of the
//! member and one of a home it backs up, places and hangs up a call, and
//! sends empty, malformed and undecodable requests. Each [`Check`] says what
//! was expected and what came back. The checks are short and mostly
//! harmless, but not invisible: a member in a running fleet sees a presence
//! update from its peer, a record set with a version the real home will
//! replace at its next presence update, and a phone of its own unregistered
//! (which re-registers at its next keepalive).
//!
//! ```no_run
//! # async fn demo() -> Result<(), fleetsim_scenario::conform::ConformError> {
//! use fleetsim_scenario::conform::{Target, run};
//!
//! let fleet = fleetsim_scenario::conform::reference_fleet();
//! let target = Target::new("127.0.0.1:7102", fleet, None, Some("secondary"))?;
//! let report = run(&target, |check| println!("{check}")).await;
//! assert!(report.passed());
//! # Ok(()) }
//! ```

mod checks;
mod wire;

use std::fmt;
use std::sync::Arc;

use fleetsim_model::{Fleet, Role, ServerSpec, Source};

/// The roles a member can play, as written in fleet files.
pub const ROLES: [Role; 5] = [
    Role::Primary,
    Role::Secondary,
    Role::ExpansionLinux,
    Role::ExpansionV2,
    Role::ApplicationServer,
];

/// Why a conformance check could not be set up (bad usage or input).
#[derive(Debug, thiserror::Error)]
pub enum ConformError {
    /// The address is not `HOST:PORT`.
    #[error("address {0:?}: expected HOST:PORT, e.g. 127.0.0.1:7102 or member.example:50051")]
    BadAddress(String),
    /// Neither a role nor a server was named.
    #[error("say which server the member plays: --role ROLE or --server NAME")]
    NoServer,
    /// The role is not one a fleet member can play.
    #[error("unknown role {0:?}{near}; roles: {roles}", near = fleetsim_model::suggest::did_you_mean(.0, ROLES.map(Role::as_str)), roles = role_names())]
    UnknownRole(String),
    /// The fleet has no server of that name.
    #[error("fleet {fleet:?} has no server {server:?}; its servers: {known}")]
    UnknownServer {
        /// Fleet name.
        fleet: String,
        /// The name asked for.
        server: String,
        /// The fleet's servers.
        known: String,
    },
    /// The fleet has no server of that role.
    #[error("fleet {fleet:?} has no {role} server")]
    NoServerOfRole {
        /// Fleet name.
        fleet: String,
        /// The role asked for.
        role: Role,
    },
    /// The fleet has several servers of that role.
    #[error("fleet {fleet:?} has several {role} servers ({names}); name one with --server")]
    AmbiguousRole {
        /// Fleet name.
        fleet: String,
        /// The role asked for.
        role: Role,
        /// The servers of that role.
        names: String,
    },
    /// The server named is not of the role named.
    #[error("server {server:?} is the fleet's {actual}, not its {role}")]
    RoleMismatch {
        /// The server named.
        server: String,
        /// Its role in the fleet.
        actual: Role,
        /// The role asked for.
        role: Role,
    },
}

fn role_names() -> String {
    ROLES.map(Role::as_str).join(", ")
}

/// The built-in reference fleet (`scenarios/fleets/reference.toml`).
pub fn reference_fleet() -> Fleet {
    let (path, text) = fleetsim_model::embedded::FILES
        .iter()
        .find(|(p, _)| *p == "fleets/reference.toml")
        .expect("the reference fleet is built in");
    Fleet::from_toml(&Source {
        name: &format!("<embedded>/scenarios/{path}"),
        text,
    })
    .expect("the built-in reference fleet is valid")
}

/// The member under test: where it listens and which server of which fleet
/// it plays.
#[derive(Clone, Debug)]
pub struct Target {
    /// `HOST:PORT`, host names allowed.
    pub address: String,
    /// The fleet the member belongs to.
    pub fleet: Arc<Fleet>,
    /// The server it plays.
    pub server: String,
}

impl Target {
    /// The member at `address` playing `server`, or the fleet's one server
    /// of `role` (both given: they must agree).
    pub fn new(
        address: &str,
        fleet: Fleet,
        server: Option<&str>,
        role: Option<&str>,
    ) -> Result<Target, ConformError> {
        check_address(address)?;
        let role = role.map(parse_role).transpose()?;
        let name = match (server, role) {
            (Some(s), role) => named(&fleet, s, role)?,
            (None, Some(role)) => only_of_role(&fleet, role)?,
            (None, None) => return Err(ConformError::NoServer),
        };
        Ok(Target {
            address: address.to_string(),
            fleet: Arc::new(fleet),
            server: name,
        })
    }

    /// The server the member plays.
    pub fn spec(&self) -> &ServerSpec {
        self.fleet
            .server(&self.server)
            .expect("checked when the target was made")
    }
}

/// A role as written in fleet files (`primary`, `expansion-linux`, ...).
pub fn parse_role(s: &str) -> Result<Role, ConformError> {
    ROLES
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| ConformError::UnknownRole(s.to_string()))
}

fn check_address(address: &str) -> Result<(), ConformError> {
    let bad = || ConformError::BadAddress(address.to_string());
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = !host.is_empty() && !host.contains(['/', ' ', '@']);
    if !port_ok || !host_ok {
        return Err(bad());
    }
    // The same parse the connection will make.
    tonic::transport::Endpoint::from_shared(format!("http://{address}")).map_err(|_| bad())?;
    Ok(())
}

fn named(fleet: &Fleet, server: &str, role: Option<Role>) -> Result<String, ConformError> {
    let Some(spec) = fleet.server(server) else {
        return Err(ConformError::UnknownServer {
            fleet: fleet.name.clone(),
            server: server.to_string(),
            known: server_names(fleet.servers.iter()),
        });
    };
    match role {
        Some(role) if role != spec.role => Err(ConformError::RoleMismatch {
            server: server.to_string(),
            actual: spec.role,
            role,
        }),
        _ => Ok(spec.name.clone()),
    }
}

fn only_of_role(fleet: &Fleet, role: Role) -> Result<String, ConformError> {
    let of_role: Vec<&ServerSpec> = fleet.servers.iter().filter(|s| s.role == role).collect();
    match of_role.as_slice() {
        [] => Err(ConformError::NoServerOfRole {
            fleet: fleet.name.clone(),
            role,
        }),
        [one] => Ok(one.name.clone()),
        many => Err(ConformError::AmbiguousRole {
            fleet: fleet.name.clone(),
            role,
            names: server_names(many.iter().copied()),
        }),
    }
}

fn server_names<'a>(servers: impl Iterator<Item = &'a ServerSpec>) -> String {
    servers
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The member did what the contract says.
    Pass,
    /// It did not.
    Fail,
    /// Not checked: the role or fleet gives nothing to check, or the part
    /// is optional and the member does not serve it.
    Skip,
}

/// One check: its name, verdict, and what was expected and came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Stable name, e.g. `telephony.register-home`.
    pub name: String,
    /// Pass, fail or skip.
    pub verdict: Verdict,
    /// What came back (pass), what was expected and what came back
    /// instead (fail), or why it was not checked (skip).
    pub detail: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = match self.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Skip => "skip",
        };
        write!(f, "{v}  {:<40} {}", self.name, self.detail)
    }
}

/// Every check made, in order.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        self.count(Verdict::Fail) == 0
    }

    /// How many checks had `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.checks.iter().filter(|c| c.verdict == verdict).count()
    }

    /// The check named `name`, if it was made.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }
}

/// Runs every check against the member (inside a tokio runtime), calling
/// `on_check` as each one ends.
pub async fn run(target: &Target, mut on_check: impl FnMut(&Check)) -> Report {
    checks::run_all(target, &mut on_check).await
}
