//! The event log as JSON lines: byte-identical for the same scenario and seed.

use std::io::{self, Write};

use fleetsim_model::EventRecord;

/// Writes one JSON object per event, each on its own line.
pub fn write_events(out: &mut dyn Write, events: &[EventRecord]) -> io::Result<()> {
    for e in events {
        serde_json::to_writer(&mut *out, e).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The event log as one string of JSON lines.
pub fn events_to_string(events: &[EventRecord]) -> String {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail, and serialising plain data cannot either.
    write_events(&mut buf, events).expect("in-memory write");
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}
