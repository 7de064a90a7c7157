//! External members: servers of a fleet that fleetsim does not run.
//!
//! A server entry with `address = "host:port"` names a member that some
//! other program runs (another implementation of the same protos). In live
//! mode fleetsim starts no process for it: its servers, phones and operator
//! reach it at that address, and the faults fleetsim can apply from its own
//! side of the network (partitions, one-way cuts, stalls, flaps, latency)
//! still apply to it. Faults that need to be inside the member's process
//! (crash, stop, restart, reboot, hang, gray failure, clock offset) are
//! refused at validation ([`refusal`]).

use std::fmt;

use crate::fault::FaultKind;
use crate::fleet::Fleet;

/// A well-formed `host:port`: an IPv4 address, a bracketed IPv6 address
/// (`[::1]:9000`) or a host name, resolved when fleetsim connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The host as written (brackets of an IPv6 address kept).
    pub host: String,
    /// The port, 1 to 65535.
    pub port: u16,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// Why a text is not a `host:port` address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Empty text.
    #[error("the address is empty")]
    Empty,
    /// A URL rather than an address.
    #[error("{0:?} has a scheme; an address is host:port")]
    Scheme(String),
    /// No `:port` at the end.
    #[error("{0:?} has no port")]
    NoPort(String),
    /// The port is not a number from 1 to 65535.
    #[error("{text:?}: port {port:?} is not a number from 1 to 65535")]
    Port {
        /// The whole address.
        text: String,
        /// The port as written.
        port: String,
    },
    /// The host is neither an IP address nor a host name.
    #[error("{text:?}: host {host:?} is not an IP address or a host name")]
    Host {
        /// The whole address.
        text: String,
        /// The host as written.
        host: String,
    },
}

/// Parses `host:port` (see [`Address`]).
pub fn parse_address(text: &str) -> Result<Address, AddressError> {
    if text.is_empty() {
        return Err(AddressError::Empty);
    }
    if text.contains("://") {
        return Err(AddressError::Scheme(text.to_string()));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(AddressError::NoPort(text.to_string()));
    };
    let port = match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => {
            return Err(AddressError::Port {
                text: text.to_string(),
                port: port.to_string(),
            });
        }
    };
    if !valid_host(host) {
        return Err(AddressError::Host {
            text: text.to_string(),
            host: host.to_string(),
        });
    }
    Ok(Address {
        host: host.to_string(),
        port,
    })
}

/// An IPv4 address, a bracketed IPv6 address, or a host name (labels of
/// letters, digits and `-`, not starting or ending with `-`).
fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let name = host.strip_suffix('.').unwrap_or(host);
    // All digits and dots is a mistyped IPv4 address, not a name.
    let numeric = name.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    !name.is_empty() && name.len() <= 253 && !numeric && name.split('.').all(label_ok)
}

/// Why fleetsim refuses a fault on an external member: it needs to be
/// inside a process fleetsim does not run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The external member.
    pub member: String,
    /// Where it listens.
    pub address: String,
    /// What fleetsim was asked to do, as a verb (`crash`, `hang`, …).
    pub verb: &'static str,
    /// What fleetsim can do instead.
    pub instead: String,
}

impl Refusal {
    /// The error message: the member, its address, the fault and why.
    pub fn message(&self) -> String {
        format!(
            "{} is an external member (address = {:?}): fleetsim cannot {} a process it does not run",
            self.member, self.address, self.verb
        )
    }
}

/// The refusal of `kind` (written as the action `key`, e.g. `reboot`), when
/// it acts inside the process of an external member of `fleet`.
pub fn refusal(fleet: &Fleet, key: &str, kind: &FaultKind) -> Option<Refusal> {
    let server = match kind {
        FaultKind::Crash { server }
        | FaultKind::Stop { server }
        | FaultKind::Restart { server }
        | FaultKind::Hang { server, .. }
        | FaultKind::Gray { server, .. }
        | FaultKind::ClockOffset { server, .. } => server,
        _ => return None,
    };
    let address = fleet.server(server)?.address.clone()?;
    let (verb, instead) = match key {
        "crash" | "stop" | "reboot" => (
            verb_of(key),
            format!(
                "apply a partition instead (partition = [[{server:?}]]), or {key} the member yourself"
            ),
        ),
        "restart" => (
            "restart",
            "restart the member yourself; fleetsim reconnects to it on its own".to_string(),
        ),
        "hang" => (
            "hang",
            format!(
                "apply a stall instead (stall = {server:?}): its link goes down as far as fleetsim's connections go"
            ),
        ),
        "gray" => (
            "gray-fail",
            format!(
                "a gray failure lives in the member's serving layer; apply a one-way cut (one-way = {{ from = [{server:?}], to = [\"primary\"] }}) or latency instead"
            ),
        ),
        _ => (
            "step the clock of",
            "step the member's own clock; fleetsim steps only the clocks of the servers it runs"
                .to_string(),
        ),
    };
    Some(Refusal {
        member: server.clone(),
        address,
        verb,
        instead,
    })
}

fn verb_of(key: &str) -> &'static str {
    match key {
        "stop" => "stop",
        "reboot" => "reboot",
        _ => "crash",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_host_and_port() {
        for ok in [
            "127.0.0.1:9000",
            "[::1]:9000",
            "member.example.org:50051",
            "localhost:1",
        ] {
            assert_eq!(parse_address(ok).unwrap().to_string(), ok);
        }
    }

    #[test]
    fn malformed_addresses_say_what_is_wrong() {
        let err = |t: &str| parse_address(t).unwrap_err().to_string();
        assert_eq!(err(""), "the address is empty");
        assert!(err("http://x:1").contains("has a scheme"));
        assert!(err("127.0.0.1").contains("has no port"));
        assert!(err("127.0.0.1:0").contains("port \"0\""));
        assert!(err("127.0.0.1:70000").contains("port \"70000\""));
        assert!(err("127.0.0.1:+80").contains("port \"+80\""));
        assert!(err("bad_host:80").contains("host \"bad_host\""));
        assert!(err("300.1.1.1:80").contains("host \"300.1.1.1\""));
        assert!(err("::1:80").contains("host \"::1\""));
        assert!(err(":80").contains("host \"\""));
    }
}
