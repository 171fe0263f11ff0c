//! Training, artifacts, determinism and explanation properties of the
//! latency models, on the first rows of the shipped slow log (a few
//! thousand statements and few epochs keep this fast).

use std::path::Path;
use std::sync::{Arc, OnceLock};

use qlat::model::artifact::{ArtifactError, FILES, FORMAT_VERSION, MANIFEST_FILE, MLP_FILE};
use qlat::model::mlp::{Calibration, Mlp, RawLayer};
use qlat::model::{LatencyModel, Prediction, Sample};
use qlat::sql::catalog::Catalog;
use qlat::train::{TrainConfig, TrainedModels, fit_all, samples_from_events};

const ROWS: usize = 3_000;

/// The catalog `qlat train` uses: the DDL with the shipped capture's row
/// counts and column statistics.
fn catalog() -> Catalog {
    let mut c = Catalog::tpch();
    qlat::schema::stats::apply_meta(&mut c, std::path::Path::new("data/capture.json"))
        .expect("data/capture.json");
    c
}

fn samples() -> &'static [Sample] {
    static S: OnceLock<Vec<Sample>> = OnceLock::new();
    S.get_or_init(|| {
        let events = qlat::ingest::read_paths(["data/slow_log.json"])
            .expect("data/slow_log.json")
            .filter_map(Result::ok)
            .take(ROWS);
        samples_from_events(events)
    })
}

fn config() -> TrainConfig {
    let mut c = TrainConfig::default();
    c.mlp.epochs_max = 8;
    c.mlp.patience = 4;
    c.mlp.hidden = vec![32, 16];
    c
}

fn trained() -> &'static TrainedModels {
    static M: OnceLock<TrainedModels> = OnceLock::new();
    M.get_or_init(|| fit_all(samples(), &catalog(), &config()).expect("training succeeds"))
}

fn probe() -> Vec<&'static str> {
    let mut v: Vec<&str> = samples()
        .iter()
        .step_by(97)
        .map(|s| s.sql.as_str())
        .collect();
    v.extend([
        "SELECT l_returnflag, sum(l_quantity) FROM lineitem WHERE l_shipdate <= '1998-09-01' GROUP BY l_returnflag",
        "this is not SQL at all ((( '",
        "",
        "SELECT * FROM unknown_table WHERE x = 1",
    ]);
    v
}

#[test]
fn samples_come_from_slow_log_rows_with_times() {
    let s = samples();
    assert!(s.len() > 2_000, "{} samples", s.len());
    assert!(
        s.iter()
            .all(|s| s.seconds >= 0.0 && !s.fingerprint.is_empty())
    );
}

#[test]
fn save_load_round_trip_predicts_identically() {
    let m = trained();
    let dir = tempfile::tempdir().expect("tempdir");
    m.save(dir.path()).expect("save");
    for file in FILES.iter().chain([&MANIFEST_FILE]) {
        assert!(dir.path().join(file).exists(), "{file} written");
    }
    let loaded = TrainedModels::load(dir.path()).expect("load");
    assert_eq!(loaded.manifest.model_version, m.manifest.model_version);
    assert_eq!(m.mlp.member_count(), config().mlp.members);
    assert_eq!(loaded.mlp.member_count(), m.mlp.member_count());
    for (a, b) in m.all().iter().zip(loaded.all()) {
        assert_eq!(a.name(), b.name());
        for sql in probe() {
            assert_eq!(a.predict(sql), b.predict(sql), "{} on {sql:?}", a.name());
        }
    }
}

fn flip_byte(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read");
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn corrupt_missing_or_incompatible_files_are_refused_by_name() {
    let m = trained();
    for file in FILES {
        let dir = tempfile::tempdir().expect("tempdir");
        m.save(dir.path()).expect("save");
        flip_byte(&dir.path().join(file));
        match TrainedModels::load(dir.path()) {
            Err(e @ ArtifactError::Corrupt { .. }) => {
                assert!(e.to_string().contains(file), "{e} names {file}")
            }
            other => panic!("{file}: expected a checksum error, got {other:?}"),
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    m.save(dir.path()).expect("save");
    std::fs::remove_file(dir.path().join(MLP_FILE)).expect("remove");
    let err = TrainedModels::load(dir.path()).expect_err("missing file refused");
    assert!(
        matches!(err, ArtifactError::Missing { .. }) && err.to_string().contains(MLP_FILE),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    m.save(dir.path()).expect("save");
    let path = dir.path().join(MANIFEST_FILE);
    let text = std::fs::read_to_string(&path).expect("manifest");
    std::fs::write(
        &path,
        text.replace(
            &format!("\"format_version\": {FORMAT_VERSION}"),
            "\"format_version\": 99",
        ),
    )
    .expect("write");
    let err = TrainedModels::load(dir.path()).expect_err("incompatible refused");
    assert!(
        matches!(err, ArtifactError::Incompatible { found: 99, .. })
            && err.to_string().contains(MANIFEST_FILE),
        "{err}"
    );
}

#[test]
fn same_seed_gives_identical_predictions() {
    let again = fit_all(samples(), &catalog(), &config()).expect("training succeeds");
    let m = trained();
    for sql in probe() {
        assert_eq!(m.mlp.predict(sql), again.mlp.predict(sql), "{sql:?}");
        assert_eq!(m.ridge.predict(sql), again.ridge.predict(sql), "{sql:?}");
    }
}

fn check_explanation(p: &Prediction, tolerance: f64, what: &str) {
    let sum: f64 =
        p.explanation_baseline + p.explanation.iter().map(|c| c.contribution).sum::<f64>();
    let target = p.predicted_seconds.ln();
    assert!(
        (sum - target).abs() < tolerance,
        "{what}: baseline + contributions = {sum}, ln p50 = {target}"
    );
    assert!(
        p.explanation.len() <= 10,
        "{what}: {} entries",
        p.explanation.len()
    );
}

#[test]
fn ensemble_median_is_the_mean_of_its_members() {
    let m = trained();
    let k = m.mlp.member_count();
    assert!(k >= 2, "the default trains an ensemble, got {k} member(s)");
    // Each member on its own: its slice of every layer, same calibration.
    let member = |i: usize| {
        let raw = m
            .mlp
            .raw_weights()
            .iter()
            .map(|l| {
                let (w, b) = (l.n_in * l.n_out, l.n_out);
                RawLayer {
                    members: 1,
                    w: l.w[i * w..(i + 1) * w].to_vec(),
                    b: l.b[i * b..(i + 1) * b].to_vec(),
                    ..l.clone()
                }
            })
            .collect();
        // Unbounded: the ensemble bounds the members' mean, not each member.
        let unbounded = Calibration {
            ln_min: f64::NEG_INFINITY,
            ln_max: f64::INFINITY,
            ..m.mlp.calibration
        };
        Mlp::from_raw(
            Arc::clone(&m.spec),
            raw,
            unbounded,
            m.mlp.thresholds,
            m.mlp.best_epoch,
        )
        .expect("one member")
    };
    let members: Vec<Mlp> = (0..k).map(member).collect();
    let mut differ = false;
    for sql in probe() {
        let ln: Vec<f64> = members
            .iter()
            .map(|n| n.predict(sql).predicted_seconds.ln())
            .collect();
        let mean = m.mlp.calibration.bound(ln.iter().sum::<f64>() / k as f64);
        let e = m.mlp.predict(sql).predicted_seconds.ln();
        assert!((e - mean).abs() < 1e-9, "{sql:?}: {e} vs members {ln:?}");
        differ |= ln.iter().any(|v| (v - ln[0]).abs() > 1e-6);
    }
    assert!(differ, "members start from different weights and disagree");
}

#[test]
fn explanations_add_up() {
    let m = trained();
    for sql in probe() {
        check_explanation(&m.ridge.predict(sql), 1e-6, "ridge");
        check_explanation(&m.mlp.predict(sql), 1e-3, "mlp");
        check_explanation(&m.baseline.predict(sql), 1e-6, "baseline");
        check_explanation(&m.tiered.predict(sql), 1e-3, "tiered");
    }
    let q1 = m.ridge.predict(
        "SELECT l_returnflag, sum(l_quantity) FROM lineitem WHERE l_shipdate <= '1998-09-01' GROUP BY l_returnflag",
    );
    assert!(!q1.explanation.is_empty());
}

#[test]
fn mlp_integrated_gradients_residual_is_small() {
    let m = trained();
    for sql in probe() {
        let p = m.mlp.predict(sql);
        let total: f64 = p.explanation.iter().map(|c| c.contribution.abs()).sum();
        if let Some(rest) = p
            .explanation
            .iter()
            .find(|c| c.feature == qlat::model::REST_APPROXIMATION)
        {
            // 15 %: averaging the members cancels part of their
            // attributions (the mass this compares against) while their
            // Riemann remainders, all of one sign near a kink, add up.
            assert!(
                rest.contribution.abs() <= 0.15 * total.max(0.1),
                "{sql:?}: rest {} of {total}",
                rest.contribution
            );
        }
    }
}

#[test]
fn quantiles_are_ordered_and_probabilities_sum_to_one() {
    let m = trained();
    for model in m.all() {
        for sql in probe() {
            let p = model.predict(sql);
            assert!(
                p.p10 <= p.predicted_seconds && p.predicted_seconds <= p.p90,
                "{}: {sql:?} {p:?}",
                model.name()
            );
            assert!(p.predicted_seconds.is_finite() && p.predicted_seconds > 0.0);
            let s: f64 = p.class_probabilities.iter().sum();
            assert!((s - 1.0).abs() < 1e-9, "{}: {s}", model.name());
        }
    }
}

#[test]
fn unparseable_text_still_predicts() {
    let m = trained();
    for model in m.all() {
        let p = model.predict("SELEC FROM WHERE (((");
        assert!(!p.parsed, "{}", model.name());
        assert!(p.predicted_seconds.is_finite());
    }
    assert!(m.mlp.predict("SELECT 1").parsed);
}

#[test]
fn batch_equals_single_predictions() {
    let m = trained();
    let sqls = probe();
    let batch = m.mlp.predict_batch(&sqls);
    let explained = m.mlp.predict_batch_explained(&sqls);
    for ((sql, p), e) in sqls.iter().zip(batch).zip(explained) {
        let full = m.mlp.predict(sql);
        assert_eq!(full, e);
        assert_eq!(full.predicted_seconds, p.predicted_seconds);
        assert_eq!((full.p10, full.p90), (p.p10, p.p90));
        assert!(p.explanation.is_empty());
    }
}

#[test]
fn manifest_records_data_hash_and_checksums() {
    let m = trained();
    let dir = tempfile::tempdir().expect("tempdir");
    m.save(dir.path()).expect("save");
    let text = std::fs::read_to_string(dir.path().join(MANIFEST_FILE)).expect("manifest");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["training_data_sha256"].as_str().map(str::len), Some(64));
    assert_eq!(v["files"].as_object().map(|f| f.len()), Some(FILES.len()));
    assert!(
        v["model_version"]
            .as_str()
            .is_some_and(|s| s.ends_with(&v["training_data_sha256"].as_str().unwrap_or("")[..8]))
    );
}

#[test]
fn the_weight_average_is_what_is_kept_and_old_manifests_read_as_without_it() {
    let mut plain = config();
    plain.mlp.ema_decay = 0.0;
    assert!(config().mlp.ema_decay > 0.0, "the default averages weights");
    let without = fit_all(samples(), &catalog(), &plain).expect("training succeeds");
    let with = trained();
    let moved = probe().into_iter().any(|sql| {
        let (a, b) = (without.mlp.predict(sql), with.mlp.predict(sql));
        (a.predicted_seconds.ln() - b.predicted_seconds.ln()).abs() > 1e-4
    });
    assert!(moved, "averaging the weights changes the network kept");
    let mut old = serde_json::to_value(config()).expect("config serialises");
    old.as_object_mut().expect("an object").remove("ema_decay");
    let read: TrainConfig = serde_json::from_value(old).expect("an older manifest still reads");
    assert_eq!(read.mlp.ema_decay, 0.0);
}

#[test]
fn the_median_stays_within_the_times_seen_in_training() {
    let m = trained();
    let c = m.mlp.calibration;
    let seconds = samples().iter().map(|s| s.seconds);
    let fastest = seconds.clone().fold(f64::INFINITY, f64::min);
    let slowest = seconds.fold(f64::NEG_INFINITY, f64::max);
    assert!(
        (c.ln_min - fastest.ln()).abs() < 1e-9,
        "{} vs {fastest}",
        c.ln_min
    );
    assert!(
        (c.ln_max - slowest.ln()).abs() < 1e-9,
        "{} vs {slowest}",
        c.ln_max
    );
    let (lo, hi) = m.ridge.params.trained_range.expect("ridge saves its range");
    assert!((lo - c.ln_min).abs() < 1e-9 && (hi - c.ln_max).abs() < 1e-9);
    for sql in probe() {
        let ln = m.ridge.predict(sql).predicted_seconds.ln();
        assert!((lo - 1e-9..=hi + 1e-9).contains(&ln), "ridge {sql:?}: {ln}");
    }
    // The same network with a narrow range: answers outside it are moved
    // to its edge, the interval moves with them, and the explanation says
    // so and still adds up.
    let free: Vec<(&str, f64)> = probe()
        .into_iter()
        .map(|sql| (sql, m.mlp.predict(sql).predicted_seconds.ln()))
        .collect();
    let mut lns: Vec<f64> = free.iter().map(|f| f.1).collect();
    lns.sort_by(f64::total_cmp);
    let (lo, hi) = (lns[lns.len() / 4], lns[lns.len() * 3 / 4]);
    assert!(lo < hi, "the probe statements spread: {lns:?}");
    let narrow = Mlp::from_raw(
        Arc::clone(&m.spec),
        m.mlp.raw_weights().to_vec(),
        Calibration {
            ln_min: lo,
            ln_max: hi,
            ..c
        },
        m.mlp.thresholds,
        m.mlp.best_epoch,
    )
    .expect("same weights");
    let mut capped = 0;
    for (sql, ln) in free {
        let p = narrow.predict(sql);
        let got = p.predicted_seconds.ln();
        assert!(
            (got - ln.clamp(lo, hi)).abs() < 1e-9,
            "{sql:?}: {got} vs {ln}"
        );
        assert!(p.p10 <= p.predicted_seconds && p.predicted_seconds <= p.p90);
        check_explanation(&p, 1e-3, "bounded mlp");
        let cap = p
            .explanation
            .iter()
            .find(|e| e.feature == qlat::model::TRAINED_RANGE);
        if ln < lo || ln > hi {
            capped += 1;
            let cap = cap.map(|e| e.contribution);
            assert!(
                cap.is_some_and(|v| (v - (got - ln)).abs() < 1e-9),
                "{sql:?}: {cap:?}"
            );
        } else {
            assert!(cap.is_none(), "{sql:?}");
        }
    }
    assert!(capped >= 2, "a quarter each side lies outside: {capped}");
}

/// Shapes the models never trained on get their interval width from held-out
/// rows of other unseen shapes (the pipeline's validation slice): on a third
/// set of unseen shapes, p10–p90 coverage moves toward the nominal 80 %.
#[test]
fn unseen_shape_offsets_from_held_out_rows_widen_intervals_toward_nominal() {
    let third = |s: &Sample| {
        let sum = qlat::sql::fingerprint::checksum(&s.fingerprint);
        u32::from_str_radix(&sum[..4], 16).unwrap_or(0) % 3
    };
    let part = |k: u32| -> Vec<Sample> {
        samples()
            .iter()
            .filter(|s| third(s) == k)
            .cloned()
            .collect()
    };
    let (train, held, judged) = (part(0), part(1), part(2));
    let mut models = fit_all(&train, &catalog(), &config()).expect("training succeeds");
    let coverage = |m: &TrainedModels| {
        let mlp = m.by_name("mlp").expect("an mlp");
        let sqls: Vec<&str> = judged.iter().map(|s| s.sql.as_str()).collect();
        let preds = mlp.predict_batch(&sqls);
        let inside = preds
            .iter()
            .zip(&judged)
            .filter(|(p, s)| p.p10 <= s.seconds && s.seconds <= p.p90)
            .count();
        inside as f64 / judged.len() as f64
    };
    let before = coverage(&models);
    let fitted = models.fit_unseen(&held);
    assert!(
        fitted >= qlat::model::trained::MIN_UNSEEN_ROWS,
        "{fitted} held-out rows of unseen shapes"
    );
    assert!(models.calibration.unseen.contains_key("mlp"));
    let after = coverage(&models);
    eprintln!("unseen-shape coverage {before:.3} -> {after:.3} ({fitted} held-out rows)");
    assert!(
        (after - 0.8).abs() < (before - 0.8).abs(),
        "coverage on unseen shapes {before:.3} -> {after:.3}"
    );
}
