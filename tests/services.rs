//! Every role and service through failover and failback (docs/domain-coverage.md §1–§7),
//! checked on the event log of the scenario that teaches each rule.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use fleetsim_model::{CallKind, Event, EventRecord, LicenceRule, VoicemailFailback};
use fleetsim_scenario::{ResilienceSetting, ScenarioBuilder};

const DAY: u64 = 24 * 60 * MIN;

fn first_at(o: &fleetsim_scenario::RunOutcome, f: impl Fn(&EventRecord) -> bool) -> u64 {
    o.first(f).map(|e| e.t_ms).expect("event present")
}

fn service_active(e: &EventRecord, server: &str, svc: &str) -> bool {
    e.server == server
        && matches!(&e.event, Event::ServiceState { service, state, .. } if service == svc && state == "active")
}

/// Call id → kind, from the call-started events.
fn call_kinds(o: &fleetsim_scenario::RunOutcome) -> BTreeMap<String, String> {
    o.events
        .iter()
        .filter_map(|e| match &e.event {
            Event::CallStarted { call, kind, .. } => Some((call.clone(), kind.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn secondary_voicemail_activates_when_the_first_primary_phone_reregisters_and_hands_every_message_back()
 {
    let o = run_sim(&load("primary-services-failover.toml"));
    assert_passed(&o);
    let failover = first_at(
        &o,
        |e| matches!(&e.event, Event::FailoverStarted { home, .. } if home == "primary"),
    );
    let vm = first_at(&o, |e| service_active(e, "secondary", "voicemail-pro"));
    assert_eq!(
        vm, failover,
        "voicemail resilience follows phone re-registration"
    );
    let handback = o
        .first(|e| matches!(e.event, Event::VoicemailHandback { .. }))
        .expect("a voicemail handback");
    let Event::VoicemailHandback { messages, .. } = &handback.event else {
        unreachable!()
    };
    let left_on_secondary = o.count(|e| {
        e.server == "secondary"
            && e.t_ms <= handback.t_ms
            && matches!(e.event, Event::VoicemailLeft { .. })
    }) as u32;
    assert!(
        left_on_secondary > 0,
        "the workload left no message during failover"
    );
    assert_eq!(
        *messages, left_on_secondary,
        "every message left on the backup goes back"
    );
    assert_eq!(o.metrics.messages_lost, 0);
    assert!(o.metrics.messages_left > left_on_secondary);
}

#[test]
fn a_backup_holding_the_primarys_users_takes_voicemail_over_again_when_the_primary_fails_a_second_time()
 {
    let o = run_sim(&load("primary-returns-briefly.toml"));
    assert_passed(&o);
    let second_crash = 26 * MIN;
    let handback = first_at(&o, |e| {
        matches!(e.event, Event::VoicemailHandback { .. }) && e.t_ms < second_crash
    });
    assert!(
        o.count(|e| e.t_ms > handback && matches!(e.event, Event::FailbackStarted { .. })) == 0,
        "the primary's phones never went home: the return was too short"
    );
    let lost_again = first_at(&o, |e| {
        e.server == "secondary"
            && e.t_ms > second_crash
            && matches!(&e.event, Event::PeerLost { peer, .. } if peer == "primary")
    });
    let reactivated = first_at(&o, |e| {
        e.t_ms > second_crash && service_active(e, "secondary", "voicemail-pro")
    });
    assert!(
        (lost_again..=lost_again + 30_000).contains(&reactivated),
        "voicemail back on the secondary within a tick of declaring the primary lost again ({reactivated} ms, lost at {lost_again} ms)"
    );
    let unanswered = o.count(|e| {
        e.t_ms > reactivated
            && matches!(&e.event, Event::CallFailed { reason, .. } if reason == "no voicemail server answered")
    });
    assert_eq!(
        unanswered, 0,
        "every voicemail call after re-activation is answered"
    );
    let left_after = o.count(|e| {
        e.server == "secondary"
            && e.t_ms > reactivated
            && matches!(e.event, Event::VoicemailLeft { .. })
    });
    assert!(
        left_after > 0,
        "the workload left no message in the second outage"
    );
}

#[test]
fn a_preserved_call_reaching_the_preservation_limit_is_ended_by_it_and_counted_apart() {
    // Long calls and a 3-minute limit: some preserved calls outlive it.
    let s = parse(
        r#"
name = "preservation-limit"
fleet = "fleets/reference.toml"
seed = 5
duration = "30m"

[calls]
per-hour = 600
mean-duration = "20m"

[resilience]
preservation-limit = "3m"

[[fault]]
at = "10m"
crash = "primary"
"#,
    );
    let o = run_sim(&s);
    let limit = 3 * MIN;
    let preserved: BTreeMap<&str, (u64, u64, &str)> = o
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::CallPreserved { call, until_ms, .. } => {
                Some((call.as_str(), (e.t_ms, *until_ms, e.server.as_str())))
            }
            _ => None,
        })
        .collect();
    let mut expired = 0;
    for e in &o.events {
        let Event::CallPreservationExpired { call, limit_ms, .. } = &e.event else {
            continue;
        };
        expired += 1;
        let (at, until, server) = preserved[call.as_str()];
        assert_eq!(*limit_ms, limit);
        assert_eq!(
            (e.t_ms, e.t_ms),
            (at + limit, until),
            "{call} ends at the limit"
        );
        assert_eq!(e.server, server, "{call} ends where it was set up");
        assert_eq!(
            o.count(|x| x.event.ended_call() == Some(call.as_str())),
            1,
            "{call} ends once"
        );
    }
    assert!(expired > 0, "no preserved call reached the limit");
    assert_eq!(o.metrics.calls_preservation_expired, expired);
    // Preserved calls that ended on their own did so before the limit.
    for e in &o.events {
        if let Event::CallEnded {
            call,
            preserved: true,
            ..
        } = &e.event
        {
            let (at, _, _) = preserved[call.as_str()];
            assert!(e.t_ms < at + limit, "{call} ended normally after the limit");
        }
    }
    let text = fleetsim_report::text::render(&o, Default::default());
    assert!(
        text.contains("ended by the media connection preservation limit of 3m"),
        "{text}"
    );
    assert!(text.contains(&format!(
        "({expired} of them ended by the 3m preservation limit)"
    )));
}

#[test]
fn preserved_calls_keep_their_phone_until_they_end_and_only_connected_calls_are_preserved() {
    let o = run_sim(&load("primary-services-failover.toml"));
    let kinds = call_kinds(&o);
    let mut preserved = 0;
    for e in &o.events {
        match &e.event {
            Event::CallPreserved {
                call,
                phone,
                until_ms,
            } => {
                preserved += 1;
                let k = &kinds[call];
                assert!(k == "two-party" || k == "conference", "{call} is {k}");
                // The phone fails over only once the call has ended.
                let ended = first_at(
                    &o,
                    |x| matches!(&x.event, Event::CallEnded { call: c, preserved: true, .. } if c == call),
                );
                assert_eq!(ended, *until_ms);
                let next_reg = o
                    .events
                    .iter()
                    .find(|x| {
                        x.t_ms > e.t_ms
                            && matches!(&x.event, Event::PhoneRegistered { phone: p, .. } if p == phone)
                    })
                    .map(|x| x.t_ms);
                assert!(
                    next_reg.is_none_or(|t| t >= ended),
                    "{phone} moved during its preserved call"
                );
            }
            Event::CallDropped { call, .. } => {
                let k = &kinds[call];
                assert!(
                    k == "held" || k == "hunt-group" || k == "voicemail",
                    "{call} is a {k} call and should have been preserved"
                );
            }
            _ => {}
        }
    }
    assert!(preserved > 0);
    assert!(o.metrics.calls_dropped > 0, "seed 3 drops a held call");
}

#[test]
fn only_idle_phones_are_sent_home_at_failback() {
    let o = run_sim(&load("primary-services-failover.toml"));
    let mut in_call: BTreeMap<&str, &str> = BTreeMap::new();
    let mut sent_home = 0;
    for e in &o.events {
        match &e.event {
            Event::CallStarted { call, phone, .. } => {
                in_call.insert(phone, call);
            }
            Event::CallEnded { phone, .. }
            | Event::CallDropped { phone, .. }
            | Event::CallFailed { phone, .. } => {
                in_call.remove(phone.as_str());
            }
            Event::PhoneSentHome { phone, .. } => {
                sent_home += 1;
                assert!(
                    !in_call.contains_key(phone.as_str()),
                    "{phone} was sent home during call {}",
                    in_call[phone.as_str()]
                );
            }
            _ => {}
        }
    }
    assert_eq!(sent_home, 16);
}

#[test]
fn media_manager_collects_the_recordings_the_secondary_kept_and_collaboration_is_down_with_the_primary()
 {
    let o = run_sim(&load("primary-services-failover.toml"));
    let kept = o.count(|e| {
        e.server == "secondary"
            && matches!(
                e.event,
                Event::RecordingMade {
                    archived: false,
                    ..
                }
            )
    }) as u32;
    assert!(kept > 0, "no recording was made during the outage");
    let collected: u32 = o
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::RecordingsCollected { from, recordings } if from == "secondary" => {
                Some(*recordings)
            }
            _ => None,
        })
        .sum();
    assert_eq!(collected, kept);
    assert_eq!(o.metrics.recordings_lost, 0);
    // Collaboration never runs anywhere but the primary.
    assert_eq!(
        o.count(|e| e.server != "primary"
            && matches!(&e.event, Event::ServiceState { service, .. } if service == "collaboration-server")),
        0
    );
}

#[test]
fn one_x_backup_takes_over_on_its_own_three_minute_timer_and_drops_its_changes_at_failback() {
    let o = run_sim(&load("one-x-portal-manual-failback.toml"));
    assert_passed(&o);
    let active = first_at(&o, |e| service_active(e, "secondary", "one-x-portal"));
    // Pinged every 30 s: 3 minutes after the last answer, which came at
    // most one interval before the crash.
    assert!(
        (5 * MIN + 150_000..=5 * MIN + 3 * MIN + 35_000).contains(&active),
        "{active}"
    );
    let phones_failover = first_at(&o, |e| matches!(e.event, Event::FailoverStarted { .. }));
    assert_ne!(active, phones_failover, "the portal keeps its own timer");
    let accepted = o.count(|e| {
        e.server == "secondary" && matches!(e.event, Event::PortalChange { accepted: true, .. })
    }) as u32;
    let Some(Event::PortalHandback {
        changes_dropped,
        mode,
    }) = o
        .first(|e| matches!(e.event, Event::PortalHandback { .. }))
        .map(|e| &e.event)
    else {
        panic!("no portal handback");
    };
    assert!(accepted > 0);
    assert_eq!(*changes_dropped, accepted);
    assert_eq!(mode, "manual");
}

#[test]
fn manual_voicemail_failback_waits_for_the_operator() {
    let o = run_sim(&load("voicemail-manual-failback.toml"));
    assert_passed(&o);
    // Not before the operator's word; then as soon as no message is being
    // left (checked every 30 s).
    let handback = first_at(&o, |e| matches!(e.event, Event::VoicemailHandback { .. }));
    assert!((50 * MIN..58 * MIN).contains(&handback), "{handback}");
    assert_eq!(
        o.count(|e| matches!(e.event, Event::VoicemailLeft { partial: true, .. })),
        0,
        "a manual failback cuts no call"
    );
}

#[test]
fn automatic_voicemail_failback_cuts_calls_at_the_timeout_and_keeps_them() {
    let o = run_sim(&load("voicemail-automatic-timeout.toml"));
    assert_passed(&o);
    let e = o
        .first(|e| matches!(e.event, Event::VoicemailHandback { .. }))
        .unwrap();
    let Event::VoicemailHandback {
        cut_calls, mode, ..
    } = &e.event
    else {
        unreachable!()
    };
    assert_eq!(mode, "automatic");
    assert!(
        *cut_calls > 0,
        "a busy voicemail must be cut at the timeout"
    );
    // Back at 25m; the 2-minute timeout runs from the first answer.
    assert!(e.t_ms <= 25 * MIN + 2 * MIN + 35_000, "{}", e.t_ms);
    let partial = o.count(|e| matches!(e.event, Event::VoicemailLeft { partial: true, .. }));
    assert_eq!(partial as u32, *cut_calls);
    assert_eq!(o.metrics.messages_lost, 0);
}

#[test]
fn activate_backup_brings_voicemail_back_before_the_failover_rules_would() {
    let o = run_sim(&load("voicemail-activate-backup.toml"));
    assert_passed(&o);
    let active = first_at(&o, |e| service_active(e, "secondary", "voicemail-pro"));
    let failover = first_at(&o, |e| matches!(e.event, Event::FailoverStarted { .. }));
    assert_eq!(active, 5 * MIN + 30_000);
    assert!(failover > active + 2 * MIN);
}

#[test]
fn licence_grace_runs_thirty_days_then_restricted_mode_refuses_changes_and_stops_softphones() {
    let o = run_sim(&load("licence-grace-expires.toml"));
    assert_passed(&o);
    let grace = first_at(
        &o,
        |e| matches!(&e.event, Event::LicenceState { state, .. } if state == "grace"),
    );
    let restricted = first_at(
        &o,
        |e| matches!(&e.event, Event::LicenceState { state, .. } if state == "restricted"),
    );
    // Renewal every 5 minutes: grace starts within one renewal of the crash.
    assert!((60 * MIN..=65 * MIN).contains(&grace), "{grace}");
    assert_eq!(restricted - grace, 30 * DAY);
    let changes: Vec<bool> = o
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::ConfigChange { accepted, .. } => Some(*accepted),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [true, false],
        "accepted on grace, refused restricted"
    );
    // The softphone registered before grace ran out stops working at its
    // next keepalive (every 5 minutes here), and may not register again.
    let ended = first_at(
        &o,
        |e| matches!(&e.event, Event::RegistrationEnded { phone, .. } if phone == "3001"),
    );
    assert!(
        (restricted..=restricted + 5 * MIN).contains(&ended),
        "{ended}"
    );
    assert!(
        o.count(|e| matches!(&e.event,
        Event::RegistrationRefused { reason, .. } if reason.contains("restricted mode")))
            > 0
    );
    // Back to normal at the first renewal after the primary's return.
    let normal = o
        .events
        .iter()
        .rev()
        .find(|e| matches!(&e.event, Event::LicenceState { state, .. } if state == "normal"))
        .unwrap()
        .t_ms;
    assert!(
        (32 * DAY..=32 * DAY + 5 * MIN).contains(&normal),
        "{normal}"
    );
}

#[test]
fn the_older_licence_rule_ends_grace_on_restart_and_the_current_rule_keeps_it() {
    let older = load("licence-older-rule-restart.toml");
    let o = run_sim(&older);
    assert_passed(&o);
    let mut current = older.clone();
    current.fleet.resilience.licence_rule = LicenceRule::Current;
    let c = run_sim(&current);
    let state_at = |o: &fleetsim_scenario::RunOutcome, t| {
        fleetsim_scenario::findings::licence_state_at(&o.events, "expansion-l", t)
    };
    assert_eq!(state_at(&o, 3 * DAY + 20 * MIN), "restricted");
    assert_eq!(state_at(&c, 3 * DAY + 20 * MIN), "grace");
}

#[test]
fn a_split_network_runs_the_hunt_group_voicemail_and_portal_on_both_sides() {
    let o = run_sim(&load("split-network.toml"));
    assert_passed(&o);
    let resources: BTreeSet<&str> = o
        .metrics
        .split_brain
        .iter()
        .map(|f| f.resource.as_str())
        .collect();
    assert_eq!(
        resources,
        BTreeSet::from(["hunt-group sales", "one-x-portal", "voicemail-pro"])
    );
    // Only the phones on the far side of the split moved.
    let moved = guests_between(&o, 0, u64::MAX);
    assert_eq!(moved.len(), 8);
    assert!(moved.iter().all(|p| p.parse::<u32>().unwrap() >= 2009));
    // Every finding ends once the network heals.
    assert!(o.metrics.split_brain.iter().all(|f| f.to_ms < 40 * MIN));
}

#[test]
fn a_backup_restarted_during_failover_has_no_records_so_resilience_is_lost() {
    let o = run_sim(&load("backup-restart-loses-resilience.toml"));
    assert_passed(&o);
    let refused = o.count(|e| {
        e.server == "secondary"
            && e.t_ms > 27 * MIN
            && e.t_ms < 45 * MIN
            && matches!(&e.event, Event::RegistrationRefused { reason, .. } if reason.contains("resilience lost"))
    });
    assert!(refused > 0);
    assert!(guests_between(&o, 27 * MIN, 45 * MIN).is_empty());
}

#[test]
fn manual_failback_keeps_h323_phones_on_the_backup_until_rebooted_while_sip_phones_go_home() {
    let s = load("h323-manual-failback.toml");
    let o = run_sim(&s);
    assert_passed(&o);
    let kind_of: BTreeMap<&str, fleetsim_model::PhoneKind> = s
        .fleet
        .phones
        .iter()
        .map(|p| (p.extension.as_str(), p.kind))
        .collect();
    // Each IP phone's first registration at home after the restart.
    let mut home_again: BTreeMap<&str, u64> = BTreeMap::new();
    for e in o
        .events
        .iter()
        .filter(|e| e.t_ms > 20 * MIN && e.server == "primary")
    {
        if let Event::PhoneRegistered {
            phone,
            guest: false,
            ..
        } = &e.event
            && kind_of[phone.as_str()].fails_over()
        {
            home_again.entry(phone.as_str()).or_insert(e.t_ms);
        }
    }
    for (p, t) in &home_again {
        match kind_of[p] {
            fleetsim_model::PhoneKind::Sip => assert!(*t < 50 * MIN, "{p} at {t}"),
            _ => assert!(
                *t >= 50 * MIN,
                "H.323 {p} went home at {t} before its reboot"
            ),
        }
    }
    assert_eq!(home_again.len(), 16);
    // The failback check says how they came home: the H.323 phones by the
    // operator's reboot, not "on their own".
    let failback = o
        .expectations
        .iter()
        .find(|r| r.name.starts_with("phones fail back"))
        .expect("the scenario checks its failback");
    assert!(
        failback
            .detail
            .contains("6 sent home by a failback, 10 after an operator rebooted them (at 50m)"),
        "{}",
        failback.detail
    );
}

#[test]
fn homeless_prevention_accepts_phones_that_cannot_reach_home_for_five_minutes_after_failback() {
    let o = run_sim(&load("homeless-prevention-window.toml"));
    assert_passed(&o);
    let failback = first_at(&o, |e| matches!(e.event, Event::FailbackStarted { .. }));
    let window = guests_between(&o, failback + 1, failback + 5 * MIN);
    assert_eq!(window, ["2001", "2002"]);
    // After the window the backup refuses them again.
    assert!(o.count(|e| e.t_ms > failback + 5 * MIN
        && matches!(&e.event, Event::RegistrationRefused { reason, .. } if reason.contains("homeless-prevention window is over"))) > 0);
}

#[test]
fn a_primary_failing_again_in_its_homeless_prevention_window_is_failed_over_with_the_guests_already_there()
 {
    // Failback starts at about 25m; the primary crashes again at 26m, inside
    // the 5-minute window, and its phones come back to the secondary at once.
    let o = run_sim(&parse(
        r#"
name = "second-outage-in-homeless-window"
fleet = "fleets/reference.toml"
seed = 9
duration = "1h10m"

[[call]]
at = "35m"
from = "3001"
to = "sales"
lasts = "1m"
kind = "hunt-group"

[[fault]]
at = "5m"
crash = "primary"

[[fault]]
at = "15m"
restart = "primary"

[[fault]]
at = "26m"
crash = "primary"

[[fault]]
at = "40m"
restart = "primary"

[[expect]]
never = { event = "phone-sent-home", from = "fault 3", to = "fault 3 + 10m" }

[[expect]]
state = { hunt-group = "sales", on = "secondary", is = "active", at = "35m" }

[[expect]]
count = { event = "failover-started", server = "secondary", where = { already-here = 16 }, min = 1, max = 1 }

[[expect]]
count = { event = "call-failed", min = 0, max = 0 }
"#,
    ));
    assert_passed(&o);
    let lost_again = first_at(&o, |e| {
        e.server == "secondary"
            && e.t_ms > 26 * MIN
            && matches!(&e.event, Event::PeerLost { peer, .. } if peer == "primary")
    });
    let failover = first_at(&o, |e| {
        e.t_ms > 26 * MIN && matches!(e.event, Event::FailoverStarted { .. })
    });
    assert_eq!(failover, lost_again, "the loss itself starts the failover");
    assert!(
        o.count(|e| e.t_ms > 40 * MIN
            && e.t_ms < 50 * MIN
            && matches!(e.event, Event::PhoneSentHome { .. }))
            == 0
    );
}

#[test]
fn an_ip_dect_base_switches_after_two_minutes_and_only_with_the_ip_dect_option() {
    let s = load("dect-base-switch.toml");
    let o = run_sim(&s);
    assert_passed(&o);
    let dect: BTreeSet<&str> = s
        .fleet
        .phones
        .iter()
        .filter(|p| p.kind == fleetsim_model::PhoneKind::Dect)
        .map(|p| p.extension.as_str())
        .collect();
    for e in &o.events {
        if let Event::PhoneLost { phone, .. } = &e.event
            && dect.contains(phone.as_str())
            && e.t_ms > 5 * MIN
        {
            // Polls fail for 2 minutes before the base gives up.
            assert!(e.t_ms >= 5 * MIN + 2 * MIN, "{phone} lost at {}", e.t_ms);
        }
    }
    let moved_dect: BTreeSet<&str> = o
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::PhoneRegistered {
                phone,
                guest: true,
                home,
            } if dect.contains(phone.as_str()) => {
                assert_eq!(home, "primary", "site-b's line does not back up IP DECT");
                Some(phone.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(moved_dect.len(), 4);
}

#[test]
fn an_ip500_v2_takes_guests_only_up_to_384_users_and_extensions() {
    let o = run_sim(&load("v2-capacity-overflow.toml"));
    assert_passed(&o);
    let guests: BTreeSet<&str> = guests_between(&o, 0, u64::MAX).into_iter().collect();
    assert_eq!(guests.len(), 384 - 370);
    // Refused phones keep retrying: one refusal each at least.
    assert!(o.metrics.capacity_refusals >= 6);
    let refused: BTreeSet<&str> = o
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::CapacityExceeded { phone, .. } => Some(phone.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(refused.len(), 6);
    assert!(guests.is_disjoint(&refused));
}

#[test]
fn without_the_line_options_hunt_groups_and_voicemail_do_not_fail_over() {
    let o = run_sim(&load("line-options-decide.toml"));
    assert_passed(&o);
    assert_eq!(
        o.count(|e| e.server == "secondary"
            && matches!(e.event, Event::HuntGroupState { active: true, .. })),
        0
    );
    let after = 8 * MIN;
    let failed = |what: &str| {
        o.count(|e| {
            e.t_ms > after
                && matches!(&e.event, Event::CallFailed { reason, .. } if reason.contains(what))
        })
    };
    assert!(failed("hunt group sales") > 0);
    assert!(failed("no voicemail") > 0);
}

#[test]
fn external_calls_use_the_v2_trunks_through_a_primary_outage_and_die_with_the_v2() {
    let o = run_sim(&load("v2-trunks-outlive-the-primary.toml"));
    assert_passed(&o);
    let kinds = call_kinds(&o);
    // During the primary's outage other systems still seize the V2's trunks.
    let seized_in_outage = o.count(|e| {
        e.server == "expansion-v2"
            && (13 * MIN..40 * MIN).contains(&e.t_ms)
            && matches!(&e.event, Event::TrunkSeized { from, .. } if from != "primary")
    });
    assert!(seized_in_outage > 0);
    // When the V2 dies, its trunk calls drop at once, and none is made after.
    let dropped: Vec<&EventRecord> = o.events_where(|e| {
        matches!(&e.event, Event::CallDropped { reason, .. } if reason.contains("trunk on expansion-v2"))
    });
    assert!(!dropped.is_empty());
    for d in &dropped {
        assert_eq!(d.t_ms, 40 * MIN, "dropped the moment the V2 died");
        let Event::CallDropped { call, .. } = &d.event else {
            unreachable!()
        };
        assert_eq!(kinds[call], "external");
    }
    let failed: BTreeSet<&str> = o
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::CallFailed { call, .. } => Some(call.as_str()),
            _ => None,
        })
        .collect();
    let external_after = o.count(|e| {
        e.t_ms > 40 * MIN
            && matches!(&e.event, Event::CallStarted { call, kind, .. }
                if kind == "external" && !failed.contains(call.as_str()))
    });
    assert_eq!(external_after, 0, "no trunk anywhere once the V2 is gone");
    assert!(o.count(|e| e.t_ms > 40 * MIN
        && matches!(&e.event, Event::CallFailed { reason, .. } if reason.starts_with("no trunk"))) > 0);
}

#[test]
fn a_server_refuses_calls_beyond_its_concurrent_call_limit() {
    let s = parse(
        r#"
name = "call-limit"
duration = "30m"
seed = 9

[fleet]
name = "busy-primary"

[[fleet.server]]
name = "primary"
role = "primary"
phones = { sip = 20 }
max-calls = 3

[calls]
per-hour = 600
mean-duration = "5m"

[[expect]]
never = { event = "failover-started" }
"#,
    );
    let o = run_sim(&s);
    assert_passed(&o);
    let started: BTreeSet<&str> = o
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::CallStarted { call, .. } => Some(call.as_str()),
            _ => None,
        })
        .collect();
    let (mut now, mut most) = (0i64, 0i64);
    for e in &o.events {
        match &e.event {
            Event::CallStarted { .. } => now += 1,
            Event::CallEnded { call, .. }
            | Event::CallDropped { call, .. }
            | Event::CallFailed { call, .. }
                if started.contains(call.as_str()) =>
            {
                now -= 1
            }
            _ => {}
        }
        most = most.max(now);
    }
    assert_eq!(
        most, 3,
        "never more than the limit, and the limit is reached"
    );
    assert!(
        o.count(|e| matches!(&e.event,
        Event::CallFailed { reason, .. } if reason.contains("limit of 3 concurrent calls")))
            > 0
    );
}

#[test]
fn a_primary_restarted_while_its_backup_is_hung_shares_no_service_once_the_backup_answers() {
    // The primary comes back while the secondary is hung: it cannot ask
    // whether the backup is active, so it activates. Once the backup answers
    // again it must yield at once, even under manual failback.
    let s = parse(
        r#"
name = "restart-while-backup-hung"
fleet = "fleets/reference.toml"
duration = "45m"
seed = 3

[resilience]
voicemail-failback = "manual"
portal-failback = "manual"

[[fault]]
at = "5m"
crash = "primary"

[[fault]]
at = "15m"
hang = "secondary"
for = "10m"

[[fault]]
at = "20m"
restart = "primary"
"#,
    );
    let o = run_sim(&s);
    let findings = fleetsim_scenario::findings::split_brain(&s.fleet, &o.events);
    assert!(
        !findings.is_empty(),
        "the hang does split the services for a while"
    );
    for f in &findings {
        assert!(
            f.to_ms <= 27 * MIN,
            "split brain outlived the hang: {}",
            f.describe()
        );
    }
}

#[test]
fn a_call_the_system_cannot_route_frees_the_phone_at_once() {
    // Every call is external and the only trunks are on a stopped V2: each
    // call is accepted, then fails for want of a trunk. The phone must hear
    // it, so it is never "already in a call" it does not have.
    let s = parse(
        r#"
name = "no-trunk"
fleet = "fleets/reference.toml"
duration = "30m"
seed = 5

[calls]
per-hour = 600
mean-duration = "5m"
voicemail = 0.0
conference = 0.0
held = 0.0
hunt-group = 0.0
external = 1.0

[[fault]]
at = "0s"
stop = "expansion-v2"
"#,
    );
    let o = run_sim(&s);
    let failed = o.count(
        |e| matches!(&e.event, Event::CallFailed { reason, .. } if reason.starts_with("no trunk")),
    );
    assert!(failed > 50, "calls fail for want of a trunk: {failed}");
    let busy = o.count(|e| {
        matches!(&e.event, Event::CallFailed { reason, .. } if reason.contains("already in a call"))
    });
    assert_eq!(busy, 0, "no phone stays in a failed call");
}

#[test]
fn every_call_ends_once_even_when_its_hangup_is_lost() {
    // The link of the primary's phones flaps, and expansion-l stops, while
    // calls are up: hangups go unanswered, yet every call that started ends
    // exactly once in the log.
    let s = parse(
        r#"
name = "lost-hangups"
fleet = "fleets/reference.toml"
duration = "40m"
seed = 11

[calls]
per-hour = 900
mean-duration = "1m"

[[fault]]
at = "5m"
flap = { target = "phones@primary", period = "20s", duty = 0.5, count = 45 }

[[fault]]
at = "10m"
stop = "expansion-l"

[[fault]]
at = "20m"
restart = "expansion-l"
"#,
    );
    let o = run_sim(&s);
    let mut ends: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &o.events {
        if let Some(call) = e.event.ended_call() {
            *ends.entry(call).or_default() += 1;
        }
    }
    for e in &o.events {
        if let Event::CallStarted { call, .. } = &e.event {
            // Calls still up at the end have no end yet.
            let late = e.t_ms > 40 * MIN - 6 * MIN;
            let n = ends.get(call.as_str()).copied().unwrap_or(0);
            assert!(n == 1 || (late && n == 0), "call {call} ended {n} times");
        }
    }
}

#[test]
fn call_failure_reasons_never_carry_transport_text() {
    let s = parse(
        "fleet = \"fleets/reference.toml\"\nduration = \"12m\"\n\
         [[fault]]\nat = \"1m\"\nhang = \"expansion-v2\"\n\
         [[fault]]\nat = \"6m\"\ncrash = \"expansion-v2\"\n\
         [calls]\nper-hour = 600\nvoicemail = 0\nconference = 0\nheld = 0\nhunt-group = 0\nexternal = 1\n",
    );
    let o = run_sim(&s);
    let reasons: BTreeSet<String> = o
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::CallFailed { reason, .. } if reason.starts_with("no trunk") => {
                Some(reason.clone())
            }
            _ => None,
        })
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("timed out")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("unreachable")),
        "{reasons:?}"
    );
    for r in &reasons {
        assert!(
            !r.contains("Timeout expired") && !r.contains("error"),
            "{r}"
        );
    }
}

#[test]
fn an_operator_action_travels_over_the_network_and_a_partition_keeps_it_away() {
    // The secondary is cut off when the operator asks it to activate its
    // backup voicemail: the action never arrives, and the log says so.
    let s = parse(
        r#"
name = "operator-cut-off"
fleet = "fleets/reference.toml"
duration = "10m"
seed = 4

[[fault]]
at = "1m"
partition = [["secondary"]]
for = "5m"

[[fault]]
at = "2m"
activate-backup = "voicemail-pro"
"#,
    );
    let o = run_sim(&s);
    assert!(
        o.count(|e| matches!(&e.event,
            Event::ActionFailed { target, reason, .. } if target == "secondary" && reason == "timed out"))
            == 1,
        "the action is reported as not delivered"
    );
    assert_eq!(
        o.count(|e| service_active(e, "secondary", "voicemail-pro")),
        0,
        "the cut-off backup never heard the operator"
    );
}

#[test]
fn activate_backup_is_refused_while_the_primary_voicemail_is_active() {
    let s = parse(
        r#"
name = "activate-too-early"
fleet = "fleets/reference.toml"
duration = "5m"
seed = 4

[[fault]]
at = "1m"
activate-backup = "voicemail-pro"
"#,
    );
    let o = run_sim(&s);
    assert_eq!(
        o.count(|e| service_active(e, "secondary", "voicemail-pro")),
        0
    );
    assert!(
        o.count(|e| matches!(&e.event,
        Event::ServiceState { reason, .. } if reason.starts_with("activate backup refused")))
            == 1
    );
}

#[test]
fn a_clock_step_undone_never_freezes_registration_expiry() {
    // The primary's clock runs 30 minutes fast, then is set right; meanwhile
    // it is cut off and its phones fail over. Its stale registrations must
    // expire on the expiry timer, not 30 minutes late.
    let s = parse(
        r#"
name = "clock-step-and-partition"
fleet = "fleets/reference.toml"
duration = "40m"
seed = 6

[[fault]]
at = "4m"
clock-offset = { target = "primary", offset = "+30m" }
for = "2m"

[[fault]]
at = "5m"
partition = [["primary"]]
for = "10m"
"#,
    );
    let violations = fleetsim_scenario::chaos::check_scenario(&s, false);
    assert!(
        !violations
            .iter()
            .any(|v| v.invariant == fleetsim_scenario::chaos::Invariant::NoDoubleRegistration),
        "{violations:?}"
    );
}

#[test]
fn a_register_answered_too_late_is_withdrawn_so_no_phone_is_held_by_two_servers_for_long() {
    // The primary drops presence, so the secondary fails it over while its
    // phones still reach it. Then 2.1 s each way on the primary's links:
    // every REGISTER lands there, but its answer comes after the phone's
    // 4 s deadline, so the phone moves on to the secondary. It withdraws
    // the late registration, so the primary lets go once the withdrawal
    // arrives, not when the registration expires minutes later.
    let s = parse(
        r#"
name = "late-register"
fleet = "fleets/reference.toml"
duration = "30m"
seed = 7

[[fault]]
at = "1m"
gray = { target = "primary", drop = ["presence"] }

[[fault]]
at = "6m"
latency = { target = "primary", delay = "2100ms" }
"#,
    );
    let o = run_sim(&s);
    // The late registrations happened, and each was withdrawn.
    let late = o.count(|e| {
        e.server == "primary"
            && e.t_ms > 6 * MIN
            && matches!(e.event, Event::PhoneRegistered { .. })
    });
    let withdrawn =
        o.count(|e| e.server == "primary" && matches!(e.event, Event::PhoneUnregistered { .. }));
    assert!(late > 0, "a REGISTER landed on the primary too late");
    assert!(withdrawn > 0, "late registrations are withdrawn");
    assert!(
        !guests_between(&o, 6 * MIN, 30 * MIN).is_empty(),
        "the phones moved on to the secondary"
    );
    // Bound: the withdrawal is sent at the 4 s deadline and takes 2.1 s to
    // arrive; 10 s leaves slack and is far below the expiry bound.
    const BOUND_MS: u64 = 10_000;
    let expiry = fleetsim_scenario::chaos::invariants::double_registration_bound_ms(&s);
    assert!(BOUND_MS * 5 < expiry, "{expiry}");
    let regs = fleetsim_scenario::chaos::invariants::Registrations::replay(&o.events);
    for d in &regs.doubles {
        assert!(
            d.to_ms - d.from_ms <= BOUND_MS,
            "{} held by {:?} from {} to {} ms",
            d.phone,
            d.servers,
            d.from_ms,
            d.to_ms
        );
    }
}

/// The end-of-run audit of a run.
fn loss_audit(o: &fleetsim_scenario::RunOutcome) -> fleetsim_model::LossAudit {
    fleetsim_scenario::findings::audit(&o.events).expect("an audit event")
}

#[test]
fn a_message_being_left_when_its_voicemail_crashes_is_an_event_and_counted_as_cut() {
    // 3001 leaves a two-minute message on the primary's voicemail; the
    // primary crashes halfway through it.
    let s = parse(
        r#"
name = "message-cut"
fleet = "fleets/reference.toml"
duration = "20m"

# A message stored before the crash, so nothing-lost has one to check.
[[call]]
at = "1m"
from = "3002"
to = "2002"
lasts = "1m"
kind = "voicemail"

[[call]]
at = "4m"
from = "3001"
to = "2001"
lasts = "2m"
kind = "voicemail"

[[fault]]
at = "5m"
crash = "primary"

[[expect]]
nothing-lost = true
"#,
    );
    let o = run_sim(&s);
    let cut = o
        .first(|e| matches!(e.event, Event::VoicemailCut { .. }))
        .expect("a voicemail-cut event");
    assert_eq!((cut.server.as_str(), cut.t_ms), ("primary", 5 * MIN));
    assert!(matches!(
        cut.event,
        Event::VoicemailCut {
            messages: 1,
            recordings: 0
        }
    ));
    assert_eq!((o.metrics.messages_cut, o.metrics.recordings_cut), (1, 0));
    // The fault cost it, as a crash drops calls; the fleet lost nothing it
    // had taken.
    assert_eq!(loss_audit(&o).messages_lost, 0);
    let text = fleetsim_report::text::render(
        &o,
        fleetsim_report::text::TextOptions {
            color: false,
            verbose: false,
        },
    );
    assert!(
        text.contains("0 messages lost, 0 recordings lost; not stored: 1 message cut by a crash or stop of their voicemail, 0 recordings cut so or never started (no voicemail took them)"),
        "{text}"
    );
    assert_passed(&o);
}

#[test]
fn a_recording_no_voicemail_takes_is_an_event_and_counted_as_cut() {
    // The primary is down and the secondary's voicemail still on standby
    // (nothing failed over yet): a recorded call on the secondary finds no
    // voicemail to record it.
    let s = parse(
        r#"
name = "recording-failed"
fleet = "fleets/reference.toml"
duration = "10m"

# A message stored before the crash, so nothing-lost has one to check.
[[call]]
at = "20s"
from = "3002"
to = "2002"
lasts = "20s"
kind = "voicemail"

[[fault]]
at = "1m"
crash = "primary"

[[call]]
at = "2m"
from = "3001"
to = "3002"
lasts = "1m"
recorded = true

[[expect]]
nothing-lost = true
"#,
    );
    let o = run_sim(&s);
    assert_eq!(
        o.count(|e| e.server == "secondary"
            && matches!(&e.event, Event::RecordingFailed { call, .. } if call == "s2-3001")),
        1
    );
    assert_eq!((o.metrics.messages_cut, o.metrics.recordings_cut), (0, 1));
    let a = loss_audit(&o);
    assert_eq!((a.recordings_made, a.recordings_lost), (0, 0));
    assert_passed(&o);
}

#[test]
fn a_handback_whose_answer_is_lost_counts_no_message_and_loses_none() {
    // Two messages are left on the secondary while the primary is down.
    // When the primary is back the secondary hands them back; in the second
    // run the primary's answer is held past the deadline. The primary took
    // them, but the handback counts only what it confirmed: none. They stay
    // marked unsynced on the secondary and follow by the late sync.
    let scenario = |partition: &str| {
        parse(&format!(
            r#"
name = "handback-answer-lost"
fleet = "fleets/reference.toml"
duration = "40m"
seed = 3

[[call]]
at = "12m"
from = "3001"
to = "2001"
lasts = "1m"
kind = "voicemail"

[[call]]
at = "13m"
from = "3002"
to = "2002"
lasts = "1m"
kind = "voicemail"

[[fault]]
at = "5m"
crash = "primary"

[[fault]]
at = "19m"
latency = {{ target = "secondary", delay = "500ms" }}

[[fault]]
at = "20m"
restart = "primary"
{partition}
[[expect]]
nothing-lost = true
"#
        ))
    };
    let handback = |o: &fleetsim_scenario::RunOutcome| {
        let e = o
            .first(|e| matches!(e.event, Event::VoicemailHandback { .. }))
            .expect("a voicemail handback");
        let Event::VoicemailHandback { messages, .. } = e.event else {
            unreachable!()
        };
        (e.t_ms, messages)
    };
    let o = run_sim(&scenario(""));
    assert_passed(&o);
    let (answered_ms, confirmed) = handback(&o);
    assert_eq!(confirmed, 2, "both messages handed back and confirmed");

    // The answer left the primary 500 ms before it arrived: hold it from
    // 250 ms before, for longer than the deadline.
    let at = answered_ms - 250;
    let o = run_sim(&scenario(&format!(
        "\n[[fault]]\nat = \"{at}ms\"\npartition = [[\"secondary\"]]\nfor = \"4500ms\"\n"
    )));
    let took = o.count(|e| {
        e.server == "primary"
            && matches!(&e.event, Event::ServiceState { service, state, reason }
                if service == "voicemail-pro" && state == "active" && reason.contains("handed back with 2 messages"))
    });
    assert_eq!(took, 1, "the primary took both messages");
    let (_, confirmed) = handback(&o);
    assert_eq!(confirmed, 0, "the handback counts only what was confirmed");
    let a = loss_audit(&o);
    assert_eq!(
        (a.messages_left, a.messages_lost),
        (2, 0),
        "{}",
        a.describe()
    );
    assert_passed(&o);
}

/// The reference fleet with manual voicemail failback: the primary crashes
/// at 5m, so the secondary's voicemail is active and waits for the
/// operator, who asks for failback at 49m30s; the primary is back at 52m.
/// With `hang`, the secondary hangs from 49m to 51m (under the 3-minute
/// rule), so the operator's word is sent to a hung server.
fn manual_failback_sent_at_49m30s(hang: bool) -> fleetsim_scenario::RunOutcome {
    let mut b = ScenarioBuilder::on_builtin_fleet("reference")
        .name("manual-failback-to-a-hung-backup")
        .seed(21)
        .duration("1h")
        .resilience(ResilienceSetting::VoicemailFailback(
            VoicemailFailback::Manual,
        ))
        .crash("5m", "primary");
    if hang {
        b = b.fault("49m", "hang = \"secondary\"\nfor = \"2m\"");
    }
    b.fault("49m30s", "manual-failback = \"voicemail-pro\"")
        .restart("52m", "primary")
        .run()
        .unwrap()
}

#[test]
fn a_manual_failback_sent_to_a_hung_backup_is_never_obeyed_and_the_log_says_so() {
    // Documented: a server that is hung never hears an operator action, and
    // an `action-failed` event says so. The request's bytes are held by the
    // hang and flow when it ends, but the operator gave up at the deadline,
    // so the backup must not act on them then either.
    let heard = manual_failback_sent_at_49m30s(false);
    let handback = first_at(&heard, |e| {
        matches!(e.event, Event::VoicemailHandback { .. })
    });
    assert!(
        (52 * MIN..53 * MIN).contains(&handback),
        "a backup that heard the operator hands back once the primary answers: {handback}"
    );

    let hung = manual_failback_sent_at_49m30s(true);
    let failed = hung
        .first(|e| matches!(&e.event, Event::ActionFailed { target, .. } if target == "secondary"))
        .expect("an action-failed event for the hung secondary");
    assert_eq!(failed.server, "operator");
    assert_eq!(
        failed.t_ms,
        49 * MIN + 30_000 + 4_000,
        "at the RPC deadline"
    );
    assert!(
        matches!(&failed.event, Event::ActionFailed { reason, .. } if reason == "timed out"),
        "{:?}",
        failed.event
    );
    // Manual mode: without the operator's word the backup keeps voicemail
    // to the end of the run, however long the primary has been back.
    assert_eq!(
        hung.count(|e| matches!(e.event, Event::VoicemailHandback { .. })),
        0,
        "the hung backup never heard the failback, during the hang or after"
    );
    assert_eq!(
        hung.count(|e| e.t_ms >= 49 * MIN
            && e.server == "secondary"
            && matches!(&e.event, Event::ServiceState { service, .. } if service == "voicemail-pro")),
        0,
        "the secondary's voicemail stays active"
    );
}

#[test]
fn activate_backup_sent_to_a_hung_backup_never_activates_it() {
    // The primary crashes at 5m; the secondary hangs from 5m10s to 7m10s
    // and the operator asks it to activate its voicemail at 5m30s. Heard,
    // it would be active at 5m30s (activate_backup_brings_voicemail_back_…);
    // hung, it never hears it: its voicemail becomes active only by the
    // failover rules, once it resumes and finds the primary silent for 3m.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .name("activate-backup-on-a-hung-backup")
        .seed(4)
        .duration("15m")
        .crash("5m", "primary")
        .fault("5m10s", "hang = \"secondary\"\nfor = \"2m\"")
        .fault("5m30s", "activate-backup = \"voicemail-pro\"")
        .run()
        .unwrap();
    assert_eq!(
        o.count(|e| matches!(&e.event,
            Event::ActionFailed { target, reason, .. } if target == "secondary" && reason == "timed out")),
        1,
        "the log says the action did not reach the hung secondary"
    );
    let active = o
        .first(|e| service_active(e, "secondary", "voicemail-pro"))
        .expect("the backup voicemail activates by the failover rules");
    assert!(
        matches!(&active.event, Event::ServiceState { reason, .. } if reason.starts_with("primary failed over")),
        "{:?}",
        active.event
    );
    assert!(
        active.t_ms >= 7 * MIN + 10_000,
        "not while hung: {}",
        active.t_ms
    );
    assert_eq!(
        o.count(|e| matches!(&e.event,
            Event::ServiceState { reason, .. } if reason.contains("operator"))),
        0,
        "the operator's action never took effect"
    );
}

/// (time, server, event name) of the events that name call or message `id`.
fn call_timeline<'a>(
    o: &'a fleetsim_scenario::RunOutcome,
    id: &str,
) -> Vec<(u64, &'a str, &'static str)> {
    o.events
        .iter()
        .filter(|e| match &e.event {
            Event::CallStarted { call, .. }
            | Event::CallEnded { call, .. }
            | Event::CallDropped { call, .. }
            | Event::CallFailed { call, .. }
            | Event::TrunkSeized { call, .. }
            | Event::TrunkReleased { call, .. } => call == id,
            Event::VoicemailLeft { message, .. } => message == id,
            _ => false,
        })
        .map(|e| (e.t_ms, e.server.as_str(), e.kind()))
        .collect()
}

#[test]
fn a_message_left_on_a_voicemail_that_hangs_is_stored_only_when_the_hang_ends() {
    // 3001 leaves a 1-minute message for 2001 on the primary's voicemail
    // from 2m; the primary hangs from 2m30s to 4m30s (under the 3-minute
    // rule, so nothing fails over). Documented: every task of a hung
    // process is frozen, and overdue timers fire at once when it resumes.
    // So the message, due at 3m, is stored at 4m30s, not before.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .name("message-on-a-hung-voicemail")
        .duration("10m")
        .call("2m", "3001", "2001", "1m", CallKind::Voicemail)
        .fault("2m30s", "hang = \"primary\"\nfor = \"2m\"")
        .run()
        .unwrap();
    let left: Vec<_> = call_timeline(&o, "s1-3001")
        .into_iter()
        .filter(|(_, _, kind)| *kind == "voicemail-left")
        .collect();
    assert_eq!(left, [(4 * MIN + 30_000, "primary", "voicemail-left")]);
}

#[test]
fn a_trunk_held_on_a_v2_that_hangs_is_released_only_when_the_hang_ends() {
    // 2002 calls out over expansion-v2's trunks from 2m for 3 minutes; the
    // V2 hangs from 4m to 6m30s (under the 3-minute rule). Documented:
    // every task of a hung process is frozen, trunk holds included, and
    // overdue timers fire when it resumes; every channel has a deadline and
    // HTTP/2 keepalive, so a silent link is a failure, never a hang
    // (docs/architecture.md), and trunk calls die with their V2. So the
    // caller's system, which is not hung, drops the call within an RPC
    // deadline ("the trunk on expansion-v2 was lost"), while the hung V2
    // neither releases nor ends anything until it resumes: then it frees the
    // trunk at once.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .name("trunk-on-a-hung-v2")
        .duration("10m")
        .call("2m", "2002", "901632960000", "3m", CallKind::External)
        .fault("4m", "hang = \"expansion-v2\"\nfor = \"2m30s\"")
        .run()
        .unwrap();
    let t = call_timeline(&o, "s1-2002");
    assert_eq!(
        t[..2],
        [
            (2 * MIN, "primary", "call-started"),
            (2 * MIN, "expansion-v2", "trunk-seized"),
        ]
    );
    // The caller's system is not hung: it finds the silent V2 within a
    // deadline and drops the call.
    let (dropped_at, server, kind) = t[2];
    assert_eq!((server, kind), ("primary", "call-dropped"), "{t:?}");
    assert!((4 * MIN..=4 * MIN + 4_000).contains(&dropped_at), "{t:?}");
    assert!(o.count(|e| matches!(&e.event,
        Event::CallDropped { call, reason, .. } if call == "s1-2002" && reason == "the trunk on expansion-v2 was lost")) == 1);
    // Nothing of the call moves on the V2 while it is hung: the trunk is
    // freed the moment it resumes (its overdue hold timer), once.
    assert_eq!(
        t[3..],
        [(6 * MIN + 30_000, "expansion-v2", "trunk-released")],
        "{t:?}"
    );
    assert!(o.count(|e| matches!(&e.event,
        Event::TrunkReleased { call, reason, .. } if call == "s1-2002" && reason == "the call's planned end")) == 1);
}

#[test]
fn a_manual_voicemail_failback_with_nothing_to_hand_back_is_refused_and_not_kept_for_later() {
    // The primary is up, its voicemail active: the request is refused, and
    // the event says why. In a later outage the backup, active again,
    // waits for a request of its own (manual mode), not the stale one.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("1h")
        .resilience(ResilienceSetting::VoicemailFailback(
            VoicemailFailback::Manual,
        ))
        .fault("2m", "manual-failback = \"voicemail-pro\"")
        .crash("10m", "primary")
        .restart("30m", "primary")
        .run()
        .unwrap();
    let refused = events(&o, |e| {
        matches!(&e.event, Event::ServiceState { service, reason, .. }
            if service == "voicemail-pro" && reason.starts_with("manual failback refused: this backup is not active"))
    });
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].server, "secondary");
    assert_eq!(
        o.count(|e| matches!(e.event, Event::VoicemailHandback { .. })),
        0,
        "manual mode: no handback without a request"
    );
}

#[test]
fn a_manual_portal_failback_while_the_primary_is_down_is_refused_without_taking_the_portal_down() {
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("30m")
        .crash("5m", "primary")
        .fault("20m", "manual-failback = \"one-x-portal\"")
        .run()
        .unwrap();
    let after: Vec<&EventRecord> = events(&o, |e| {
        e.t_ms >= 20 * MIN
            && matches!(&e.event, Event::ServiceState { service, .. } if service == "one-x-portal")
    });
    assert_eq!(after.len(), 1, "one refusal, no standby: {after:?}");
    assert!(
        matches!(&after[0].event, Event::ServiceState { state, reason, .. }
            if state == "active" && reason == "manual failback refused: primary's portal does not answer"),
        "{:?}",
        after[0]
    );
}

#[test]
fn a_message_kept_on_a_backup_that_was_down_at_handback_reaches_the_primary_when_it_returns() {
    // The secondary takes a message while the primary is down, crashes
    // before the primary is back, and returns with the message on its
    // disk: the primary's voicemail is active by then, so there is no
    // handback, and the late sync brings the message over, logged.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("50m")
        .crash("5m", "primary")
        .call("10m", "3001", "2004", "3m", CallKind::Voicemail)
        .crash("15m", "secondary")
        .restart("25m", "primary")
        .restart("30m", "secondary")
        .run()
        .unwrap();
    let synced = events(&o, |e| matches!(e.event, Event::VoicemailSynced { .. }));
    assert_eq!(synced.len(), 1, "{synced:?}");
    assert!(
        synced[0].server == "secondary"
            && synced[0].t_ms > 30 * MIN
            && matches!(&synced[0].event, Event::VoicemailSynced { to, messages: 1 } if to == "primary"),
        "{:?}",
        synced[0]
    );
    let audit = events(&o, |e| matches!(e.event, Event::Audit { .. }));
    assert!(
        matches!(
            audit[0].event,
            Event::Audit {
                messages_left: 1,
                messages_lost: 0,
                messages_waiting: 0,
                ..
            }
        ),
        "{:?}",
        audit[0]
    );
}

#[test]
fn operator_actions_that_change_nothing_say_so_in_the_log() {
    // A manual portal failback with the backup portal standing by, and a
    // second "activate backup" of the backup voicemail the first activated
    // (the primary down): each leaves an event saying it changed nothing,
    // never silence.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("20m")
        .fault("30s", "manual-failback = \"one-x-portal\"")
        .crash("1m", "primary")
        .fault("2m", "activate-backup = \"voicemail-pro\"")
        .fault("3m", "activate-backup = \"voicemail-pro\"")
        .run()
        .unwrap();
    let said = |svc: &str, text: &str| {
        events(&o, |e| {
            matches!(&e.event, Event::ServiceState { service, reason, .. }
                if service == svc && reason.contains(text))
        })
        .len()
    };
    assert_eq!(
        said(
            "one-x-portal",
            "manual failback refused: this backup is not active"
        ),
        1
    );
    assert_eq!(said("voicemail-pro", "activated by the operator"), 1);
    assert_eq!(
        said(
            "voicemail-pro",
            "activate backup changed nothing: this backup is already active"
        ),
        1
    );
}

#[test]
fn rebooting_a_phone_whose_server_is_down_does_not_lose_it_again() {
    // 3001's secondary crashes at 1m and the phone finds it gone; its
    // reboot at 3m restarts it from the top of its list but loses nothing.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("6m")
        .crash("1m", "secondary")
        .fault("3m", "reboot-phone = \"3001\"")
        .run()
        .unwrap();
    let lost = events(
        &o,
        |e| matches!(&e.event, Event::PhoneLost { phone, .. } if phone == "3001"),
    );
    assert_eq!(lost.len(), 1, "lost once, with its server: {lost:?}");
    assert!(lost[0].t_ms < 3 * MIN, "{:?}", lost[0]);
}
