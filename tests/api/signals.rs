//! The `qlat serve` binary under signals, with concurrent clients:
//! SIGTERM drains (the store holds exactly one row per successful
//! response), SIGKILL loses nothing acknowledged and leaves an intact
//! SQLite file.

use crate::support::serve::*;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

struct Server {
    child: Child,
    base: String,
}

/// A failing test must not leave a server behind.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts the binary on a free port and waits for its "listening" line.
fn spawn_server(db_url: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qlat"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "--log-format",
            "json",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--database-url",
            db_url,
        ])
        .env("RUST_LOG", "info")
        .env_remove("QLAT_ADDR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qlat serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[server] {line}");
            let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if event["fields"]["message"] == "listening" {
                let addr = event["fields"]["addr"].as_str().map(String::from);
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server printed its address")
        .expect("addr= in the listening line");
    Server {
        child,
        base: format!("http://{addr}"),
    }
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Clients predicting as fast as they can until the server goes away;
/// returns the ids of every 200 response.
async fn hammer(base: String, clients: usize, stop: Arc<AtomicBool>) -> Vec<String> {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let base = base.clone();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut ids = Vec::new();
            let mut i = 0u64;
            let mut failures = 0;
            while !stop.load(Ordering::Relaxed) && failures < 20 {
                i += 1;
                let q = format!("SELECT * FROM orders WHERE o_orderkey = {c}{i}");
                match client
                    .post(format!("{base}/predict"))
                    .json(&serde_json::json!({ "query": q }))
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 200 => {
                        let v: serde_json::Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => continue,
                        };
                        ids.push(v["id"].as_str().unwrap_or_default().to_string());
                    }
                    Ok(r) => {
                        assert_eq!(r.status(), 503, "only 503 while stopping");
                        failures += 1;
                    }
                    Err(_) => {
                        failures += 1;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                }
            }
            ids
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    all
}

async fn stored_ids(db_url: &str) -> HashSet<String> {
    let pool = sqlx::SqlitePool::connect(db_url)
        .await
        .expect("open the store");
    let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM predictions")
        .fetch_all(&pool)
        .await
        .expect("read ids");
    let check: (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .expect("integrity check");
    assert_eq!(check.0, "ok", "SQLite file intact");
    pool.close().await;
    rows.into_iter().map(|(id,)| id).collect()
}

async fn restart_and_count(db_url: &str) -> i64 {
    let mut server = spawn_server(db_url);
    let (status, page) = get_json(&format!("{}/api/predictions?per_page=1", server.base)).await;
    assert_eq!(status, 200);
    signal(&server.child, "-TERM");
    assert!(server.child.wait().expect("exit").success());
    page["total"].as_i64().expect("total")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_stream_loses_nothing() {
    let db = TestDb::sqlite();
    let mut server = spawn_server(&db.url);
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(hammer(server.base.clone(), 16, stop.clone()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal(&server.child, "-TERM");
    let status = tokio::task::spawn_blocking(move || server.child.wait())
        .await
        .expect("join")
        .expect("exit status");
    stop.store(true, Ordering::Relaxed);
    assert!(status.success(), "clean exit after draining: {status}");
    let acked = load.await.expect("load");
    assert!(
        acked.len() > 50,
        "the load ran: {} predictions",
        acked.len()
    );
    let acked_set: HashSet<String> = acked.iter().cloned().collect();
    assert_eq!(acked_set.len(), acked.len(), "ids are unique");
    let stored = stored_ids(&db.url).await;
    eprintln!(
        "SIGTERM: {} acknowledged, {} stored",
        acked.len(),
        stored.len()
    );
    assert_eq!(
        stored,
        acked_set,
        "exactly one row per successful response ({} stored, {} acknowledged)",
        stored.len(),
        acked.len()
    );
    assert_eq!(restart_and_count(&db.url).await, acked.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_keeps_every_acknowledged_prediction() {
    let db = TestDb::sqlite();
    let mut server = spawn_server(&db.url);
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(hammer(server.base.clone(), 16, stop.clone()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    signal(&server.child, "-KILL");
    let _ = tokio::task::spawn_blocking(move || server.child.wait()).await;
    stop.store(true, Ordering::Relaxed);
    let acked: HashSet<String> = load.await.expect("load").into_iter().collect();
    assert!(
        acked.len() > 50,
        "the load ran: {} predictions",
        acked.len()
    );
    let stored = stored_ids(&db.url).await;
    eprintln!(
        "SIGKILL: {} acknowledged, {} stored",
        acked.len(),
        stored.len()
    );
    let missing: Vec<_> = acked.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    // A killed server may have committed a few rows whose responses never
    // left; nothing else.
    assert!(
        stored.len() - acked.len() <= 64,
        "{} stored vs {} acknowledged",
        stored.len(),
        acked.len()
    );
    assert_eq!(restart_and_count(&db.url).await, stored.len() as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_model_without_dropping_requests() {
    let db = TestDb::sqlite();
    let mut server = spawn_server(&db.url);
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(hammer(server.base.clone(), 4, stop.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    signal(&server.child, "-HUP");
    let mut reloaded = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, text) = get_text(&format!("{}/metrics", server.base)).await;
        reloaded = metric(
            &parse_prometheus(&text),
            &["qlat_model_reloads_total{", "outcome=\"success\""],
        );
        if reloaded == Some(1.0) {
            break;
        }
    }
    assert_eq!(reloaded, Some(1.0), "SIGHUP reloaded the model once");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let acked = load.await.expect("load");
    assert!(
        acked.len() > 20,
        "requests kept being answered: {}",
        acked.len()
    );
    signal(&server.child, "-TERM");
    let status = tokio::task::spawn_blocking(move || server.child.wait())
        .await
        .expect("join")
        .expect("exit");
    assert!(status.success());
    assert_eq!(stored_ids(&db.url).await.len(), acked.len());
}
