//! The documented resilience rules, one specification each, checked on the
//! pure core: no runtime, no network, microseconds per test.

use std::time::Duration;

use fleetsim_model::{BackupOption, CallKind, FailbackMode, PhoneKind, VoicemailFailback};
use fleetsim_rules::phone::{self, CallFate, Dropped};
use fleetsim_rules::services::{
    Handback, Licence, LicenceWhy, PortalBackupObs, PortalStep, VmBackupObs, VmStandbyObs,
    VmStandbyStep, VmStep,
};
use fleetsim_rules::{
    Failover, GuestObs, HomeObs, HuntBackupObs, HuntChange, HuntHomeObs, NoGuard, PeerCtx,
    PeerDecision, PeerView, Quorum, Refusal, ServerEdition, TakeoverPolicy, Timers, Visibility,
    guest, hunt, peer,
};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn mins(m: u64) -> Duration {
    secs(m * 60)
}

const T: Timers = Timers {
    presence_interval: Duration::from_secs(30),
    start_jitter: Duration::from_secs(5),
    failover_after: Duration::from_secs(180),
    failback_after: Duration::from_secs(600),
    homeless_prevention: Duration::from_secs(300),
    keepalive_interval: Duration::from_secs(30),
    rpc_deadline: Duration::from_secs(4),
};

/// Four of five systems visible: a majority.
const MAJORITY: Visibility = Visibility {
    visible: 4,
    electorate: 5,
};

/// One of five: cut off.
const MINORITY: Visibility = Visibility {
    visible: 1,
    electorate: 5,
};

/// A peer last heard at `last_seen`.
fn heard_at(last_seen: Duration) -> PeerView {
    PeerView::new(last_seen)
}

/// Evaluates `view` at `now` as its backup (or not) under `policy`.
fn evaluate(
    policy: &dyn TakeoverPolicy,
    view: &mut PeerView,
    now: Duration,
    backing_up: bool,
) -> Option<PeerDecision> {
    let ctx = PeerCtx {
        now,
        peer: "primary",
        backing_up,
        records_held: 16,
        guests: 0,
        visibility: MAJORITY,
        timers: &T,
    };
    policy.evaluate(view, &ctx)
}

/// A lost peer (silent since 0, evaluated at 3 min) as seen by its backup.
fn lost_peer() -> PeerView {
    let mut v = heard_at(Duration::ZERO);
    evaluate(&ServerEdition, &mut v, mins(3), true);
    v
}

/// A guest request from SIP phone 2001 of `primary` at `now`.
fn guest_request(peer: Option<&PeerView>, now: Duration) -> GuestObs<'_> {
    GuestObs {
        now,
        phone: "2001",
        home: "primary",
        kind: PhoneKind::Sip,
        backs_up_kind: true,
        peer,
        has_record: true,
        occupancy: 10,
        capacity: 100,
        already: false,
        visibility: MAJORITY,
        timers: &T,
    }
}

/// A keepalive from an idle guest registered at `since`.
fn keepalive(peer: Option<&PeerView>, since: Duration, now: Duration) -> HomeObs<'_> {
    HomeObs {
        now,
        guest: true,
        in_call: false,
        manual: false,
        peer,
        since,
        timers: &T,
    }
}

#[test]
fn a_peer_silent_for_three_minutes_is_lost() {
    let mut v = heard_at(secs(10));
    assert_eq!(evaluate(&ServerEdition, &mut v, secs(189), true), None);
    assert_eq!(
        evaluate(&ServerEdition, &mut v, secs(190), true),
        Some(PeerDecision::Lost {
            silent: mins(3),
            takes_over: 0
        })
    );
    assert!(v.lost);
}

#[test]
fn the_watchdog_wakes_when_the_three_minutes_are_up() {
    let mut v = heard_at(secs(10));
    assert_eq!(
        peer::deadline(&ServerEdition, &mut v, secs(20), &T),
        Some(secs(190))
    );
}

#[test]
fn only_the_backup_gets_ready_to_take_over_a_lost_peer() {
    let mut backup = heard_at(Duration::ZERO);
    let mut other = heard_at(Duration::ZERO);
    evaluate(&ServerEdition, &mut backup, mins(3), true);
    evaluate(&ServerEdition, &mut other, mins(3), false);
    assert_eq!(backup.failover, Failover::Ready);
    assert_eq!(other.failover, Failover::Idle);
    assert!(other.lost, "a non-backup still sees the peer as lost");
}

#[test]
fn a_home_lost_again_with_guests_still_here_is_failed_over_at_once_and_fails_back_only_after_ten_minutes()
 {
    // Failed back at 10 min; its phones came back as guests within the
    // homeless-prevention window when it went silent again at 11 min.
    let mut v = lost_peer();
    v.guest_arrived();
    peer::heard(&mut v, mins(4), 1, &T);
    let ctx = |now, guests| PeerCtx {
        now,
        peer: "primary",
        backing_up: true,
        records_held: 16,
        guests,
        visibility: MAJORITY,
        timers: &T,
    };
    v.last_seen = mins(14); // heard every 30 s since
    assert!(matches!(
        ServerEdition.evaluate(&mut v, &ctx(mins(14), 16)),
        Some(PeerDecision::FailBack { .. })
    ));
    assert_eq!(
        ServerEdition.evaluate(&mut v, &ctx(mins(14) + mins(3), 16)),
        Some(PeerDecision::Lost {
            silent: mins(3),
            takes_over: 16
        }),
        "the guests already here start the failover"
    );
    assert_eq!(v.failover, Failover::Active);
    // Back at 30 min: no guest goes home until it has been visible 10 min.
    peer::heard(&mut v, mins(30), 2, &T);
    assert!(!guest::send_home(&keepalive(Some(&v), mins(15), mins(31))));
    v.last_seen = mins(40);
    assert!(matches!(
        ServerEdition.evaluate(&mut v, &ctx(mins(40), 16)),
        Some(PeerDecision::FailBack { .. })
    ));
}

#[test]
fn a_lost_peer_heard_again_with_nothing_taken_over_is_simply_back() {
    let mut v = lost_peer();
    let r = peer::heard(&mut v, mins(4), 1, &T);
    assert_eq!(r.map(|r| r.silent), Some(mins(4)));
    assert!(!v.lost);
    assert_eq!(v.failover, Failover::Idle);
}

#[test]
fn phones_fail_back_after_ten_minutes_of_renewed_visibility() {
    let mut v = lost_peer();
    assert!(v.guest_arrived(), "the first guest starts the failover");
    peer::heard(&mut v, mins(20), 1, &T);
    for t in (20 * 60..30 * 60).step_by(30) {
        peer::heard(&mut v, secs(t), 1, &T);
        assert_eq!(evaluate(&ServerEdition, &mut v, secs(t), true), None);
    }
    peer::heard(&mut v, mins(30), 1, &T);
    assert_eq!(
        evaluate(&ServerEdition, &mut v, mins(30), true),
        Some(PeerDecision::FailBack {
            visible_for: mins(10)
        })
    );
    assert_eq!(v.failback_at, Some(mins(30)));
}

#[test]
fn a_gap_in_presence_starts_the_failback_count_again() {
    let mut v = lost_peer();
    v.guest_arrived();
    peer::heard(&mut v, mins(20), 1, &T);
    // Silent 66 s (over two intervals plus the start spread): count restarts.
    peer::heard(&mut v, mins(25) + secs(66), 1, &T);
    assert_eq!(v.returned_since, Some(mins(25) + secs(66)));
}

#[test]
fn a_restart_of_the_home_starts_the_failback_count_again() {
    let mut v = lost_peer();
    v.guest_arrived();
    peer::heard(&mut v, mins(20), 1, &T);
    peer::heard(&mut v, mins(21), 2, &T);
    assert_eq!(v.returned_since, Some(mins(21)));
}

#[test]
fn a_clock_stepped_back_does_not_freeze_peer_loss_detection() {
    // Heard at 30 min on the old clock; the clock now reads 10 min.
    let mut v = heard_at(mins(30));
    assert_eq!(
        peer::deadline(&ServerEdition, &mut v, mins(10), &T),
        Some(mins(13))
    );
}

#[test]
fn a_guest_is_refused_while_its_home_is_visible_and_says_how_long_is_needed() {
    let v = heard_at(mins(1));
    let r = ServerEdition.admit_guest(&guest_request(Some(&v), mins(2)));
    assert_eq!(
        r,
        Err(Refusal::NotSilentLongEnough {
            silent: mins(1),
            needed: mins(3)
        })
    );
}

#[test]
fn a_guest_is_accepted_once_its_home_is_lost_and_the_first_starts_failover() {
    let mut v = lost_peer();
    assert_eq!(
        ServerEdition.admit_guest(&guest_request(Some(&v), mins(4))),
        Ok(())
    );
    assert!(v.guest_arrived());
    assert!(
        !v.guest_arrived(),
        "only the first guest starts the failover"
    );
    assert_eq!(v.failover, Failover::Active);
}

#[test]
fn softphones_and_analogue_phones_never_fail_over() {
    let v = lost_peer();
    for kind in [PhoneKind::Softphone, PhoneKind::Analogue] {
        let g = GuestObs {
            kind,
            ..guest_request(Some(&v), mins(4))
        };
        assert_eq!(
            ServerEdition.admit_guest(&g),
            Err(Refusal::DoesNotFailOver(kind))
        );
    }
}

#[test]
fn a_phone_whose_record_was_not_replicated_gets_no_resilience() {
    let v = lost_peer();
    let g = GuestObs {
        has_record: false,
        ..guest_request(Some(&v), mins(4))
    };
    assert_eq!(ServerEdition.admit_guest(&g), Err(Refusal::NoRecord));
}

#[test]
fn guests_count_against_capacity() {
    let v = lost_peer();
    let g = GuestObs {
        occupancy: 384,
        capacity: 384,
        ..guest_request(Some(&v), mins(4))
    };
    assert_eq!(
        ServerEdition.admit_guest(&g),
        Err(Refusal::Capacity { capacity: 384 })
    );
}

#[test]
fn only_the_homes_backup_accepts_its_phones() {
    let v = lost_peer();
    let g = GuestObs {
        backs_up_kind: false,
        ..guest_request(Some(&v), mins(4))
    };
    assert_eq!(
        ServerEdition.admit_guest(&g),
        Err(Refusal::NotBackup(PhoneKind::Sip))
    );
}

/// A home failed back to at 30 min after a failover.
fn failed_back() -> PeerView {
    let mut v = lost_peer();
    v.guest_arrived();
    peer::heard(&mut v, mins(20), 1, &T);
    for t in (20 * 60 + 30..=30 * 60).step_by(30) {
        peer::heard(&mut v, secs(t), 1, &T);
    }
    evaluate(&ServerEdition, &mut v, mins(30), true);
    v
}

#[test]
fn for_five_minutes_after_failback_a_phone_may_register_on_either_system() {
    let v = failed_back();
    assert_eq!(
        ServerEdition.admit_guest(&guest_request(Some(&v), mins(34))),
        Ok(())
    );
    assert_eq!(
        ServerEdition.admit_guest(&guest_request(Some(&v), mins(35))),
        Err(Refusal::WindowOver {
            since_failback: mins(5)
        })
    );
}

#[test]
fn an_idle_guest_goes_home_after_failback() {
    let v = failed_back();
    assert!(ServerEdition.send_home(&keepalive(Some(&v), mins(5), mins(31))));
}

#[test]
fn a_guest_stays_while_its_home_is_lost() {
    let v = lost_peer();
    assert!(!ServerEdition.send_home(&keepalive(Some(&v), mins(5), mins(31))));
}

#[test]
fn a_guest_in_a_call_is_not_sent_home() {
    let v = failed_back();
    let h = HomeObs {
        in_call: true,
        ..keepalive(Some(&v), mins(5), mins(31))
    };
    assert!(!ServerEdition.send_home(&h));
}

#[test]
fn an_h323_phone_under_manual_failback_stays_until_logged_out() {
    let v = failed_back();
    let h = HomeObs {
        manual: true,
        ..keepalive(Some(&v), mins(5), mins(31))
    };
    assert!(!ServerEdition.send_home(&h));
}

#[test]
fn a_phone_that_came_in_during_the_homeless_window_is_not_bounced() {
    let v = failed_back();
    assert!(!ServerEdition.send_home(&keepalive(Some(&v), mins(31), mins(32))));
    assert!(ServerEdition.send_home(&keepalive(Some(&v), mins(31), mins(35))));
}

#[test]
fn a_registration_expires_after_two_keepalives_and_a_deadline_without_refresh() {
    assert!(!guest::expired(mins(1), mins(1) + secs(64), &T));
    assert!(guest::expired(mins(1), mins(1) + secs(65), &T));
}

#[test]
fn a_softphone_gets_no_licence_in_restricted_mode() {
    assert_eq!(
        ServerEdition.admit_home(PhoneKind::Softphone, true),
        Err(Refusal::Restricted)
    );
    assert_eq!(ServerEdition.admit_home(PhoneKind::Sip, true), Ok(()));
}

fn vm(mode: VoicemailFailback, primary: Option<bool>) -> VmBackupObs {
    VmBackupObs {
        now: mins(40),
        primary,
        mode,
        failback_requested: false,
        back_since: None,
        timeout: mins(15),
    }
}

#[test]
fn graceful_voicemail_hands_back_once_the_primary_answers() {
    let (_, step) = ServerEdition.voicemail_backup(&vm(VoicemailFailback::Graceful, None));
    assert_eq!(step, VmStep::Wait);
    let (since, step) =
        ServerEdition.voicemail_backup(&vm(VoicemailFailback::Graceful, Some(false)));
    assert_eq!(since, Some(mins(40)));
    assert_eq!(
        step,
        VmStep::Handback {
            mode: Handback::Graceful,
            cut: false
        }
    );
}

#[test]
fn manual_voicemail_waits_for_the_operator_unless_the_primary_is_already_active() {
    let o = vm(VoicemailFailback::Manual, Some(false));
    assert_eq!(ServerEdition.voicemail_backup(&o).1, VmStep::Wait);
    let asked = VmBackupObs {
        failback_requested: true,
        ..o
    };
    assert!(matches!(
        ServerEdition.voicemail_backup(&asked).1,
        VmStep::Handback {
            mode: Handback::Manual,
            ..
        }
    ));
    let two_active = vm(VoicemailFailback::Manual, Some(true));
    assert!(matches!(
        ServerEdition.voicemail_backup(&two_active).1,
        VmStep::Handback {
            mode: Handback::PrimaryActive,
            ..
        }
    ));
}

#[test]
fn automatic_voicemail_cuts_calls_in_progress_after_its_timeout() {
    let o = VmBackupObs {
        back_since: Some(mins(20)),
        ..vm(VoicemailFailback::Automatic, Some(false))
    };
    assert_eq!(
        ServerEdition.voicemail_backup(&o).1,
        VmStep::Handback {
            mode: Handback::Automatic,
            cut: true
        }
    );
    let early = VmBackupObs {
        back_since: Some(mins(30)),
        ..o
    };
    assert!(matches!(
        ServerEdition.voicemail_backup(&early).1,
        VmStep::Handback { cut: false, .. }
    ));
}

#[test]
fn a_standby_backup_holding_the_primarys_users_reactivates_voicemail_when_the_primary_fails_again()
{
    // The primary came back, took its voicemail back, and failed again
    // before its phones went home: 16 guests are still here.
    let lost_again = VmStandbyObs {
        guests: 16,
        primary_lost: true,
        primary: None,
    };
    assert_eq!(
        ServerEdition.voicemail_standby(&lost_again),
        VmStandbyStep::Activate { guests: 16 }
    );
    // No users of the primary here, or the primary not lost: nothing to cover.
    let no_guests = VmStandbyObs {
        guests: 0,
        ..lost_again
    };
    let visible = VmStandbyObs {
        primary_lost: false,
        ..lost_again
    };
    // The primary's voicemail answers, even on standby: it activates itself.
    let answering = VmStandbyObs {
        primary: Some(false),
        ..lost_again
    };
    for o in [no_guests, visible, answering] {
        assert_eq!(
            ServerEdition.voicemail_standby(&o),
            VmStandbyStep::Wait,
            "{o:?}"
        );
    }
}

fn portal(active: bool, primary: Option<bool>, now: Duration) -> PortalBackupObs {
    PortalBackupObs {
        now,
        active,
        primary,
        mode: FailbackMode::Automatic,
        last_heard: mins(5),
        detect: mins(3),
        visibility: MAJORITY,
        timers: T,
    }
}

#[test]
fn the_backup_portal_takes_over_after_three_minutes_of_silence() {
    let early = portal(false, None, mins(7));
    assert_eq!(ServerEdition.portal_backup(&early).1, PortalStep::Wait);
    let late = portal(false, None, mins(8));
    assert_eq!(
        ServerEdition.portal_backup(&late).1,
        PortalStep::Activate { silent: mins(3) }
    );
}

#[test]
fn the_backup_portal_hands_back_automatically_when_the_primary_answers() {
    let o = portal(true, Some(false), mins(30));
    assert_eq!(
        ServerEdition.portal_backup(&o),
        (mins(30), PortalStep::Handback(Handback::Automatic))
    );
}

#[test]
fn the_backup_portal_takes_over_again_when_the_primary_fails_after_a_handback() {
    // Handed back at 20m (the primary answered, last heard then); the primary
    // fails again at 26m: 3 minutes of silence later the backup is active.
    let o = PortalBackupObs {
        last_heard: mins(26),
        ..portal(false, None, mins(29))
    };
    assert_eq!(
        ServerEdition.portal_backup(&o).1,
        PortalStep::Activate { silent: mins(3) }
    );
}

#[test]
fn a_failed_renewal_starts_thirty_days_of_grace_which_then_run_out() {
    let grace = Duration::from_secs(30 * 86_400);
    let (state, why) = ServerEdition
        .licence_after_renewal(Licence::Normal, false, mins(5), grace)
        .unwrap();
    assert_eq!(
        (state, why),
        (Licence::Grace(mins(5) + grace), LicenceWhy::GraceBegins)
    );
    assert_eq!(ServerEdition.licence_at(state, mins(6)), None);
    assert_eq!(
        ServerEdition.licence_at(state, mins(5) + grace),
        Some((Licence::Restricted, LicenceWhy::RanOut))
    );
    assert_eq!(
        ServerEdition.licence_after_renewal(Licence::Restricted, true, mins(5), grace),
        Some((Licence::Normal, LicenceWhy::Renewed))
    );
}

#[test]
fn under_the_older_rule_a_restart_during_grace_ends_it() {
    let grace = Duration::from_secs(15 * 86_400);
    assert_eq!(
        ServerEdition.licence_after_restart(Some(mins(5)), mins(10), grace, false),
        Some((Licence::Restricted, LicenceWhy::OlderRuleRestart))
    );
    assert_eq!(
        ServerEdition.licence_after_restart(Some(mins(5)), mins(10), grace, true),
        Some((Licence::Grace(mins(5) + grace), LicenceWhy::StillInGrace))
    );
}

#[test]
fn without_the_guard_a_peer_is_lost_after_two_missed_presence_updates() {
    let mut v = heard_at(Duration::ZERO);
    assert_eq!(
        evaluate(&NoGuard, &mut v, secs(65), true),
        Some(PeerDecision::Lost {
            silent: secs(65),
            takes_over: 0
        })
    );
    let mut documented = heard_at(Duration::ZERO);
    assert_eq!(
        evaluate(&ServerEdition, &mut documented, secs(65), true),
        None
    );
}

#[test]
fn under_quorum_a_cut_off_minority_never_takes_over() {
    let v = lost_peer();
    let g = GuestObs {
        visibility: MINORITY,
        ..guest_request(Some(&v), mins(10))
    };
    assert_eq!(
        Quorum.admit_guest(&g),
        Err(Refusal::NoQuorum {
            visible: 1,
            electorate: 5
        })
    );
    assert!(!Quorum.run_shared_services(MINORITY));
    assert!(ServerEdition.run_shared_services(MINORITY));
}

#[test]
fn under_quorum_the_backup_waits_a_fencing_margin_beyond_the_three_minutes() {
    let v = lost_peer();
    assert!(matches!(
        Quorum.admit_guest(&guest_request(Some(&v), mins(3) + secs(59))),
        Err(Refusal::Fencing { .. })
    ));
    assert_eq!(
        Quorum.admit_guest(&guest_request(Some(&v), mins(4))),
        Ok(())
    );
}

#[test]
fn every_built_in_policy_has_its_own_name_and_is_found_by_it() {
    let all = fleetsim_rules::builtin();
    assert_eq!(all[0].name(), fleetsim_rules::DEFAULT_POLICY);
    for p in &all {
        assert_eq!(
            fleetsim_rules::by_name(p.name()).map(|q| q.name().to_string()),
            Some(p.name().to_string())
        );
        assert!(!p.summary().is_empty());
    }
    assert!(fleetsim_rules::by_name("nope").is_none());
}

// Hunt groups (§2, §3, §5, §6).

fn groups(names: &[&str]) -> Vec<String> {
    names.iter().map(|g| g.to_string()).collect()
}

/// Groups `names` running here for `home`.
fn running(home: &str, names: &[&str]) -> hunt::Running {
    names
        .iter()
        .map(|g| (g.to_string(), home.to_string()))
        .collect()
}

fn change(group: &str, home: &str, active: bool) -> HuntChange {
    HuntChange {
        group: group.into(),
        home: home.into(),
        active,
    }
}

#[test]
fn a_home_runs_its_hunt_groups_from_its_first_start_and_after_a_restart_waits_for_its_backups_word()
{
    let own = groups(&["sales", "support"]);
    assert_eq!(
        hunt::at_start("primary", &own, true, true),
        running("primary", &["sales", "support"])
    );
    assert!(
        hunt::at_start("primary", &own, false, true).is_empty(),
        "the backup may be running them"
    );
    assert_eq!(
        hunt::at_start("primary", &own, false, false),
        running("primary", &["sales", "support"]),
        "nobody else can run them"
    );
}

#[test]
fn the_backup_starts_the_homes_hunt_groups_at_failover_and_stops_them_at_failback() {
    let advertised = groups(&["sales", "support"]);
    let nothing = hunt::Running::new();
    let failover = HuntBackupObs {
        home: "primary",
        backs_up_groups: true,
        advertised: &advertised,
        running: &nothing,
        failover: true,
    };
    let started = ServerEdition.hunt_groups_backup(&failover);
    assert_eq!(
        started,
        vec![
            change("sales", "primary", true),
            change("support", "primary", true)
        ]
    );
    let mut here = nothing.clone();
    hunt::apply(&mut here, &started);
    // Its own group of the same name is not the home's to stop.
    here.insert("desk".into(), "secondary".into());
    let failback = HuntBackupObs {
        running: &here,
        failover: false,
        ..failover
    };
    assert_eq!(
        ServerEdition.hunt_groups_backup(&failback),
        vec![
            change("sales", "primary", false),
            change("support", "primary", false)
        ]
    );
}

#[test]
fn without_the_hunt_group_line_option_the_backup_never_runs_the_homes_groups() {
    let advertised = groups(&["sales"]);
    let nothing = hunt::Running::new();
    let o = HuntBackupObs {
        home: "primary",
        backs_up_groups: false,
        advertised: &advertised,
        running: &nothing,
        failover: true,
    };
    assert!(ServerEdition.hunt_groups_backup(&o).is_empty());
}

#[test]
fn the_home_stops_the_groups_its_backup_runs_and_runs_them_again_once_the_backup_stops() {
    let own = groups(&["sales", "support"]);
    let all = running("primary", &["sales", "support"]);
    let theirs = groups(&["sales"]);
    let o = HuntHomeObs {
        home: "primary",
        own: &own,
        theirs: &theirs,
        running: &all,
        visibility: MAJORITY,
    };
    assert_eq!(
        ServerEdition.hunt_groups_home(&o),
        vec![change("sales", "primary", false)]
    );
    // The backup failed back: it runs none of them any more.
    let some = running("primary", &["support"]);
    let back = HuntHomeObs {
        theirs: &[],
        running: &some,
        ..o
    };
    assert_eq!(
        ServerEdition.hunt_groups_home(&back),
        vec![change("sales", "primary", true)]
    );
}

#[test]
fn a_home_cut_off_from_its_backup_runs_its_groups_so_a_split_network_runs_them_twice() {
    let own = groups(&["sales"]);
    let nothing = hunt::Running::new();
    // No presence reply from the backup: nothing says it runs them.
    let o = HuntHomeObs {
        home: "primary",
        own: &own,
        theirs: &[],
        running: &nothing,
        visibility: MINORITY,
    };
    assert_eq!(
        ServerEdition.hunt_groups_home(&o),
        vec![change("sales", "primary", true)]
    );
    // The quorum policy keeps a cut-off home's groups stopped instead.
    assert!(Quorum.hunt_groups_home(&o).is_empty());
}

#[test]
fn standing_down_stops_only_the_hunt_groups_that_can_run_elsewhere() {
    let mut here = running("primary", &["sales"]);
    here.insert("desk".into(), "secondary".into());
    let gone = hunt::stand_down(&here, |home| home == "primary");
    assert_eq!(gone, vec![change("sales", "primary", false)]);
}

#[test]
fn a_home_answers_presence_with_nothing_and_its_backup_with_the_groups_it_runs_for_it() {
    let mut here = running("primary", &["sales", "support"]);
    here.insert("desk".into(), "secondary".into());
    assert_eq!(
        hunt::run_for(&here, "primary"),
        groups(&["sales", "support"])
    );
    assert!(hunt::run_for(&here, "expansion-1").is_empty());
}

#[test]
fn a_home_takes_only_its_hunt_group_backups_word_on_which_groups_run_there() {
    let own = groups(&["sales"]);
    assert!(hunt::listens_to(&own, Some("secondary"), "secondary"));
    assert!(!hunt::listens_to(&own, Some("secondary"), "expansion-1"));
    assert!(!hunt::listens_to(&own, None, "secondary"));
    assert!(!hunt::listens_to(&[], Some("secondary"), "secondary"));
}

#[test]
fn a_call_to_a_hunt_group_not_running_here_is_offered_to_its_home_then_its_backup() {
    assert_eq!(
        hunt::runners("expansion-1", Some("primary"), Some("secondary")),
        groups(&["primary", "secondary"])
    );
    assert_eq!(
        hunt::runners("secondary", Some("primary"), Some("secondary")),
        groups(&["primary"]),
        "never to itself"
    );
    assert_eq!(
        hunt::runners("expansion-1", Some("primary"), None),
        groups(&["primary"]),
        "without the hunt-group option only the home runs it"
    );
    assert!(hunt::runners("expansion-1", None, Some("secondary")).is_empty());
}

// IP DECT (§2, §3).

#[test]
fn an_ip_dect_base_keeps_polling_its_system_for_two_minutes_before_it_switches() {
    let switch_after = mins(2);
    for failing_for in [Duration::ZERO, secs(30), secs(90), secs(119)] {
        assert!(phone::dect_keeps_polling(failing_for, switch_after));
    }
    assert!(!phone::dect_keeps_polling(mins(2), switch_after));
}

#[test]
fn an_ip_dect_base_switches_to_the_backup_only_with_the_ip_dect_line_option() {
    let v = lost_peer();
    let dect = GuestObs {
        kind: PhoneKind::Dect,
        backs_up_kind: false,
        ..guest_request(Some(&v), mins(4))
    };
    assert_eq!(
        ServerEdition.admit_guest(&dect),
        Err(Refusal::NotBackup(PhoneKind::Dect))
    );
    let with_option = GuestObs {
        backs_up_kind: true,
        ..dect
    };
    assert_eq!(ServerEdition.admit_guest(&with_option), Ok(()));
    assert_eq!(
        PhoneKind::Dect.backup_option(),
        Some(BackupOption::IpDect),
        "the option that decides is IP DECT, not IP phones"
    );
}

// Media connection preservation (§3).

const TWO_HOURS: Duration = Duration::from_secs(2 * 3600);

#[test]
fn only_connected_two_party_and_conference_calls_are_preserved() {
    for kind in [CallKind::TwoParty, CallKind::Conference, CallKind::External] {
        assert!(
            matches!(
                phone::when_system_lost(PhoneKind::Sip, kind, false, mins(5), Some(TWO_HOURS)),
                CallFate::Preserved { .. }
            ),
            "{kind:?}"
        );
    }
    for kind in [CallKind::Held, CallKind::HuntGroup, CallKind::Voicemail] {
        assert_eq!(
            phone::when_system_lost(PhoneKind::Sip, kind, false, mins(5), Some(TWO_HOURS)),
            CallFate::Dropped(Dropped::NotPreservable(kind))
        );
    }
}

#[test]
fn an_analogue_phones_call_dies_with_the_system_it_is_wired_to() {
    assert_eq!(
        phone::when_system_lost(
            PhoneKind::Analogue,
            CallKind::TwoParty,
            false,
            mins(5),
            Some(TWO_HOURS)
        ),
        CallFate::Dropped(Dropped::Wired)
    );
}

#[test]
fn an_external_call_over_the_failed_systems_own_trunk_dies_with_it() {
    assert_eq!(
        phone::when_system_lost(
            PhoneKind::Sip,
            CallKind::External,
            true,
            mins(5),
            Some(TWO_HOURS)
        ),
        CallFate::Dropped(Dropped::OwnTrunk)
    );
}

#[test]
fn without_media_connection_preservation_every_call_is_dropped() {
    assert_eq!(
        phone::when_system_lost(PhoneKind::Sip, CallKind::TwoParty, false, mins(5), None),
        CallFate::Dropped(Dropped::PreservationOff)
    );
}

#[test]
fn a_preserved_call_lasts_to_its_own_end_but_at_most_two_hours() {
    assert_eq!(
        phone::when_system_lost(
            PhoneKind::Sip,
            CallKind::TwoParty,
            false,
            mins(5),
            Some(TWO_HOURS)
        ),
        CallFate::Preserved {
            lasts: mins(5),
            cut_by_limit: false
        }
    );
    assert_eq!(
        phone::when_system_lost(
            PhoneKind::Sip,
            CallKind::Conference,
            false,
            mins(150),
            Some(TWO_HOURS)
        ),
        CallFate::Preserved {
            lasts: TWO_HOURS,
            cut_by_limit: true
        }
    );
    assert_eq!(
        phone::when_system_lost(
            PhoneKind::Sip,
            CallKind::TwoParty,
            false,
            TWO_HOURS,
            Some(TWO_HOURS)
        ),
        CallFate::Preserved {
            lasts: TWO_HOURS,
            cut_by_limit: false
        },
        "a call ending exactly at the limit ends by itself"
    );
}

#[test]
fn a_phone_in_a_preserved_call_does_not_fail_over_until_the_call_ends() {
    // Its retry is due, but the preserved call holds it.
    assert!(!phone::acts_now(mins(10), mins(9), true));
    // The call ended: it registers elsewhere at once.
    assert!(phone::acts_now(mins(10), mins(9), false));
    assert!(!phone::acts_now(mins(8), mins(9), false));
}

#[test]
fn a_phone_probes_its_connection_on_the_grid_of_its_keepalive_interval_from_registration() {
    // Registered at 7 s, probing every 30 s: probes fall at 37 s, 67 s, …
    // even when none was needed for a while (no fault in force).
    assert_eq!(phone::next_on_grid(secs(7), secs(5), secs(30)), secs(7));
    assert_eq!(phone::next_on_grid(secs(7), secs(7), secs(30)), secs(7));
    assert_eq!(phone::next_on_grid(secs(7), secs(8), secs(30)), secs(37));
    assert_eq!(phone::next_on_grid(secs(7), mins(60), secs(30)), secs(3607));
    assert_eq!(
        phone::next_on_grid(secs(7), secs(3607) + secs(1), secs(30)),
        secs(3637)
    );
}
