//! Finding, checking and listing scenario and fleet files.

use std::path::Path;
use std::process::ExitCode;

use fleetsim_model::{Fleet, LoadError, Scenario, Source, embedded};

/// Refuses a fleet with an external member for a command that runs in sim
/// mode only (`sweep`, `determinism`, `chaos`): the member is a real process.
pub(crate) fn sim_only(fleet: &fleetsim_model::Fleet, command: &str) -> Result<(), String> {
    match fleet.external_members().next() {
        Some(s) => Err(format!(
            "{} is an external member (address = {:?}): `fleetsim {command}` runs in sim mode only, and an external member needs live mode (`fleetsim run --mode live`)",
            s.name,
            s.address.as_deref().unwrap_or_default()
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
    embedded::scenario(name).unwrap_or_else(|| {
        let known: Vec<&str> = embedded::scenario_names().collect();
        Err(LoadError::Io {
            path: name.to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "no such file, and no built-in scenario of that name (built-ins: {})",
                    known.join(", ")
                ),
            ),
        })
    })
}

/// What a checked file turned out to be.
enum Checked {
    Scenario(Box<Scenario>),
    Fleet(Box<Fleet>),
}

fn check_one(path: &Path) -> Result<Checked, LoadError> {
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
                eprintln!("error: {e}");
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
    outln!(
        "ok    {}: scenario {:?} on fleet {:?} ({} servers, {} phones), {} faults, {} expectations",
        f.display(),
        s.name,
        s.fleet.name,
        s.fleet.servers.len(),
        s.fleet.phones.len(),
        s.faults.len(),
        s.expectations.len()
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
            let mut paths: Vec<_> = std::fs::read_dir(d)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", d.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for p in paths {
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
                    rows.push((s.name, s.description, "(built in)".into()));
                }
            }
        }
    }
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (name, desc, path) in &rows {
        outln!("{name:<width$}  {desc}  [{path}]");
    }
    Ok(ExitCode::SUCCESS)
}

/// Checks, before a run, that `path` (given with `flag`) can be written:
/// its directory exists, it is not a directory, and a file can be made or
/// opened there. A file made for the check is removed again.
pub(crate) fn check_writable(flag: &str, path: &Path) -> Result<(), String> {
    let why = |what: String| format!("{flag} {}: {what}", path.display());
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
