//! Sharded sweeps: `fleetsim sweep … --shard K/N --out FILE` as separate
//! processes, merged by `fleetsim sweep-merge`, print what the unsharded
//! sweep prints and exit as it does.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

/// Runs the sweep `args` as `n` shard processes at once, each writing
/// `part-K.json` in `dir`; returns the part files, in shard order.
fn sweep_in_shards(args: &[&str], n: usize, dir: &Path) -> Vec<PathBuf> {
    let shards: Vec<(PathBuf, std::process::Child)> = (1..=n)
        .map(|k| {
            let part = dir.join(format!("part-{k}.json"));
            let child = fleetsim()
                .arg("sweep")
                .args(args)
                .args(["--jobs", "1", "--shard", &format!("{k}/{n}"), "--out"])
                .arg(&part)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            (part, child)
        })
        .collect();
    shards
        .into_iter()
        .map(|(part, child)| {
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "shard {}: {}",
                part.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            part
        })
        .collect()
}

/// Runs shard `k` of 2 of a two-seed sweep of `scenario` from `cwd`,
/// writing `part-K.json` in `dir`; returns that part file.
fn two_seed_shard(cwd: &Path, scenario: &std::ffi::OsStr, k: usize, dir: &Path) -> PathBuf {
    let part = dir.join(format!("part-{k}.json"));
    let out = fleetsim()
        .current_dir(cwd)
        .arg("sweep")
        .arg(scenario)
        .args([
            "--seeds",
            "2",
            "--jobs",
            "1",
            "--shard",
            &format!("{k}/2"),
            "--out",
        ])
        .arg(&part)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    part
}

/// `fleetsim sweep-merge` of `parts`, with `extra` arguments after them.
fn merge(parts: &[PathBuf], extra: &[&str]) -> Output {
    fleetsim()
        .arg("sweep-merge")
        .args(parts)
        .args(extra)
        .output()
        .unwrap()
}

/// Panics unless `merged` printed and exited exactly as `whole` did.
#[track_caller]
fn assert_same_summary(whole: &Output, merged: &Output) {
    let (w, m) = (
        String::from_utf8_lossy(&whole.stdout),
        String::from_utf8_lossy(&merged.stdout),
    );
    assert_eq!(
        m,
        w,
        "merged summary differs from the unsharded one; merge said: {}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert_eq!(merged.status.code(), whole.status.code(), "{m}");
}

#[test]
fn a_sweep_in_four_shard_processes_merges_to_the_unsharded_summary_byte_for_byte() {
    let dir = temp_dir("shards-four");
    // Two policies side by side: shards slice across policies too.
    let args = [
        "primary-crash",
        "--seeds",
        "3",
        "--policy",
        "server-edition,quorum",
    ];
    let parts = sweep_in_shards(&args, 4, &dir);
    let whole = fleetsim().arg("sweep").args(args).output().unwrap();
    let text = String::from_utf8_lossy(&whole.stdout);
    assert!(
        text.contains("runs failed") && text.contains("quorum"),
        "{text}"
    );
    // Shuffled on the command line: the order of the parts does not matter.
    let shuffled = [&parts[2], &parts[0], &parts[3], &parts[1]].map(|p| p.clone());
    assert_same_summary(&whole, &merge(&shuffled, &[]));
}

#[test]
fn a_failing_sharded_sweep_merges_to_the_same_failures_and_reproduce_commands_which_run_as_printed()
{
    let dir = temp_dir("shards-failing");
    // The crash across one presence period: some placements fail over.
    let args = [
        "three-minute-boundary",
        "--fault",
        "0",
        "--from",
        "5m",
        "--to",
        "5m27s",
        "--step",
        "9s",
    ];
    // Three shards of four placements: the first holds the first and last.
    let parts = sweep_in_shards(&args, 3, &dir);
    let whole = fleetsim()
        .arg("sweep")
        .args(args)
        .args(["--jobs", "2"])
        .output()
        .unwrap();
    assert_eq!(whole.status.code(), Some(1), "some placements fail over");
    let merged = merge(&parts, &[]);
    assert_same_summary(&whole, &merged);
    let text = String::from_utf8_lossy(&merged.stdout);
    let reproduce: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  fleetsim run "))
        .collect();
    assert!(
        !reproduce.is_empty() && reproduce.len() < 4,
        "some placements fail, not all:\n{text}"
    );
    for cmd in reproduce {
        let again = run_as_printed(&format!("fleetsim run {cmd}"));
        assert_eq!(again.status.code(), Some(1), "fleetsim run {cmd}");
    }
}

#[test]
fn more_shards_than_variations_leave_some_empty_and_still_merge_as_text_and_json() {
    let dir = temp_dir("shards-empty");
    let args = ["primary-crash", "--seeds", "2"];
    let parts = sweep_in_shards(&args, 5, &dir);
    let empty = std::fs::read_to_string(&parts[4]).unwrap();
    assert!(empty.contains("\"results\":[]"), "{empty}");
    let whole = fleetsim().arg("sweep").args(args).output().unwrap();
    assert_same_summary(&whole, &merge(&parts, &[]));
    // The JSON summary merges the same way.
    let json = fleetsim()
        .arg("sweep")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_same_summary(&json, &merge(&parts, &["--format", "json"]));
}

#[test]
fn a_sharded_sweep_whose_emulator_failed_merges_to_the_same_errors_and_exit_three() {
    let dir = temp_dir("shards-error");
    let args = ["primary-crash", "--seeds", "2", "--inject-panic", "primary"];
    let parts = sweep_in_shards(&args, 2, &dir);
    let whole = fleetsim().arg("sweep").args(args).output().unwrap();
    assert_eq!(whole.status.code(), Some(3));
    let merged = merge(&parts, &[]);
    assert_same_summary(&whole, &merged);
    // The panic travelled through the part files intact.
    assert!(
        String::from_utf8_lossy(&merged.stdout).contains("error: the emulator panicked"),
        "{}",
        String::from_utf8_lossy(&merged.stdout)
    );
}

#[test]
fn a_bad_shard_or_a_missing_out_is_a_usage_error_naming_the_flag() {
    let dir = temp_dir("shards-usage");
    let out = dir.join("part.json");
    let out = out.to_str().unwrap();
    let no_dir = dir.join("no-such-dir/part.json");
    let cases: [(&[&str], &str); 9] = [
        (&["--shard", "0/4", "--out", out], "K must be from 1 to 4"),
        (&["--shard", "5/4", "--out", out], "K must be from 1 to 4"),
        (&["--shard", "1/0", "--out", out], "N must be at least 1"),
        (&["--shard", "2", "--out", out], "K/N"),
        (&["--shard", "a/4", "--out", out], "K/N"),
        (&["--shard", "1/4"], "--out <FILE>"),
        (&["--out", out], "--shard <K/N>"),
        (
            &["--shard", "1/4", "--out", out, "--format", "json"],
            "--format",
        ),
        (
            &["--shard", "1/4", "--out", no_dir.to_str().unwrap()],
            "does not exist",
        ),
    ];
    for (args, says) in cases {
        let run = fleetsim()
            .args(["sweep", "primary-crash", "--seeds", "2"])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
        assert!(
            err.contains("--shard") || err.contains("--out"),
            "{args:?} names no flag: {err}"
        );
        assert!(!Path::new(out).exists(), "{args:?} wrote a part anyway");
    }
}

#[test]
fn a_part_file_over_the_scenario_or_its_fleet_is_refused_and_both_are_kept() {
    let dir = temp_dir("shards-over-inputs");
    let fleet = small_fleet_file(&dir);
    let scenario = write(
        &dir,
        "s.toml",
        &format!(
            "fleet = \"{}\"\nduration = \"10m\"\n",
            fleet.file_name().unwrap().to_str().unwrap()
        ),
    );
    for (target, what) in [(&scenario, "the scenario file"), (&fleet, "fleet file")] {
        let before = std::fs::read(target).unwrap();
        let run = fleetsim()
            .args(["sweep", scenario.to_str().unwrap(), "--seeds", "1"])
            .args(["--shard", "1/1", "--out", target.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{err}");
        assert!(err.contains("--out") && err.contains(what), "{err}");
        assert_eq!(std::fs::read(target).unwrap(), before, "{what} was changed");
    }
}

#[test]
fn parts_that_do_not_make_one_sweep_are_refused_naming_the_part_and_the_problem() {
    let dir = temp_dir("shards-mismatch");
    let sub = |name: &str| {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let a = sweep_in_shards(&["primary-crash", "--seeds", "2"], 2, &sub("a"));
    let more_seeds = sweep_in_shards(&["primary-crash", "--seeds", "3"], 2, &sub("b"));
    // Three shards of two seeds: the third is empty, and quick to make.
    let thirds = sweep_in_shards(&["primary-crash", "--seeds", "2"], 3, &sub("c"));
    let other = sweep_in_shards(&["primary-isolated", "--seeds", "2"], 2, &sub("d"));
    let not_json = write(&dir, "not-json.json", "{\"kind\": ");
    let not_a_part = write(&dir, "not-a-part.json", "{\"results\": []}");
    let shown = |p: &PathBuf| p.display().to_string();
    let cases: [(Vec<PathBuf>, String); 7] = [
        (
            vec![a[0].clone(), more_seeds[1].clone()],
            format!("{} is not part of the same sweep", shown(&more_seeds[1])),
        ),
        (
            vec![a[0].clone(), other[1].clone()],
            format!(
                "{} is not part of the same sweep as {}: its scenario is \"primary-isolated\"",
                shown(&other[1]),
                shown(&a[0])
            ),
        ),
        (
            vec![a[0].clone(), thirds[2].clone()],
            format!(
                "{} is shard 3/3 but {} is shard 1/2",
                shown(&thirds[2]),
                shown(&a[0])
            ),
        ),
        (
            vec![a[0].clone(), a[1].clone(), a[1].clone()],
            "are both shard 2/2".into(),
        ),
        (vec![a[1].clone()], "shard 1/2 missing".into()),
        (
            vec![a[0].clone(), not_json.clone(), a[1].clone()],
            format!("{}: not valid JSON", shown(&not_json)),
        ),
        (
            vec![not_a_part.clone(), a[0].clone()],
            format!("{}: not a sweep part file", shown(&not_a_part)),
        ),
    ];
    for (parts, says) in cases {
        let out = merge(&parts, &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{parts:?}: {err}");
        assert!(err.contains(&says), "{parts:?} should say {says:?}: {err}");
        assert!(out.stdout.is_empty(), "{parts:?} printed a summary anyway");
    }
    // The right parts, for contrast, merge.
    assert_eq!(merge(&a, &[]).status.code(), Some(0));
}

#[test]
fn parts_run_from_a_file_changed_in_between_are_not_merged() {
    let dir = temp_dir("shards-changed");
    let text = std::fs::read_to_string(root().join("scenarios/primary-crash.toml"))
        .unwrap()
        .replace("fleets/reference.toml", "builtin:reference");
    let file = write(&dir, "x.toml", &text);
    let file = file.to_str().unwrap();
    let first = sweep_in_shards(&[file, "--seeds", "2"], 2, &dir);
    // The crash moves before shard 2 runs: its part is of another scenario.
    write(
        &dir,
        "x.toml",
        &text.replacen("at = \"5m\"", "at = \"6m\"", 1),
    );
    let again = dir.join("again");
    std::fs::create_dir_all(&again).unwrap();
    let second = sweep_in_shards(&[file, "--seeds", "2"], 2, &again);
    let out = merge(&[first[0].clone(), second[1].clone()], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("was not the same for both") && err.contains("run every shard again"),
        "{err}"
    );
}

#[test]
fn a_sweep_refused_for_bad_input_leaves_no_earlier_part_file_behind() {
    let dir = temp_dir("shards-stale");
    let part = write(&dir, "part.json", "an earlier sweep's part");
    let bad = write(
        &dir,
        "bad.toml",
        "fleet = \"builtin:reference\"\nduration = \"soon\"\n",
    );
    let out = fleetsim_out(&[
        "sweep",
        bad.to_str().unwrap(),
        "--seeds",
        "2",
        "--shard",
        "1/2",
        "--out",
        part.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!part.exists(), "a stale part would merge as this sweep's");
}

#[test]
fn parts_of_one_scenario_file_merge_however_its_path_was_spelled() {
    let dir = temp_dir("shard-path-spelling");
    let s = on_builtin_fleet(
        &dir,
        "s.toml",
        "[[fault]]\nat = \"5m\"\ncrash = \"primary\"\n",
    );
    let spellings = [s.clone(), dir.join(".").join("s.toml")];
    let parts: Vec<PathBuf> = (spellings.iter().enumerate())
        .map(|(i, path)| two_seed_shard(&root(), path.as_os_str(), i + 1, &dir))
        .collect();
    let merged = merge(&parts, &[]);
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
}

#[test]
fn shard_counts_past_the_most_variations_and_damaged_policies_are_refused() {
    let out = fleetsim_out(&[
        "sweep",
        "primary-crash",
        "--seeds",
        "2",
        "--shard",
        "1/18446744073709551615",
        "--out",
        "/tmp/never-written.json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("N must be at most 100000"));
    // A part whose header was edited to claim a huge shard count or
    // unknown policies is refused before anything is allocated for it.
    let dir = temp_dir("shard-damaged");
    let parts = sweep_in_shards(&["primary-crash", "--seeds", "2"], 2, &dir);
    let text = std::fs::read_to_string(&parts[0]).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["shards"] = serde_json::json!(u64::MAX);
    let huge = write(&dir, "huge.json", &v.to_string());
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["sweep"]["policies"] = serde_json::json!(vec!["server-edition"; 50_000]);
    let many = write(&dir, "many.json", &v.to_string());
    for (part, says) in [(huge, "which no sweep has"), (many, "unknown or twice")] {
        let out = merge(&[part, parts[1].clone()], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn a_part_whose_run_is_not_the_sweeps_run_at_its_place_is_refused() {
    let dir = temp_dir("shard-edited-run");
    for (sweep, field, value, says) in [
        (
            &["primary-crash", "--seeds", "3"][..],
            "seed",
            serde_json::json!(999),
            "is seed 999, but the sweep's run there is seed",
        ),
        (
            &[
                "primary-crash",
                "--fault",
                "0",
                "--from",
                "5m",
                "--to",
                "7m",
                "--step",
                "1m",
            ][..],
            "fault_at",
            serde_json::json!([0, "6m40s"]),
            "with fault 0 at 6m40s, but the sweep's run there is",
        ),
    ] {
        let parts = sweep_in_shards(sweep, 2, &dir);
        let text = std::fs::read_to_string(&parts[0]).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["results"][1]["result"]["variation"][field] = value;
        let edited = write(&dir, "edited.json", &v.to_string());
        let out = merge(&[edited, parts[1].clone()], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
    }
}

#[test]
fn a_merge_made_elsewhere_than_the_shards_prints_reproduce_commands_that_run_from_there() {
    // The shards ran in `dir` with the scenario's path relative to it; the
    // merge runs from the repository root, where that path means nothing:
    // its reproduce lines name the file so that they run from here.
    let dir = temp_dir("shard-merge-elsewhere");
    failing_scenario(&dir);
    let parts: Vec<PathBuf> = (1..=2)
        .map(|k| two_seed_shard(&dir, "too-tight.toml".as_ref(), k, &dir))
        .collect();
    // Either order of the parts gives the same lines.
    for order in [[0, 1], [1, 0]] {
        let merged = merge(&[parts[order[0]].clone(), parts[order[1]].clone()], &[]);
        assert_eq!(merged.status.code(), Some(1), "{merged:?}");
        let text = String::from_utf8_lossy(&merged.stdout);
        let reproduce: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("  fleetsim run "))
            .collect();
        assert_eq!(reproduce.len(), 2, "{text}");
        for cmd in reproduce {
            let again = run_as_printed(&format!("fleetsim run {cmd}"));
            assert_eq!(
                again.status.code(),
                Some(1),
                "fleetsim run {cmd}: {}",
                String::from_utf8_lossy(&again.stderr)
            );
        }
    }
}
