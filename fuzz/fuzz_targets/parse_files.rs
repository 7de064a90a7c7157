//! Feeds any bytes to the scenario and fleet parsers, the way `fleetsim
//! check` reads a file ([`fleetsim_model::read::parse_any`]: UTF-8 first,
//! then as a scenario on the built-in reference fleet, and as a fleet, every
//! error rendered). Nothing may panic. Seeds: `fuzz/seeds/parse_files/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fleetsim_model::read::parse_any(data);
});
