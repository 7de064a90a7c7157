//! The scenarios and fleets in `scenarios/`, built into the binary so that
//! `fleetsim run` works on a fresh machine with no files at hand.

use crate::error::{LoadError, Source};
use crate::scenario::{FleetResolver, Scenario};

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
        "fleets/reference.toml",
        include_str!("../../../scenarios/fleets/reference.toml"),
    ),
];

/// The scenario `fleetsim run` runs when given none.
pub const DEFAULT_SCENARIO: &str = "primary-crash.toml";

/// Resolves fleet paths among the built-in files.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedResolver;

impl FleetResolver for EmbeddedResolver {
    fn read(&self, path: &str) -> Result<(String, String), LoadError> {
        let path = path.trim_start_matches("./");
        FILES
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(p, t)| (format!("<embedded>/scenarios/{p}"), (*t).to_string()))
            .ok_or_else(|| LoadError::Io {
                path: format!("<embedded>/scenarios/{path}"),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such built-in file"),
            })
    }
}

/// Loads a built-in scenario by file name (`primary-crash.toml` or `primary-crash`).
pub fn scenario(name: &str) -> Option<Result<Scenario, LoadError>> {
    let want = if name.ends_with(".toml") {
        name.to_string()
    } else {
        format!("{name}.toml")
    };
    let (path, text) = FILES
        .iter()
        .find(|(p, _)| *p == want && !p.starts_with("fleets/"))?;
    let shown = format!("<embedded>/scenarios/{path}");
    Some(Scenario::parse(
        &Source { name: &shown, text },
        &EmbeddedResolver,
    ))
}

/// The built-in scenario names (without `.toml`), in file order.
pub fn scenario_names() -> impl Iterator<Item = &'static str> {
    FILES
        .iter()
        .filter(|(p, _)| !p.starts_with("fleets/"))
        .map(|(p, _)| p.trim_end_matches(".toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_scenario_loads() {
        for name in scenario_names() {
            let s = scenario(name).unwrap();
            assert!(s.is_ok(), "{name}: {}", s.unwrap_err());
        }
    }
}
