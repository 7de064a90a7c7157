//! The fuzz target's seed corpus (`fuzz/seeds/parse_files/`), checked by
//! `cargo test`: no input in it panics the parsers the fuzz target drives,
//! and it holds every shipped scenario and fleet file.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn seeds() -> Vec<PathBuf> {
    let dir = root().join("fuzz/seeds/parse_files");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn no_seed_of_the_fuzz_corpus_panics_the_parsers() {
    let files = seeds();
    assert!(files.len() > 12, "only {} seeds", files.len());
    // The default hook would print each panic; the assertion names them all.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let panicked: Vec<String> = files
        .iter()
        .filter(|p| {
            let bytes = std::fs::read(p).unwrap();
            std::panic::catch_unwind(|| fleetsim_model::read::parse_any(&bytes)).is_err()
        })
        .map(|p| p.display().to_string())
        .collect();
    std::panic::set_hook(hook);
    assert!(panicked.is_empty(), "these seeds panic: {panicked:?}");
}

#[test]
fn the_seed_corpus_holds_every_shipped_scenario_and_fleet() {
    let names: Vec<String> = seeds()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let shipped = |dir: &str, prefix: &str| -> Vec<String> {
        std::fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| format!("{prefix}{}", p.file_name().unwrap().to_string_lossy()))
            .collect()
    };
    let mut missing: Vec<String> = shipped("scenarios", "scenario-")
        .into_iter()
        .chain(shipped("scenarios/fleets", "fleet-"))
        .filter(|n| !names.contains(n))
        .collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "copy these into fuzz/seeds/parse_files/: {missing:?}"
    );
}
