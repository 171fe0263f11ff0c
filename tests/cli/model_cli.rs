//! `qlat train`, `qlat predict` and `qlat eval` from the outside: the JSON
//! contracts machines rely on, and refusals of broken artifacts.

use serde_json::Value;
use std::path::Path;

use crate::support::cli::{json_ok, qlat};

fn train_small(dir: &Path) {
    let out = qlat()
        .args([
            "train",
            "--no-eval",
            "--epochs",
            "3",
            "data/slow_log.json",
            "--out",
        ])
        .arg(dir)
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "train failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn train_then_predict_and_eval_speak_the_contracts() {
    let dir = tempfile::tempdir().expect("temp dir");
    train_small(dir.path());
    for f in ["model.json", "tokenizer.json", "mlp.safetensors"] {
        assert!(dir.path().join(f).exists(), "{f} saved");
    }

    let p = json_ok(
        qlat()
        .args(["predict", "--format", "json", "--model"])
        .arg(dir.path())
        .arg("SELECT COUNT(*) FROM lineitem WHERE l_shipdate BETWEEN '1995-01-01' AND '1995-12-31'"),
    );
    for key in qlat::predict::RESPONSE_FIELDS {
        assert!(p.get(key).is_some(), "{key} in {p}");
    }
    let secs = p["predicted_seconds"].as_f64().unwrap_or(-1.0);
    let (p10, p90) = (
        p["interval"]["p10"].as_f64().unwrap_or(f64::NAN),
        p["interval"]["p90"].as_f64().unwrap_or(f64::NAN),
    );
    assert!(p10 <= secs && secs <= p90, "{p10} <= {secs} <= {p90}");
    assert_eq!(p["parsed"], true);
    let sum: f64 = p["explanation"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["contribution"].as_f64()).sum())
        .unwrap_or(f64::NAN);
    let baseline = p["explanation_baseline"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (baseline + sum - secs.ln()).abs() < 1e-3,
        "explanation adds up: {baseline} + {sum} vs ln {secs}"
    );

    let e = json_ok(
        qlat()
            .args(["eval", "--format", "json", "--model"])
            .arg(dir.path())
            .arg("data/native/slow.log"),
    );
    assert_eq!(e["n"], 21_426);
    for part in ["metrics", "analytic"] {
        for key in [
            "n",
            "mse_ln",
            "r2_ln",
            "mae_s",
            "q_error_p50",
            "q_error_p90",
            "q_error_p99",
            "interval_coverage",
            "class_accuracy",
            "class_f1_macro",
        ] {
            assert!(e[part][key].is_number(), "{part}.{key} in {e}");
        }
    }
    assert!(e["analytic"]["n"].as_u64().unwrap_or(0) > 3000);

    let empty = qlat()
        .args(["predict", "--model"])
        .arg(dir.path())
        .arg("   ")
        .output()
        .expect("runs");
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("empty"));

    let weights = dir.path().join("mlp.safetensors");
    let mut bytes = std::fs::read(&weights).expect("weights");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xFF;
    std::fs::write(&weights, bytes).expect("write");
    let out = qlat()
        .args(["predict", "--model"])
        .arg(dir.path())
        .arg("SELECT 1")
        .output()
        .expect("runs");
    assert!(!out.status.success(), "a corrupted artifact is refused");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mlp.safetensors"), "{err}");
}

#[test]
fn the_committed_artifacts_load_and_predict() {
    let p = json_ok(qlat().args([
        "predict",
        "--format",
        "json",
        "SELECT * FROM orders WHERE o_orderkey = 7",
    ]));
    assert_eq!(p["class"], "fast", "a primary-key lookup is fast: {p}");
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/model.json"))
            .expect("artifacts/model.json"),
    )
    .expect("JSON");
    assert_eq!(p["model_version"], manifest["model_version"]);
    assert!(
        manifest["metrics"]["holdout"].is_array(),
        "evaluation stored with the model"
    );
}
