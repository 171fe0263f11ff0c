//! `qlat analyze` against pt-query-digest 3.5.7 on Percona Toolkit's own
//! slow-log samples: classes, counts, sums, min and max must be identical;
//! median and 95th percentile within pt-query-digest's 5 % bucket width.
//!
//! Runs when `QLAT_CONFORMANCE_DIR` points at the conformance folder.

use qlat::analyze::analyze_paths;
use qlat::sql::catalog::Catalog;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + 1e-9
}

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
        let name = log.file_name().unwrap_or_default().to_string_lossy().to_string();
        let analysis = match analyze_paths(std::slice::from_ref(log), &catalog) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
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
                ("query_id", c.query_id == want["query_id"].as_str().unwrap_or_default()),
                ("checksum", c.checksum == want["checksum"].as_str().unwrap_or_default()),
                ("count", c.count == want["count"].as_u64().unwrap_or(u64::MAX)),
                ("sum", close(c.query_time.sum, f(&qt["sum"]), 1e-6)),
                ("min", close(c.query_time.min, f(&qt["min"]), 1e-6)),
                ("max", close(c.query_time.max, f(&qt["max"]), 1e-6)),
                ("avg", close(c.query_time.avg, f(&qt["avg"]), 1e-5)),
                ("median", close(c.query_time.median, f(&qt["median"]), 0.051)),
                ("pct_95", close(c.query_time.p95, f(&qt["pct_95"]), 0.051)),
                ("lock_time_sum", close(c.lock_time_sum, f(&want["lock_time_sum"]), 1e-6)),
                ("rows_sent_sum", close(c.rows_sent_sum, f(&want["rows_sent_sum"]), 1e-9)),
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
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}
