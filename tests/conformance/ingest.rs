//! Checks the native slow-log reader against pt-query-digest 3.5.7 on the
//! Percona Toolkit sample logs.
//!
//! The samples are not part of this repository (they are GPL test data);
//! the test runs only when `QLAT_CONFORMANCE_DIR` points at a folder holding
//! `percona-slowlogs/NAME` and `NAME.expected.json`.
//!
//! For every sample the reader must yield exactly `query_count` events, and
//! the sums of query time, lock time, rows sent and rows examined must equal
//! the sums over pt-query-digest's query classes. Where qlat deliberately
//! differs, [`DELIBERATE`] says how and why; those samples are checked
//! against qlat's own expectation instead.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use qlat::ingest::{IngestError, SlowLogReader};

/// A sample where qlat's reading is deliberately not pt-query-digest's.
struct Deliberate {
    sample: &'static str,
    /// How many events qlat rejects with an error (pt-query-digest has no
    /// notion of a rejected event: it drops or keeps them silently).
    errors: usize,
    /// Metric sums qlat reports instead of pt-query-digest's, if they differ.
    sums: Option<Sums>,
    reason: &'static str,
}

const DELIBERATE: &[Deliberate] = &[
    Deliberate {
        sample: "slow017.txt",
        errors: 1,
        sums: None,
        reason: "`Query_time: 18446744073708.796870.000036` is a corrupt value (a MySQL \
                 wrap-around bug). pt-query-digest silently drops the event; qlat reports \
                 it as an error naming the line and the field, so the user knows data was lost.",
    },
    Deliberate {
        sample: "slow019.txt",
        errors: 0,
        sums: Some(Sums {
            query_time: 0.019700,
            lock_time: 0.009453,
            rows_sent: 14.0,
            rows_examined: 8.0,
        }),
        reason: "The two `administrator command: Quit` events log Rows_sent 5 and 9 and \
                 Rows_examined 3 and 2; pt-query-digest reports 0 rows for that class. qlat \
                 keeps the values the server logged.",
    },
];

#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    query_time: f64,
    lock_time: f64,
    rows_sent: f64,
    rows_examined: f64,
}

fn expected(path: &Path) -> (usize, Sums) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).expect("expected.json is JSON");
    let count = v["query_count"].as_u64().expect("query_count") as usize;
    let mut sums = Sums::default();
    for class in v["classes"].as_array().expect("classes") {
        let f = |x: &serde_json::Value| x.as_f64().unwrap_or(0.0);
        sums.query_time += f(&class["query_time"]["sum"]);
        sums.lock_time += f(&class["lock_time_sum"]);
        sums.rows_sent += f(&class["rows_sent_sum"]);
        sums.rows_examined += f(&class["rows_examined_sum"]);
    }
    (count, sums)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn native_reader_matches_pt_query_digest() {
    let Some(dir) = std::env::var_os("QLAT_CONFORMANCE_DIR") else {
        eprintln!("note: QLAT_CONFORMANCE_DIR is not set; skipping the pt-query-digest comparison");
        return;
    };
    let dir = PathBuf::from(dir).join("percona-slowlogs");
    let mut samples: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    samples.sort();
    assert!(!samples.is_empty(), "no samples in {}", dir.display());

    let mut failures = Vec::new();
    for sample in &samples {
        let name = sample
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let expected_path = PathBuf::from(format!("{}.expected.json", sample.display()));
        let (want_count, pt_sums) = expected(&expected_path);
        let deliberate = DELIBERATE.iter().find(|d| d.sample == name);
        let want_errors = deliberate.map_or(0, |d| d.errors);
        let want_sums = deliberate.and_then(|d| d.sums).unwrap_or(pt_sums);

        let file = File::open(sample).expect("open sample");
        let mut got = Sums::default();
        let mut count = 0;
        let mut errors: Vec<IngestError> = Vec::new();
        for item in SlowLogReader::new(BufReader::new(file), sample) {
            match item {
                Ok(ev) => {
                    count += 1;
                    got.query_time += ev.query_time.unwrap_or(0.0);
                    got.lock_time += ev.lock_time.unwrap_or(0.0);
                    got.rows_sent += ev.rows_sent.unwrap_or(0) as f64;
                    got.rows_examined += ev.rows_examined.unwrap_or(0) as f64;
                }
                Err(e) => errors.push(e),
            }
        }
        let mut problems = Vec::new();
        if count != want_count {
            problems.push(format!("{count} events, want {want_count}"));
        }
        if errors.len() != want_errors {
            let msgs: Vec<String> = errors.iter().map(ToString::to_string).collect();
            problems.push(format!(
                "{} errors, want {want_errors}: {msgs:?}",
                errors.len()
            ));
        }
        for (what, g, w) in [
            ("query_time", got.query_time, want_sums.query_time),
            ("lock_time", got.lock_time, want_sums.lock_time),
            ("rows_sent", got.rows_sent, want_sums.rows_sent),
            ("rows_examined", got.rows_examined, want_sums.rows_examined),
        ] {
            if !close(g, w) {
                problems.push(format!("{what} sum {g}, want {w}"));
            }
        }
        if problems.is_empty() {
            match deliberate {
                Some(d) => eprintln!("ok   {name} (deliberate difference: {})", d.reason),
                None => eprintln!("ok   {name}"),
            }
        } else {
            failures.push(format!("{name}: {}", problems.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} samples differ from pt-query-digest:\n{}",
        failures.len(),
        samples.len(),
        failures.join("\n")
    );
    eprintln!("{} samples match pt-query-digest", samples.len());
}
