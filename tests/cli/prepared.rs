//! `qlat analyze` on what MariaDB logged for server-side prepared
//! statements, tables whose names differ only by digits, and one table name
//! in two databases: `tests/fixtures/prepared/` (see its README).

use crate::support::cli::{json_ok, qlat};
use serde_json::Value;

const DIR: &str = "tests/fixtures/prepared";

fn analyze(files: &[&str]) -> Value {
    json_ok(
        qlat()
            .args(["analyze", "--format", "json", "--no-report"])
            .args(files.iter().map(|f| format!("{DIR}/{f}"))),
    )
}

/// Entries of `command` in the native general log, counted from its text.
fn general_log_entries(command: &str) -> u64 {
    let text = std::fs::read_to_string(format!("{}/{DIR}/general.log", env!("CARGO_MANIFEST_DIR")))
        .expect("fixture");
    let needle = format!(" {command}\t");
    text.lines().filter(|l| l.contains(&needle)).count() as u64
}

#[test]
fn prepared_executions_are_statements_in_both_logs() {
    let prepared = general_log_entries("Prepare");
    let executions = general_log_entries("Execute");
    assert!(
        prepared > 0 && executions > prepared,
        "{prepared} {executions}"
    );
    for files in [
        ["general_log.json", "slow.log"],
        ["general.log", "slow_log.json"],
    ] {
        let v = analyze(&files);
        let q = &v["quality"];
        assert_eq!(q["both_logs"], true);
        assert_eq!(
            q["only_in_slow_total"], 0,
            "{files:?}: {}",
            q["only_in_slow"]
        );
        assert_eq!(
            q["only_in_general_total"], 0,
            "{files:?}: {}",
            q["only_in_general"]
        );
        assert_eq!(q["general"]["prepared"], prepared, "{files:?}");
        assert_eq!(q["general"]["prepared_executions"], executions, "{files:?}");
    }
}

/// The statements that touch each table, from the workload that produced
/// the fixture (`tests/cli/prepared_fixture.rs`), as the README lists them.
const TABLE_COUNTS: [(&str, u64); 5] = [
    // 6 prepared lookups + the cross-database join
    ("qlat_prep_a.shelf1", 7),
    // 3 prepared lookups + COUNT(*)
    ("qlat_prep_a.shelf2", 4),
    // 2 prepared lookups + 2 prepared UPDATEs
    ("qlat_prep_a.shelf3", 4),
    // 1 prepared lookup + SQL-level EXECUTE + the mariadb client's COUNT(*)
    ("qlat_prep_a.shelf4", 3),
    // the join + 1 lookup after USE + 3 lookups and COUNT(*) in session B
    ("qlat_prep_b.shelf1", 6),
];

#[test]
fn tables_are_credited_per_statement_and_database() {
    for file in ["slow.log", "slow_log.json"] {
        let v = analyze(&[file]);
        let tables: Vec<(String, u64)> = v["tables"]
            .as_array()
            .expect("tables")
            .iter()
            .map(|t| {
                let name = t["name"].as_str().unwrap_or_default().to_string();
                (name, t["count"].as_u64().unwrap_or_default())
            })
            .collect();
        let mut got = tables.clone();
        got.sort();
        let want: Vec<(String, u64)> = TABLE_COUNTS
            .iter()
            .map(|(t, n)| (t.to_string(), *n))
            .collect();
        assert_eq!(got, want, "{file}");

        let lookups = v["classes"]
            .as_array()
            .expect("classes")
            .iter()
            .find(|c| c["fingerprint"] == "select id, qty from shelf? where id = ?")
            .expect("the lookup class");
        assert_eq!(lookups["count"], 12, "{file}");
        assert_eq!(
            lookups["tables"],
            serde_json::json!([
                "qlat_prep_a.shelf1",
                "qlat_prep_a.shelf2",
                "qlat_prep_a.shelf3",
                "qlat_prep_a.shelf4"
            ]),
            "{file}"
        );
    }
}

/// On the shipped shop dataset (`data/app`), each table's count is the
/// number of logged statements that read or write it, counted here from
/// the statements' text: a table name as a whole word outside quotes, in a
/// SELECT, INSERT, UPDATE, DELETE or WITH statement (SHOW INDEX FROM t
/// reads metadata, not the table).
#[test]
fn per_table_counts_on_the_shop_dataset_equal_the_statements_touching_each_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/app/slow_log.json");
    let records: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("data/app")).expect("json");
    let tables = qlat::capture::app::TABLES;
    let mut expected = std::collections::BTreeMap::new();
    for r in &records {
        let text = unquoted(&r["sql_text"].as_str().unwrap_or("").to_ascii_lowercase());
        let first = text.split_whitespace().next().unwrap_or("");
        if !["select", "insert", "update", "delete", "with"].contains(&first) {
            continue;
        }
        let words: std::collections::BTreeSet<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .collect();
        for t in tables {
            if words.contains(t) {
                *expected.entry(format!("qlat_app.{t}")).or_insert(0u64) += 1;
            }
        }
    }
    let v = json_ok(qlat().args(["analyze", "--format", "json"]).arg(path));
    let got: std::collections::BTreeMap<String, u64> = v["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter(|t| {
            t["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("qlat_app."))
        })
        .map(|t| {
            (
                t["name"].as_str().unwrap_or("").to_owned(),
                t["count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(got.len(), 8, "{got:?}");
    assert_eq!(got, expected);
}

/// `text` with quoted literals emptied, so words inside strings do not count.
fn unquoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                    out.push(c);
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}
