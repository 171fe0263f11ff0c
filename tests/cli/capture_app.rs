//! `qlat capture --dataset app` against the machine's real MariaDB at a
//! tiny size, and the output-path checks of `capture` and `stats`.

use serde_json::{Map, Value};
use std::collections::HashSet;
use std::process::Command;

use super::capture_live::{SERVER_LOGS, global, url};

fn read_array(path: &std::path::Path) -> Vec<Map<String, Value>> {
    serde_json::from_slice(&std::fs::read(path).expect("file written"))
        .expect("a JSON array of objects")
}

#[test]
fn app_capture_logs_prepared_statements_from_several_accounts() {
    let _server = SERVER_LOGS.lock().unwrap_or_else(|e| e.into_inner());
    let before = global("general_log");
    let dir = tempfile::tempdir().expect("temp dir");
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_qlat"))
        .args(["capture", "--dataset", "app", "--rows-scale", "0.01"])
        .args(["--statements", "300", "--seed", "11"])
        .args(["--database", "qlat_test_app", "--url"])
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
    assert!(started.elapsed().as_secs() < 60, "{:?}", started.elapsed());
    assert_eq!(global("general_log"), before, "general_log restored");

    let summary: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("capture.json")).expect("capture.json"),
    )
    .expect("capture.json is JSON");
    assert_eq!(summary["config"]["workload"]["dataset"], "app");
    let tables = qlat::capture::app::TABLES;
    for t in tables {
        assert!(
            summary["table_rows"][t].as_u64().unwrap_or(0) > 0,
            "{t} loaded: {}",
            summary["table_rows"]
        );
    }
    assert_eq!(summary["table_rows"]["customers"], 1000);
    assert!(summary["column_stats"]["orders"]["status"]["distinct"].as_u64() >= Some(3));
    let prepared = summary["statements_prepared"].as_u64().unwrap_or(0);
    assert!(prepared >= 150, "{prepared} prepared of 300 units");

    let general = read_array(&dir.path().join("general_log.json"));
    let count = |kind: &str| general.iter().filter(|r| r["command_type"] == kind).count() as u64;
    assert_eq!(count("Execute"), prepared, "one Execute row per execution");
    assert!(count("Prepare") > 0 && count("Query") > 0);
    let executed: Vec<&str> = general
        .iter()
        .filter(|r| r["command_type"] == "Execute")
        .filter_map(|r| r["argument"].as_str())
        .collect();
    assert!(
        executed.iter().any(|t| t.contains("WHERE p.product_id = ")),
        "Execute rows carry the bound values"
    );

    let slow = read_array(&dir.path().join("slow_log.json"));
    let users: HashSet<&str> = slow
        .iter()
        .filter_map(|r| r["user_host"].as_str())
        .filter_map(|u| u.split('[').next())
        .collect();
    for user in ["shop_web", "shop_support", "shop_batch"] {
        assert!(users.contains(user), "{user} in {users:?}");
    }
    for t in tables {
        assert!(
            slow.iter()
                .filter_map(|r| r["sql_text"].as_str())
                .any(|q| q.contains(t)),
            "a statement reads {t}"
        );
    }
}

#[test]
fn stats_checks_into_before_reading_the_server() {
    // Nothing listens on port 1: had the pass started, the error would be
    // a connection error instead.
    let out = Command::new(env!("CARGO_BIN_EXE_qlat"))
        .args(["stats", "--url", "mysql://root@127.0.0.1:1"])
        .args(["--into", "/nonexistent-qlat-dir/capture.json"])
        .output()
        .expect("qlat runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--into /nonexistent-qlat-dir/capture.json"),
        "{err}"
    );
    assert!(!err.contains("connect"), "{err}");

    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("capture.json");
    std::fs::write(&bad, "[1, 2]").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_qlat"))
        .args(["stats", "--url", "mysql://root@127.0.0.1:1", "--into"])
        .arg(&bad)
        .output()
        .expect("qlat runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--into") && err.contains("not an object"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&bad).unwrap_or_default(), "[1, 2]");
}

#[test]
fn capture_and_stats_need_their_output_paths() {
    for args in [vec!["capture", "--dataset", "app"], vec!["stats"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_qlat"))
            .args(&args)
            .output()
            .expect("qlat runs");
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--out") || err.contains("--into"), "{err}");
    }
}
