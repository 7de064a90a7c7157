//! Reports of a run: a readable text timeline with metrics and verdict, a
//! JSON summary for machines, and the event log as JSON lines.
//!
//! Reports only read a [`RunOutcome`]; they never run anything. Every view
//! that offers a command to rerun the run prints the same one,
//! [`reproduce`], and says the same when nothing was checked
//! ([`NOTHING_CHECKED`]).
//!
//! # Layout
//! - [`text`]: the terminal timeline, phone events grouped, optional colour.
//! - [`html`]: the self-contained HTML report (swimlanes, phones chart, events).
//! - [`json`]: the one-object summary (`passed`, `expectations`, `metrics`).
//! - [`junit`]: JUnit XML, one test case per expectation.
//! - [`jsonl`]: one JSON object per event (`t_ms`, `server`, `event`, fields).

pub mod html;
pub mod json;
pub mod jsonl;
pub mod junit;
pub mod text;

pub use fleetsim_scenario::RunOutcome;

/// What every view says of a run with no expectations (and no other check).
pub const NOTHING_CHECKED: &str = "no expectations: nothing was checked";

/// The failed check `--strict` adds to a run that checked nothing.
pub const STRICT_CHECK: &str = "something is checked (--strict)";

/// Whether `o` checked nothing: no expectations, or only the one
/// `--strict` added to fail it.
pub fn nothing_checked(o: &RunOutcome) -> bool {
    o.expectations.iter().all(|e| e.name == STRICT_CHECK)
}

/// The command that reruns `o` as it ran, as a shell would take it: a
/// built-in scenario by its name, a file by the path it was given, then the
/// seed, a policy other than the default, live mode, and whatever else the
/// command line applied (`--fault-at`, `--golden`, `--strict`). `None` for
/// a scenario built in code, or a policy of the user's own, which no
/// command can name.
pub fn reproduce(o: &RunOutcome) -> Option<String> {
    let arg = fleetsim_model::embedded::run_arg(&o.spec.origin)?;
    fleetsim_scenario::rules::by_name(&o.policy)?;
    let mut cmd = format!(
        "fleetsim run {} --seed {}{}",
        path_word(&arg),
        o.seed,
        policy_flag(&o.policy)
    );
    if o.mode == fleetsim_scenario::Mode::Live {
        cmd.push_str(" --mode live");
    }
    for a in &o.spec.rerun_args {
        cmd.push(' ');
        cmd.push_str(&shell_word(a));
    }
    Some(cmd)
}

/// How to run `o` again: its [`reproduce`] command, or why there is none
/// (a live drill, a scenario built in code) and its seed.
pub fn again(o: &RunOutcome) -> String {
    match reproduce(o) {
        Some(cmd) => cmd,
        None if o.spec.origin == fleetsim_model::embedded::LIVE_DRILL => format!(
            "none: a live drill's faults were given by hand (seed {})",
            o.seed
        ),
        None if fleetsim_scenario::rules::by_name(&o.policy).is_none() => format!(
            "in code: the policy {} is not a built-in, so no command can name it; run it again with seed {}",
            o.policy, o.seed
        ),
        None => format!("the scenario is built in code; run it with seed {}", o.seed),
    }
}

/// `word` as one shell word: as it is when it holds nothing a shell would
/// read otherwise, else in single quotes.
pub fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A relative path no command line takes for a flag: `-x.toml` is
/// `./-x.toml`.
pub fn unflagged(path: &str) -> String {
    if path.starts_with('-') {
        format!("./{path}")
    } else {
        path.to_string()
    }
}

/// A file path as one shell word that no command line takes for a flag.
pub fn path_word(path: &str) -> String {
    shell_word(&unflagged(path))
}

/// The `--policy NAME` a reproduce command needs (none for the default).
pub(crate) fn policy_flag(policy: &str) -> String {
    if policy == fleetsim_scenario::rules::DEFAULT_POLICY {
        String::new()
    } else {
        format!(" --policy {policy}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_that_looks_like_a_flag_is_written_from_the_current_directory() {
        assert_eq!(path_word("-dash.toml"), "./-dash.toml");
        assert_eq!(path_word("-my file.toml"), "'./-my file.toml'");
        assert_eq!(path_word("dir/x.toml"), "dir/x.toml");
    }
}
