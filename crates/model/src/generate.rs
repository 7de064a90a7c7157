//! Generated fleets and scenarios for scale work and benchmarks.

use std::fmt::Write as _;

use crate::error::{LoadError, Source};
use crate::scenario::{FleetResolver, Scenario};

/// The text of a fleet of `servers` servers (a primary, a secondary, the rest
/// Expansion (L)) with `phones` phones spread evenly, two thirds H.323 and
/// one third SIP. `servers` is at least 2.
pub fn fleet_toml(servers: usize, phones: usize) -> String {
    let servers = servers.max(2);
    let mut out = String::new();
    let _ = writeln!(out, "name = \"generated-{servers}x{phones}\"");
    let _ = writeln!(
        out,
        "description = \"generated: {servers} servers, {phones} phones\""
    );
    for i in 0..servers {
        let (name, role) = match i {
            0 => ("primary".to_string(), "primary"),
            1 => ("secondary".to_string(), "secondary"),
            _ => (format!("expansion-{:03}", i - 1), "expansion-linux"),
        };
        let n = phones / servers + usize::from(i < phones % servers);
        let h323 = n * 2 / 3;
        let sip = n - h323;
        let _ = writeln!(
            out,
            "\n[[server]]\nname = \"{name}\"\nrole = \"{role}\"\nfirst-extension = {}\nphones = {{ h323 = {h323}, sip = {sip} }}",
            100_000 + i * 1000
        );
    }
    out
}

/// A scenario on [`fleet_toml`]: the primary crashes at `crash_at` and the
/// run lasts `duration` (human durations).
pub fn crash_scenario(
    servers: usize,
    phones: usize,
    crash_at: &str,
    duration: &str,
) -> Result<Scenario, LoadError> {
    struct Inline(String);
    impl FleetResolver for Inline {
        fn read(&self, _: &str) -> Result<(String, String), LoadError> {
            Ok(("<generated fleet>".into(), self.0.clone()))
        }
    }
    let text = format!(
        "name = \"generated-{servers}x{phones}-primary-crash\"\nfleet = \"generated\"\nseed = 1\nduration = \"{duration}\"\n\n[[fault]]\nat = \"{crash_at}\"\ncrash = \"primary\"\n\n[[expect]]\ntakeover = {{ of = \"primary\", by = \"secondary\", within = \"5m\" }}\n"
    );
    Scenario::parse(
        &Source {
            name: "<generated scenario>",
            text: &text,
        },
        &Inline(fleet_toml(servers, phones)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_fleet_has_the_asked_size() {
        let s = crash_scenario(150, 3000, "5m", "1h").unwrap();
        assert_eq!(s.fleet.servers.len(), 150);
        assert_eq!(s.fleet.phones.len(), 3000);
    }
}
