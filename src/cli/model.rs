//! `qlat train`, `qlat eval` and `qlat predict`: fitting, scoring and
//! asking the latency models.

use super::{CatalogArgs, OutputFormat};
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Slow-log files or directories to learn from.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Model directory to write (default: the per-user model directory,
    /// which `predict`, `eval` and `serve` then use without flags).
    #[arg(long = "model", visible_alias = "out", env = "QLAT_ARTIFACTS")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// Seed for initialisation, batching and splits.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Maximum MLP epochs (early stopping usually ends sooner).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Folds of the fingerprint-grouped cross-validation.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// Skip the evaluation and only fit and save.
    #[arg(long)]
    pub no_eval: bool,
    /// Feed each fingerprint's training history (median time, count) to the
    /// learned models as inputs; `--history false` trains on text alone.
    #[arg(long, default_value_t = crate::train::TrainConfig::default().features.use_history, action = clap::ArgAction::Set)]
    pub history: bool,
    /// Share of fingerprints trained with their history hidden, so the
    /// models also learn to predict shapes they have never seen.
    #[arg(long, default_value_t = crate::train::TrainConfig::default().features.history_dropout)]
    pub history_dropout: f64,
    /// MLP hidden layer sizes.
    #[arg(long, value_delimiter = ',', default_values_t = crate::train::TrainConfig::default().mlp.hidden)]
    pub hidden: Vec<usize>,
    /// MLP networks trained from different initialisations and averaged:
    /// more members, steadier predictions on unseen shapes, slower fits.
    #[arg(long, default_value_t = crate::train::TrainConfig::default().mlp.members)]
    pub members: usize,
    /// Weight of the TF-IDF block next to the structural features: lower
    /// leans on structure (generalises to new shapes), higher on tokens.
    #[arg(long, default_value_t = crate::train::TrainConfig::default().features.tfidf_scale)]
    pub tfidf_scale: f64,
    /// Decoupled (AdamW) weight decay of the MLP.
    #[arg(long, default_value_t = crate::train::TrainConfig::default().mlp.weight_decay)]
    pub weight_decay: f64,
    /// Per-step decay of the MLP's moving average of weights, the weights
    /// kept; 0 keeps the optimiser's own weights instead.
    #[arg(long, default_value_t = crate::train::TrainConfig::default().mlp.ema_decay)]
    pub ema_decay: f64,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Log files or directories to score the model on.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The statement.
    pub query: String,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Which saved model to use, and how to print its answer.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Model directory written by `qlat train` (default: the per-user
    /// model, one installed beside the binary, else the built-in model).
    #[arg(long = "model", visible_alias = "artifacts", env = "QLAT_ARTIFACTS")]
    pub dir: Option<PathBuf>,
    /// Resolve statements against this schema instead of the one the model
    /// was trained with: a DDL / mysqldump file or mysql://user@host:port/db;
    /// repeatable.
    #[arg(long = "schema", env = "QLAT_SCHEMA", value_delimiter = ',')]
    pub schema: Vec<String>,
    /// Which of the saved models: mlp, ridge, baseline, tiered.
    #[arg(long, default_value = "mlp")]
    pub algorithm: String,
    /// `text` for people; `json` for tools: `predict` prints the service's
    /// /predict answer object, `eval` `{"n", "metrics", "analytic"}`.
    #[arg(long, default_value = "text")]
    pub format: OutputFormat,
}

/// The catalog `--schema` names for a saved model, if any.
pub async fn schema_override(
    a: &ModelArgs,
) -> anyhow::Result<Option<crate::sql::catalog::Catalog>> {
    if a.schema.is_empty() {
        return Ok(None);
    }
    let args = super::CatalogArgs {
        schema: a.schema.clone(),
        capture_meta: None,
    };
    Ok(Some(
        super::load_catalog(&args, super::SchemaFallback::default()).await?,
    ))
}

pub(super) fn read_samples(inputs: &[PathBuf]) -> anyhow::Result<Vec<crate::model::Sample>> {
    let mut events = Vec::new();
    let mut errors = 0usize;
    let progress = crate::progress::Progress::spinner("reading the logs", "events");
    for item in crate::ingest::read_paths(inputs)? {
        progress.inc(1);
        match item {
            Ok(e) => events.push(e),
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                errors += 1;
                if errors <= 5 {
                    tracing::warn!("{e}");
                }
            }
        }
    }
    progress.finish();
    if errors > 0 {
        tracing::warn!(errors, "records skipped");
    }
    let samples = crate::train::samples_from_events(events);
    anyhow::ensure!(
        !samples.is_empty(),
        "no slow-log statements with a query time in {}",
        inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(samples)
}

pub fn train(a: TrainArgs, catalog: crate::sql::catalog::Catalog) -> anyhow::Result<()> {
    use crate::eval::run::{EvalConfig, Models, evaluate_models, predictor};
    let out = a
        .out
        .clone()
        .unwrap_or_else(crate::paths::default_model_dir);
    let samples = read_samples(&a.inputs)?;
    anyhow::ensure!(
        (0.0..1.0).contains(&a.history_dropout),
        "--history-dropout must be in [0, 1), got {}",
        a.history_dropout
    );
    anyhow::ensure!(
        a.tfidf_scale >= 0.0 && a.weight_decay >= 0.0,
        "--tfidf-scale and --weight-decay must be >= 0"
    );
    anyhow::ensure!(
        !a.hidden.is_empty() && a.hidden.iter().all(|&h| h > 0),
        "--hidden needs at least one layer size, all > 0"
    );
    anyhow::ensure!(
        (1..=16).contains(&a.members),
        "--members must be between 1 and 16, got {}",
        a.members
    );
    anyhow::ensure!(
        (0.0..1.0).contains(&a.ema_decay),
        "--ema-decay must be in [0, 1), got {}",
        a.ema_decay
    );
    let mut cfg = crate::train::TrainConfig::default();
    cfg.mlp.seed = a.seed;
    cfg.mlp.hidden = a.hidden.clone();
    cfg.mlp.members = a.members;
    cfg.mlp.weight_decay = a.weight_decay;
    cfg.mlp.ema_decay = a.ema_decay;
    cfg.features.use_history = a.history;
    cfg.features.history_dropout = a.history_dropout;
    cfg.features.tfidf_scale = a.tfidf_scale;
    if let Some(e) = a.epochs {
        cfg.mlp.epochs_max = e;
    }
    println!("training on {} statements", samples.len());
    let started = std::time::Instant::now();
    let mut metrics = serde_json::Value::Null;
    let mut unseen_offsets = std::collections::BTreeMap::new();
    if !a.no_eval {
        let eval_cfg = EvalConfig {
            seed: a.seed,
            folds: a.folds,
            thresholds: cfg.thresholds,
            ..Default::default()
        };
        let bar = crate::progress::Progress::bar("evaluation", (2 + a.folds) as u64, "fits");
        let trainer = |train: &[crate::model::Sample]| -> Result<Models, String> {
            let models = crate::train::fit_all(train, &catalog, &cfg).map_err(|e| e.to_string())?;
            Ok(models
                .all()
                .into_iter()
                .map(|m| (m.name().to_string(), predictor(m)))
                .collect())
        };
        let progress = |p: &crate::eval::run::Progress| {
            bar.set_position(p.step as u64);
            bar.set_message(p.stage.clone());
        };
        let mut evaluation = evaluate_models(&samples, &trainer, &eval_cfg, Some(&progress));
        bar.finish();
        let unseen = crate::eval::conformal::cross_conformal(
            &evaluation.unseen_folds,
            &cfg.thresholds,
            cfg.mlp.coverage,
        );
        evaluation.results.grouped_cv_calibrated = unseen.results;
        unseen_offsets = unseen.offsets;
        for e in &evaluation.results.errors {
            tracing::error!("{e}");
        }
        println!(
            "\nAll statements\n{}",
            crate::eval::report::table(&evaluation.results, false)
        );
        println!(
            "Statements that took >= 10 ms\n{}",
            crate::eval::report::table(&evaluation.results, true)
        );
        let report_dir = out.join("eval");
        let files = crate::eval::report::write_report(
            &evaluation.results,
            &evaluation.per_sample,
            &report_dir,
        )?;
        println!(
            "evaluation report: {} files in {}",
            files.len(),
            report_dir.display()
        );
        metrics = serde_json::to_value(&evaluation.results)?;
    }
    let fit_started = std::time::Instant::now();
    let bar = crate::progress::Progress::bar("final fit", cfg.mlp.epochs_max as u64, "epochs");
    let mut models = crate::train::fit_all_with_progress(
        &samples,
        &catalog,
        &cfg,
        &mut crate::train::epoch_progress(&bar),
    )?;
    bar.finish();
    let fit_secs = fit_started.elapsed().as_secs_f64();
    models.manifest.metrics = metrics;
    // Intervals of shapes absent from training: offsets from the grouped
    // CV's held-out predictions (none with --no-eval).
    models.calibration.unseen = unseen_offsets;
    models.save(&out)?;
    println!(
        "saved model {} to {} (final fit {:.1} s, total {:.1} s)",
        models.manifest.model_version,
        out.display(),
        fit_secs,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A saved model by name, with its version and class thresholds.
struct Loaded {
    model: std::sync::Arc<dyn crate::model::LatencyModel>,
    version: String,
    calibration: Option<crate::model::calibration::CalibrationInfo>,
    thresholds: crate::model::ClassThresholds,
}

fn load_model(
    a: &ModelArgs,
    catalog: Option<crate::sql::catalog::Catalog>,
) -> anyhow::Result<Loaded> {
    let location = crate::model::location::ModelLocation::resolve(a.dir.as_deref());
    let algorithm = a.algorithm.as_str();
    let models = location.load(catalog).with_context(|| {
        format!("loading the model {location} (choose one with --model or QLAT_ARTIFACTS)")
    })?;
    eprintln!(
        "model: {location}, version {}",
        models.manifest.model_version
    );
    if models.spec.catalog().tables.is_empty() {
        eprintln!(
            "note: no schema (trained without one; give --schema): {}",
            crate::schema::unknown_without_catalog()
        );
    }
    let version = models.manifest.model_version.clone();
    let thresholds = models.manifest.class_thresholds;
    let model = models.by_name(algorithm).with_context(|| {
        format!("no model named {algorithm:?} (try mlp, ridge, baseline or tiered)")
    })?;
    Ok(Loaded {
        model,
        version,
        calibration: models.calibration.info(),
        thresholds,
    })
}

pub fn eval(a: EvalArgs, catalog: Option<crate::sql::catalog::Catalog>) -> anyhow::Result<()> {
    let Loaded {
        model,
        version,
        thresholds,
        calibration,
    } = load_model(&a.model, catalog)?;
    let samples = read_samples(&a.inputs)?;
    let sqls: Vec<&str> = samples.iter().map(|s| s.sql.as_str()).collect();
    let scoring = crate::progress::Progress::spinner(
        format!("scoring {} statements", sqls.len()),
        "statements",
    );
    let preds = crate::eval::run::predictor(model).predict_batch(&sqls);
    scoring.inc(sqls.len() as u64);
    scoring.finish();
    let truth: Vec<f64> = samples.iter().map(|s| s.seconds).collect();
    let report = crate::eval::metrics::metrics_with_analytic(&preds, &truth, &thresholds);
    // The same metrics per kind of work (session chatter, reads, writes):
    // chatter carries little in its text, and a server change moves it
    // differently from reads.
    let mut by_work = serde_json::Map::new();
    for work in crate::model::calibration::Work::ALL {
        let (p, t): (Vec<crate::model::Prediction>, Vec<f64>) = samples
            .iter()
            .zip(&preds)
            .filter(|(s, _)| crate::model::calibration::Work::of(&s.sql) == work)
            .map(|(s, p)| (p.clone(), s.seconds))
            .unzip();
        by_work.insert(
            work.as_str().to_owned(),
            serde_json::to_value(crate::eval::metrics::metrics(&p, &t, &thresholds))?,
        );
    }
    let mut stdout = std::io::stdout().lock();
    match a.model.format {
        OutputFormat::Json => {
            let mut v = serde_json::to_value(&report)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("by_work".into(), serde_json::Value::Object(by_work));
                o.insert("calibration".into(), serde_json::to_value(&calibration)?);
            }
            serde_json::to_writer(&mut stdout, &v)?;
            writeln!(stdout)?;
        }
        OutputFormat::Text => {
            writeln!(
                stdout,
                "model {} ({version}) on {} statements",
                a.model.algorithm, report.n
            )?;
            for (label, m) in [("all", &report.metrics), (">= 10 ms", &report.analytic)] {
                writeln!(stdout, "{label:>9}: {m}")?;
            }
        }
    }
    Ok(())
}

pub fn predict(
    a: PredictArgs,
    catalog: Option<crate::sql::catalog::Catalog>,
) -> anyhow::Result<()> {
    anyhow::ensure!(!a.query.trim().is_empty(), "the statement is empty");
    let Loaded {
        model,
        version,
        calibration,
        ..
    } = load_model(&a.model, catalog)?;
    let response = crate::predict::PredictResponse::answer(model.as_ref(), &a.query, &version)
        .with_calibration(calibration);
    let mut stdout = std::io::stdout().lock();
    match a.model.format {
        OutputFormat::Json => {
            serde_json::to_writer(&mut stdout, &response)?;
            writeln!(stdout)?;
        }
        OutputFormat::Text => {
            let r = &response;
            writeln!(
                stdout,
                "predicted {} (p10 {} – p90 {}), class {:?} (fast {:.0} %, medium {:.0} %, slow {:.0} %){}",
                crate::report::units::seconds(r.predicted_seconds),
                crate::report::units::seconds(r.interval.p10),
                crate::report::units::seconds(r.interval.p90),
                r.class,
                r.class_probabilities.fast * 100.0,
                r.class_probabilities.medium * 100.0,
                r.class_probabilities.slow * 100.0,
                if r.parsed {
                    ""
                } else {
                    " [not parsed: predicted from tokens]"
                }
            )?;
            writeln!(stdout, "query {} · {}", r.query_id, r.fingerprint)?;
            writeln!(
                stdout,
                "why (ln seconds, from a baseline of {}):",
                crate::report::units::seconds(r.explanation_baseline.exp())
            )?;
            for c in &r.explanation {
                writeln!(stdout, "  {:+.3}  {}", c.contribution, c.feature)?;
            }
            writeln!(stdout, "model {} {version}", a.model.algorithm)?;
            if let Some(c) = &r.calibration {
                writeln!(
                    stdout,
                    "calibrated to {} on {} statements ({})",
                    c.server, c.statements, c.updated_at
                )?;
            }
        }
    }
    Ok(())
}
