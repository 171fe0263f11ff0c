//! No input makes a trained model panic or answer nonsense.

use std::sync::OnceLock;

use proptest::prelude::*;
use qlat::sql::catalog::Catalog;
use qlat::train::{TrainConfig, TrainedModels, fit_all, samples_from_events};

fn trained() -> &'static TrainedModels {
    static M: OnceLock<TrainedModels> = OnceLock::new();
    M.get_or_init(|| {
        let events = qlat::ingest::read_paths(["data/slow_log.json"])
            .expect("data/slow_log.json")
            .filter_map(Result::ok)
            .take(1_500);
        let mut cfg = TrainConfig::default();
        cfg.mlp.epochs_max = 3;
        cfg.mlp.hidden = vec![16, 8];
        fit_all(
            &samples_from_events(events),
            &Catalog::tpch().with_tpch_row_counts(0.1),
            &cfg,
        )
        .expect("training succeeds")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_text_predicts_sanely(sql in ".{0,200}") {
        for m in trained().all() {
            let p = m.predict(&sql);
            prop_assert!(p.predicted_seconds.is_finite() && p.predicted_seconds > 0.0);
            prop_assert!(p.p10 <= p.predicted_seconds && p.predicted_seconds <= p.p90);
        }
    }

    #[test]
    fn sql_like_text_predicts_sanely(
        sql in "(SELECT|select|UPDATE|SET|SHOW) [a-z_*(), '0-9=<>]{0,80}( FROM (lineitem|orders|nation))?( WHERE [a-z_]+ ?[=<>] ?'?[0-9-]{0,12}'?)?"
    ) {
        for m in trained().all() {
            let p = m.predict(&sql);
            prop_assert!(p.predicted_seconds.is_finite());
            let sum: f64 = p.class_probabilities.iter().sum();
            prop_assert!((sum - 1.0).abs() < 1e-9);
        }
    }
}
