//! `qlat analyze` against pt-query-digest 3.5.7 on Percona Toolkit's own
//! slow-log samples: classes, counts, sums, min, max, median and 95th
//! percentile must equal its output to the six decimals it prints.
//!
//! Runs when `QLAT_CONFORMANCE_DIR` points at the conformance folder.

use qlat::analyze::Analyzer;
use qlat::ingest::Format;
use qlat::sql::catalog::Catalog;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + 1e-9
}

/// pt-query-digest prints times with six decimals.
fn close_printed(a: f64, b: f64) -> bool {
    (a - b).abs() <= 5e-7 + 1e-9
}

/// Samples where qlat deliberately differs from pt-query-digest.
const DELIBERATE: &[(&str, &str)] = &[
    (
        "slow006-session-2.txt",
        "no event has a Query_time header: pt-query-digest reports 0 queries yet 1 unique \
         class (an artefact of its counters); qlat reports 0 and 0",
    ),
    (
        "slow017.txt",
        "the only event's Query_time is corrupt: pt-query-digest drops it silently and still \
         counts 1 unique class; qlat reports the corrupt field as an error and has 0 classes",
    ),
    (
        "slow019.txt",
        "`administrator command: Quit` events log Rows_sent 5+9 and Rows_examined 3+2; \
         pt-query-digest reports 0 for that class, qlat keeps what the server logged",
    ),
];

#[test]
fn digest_matches_pt_query_digest_on_every_sample() {
    let Ok(dir) = std::env::var("QLAT_CONFORMANCE_DIR") else {
        eprintln!("QLAT_CONFORMANCE_DIR not set; skipping the pt-query-digest conformance test");
        return;
    };
    let samples = PathBuf::from(dir).join("percona-slowlogs");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&samples)
        .expect("conformance folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_none_or(|e| e != "json"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "samples found: {}", names.len());
    let catalog = Catalog::tpch();
    let mut failures = Vec::new();
    let mut classes_checked = 0;
    for log in &names {
        let expected_path = PathBuf::from(format!("{}.expected.json", log.display()));
        let expected: Value =
            serde_json::from_slice(&std::fs::read(&expected_path).expect("expected file"))
                .expect("expected JSON");
        let name = log
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if let Some((_, why)) = DELIBERATE.iter().find(|(n, _)| *n == name) {
            eprintln!("{name}: deliberate difference: {why}");
            continue;
        }
        // pt-query-digest's default input type is the slow log, so the
        // samples are read as slow logs whatever their content looks like.
        let mut analyzer = Analyzer::new(&catalog);
        if let Err(e) = analyzer.add_file(log, Format::SlowLogFile) {
            failures.push(format!("{name}: {e}"));
            continue;
        }
        let analysis = analyzer.finish();
        if analysis.query_count != expected["query_count"].as_u64().unwrap_or(u64::MAX) {
            failures.push(format!(
                "{name}: query_count {} != {}",
                analysis.query_count, expected["query_count"]
            ));
        }
        if analysis.unique_query_count as u64
            != expected["unique_query_count"].as_u64().unwrap_or(u64::MAX)
        {
            failures.push(format!(
                "{name}: unique_query_count {} != {}",
                analysis.unique_query_count, expected["unique_query_count"]
            ));
        }
        let ours: HashMap<&str, &qlat::analyze::ClassSummary> = analysis
            .classes
            .iter()
            .map(|c| (c.class.fingerprint.as_str(), c))
            .collect();
        for want in expected["classes"].as_array().into_iter().flatten() {
            classes_checked += 1;
            let fp = want["fingerprint"].as_str().unwrap_or_default();
            let Some(got) = ours.get(fp) else {
                failures.push(format!("{name}: missing class {fp:?}"));
                continue;
            };
            let c = &got.class;
            let qt = &want["query_time"];
            let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
            let checks = [
                (
                    "query_id",
                    c.query_id == want["query_id"].as_str().unwrap_or_default(),
                ),
                (
                    "checksum",
                    c.checksum == want["checksum"].as_str().unwrap_or_default(),
                ),
                (
                    "count",
                    c.count == want["count"].as_u64().unwrap_or(u64::MAX),
                ),
                ("sum", close(c.query_time.sum, f(&qt["sum"]), 1e-6)),
                ("min", close(c.query_time.min, f(&qt["min"]), 1e-6)),
                ("max", close(c.query_time.max, f(&qt["max"]), 1e-6)),
                ("avg", close_printed(c.query_time.avg, f(&qt["avg"]))),
                (
                    "median",
                    close_printed(c.query_time.median, f(&qt["median"])),
                ),
                ("pct_95", close_printed(c.query_time.p95, f(&qt["pct_95"]))),
                (
                    "lock_time_sum",
                    close(c.lock_time_sum, f(&want["lock_time_sum"]), 1e-6),
                ),
                (
                    "rows_sent_sum",
                    close(c.rows_sent_sum, f(&want["rows_sent_sum"]), 1e-9),
                ),
                (
                    "rows_examined_sum",
                    close(c.rows_examined_sum, f(&want["rows_examined_sum"]), 1e-9),
                ),
            ];
            for (what, ok) in checks {
                if !ok {
                    failures.push(format!(
                        "{name}: class {fp:?}: {what} differs: ours count={} qt={:?} lock={} sent={} examined={}; expected {}",
                        c.count, c.query_time, c.lock_time_sum, c.rows_sent_sum, c.rows_examined_sum, want
                    ));
                }
            }
        }
    }
    eprintln!("checked {} samples, {classes_checked} classes", names.len());
    assert!(
        classes_checked > 90,
        "too few classes compared: {classes_checked}"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
