//! The pipeline on a directory of logs (records of `data/slow_log.json`
//! copied into a tempdir and appended to), on SQLite and the machine's
//! PostgreSQL: watermarks, promotion and refusal, a worse model, failed and
//! killed runs, live accuracy, and the CLI.

use crate::support::mlops::*;
use qlat::artifact_store::{ArtifactStore, ArtifactStoreExt, local::LocalStore};
use qlat::pipeline::{Pipeline, PipelineConfig, PipelineError, Source};
use qlat::registry::{Decision, Registry, RunStatus};
use qlat::sql::catalog::Catalog;
use qlat::store::Db;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Rows of the first cycle and of each later append.
pub(crate) const FIRST: usize = 1500;
const MORE: usize = 400;

pub(crate) struct Fixture {
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) logs: PathBuf,
    pub(crate) store_dir: PathBuf,
    pub(crate) work: PathBuf,
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).expect("mkdir");
        // A note next to the logs, as data folders have: must be skipped.
        std::fs::write(logs.join("README.md"), "# notes\n").expect("write");
        Fixture {
            logs,
            store_dir: dir.path().join("store"),
            work: dir.path().join("work"),
            _dir: dir,
        }
    }

    /// The export holds the first `n` records of the shipped data.
    pub(crate) fn export(&self, n: usize) {
        write_json_array(&self.logs.join("slow_log.json"), &slow_records()[..n]);
    }

    pub(crate) fn config(&self) -> PipelineConfig {
        let mut c = PipelineConfig::new(Source::Paths(vec![self.logs.clone()]), Catalog::tpch());
        c.train = small_train();
        c.work_dir = self.work.clone();
        c.lease = std::time::Duration::from_secs(30);
        c
    }

    pub(crate) fn store(&self) -> Arc<dyn ArtifactStore> {
        Arc::new(LocalStore::new(&self.store_dir).expect("store"))
    }
}

pub(crate) async fn sqlite(dir: &Path) -> Db {
    Db::connect(&format!("sqlite://{}", dir.join("qlat.db").display()))
        .await
        .expect("sqlite")
}

/// Cycles on a growing export: first promotion, a skip, only the appended
/// rows ingested, the margin rule, an unmeetable margin, a deliberately
/// worse model, and a rollback.
async fn growing_export_flow(db: Db, store: Arc<dyn ArtifactStore>, fx: &Fixture) {
    let registry = Registry::new(db.clone());
    fx.export(FIRST);
    let pipeline = Pipeline::new(db.clone(), Arc::clone(&store), fx.config()).expect("config");

    // 1. First cycle: everything is new; no production yet → promoted.
    let r1 = pipeline.run_once().await.expect("first cycle");
    assert_eq!(r1.new_records, FIRST as u64);
    assert_eq!(r1.decision, Decision::Promoted);
    assert_eq!(r1.training_rows + r1.test_rows, FIRST);
    assert_eq!(r1.test_rows, 450, "30 % of {FIRST}");
    let run1 = registry
        .get_run(&r1.run_id)
        .await
        .expect("get")
        .expect("run");
    assert_complete_run(&run1);
    assert_decision_follows_the_margin(&run1);
    let v1 = r1.candidate_version.clone().expect("version");
    let prod = registry
        .production()
        .await
        .expect("production")
        .expect("set");
    assert_eq!(prod.version, v1);
    assert!(prod.is_production() && prod.run_id == r1.run_id);
    // The artifacts it names exist, and the data report has its parts.
    let report: serde_json::Value = store
        .get_json(&format!("runs/{}/data_report.json", r1.run_id))
        .await
        .expect("data report");
    assert_eq!(report["checks"]["rows"], FIRST);
    let columns = report["checks"]["columns"].as_array().expect("columns");
    assert!(
        columns
            .iter()
            .any(|c| c["name"] == "seconds" && c["dtype"] == "float")
    );
    assert!(
        columns
            .iter()
            .all(|c| c["imputation"].as_str().is_some_and(|s| !s.is_empty()))
    );
    assert!(
        report["features"]["structural"]
            .as_array()
            .is_some_and(|f| f.len() > 40)
    );
    assert!(
        report["features"]["top_importance"][0]["importance"]
            .as_f64()
            .is_some_and(|v| v > 0.0)
    );
    assert!(
        store
            .exists(&format!("models/{v1}/model.json"))
            .await
            .expect("exists")
    );

    // The server's hot-reload path gets a loadable directory.
    let cache = fx.work.join("cache");
    let (version, dir) = qlat::registry::materialize_production(&db, store.as_ref(), &cache)
        .await
        .expect("materialize")
        .expect("a production model");
    assert_eq!(version, v1);
    let loaded = qlat::train::TrainedModels::load(&dir).expect("loads");
    assert_eq!(loaded.manifest.model_version, v1);

    // 2. Nothing changed: skipped, no new rows, production kept.
    let r2 = pipeline.run_once().await.expect("second cycle");
    assert_eq!((r2.decision, r2.new_records), (Decision::Skipped, 0));
    assert_eq!(r2.production_after.as_deref(), Some(v1.as_str()));

    // 3. The export grows: exactly the appended rows are ingested.
    fx.export(FIRST + MORE);
    let r3 = pipeline.run_once().await.expect("third cycle");
    assert_eq!(r3.new_records, MORE as u64, "only the new records");
    assert_eq!(
        qlat::pipeline::observations::count(&db)
            .await
            .expect("count"),
        (FIRST + MORE) as i64
    );
    let run3 = registry
        .get_run(&r3.run_id)
        .await
        .expect("get")
        .expect("run");
    assert_complete_run(&run3);
    assert_decision_follows_the_margin(&run3);
    assert!(
        r3.production_mse_ln.is_some(),
        "production scored on the same rows"
    );
    let prod3 = registry.production().await.expect("p").expect("p").version;
    match r3.decision {
        Decision::Promoted => assert_eq!(Some(&prod3), r3.candidate_version.as_ref()),
        _ => assert_eq!(prod3, v1),
    }

    // 4. A margin nothing can meet: refused, production unchanged.
    let mut strict = fx.config();
    strict.promote_margin = 1.0;
    strict.retrain_without_new_data = true;
    let r4 = Pipeline::new(db.clone(), Arc::clone(&store), strict)
        .expect("config")
        .run_once()
        .await
        .expect("strict cycle");
    assert_eq!(r4.decision, Decision::Refused);
    assert_eq!(
        registry.production().await.expect("p").expect("p").version,
        prod3
    );
    let refused = registry
        .get_model(r4.candidate_version.as_deref().expect("registered"))
        .await
        .expect("get")
        .expect("refused candidates are registered for lineage");
    assert!(!refused.is_production());

    // 5. A deliberately worse model with no margin at all: rejected by the
    // quality floor before production is even considered.
    let r5 = run_worse_cycle(&db, &store, fx.config()).await;
    assert_eq!(r5.decision, Decision::Rejected, "{}", r5.reason);
    assert!(
        r5.reason.contains("does not beat the fingerprint baseline"),
        "{}",
        r5.reason
    );
    let run5 = registry
        .get_run(&r5.run_id)
        .await
        .expect("get")
        .expect("run");
    assert_decision_follows_the_margin(&run5);
    let (c, p) = (
        r5.candidate_mse_ln.expect("c"),
        r5.production_mse_ln.expect("p"),
    );
    assert!(c > p, "the crippled model is worse: {c} vs {p}");
    assert_eq!(
        registry.production().await.expect("p").expect("p").version,
        prod3
    );

    // 6. Rollback by hand to the first version.
    let moved = registry.promote(&v1).await.expect("promote");
    assert_eq!(
        (moved.from.as_deref(), moved.to.as_str()),
        (Some(prod3.as_str()), v1.as_str())
    );
    assert!(matches!(
        registry.promote("no-such-version").await,
        Err(qlat::registry::RegistryError::UnknownVersion(_))
    ));

    let status = qlat::pipeline::pipeline_status(&db).await.expect("status");
    assert_eq!(status.runs_by_status["succeeded"], 5);
    assert_eq!(status.decisions["skipped"], 1);
    assert_eq!(status.production_version.as_deref(), Some(v1.as_str()));
    assert_eq!(
        status.last_run.as_ref().map(|r| r.id.as_str()),
        Some(r5.run_id.as_str())
    );
    assert!(status.last_metrics["test_mse_ln"] > 0.0);
    assert!(
        status.lock.is_none(),
        "the lock is released after each cycle"
    );
    let runs = registry.list_runs(10).await.expect("runs");
    assert_eq!(runs.len(), 5);
    assert_eq!(runs[0].id, r5.run_id, "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_source_on_sqlite() {
    let fx = Fixture::new();
    let db = sqlite(fx._dir.path()).await;
    growing_export_flow(db.clone(), fx.store(), &fx).await;
    // No predictions served yet: nothing to match, no made-up numbers.
    let live = qlat::pipeline::live_accuracy(&db)
        .await
        .expect("live accuracy");
    assert_eq!((live.predictions, live.matched), (0, 0));
    assert_eq!((live.q_error_p50, live.mean_ln_error), (None, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_source_on_postgres_with_the_database_artifact_store() {
    let pg = PgDb::create("pipeline").await;
    let fx = Fixture::new();
    let db = Db::connect(&pg.url).await.expect("postgres");
    let store = qlat::artifact_store::open(&pg.url).await.expect("db store");
    growing_export_flow(db.clone(), store, &fx).await;

    // Live accuracy: predictions of statements the server later ran.
    let rows = qlat::pipeline::observations::load_recent(&db, 100_000)
        .await
        .expect("rows");
    let (a, b) = (&rows[10], &rows[20]);
    let record = |query: &str, predicted: f64, i: i64| {
        let p = qlat::model::Prediction {
            predicted_seconds: predicted,
            p10: predicted / 2.0,
            p90: predicted * 2.0,
            class: qlat::model::LatencyClass::Fast,
            class_probabilities: [1.0, 0.0, 0.0],
            explanation_baseline: predicted.ln(),
            explanation: Vec::new(),
            parsed: true,
        };
        qlat::store::predictions::PredictionRecord {
            id: uuid::Uuid::now_v7().to_string(),
            created_at_us: 1_800_000_000_000_000 + i,
            query: query.to_string(),
            response: qlat::predict::PredictResponse::new(query, p, "test"),
        }
    };
    let same = |q: &str| {
        rows.iter()
            .filter(|r| r.query == q)
            .map(|r| r.seconds)
            .collect::<Vec<_>>()
    };
    let (obs_a, obs_b) = (same(&a.query), same(&b.query));
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        qlat::featurize::median_sorted(&v)
    };
    let (ma, mb) = (median(obs_a), median(obs_b));
    qlat::store::predictions::insert_batch(
        &db,
        &[
            record(&a.query, ma * 4.0, 1),
            record(&b.query, mb / 2.0, 2),
            record("SELECT 'never observed'", 1.0, 3),
        ],
    )
    .await
    .expect("insert predictions");
    let live = qlat::pipeline::live_accuracy(&db)
        .await
        .expect("live accuracy");
    assert_eq!((live.predictions, live.matched), (3, 2));
    let q50 = live.q_error_p50.expect("q50");
    let q90 = live.q_error_p90.expect("q90");
    assert!(
        (q50 - 2.0).abs() < 1e-9 && (q90 - 4.0).abs() < 1e-9,
        "{live:?}"
    );
    let bias = live.mean_ln_error.expect("bias");
    let expected = (4.0f64.ln() + 0.5f64.ln()) / 2.0;
    assert!((bias - expected).abs() < 1e-9, "{bias} vs {expected}");
    db.close().await;
    pg.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_runs_leave_production_untouched() {
    let fx = Fixture::new();
    let db = sqlite(fx._dir.path()).await;
    let registry = Registry::new(db.clone());
    let faulty = Arc::new(Faulty {
        inner: LocalStore::new(&fx.store_dir).expect("store"),
        mode: AtomicU8::new(0),
    });
    let mut config = fx.config();
    config.promote_margin = 0.0;
    config.retrain_without_new_data = true;
    let pipeline = Pipeline::new(db.clone(), faulty.clone(), config).expect("config");
    fx.export(FIRST);
    let good = pipeline.run_once().await.expect("first cycle");
    let v1 = good.candidate_version.expect("v1");

    for (mode, step) in [(1u8, "upload"), (2, "upload")] {
        faulty.mode.store(mode, Ordering::SeqCst);
        let err = pipeline.run_once().await.expect_err("the run fails");
        let PipelineError::RunFailed {
            run_id,
            step: at,
            message,
        } = err
        else {
            panic!("expected RunFailed, got {err}");
        };
        assert_eq!(at, step, "{message}");
        if mode == 2 {
            assert!(
                message.contains("mlp.safetensors"),
                "corrupt copy named: {message}"
            );
        }
        let run = registry.get_run(&run_id).await.expect("get").expect("run");
        assert_eq!(run.status, RunStatus::Failed);
        assert!(run.error.as_deref().is_some_and(|e| e.starts_with(step)));
        assert!(run.log.contains("production untouched"));
        assert_eq!(run.decision, None);
        let prod = registry.production().await.expect("p").expect("p");
        assert_eq!(prod.version, v1, "mode {mode}: production unchanged");
        assert_eq!(
            registry.list_models().await.expect("models").len(),
            1,
            "nothing registered"
        );
    }
    // The lock was released by the failed runs: the next cycle runs.
    faulty.mode.store(0, Ordering::SeqCst);
    let ok = pipeline.run_once().await.expect("recovers");
    assert!(ok.crashed_runs.is_empty(), "failed runs are not crashes");
    let status = qlat::pipeline::pipeline_status(&db).await.expect("status");
    assert_eq!(status.runs_by_status["failed"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_at_a_time() {
    let fx = Fixture::new();
    let db = sqlite(fx._dir.path()).await;
    fx.export(FIRST);
    // `a` always trains, so each of its cycles waits on the training
    // thread: a cycle with nothing to do can finish within a single poll,
    // before a concurrent one is even tried.
    let mut always_trains = fx.config();
    always_trains.retrain_without_new_data = true;
    let a = Pipeline::new(db.clone(), fx.store(), always_trains).expect("config");
    let b = Pipeline::new(db.clone(), fx.store(), fx.config()).expect("config");
    let (ra, rb) = tokio::join!(a.run_once(), b.run_once());
    let busy = |r: &Result<_, PipelineError>| matches!(r, Err(PipelineError::Busy { .. }));
    assert!(
        (ra.is_ok() && busy(&rb)) || (rb.is_ok() && busy(&ra)),
        "exactly one runs: {:?} / {:?}",
        ra.as_ref().map(|r| &r.run_id),
        rb.as_ref().map(|r| &r.run_id)
    );
    // And within one process the guard refuses a second concurrent cycle.
    let (r1, r2) = tokio::join!(a.run_once(), a.run_once());
    assert!(
        matches!(r1, Err(PipelineError::AlreadyRunning))
            || matches!(r2, Err(PipelineError::AlreadyRunning)),
        "the in-process guard"
    );
    let runs = Registry::new(db).list_runs(10).await.expect("runs");
    assert_eq!(runs.len(), 2, "refused attempts leave no run rows");
}

pub(crate) fn qlat_cmd(fx: &Fixture, db_url: &str) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_qlat"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("QLAT_DATABASE_URL", db_url)
        .env("QLAT_ARTIFACT_STORE", &fx.store_dir)
        .env_remove("QLAT_NOTIFY_URLS")
        .env("TMPDIR", &fx.work);
    c
}

/// A `qlat pipeline` killed mid-run: its run stays `running` until the
/// lease expires, then the next run marks it crashed; production is only
/// ever moved by finished runs. Also the runs/models/promote commands.
#[test]
fn a_killed_run_is_marked_crashed_and_production_is_kept() {
    let fx = Fixture::new();
    std::fs::create_dir_all(&fx.work).expect("mkdir");
    fx.export(FIRST);
    let db_url = format!("sqlite://{}", fx._dir.path().join("cli.db").display());
    let logs = fx.logs.display().to_string();
    let once = |extra: &[&str]| {
        let mut c = qlat_cmd(&fx, &db_url);
        c.args([
            "pipeline",
            "--once",
            "--format",
            "json",
            "--source",
            &logs,
            "--epochs",
            "4",
            "--served-model",
            "none",
        ])
        .args(extra);
        c
    };
    let out = once(&[]).output().expect("qlat runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(first["decision"], "promoted");
    let v1 = first["candidate_version"]
        .as_str()
        .expect("version")
        .to_string();

    // Start a retraining run and kill it as soon as its row exists and has
    // saved its first step (waiting for the row alone races the save).
    let mut child = once(&["--retrain", "--lease", "3s", "--promote-margin", "0"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let db = rt.block_on(Db::connect(&db_url)).expect("db");
    let registry = Registry::new(db.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let killed_id = loop {
        let runs = rt.block_on(registry.list_runs(5)).expect("runs");
        if let Some(r) = runs
            .iter()
            .find(|r| r.status == RunStatus::Running && r.log.contains("[lock]"))
        {
            break r.id.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().expect("kill -9");
    child.wait().expect("reaped");
    let prod = rt.block_on(registry.production()).expect("p").expect("p");
    assert_eq!(prod.version, v1, "the killed run did not touch production");

    // While its lease lasts the lock is held and new runs are refused;
    // once it expires the next run goes ahead and marks the dead run.
    let mut refused = 0;
    let report: serde_json::Value = loop {
        let out = once(&["--retrain"]).output().expect("qlat runs");
        if out.status.success() {
            break serde_json::from_slice(&out.stdout).expect("json");
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("holds the lock"), "{stderr}");
        refused += 1;
        assert!(
            std::time::Instant::now() < deadline,
            "the dead run's lease never expired"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    eprintln!("{refused} attempt(s) refused while the dead run's lease lasted");
    let killed = rt
        .block_on(registry.get_run(&killed_id))
        .expect("get")
        .expect("run");
    assert_eq!(killed.status, RunStatus::Crashed);
    assert!(
        killed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("lease expired"))
    );
    assert!(
        report["crashed_runs"]
            .as_array()
            .is_some_and(|c| c.iter().any(|id| id == killed_id.as_str()))
    );
    assert!(
        killed.log.contains("[lock]"),
        "progress saved before the crash"
    );

    // The listing commands, and a rollback through the CLI.
    let out = qlat_cmd(&fx, &db_url)
        .args(["runs", "--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let statuses: Vec<&str> = runs
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert!(
        statuses.contains(&"crashed") && statuses.contains(&"succeeded"),
        "{statuses:?}"
    );
    let text = qlat_cmd(&fx, &db_url).arg("runs").output().expect("runs");
    assert!(String::from_utf8_lossy(&text.stdout).contains("crashed"));
    let out = qlat_cmd(&fx, &db_url)
        .args(["models", "--format", "json"])
        .output()
        .expect("models");
    let models: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let production: Vec<&str> = models
        .as_array()
        .expect("array")
        .iter()
        .filter(|m| {
            m["aliases"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == "production"))
        })
        .filter_map(|m| m["version"].as_str())
        .collect();
    assert_eq!(production.len(), 1, "exactly one production version");
    let out = qlat_cmd(&fx, &db_url)
        .args(["promote", &v1])
        .output()
        .expect("promote");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("-> {v1}")));
    let out = qlat_cmd(&fx, &db_url)
        .args(["promote", "nope"])
        .output()
        .expect("promote");
    assert!(!out.status.success(), "unknown versions are refused");
    let text = qlat_cmd(&fx, &db_url)
        .arg("models")
        .output()
        .expect("models");
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("* {v1}")));
    rt.block_on(db.close());
}
