//! The steps of one cycle (see [`super`]), one method each, in the order
//! [`Pipeline::steps`] runs them (the server calibration is `calibrate`'s).
//! Each logs what it did into the run, adds its figures to the run's
//! metrics and returns what the next steps need.

use super::handoff::{Decided, ProductionScore, Split, Trained, Uploaded};
use super::*;

impl Pipeline {
    /// Step 2: Ingest what is new since the source's watermark.
    pub(super) async fn ingest(&self, ctx: &mut RunCtx) -> Result<observations::Stored, StepError> {
        let t = Instant::now();
        let source_id = self.config.source.id();
        let mark = observations::watermark(&self.db, &source_id)
            .await
            .map_err(at("ingest"))?;
        let batch = source::read_new(&self.config.source, mark.as_ref())
            .await
            .map_err(at("ingest"))?;
        let stored = observations::store_batch(
            &self.db,
            &batch.events,
            &source_id,
            &batch.watermark,
            &ctx.id,
        )
        .await
        .map_err(at("ingest"))?;
        ctx.log.info(
            "ingest",
            format!(
                "{} events read ({} ended before the watermark, {} unchanged files, {} unparsable); {} new observations stored, {} duplicates dropped, {} invalid times dropped ({:.2} s)",
                batch.read,
                batch.before_watermark,
                batch.unchanged_files,
                batch.errors,
                stored.inserted,
                stored.duplicates,
                stored.invalid,
                t.elapsed().as_secs_f64()
            ),
        );
        ctx.metrics.insert(
            "ingest".into(),
            json!({
                "source": source_id,
                "read": batch.read,
                "before_watermark": batch.before_watermark,
                "unchanged_files": batch.unchanged_files,
                "unparsable": batch.errors,
                "new": stored.inserted,
                "duplicates": stored.duplicates,
                "invalid": stored.invalid,
                "seconds": t.elapsed().as_secs_f64(),
            }),
        );
        self.checkpoint(ctx).await;
        Ok(stored)
    }

    /// Step 3: Data checks on the accumulated observations.
    pub(super) async fn check(
        &self,
        ctx: &mut RunCtx,
        stored: &observations::Stored,
    ) -> Result<(Vec<observations::Observation>, checks::DataChecks), StepError> {
        let t = Instant::now();
        let max_rows = i64::try_from(self.config.max_rows).unwrap_or(i64::MAX);
        let rows = observations::load_recent(&self.db, max_rows)
            .await
            .map_err(at("checks"))?;
        let data = checks::check_data(
            &rows,
            stored.inserted,
            stored.duplicates,
            self.config.min_rows,
            &self.config.train.thresholds,
        );
        for w in &data.warnings {
            ctx.log.warn("checks", w);
        }
        ctx.log.info(
            "checks",
            format!(
                "{} rows, {} distinct statements, {} fingerprints, {} repeated texts; classes fast/medium/slow {:?} ({:.2} s)",
                data.rows,
                data.duplicates.distinct_statements,
                data.duplicates.distinct_fingerprints,
                data.duplicates.repeated_statements,
                data.class_counts,
                t.elapsed().as_secs_f64()
            ),
        );
        ctx.metrics.insert(
            "data".into(),
            json!({
                "rows": data.rows,
                "distinct_statements": data.duplicates.distinct_statements,
                "distinct_fingerprints": data.duplicates.distinct_fingerprints,
                "warnings": data.warnings,
                "errors": data.errors,
            }),
        );
        if !data.errors.is_empty() {
            let key = format!("runs/{}/data_checks.json", ctx.id);
            if self.store.put_json(&key, &data).await.is_ok() {
                ctx.artifacts
                    .insert("data_checks".into(), json!(self.store.uri(&key)));
            }
            return Err(StepError {
                step: "checks",
                message: data.errors.join("; "),
            });
        }
        Ok((rows, data))
    }

    /// Step 4: The time-ordered split.
    pub(super) fn split(
        &self,
        ctx: &mut RunCtx,
        rows: &[observations::Observation],
    ) -> Result<Split, StepError> {
        let samples: Vec<Sample> = rows.iter().map(|r| r.sample()).collect();
        let split = time_split(&samples, self.config.test_fraction);
        let train: Vec<Sample> = split.train.iter().map(|&i| samples[i].clone()).collect();
        let test: Vec<Sample> = split.test.iter().map(|&i| samples[i].clone()).collect();
        if train.is_empty() || test.is_empty() {
            return Err(StepError {
                step: "split",
                message: format!(
                    "{} training and {} test rows; both must be non-empty",
                    train.len(),
                    test.len()
                ),
            });
        }
        // The newest training rows choose the candidate; the models learn
        // from the older ones (time_split keeps each side in time order).
        let held = time_split(&train, self.config.validation_fraction);
        let fit: Vec<Sample> = held.train.iter().map(|&i| train[i].clone()).collect();
        let validation: Vec<Sample> = held.test.iter().map(|&i| train[i].clone()).collect();
        if fit.is_empty() || validation.is_empty() {
            return Err(StepError {
                step: "split",
                message: format!(
                    "{} training rows leave {} to fit and {} to validate on; both must be non-empty",
                    train.len(),
                    fit.len(),
                    validation.len()
                ),
            });
        }
        let mut all_in_order = fit.clone();
        all_in_order.extend(validation.iter().cloned());
        all_in_order.extend(test.iter().cloned());
        let dataset_fp = training_data_sha256(&all_in_order);
        ctx.dataset_fingerprint = Some(dataset_fp.clone());
        let boundary = test.first().and_then(|s| s.time).map(|t| t.to_string());
        ctx.log.info(
            "split",
            format!(
                "time-ordered {:.0}/{:.0}: {} training rows ({} to fit, the newest {} to validate), {} test rows from {}; dataset {}",
                (1.0 - self.config.test_fraction) * 100.0,
                self.config.test_fraction * 100.0,
                train.len(),
                fit.len(),
                validation.len(),
                test.len(),
                boundary.as_deref().unwrap_or("(no times)"),
                &dataset_fp[..12]
            ),
        );
        ctx.metrics.insert(
            "split".into(),
            json!({
                "kind": "time-ordered",
                "test_fraction": self.config.test_fraction,
                "train_rows": train.len(),
                "fit_rows": fit.len(),
                "validation_rows": validation.len(),
                "validation_fraction": self.config.validation_fraction,
                "test_rows": test.len(),
                "test_from": boundary,
            }),
        );
        let train = fit.iter().chain(&validation).cloned().collect();
        Ok(Split {
            train: Arc::new(train),
            fit: Arc::new(fit),
            validation: Arc::new(validation),
            test: Arc::new(test),
            dataset_fp,
        })
    }

    /// Step 5–6: Fit every model on the fit rows, choose the candidate on
    /// the validation rows, and score every model on the test rows
    /// (CPU-bound, off the async threads).
    pub(super) async fn train(
        &self,
        ctx: &mut RunCtx,
        split: &Split,
    ) -> Result<(TrainedModels, Trained), StepError> {
        let t = Instant::now();
        let config = Arc::clone(&self.config);
        let (fit, val, te) = (
            Arc::clone(&split.fit),
            Arc::clone(&split.validation),
            Arc::clone(&split.test),
        );
        let fitted = tokio::task::spawn_blocking(move || {
            let fit_started = Instant::now();
            let bar = crate::progress::Progress::bar(
                "pipeline: training",
                config.train.mlp.epochs_max as u64,
                "epochs",
            );
            let mut models = crate::train::fit_all_with_progress(
                &fit,
                &config.catalog,
                &config.train,
                &mut crate::train::epoch_progress(&bar),
            )
            .map_err(|e| e.to_string())?;
            bar.finish();
            let fit_seconds = fit_started.elapsed().as_secs_f64();
            let thresholds = &config.train.thresholds;
            let validation: BTreeMap<String, f64> = score_all(&models, &val, thresholds)
                .into_iter()
                .map(|(name, (report, _))| (name, report.metrics.mse_ln))
                .collect();
            let selection = floor::select(validation, val.len(), &config.algorithm);
            // The validation rows of shapes absent from the fit rows give
            // the intervals of unseen shapes their width, as `qlat train`'s
            // grouped folds do; the test rows below are scored with them.
            let unseen_rows = models.fit_unseen(&val);
            let mut reports = BTreeMap::new();
            let mut served_preds = Vec::new();
            for (name, (report, preds)) in score_all(&models, &te, thresholds) {
                if name == selection.algorithm {
                    served_preds = preds;
                }
                reports.insert(name, report);
            }
            let features = checks::feature_report(&models, &fit);
            Ok::<_, String>((
                models,
                selection,
                reports,
                served_preds,
                features,
                (fit_seconds, unseen_rows),
            ))
        })
        .await
        .map_err(at("train"))?
        .map_err(|message| StepError {
            step: "train",
            message,
        })?;
        let (models, selection, reports, served_preds, features, (fit_seconds, unseen_rows)) =
            fitted;
        ctx.log.info(
            "train",
            if unseen_rows > 0 {
                format!(
                    "unseen-shape intervals fitted on {unseen_rows} validation rows of shapes absent from the fit rows"
                )
            } else {
                format!(
                    "fewer than {} validation rows of unseen shapes: intervals of unseen shapes as trained",
                    crate::model::trained::MIN_UNSEEN_ROWS
                )
            },
        );
        let mlp_best_epoch = models.manifest.mlp_best_epoch;
        ctx.log.info(
            "train",
            format!(
                "fitted {} on {} rows in {fit_seconds:.1} s (MLP best epoch {mlp_best_epoch} of {})",
                models
                    .all()
                    .iter()
                    .map(|m| m.name().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                split.fit.len(),
                self.config.train.mlp.epochs_max
            ),
        );
        ctx.log.info(
            "select",
            format!(
                "validation MSE(ln): {}; candidate: {}",
                selection
                    .validation_mse_ln
                    .iter()
                    .map(|(n, v)| format!("{n} {v:.3}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                selection.describe()
            ),
        );
        ctx.metrics.insert(
            "validation".into(),
            json!({
                "rows": selection.validation_rows,
                "mse_ln": selection.validation_mse_ln,
                "candidate": selection.algorithm,
                "pinned": selection.pinned,
                "mlp_best_epoch": mlp_best_epoch,
                "mlp_epochs_max": self.config.train.mlp.epochs_max,
            }),
        );
        let Some(candidate) = reports.get(&selection.algorithm).cloned() else {
            return Err(StepError {
                step: "evaluate",
                message: format!("no model named {}", selection.algorithm),
            });
        };
        for (name, r) in &reports {
            ctx.log.info("evaluate", format!("{name}: {}", r.metrics));
        }
        ctx.metrics.insert("candidate".into(), json!(reports));
        ctx.metrics.insert(
            "timings".into(),
            json!({"train_and_evaluate_seconds": t.elapsed().as_secs_f64(), "fit_seconds": fit_seconds}),
        );
        self.checkpoint(ctx).await;
        Ok((
            models,
            Trained {
                reports,
                served_preds,
                features,
                selection,
                candidate,
                mlp_best_epoch,
            },
        ))
    }

    /// Step 8: Save the model, store it with the reports, and check the stored
    /// copy loads and answers like the one in memory.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn upload(
        &self,
        ctx: &mut RunCtx,
        models: TrainedModels,
        trained: &Trained,
        data: &checks::DataChecks,
        split: &Split,
        production: &ProductionScore,
        work: &std::path::Path,
    ) -> Result<Uploaded, StepError> {
        let t = Instant::now();
        let mut models = models;
        let mut version = models.manifest.model_version.clone();
        if self
            .registry
            .version_exists(&version)
            .await
            .map_err(at("upload"))?
        {
            version = format!("{version}-{}", &ctx.id[ctx.id.len().saturating_sub(8)..]);
            models.manifest.model_version = version.clone();
        }
        let evaluation = json!({
            "algorithm": trained.selection.algorithm,
            "split": ctx.metrics.get("split"),
            "validation": ctx.metrics.get("validation"),
            "candidate": trained.reports,
            "comparison": ctx.metrics.get("comparison"),
        });
        models.manifest.metrics = evaluation.clone();
        let model_dir = work.join("model");
        let (save_models, dir) = (models, model_dir.clone());
        let models =
            tokio::task::spawn_blocking(move || save_models.save(&dir).map(|()| save_models))
                .await
                .map_err(at("upload"))?
                .map_err(at("upload"))?;
        let model_key = format!("models/{version}");
        let keys = self
            .store
            .put_dir(&model_key, &model_dir)
            .await
            .map_err(at("upload"))?;
        ctx.artifacts
            .insert("model".into(), json!(self.store.uri(&model_key)));
        // What production will load is the stored copy: fetch it back and
        // check it loads and answers like the model in memory.
        self.verify_uploaded(
            &model_key,
            &version,
            &trained.selection.algorithm,
            &models,
            &split.test,
            work,
        )
        .await
        .map_err(|message| StepError {
            step: "upload",
            message,
        })?;
        let report_key = format!("runs/{}/data_report.json", ctx.id);
        self.store
            .put_json(
                &report_key,
                &json!({"checks": data, "features": trained.features}),
            )
            .await
            .map_err(at("upload"))?;
        ctx.artifacts
            .insert("data_report".into(), json!(self.store.uri(&report_key)));
        let eval_key = format!("runs/{}/evaluation.json", ctx.id);
        self.store
            .put_json(&eval_key, &evaluation)
            .await
            .map_err(at("upload"))?;
        ctx.artifacts
            .insert("evaluation".into(), json!(self.store.uri(&eval_key)));
        let preds_key = format!("runs/{}/test_predictions.csv", ctx.id);
        let rows_out: Vec<TestPrediction> = split
            .test
            .iter()
            .zip(&trained.served_preds)
            .enumerate()
            .map(|(i, (s, p))| TestPrediction {
                time: s.time.map(|t| t.to_string()),
                seconds: s.seconds,
                predicted_seconds: p.predicted_seconds,
                p10: p.p10,
                p90: p.p90,
                class: p.class.as_str().to_string(),
                q_error: crate::eval::metrics::q_error(p.predicted_seconds, s.seconds),
                production_predicted_seconds: production
                    .preds
                    .as_ref()
                    .and_then(|v| v.get(i).copied()),
                fingerprint: s.fingerprint.clone(),
                query: s.sql.clone(),
            })
            .collect();
        self.store
            .put_records(&preds_key, &rows_out)
            .await
            .map_err(at("upload"))?;
        ctx.artifacts
            .insert("test_predictions".into(), json!(self.store.uri(&preds_key)));
        let dataset_key = format!("datasets/{}.csv", split.dataset_fp);
        if !self
            .store
            .exists(&dataset_key)
            .await
            .map_err(at("upload"))?
        {
            let rows_out: Vec<DatasetRow> = split
                .train
                .iter()
                .map(|s| ("train", s))
                .chain(split.test.iter().map(|s| ("test", s)))
                .map(|(split, s)| DatasetRow {
                    split: split.into(),
                    time: s.time.map(|t| t.to_string()),
                    seconds: s.seconds,
                    fingerprint: s.fingerprint.clone(),
                    query: s.sql.clone(),
                })
                .collect();
            self.store
                .put_records(&dataset_key, &rows_out)
                .await
                .map_err(at("upload"))?;
        }
        ctx.artifacts
            .insert("dataset".into(), json!(self.store.uri(&dataset_key)));
        ctx.log.info(
            "upload",
            format!(
                "model {version} ({} files) and reports stored in {} and verified ({:.2} s)",
                keys.len(),
                self.store.describe(),
                t.elapsed().as_secs_f64()
            ),
        );
        Ok(Uploaded { version, model_key })
    }

    /// Step 9a: Register the version (promoted or not, for lineage and rollback).
    pub(super) async fn register(
        &self,
        ctx: &mut RunCtx,
        uploaded: &Uploaded,
        trained: &Trained,
        dataset_fp: &str,
    ) -> Result<(), StepError> {
        self.registry
            .register_model(&ModelVersion {
                version: uploaded.version.clone(),
                run_id: ctx.id.clone(),
                created_at: Utc::now(),
                algorithm: trained.selection.algorithm.clone(),
                metrics: json!({"test": trained.candidate, "models": trained.reports}),
                artifact_key: uploaded.model_key.clone(),
                artifact_uri: self.store.uri(&uploaded.model_key),
                dataset_fingerprint: dataset_fp.to_string(),
                aliases: Vec::new(),
            })
            .await
            .map_err(at("register"))?;
        ctx.model_version = Some(uploaded.version.clone());
        ctx.log.info(
            "register",
            format!("registered model version {}", uploaded.version),
        );
        self.checkpoint(ctx).await;
        Ok(())
    }

    /// Step 9b–10: Move the production alias (re-checking the lease), then tell
    /// the servers to reload.
    pub(super) async fn promote(
        &self,
        ctx: &mut RunCtx,
        lease: &Lease,
        version: &str,
        decided: &Decided,
        production_before: Option<String>,
    ) -> Result<(Option<String>, Vec<NotifyOutcome>), StepError> {
        let mut production_after = production_before.clone();
        let mut notified = Vec::new();
        if decided.decision == Decision::Promoted {
            if lease.is_lost() {
                return Err(StepError {
                    step: "promote",
                    message: "the lock's lease was lost; another run may be active".into(),
                });
            }
            let moved = self
                .registry
                .set_alias(
                    PRODUCTION,
                    version,
                    &format!("pipeline run {}: {}", ctx.id, decided.reason),
                    Some(&ctx.holder),
                )
                .await
                .map_err(at("promote"))?;
            production_after = Some(version.to_string());
            ctx.log.info(
                "promote",
                format!(
                    "production: {} → {}",
                    moved.from.as_deref().unwrap_or("(none)"),
                    moved.to
                ),
            );
            if !self.config.notify.is_empty() {
                notified = notify::notify_reload(
                    &self.config.notify,
                    self.config.admin_token.as_deref(),
                    self.config.notify_timeout,
                )
                .await;
                ctx.log.notified(&notified);
                ctx.metrics.insert("notify".into(), json!(notified));
            }
        }
        Ok((production_after, notified))
    }
}

/// Every model's report and predictions on `rows`.
fn score_all(
    models: &TrainedModels,
    rows: &[Sample],
    thresholds: &crate::model::ClassThresholds,
) -> BTreeMap<String, (EvalReport, Vec<crate::model::Prediction>)> {
    let sqls: Vec<&str> = rows.iter().map(|s| s.sql.as_str()).collect();
    let truth: Vec<f64> = rows.iter().map(|s| s.seconds).collect();
    models
        .all()
        .iter()
        .map(|m| {
            let preds = m.predict_batch(&sqls);
            let report = metrics_with_analytic(&preds, &truth, thresholds);
            (m.name().to_string(), (report, preds))
        })
        .collect()
}
