//! Scripted calls (`[[call]]`): placed by their phone at exactly their
//! emulated time, through the same path as the random workload, with the
//! same events; one that cannot be placed says so in the event log.

mod common;

use common::*;
use fleetsim_model::{CallKind, Calls, Event, EventRecord};
use fleetsim_scenario::{Expect, RunOutcome, ScenarioBuilder};

/// The events of call `id` (its own, and its recording's), in order.
fn call_events<'a>(o: &'a RunOutcome, id: &str) -> Vec<&'a EventRecord> {
    let rec = format!("{id}-rec");
    events(o, |e| match &e.event {
        Event::CallStarted { call, .. }
        | Event::CallEnded { call, .. }
        | Event::CallDropped { call, .. }
        | Event::CallPreserved { call, .. }
        | Event::CallFailed { call, .. }
        | Event::TrunkSeized { call, .. } => call == id,
        Event::VoicemailLeft { message, .. } => message == id,
        Event::RecordingMade { recording, .. } => *recording == rec,
        _ => false,
    })
}

/// (time, event name) of call `id`'s events.
fn timeline(o: &RunOutcome, id: &str) -> Vec<(u64, &'static str)> {
    call_events(o, id)
        .iter()
        .map(|e| (e.t_ms, e.kind()))
        .collect()
}

/// The names of call `id`'s events, in order.
fn kinds(o: &RunOutcome, id: &str) -> Vec<&'static str> {
    timeline(o, id).into_iter().map(|(_, n)| n).collect()
}

#[test]
fn a_scripted_call_starts_at_its_time_and_lasts_its_length() {
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("30m")
        .call("4m", "2011", "3001", "20m", CallKind::TwoParty)
        .run()
        .unwrap();
    assert_ran(&o);
    assert_eq!(
        timeline(&o, "s1-2011"),
        [(4 * MIN, "call-started"), (24 * MIN, "call-ended")]
    );
    let started = call_events(&o, "s1-2011")[0];
    assert_eq!(started.server, "primary", "set up on the caller's system");
    assert!(matches!(
        &started.event,
        Event::CallStarted { phone, kind, recorded: false, .. } if phone == "2011" && kind == "two-party"
    ));
    assert_eq!(o.metrics.calls_started, 1, "no random workload");
}

#[test]
fn scripted_calls_of_every_kind_have_the_events_of_their_kind() {
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("30m")
        .call("2m", "3001", "2001", "1m", CallKind::Voicemail)
        .call("3m", "2001", "sales", "4m", CallKind::HuntGroup)
        .call("4m", "2002", "901632960000", "5m", CallKind::External)
        .call("5m", "4001", "2003", "6m", CallKind::Conference)
        .call("6m", "4002", "3002", "7m", CallKind::Held)
        .recorded_call("7m", "5001", "2004", "8m", CallKind::TwoParty)
        .run()
        .unwrap();
    assert_ran(&o);
    assert_eq!(
        timeline(&o, "s1-3001"),
        [
            (2 * MIN, "call-started"),
            (3 * MIN, "voicemail-left"),
            (3 * MIN, "call-ended")
        ]
    );
    assert_eq!(
        timeline(&o, "s2-2001"),
        [(3 * MIN, "call-started"), (7 * MIN, "call-ended")]
    );
    assert_eq!(
        timeline(&o, "s3-2002"),
        [
            (4 * MIN, "call-started"),
            (4 * MIN, "trunk-seized"),
            (9 * MIN, "call-ended")
        ]
    );
    for (id, from, to) in [("s4-4001", 5, 11), ("s5-4002", 6, 13)] {
        assert_eq!(
            timeline(&o, id),
            [(from * MIN, "call-started"), (to * MIN, "call-ended")]
        );
    }
    assert_eq!(
        timeline(&o, "s6-5001"),
        [
            (7 * MIN, "call-started"),
            (15 * MIN, "recording-made"),
            (15 * MIN, "call-ended")
        ]
    );
}

#[test]
fn a_preserved_scripted_call_keeps_its_phone_from_failing_over_until_it_ends() {
    let o = run_sim(&load("preserved-call-and-voicemail-handback.toml"));
    assert_passed(&o);
    // Set up at 4m; the primary crashes at 5m; kept up to its planned end.
    let preserved = call_events(&o, "s1-2011")
        .into_iter()
        .find(|e| matches!(e.event, Event::CallPreserved { .. }))
        .expect("the call is preserved");
    assert!(preserved.t_ms >= 5 * MIN && preserved.t_ms < 5 * MIN + 30_000);
    assert!(
        matches!(preserved.event, Event::CallPreserved { until_ms, .. } if until_ms == 24 * MIN)
    );
    let ended = &timeline(&o, "s1-2011")[2];
    assert_eq!(*ended, (24 * MIN, "call-ended"));
    // The other phones of the primary are guests within 3 minutes of the
    // 3-minute rule; 2011 only once its call is over.
    let guest_at = |phone: &str| {
        o.first(|e| matches!(&e.event, Event::PhoneRegistered { phone: p, guest: true, .. } if p == phone))
            .map(|e| e.t_ms)
    };
    assert!(guest_at("2010").unwrap() < 10 * MIN);
    assert_eq!(guest_at("2011"), Some(24 * MIN));
    assert_eq!(o.metrics.takeover_ms, Some(19 * MIN));
}

#[test]
fn voicemail_hands_back_only_after_the_scripted_message_ends() {
    let text = std::fs::read_to_string(
        root().join("scenarios/preserved-call-and-voicemail-handback.toml"),
    )
    .unwrap();
    let handback = |o: &RunOutcome| {
        o.first(|e| matches!(e.event, Event::VoicemailHandback { .. }))
            .map(|e| e.t_ms)
            .unwrap()
    };
    // The primary restarts at 30m; the message is left from 28m to 34m.
    let with_message = run_sim(&parse(&text));
    assert_eq!(
        timeline(&with_message, "s2-3002"),
        [
            (28 * MIN, "call-started"),
            (34 * MIN, "voicemail-left"),
            (34 * MIN, "call-ended")
        ]
    );
    let at = handback(&with_message);
    assert!((34 * MIN..35 * MIN).contains(&at), "handback at {at} ms");
    // Without the message, the handback follows the primary's return.
    let call = text.find("[[call]]\nat = \"28m\"").unwrap();
    let fault = text[call..].find("[[fault]]").unwrap() + call;
    let without = format!("{}{}", &text[..call], &text[fault..]);
    let at = handback(&run_sim(&parse(&without)));
    assert!((30 * MIN..31 * MIN).contains(&at), "handback at {at} ms");
}

#[test]
fn a_call_cut_by_its_systems_crash_just_before_its_end_is_dropped_not_ended() {
    // Both calls were to end a second or three after the secondary
    // crashes; its phones find the crash as their connections reset, and a
    // held or hunt-group call is not preserved, so the crash cut them.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("30m")
        .call("19m30s", "3001", "3002", "31s", CallKind::Held)
        .call("19m30s", "3003", "sales", "33s", CallKind::HuntGroup)
        .crash("20m", "secondary")
        .expect(Expect::calls().max_dropped(0))
        .run()
        .unwrap();
    for id in ["s1-3001", "s2-3003"] {
        let names = kinds(&o, id);
        assert_eq!(names, ["call-started", "call-dropped"], "{id}");
        let dropped = call_events(&o, id)[1];
        assert!(
            (20 * MIN..20 * MIN + 1_000).contains(&dropped.t_ms),
            "found as the connection reset: {dropped:?}"
        );
        assert!(
            matches!(&dropped.event, Event::CallDropped { reason, .. } if reason.starts_with("secondary failed") && reason.ends_with("call is not preserved")),
            "{dropped:?}"
        );
    }
    assert!(!o.passed(), "two calls dropped: max-dropped = 0 fails");
}

#[test]
fn a_call_to_a_phone_registered_nowhere_fails_and_one_to_a_moved_phone_reaches_it() {
    // After the primary's crash its softphone 2017 has nowhere to go (no
    // alternate gatekeeper), while its SIP phone 2011 is a guest on the
    // secondary by 10m: the system a call is set up on asks the called
    // phone's home, then its backup.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("20m")
        .crash("5m", "primary")
        .call("10m", "4005", "2017", "2m", CallKind::TwoParty)
        .call("10m", "4006", "2011", "2m", CallKind::TwoParty)
        .call("2m", "4007", "2017", "1m", CallKind::TwoParty)
        .run()
        .unwrap();
    let names = |id| kinds(&o, id);
    assert_eq!(names("s1-4005"), ["call-started", "call-failed"]);
    let failed = call_events(&o, "s1-4005")[1];
    assert!(
        matches!(&failed.event, Event::CallFailed { reason, .. }
            if reason == "the called phone 2017 is not reachable: its home primary did not answer"),
        "{failed:?}"
    );
    assert_eq!(
        names("s2-4006"),
        ["call-started", "call-ended"],
        "2011 is on the secondary"
    );
    assert_eq!(
        names("s3-4007"),
        ["call-started", "call-ended"],
        "2017 at home before the crash"
    );
}

#[test]
fn a_call_between_expansions_goes_through_the_primary_then_the_secondary_and_fails_with_neither() {
    // expansion-l and expansion-v2 have no line between them: the called
    // phone is found through a hub of the star, the primary, or the
    // secondary while the primary is down; with both down the call fails
    // (the secondary, the V2 phones' backup, is asked first, directly).
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("20m")
        .call("2m", "4007", "5003", "1m", CallKind::TwoParty)
        .crash("5m", "primary")
        .call("8m", "4005", "5001", "1m", CallKind::TwoParty)
        .crash("12m", "secondary")
        .call("14m", "4006", "5002", "1m", CallKind::TwoParty)
        .run()
        .unwrap();
    let names = |id| kinds(&o, id);
    assert_eq!(
        names("s1-4007"),
        ["call-started", "call-ended"],
        "through the primary"
    );
    assert_eq!(
        names("s2-4005"),
        ["call-started", "call-ended"],
        "through the secondary"
    );
    assert_eq!(
        names("s3-4006"),
        ["call-started", "call-failed"],
        "no hub left"
    );
    let failed = call_events(&o, "s3-4006")[1];
    assert!(
        matches!(&failed.event, Event::CallFailed { reason, .. }
            if reason == "the called phone 5002 is not reachable: expansion-l has no line to its home expansion-v2, and no hub answered (primary, secondary); its backup secondary did not answer"),
        "{failed:?}"
    );
}

/// Five systems: e2's phones are backed up by e3, and e1 has a line to
/// neither, so a call from e1 to e2's phone is found through a hub.
const HUBBED: &str = r#"
name = "hubbed"
[[server]]
name = "primary"
role = "primary"
phones = { sip = 1 }
first-extension = 2001
[[server]]
name = "secondary"
role = "secondary"
phones = { sip = 1 }
first-extension = 1001
[[server]]
name = "e1"
role = "expansion-linux"
phones = { sip = 1 }
first-extension = 3001
[[server]]
name = "e2"
role = "expansion-linux"
backup = "e3"
backs-up = ["ip-phones"]
phones = { sip = 1 }
first-extension = 4001
[[server]]
name = "e3"
role = "expansion-linux"
phones = { sip = 1 }
first-extension = 5001
[[line]]
between = ["e2", "e3"]
"#;

#[test]
fn a_hub_finds_a_called_phone_on_its_backup_when_its_home_is_hung() {
    // e2 hangs at 2m; its phone is a guest on e3 by 8m. The hub asks the
    // silent home, then the backup, each within under half the caller's
    // deadline, so its answer comes in time.
    let o = ScenarioBuilder::on_inline_fleet(HUBBED)
        .duration("12m")
        .fault("2m", "hang = \"e2\"")
        .call("8m", "3001", "4001", "1m", CallKind::TwoParty)
        .run()
        .unwrap();
    let names = kinds(&o, "s1-3001");
    assert_eq!(
        names,
        ["call-started", "call-ended"],
        "{:?}",
        call_events(&o, "s1-3001")
    );
}

#[test]
fn a_caller_hanging_up_before_the_called_phone_is_found_leaves_a_failed_call_not_an_ended_one() {
    // The primary hangs: finding 2001 waits the deadline (4 s), longer
    // than the 3 s call lasts. The call never came up, so it fails.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("8m")
        .fault("5m", "hang = \"primary\"")
        .call("5m30s", "3001", "2001", "3s", CallKind::TwoParty)
        .run()
        .unwrap();
    let names = kinds(&o, "s1-3001");
    assert_eq!(names, ["call-started", "call-failed"]);
}

#[test]
fn only_the_primary_and_the_secondary_relay_the_search_for_a_called_phone() {
    // With both hubs down, an expansion with a line to another expansion
    // does not relay: the outcome does not hang on how servers are named.
    let fleet = format!("{HUBBED}\n[[line]]\nbetween = [\"e1\", \"e2\"]\n");
    let o = ScenarioBuilder::on_inline_fleet(&fleet)
        .duration("6m")
        .crash("2m", "primary")
        .crash("2m", "secondary")
        .call("3m", "2001", "5001", "1m", CallKind::TwoParty)
        .call("3m", "3001", "5001", "1m", CallKind::TwoParty)
        .run()
        .unwrap();
    let failed = call_events(&o, "s2-3001")[1];
    assert!(
        matches!(&failed.event, Event::CallFailed { reason, .. }
            if reason == "the called phone 5001 is not reachable: e1 has no line to its home e3, and no hub answered (primary, secondary); its backup secondary did not answer"),
        "{failed:?}"
    );
}

#[test]
fn a_caller_leaving_a_message_is_cut_off_when_the_voicemail_crashes() {
    // 3001 (on the secondary) leaves a message on the primary's voicemail,
    // which crashes two minutes in: the call ends then, and no message is
    // kept.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("20m")
        .call("4m", "3001", "2001", "5m", CallKind::Voicemail)
        .crash("6m", "primary")
        .run()
        .unwrap();
    assert_eq!(
        timeline(&o, "s1-3001"),
        [(4 * MIN, "call-started"), (6 * MIN, "call-dropped")]
    );
    let dropped = call_events(&o, "s1-3001")[1];
    assert_eq!(dropped.server, "secondary", "ended by the caller's system");
    assert!(
        matches!(&dropped.event, Event::CallDropped { reason, .. } if reason == "lost the voicemail on primary mid-message (connection lost)"),
        "{dropped:?}"
    );
}

#[test]
fn a_message_ends_kept_as_left_so_far_when_the_callers_system_crashes() {
    // 4001 (on expansion-l) leaves a message on the primary's voicemail;
    // expansion-l crashes two minutes in: the voicemail keeps what was
    // left, marked partial, at the crash.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("20m")
        .call("4m", "4001", "2001", "5m", CallKind::Voicemail)
        .crash("6m", "expansion-l")
        .run()
        .unwrap();
    let left = o
        .first(|e| matches!(&e.event, Event::VoicemailLeft { message, .. } if message == "s1-4001"))
        .expect("the message is kept");
    assert_eq!((left.server.as_str(), left.t_ms), ("primary", 6 * MIN));
    assert!(matches!(
        left.event,
        Event::VoicemailLeft { partial: true, .. }
    ));
    assert_eq!(o.metrics.messages_lost, 0);
}

#[test]
fn a_failback_timeout_ends_each_call_whose_message_it_cuts() {
    let o = run_sim(&load("voicemail-automatic-timeout.toml"));
    let handback = o
        .first(|e| matches!(e.event, Event::VoicemailHandback { .. }))
        .unwrap();
    let cut: Vec<&str> = events(&o, |e| {
        matches!(e.event, Event::VoicemailLeft { partial: true, .. })
    })
    .iter()
    .map(|e| match &e.event {
        Event::VoicemailLeft { message, .. } => message.as_str(),
        _ => unreachable!(),
    })
    .collect();
    assert!(!cut.is_empty(), "the timeout cuts messages in progress");
    for id in cut {
        let t = timeline(&o, id);
        assert_eq!(
            t.last(),
            Some(&(handback.t_ms, "call-dropped")),
            "{id}: {t:?}"
        );
    }
}

#[test]
fn a_scripted_call_that_cannot_be_placed_is_a_failed_call_in_the_log() {
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("20m")
        .call("2m", "2011", "3001", "10m", CallKind::TwoParty)
        .call("3m", "2011", "3002", "1m", CallKind::TwoParty)
        .crash("5m", "primary")
        .call("6m", "2001", "3001", "1m", CallKind::TwoParty)
        .run()
        .unwrap();
    let failed = |id: &str| {
        o.first(|e| matches!(&e.event, Event::CallFailed { call, .. } if call == id))
            .map(|e| match &e.event {
                Event::CallFailed { reason, .. } => (e.t_ms, reason.as_str()),
                _ => unreachable!(),
            })
    };
    // Busy: 2011 is still in its first call.
    assert_eq!(
        failed("s2-2011"),
        Some((3 * MIN, "the phone is already in a call"))
    );
    // Unregistered: the primary is down and failover has not begun.
    assert_eq!(
        failed("s3-2001"),
        Some((6 * MIN, "the phone is not registered"))
    );
}

#[test]
fn check_lists_the_scripted_calls_in_time_order() {
    let out = fleetsim_out(&[
        "check",
        "-v",
        "scenarios/preserved-call-and-voicemail-handback.toml",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let first = text
        .find("call s1-2011 at 4m: 2011 calls 3001 (two-party) for 20m")
        .expect(&text);
    let second = text
        .find("call s2-3002 at 28m: 3002 leaves a message for 2001 for 6m")
        .expect(&text);
    assert!(first < second, "{text}");
}

#[test]
fn scripted_calls_run_alongside_the_random_workload() {
    // Documented: `[[call]]` runs alongside `[calls]` or instead of it. Both
    // here: the scripted call keeps its exact time, phones and length, and
    // the workload's own calls (ids `c<N>-<ext>`) run too.
    let o = ScenarioBuilder::on_builtin_fleet("reference")
        .duration("30m")
        .calls(Calls {
            per_hour: 120,
            ..Calls::default()
        })
        .call("4m", "2011", "3001", "20m", CallKind::TwoParty)
        .run()
        .unwrap();
    assert_ran(&o);
    assert_eq!(
        timeline(&o, "s1-2011"),
        [(4 * MIN, "call-started"), (24 * MIN, "call-ended")]
    );
    let started = call_events(&o, "s1-2011")[0];
    assert!(matches!(
        &started.event,
        Event::CallStarted { phone, kind, .. } if phone == "2011" && kind == "two-party"
    ));
    let random: Vec<&str> = o
        .events
        .iter()
        .filter_map(|e| match &e.event {
            Event::CallStarted { call, .. } if call != "s1-2011" => Some(call.as_str()),
            _ => None,
        })
        .collect();
    assert!(random.len() >= 20, "120 an hour for 30m: {random:?}");
    assert!(random.iter().all(|c| c.starts_with('c')), "{random:?}");
    assert_eq!(o.metrics.calls_started as usize, random.len() + 1);
}

#[test]
fn a_call_refused_before_set_up_is_counted_as_refused_and_said_in_the_metrics() {
    // 2017, a softphone of the primary, has no backup: after the crash it
    // is registered nowhere, so its call is refused by the phone itself.
    let o = fleetsim_scenario::ScenarioBuilder::on_builtin_fleet("reference")
        .duration("10m")
        .crash("5m", "primary")
        .call(
            "6m",
            "2017",
            "3001",
            "1m",
            fleetsim_model::CallKind::TwoParty,
        )
        .run()
        .unwrap();
    assert_eq!((o.metrics.calls_started, o.metrics.calls_refused), (0, 1));
    let text = fleetsim_report::text::render(&o, Default::default());
    assert!(text.contains("1 refused before set-up"), "{text}");
}
