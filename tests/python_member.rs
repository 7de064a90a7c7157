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
