//! Bounded fuzzing, in the normal test suite, of the `gomod` code that reads untrusted bytes
//! (what go-registry gets from uploaders and the upstream): the zip check, the go.mod
//! parser, and module path / version (un)escaping.
//!
//! Each target first runs every seed in `fuzz/corpus/<target>/` (kept in the repository;
//! a crash found later is added there as a regression input), then proptest generates
//! inputs: random bytes, and byte-level mutations of the seeds. The properties are "never
//! panics" plus each function's own invariants (a zip that passes the check hashes like
//! `hash_zip`; escaping round-trips). Case counts are fixed so the run is bounded
//! (`PROPTEST_CASES` raises them for a longer local run); the `cargo fuzz` targets in
//! `fuzz/` run the same functions under libFuzzer on nightly.

use std::path::PathBuf;

use proptest::prelude::*;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("seed corpus {}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(!seeds.is_empty(), "empty seed corpus {}", dir.display());
    seeds.sort();
    seeds
}

/// A seed with `edits` (position, byte) applied: positions wrap around the seed.
fn mutate(seed: &[u8], edits: &[(usize, u8)]) -> Vec<u8> {
    let mut out = seed.to_vec();
    if out.is_empty() {
        return edits.iter().map(|(_, b)| *b).collect();
    }
    for (pos, byte) in edits {
        let at = pos % out.len();
        out[at] = *byte;
    }
    out
}

fn check_zip_target(bytes: &[u8]) {
    for (module, version) in [("example.com/m", "v1.0.0"), ("x.com/m", "v1.0.0")] {
        if let Ok(summary) = gomod::check_zip(module, version, bytes) {
            // A zip that passes the check hashes the same through both entry points.
            assert_eq!(gomod::hash_zip(bytes).unwrap(), summary.h1);
            assert!(summary.size <= 500 << 20);
        }
    }
    let _ = gomod::hash_zip(bytes);
}

fn gomod_parse_target(bytes: &[u8]) {
    let _ = gomod::modfile::module_path(bytes);
    let _ = gomod::modfile::go_version_lax(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        if let Ok(parsed) = gomod::ModFile::parse(text) {
            let _ = parsed.module_path();
            let _ = parsed.requires();
            let _ = parsed.replaces();
        }
    }
}

fn path_escape_target(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let text = text.trim_end_matches('\n');
    if let Ok(path) = gomod::path::unescape_path(text) {
        assert_eq!(gomod::path::escape_path(&path).unwrap(), text);
    }
    if let Ok(escaped) = gomod::path::escape_path(text) {
        assert_eq!(gomod::path::unescape_path(&escaped).unwrap(), text);
    }
    if let Ok(v) = gomod::path::unescape_version(text) {
        let _ = gomod::path::escape_version(&v);
    }
    let _ = gomod::version::canonical(text);
    let _ = gomod::version::check_version_for_module("example.com/m", text);
}

#[test]
fn seed_corpora_run_clean() {
    for seed in corpus("check_zip") {
        check_zip_target(&seed);
    }
    for seed in corpus("gomod_parse") {
        gomod_parse_target(&seed);
    }
    for seed in corpus("path_escape") {
        path_escape_target(&seed);
    }
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8)>> {
    proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)
}

/// 256 cases per property unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn check_zip_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        check_zip_target(&bytes);
    }

    #[test]
    fn check_zip_mutated_seeds(which in any::<usize>(), edits in edits()) {
        let seeds = corpus("check_zip");
        check_zip_target(&mutate(&seeds[which % seeds.len()], &edits));
    }

    #[test]
    fn gomod_parse_random_text(text in "(module|go|require|replace|exclude|retract|[(){}\"`/ \t\n]|=>|//|[a-z0-9.]{1,8}|v1\\.2\\.3){0,64}") {
        gomod_parse_target(text.as_bytes());
    }

    #[test]
    fn gomod_parse_mutated_seeds(which in any::<usize>(), edits in edits()) {
        let seeds = corpus("gomod_parse");
        gomod_parse_target(&mutate(&seeds[which % seeds.len()], &edits));
    }

    #[test]
    fn path_escape_random(text in "[!-~\u{80}-\u{10ffff}]{0,40}") {
        path_escape_target(text.as_bytes());
    }
}
