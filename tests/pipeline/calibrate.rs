//! Issue #17 in the pipeline: on a new server whose first candidate fails
//! the quality floor, the cycle calibrates the model servers fall back to
//! (the shipped one here) on that server's newest statements and points
//! production at the calibrated copy; the next such cycle refreshes it;
//! a model trained here is never recalibrated.

use crate::dir::{FIRST, Fixture, sqlite};
use qlat::pipeline::{Pipeline, PipelineConfig};
use qlat::registry::{Decision, Registry};

fn crippled(fx: &Fixture) -> PipelineConfig {
    let mut c = fx.config();
    c.algorithm = "ridge".into();
    c.train.ridge_lambda = Some(1e12);
    c.calibration_statements = 300;
    c.calibration_base = Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts"));
    c.retrain_without_new_data = true;
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_server_gets_a_calibrated_model_refreshed_every_cycle() {
    let fx = Fixture::new();
    let db = sqlite(fx._dir.path()).await;
    let registry = Registry::new(db.clone());
    fx.export(FIRST);
    let run = |config: PipelineConfig| {
        let (db, store) = (db.clone(), fx.store());
        async move {
            Pipeline::new(db, store, config)
                .expect("config")
                .run_once()
                .await
                .expect("cycle")
        }
    };
    let r1 = run(crippled(&fx)).await;
    assert_eq!(r1.decision, Decision::Rejected, "{}", r1.reason);
    let v1 = r1
        .production_after
        .clone()
        .expect("the calibrated shipped model is production");
    assert!(v1.contains("+cal-"), "{v1}");
    let m1 = registry.get_model(&v1).await.expect("get").expect("model");
    let cal = &m1.metrics["calibration"];
    assert_eq!(cal["statements"], 300, "{}", m1.metrics);
    let (before, after) = (
        m1.metrics["uncalibrated"]["metrics"]["mse_ln"]
            .as_f64()
            .expect("before"),
        m1.metrics["test"]["metrics"]["mse_ln"]
            .as_f64()
            .expect("after"),
    );
    assert!(
        after <= before,
        "promoted only when no worse: {before} -> {after}"
    );
    let saved = registry
        .get_run(&r1.run_id)
        .await
        .expect("get")
        .expect("run");
    assert!(saved.log.contains("[calibrate]"), "{}", saved.log);

    // The next rejected cycle refreshes the calibration of the same base.
    let r2 = run(crippled(&fx)).await;
    let v2 = r2.production_after.clone().expect("production");
    assert_ne!(v2, v1, "a fresh calibration");
    assert_eq!(
        v2.split("+cal-").next(),
        v1.split("+cal-").next(),
        "of the same base model"
    );

    // A candidate trained here replaces it (by the margin rule), and is
    // not recalibrated afterwards.
    let mut normal = fx.config();
    normal.calibration_statements = 300;
    normal.retrain_without_new_data = true;
    normal.promote_margin = 0.0;
    let r3 = run(normal.clone()).await;
    if r3.decision == Decision::Promoted {
        let v3 = r3.production_after.clone().expect("production");
        assert!(!v3.contains("+cal-"), "{v3}");
        normal.algorithm = "ridge".into();
        normal.train.ridge_lambda = Some(1e12);
        let r4 = run(normal).await;
        assert_eq!(r4.production_after.as_deref(), Some(v3.as_str()));
    }
}
