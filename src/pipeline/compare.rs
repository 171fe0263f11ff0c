//! Step 7 of a cycle: the candidate against what servers answer with, on
//! the same test rows, and the decision.
//!
//! What servers answer with is the registry's production model when there
//! is one. Before the first promotion it is whatever `qlat serve` loads
//! without a registry ([`ServedModel`], by default the model
//! [`ModelLocation::resolve`] finds — often the built-in one), so a first
//! candidate must beat that model by the margin too, rather than being
//! promoted because the registry is empty. The quality floor
//! ([`floor`]) comes first either way.

use super::handoff::{Decided, ProductionScore, Split, Trained};
use super::*;
use crate::model::location::ModelLocation;

/// The model servers answer with while the registry names no production
/// model, and the algorithm they use.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedModel {
    pub location: ModelLocation,
    /// `qlat serve --algorithm` (mlp unless told otherwise).
    pub algorithm: String,
}

impl ServedModel {
    /// What `qlat serve` loads without flags when `explicit` is `None`
    /// (see [`ModelLocation::resolve`]), answering with `algorithm`.
    pub fn resolve(explicit: Option<&std::path::Path>, algorithm: &str) -> ServedModel {
        ServedModel {
            location: ModelLocation::resolve(explicit),
            algorithm: algorithm.to_owned(),
        }
    }
}

impl std::fmt::Display for ServedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.location, self.algorithm)
    }
}

impl Pipeline {
    /// Step 7a: Production on the same test rows.
    pub(super) async fn score_against_production(
        &self,
        ctx: &mut RunCtx,
        production: Option<&ModelVersion>,
        test: &Arc<Vec<Sample>>,
        work: &std::path::Path,
    ) -> ProductionScore {
        let mut production_report: Option<EvalReport> = None;
        let mut production_preds: Option<Vec<f64>> = None;
        let mut production_problem: Option<String> = None;
        if let Some(prod) = &production {
            match self.score_production(prod, test, work).await {
                Ok((report, preds)) => {
                    ctx.log.info(
                        "compare",
                        format!(
                            "production {} on the same {} test rows: MSE(ln) {:.3} q-error p90 {:.2}",
                            prod.version,
                            test.len(),
                            report.metrics.mse_ln,
                            report.metrics.q_error_p90
                        ),
                    );
                    production_report = Some(report);
                    production_preds = Some(preds);
                }
                Err(e) => {
                    ctx.log.warn(
                        "compare",
                        format!("production model {} could not be scored: {e}", prod.version),
                    );
                    production_problem = Some(e);
                }
            }
        }
        ProductionScore {
            report: production_report,
            preds: production_preds,
            problem: production_problem,
            served: None,
        }
    }

    /// Step 7a before the first promotion: the model servers answer with
    /// while the registry has none, on the same test rows.
    pub(super) async fn score_served(
        &self,
        ctx: &mut RunCtx,
        served: &ServedModel,
        test: &Arc<Vec<Sample>>,
    ) -> ProductionScore {
        let (rows, thresholds) = (Arc::clone(test), self.config.train.thresholds);
        let model = served.clone();
        let scored = tokio::task::spawn_blocking(move || {
            let models = model.location.load(None).map_err(|e| e.to_string())?;
            let m = models
                .by_name(&model.algorithm)
                .ok_or_else(|| format!("it has no {} model", model.algorithm))?;
            let sqls: Vec<&str> = rows.iter().map(|s| s.sql.as_str()).collect();
            let truth: Vec<f64> = rows.iter().map(|s| s.seconds).collect();
            let preds = m.predict_batch(&sqls);
            let report = metrics_with_analytic(&preds, &truth, &thresholds);
            Ok::<_, String>((report, preds.iter().map(|p| p.predicted_seconds).collect()))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        let mut score = ProductionScore {
            report: None,
            preds: None,
            problem: None,
            served: Some(served.to_string()),
        };
        match scored {
            Ok((report, preds)) => {
                ctx.log.info(
                    "compare",
                    format!(
                        "no production model in the registry; servers answer with {served}: on the same {} test rows MSE(ln) {:.3} q-error p90 {:.2}",
                        test.len(),
                        report.metrics.mse_ln,
                        report.metrics.q_error_p90
                    ),
                );
                score.report = Some(report);
                score.preds = Some(preds);
            }
            Err(e) => {
                ctx.log.warn(
                    "compare",
                    format!("the served model {served} could not be scored: {e}"),
                );
                score.problem = Some(e);
            }
        }
        score
    }

    /// Step 7b: The quality floor, then promote or refuse by the margin on
    /// MSE(ln).
    pub(super) async fn decide(
        &self,
        ctx: &mut RunCtx,
        trained: &Trained,
        production: &ProductionScore,
        production_before: Option<&str>,
        split: &Split,
    ) -> Decided {
        let cand = trained.candidate.metrics.mse_ln;
        let baseline = trained
            .reports
            .get("baseline")
            .map_or(f64::NAN, |r| r.metrics.mse_ln);
        let evidence = floor::Evidence {
            mlp_best_epoch: trained.mlp_best_epoch,
            epochs_max: self.config.train.mlp.epochs_max,
            candidate_mse_ln: cand,
            baseline_mse_ln: baseline,
            test_rows: split.test.len(),
        };
        let prod_mse = production.report.as_ref().map(|r| r.metrics.mse_ln);
        let required = prod_mse.map(|p| p * (1.0 - self.config.promote_margin));
        let rejected = floor::rejection(&trained.selection, &evidence);
        let alg = &trained.selection.algorithm;
        let margin = self.config.promote_margin * 100.0;
        let (against, note) = match &production.served {
            Some(served) => (
                format!("served model {served}"),
                "; no production model in the registry yet, so the candidate was compared with what servers answer with",
            ),
            None => ("production".to_string(), ""),
        };
        let (decision, reason) = match (&rejected, production_before, prod_mse, required) {
            (Some(why), ..) => (Decision::Rejected, why.clone()),
            (None, _, Some(p), Some(req)) if cand <= req => (
                Decision::Promoted,
                format!(
                    "candidate {alg} MSE(ln) {cand:.4} ≤ {req:.4} ({against} {p:.4} − {margin:.1} %); baseline {baseline:.4}{note}"
                ),
            ),
            (None, _, Some(p), Some(req)) => (
                Decision::Refused,
                format!(
                    "candidate {alg} MSE(ln) {cand:.4} > {req:.4} ({against} {p:.4} − {margin:.1} %){note}"
                ),
            ),
            (None, None, _, _) => (
                Decision::Promoted,
                format!(
                    "no production model yet{}; {}",
                    served_note(production),
                    floor::passed(&trained.selection, &evidence)
                ),
            ),
            (None, Some(_), _, _) => (
                Decision::Promoted,
                format!(
                    "production model cannot be scored ({}); a loadable candidate that beats the baseline replaces it",
                    production.problem.as_deref().unwrap_or("unknown")
                ),
            ),
        };
        let promote = decision == Decision::Promoted;
        let verdict = match decision {
            Decision::Promoted => "promote",
            Decision::Rejected => "reject",
            _ => "refuse",
        };
        if rejected.is_some() {
            ctx.log.warn("compare", format!("{verdict}: {reason}"));
        } else {
            ctx.log.info("compare", format!("{verdict}: {reason}"));
        }
        ctx.metrics.insert(
            "comparison".into(),
            json!({
                "algorithm": alg,
                "metric": "mse_ln",
                "margin": self.config.promote_margin,
                "candidate": cand,
                "baseline": baseline,
                "floor_passed": rejected.is_none(),
                "production": prod_mse,
                "required": required,
                "production_version": production_before,
                "served_model": production.served,
                "production_report": production.report,
                "production_problem": production.problem,
                "promote": promote,
                "decision": decision.as_str(),
                "reason": reason,
            }),
        );
        let m = &trained.candidate.metrics;
        ctx.metrics.insert(
            "summary".into(),
            json!({
                "test_mse_ln": m.mse_ln,
                "test_r2_ln": m.r2_ln,
                "test_mae_s": m.mae_s,
                "test_rmse_s": m.rmse_s,
                "test_q_error_p50": m.q_error_p50,
                "test_q_error_p90": m.q_error_p90,
                "test_class_accuracy": m.class_accuracy,
                "test_class_precision_macro": m.class_precision_macro,
                "test_class_recall_macro": m.class_recall_macro,
                "test_class_f1_macro": m.class_f1_macro,
                "baseline_mse_ln": baseline,
                "validation_rows": split.validation.len(),
                "production_mse_ln": prod_mse,
                "production_q_error_p90": production.report.as_ref().map(|r| r.metrics.q_error_p90),
                "training_rows": split.train.len(),
                "test_rows": split.test.len(),
            }),
        );
        self.checkpoint(ctx).await;
        Decided {
            decision,
            reason,
            candidate_mse_ln: cand,
            production_mse_ln: prod_mse,
            baseline_mse_ln: baseline,
        }
    }
}

/// Why the served model was not compared with, for a first run's reason.
fn served_note(score: &ProductionScore) -> String {
    match (&score.served, &score.problem) {
        (Some(served), Some(problem)) => {
            format!(" (the served model {served} could not be scored: {problem})")
        }
        _ => String::new(),
    }
}
