//! One fleet member per process: `fleetsim node` runs a single member,
//! `fleetsim up --processes` runs every member as a child `node` process and
//! drives them as external members, with `ctl crash` a real SIGKILL.

mod common;

use common::*;
use fleetsim_model::{Event, EventRecord, FaultKind};

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
fn a_node_given_a_bare_port_or_a_busy_one_says_so_once() {
    let dir = temp_dir("node-listen");
    let fleet = small_fleet_file(&dir);
    let fleet = fleet.to_str().unwrap();
    let out = fleetsim_out(&["node", fleet, "--server", "primary", "--listen", "17701"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is a port alone; give the host too"), "{err}");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = fleetsim_out(&["node", fleet, "--server", "primary", "--listen", &addr]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "error: server primary cannot start: cannot bind {addr}: "
        )) && err.contains("give another --listen"),
        "{err}"
    );
}

/// `up --processes` on the small fleet at [`SPEED`], writing its events to
/// `events` (and its report beside them, as `.html`), once the primary's phones are home and a minute has passed
/// (presence and the phone records have reached the secondary, which holds
/// them only once replicated, as on the real system).
fn processes_ready(dir: &std::path::Path, events: &std::path::Path) -> Up {
    let up = Up::start(
        &small_fleet_file(dir),
        &[
            "--processes",
            "--speed",
            SPEED,
            "--events",
            events.to_str().unwrap(),
            "--report",
            events.with_extension("html").to_str().unwrap(),
        ],
        &[],
    );
    up.status_when(30, |s| {
        s.contains("primary        at home") && emulated_minutes(s) >= 1
    });
    up
}

/// [`processes_ready`] for `test` in a directory of its own, holding the
/// one-live-run lock; with where its events go.
fn drill(test: &str) -> (std::sync::MutexGuard<'static, ()>, Up, std::path::PathBuf) {
    let one = one_live_run_at_a_time();
    let dir = temp_dir(test);
    let events = dir.join("events.jsonl");
    let up = processes_ready(&dir, &events);
    let made = std::env::temp_dir().join(format!("fleetsim-up-{}", up.pid()));
    assert!(
        made.is_dir(),
        "the members' fleet file is not in {}",
        made.display()
    );
    (one, up, events)
}

/// Ends `up` with a Ctrl-C at its terminal (it must exit 0) and reads the
/// event log it wrote to `events`.
fn ended(up: &mut Up, events: &std::path::Path) -> Vec<EventRecord> {
    // `up --processes` writes the members' fleet file to a directory of
    // its own, and removes it when it ends.
    let made = std::env::temp_dir().join(format!("fleetsim-up-{}", up.pid()));
    let had = made.exists();
    up.ctrl_c();
    assert_eq!(up.exit_within(30), Some(0));
    assert!(!(had && made.exists()), "up left {} behind", made.display());
    let log = read_event_log(events);
    // The drill's log ends before its members are stopped: their
    // shutdown is no part of it (a `ctl stop NAME` during the drill is),
    // though the Ctrl-C reached every process of the terminal's group.
    let stopped: Vec<&EventRecord> = (log.iter())
        .filter(|e| matches!(e.event, Event::ServerStopped { .. }))
        .collect();
    let asked = (log.iter())
        .filter(|e| {
            matches!(
                &e.event,
                Event::FaultApplied {
                    spec: FaultKind::Stop { .. },
                    ..
                }
            )
        })
        .count();
    assert!(
        stopped.len() <= asked,
        "the members' shutdown reached the drill's log: {stopped:?}"
    );
    log
}

/// Whether `log` has `observer` declaring `peer` lost.
fn lost(log: &[EventRecord], observer: &str, peer: &str) -> bool {
    log.iter().any(|e| {
        e.server == observer && matches!(&e.event, Event::PeerLost { peer: p, .. } if p == peer)
    })
}

#[test]
fn a_partition_is_applied_inside_the_member_processes_and_heal_undoes_it() {
    let (_one, mut up, events) = drill("processes-partition");

    // Presence goes from member process to member process: only the
    // members' own transports can cut it.
    let out = up.fleetsim(
        &["ctl", "--control", &up.control, "partition", "primary"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    // The isolated primary keeps running; its phones, on the secondary's
    // side of the split, fail over to it.
    let s = up.status_when(60, |s| s.contains("on secondary as guests   2001–2002"));
    assert!(!server_row(&s, "primary").contains("DOWN"), "{s}");

    let out = up.fleetsim(&["ctl", "--control", &up.control, "heal"], &[]);
    assert!(out.status.success(), "{out:?}");
    // Visible again for 10 minutes: the phones go home.
    up.status_when(60, |s| s.contains("primary        at home"));

    let log = ended(&mut up, &events);
    assert!(
        lost(&log, "secondary", "primary"),
        "the secondary never lost the primary"
    );
    assert!(
        lost(&log, "primary", "secondary"),
        "the primary never lost the secondary"
    );
    assert!(log.iter().any(|e| e.server == "secondary"
        && matches!(&e.event, Event::PeerReturned { peer, .. } if peer == "primary")));
    assert!(
        !log.iter()
            .any(|e| matches!(e.event, Event::ServerCrashed { .. }))
    );
}

#[test]
fn a_hang_is_applied_by_the_hung_member_process_itself() {
    let (_one, mut up, events) = drill("processes-hang");
    // What runs where, read from the members' own events.
    let s = up.status();
    let standing = s
        .lines()
        .filter(|l| l.trim_start().starts_with("primary "))
        .nth(1)
        .unwrap_or_else(|| panic!("no licence row for primary:\n{s}"));
    assert!(
        standing.contains("normal") && standing.contains("voicemail-pro"),
        "{s}"
    );

    // Only the secondary's own serving layer can make it answer nobody:
    // the primary's process dials it directly.
    let out = up.fleetsim(
        &[
            "ctl",
            "--control",
            &up.control,
            "fault",
            "hang = \"secondary\"",
        ],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    // Silent past the 3-minute rule and a presence interval.
    let hung_at = emulated_minutes(&up.status());
    up.status_when(30, |s| emulated_minutes(s) >= hung_at + 5);
    let out = up.fleetsim(&["ctl", "--control", &up.control, "clear", "all"], &[]);
    assert!(out.status.success(), "{out:?}");

    let log = ended(&mut up, &events);
    assert!(
        lost(&log, "primary", "secondary"),
        "the primary never lost the secondary"
    );
    assert!(
        !log.iter()
            .any(|e| matches!(e.event, Event::ServerCrashed { .. }))
    );
}

#[test]
fn a_member_process_stopped_by_ctl_exits_gracefully_and_restarts_unless_hung() {
    // What an `up --processes` killed before it could clean up left
    // behind goes when the next one starts.
    let dead = (4_000_000..4_194_304)
        .find(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        .unwrap();
    let stale = std::env::temp_dir().join(format!("fleetsim-up-{dead}"));
    write(&stale, "fleet.toml", "# left by a killed fleetsim up\n");
    let (_one, mut up, events) = drill("processes-stop");
    assert!(!stale.exists(), "{} is still there", stale.display());

    let stop_and_restart = |up: &Up| {
        let out = up.fleetsim(&["ctl", "--control", &up.control, "stop", "secondary"], &[]);
        assert!(out.status.success(), "{out:?}");
        let s = up.status();
        assert!(server_row(&s, "secondary").contains("DOWN"), "{s}");
        let out = up.fleetsim(
            &["ctl", "--control", &up.control, "restart", "secondary"],
            &[],
        );
        assert!(out.status.success(), "{out:?}");
        up.status_when(30, |s| !server_row(s, "secondary").contains("DOWN"));
        // Its phones register on the new process: no hang is left anywhere.
        up.status_when(30, |s| s.contains("secondary      at home"));
    };
    stop_and_restart(&up);
    // Hung, it cannot wind down: the stop kills it, and ends the hang with
    // the process, everywhere.
    let out = up.fleetsim(&["ctl", "--control", &up.control, "hang", "secondary"], &[]);
    assert!(out.status.success(), "{out:?}");
    stop_and_restart(&up);

    let log = ended(&mut up, &events);
    let ends: Vec<&Event> = (log.iter())
        .filter(|e| e.server == "secondary")
        .map(|e| &e.event)
        .filter(|e| matches!(e, Event::ServerStopped { .. } | Event::ServerCrashed { .. }))
        .collect();
    assert!(
        matches!(
            ends[..],
            [Event::ServerStopped { .. }, Event::ServerCrashed { .. }]
        ),
        "{ends:?}"
    );
}

/// The member process matching `pattern` was given a token for its
/// control port, in its environment (which only its user can read), not
/// on its command line (which `ps` shows everyone).
fn member_control_needs_a_token_not_on_its_command_line(pattern: &str) {
    let found = std::process::Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&found.stdout)
        .lines()
        .next()
        .expect("pgrep finds the member")
        .trim()
        .to_string();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let token = environ
        .split(|b| *b == 0)
        .find_map(|v| v.strip_prefix(b"FLEETSIM_TOKEN="))
        .expect("the member has a control token");
    assert!(token.len() >= 32, "a guessable token: {token:?}");
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert!(
        !cmdline.windows(token.len()).any(|w| w == token),
        "the token is on the command line"
    );
}

#[test]
fn a_member_process_killed_from_outside_is_logged_as_a_crash() {
    let (_one, mut up, events) = drill("processes-outside-kill");

    // The supervisor writes the members' fleet file under a directory
    // named after its pid: that names this drill's primary process alone.
    let pattern = format!("fleetsim-up-{}/fleet.toml --server primary", up.pid());
    member_control_needs_a_token_not_on_its_command_line(&pattern);
    let killed = std::process::Command::new("pkill")
        .args(["-KILL", "-f", &pattern])
        .status()
        .unwrap();
    assert!(
        killed.success(),
        "pkill found no process matching {pattern}"
    );
    up.status_when(30, |s| server_row(s, "primary").contains("DOWN"));

    let log = ended(&mut up, &events);
    let crash = log
        .iter()
        .find(|e| e.server == "primary" && matches!(e.event, Event::ServerCrashed { .. }))
        .expect("no crash of the primary in the log");
    // Its two phones were on it when it died, though they may have logged
    // finding it gone before its end was noticed.
    assert!(
        matches!(
            crash.event,
            Event::ServerCrashed {
                registered_phones: 2
            }
        ),
        "{crash:?}"
    );
}

#[test]
fn a_sigterm_while_the_member_processes_start_ends_the_drill_with_its_files_written() {
    let _one = one_live_run_at_a_time();
    let dir = temp_dir("processes-early-sigterm");
    let events = dir.join("events.jsonl");
    let port = free_ports(4);
    let mut child = fleetsim()
        .arg("up")
        .arg(small_fleet_file(&dir))
        .args(["--processes", "--speed", SPEED])
        .args(["--control", &format!("127.0.0.1:{port}")])
        .args(["--base-port", &(port + 1).to_string()])
        .args(["--events", events.to_str().unwrap()])
        .env_remove("FLEETSIM_TOKEN")
        .env_remove("FLEETSIM_CONTROL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The members' directory is made before the first member starts, long
    // before the fleet is announced.
    let made = std::env::temp_dir().join(format!("fleetsim-up-{}", child.id()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !made.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} never made",
            made.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "up still running 30 s after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(
        status.code(),
        Some(0),
        "ended by the signal's default action"
    );
    assert!(events.is_file(), "no event log written");
    assert!(!made.exists(), "up left {} behind", made.display());
}

/// At 100× the 3-minute rule takes 1.8 wall seconds.
const SPEED: &str = "100";

#[test]
fn a_secondary_process_takes_over_the_ip_phones_of_a_primary_process_killed_by_sigkill() {
    let (_one, mut up, events) = drill("processes-takeover");
    assert!(up.banner.contains("(its own process)"), "{}", up.banner);

    let out = up.fleetsim(&["ctl", "--control", &up.control, "crash", "primary"], &[]);
    assert!(out.status.success(), "{out:?}");
    // Both of the primary's IP phones on the secondary, as guests.
    let s = up.status_when(60, |s| s.contains("on secondary as guests   2001–2002"));
    assert!(server_row(&s, "primary").contains("DOWN"), "{s}");
    // The secondary's process reports its timers: watch shows the peer it
    // lost, as it does for a fleet in one process.
    let watch = up.fleetsim(&["watch", "--control", &up.control, "--once"], &[]);
    let screen = String::from_utf8_lossy(&watch.stdout);
    assert!(
        screen.contains("secondary      primary lost, silent"),
        "{screen}"
    );

    let log = ended(&mut up, &events);
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
    // Every member served in its own process: the report does not claim
    // that no RPC was served.
    let report = std::fs::read_to_string(events.with_extension("html")).unwrap();
    assert!(
        report.contains("RPCs not counted (members served in other processes)")
            && !report.contains(" 0 RPCs"),
        "{}",
        &report[report.len().saturating_sub(400)..]
    );
}

/// The small fleet with every member at a loopback address and member
/// control port from `base` on, as `fleetsim node`s started elsewhere.
fn attachable_fleet(dir: &std::path::Path, base: u16) -> std::path::PathBuf {
    let at = |i: u16| format!("\"127.0.0.1:{}\"", base + i);
    write(
        dir,
        "attach.toml",
        &format!(
            "name = \"attach\"\n\n[[server]]\nname = \"primary\"\nrole = \"primary\"\n\
             address = {}\ncontrol = {}\nphones = {{ sip = 2 }}\n\n\
             [[server]]\nname = \"secondary\"\nrole = \"secondary\"\n\
             address = {}\ncontrol = {}\nphones = {{ sip = 2 }}\n",
            at(0),
            at(1),
            at(2),
            at(3)
        ),
    )
}

#[test]
fn up_attaches_to_nodes_started_elsewhere_crashes_one_over_its_control_port_and_reattaches_to_its_successor()
 {
    let _one = one_live_run_at_a_time();
    let dir = temp_dir("processes-attach");
    let fleet = attachable_fleet(&dir, free_ports(4));
    let events = dir.join("events.jsonl");
    let mut primary = Node::start(&fleet, "primary", &["--speed", SPEED]);
    let _secondary = Node::start(&fleet, "secondary", &["--speed", SPEED]);
    let mut up = Up::start(
        &fleet,
        &["--speed", SPEED, "--events", events.to_str().unwrap()],
        &[],
    );
    assert!(
        up.banner.contains("(a node; attached through 127.0.0.1:"),
        "{}",
        up.banner
    );
    up.status_when(30, |s| {
        s.contains("primary        at home") && emulated_minutes(s) >= 1
    });

    // Partitions reach the nodes' own transports here too.
    let out = up.fleetsim(&["ctl", "--control", &up.control, "crash", "primary"], &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        primary.exit_within(10),
        Some(137),
        "the node did not end as killed"
    );
    up.status_when(60, |s| s.contains("on secondary as guests   2001–2002"));
    // Restarting is the orchestrator's part.
    let out = up.fleetsim(
        &["ctl", "--control", &up.control, "restart", "primary"],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("runs under its own orchestrator"),
        "{out:?}"
    );
    // Nor can fleetsim undo the crash: it stays in force until the member
    // is back.
    let out = up.fleetsim(&["ctl", "--control", &up.control, "clear", "all"], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("runs under its own orchestrator"),
        "{out:?}"
    );
    // And it offers no undo that would fail: it says why it stays.
    let left = String::from_utf8_lossy(&out.stdout);
    assert!(!left.contains("(undo:"), "{left}");
    assert!(
        left.contains("clear cannot undo it: primary runs under"),
        "{left}"
    );
    let out = up.fleetsim(&["ctl", "--control", &up.control, "faults"], &[]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.contains("crash primary"), "{out:?}");
    assert!(listed.contains("clear cannot undo it"), "{listed}");
    // The orchestrator starts a new process: attached again, as a restart.
    let _successor = Node::start(&fleet, "primary", &["--speed", SPEED]);
    up.status_when(30, |s| server_row(s, "primary").contains("(restarted ×1)"));
    // Its crash is over: no longer listed in force.
    let out = up.fleetsim(&["ctl", "--control", &up.control, "faults"], &[]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(!listed.contains("crash primary"), "{listed}");

    let log = ended(&mut up, &events);
    assert!(
        lost(&log, "secondary", "primary"),
        "the secondary never lost the primary"
    );
    let crashes = log
        .iter()
        .filter(|e| e.server == "primary" && matches!(e.event, Event::ServerCrashed { .. }))
        .count();
    assert_eq!(crashes, 1, "one crash, logged once");
}

#[test]
fn up_says_why_it_cannot_attach_to_a_node_at_another_speed_or_behind_another_token() {
    let _one = one_live_run_at_a_time();
    let dir = temp_dir("processes-attach-refused");
    let fleet = attachable_fleet(&dir, free_ports(4));
    let _primary = Node::start(&fleet, "primary", &["--speed", "50"]);
    let _secondary = Node::start(
        &fleet,
        "secondary",
        &["--speed", SPEED, "--token", "theirs"],
    );
    let up = Up::start(&fleet, &["--speed", SPEED], &[]);

    let err = up.stderr_when(20, "cannot attach to secondary");
    assert!(
        err.contains("cannot attach to primary at 127.0.0.1:")
            && err.contains("the node runs at --speed 50, this fleet at --speed 100"),
        "{err}"
    );
    assert!(
        err.contains("cannot attach to secondary at 127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("authorization"), "{err}");
    // Said once each, not at every retry.
    assert_eq!(err.matches("cannot attach to primary").count(), 1, "{err}");
    let s = up.status();
    assert!(server_row(&s, "primary").contains("DOWN"), "{s}");
    assert!(server_row(&s, "secondary").contains("DOWN"), "{s}");
}
