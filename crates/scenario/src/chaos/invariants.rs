//! The invariants every chaos run must keep, read from its event log alone
//! (docs/chaos.md says each one precisely).

use std::collections::{BTreeMap, BTreeSet};

use fleetsim_model::{
    Event, EventRecord, FailbackMode, FaultKind, GrayPath, PhoneKind, Scenario, human_ms,
};

/// An invariant of a chaos run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Invariant {
    /// The run completed (no error, no panic).
    RunCompletes,
    /// The end-of-run audit lost no message and no recording.
    NothingLost,
    /// No phone registered on two servers at once beyond the expiry bound.
    NoDoubleRegistration,
    /// Every phone is registered, at home, at the end of the run.
    RegisteredAtEnd,
    /// No split-brain finding without a fault that splits the network.
    NoSplitBrainWithoutSplit,
    /// Every call ends (allowing calls still within their length at the end).
    NoCallLeftOpen,
    /// No call refused as "already in a call" when the phone has none open.
    NoContradictingRefusal,
    /// No phone sent home at failback while it is in a call.
    NoSendHomeInCall,
    /// A rerun gives the same event log, byte for byte.
    Deterministic,
}

impl Invariant {
    /// Every invariant, in report order.
    pub const ALL: [Invariant; 9] = [
        Invariant::RunCompletes,
        Invariant::NothingLost,
        Invariant::NoDoubleRegistration,
        Invariant::RegisteredAtEnd,
        Invariant::NoSplitBrainWithoutSplit,
        Invariant::NoCallLeftOpen,
        Invariant::NoContradictingRefusal,
        Invariant::NoSendHomeInCall,
        Invariant::Deterministic,
    ];

    /// Kebab-case name, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::RunCompletes => "run-completes",
            Invariant::NothingLost => "nothing-lost",
            Invariant::NoDoubleRegistration => "no-double-registration",
            Invariant::RegisteredAtEnd => "registered-at-end",
            Invariant::NoSplitBrainWithoutSplit => "no-split-brain-without-split",
            Invariant::NoCallLeftOpen => "no-call-left-open",
            Invariant::NoContradictingRefusal => "no-contradicting-refusal",
            Invariant::NoSendHomeInCall => "no-send-home-in-call",
            Invariant::Deterministic => "deterministic",
        }
    }
}

/// One broken invariant, with what shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// Which invariant.
    pub invariant: Invariant,
    /// What the log shows (the first instance, and how many).
    pub detail: String,
}

fn violation(invariant: Invariant, detail: String) -> Violation {
    Violation { invariant, detail }
}

/// Checks every invariant that one event log can show (all but determinism).
pub fn check(scenario: &Scenario, events: &[EventRecord]) -> Vec<Violation> {
    // Each replayed once, for every invariant that reads it.
    let regs = Registrations::replay(events);
    let calls = OpenCalls::replay(events);
    [
        nothing_lost(events),
        double_registration(scenario, &regs),
        registered_at_end(scenario, &regs, &calls),
        split_brain_without_split(scenario, events),
        call_left_open(scenario, events, &calls),
        contradicting_refusal(scenario, &calls),
        sent_home_in_call(&calls),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Nothing lost: the audit event exists and counts no loss.
pub fn nothing_lost(events: &[EventRecord]) -> Option<Violation> {
    match crate::findings::audit(events) {
        None => Some(violation(
            Invariant::NothingLost,
            "the run has no end-of-run audit event".into(),
        )),
        Some(a) if !a.nothing_lost() => Some(violation(Invariant::NothingLost, a.describe())),
        Some(_) => None,
    }
}

/// The longest a phone may stay registered on two servers: a server drops a
/// registration not refreshed for 2 keepalive intervals plus a deadline,
/// checked every keepalive interval; one more deadline of slack.
pub fn double_registration_bound_ms(scenario: &Scenario) -> u64 {
    let t = &scenario.fleet.timers;
    3 * t.keepalive_interval.as_millis() + 2 * t.rpc_deadline.as_millis()
}

/// A stretch a phone spent registered on two servers or more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoubleStretch {
    /// The phone.
    pub phone: String,
    /// Every server that held it during the stretch.
    pub servers: Vec<String>,
    /// Start (ms).
    pub from_ms: u64,
    /// End (ms; the end of the run if it never ended).
    pub to_ms: u64,
}

/// Where each phone is registered, from the servers' side, replayed from
/// the log, with every stretch a phone spent on two servers or more.
#[derive(Debug, Default)]
pub struct Registrations {
    /// phone → server → registered since (ms).
    pub on: BTreeMap<String, BTreeMap<String, u64>>,
    /// Each stretch a phone spent on two servers or more.
    pub doubles: Vec<DoubleStretch>,
    /// The end of the run (ms).
    pub end_ms: u64,
}

impl Registrations {
    /// Replays `events`: a phone is on a server from `phone-registered`
    /// until `registration-expired`, `phone-sent-home` or a reboot's
    /// `phone-lost` there, or the server's crash, stop or (re)start.
    pub fn replay(events: &[EventRecord]) -> Registrations {
        let mut r = Registrations {
            end_ms: events.last().map_or(0, |e| e.t_ms),
            ..Registrations::default()
        };
        let mut double_since: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
        for e in events {
            let touched: Vec<String> = match &e.event {
                Event::PhoneRegistered { phone, .. } => {
                    let on = r.on.entry(phone.clone()).or_default();
                    on.entry(e.server.clone()).or_insert(e.t_ms);
                    vec![phone.clone()]
                }
                Event::RegistrationExpired { phone, .. }
                | Event::RegistrationEnded { phone, .. }
                | Event::PhoneSentHome { phone, .. }
                | Event::PhoneUnregistered { phone, .. } => r.leave(phone, &e.server),
                Event::PhoneLost { phone, reason } if reason.starts_with("rebooted") => {
                    r.leave(phone, &e.server)
                }
                Event::ServerCrashed { .. }
                | Event::ServerStopped { .. }
                | Event::ServerStarted { .. } => r.clear_server(&e.server),
                _ => Vec::new(),
            };
            for p in touched {
                r.track_double(&p, e.t_ms, &mut double_since);
            }
        }
        for (phone, (from_ms, servers)) in double_since {
            r.doubles.push(DoubleStretch {
                phone,
                servers: servers.into_iter().collect(),
                from_ms,
                to_ms: r.end_ms,
            });
        }
        r
    }

    fn leave(&mut self, phone: &str, server: &str) -> Vec<String> {
        if let Some(on) = self.on.get_mut(phone) {
            on.remove(server);
        }
        vec![phone.to_string()]
    }

    fn clear_server(&mut self, server: &str) -> Vec<String> {
        let mut touched = Vec::new();
        for (p, on) in &mut self.on {
            if on.remove(server).is_some() {
                touched.push(p.clone());
            }
        }
        touched
    }

    fn track_double(
        &mut self,
        phone: &str,
        t: u64,
        since: &mut BTreeMap<String, (u64, BTreeSet<String>)>,
    ) {
        let on = self.on.get(phone).map(|m| m.len()).unwrap_or(0);
        if on >= 2 {
            let servers = self.on[phone].keys().cloned();
            since
                .entry(phone.to_string())
                .or_insert((t, BTreeSet::new()))
                .1
                .extend(servers);
        } else if let Some((from_ms, servers)) = since.remove(phone) {
            self.doubles.push(DoubleStretch {
                phone: phone.to_string(),
                servers: servers.into_iter().collect(),
                from_ms,
                to_ms: t,
            });
        }
    }
}

/// The windows (from, to) in which `server` was hung: from a hang until it
/// resumes (overlapping hangs count up and end one at a time, as in the
/// fault plane), crashes or stops (to the end of the run if none).
pub fn hung_windows(scenario: &Scenario, server: &str) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut since, mut depth): (Option<u64>, u32) = (None, 0);
    for f in &scenario.faults {
        let t = f.at.as_millis();
        match &f.kind {
            FaultKind::Hang { server: s, on } if s == server => {
                if *on {
                    depth += 1;
                    since.get_or_insert(t);
                } else {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        out.extend(since.take().map(|from| (from, t)));
                    }
                }
            }
            FaultKind::Crash { server: s } | FaultKind::Stop { server: s } if s == server => {
                depth = 0;
                out.extend(since.take().map(|from| (from, t)));
            }
            _ => {}
        }
    }
    out.extend(since.map(|from| (from, scenario.duration.as_millis())));
    out
}

/// How much of `from..to` some server of `servers` spent hung.
fn hung_overlap(scenario: &Scenario, servers: &[String], from: u64, to: u64) -> u64 {
    let mut w: Vec<(u64, u64)> = servers
        .iter()
        .flat_map(|s| hung_windows(scenario, s))
        .map(|(a, b)| (a.max(from), b.min(to)))
        .filter(|(a, b)| a < b)
        .collect();
    w.sort_unstable();
    let (mut total, mut reach) = (0, from);
    for (a, b) in w {
        let a = a.max(reach);
        if b > a {
            total += b - a;
            reach = b;
        }
    }
    total
}

/// No phone on two servers at once for longer than the expiry bound, not
/// counting time a server holding it was hung (a hung server's memory is
/// frozen: it can neither expire nor use a registration).
pub fn double_registration(scenario: &Scenario, regs: &Registrations) -> Option<Violation> {
    let bound = double_registration_bound_ms(scenario);
    let long: Vec<(&DoubleStretch, u64)> = regs
        .doubles
        .iter()
        .map(|d| {
            let hung = hung_overlap(scenario, &d.servers, d.from_ms, d.to_ms);
            (d, d.to_ms - d.from_ms - hung)
        })
        .filter(|(_, len)| *len > bound)
        .collect();
    let (d, len) = long.iter().max_by_key(|d| d.1)?;
    Some(violation(
        Invariant::NoDoubleRegistration,
        format!(
            "phone {} registered on {} at once from {} to {} ({} not hung, bound {}); {} stretches that long in all",
            d.phone,
            d.servers.join(" and "),
            human_ms(d.from_ms),
            human_ms(d.to_ms),
            human_ms(*len),
            human_ms(bound),
            long.len()
        ),
    ))
}

/// Calls replayed from the log: those still open, and refusals as "already
/// in a call" of a phone with no call open.
#[derive(Debug, Default)]
pub struct OpenCalls {
    /// call id → (calling phone, started at ms), still open at the end.
    pub open: BTreeMap<String, (String, u64)>,
    /// (phone, refused call, at ms, ms since that phone's last call ended
    /// or `None` if it had none) of each refusal as "already in a call"
    /// while the log shows no call of that phone open.
    pub contradictions: Vec<(String, String, u64, Option<u64>)>,
    /// phone → when its last call ended.
    last_end: BTreeMap<String, u64>,
    /// (phone, its open call, server, at ms) of each send-home at
    /// failback while the phone was in that call.
    pub sent_home_busy: Vec<(String, String, String, u64)>,
}

impl OpenCalls {
    /// Replays `events`: a call is open from `call-started` until
    /// `call-ended`, `call-dropped` or `call-failed` (`call-preserved` keeps
    /// it open).
    pub fn replay(events: &[EventRecord]) -> OpenCalls {
        let mut c = OpenCalls::default();
        for e in events {
            match &e.event {
                Event::CallStarted { call, phone, .. } => {
                    c.open.insert(call.clone(), (phone.clone(), e.t_ms));
                }
                Event::CallFailed {
                    call,
                    phone,
                    reason,
                } if reason.contains("already in a call")
                    && !c.open.values().any(|(p, _)| p == phone) =>
                {
                    let since = c.last_end.get(phone).map(|t| e.t_ms - t);
                    c.contradictions
                        .push((phone.clone(), call.clone(), e.t_ms, since));
                }
                Event::CallEnded { call, .. }
                | Event::CallPreservationExpired { call, .. }
                | Event::CallDropped { call, .. }
                | Event::CallFailed { call, .. } => {
                    if let Some((phone, _)) = c.open.remove(call) {
                        c.last_end.insert(phone, e.t_ms);
                    }
                }
                Event::PhoneSentHome { phone, .. } => {
                    if let Some((call, _)) = c.open.iter().find(|(_, (p, _))| p == phone) {
                        let busy = (phone.clone(), call.clone(), e.server.clone(), e.t_ms);
                        c.sent_home_busy.push(busy);
                    }
                }
                _ => {}
            }
        }
        c
    }

    /// Whether `phone` has a call open at the end.
    pub fn busy(&self, phone: &str) -> bool {
        self.open.values().any(|(p, _)| p == phone)
    }
}

/// Every phone is registered at the end, and at home: a phone in a call
/// may be anywhere (it goes home when idle), and an H.323 phone under
/// manual phone failback may stay on its backup.
pub fn registered_at_end(
    scenario: &Scenario,
    regs: &Registrations,
    calls: &OpenCalls,
) -> Option<Violation> {
    let manual = scenario.fleet.resilience.phone_failback == FailbackMode::Manual;
    let mut bad: Vec<String> = Vec::new();
    for p in &scenario.fleet.phones {
        let on: Vec<&String> = regs
            .on
            .get(&p.extension)
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        let anywhere_ok = calls.busy(&p.extension) || (manual && p.kind == PhoneKind::H323);
        let fine = if anywhere_ok {
            !on.is_empty()
        } else {
            on.iter().any(|s| **s == p.home)
        };
        if !fine {
            let where_ = if on.is_empty() {
                "nowhere".to_string()
            } else {
                format!(
                    "on {}",
                    on.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" and ")
                )
            };
            bad.push(format!("{} (home {}) {where_}", p.extension, p.home));
        }
    }
    let first = bad.first()?;
    Some(violation(
        Invariant::RegisteredAtEnd,
        format!(
            "{} phones not registered at home at the end ({}): {first}{}",
            bad.len(),
            human_ms(regs.end_ms),
            if bad.len() > 1 {
                let more = bad.len().saturating_sub(7);
                format!(
                    "; also {}{}",
                    bad[1..]
                        .iter()
                        .take(6)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                )
            } else {
                String::new()
            }
        ),
    ))
}

/// Whether a fault cuts servers off from each other while they keep their
/// state: a partition, a one-way cut, a stall (or flap), a gray failure
/// dropping presence, a hang, or latency of at least half the RPC deadline
/// (a request and its answer both pay it). Crash, stop and clock steps do
/// not split the network.
pub fn splits_network(kind: &FaultKind, rpc_deadline_ms: u64) -> bool {
    match kind {
        FaultKind::Partition { groups } => !groups.is_empty(),
        FaultKind::OneWay { on, .. } | FaultKind::Stall { on, .. } | FaultKind::Hang { on, .. } => {
            *on
        }
        FaultKind::Gray { drop, .. } => drop.contains(&GrayPath::Presence),
        FaultKind::Latency { delay, jitter, .. } => {
            2 * (delay.as_millis() + jitter.as_millis()) >= rpc_deadline_ms
        }
        _ => false,
    }
}

/// The windows (from, to) in which each fault that splits the network was
/// in force: from its application to the first later fault that undoes it
/// (to the end of the run if none).
fn split_windows(scenario: &Scenario) -> Vec<(u64, u64)> {
    let deadline = scenario.fleet.timers.rpc_deadline.as_millis();
    let end = scenario.duration.as_millis();
    let faults = &scenario.faults;
    faults
        .iter()
        .enumerate()
        .filter(|(_, f)| splits_network(&f.kind, deadline))
        .map(|(i, f)| {
            let undo = f.kind.undo();
            let to = faults[i + 1..]
                .iter()
                .find(|g| undo.as_ref() == Some(&g.kind) || matches!(g.kind, FaultKind::Heal))
                .map_or(end, |g| g.at.as_millis());
            (f.at.as_millis(), to)
        })
        .collect()
}

/// No split-brain finding that starts before any fault splitting the
/// network, and none still open at the end of the run (every fault has
/// been undone for the whole settle tail by then).
pub fn split_brain_without_split(scenario: &Scenario, events: &[EventRecord]) -> Option<Violation> {
    let deadline = scenario.fleet.timers.rpc_deadline.as_millis();
    let end = events.last().map_or(0, |e| e.t_ms);
    let first_split = scenario
        .faults
        .iter()
        .filter(|f| splits_network(&f.kind, deadline))
        .map(|f| f.at.as_millis())
        .min();
    let findings = crate::findings::split_brain(&scenario.fleet, events);
    let unexplained: Vec<_> = findings
        .iter()
        .filter(|s| first_split.is_none_or(|t| s.from_ms < t) || s.to_ms >= end)
        .collect();
    let first = unexplained.first()?;
    let why = if first.to_ms >= end {
        "still at the end of the run"
    } else {
        "with no network split before it"
    };
    Some(violation(
        Invariant::NoSplitBrainWithoutSplit,
        format!(
            "{} {why}; {} findings like it in all",
            first.describe(),
            unexplained.len()
        ),
    ))
}

/// The longest a call may last: six times the workload's mean length (its
/// cap), or the longest scripted `[[call]]`, plus a keepalive interval and
/// two deadlines for setting it up and hanging up.
pub fn call_allowance_ms(scenario: &Scenario) -> u64 {
    let t = &scenario.fleet.timers;
    let workload = 6 * scenario.calls.mean_duration.as_millis().max(5_000);
    let scripted = (scenario.scripted_calls.iter())
        .map(|c| c.lasts.as_millis())
        .max()
        .unwrap_or(0);
    workload.max(scripted) + t.keepalive_interval.as_millis() + 2 * t.rpc_deadline.as_millis()
}

/// Every call ends: a call still open at the end violates it if it started
/// longer than [`call_allowance_ms`] before the end.
pub fn call_left_open(
    scenario: &Scenario,
    events: &[EventRecord],
    calls: &OpenCalls,
) -> Option<Violation> {
    let end = events.last().map_or(0, |e| e.t_ms);
    let allowance = call_allowance_ms(scenario);
    let mut old: Vec<(&String, &(String, u64))> = calls
        .open
        .iter()
        .filter(|(_, (_, t))| end - t > allowance)
        .collect();
    old.sort_by_key(|(_, (_, t))| *t);
    let (call, (phone, t)) = old.first()?;
    Some(violation(
        Invariant::NoCallLeftOpen,
        format!(
            "call {call} of {phone} started at {} and never ended ({} before the end, allowance {}); {} calls like it in all",
            human_ms(*t),
            human_ms(end - t),
            human_ms(allowance),
            old.len()
        ),
    ))
}

/// No call refused as "already in a call" when the phone has no call open.
///
/// The system logs a call's end when it ends it; the phone hears a moment
/// later, over the call's stream. A refusal within one RPC deadline of the
/// end is that news on its way, not a contradiction.
/// Nor is one while a fault that splits the network was in force at some
/// time between the end and the refusal: the news may be held by it.
pub fn contradicting_refusal(scenario: &Scenario, calls: &OpenCalls) -> Option<Violation> {
    let in_flight = scenario.fleet.timers.rpc_deadline.as_millis();
    let splits = split_windows(scenario);
    let wrong: Vec<_> = calls
        .contradictions
        .iter()
        .filter(|(_, _, t, since)| match since {
            None => true,
            Some(ms) => {
                let ended = t - ms;
                *ms > in_flight && !splits.iter().any(|(a, b)| *a <= *t && *b >= ended)
            }
        })
        .collect();
    let (phone, call, t, _) = wrong.first()?;
    Some(violation(
        Invariant::NoContradictingRefusal,
        format!(
            "call {call} of {phone} refused at {} as \"already in a call\", but {phone} has no call open; {} refusals like it in all",
            human_ms(*t),
            wrong.len()
        ),
    ))
}

/// The failback rule: only an idle phone is sent home; one in a call
/// stays until the call ends.
pub fn sent_home_in_call(calls: &OpenCalls) -> Option<Violation> {
    let (phone, call, server, t) = calls.sent_home_busy.first()?;
    Some(violation(
        Invariant::NoSendHomeInCall,
        format!(
            "{server} sent {phone} home at {} while it was in call {call}: a phone in a call is sent home only once the call ends; {} send-homes like it in all",
            human_ms(*t),
            calls.sent_home_busy.len()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScenarioBuilder;

    fn reference(faults: &[(&str, &str)]) -> Scenario {
        let mut b = ScenarioBuilder::on_builtin_fleet("reference").duration("1h");
        for (at, action) in faults {
            b = b.fault(at, action);
        }
        b.build().unwrap()
    }

    use crate::test_events::at;

    fn registered(t_ms: u64, server: &str, phone: &str) -> EventRecord {
        at(
            t_ms,
            server,
            Event::PhoneRegistered {
                phone: phone.into(),
                home: "primary".into(),
                guest: server != "primary",
            },
        )
    }

    fn expired(t_ms: u64, server: &str, phone: &str) -> EventRecord {
        at(
            t_ms,
            server,
            Event::RegistrationExpired {
                phone: phone.into(),
                home: "primary".into(),
                guest: false,
                silent_for_ms: 0,
            },
        )
    }

    fn audit(lost: u32) -> EventRecord {
        at(
            3_600_000,
            "runner",
            Event::Audit {
                messages_left: 3,
                messages_lost: lost,
                messages_waiting: 0,
                recordings_made: 0,
                recordings_lost: 0,
                recordings_pending: 0,
            },
        )
    }

    fn started(t_ms: u64, call: &str, phone: &str) -> EventRecord {
        at(
            t_ms,
            "primary",
            Event::CallStarted {
                call: call.into(),
                phone: phone.into(),
                kind: "two-party".into(),
                recorded: false,
            },
        )
    }

    fn broken(v: Option<Violation>) -> Invariant {
        v.expect("the invariant should be broken").invariant
    }

    #[test]
    fn a_lost_message_in_the_audit_breaks_nothing_lost() {
        assert_eq!(broken(nothing_lost(&[audit(1)])), Invariant::NothingLost);
        assert!(nothing_lost(&[audit(0)]).is_none());
    }

    #[test]
    fn a_run_without_an_audit_event_breaks_nothing_lost() {
        assert!(nothing_lost(&[registered(0, "primary", "2001")]).is_some());
    }

    #[test]
    fn a_phone_on_two_servers_beyond_the_expiry_bound_breaks_no_double_registration() {
        let s = reference(&[]);
        let bound = double_registration_bound_ms(&s);
        let events = [
            registered(1_000, "primary", "2001"),
            registered(60_000, "secondary", "2001"),
            expired(60_000 + bound + 1, "primary", "2001"),
        ];
        let regs = Registrations::replay(&events);
        assert_eq!(
            broken(double_registration(&s, &regs)),
            Invariant::NoDoubleRegistration
        );
    }

    #[test]
    fn a_phone_on_two_servers_within_the_bound_or_until_a_crash_is_fine() {
        let s = reference(&[]);
        let events = [
            registered(1_000, "primary", "2001"),
            registered(60_000, "secondary", "2001"),
            at(
                90_000,
                "primary",
                Event::ServerCrashed {
                    registered_phones: 1,
                },
            ),
            at(3_600_000, "runner", Event::RunEnded {}),
        ];
        let regs = Registrations::replay(&events);
        assert!(double_registration(&s, &regs).is_none());
    }

    #[test]
    fn time_a_server_spent_hung_does_not_count_toward_the_bound() {
        let s = reference(&[("59s", "hang = \"primary\"\nfor = \"10m\"")]);
        let events = [
            registered(1_000, "primary", "2001"),
            registered(60_000, "secondary", "2001"),
            expired(59_000 + 600_000 + 30_000, "primary", "2001"),
        ];
        let regs = Registrations::replay(&events);
        assert!(double_registration(&s, &regs).is_none());
    }

    #[test]
    fn overlapping_hangs_of_one_server_end_with_the_last() {
        let s = reference(&[
            ("1m", "hang = \"primary\"\nfor = \"2m11s\""),
            ("3m5s", "hang = \"primary\"\nfor = \"3m56s\""),
        ]);
        assert_eq!(hung_windows(&s, "primary"), vec![(60_000, 421_000)]);
    }

    #[test]
    fn a_phone_left_on_its_backup_at_the_end_breaks_registered_at_end() {
        let s = reference(&[]);
        let mut events = crate::test_events::all_home(&s, 1_000);
        events.push(at(3_600_000, "runner", Event::RunEnded {}));
        let regs = Registrations::replay(&events);
        assert!(registered_at_end(&s, &regs, &OpenCalls::replay(&events)).is_none());
        events.insert(
            events.len() - 1,
            at(
                2_000_000,
                "primary",
                Event::ServerCrashed {
                    registered_phones: 18,
                },
            ),
        );
        events.insert(events.len() - 1, registered(2_100_000, "secondary", "2001"));
        let regs = Registrations::replay(&events);
        let v = registered_at_end(&s, &regs, &OpenCalls::replay(&events)).unwrap();
        assert_eq!(v.invariant, Invariant::RegisteredAtEnd);
        assert!(v.detail.starts_with("18 phones"), "{}", v.detail);
        // Seven named, and the rest counted: a cut list says so.
        assert!(v.detail.ends_with(" and 11 more"), "{}", v.detail);
    }

    fn voicemail(t_ms: u64, server: &str, state: &str) -> EventRecord {
        at(
            t_ms,
            server,
            Event::ServiceState {
                service: "voicemail-pro".into(),
                state: state.into(),
                reason: "test".into(),
            },
        )
    }

    #[test]
    fn a_split_brain_with_no_network_split_breaks_its_invariant() {
        let events = [
            voicemail(0, "primary", "active"),
            voicemail(300_000, "secondary", "active"),
            voicemail(600_000, "secondary", "standby"),
            at(3_600_000, "runner", Event::RunEnded {}),
        ];
        let crash = reference(&[("4m", "crash = \"primary\"\nfor = \"10m\"")]);
        assert_eq!(
            broken(split_brain_without_split(&crash, &events)),
            Invariant::NoSplitBrainWithoutSplit
        );
        let partition = reference(&[("4m", "partition = [[\"primary\"]]\nfor = \"10m\"")]);
        assert!(split_brain_without_split(&partition, &events).is_none());
    }

    #[test]
    fn a_split_brain_still_open_at_the_end_breaks_its_invariant_even_after_a_split() {
        let events = [
            voicemail(0, "primary", "active"),
            voicemail(300_000, "secondary", "active"),
            at(3_600_000, "runner", Event::RunEnded {}),
        ];
        let partition = reference(&[("4m", "partition = [[\"primary\"]]\nfor = \"10m\"")]);
        assert!(split_brain_without_split(&partition, &events).is_some());
    }

    #[test]
    fn a_call_that_never_ends_breaks_no_call_left_open() {
        let s = reference(&[]);
        let events = [
            started(60_000, "c1-2001", "2001"),
            at(3_600_000, "runner", Event::RunEnded {}),
        ];
        assert_eq!(
            broken(call_left_open(&s, &events, &OpenCalls::replay(&events))),
            Invariant::NoCallLeftOpen
        );
    }

    #[test]
    fn a_call_started_within_its_longest_length_of_the_end_may_be_open() {
        let s = reference(&[]);
        let end = 3_600_000;
        let events = [
            started(end - call_allowance_ms(&s), "c1-2001", "2001"),
            at(end, "runner", Event::RunEnded {}),
        ];
        assert!(call_left_open(&s, &events, &OpenCalls::replay(&events)).is_none());
    }

    #[test]
    fn a_phone_sent_home_in_a_call_breaks_no_send_home_in_call() {
        let home = |t_ms| {
            at(
                t_ms,
                "secondary",
                Event::PhoneSentHome {
                    phone: "2001".into(),
                    home: "primary".into(),
                },
            )
        };
        let busy = [started(60_000, "c1-2001", "2001"), home(120_000)];
        let v = broken(sent_home_in_call(&OpenCalls::replay(&busy)));
        assert_eq!(v, Invariant::NoSendHomeInCall);
        let ended = at(
            90_000,
            "secondary",
            Event::CallEnded {
                call: "c1-2001".into(),
                phone: "2001".into(),
                preserved: false,
            },
        );
        let idle = [started(60_000, "c1-2001", "2001"), ended, home(120_000)];
        assert!(sent_home_in_call(&OpenCalls::replay(&idle)).is_none());
    }

    #[test]
    fn a_scripted_call_may_stay_open_as_long_as_it_was_written_to_last() {
        let s = ScenarioBuilder::on_builtin_fleet("reference")
            .duration("1h")
            .call(
                "1m",
                "3001",
                "4001",
                "23h",
                fleetsim_model::CallKind::TwoParty,
            )
            .build()
            .unwrap();
        let events = [
            started(60_000, "s1-3001", "3001"),
            at(3_600_000, "runner", Event::RunEnded {}),
        ];
        assert!(call_left_open(&s, &events, &OpenCalls::replay(&events)).is_none());
    }

    #[test]
    fn an_already_in_a_call_refusal_with_no_call_open_breaks_no_contradicting_refusal() {
        let failed = |t, call: &str, reason: &str| {
            at(
                t,
                "primary",
                Event::CallFailed {
                    call: call.into(),
                    phone: "2001".into(),
                    reason: reason.into(),
                },
            )
        };
        let phantom = [
            started(60_000, "c1-2001", "2001"),
            failed(61_000, "c1-2001", "no trunk"),
            failed(90_000, "c2-2001", "the phone is already in a call"),
        ];
        let s = reference(&[]);
        assert_eq!(
            broken(contradicting_refusal(&s, &OpenCalls::replay(&phantom))),
            Invariant::NoContradictingRefusal
        );
        let busy = [
            started(60_000, "c1-2001", "2001"),
            failed(90_000, "c2-2001", "the phone is already in a call"),
        ];
        assert!(contradicting_refusal(&s, &OpenCalls::replay(&busy)).is_none());
        // The news of the end is still on its way to the phone.
        let news_in_flight = [
            started(60_000, "c1-2001", "2001"),
            failed(61_000, "c1-2001", "no trunk"),
            failed(62_900, "c2-2001", "the phone is already in a call"),
        ];
        assert!(contradicting_refusal(&s, &OpenCalls::replay(&news_in_flight)).is_none());
    }
}
