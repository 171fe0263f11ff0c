//! The MLOps subcommands: `qlat pipeline`, `qlat runs`, `qlat models` and
//! `qlat promote`.

use super::{CatalogArgs, OutputFormat, load_catalog};
use crate::pipeline::{Pipeline, PipelineConfig, ServedModel, Source};
use crate::registry::Registry;
use crate::store::Db;
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct RegistryDbArgs {
    /// Database holding runs, models and observations (the predictions'
    /// database): sqlite://FILE or postgres://…; by default the per-user
    /// database `qlat serve` and `qlat pipeline` use.
    #[arg(long, env = "QLAT_DATABASE_URL", default_value_t = crate::paths::default_database_url(), hide_env_values = true)]
    pub database_url: String,
}

#[derive(Args, Debug)]
pub struct PipelineArgs {
    /// Run one cycle and exit (exit status 1 if it failed).
    #[arg(long)]
    pub once: bool,
    /// Time between cycles ("2m", "30s").
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration, conflicts_with = "once")]
    pub every: Duration,
    /// Log files/directory, or a live server (mysql://user@host:3306/db:
    /// reads mysql.slow_log, only statements run in db when given; the
    /// schema is then read from that server unless --schema says otherwise).
    #[arg(long, env = "QLAT_PIPELINE_SOURCE")]
    pub source: String,
    #[command(flatten)]
    pub db: RegistryDbArgs,
    /// Where models, datasets and reports go: a directory, file:///dir,
    /// s3://bucket/prefix (AWS_* variables) or sqlite:// / postgres://.
    #[arg(long, env = "QLAT_ARTIFACT_STORE", default_value_t = crate::paths::default_artifact_store(), hide_env_values = true)]
    pub artifact_store: String,
    /// Server base URL to POST /admin/reload after a promotion; repeatable.
    #[arg(long, env = "QLAT_NOTIFY_URLS", value_delimiter = ',')]
    pub notify: Vec<String>,
    /// Bearer token for the servers' /admin/reload.
    #[arg(long, env = "QLAT_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Promote only if the candidate's test MSE of ln(seconds) is this much
    /// lower than production's on the same rows (relative: 0.02 = 2 %).
    #[arg(long, default_value_t = 0.02)]
    pub promote_margin: f64,
    /// The candidate compared and served: auto (the trained model best on
    /// the validation rows), mlp, ridge, baseline, tiered.
    #[arg(long, env = "QLAT_ALGORITHM", default_value = "auto")]
    pub algorithm: String,
    /// Seed for model initialisation and batching.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Maximum MLP epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Share of the newest observations held out as the test set.
    #[arg(long, default_value_t = 0.3)]
    pub test_fraction: f64,
    /// Fewest usable observations to train on.
    #[arg(long, default_value_t = 50)]
    pub min_rows: usize,
    /// Train on at most the newest this many observations.
    #[arg(long, default_value_t = 200_000)]
    pub max_rows: usize,
    /// Lock lease: a crashed run blocks the next one at most this long.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub lease: Duration,
    /// Train even when nothing new arrived.
    #[arg(long)]
    pub retrain: bool,
    /// When the model served was learned elsewhere (no production model
    /// yet, or a calibrated copy of the built-in one), calibrate it on this
    /// many of the newest statements every cycle; 0 turns it off.
    #[arg(long, default_value_t = 2000)]
    pub calibration_statements: usize,
    /// The model to calibrate when there is no production model (default:
    /// the one `serve` falls back to: per-user, beside the binary, built-in).
    #[arg(long = "calibrate-model", env = "QLAT_ARTIFACTS")]
    pub calibrate_model: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub catalog: CatalogArgs,
    /// What servers answer with while the registry has no production model
    /// (a model directory, `builtin`, or `none`); a first candidate must beat
    /// it by the margin on the same test rows. Default: what `qlat serve`
    /// loads without flags (the per-user model, one beside the binary, else
    /// the built-in model). `none` promotes a first candidate that passes
    /// the quality floor.
    #[arg(long, env = "QLAT_SERVED_MODEL")]
    pub served_model: Option<String>,
    /// The algorithm servers answer with (`qlat serve --algorithm`).
    #[arg(long, default_value = "mlp")]
    pub served_algorithm: String,
    /// Output of --once: `text` for people, `json` for the run's outcome
    /// as one object.
    #[arg(long, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Args, Debug)]
pub struct RunsArgs {
    #[command(flatten)]
    pub db: RegistryDbArgs,
    /// Newest runs shown.
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
    /// `text`: a table for people; `json`: the runs as an array of objects
    /// (status, decision, reason, metrics), newest first.
    #[arg(long, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Args, Debug)]
pub struct ModelsArgs {
    #[command(flatten)]
    pub db: RegistryDbArgs,
    /// `text`: a table for people, `*` marking production; `json`: the
    /// model versions as an array of objects with their test metrics.
    #[arg(long, default_value = "text")]
    pub format: OutputFormat,
}

#[derive(Args, Debug)]
pub struct PromoteArgs {
    /// A registered version (see `qlat models`).
    pub version: String,
    #[command(flatten)]
    pub db: RegistryDbArgs,
    /// Server base URL to tell to reload; repeatable.
    #[arg(long, env = "QLAT_NOTIFY_URLS", value_delimiter = ',')]
    pub notify: Vec<String>,
    /// Bearer token for the servers' /admin/reload.
    #[arg(long, env = "QLAT_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

async fn connect(url: &str) -> anyhow::Result<Db> {
    Ok(Db::connect(url).await?)
}

/// The database of `runs`, `models` and `promote`, which read what the
/// pipeline wrote and never create one.
async fn connect_existing(url: &str) -> anyhow::Result<Db> {
    Ok(Db::connect_existing(url).await?)
}

pub async fn pipeline(a: PipelineArgs) -> anyhow::Result<()> {
    let source = Source::parse(&a.source);
    // A server URL naming a database is where the schema is too.
    let server = match &source {
        Source::MySql { url } if crate::schema::live::database_of(url).is_some() => {
            Some(url.as_str())
        }
        _ => None,
    };
    let inputs: Vec<std::path::PathBuf> = match &source {
        Source::Paths(paths) => paths.clone(),
        Source::MySql { .. } => Vec::new(),
    };
    let fallback = super::SchemaFallback {
        server,
        inputs: &inputs,
        warn_if_none: true,
    };
    let catalog = load_catalog(&a.catalog, fallback).await?;
    let db = connect(&a.db.database_url).await?;
    let store = crate::artifact_store::open(&a.artifact_store)
        .await
        .with_context(|| format!("artifact store {}", crate::store::redact(&a.artifact_store)))?;
    let mut config = PipelineConfig::new(source, catalog);
    config.train.mlp.seed = a.seed;
    if let Some(e) = a.epochs {
        config.train.mlp.epochs_max = e;
    }
    config.algorithm = a.algorithm;
    config.promote_margin = a.promote_margin;
    config.test_fraction = a.test_fraction;
    config.min_rows = a.min_rows;
    config.max_rows = a.max_rows;
    config.lease = a.lease;
    config.notify = a
        .notify
        .into_iter()
        .filter(|u| !u.trim().is_empty())
        .collect();
    config.admin_token = a.admin_token;
    config.retrain_without_new_data = a.retrain;
    config.calibration_statements = a.calibration_statements;
    config.calibration_base = a.calibrate_model;
    config.served = served_model(a.served_model.as_deref(), &a.served_algorithm);
    if let Some(served) = &config.served {
        tracing::info!("until a model is promoted, servers answer with {served}");
    }
    let pipeline = std::sync::Arc::new(Pipeline::new(db, store, config)?);
    if a.once {
        let report = tokio::select! {
            r = pipeline.run_once() => r,
            _ = crate::signal::stop_requested() => {
                pipeline.abandon_current("interrupted by a signal").await;
                anyhow::bail!("interrupted; the run was marked failed");
            }
        };
        let report = report?;
        let mut out = std::io::stdout().lock();
        match a.format {
            OutputFormat::Json => {
                serde_json::to_writer(&mut out, &report)?;
                writeln!(out)?;
            }
            OutputFormat::Text => writeln!(
                out,
                "run {}: {} ({}) in {:.1} s; {} new observations, {} training / {} test rows; candidate {} MSE(ln) {} vs production {} {}; production now {}",
                report.run_id,
                report.decision.as_str(),
                report.reason,
                report.duration_seconds,
                report.new_records,
                report.training_rows,
                report.test_rows,
                report.candidate_version.as_deref().unwrap_or("-"),
                report
                    .candidate_mse_ln
                    .map_or("-".into(), |v| format!("{v:.4}")),
                report.production_before.as_deref().unwrap_or("(none)"),
                report
                    .production_mse_ln
                    .map_or("-".into(), |v| format!("{v:.4}")),
                report.production_after.as_deref().unwrap_or("(none)"),
            )?,
        }
        return Ok(());
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let looping = {
        let p = pipeline.clone();
        let every = a.every;
        tokio::spawn(async move { p.run_every(every, stop_rx).await })
    };
    crate::signal::stop_requested().await;
    tracing::info!("stopping after the current cycle (signal again to abandon it)");
    let _ = stop_tx.send(true);
    tokio::select! {
        _ = looping => Ok(()),
        _ = crate::signal::stop_requested() => {
            pipeline.abandon_current("interrupted by a second signal").await;
            anyhow::bail!("interrupted; the run in progress was marked failed")
        }
    }
}

/// The `--served-model` a first candidate is compared with.
fn served_model(flag: Option<&str>, algorithm: &str) -> Option<ServedModel> {
    use crate::model::location::ModelLocation;
    let location = match flag.map(str::trim) {
        Some("none") => return None,
        Some("builtin" | "built-in") => ModelLocation::BuiltIn,
        Some(dir) if !dir.is_empty() => ModelLocation::resolve(Some(std::path::Path::new(dir))),
        _ => ModelLocation::resolve(None),
    };
    Some(ServedModel {
        location,
        algorithm: algorithm.to_owned(),
    })
}

fn num(v: Option<&serde_json::Value>, digits: usize) -> String {
    v.and_then(serde_json::Value::as_f64)
        .map_or("-".into(), |x| format!("{x:.digits$}"))
}

pub async fn runs(a: RunsArgs) -> anyhow::Result<()> {
    let registry = Registry::new(connect_existing(&a.db.database_url).await?);
    let runs = registry.list_runs(a.limit).await?;
    let mut out = std::io::stdout().lock();
    if a.format == OutputFormat::Json {
        serde_json::to_writer(&mut out, &runs)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<36}  {:<20}  {:<9}  {:<8}  {:>7}  {:>6}  {:>8}  {:>8}  {:>7}  {:>6}  model / error",
        "run", "started (UTC)", "status", "decision", "secs", "new", "mse_ln", "prod", "q90", "f1"
    )?;
    for r in &runs {
        let s = r.metrics.get("summary");
        let get = |k: &str| s.and_then(|s| s.get(k));
        writeln!(
            out,
            "{:<36}  {:<20}  {:<9}  {:<8}  {:>7}  {:>6}  {:>8}  {:>8}  {:>7}  {:>6}  {}",
            r.id,
            r.started_at.format("%Y-%m-%d %H:%M:%S"),
            r.status.as_str(),
            r.decision.map_or("-", |d| d.as_str()),
            r.duration_seconds.map_or("-".into(), |d| format!("{d:.1}")),
            get("new_records").map_or("-".into(), |v| v.to_string()),
            num(get("test_mse_ln"), 4),
            num(get("production_mse_ln"), 4),
            num(get("test_q_error_p90"), 2),
            num(get("test_class_f1_macro"), 3),
            r.error
                .clone()
                .or_else(|| r.model_version.clone())
                .unwrap_or_default()
        )?;
        if let Some(reason) = &r.reason {
            writeln!(
                out,
                "    {}: {reason}",
                r.decision.map_or("reason", |d| d.as_str())
            )?;
        }
    }
    Ok(())
}

pub async fn models(a: ModelsArgs) -> anyhow::Result<()> {
    let registry = Registry::new(connect_existing(&a.db.database_url).await?);
    let models = registry.list_models().await?;
    let mut out = std::io::stdout().lock();
    if a.format == OutputFormat::Json {
        serde_json::to_writer(&mut out, &models)?;
        writeln!(out)?;
        return Ok(());
    }
    for m in &models {
        let t = m.metrics.get("test").and_then(|t| t.get("metrics"));
        writeln!(
            out,
            "{} {:<40}  {}  {:<6}  mse_ln {:>7}  q90 {:>6}  run {}  {}",
            if m.is_production() { "*" } else { " " },
            m.version,
            m.created_at.format("%Y-%m-%d %H:%M:%S"),
            m.algorithm,
            num(t.and_then(|t| t.get("mse_ln")), 4),
            num(t.and_then(|t| t.get("q_error_p90")), 2),
            m.run_id,
            m.artifact_uri
        )?;
        if let Some(c) = m.metrics.get("calibration").filter(|c| !c.is_null()) {
            writeln!(
                out,
                "    calibrated on {} statements of {} at {}",
                c.get("statements").and_then(|v| v.as_u64()).unwrap_or(0),
                c.get("server").and_then(|v| v.as_str()).unwrap_or("?"),
                c.get("updated_at").and_then(|v| v.as_str()).unwrap_or("?")
            )?;
        }
    }
    if models.is_empty() {
        writeln!(
            out,
            "no model versions registered yet (run `qlat pipeline --once`)"
        )?;
    } else {
        writeln!(out, "* = production")?;
    }
    Ok(())
}

pub async fn promote(a: PromoteArgs) -> anyhow::Result<()> {
    let registry = Registry::new(connect_existing(&a.db.database_url).await?);
    let moved = registry.promote(&a.version).await?;
    println!(
        "production: {} -> {}",
        moved.from.as_deref().unwrap_or("(none)"),
        moved.to
    );
    let urls: Vec<String> = a
        .notify
        .into_iter()
        .filter(|u| !u.trim().is_empty())
        .collect();
    if !urls.is_empty() {
        let outcomes = crate::pipeline::notify::notify_reload(
            &urls,
            a.admin_token.as_deref(),
            std::time::Duration::from_secs(30),
        )
        .await;
        for o in outcomes {
            println!(
                "{}: {}",
                o.url,
                if o.ok {
                    "reloaded".to_string()
                } else {
                    o.error.unwrap_or_else(|| "failed".into())
                }
            );
        }
    }
    Ok(())
}
