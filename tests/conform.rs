//! `fleetsim conform`: a live fleet member checked over the wire against
//! the protocol contract (docs/protocol.md).

mod common;

use common::*;
use fleetsim_scenario::conform::{self, Target, Verdict};

/// Runs `fleetsim conform` and returns (exit code, stdout, stderr).
fn conform_cli(args: &[&str]) -> (i32, String, String) {
    let out = fleetsim_out(&[&["conform"], args].concat());
    (
        out.status.code().expect("exited"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_server_of_a_live_reference_fleet_conforms_in_its_role() {
    let fleet = LiveFleet::start(conform::reference_fleet(), 1.0);
    for (server, role) in [
        ("primary", "primary"),
        ("secondary", "secondary"),
        ("expansion-l", "expansion-linux"),
        ("expansion-v2", "expansion-v2"),
        ("apps", "application-server"),
    ] {
        let (code, out, err) = conform_cli(&[&fleet.address(server), "--role", role]);
        assert_eq!(code, 0, "{server} as {role}:\n{out}{err}");
        assert!(!out.lines().any(|l| l.starts_with("FAIL")), "{out}");
        assert!(out.contains(" 0 failed"), "{out}");
    }
}

#[test]
fn the_secondary_refuses_a_guest_while_its_home_is_visible_and_holds_the_records_version() {
    let live = LiveFleet::start(conform::reference_fleet(), 1.0);
    let target = Target::new(
        &live.address("secondary"),
        conform::reference_fleet(),
        None,
        Some("secondary"),
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(conform::run(&target, |_| {}));
    assert!(report.passed(), "{:#?}", report.checks);
    let guest = report.check("telephony.guest-while-home-visible").unwrap();
    assert_eq!(guest.verdict, Verdict::Pass);
    assert!(guest.detail.contains("FAILED_PRECONDITION"), "{guest}");
    assert!(guest.detail.contains("failover needs 3m"), "{guest}");
    let held = report.check("line.presence-reports-held-version").unwrap();
    assert_eq!(held.verdict, Verdict::Pass, "{held}");
    // The secondary serves every role service of its own, so nothing is skipped.
    assert_eq!(report.count(Verdict::Skip), 0, "{:#?}", report.checks);
}

#[test]
fn a_fleet_file_and_a_server_name_say_what_the_member_plays() {
    let live = LiveFleet::start(conform::reference_fleet(), 1.0);
    let fleet = root().join("scenarios/fleets/reference.toml");
    let addr = live.address("expansion-l");
    let fleet = fleet.to_str().unwrap();
    let (code, out, _) = conform_cli(&[&addr, "--fleet", fleet, "--server", "expansion-l"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("as expansion-l (expansion-linux)"), "{out}");
    // The same member checked as another server fails, and says where.
    let (code, out, _) = conform_cli(&[&addr, "--fleet", fleet, "--server", "expansion-v2"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  line.presence "), "{out}");
    assert!(out.contains("server = \"expansion-l\""), "{out}");
}

#[test]
fn a_server_serving_only_health_fails_with_exit_1_and_names_each_failing_check() {
    let port = free_port();
    // A tonic server with the health service and nothing else, for the
    // rest of this test process.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (_reporter, health) = tonic_health::server::health_reporter();
        let addr = ([127, 0, 0, 1], port).into();
        let serve = tonic::transport::Server::builder()
            .add_service(health)
            .serve(addr);
        rt.block_on(serve).unwrap();
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (code, out, _) = conform_cli(&[&format!("127.0.0.1:{port}"), "--role", "secondary"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("pass  health.overall"), "{out}");
    assert!(
        out.contains("FAIL  health.line") && out.contains("expected SERVING, got NOT_FOUND"),
        "{out}"
    );
    assert!(out.contains("FAIL  line.presence "), "{out}");
    assert!(out.contains("FAIL  telephony.register-home"), "{out}");
    assert!(out.contains("got UNIMPLEMENTED"), "{out}");
}

#[test]
fn nothing_listening_fails_the_connect_check() {
    let addr = format!("127.0.0.1:{}", free_port());
    let (code, out, _) = conform_cli(&[&addr, "--role", "primary"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL  connect"), "{out}");
    assert!(
        out.contains("nothing listens there (connection refused)"),
        "{out}"
    );
    assert!(out.contains("0 passed, 1 failed"), "{out}");
}

#[test]
fn a_socket_that_answers_nothing_or_not_grpc_fails_the_connect_check_alone() {
    // One listener that takes connections and never says a word, one that
    // answers everything with an HTTP/1 page, for the rest of the process.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let web = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (silent_addr, web_addr) = (silent.local_addr().unwrap(), web.local_addr().unwrap());
    std::thread::spawn(move || {
        let held: Vec<_> = silent.incoming().collect();
        drop(held);
    });
    std::thread::spawn(move || {
        for mut c in web.incoming().flatten() {
            use std::io::Write as _;
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi");
        }
    });
    for (addr, says) in [
        (silent_addr, "answered nothing within"),
        (web_addr, "what answers is not gRPC"),
    ] {
        let (code, out, _) = conform_cli(&[&addr.to_string(), "--role", "primary"]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("FAIL  connect") && out.contains(says), "{out}");
        assert!(out.contains("0 passed, 1 failed"), "{out}");
    }
}

#[test]
fn bad_usage_exits_2_and_says_what_is_wrong() {
    for (args, says) in [
        (&["127.0.0.1:7102"][..], "--role ROLE or --server NAME"),
        (&["127.0.0.1:7102", "--role", "ucm"], "unknown role \"ucm\""),
        (&["127.0.0.1", "--role", "secondary"], "expected HOST:PORT"),
        (&["http://h:1", "--role", "secondary"], "expected HOST:PORT"),
        (
            &["h:1", "--server", "tertiary"],
            "has no server \"tertiary\"",
        ),
        (
            &["h:1", "--server", "primary", "--role", "secondary"],
            "is the fleet's primary, not its secondary",
        ),
        (
            &[
                "h:1",
                "--fleet",
                "no/such/fleet.toml",
                "--role",
                "secondary",
            ],
            "no such file",
        ),
    ] {
        let (code, out, err) = conform_cli(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn a_backup_refuses_a_record_set_it_cannot_hold_with_invalid_argument() {
    use fleetsim_proto::pb;
    let live = LiveFleet::start(conform::reference_fleet(), 1.0);
    let addr = live.address("secondary");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let chan = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut line = pb::line_client::LineClient::new(chan);
        let record = |kind: i32| pb::PhoneRecord {
            extension: "2001".into(),
            kind,
        };
        for (version, kind, says) in [
            (0, pb::PhoneKind::Sip as i32, "version 0 is no record set"),
            (7, 0, "kind 0 is unknown or unspecified"),
            (7, 99, "kind 99 is unknown or unspecified"),
        ] {
            let req = pb::ReplicateRequest {
                from: "primary".into(),
                incarnation: 7,
                version,
                phones: vec![record(kind)],
            };
            let err = line.replicate(req).await.unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
            assert!(err.message().contains(says), "{err:?}");
        }
        // Who may send is asked first: a server it does not back up.
        let req = pb::ReplicateRequest {
            from: "apps".into(),
            incarnation: 1,
            version: 0,
            phones: vec![],
        };
        let err = line.replicate(req).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    });
}
