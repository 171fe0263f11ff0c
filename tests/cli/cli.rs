//! The command line's machine contracts and its errors on bad input.

use serde_json::Value;
use std::io::Write;
use std::process::Stdio;

use crate::support::cli::{json_ok, qlat};

#[test]
fn fingerprint_prints_fingerprint_and_query_id() {
    let out = qlat()
        .args(["fingerprint", "SELECT * FROM orders WHERE o_orderkey = 42"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "select * from orders where o_orderkey = ?");
    assert!(
        lines[1].starts_with("0x") && lines[1].len() == 18,
        "{}",
        lines[1]
    );
}

#[test]
fn fingerprint_jsonl_maps_lines_and_names_a_bad_line() {
    let out = with_stdin(
        &["fingerprint", "--jsonl"],
        b"{\"query\": \"SELECT 1\"}\n{\"query\": \"CALL foo(1, 2)\"}\nnot json\n",
    );
    assert!(!out.status.success(), "a bad line fails the run");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "lines before the bad one are answered");
    assert_eq!(lines[0]["query"], "SELECT 1");
    assert_eq!(lines[0]["fingerprint"], "select ?");
    assert_eq!(lines[1]["fingerprint"], "call foo");
    let keys: Vec<&String> = lines[0].as_object().expect("object").keys().collect();
    assert_eq!(keys, ["query", "fingerprint", "query_id"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stdin line 3"), "{err}");
}

/// Runs `qlat ARGS` with `input` on stdin.
fn with_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = qlat()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    child.wait_with_output().expect("waits")
}

#[test]
fn fingerprint_jsonl_reports_every_bad_line_and_goes_on() {
    let mut input = b"{\"query\": \"SELECT 1\"}\nnot json\n{\"q\": 1}\n".to_vec();
    input.extend_from_slice(
        b"{\"query\": \"\xff\xfe\"}\n\n{\"query\": \"select * from t where id = 7\"}\r\n",
    );
    let out = with_stdin(&["fingerprint", "--jsonl"], &input);
    assert!(!out.status.success(), "a bad line fails the run");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2, "good lines after bad ones are answered");
    assert_eq!(lines[1]["fingerprint"], "select * from t where id = ?");
    let err = String::from_utf8_lossy(&out.stderr);
    for n in [2, 3, 4] {
        assert!(
            err.contains(&format!("stdin line {n}: ")),
            "line {n}: {err}"
        );
    }
    assert!(
        !err.contains("stdin line 1:") && !err.contains("stdin line 6:"),
        "{err}"
    );
    assert!(err.contains("3 of 5 stdin lines"), "{err}");

    let ok = with_stdin(&["fingerprint", "--jsonl"], b"{\"query\": \"SELECT 1\"}\n");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn fingerprint_reads_plain_statements_from_stdin() {
    let out = with_stdin(
        &["fingerprint"],
        b"SELECT * FROM orders WHERE o_orderkey = 42\n\nCALL foo(1, 2)\r\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<(&str, &str)> = text
        .lines()
        .map(|l| l.split_once('\t').expect("ID, tab, fingerprint"))
        .collect();
    let single = qlat()
        .args(["fingerprint", "SELECT * FROM orders WHERE o_orderkey = 42"])
        .output()
        .expect("runs");
    let single = String::from_utf8_lossy(&single.stdout);
    let single: Vec<&str> = single.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(
        lines[0],
        (single[1], single[0]),
        "same answer as the argument form"
    );
    assert_eq!(lines[1].1, "call foo");

    let bad = with_stdin(&["fingerprint"], b"select 1\n\xff\n");
    assert!(!bad.status.success());
    assert_eq!(String::from_utf8_lossy(&bad.stdout).lines().count(), 1);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("stdin line 2: not UTF-8"), "{err}");
}

#[test]
fn analyze_json_contract_on_the_shipped_dataset() {
    let v = json_ok(qlat().args([
        "analyze",
        "--format",
        "json",
        "--no-report",
        "data/slow_log.json",
    ]));
    assert_eq!(v["query_count"], 21_426);
    let classes = v["classes"].as_array().expect("classes");
    assert_eq!(v["unique_query_count"].as_u64(), Some(classes.len() as u64));
    let total: u64 = classes.iter().filter_map(|c| c["count"].as_u64()).sum();
    assert_eq!(total, 21_426);
    for c in classes {
        for key in [
            "fingerprint",
            "query_id",
            "count",
            "query_time",
            "lock_time_sum",
            "rows_sent_sum",
            "rows_examined_sum",
            "example",
            "tables",
        ] {
            assert!(c.get(key).is_some(), "class lacks {key}: {c}");
        }
        for key in ["sum", "min", "max", "avg", "median", "p95"] {
            assert!(c["query_time"][key].is_number(), "query_time.{key}: {c}");
        }
    }
    let top = &classes[0];
    assert!(
        top["tables"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == "tpch.lineitem")),
        "the most expensive class reads lineitem: {top}"
    );
}

#[test]
fn analyze_writes_the_report_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = qlat()
        .args(["analyze", "data/"])
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("Rank"), "{summary}");
    for f in [
        "report.html",
        "histogram.png",
        "histogram.svg",
        "scatter.png",
        "users.png",
    ] {
        let meta = std::fs::metadata(dir.path().join(f)).expect(f);
        assert!(meta.len() > 100, "{f} is not empty");
    }
    let html = std::fs::read_to_string(dir.path().join("report.html")).expect("html");
    assert!(html.contains("general log"), "both logs were analysed");
}

#[test]
fn analyze_on_a_file_that_is_not_a_log_fails_with_one_clear_line() {
    let out = qlat()
        .args(["analyze", "--no-report", "Cargo.toml"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Cargo.toml: not a MySQL/MariaDB query log"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn analyze_on_a_missing_path_names_it() {
    let out = qlat()
        .args(["analyze", "--no-report", "no/such/dir"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/dir"));
}

mod whole_path {
    use proptest::prelude::*;
    use qlat::analyze::Analyzer;
    use qlat::ingest::{Event, LogKind};
    use qlat::sql::catalog::Catalog;

    fn event(sql: String, t: f64) -> Event {
        Event {
            kind: LogKind::Slow,
            time: None,
            user: Some("u".into()),
            host: None,
            thread_id: Some(1),
            db: None,
            command: None,
            query_time: Some(t),
            lock_time: Some(0.0),
            rows_sent: Some(0),
            rows_examined: Some(0),
            sql,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Fingerprinting, parsing into features and aggregating never
        /// panic, whatever text the log holds.
        #[test]
        fn any_statement_text_goes_through_the_whole_path(
            sql in prop_oneof![
                any::<String>(),
                "(SELECT|select|INSERT|SET|SHOW|/\\*|--|'|\"|`|\\(|\\)|,| |FROM|WHERE|IN|UNION|[0-9]+|[a-z_]+|;|\\\\){0,60}",
            ],
            t in prop_oneof![Just(0.0), 0.0f64..100.0, Just(f64::NAN), Just(f64::INFINITY)],
        ) {
            let catalog = Catalog::tpch();
            let mut a = Analyzer::new(&catalog);
            a.add_event(&event(sql.clone(), t));
            a.add_event(&event(sql, 0.001));
            let analysis = a.finish();
            prop_assert_eq!(analysis.query_count, 2);
        }
    }
}

/// Every argument of every command says what it is for in `--help`.
#[test]
fn every_flag_of_every_command_has_help_text() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "help" | "version") || arg.is_hide_set() {
                continue;
            }
            let text = arg
                .get_help()
                .or(arg.get_long_help())
                .map(|h| h.to_string())
                .unwrap_or_default();
            if text.trim().is_empty() {
                missing.push(format!("{path} --{id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_about().is_none() && sub.get_name() != "help" {
                missing.push(format!("{path} {} (no about)", sub.get_name()));
            }
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    let mut cmd = qlat::cli::Cli::command();
    cmd.build();
    walk(&cmd, "qlat", &mut missing);
    assert!(missing.is_empty(), "arguments without help: {missing:#?}");
}

#[test]
fn stats_help_describes_stats() {
    let out = qlat().args(["stats", "--help"]).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert!(first.contains("statistics"), "{first}");
    for capture_only in ["SET GLOBAL", "creates and loads", "`capture`", "--dataset"] {
        assert!(!text.contains(capture_only), "{capture_only}: {text}");
    }
}

/// In an input directory, a schema and a capture's metadata are passed
/// over quietly; a file that is no log and nothing qlat knows warns once;
/// `--format json` writes nothing but stdout.
#[test]
fn analyze_passes_over_known_non_logs_and_warns_once_about_others() {
    let dir = tempfile::tempdir().expect("temp dir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    std::fs::write(
        logs.join("slow.log"),
        "# Time: 2024-05-01T10:00:00.000000Z\n# User@Host: app[app] @ localhost []\n# Query_time: 0.001000  Lock_time: 0.000000 Rows_sent: 1  Rows_examined: 1\nSET timestamp=1714557600;\nselect 1;\n",
    )
    .expect("log");
    std::fs::write(
        logs.join("schema.sql"),
        "CREATE TABLE t (id INT PRIMARY KEY);\n",
    )
    .expect("ddl");
    std::fs::write(logs.join("capture.json"), "{}\n").expect("capture");
    std::fs::write(logs.join("notes.txt"), "what we ran on Tuesday\n").expect("notes");
    let cwd = dir.path().join("cwd");
    std::fs::create_dir_all(&cwd).expect("mkdir");
    let out = qlat()
        .current_dir(&cwd)
        .args(["analyze", "--format", "json"])
        .arg(&logs)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON value");
    assert_eq!(v["query_count"], 1);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(warnings[0].contains("notes.txt"), "{err}");
    assert_eq!(
        std::fs::read_dir(&cwd).expect("cwd").count(),
        0,
        "--format json wrote files"
    );
}
