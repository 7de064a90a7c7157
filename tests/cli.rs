//! The fleetsim command: exit codes, formats, event log, list, check.

mod common;

use common::*;

#[test]
fn run_without_arguments_runs_the_default_failover_and_exits_zero() {
    let out = fleetsim_out(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("primary-crash"));
    assert!(stdout.contains("FAILOVER of primary begins"));
    assert!(stdout.contains("Verdict: PASSED"));
}

#[test]
fn a_failing_expectation_exits_one() {
    let dir = temp_dir("failing");
    let s = failing_scenario(&dir);
    let out = fleetsim_out(&["run", s.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL"));
}

#[test]
fn bad_input_exits_two() {
    let out = fleetsim_out(&["run", "no-such-scenario"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("built-ins: primary-crash"), "{err}");
    let out = fleetsim_out(&["run", "--mode", "warp"]);
    assert_eq!(out.status.code(), Some(2));
    let out = fleetsim_out(&["run", "--mode", "live", "--speed", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn json_format_prints_passed_expectations_and_metrics() {
    let out = fleetsim_out(&["run", "primary-crash", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["expectations"][0]["passed"], true);
    assert!(v["expectations"][0]["name"].is_string());
    assert!(v["expectations"][0]["detail"].is_string());
    let m = &v["metrics"];
    for k in [
        "detection_ms",
        "takeover_ms",
        "max_phone_outage_ms",
        "p99_phone_outage_ms",
        "phones_moved",
    ] {
        assert!(m[k].is_u64(), "metrics.{k} missing: {m}");
    }
}

#[test]
fn events_file_is_json_lines_and_identical_for_one_seed() {
    let dir = temp_dir("events");
    let a = dir.join("a.jsonl");
    let b = dir.join("b.jsonl");
    for f in [&a, &b] {
        let out = fleetsim_out(&[
            "run",
            "primary-isolated",
            "--seed",
            "9",
            "--events",
            f.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0));
    }
    let ta = std::fs::read(&a).unwrap();
    assert_eq!(
        ta,
        std::fs::read(&b).unwrap(),
        "same seed, different event logs"
    );
    let text = String::from_utf8(ta).unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(
            v["t_ms"].is_u64() && v["server"].is_string() && v["event"].is_string(),
            "{line}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.contains("\"event\":\"failover-started\""))
    );
}

#[test]
fn list_shows_every_scenario_with_its_description() {
    let out = fleetsim_out(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    for f in scenario_files() {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(s.contains(&name), "{name} missing from:\n{s}");
    }
    assert!(s.contains("3-minute rule"));
}

#[test]
fn list_of_a_missing_directory_or_a_file_is_bad_input() {
    for arg in ["no-such-dir", "README.md"] {
        let out = fleetsim_out(&["list", arg]);
        assert_eq!(out.status.code(), Some(2), "{arg}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("cannot list"));
    }
}

#[test]
fn list_of_a_directory_shows_fleets_as_fleets_by_name_and_exits_two_on_an_invalid_scenario() {
    let dir = temp_dir("list-dir");
    let fleet = std::fs::read_to_string(root().join("scenarios/fleets/reference.toml")).unwrap();
    write(&dir, "ref.toml", &fleet);
    write(
        &dir,
        "bare.toml",
        "fleet = \"builtin:reference\"\nduration = \"10m\"\n",
    );
    let out = fleetsim_out(&["list", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("reference ") && l.contains("fleet: one server of each role")),
        "{text}"
    );
    assert!(text.contains("(no description)"), "{text}");
    write(&dir, "broken.toml", "duration = 3\n");
    let out = fleetsim_out(&["list", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("INVALID"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 file is listed INVALID"));
}

#[test]
fn running_a_built_in_fleets_name_says_it_is_a_fleet_and_what_to_run() {
    let out = fleetsim_out(&["run", "reference"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"reference\" is a built-in fleet, not a scenario")
            && err.contains("fleetsim run primary-crash"),
        "{err}"
    );
}

#[test]
fn check_accepts_every_shipped_file() {
    let mut args = vec!["check".to_string()];
    args.extend(scenario_files().iter().map(|p| p.display().to_string()));
    args.push(
        root()
            .join("scenarios/fleets/reference.toml")
            .display()
            .to_string(),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = fleetsim_out(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_scenario_file_is_also_built_in() {
    let built_in: Vec<&str> = fleetsim_model::embedded::scenario_names().collect();
    for f in scenario_files() {
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(
            built_in.contains(&name.as_str()),
            "{name} is not in model::embedded::FILES"
        );
        let embedded = fleetsim_model::embedded::FILES
            .iter()
            .find(|(p, _)| *p == format!("{name}.toml"))
            .unwrap()
            .1;
        assert_eq!(
            embedded,
            std::fs::read_to_string(&f).unwrap(),
            "{name}: embedded copy is stale"
        );
    }
}

#[test]
fn a_panicking_server_handler_exits_three_and_the_html_report_says_error() {
    let dir = temp_dir("panic-html");
    let html = dir.join("r.html");
    let out = fleetsim_out(&[
        "run",
        "--inject-panic",
        "primary",
        "--report",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("error: the emulator panicked"), "{err}");
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains(r#"<span class="badge fail">ERROR</span>"#));
    assert!(html.contains("Emulator error") && html.contains("injected panic"));
}

#[test]
fn an_output_path_that_cannot_be_written_exits_two_before_the_run() {
    let dir = temp_dir("outputs");
    let missing = dir.join("no-such-dir/out.file");
    let missing = missing.to_str().unwrap();
    for flag in ["--events", "--report", "--junit", "--golden"] {
        let out = fleetsim_out(&["run", flag, missing]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(flag) && err.contains(missing) && err.contains("does not exist"),
            "{flag}: {err}"
        );
        assert!(out.stdout.is_empty(), "{flag}: the run went ahead");
    }
    let out = fleetsim_out(&["run", "--junit", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a directory"));
}

#[test]
fn an_output_given_as_a_symbolic_link_is_written_through_it() {
    let dir = temp_dir("outputs-through-links");
    let _ = std::fs::remove_file(dir.join("made-later.xml"));
    write(&dir, "kept.jsonl", "an earlier run's log\n");
    let link = |name: &str, to: &str| {
        let _ = std::fs::remove_file(dir.join(name));
        std::os::unix::fs::symlink(to, dir.join(name)).unwrap();
        dir.join(name).to_str().unwrap().to_string()
    };
    let (events, junit) = (
        link("events.lnk", "kept.jsonl"),
        link("junit.lnk", "made-later.xml"),
    );
    let out = fleetsim_out(&["run", "--events", &events, "--junit", &junit]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // The links stay links; the files they name hold this run's output.
    for name in ["events.lnk", "junit.lnk"] {
        let meta = std::fs::symlink_metadata(dir.join(name)).unwrap();
        assert!(meta.file_type().is_symlink(), "{name} was replaced");
    }
    let log = std::fs::read_to_string(dir.join("kept.jsonl")).unwrap();
    assert!(log.starts_with("{") && log.contains("run-started"), "{log}");
    assert!(
        std::fs::read_to_string(dir.join("made-later.xml"))
            .unwrap()
            .contains("<testsuite")
    );
    // A link into a directory that does not exist says where it points.
    let nowhere = link("nowhere.lnk", "/no-such-dir/out.xml");
    let out = fleetsim_out(&["run", "--junit", &nowhere]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("(a link to /no-such-dir/out.xml)") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn an_output_that_fails_to_write_after_the_run_prints_no_verdict_and_exits_three() {
    // /dev/full opens but refuses every byte: the check before the run
    // cannot see that, so the run goes ahead and its write fails. Nothing
    // on stdout may then read as a pass while the exit code says 3.
    if !std::path::Path::new("/dev/full").exists() {
        return;
    }
    for flag in ["--events", "--report", "--junit"] {
        for format in ["text", "json"] {
            let out = fleetsim_out(&["run", "--format", format, flag, "/dev/full"]);
            assert_eq!(out.status.code(), Some(3), "{flag} {format}");
            assert!(out.stdout.is_empty(), "{flag} {format}: {out:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("cannot write /dev/full")
                    && err.contains("the run ended PASSED, but its output is incomplete")
                    && !err.contains("emulator failed"),
                "{flag} {format}: {err}"
            );
        }
    }
}

#[test]
fn a_negative_seed_is_refused_as_a_bad_value_with_no_tip_that_fails_too() {
    for args in [
        &["run", "--seed", "-1"][..],
        &["sweep", "primary-crash", "--seeds", "-2"],
        &["chaos", "--seed", "-1"],
    ] {
        let out = fleetsim_out(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("invalid value '-") && !err.contains("'-- -"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn an_output_path_that_is_an_input_or_another_output_exits_two_and_destroys_nothing() {
    let dir = temp_dir("outputs-inputs");
    let fleet = small_fleet_file(&dir);
    let scenario = write(
        &dir,
        "s.toml",
        &format!(
            "name = \"s\"\nfleet = \"{}\"\nseed = 1\nduration = \"10m\"\n",
            fleet.file_name().unwrap().to_str().unwrap()
        ),
    );
    let before = std::fs::read_to_string(&scenario).unwrap();
    let (s, f) = (scenario.to_str().unwrap(), fleet.to_str().unwrap());
    let same = dir.join("same.out");
    let same = same.to_str().unwrap();
    for (args, says) in [
        (vec!["--events", s], "is the scenario file"),
        (vec!["--report", f], "is the scenario's fleet file"),
        (
            vec!["--golden", s, "--update-golden"],
            "is the scenario file",
        ),
        (
            vec!["--report", same, "--junit", same],
            "also the file of --report",
        ),
    ] {
        let mut all = vec!["run", s];
        all.extend(&args);
        let out = fleetsim_out(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&scenario).unwrap(), before);

    // A golden file compared with is read, so it is an input too.
    let golden = dir.join("g.json");
    let g = golden.to_str().unwrap();
    let out = fleetsim_out(&["run", s, "--golden", g]);
    assert_eq!(out.status.code(), Some(0), "recorded");
    let recorded = std::fs::read_to_string(&golden).unwrap();
    let out = fleetsim_out(&["run", s, "--golden", g, "--events", g]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the golden file"));
    assert_eq!(std::fs::read_to_string(&golden).unwrap(), recorded);

    // And up's fleet file.
    let mut cmd = fleetsim();
    cmd.args(["up", f, "--events", f])
        .env_remove("FLEETSIM_CONTROL");
    let (code, _, err) = outcome_within(cmd, 20);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is the fleet file"), "{err}");
}

#[test]
fn a_golden_file_that_is_not_a_golden_timeline_exits_two_before_the_run() {
    let dir = temp_dir("bad-golden");
    let golden = write(&dir, "g.json", "not json");
    let out = fleetsim_out(&["run", "--golden", golden.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--golden"));
    assert!(out.stdout.is_empty(), "the run went ahead");
}

#[test]
fn usage_errors_exit_two() {
    for args in [
        &["run", "--no-such-flag"][..],
        &["no-such-command"],
        &["sweep", "primary-crash"],
        &["run", "--seed", "many"],
    ] {
        let out = fleetsim_out(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn a_blank_token_is_refused_as_a_usage_error() {
    let port = 40_000 + (std::process::id() % 5_000) as u16;
    let control = format!("0.0.0.0:{port}");
    let base = (port + 10_000).to_string();
    let cases: [(&[&str], Option<&str>); 4] = [
        (&["--token", ""], None),
        (&["--token", " "], None),
        (&[], Some("")),
        (&[], Some(" \t")),
    ];
    for (args, env) in cases {
        let mut cmd = fleetsim();
        cmd.args(["up", "--control", &control, "--base-port", &base])
            .args(args)
            .env_remove("FLEETSIM_TOKEN");
        if let Some(v) = env {
            cmd.env("FLEETSIM_TOKEN", v);
        }
        let (code, err) = exit_code_within(cmd, 20);
        assert_eq!(code, Some(2), "{args:?} {env:?}: {err}");
        assert!(err.contains("token"), "{err}");
    }
    let mut ctl = fleetsim();
    ctl.args(["ctl", "--token", " ", "status"]);
    let (code, err) = exit_code_within(ctl, 20);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn a_long_run_says_how_long_it_will_take() {
    let dir = temp_dir("long-run-note");
    let fleet = std::fs::read_to_string(root().join("scenarios/fleets/reference.toml")).unwrap();
    write(&dir, "fleets/reference.toml", &fleet);
    let s = write(
        &dir,
        "long.toml",
        "fleet = \"fleets/reference.toml\"\nduration = \"60d\"\n",
    );
    let mut cmd = fleetsim();
    cmd.args(["run", s.to_str().unwrap()]);
    let (_, err) = exit_code_within(cmd, 3);
    assert!(
        err.contains("note: this run will take roughly")
            && err.contains("44 phones and 7 lines × 60d emulated"),
        "{err}"
    );
    // Lines cost too: many servers without a phone still make a long run.
    let mut servers = String::new();
    for i in 0..60 {
        let role = match i {
            0 => "primary",
            1 => "secondary",
            _ => "expansion-linux",
        };
        servers.push_str(&format!("[[server]]\nname = \"s{i}\"\nrole = \"{role}\"\n"));
    }
    write(&dir, "fleets/servers.toml", &servers);
    let s = write(
        &dir,
        "servers.toml",
        "fleet = \"fleets/servers.toml\"\nduration = \"90d\"\n",
    );
    let mut cmd = fleetsim();
    cmd.args(["run", s.to_str().unwrap()]);
    let (_, err) = exit_code_within(cmd, 3);
    assert!(
        err.contains("note: this run will take roughly") && err.contains("0 phones and 117 lines"),
        "{err}"
    );
    let short = fleetsim_out(&["run", "primary-crash"]);
    assert!(!String::from_utf8_lossy(&short.stderr).contains("note: this run"));
}

#[test]
fn a_long_sweep_says_how_long_it_will_take() {
    let dir = temp_dir("long-sweep-note");
    let fleet = std::fs::read_to_string(root().join("scenarios/fleets/reference.toml")).unwrap();
    write(&dir, "fleets/reference.toml", &fleet);
    let s = write(
        &dir,
        "day.toml",
        "fleet = \"fleets/reference.toml\"\nduration = \"1d\"\n",
    );
    let mut cmd = fleetsim();
    cmd.args([
        "sweep",
        s.to_str().unwrap(),
        "--seeds",
        "1000",
        "--jobs",
        "2",
    ]);
    let (_, err) = exit_code_within(cmd, 3);
    assert!(
        err.contains("note: this sweep will take roughly")
            && err.contains("1000 runs of about")
            && err.contains("on 2 threads"),
        "{err}"
    );
    let short = fleetsim_out(&["sweep", "primary-crash", "--seeds", "2"]);
    assert!(!String::from_utf8_lossy(&short.stderr).contains("note: this sweep"));
}

#[test]
fn up_refuses_a_call_rate_beyond_the_file_limit() {
    for flag in ["--calls-per-hour", "--portal-changes-per-hour"] {
        let mut cmd = fleetsim();
        cmd.args([
            "up",
            flag,
            "2000000",
            "--base-port",
            "47000",
            "--control",
            "127.0.0.1:46999",
        ]);
        let (code, err) = exit_code_within(cmd, 20);
        assert_eq!(code, Some(2), "{flag}: {err}");
        assert!(err.contains("at most 1000000"), "{err}");
    }
}

#[test]
fn a_reboot_just_under_three_minutes_fails_over_or_not_depending_on_where_the_crash_falls_in_the_presence_period()
 {
    // The command the scenario's header prints, run exactly as printed.
    let text =
        std::fs::read_to_string(root().join("scenarios/three-minute-boundary.toml")).unwrap();
    let printed = text
        .lines()
        .find_map(|l| {
            l.trim_start_matches('#')
                .trim()
                .strip_prefix("fleetsim sweep ")
        })
        .expect("the header prints a sweep command");
    let args: Vec<&str> = std::iter::once("sweep")
        .chain(printed.split_whitespace())
        .collect();
    let out = fleetsim_out(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some placements fail over:\n{stdout}"
    );
    let (failed, runs) = stdout
        .lines()
        .find_map(|l| {
            let (failed, rest) = l.split_once(" of ")?;
            let runs = rest.strip_suffix(" runs failed; reproduce each with:")?;
            Some((failed.parse::<usize>().ok()?, runs.parse::<usize>().ok()?))
        })
        .unwrap_or_else(|| panic!("no failure count:\n{stdout}"));
    assert_eq!(runs, 10, "one presence period, 3 s apart");
    assert!(
        failed > 0 && failed < runs,
        "both outcomes occur: {failed} of {runs} placements failed over\n{stdout}"
    );
    assert!(stdout.contains("phones moved"), "{stdout}");
}

#[test]
fn the_registration_storm_moves_every_phone_of_the_primary_and_says_how_fast() {
    let out = fleetsim_out(&["bench", "--stage", "storm", "--storm-phones", "30"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["passed"], true, "{r}");
    let notes = r["notes"].to_string();
    assert!(notes.contains("30/30 phones on the secondary"), "{notes}");
    assert!(notes.contains("p99"), "{notes}");
    // Phones that try before the 3-minute rule allows are refused by it, and
    // by nothing else.
    for n in r["notes"].as_array().unwrap().iter().skip(1) {
        assert!(
            n.as_str()
                .unwrap()
                .ends_with("failover needs 3m of silence"),
            "{n}"
        );
    }
}

/// stdout of a command that must succeed.
fn ok_stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn ctl_and_watch_take_the_control_address_and_token_anywhere_or_from_the_environment() {
    let dir = temp_dir("ctl-flags-anywhere");
    let up = Up::start(
        &small_fleet_file(&dir),
        &["--speed", "10"],
        &[("FLEETSIM_TOKEN", "s3cret")],
    );
    let c = up.control.as_str();
    let token = [("FLEETSIM_TOKEN", "s3cret")];
    let after = up.fleetsim(&["ctl", "status", "--control", c, "--token", "s3cret"], &[]);
    assert!(ok_stdout(&after).contains("fleet small"));
    let before = up.fleetsim(&["ctl", "--control", c, "--token", "s3cret", "status"], &[]);
    assert!(ok_stdout(&before).contains("fleet small"));
    let env = up.fleetsim(&["ctl", "status"], &[("FLEETSIM_CONTROL", c), token[0]]);
    assert!(ok_stdout(&env).contains("fleet small"));
    let watch = up.fleetsim(&["watch", "--once"], &[("FLEETSIM_CONTROL", c), token[0]]);
    assert!(ok_stdout(&watch).contains("fleet small"));
    // A filter that can match nothing is refused, not a blank tail.
    for bad in ["cal-*", ""] {
        let w = up.fleetsim(
            &["watch", "--once", "--filter", bad],
            &[("FLEETSIM_CONTROL", c), token[0]],
        );
        assert_eq!(w.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8_lossy(&w.stderr).contains("matches no event and no server"));
    }
    let good = up.fleetsim(
        &["watch", "--once", "--filter", "call-*"],
        &[("FLEETSIM_CONTROL", c), token[0]],
    );
    assert!(ok_stdout(&good).contains("fleet small"));
    // The log's own sources are names to filter by too.
    for source in ["operator", "network", "runner"] {
        let w = up.fleetsim(
            &["watch", "--once", "--filter", source],
            &[("FLEETSIM_CONTROL", c), token[0]],
        );
        assert!(ok_stdout(&w).contains("fleet small"), "{source}");
    }
    // A flag wins over the environment.
    let flag_wins = up.fleetsim(
        &["ctl", "status", "--control", c],
        &[("FLEETSIM_CONTROL", "127.0.0.1:1"), token[0]],
    );
    assert!(ok_stdout(&flag_wins).contains("fleet small"));
    // Without either, ctl goes to the default address, not this fleet.
    let default = up.fleetsim(&["ctl", "status", "--token", "s3cret"], &[]);
    assert!(!String::from_utf8_lossy(&default.stdout).contains("fleet small"));
    // Without the token, or with another: the caller's mistake (exit 2),
    // saying how to give it, never an emulator failure.
    for given in [&[][..], &["--token", "wrong"][..]] {
        let out = up.fleetsim(&[&["ctl", "status", "--control", c], given].concat(), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        let how = if given.is_empty() {
            "give it with --token or FLEETSIM_TOKEN"
        } else {
            "give the token `fleetsim up` was started with"
        };
        assert!(err.contains(how), "{err}");
        assert!(!err.contains("emulator failed"), "{err}");
    }
}

#[test]
fn ctl_hints_name_a_token_given_by_flag_by_its_variable_and_run_as_printed() {
    let dir = temp_dir("ctl-token-hints");
    let up = Up::start(
        &small_fleet_file(&dir),
        &["--speed", "10"],
        &[("FLEETSIM_TOKEN", "s3cret")],
    );
    let c = up.control.as_str();
    let by_flag = |args: &[&str]| {
        up.fleetsim(
            &[&["ctl", "--control", c, "--token", "s3cret"], args].concat(),
            &[],
        )
    };
    ok_stdout(&by_flag(&["hang", "secondary"]));
    let heal = by_flag(&["heal"]);
    let out = ok_stdout(&heal);
    let err = String::from_utf8_lossy(&heal.stderr);
    assert!(
        !out.contains("s3cret") && !err.contains("s3cret"),
        "{out}{err}"
    );
    assert!(
        err.contains("export FLEETSIM_TOKEN to run them as printed"),
        "{err}"
    );
    let undo = out
        .lines()
        .find_map(|l| l.split("(undo: ").nth(1))
        .and_then(|u| u.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no undo hint: {out}"));
    assert_eq!(
        undo,
        format!("fleetsim ctl --control {c} --token \"$FLEETSIM_TOKEN\" clear 1")
    );
    let cleared = run_as_printed_with(undo, &[("FLEETSIM_TOKEN", "s3cret")]);
    assert!(ok_stdout(&cleared).contains("cleared: #1"), "{cleared:?}");
    // From the environment the token needs no flag, and no note.
    ok_stdout(&up.fleetsim(
        &["ctl", "--control", c, "hang", "secondary"],
        &[("FLEETSIM_TOKEN", "s3cret")],
    ));
    let heal = up.fleetsim(
        &["ctl", "--control", c, "heal"],
        &[("FLEETSIM_TOKEN", "s3cret")],
    );
    assert!(
        ok_stdout(&heal).contains(&format!("(undo: fleetsim ctl --control {c} clear 2)")),
        "{heal:?}"
    );
    assert!(!String::from_utf8_lossy(&heal.stderr).contains("note:"));
}

#[test]
fn every_hint_up_prints_works_pasted_as_printed_and_never_shows_the_token() {
    let dir = temp_dir("up-hints");
    let up = Up::start(
        &small_fleet_file(&dir),
        &["--speed", "10"],
        &[("FLEETSIM_TOKEN", "s3cret")],
    );
    assert!(!up.banner.contains("s3cret"), "{}", up.banner);
    let hints = up.hints();
    assert!(
        hints
            .iter()
            .all(|h| h.contains(&format!("--control {}", up.control))),
        "{hints:?}"
    );
    let token = [("FLEETSIM_TOKEN", "s3cret")];
    let crash = hints
        .iter()
        .find(|h| h.ends_with(" crash primary"))
        .unwrap();
    let out = run_as_printed_with(crash, &token);
    assert!(ok_stdout(&out).contains("applied: #1 crash primary"));
    let restart = hints
        .iter()
        .find(|h| h.ends_with(" restart primary"))
        .unwrap();
    let out = run_as_printed_with(restart, &token);
    assert!(ok_stdout(&out).contains("applied: restart primary"));
    let watch = hints
        .iter()
        .find(|h| h.starts_with("fleetsim watch"))
        .unwrap();
    let out = run_as_printed_with(&format!("{watch} --once"), &token);
    assert!(ok_stdout(&out).contains("fleet small"));
}

#[test]
fn a_base_port_whose_range_is_impossible_or_overlaps_the_control_port_is_bad_input() {
    let cases: [(&[&str], &str); 4] = [
        (&["up", "--base-port", "0"], "give a port from 1 up"),
        (
            &["up", "--base-port", "65534"],
            "past 65535; give at most 65531",
        ),
        (
            &["up", "--base-port", "47199", "--control", "127.0.0.1:47200"],
            "which includes --control 127.0.0.1:47200",
        ),
        (
            &[
                "run",
                "primary-crash",
                "--mode",
                "live",
                "--base-port",
                "65533",
            ],
            "past 65535",
        ),
    ];
    for (args, want) in cases {
        let mut cmd = fleetsim();
        cmd.args(args)
            .env_remove("FLEETSIM_TOKEN")
            .env_remove("FLEETSIM_CONTROL");
        let (code, err) = exit_code_within(cmd, 20);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn a_port_in_use_in_the_ephemeral_range_says_why_it_can_be_busy() {
    let Ok(range) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") else {
        eprintln!("skipped: this system does not say its ephemeral port range");
        return;
    };
    let lo: u16 = range.split_whitespace().next().unwrap().parse().unwrap();
    let note = fleetsim_scenario::live::ephemeral_note(lo);
    assert!(
        note.contains("ephemeral range") && note.contains(&format!("ports below {lo}")),
        "{note}"
    );
    assert_eq!(fleetsim_scenario::live::ephemeral_note(lo - 1), "");
}

#[test]
fn up_on_a_used_port_names_the_port_and_announces_nothing() {
    let dir = temp_dir("up-port-used");
    let fleet = small_fleet_file(&dir);
    let port = free_ports(4);
    let control = format!("127.0.0.1:{port}");
    let base = (port + 1).to_string();
    // The control API's port, then the secondary's (base + 1), held by someone else.
    for (held, flag) in [(port, "--control"), (port + 2, "--base-port")] {
        let _holder = std::net::TcpListener::bind(("127.0.0.1", held)).unwrap();
        let mut cmd = fleetsim();
        cmd.arg("up")
            .arg(&fleet)
            .args(["--control", &control, "--base-port", &base])
            .env_remove("FLEETSIM_TOKEN")
            .env_remove("FLEETSIM_CONTROL");
        let (code, out, err) = outcome_within(cmd, 20);
        assert_eq!(code, Some(2), "{flag}: {out}{err}");
        assert!(err.contains(&format!("port {held}")), "{err}");
        assert!(err.contains(flag), "{err}");
        assert!(
            out.is_empty(),
            "announced before binding every port:\n{out}"
        );
    }
}

#[test]
fn common_faults_given_as_flags_are_listed_with_ids_and_heal_leaves_only_what_is_not_a_link_fault()
{
    let dir = temp_dir("ctl-fault-flags");
    let up = Up::start(&small_fleet_file(&dir), &["--speed", "10"], &[]);
    let ctl = |args: &[&str]| {
        let mut all = vec!["ctl", "--control", &up.control];
        all.extend_from_slice(args);
        up.fleetsim(&all, &[])
    };
    let applied = [
        (
            &[
                "latency", "primary", "300ms", "--jitter", "50ms", "--for", "2m",
            ][..],
            "applied: #1 latency 300ms ± 50ms on primary",
        ),
        (
            &["partition", "primary,phones@primary", "--for", "10m"],
            "applied: #2 partition [primary, phones@primary] | rest",
        ),
        (
            &["one-way", "secondary", "primary"],
            "applied: #3 one-way loss: [secondary] → [primary] dropped",
        ),
        (
            &["stall", "phones@secondary"],
            "applied: #4 stall phones@secondary",
        ),
        (
            &["hang", "secondary", "--for", "1h"],
            "applied: #5 hang secondary",
        ),
        (
            &["clock-offset", "primary", "-30s"],
            "applied: #6 step primary's clock to -30s",
        ),
    ];
    for (args, want) in applied {
        let out = ok_stdout(&ctl(args));
        assert!(out.contains(want), "{args:?}: {out}");
    }
    let faults = ok_stdout(&ctl(&["faults"]));
    assert!(
        faults.contains("#1   since") && faults.contains("latency 300ms ± 50ms on primary  (until"),
        "{faults}"
    );
    assert!(faults.contains("#6") && !faults.contains("#7"), "{faults}");

    let heal = ok_stdout(&ctl(&["heal"]));
    for cleared in ["#1 latency", "#2 partition", "#3 one-way", "#4 stall"] {
        assert!(heal.contains(&format!("cleared: {cleared}")), "{heal}");
    }
    assert!(heal.contains("left in force, not link faults"), "{heal}");
    // Each fault left says how to undo it, with the flags given here.
    let undo = format!("(undo: fleetsim ctl --control {} clear 5)", up.control);
    assert!(heal.contains(&undo), "{heal}");
    assert!(
        heal.contains("#5   since") && heal.contains("hang secondary"),
        "{heal}"
    );
    assert!(heal.contains("#6") && heal.contains("clock"), "{heal}");

    let all = ok_stdout(&ctl(&["clear", "all"]));
    assert!(all.contains("no fault is in force now"), "{all}");
    assert!(ok_stdout(&ctl(&["faults"])).starts_with("no faults in force"));

    // A duration is read as the files read it; a bad one is bad input,
    // said without the TOML the flags were made into.
    let bad = ctl(&["latency", "primary", "3 parsecs"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.starts_with("error: invalid duration \"3 parsecs\""),
        "{err}"
    );
    assert!(
        !err.contains("latency = {") && !err.contains("<fault>"),
        "{err}"
    );
    // A negative one reaches the duration's own check, not clap's tip.
    for args in [
        &["latency", "primary", "-300ms"][..],
        &["partition", "primary", "--for", "-5m"],
    ] {
        let bad = ctl(args);
        assert_eq!(bad.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(
            err.contains("invalid duration \"-") && !err.contains("'-- -"),
            "{args:?}: {err}"
        );
    }

    // A fix is said in flags, never in the fault file's TOML, and the
    // commands in it carry the --control given.
    let flagged = |rest: &str| format!("`fleetsim ctl --control {} {rest}", up.control);
    for (args, says) in [
        (
            &["partition", "primary", "--for", "0s"][..],
            "such as --for 2m".to_string(),
        ),
        (
            &["failback", "nonsense"],
            flagged("failback voicemail-pro`"),
        ),
        (
            &["one-way", "primary", "primary"],
            flagged("one-way primary secondary`"),
        ),
        (
            &["flap", "primary", "--count", "0"],
            flagged("flap primary --period 1m"),
        ),
    ] {
        let bad = ctl(args);
        assert_eq!(bad.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&bad.stderr);
        assert!(
            err.contains(&says) && !err.contains(" = \""),
            "{args:?}: {err}"
        );
    }

    // A hung server is running: restarting it says how to get there.
    ok_stdout(&ctl(&["hang", "primary"]));
    let bad = ctl(&["restart", "primary"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("primary is running, hung") && err.contains("ctl clear"),
        "{err}"
    );
    ok_stdout(&ctl(&["clear", "all"]));

    // An operator action is sent, not applied: the fleet may refuse it
    // (the primary's voicemail is active), and says so in its log.
    let sent = ok_stdout(&ctl(&["activate-backup"]));
    assert!(
        sent.starts_with("sent: operator") && sent.contains("whether the fleet took it"),
        "{sent}"
    );
}

#[test]
fn a_flap_of_thousands_of_steps_given_live_is_applied_at_once_and_its_reply_stays_short() {
    let dir = temp_dir("ctl-big-flap");
    let up = Up::start(&small_fleet_file(&dir), &["--speed", "10"], &[]);
    let out = up.fleetsim(
        &[
            "ctl",
            "--control",
            &up.control,
            "fault",
            "flap = { target = \"*\", period = \"1s\", duty = 0.5, count = 10000 }",
        ],
        &[],
    );
    let text = ok_stdout(&out);
    assert!(text.contains("… 39978 more steps, the last in"), "{text}");
    assert!(text.lines().count() < 40, "{text}");
}

#[test]
fn ctl_stop_ends_the_drill_and_up_writes_events_report_and_junit_with_the_live_faults_as_windows() {
    let dir = temp_dir("up-artefacts");
    let (events, report, junit) = (
        dir.join("drill.jsonl"),
        dir.join("drill.html"),
        dir.join("drill.xml"),
    );
    let mut up = Up::small_writing(
        &dir,
        &[
            ("--events", &events),
            ("--report", &report),
            ("--junit", &junit),
        ],
    );
    let c = up.control.clone();
    ok_stdout(&up.fleetsim(
        &["ctl", "latency", "primary", "300ms", "--control", &c],
        &[],
    ));
    ok_stdout(&up.fleetsim(&["ctl", "heal", "--control", &c], &[]));
    assert!(!report.exists(), "nothing is written before the drill ends");
    ok_stdout(&up.fleetsim(&["ctl", "stop", "--control", &c], &[]));
    assert_eq!(up.exit_within(20), Some(0), "up ends on ctl stop");

    let log = std::fs::read_to_string(&events).unwrap();
    assert!(log.contains("latency 300ms ± 0s on primary"), "{log}");
    // It ends as a run ends: the audit of the servers' disks, then run-ended.
    let last: Vec<&str> = log.lines().rev().take(2).collect();
    assert!(last[0].contains(r#""event":"run-ended""#), "{log}");
    assert!(last[1].contains(r#""event":"audit""#), "{log}");
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains(r#"class="fault"><title>latency 300ms ± 0s on primary</title>"#),
        "the live fault is not a fault window"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<testsuite "), "{xml}");
}

#[test]
fn up_refuses_an_output_it_cannot_write_before_the_fleet_starts() {
    let dir = temp_dir("up-unwritable");
    let mut cmd = fleetsim();
    let port = free_ports(4);
    cmd.arg("up")
        .arg(small_fleet_file(&dir))
        .args(["--control", &format!("127.0.0.1:{port}")])
        .args(["--base-port", &(port + 1).to_string()])
        .args(["--report", dir.join("no/such/dir/r.html").to_str().unwrap()])
        .env_remove("FLEETSIM_CONTROL");
    let (code, out, err) = outcome_within(cmd, 20);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(
        err.contains("--report") && err.contains("does not exist"),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
}

#[test]
fn ctrl_c_ends_the_drill_and_up_writes_its_event_log() {
    let dir = temp_dir("up-ctrl-c");
    let events = dir.join("drill.jsonl");
    let mut up = Up::small_writing(&dir, &[("--events", &events)]);
    let c = up.control.clone();
    ok_stdout(&up.fleetsim(&["ctl", "crash", "secondary", "--control", &c], &[]));
    up.interrupt();
    assert_eq!(up.exit_within(20), Some(0), "up ends on Ctrl-C");
    let log = std::fs::read_to_string(&events).unwrap();
    assert!(log.contains(r#""fault":"crash secondary""#), "{log}");
}

#[test]
fn sigterm_ends_the_drill_as_ctrl_c_does_and_up_writes_its_files() {
    let dir = temp_dir("up-sigterm");
    let (events, report) = (dir.join("drill.jsonl"), dir.join("drill.html"));
    let mut up = Up::small_writing(&dir, &[("--events", &events), ("--report", &report)]);
    up.signal("-TERM");
    assert_eq!(up.exit_within(20), Some(0), "up ends on SIGTERM");
    let log = std::fs::read_to_string(&events).unwrap();
    assert!(log.contains(r#""event":"run-ended""#), "{log}");
    let html = std::fs::read_to_string(&report).unwrap();
    // A live drill has no command that replays it, and says so.
    assert!(html.contains("a live drill"), "{html}");
    assert!(!html.contains("fleetsim run"), "{html}");
}

#[test]
fn up_whose_stdout_is_closed_still_runs_the_drill_and_writes_its_files() {
    use std::io::BufRead as _;
    let dir = temp_dir("up-closed-stdout");
    let events = dir.join("drill.jsonl");
    let port = free_ports(4);
    let control = format!("127.0.0.1:{port}");
    let mut child = fleetsim()
        .arg("up")
        .arg(small_fleet_file(&dir))
        .args([
            "--control",
            &control,
            "--base-port",
            &(port + 1).to_string(),
        ])
        .args(["--speed", "10", "--events", events.to_str().unwrap()])
        .env_remove("FLEETSIM_CONTROL")
        .env_remove("FLEETSIM_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // As `up … | head -1`: one line read, then the pipe closes.
    let mut first = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    drop(out);
    let stop = |args: &[&str]| {
        fleetsim()
            .args(args)
            .args(["--control", &control])
            .env_remove("FLEETSIM_CONTROL")
            .output()
            .unwrap()
    };
    // Retried until the control API answers (it binds before announcing).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !stop(&["ctl", "stop"]).status.success() {
        assert!(
            std::time::Instant::now() < deadline,
            "ctl stop never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let log = std::fs::read_to_string(&events).unwrap();
    assert!(log.contains(r#""event":"run-ended""#), "{log}");
}

#[test]
fn ctl_pointed_at_something_other_than_a_control_api_says_so_as_a_usage_error() {
    let dir = temp_dir("ctl-wrong-address");
    let http = format!("127.0.0.1:{}", free_port());
    let up = Up::start(
        &small_fleet_file(&dir),
        &["--speed", "10", "--http", &http],
        &[],
    );
    let member = up
        .banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("primary").map(str::trim))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_string();
    for (addr, says) in [
        (member.as_str(), "not as fleetsim's control API"),
        (http.as_str(), "did not answer as fleetsim"),
    ] {
        let out = up.fleetsim(&["ctl", "--control", addr, "faults"], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{addr}: {err}");
        assert!(err.contains(says), "{addr}: {err}");
        assert!(!err.contains("emulator failed"), "{err}");
    }
    // A host name is looked up: localhost is the loopback address.
    let port = up.control.rsplit(':').next().unwrap();
    let out = up.fleetsim(
        &["ctl", "--control", &format!("localhost:{port}"), "faults"],
        &[],
    );
    assert!(ok_stdout(&out).starts_with("no faults in force"));
}

#[test]
fn ctl_at_an_address_that_takes_connections_but_never_answers_is_a_usage_error() {
    // A listener that never accepts: the kernel completes the handshake, as
    // for a `fleetsim up` suspended with Ctrl-Z.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let out = fleetsim_out(&["ctl", "--control", &addr, "status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("answered nothing within 10 s"), "{err}");
    assert!(!err.contains("emulator failed"), "{err}");
}

#[test]
fn the_live_page_shows_the_drill_so_far_and_then_the_fault_applied_with_ctl() {
    let dir = temp_dir("live-page");
    let http = format!("127.0.0.1:{}", free_port());
    let up = Up::start(
        &small_fleet_file(&dir),
        &["--speed", "10", "--http", &http],
        &[],
    );
    let url = up.page_url();
    assert_eq!(url, format!("http://{http}/"));
    assert!(
        up.banner.contains(&format!("open {url} in a browser")),
        "{}",
        up.banner
    );
    let (status, before) = http_get(&url);
    assert_eq!(status, 200, "{before}");
    // The report `--report` writes, with the script that keeps it current.
    assert!(before.contains("<title>fleetsim · live drill on small</title>"));
    assert!(
        before.contains("fleet small (2 servers, 4 phones)"),
        "{before}"
    );
    assert!(
        before.contains(r#"<tr class="k-"#),
        "no timeline entry: {before}"
    );
    assert!(before.contains("fetch('/report'"), "{before}");
    // When the fleet goes away, the page says so on the page itself.
    assert!(
        before.contains("Not updating: the fleet has stopped or cannot be reached."),
        "{before}"
    );
    assert!(!before.contains("k-fault-applied\"><td"), "{before}");

    let crash = up.fleetsim(&["ctl", "--control", &up.control, "crash", "primary"], &[]);
    assert!(ok_stdout(&crash).contains("applied: #1 crash primary"));
    let (status, after) = http_get(&format!("{url}report"));
    assert_eq!(status, 200);
    assert!(
        after.contains(r#"<tr class="k-fault-applied">"#) && after.contains("crash primary"),
        "{after}"
    );
    assert!(
        !after.contains("fetch('/report'"),
        "/report is the report alone"
    );
    assert_eq!(http_get(&format!("{url}nothing-here")).0, 404);
}

#[test]
fn a_live_page_with_a_token_needs_it_and_the_banner_never_shows_it() {
    let dir = temp_dir("live-page-token");
    let http = format!("127.0.0.1:{}", free_port());
    let up = Up::start(
        &small_fleet_file(&dir),
        &["--speed", "10", "--http", &http],
        &[("FLEETSIM_TOKEN", "s3cret")],
    );
    assert!(!up.banner.contains("s3cret"), "{}", up.banner);
    let url = up.page_url();
    assert_eq!(http_get(&url).0, 401);
    assert_eq!(http_get(&format!("{url}?token=wrong")).0, 401);
    let (status, page) = http_get(&format!("{url}?token=s3cret"));
    assert_eq!(status, 200);
    assert!(page.contains("live drill on small"));
}

#[test]
fn a_live_page_off_loopback_without_a_token_is_refused() {
    let dir = temp_dir("live-page-open");
    let port = free_ports(4);
    let mut cmd = fleetsim();
    cmd.arg("up")
        .arg(small_fleet_file(&dir))
        .args(["--control", &format!("127.0.0.1:{port}")])
        .args(["--base-port", &(port + 1).to_string()])
        .args(["--http", &format!("0.0.0.0:{}", port + 3)])
        .env_remove("FLEETSIM_TOKEN");
    let (code, err) = exit_code_within(cmd, 20);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("live page") && err.contains("token"), "{err}");
}

#[test]
fn a_live_page_port_in_use_is_a_usage_error_naming_the_port() {
    let dir = temp_dir("live-page-in-use");
    let port = free_ports(4);
    let held = std::net::TcpListener::bind(("127.0.0.1", port + 3)).unwrap();
    let mut cmd = fleetsim();
    cmd.arg("up")
        .arg(small_fleet_file(&dir))
        .args(["--control", &format!("127.0.0.1:{port}")])
        .args(["--base-port", &(port + 1).to_string()])
        .args(["--http", &format!("127.0.0.1:{}", port + 3)])
        .env_remove("FLEETSIM_TOKEN");
    let (code, out, err) = outcome_within(cmd, 20);
    drop(held);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("port {}", port + 3)), "{err}");
    assert!(
        !out.contains("is up"),
        "announced a fleet it could not serve: {out}"
    );
}

#[test]
fn a_run_refused_for_bad_input_leaves_no_earlier_junit_or_report_behind() {
    let dir = temp_dir("stale-outputs");
    let junit = write(&dir, "run.xml", "<testsuites tests=\"18\" failures=\"0\"/>");
    let report = write(&dir, "run.html", "an earlier run's report");
    let bad = write(
        &dir,
        "bad.toml",
        "fleet = \"builtin:reference\"\nduration = \"soon\"\n",
    );
    let out = fleetsim_out(&[
        "run",
        bad.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !junit.exists() && !report.exists(),
        "a CI job would publish the earlier run's passes as this one's"
    );
}

#[test]
fn address_mistakes_a_person_makes_get_the_address_that_would_work() {
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "up",
                "--control",
                "127.0.0.1:47700",
                "--http",
                "127.0.0.1:47700",
            ],
            "are the same port",
        ),
        (&["up", "--http", "47780"], "for example 127.0.0.1:47780"),
        (
            &["ctl", "--control", "http://127.0.0.1:47100/", "status"],
            "without its scheme: 127.0.0.1:47100",
        ),
        (&["up", "--speed", "-1"], "--speed"),
    ];
    for (args, says) in cases {
        let out = fleetsim_out(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("'-- -1'"), "{args:?}: {err}");
    }
}

#[test]
fn json_as_a_flag_is_pointed_to_format_json_where_there_is_one() {
    let out = fleetsim_out(&["run", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tip: for JSON output, use '--format json'") && !err.contains("-- --json"),
        "{err}"
    );
    // A command without --format keeps clap's own words.
    let out = fleetsim_out(&["ctl", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("--format json"));
}

#[test]
fn up_on_ports_zero_prints_the_ports_it_was_given_and_its_hints_reach_them() {
    use std::io::BufRead as _;
    let dir = temp_dir("up-port-zero");
    let base = free_ports(4).to_string();
    let mut child = fleetsim()
        .arg("up")
        .arg(small_fleet_file(&dir))
        .args(["--control", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(["--base-port", &base, "--speed", "10"])
        .env_remove("FLEETSIM_TOKEN")
        .env_remove("FLEETSIM_CONTROL")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(child.stdout.take().unwrap());
    let banner: Vec<String> = out
        .lines()
        .map_while(Result::ok)
        .take_while(|l| !l.starts_with("Ctrl-C stops the fleet"))
        .collect();
    let control = banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("control API"))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| panic!("no control API line: {banner:?}"));
    assert!(
        control.starts_with("127.0.0.1:") && !control.ends_with(":0"),
        "{control}"
    );
    assert!(
        banner
            .iter()
            .any(|l| l.contains(&format!("--control {control}"))),
        "{banner:?}"
    );
    // Two ports 0 are two free ports, never one clash.
    let page = banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("live page"))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| panic!("no live page line: {banner:?}"));
    assert!(
        page.starts_with("http://127.0.0.1:") && !page.contains(":0/") && !page.contains(&control),
        "{page}"
    );
    let stop = fleetsim_out(&["ctl", "stop", "--control", &control]);
    let done = child.wait().unwrap();
    assert!(stop.status.success(), "{stop:?}");
    assert!(done.success());
}
