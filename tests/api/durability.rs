//! Nothing acknowledged is ever lost: the store's faults, each ending with
//! every acknowledged id in the database and readiness having told the
//! truth while it lasted. Real SQLite on a small tmpfs this test mounts
//! (and on a file made immutable), real PostgreSQL (a NUL, an outage, a
//! `kill -9` during the outage).

use crate::support::serve::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether tests that need root's file-system tools (mount, chattr) must
/// run rather than skip: `.ci/run` sets it.
fn required() -> bool {
    std::env::var_os("QLAT_REQUIRE_ROOT_FS").is_some()
}

fn skip(why: &str) {
    assert!(!required(), "{why} (QLAT_REQUIRE_ROOT_FS is set)");
    eprintln!("skipped: {why}");
}

/// A tmpfs of a given size, mounted on a fresh folder and unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { dir })
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "remount {size}");
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Every id the `predictions` table holds.
async fn stored_ids(url: &str) -> HashSet<String> {
    let db = qlat::store::Db::connect(url).await.expect("store connects");
    let ids = match &db {
        qlat::store::Db::Sqlite(p) => sqlx::query_scalar::<_, String>("SELECT id FROM predictions")
            .fetch_all(p)
            .await
            .expect("ids"),
        qlat::store::Db::Postgres(p) => {
            sqlx::query_scalar::<_, String>("SELECT id FROM predictions")
                .fetch_all(p)
                .await
                .expect("ids")
        }
    };
    db.close().await;
    ids.into_iter().collect()
}

/// Sends batches of distinct statements until `until` says stop; returns
/// the acknowledged ids and the store header of each batch.
async fn send_batches(base: &str, tag: &str, batches: usize) -> (Vec<String>, Vec<String>) {
    let mut ids = Vec::new();
    let mut headers = Vec::new();
    for b in 0..batches {
        // ~2 kB each, distinct, so every one is a row of its own.
        let queries: Vec<String> = (0..50)
            .map(|i| {
                format!(
                    "SELECT o_orderkey, '{tag}-{b}-{i}-{}' FROM orders WHERE o_orderkey = {i}",
                    "x".repeat(2000)
                )
            })
            .collect();
        let (status, body, h) = post_predict(base, json!({ "queries": queries }).to_string()).await;
        if status != 200 {
            assert_eq!(status, 503, "{body}");
            continue;
        }
        headers.push(h["x-qlat-store"].to_str().unwrap_or("").to_string());
        for p in body["predictions"].as_array().expect("predictions") {
            ids.push(p["id"].as_str().expect("id").to_string());
        }
    }
    (ids, headers)
}

async fn health(base: &str) -> (u16, Value) {
    get_json(&format!("{base}/health_check")).await
}

/// Polls readiness until it is 200 "ok" again.
async fn wait_ready(base: &str, within: Duration) -> Value {
    let end = Instant::now() + within;
    loop {
        let (status, h) = health(base).await;
        if status == 200 && h["status"] == "ok" {
            return h;
        }
        assert!(
            Instant::now() < end,
            "not ready again within {within:?}: {h}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn assert_all_stored(acked: &[String], stored: &HashSet<String>) {
    let missing: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged predictions are not stored, e.g. {:?}",
        missing.len(),
        acked.len(),
        missing.first()
    );
}

async fn written_total(base: &str) -> f64 {
    let (_, text) = get_text(&format!("{base}/metrics")).await;
    metric(
        &parse_prometheus(&text),
        &["qlat_store_records_written_total"],
    )
    .unwrap_or(-1.0)
}

/// The SQLite file's disk fills, then is grown: every acknowledged
/// prediction ends up in the table, the written counter equals the rows,
/// readiness is 503 while records wait, and no connection keeps the
/// database locked afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_disk_full_then_freed_loses_nothing() {
    let Some(fs) = Tmpfs::mount("2m") else {
        return skip("cannot mount a tmpfs (not root?)");
    };
    let url = format!("sqlite://{}", fs.path().join("qlat.db").display());
    let spool = tempfile::tempdir().expect("spool dir");
    let spool_dir = spool.path().display().to_string();
    let server = start(&url, &["--spool-dir", &spool_dir]).await;
    let base = base(&server);

    let (mut acked, headers) = send_batches(&base, "full", 40).await;
    assert!(
        headers.iter().any(|h| h == "buffered"),
        "2 MiB filled up and records were spooled: {headers:?}"
    );
    let (status, h) = health(&base).await;
    assert_eq!(status, 503, "not ready while the disk is full: {h}");
    assert_eq!(h["status"], "degraded");
    assert!(h["store_buffered"].as_i64().unwrap_or(0) > 0, "{h}");

    fs.resize("64m");
    let (more, _) = send_batches(&base, "after", 2).await;
    acked.extend(more);
    wait_ready(&base, Duration::from_secs(60)).await;
    let stored = stored_ids(&url).await;
    assert_all_stored(&acked, &stored);
    assert_eq!(
        stored.len(),
        acked.len(),
        "no row twice, none unacknowledged"
    );
    assert_eq!(written_total(&base).await, stored.len() as f64);

    // Nothing holds the write lock: another writer gets in at once.
    let other = sqlx::SqlitePool::connect(&url).await.expect("connect");
    let mut conn = other.acquire().await.expect("conn");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *conn)
        .await
        .expect("BEGIN IMMEDIATE from outside");
    sqlx::query("ROLLBACK")
        .execute(&mut *conn)
        .await
        .expect("rollback");
    drop(conn);
    other.close().await;

    let report = server.shutdown().await.expect("shutdown");
    assert_eq!(report.spooled, 0);
}

fn chattr(flag: &str, files: &[PathBuf]) -> bool {
    Command::new("chattr")
        .arg(flag)
        .args(files.iter().filter(|f| f.exists()))
        .status()
        .is_ok_and(|s| s.success())
}

/// The SQLite database and its write-ahead log are made immutable, then
/// writable again. (Not the `-shm` index: SQLite maps it into memory, and a
/// write to a mapped page of an immutable file is a SIGBUS no program can
/// catch.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_made_read_only_loses_nothing() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("dir");
    let file = dir.path().join("qlat.db");
    let url = format!("sqlite://{}", file.display());
    let spool = tempfile::tempdir().expect("spool dir");
    let spool_dir = spool.path().display().to_string();
    let server = start(&url, &["--spool-dir", &spool_dir]).await;
    let base = base(&server);
    let (mut acked, _) = send_batches(&base, "before", 1).await;

    let files: Vec<PathBuf> = ["", "-wal"]
        .iter()
        .map(|s| PathBuf::from(format!("{}{s}", file.display())))
        .collect();
    /// Makes the files writable again however the test ends.
    struct Mutable(Vec<PathBuf>);
    impl Drop for Mutable {
        fn drop(&mut self) {
            chattr("-i", &self.0);
        }
    }
    if !chattr("+i", &files) {
        return skip("chattr +i failed (not root, or no ext4)");
    }
    let guard = Mutable(files);
    let (during, headers) = send_batches(&base, "immutable", 3).await;
    acked.extend(during);
    let (status, h) = health(&base).await;
    drop(guard);
    assert!(headers.iter().all(|h| h == "buffered"), "{headers:?}");
    assert_eq!(status, 503, "not ready while writes fail: {h}");

    wait_ready(&base, Duration::from_secs(60)).await;
    let stored = stored_ids(&url).await;
    assert_all_stored(&acked, &stored);
    assert_eq!(written_total(&base).await, stored.len() as f64);
    let report = server.shutdown().await.expect("shutdown");
    assert_eq!(report.spooled, 0);
}

/// A NUL in a statement is stored (shown as U+2400) and does not wedge the
/// store; NUL in a filter or a run id is answered, not a database error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stores_a_nul_and_keeps_going() {
    let db = TestDb::postgres().await;
    let server = start(&db.url, &[]).await;
    let base = base(&server);
    let mut acked = Vec::new();
    for q in [
        "select 1 from t where a='x\u{0}y'",
        "select 2 from t where a='\u{0}'",
        "SELECT 3",
    ] {
        let (status, p, h) = post_predict(&base, json!({ "query": q }).to_string()).await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(h["x-qlat-store"], "stored", "{q:?} committed, not buffered");
        acked.push(p["id"].as_str().expect("id").to_string());
    }
    assert_all_stored(&acked, &stored_ids(&db.url).await);
    let (status, page) = get_json(&format!("{base}/api/predictions?per_page=10")).await;
    assert_eq!(status, 200);
    assert!(
        page["predictions"]
            .as_array()
            .expect("rows")
            .iter()
            .any(|r| r["query"] == "select 1 from t where a='x\u{2400}y'"),
        "{page}"
    );
    let (status, _) = get_json(&format!("{base}/api/predictions?fingerprint=%00")).await;
    assert_eq!(status, 200);
    let (status, text) = get_text(&format!("{base}/predictions?fingerprint=a%00b")).await;
    assert_eq!(status, 200, "{text}");
    let (status, e) = get_json(&format!("{base}/api/runs/%00")).await;
    assert_eq!(status, 404, "{e}");
    let (status, h) = health(&base).await;
    assert_eq!((status, h["status"].as_str()), (200, Some("ok")), "{h}");
    server.shutdown().await.expect("shutdown");
    db.drop().await;
}

/// A free loopback port for a server started as a separate process.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `qlat serve` as a process of its own, so that it can be killed.
struct Process {
    child: std::process::Child,
    base: String,
}

impl Process {
    async fn start(db_url: &str, spool: &Path) -> Process {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_qlat"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .args([
                "--artifacts",
                concat!(env!("CARGO_MANIFEST_DIR"), "/artifacts"),
            ])
            .args(["--database-url", db_url, "--ignore-registry"])
            .arg("--spool-dir")
            .arg(spool)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("qlat serve starts");
        let base = format!("http://127.0.0.1:{port}");
        let end = Instant::now() + Duration::from_secs(60);
        while client()
            .get(format!("{base}/health_check/live"))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < end, "qlat serve did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Process { child, base }
    }

    fn kill_9(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

/// PostgreSQL refuses connections; predictions are spooled; the server is
/// killed with SIGKILL; the database returns; a new server replays what the
/// dead one acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_postgres_outage_loses_nothing() {
    let db = TestDb::postgres().await;
    let name = db.pg_name().expect("pg").to_string();
    let spool = tempfile::tempdir().expect("spool dir");
    let first = Process::start(&db.url, spool.path()).await;
    let (mut acked, _) = send_batches(&first.base, "before", 1).await;

    TestDb::pg_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    TestDb::pg_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    let (during, headers) = send_batches(&first.base, "outage", 4).await;
    assert!(
        !during.is_empty() && headers.iter().all(|h| h == "buffered"),
        "{headers:?}"
    );
    let (status, h) = health(&first.base).await;
    assert_eq!(status, 503, "{h}");
    acked.extend(during);
    first.kill_9();

    TestDb::pg_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    let second = Process::start(&db.url, spool.path()).await;
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = stored_ids(&db.url).await;
        if acked.iter().all(|id| stored.contains(id)) {
            break;
        }
        assert!(
            Instant::now() < end,
            "the spool was not replayed after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_ready(&second.base, Duration::from_secs(30)).await;
    let stored = stored_ids(&db.url).await;
    assert_all_stored(&acked, &stored);
    assert_eq!(stored.len(), acked.len());
    second.kill_9();
    let left: Vec<_> = std::fs::read_dir(spool.path())
        .expect("spool root")
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
        .filter(|f| f.metadata().is_ok_and(|m| m.len() > 0))
        .map(|f| f.path())
        .collect();
    assert!(left.is_empty(), "replayed spools are removed: {left:?}");
    db.drop().await;
}

fn record(i: usize, seconds: f64) -> qlat::store::predictions::PredictionRecord {
    use qlat::predict::{ClassProbabilities, Interval, PredictResponse};
    let id = uuid::Uuid::now_v7().to_string();
    qlat::store::predictions::PredictionRecord {
        id: id.clone(),
        created_at_us: chrono::Utc::now().timestamp_micros(),
        query: format!("SELECT {i}"),
        response: PredictResponse {
            id: Some(id),
            predicted_seconds: seconds,
            interval: Interval { p10: 0.0, p90: 1.0 },
            class: qlat::model::LatencyClass::Fast,
            class_probabilities: ClassProbabilities {
                fast: 1.0,
                medium: 0.0,
                slow: 0.0,
            },
            fingerprint: "select ?".into(),
            query_id: "0x0000000000000000".into(),
            parsed: true,
            low_confidence: false,
            explanation_baseline: 0.0,
            explanation: Vec::new(),
            model_version: "test".into(),
            calibration: None,
            uncalibrated: None,
        },
    }
}

/// A record the database refuses on its own account (SQLite binds NaN as
/// NULL into a NOT NULL column) goes to the dead letters with the reason;
/// the records batched with it are stored, and every one is acknowledged
/// as stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_record_is_dead_lettered_and_blocks_nothing() {
    use qlat::store::writer::{Ack, StoreWriter, WriterConfig, WriterMetrics};
    let db = TestDb::sqlite();
    let store = qlat::store::Db::connect(&db.url).await.expect("store");
    let metrics = WriterMetrics {
        queue_depth: prometheus::IntGauge::new("q", "q").expect("gauge"),
        buffered: prometheus::IntGauge::new("b", "b").expect("gauge"),
        written: prometheus::IntCounter::new("w", "w").expect("counter"),
        write_failures: prometheus::IntCounter::new("f", "f").expect("counter"),
        dead_letters: prometheus::IntCounter::new("d", "d").expect("counter"),
    };
    let spool = tempfile::tempdir().expect("spool");
    let writer = StoreWriter::start(
        store.clone(),
        WriterConfig {
            spool_dir: Some(spool.path().to_path_buf()),
            ..WriterConfig::default()
        },
        metrics.clone(),
    );
    let records: Vec<_> = (0..40)
        .map(|i| record(i, if i == 17 { f64::NAN } else { 0.001 }))
        .collect();
    let poison = records[17].id.clone();
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    let acks = writer.submit_many(records).await.expect("acknowledged");
    assert!(acks.iter().all(|a| *a == Ack::Stored), "{acks:?}");
    assert_eq!(metrics.dead_letters.get(), 1);
    assert_eq!(metrics.written.get(), 39);
    let stored = stored_ids(&db.url).await;
    assert_eq!(stored.len(), 39);
    assert!(
        ids.iter()
            .filter(|id| **id != poison)
            .all(|id| stored.contains(id))
    );
    let qlat::store::Db::Sqlite(pool) = &store else {
        unreachable!("sqlite")
    };
    let (id, reason): (String, String) =
        sqlx::query_as("SELECT id, reason FROM prediction_dead_letters")
            .fetch_one(pool)
            .await
            .expect("one dead letter");
    assert_eq!(id, poison);
    assert!(reason.contains("NOT NULL"), "{reason}");
    // And the writer goes on.
    let ack = writer.submit(record(99, 0.5)).await.expect("ack");
    assert_eq!(ack, Ack::Stored);
    assert_eq!(writer.shutdown().await.spooled, 0);
    store.close().await;
}
