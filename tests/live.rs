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
