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
/// run lasts `duration` (human durations), with `calls_per_hour` random calls
/// (0: none).
pub fn crash_scenario(
    servers: usize,
    phones: usize,
    calls_per_hour: u32,
    crash_at: &str,
    duration: &str,
) -> Result<Scenario, LoadError> {
    let calls = if calls_per_hour > 0 {
        format!("\n[calls]\nper-hour = {calls_per_hour}\nmean-duration = \"3m\"\n")
    } else {
        String::new()
    };
    let text = format!(
        "name = \"generated-{servers}x{phones}-primary-crash\"\nfleet = \"generated\"\nseed = 1\nduration = \"{duration}\"\n{calls}\n[[fault]]\nat = \"{crash_at}\"\ncrash = \"primary\"\n\n[[expect]]\ntakeover = {{ of = \"primary\", by = \"secondary\", within = \"5m\" }}\n"
    );
    parse(&text, fleet_toml(servers, phones))
}

/// A registration storm: a primary homing `phones` SIP and H.323 phones
/// crashes at 5 min and every one of them re-registers on the secondary
/// (capacity set to fit), in a 20-minute run.
pub fn storm_scenario(phones: usize) -> Result<Scenario, LoadError> {
    let h323 = phones * 2 / 3;
    let sip = phones - h323;
    let fleet = format!(
        "name = \"storm-{phones}\"\ndescription = \"a primary with {phones} IP phones\"\n\n[[server]]\nname = \"primary\"\nrole = \"primary\"\nfirst-extension = 100000\ncapacity = {cap}\nphones = {{ h323 = {h323}, sip = {sip} }}\n\n[[server]]\nname = \"secondary\"\nrole = \"secondary\"\ncapacity = {cap}\n",
        cap = phones + 100
    );
    let text = format!(
        "name = \"registration-storm-{phones}\"\nfleet = \"generated\"\nseed = 1\nduration = \"20m\"\n\n[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n\n[[expect]]\ntakeover = {{ of = \"primary\", by = \"secondary\", within = \"5m\" }}\n"
    );
    parse(&text, fleet)
}

/// Parses a generated scenario on the generated fleet `fleet`.
fn parse(text: &str, fleet: String) -> Result<Scenario, LoadError> {
    struct Inline(String);
    impl FleetResolver for Inline {
        fn read(&self, _: &str) -> Result<(String, String), LoadError> {
            Ok(("<generated fleet>".into(), self.0.clone()))
        }
    }
    Scenario::parse(
        &Source {
            name: "<generated scenario>",
            text,
        },
        &Inline(fleet),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_fleet_has_the_asked_size() {
        let s = crash_scenario(150, 3000, 2000, "5m", "1h").unwrap();
        assert_eq!(s.fleet.servers.len(), 150);
        assert_eq!(s.fleet.phones.len(), 3000);
        assert_eq!(s.calls.per_hour, 2000);
    }

    #[test]
    fn storm_fleet_homes_every_phone_on_the_primary() {
        let s = storm_scenario(1500).unwrap();
        assert_eq!(s.fleet.phones.len(), 1500);
        assert!(s.fleet.phones.iter().all(|p| p.home == "primary"));
    }
}
