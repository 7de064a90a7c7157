//! Every printed promise holds: a reproduce command runs as printed and
//! gives the same verdict, every view agrees on a golden mismatch, output
//! paths are checked before the run, a run that checks nothing says so,
//! built-in scenarios and fleets are reachable by name from anywhere, a
//! misspelt name gets the nearest, and the docs stay inside the repository.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use fleetsim_scenario::golden::{Golden, Milestone, VERSION};

const NOTHING_CHECKED: &str = "no expectations: nothing was checked";

/// XML and HTML text back to what it says.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The text between `start` and the next `end` in `s`.
fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = s.find(start)? + start.len();
    s[from..].find(end).map(|to| &s[from..from + to])
}

/// What one failing run printed to reproduce it, in each view.
struct Printed {
    code: i32,
    verdict: String,
    commands: Vec<(&'static str, String)>,
}

/// Runs `fleetsim run ARGS` as text (with `--junit` and `--report`) and as
/// JSON, and collects the reproduce command of every view.
fn printed(dir: &Path, args: &[&str]) -> Printed {
    let v = verdicts(dir, args);
    let html = dir.join("r.html");
    let with_report = [&["run"], args, &["--report", html.to_str().unwrap()]].concat();
    assert_eq!(fleetsim_out(&with_report).status.code(), Some(v.code));
    let html = std::fs::read_to_string(html).unwrap();
    let footer = between(&html, "reproduce with <code>", "</code>").expect("HTML footer");
    let junit = between(&v.junit, "reproduce: ", "</").expect("JUnit reproduce line");
    let text = between(&v.text_report, "Reproduce: ", "\n").expect("text Reproduce line");
    Printed {
        code: v.code,
        verdict: v.text,
        commands: vec![
            ("text", text.to_string()),
            ("json", v.json["reproduce"].as_str().unwrap().to_string()),
            ("junit", unescape(junit)),
            ("html", unescape(footer)),
        ],
    }
}

/// Every view printed one command, and that command, run as printed,
/// gives the same exit code and verdict line.
#[track_caller]
fn reproduces(p: &Printed, expected: &str) {
    for (view, cmd) in &p.commands {
        assert_eq!(cmd, expected, "{view} prints another command");
    }
    let again = run_as_printed(expected);
    let text = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        again.status.code(),
        Some(p.code),
        "{expected}\n{text}\n{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        text.contains(&p.verdict),
        "{expected}: not {}\n{text}",
        p.verdict
    );
}

#[test]
fn a_failing_file_is_reproduced_by_its_path_from_every_view_even_with_a_space_in_it() {
    let dir = temp_dir("reproduce a file");
    let s = failing_scenario(&dir);
    let p = printed(&dir, &[s.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(p.code, 1);
    reproduces(&p, &format!("fleetsim run '{}' --seed 3", s.display()));
}

#[test]
fn a_failing_built_in_is_reproduced_by_its_name_with_its_policy_and_moved_fault() {
    let dir = temp_dir("reproduce-builtin");
    // A crash a minute before the end leaves no time for the takeover.
    let args = ["primary-crash", "--seed", "7", "--policy", "quorum"];
    let p = printed(&dir, &[&args[..], &["--fault-at", "0=29m"]].concat());
    assert_eq!(p.code, 1, "{}", p.verdict);
    reproduces(
        &p,
        "fleetsim run primary-crash --seed 7 --policy quorum --fault-at 0=29m",
    );
}

#[test]
fn an_emulator_error_is_reproduced_with_the_hook_that_caused_it() {
    let dir = temp_dir("reproduce-error");
    let p = printed(&dir, &["primary-crash", "--inject-panic", "primary"]);
    assert_eq!(p.code, 3);
    reproduces(
        &p,
        "fleetsim run primary-crash --seed 42 --inject-panic primary",
    );
}

#[test]
fn a_failing_sweep_prints_commands_that_run_as_printed() {
    let dir = temp_dir("reproduce sweep");
    let s = failing_scenario(&dir);
    let out = fleetsim_out(&["sweep", s.to_str().unwrap(), "--seeds", "2", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    let cmd = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("fleetsim run "))
        .unwrap_or_else(|| panic!("no command in:\n{text}"));
    assert_eq!(cmd, format!("fleetsim run '{}' --seed 1", s.display()));
    let again = run_as_printed(cmd);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stdout).contains("Verdict: FAILED"));
}

/// Records `primary-crash`'s golden timeline in `g` (a passing run).
fn record_golden(g: &str) {
    let out = fleetsim_out(&["run", "primary-crash", "--golden", g]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn a_golden_mismatch_fails_in_text_json_junit_and_exit_code_alike() {
    let dir = temp_dir("golden-agree");
    let g = dir.join("g.json");
    let g = g.to_str().unwrap();
    record_golden(g);
    let same = verdicts(&dir, &["primary-crash", "--golden", g]);
    assert_eq!(same.code, 0);
    assert!(
        same.text.contains("PASSED (2/2 expectations)"),
        "{}",
        same.text
    );
    assert_eq!(junit_counts(&same.junit), (2, 0, 0), "{}", same.junit);

    let moved = verdicts(
        &dir,
        &["primary-crash", "--golden", g, "--fault-at", "0=6m"],
    );
    assert_eq!(moved.code, 1);
    assert_eq!(moved.text, "Verdict: FAILED (1/2 expectations hold)");
    assert!(moved.text_report.trim_end().ends_with(&moved.text));
    assert_eq!(moved.json["passed"], false);
    let golden = &moved.json["expectations"][1];
    assert_eq!(golden["name"], format!("golden timeline {g}"));
    assert_eq!(golden["passed"], false);
    assert!(
        golden["detail"].as_str().unwrap().contains(" from "),
        "a count of differences from the golden file"
    );
    assert_eq!(junit_counts(&moved.junit), (2, 1, 0), "{}", moved.junit);
    assert!(
        moved
            .junit
            .contains(&format!("name=\"golden timeline {g}\""))
    );
    // Under the golden check, every difference on its own line.
    assert!(
        moved
            .text_report
            .contains("\n        - \"fault crash primary\" moved from 5m to 6m\n"),
        "{}",
        moved.text_report
    );
}

fn golden(milestones: &[(&str, u64)], takeover_ms: u64) -> Golden {
    Golden {
        fleetsim_golden: VERSION,
        scenario: "primary-crash".into(),
        seed: 42,
        policy: "server-edition".into(),
        milestones: milestones
            .iter()
            .map(|(k, t)| Milestone {
                key: k.to_string(),
                t_ms: *t,
            })
            .collect(),
        figures: BTreeMap::from([("takeover".to_string(), Some(takeover_ms))]),
        expectations: BTreeMap::new(),
    }
}

#[test]
fn a_moved_fault_keeps_a_golden_timeline_s_expectations_by_their_names_as_written() {
    let dir = temp_dir("golden-fault-at");
    let g = dir.join("g.golden");
    let g = g.to_str().unwrap();
    record_golden(g);
    // The takeover's derived name says "after 6m" now; the golden knows it
    // by its name in the file, and the move itself is within tolerance.
    let moved = fleetsim_out(&[
        "run",
        "primary-crash",
        "--golden",
        g,
        "--golden-tolerance",
        "2m",
        "--fault-at",
        "0=6m",
    ]);
    let out = String::from_utf8_lossy(&moved.stdout);
    assert!(
        !out.contains("is gone") && !out.contains("new expectation"),
        "{out}"
    );
    assert_eq!(moved.status.code(), Some(0), "{out}");
}

#[test]
fn a_golden_move_hidden_by_rounding_shows_milliseconds() {
    let was = golden(&[("secondary lost primary", 451_160)], 188_100);
    let now = golden(&[("secondary lost primary", 451_400)], 188_400);
    let diff = was.diff(&now, 0).join("\n");
    assert!(
        diff.contains("takeover moved from 3m8s100ms to 3m8s400ms"),
        "{diff}"
    );
    assert!(
        diff.contains("\"secondary lost primary\" moved from 7m31s160ms to 7m31s400ms"),
        "{diff}"
    );
}

#[test]
fn a_golden_move_that_follows_a_moved_fault_is_shown_relative_to_it() {
    let fault = "fault crash primary";
    let was = golden(
        &[
            (fault, 300_000),
            ("secondary lost primary", 451_160),
            ("apps lost primary", 454_000),
        ],
        188_100,
    );
    let now = golden(
        &[
            (fault, 360_000),
            ("secondary lost primary", 511_160),
            ("apps lost primary", 520_000),
        ],
        188_100,
    );
    let diff = was.diff(&now, 0).join("\n");
    assert!(
        diff.contains("\"fault crash primary\" moved from 5m to 6m"),
        "{diff}"
    );
    assert!(
        diff.contains("\"secondary lost primary\" moved from 7m31s to 8m31s with \"fault crash primary\": 2m31s after it, as before"),
        "{diff}"
    );
    assert!(
        diff.contains("\"apps lost primary\" moved from 7m34s to 8m40s with \"fault crash primary\": 2m40s after it, was 2m34s"),
        "{diff}"
    );
}

#[test]
fn an_unwritable_output_path_exits_two_before_a_long_run_starts() {
    let dir = temp_dir("outputs-first");
    let long = write(
        &dir,
        "long.toml",
        "fleet = \"builtin:reference\"\nduration = \"60d\"\n",
    );
    let missing = dir.join("no-such-dir/out.file");
    for flag in ["--events", "--report", "--junit", "--golden"] {
        let mut cmd = fleetsim();
        cmd.args([
            "run",
            long.to_str().unwrap(),
            flag,
            missing.to_str().unwrap(),
        ]);
        let (code, err) = exit_code_within(cmd, 20);
        assert_eq!(code, Some(2), "{flag}: {err}");
        assert!(
            err.contains(flag) && err.contains("does not exist"),
            "{flag}: {err}"
        );
        assert!(!err.contains("note: this run will take"), "{flag}: {err}");
    }
    // chaos writes its violations under --out: checked before the campaign.
    let file = write(&dir, "a-file", "");
    let mut chaos = fleetsim();
    let out = file.join("sub");
    chaos.args([
        "chaos",
        "--schedules",
        "1000",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (code, err) = exit_code_within(chaos, 20);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--out"), "{err}");
}

#[test]
fn a_scenario_without_expectations_says_nothing_was_checked_in_every_view() {
    let dir = temp_dir("nothing-checked");
    let s = on_builtin_fleet(
        &dir,
        "unchecked.toml",
        "[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n",
    );
    let v = verdicts(&dir, &[s.to_str().unwrap()]);
    assert_eq!(v.code, 0);
    assert_eq!(v.text, format!("Verdict: PASSED ({NOTHING_CHECKED})"));
    assert_eq!(v.json["notes"][0], NOTHING_CHECKED);
    assert!(
        v.junit
            .contains(&format!("<skipped message=\"{NOTHING_CHECKED}\"/>"))
    );
    assert_eq!(junit_counts(&v.junit), (1, 0, 0));
    assert_eq!(junit_attr(&v.junit, "skipped"), 1);
    // No green badge on the HTML report either.
    let html = dir.join("unchecked.html");
    let out = fleetsim_out(&[
        "run",
        s.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let html = std::fs::read_to_string(html).unwrap();
    assert!(html.contains("NOTHING CHECKED</span></h1>"), "{html}");
    assert!(!html.contains(">PASSED<"));
}

#[test]
fn strict_fails_a_run_that_checks_nothing_in_every_view() {
    let dir = temp_dir("strict-run");
    let s = on_builtin_fleet(&dir, "unchecked.toml", "");
    let v = verdicts(&dir, &[s.to_str().unwrap(), "--strict"]);
    assert_eq!(v.code, 1);
    assert_eq!(
        v.text,
        format!("Verdict: FAILED (--strict: {NOTHING_CHECKED})")
    );
    assert!(v.text_report.contains(NOTHING_CHECKED));
    assert_eq!(v.json["passed"], false);
    assert_eq!(v.json["expectations"][0]["detail"], NOTHING_CHECKED);
    // JSON's notes say it, as for a run without --strict.
    assert_eq!(v.json["notes"][0], NOTHING_CHECKED);
    assert_eq!(junit_counts(&v.junit), (1, 1, 0), "{}", v.junit);
    // The rerun keeps --strict, so it fails too.
    let cmd = v.json["reproduce"].as_str().unwrap();
    assert!(cmd.ends_with(" --strict"), "{cmd}");
    assert_eq!(run_as_printed(cmd).status.code(), Some(1));
    // A scenario with expectations passes under --strict.
    assert_eq!(
        fleetsim_out(&["run", "primary-crash", "--strict"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn strict_fails_a_run_that_only_recorded_its_golden_timeline_and_its_rerun_agrees() {
    let dir = temp_dir("strict-golden");
    let s = on_builtin_fleet(&dir, "unchecked.toml", "");
    let golden = dir.join("g.golden");
    let args = [
        "run",
        s.to_str().unwrap(),
        "--strict",
        "--golden",
        golden.to_str().unwrap(),
        "--format",
        "json",
    ];
    // A mistyped or uncommitted golden path is recorded, not compared:
    // nothing was checked, and --strict says so.
    let recording = fleetsim_out(&args);
    assert!(golden.exists());
    assert_eq!(recording.status.code(), Some(1), "{recording:?}");
    let json: serde_json::Value = serde_json::from_slice(&recording.stdout).unwrap();
    assert!(
        json.to_string().contains("recorded in") && json.to_string().contains("not compared"),
        "{json}"
    );
    let rerun = run_as_printed(json["reproduce"].as_str().unwrap());
    assert_eq!(rerun.status.code(), Some(1), "{rerun:?}");
    // Once it exists, the same command compares with it: a check.
    assert_eq!(fleetsim_out(&args).status.code(), Some(0));
}

#[test]
fn strict_fails_a_sweep_that_checks_nothing() {
    let dir = temp_dir("strict-sweep");
    let s = on_builtin_fleet(&dir, "unchecked.toml", "");
    let s = s.to_str().unwrap();
    let lax = fleetsim_out(&["sweep", s, "--seeds", "2", "--jobs", "1"]);
    assert_eq!(lax.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&lax.stdout).contains(NOTHING_CHECKED));
    let strict = fleetsim_out(&["sweep", s, "--seeds", "2", "--jobs", "1", "--strict"]);
    assert_eq!(strict.status.code(), Some(1));
    let text = String::from_utf8_lossy(&strict.stdout);
    assert!(text.contains("2 of 2 runs failed"), "{text}");
    assert!(text.contains(" --seed 1 --strict"), "{text}");
}

#[test]
fn a_scenario_file_anywhere_runs_on_a_built_in_fleet() {
    let dir = temp_dir("builtin-fleet");
    let s = on_builtin_fleet(
        &dir,
        "mine.toml",
        "[[fault]]\nat = \"2m\"\ncrash = \"primary\"\n[[expect]]\ntakeover = { of = \"primary\", within = \"5m\" }\n",
    );
    let out = fleetsim_out(&["run", s.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Verdict: PASSED (1/1 expectations)"),
        "{text}"
    );
}

#[test]
fn an_unknown_built_in_fleet_names_the_nearest_and_every_built_in_fleet() {
    let dir = temp_dir("builtin-fleet-unknown");
    let s = write(
        &dir,
        "mine.toml",
        "fleet = \"builtin:refrence\"\nduration = \"10m\"\n",
    );
    let out = fleetsim_out(&["run", s.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "mine.toml:1:9: field `fleet`: there is no built-in fleet \"refrence\"",
        "did you mean \"builtin:reference\"?",
        "built-in fleets: builtin:reference",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
    }
}

#[test]
fn a_missing_fleet_path_named_like_a_built_in_fleet_suggests_it() {
    let dir = temp_dir("builtin-fleet-hint");
    let s = write(
        &dir,
        "mine.toml",
        "fleet = \"fleets/reference.toml\"\nduration = \"10m\"\n",
    );
    let out = fleetsim_out(&["check", s.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read fleet file"), "{err}");
    assert!(err.contains("write fleet = \"builtin:reference\""), "{err}");
}

#[test]
fn show_without_a_name_lists_every_built_in_scenario_and_fleet() {
    let out = fleetsim_out(&["show"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    let names =
        fleetsim_model::embedded::scenario_names().chain(fleetsim_model::embedded::fleet_names());
    for name in names {
        assert!(
            text.contains(&format!("\n  {name} ")),
            "{name} missing from:\n{text}"
        );
    }
}

#[test]
fn a_shown_scenario_copied_anywhere_runs_with_the_built_ins_verdict() {
    let dir = temp_dir("show-copy");
    for name in ["primary-crash", "primary-reboot-2m"] {
        let shown = fleetsim_out(&["show", name]);
        assert_eq!(shown.status.code(), Some(0));
        let text = String::from_utf8(shown.stdout).unwrap();
        assert!(text.contains("fleet = \"builtin:reference\""), "{text}");
        let copy = write(&dir, &format!("{name}.toml"), &text);
        let mine = fleetsim_out(&["run", copy.to_str().unwrap()]);
        let theirs = fleetsim_out(&["run", name]);
        assert_eq!(mine.status.code(), theirs.status.code(), "{name}");
        let verdict = |o: &std::process::Output| {
            let t = String::from_utf8_lossy(&o.stdout).into_owned();
            t.lines().last().unwrap_or_default().to_string()
        };
        assert_eq!(verdict(&mine), verdict(&theirs), "{name}");
    }
}

#[test]
fn show_prints_a_built_in_fleet_as_shipped() {
    let shipped = std::fs::read_to_string(root().join("scenarios/fleets/reference.toml")).unwrap();
    for name in ["reference", "builtin:reference"] {
        let out = fleetsim_out(&["show", name]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&out.stdout), shipped, "{name}");
    }
}

#[test]
fn a_misspelt_scenario_name_gets_the_nearest_in_every_command() {
    let cases: [&[&str]; 6] = [
        &["run", "primary-crsh"],
        &["sweep", "primary-crsh", "--seeds", "2"],
        &["determinism", "primary-crsh"],
        &["check", "primary-crsh"],
        &["show", "primary-crsh"],
        &["chaos", "primary-crsh", "--schedules", "1"],
    ];
    for args in cases {
        let out = fleetsim_out(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("did you mean primary-crash?"),
            "{args:?}: {err}"
        );
    }
    let out = fleetsim_out(&["run", "scenarios/primary-crsh.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("did you mean scenarios/primary-crash.toml?"),
        "{err}"
    );
}

#[test]
fn a_misspelt_fleet_name_gets_the_nearest_in_every_command() {
    let port = free_ports(6);
    let (base, control) = (port.to_string(), format!("127.0.0.1:{}", port + 5));
    let cases: [&[&str]; 3] = [
        &["show", "refrence"],
        &[
            "up",
            "refrence",
            "--base-port",
            &base,
            "--control",
            &control,
        ],
        &["conform", "127.0.0.1:1", "--fleet", "refrence"],
    ];
    for args in cases {
        let mut cmd = fleetsim();
        cmd.args(args);
        let (code, err) = exit_code_within(cmd, 20);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("did you mean reference?"), "{args:?}: {err}");
    }
}

/// Every `](target)` of a markdown text.
fn links(md: &str) -> Vec<&str> {
    md.split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .collect()
}

#[test]
fn every_link_in_the_readme_and_docs_stays_in_the_repository_and_exists() {
    let root = root();
    let mut pages = vec![root.join("README.md")];
    for e in std::fs::read_dir(root.join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            pages.push(p);
        }
    }
    for page in pages {
        let md = std::fs::read_to_string(&page).unwrap();
        for link in links(&md) {
            if link.starts_with("http") || link.starts_with('#') {
                continue;
            }
            let file = link.split('#').next().unwrap();
            let target = page.parent().unwrap().join(file);
            let target = target
                .canonicalize()
                .unwrap_or_else(|_| panic!("{}: {link} does not exist", page.display()));
            assert!(
                target.starts_with(&root),
                "{}: {link} leaves the repository",
                page.display()
            );
        }
    }
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains("](docs/architecture.md)"));
}

#[test]
fn the_architecture_notes_name_every_crate() {
    let notes = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    for e in std::fs::read_dir(root().join("crates")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            notes.contains(&format!("| `{name}` |")),
            "{name} missing from docs/architecture.md"
        );
    }
}

/// Runs fleetsim with `args`, its stdout and stderr closed by their reader
/// before it writes: the exit code it then gives.
fn code_with_output_closed(args: &[&str]) -> Option<i32> {
    let mut child = fleetsim()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    drop(child.stderr.take());
    child.wait().unwrap().code()
}

#[test]
fn a_failing_run_exits_1_though_its_reader_stops_early() {
    let dir = temp_dir("closed-pipe");
    let s = on_builtin_fleet(
        &dir,
        "tight.toml",
        "[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n[[expect]]\ntakeover = { of = \"primary\", within = \"1s\" }\n",
    );
    let s = s.to_str().unwrap();
    assert_eq!(code_with_output_closed(&["run", s, "-v"]), Some(1));
    assert_eq!(
        code_with_output_closed(&["sweep", s, "--seeds", "2", "--jobs", "1"]),
        Some(1)
    );
}

#[test]
fn bad_files_exit_2_though_the_reader_of_their_errors_stops_early() {
    let dir = temp_dir("closed-stderr");
    let files: Vec<String> = (0..50)
        .map(|i| {
            let p = dir.join(format!("bad{i}.toml"));
            std::fs::write(&p, "name = \"x\"\nduration = \"30\"\n").unwrap();
            p.to_string_lossy().into_owned()
        })
        .collect();
    let mut args = vec!["check"];
    args.extend(files.iter().map(String::as_str));
    assert_eq!(code_with_output_closed(&args), Some(2));
}
