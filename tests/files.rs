//! Bad fleet and scenario files: a clear error naming file, line and field,
//! and exit code 2, from both `check` and `run`.

mod common;

use common::*;

const GOOD_SERVERS: &str = r#"
[[server]]
name = "primary"
role = "primary"
phones = { h323 = 2 }

[[server]]
name = "secondary"
role = "secondary"
"#;

/// Writes `fleet` and a scenario using it; returns both paths.
fn files(test: &str, fleet: &str, scenario_tail: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = temp_dir(test);
    let f = write(&dir, "fleet.toml", fleet);
    let s = write(
        &dir,
        "scenario.toml",
        &format!("fleet = \"fleet.toml\"\nduration = \"10m\"\n{scenario_tail}"),
    );
    (f, s)
}

/// Asserts `fleetsim check` and `fleetsim run` both reject `path` with exit 2
/// and an error at `line` that contains every one of `needles`.
fn rejects(path: &std::path::Path, line: usize, needles: &[&str]) {
    rejects_via(path, path, line, needles);
}

/// Like [`rejects`] for a bad fleet: `check` the fleet, `run` a scenario on it.
fn rejects_fleet(
    fleet: &std::path::Path,
    scenario: &std::path::Path,
    line: usize,
    needles: &[&str],
) {
    rejects_via(fleet, scenario, line, needles);
}

fn rejects_via(checked: &std::path::Path, ran: &std::path::Path, line: usize, needles: &[&str]) {
    let path = checked;
    for (cmd, target) in [("check", checked), ("run", ran)] {
        let out = fleetsim_out(&[cmd, target.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        let file = path.file_name().unwrap().to_string_lossy();
        let at = format!("{file}:{line}:");
        assert!(err.contains(&at), "{cmd}: expected {at} in:\n{err}");
        for n in needles {
            assert!(err.contains(n), "{cmd}: expected {n:?} in:\n{err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn two_primaries_are_rejected_at_the_second_role() {
    let (f, sc) = files(
        "two-primaries",
        &format!("{GOOD_SERVERS}\n[[server]]\nname = \"p2\"\nrole = \"primary\"\n"),
        "",
    );
    rejects_fleet(&f, &sc, 13, &["second primary", "server[2].role", "hint"]);
}

#[test]
fn a_fleet_without_primary_is_rejected() {
    let (f, sc) = files(
        "no-primary",
        "[[server]]\nname = \"a\"\nrole = \"secondary\"\n",
        "",
    );
    rejects_fleet(&f, &sc, 1, &["no primary"]);
}

#[test]
fn ucm_is_rejected_in_a_server_edition_network() {
    let (f, sc) = files(
        "ucm",
        &format!("{GOOD_SERVERS}\n[[server]]\nname = \"ucm1\"\nrole = \"ucm\"\n"),
        "",
    );
    rejects_fleet(
        &f,
        &sc,
        13,
        &["UCM", "not supported in a Server Edition network"],
    );
}

#[test]
fn application_server_may_run_only_one_x_portal() {
    let (f, sc) = files(
        "appserver",
        &format!(
            "{GOOD_SERVERS}\n[[server]]\nname = \"apps\"\nrole = \"application-server\"\nservices = [\"one-x-portal\", \"voicemail-pro\"]\n"
        ),
        "",
    );
    rejects_fleet(&f, &sc, 14, &["only one-X Portal", "server[2].services"]);
}

#[test]
fn unknown_backup_names_the_known_servers() {
    let (f, sc) = files(
        "backup",
        &format!(
            "{GOOD_SERVERS}\n[[server]]\nname = \"exp\"\nrole = \"expansion-linux\"\nbackup = \"tertiary\"\n"
        ),
        "",
    );
    rejects_fleet(
        &f,
        &sc,
        14,
        &[
            "unknown backup server \"tertiary\"",
            "known servers: primary, secondary, exp",
        ],
    );
}

#[test]
fn duplicate_server_names_are_rejected() {
    let (f, sc) = files(
        "dup",
        &format!("{GOOD_SERVERS}\n[[server]]\nname = \"secondary\"\nrole = \"expansion-linux\"\n"),
        "",
    );
    rejects_fleet(&f, &sc, 12, &["duplicate server name \"secondary\""]);
}

#[test]
fn unknown_keys_are_rejected_with_the_allowed_ones() {
    let (f, sc) = files(
        "unknown-key",
        &format!("{GOOD_SERVERS}\nbakup = \"primary\"\n"),
        "",
    );
    rejects_fleet(
        &f,
        &sc,
        11,
        &["unknown field `bakup`", "did you mean `backup`?"],
    );
}

#[test]
fn a_misspelt_key_inside_an_inline_table_suggests_the_right_one() {
    let e = parse_error(
        "fleet = \"fleets/reference.toml\"\nduration = \"10m\"\n[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n[[expect]]\nnever = { event = \"failover-started\", sever = \"secondary\" }\n",
    );
    assert!(
        e.contains(":7:39: field `expect[0].never.sever`: unknown field `sever`")
            && e.contains("did you mean `server`?"),
        "{e}"
    );
}

#[test]
fn a_value_of_the_wrong_type_names_its_full_field_path() {
    for (tail, field) in [
        (
            "[[fault]]\nat = \"5m\"\nlatency = { target = \"primary\", delay = \"-3s\" }\n",
            "field `fault[0].latency.delay`",
        ),
        (
            "[[call]]\nat = \"4m\"\nfrom = \"2011\"\nto = \"3001\"\nlasts = \"1m\"\n\
             [[call]]\nat = \"5m\"\nfrom = \"2011\"\nto = \"3001\"\nlasts = \"1m\"\nrecorded = \"yes\"\n",
            "field `call[1].recorded`",
        ),
        (
            "[[expect]]\ncount = { event = \"phone-registered\", min = -1 }\n",
            "field `expect[0].count.min`",
        ),
        ("[calls]\nper-hour = \"lots\"\n", "field `calls.per-hour`"),
    ] {
        let text = format!("fleet = \"fleets/reference.toml\"\nduration = \"10m\"\n{tail}");
        let e = parse_error(&text);
        assert!(e.contains(field), "{field}: {e}");
    }
}

#[test]
fn expectations_that_can_never_hold_are_refused_at_the_check() {
    for (expect, field, says) in [
        (
            "takeover = { of = \"primary\", within = \"0s\" }",
            "expect[0].takeover.within",
            "a bound of 0s can never hold",
        ),
        (
            "failback = { to = \"primary\", within = \"0s\", after = \"7m\" }",
            "expect[0].failback.within",
            "a bound of 0s can never hold",
        ),
        (
            "capacity-overflow = { on = \"apps\", min = 1 }",
            "expect[0].capacity-overflow.on",
            "apps is an application-server and runs no IP Office",
        ),
    ] {
        let e = parse_error(&format!(
            "fleet = \"fleets/reference.toml\"\nduration = \"10m\"\n[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n[[expect]]\n{expect}\n"
        ));
        assert!(e.contains(&format!("field `{field}`: {says}")), "{e}");
    }
}

#[test]
fn inputs_whose_cost_grows_past_the_limits_are_refused_before_the_run() {
    // A one-way cut between two sites' phones holds every pair.
    let dir = temp_dir("limits-cost");
    write(
        &dir,
        "sites.toml",
        "[[server]]\nname = \"primary\"\nrole = \"primary\"\nphones = { sip = 400 }\n\
         [[server]]\nname = \"secondary\"\nrole = \"secondary\"\nphones = { sip = 400 }\n",
    );
    let cut = write(
        &dir,
        "cut.toml",
        "fleet = \"sites.toml\"\nduration = \"10m\"\n[[fault]]\nat = \"1m\"\n\
         one-way = { from = [\"phones@primary\"], to = [\"phones@secondary\"] }\n",
    );
    rejects(
        &cut,
        5,
        &["fault[0].one-way", "160000 pairs", "at most 100000"],
    );
    // Calls: the rate times the run's length.
    let calls = write(
        &dir,
        "calls.toml",
        "fleet = \"builtin:reference\"\nduration = \"90d\"\n[calls]\nper-hour = 1000\n",
    );
    rejects(
        &calls,
        4,
        &[
            "calls.per-hour",
            "a run starts at most 2000000",
            "at most 925 an hour",
        ],
    );
    // Lines: each a pair of connections.
    let mut fleet = String::new();
    for i in 0..103 {
        fleet.push_str(&format!(
            "[[server]]\nname = \"s{i}\"\nrole = \"{}\"\n",
            match i {
                0 => "primary",
                1 => "secondary",
                _ => "expansion-linux",
            }
        ));
    }
    for i in 2..103 {
        for j in (i + 1)..103 {
            fleet.push_str(&format!("[[line]]\nbetween = [\"s{i}\", \"s{j}\"]\n"));
        }
    }
    let f = write(&dir, "mesh.toml", &fleet);
    let out = fleetsim_out(&["check", f.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("field `line[5000]`: the fleet has 4950 lines")
            || err.contains("the fleet has"),
        "{err}"
    );
}

#[test]
fn names_and_values_that_would_mislead_are_refused() {
    for (tail, says) in [
        (
            "[[expect]]\ntakeover = { of = \"primary\", by = \"primary\", within = \"5m\" }\n",
            "field `expect[0].takeover.by`: \"primary\" cannot take over its own phones",
        ),
        (
            "[[expect]]\ntakeover = { of = \"primary\", by = \"apps\", within = \"5m\" }\n",
            "field `expect[0].takeover.by`: \"apps\" is not \"primary\"'s backup (secondary): its phones never re-register there",
        ),
        (
            "[[fault]]\nat = \"6m\"\nlatency = { target = \"primary\", delay = \"99999999999d\" }\n",
            "field `fault[1].latency.delay`: 99999999999d is longer than the longest run (90d)",
        ),
    ] {
        let e = parse_error(&format!(
            "fleet = \"fleets/reference.toml\"\nduration = \"10m\"\n[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n{tail}"
        ));
        assert!(e.contains(says), "{e}");
    }
    for name in ["runner", "network", "operator"] {
        let (f, sc) = files(
            &format!("reserved-{name}"),
            &format!("[[server]]\nname = \"{name}\"\nrole = \"primary\"\n"),
            "",
        );
        rejects_fleet(&f, &sc, 2, &["server[0].name", "is reserved"]);
    }
}

#[test]
fn a_bad_value_inside_a_list_or_a_repeated_key_names_its_field_in_plain_words() {
    for (tail, says) in [
        (
            "[[fault]]\nat = \"5m\"\ngray = { target = \"primary\", drop = [\"presense\"] }\n",
            "field `fault[0].gray.drop`: unknown variant `presense`",
        ),
        (
            "[[fault]]\nat = \"5m\"\npartition = [\"primary\"]\n",
            "field `fault[0].partition`: invalid type: string \"primary\", expected a list (`[ … ]`)",
        ),
        ("seed = 2\nseed = 3\n", "field `seed`: duplicate key"),
        (
            "[[expect]]\ntakeover = [\"primary\", \"secondary\"]\n",
            "field `expect[0].takeover`: invalid length 2, expected a table",
        ),
    ] {
        let e = parse_error(&format!(
            "fleet = \"fleets/reference.toml\"\nduration = \"10m\"\n{tail}"
        ));
        assert!(e.contains(says), "{says}: {e}");
        assert!(!e.contains("struct Raw"), "{e}");
    }
}

#[test]
fn running_a_fleet_file_says_it_is_not_a_scenario() {
    let (f, _) = files("run-fleet", GOOD_SERVERS, "");
    let out = fleetsim_out(&["run", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("this is a fleet file, not a scenario"));
}

#[test]
fn durations_need_units() {
    let (_, s) = files(
        "duration",
        GOOD_SERVERS,
        "[[fault]]\nat = \"3 minutes\"\ncrash = \"primary\"\n",
    );
    rejects(&s, 4, &["invalid duration", "\"3m\""]);
}

#[test]
fn faults_must_name_known_servers() {
    let (_, s) = files(
        "fault-server",
        GOOD_SERVERS,
        "[[fault]]\nat = \"1m\"\ncrash = \"primry\"\n",
    );
    rejects(
        &s,
        5,
        &[
            "target \"primry\" matches no server (did you mean primary?)",
            "fault[0].crash",
            "primary, secondary",
            "\"expansion-*\"",
        ],
    );
}

#[test]
fn a_restart_needs_a_crash_before_it() {
    let (_, s) = files(
        "restart",
        GOOD_SERVERS,
        "[[fault]]\nat = \"1m\"\nrestart = \"primary\"\n",
    );
    rejects(&s, 3, &["only a crashed server can restart"]);
}

#[test]
fn a_missing_fleet_file_is_named() {
    let dir = temp_dir("missing-fleet");
    let s = write(
        &dir,
        "s.toml",
        "fleet = \"nowhere.toml\"\nduration = \"1m\"\n",
    );
    rejects(&s, 1, &["cannot read fleet file", "nowhere.toml"]);
}

#[test]
fn toml_syntax_errors_are_located() {
    let dir = temp_dir("syntax");
    let s = write(&dir, "s.toml", "fleet = \"x.toml\"\nduration = \"1m\n");
    rejects(&s, 2, &[]);
}

#[test]
fn a_fault_needs_exactly_one_action() {
    let (_, s) = files(
        "two-actions",
        GOOD_SERVERS,
        "[[fault]]\nat = \"1m\"\ncrash = \"primary\"\nheal = true\n",
    );
    rejects(&s, 3, &["exactly one action"]);
}

#[test]
fn failover_time_must_exceed_two_presence_intervals() {
    let (f, sc) = files(
        "timers",
        &format!("[timers]\nfailover-after = \"45s\"\n{GOOD_SERVERS}"),
        "",
    );
    rejects_fleet(
        &f,
        &sc,
        2,
        &[
            "timers.failover-after",
            "more than twice presence-interval (30s)",
        ],
    );
}

#[test]
fn huge_phone_counts_are_refused_not_overflowed() {
    let (f, sc) = files(
        "huge",
        "[[server]]\nname = \"primary\"\nrole = \"primary\"\nphones = { h323 = 4294967295, sip = 4294967295 }\n",
        "",
    );
    rejects_fleet(&f, &sc, 4, &["fleetsim takes at most 20000"]);
}

#[test]
fn all_digit_server_names_are_refused() {
    let (f, sc) = files(
        "digits",
        &format!("{GOOD_SERVERS}\n[[server]]\nname = \"2001\"\nrole = \"expansion-linux\"\n"),
        "",
    );
    rejects_fleet(&f, &sc, 12, &["would read as an extension"]);
}

#[test]
fn out_of_range_speeds_are_bad_input() {
    for speed in ["0.0001", "1e9", "NaN"] {
        let out = fleetsim_out(&["run", "--mode", "live", "--speed", speed]);
        assert_eq!(out.status.code(), Some(2), "--speed {speed}");
    }
}

#[test]
fn a_flap_that_outlasts_the_run_is_refused() {
    let (_, s) = files(
        "flap",
        GOOD_SERVERS,
        "[[fault]]\nat = \"5m\"\nflap = { target = \"primary\", period = \"1m\", duty = 0.5, count = 100 }\n",
    );
    rejects(&s, 5, &["the flap would run past the end of the run (10m)"]);
}

#[test]
fn call_shares_must_be_between_zero_and_one() {
    let (_, s) = files("call-share", GOOD_SERVERS, "[calls]\nvoicemail = 1.5\n");
    rejects(&s, 4, &["calls.voicemail", "between 0 and 1"]);
}

#[test]
fn a_scenario_resilience_override_names_the_allowed_modes() {
    let (_, s) = files(
        "resilience-mode",
        GOOD_SERVERS,
        "[resilience]\nvoicemail-failback = \"sometimes\"\n",
    );
    rejects(
        &s,
        4,
        &["resilience.voicemail-failback", "sometimes", "graceful"],
    );
}

#[test]
fn the_automatic_voicemail_timeout_is_at_most_an_hour() {
    let fleet = format!("{GOOD_SERVERS}\n[resilience]\nvoicemail-failback-timeout = \"2h\"\n");
    let (f, s) = files("vm-timeout", &fleet, "");
    rejects_fleet(
        &f,
        &s,
        12,
        &["resilience.voicemail-failback-timeout", "60 min"],
    );
}

#[test]
fn operator_actions_name_what_they_apply_to() {
    let (_, s) = files(
        "activate",
        GOOD_SERVERS,
        "[[fault]]\nat = \"1m\"\nactivate-backup = \"one-x-portal\"\n",
    );
    rejects(
        &s,
        5,
        &[
            "fault[0].activate-backup",
            "does not apply",
            "voicemail-pro",
        ],
    );
}

#[test]
fn a_hunt_group_needs_a_server_that_runs_ip_office() {
    let fleet = format!("{GOOD_SERVERS}\n[[hunt-group]]\nname = \"sales\"\nserver = \"nowhere\"\n");
    let (f, s) = files("hunt", &fleet, "");
    rejects_fleet(
        &f,
        &s,
        13,
        &[
            "hunt-group[0].server",
            "unknown server",
            "primary, secondary",
        ],
    );
}

#[test]
fn capacity_below_the_servers_own_phones_is_rejected() {
    let fleet = GOOD_SERVERS.replace(
        "phones = { h323 = 2 }",
        "phones = { h323 = 2 }\ncapacity = 1",
    );
    let (f, s) = files("capacity", &fleet, "");
    rejects_fleet(&f, &s, 6, &["server[0].capacity", "at least 2"]);
}

#[test]
fn trunks_belong_on_an_ip500_v2() {
    let fleet = GOOD_SERVERS.replace("phones = { h323 = 2 }", "phones = { h323 = 2 }\ntrunks = 4");
    let (f, s) = files("trunks", &fleet, "");
    rejects_fleet(&f, &s, 6, &["server[0].trunks", "IP500 V2", "expansion-v2"]);
}

#[test]
fn a_zero_call_limit_is_refused() {
    let fleet = GOOD_SERVERS.replace(
        "phones = { h323 = 2 }",
        "phones = { h323 = 2 }\nmax-calls = 0",
    );
    let (f, s) = files("max-calls", &fleet, "");
    rejects_fleet(&f, &s, 6, &["server[0].max-calls", "refuse every call"]);
}

#[test]
fn too_many_calls_per_hour_are_located_at_the_key() {
    let (_, s) = files("per-hour", GOOD_SERVERS, "[calls]\nper-hour = 2000000\n");
    rejects(&s, 4, &["calls.per-hour", "2000000 per hour"]);
}

#[test]
fn too_many_portal_changes_name_their_own_field() {
    let (_, s) = files(
        "portal-changes",
        GOOD_SERVERS,
        "[calls]\nper-hour = 10\nportal-changes-per-hour = 2000000\n",
    );
    rejects(&s, 5, &["calls.portal-changes-per-hour"]);
}

#[test]
fn call_shares_adding_up_past_one_are_located_at_the_last_share() {
    let (_, s) = files(
        "share-sum",
        GOOD_SERVERS,
        "[calls]\nper-hour = 10\nvoicemail = 0.5\nconference = 0.6\n",
    );
    rejects(
        &s,
        6,
        &["add up to more than 1", "voicemail 0.5 + conference 0.6"],
    );
}

#[test]
fn invalid_utf8_is_located_by_byte_offset_and_line() {
    let dir = temp_dir("utf8");
    let p = dir.join("s.toml");
    std::fs::write(&p, b"fleet = \"x.toml\"\n# caf\xe9\nduration = \"1m\"\n").unwrap();
    rejects(&p, 2, &["invalid UTF-8 at byte 22"]);
}

#[test]
fn a_fleet_path_that_is_a_device_is_refused() {
    let dir = temp_dir("dev-zero");
    let s = write(&dir, "s.toml", "fleet = \"/dev/zero\"\nduration = \"1m\"\n");
    rejects(&s, 1, &["field `fleet`", "not a regular file"]);
}

#[test]
fn every_file_fleetsim_reads_refuses_a_device_at_once() {
    for args in [
        &["run", "primary-crash", "--golden", "/dev/zero"][..],
        &["sweep-merge", "/dev/zero"],
        &["chaos", "/dev/zero", "--schedules", "1"],
    ] {
        let mut cmd = fleetsim();
        cmd.args(args);
        let (code, err) = exit_code_within(cmd, 20);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("not a regular file"), "{args:?}: {err}");
    }
}

#[test]
fn a_file_over_one_mib_is_refused() {
    let dir = temp_dir("big-file");
    let filler = format!("# {}\n", "x".repeat(1000)).repeat(1100);
    let s = write(&dir, "s.toml", &format!("fleet = \"x.toml\"\n{filler}"));
    let out = fleetsim_out(&["check", s.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("larger than 1024 KiB"), "{err}");
}

#[test]
fn a_run_longer_than_90_days_is_refused() {
    let dir = temp_dir("long-run");
    write(&dir, "fleet.toml", GOOD_SERVERS);
    let s = write(
        &dir,
        "s.toml",
        "fleet = \"fleet.toml\"\nduration = \"91d\"\n",
    );
    rejects(
        &s,
        2,
        &["field `duration`", "longer than the 90d fleetsim runs"],
    );
}

#[test]
fn millisecond_timers_are_refused_with_the_shortest_allowed() {
    for (timer, min) in [("presence-interval", "1s"), ("rpc-deadline", "10ms")] {
        let fleet = format!("[timers]\n{timer} = \"1ms\"\n{GOOD_SERVERS}");
        let (f, s) = files(&format!("timer-{timer}"), &fleet, "");
        rejects_fleet(
            &f,
            &s,
            2,
            &[
                &format!("timers.{timer}"),
                &format!("shorter than the {min}"),
            ],
        );
    }
}

#[test]
fn millisecond_service_intervals_are_refused() {
    let fleet = format!("{GOOD_SERVERS}\n[resilience]\ndect-poll = \"1ms\"\n");
    let (f, s) = files("dect-poll", &fleet, "");
    rejects_fleet(&f, &s, 12, &["resilience.dect-poll", "shorter than the 1s"]);
}

#[test]
fn more_than_20000_phones_are_refused() {
    let (f, sc) = files(
        "many-phones",
        "[[server]]\nname = \"primary\"\nrole = \"primary\"\nphones = { h323 = 20001 }\n",
        "",
    );
    rejects_fleet(&f, &sc, 4, &["20001 phones", "at most 20000"]);
}

#[test]
fn more_than_500_servers_are_refused_at_the_first_too_many() {
    let text = fleetsim_model::generate::fleet_toml(501, 0);
    let line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| *l == "[[server]]")
        .nth(500)
        .unwrap()
        .0
        + 1;
    let (f, s) = files("many-servers", &text, "");
    rejects_fleet(&f, &s, line, &["server[500]", "at most 500"]);
}

#[test]
fn the_bench_refuses_fleets_beyond_the_file_limits() {
    for args in [
        &["--phones", "20001"][..],
        &["--servers", "501"],
        &["--servers", "300", "--scaling"],
    ] {
        let out = fleetsim_out(&[&["bench"][..], args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("a fleet may have"), "{err}");
    }
}

#[test]
fn checking_a_fleet_file_checks_it_as_a_fleet() {
    let dir = temp_dir("check-fleet");
    let spaced = GOOD_SERVERS.replace("[[server]]", "[[ server ]]");
    let f = write(&dir, "fleet.toml", &spaced);
    let out = fleetsim_out(&["check", f.to_str().unwrap()]);
    let all =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("fleet \"fleet\" (2 servers"), "{all}");
    let bare = write(
        &dir,
        "bare.toml",
        "name = \"x\"\n[timers]\nrpc-deadline = \"4s\"\n",
    );
    let out = fleetsim_out(&["check", bare.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("the fleet has no servers"), "{err}");
    assert!(!err.contains("missing field `fleet`"), "{err}");
}

/// A scenario on the reference fleet with one scripted call, its `key`
/// written as `value` (a `key` it does not have is added).
fn with_call(key: &str, value: &str) -> String {
    let mut call = vec![
        ("at", "\"4m\""),
        ("from", "\"2011\""),
        ("to", "\"3001\""),
        ("lasts", "\"20m\""),
        ("kind", "\"two-party\""),
    ];
    match call.iter_mut().find(|(k, _)| *k == key) {
        Some(pair) => pair.1 = value,
        None => call.push((key, value)),
    }
    let lines: Vec<String> = call.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!(
        "fleet = \"fleets/reference.toml\"\nduration = \"30m\"\n\n[[call]]\n{}\n",
        lines.join("\n")
    )
}

/// Asserts the scenario is refused at the line of `key`, naming the field
/// `call[0].key`, with every one of `needles` in the error.
#[track_caller]
fn refused_call(text: &str, key: &str, needles: &[&str]) {
    let e = parse_error(text);
    let line = line_of(text, &format!("{key} = "));
    assert!(e.starts_with(&format!("inline.toml:{line}:")), "{e}");
    assert!(e.contains(&format!("field `call[0].{key}`")), "{e}");
    for n in needles {
        assert!(e.contains(n), "expected {n:?} in:\n{e}");
    }
}

#[test]
fn a_scripted_call_from_an_unknown_extension_suggests_the_nearest_and_lists_the_fleet() {
    refused_call(
        &with_call("from", "\"2019\""),
        "from",
        &[
            "no phone of fleet \"reference\" has extension \"2019\"",
            "did you mean 2018, 2017 or 2016?",
            "2001–2018 (primary), 3001–3006 (secondary), 4001–4008 (expansion-l), 5001–5012 (expansion-v2)",
        ],
    );
    refused_call(
        &with_call("to", "\"3090\""),
        "to",
        &["has extension \"3090\"", "did you mean"],
    );
}

#[test]
fn a_scripted_call_of_an_unknown_kind_lists_the_kinds() {
    refused_call(
        &with_call("kind", "\"transfer\""),
        "kind",
        &[
            "unknown kind of call \"transfer\"",
            "two-party, voicemail, conference, held, hunt-group, external",
        ],
    );
}

#[test]
fn a_scripted_call_placed_when_the_run_is_over_is_refused() {
    refused_call(
        &with_call("at", "\"30m\""),
        "at",
        &["a call at 30m is not within the run, which ends at 30m"],
    );
}

#[test]
fn a_scripted_call_lasts_more_than_zero_and_at_most_a_day() {
    for lasts in ["\"0s\"", "\"1d1s\""] {
        refused_call(
            &with_call("lasts", lasts),
            "lasts",
            &["is out of range", "at most 1d"],
        );
    }
}

#[test]
fn a_phone_cannot_call_itself() {
    refused_call(
        &with_call("to", "\"2011\""),
        "to",
        &["2011 cannot make a two-party call to itself"],
    );
}

#[test]
fn a_scripted_call_names_what_its_kind_calls() {
    let hunt = with_call("to", "\"3001\"").replace("two-party", "hunt-group");
    refused_call(
        &hunt,
        "to",
        &[
            "no hunt group \"3001\" in fleet \"reference\"",
            "sales, support",
        ],
    );
    let external = with_call("to", "\"3001\"").replace("two-party", "external");
    refused_call(
        &external,
        "to",
        &["\"3001\" is an extension of the fleet, not an outside number"],
    );
    let not_a_number = with_call("to", "\"the bank\"").replace("two-party", "external");
    refused_call(&not_a_number, "to", &["is not a telephone number"]);
}

#[test]
fn a_voicemail_call_is_not_recorded() {
    let text = with_call("recorded", "true").replace("two-party", "voicemail");
    refused_call(&text, "recorded", &["a voicemail call is not recorded"]);
}

#[test]
fn an_external_call_needs_an_ip500_v2_with_trunks() {
    let call = "[[call]]\nat = \"1m\"\nfrom = \"2001\"\nto = \"901632960000\"\nlasts = \"5m\"\nkind = \"external\"\n";
    let (_, s) = files("external-without-trunks", GOOD_SERVERS, call);
    rejects(
        &s,
        6,
        &[
            "field `call[0].to`",
            "an external call needs a trunk, and no IP500 V2 of fleet \"fleet\" connects any",
            "trunks = 8",
        ],
    );
}

#[test]
fn a_scripted_call_with_an_unknown_key_lists_the_keys() {
    let e = parse_error(&with_call("caller", "\"2011\""));
    assert!(e.contains("unknown field `caller`"), "{e}");
    assert!(
        e.contains("`at`, `from`, `to`, `lasts`, `kind`, `recorded`"),
        "{e}"
    );
}

#[test]
fn an_extension_may_be_written_as_a_bare_number() {
    let s = parse(&with_call("from", "2011"));
    assert_eq!(s.scripted_calls[0].from, "2011");
    assert_eq!(s.scripted_calls[0].id, "s1-2011");
    let e = parse_error(&with_call("from", "true"));
    assert!(
        e.contains("expected an extension, hunt group or number"),
        "{e}"
    );
}

#[test]
fn a_fault_lasting_zero_is_refused_at_its_for() {
    let text = "name = \"r0\"\nfleet = \"fleets/reference.toml\"\nseed = 1\nduration = \"10m\"\n\n[[fault]]\nat = \"5m\"\nreboot = \"primary\"\nfor = \"0s\"\n";
    let e = parse_error(text);
    assert!(e.starts_with("inline.toml:9:"), "{e}");
    assert!(e.contains("field `fault[0].for`"), "{e}");
    assert!(e.contains("undone at the instant it is applied"), "{e}");
}

#[test]
fn a_value_of_the_wrong_type_names_its_field_and_says_what_to_write() {
    let head = "name = \"x\"\nfleet = \"fleets/reference.toml\"\n";
    for (line, field, says) in [
        (
            "seed = 1.5\nduration = \"10m\"\n",
            "seed",
            "write a whole number",
        ),
        (
            "seed = -1\nduration = \"10m\"\n",
            "seed",
            "write a whole number",
        ),
        ("seed = 1\nduration = 30\n", "duration", "needs a unit"),
        (
            "seed = 1\nduration = \"1.5h\"\n",
            "duration",
            "fractions are not written",
        ),
        (
            "seed = 1\nduration = \"30s1m\"\n",
            "duration",
            "from largest to smallest",
        ),
        (
            "seed = 1\nduration = \"3 minutes\"\n",
            "duration",
            "no spaces",
        ),
        (
            "seed = 1\nduration = \"10m\"\n[calls]\nper-hour = 99999999999999\n",
            "calls.per-hour",
            "write a whole number from 0 to 4294967295",
        ),
    ] {
        let e = parse_error(&format!("{head}{line}"));
        assert!(e.contains(&format!("field `{field}`")), "{line}: {e}");
        assert!(e.contains(says), "{line}: {e}");
    }
}

#[test]
fn a_name_holding_a_control_character_is_refused_at_its_field() {
    let text =
        "name = \"a\\u0007b\"\nfleet = \"fleets/reference.toml\"\nseed = 1\nduration = \"10m\"\n";
    let e = parse_error(text);
    assert!(e.starts_with("inline.toml:1:"), "{e}");
    assert!(
        e.contains("field `name`") && e.contains("control character"),
        "{e}"
    );
    let text = "fleet = \"fleets/reference.toml\"\nseed = 1\nduration = \"10m\"\n\n[[expect]]\nname = \"\\u001b[2J\"\nsplit-brain = false\n";
    let e = parse_error(text);
    assert!(e.contains("field `expect[0].name`"), "{e}");
}

#[test]
fn a_timer_or_resilience_setting_out_of_range_is_pointed_at_on_its_own_line() {
    let text = "name = \"x\"\nseed = 1\nduration = \"10m\"\n\n[fleet]\nname = \"f\"\n\n[[fleet.server]]\nname = \"primary\"\nrole = \"primary\"\nphones = { sip = 2 }\n\n[fleet.timers]\npresence-interval = \"30s\"\nkeepalive-interval = \"100ms\"\n";
    let e = parse_error(text);
    let line = line_of(text, "keepalive-interval =");
    assert!(e.starts_with(&format!("inline.toml:{line}:")), "{e}");
    let text = "name = \"x\"\nfleet = \"fleets/reference.toml\"\nseed = 1\nduration = \"10m\"\n\n[resilience]\nlicence-renew = \"5m\"\ndect-poll = \"100ms\"\n";
    let e = parse_error(text);
    let line = line_of(text, "dect-poll =");
    assert!(e.starts_with(&format!("inline.toml:{line}:")), "{e}");
    assert!(e.contains("field `resilience.dect-poll`"), "{e}");
}

#[test]
fn a_file_saved_with_crlf_line_endings_keeps_its_multi_line_description() {
    let text = "name = \"x\"\r\ndescription = \"\"\"\r\ntwo\r\nlines\r\n\"\"\"\r\nfleet = \"fleets/reference.toml\"\r\nseed = 1\r\nduration = \"10m\"\r\n";
    let s = parse(text);
    assert!(s.description.contains("two"), "{}", s.description);
}

#[test]
fn a_key_named_in_a_comment_is_not_taken_for_the_key() {
    let text = "name = \"x\"\nfleet = \"fleets/reference.toml\"\nseed = 1\nduration = \"10m\"\n\n[resilience]\n# dect-poll = \"30s\" is the default\nlicence-renew = \"5m\"   # dect-poll = \"1s\"\ndect-poll = \"100ms\"\n";
    let e = parse_error(text);
    let line = line_of(text, "dect-poll = \"100ms\"");
    assert!(e.starts_with(&format!("inline.toml:{line}:")), "{e}");
}

#[test]
fn a_fleet_name_holding_a_control_character_is_refused_at_its_field() {
    let dir = temp_dir("fleet-control-char");
    let fleet = write(
        &dir,
        "f.toml",
        "name = \"f\\u001b[2J\"\n[[server]]\nname = \"primary\"\nrole = \"primary\"\nphones = { sip = 2 }\n",
    );
    let out = fleetsim_out(&["check", fleet.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("f.toml:1:") && err.contains("field `name`"),
        "{err}"
    );
}

#[test]
fn a_one_way_cut_from_a_node_to_itself_is_refused() {
    let text = "name = \"x\"\nfleet = \"fleets/reference.toml\"\nseed = 1\nduration = \"10m\"\n\n[[fault]]\nat = \"1m\"\none-way = { from = [\"primary\"], to = [\"primary\", \"secondary\"] }\n";
    let e = parse_error(text);
    assert!(
        e.contains("field `fault[0].one-way`") && e.contains("in both"),
        "{e}"
    );
}

#[test]
fn extensions_past_the_largest_number_are_refused_at_first_extension() {
    let dir = temp_dir("extension-overflow");
    let fleet = write(
        &dir,
        "f.toml",
        "name = \"f\"\n[[server]]\nname = \"primary\"\nrole = \"primary\"\nfirst-extension = 4294967290\nphones = { sip = 10 }\n",
    );
    let out = fleetsim_out(&["check", fleet.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("f.toml:5:") && err.contains("would run past"),
        "{err}"
    );
}

#[test]
fn faults_that_unfold_into_too_many_steps_are_refused_before_they_fill_memory() {
    let flap = |target: &str| {
        format!(
            "[[fault]]\nat = \"1m\"\nflap = {{ target = \"{target}\", period = \"1s\", duty = 0.5, count = 10000 }}\n"
        )
    };
    let head = "fleet = \"fleets/reference.toml\"\nduration = \"90d\"\n";
    let six = (0..6).map(|_| flap("primary")).collect::<String>();
    let e = parse_error(&format!("{head}{six}"));
    assert!(
        e.contains("fault[5]") && e.contains("unfold into 120000 steps, more than the 100000"),
        "{e}"
    );
}

#[test]
fn expectation_names_are_one_line_each_and_each_its_own() {
    let head = "fleet = \"fleets/reference.toml\"\nduration = \"10m\"\n[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n";
    let named = |a: &str, b: &str| {
        format!(
            "{head}[[expect]]\nname = {a}\nnothing-lost = true\n[[expect]]\nname = {b}\nsplit-brain = false\n"
        )
    };
    let e = parse_error(&named("\"one\"", "\"line1\\nline2\""));
    assert!(
        e.contains("expect[1].name") && e.contains("a name is one line"),
        "{e}"
    );
    let e = parse_error(&named("\"same\"", "\"same\""));
    assert!(e.contains("expect[0] is already named \"same\""), "{e}");
    // Two unnamed checks that derive one name are numbered, not refused.
    let two = format!("{head}[[expect]]\nnothing-lost = true\n[[expect]]\nnothing-lost = true\n");
    let s = parse(&two);
    assert_eq!(
        s.expectations[1].name,
        format!("{} (2)", s.expectations[0].name)
    );
}

#[test]
fn a_wrong_key_or_value_in_a_scenarios_resilience_table_is_located_at_the_key() {
    let head = "fleet = \"fleets/reference.toml\"\nduration = \"10m\"\n[resilience]\nportal-failover-after = \"3m\"\n";
    let e = parse_error(&format!("{head}voicemail-failback-timout = \"2m\"\n"));
    assert!(
        e.contains(":5:") && e.contains("resilience.voicemail-failback-timout"),
        "{e}"
    );
    assert!(
        e.contains("did you mean `voicemail-failback-timeout`?"),
        "{e}"
    );
    let e = parse_error(&format!("{head}voicemail-failback = \"sometimes\"\n"));
    assert!(
        e.contains(":5:") && e.contains("resilience.voicemail-failback"),
        "{e}"
    );
}

#[test]
fn common_slips_get_a_hint_that_says_what_to_write() {
    let head = "fleet = \"fleets/reference.toml\"\nduration = \"30m\"\n";
    let e = parse_error(&format!(
        "{head}[fault]\nat = \"5m\"\ncrash = \"primary\"\n"
    ));
    assert!(e.contains("write [[key]], two brackets"), "{e}");
    let e = parse_error(&format!(
        "{head}[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n[[expect]]\nservice = {{ name = \"voicemail-pro\", on = \"secondary\", state = \"active\", at = \"fault 0 + 5m\" }}\n"
    ));
    assert!(
        e.contains("for the windows of never, eventually, count and state"),
        "{e}"
    );
    let e = parse_error(&format!(
        "{head}[[fault]]\nat = \"5m\"\nmanual-failback = \"hunt-groups\"\n"
    ));
    assert!(
        e.contains(
            "write manual-failback = \"voicemail-pro\" or manual-failback = \"one-x-portal\""
        ),
        "{e}"
    );
}

#[test]
fn a_missing_key_is_named_as_the_field_at_fault_not_a_key_that_is_there() {
    for (text, field) in [
        ("duration = \"10m\"\n", "field `fleet`"),
        ("fleet = \"builtin:reference\"\n", "field `duration`"),
        (
            "fleet = \"builtin:reference\"\nduration = \"10m\"\n[[fault]]\ncrash = \"primary\"\n",
            "field `fault[0].at`",
        ),
        (
            "fleet = \"builtin:reference\"\nduration = \"10m\"\n[[fault]]\nat = \"1m\"\ncrash = \"primary\"\n[[expect]]\ntakeover = { of = \"primary\" }\n",
            "field `expect[0].takeover.within`",
        ),
    ] {
        let e = parse_error(text);
        assert!(e.contains(field), "{text}: {e}");
    }
}

#[test]
fn a_number_too_large_for_toml_says_so_and_only_a_seed_points_to_the_flag() {
    for (text, seed) in [
        (
            "fleet = \"builtin:reference\"\nduration = \"10m\"\nseed = 18446744073709551615\n",
            true,
        ),
        (
            "fleet = \"builtin:reference\"\nduration = \"10m\"\n[[fault]]\nat = \"1m\"\ncrash = \"primary\"\n[[expect]]\ncount = { event = \"peer-lost\", min = 99999999999999999999 }\n",
            false,
        ),
    ] {
        let e = parse_error(text);
        assert!(e.contains("the number is too large"), "{e}");
        assert_eq!(e.contains("--seed"), seed, "{e}");
    }
}

#[test]
fn a_scenario_named_as_a_fleet_is_said_to_be_a_scenario() {
    let dir = temp_dir("scenario-as-fleet");
    write(
        &dir,
        "other.toml",
        "fleet = \"builtin:reference\"\nduration = \"10m\"\n",
    );
    let s = write(
        &dir,
        "s.toml",
        "fleet = \"other.toml\"\nduration = \"10m\"\n",
    );
    let out = fleetsim_out(&["check", s.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("is a scenario file"), "{err}");
}

#[test]
fn a_name_with_a_bidirectional_control_is_refused_as_a_control_character() {
    let e = parse_error(
        "name = \"abc\u{202E}def\"\nfleet = \"builtin:reference\"\nduration = \"10m\"\n",
    );
    assert!(e.contains("control character"), "{e}");
    assert!(!e.contains('\u{202E}'), "shown, never sent: {e}");
}

#[test]
fn own_phones_beyond_the_default_capacity_are_refused_when_no_capacity_is_written() {
    let (f, s) = files(
        "default-capacity",
        "[[server]]\nname = \"primary\"\nrole = \"primary\"\n\n[[server]]\nname = \"v2\"\nrole = \"expansion-v2\"\nphones = { sip = 385 }\n",
        "",
    );
    rejects_fleet(
        &f,
        &s,
        8,
        &[
            "server[1].phones",
            "more than the default capacity of role expansion-v2 (384)",
            "set capacity",
        ],
    );
}

#[test]
fn an_inline_fleets_errors_name_their_fields_and_tables_under_fleet() {
    let e = parse_error(
        "name = \"inl\"\nduration = \"10m\"\n\n[fleet]\nname = \"f\"\n\n\
         [[fleet.server]]\nname = \"p\"\nrole = \"primary\"\n\n\
         [[fleet.server]]\nname = \"s\"\nrole = \"secondary\"\n\n\
         [[fleet.server]]\nname = \"br2\"\nrole = \"expansion-linux\"\n\n\
         [[fleet.server]]\nname = \"br\"\nrole = \"expansion-linux\"\nbackup = \"br2\"\n",
    );
    assert!(
        e.contains("field `fleet.server[3].backup`")
            && e.contains("add [[fleet.line]] between = [\"br\", \"br2\"]"),
        "{e}"
    );
}

#[test]
fn overlapping_default_extensions_are_blamed_on_the_phones_with_the_default_shown() {
    let dir = temp_dir("extension-overlap");
    let fleet = write(
        &dir,
        "f.toml",
        "name = \"f\"\n[[server]]\nname = \"p\"\nrole = \"primary\"\nfirst-extension = 3001\nphones = { sip = 2 }\n\n\
         [[server]]\nname = \"s\"\nrole = \"secondary\"\nphones = { sip = 2 }\n",
    );
    let out = fleetsim_out(&["check", fleet.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("f.toml:11:")
            && err.contains("field `server[1].phones`")
            && err.contains("(index + 2) * 1000 + 1 = 3001"),
        "{err}"
    );
}

#[test]
fn list_of_a_directory_holding_a_pipe_says_it_is_invalid_instead_of_waiting_on_it() {
    let dir = temp_dir("list-fifo");
    let fifo = dir.join("x.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo is not available here");
        return;
    }
    let out = fleetsim_out(&["list", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not a regular file"),
        "{out:?}"
    );
}

#[test]
fn a_shipped_scenario_path_given_outside_a_checkout_points_to_the_built_in_of_that_name() {
    let dir = temp_dir("outside-checkout");
    let out = fleetsim()
        .current_dir(&dir)
        .args(["sweep", "scenarios/split-network.toml", "--seeds", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the built-in scenario \"split-network\"")
            && err.contains("give its name alone"),
        "{err}"
    );
}

#[test]
fn a_misspelt_table_is_named_as_itself_not_as_a_field_of_the_table_before_it() {
    let head = "fleet = \"fleets/reference.toml\"\nduration = \"10m\"\n[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n";
    for (tail, says) in [
        (
            "[[expects]]\nno-failover = { of = \"secondary\" }\n",
            "field `expects`: unknown field `expects`",
        ),
        (
            "[resilience]\nphone-failback = \"manual\"\n[fake]\nx = 1\n",
            "field `fake`: unknown field `fake`",
        ),
    ] {
        let e = parse_error(&format!("{head}{tail}"));
        assert!(e.contains(says), "{e}");
    }
}
