//! Runs the evaluation end to end on the bundled TPC-H slow log with two
//! toy models built here (a global median and a per-fingerprint median), so
//! the runner, metrics and report are checked without any real model.

use qlat::eval::run::{Models, PerSample};
use qlat::eval::{EvalConfig, EvalResults, Predictor, SplitKind, evaluate_models, write_report};
use qlat::model::{ClassThresholds, LatencyClass, Prediction, Sample};
use qlat::sql::fingerprint::fingerprint;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

fn load_samples() -> Vec<Sample> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/slow_log.json");
    qlat::ingest::read_path(&path)
        .expect("slow log opens")
        .filter_map(Result::ok)
        .filter_map(|e| {
            Some(Sample {
                seconds: e.query_time?,
                time: e.time,
                fingerprint: fingerprint(&e.sql),
                sql: e.sql,
            })
        })
        .collect()
}

/// Nearest-rank percentile of unsorted values.
fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v.get(rank.clamp(1, v.len().max(1)) - 1)
        .copied()
        .unwrap_or(0.0)
}

/// Median with an interval from the training distribution.
#[derive(Clone, Copy)]
struct Dist {
    p10: f64,
    p50: f64,
    p90: f64,
}

impl Dist {
    fn of(v: &[f64]) -> Dist {
        Dist {
            p10: pct(v, 10.0),
            p50: pct(v, 50.0),
            p90: pct(v, 90.0),
        }
    }
    fn prediction(self) -> Prediction {
        let class = LatencyClass::of(self.p50, &ClassThresholds::default());
        let mut class_probabilities = [0.0; 3];
        class_probabilities[class.index()] = 1.0;
        Prediction {
            predicted_seconds: self.p50,
            p10: self.p10,
            p90: self.p90,
            class,
            class_probabilities,
            explanation_baseline: self.p50.max(1e-6).ln(),
            explanation: Vec::new(),
            parsed: true,
        }
    }
}

struct GlobalMedian(Dist);

impl Predictor for GlobalMedian {
    fn predict_batch(&self, sqls: &[&str]) -> Vec<Prediction> {
        sqls.iter().map(|_| self.0.prediction()).collect()
    }
}

struct FingerprintMedian {
    by_fp: HashMap<String, Dist>,
    fallback: Dist,
}

impl Predictor for FingerprintMedian {
    fn predict_batch(&self, sqls: &[&str]) -> Vec<Prediction> {
        sqls.iter()
            .map(|s| {
                self.by_fp
                    .get(&fingerprint(s))
                    .copied()
                    .unwrap_or(self.fallback)
                    .prediction()
            })
            .collect()
    }
}

fn fit(train: &[Sample]) -> Result<Models, String> {
    if train.is_empty() {
        return Err("no training samples".into());
    }
    let all: Vec<f64> = train.iter().map(|s| s.seconds).collect();
    let global = Dist::of(&all);
    let mut groups: HashMap<String, Vec<f64>> = HashMap::new();
    for s in train {
        groups
            .entry(s.fingerprint.clone())
            .or_default()
            .push(s.seconds);
    }
    let by_fp = groups.into_iter().map(|(k, v)| (k, Dist::of(&v))).collect();
    Ok(vec![
        ("global median".to_string(), Box::new(GlobalMedian(global))),
        (
            "fingerprint median".to_string(),
            Box::new(FingerprintMedian {
                by_fp,
                fallback: global,
            }),
        ),
    ])
}

/// JSON trees equal up to float parsing (serde_json's default parser may
/// be one ULP off on some values).
fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0),
            _ => x == y,
        },
        (Array(x), Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_close(a, b))
        }
        (Object(x), Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn toy_models_on_the_tpch_slow_log() {
    let samples = load_samples();
    assert!(samples.len() > 1000, "{} samples", samples.len());
    let cfg = EvalConfig::default();
    let steps = Mutex::new(Vec::new());
    let on_progress =
        |p: &qlat::eval::Progress| steps.lock().expect("lock").push((p.step, p.total));
    let eval = evaluate_models(&samples, &fit, &cfg, Some(&on_progress));
    let r = &eval.results;
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.samples + r.dropped_samples, samples.len());
    assert_eq!(r.models, ["global median", "fingerprint median"]);
    assert_eq!(
        *steps.lock().expect("lock"),
        (1..=7).map(|s| (s, 7)).collect::<Vec<_>>()
    );

    let n = r.samples;
    let test = (n as f64 * 0.3).round() as usize;
    for h in &r.holdout {
        assert_eq!((h.train_size, h.test_size), (n - test, test), "{}", h.model);
        assert_eq!(h.report.n as usize, test);
        assert_eq!(h.non_finite_predictions, 0);
    }
    assert_eq!(r.holdout.len(), 4);
    for cv in &r.grouped_cv {
        assert_eq!(cv.fold_test_sizes.len(), 5);
        assert_eq!(cv.fold_test_sizes.iter().sum::<usize>(), n);
        assert_eq!(cv.all.n as usize, n);
        assert_eq!(cv.all.confusion.iter().flatten().sum::<u64>() as usize, n);
    }

    let time = |model: &str| {
        r.holdout
            .iter()
            .find(|h| h.model == model && h.split == SplitKind::Time)
            .expect("time split result")
    };
    let global = &time("global median").report;
    let fp = &time("fingerprint median").report;
    println!("time split, global median:      {:?}", global.metrics);
    println!("time split, fingerprint median: {:?}", fp.metrics);
    for cv in &r.grouped_cv {
        println!(
            "grouped CV {}: mse_ln {:.3} ± {:.3}, q50 {:.2} ± {:.2}",
            cv.model,
            cv.all.mse_ln.mean,
            cv.all.mse_ln.std,
            cv.all.q_error_p50.mean,
            cv.all.q_error_p50.std
        );
    }
    assert!(
        fp.metrics.mse_ln < global.metrics.mse_ln,
        "fingerprint median {} vs global median {}",
        fp.metrics.mse_ln,
        global.metrics.mse_ln
    );

    // Grouped folds leak no fingerprint, so the fingerprint median never
    // finds its statement's history and falls back to the global median:
    // the two must score identically there.
    let cv = |model: &str| {
        r.grouped_cv
            .iter()
            .find(|c| c.model == model)
            .expect("cv result")
    };
    assert_eq!(cv("fingerprint median").all, cv("global median").all);

    let dir = tempfile::tempdir().expect("temp dir");
    let written = write_report(r, &eval.per_sample, dir.path()).expect("report written");
    let json = std::fs::read_to_string(dir.path().join("eval.json")).expect("eval.json");
    let back: EvalResults = serde_json::from_str(&json).expect("eval.json parses");
    assert!(json_close(
        &serde_json::to_value(&back).expect("to value"),
        &serde_json::to_value(r).expect("to value")
    ));
    assert_eq!(back.models, r.models);

    let md = std::fs::read_to_string(dir.path().join("eval.md")).expect("eval.md");
    println!("{md}");
    for model in &r.models {
        assert!(md.contains(model.as_str()), "{model}");
    }
    for kind in SplitKind::ALL {
        assert!(md.contains(kind.label()), "{}", kind.label());
    }
    assert!(md.contains(" ± "));
    assert!(md.contains("Analytic subset"));

    for stem in [
        "pred_vs_actual_global_median",
        "pred_vs_actual_fingerprint_median",
        "qerror_cdf",
        "qerror_by_fingerprint",
    ] {
        let png = std::fs::read(dir.path().join(format!("{stem}.png"))).expect(stem);
        assert!(png.starts_with(b"\x89PNG"), "{stem}.png");
        let svg = std::fs::read_to_string(dir.path().join(format!("{stem}.svg"))).expect(stem);
        assert!(svg.contains("<svg") && svg.len() > 1000, "{stem}.svg");
    }
    assert_eq!(written.len(), 2 + 4 * 2 + 1);
    let unseen =
        std::fs::read_to_string(dir.path().join("unseen_shapes.csv")).expect("unseen_shapes.csv");
    let mut lines = unseen.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("fingerprint,statements,median_seconds,")
            && header.contains("fingerprint median_median_q_error"),
        "{header}"
    );
    let rows: Vec<&str> = lines.collect();
    let fingerprints: std::collections::HashSet<&str> =
        samples.iter().map(|s| s.fingerprint.as_str()).collect();
    assert_eq!(rows.len(), fingerprints.len(), "one row per fingerprint");
    if let Ok(out) = std::env::var("QLAT_EVAL_OUT") {
        write_report(r, &eval.per_sample, Path::new(&out)).expect("copy written");
    }
}

#[test]
fn empty_input_evaluates_and_reports_nothing() {
    let eval = evaluate_models(&[], &fit, &EvalConfig::default(), None);
    assert!(eval.results.holdout.is_empty());
    assert_eq!(eval.per_sample, PerSample::default());
    let dir = tempfile::tempdir().expect("temp dir");
    write_report(&eval.results, &eval.per_sample, dir.path()).expect("report written");
    assert!(dir.path().join("qerror_cdf.png").exists());
}
