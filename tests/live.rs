//! The same failover over real TCP on 127.0.0.1 with a scaled wall clock.

mod common;

use common::*;
use fleetsim_scenario::{Mode, RunOptions};

#[test]
fn primary_crash_passes_in_live_mode_at_high_speed() {
    let s = load("primary-crash.toml");
    // 30 emulated minutes at 200×: about 9 s of wall time.
    let o = fleetsim_scenario::run(
        &s,
        &RunOptions {
            mode: Mode::Live,
            speed: 200.0,
            seed: None,
        },
    )
    .unwrap();
    assert_passed(&o);
    assert_eq!(o.metrics.phones_moved, 16);
}

#[test]
fn partition_heal_and_failback_pass_over_tcp() {
    let s = load("primary-isolated.toml");
    // 50 emulated minutes at 300×: about 10 s of wall time.
    let o = fleetsim_scenario::run(
        &s,
        &RunOptions {
            mode: Mode::Live,
            speed: 300.0,
            seed: None,
        },
    )
    .unwrap();
    assert_passed(&o);
    assert_eq!(o.metrics.phones_failed_back, 16);
}

#[test]
fn the_cli_runs_live_mode() {
    let out = fleetsim_out(&[
        "run",
        "expansion-crash",
        "--mode",
        "live",
        "--speed",
        "300",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mode"], "live");
    assert_eq!(v["passed"], true);
}

#[test]
fn a_hang_is_found_out_by_deadlines_over_tcp() {
    let s = load("primary-hang.toml");
    // 45 emulated minutes at 400×: about 7 s of wall time.
    let o = fleetsim_scenario::run(
        &s,
        &RunOptions {
            mode: Mode::Live,
            speed: 400.0,
            seed: None,
        },
    )
    .unwrap();
    assert_passed(&o);
    assert_eq!(o.metrics.phones_moved, 16);
}
