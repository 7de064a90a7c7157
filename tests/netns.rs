//! Every fleet member on a host of its own: one network namespace per
//! member, each joined by a veth pair to a bridge in a hub namespace, a
//! `fleetsim node` in each, and the phones on a fifth host (`fleetsim up`
//! with every member external). A link is cut for real, with `ip link set
//! down`, not through fleetsim's fault plane. The test builds and removes
//! everything itself (nothing touches the root namespace's interfaces), and
//! is skipped, saying why, where `ip netns add` fails (not root, no
//! iproute2).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use fleetsim_model::{Event, EventRecord};

/// At 60× the 3-minute rule takes 3 wall seconds, and failback's 10 minutes 10.
const SPEED: &str = "60";

/// The members, each with its host number on the lab's /24, in fleet order.
const MEMBERS: [(&str, u8); 3] = [("primary", 1), ("secondary", 2), ("expansion", 3)];

/// The host the phones (and `fleetsim up`) run on, and its host number.
const PHONES: (&str, u8) = ("phones", 10);

/// The port every member listens on, each on its own host.
const PORT: u16 = 7101;

/// Hosts made of network namespaces: `fs<pid>-<host>` for each, with
/// `eth0` at `<subnet>.<n>/24` on a bridge in `fs<pid>-hub`; the processes
/// started on them. Dropping it kills the processes and deletes every
/// namespace (and with them the veth pairs and the bridge), panic or not.
struct Lab {
    /// `fs<pid>`: the prefix of every namespace name.
    prefix: String,
    /// The first three octets of the lab's /24, e.g. `10.213.57`.
    subnet: String,
    /// Namespaces created, the hub first.
    namespaces: Vec<String>,
    /// Processes started on the hosts, each with its host and its stderr file.
    procs: Vec<(String, Child, PathBuf)>,
    /// Where the processes' output goes.
    dir: PathBuf,
}

impl Lab {
    /// Creates the hub and one host per entry of `hosts` (name, host
    /// number), each linked to the hub and up; `Err` says why there is no
    /// lab when `ip netns add` fails.
    fn build(dir: &Path, hosts: &[(&str, u8)]) -> Result<Lab, String> {
        let pid = std::process::id();
        let mut lab = Lab {
            prefix: format!("fs{pid}"),
            subnet: format!("10.213.{}", pid % 250 + 1),
            namespaces: Vec::new(),
            procs: Vec::new(),
            dir: dir.to_path_buf(),
        };
        let hub = lab.ns("hub");
        match Command::new("ip").args(["netns", "add", &hub]).output() {
            Ok(o) if o.status.success() => lab.namespaces.push(hub.clone()),
            Ok(o) => {
                return Err(format!(
                    "`ip netns add {hub}` failed ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
            }
            Err(e) => return Err(format!("cannot run `ip` (iproute2): {e}")),
        }
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &hub, "link", "set", "br0", "up"]);
        for (host, n) in hosts {
            let ns = lab.ns(host);
            ip(&["netns", "add", &ns]);
            lab.namespaces.push(ns.clone());
            let side = hub_side(host);
            ip(&[
                "-n", &hub, "link", "add", &side, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ]);
            ip(&["-n", &hub, "link", "set", &side, "master", "br0"]);
            ip(&["-n", &hub, "link", "set", &side, "up"]);
            let addr = format!("{}.{n}/24", lab.subnet);
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        Ok(lab)
    }

    /// The namespace of `host`.
    fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    /// `HOST_IP:PORT` of host number `n`.
    fn address(&self, n: u8) -> String {
        format!("{}.{n}:{PORT}", self.subnet)
    }

    /// What runs the rest of a command line on `host`.
    fn on(&self, host: &str) -> [String; 4] {
        ["ip".into(), "netns".into(), "exec".into(), self.ns(host)]
    }

    /// Starts `fleetsim ARGS…` on `host`, its stdout and stderr in files
    /// of the lab's directory named after the host.
    fn spawn(&mut self, host: &str, args: &[&str]) {
        let on = self.on(host);
        let on: Vec<&str> = on.iter().map(String::as_str).collect();
        let err = self.dir.join(format!("{host}.stderr"));
        let out = std::fs::File::create(self.dir.join(format!("{host}.stdout"))).unwrap();
        let child = fleetsim_in(&on)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        self.procs.push((host.to_string(), child, err));
    }

    /// Sets the hub side of `host`'s link down (cut) or up (restored).
    fn set_link(&self, host: &str, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&["-n", &self.ns("hub"), "link", "set", &hub_side(host), state]);
    }

    /// Polls `found` every 100 ms until it gives a value; panics after
    /// `secs` wall seconds, saying what was awaited and what every process
    /// on the lab's hosts wrote on stderr.
    fn until<T>(&self, secs: u64, what: &str, mut found: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = found() {
                return v;
            }
            if Instant::now() > deadline {
                let logs: String = (self.procs.iter())
                    .map(|(host, _, err)| {
                        let text = std::fs::read_to_string(err).unwrap_or_default();
                        format!("--- {host} stderr:\n{text}")
                    })
                    .collect();
                panic!("not within {secs} s: {what}\n{logs}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for (_, child, _) in &mut self.procs {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The hosts first: deleting one takes its end of the veth pair, and
        // the other end with it.
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// The hub side of `host`'s veth pair (`h-<host>`, at most 15 bytes).
fn hub_side(host: &str) -> String {
    format!("h-{host}")
}

/// The first event so far in the event log at `log` that `f` accepts.
fn first(log: &Path, f: impl Fn(&Event) -> bool) -> Option<EventRecord> {
    read_event_log(log).into_iter().find(|e| f(&e.event))
}

/// Runs `ip ARGS…`, panicking with what it said if it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes the lab's fleet: primary, secondary and an expansion, each at
/// its host's address; two H.323 and two SIP phones on the primary.
fn fleet_file(dir: &Path, lab: &Lab) -> PathBuf {
    let [p, s, e] = MEMBERS.map(|(_, n)| lab.address(n));
    write(
        dir,
        "netns.toml",
        &format!(
            "name = \"netns\"\n\n\
             [[server]]\nname = \"primary\"\nrole = \"primary\"\naddress = \"{p}\"\n\
             phones = {{ h323 = 2, sip = 2 }}\n\n\
             [[server]]\nname = \"secondary\"\nrole = \"secondary\"\naddress = \"{s}\"\n\n\
             [[server]]\nname = \"expansion\"\nrole = \"expansion-linux\"\naddress = \"{e}\"\n\
             backup = \"secondary\"\nbacks-up = [\"ip-phones\"]\n"
        ),
    )
}

#[test]
fn a_real_link_cut_between_hosts_makes_the_secondary_take_over_the_primarys_phones_until_it_mends()
{
    let test = "a_real_link_cut_between_hosts_makes_the_secondary_take_over_the_primarys_phones_until_it_mends";
    let dir = temp_dir("netns");
    let hosts: Vec<(&str, u8)> = MEMBERS.iter().copied().chain([PHONES]).collect();
    let mut lab = match Lab::build(&dir, &hosts) {
        Ok(lab) => lab,
        Err(why) => {
            eprintln!("skipped {test}: {why}; it needs root and iproute2");
            return;
        }
    };
    let fleet = fleet_file(&dir, &lab);
    let fleet_arg = fleet.to_str().unwrap();
    let log_of = |member: &str| dir.join(format!("{member}.jsonl"));
    for (member, _) in MEMBERS {
        let events = log_of(member);
        let args = [
            "node",
            fleet_arg,
            "--server",
            member,
            "--speed",
            SPEED,
            "--events",
            events.to_str().unwrap(),
        ];
        lab.spawn(member, &args);
    }
    // The phones on their own host; every member is external to it.
    let on = lab.on(PHONES.0);
    let on: Vec<&str> = on.iter().map(String::as_str).collect();
    let up = Up::start_in(&on, &fleet, &["--speed", SPEED], &[]);
    assert!(
        up.banner.contains(&format!("{} (external", lab.address(1))),
        "{}",
        up.banner
    );
    let primary_phones = ["2001", "2002", "2003", "2004"];

    // Readiness: the primary's phones registered at home on it, and their
    // records replicated to the secondary across the bridge.
    let (primary_log, secondary_log) = (log_of("primary"), log_of("secondary"));
    lab.until(
        30,
        "the primary's phones at home, their records on the secondary",
        || {
            let home = registered(&read_event_log(&primary_log), "primary", false, 0);
            let held = first(
                &secondary_log,
                |e| matches!(e, Event::RecordsReplicated { home, phones: 4 } if home == "primary"),
            );
            (home == primary_phones && held.is_some()).then_some(())
        },
    );

    // The primary's host loses its link: no fault plane, the cable is out.
    lab.set_link("primary", false);
    let cut = Instant::now();
    let lost = lab.until(60, "the secondary declares the primary lost", || {
        first(
            &secondary_log,
            |e| matches!(e, Event::PeerLost { peer, backing_up: true, .. } if peer == "primary"),
        )
    });
    // Not before the 3-minute rule allows.
    let Event::PeerLost { silent_for_ms, .. } = lost.event else {
        unreachable!("a peer-lost event")
    };
    assert!(silent_for_ms >= 180_000, "lost after {silent_for_ms} ms");
    let what = "the primary's IP phones registered on the secondary as guests";
    lab.until(60, what, || {
        let guests = registered(&read_event_log(&secondary_log), "secondary", true, 0);
        (guests == primary_phones).then_some(())
    });
    // The phones' host sees them there too.
    up.status_when(10, |s| s.contains("on secondary as guests   2001–2004"));
    let took = cut.elapsed().as_secs_f64();
    eprintln!("takeover {took:.1} s (wall) after the cut");

    // The cable back in: the secondary hears the primary again, and after
    // 10 emulated minutes of it sends the phones home.
    lab.set_link("primary", true);
    lab.until(30, "the secondary hears the primary again", || {
        first(
            &secondary_log,
            |e| matches!(e, Event::PeerReturned { peer, .. } if peer == "primary"),
        )
    });
    // On the primary's own clock: when it heard the secondary again.
    let returned = lab.until(30, "the primary hears the secondary again", || {
        first(
            &primary_log,
            |e| matches!(e, Event::PeerReturned { peer, .. } if peer == "secondary"),
        )
    });
    let back = lab.until(30, "the secondary fails the primary back", || {
        first(
            &secondary_log,
            |e| matches!(e, Event::FailbackStarted { home, .. } if home == "primary"),
        )
    });
    let Event::FailbackStarted { visible_for_ms, .. } = back.event else {
        unreachable!("a failback-started event")
    };
    assert!(
        visible_for_ms >= 600_000,
        "failback after {visible_for_ms} ms"
    );
    lab.until(30, "the primary's phones registered at home again", || {
        let log = read_event_log(&primary_log);
        let home = registered(&log, "primary", false, returned.t_ms);
        (home == primary_phones).then_some(())
    });
}
