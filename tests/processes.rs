//! One fleet member per process: `fleetsim node` runs a single member,
//! `fleetsim up --processes` runs every member as a child `node` process and
//! drives them as external members, with `ctl crash` a real SIGKILL.

mod common;

use common::*;
use fleetsim_model::Event;

#[test]
fn a_node_with_neither_listen_nor_an_address_exits_2_naming_the_file_and_server() {
    let dir = temp_dir("node-no-address");
    let fleet = small_fleet_file(&dir);
    let out = fleetsim_out(&["node", fleet.to_str().unwrap(), "--server", "secondary"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(fleet.to_str().unwrap()), "{err}");
    assert!(
        err.contains("server secondary has no `address` to listen on: give --listen ADDR"),
        "{err}"
    );
}

#[test]
fn faults_that_cannot_cross_processes_are_refused_saying_so() {
    let _one = one_live_run_at_a_time();
    let dir = temp_dir("processes-refused");
    let up = Up::start(
        &small_fleet_file(&dir),
        &["--processes", "--speed", "100"],
        &[],
    );
    let out = up.fleetsim(
        &["ctl", "--control", &up.control, "partition", "primary"],
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot apply partition [primary] | rest to a fleet of member processes yet"),
        "{err}"
    );
    // The members serve on: nothing was applied.
    assert!(up.status().contains("faults in force: none"));
}

/// At 100× the 3-minute rule takes 1.8 wall seconds.
const SPEED: &str = "100";

#[test]
fn a_secondary_process_takes_over_the_ip_phones_of_a_primary_process_killed_by_sigkill() {
    let _one = one_live_run_at_a_time();
    let dir = temp_dir("processes-takeover");
    let events = dir.join("events.jsonl");
    let mut up = Up::start(
        &small_fleet_file(&dir),
        &[
            "--processes",
            "--speed",
            SPEED,
            "--events",
            events.to_str().unwrap(),
        ],
        &[],
    );
    assert!(up.banner.contains("(its own process)"), "{}", up.banner);
    // Readiness: the primary's phones are registered at home, and a
    // minute of emulated time has passed, so presence and the primary's
    // phone records have reached the secondary (the members start one after
    // another, so the first presence to a member not yet listening is lost).
    up.status_when(30, |s| {
        s.contains("primary        at home") && emulated_minutes(s) >= 1
    });

    let out = up.fleetsim(&["ctl", "--control", &up.control, "crash", "primary"], &[]);
    assert!(out.status.success(), "{out:?}");
    // Both of the primary's IP phones on the secondary, as guests.
    let s = up.status_when(60, |s| s.contains("on secondary as guests   2001–2002"));
    assert!(server_row(&s, "primary").contains("DOWN"), "{s}");

    up.interrupt();
    assert_eq!(up.exit_within(30), Some(0));
    let log = read_event_log(&events);
    // The secondary's own decision, from its process, in the one log.
    assert!(log.iter().any(|e| e.server == "secondary"
        && matches!(&e.event, Event::PeerLost { peer, .. } if peer == "primary")));
    let crashed = log
        .iter()
        .find(|e| e.server == "primary" && matches!(e.event, Event::ServerCrashed { .. }))
        .expect("the crash is logged")
        .t_ms;
    let guest = log
        .iter()
        .find(|e| {
            e.server == "secondary" && matches!(e.event, Event::PhoneRegistered { guest: true, .. })
        })
        .expect("a guest registered on the secondary")
        .t_ms;
    // The 3-minute rule counts from the last presence heard, a presence
    // interval at most before the kill: not at once, and within 5 minutes.
    let took = guest - crashed;
    assert!((120_000..300_000).contains(&took), "took {took} ms");
}
