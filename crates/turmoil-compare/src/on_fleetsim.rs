//! The heartbeat workload on fleetsim: a primary, a secondary and an
//! Expansion (Linux), no phones, presence every second. The double star of
//! lines joins every pair of the three, so each server sends presence to
//! both others, as on the turmoil side.

use fleetsim_model::Dur;
use fleetsim_scenario::ScenarioBuilder;

use crate::{CompareError, Side};

/// The fleet: three servers on lines to each other, presence every 1 s.
pub const FLEET: &str = r#"
name = "heartbeat"
description = "three servers heartbeating each other every second, no phones"

[timers]
presence-interval = "1s"

[[server]]
name = "primary"
role = "primary"

[[server]]
name = "secondary"
role = "secondary"

[[server]]
name = "expansion"
role = "expansion-linux"
"#;

/// The scenario: [`FLEET`] for `emulated`, no faults.
pub fn scenario(emulated: Dur) -> ScenarioBuilder {
    ScenarioBuilder::on_inline_fleet(FLEET)
        .name("turmoil-compare")
        .duration(&emulated.to_string())
}

/// Runs [`scenario`] on fleetsim's paused clock: its own wall time and the
/// RPCs its servers served.
pub fn run(emulated: Dur) -> Result<Side, CompareError> {
    let failed = |reason: String| CompareError::Fleetsim { emulated, reason };
    let outcome = scenario(emulated)
        .run()
        .map_err(|e| failed(e.to_string()))?;
    if let Some(error) = &outcome.error {
        return Err(failed(error.to_string()));
    }
    Ok(Side {
        wall_ms: outcome.wall_ms,
        rpcs: outcome.rpcs,
    })
}
