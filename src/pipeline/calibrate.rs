//! The cycle's last step on a server whose model was learned elsewhere:
//! refresh the server calibration (issue #17).
//!
//! A new server starts with a model it did not train (the built-in TPC-H
//! model, or one copied from another server), and its first cycles have too
//! few statements for a model of its own to pass the quality floor. Without
//! this step it would serve that model's speeds and intervals, measured on
//! another machine. So when a cycle did not promote a model trained here,
//! and production is either absent or a calibrated copy of a model from
//! elsewhere, the cycle fits [`crate::model::calibration::fit_server`] on
//! the newest training rows of this server (a speed factor per kind of
//! work, conformal interval offsets: no retraining), scores the model with
//! and without it on the cycle's test rows, and, when the calibrated copy is
//! no worse, registers it (`<base version>+cal-<time>`, metrics with
//! `calibration` and `uncalibrated`) and points production at it. A model
//! trained by this pipeline is never recalibrated: it learned this
//! server's speeds itself.

use super::*;
use crate::model::location::ModelLocation;

/// Separates a calibrated copy's version from its base model's.
pub const CALIBRATED_SUFFIX: &str = "+cal-";

/// What the calibration step did.
pub(super) struct Refreshed {
    pub(super) version: String,
    pub(super) promoted: bool,
}

impl Pipeline {
    /// See the module documentation. `Ok(None)` when there is nothing to
    /// calibrate (production learned here, or the step is off); errors are
    /// the caller's to log: the cycle's own outcome stands.
    pub(super) async fn refresh_calibration(
        &self,
        ctx: &mut RunCtx,
        lease: &Lease,
        production: Option<&ModelVersion>,
        split: &super::handoff::Split,
        work: &std::path::Path,
    ) -> Result<Option<Refreshed>, String> {
        let (train, test, dataset_fp) = (&split.train, &split.test, split.dataset_fp.as_str());
        let n = self.config.calibration_statements;
        if n == 0 || train.is_empty() || test.is_empty() {
            return Ok(None);
        }
        let (location, algorithm) = match production {
            Some(p) if p.metrics.get("calibration").is_none() => return Ok(None),
            Some(p) => {
                let dir = work.join("calibration-base");
                self.store
                    .get_dir(&p.artifact_key, &dir)
                    .await
                    .map_err(|e| e.to_string())?;
                (
                    ModelLocation::Dir {
                        path: dir,
                        how: "production (a calibrated copy)",
                    },
                    p.algorithm.clone(),
                )
            }
            None => (
                ModelLocation::resolve(self.config.calibration_base.as_deref()),
                "mlp".to_owned(),
            ),
        };
        // The newest rows of this server (time-ordered already).
        let fit_rows: Vec<Sample> = train.iter().rev().take(n).rev().cloned().collect();
        let test = Arc::clone(test);
        let server = self.config.source.id();
        let catalog = (!self.config.catalog.tables.is_empty()).then(|| self.config.catalog.clone());
        let thresholds = self.config.train.thresholds;
        let out_dir = work.join("calibrated");
        let where_from = location.to_string();
        let alg = algorithm.clone();
        let (version, before, after, info) = tokio::task::spawn_blocking(move || {
            let mut models = location.load(catalog).map_err(|e| e.to_string())?;
            let fitted = models
                .fit_server(&fit_rows, &server)
                .map_err(|e| e.to_string())?;
            let base = models
                .uncalibrated()
                .into_iter()
                .find(|m| m.name() == alg)
                .ok_or_else(|| format!("the model has no {alg}"))?;
            let sqls: Vec<&str> = test.iter().map(|s| s.sql.as_str()).collect();
            let truth: Vec<f64> = test.iter().map(|s| s.seconds).collect();
            let before = metrics_with_analytic(
                &models
                    .calibrated(Arc::clone(&base), false)
                    .predict_batch(&sqls),
                &truth,
                &thresholds,
            );
            models.calibration.server = Some(fitted);
            let after = metrics_with_analytic(
                &models.calibrated(base, true).predict_batch(&sqls),
                &truth,
                &thresholds,
            );
            let base_version = models
                .manifest
                .model_version
                .split(CALIBRATED_SUFFIX)
                .next()
                .unwrap_or_default()
                .to_owned();
            let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
            let version = format!("{base_version}{CALIBRATED_SUFFIX}{stamp}");
            models.manifest.model_version = version.clone();
            models.save(&out_dir).map_err(|e| e.to_string())?;
            let info = models.calibration.info();
            Ok::<_, String>((version, before, after, info))
        })
        .await
        .map_err(|e| e.to_string())??;
        let model_key = format!("models/{version}");
        self.store
            .put_dir(&model_key, &work.join("calibrated"))
            .await
            .map_err(|e| e.to_string())?;
        let better = after.metrics.mse_ln <= before.metrics.mse_ln;
        self.registry
            .register_model(&ModelVersion {
                version: version.clone(),
                run_id: ctx.id.clone(),
                created_at: Utc::now(),
                algorithm: algorithm.clone(),
                metrics: json!({
                    "test": after,
                    "uncalibrated": before,
                    "calibration": info,
                    "base": where_from,
                }),
                artifact_key: model_key.clone(),
                artifact_uri: self.store.uri(&model_key),
                dataset_fingerprint: dataset_fp.to_owned(),
                aliases: Vec::new(),
            })
            .await
            .map_err(|e| e.to_string())?;
        let summary = format!(
            "calibrated {where_from} ({algorithm}) on the newest {} statements: test MSE(ln) {:.3} → {:.3}, bias {:+.3} → {:+.3}, coverage {:.1} % → {:.1} %",
            n.min(train.len()),
            before.metrics.mse_ln,
            after.metrics.mse_ln,
            before.metrics.mean_ln_error,
            after.metrics.mean_ln_error,
            before.metrics.interval_coverage * 100.0,
            after.metrics.interval_coverage * 100.0
        );
        ctx.metrics.insert(
            "calibration".into(),
            json!({"version": version, "uncalibrated": before, "calibrated": after}),
        );
        if !better {
            ctx.log.warn(
                "calibrate",
                format!("{summary}; not promoted (no better than uncalibrated)"),
            );
            return Ok(Some(Refreshed {
                version,
                promoted: false,
            }));
        }
        if lease.is_lost() {
            return Err("the lock's lease was lost; another run may be active".into());
        }
        self.registry
            .set_alias(
                PRODUCTION,
                &version,
                &format!("pipeline run {}: server calibration refreshed", ctx.id),
                Some(&ctx.holder),
            )
            .await
            .map_err(|e| e.to_string())?;
        ctx.log
            .info("calibrate", format!("{summary}; production → {version}"));
        if !self.config.notify.is_empty() {
            let notified = notify::notify_reload(
                &self.config.notify,
                self.config.admin_token.as_deref(),
                self.config.notify_timeout,
            )
            .await;
            ctx.log.notified(&notified);
        }
        Ok(Some(Refreshed {
            version,
            promoted: true,
        }))
    }
}
