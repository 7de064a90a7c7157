//! Bench only: fleetsim side by side with turmoil, its closest peer, on the
//! same workload: three servers heartbeating each other every second for an
//! emulated hour.
//!
//! - **turmoil** (0.7, its default 1 ms tick): three hosts, each serving
//!   fleetsim's generated `Line` gRPC service with real tonic over turmoil's
//!   simulated TCP, and sending a `Line/Presence` RPC to each of the other
//!   two every second of simulated time.
//! - **fleetsim**: a fleet of a primary, a secondary and an Expansion
//!   (Linux), no phones, `presence-interval = "1s"`, run by
//!   [`fleetsim_scenario::run`] on its paused clock. Its servers also do
//!   what servers do (the secondary's standby voicemail checks the
//!   primary's at the presence interval, the expansion renews its
//!   licences, every server runs its watchdogs and writes the event log):
//!   about 17 % more RPCs.
//!
//! Both report wall time and RPCs served. turmoil stays out of the product:
//! only this crate depends on it, and `fleetsim bench` runs this crate's
//! binary as a child process when it finds it next to its own executable.
//!
//! ```sh
//! cargo build --release -p fleetsim-turmoil-compare -p fleetsim-cli
//! ./target/release/fleetsim-turmoil-compare              # an emulated hour
//! ./target/release/fleetsim-turmoil-compare --emulated 10m
//! ./target/release/fleetsim bench                        # its `turmoil` row
//! ```
//!
//! It prints one JSON line: `{"turmoil_wall_ms":..,"turmoil_rpcs":..,
//! "fleetsim_wall_ms":..,"fleetsim_rpcs":..,"emulated_ms":3600000}`.
//!
//! # Layout
//! - this file: [`compare`], its [`Comparison`] and the emulated length's
//!   checks ([`parse_emulated`]).
//! - [`on_turmoil`]: the three hosts on turmoil.
//! - [`on_fleetsim`]: the three-server fleet on fleetsim.

pub mod on_fleetsim;
pub mod on_turmoil;

use std::time::Duration;

use fleetsim_model::Dur;
use serde::Serialize;

/// How often each server heartbeats each other one, on both sides.
pub const HEARTBEAT: Duration = Duration::from_secs(1);

/// The longest emulated run: turmoil steps every 1 ms, so a day is already
/// minutes of wall time.
pub const MAX_EMULATED: Dur = Dur::days(1);

/// One side's measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Side {
    /// Wall milliseconds the run took.
    pub wall_ms: f64,
    /// RPCs its servers served.
    pub rpcs: u64,
}

/// Both sides of one comparison, as the binary prints it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Wall milliseconds turmoil took.
    pub turmoil_wall_ms: f64,
    /// Presence RPCs turmoil's hosts served.
    pub turmoil_rpcs: u64,
    /// Wall milliseconds fleetsim took.
    pub fleetsim_wall_ms: f64,
    /// RPCs fleetsim's servers served (presence and the rest).
    pub fleetsim_rpcs: u64,
    /// Emulated milliseconds each side ran.
    pub emulated_ms: u64,
}

/// Why a comparison could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// The emulated length is not a duration.
    #[error(transparent)]
    Duration(#[from] fleetsim_model::duration::DurationError),
    /// The emulated length is too short to heartbeat even once.
    #[error(
        "emulated length {0} is shorter than one heartbeat ({HEARTBEAT:?}); write e.g. \"10m\""
    )]
    TooShort(Dur),
    /// The emulated length is longer than [`MAX_EMULATED`].
    #[error("emulated length {0} is longer than {MAX_EMULATED}; write e.g. \"1h\"")]
    TooLong(Dur),
    /// turmoil's simulation failed.
    #[error("turmoil simulation of {emulated} failed: {reason}")]
    Turmoil {
        /// The emulated length asked for.
        emulated: Dur,
        /// turmoil's error, as it words it.
        reason: String,
    },
    /// fleetsim's run failed.
    #[error("fleetsim run of {emulated} failed: {reason}")]
    Fleetsim {
        /// The emulated length asked for.
        emulated: Dur,
        /// The runner's error (a scenario it refused, a server that could
        /// not start), or the panic that made the run an error.
        reason: String,
    },
}

/// Reads an emulated length (`"1h"`, `"10m"`), as `--emulated` takes it.
pub fn parse_emulated(input: &str) -> Result<Dur, CompareError> {
    let d = fleetsim_model::parse_duration(input)?;
    long_enough(d)?;
    short_enough(d)?;
    Ok(d)
}

/// At least one heartbeat fits in the run.
fn long_enough(d: Dur) -> Result<(), CompareError> {
    if d.0 < HEARTBEAT {
        return Err(CompareError::TooShort(d));
    }
    Ok(())
}

/// At most [`MAX_EMULATED`].
fn short_enough(d: Dur) -> Result<(), CompareError> {
    if d > MAX_EMULATED {
        return Err(CompareError::TooLong(d));
    }
    Ok(())
}

/// Runs the heartbeat workload for `emulated` on turmoil, then on fleetsim.
pub fn compare(emulated: Dur) -> Result<Comparison, CompareError> {
    let turmoil = on_turmoil::run(emulated)?;
    let fleetsim = on_fleetsim::run(emulated)?;
    Ok(Comparison {
        turmoil_wall_ms: turmoil.wall_ms,
        turmoil_rpcs: turmoil.rpcs,
        fleetsim_wall_ms: fleetsim.wall_ms,
        fleetsim_rpcs: fleetsim.rpcs,
        emulated_ms: emulated.as_millis(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_heartbeat_every_pair_every_second_for_thirty_emulated_seconds() {
        let c = compare(Dur::secs(30)).unwrap();
        // Three servers, each to the other two, once a second: 6 a second.
        // turmoil beats at 0 s too (refused if that peer is not listening yet).
        assert!(
            (6 * 29..=6 * 31).contains(&c.turmoil_rpcs),
            "turmoil served {}",
            c.turmoil_rpcs
        );
        // fleetsim's servers start up to `start-jitter` (5 s) apart, and
        // serve more than presence.
        assert!(
            c.fleetsim_rpcs >= 6 * 24,
            "fleetsim served {}",
            c.fleetsim_rpcs
        );
        assert_eq!(c.emulated_ms, 30_000);
        assert!(c.turmoil_wall_ms > 0.0 && c.fleetsim_wall_ms > 0.0);
    }

    #[test]
    fn emulated_length_is_one_second_to_one_day() {
        assert_eq!(parse_emulated("1s").unwrap(), Dur::secs(1));
        assert_eq!(parse_emulated("1d").unwrap(), Dur::days(1));
        assert!(matches!(
            parse_emulated("999ms"),
            Err(CompareError::TooShort(_))
        ));
        assert!(matches!(
            parse_emulated("1d1ms"),
            Err(CompareError::TooLong(_))
        ));
        assert!(matches!(
            parse_emulated("10"),
            Err(CompareError::Duration(_))
        ));
    }

    #[test]
    fn a_refused_length_is_named_with_what_would_be_right() {
        let e = parse_emulated("2d").unwrap_err().to_string();
        assert!(e.contains("2d") && e.contains("\"1h\""), "{e}");
    }
}
