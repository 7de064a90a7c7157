//! Faults: what the runner does to the fleet and when. Faults are data; each
//! one the runner applies it can also undo (`for = "2m"` schedules the undo).
//!
//! Targets name a server (`primary`), a role (`expansion-linux`), a glob over
//! server names (`expansion-*`), or, for network faults, phones: an extension
//! (`2001`) or a server's phones (`phones@expansion-v2`, i.e. that site).

use std::collections::BTreeMap;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::duration::{Dur, format_millis};
use crate::error::{FileError, Source};
use crate::fleet::{Fleet, Role};

/// A path a gray failure silently drops.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GrayPath {
    /// Presence updates on the lines (in and out).
    Presence,
    /// Phone registration and keepalive.
    Telephony,
}

/// A fault the runner applies at a time, one server or one change each.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum FaultKind {
    /// The server dies at once: every connection reset, new ones refused, memory gone.
    Crash {
        /// Server name.
        server: String,
    },
    /// The server shuts down cleanly: in-flight calls finish, then it is gone.
    Stop {
        /// Server name.
        server: String,
    },
    /// A fresh server task with empty memory starts and rejoins.
    Restart {
        /// Server name.
        server: String,
    },
    /// The network splits into groups (nodes not named form one more group).
    /// Replaces an earlier partition.
    Partition {
        /// Groups of node names (servers, extensions, `phones@server`).
        groups: Vec<Vec<String>>,
    },
    /// Packets from `from` to `to` are lost; the other way still works.
    OneWay {
        /// Senders whose packets are lost.
        from: Vec<String>,
        /// Receivers that never get them.
        to: Vec<String>,
        /// False to remove this cut again.
        on: bool,
    },
    /// Every partition and one-way cut is removed.
    Heal,
    /// Every byte to or from `node` is delayed.
    Latency {
        /// Node (server, extension, `phones@server`).
        node: String,
        /// Delay per direction.
        delay: Dur,
        /// Up to this much more, seeded per chunk (per message on a
        /// phone's streams).
        jitter: Dur,
    },
    /// The node's link is down: bytes held (released when it ends), connects hang.
    Stall {
        /// Node.
        node: String,
        /// False to release.
        on: bool,
    },
    /// Gray failure: the server answers health checks, but drops the paths.
    Gray {
        /// Server.
        server: String,
        /// The paths dropped (empty: healthy again).
        drop: Vec<GrayPath>,
    },
    /// The process is alive but answers nothing: connects succeed, no byte moves.
    Hang {
        /// Server.
        server: String,
        /// False to resume.
        on: bool,
    },
    /// The server's clock is stepped to this offset from true time.
    ClockOffset {
        /// Server.
        server: String,
        /// Offset in milliseconds (negative: behind).
        offset_ms: i64,
    },
    /// Operator action: make the backup of a service active now ("activate
    /// backup" in Voicemail Pro).
    ActivateBackup {
        /// The service (`voicemail-pro`).
        service: String,
    },
    /// Operator action: hand a service back to the primary now (manual
    /// failback of `voicemail-pro` or `one-x-portal`).
    ManualFailback {
        /// The service.
        service: String,
    },
    /// Operator action: a configuration change on a server (refused in
    /// restricted mode).
    ConfigChange {
        /// Server.
        server: String,
    },
    /// Operator action: a phone is rebooted (or its user logs out and in):
    /// it registers from the top of its gatekeeper list, so a manual-failback
    /// H.323 phone goes home.
    RebootPhone {
        /// Extension.
        phone: String,
    },
}

fn signed(ms: i64) -> String {
    if ms < 0 {
        format!("-{}", format_millis(ms.unsigned_abs()))
    } else {
        format!("+{}", format_millis(ms as u64))
    }
}

impl FaultKind {
    /// Short human description.
    pub fn describe(&self) -> String {
        match self {
            FaultKind::Crash { server } => format!("crash {server}"),
            FaultKind::Stop { server } => format!("graceful stop of {server}"),
            FaultKind::Restart { server } => format!("restart {server}"),
            FaultKind::Partition { groups } if groups.is_empty() => {
                "partition ends: no group is cut off any more (one-way cuts stay)".to_string()
            }
            FaultKind::Partition { groups } => {
                let g: Vec<String> = groups
                    .iter()
                    .map(|g| format!("[{}]", g.join(", ")))
                    .collect();
                format!("partition {} | rest", g.join(" | "))
            }
            FaultKind::OneWay { from, to, on: true } => {
                format!(
                    "one-way loss: [{}] → [{}] dropped",
                    from.join(", "),
                    to.join(", ")
                )
            }
            FaultKind::OneWay {
                from,
                to,
                on: false,
            } => {
                format!(
                    "one-way loss [{}] → [{}] ends",
                    from.join(", "),
                    to.join(", ")
                )
            }
            FaultKind::Heal => "heal the network".to_string(),
            FaultKind::Latency {
                node,
                delay,
                jitter,
            } if delay.0.is_zero() && jitter.0.is_zero() => {
                format!("latency on {node} ends")
            }
            FaultKind::Latency {
                node,
                delay,
                jitter,
            } => format!("latency {delay} ± {jitter} on {node}"),
            FaultKind::Stall { node, on: true } => format!("stall {node}: link down, bytes held"),
            FaultKind::Stall { node, on: false } => {
                format!("release {node}: held bytes flow again")
            }
            FaultKind::Gray { server, drop } if drop.is_empty() => {
                format!("gray failure of {server} ends")
            }
            FaultKind::Gray { server, drop } => {
                let d: Vec<&str> = drop
                    .iter()
                    .map(|p| match p {
                        GrayPath::Presence => "presence",
                        GrayPath::Telephony => "telephony",
                    })
                    .collect();
                format!(
                    "gray failure of {server}: health OK, {} silently dropped",
                    d.join(" and ")
                )
            }
            FaultKind::Hang { server, on: true } => {
                format!("hang {server}: alive, answers nothing")
            }
            FaultKind::Hang { server, on: false } => format!("{server} resumes"),
            FaultKind::ClockOffset {
                server,
                offset_ms: 0,
            } => format!("set {server}'s clock back to true time"),
            FaultKind::ClockOffset { server, offset_ms } => {
                format!(
                    "step {server}'s clock to {} from true time",
                    signed(*offset_ms)
                )
            }
            FaultKind::ActivateBackup { service } => {
                format!("operator activates the backup {service}")
            }
            FaultKind::ManualFailback { service } => {
                format!("operator fails {service} back to the primary")
            }
            FaultKind::ConfigChange { server } => {
                format!("operator changes the configuration of {server}")
            }
            FaultKind::RebootPhone { phone } => format!("phone {phone} is rebooted"),
        }
    }

    /// The end of this partition in words, naming what it cut off (an
    /// empty partition carries no groups, so whoever ends one names it).
    pub fn describe_end(&self) -> String {
        match self {
            FaultKind::Partition { groups } if !groups.is_empty() => format!(
                "end of the {}: its groups reach each other again (one-way cuts stay)",
                self.describe()
            ),
            other => other.describe(),
        }
    }

    /// The fault that undoes this one, if it can be undone.
    pub fn undo(&self) -> Option<FaultKind> {
        Some(match self {
            FaultKind::Crash { server } | FaultKind::Stop { server } => FaultKind::Restart {
                server: server.clone(),
            },
            // Ends this partition only; one-way cuts stay.
            FaultKind::Partition { groups } if !groups.is_empty() => {
                FaultKind::Partition { groups: Vec::new() }
            }
            FaultKind::OneWay { from, to, on: true } => FaultKind::OneWay {
                from: from.clone(),
                to: to.clone(),
                on: false,
            },
            FaultKind::Latency { node, .. } => FaultKind::Latency {
                node: node.clone(),
                delay: Dur::ZERO,
                jitter: Dur::ZERO,
            },
            FaultKind::Stall { node, on: true } => FaultKind::Stall {
                node: node.clone(),
                on: false,
            },
            FaultKind::Gray { server, .. } => FaultKind::Gray {
                server: server.clone(),
                drop: Vec::new(),
            },
            FaultKind::Hang { server, on: true } => FaultKind::Hang {
                server: server.clone(),
                on: false,
            },
            FaultKind::ClockOffset { server, .. } => FaultKind::ClockOffset {
                server: server.clone(),
                offset_ms: 0,
            },
            _ => return None,
        })
    }

    /// Whether this is an operator's action rather than a failure.
    pub fn is_operator_action(&self) -> bool {
        matches!(
            self,
            FaultKind::ActivateBackup { .. }
                | FaultKind::ManualFailback { .. }
                | FaultKind::ConfigChange { .. }
                | FaultKind::RebootPhone { .. }
        )
    }

    /// Who logs the fault's `fault-applied`: the operator for an operator
    /// action, the server it acts on, else the network (a partition, or a
    /// fault on phones).
    pub fn logged_by<'a>(&'a self, fleet: &Fleet) -> &'a str {
        if self.is_operator_action() {
            return "operator";
        }
        self.server()
            .filter(|s| fleet.server(s).is_some())
            .unwrap_or("network")
    }

    /// The server the fault acts on, for faults that act on one server.
    pub fn server(&self) -> Option<&str> {
        match self {
            FaultKind::Crash { server }
            | FaultKind::Stop { server }
            | FaultKind::Restart { server }
            | FaultKind::Gray { server, .. }
            | FaultKind::Hang { server, .. }
            | FaultKind::ClockOffset { server, .. }
            | FaultKind::ConfigChange { server } => Some(server),
            FaultKind::Stall { node, .. } | FaultKind::Latency { node, .. } => Some(node),
            _ => None,
        }
    }

    /// Whether the fault takes `server` out of sight of the rest of the fleet.
    pub fn isolates(&self, server: &str) -> bool {
        match self {
            FaultKind::Crash { server: s } | FaultKind::Stop { server: s } => s == server,
            FaultKind::Stall { node, on: true } => node == server,
            FaultKind::Hang {
                server: s,
                on: true,
            } => s == server,
            FaultKind::Gray { server: s, drop } => {
                s == server && drop.contains(&GrayPath::Presence)
            }
            FaultKind::OneWay { from, on: true, .. } => from.iter().any(|n| n == server),
            FaultKind::Partition { groups } => {
                // Left out, it is in the group of everything not named: cut
                // off from any other server a group names.
                let named = |n: &String| n == server;
                let other_server = |n: &String| n != server && is_server_node(n);
                groups.iter().flatten().any(named) || groups.iter().flatten().any(other_server)
            }
            _ => false,
        }
    }

    /// Whether the fault keeps `observer` from hearing `peer`: the peer
    /// (or the observer) down, stalled, hung or gray on presence, a
    /// partition putting them in different groups, or a one-way cut between
    /// them in either direction (an exchange needs both: a connection
    /// whose answers are lost carries nothing).
    pub fn hides(&self, observer: &str, peer: &str) -> bool {
        let group =
            |groups: &[Vec<String>], n: &str| groups.iter().position(|g| g.iter().any(|m| m == n));
        match self {
            FaultKind::Partition { groups } => group(groups, observer) != group(groups, peer),
            FaultKind::OneWay { from, to, on: true } => {
                let cut =
                    |a: &str, b: &str| from.iter().any(|n| n == a) && to.iter().any(|n| n == b);
                cut(peer, observer) || cut(observer, peer)
            }
            FaultKind::OneWay { on: false, .. } => false,
            _ => self.isolates(peer) || self.isolates(observer),
        }
    }

    /// Whether the fault brings `server` back into sight.
    pub fn restores(&self, server: &str) -> bool {
        match self {
            FaultKind::Restart { server: s } => s == server,
            FaultKind::Stall { node, on: false } => node == server,
            FaultKind::Hang {
                server: s,
                on: false,
            } => s == server,
            FaultKind::Gray { server: s, drop } => s == server && drop.is_empty(),
            FaultKind::OneWay {
                from, on: false, ..
            } => from.iter().any(|n| n == server),
            FaultKind::Partition { groups } => groups.is_empty(),
            FaultKind::Heal => true,
            _ => false,
        }
    }
}

/// A fault at an emulated time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// When, from the start of the run.
    pub at: Dur,
    /// What.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Index of the `[[fault]]` table it came from: a target, `for`,
    /// `reboot` or `flap` makes several faults of one table.
    #[serde(skip)]
    pub source: usize,
}

/// A signed human duration: `"+2m"`, `"-30s"`, `"90s"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedDur(pub i64);

impl<'de> Deserialize<'de> for SignedDur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let (neg, rest) = match s.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, s.strip_prefix('+').unwrap_or(&s)),
        };
        let ms = crate::duration::parse_duration(rest)
            .map_err(serde::de::Error::custom)?
            .as_millis();
        if ms > 86_400_000 {
            return Err(serde::de::Error::custom(
                "a clock offset of more than a day is not a clock step; use at most \"24h\"",
            ));
        }
        let ms = i64::try_from(ms).map_err(|_| serde::de::Error::custom("offset too large"))?;
        Ok(SignedDur(if neg { -ms } else { ms }))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawOneWay {
    from: Vec<Spanned<String>>,
    to: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawLatency {
    target: Spanned<String>,
    delay: Dur,
    #[serde(default)]
    jitter: Dur,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawFlap {
    target: Spanned<String>,
    period: Spanned<Dur>,
    duty: Spanned<f64>,
    count: Spanned<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawGray {
    target: Spanned<String>,
    drop: Spanned<Vec<GrayPath>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawClock {
    target: Spanned<String>,
    offset: SignedDur,
}

/// A `[[fault]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawFault {
    at: Spanned<Dur>,
    #[serde(default, rename = "for")]
    for_: Option<Spanned<Dur>>,
    #[serde(default)]
    crash: Option<Spanned<String>>,
    #[serde(default)]
    stop: Option<Spanned<String>>,
    #[serde(default)]
    restart: Option<Spanned<String>>,
    #[serde(default)]
    reboot: Option<Spanned<String>>,
    #[serde(default)]
    partition: Option<Spanned<Vec<Vec<Spanned<String>>>>>,
    #[serde(default)]
    one_way: Option<Spanned<RawOneWay>>,
    #[serde(default)]
    heal: Option<Spanned<bool>>,
    #[serde(default)]
    latency: Option<Spanned<RawLatency>>,
    #[serde(default)]
    stall: Option<Spanned<String>>,
    #[serde(default)]
    flap: Option<Spanned<RawFlap>>,
    #[serde(default)]
    gray: Option<Spanned<RawGray>>,
    #[serde(default)]
    hang: Option<Spanned<String>>,
    #[serde(default)]
    clock_offset: Option<Spanned<RawClock>>,
    #[serde(default)]
    activate_backup: Option<Spanned<String>>,
    #[serde(default)]
    manual_failback: Option<Spanned<String>>,
    #[serde(default)]
    config_change: Option<Spanned<String>>,
    #[serde(default)]
    reboot_phone: Option<Spanned<String>>,
}

const ACTIONS: &str = "crash, stop, restart, reboot, partition, one-way, heal, latency, stall, flap, gray, hang, clock-offset, activate-backup, manual-failback, config-change, reboot-phone";

impl FaultKind {
    /// Whether the fault ends an earlier one rather than starting a new one.
    pub fn ends_a_fault(&self) -> bool {
        is_restore(self)
    }

    /// What the fault acts on: a later fault on the same slot replaces or
    /// ends it. `None`: not a lasting fault (heal, operator actions).
    pub fn slot(&self) -> Option<String> {
        Some(match self {
            FaultKind::Crash { server }
            | FaultKind::Stop { server }
            | FaultKind::Restart { server } => format!("down {server}"),
            FaultKind::Partition { .. } => "partition".into(),
            FaultKind::OneWay { from, to, .. } => format!("one-way {from:?} {to:?}"),
            FaultKind::Latency { node, .. } => format!("latency {node}"),
            FaultKind::Stall { node, .. } => format!("stall {node}"),
            FaultKind::Gray { server, .. } => format!("gray {server}"),
            FaultKind::Hang { server, .. } => format!("hang {server}"),
            FaultKind::ClockOffset { server, .. } => format!("clock {server}"),
            FaultKind::Heal
            | FaultKind::ActivateBackup { .. }
            | FaultKind::ManualFailback { .. }
            | FaultKind::ConfigChange { .. }
            | FaultKind::RebootPhone { .. } => return None,
        })
    }

    /// Whether `heal` ends this fault (partitions and one-way cuts).
    pub fn healed(&self) -> bool {
        matches!(self, FaultKind::Partition { .. } | FaultKind::OneWay { .. })
    }

    /// Whether faults on this slot count up and end one at a time (stalls
    /// and hangs) rather than replace each other.
    pub fn counted(&self) -> bool {
        matches!(self, FaultKind::Stall { .. } | FaultKind::Hang { .. })
    }
}

/// Notes `kind`, applied on top of the faults `in_force` (each with a tag
/// of the caller's), and returns the tags of those it ended: a heal ends
/// every partition and one-way cut; an end (a restart, a release) ends the
/// oldest fault on its slot; a new fault replaces the one on its slot,
/// unless faults there count up (stalls, hangs). Operator actions end
/// nothing and are not kept.
pub fn note_applied<T: Clone>(
    in_force: &mut Vec<(T, FaultKind)>,
    tag: T,
    kind: &FaultKind,
) -> Vec<T> {
    let ended = |in_force: &mut Vec<(T, FaultKind)>, pick: &dyn Fn(&FaultKind) -> bool| {
        let (gone, kept): (Vec<_>, Vec<_>) = in_force.drain(..).partition(|(_, k)| pick(k));
        *in_force = kept;
        gone.into_iter().map(|(t, _)| t).collect::<Vec<T>>()
    };
    if matches!(kind, FaultKind::Heal) {
        return ended(in_force, &|k| k.healed());
    }
    let Some(slot) = kind.slot() else {
        return Vec::new();
    };
    let same = |k: &FaultKind| k.slot().as_deref() == Some(slot.as_str());
    if kind.ends_a_fault() {
        let Some(i) = in_force.iter().position(|(_, k)| same(k)) else {
            return Vec::new();
        };
        return vec![in_force.remove(i).0];
    }
    let gone = if kind.counted() {
        Vec::new()
    } else {
        ended(in_force, &same)
    };
    in_force.push((tag, kind.clone()));
    gone
}

/// The fault that brings a server back after the fault at index `lost`
/// took it out of sight: the first after which no fault in force still
/// takes it `away` (the end of an inner stall inside a longer one is no
/// return, nor is a heal while the server is down), as the runner applies
/// them (a superseded `for` skipped).
pub fn return_of<'f>(
    faults: &'f [Fault],
    away: &dyn Fn(&FaultKind) -> bool,
    lost: usize,
) -> Option<&'f Fault> {
    let mut in_force = InForce::default();
    for (i, f) in faults.iter().enumerate() {
        if in_force.outdated(f) {
            continue;
        }
        in_force.note(f);
        if i > lost && !in_force.faults.iter().any(|(_, k)| away(k)) {
            return Some(f);
        }
    }
    None
}

/// The faults in force as a schedule is applied, each with the
/// `[[fault]]` table it came from, so that the scheduled end of a fault
/// (its `for`) does not end a newer fault that replaced it, or one a
/// `heal` already ended. Stalls and hangs count up and each ends its own.
#[derive(Clone, Debug, Default)]
pub struct InForce {
    /// In force now, by table (`source`), as [`note_applied`] keeps them.
    faults: Vec<(usize, FaultKind)>,
    /// Slots each table has started a fault on.
    started: std::collections::BTreeSet<(usize, String)>,
}

impl InForce {
    /// Whether `f` is the end of its own table's fault, which has since
    /// been replaced or healed: then it must not apply.
    pub fn outdated(&self, f: &Fault) -> bool {
        let Some(slot) = f.kind.slot().filter(|_| !f.kind.counted()) else {
            return false;
        };
        let owner = (self.faults.iter())
            .find(|(_, k)| k.slot().as_deref() == Some(slot.as_str()))
            .map(|(source, _)| *source);
        f.kind.ends_a_fault() && self.started.contains(&(f.source, slot)) && owner != Some(f.source)
    }

    /// Notes `f` as applied.
    pub fn note(&mut self, f: &Fault) {
        if let Some(slot) = f.kind.slot().filter(|_| !f.kind.ends_a_fault()) {
            self.started.insert((f.source, slot));
        }
        note_applied(&mut self.faults, f.source, &f.kind);
    }
}

/// Where a fault schedule's up/down story breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoryError {
    /// Index of the offending fault.
    pub index: usize,
    /// The field at fault (`crash`, `restart` or `hang`).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
    /// What would be right.
    pub hint: String,
}

impl std::fmt::Display for StoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Checks that crashes, stops, restarts and hangs tell a consistent story:
/// a server goes down only when up, restarts only when down, and hangs only
/// while running (a hang of a server that is down would do nothing).
pub fn check_story(faults: &[Fault]) -> Result<(), StoryError> {
    let mut down: BTreeMap<&str, bool> = BTreeMap::new();
    for (index, f) in faults.iter().enumerate() {
        let err = |field, message, hint| StoryError {
            index,
            field,
            message,
            hint,
        };
        match &f.kind {
            FaultKind::Crash { server } | FaultKind::Stop { server } => {
                let was_down = down.insert(server, true) == Some(true);
                if was_down {
                    return Err(err(
                        "crash",
                        format!("{server:?} is already down at {}", f.at),
                        "restart it first".into(),
                    ));
                }
            }
            FaultKind::Restart { server } => {
                let was_down = down.insert(server, false) == Some(true);
                if !was_down {
                    return Err(err(
                        "restart",
                        format!(
                            "{server:?} is running at {}; only a crashed server can restart",
                            f.at
                        ),
                        format!("add a crash of {server:?} before it"),
                    ));
                }
            }
            FaultKind::Hang { server, on: true } if down.get(server.as_str()) == Some(&true) => {
                return Err(err(
                    "hang",
                    format!(
                        "{server:?} is down at {}; only a running server can hang (this hang would do nothing)",
                        f.at
                    ),
                    format!("hang {server:?} after its restart, or leave it down"),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether a fault ends an earlier one rather than starting a new one.
fn is_restore(k: &FaultKind) -> bool {
    match k {
        FaultKind::Restart { .. } | FaultKind::Heal => true,
        FaultKind::Partition { groups } => groups.is_empty(),
        FaultKind::OneWay { on, .. } | FaultKind::Stall { on, .. } | FaultKind::Hang { on, .. } => {
            !on
        }
        FaultKind::Gray { drop, .. } => drop.is_empty(),
        FaultKind::Latency { delay, jitter, .. } => delay.0.is_zero() && jitter.0.is_zero(),
        FaultKind::ClockOffset { offset_ms, .. } => *offset_ms == 0,
        FaultKind::Crash { .. }
        | FaultKind::Stop { .. }
        | FaultKind::ActivateBackup { .. }
        | FaultKind::ManualFailback { .. }
        | FaultKind::ConfigChange { .. }
        | FaultKind::RebootPhone { .. } => false,
    }
}

/// Glob match with `*` (any run) and `?` (one character), in time linear
/// in the pattern and name (a pattern of many `*` must not hang a check).
pub fn glob(pattern: &str, name: &str) -> bool {
    // A plain name (most patterns, matched against every event) needs no
    // matcher built.
    if !pattern.contains(['*', '?']) {
        return pattern == name;
    }
    wildmatch::WildMatch::new(pattern).matches(name)
}

struct Resolver<'a> {
    src: &'a Source<'a>,
    fleet: &'a Fleet,
}

impl Resolver<'_> {
    fn hint(&self, phones: bool) -> String {
        let names: Vec<&str> = self.fleet.servers.iter().map(|s| s.name.as_str()).collect();
        let mut h = format!(
            "name a server ({}), a role (primary, secondary, expansion-linux, expansion-v2, application-server) or a glob such as \"expansion-*\"",
            names.join(", ")
        );
        if phones {
            h.push_str(
                "; or phones: an extension, or \"phones@<server>\" for one server's phones (no glob: name each site in a list)",
            );
        }
        h
    }

    /// ` (did you mean …?)`: the server or role name nearest a misspelt one.
    fn near(&self, name: &str) -> String {
        if name.starts_with("phones@") {
            let sites: Vec<String> = (self.fleet.servers.iter())
                .map(|s| format!("phones@{}", s.name))
                .collect();
            return crate::suggest::did_you_mean(name, sites.iter().map(String::as_str));
        }
        let servers = self.fleet.servers.iter().map(|s| s.name.as_str());
        let roles = self.fleet.servers.iter().map(|s| s.role.as_str());
        crate::suggest::did_you_mean(name, servers.chain(roles))
    }

    /// Servers named by `t` (name, role or glob), in fleet order.
    fn servers(&self, t: &Spanned<String>, field: &str) -> Result<Vec<String>, Box<FileError>> {
        let name = t.get_ref();
        let role: Option<Role> = toml::Value::String(name.clone()).try_into().ok();
        let found: Vec<String> = self
            .fleet
            .servers
            .iter()
            .filter(|s| s.name == *name || Some(s.role) == role || glob(name, &s.name))
            .map(|s| s.name.clone())
            .collect();
        if found.is_empty() {
            return Err(self.src.error(
                t.span(),
                Some(field),
                format!("target {name:?} matches no server{}", self.near(name)),
                Some(self.hint(false)),
            ));
        }
        Ok(found)
    }

    /// A network fault on analogue extensions, which would do nothing.
    fn wired(&self, t: &Spanned<String>, field: &str, what: &str) -> Box<FileError> {
        self.src.error(
            t.span(),
            Some(field),
            format!(
                "{what}, wired to its expansion-v2's port: no network fault reaches it, so this would do nothing"
            ),
            Some("name an IP phone, or the expansion-v2 itself".into()),
        )
    }

    /// Nodes a network fault can reach named by `t`: as [`Self::any_nodes`],
    /// but no analogue extension (wired to its port, out of the network's
    /// reach).
    fn nodes(&self, t: &Spanned<String>, field: &str) -> Result<Vec<String>, Box<FileError>> {
        let name = t.get_ref();
        let analogue = |p: &crate::PhoneSpec| p.kind == crate::PhoneKind::Analogue;
        if let Some(site) = name.strip_prefix("phones@")
            && self.fleet.phones_of(site).next().is_some()
            && self.fleet.phones_of(site).all(analogue)
        {
            return Err(self.wired(t, field, &format!("{site}'s phones are all analogue")));
        }
        if self.fleet.phone(name).is_some_and(analogue) {
            return Err(self.wired(t, field, &format!("{name} is an analogue extension")));
        }
        self.any_nodes(t, field)
    }

    /// Nodes named by `t`: servers as above, or phones.
    fn any_nodes(&self, t: &Spanned<String>, field: &str) -> Result<Vec<String>, Box<FileError>> {
        let name = t.get_ref();
        if let Some(site) = name.strip_prefix("phones@")
            && self.fleet.server(site).is_some()
        {
            // A fault on no phone at all would do nothing, unseen.
            if self.fleet.phones_of(site).next().is_none() {
                return Err(self.src.error(
                    t.span(),
                    Some(field),
                    format!("{site} homes no phones, so {name:?} names none"),
                    Some(self.hint(true)),
                ));
            }
            return Ok(vec![name.clone()]);
        }
        if self.fleet.phone(name).is_some() {
            return Ok(vec![name.clone()]);
        }
        self.servers(t, field).map_err(|_| {
            self.src.error(
                t.span(),
                Some(field),
                format!(
                    "target {name:?} matches no server or phone{}",
                    self.near(name)
                ),
                Some(self.hint(true)),
            )
        })
    }
}

/// The action key of a fault that acts inside a server's process, and the
/// span of its target.
fn process_action(fr: &RawFault) -> Option<(&'static str, Range<usize>)> {
    let target = |key, t: &Option<Spanned<String>>| t.as_ref().map(|t| (key, t.span()));
    target("crash", &fr.crash)
        .or_else(|| target("stop", &fr.stop))
        .or_else(|| target("restart", &fr.restart))
        .or_else(|| target("reboot", &fr.reboot))
        .or_else(|| target("hang", &fr.hang))
        .or_else(|| {
            fr.gray
                .as_ref()
                .map(|g| ("gray", g.get_ref().target.span()))
        })
        .or_else(|| {
            let c = fr.clock_offset.as_ref()?;
            Some(("clock-offset", c.get_ref().target.span()))
        })
}

/// Refuses a fault (written as `key` at `span`) that would act inside the
/// process of an external member, naming the member, the fault and why.
fn refuse_external(
    src: &Source<'_>,
    fleet: &Fleet,
    field: &str,
    key: &str,
    span: Range<usize>,
    kinds: &[(Dur, FaultKind)],
) -> Result<(), Box<FileError>> {
    match kinds
        .iter()
        .find_map(|(_, k)| crate::external::refusal(fleet, key, k))
    {
        Some(r) => Err(src.error(
            span,
            Some(&format!("{field}.{key}")),
            r.message(),
            Some(r.instead),
        )),
        None => Ok(()),
    }
}

mod unfold;
pub(crate) use unfold::resolve;

/// Parses one fault action as written in a `[[fault]]` table, without `at`
/// (e.g. `crash = "primary"`, or `reboot = "primary"` with `for = "2m"`), for
/// a fault injected into a live fleet. Times are from now.
pub fn parse_action(fleet: &Fleet, action: &str) -> Result<Vec<Fault>, Box<FileError>> {
    refuse_at(action)?;
    // A table pasted from a scenario file keeps its `[[fault]]` header: our
    // `at` line takes the header's place, so lines stay the user's.
    let lines: Vec<&str> = action.lines().collect();
    let header = lines.iter().position(|l| is_fault_header(l));
    let keys_before = |i: usize| lines[..i].iter().any(|l| is_key_line(l));
    let (text, ours) = match header {
        Some(i) if !keys_before(i) => {
            let mut own = lines.clone();
            own[i] = "at = \"0s\"";
            (own.join("\n") + "\n", 0)
        }
        _ => (format!("at = \"0s\"\n{action}\n"), 1),
    };
    let src = Source {
        name: "<fault>",
        text: &text,
    };
    // Lines as the user wrote them: an `at` line added above is ours, and
    // so is `at` among the keys a live fault takes.
    let own_lines = |mut e: Box<FileError>| {
        // Quote the user's own line: never the `at` line added above (an
        // error about the whole fault, such as a missing action, has none).
        match e.line.checked_sub(ours).filter(|l| *l > 0) {
            Some(l) => {
                e.line = l;
                e.source_line = action.lines().nth(l - 1).map(str::to_string);
            }
            None => {
                (e.line, e.column) = (1, 1);
                e.source_line = None;
            }
        }
        let message = e
            .message
            .replace("expected one of `at`, ", "expected one of ");
        if message != e.message {
            e.hint = Some(crate::error::unknown_field_hint(&message));
            e.message = message;
        }
        e
    };
    let raw: RawFault = toml::from_str(&text).map_err(|e| own_lines(src.toml_error(&e)))?;
    let span = 0..text.len();
    // The up/down story of a live fleet is the runner's to check.
    resolve(
        &src,
        fleet,
        &[Spanned::new(span, raw)],
        crate::limits::MAX_DURATION,
        false,
    )
    .map_err(own_lines)
}

/// A live fault applies now: an `at` of its own is refused, saying so.
fn refuse_at(action: &str) -> Result<(), Box<FileError>> {
    let src = Source {
        name: "<fault>",
        text: action,
    };
    let mut offset = 0;
    for line in action.split_inclusive('\n') {
        if let Some(key_len) = at_key(line) {
            let at = offset + (line.len() - line.trim_start().len());
            return Err(src.error(
                at..at + key_len,
                Some("at"),
                "a fault given to a live fleet applies now, so it takes no `at`",
                Some(
                    "leave `at` out; to undo the fault later, give `for`, e.g. for = \"2m\"".into(),
                ),
            ));
        }
        offset += line.len();
    }
    Ok(())
}

/// The length of the key if `line` sets `at` (bare or quoted).
fn at_key(line: &str) -> Option<usize> {
    let l = line.trim_start();
    ["at", "\"at\"", "'at'"]
        .into_iter()
        .find(|k| l.starts_with(k) && l[k.len()..].trim_start().starts_with('='))
        .map(str::len)
}

/// Whether `line` is a `[[fault]]` (or `[fault]`) table header.
fn is_fault_header(line: &str) -> bool {
    let l = line.trim();
    let l = l.split('#').next().unwrap_or_default().trim();
    matches!(l.replace(' ', "").as_str(), "[[fault]]" | "[fault]")
}

/// Whether `line` holds a key (not blank, not a comment, not a header).
fn is_key_line(line: &str) -> bool {
    let l = line.trim();
    !(l.is_empty() || l.starts_with('#') || l.starts_with('['))
}

/// Whether a partition's node names a server (not an extension, not a
/// site's phones `phones@server`).
fn is_server_node(n: &str) -> bool {
    !n.starts_with("phones@") && !n.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::{FaultKind, glob, parse_action};

    fn reference() -> crate::Fleet {
        crate::embedded::fleet("reference").unwrap().unwrap()
    }

    #[test]
    fn a_live_fault_with_an_at_of_its_own_is_told_it_applies_now() {
        let e = parse_action(&reference(), "at = \"1m\"\ncrash = \"primary\"").unwrap_err();
        assert!(
            e.message.contains("applies now, so it takes no `at`"),
            "{e}"
        );
        assert_eq!((e.line, e.field.as_deref()), (1, Some("at")));
        for quoted in ["\"at\" = \"1m\"", "  'at'= \"1m\""] {
            let e =
                parse_action(&reference(), &format!("crash = \"primary\"\n{quoted}")).unwrap_err();
            assert!(e.message.contains("applies now"), "{quoted}: {e}");
            assert_eq!(e.line, 2, "{e}");
        }
    }

    fn scenario(faults: &str) -> Result<crate::Scenario, crate::LoadError> {
        let text = format!("fleet = \"builtin:reference\"\nduration = \"30m\"\n{faults}");
        crate::Scenario::parse(
            &crate::error::Source {
                name: "s.toml",
                text: &text,
            },
            &crate::embedded::EmbeddedResolver,
        )
    }

    #[test]
    fn a_hang_of_a_server_that_is_down_is_refused_as_doing_nothing() {
        let crash = "[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n";
        let hang = "[[fault]]\nat = \"10m\"\nhang = \"primary\"\nfor = \"5m\"\n";
        let e = scenario(&format!("{crash}{hang}")).unwrap_err().to_string();
        assert!(e.contains("s.toml:6:"), "{e}");
        assert!(e.contains("only a running server can hang"), "{e}");
        assert!(e.contains("after its restart"), "{e}");
        // Up again by then, or hung before it went down: both are stories.
        let restart = "[[fault]]\nat = \"8m\"\nrestart = \"primary\"\n";
        scenario(&format!("{crash}{restart}{hang}")).unwrap();
        let early = "[[fault]]\nat = \"2m\"\nhang = \"primary\"\nfor = \"5m\"\n";
        scenario(&format!("{crash}{early}")).unwrap();
    }

    #[test]
    fn a_network_fault_on_an_analogue_extension_is_refused_as_doing_nothing() {
        for action in [
            "latency = { target = \"5005\", delay = \"1s\" }",
            "stall = \"5012\"",
            "one-way = { from = [\"5005\"], to = [\"expansion-v2\"] }",
        ] {
            let e = parse_action(&reference(), action).unwrap_err();
            assert!(
                e.message.contains("is an analogue extension"),
                "{action}: {e}"
            );
        }
        // An IP phone of the same site is a node like any other, and a
        // fault on it is logged by the network, not by a server named 5001.
        let f = parse_action(&reference(), "stall = \"5001\"").unwrap();
        assert_eq!(f[0].kind.logged_by(&reference()), "network");
        let f = parse_action(&reference(), "stall = \"expansion-v2\"").unwrap();
        assert_eq!(f[0].kind.logged_by(&reference()), "expansion-v2");
    }

    #[test]
    fn a_site_with_no_phones_is_no_target() {
        let e = parse_action(&reference(), "stall = \"phones@apps\"").unwrap_err();
        assert!(e.message.contains("apps homes no phones"), "{e}");
    }

    #[test]
    fn every_unknown_target_gets_a_hint_and_the_nearest_name() {
        for (action, near) in [
            ("stop = \"secondry\"", "secondary"),
            ("config-change = \"secondry\"", "secondary"),
            ("reboot-phone = \"20011\"", "2001"),
            (
                "partition = [[\"primary\", \"phones@primray\"]]",
                "phones@primary",
            ),
            ("manual-failback = \"voicemail\"", "voicemail-pro"),
        ] {
            let e = parse_action(&reference(), action).unwrap_err();
            assert!(e.hint.is_some(), "{action}: {e}");
            assert!(e.to_string().contains(near), "{action}: {e}");
        }
    }

    #[test]
    fn a_live_faults_error_never_quotes_the_at_line_it_did_not_write() {
        for action in ["", "crash = \"primary\"\nstop = \"secondary\""] {
            let e = parse_action(&reference(), action).unwrap_err();
            assert!(!e.to_string().contains("at = "), "{action:?}: {e}");
        }
        let e = parse_action(&reference(), "\ncrash = \"primry\"").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.to_string().contains("crash = \"primry\""), "{e}");
    }

    #[test]
    fn a_live_fault_pasted_with_its_fault_header_is_taken_as_written() {
        let faults = parse_action(&reference(), "[[fault]]\nhang = \"apps\"").unwrap();
        assert_eq!(faults.len(), 1);
        let e = parse_action(&reference(), "[[fault]]\nhang = \"appz\"").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        for key in ["hnag", "ta"] {
            let e = parse_action(&reference(), &format!("{key} = \"apps\"")).unwrap_err();
            assert!(!e.to_string().contains("`at`"), "{e}");
        }
    }

    #[test]
    fn a_fault_hides_a_peer_only_when_it_stands_between_the_two() {
        let s = |v: &[&str]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let partition = FaultKind::Partition {
            groups: vec![s(&["primary", "phones@primary"])],
        };
        assert!(partition.hides("expansion-l", "primary"));
        assert!(!partition.hides("expansion-l", "secondary"));
        let one_way = FaultKind::OneWay {
            from: s(&["expansion-l"]),
            to: s(&["secondary"]),
            on: true,
        };
        assert!(one_way.hides("secondary", "expansion-l"));
        assert!(
            one_way.hides("expansion-l", "secondary"),
            "its answers are lost"
        );
        assert!(!one_way.hides("expansion-l", "primary"));
        let crash = FaultKind::Crash {
            server: "primary".into(),
        };
        assert!(crash.hides("secondary", "primary"));
        assert!(!crash.hides("secondary", "expansion-l"));
    }

    #[test]
    fn a_partition_isolates_the_servers_it_leaves_out_from_those_it_names() {
        let s = |v: &[&str]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let partition = FaultKind::Partition {
            groups: vec![s(&["secondary", "phones@primary"])],
        };
        assert!(partition.isolates("secondary"));
        assert!(
            partition.isolates("primary"),
            "left out, it is on the other side"
        );
        let phones_only = FaultKind::Partition {
            groups: vec![s(&["phones@primary", "2011"])],
        };
        assert!(
            !phones_only.isolates("primary"),
            "cut from phones, not from servers"
        );
    }

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob("expansion-*", "expansion-l"));
        assert!(glob("exp*-v?", "expansion-v2"));
        assert!(!glob("expansion-*", "primary"));
        assert!(glob("*", "anything"));
        assert!(!glob("[ab]*", "a"), "brackets are literal");
        let many = format!("{}x", "*".repeat(200));
        assert!(!glob(&many, &"e".repeat(200)), "linear, not exponential");
    }
}
