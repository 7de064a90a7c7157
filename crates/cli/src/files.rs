//! Finding, checking and listing scenario and fleet files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fleetsim_model::words::counted;
use fleetsim_model::{Fleet, LoadError, Scenario, Source, embedded, suggest};

/// Refuses a fleet with an external member for a command that runs in sim
/// mode only (`sweep`, `determinism`, `chaos`): the member is a real process.
pub(crate) fn sim_only(fleet: &fleetsim_model::Fleet, command: &str) -> Result<(), String> {
    match fleet.external_members().next() {
        Some(s) => Err(s.address_at.say(
            format!(
                "{} is an external member (address = {:?}): `fleetsim {command}` runs in sim mode only",
                s.name,
                s.address.as_deref().unwrap_or_default()
            ),
            Some("an external member needs live mode (`fleetsim run --mode live`); remove the address to let fleetsim run the server".into()),
        )),
        None => Ok(()),
    }
}

/// Loads a scenario: no argument → the built-in default; a path that exists
/// → that file; otherwise the built-in of that name.
pub(crate) fn load_scenario(arg: Option<&str>) -> Result<Scenario, LoadError> {
    let name = match arg {
        None => embedded::DEFAULT_SCENARIO,
        Some(a) if Path::new(a).exists() => return Scenario::load(Path::new(a)),
        Some(a) => a,
    };
    embedded::scenario(name).unwrap_or_else(|| Err(not_found(name)))
}

/// `arg` names neither a file nor a built-in: the nearest of either.
pub(crate) fn not_found(arg: &str) -> LoadError {
    let why = match nearest_file(arg) {
        Some(near) => format!("no such file (did you mean {near}?)"),
        None => embedded::unknown_scenario(arg),
    };
    LoadError::Io {
        path: arg.to_string(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, why),
    }
}

/// The file in the directory `arg` names whose name is nearest to its own,
/// when `arg` names a directory at all.
fn nearest_file(arg: &str) -> Option<String> {
    let path = Path::new(arg);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    let name = path.file_name()?.to_str()?;
    let names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
    names.sort_unstable();
    let near = suggest::nearest(name, names)?;
    Some(dir.join(near).display().to_string())
}

/// What a checked file turned out to be.
enum Checked {
    Scenario(Box<Scenario>),
    Fleet(Box<Fleet>),
}

fn check_one(path: &Path) -> Result<Checked, LoadError> {
    if !path.exists() {
        return check_builtin(&path.to_string_lossy());
    }
    let shown = path.display().to_string();
    let text = fleetsim_model::read_text(path)?;
    // A fleet has servers; a scenario names a fleet. Decide on the keys, then
    // let the full parser report anything wrong with its location.
    if Fleet::looks_like(&text) {
        Ok(Checked::Fleet(Box::new(Fleet::from_toml(&Source {
            name: &shown,
            text: &text,
        })?)))
    } else {
        Ok(Checked::Scenario(Box::new(Scenario::load(path)?)))
    }
}

/// A built-in scenario or fleet named instead of a file.
fn check_builtin(name: &str) -> Result<Checked, LoadError> {
    if let Some(s) = embedded::scenario(name) {
        return Ok(Checked::Scenario(Box::new(s?)));
    }
    match embedded::fleet(name) {
        Some(f) => Ok(Checked::Fleet(Box::new(f?))),
        None => Err(not_found(name)),
    }
}

/// `fleetsim check FILE...`: 0 when all are valid, 2 otherwise.
pub(crate) fn check(files: &[std::path::PathBuf], verbose: bool) -> ExitCode {
    let mut bad = 0;
    for f in files {
        match check_one(f) {
            Ok(Checked::Scenario(s)) => {
                print_scenario(f, &s);
                if verbose {
                    for (i, fault) in s.faults.iter().enumerate() {
                        outln!(
                            "        fault {i:>2} at {:>8}: {}",
                            fault.at,
                            fault.kind.describe()
                        );
                    }
                    for c in &s.scripted_calls {
                        outln!("        call {} at {:>8}: {}", c.id, c.at, c.describe());
                    }
                    // Names carry resolved times: "fault 0 + 3m (8m)".
                    for (i, e) in s.expectations.iter().enumerate() {
                        outln!("        expect {i:>2}: {}", e.name);
                    }
                }
            }
            Ok(Checked::Fleet(fl)) => outln!(
                "ok    {}: fleet {:?} ({} servers, {} phones, {} lines)",
                f.display(),
                fl.name,
                fl.servers.len(),
                fl.phones.len(),
                fl.lines.len()
            ),
            Err(e) => {
                bad += 1;
                errln!("error: {e}");
            }
        }
    }
    if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::BAD_INPUT)
    }
}

fn print_scenario(f: &Path, s: &Scenario) {
    use fleetsim_model::words::counted;
    outln!(
        "ok    {}: scenario {:?} on fleet {:?} ({}, {}), {}, {}",
        f.display(),
        s.name,
        s.fleet.name,
        counted(s.fleet.servers.len(), "server", "servers"),
        counted(s.fleet.phones.len(), "phone", "phones"),
        counted(s.faults.len(), "fault", "faults"),
        counted(s.expectations.len(), "expectation", "expectations")
    );
}

/// `fleetsim list [DIR]`.
pub(crate) fn list(dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let dir = dir.map(Path::to_path_buf).or_else(|| {
        let d = Path::new("scenarios");
        d.is_dir().then(|| d.to_path_buf())
    });
    let mut rows: Vec<(String, String, String)> = Vec::new();
    match &dir {
        Some(d) => {
            // A wrong directory is the user's input, not a failure (exit 2).
            let mut paths: Vec<_> = std::fs::read_dir(d)
                .map_err(|e| {
                    crate::Usage(format!(
                        "cannot list {}: {e} (give a directory of scenario files)",
                        d.display()
                    ))
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for p in paths {
                if let Some(row) = fleet_row(&p) {
                    rows.push(row);
                    continue;
                }
                match Scenario::load(&p) {
                    Ok(s) => rows.push((s.name, s.description, p.display().to_string())),
                    Err(e) => rows.push((
                        p.file_stem()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned(),
                        format!(
                            "INVALID: {}",
                            e.to_string().lines().next().unwrap_or_default()
                        ),
                        p.display().to_string(),
                    )),
                }
            }
        }
        None => {
            for name in embedded::scenario_names() {
                if let Some(Ok(s)) = embedded::scenario(name) {
                    rows.push((s.name, s.description, "built in".into()));
                }
            }
        }
    }
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (name, desc, path) in &rows {
        let desc = if desc.trim().is_empty() {
            "(no description)"
        } else {
            desc
        };
        outln!("{name:<width$}  {desc}  [{path}]");
    }
    // An unreadable scenario is bad input, as `check` would say.
    let invalid = rows.iter().filter(|r| r.1.starts_with("INVALID: ")).count();
    if invalid > 0 {
        errln!(
            "error: {} listed INVALID: `fleetsim check FILE` says where and why",
            counted(invalid, "file is", "files are")
        );
        return Ok(ExitCode::from(crate::BAD_INPUT));
    }
    Ok(ExitCode::SUCCESS)
}

/// A fleet file's row in a listing (it is no scenario, but no error
/// either): its name, "fleet: " and its description.
fn fleet_row(p: &Path) -> Option<(String, String, String)> {
    // Read as `check` reads: a pipe or device is refused, not waited on.
    let text = fleetsim_model::read::read_text(p).ok()?;
    if !fleetsim_model::Fleet::looks_like(&text) {
        return None;
    }
    let src = fleetsim_model::error::Source {
        name: &p.display().to_string(),
        text: &text,
    };
    // Named as `check` names it: by its `name`, else by its file.
    let (name, desc) = match fleetsim_model::Fleet::from_toml(&src) {
        Ok(f) if f.description.trim().is_empty() => (f.name, "fleet: (no description)".into()),
        Ok(f) => (f.name, format!("fleet: {}", f.description)),
        Err(e) => (
            p.file_stem()?.to_string_lossy().into_owned(),
            format!(
                "INVALID: {}",
                e.to_string().lines().next().unwrap_or_default()
            ),
        ),
    };
    Some((name, desc, p.display().to_string()))
}

/// Makes the directory `--out` names, before a campaign, and checks a file
/// can be written in it.
pub(crate) fn check_out_dir(dir: &Path) -> Result<(), String> {
    let why = |what: String| format!("--out {}: {what}", dir.display());
    std::fs::create_dir_all(dir).map_err(|e| why(format!("cannot be made: {e}")))?;
    if !dir.is_dir() {
        return Err(why("is not a directory".into()));
    }
    check_writable("--out", &dir.join(".fleetsim-write-check"))
}

/// That no output (flag, path) is one of `inputs` (what it is, path) or
/// another output: writing one would destroy the input, or the other.
pub(crate) fn check_distinct(
    inputs: &[(&'static str, PathBuf)],
    outputs: &[(&str, &std::path::PathBuf)],
) -> Result<(), String> {
    let inputs: Vec<(&str, PathBuf)> = inputs
        .iter()
        .filter_map(|(what, p)| file_key(p).map(|k| (*what, k)))
        .collect();
    let mut seen: Vec<(&str, PathBuf)> = Vec::new();
    for (flag, path) in outputs {
        let Some(key) = file_key(path) else { continue };
        if let Some((what, _)) = inputs.iter().find(|(_, p)| *p == key) {
            return Err(format!(
                "{flag} {}: is {what}; writing it would destroy it (give another path)",
                path.display()
            ));
        }
        if let Some((other, _)) = seen.iter().find(|(_, p)| *p == key) {
            return Err(format!(
                "{flag} {}: is also the file of {other}; one would overwrite the other (give each its own path)",
                path.display()
            ));
        }
        seen.push((flag, key));
    }
    Ok(())
}

/// Removes the files a command is about to write, so that one failing
/// before it writes them (bad input, exit 2) leaves no result of an earlier
/// run behind for a CI job to publish as its own. Regular files only, never
/// a `.toml` (an unparsable scenario does not say which fleet it reads),
/// and nothing at all when an output is also an input.
pub(crate) fn clear_stale(inputs: &[(&'static str, PathBuf)], outputs: &[(&str, &PathBuf)]) {
    if check_distinct(inputs, outputs).is_err() {
        return;
    }
    for (_, p) in outputs {
        // Through a symbolic link, its file goes: the link stays, and the
        // output is written through it.
        let p = through_links(p);
        let toml = p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        if p.is_file() && !toml {
            let _ = std::fs::remove_file(&p);
        }
    }
}

/// Where writing to `path` lands: `path`, or, through each symbolic link
/// on the way (even one to a file not made yet), the file it names.
pub(crate) fn through_links(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    // As the kernel gives up on a loop, after 40 links.
    for _ in 0..40 {
        let is_link = std::fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink());
        let Some(target) = is_link.then(|| std::fs::read_link(&p).ok()).flatten() else {
            break;
        };
        p = match p.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
    }
    p
}

/// The scenario file given (if it is one) and the fleet file it names
/// (unless built in), each with what it is.
pub(crate) fn scenario_inputs(scenario: Option<&str>) -> Vec<(&'static str, PathBuf)> {
    let Some(path) = scenario.map(Path::new).filter(|p| p.is_file()) else {
        return Vec::new();
    };
    let mut out: Vec<(&'static str, PathBuf)> = vec![("the scenario file", path.to_path_buf())];
    let fleet = fleetsim_model::read_text(path)
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("fleet").and_then(|f| f.as_str()).map(str::to_string));
    if let Some(f) = fleet.filter(|f| !f.starts_with("builtin:")) {
        let dir = path.parent().unwrap_or(Path::new("."));
        out.push(("the scenario's fleet file", dir.join(f)));
    }
    out
}

/// A path's identity, whether or not the file exists yet: the file itself
/// resolved, else its resolved directory and its name.
fn file_key(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(dir.canonicalize().ok()?.join(path.file_name()?))
}

/// Checks, before a run, that `path` (given with `flag`) can be written:
/// its directory exists, it is not a directory, and a file can be made or
/// opened there. A file made for the check is removed again.
pub(crate) fn check_writable(flag: &str, given: &Path) -> Result<(), String> {
    let path = &through_links(given);
    let link = if path == given {
        String::new()
    } else {
        format!(" (a link to {})", path.display())
    };
    let why = |what: String| format!("{flag} {}{link}: {what}", given.display());
    if path.is_dir() {
        return Err(why("is a directory, not a file".into()));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(why(format!("directory {} does not exist", dir.display())));
    }
    let mut open = std::fs::OpenOptions::new();
    if path.exists() {
        open.append(true);
    } else {
        open.write(true).create_new(true);
    }
    let existed = path.exists();
    open.open(path)
        .map_err(|e| why(format!("cannot be written: {e}")))?;
    if !existed {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// `fleetsim show [NAME]`: a built-in scenario's or fleet's TOML, ready to
/// copy and edit; without a name, what there is.
pub(crate) fn show(name: Option<&str>) -> anyhow::Result<ExitCode> {
    let Some(name) = name else {
        list_builtins();
        return Ok(ExitCode::SUCCESS);
    };
    if let Some((_, text)) = embedded::scenario_file(name) {
        out!("{}", portable(text));
    } else if let Some((_, text)) = embedded::fleet_file(name) {
        out!("{text}");
    } else {
        let known = embedded::scenario_names().chain(embedded::fleet_names());
        return Err(crate::Usage(format!(
            "no built-in scenario or fleet {name:?}{}; `fleetsim show` lists them",
            suggest::did_you_mean(name, known)
        ))
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

/// Every built-in scenario and fleet, one line each.
fn list_builtins() {
    outln!("Built-in scenarios (`fleetsim show NAME` prints one, `fleetsim run NAME` runs it):");
    let names: Vec<&str> = embedded::scenario_names().collect();
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
    for n in names {
        let desc = match embedded::scenario(n) {
            Some(Ok(s)) => s.description,
            _ => String::new(),
        };
        outln!("  {n:<width$}  {desc}");
    }
    outln!();
    outln!("Built-in fleets (a scenario file anywhere names one as fleet = \"builtin:NAME\"):");
    for n in embedded::fleet_names() {
        if let Some(Ok(f)) = embedded::fleet(n) {
            outln!("  {n:<width$}  {}", f.description);
        }
    }
}

/// A built-in scenario's text as a copy runs from anywhere: a fleet named
/// by its path among the built-ins is named `builtin:NAME` instead.
fn portable(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|l| match builtin_fleet_line(l) {
            Some(n) => format!("fleet = \"{}{n}\"", embedded::BUILTIN),
            None => l.to_string(),
        })
        .collect();
    lines.join("\n") + "\n"
}

/// The built-in fleet a `fleet = "PATH"` line names, if it names one.
fn builtin_fleet_line(line: &str) -> Option<&'static str> {
    let path = line.strip_prefix("fleet = \"")?.strip_suffix('"')?;
    let (p, _) = embedded::fleet_file(path)?;
    Some(p.trim_start_matches("fleets/").trim_end_matches(".toml"))
}

/// Rough wall-time costs in sim mode on a release build, per emulated day:
/// a phone (its registration refreshes and its servers' sweeps) and a line
/// (presence both ways and the polls over it); and per call or portal
/// change started. Fitted to `fleetsim bench` (the reference fleet's idle
/// month, the generated 150-server, 3,000-phone hour), to the reference
/// fleet with every server up (0.65 s a day), and to fleets of 500 servers
/// without phones.
const SIM_MS_PER_PHONE_DAY: f64 = 3.0;
const SIM_MS_PER_LINE_DAY: f64 = 100.0;
const SIM_MS_PER_CALL: f64 = 0.1;

/// Runs and sweeps expected to take longer than this say so before they start.
const NOTE_AFTER_MS: f64 = 30_000.0;

/// Estimated wall time of one sim-mode run of `s`: its phones and lines
/// over its days, and its workload.
fn sim_wall_ms(s: &fleetsim_model::Scenario) -> f64 {
    let hours = s.duration.as_millis() as f64 / 3_600_000.0;
    let per_day = SIM_MS_PER_PHONE_DAY * s.fleet.phones.len() as f64
        + SIM_MS_PER_LINE_DAY * s.fleet.lines.len() as f64;
    let workload = f64::from(s.calls.per_hour) + f64::from(s.calls.portal_changes_per_hour);
    per_day * hours / 24.0 + SIM_MS_PER_CALL * workload * hours
}

/// A one-line estimate of the wall time of a long run, if it will be long:
/// in sim mode from its phones, lines and workload ([`sim_wall_ms`]), in
/// live mode the duration over the speed.
pub(crate) fn long_run_note(
    s: &fleetsim_model::Scenario,
    mode: fleetsim_scenario::Mode,
    speed: f64,
) -> Option<String> {
    let (wall_ms, basis) = match mode {
        fleetsim_scenario::Mode::Sim => (
            sim_wall_ms(s),
            format!(
                "{} phones and {} lines × {} emulated{}",
                s.fleet.phones.len(),
                s.fleet.lines.len(),
                s.duration,
                if s.calls.is_idle() {
                    String::new()
                } else {
                    " with its call workload".to_string()
                }
            ),
        ),
        fleetsim_scenario::Mode::Live => (
            s.duration.as_millis() as f64 / speed,
            format!("{} at {speed}×", s.duration),
        ),
    };
    note_if_long("run", wall_ms, &basis)
}

/// A one-line estimate of a sweep's wall time, if it will be long: `runs`
/// sim-mode runs of `s` spread over `jobs` threads.
pub(crate) fn long_sweep_note(
    s: &fleetsim_model::Scenario,
    runs: usize,
    jobs: usize,
) -> Option<String> {
    let per_run = sim_wall_ms(s);
    let jobs = jobs.clamp(1, runs.max(1));
    let basis = format!(
        "{} of about {} each on {}",
        counted(runs, "run", "runs"),
        fleetsim_model::human_ms(per_run.max(1.0) as u64),
        counted(jobs, "thread", "threads")
    );
    note_if_long("sweep", per_run * runs as f64 / jobs as f64, &basis)
}

fn note_if_long(what: &str, wall_ms: f64, basis: &str) -> Option<String> {
    (wall_ms > NOTE_AFTER_MS).then(|| {
        format!(
            "note: this {what} will take roughly {} of wall time ({basis})",
            fleetsim_model::human_ms(wall_ms as u64)
        )
    })
}
