//! The committed dataset is what data/README.md says it is.

use qlat::ingest::{self, LogKind};
use qlat::sql::fingerprint::fingerprint;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn capture_metadata_meets_the_dataset_targets() {
    let meta: Value = serde_json::from_slice(
        &std::fs::read(root().join("data/capture.json")).expect("data/capture.json"),
    )
    .expect("JSON");
    assert!(meta["scale_factor"].as_f64().unwrap_or(0.0) >= 0.1);
    assert!(
        meta["server_version"]
            .as_str()
            .unwrap_or("")
            .contains("MariaDB")
    );
    let labels = meta["statements_by_label"].as_object().expect("labels");
    for q in 1..=22 {
        let n = labels
            .get(&format!("tpch:q{q:02}"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        assert!(n >= 50, "Q{q} ran {n} times");
    }
    let shapes = labels.keys().filter(|k| k.starts_with("adhoc:")).count();
    assert!(shapes >= 30, "{shapes} ad-hoc shapes");
    assert!(labels.keys().filter(|k| k.starts_with("chatter:")).count() >= 10);
}

#[test]
fn both_exports_and_the_native_log_agree() {
    let read = |p: &str| -> Vec<ingest::Event> {
        ingest::read_path(&root().join(p))
            .expect(p)
            .map(|e| e.expect("no bad record in the shipped data"))
            .collect()
    };
    let slow = read("data/slow_log.json");
    let native = read("data/native/slow.log");
    let general = read("data/general_log.json");
    assert!(slow.len() >= 15_000, "{} slow-log rows", slow.len());
    assert_eq!(
        slow.len(),
        native.len(),
        "JSON export and native file hold the same events"
    );
    assert!(
        slow.iter()
            .all(|e| e.kind == LogKind::Slow && e.query_time.is_some())
    );
    let sum = |v: &[ingest::Event]| v.iter().filter_map(|e| e.query_time).sum::<f64>();
    assert!((sum(&slow) - sum(&native)).abs() < 1e-3);

    let commands: HashMap<String, usize> = general.iter().fold(HashMap::new(), |mut m, e| {
        *m.entry(e.command.clone().unwrap_or_default()).or_default() += 1;
        m
    });
    assert!(commands.get("Connect").copied().unwrap_or(0) > 1000);
    assert_eq!(commands.get("Connect"), commands.get("Quit"));

    let users: HashSet<&str> = slow.iter().filter_map(|e| e.user.as_deref()).collect();
    for u in ["qlat_app", "qlat_analyst", "qlat_report", "root"] {
        assert!(users.contains(u), "{u} in {users:?}");
    }
    let fps: HashSet<String> = slow.iter().map(|e| fingerprint(&e.sql)).collect();
    assert!(fps.len() >= 22 + 30, "{} distinct fingerprints", fps.len());
    assert!(slow.iter().any(|e| e.sql.starts_with("-- using ")));
    assert!(
        slow.iter()
            .any(|e| e.sql.starts_with("/* ApplicationName="))
    );
}
