//! Feeds any bytes to the scenario and fleet parsers, the way `fleetsim
//! check` reads a file: UTF-8 first (located error on an invalid byte),
//! then as a scenario on the built-in reference fleet, and as a fleet. Every
//! error is rendered too (the caret line included). Nothing may panic.
#![no_main]

use fleetsim_model::embedded::EmbeddedResolver;
use fleetsim_model::{Fleet, Scenario, Source};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = match fleetsim_model::read::text_of("fuzz.toml", data.to_vec()) {
        Ok(text) => text,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let src = Source {
        name: "fuzz.toml",
        text: &text,
    };
    if let Err(e) = Scenario::parse(&src, &EmbeddedResolver) {
        let _ = e.to_string();
    }
    if let Err(e) = Fleet::from_toml(&src) {
        let _ = e.to_string();
    }
    let _ = Fleet::looks_like(&text);
});
