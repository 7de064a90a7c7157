//! The seeded workload: calls (docs/domain-coverage.md §3: two-party, conference, held,
//! hunt-group and voicemail calls, some recorded) asked of random phones at
//! random (exponential) intervals, and one-X Portal changes made by users.
//! Same seed, same calls at the same moments.
//!
//! Scripted calls (`[[call]]`, [`run_script`]) are asked of their phones
//! the same way ([`Placed::ask`]), at exactly their emulated time: the phone
//! sets them up, or logs why it could not, as for any call of the workload.

use std::collections::BTreeMap;
use std::time::Duration;

use fleetsim_model::{CallKind, Calls, Event, Fleet, ScriptedCall, Service};
use fleetsim_net::{Clock, EventLog, Net, Timing, call, channel, seed};
use fleetsim_proto::pb;
use rand::Rng as _;
use tokio_util::sync::CancellationToken;

use crate::PhoneCmd;

/// An exponential sample with mean `mean_ms`, in ms.
fn exponential(rng: &mut seed::Rng, mean_ms: f64) -> f64 {
    let u: f64 = rng.random();
    -(1.0 - u).ln() * mean_ms
}

/// What the workload drives.
#[derive(Debug)]
pub struct Workload {
    /// The mix.
    pub calls: Calls,
    /// Every phone: (extension, command sender), in fleet order.
    pub phones: Vec<(String, crate::Commands)>,
    /// The run's seed.
    pub seed: u64,
}

/// A call a phone is asked to place: what the random workload draws and
/// what a scripted call says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// Call id, unique in the run.
    pub id: String,
    /// Kind.
    pub kind: CallKind,
    /// Called extension, mailbox or outside number.
    pub target: String,
    /// Hunt group called (hunt-group calls), else empty.
    pub group: String,
    /// Length in emulated ms.
    pub len_ms: u64,
    /// Recorded.
    pub recorded: bool,
}

impl Placed {
    /// The call a `[[call]]` of the scenario places.
    pub fn scripted(c: &ScriptedCall) -> Placed {
        Placed {
            id: c.id.clone(),
            kind: c.kind,
            target: c.to.clone(),
            group: if c.kind == CallKind::HuntGroup {
                c.to.clone()
            } else {
                String::new()
            },
            len_ms: c.lasts.as_millis(),
            recorded: c.recorded,
        }
    }

    /// Asks the phone behind `tx` to place the call now.
    pub fn ask(self, tx: &crate::Commands, clock: Clock) {
        let _ = tx.send(Box::new(PhoneCmd::Call {
            id: self.id,
            kind: self.kind,
            target: self.target,
            group: self.group,
            duration: clock.to_runtime(Duration::from_millis(self.len_ms)),
            duration_ms: self.len_ms,
            recorded: self.recorded,
        }));
    }
}

/// Asks each scripted call of its phone at its emulated time, in order.
/// Validation makes every caller a phone of the fleet; one missing from
/// `phones` all the same is logged as a failed call, never skipped silently.
pub async fn run_script(
    script: Vec<ScriptedCall>,
    phones: Vec<(String, crate::Commands)>,
    log: EventLog,
) {
    let clock = log.clock();
    let phones: BTreeMap<String, crate::Commands> = phones.into_iter().collect();
    for c in script {
        // tokio time: virtual in sim mode.
        tokio::time::sleep_until(clock.at(c.at.0)).await;
        match phones.get(&c.from) {
            Some(tx) => Placed::scripted(&c).ask(tx, clock),
            None => log.emit(
                "runner",
                Event::CallFailed {
                    call: c.id.clone(),
                    phone: c.from.clone(),
                    reason: "no such phone runs in this fleet".into(),
                },
            ),
        }
    }
}

/// Places calls until cancelled.
pub async fn run_calls(w: Workload, fleet: &Fleet, clock: Clock) {
    let c = &w.calls;
    if c.per_hour == 0 || w.phones.is_empty() {
        return;
    }
    let mut rng = seed::rng(w.seed, &["workload", "calls"]);
    let mean_gap = 3_600_000.0 / f64::from(c.per_hour);
    let mean_len = c.mean_duration.as_millis() as f64;
    let groups: Vec<&str> = fleet.hunt_groups.iter().map(|g| g.name.as_str()).collect();
    let mut n: u64 = 0;
    loop {
        let gap = exponential(&mut rng, mean_gap).max(1.0) as u64;
        // tokio time: virtual in sim mode.
        tokio::time::sleep(clock.to_runtime(Duration::from_millis(gap))).await;
        n += 1;
        let caller = rng.random_range(0..w.phones.len());
        let callee = rng.random_range(0..w.phones.len());
        let roll = rng.random_range(0..1000u32);
        let mut kind = if roll < c.voicemail {
            CallKind::Voicemail
        } else if roll < c.voicemail + c.conference {
            CallKind::Conference
        } else if roll < c.voicemail + c.conference + c.held {
            CallKind::Held
        } else if roll < c.voicemail + c.conference + c.held + c.hunt_group {
            CallKind::HuntGroup
        } else if roll < c.voicemail + c.conference + c.held + c.hunt_group + c.external {
            CallKind::External
        } else {
            CallKind::TwoParty
        };
        let group = if kind == CallKind::HuntGroup && !groups.is_empty() {
            groups[rng.random_range(0..groups.len())].to_string()
        } else {
            if kind == CallKind::HuntGroup {
                kind = CallKind::TwoParty;
            }
            String::new()
        };
        let recorded = kind != CallKind::Voicemail && rng.random_range(0..1000u32) < c.recorded;
        // Exponential, from 5 s to six times the mean (a tail cut short so
        // that one endless call does not hold a phone for a whole run).
        let mut len =
            exponential(&mut rng, mean_len).clamp(5_000.0, 6.0 * mean_len.max(5_000.0)) as u64;
        if kind == CallKind::Voicemail {
            // A message is shorter than a conversation.
            len = (len / 4).clamp(10_000, 180_000);
        }
        let (ext, tx) = &w.phones[caller];
        let target = if kind == CallKind::External {
            // An outside number.
            format!("9{:07}", rng.random_range(0..10_000_000u32))
        } else {
            w.phones[callee].0.clone()
        };
        let call = Placed {
            id: format!("c{n}-{ext}"),
            kind,
            target,
            group,
            len_ms: len,
            recorded,
        };
        call.ask(tx, clock);
    }
}

type PortalClient = pb::portal_client::PortalClient<tonic::transport::Channel>;

/// Users make one-X Portal changes: each tries the primary's portal, then
/// the backup's, from where the user sits (their phone's place in the network).
pub async fn run_portal_changes(
    w: Workload,
    fleet: &Fleet,
    net: Net,
    log: EventLog,
    timing: Timing,
    token: CancellationToken,
) {
    let c = &w.calls;
    if c.portal_changes_per_hour == 0 || w.phones.is_empty() {
        return;
    }
    let clock = log.clock();
    let mut portals: Vec<String> = Vec::new();
    if fleet.primary().runs(Service::OneXPortal) {
        portals.push(fleet.primary().name.clone());
    }
    if let Some(b) = fleet.portal_backup() {
        portals.push(b.name.clone());
    }
    let mut rng = seed::rng(w.seed, &["workload", "portal"]);
    let mean_gap = 3_600_000.0 / f64::from(c.portal_changes_per_hour);
    let mut clients: BTreeMap<(String, String), PortalClient> = BTreeMap::new();
    loop {
        let gap = exponential(&mut rng, mean_gap).max(1.0) as u64;
        tokio::time::sleep(clock.to_runtime(Duration::from_millis(gap))).await;
        let user = w.phones[rng.random_range(0..w.phones.len())].0.clone();
        let mut accepted = false;
        for p in &portals {
            let client = clients.entry((user.clone(), p.clone())).or_insert_with(|| {
                PortalClient::new(channel(&net, &user, &token, p, timing.channel()))
            });
            let req = pb::ChangeRequest { user: user.clone() };
            if call(timing.rpc_deadline, client.change(req)).await.is_ok() {
                accepted = true;
                break;
            }
        }
        if !accepted {
            log.emit(
                portals.first().map_or("network", String::as_str),
                Event::PortalChange {
                    user,
                    accepted: false,
                },
            );
        }
    }
}
