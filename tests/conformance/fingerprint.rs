//! Conformance of `qlat::sql::fingerprint` with pt-query-digest 3.5.7.
//!
//! The reference data lives outside the repository (Percona Toolkit test
//! samples are GPL-2.0); point `QLAT_CONFORMANCE_DIR` at it to run:
//! `QLAT_CONFORMANCE_DIR=/work/shared/conformance cargo test --test conformance fingerprint`.

use std::path::{Path, PathBuf};

use qlat::sql::fingerprint::{checksum, fingerprint, query_id};
use serde_json::Value;

/// Classes whose stored `example` cannot reproduce the class fingerprint,
/// as (file, fingerprint prefix, reason).
const EXAMPLE_EXCLUSIONS: &[(&str, &str, &str)] = &[(
    "slow027.txt.expected.json",
    "select id, img from products p where p.status = ?",
    "the example is truncated inside its IN (...) list, so the list never closes and cannot collapse to in(?+)",
)];

fn conformance_dir() -> Option<PathBuf> {
    match std::env::var_os("QLAT_CONFORMANCE_DIR") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            eprintln!("QLAT_CONFORMANCE_DIR not set; skipping pt-query-digest conformance checks");
            None
        }
    }
}

#[test]
fn fingerprint_pairs() {
    let Some(dir) = conformance_dir() else { return };
    let text = std::fs::read_to_string(dir.join("fingerprint-pairs.jsonl")).expect("read pairs");
    let mut failures = Vec::new();
    let mut total = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let pair: Value = serde_json::from_str(line).expect("valid JSON line");
        let query = pair["query"].as_str().expect("query");
        let expected = pair["fingerprint"].as_str().expect("fingerprint");
        total += 1;
        let got = fingerprint(query);
        if got != expected {
            failures.push(format!(
                "{query:?}\n  expected {expected:?}\n  got      {got:?}"
            ));
        }
    }
    eprintln!(
        "fingerprint pairs: {}/{} pass",
        total - failures.len(),
        total
    );
    assert!(total > 0, "no pairs found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn expected_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("percona-slowlogs"))
        .expect("read percona-slowlogs")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    files.sort();
    files
}

#[test]
fn slowlog_classes() {
    let Some(dir) = conformance_dir() else { return };
    let mut failures = Vec::new();
    let (mut classes, mut examples_checked, mut excluded) = (0, 0, 0);
    for path in expected_files(&dir) {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        for class in doc["classes"].as_array().expect("classes") {
            classes += 1;
            let fp = class["fingerprint"].as_str().expect("fingerprint");
            if checksum(fp) != class["checksum"].as_str().expect("checksum") {
                failures.push(format!("{file}: checksum of {fp:?}"));
            }
            if query_id(fp) != class["query_id"].as_str().expect("query_id") {
                failures.push(format!("{file}: query_id of {fp:?}"));
            }
            let Some(example) = class["example"].as_str() else {
                continue;
            };
            let exclusion = EXAMPLE_EXCLUSIONS
                .iter()
                .find(|(f, prefix, _)| *f == file && fp.starts_with(prefix));
            let got = fingerprint(example);
            match exclusion {
                Some((_, _, reason)) => {
                    excluded += 1;
                    eprintln!("excluded {file}: {reason}");
                    assert_ne!(
                        got, fp,
                        "{file}: exclusion is stale, the example now matches"
                    );
                }
                None => {
                    examples_checked += 1;
                    if got != fp {
                        failures.push(format!(
                            "{file}: example {example:?}\n  expected {fp:?}\n  got      {got:?}"
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "slow-log classes: {classes} checked for checksum/query_id, \
         {examples_checked} examples fingerprinted, {excluded} excluded, {} failures",
        failures.len()
    );
    assert!(classes > 0, "no classes found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
