//! The pipeline and a running server together: a promotion notifies the
//! server, which reloads the registry's production model; runs and models
//! show in the API, the runs page and `/metrics`; a prediction later
//! observed in the logs feeds live accuracy.

use crate::support::mlops::{slow_records, small_train, write_json_array};
use crate::support::serve::*;
use qlat::artifact_store::local::LocalStore;
use qlat::pipeline::{Pipeline, PipelineConfig, Source};
use qlat::registry::Decision;
use qlat::sql::catalog::Catalog;
use qlat::store::Db;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_reaches_the_running_server() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().expect("tempdir");
    let (logs, store_dir, cache) = (
        dir.path().join("logs"),
        dir.path().join("store"),
        dir.path().join("cache"),
    );
    std::fs::create_dir_all(&logs).expect("mkdir");

    let store_arg = store_dir.display().to_string();
    let cache_arg = cache.display().to_string();
    let server = start(
        &db.url,
        &[
            "--admin-token",
            "t0ken-for-tests",
            "--artifact-store",
            &store_arg,
            "--model-cache",
            &cache_arg,
            "--pipeline-metrics-every",
            "200ms",
        ],
    )
    .await;
    let base = base(&server);
    // A second replica the pipeline does not notify: it follows the
    // registry by itself.
    let replica = start(
        &db.url,
        &[
            "--artifact-store",
            &store_arg,
            "--model-cache",
            &format!("{cache_arg}-replica"),
            "--pipeline-metrics-every",
            "200ms",
        ],
    )
    .await;
    let (_, h) = get_json(&format!("{base}/health_check")).await;
    assert!(
        h["model_source"]
            .as_str()
            .unwrap_or("")
            .starts_with(concat!(env!("CARGO_MANIFEST_DIR"), "/artifacts ")),
        "{h}"
    );
    let shipped_version = h["model_version"].as_str().unwrap_or("").to_string();
    let (status, e) = get_json(&format!("{base}/api/models/production")).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (404, Some("no_production_model"))
    );

    // A statement the logs will show later: predicted now, observed below.
    let observed = slow_records()[..1500]
        .iter()
        .find(|r| {
            r["sql_text"]
                .as_str()
                .is_some_and(|s| s.contains("lineitem"))
        })
        .expect("a lineitem statement in the data");
    let observed_sql = observed["sql_text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (status, _, _) = post_predict(&base, json!({ "query": observed_sql }).to_string()).await;
    assert_eq!(status, 200);

    write_json_array(&logs.join("slow_log.json"), &slow_records()[..1500]);
    let owned_db = Db::connect(&db.url).await.expect("db");
    let mut config = PipelineConfig::new(Source::Paths(vec![logs.clone()]), Catalog::tpch());
    config.train = small_train();
    config.work_dir = dir.path().join("work");
    config.notify = vec![base.clone()];
    config.admin_token = Some("t0ken-for-tests".into());
    let store = Arc::new(LocalStore::new(&store_dir).expect("store"));
    let pipeline = Pipeline::new(owned_db.clone(), store, config).expect("pipeline");
    let report = pipeline.run_once().await.expect("a cycle");
    assert_eq!(report.decision, Decision::Promoted, "{}", report.reason);
    let promoted = report.candidate_version.clone().expect("a candidate");
    assert_eq!(report.notified.len(), 1);
    assert!(
        report.notified[0].ok && report.notified[0].status == Some(200),
        "the server was told: {:?}",
        report.notified
    );

    // The server now answers with the promoted version.
    let (_, h) = get_json(&format!("{base}/health_check")).await;
    assert_eq!(h["model_version"], promoted.as_str(), "{h}");
    assert!(
        h["model_source"]
            .as_str()
            .unwrap_or("")
            .starts_with("registry:production"),
        "{h}"
    );
    assert_ne!(h["model_version"], shipped_version.as_str());
    let (status, p, _) = post_predict(&base, json!({ "query": Q6 }).to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(p["model_version"], promoted.as_str());

    // The API and the page show the run and the model.
    let (status, runs) = get_json(&format!("{base}/api/runs")).await;
    assert_eq!(status, 200);
    let run_id = runs[0]["id"].as_str().expect("a run").to_string();
    assert_eq!(runs[0]["status"], "succeeded");
    let (status, run) = get_json(&format!("{base}/api/runs/{run_id}")).await;
    assert_eq!(
        (status, run["model_version"].as_str()),
        (200, Some(promoted.as_str()))
    );
    let (status, _) = get_json(&format!("{base}/api/runs/no-such-run")).await;
    assert_eq!(status, 404);
    let (status, models) = get_json(&format!("{base}/api/models")).await;
    assert_eq!(status, 200);
    assert_eq!(models.as_array().map(Vec::len), Some(1));
    let (status, prod) = get_json(&format!("{base}/api/models/production")).await;
    assert_eq!(
        (status, prod["version"].as_str()),
        (200, Some(promoted.as_str()))
    );
    let (status, page) = get_text(&format!("{base}/runs")).await;
    assert_eq!(status, 200);
    assert!(page.contains(&run_id) && page.contains(&promoted));
    assert!(page.contains("<svg"), "the metrics chart");
    assert!(
        !page.contains("no finished run with metrics yet"),
        "the chart has the run"
    );
    let algorithm = run["metrics"]["comparison"]["algorithm"]
        .as_str()
        .expect("the candidate's algorithm");
    let mse = run["metrics"]["candidate"][algorithm]["metrics"]["mse_ln"]
        .as_f64()
        .expect("candidate MSE");
    assert!(
        page.contains(run["reason"].as_str().expect("a reason")),
        "the run's reason in the table"
    );
    assert!(
        page.contains(&format!("{mse:.3}")),
        "the run's MSE(ln) in the table"
    );

    // Pipeline metrics and live accuracy (the predicted statement is among
    // the ingested rows) reach /metrics.
    let mut samples = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (_, text) = get_text(&format!("{base}/metrics")).await;
        samples = parse_prometheus(&text);
        if metric(
            &samples,
            &["qlat_pipeline_runs_total{", "outcome=\"succeeded\""],
        ) == Some(1.0)
        {
            break;
        }
    }
    assert_eq!(
        metric(
            &samples,
            &["qlat_pipeline_runs_total{", "outcome=\"succeeded\""]
        ),
        Some(1.0)
    );
    let q90 = metric(
        &samples,
        &["qlat_pipeline_last_metric{", "metric=\"q_error_p90\""],
    )
    .unwrap_or(f64::NAN);
    assert!(
        q90.is_finite() && q90 >= 1.0,
        "q-error p90 of the run: {q90}"
    );
    assert!(metric(&samples, &["qlat_pipeline_last_run_duration_seconds"]).unwrap_or(0.0) > 0.0);
    assert!(metric(&samples, &["qlat_live_matched_predictions_total"]).unwrap_or(0.0) >= 1.0);
    let live = metric(&samples, &["qlat_live_q_error{", "quantile=\"0.5\""]).unwrap_or(f64::NAN);
    assert!(live.is_finite() && live >= 1.0, "live q-error {live}");
    let mut replica_version = serde_json::Value::Null;
    for _ in 0..50 {
        let (_, h) = get_json(&format!("http://{}/health_check", replica.addr)).await;
        replica_version = h["model_version"].clone();
        if replica_version == promoted.as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        replica_version,
        promoted.as_str(),
        "the un-notified replica follows the registry"
    );
    replica.shutdown().await.expect("shutdown");
    server.shutdown().await.expect("shutdown");
    owned_db.close().await;
}
