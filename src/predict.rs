//! The answer qlat gives for one statement, in the shape clients rely on:
//! `qlat predict --format json` prints it and the service's `/predict`
//! returns it, so both are built here.
//!
//! A statement the SQL parser did not understand is predicted from its
//! tokens alone. The model cannot know how far off that is, so the answer
//! says so: `low_confidence` is set, the interval is widened to at least
//! [`UNPARSED_SPREAD`] times either side of the median and the class
//! probabilities are pulled halfway toward uniform ([`UNPARSED_MIX`]), so
//! `hello world` is not "fast" at 99.99997 %. The median itself is kept:
//! the explanation still adds up to it.

use crate::model::calibration::CalibrationInfo;
use crate::model::{LatencyClass, LatencyModel, Prediction};
use crate::sql::fingerprint::{fingerprint, query_id};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Interval {
    pub p10: f64,
    pub p90: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClassProbabilities {
    pub fast: f64,
    pub medium: f64,
    pub slow: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExplanationItem {
    pub feature: String,
    pub contribution: f64,
}

/// The top-level fields clients rely on.
pub const RESPONSE_FIELDS: [&str; 10] = [
    "id",
    "predicted_seconds",
    "interval",
    "class",
    "class_probabilities",
    "fingerprint",
    "query_id",
    "parsed",
    "explanation",
    "model_version",
];

/// Factor either side of the median an unparsed statement's p10–p90
/// interval covers at least (one decade each way).
pub const UNPARSED_SPREAD: f64 = 10.0;

/// Weight of the uniform distribution mixed into an unparsed statement's
/// class probabilities: none of them can exceed 1/2 + 1/6 ≈ 0.83 or fall
/// below 1/6.
pub const UNPARSED_MIX: f64 = 0.5;

/// `{"id", "predicted_seconds", "interval": {"p10", "p90"}, "class",
/// "class_probabilities", "fingerprint", "query_id", "parsed",
/// "explanation": [{"feature", "contribution"}], "model_version"}` plus the
/// explanation's baseline, so the contributions can be checked to add up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PredictResponse {
    /// Id of the stored prediction; `None` when nothing was stored (CLI).
    pub id: Option<String>,
    pub predicted_seconds: f64,
    pub interval: Interval,
    pub class: LatencyClass,
    pub class_probabilities: ClassProbabilities,
    pub fingerprint: String,
    pub query_id: String,
    pub parsed: bool,
    /// `true` when the answer should not be relied on: the statement did
    /// not parse and was predicted from its tokens alone, so its interval
    /// was widened and its class probabilities softened (see the module
    /// documentation). Absent in answers stored before it existed.
    #[serde(default)]
    pub low_confidence: bool,
    /// ln-seconds the explanation starts from.
    pub explanation_baseline: f64,
    pub explanation: Vec<ExplanationItem>,
    pub model_version: String,
    /// The server calibration the answer went through: `{server,
    /// statements, updated_at}`; `null` when the model is uncalibrated.
    pub calibration: Option<CalibrationInfo>,
    /// What the same model answered without the server calibration
    /// (present only when there is one): kept with the stored prediction
    /// so live accuracy can compare before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncalibrated: Option<Uncalibrated>,
}

/// A median and interval before the server calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Uncalibrated {
    pub predicted_seconds: f64,
    pub interval: Interval,
}

impl PredictResponse {
    /// `model`'s answer to `sql`. The statement is featurized once, without
    /// the featurizer's cache (the service keeps one cache, of answers), and
    /// its fingerprint comes with the features instead of being computed
    /// again.
    pub fn answer(model: &dyn LatencyModel, sql: &str, model_version: &str) -> PredictResponse {
        let f = model.spec().featurize_uncached(sql);
        let p = model.predict_featurized(&f, true);
        PredictResponse::with_fingerprint(f.fingerprint, p, model_version)
    }

    /// The answer for `sql` from a prediction made elsewhere.
    pub fn new(sql: &str, p: Prediction, model_version: &str) -> PredictResponse {
        PredictResponse::with_fingerprint(fingerprint(sql), p, model_version)
    }

    /// The answer from a prediction and the statement's fingerprint.
    pub fn with_fingerprint(fp: String, p: Prediction, model_version: &str) -> PredictResponse {
        let low_confidence = !p.parsed;
        let (mut p10, mut p90) = (p.p10, p.p90);
        let mut probabilities = p.class_probabilities;
        if low_confidence {
            p10 = p10.min(p.predicted_seconds / UNPARSED_SPREAD);
            p90 = p90.max(p.predicted_seconds * UNPARSED_SPREAD);
            for v in &mut probabilities {
                *v = (1.0 - UNPARSED_MIX) * *v + UNPARSED_MIX / 3.0;
            }
        }
        let [fast, medium, slow] = probabilities;
        PredictResponse {
            id: None,
            predicted_seconds: p.predicted_seconds,
            interval: Interval { p10, p90 },
            class: p.class,
            class_probabilities: ClassProbabilities { fast, medium, slow },
            query_id: query_id(&fp),
            fingerprint: fp,
            parsed: p.parsed,
            low_confidence,
            explanation_baseline: p.explanation_baseline,
            explanation: p
                .explanation
                .into_iter()
                .map(|c| ExplanationItem {
                    feature: c.feature,
                    contribution: c.contribution,
                })
                .collect(),
            model_version: model_version.to_string(),
            calibration: None,
            uncalibrated: None,
        }
    }

    /// The same answer, saying which server calibration it went through.
    #[must_use]
    pub fn with_calibration(mut self, calibration: Option<CalibrationInfo>) -> PredictResponse {
        self.calibration = calibration;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Contribution;

    #[test]
    fn the_contract_field_names() {
        let p = Prediction {
            predicted_seconds: 0.5,
            p10: 0.2,
            p90: 0.9,
            class: LatencyClass::Medium,
            class_probabilities: [0.1, 0.8, 0.1],
            explanation_baseline: -3.0,
            explanation: vec![Contribution {
                feature: "3 joins".into(),
                contribution: 2.3,
            }],
            parsed: true,
        };
        let v = serde_json::to_value(PredictResponse::new("SELECT 1", p, "v1")).unwrap_or_default();
        for key in RESPONSE_FIELDS {
            assert!(v.get(key).is_some(), "{key} in {v}");
        }
        assert_eq!(
            RESPONSE_FIELDS,
            [
                "id",
                "predicted_seconds",
                "interval",
                "class",
                "class_probabilities",
                "fingerprint",
                "query_id",
                "parsed",
                "explanation",
                "model_version"
            ],
            "the names clients rely on (issue contract): change only with the clients"
        );
        assert_eq!(v["class"], "medium");
        assert_eq!(v["interval"]["p90"], 0.9);
        assert_eq!(v["class_probabilities"]["medium"], 0.8);
        assert_eq!(v["explanation"][0]["feature"], "3 joins");
        assert_eq!(v["fingerprint"], "select ?");
        assert!(
            v["calibration"].is_null(),
            "uncalibrated answers say null: {v}"
        );
        assert_eq!(v["low_confidence"], false);
    }

    #[test]
    fn an_unparsed_statement_is_answered_with_caution() {
        let p = Prediction {
            predicted_seconds: 0.001,
            p10: 0.0009,
            p90: 0.0011,
            class: LatencyClass::Fast,
            class_probabilities: [0.9999997, 0.0000002, 0.0000001],
            explanation_baseline: -6.9,
            explanation: Vec::new(),
            parsed: false,
        };
        let r = PredictResponse::new("hello world", p, "v1");
        assert!(r.low_confidence);
        assert_eq!(r.predicted_seconds, 0.001, "the median is kept");
        assert!(r.interval.p10 <= 0.0001 + 1e-12 && r.interval.p90 >= 0.01 - 1e-12);
        let c = &r.class_probabilities;
        for v in [c.fast, c.medium, c.slow] {
            assert!((1.0 / 6.0 - 1e-9..=5.0 / 6.0 + 1e-9).contains(&v), "{v}");
        }
        assert!((c.fast + c.medium + c.slow - 1.0).abs() < 1e-9);
        assert_eq!(r.class, LatencyClass::Fast, "the ranking is kept");
    }
}
