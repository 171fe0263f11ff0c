//! Fixtures for the MLOps tests: a fresh PostgreSQL database per test, a
//! moto S3 server, and MariaDB helpers. Real servers only.

#![allow(dead_code)]

use sqlx::{Connection, Executor};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Server URL for administrative statements (CREATE/DROP DATABASE).
pub fn pg_admin_url() -> String {
    std::env::var("QLAT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/postgres".into())
}

/// A PostgreSQL database created for one test and dropped afterwards, so
/// tests never share migration state (or tables) with each other or with
/// the shared `test` database.
pub struct PgDb {
    pub name: String,
    pub url: String,
}

impl PgDb {
    pub async fn create(tag: &str) -> PgDb {
        let name = format!("qlat_{tag}_{}", uuid::Uuid::now_v7().simple());
        let mut admin = sqlx::PgConnection::connect(&pg_admin_url())
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (set QLAT_TEST_PG_URL otherwise)");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create database");
        let admin_url = pg_admin_url();
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(b, _)| b);
        PgDb {
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub async fn drop_db(self) {
        if let Ok(mut admin) = sqlx::PgConnection::connect(&pg_admin_url()).await {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .await;
        }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A moto S3 server on loopback, killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// Starts `$QLAT_TEST_MOTO -H 127.0.0.1 -p <free port>`; `None` (with a
    /// loud message) when the variable is unset. `.ci/run` always sets it.
    pub fn start() -> Option<Moto> {
        let Some(bin) = std::env::var_os("QLAT_TEST_MOTO") else {
            eprintln!(
                "\n*** SKIPPING the S3 backend: QLAT_TEST_MOTO is not set. Install moto \
                 (python3 -m venv /tmp/qlat-venv-moto && /tmp/qlat-venv-moto/bin/pip install 'moto[server]') \
                 and export QLAT_TEST_MOTO=/tmp/qlat-venv-moto/bin/moto_server; .ci/run does this. ***\n"
            );
            return None;
        };
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.to_string_lossy()));
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Moto { child, endpoint })
    }

    /// Creates a bucket (moto accepts unsigned requests).
    pub async fn create_bucket(&self, bucket: &str) {
        let resp = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(
            resp.status().is_success(),
            "create bucket: {}",
            resp.status()
        );
    }

    pub fn s3_config(&self, bucket: &str, prefix: &str) -> qlat::artifact_store::s3::S3Config {
        qlat::artifact_store::s3::S3Config {
            bucket: bucket.into(),
            prefix: prefix.into(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn mysql_url() -> String {
    std::env::var("QLAT_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// The shipped slow-log export's records, in file order.
pub fn slow_records() -> &'static [serde_json::Value] {
    static RECORDS: std::sync::OnceLock<Vec<serde_json::Value>> = std::sync::OnceLock::new();
    RECORDS.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/slow_log.json");
        let text = std::fs::read_to_string(path).expect("data/slow_log.json");
        serde_json::from_str(&text).expect("a JSON array")
    })
}

/// Writes records as a JSON array the way the capture exports them (one
/// record per line), so a longer array keeps the shorter one's first bytes.
pub fn write_json_array(path: &std::path::Path, records: &[serde_json::Value]) {
    let mut text = String::from("[\n");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            text.push_str(",\n");
        }
        text.push_str(&r.to_string());
    }
    text.push_str("\n]\n");
    std::fs::write(path, text).expect("write the export");
}

/// Training small enough for debug-build tests.
pub fn small_train() -> qlat::train::TrainConfig {
    let mut c = qlat::train::TrainConfig {
        ridge_lambda: Some(10.0),
        ..qlat::train::TrainConfig::default()
    };
    c.mlp.epochs_max = 8;
    c.mlp.patience = 3;
    c.mlp.hidden = vec![24];
    c.features.vocab_size = 300;
    c
}

/// Training that cannot learn: a tiny net for one epoch and a ridge that
/// the penalty pins to the mean.
pub fn crippled_train() -> qlat::train::TrainConfig {
    let mut c = qlat::train::TrainConfig {
        ridge_lambda: Some(1e12),
        ..qlat::train::TrainConfig::default()
    };
    c.mlp.epochs_max = 1;
    c.mlp.patience = 1;
    c.mlp.hidden = vec![1];
    c.mlp.learning_rate = 1e-6;
    c.features.vocab_size = 10;
    c
}

/// One cycle of a deliberately worse model (crippled training) with no
/// margin and no new data required: the pipeline must reject it (it does
/// not beat the fingerprint baseline).
pub async fn run_worse_cycle(
    db: &qlat::store::Db,
    store: &std::sync::Arc<dyn qlat::artifact_store::ArtifactStore>,
    mut config: qlat::pipeline::PipelineConfig,
) -> qlat::pipeline::CycleReport {
    config.train = crippled_train();
    config.algorithm = "auto".into();
    config.promote_margin = 0.0;
    config.retrain_without_new_data = true;
    qlat::pipeline::Pipeline::new(db.clone(), std::sync::Arc::clone(store), config)
        .expect("config")
        .run_once()
        .await
        .expect("worse cycle")
}

/// The summary metrics every trained run must record.
pub const SUMMARY_KEYS: [&str; 12] = [
    "test_mse_ln",
    "test_r2_ln",
    "test_mae_s",
    "test_rmse_s",
    "test_q_error_p50",
    "test_q_error_p90",
    "test_class_accuracy",
    "test_class_precision_macro",
    "test_class_recall_macro",
    "test_class_f1_macro",
    "training_rows",
    "test_rows",
];

/// Asserts a succeeded training run recorded everything it should.
pub fn assert_complete_run(run: &qlat::registry::Run) {
    use qlat::registry::RunStatus;
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
    let summary = &run.metrics["summary"];
    for k in SUMMARY_KEYS {
        assert!(
            summary[k].as_f64().is_some_and(f64::is_finite),
            "summary.{k} in {summary}"
        );
    }
    for model in ["mlp", "ridge", "baseline", "tiered"] {
        let m = &run.metrics["candidate"][model]["metrics"];
        for k in [
            "mse_ln",
            "r2_ln",
            "mae_s",
            "rmse_s",
            "q_error_p50",
            "q_error_p90",
            "class_accuracy",
            "class_f1_macro",
        ] {
            assert!(m[k].as_f64().is_some(), "candidate.{model}.{k}");
        }
    }
    for k in [
        "model",
        "data_report",
        "evaluation",
        "test_predictions",
        "dataset",
    ] {
        assert!(
            run.artifacts[k].as_str().is_some(),
            "artifact {k} in {}",
            run.artifacts
        );
    }
    assert!(
        run.dataset_fingerprint
            .as_ref()
            .is_some_and(|f| f.len() == 64)
    );
    assert!(run.code_version.starts_with(env!("CARGO_PKG_VERSION")));
    assert!(run.params["promote_margin"].as_f64().is_some());
    for step in [
        "[ingest]",
        "[checks]",
        "[split]",
        "[train]",
        "[evaluate]",
        "[compare]",
        "[upload]",
        "[register]",
        "[done]",
    ] {
        assert!(run.log.contains(step), "log lacks {step}:\n{}", run.log);
    }
    assert!(run.ended_at.is_some() && run.duration_seconds.is_some_and(|d| d > 0.0));
}

/// Whether the decision follows the rule from the numbers it recorded: the
/// candidate is the best trained model on validation (unless pinned), the
/// quality floor (beat the fingerprint baseline on the test rows, no MLP
/// stopped at epoch 1) rejects, then the margin against production decides;
/// the run's stored reason is the comparison's.
pub fn assert_decision_follows_the_margin(run: &qlat::registry::Run) {
    let c = &run.metrics["comparison"];
    let v = &run.metrics["validation"];
    let cand = c["candidate"].as_f64().expect("candidate mse");
    let baseline = c["baseline"].as_f64().expect("baseline mse");
    let promote = c["promote"].as_bool().expect("promote flag");
    let algorithm = c["algorithm"].as_str().expect("algorithm");
    assert_eq!(v["candidate"].as_str(), Some(algorithm), "{v}");
    if v["pinned"] == false {
        let val = |n: &str| v["mse_ln"][n].as_f64().expect("validation mse");
        for other in ["mlp", "ridge", "tiered"] {
            assert!(
                val(algorithm) <= val(other),
                "{algorithm} is not the best on validation: {v}"
            );
        }
    }
    let epoch = v["mlp_best_epoch"].as_u64().expect("best epoch");
    let budget = v["mlp_epochs_max"].as_u64().expect("epochs max");
    let first_epoch = budget > 1 && epoch <= 1;
    let floor = !first_epoch && (algorithm == "baseline" || cand < baseline);
    assert_eq!(c["floor_passed"].as_bool(), Some(floor), "{c}");
    let expected = if !floor {
        assert!(!promote, "{c}");
        "rejected"
    } else {
        match c["production"].as_f64() {
            Some(prod) => {
                let margin = c["margin"].as_f64().expect("margin");
                assert_eq!(promote, cand <= prod * (1.0 - margin), "{c}");
            }
            None => assert!(promote, "no production: promote"),
        }
        if promote { "promoted" } else { "refused" }
    };
    assert_eq!(run.decision.map(|d| d.as_str()), Some(expected));
    assert_eq!(
        run.reason.as_deref(),
        c["reason"].as_str(),
        "the reason is stored"
    );
}

use async_trait::async_trait;
use bytes::Bytes;
use qlat::artifact_store::{ArtifactStore, ArtifactStoreError, ByteStream, local::LocalStore};
use std::sync::atomic::{AtomicU8, Ordering};

/// Wraps a store and breaks it on demand: 1 = puts under `models/` fail,
/// 2 = model weights are stored corrupted.
#[derive(Debug)]
pub struct Faulty {
    pub inner: LocalStore,
    pub mode: AtomicU8,
}

#[async_trait]
impl ArtifactStore for Faulty {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), ArtifactStoreError> {
        match self.mode.load(Ordering::SeqCst) {
            1 if key.starts_with("models/") => Err(ArtifactStoreError::Io {
                store: self.describe(),
                op: "putting",
                key: key.into(),
                source: std::io::Error::other("injected: disk full"),
            }),
            2 if key.ends_with("mlp.safetensors") => {
                let mut b = bytes.to_vec();
                let i = b.len() - 5;
                b[i] ^= 0x40;
                self.inner.put(key, Bytes::from(b)).await
            }
            _ => self.inner.put(key, bytes).await,
        }
    }
    async fn put_stream(
        &self,
        key: &str,
        chunks: ByteStream<'_>,
    ) -> Result<u64, ArtifactStoreError> {
        self.inner.put_stream(key, chunks).await
    }
    async fn get(&self, key: &str) -> Result<Bytes, ArtifactStoreError> {
        self.inner.get(key).await
    }
    async fn exists(&self, key: &str) -> Result<bool, ArtifactStoreError> {
        self.inner.exists(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>, ArtifactStoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), ArtifactStoreError> {
        self.inner.delete(key).await
    }
}
