//! `qlat capture` against the machine's real MariaDB, at a tiny size.
//!
//! Needs a MySQL/MariaDB server at `QLAT_TEST_MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306`) whose account may set global log settings.

use serde_json::Value;
use std::process::Command;

/// Held by every test that switches the server's logs: two captures at
/// once would each restore the other's settings.
pub static SERVER_LOGS: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn url() -> String {
    std::env::var("QLAT_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

pub fn global(name: &str) -> String {
    let out = Command::new("mariadb")
        .args(["-uroot", "-h127.0.0.1", "-N", "-B", "-e"])
        .arg(format!("SELECT @@GLOBAL.{name}"))
        .output()
        .expect("the mariadb client runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

const SLOW_COLUMNS: [&str; 12] = [
    "start_time",
    "user_host",
    "query_time",
    "lock_time",
    "rows_sent",
    "rows_examined",
    "db",
    "last_insert_id",
    "insert_id",
    "server_id",
    "sql_text",
    "thread_id",
];

#[test]
fn capture_writes_every_file_and_restores_the_server() {
    let _server = SERVER_LOGS.lock().unwrap_or_else(|e| e.into_inner());
    let settings = [
        "general_log",
        "slow_query_log",
        "long_query_time",
        "log_output",
        "innodb_buffer_pool_size",
    ];
    let before: Vec<String> = settings.iter().map(|s| global(s)).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_qlat"))
        .args(["capture", "--scale-factor", "0.01", "--tpch-runs", "1"])
        .args([
            "--adhoc",
            "80",
            "--database",
            "qlat_test_capture",
            "--seed",
            "7",
            "--explore-recipes",
            "10",
            "--explore",
            "30",
        ])
        .args(["--concurrency", "1,2"])
        .arg("--url")
        .arg(url())
        .arg("--out")
        .arg(dir.path())
        .output()
        .expect("qlat runs");
    assert!(
        out.status.success(),
        "capture failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let after: Vec<String> = settings.iter().map(|s| global(s)).collect();
    assert_eq!(before, after, "log settings restored: {settings:?}");

    let summary: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("capture.json")).expect("capture.json"),
    )
    .expect("capture.json is JSON");
    assert_eq!(summary["seed"], 7);
    assert_eq!(summary["table_rows"]["region"], 5);
    assert_eq!(summary["table_rows"]["nation"], 25);
    assert!(summary["table_rows"]["lineitem"].as_u64().unwrap_or(0) > 50_000);
    // Column statistics as the server counts them: TPC-H fixes these.
    let q = &summary["column_stats"]["lineitem"]["l_quantity"];
    assert_eq!(
        (q["distinct"].clone(), q["min"].clone(), q["max"].clone()),
        (50.into(), 1.0.into(), 50.0.into())
    );
    assert_eq!(
        summary["column_stats"]["lineitem"]["l_returnflag"]["distinct"],
        3
    );
    assert!(
        summary["column_stats"]["lineitem"]["l_returnflag"]
            .get("min")
            .is_none(),
        "no range for text"
    );
    let ship = &summary["column_stats"]["lineitem"]["l_shipdate"];
    // 1992-01-02 .. 1998-12-01 in days since 1970-01-01.
    assert!(
        ship["min"].as_f64().unwrap_or(0.0) >= 8036.0
            && ship["max"].as_f64().unwrap_or(0.0) <= 10561.0,
        "{ship}"
    );

    // `qlat stats` writes the same into another file, keeping its fields.
    let meta = dir.path().join("meta.json");
    std::fs::write(&meta, r#"{"note": "kept"}"#).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_qlat"))
        .args(["stats", "--database", "qlat_test_capture", "--url"])
        .arg(url())
        .arg("--into")
        .arg(&meta)
        .output()
        .expect("qlat runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written: Value =
        serde_json::from_slice(&std::fs::read(&meta).expect("meta.json")).expect("JSON");
    assert_eq!(written["note"], "kept");
    assert_eq!(
        written["column_stats"]["lineitem"]["l_quantity"],
        summary["column_stats"]["lineitem"]["l_quantity"]
    );
    assert_eq!(written["table_rows"]["region"], 5);
    for q in 1..=22 {
        assert_eq!(
            summary["statements_by_label"][format!("tpch:q{q:02}")],
            1,
            "Q{q} ran once"
        );
    }

    let explored: u64 = summary["statements_by_label"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .filter(|(k, _)| k.starts_with("explore:"))
                .filter_map(|(_, v)| v.as_u64())
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(explored, 30, "every exploration statement ran");

    let slow: Vec<serde_json::Map<String, Value>> = serde_json::from_slice(
        &std::fs::read(dir.path().join("slow_log.json")).expect("slow_log.json"),
    )
    .expect("slow_log.json is a JSON array of objects");
    let sent = summary["statements_sent"].as_u64().unwrap_or(0) as usize;
    assert!(sent >= 22 + 80);
    assert!(
        slow.len() >= sent,
        "every statement is in the slow log: {} < {sent}",
        slow.len()
    );
    assert_eq!(summary["slow_log_rows"].as_u64(), Some(slow.len() as u64));
    for row in &slow {
        for col in SLOW_COLUMNS {
            assert!(row.contains_key(col), "slow-log row lacks {col}: {row:?}");
        }
        let qt = row["query_time"].as_str().unwrap_or("");
        assert_eq!(qt.len(), 15, "query_time in HH:MM:SS.ffffff: {qt}");
        assert!(row["rows_examined"].is_u64());
    }
    let texts: Vec<&str> = slow.iter().filter_map(|r| r["sql_text"].as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("l_returnflag") && t.contains("sum_charge")),
        "Q1 logged"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("/* ApplicationName=DBeaver"))
            || sent < 200
    );

    let general: Vec<serde_json::Map<String, Value>> = serde_json::from_slice(
        &std::fs::read(dir.path().join("general_log.json")).expect("general_log.json"),
    )
    .expect("general_log.json is a JSON array");
    let commands: std::collections::HashSet<&str> = general
        .iter()
        .filter_map(|r| r["command_type"].as_str())
        .collect();
    for c in ["Connect", "Query", "Quit"] {
        assert!(commands.contains(c), "general log has {c}: {commands:?}");
    }
    let users: std::collections::HashSet<&str> = slow
        .iter()
        .filter_map(|r| r["user_host"].as_str())
        .filter_map(|u| u.split('[').next())
        .collect();
    assert!(users.len() >= 3, "several accounts: {users:?}");

    let native = std::fs::read_to_string(dir.path().join("native").join("slow.log"))
        .expect("native slow.log");
    assert!(native.matches("# Query_time:").count() >= sent);
}
