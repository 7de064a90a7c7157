//! Sharded sweeps: `fleetsim sweep … --shard K/N --out FILE` runs one of N
//! disjoint slices of a sweep and writes a part file; `fleetsim sweep-merge
//! PART…` checks that the parts make up one whole sweep and prints its
//! summary exactly as the unsharded sweep would, with its exit code.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use fleetsim_scenario::SweepReport;
use fleetsim_scenario::sweep::{MAX_VARIATIONS, Shard, VariationResult};
use serde::{Deserialize, Serialize};

use crate::regress::{SweepId, summarize};
use crate::{Format, Usage};

/// What a part file says it is: its kind and the version of its layout.
const KIND: &str = "fleetsim sweep part, version 1";

/// Parses `--shard K/N`: K counts from 1 to N.
pub(crate) fn parse(s: &str) -> Result<Shard, String> {
    let bad = |why: String| format!("{why}; expected K/N with K from 1 to N, such as 1/4 … 4/4");
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| bad(format!("{s:?} has no '/'")))?;
    let n: usize =
        (n.trim().parse()).map_err(|_| bad(format!("N ({:?}) is not a whole number", n.trim())))?;
    let k: usize =
        (k.trim().parse()).map_err(|_| bad(format!("K ({:?}) is not a whole number", k.trim())))?;
    if n == 0 {
        return Err(bad("N must be at least 1".into()));
    }
    if n as u64 > MAX_VARIATIONS {
        return Err(bad(format!(
            "N must be at most {MAX_VARIATIONS}, the most variations a sweep runs"
        )));
    }
    if k == 0 || k > n {
        return Err(bad(format!("K must be from 1 to {n}, not {k}")));
    }
    Ok(Shard {
        index: k - 1,
        count: n,
    })
}

/// One variation's result in a part, with its place in the sweep.
#[derive(Serialize, Deserialize)]
struct PartResult {
    /// Which policy: an index into the sweep's policies.
    policy: usize,
    /// Which variation of the plan (0-based, plan order).
    index: usize,
    /// What the run gave.
    result: VariationResult,
}

/// A part file: one shard's results and the sweep they belong to.
#[derive(Serialize, Deserialize)]
struct Part {
    /// [`KIND`]: tells a part file from any other JSON.
    kind: String,
    /// K, counted from 1 as on the command line.
    shard: usize,
    /// N.
    shards: usize,
    /// The sweep, which every part of it must give alike.
    sweep: SweepId,
    /// The shard's results, policy by policy, each in plan order.
    results: Vec<PartResult>,
    /// The directory the shard ran in: a scenario path is relative to it.
    #[serde(default)]
    dir: Option<PathBuf>,
}

/// Writes the part file of `shard`: `results` holds, for each policy in
/// order, the variations run and their results. Written whole or not at
/// all, so a batch engine never sees half a part.
pub(crate) fn write_part(
    out: &Path,
    shard: Shard,
    sweep: SweepId,
    results: Vec<(Vec<usize>, Vec<VariationResult>)>,
) -> anyhow::Result<()> {
    let results = (results.into_iter().enumerate())
        .flat_map(|(policy, (which, results))| {
            which
                .into_iter()
                .zip(results)
                .map(move |(index, result)| PartResult {
                    policy,
                    index,
                    result,
                })
        })
        .collect();
    let part = Part {
        kind: KIND.into(),
        shard: shard.index + 1,
        shards: shard.count,
        sweep,
        results,
        dir: std::env::current_dir().ok(),
    };
    let partial = PathBuf::from(format!("{}.partial", out.display()));
    std::fs::write(&partial, serde_json::to_string(&part)?)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, out).with_context(|| format!("cannot write {}", out.display()))
}

/// Which of a sweep's `total` runs (policy after policy, counted from 1)
/// `shard` holds, said briefly: "runs 2, 6, 10 of 12".
pub(crate) fn which_runs(shard: Shard, total: usize) -> String {
    const SHOWN: usize = 6;
    let held = shard.indices(total);
    if held.is_empty() {
        return format!("no run (the sweep has {total})");
    }
    let mut listed: Vec<String> = held
        .iter()
        .take(SHOWN)
        .map(|i| (i + 1).to_string())
        .collect();
    if held.len() > SHOWN {
        listed.push(format!("… ({} in all)", held.len()));
    }
    let word = if held.len() == 1 { "run" } else { "runs" };
    format!("{word} {} of {total}", listed.join(", "))
}

/// Arguments of `fleetsim sweep-merge`.
#[derive(clap::Args, Debug)]
pub(crate) struct MergeArgs {
    /// The part files of one sweep (`fleetsim sweep … --shard K/N --out
    /// FILE`), every shard once, in any order.
    #[arg(required = true, value_name = "PART")]
    parts: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Bad input: exit 2 with this message.
fn usage(msg: String) -> anyhow::Error {
    Usage(msg).into()
}

/// The largest part file read (512 MiB): a sweep's most variations at
/// about 1 KiB each, with room to spare.
const PART_MAX_BYTES: u64 = 512 << 20;

/// Reads one part file; what is wrong with it names the file.
fn read_part(path: &Path) -> anyhow::Result<Part> {
    let shown = path.display();
    let text = fleetsim_model::read_limited(
        path,
        PART_MAX_BYTES,
        "name a part file that `fleetsim sweep … --shard K/N --out FILE` wrote",
        "a part file holds about 1 KiB per variation",
    )
    .map_err(|e| usage(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        usage(format!(
            "{shown}: not valid JSON ({e}); a part file is what `fleetsim sweep … --shard K/N --out FILE` writes"
        ))
    })?;
    if value.get("kind").and_then(|k| k.as_str()) != Some(KIND) {
        return Err(usage(format!(
            "{shown}: not a sweep part file (one is written by `fleetsim sweep … --shard K/N --out FILE`)"
        )));
    }
    let part: Part = serde_json::from_value(value)
        .map_err(|e| usage(format!("{shown}: a sweep part file, but damaged: {e}")))?;
    if part.shard == 0 || part.shard > part.shards || part.shards as u64 > MAX_VARIATIONS {
        return Err(usage(format!(
            "{shown}: says it is shard {}/{}, which no sweep has",
            part.shard, part.shards
        )));
    }
    // The policies as `sweep --policy` takes them: known, each once.
    let policies = &part.sweep.policies;
    if let Some(bad) = policies
        .iter()
        .enumerate()
        .find(|(i, p)| crate::policy::parse(p).is_err() || policies[..*i].contains(p))
    {
        return Err(usage(format!(
            "{shown}: a sweep part file, but damaged: its policies name {:?} unknown or twice",
            bad.1
        )));
    }
    Ok(part)
}

/// How the sweep `b` differs from `a`, in words, if it does: the first
/// field that differs, the scenario first.
fn difference(a: &SweepId, b: &SweepId) -> Option<String> {
    if a.fingerprint.is_empty() != b.fingerprint.is_empty() {
        return Some(
            "one part was written by an older fleetsim, which did not record what its scenario held: run every shard again with one version".into(),
        );
    }
    if a.scenario == b.scenario && a.fingerprint != b.fingerprint {
        return Some(format!(
            "scenario {} was not the same for both (its file or its fleet's changed between the shards' runs; fingerprint {}, not {}): run every shard again from the same files",
            a.scenario, b.fingerprint, a.fingerprint
        ));
    }
    // The same content read by another path (`s.toml`, `./s.toml`, another
    // checkout's absolute path) is the same sweep: the merge's reproduce
    // lines take the first part's path.
    let same_content = !a.fingerprint.is_empty() && a.fingerprint == b.fingerprint;
    let fields = |s: &SweepId| {
        use serde_json::to_value as v;
        let mut rerun = v(&s.rerun).unwrap_or_default();
        if same_content && let Some(r) = rerun.as_object_mut() {
            r.remove("scenario");
        }
        [
            ("scenario", v(&s.scenario)),
            ("plan", v(&s.plan)),
            ("policies", v(&s.policies)),
            ("nothing_checked", v(s.nothing_checked)),
        ]
        .map(|(key, value)| (key, value.unwrap_or_default()))
        .into_iter()
        .chain([("rerun", rerun)])
    };
    fields(a)
        .zip(fields(b))
        .find(|((_, x), (_, y))| x != y)
        .map(|((key, ours), (_, theirs))| {
            let verb = if key == "policies" { "are" } else { "is" };
            format!("its {key} {verb} {theirs}, not {ours}")
        })
}

/// `fleetsim sweep-merge`: the summary of the whole sweep from its parts.
pub(crate) fn merge(args: MergeArgs) -> anyhow::Result<ExitCode> {
    let parts = (args.parts.iter())
        .map(|p| read_part(p).map(|part| (p.display().to_string(), part)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (first_path, first) = &parts[0];
    let n = first.shards;
    for (path, part) in &parts[1..] {
        if let Some(diff) = difference(&first.sweep, &part.sweep) {
            return Err(usage(format!(
                "{path} is not part of the same sweep as {first_path}: {diff}"
            )));
        }
        if part.shards != n {
            return Err(usage(format!(
                "{path} is shard {}/{} but {first_path} is shard {}/{n}: the parts come from sweeps cut into different numbers of shards",
                part.shard, part.shards, first.shard
            )));
        }
    }
    let mut by_shard: BTreeMap<usize, &str> = BTreeMap::new();
    for (path, part) in &parts {
        if let Some(other) = by_shard.insert(part.shard, path) {
            return Err(usage(format!(
                "{other} and {path} are both shard {}/{n}: give each shard once",
                part.shard
            )));
        }
    }
    let missing: Vec<String> = (1..=n)
        .filter(|k| !by_shard.contains_key(k))
        .map(|k| format!("{k}/{n}"))
        .collect();
    if !missing.is_empty() {
        return Err(usage(format!(
            "shard {} missing: the sweep was cut into {n} shards and every one is needed once",
            missing.join(", ")
        )));
    }
    let mut sweep = first.sweep.clone();
    sweep.rerun.scenario = scenario_from_here(&parts);
    let per_policy = (sweep.plan.checked_len()).map_err(|e| usage(format!("{first_path}: {e}")))?;
    let total = per_policy * sweep.policies.len();
    let mut slots: Vec<Option<VariationResult>> = (0..total).map(|_| None).collect();
    let mut seed: Option<u64> = None;
    for (path, part) in parts {
        let shard = Shard {
            index: part.shard - 1,
            count: n,
        };
        let expected = shard.indices(total);
        let held: Vec<usize> = (part.results.iter())
            .map(|r| r.policy * per_policy + r.index)
            .collect();
        let in_range = part
            .results
            .iter()
            .all(|r| r.policy < sweep.policies.len() && r.index < per_policy);
        if !in_range || held != expected {
            return Err(usage(format!(
                "{path}: shard {}/{n} of this sweep holds {} runs, but the file's {} runs are not those (changed or cut short?)",
                part.shard,
                expected.len(),
                held.len()
            )));
        }
        // A fault-time sweep's seed is the scenario's: every run's alike.
        let seed = seed.get_or_insert(part.results.first().map_or(0, |r| r.result.variation.seed));
        if let Some(r) = (part.results.iter())
            .find(|r| r.result.variation != sweep.plan.variation(r.index, *seed))
        {
            return Err(usage(format!(
                "{path}: its run {} under policy {} is {}, but the sweep's run there is {} (changed?)",
                r.index + 1,
                sweep.policies[r.policy],
                r.result.variation,
                sweep.plan.variation(r.index, *seed)
            )));
        }
        for (at, r) in held.into_iter().zip(part.results) {
            slots[at] = Some(r.result);
        }
    }
    let mut slots = slots.into_iter().map(|r| r.expect("every shard is there"));
    let reports = (sweep.policies.iter())
        .map(|policy| {
            let results = slots.by_ref().take(per_policy).collect();
            SweepReport::of(&sweep.scenario, policy, results)
        })
        .collect();
    errln!("merged {n} parts: {total} runs");
    summarize(&sweep, reports, args.format)
}

/// The scenario as a rerun from this directory takes it: as a part gives
/// it when that part ran here (or names a built-in, or a file not here),
/// else the file's absolute path, so the merge's reproduce lines run as
/// printed wherever the shards ran.
fn scenario_from_here(parts: &[(String, Part)]) -> String {
    let here = std::env::current_dir().ok();
    let given = |p: &Part| p.sweep.rerun.scenario.clone();
    if let Some((_, p)) = parts.iter().find(|(_, p)| p.dir.is_some() && p.dir == here) {
        return given(p);
    }
    let (_, first) = &parts[0];
    match &first.dir {
        Some(dir) if dir.join(given(first)).is_file() => {
            dir.join(given(first)).display().to_string()
        }
        _ => given(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_says_which_runs_it_holds() {
        let s = |index, count| Shard { index, count };
        assert_eq!(which_runs(s(1, 4), 12), "runs 2, 6, 10 of 12");
        assert_eq!(which_runs(s(0, 1), 1), "run 1 of 1");
        assert_eq!(which_runs(s(5, 6), 3), "no run (the sweep has 3)");
        assert_eq!(
            which_runs(s(0, 2), 20),
            "runs 1, 3, 5, 7, 9, 11, … (10 in all) of 20"
        );
    }

    #[test]
    fn shards_are_counted_from_one_to_n() {
        assert_eq!(parse("1/4"), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(parse("4/4"), Ok(Shard { index: 3, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "4", "a/4", "1/b", "-1/4", ""] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("K/N"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_shards_of_any_count_are_disjoint_and_cover_every_variation() {
        for total in [0, 1, 3, 7, 12] {
            for count in 1..=total + 3 {
                let mut seen = vec![0; total];
                for index in 0..count {
                    for i in (Shard { index, count }).indices(total) {
                        seen[i] += 1;
                    }
                }
                assert!(
                    seen.iter().all(|&n| n == 1),
                    "{total} variations in {count} shards: {seen:?}"
                );
            }
        }
    }
}
