//! The scenarios and fleets in `scenarios/`, built into the binary so that
//! `fleetsim run` works on a fresh machine with no files at hand.

use std::path::Path;

use crate::error::{LoadError, Source};
use crate::fleet::Fleet;
use crate::scenario::{FleetResolver, Scenario};
use crate::suggest::{self, did_you_mean};

/// Every built-in file: (path under `scenarios/`, text).
pub const FILES: &[(&str, &str)] = &[
    (
        "primary-crash.toml",
        include_str!("../../../scenarios/primary-crash.toml"),
    ),
    (
        "all-expansions-stop.toml",
        include_str!("../../../scenarios/all-expansions-stop.toml"),
    ),
    (
        "clock-step.toml",
        include_str!("../../../scenarios/clock-step.toml"),
    ),
    (
        "expansion-crash.toml",
        include_str!("../../../scenarios/expansion-crash.toml"),
    ),
    (
        "expansion-flap.toml",
        include_str!("../../../scenarios/expansion-flap.toml"),
    ),
    (
        "one-way-loss.toml",
        include_str!("../../../scenarios/one-way-loss.toml"),
    ),
    (
        "primary-crash-and-return.toml",
        include_str!("../../../scenarios/primary-crash-and-return.toml"),
    ),
    (
        "primary-gray-presence.toml",
        include_str!("../../../scenarios/primary-gray-presence.toml"),
    ),
    (
        "primary-gray-telephony.toml",
        include_str!("../../../scenarios/primary-gray-telephony.toml"),
    ),
    (
        "primary-hang.toml",
        include_str!("../../../scenarios/primary-hang.toml"),
    ),
    (
        "primary-isolated.toml",
        include_str!("../../../scenarios/primary-isolated.toml"),
    ),
    (
        "primary-reboot-2m.toml",
        include_str!("../../../scenarios/primary-reboot-2m.toml"),
    ),
    (
        "site-latency.toml",
        include_str!("../../../scenarios/site-latency.toml"),
    ),
    (
        "v2-trunks-outlive-the-primary.toml",
        include_str!("../../../scenarios/v2-trunks-outlive-the-primary.toml"),
    ),
    (
        "backup-restart-loses-resilience.toml",
        include_str!("../../../scenarios/backup-restart-loses-resilience.toml"),
    ),
    (
        "dect-base-switch.toml",
        include_str!("../../../scenarios/dect-base-switch.toml"),
    ),
    (
        "h323-manual-failback.toml",
        include_str!("../../../scenarios/h323-manual-failback.toml"),
    ),
    (
        "homeless-prevention-window.toml",
        include_str!("../../../scenarios/homeless-prevention-window.toml"),
    ),
    (
        "licence-grace-expires.toml",
        include_str!("../../../scenarios/licence-grace-expires.toml"),
    ),
    (
        "licence-older-rule-restart.toml",
        include_str!("../../../scenarios/licence-older-rule-restart.toml"),
    ),
    (
        "line-options-decide.toml",
        include_str!("../../../scenarios/line-options-decide.toml"),
    ),
    (
        "one-x-portal-manual-failback.toml",
        include_str!("../../../scenarios/one-x-portal-manual-failback.toml"),
    ),
    (
        "primary-services-failover.toml",
        include_str!("../../../scenarios/primary-services-failover.toml"),
    ),
    (
        "softphone-only-site.toml",
        include_str!("../../../scenarios/softphone-only-site.toml"),
    ),
    (
        "split-network.toml",
        include_str!("../../../scenarios/split-network.toml"),
    ),
    (
        "split-network-reciprocal.toml",
        include_str!("../../../scenarios/split-network-reciprocal.toml"),
    ),
    (
        "v2-capacity-overflow.toml",
        include_str!("../../../scenarios/v2-capacity-overflow.toml"),
    ),
    (
        "voicemail-activate-backup.toml",
        include_str!("../../../scenarios/voicemail-activate-backup.toml"),
    ),
    (
        "voicemail-automatic-timeout.toml",
        include_str!("../../../scenarios/voicemail-automatic-timeout.toml"),
    ),
    (
        "primary-returns-briefly.toml",
        include_str!("../../../scenarios/primary-returns-briefly.toml"),
    ),
    (
        "three-minute-boundary.toml",
        include_str!("../../../scenarios/three-minute-boundary.toml"),
    ),
    (
        "voicemail-manual-failback.toml",
        include_str!("../../../scenarios/voicemail-manual-failback.toml"),
    ),
    (
        "preserved-call-and-voicemail-handback.toml",
        include_str!("../../../scenarios/preserved-call-and-voicemail-handback.toml"),
    ),
    (
        "fleets/reference.toml",
        include_str!("../../../scenarios/fleets/reference.toml"),
    ),
];

/// The scenario `fleetsim run` runs when given none.
pub const DEFAULT_SCENARIO: &str = "primary-crash.toml";

/// How a scenario file anywhere names a built-in fleet:
/// `fleet = "builtin:reference"`.
pub const BUILTIN: &str = "builtin:";

/// Where built-in files say they are, in errors and a scenario's origin.
pub const SHOWN_DIR: &str = "<embedded>/scenarios/";

/// How a built-in file at `path` (under `scenarios/`) is named in errors.
pub fn shown(path: &str) -> String {
    format!("{SHOWN_DIR}{path}")
}

/// Resolves fleet paths among the built-in files.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedResolver;

impl FleetResolver for EmbeddedResolver {
    fn read(&self, path: &str) -> Result<(String, String), LoadError> {
        let path = path.trim_start_matches("./");
        FILES
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(p, t)| (shown(p), (*t).to_string()))
            .ok_or_else(|| LoadError::Io {
                path: shown(path),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such built-in file"),
            })
    }
}

/// A built-in scenario's (path under `scenarios/`, text), by name
/// (`primary-crash` or `primary-crash.toml`).
pub fn scenario_file(name: &str) -> Option<(&'static str, &'static str)> {
    let want = format!("{}.toml", name.trim_end_matches(".toml"));
    FILES
        .iter()
        .find(|(p, _)| *p == want && !p.starts_with("fleets/"))
        .copied()
}

/// A built-in fleet's (path under `scenarios/`, text), by name:
/// `reference`, `reference.toml`, `fleets/reference.toml` or
/// `builtin:reference`.
pub fn fleet_file(name: &str) -> Option<(&'static str, &'static str)> {
    let name = name.strip_prefix(BUILTIN).unwrap_or(name);
    let name = name.strip_prefix("fleets/").unwrap_or(name);
    let want = format!("fleets/{}.toml", name.trim_end_matches(".toml"));
    FILES.iter().find(|(p, _)| *p == want).copied()
}

/// Loads a built-in scenario by name (`primary-crash.toml` or `primary-crash`).
pub fn scenario(name: &str) -> Option<Result<Scenario, LoadError>> {
    let (path, text) = scenario_file(name)?;
    Some(Scenario::parse(
        &Source {
            name: &shown(path),
            text,
        },
        &EmbeddedResolver,
    ))
}

/// Loads a built-in fleet by name (as [`fleet_file`] takes it).
pub fn fleet(name: &str) -> Option<Result<Fleet, LoadError>> {
    let (path, text) = fleet_file(name)?;
    let src = Source {
        name: &shown(path),
        text,
    };
    Some(Fleet::from_toml(&src).map_err(LoadError::from))
}

/// The built-in scenario names (without `.toml`), in file order.
pub fn scenario_names() -> impl Iterator<Item = &'static str> {
    FILES
        .iter()
        .filter(|(p, _)| !p.starts_with("fleets/"))
        .map(|(p, _)| p.trim_end_matches(".toml"))
}

/// The built-in fleet names (`reference`), in file order.
pub fn fleet_names() -> impl Iterator<Item = &'static str> {
    FILES
        .iter()
        .filter_map(|(p, _)| p.strip_prefix("fleets/"))
        .map(|p| p.trim_end_matches(".toml"))
}

/// The origin of a live drill's run: faults given by hand, which no
/// command replays.
pub const LIVE_DRILL: &str = "<live drill>";

/// How `fleetsim run` names the scenario loaded from `origin`: a built-in
/// by its name, a file by its path as it was given; `None` for one that
/// has no file (built in code: `<built in code>`). A file named like a
/// built-in is `./NAME`: the bare name runs the file only where it is, and
/// the built-in anywhere else, silently.
pub fn run_arg(origin: &str) -> Option<String> {
    match origin.strip_prefix(SHOWN_DIR) {
        Some(path) => Some(path.trim_end_matches(".toml").to_string()),
        None if origin.starts_with('<') => None,
        None if !origin.contains('/') && scenario_file(origin).is_some() => {
            Some(format!("./{origin}"))
        }
        None => Some(origin.to_string()),
    }
}

/// Why `name` is neither a file nor a built-in scenario: the nearest
/// built-in, and every built-in.
pub fn unknown_scenario(name: &str) -> String {
    let known: Vec<&str> = scenario_names().collect();
    if fleet_names().any(|f| f == name) {
        return format!(
            "no such file, and {name:?} is a built-in fleet, not a scenario: run a scenario on it (`fleetsim run primary-crash` runs on the reference fleet; a scenario names its fleet with fleet = \"builtin:{name}\"), or print it with `fleetsim show {name}`"
        );
    }
    // A path into a checkout's scenarios/, given outside one: the
    // built-in of that file's name is the same scenario.
    let stem = std::path::Path::new(name)
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| *s != name && known.contains(s));
    if let Some(stem) = stem {
        return format!(
            "no such file; the built-in scenario {stem:?} is the shipped {stem}.toml: give its name alone (`fleetsim run {stem}`), or `fleetsim show {stem}` to copy it"
        );
    }
    format!(
        "no such file, and no built-in scenario of that name{} (built-ins: {}; `fleetsim show NAME` prints one)",
        did_you_mean(name, known.iter().copied()),
        known.join(", ")
    )
}

/// Why `name` is neither a file nor a built-in fleet: the nearest
/// built-in fleet, and every built-in fleet.
pub fn unknown_fleet(name: &str) -> String {
    let bare = name.strip_prefix(BUILTIN).unwrap_or(name);
    let known: Vec<&str> = fleet_names().collect();
    format!(
        "no built-in fleet {bare:?}{} (built-in fleets: {})",
        did_you_mean(bare, known.iter().copied()),
        known.join(", ")
    )
}

/// What would be right for `fleet = "builtin:NAME"` naming no built-in
/// fleet: the nearest, and every built-in fleet.
pub fn builtin_fleet_hint(name: &str) -> String {
    let near = suggest::nearest(name, fleet_names()).map_or(String::new(), |n| {
        format!("did you mean \"{BUILTIN}{n}\"? ")
    });
    let all: Vec<String> = fleet_names().map(|n| format!("{BUILTIN}{n}")).collect();
    format!("{near}built-in fleets: {}", all.join(", "))
}

/// What would be right when a scenario's `fleet = "PATH"` cannot be read:
/// the built-in fleet of that file name, if there is one, or the list.
pub fn fleet_hint(path: &str) -> String {
    let stem = Path::new(path)
        .file_stem()
        .map_or(String::new(), |s| s.to_string_lossy().into_owned());
    let builtins: Vec<String> = fleet_names().map(|n| format!("{BUILTIN}{n}")).collect();
    match fleet_file(&stem) {
        Some(_) => format!(
            "the path is relative to the scenario file; for the built-in fleet of that name write fleet = \"{BUILTIN}{stem}\""
        ),
        None => format!(
            "the path is relative to the scenario file; or name a built-in fleet: {}",
            builtins.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_in_is_named_by_its_name_and_a_file_by_its_path() {
        let s = scenario("primary-crash").unwrap().unwrap();
        assert_eq!(run_arg(&s.origin).as_deref(), Some("primary-crash"));
        assert_eq!(run_arg("my dir/x.toml").as_deref(), Some("my dir/x.toml"));
        assert_eq!(run_arg("<built in code>"), None);
        // A file that shadows a built-in is named as a file.
        assert_eq!(run_arg("primary-crash").as_deref(), Some("./primary-crash"));
        assert_eq!(
            run_arg("primary-crash.toml").as_deref(),
            Some("./primary-crash.toml")
        );
    }

    #[test]
    fn every_built_in_fleet_loads_by_any_of_its_names() {
        for name in [
            "reference",
            "reference.toml",
            "fleets/reference.toml",
            "builtin:reference",
        ] {
            assert!(fleet(name).unwrap().is_ok(), "{name}");
        }
        assert!(fleet("refrence").is_none());
        assert!(unknown_fleet("builtin:refrence").contains("did you mean reference?"));
    }

    #[test]
    fn every_embedded_scenario_loads() {
        for name in scenario_names() {
            let s = scenario(name).unwrap();
            assert!(s.is_ok(), "{name}: {}", s.unwrap_err());
        }
    }
}
