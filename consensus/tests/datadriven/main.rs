//! Scenario tests of the raft core in etcd-raft's datadriven style: every script in
//! `consensus/testdata/*.txt` drives a fresh interaction environment and compares each
//! command's printout with the expected output written below it.
//!
//! `REWRITE=1 cargo test -p consensus --test datadriven` writes the actual outputs back
//! into the scripts; commit a changed expectation only when you can explain it.

mod commands;
mod describe;
mod env;
mod script;

use std::path::PathBuf;

#[test]
fn scenarios() {
    // `DATADRIVEN_ONLY=name` runs only the scripts whose path contains `name`.
    let only = std::env::var("DATADRIVEN_ONLY").ok();
    // `cargo test` sets the variable when it runs the test, too: a binary reused from a
    // build cache made in another checkout must read this checkout's scripts.
    let manifest_dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    let dir = PathBuf::from(manifest_dir).join("testdata");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .filter(|path| only.as_ref().is_none_or(|name| path.to_string_lossy().contains(name.as_str())))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no scripts in {}", dir.display());
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|path| {
            let mut env = env::Env::default();
            script::run_file(path, &mut |case| commands::handle(&mut env, case)).err()
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} scripts failed:\n\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
}
