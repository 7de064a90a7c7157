//! Expectations, checked against the event log.

use std::collections::{BTreeMap, BTreeSet};

use fleetsim_model::{Dur, Event, EventRecord, Expectation, Scenario, human_ms};
use fleetsim_rules::{TakeoverPolicy, Timers};

use crate::{assertion, findings};
use serde::Serialize;

/// The verdict on one expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExpectationResult {
    /// Its name.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// Why, in a sentence.
    pub detail: String,
}

fn list(items: &[&str]) -> String {
    const SHOWN: usize = 6;
    let mut s = items
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    s
}

/// The physical IP phones of `of` (the ones that can fail over), and when
/// each first registered on `by` as a guest at or after `after` (ms).
/// The phones of `of` that can fail over: those with a backup for their kind.
fn movable<'a>(
    fleet: &'a fleetsim_model::Fleet,
    of: &str,
) -> impl Iterator<Item = &'a fleetsim_model::PhoneSpec> {
    let of = of.to_string();
    fleet
        .phones
        .iter()
        .filter(move |p| p.home == of && fleet.backup_of_phone(p).is_some())
}

pub(crate) fn guest_arrivals<'a>(
    scenario: &'a Scenario,
    events: &'a [EventRecord],
    of: &str,
    by: &str,
    after: u64,
) -> (Vec<&'a str>, BTreeMap<&'a str, u64>) {
    let eligible: Vec<&str> = movable(&scenario.fleet, of)
        .map(|p| p.extension.as_str())
        .collect();
    let mut arrived = BTreeMap::new();
    for ev in events
        .iter()
        .filter(|ev| ev.t_ms >= after && ev.server == by)
    {
        if let Event::PhoneRegistered {
            phone,
            guest: true,
            home,
        } = &ev.event
            && home == of
        {
            arrived.entry(phone.as_str()).or_insert(ev.t_ms);
        }
    }
    (eligible, arrived)
}

/// Evaluates every expectation of `scenario` against `events`, from a run
/// under `policy` (whose takeover wait says how long after its fault a
/// `no-failover` run must go on to prove anything).
pub fn evaluate(
    scenario: &Scenario,
    events: &[EventRecord],
    policy: &dyn TakeoverPolicy,
) -> Vec<ExpectationResult> {
    let waits = Dur(policy.takeover_after(&emulated_timers(scenario)));
    let cache = assertion::StateCache::default();
    scenario
        .expectations
        .iter()
        .map(|e| {
            let (passed, detail) = check(scenario, &e.expect, events, waits, &cache);
            ExpectationResult {
                name: e.name.clone(),
                passed,
                detail,
            }
        })
        .collect()
}

/// The rule timers of `scenario`'s fleet in emulated time (what a policy
/// reads in a sim run).
fn emulated_timers(scenario: &Scenario) -> Timers {
    let t = &scenario.fleet.timers;
    Timers {
        presence_interval: t.presence_interval.0,
        start_jitter: t.start_jitter.0,
        failover_after: t.failover_after.0,
        failback_after: t.failback_after.0,
        homeless_prevention: scenario.fleet.resilience.homeless_prevention.0,
        keepalive_interval: t.keepalive_interval.0,
        rpc_deadline: t.rpc_deadline.0,
    }
}

/// Why no phone of `of` can fail over: it homes no physical IP phone, or
/// its line lacks the option each kind of its phones needs.
fn nothing_to_move(fleet: &fleetsim_model::Fleet, of: &str) -> String {
    let kinds: BTreeSet<fleetsim_model::PhoneKind> = fleet
        .phones_of(of)
        .filter(|p| p.kind.fails_over())
        .map(|p| p.kind)
        .collect();
    if kinds.is_empty() {
        return format!("{of} homes no physical IP phone, so nothing can fail over");
    }
    let Some(backup) = fleet.server(of).and_then(|s| s.backup.as_ref()) else {
        return format!("{of} has no backup, so nothing can fail over");
    };
    let lacking: BTreeSet<&str> = kinds
        .iter()
        .filter_map(|k| k.backup_option())
        .filter(|o| !backup.options.contains(o))
        .map(|o| match o {
            fleetsim_model::BackupOption::IpDect => "ip-dect (its IP DECT phones)",
            _ => "ip-phones (its H.323 and SIP phones)",
        })
        .collect();
    if lacking.is_empty() {
        return format!("no IP phone of {of} has a backup, so nothing can fail over");
    }
    format!(
        "no IP phone of {of} has a backup: its line to {} lacks {}, so nothing can fail over",
        backup.server,
        lacking.into_iter().collect::<Vec<_>>().join(" and ")
    )
}

fn check(
    scenario: &Scenario,
    e: &Expectation,
    events: &[EventRecord],
    waits: Dur,
    cache: &assertion::StateCache,
) -> (bool, String) {
    match e {
        Expectation::Takeover {
            of,
            by,
            within,
            after,
            after_anchor,
        } => {
            let after = applied(scenario, events, *after, *after_anchor);
            let (eligible, arrived) = guest_arrivals(scenario, events, of, by, after);
            if eligible.is_empty() {
                return (false, nothing_to_move(&scenario.fleet, of));
            }
            let missing: Vec<&str> = eligible
                .iter()
                .copied()
                .filter(|p| !arrived.contains_key(p))
                .collect();
            if !missing.is_empty() {
                let (_, earlier) = guest_arrivals(scenario, events, of, by, 0);
                let before: Vec<u64> = missing
                    .iter()
                    .filter_map(|p| earlier.get(p))
                    .copied()
                    .collect();
                let already = match before.iter().min() {
                    Some(t) => format!(
                        " ({} of them had registered there before {}, from {})",
                        before.len(),
                        human_ms(after),
                        human_ms(*t)
                    ),
                    None => String::new(),
                };
                return (
                    false,
                    format!(
                        "{} of {} IP phones of {of} did not register on {by} as guests at or after {}: {}{already}{}",
                        missing.len(),
                        eligible.len(),
                        human_ms(after),
                        list(&missing),
                        cut_short(scenario, after, *within)
                    ),
                );
            }
            let last = arrived.values().max().copied().unwrap_or(after) - after;
            let first = arrived.values().min().copied().unwrap_or(after) - after;
            let all = if eligible.len() == 1 { "the" } else { "all" };
            let span = format!(
                "{all} {} of {of} on {by} between {} and {} after {}",
                fleetsim_model::words::counted(eligible.len(), "IP phone", "IP phones"),
                human_ms(first),
                human_ms(last),
                human_ms(after)
            );
            if last <= within.as_millis() {
                (true, format!("{span} (bound {within})"))
            } else {
                let late: Vec<&str> = arrived
                    .iter()
                    .filter(|(_, t)| **t - after > within.as_millis())
                    .map(|(p, _)| *p)
                    .collect();
                (
                    false,
                    format!("{span}: over the bound of {within}; late: {}", list(&late)),
                )
            }
        }
        Expectation::NoFailover { of } => {
            let mut moved: BTreeSet<&str> = BTreeSet::new();
            let mut failovers = Vec::new();
            let mut refused = 0;
            for ev in events {
                match &ev.event {
                    Event::PhoneRegistered {
                        phone,
                        home,
                        guest: true,
                    } if home == of => {
                        moved.insert(phone.as_str());
                    }
                    Event::FailoverStarted { home, .. } if home == of => {
                        failovers.push(format!("{} at {}", ev.server, human_ms(ev.t_ms)));
                    }
                    Event::RegistrationRefused { home, .. } if home == of => refused += 1,
                    _ => {}
                }
            }
            if moved.is_empty() && failovers.is_empty() {
                let quiet = format!(
                    "no phone of {of} moved ({} refused)",
                    fleetsim_model::words::counted(
                        refused,
                        "guest registration",
                        "guest registrations"
                    )
                );
                // A failover shows once the phones come back: after the
                // silence, or after they notice the loss (a keepalive and
                // its deadline), whichever is later, then at most a
                // recovery wait and a deadline.
                let t = &scenario.fleet.timers;
                let noticed = t.keepalive_interval.0.saturating_add(t.rpc_deadline.0);
                let needs = Dur(waits
                    .0
                    .max(noticed)
                    .saturating_add(t.recovery_wait.0)
                    .saturating_add(t.rpc_deadline.0));
                // Said when the fleet leaves nothing to move: then it is the
                // policy's own failover that the check guards against.
                let note = if movable(&scenario.fleet, of).next().is_some() {
                    String::new()
                } else {
                    format!(
                        " (and none could: {})",
                        nothing_to_move(&scenario.fleet, of)
                    )
                };
                match crate::assertion::fault_witness(events, needs, of) {
                    Ok(w) => (true, format!("{quiet}{note}; {w}")),
                    Err(why) => (false, format!("{quiet}, but {why}")),
                }
            } else {
                let moved: Vec<&str> = moved.into_iter().collect();
                let phones = if moved.is_empty() {
                    "no phone moved".to_string()
                } else {
                    format!("phones moved: {}", list(&moved))
                };
                // Guests taken in with no failover started are a policy's
                // doing (an open door), and said as such.
                let detail = if failovers.is_empty() {
                    format!(
                        "phones of {of} were taken in as guests though no failover of it started; {phones}"
                    )
                } else {
                    format!("{of} was failed over ({}); {phones}", failovers.join(", "))
                };
                (false, detail)
            }
        }
        Expectation::Service {
            service,
            on,
            state,
            at,
        } => {
            let seen = findings::service_state_at(events, on, service, at.as_millis());
            (
                seen == *state,
                format!("{service} on {on} at {at}: {seen} (expected {state})"),
            )
        }
        Expectation::Licence { server, state, at } => {
            let seen = findings::licence_state_at(events, server, at.as_millis());
            (
                seen == *state,
                format!("{server}'s licence at {at}: {seen} (expected {state})"),
            )
        }
        Expectation::NothingLost => match findings::audit(events) {
            None => (false, "the run has no end-of-run audit".into()),
            Some(a) => nothing_lost(&a, events),
        },
        Expectation::Calls {
            max_dropped,
            min_dropped,
            min_preserved,
        } => {
            let t = findings::tally(events);
            let (dropped, preserved) = (t.calls_dropped, t.calls_preserved);
            let (started, expired) = (t.calls_started, t.calls_preservation_expired);
            let ok = max_dropped.is_none_or(|m| dropped <= m)
                && min_dropped.is_none_or(|m| dropped >= m)
                && min_preserved.is_none_or(|m| preserved >= m);
            // A call the system could not complete was never up: nothing
            // could drop or preserve it.
            let up = started.saturating_sub(t.calls_failed);
            // Said as the metrics say it: the calls set up, then how many
            // of them the system could not complete.
            let failed = findings::not_completed(started, t.calls_failed);
            let mut seen = format!(
                "{} set up{failed}, {dropped} dropped, {preserved} preserved",
                fleetsim_model::words::counted(started as usize, "call", "calls")
            );
            if expired > 0 {
                seen.push_str(&format!(
                    " ({expired} of them ended by the preservation limit)"
                ));
            }
            if up == 0 {
                return (
                    false,
                    format!(
                        "{seen}: with no call up this checks nothing; add [calls] or [[call]] that the fleet can complete"
                    ),
                );
            }
            // A bound on drops checks something only if a fault struck
            // while a call was up: else nothing could drop one.
            if max_dropped.is_some() && !call_up_at_a_fault(events) {
                return (
                    false,
                    format!(
                        "{seen}: no call was up when a fault struck, so none could be dropped and this checks nothing; make a call overlap a fault ([[call]] with `at` and `lasts`) or make [calls] busier"
                    ),
                );
            }
            (ok, seen)
        }
        Expectation::SplitBrain { present } => {
            let found = findings::split_brain(&scenario.fleet, events);
            let detail = if found.is_empty() {
                "no split-brain finding".to_string()
            } else {
                let d: Vec<String> = found.iter().map(|f| f.describe()).collect();
                format!(
                    "{}: {}",
                    fleetsim_model::words::counted(found.len(), "finding", "findings"),
                    d.join("; ")
                )
            };
            (found.is_empty() != *present, detail)
        }
        Expectation::CapacityOverflow { on, min } => {
            let refused: BTreeSet<&str> = events
                .iter()
                .filter(|e| e.server == *on)
                .filter_map(|e| match &e.event {
                    Event::CapacityExceeded { phone, .. } => Some(phone.as_str()),
                    _ => None,
                })
                .collect();
            let n = refused.len() as u32;
            let list_of: Vec<&str> = refused.into_iter().collect();
            (
                n >= *min,
                format!(
                    "{n} guests refused on {on} for lack of capacity{}",
                    if n > 0 {
                        format!(": {}", list(&list_of))
                    } else {
                        String::new()
                    }
                ),
            )
        }
        Expectation::Never { matching, window } => assertion::never(matching, window, events),
        Expectation::Eventually { matching, window } => {
            assertion::eventually(matching, window, events)
        }
        Expectation::Count {
            matching,
            window,
            min,
            max,
        } => assertion::count(matching, window, *min, *max, events),
        Expectation::State { probe, window } => assertion::state(probe, window, events, cache),
        Expectation::Failback {
            to,
            within,
            after,
            after_anchor,
        } => {
            let after = applied(scenario, events, *after, *after_anchor);
            // The phones that are guests elsewhere at `after`: their latest
            // registration before it was a guest one.
            let mut latest: BTreeMap<&str, bool> = BTreeMap::new();
            for ev in events.iter().take_while(|ev| ev.t_ms < after) {
                if let Event::PhoneRegistered { phone, home, guest } = &ev.event
                    && home == to
                {
                    latest.insert(phone.as_str(), *guest);
                }
            }
            let moved: BTreeSet<&str> = latest
                .into_iter()
                .filter(|(_, g)| *g)
                .map(|(p, _)| p)
                .collect();
            let mut home_again: BTreeMap<&str, u64> = BTreeMap::new();
            for ev in events
                .iter()
                .filter(|ev| ev.t_ms >= after && ev.server == *to)
            {
                if let Event::PhoneRegistered {
                    phone,
                    guest: false,
                    ..
                } = &ev.event
                    && moved.contains(phone.as_str())
                {
                    home_again.entry(phone.as_str()).or_insert(ev.t_ms);
                }
            }
            if moved.is_empty() {
                return (
                    false,
                    format!(
                        "no phone of {to} was a guest elsewhere at {}, so nothing could fail back",
                        human_ms(after)
                    ),
                );
            }
            let missing: Vec<&str> = moved
                .iter()
                .copied()
                .filter(|p| !home_again.contains_key(p))
                .collect();
            if !missing.is_empty() {
                return (
                    false,
                    format!(
                        "{} of {} moved phones never returned to {to}: {}{}",
                        missing.len(),
                        moved.len(),
                        list(&missing),
                        cut_short(scenario, after, *within)
                    ),
                );
            }
            let last = home_again.values().max().copied().unwrap_or(after) - after;
            let detail = format!(
                "{} back on {to} {} after {}{}",
                match moved.len() {
                    1 => "the 1 moved phone".to_string(),
                    n => format!("all {n} moved phones"),
                },
                human_ms(last),
                human_ms(after),
                sent_home(events, to, after, &home_again)
            );
            if last <= within.as_millis() {
                (true, format!("{detail} (bound {within})"))
            } else {
                let late: Vec<&str> = (home_again.iter())
                    .filter(|(_, t)| **t - after > within.as_millis())
                    .map(|(p, _)| *p)
                    .collect();
                let detail = format!(
                    "{detail}: over the bound of {within}; late: {}",
                    list(&late)
                );
                (false, detail)
            }
        }
    }
}

/// `after` as the run applied it: counted from when its anchoring fault
/// was logged as applied, which in live mode (at `--speed 5000`, say) can
/// be seconds of emulated time after it was due; in sim mode the same.
fn applied(scenario: &Scenario, events: &[EventRecord], after: Dur, anchor: Option<usize>) -> u64 {
    let due = after.as_millis();
    let Some(fault) = anchor.and_then(|src| {
        (scenario.faults.iter())
            .filter(|f| f.source == src && f.at.as_millis() <= due)
            .max_by_key(|f| f.at)
    }) else {
        return due;
    };
    let at = fault.at.as_millis();
    let logged = events.iter().find(|ev| {
        (at..=at + 60_000).contains(&ev.t_ms)
            && matches!(&ev.event, Event::FaultApplied { spec, .. } if *spec == fault.kind)
    });
    logged.map_or(due, |ev| ev.t_ms + (due - at))
}

/// When a bound counted from `after` runs past the end of the run: that
/// the run ended first (a failure then says the run was too short, not
/// that the takeover logic is slow). Empty otherwise.
fn cut_short(scenario: &Scenario, after: u64, within: Dur) -> String {
    let end = scenario.duration.as_millis();
    if after + within.as_millis() <= end {
        return String::new();
    }
    format!(
        "; the run ended {} after {}, before the bound of {within} had passed: lengthen the run",
        human_ms(end.saturating_sub(after)),
        human_ms(after)
    )
}

/// How the returned phones came home: sent home by a failback (a
/// `phone-sent-home` to `to` since `after`), after an operator rebooted
/// them, or on their own (their backup failed), so a pass does not claim a
/// failback that did not happen.
fn sent_home(events: &[EventRecord], to: &str, after: u64, back: &BTreeMap<&str, u64>) -> String {
    let since = || events.iter().filter(|ev| ev.t_ms >= after);
    let sent: BTreeSet<&str> = since()
        .filter_map(|ev| match &ev.event {
            Event::PhoneSentHome { phone, home } if home == to => Some(phone.as_str()),
            _ => None,
        })
        .filter(|p| back.contains_key(p))
        .collect();
    if sent.len() == back.len() {
        return String::new();
    }
    // A reboot before the phone was home again is how it got there.
    let mut rebooted: BTreeMap<&str, u64> = BTreeMap::new();
    for ev in since() {
        if let Event::FaultApplied {
            spec: fleetsim_model::FaultKind::RebootPhone { phone },
            ..
        } = &ev.event
            && !sent.contains(phone.as_str())
            && back.get(phone.as_str()).is_some_and(|t| ev.t_ms <= *t)
        {
            rebooted.entry(phone.as_str()).or_insert(ev.t_ms);
        }
    }
    let own = back.len() - sent.len() - rebooted.len();
    let mut parts = vec![match sent.len() {
        0 => "none sent home by a failback".to_string(),
        n => format!("{n} sent home by a failback"),
    }];
    if !rebooted.is_empty() {
        parts.push(format!(
            "{} after an operator rebooted them ({})",
            rebooted.len(),
            reboot_times(&rebooted)
        ));
    }
    if own > 0 {
        parts.push(format!("{own} on their own when their backup failed"));
    }
    format!(": {}", parts.join(", "))
}

/// When the phones in `rebooted` were rebooted: one time, or the span.
fn reboot_times(rebooted: &BTreeMap<&str, u64>) -> String {
    let first = rebooted.values().min().copied().unwrap_or_default();
    let last = rebooted.values().max().copied().unwrap_or_default();
    if first == last {
        format!("at {}", human_ms(first))
    } else {
        format!("{} to {}", human_ms(first), human_ms(last))
    }
}

/// Whether a call was up (set up, not yet ended) when a fault struck (an
/// operator action or the end of a fault aside).
fn call_up_at_a_fault(events: &[EventRecord]) -> bool {
    let mut up: BTreeSet<&str> = BTreeSet::new();
    for ev in events {
        match &ev.event {
            Event::CallStarted { call, .. } => {
                up.insert(call.as_str());
            }
            Event::FaultApplied { spec, .. }
                if !spec.is_operator_action() && !spec.ends_a_fault() && !up.is_empty() =>
            {
                return true;
            }
            e => {
                if let Some(call) = e.ended_call() {
                    up.remove(call);
                }
            }
        }
    }
    false
}

/// `nothing-lost`: the audit's verdict, saying also what a crash or stop
/// cut in progress (never stored, so not lost) and failing a run that
/// stored nothing, where the check could not fail.
fn nothing_lost(a: &fleetsim_model::event::LossAudit, events: &[EventRecord]) -> (bool, String) {
    // As the metrics count them: a recording no voicemail took is cut too.
    let t = findings::tally(events);
    let (messages, recordings) = (t.messages_cut, t.recordings_cut);
    let mut detail = a.describe();
    if messages + recordings > 0 {
        let counted = fleetsim_model::words::counted;
        detail.push_str(&format!(
            "; cut before they were stored by a crash or stop of their voicemail, or recordings no voicemail took, so not counted here: {}, {} (never = {{ event = \"voicemail-cut\" }} and never = {{ event = \"recording-failed\" }} check that none is)",
            counted(messages as usize, "message", "messages"),
            counted(recordings as usize, "recording", "recordings"),
        ));
    }
    if a.messages_left == 0 && a.recordings_made == 0 {
        detail.push_str(": no message was left and no recording made, so this checks nothing; add calls that leave messages or are recorded");
        return (false, detail);
    }
    (a.nothing_lost(), detail)
}

#[cfg(test)]
mod tests {
    use fleetsim_model::{Dur, Event, FaultKind};

    use super::applied;
    use crate::ScenarioBuilder;
    use crate::test_events::at;

    #[test]
    fn a_takeover_counts_from_when_its_fault_was_applied_not_when_it_was_due() {
        let s = ScenarioBuilder::on_builtin_fleet("reference")
            .duration("30m")
            .crash("5m", "primary")
            .build()
            .unwrap();
        let crash = FaultKind::Crash {
            server: "primary".into(),
        };
        let applied_at = |t_ms| {
            let ev = at(
                t_ms,
                "primary",
                Event::FaultApplied {
                    fault: "crash primary".into(),
                    spec: crash.clone(),
                },
            );
            applied(&s, &[ev], Dur::mins(5), Some(s.faults[0].source))
        };
        // Live at high speed: applied 8.842 s late, counted from then.
        assert_eq!(applied_at(308_842), 308_842);
        // Sim: on time.
        assert_eq!(applied_at(300_000), 300_000);
        // An `after` given in the file has no anchor: as written.
        assert_eq!(applied(&s, &[], Dur::mins(5), None), 300_000);
    }
}
