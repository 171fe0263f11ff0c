//! Issue #17: a server calibration reaches the answers. A model calibrated
//! with the library's own fit (what `qlat calibrate` runs) and served from
//! its directory says `calibration: {server, statements, updated_at}` in
//! `/predict` and keeps the uncalibrated answer beside it; the shipped
//! model says `calibration: null`.

use crate::support::serve::*;

/// The shipped model calibrated on the first `n` statements of the shipped
/// slow log, saved into `dir`.
fn calibrated_model(dir: &std::path::Path, n: usize) {
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    let mut models = qlat::train::TrainedModels::load(&artifacts).expect("shipped model");
    let log = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/slow_log.json");
    let events = qlat::ingest::read_paths([log])
        .expect("log")
        .filter_map(Result::ok);
    let mut samples = qlat::train::samples_from_events(events);
    samples.truncate(n);
    // A server twice as slow as the one the model learned on.
    for s in &mut samples {
        s.seconds *= 2.0;
    }
    let fitted = models
        .fit_server(&samples, "replica-2")
        .expect("calibration");
    models.calibration.server = Some(fitted);
    models.save(dir).expect("save");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calibrated_model_says_so_in_predict() {
    let dir = tempfile::tempdir().expect("dir");
    calibrated_model(dir.path(), 400);
    let model = dir.path().display().to_string();
    let db = TestDb::sqlite();
    let config = qlat::serve::ServeConfig::parse_from([
        "--addr",
        "127.0.0.1:0",
        "--artifacts",
        &model,
        "--database-url",
        &db.url,
        "--ignore-registry",
    ])
    .expect("serve flags");
    let server = qlat::serve::start(config).await.expect("server starts");
    let (status, body, _) =
        post_predict(&base(&server), serde_json::json!({"query": Q6}).to_string()).await;
    assert_eq!(status, 200, "{body}");
    let c = &body["calibration"];
    assert_eq!(c["server"], "replica-2", "{body}");
    assert_eq!(c["statements"], 400);
    assert!(c["updated_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    // Twice as slow: the calibrated median is well above the uncalibrated.
    let after = body["predicted_seconds"].as_f64().expect("median");
    let before = body["uncalibrated"]["predicted_seconds"]
        .as_f64()
        .expect("the uncalibrated answer is kept");
    assert!(
        after > before * 1.3 && after < before * 3.0,
        "{before} -> {after}"
    );
    // The explanation still adds up to the calibrated median.
    let sum: f64 = body["explanation"]
        .as_array()
        .expect("explanation")
        .iter()
        .filter_map(|e| e["contribution"].as_f64())
        .sum();
    let baseline = body["explanation_baseline"].as_f64().expect("baseline");
    assert!(((baseline + sum).exp() / after - 1.0).abs() < 1e-6);
    server.shutdown().await.expect("shutdown");

    // The shipped, uncalibrated model says null.
    let db = TestDb::sqlite();
    let server = start(&db.url, &["--ignore-registry"]).await;
    let (status, body, _) =
        post_predict(&base(&server), serde_json::json!({"query": Q6}).to_string()).await;
    assert_eq!(status, 200);
    assert!(body["calibration"].is_null(), "{body}");
    assert!(body.get("uncalibrated").is_none(), "{body}");
    server.shutdown().await.expect("shutdown");
}

/// Models saved before calibration existed load unchanged, and a flipped
/// byte in calibration.json is refused by name.
#[test]
fn calibration_file_is_optional_and_checksummed() {
    let dir = tempfile::tempdir().expect("dir");
    calibrated_model(dir.path(), 200);
    let loaded = qlat::train::TrainedModels::load(dir.path()).expect("calibrated copy loads");
    assert_eq!(
        loaded.manifest.calibration.as_ref().map(|c| c.statements),
        Some(200)
    );
    let file = dir.path().join("calibration.json");
    let mut bytes = std::fs::read(&file).expect("calibration.json");
    if let Some(b) = bytes.iter_mut().find(|b| b.is_ascii_digit()) {
        *b = if *b == b'9' { b'8' } else { *b + 1 };
    }
    std::fs::write(&file, bytes).expect("write");
    let err = qlat::train::TrainedModels::load(dir.path()).expect_err("corrupt");
    assert!(err.to_string().contains("calibration.json"), "{err}");
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
    let plain = qlat::train::TrainedModels::load(&shipped).expect("shipped model");
    assert!(plain.manifest.calibration.is_none());
}
