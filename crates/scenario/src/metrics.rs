//! Metrics computed from the event log: detection, takeover, outages.

use std::collections::{BTreeMap, BTreeSet};

use fleetsim_model::{Event, EventRecord, FaultKind, Scenario};
use serde::Serialize;

use crate::expect::guest_arrivals;
use crate::runner::apply_to_net;
use fleetsim_net::{Mode, Net};

/// The figures of a run. Times are emulated milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// The server the first isolating fault hit (crash or partition).
    pub subject: Option<String>,
    /// Fault → the subject's backup declares it lost.
    pub detection_ms: Option<u64>,
    /// Fault → every failover-eligible phone of the subject registered on its
    /// backup (`None` if some never did).
    pub takeover_ms: Option<u64>,
    /// Distinct phones that registered as guests somewhere.
    pub phones_moved: u32,
    /// Phones sent home by a backup (failback).
    pub phones_failed_back: u32,
    /// Phones that had an outage.
    pub phones_with_outage: u32,
    /// Phones unregistered at the end of the run, whether they lost their
    /// registration or never had one.
    pub phones_unregistered_at_end: u32,
    /// Longest total outage of one phone.
    pub max_phone_outage_ms: u64,
    /// Median of per-phone total outage, over phones that had one.
    pub p50_phone_outage_ms: u64,
    /// 99th percentile (nearest rank) of per-phone total outage.
    pub p99_phone_outage_ms: u64,
    /// Registrations refused.
    pub registrations_refused: u32,
    /// Calls set up.
    pub calls_started: u32,
    /// Calls set up that the system then could not complete (no trunk, no
    /// voicemail, hunt group unreachable): never up.
    pub calls_failed: u32,
    /// Calls refused before they were set up (the phone not registered or
    /// already in a call, its system refusing or not answering).
    pub calls_refused: u32,
    /// Calls cut by the failure of the system handling them.
    pub calls_dropped: u32,
    /// Calls kept up by media connection preservation.
    pub calls_preserved: u32,
    /// Preserved calls ended by the preservation limit (2 h by default).
    pub calls_preservation_expired: u32,
    /// Voicemail messages left.
    pub messages_left: u32,
    /// Voicemail messages lost (end-of-run audit; must be 0).
    pub messages_lost: u32,
    /// No end-of-run audit read the servers' disks (a live drill whose
    /// members are processes of their own): `messages_lost` and
    /// `recordings_lost` say nothing, and `messages_left` counts the
    /// `voicemail-left` events.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unaudited: bool,
    /// Recordings lost (end-of-run audit; must be 0).
    pub recordings_lost: u32,
    /// Voicemail messages cut, unkept, while being left, by their server's
    /// crash or stop (`voicemail-cut`). Not among the audit's lost ones,
    /// which are what the fleet took and then failed to keep: like a
    /// dropped call, this is what the fault itself cost.
    pub messages_cut: u32,
    /// Recordings cut by their server's crash or stop (`voicemail-cut`),
    /// or that could not start (`recording-failed`).
    pub recordings_cut: u32,
    /// Guests refused for lack of capacity.
    pub capacity_refusals: u32,
    /// Resources active on two servers at once.
    pub split_brain: Vec<crate::findings::SplitBrain>,
    /// Events logged.
    pub events: u32,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Metrics {
    /// Phones moved to a backup, but never every IP phone of the failed
    /// server (a split network): the takeover did not complete.
    pub fn takeover_incomplete(&self) -> bool {
        self.takeover_ms.is_none() && self.phones_moved > 0
    }

    /// Computes the metrics of `events` from a run of `scenario`.
    pub fn compute(scenario: &Scenario, events: &[EventRecord]) -> Metrics {
        Metrics::compute_until(scenario, events, 0)
    }

    /// [`Metrics::compute`] of a run still going at `now_ms` (a live
    /// drill): a phone still out is out until now, not until the last
    /// event, which may be long past on a quiet fleet.
    pub fn compute_until(scenario: &Scenario, events: &[EventRecord], now_ms: u64) -> Metrics {
        let fleet = &scenario.fleet;
        let t = crate::findings::tally(events);
        let mut m = Metrics {
            events: events.len() as u32,
            split_brain: crate::findings::split_brain(&scenario.fleet, events),
            calls_started: t.calls_started,
            calls_failed: t.calls_failed,
            calls_refused: t.calls_refused,
            calls_dropped: t.calls_dropped,
            calls_preserved: t.calls_preserved,
            calls_preservation_expired: t.calls_preservation_expired,
            capacity_refusals: t.capacity_refusals,
            messages_cut: t.messages_cut,
            recordings_cut: t.recordings_cut,
            ..Metrics::default()
        };
        if let Some(a) = crate::findings::audit(events) {
            m.messages_left = a.messages_left;
            m.messages_lost = a.messages_lost;
            m.recordings_lost = a.recordings_lost;
        } else {
            let left = |e: &&EventRecord| matches!(e.event, Event::VoicemailLeft { .. });
            let made = |e: &&EventRecord| matches!(e.event, Event::RecordingMade { .. });
            m.messages_left = events.iter().filter(left).count() as u32;
            m.unaudited = events.iter().any(|e| left(&e) || made(&e));
        }

        // The incident the metrics follow: the first fault that takes a
        // server out of sight of its backup (for a partition, the first
        // server named that ends up in another group than its backup);
        // among several, the one a takeover expectation is about, else
        // the first that homes phones that fail over.
        let incidents: Vec<(u64, String)> = (scenario.faults.iter())
            .filter_map(|f| isolated(fleet, &f.kind).map(|s| (f.at.as_millis(), s)))
            .collect();
        let expected = |s: &str| {
            (scenario.expectations.iter())
                .any(|e| matches!(&e.expect, fleetsim_model::Expectation::Takeover { of, .. } if of == s))
        };
        let fails_over = |s: &str| fleet.phones_of(s).any(|p| p.kind.fails_over());
        let incident = (incidents.iter().find(|(_, s)| expected(s)))
            .or_else(|| incidents.iter().find(|(_, s)| fails_over(s)))
            .or(incidents.first())
            .cloned();
        if let Some((at, subject)) = &incident {
            m.subject = Some(subject.clone());
            let backup = fleet.server(subject).and_then(|s| s.backup_for_phones());
            if let Some(backup) = backup {
                m.detection_ms = events.iter().find_map(|e| match &e.event {
                    Event::PeerLost { peer, .. }
                        if e.t_ms >= *at && e.server == backup && peer == subject =>
                    {
                        Some(e.t_ms - at)
                    }
                    _ => None,
                });
                let (eligible, arrived) = guest_arrivals(scenario, events, subject, backup, *at);
                if !eligible.is_empty() && arrived.len() == eligible.len() {
                    m.takeover_ms = arrived.values().max().map(|t| t - at);
                }
            }
        }

        // Per-phone outages: a phone is out from the moment its gatekeeper
        // is gone (crash, partition), it notices (lost) or it unregisters,
        // until it registers again, or until the partition that cut it
        // heals unnoticed.
        let end = events.last().map_or(0, |e| e.t_ms).max(now_ms);
        let mut on: BTreeMap<String, String> = BTreeMap::new();
        let mut out_since: BTreeMap<String, u64> = BTreeMap::new();
        let mut cut: BTreeMap<String, String> = BTreeMap::new();
        let mut total: BTreeMap<String, u64> = BTreeMap::new();
        let mut moved = BTreeSet::new();
        let mut failed_back = BTreeSet::new();
        // A shadow network replays the faults, so the metrics see exactly
        // the cuts the run had.
        let shadow = Net::new(Mode::Sim, std::time::Duration::ZERO);
        for p in fleet
            .phones
            .iter()
            .filter(|p| p.kind == fleetsim_model::PhoneKind::Analogue)
        {
            shadow.colocate(&p.extension, &p.home);
        }
        let link_down = |p: &str, s: &str| shadow.blocked(p, s) || shadow.blocked(s, p);
        let close = |total: &mut BTreeMap<String, u64>, phone: &str, since: u64, t: u64| {
            *total.entry(phone.to_string()).or_default() += t - since;
        };
        for e in events {
            match &e.event {
                Event::FaultApplied { spec, .. } => {
                    apply_to_net(&shadow, fleet, spec, |d| d);
                    // A node's stall moves only that node's links (a
                    // `phones@X` stall: each of X's phones): thousands of
                    // per-phone stalls must not each re-check every phone.
                    let stalled: Option<BTreeSet<String>> = match spec {
                        fleetsim_model::FaultKind::Stall { node, .. } => Some(
                            crate::runner::expand_groups(fleet, &[vec![node.clone()]])
                                .into_iter()
                                .flatten()
                                .collect(),
                        ),
                        _ => None,
                    };
                    let moved = |p: &str, s: &str| {
                        stalled
                            .as_ref()
                            .is_none_or(|n| n.contains(p) || n.contains(s))
                    };
                    // Phones reunited with their server before noticing: the
                    // outage ends here.
                    let reunited: Vec<(String, String)> = cut
                        .iter()
                        .filter(|(p, s)| moved(p, s) && !link_down(p, s))
                        .map(|(p, s)| (p.clone(), s.clone()))
                        .collect();
                    for (p, srv) in reunited {
                        cut.remove(&p);
                        if let Some(since) = out_since.remove(&p) {
                            close(&mut total, &p, since, e.t_ms);
                        }
                        on.insert(p, srv);
                    }
                    // Phones now cut from their server: out from here.
                    let separated: Vec<(String, String)> = on
                        .iter()
                        .filter(|(p, s)| moved(p, s) && link_down(p, s))
                        .map(|(p, s)| (p.clone(), s.clone()))
                        .collect();
                    for (p, srv) in separated {
                        on.remove(&p);
                        out_since.insert(p.clone(), e.t_ms);
                        cut.insert(p, srv);
                    }
                }
                Event::ServerCrashed { .. } | Event::ServerStopped { .. } => {
                    let gone: Vec<String> = on
                        .iter()
                        .filter(|(_, s)| **s == e.server)
                        .map(|(p, _)| p.clone())
                        .collect();
                    for p in gone {
                        on.remove(&p);
                        out_since.insert(p, e.t_ms);
                    }
                    // Its phones that never registered anywhere yet (it went
                    // down before they could) are out from here too.
                    for p in fleet.phones.iter().filter(|p| p.home == e.server) {
                        if !total.contains_key(&p.extension) {
                            out_since.entry(p.extension.clone()).or_insert(e.t_ms);
                        }
                    }
                    cut.retain(|_, s| *s != e.server);
                }
                Event::PhoneLost { phone, .. } | Event::PhoneSentHome { phone, .. } => {
                    cut.remove(phone);
                    if on.remove(phone).is_some() {
                        out_since.insert(phone.clone(), e.t_ms);
                    }
                    if matches!(e.event, Event::PhoneSentHome { .. }) {
                        failed_back.insert(phone.clone());
                    }
                }
                // Unregistered where it was (a reboot, or a registration
                // answered too late and withdrawn): out until it registers.
                Event::PhoneUnregistered { phone, .. }
                    if on.get(phone).is_some_and(|s| *s == e.server) =>
                {
                    on.remove(phone);
                    out_since.insert(phone.clone(), e.t_ms);
                }
                Event::PhoneRegistered { phone, guest, .. } => {
                    cut.remove(phone);
                    if let Some(since) = out_since.remove(phone) {
                        close(&mut total, phone, since, e.t_ms);
                    }
                    // Registered once: from here on its outages are counted.
                    total.entry(phone.clone()).or_default();
                    if *guest {
                        moved.insert(phone.clone());
                    }
                    on.insert(phone.clone(), e.server.clone());
                }
                Event::RegistrationRefused { .. } => m.registrations_refused += 1,
                _ => {}
            }
        }
        m.phones_failed_back = failed_back.len() as u32;
        // A phone that never registered (its server down from the start)
        // was out for the whole run: the worst outage there is, not none.
        for p in &fleet.phones {
            if !on.contains_key(&p.extension) && !total.contains_key(&p.extension) {
                out_since.entry(p.extension.clone()).or_insert(0);
            }
        }
        m.phones_unregistered_at_end = out_since.len() as u32;
        for (p, since) in out_since {
            *total.entry(p).or_default() += end - since;
        }
        let mut outages: Vec<u64> = total.into_values().filter(|v| *v > 0).collect();
        outages.sort_unstable();
        m.phones_with_outage = outages.len() as u32;
        m.max_phone_outage_ms = outages.last().copied().unwrap_or(0);
        m.p50_phone_outage_ms = percentile(&outages, 50.0);
        m.p99_phone_outage_ms = percentile(&outages, 99.0);
        m.phones_moved = moved.len() as u32;
        m
    }
}

/// The server `kind` takes out of sight of its backup, if any.
fn isolated(fleet: &fleetsim_model::Fleet, kind: &FaultKind) -> Option<String> {
    match kind {
        FaultKind::Crash { server }
        | FaultKind::Stop { server }
        | FaultKind::Hang { server, on: true } => Some(server.clone()),
        FaultKind::Stall { node, on: true } if fleet.server(node).is_some() => Some(node.clone()),
        FaultKind::OneWay { from, to, on: true } => from
            .iter()
            .filter_map(|n| fleet.server(n))
            .find(|srv| {
                srv.backup_for_phones()
                    .is_some_and(|b| to.iter().any(|t| t == b))
            })
            .map(|srv| srv.name.clone()),
        FaultKind::Gray { server, drop } if drop.contains(&fleetsim_model::GrayPath::Presence) => {
            Some(server.clone())
        }
        FaultKind::Partition { groups } => {
            let group_of = |n: &str| groups.iter().position(|g| g.iter().any(|x| x == n));
            // The servers it names first, then those it leaves out (in the
            // group of everything not named).
            let left_out = (fleet.servers.iter()).filter(|s| group_of(&s.name).is_none());
            groups
                .iter()
                .flatten()
                .filter_map(|n| fleet.server(n))
                .chain(left_out)
                .find(|srv| {
                    srv.backup_for_phones()
                        .is_some_and(|b| group_of(b) != group_of(&srv.name))
                })
                .map(|srv| srv.name.clone())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::{Metrics, percentile};
    use crate::test_events::at;
    use fleetsim_model::Event;

    #[test]
    fn a_drill_still_going_counts_an_open_outage_up_to_now() {
        let s = crate::ScenarioBuilder::on_builtin_fleet("reference")
            .duration("1h")
            .build()
            .unwrap();
        let mut events = crate::test_events::all_home(&s, 1_000);
        events.push(at(
            10_000,
            "primary",
            Event::ServerCrashed {
                registered_phones: 18,
            },
        ));
        // The fleet is quiet after the crash: the phone is out until now.
        let live = Metrics::compute_until(&s, &events, 600_000);
        assert_eq!(live.max_phone_outage_ms, 590_000);
        // Read at its last event, the same log shows no outage at all.
        assert_eq!(Metrics::compute(&s, &events).max_phone_outage_ms, 0);
    }

    #[test]
    fn phones_of_a_server_down_from_the_start_are_out_until_they_register() {
        let s = crate::ScenarioBuilder::on_builtin_fleet("reference")
            .duration("1h")
            .build()
            .unwrap();
        // The primary is down from 0 to 20m; every phone registers at 1s,
        // the primary's only when it is back.
        let (late, early): (Vec<_>, Vec<_>) = crate::test_events::all_home(&s, 1_000)
            .into_iter()
            .partition(|e| e.server == "primary");
        let mut events = vec![at(
            0,
            "primary",
            Event::ServerCrashed {
                registered_phones: 0,
            },
        )];
        events.extend(early);
        events.extend(late.into_iter().map(|e| at(1_200_000, "primary", e.event)));
        events.push(at(3_600_000, "runner", Event::RunEnded {}));
        let m = Metrics::compute(&s, &events);
        let primarys = s.fleet.phones_of("primary").count() as u32;
        assert_eq!(m.phones_with_outage, primarys);
        assert_eq!(m.max_phone_outage_ms, 1_200_000);
        assert_eq!(m.p50_phone_outage_ms, 1_200_000);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 100);
        assert_eq!(percentile(&[], 99.0), 0);
        assert_eq!(percentile(&[7], 50.0), 7);
    }
}
