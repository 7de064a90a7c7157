//! The example external member in Python (examples/python-member) keeps the
//! protocol: `fleetsim conform` passes against it. Skipped, with a message,
//! where python3 lacks grpcio and grpcio-tools.

mod common;

use common::*;

#[test]
fn the_python_member_passes_conform_as_the_secondary() {
    if !PythonMember::available("the_python_member_passes_conform_as_the_secondary") {
        return;
    }
    let member = PythonMember::start(&["--server", "secondary", "--listen", "127.0.0.1:0"]);
    let out = fleetsim_out(&["conform", &member.address, "--role", "secondary"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("pass  telephony.guest-while-home-visible"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pass  line.presence-reports-held-version"),
        "{stdout}"
    );
}

#[test]
fn the_python_member_as_primary_replicates_its_phone_records_to_a_fleetsim_backup() {
    if !PythonMember::available("the_python_member_as_primary_replicates_its_phone_records") {
        return;
    }
    let dir = temp_dir("python-member-primary");
    let port = free_port();
    let reference =
        std::fs::read_to_string(root().join("scenarios/fleets/reference.toml")).unwrap();
    let fleet = write(
        &dir,
        "fleet.toml",
        &reference.replacen(
            "name = \"secondary\"\n",
            &format!("name = \"secondary\"\naddress = \"127.0.0.1:{port}\"\n"),
            1,
        ),
    );
    let events = dir.join("secondary.jsonl");
    // The backup first, a fleetsim node, so the member's first presence
    // finds it; both at 60× (presence every half second).
    let mut node = fleetsim()
        .arg("node")
        .arg(&fleet)
        .args(["--server", "secondary", "--speed", "60", "--events"])
        .arg(&events)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let peer = format!("secondary=127.0.0.1:{port}");
    let member = PythonMember::start(&[
        "--fleet",
        fleet.to_str().unwrap(),
        "--server",
        "primary",
        "--listen",
        "127.0.0.1:0",
        "--speed",
        "60",
        "--peer",
        &peer,
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let replicated = loop {
        let log = std::fs::read_to_string(&events).unwrap_or_default();
        if let Some(l) = log.lines().find(|l| l.contains("\"records-replicated\"")) {
            break Some(l.to_string());
        }
        if std::time::Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let _ = node.kill();
    let _ = node.wait();
    let line = replicated.unwrap_or_else(|| {
        panic!(
            "no records reached the secondary; the member logged:\n{}",
            member.log()
        )
    });
    // The primary's 16 IP phones (its softphones never fail over).
    assert!(
        line.contains("\"home\":\"primary\"") && line.contains("\"phones\":16"),
        "{line}"
    );
}
