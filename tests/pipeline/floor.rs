//! The quality floor (issue #16) on the shipped data: a candidate that does
//! not beat the fingerprint baseline is rejected even on a new server, a
//! run whose MLP stopped at its first epoch is rejected, a normal run is
//! still promoted, and the reasons reach `qlat runs`.

use crate::dir::{FIRST, Fixture, qlat_cmd, sqlite};
use crate::support::mlops::*;
use qlat::pipeline::{CycleReport, Pipeline, PipelineConfig};
use qlat::registry::{Decision, Registry, Run};

async fn cycle(db: &qlat::store::Db, fx: &Fixture, config: PipelineConfig) -> (CycleReport, Run) {
    let report = Pipeline::new(db.clone(), fx.store(), config)
        .expect("config")
        .run_once()
        .await
        .expect("cycle");
    let run = Registry::new(db.clone())
        .get_run(&report.run_id)
        .await
        .expect("get")
        .expect("run");
    assert_complete_run(&run);
    assert_decision_follows_the_margin(&run);
    eprintln!(
        "{} ({:?}): {}",
        report.decision.as_str(),
        report.candidate_algorithm,
        report.reason
    );
    (report, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quality_floor_rejects_what_does_not_learn() {
    let fx = Fixture::new();
    let db = sqlite(fx._dir.path()).await;
    let registry = Registry::new(db.clone());
    fx.export(FIRST);
    let test_rows = FIRST - FIRST * 7 / 10;

    // 1. A new server, and a candidate crippled by its configuration: ridge
    // pinned, with a penalty that flattens it to the mean. No production
    // to compare with, yet it must still beat the fingerprint baseline.
    let mut crippled = fx.config();
    crippled.algorithm = "ridge".into();
    crippled.train.ridge_lambda = Some(1e12);
    let (r1, run1) = cycle(&db, &fx, crippled).await;
    assert_eq!(r1.decision, Decision::Rejected, "{}", r1.reason);
    let (c, b) = (
        r1.candidate_mse_ln.expect("candidate"),
        r1.baseline_mse_ln.expect("baseline"),
    );
    assert!(
        c >= b,
        "the flattened ridge is no better than the baseline: {c} vs {b}"
    );
    assert_eq!(
        r1.reason,
        format!(
            "candidate ridge MSE(ln) {c:.3} does not beat the fingerprint baseline {b:.3} on the {test_rows} test rows"
        )
    );
    assert_eq!(run1.reason.as_deref(), Some(r1.reason.as_str()));
    assert_eq!(
        (
            r1.production_before.as_deref(),
            r1.production_after.as_deref()
        ),
        (None, None)
    );
    assert!(registry.production().await.expect("production").is_none());
    let kept = registry
        .get_model(r1.candidate_version.as_deref().expect("registered"))
        .await
        .expect("get")
        .expect("rejected candidates are registered for inspection");
    assert!(!kept.is_production() && kept.algorithm == "ridge");

    // 2. The same data trained normally: the candidate is chosen on the
    // validation rows, beats the baseline and is promoted.
    let mut normal = fx.config();
    normal.retrain_without_new_data = true;
    let (r2, run2) = cycle(&db, &fx, normal).await;
    assert_eq!(r2.decision, Decision::Promoted, "{}", r2.reason);
    assert!(
        r2.reason.starts_with("no production model yet; ")
            && r2.reason.contains(" chosen on validation (MSE(ln) ")
            && r2.reason.contains(&format!(
                "beats the fingerprint baseline on the {test_rows} test rows"
            )),
        "{}",
        r2.reason
    );
    assert!(r2.candidate_mse_ln < r2.baseline_mse_ln, "{}", r2.reason);
    let v2 = r2.candidate_version.clone().expect("version");
    let prod = registry.production().await.expect("p").expect("promoted");
    assert_eq!(
        (prod.version.as_str(), Some(prod.algorithm.as_str())),
        (v2.as_str(), r2.candidate_algorithm.as_deref())
    );
    let validation = &run2.metrics["validation"];
    assert!(
        validation["mlp_best_epoch"].as_u64().is_some_and(|e| e > 1),
        "{validation}"
    );
    let split = &run2.metrics["split"];
    assert_eq!(
        split["fit_rows"]
            .as_u64()
            .zip(split["validation_rows"].as_u64())
            .map(|(f, v)| f + v),
        split["train_rows"].as_u64(),
        "the validation rows come out of the training rows: {split}"
    );

    // 3. The MLP cannot learn (a zero learning rate): its early stopping
    // keeps epoch 1 of 8. The run is rejected, naming the stop and what
    // validation chose instead; production is untouched even with no
    // margin.
    let mut frozen = fx.config();
    frozen.train.mlp.learning_rate = 0.0;
    frozen.promote_margin = 0.0;
    frozen.retrain_without_new_data = true;
    let (r3, run3) = cycle(&db, &fx, frozen).await;
    assert_eq!(r3.decision, Decision::Rejected, "{}", r3.reason);
    let epochs = run3.metrics["validation"]["mlp_epochs_max"]
        .as_u64()
        .expect("budget");
    assert!(
        r3.reason
            .starts_with(&format!("mlp stopped at epoch 1 of {epochs} ("))
            && r3.reason.contains(" chosen on validation (MSE(ln) "),
        "{}",
        r3.reason
    );
    assert_eq!(r3.production_after.as_deref(), Some(v2.as_str()));
    assert_eq!(
        registry.production().await.expect("p").expect("p").version,
        v2
    );

    let status = qlat::pipeline::pipeline_status(&db).await.expect("status");
    assert_eq!(
        (status.decisions["rejected"], status.decisions["promoted"]),
        (2, 1)
    );
    assert_eq!(
        status.last_run.and_then(|r| r.reason).as_deref(),
        Some(r3.reason.as_str())
    );

    // `qlat runs` shows each decision with its reason, as text and JSON.
    let db_url = format!("sqlite://{}", fx._dir.path().join("qlat.db").display());
    let out = qlat_cmd(&fx, &db_url)
        .arg("runs")
        .output()
        .expect("qlat runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for r in [&r1, &r2, &r3] {
        let line = format!("    {}: {}", r.decision.as_str(), r.reason);
        assert!(text.contains(&line), "{line:?} not in\n{text}");
    }
    let out = qlat_cmd(&fx, &db_url)
        .args(["runs", "--format", "json"])
        .output()
        .expect("qlat runs --format json");
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(runs[0]["decision"], "rejected");
    assert_eq!(runs[0]["reason"].as_str(), Some(r3.reason.as_str()));

    // A run that has not decided has no reason (as rows written before
    // reasons were stored read back).
    let started = registry
        .start_run(&qlat::registry::NewRun {
            id: "not-decided".into(),
            params: serde_json::json!({}),
            code_version: "test".into(),
            holder: "test".into(),
        })
        .await
        .expect("start");
    assert_eq!((started.decision, started.reason), (None, None));
    db.close().await;
}

/// The first run on a server that answers with the built-in model: the
/// candidate is compared with that model on the same test rows (not
/// promoted because the registry is empty), and the reason says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_run_is_compared_with_the_model_servers_answer_with() {
    use qlat::model::location::ModelLocation;
    use qlat::pipeline::ServedModel;
    let fx = Fixture::new();
    let db = sqlite(fx._dir.path()).await;
    fx.export(FIRST);
    let mut config = fx.config();
    config.served = Some(ServedModel {
        location: ModelLocation::BuiltIn,
        algorithm: "mlp".into(),
    });
    let (r, run) = cycle(&db, &fx, config).await;
    let c = &run.metrics["comparison"];
    let served = c["production"]
        .as_f64()
        .expect("the served model was scored");
    assert!(served.is_finite() && served >= 0.0, "{c}");
    assert_eq!(r.production_mse_ln, Some(served));
    assert!(
        c["served_model"]
            .as_str()
            .is_some_and(|s| s.contains("built-in")),
        "{c}"
    );
    assert!(c["production_version"].is_null(), "{c}");
    if r.decision != Decision::Rejected {
        assert!(
            r.reason.contains("(served model the built-in model")
                && r.reason.contains("no production model in the registry yet"),
            "{}",
            r.reason
        );
        assert!(
            !r.reason.starts_with("no production model yet"),
            "{}",
            r.reason
        );
    }
    assert!(
        run.log.contains("servers answer with the built-in model"),
        "{}",
        run.log
    );
    // A refused first candidate leaves production empty: servers keep
    // answering with the built-in model.
    let production = Registry::new(db.clone()).production().await.expect("p");
    assert_eq!(production.is_some(), r.decision == Decision::Promoted);

    // Nothing new since: the first run's decision stands, with or without
    // a production model, and nothing is trained again.
    let mut config = fx.config();
    config.served = Some(ServedModel {
        location: ModelLocation::BuiltIn,
        algorithm: "mlp".into(),
    });
    let again = Pipeline::new(db.clone(), fx.store(), config)
        .expect("config")
        .run_once()
        .await
        .expect("cycle");
    assert_eq!(again.decision, Decision::Skipped, "{}", again.reason);
    assert_eq!(again.training_rows, 0);
}
