//! The `qlat` command line: one typed set of flags per command, and the
//! command bodies, one file per family. `main` only parses, sets up
//! logging and reports the error this returns, once.

mod analyze;
mod calibrate;
mod capture;
mod mlops;
mod model;
mod serve;

pub use capture::ServerArgs;

use crate::schema::SchemaSource;
use crate::sql::catalog::Catalog;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "qlat",
    version,
    about = "Learns SQL query latency from MySQL/MariaDB query logs"
)]
pub struct Cli {
    /// Log format for diagnostics on stderr.
    #[arg(long, global = true, env = "QLAT_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    #[cfg(feature = "capture")]
    /// Load TPC-H into a live server, run a seeded workload with the general
    /// and slow logs on, and export what the server logged.
    Capture(capture::CaptureArgs),
    /// Read table row counts and column statistics (distinct values, value
    /// ranges) from a live server into a capture.json, for the catalog.
    Stats(capture::StatsArgs),
    /// Profile a workload from its logs: digest per fingerprint, charts,
    /// data quality. Inputs may be files or directories, any supported format.
    Analyze(analyze::AnalyzeArgs),
    /// Print the pt-query-digest fingerprint and query ID of a statement.
    Fingerprint(analyze::FingerprintArgs),
    /// Train the latency models on slow-log data, evaluate them on random,
    /// time-ordered and fingerprint-grouped splits, save the artifacts.
    Train(model::TrainArgs),
    /// Score saved models on any log (any supported format).
    Eval(model::EvalArgs),
    /// Predict one statement's latency, with an interval, a class and why.
    Predict(model::PredictArgs),
    /// Write a copy of a model calibrated to another server from its logged
    /// statements (a speed factor per kind of work, conformal intervals),
    /// without retraining.
    Calibrate(calibrate::CalibrateArgs),
    /// Serve predictions over HTTP, store every one in a database, expose
    /// Prometheus metrics and a browsable history.
    Serve(crate::serve::ServeConfig),
    /// Exit 0 when a running server reports ready (for container health
    /// checks, which have no curl).
    Healthcheck(serve::HealthcheckArgs),
    // -- MLOps (issue #7): pipeline, runs, models, promote --------------
    /// The learning cycle: ingest new log records since the watermark,
    /// check the data, train, evaluate against production on the same test
    /// rows, promote if better by the margin, tell servers to reload.
    Pipeline(mlops::PipelineArgs),
    /// List pipeline runs with their outcome and metrics.
    Runs(mlops::RunsArgs),
    /// List registered model versions, marking production.
    Models(mlops::ModelsArgs),
    /// Point production at a registered version (e.g. a rollback).
    Promote(mlops::PromoteArgs),
}

/// The schema statements are resolved against.
#[derive(Args, Debug, Clone, Default)]
pub struct CatalogArgs {
    /// The schema: a DDL or `mysqldump --no-data` file, or a live server
    /// mysql://user@host:port/db (read-only, from information_schema);
    /// repeat for several databases. Without it, table sizes, keys and
    /// statistics are unknown and access paths are guessed.
    #[arg(long = "schema", env = "QLAT_SCHEMA", value_delimiter = ',')]
    pub schema: Vec<String>,
    /// capture.json with table row counts and column statistics (default:
    /// a capture.json beside the first schema file, when there is one).
    #[arg(long)]
    pub capture_meta: Option<PathBuf>,
}

impl CatalogArgs {
    /// Whether any schema or statistics were given.
    pub fn is_given(&self) -> bool {
        !self.schema.is_empty() || self.capture_meta.is_some()
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum OutputFormat {
    Text,
    Json,
}

pub fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Where a command's schema may come from besides `--schema`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SchemaFallback<'a> {
    /// The server the command reads its logs from (a URL naming a database).
    pub server: Option<&'a str>,
    /// The command's log inputs: a DDL `*.sql` file directly inside an input
    /// directory is the schema (`data/tpch.sql` beside the TPC-H logs).
    pub inputs: &'a [PathBuf],
    /// Say once what an empty catalog leaves unknown.
    pub warn_if_none: bool,
}

/// The catalog `args` describe; without a schema, the first of `fallback`'s
/// sources, else an empty catalog.
pub async fn load_catalog(
    args: &CatalogArgs,
    fallback: SchemaFallback<'_>,
) -> anyhow::Result<Catalog> {
    let mut sources: Vec<SchemaSource> =
        args.schema.iter().map(|s| SchemaSource::parse(s)).collect();
    if sources.is_empty() {
        if let Some(url) = fallback.server {
            sources.push(SchemaSource::Server(url.to_owned()));
        } else if let Some(file) = crate::schema::find_in(fallback.inputs) {
            sources.push(SchemaSource::File(file));
        }
    }
    let warn_if_none = fallback.warn_if_none;
    let catalog = crate::schema::load(&sources, args.capture_meta.as_deref()).await?;
    if sources.is_empty() && warn_if_none {
        tracing::warn!("no --schema: {}", crate::schema::unknown_without_catalog());
    } else if !sources.is_empty() {
        let names: Vec<String> = sources.iter().map(ToString::to_string).collect();
        tracing::info!(
            tables = catalog.tables.len(),
            databases = %catalog.databases().join(", "),
            "schema from {}",
            names.join(", ")
        );
    }
    Ok(catalog)
}

/// An error and its causes on one line, each cause once: a cause whose text
/// the message before it already holds is not repeated.
pub fn error_report(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Analyze(a) => {
            let fallback = SchemaFallback {
                inputs: &a.inputs,
                ..SchemaFallback::default()
            };
            let catalog = load_catalog(&a.catalog, fallback).await?;
            analyze::analyze(a, &catalog)
        }
        Command::Fingerprint(a) => analyze::fingerprint(a),
        Command::Train(a) => {
            let fallback = SchemaFallback {
                inputs: &a.inputs,
                warn_if_none: true,
                ..SchemaFallback::default()
            };
            let catalog = load_catalog(&a.catalog, fallback).await?;
            model::train(a, catalog)
        }
        Command::Eval(a) => {
            let catalog = model::schema_override(&a.model).await?;
            model::eval(a, catalog)
        }
        Command::Predict(a) => {
            let catalog = model::schema_override(&a.model).await?;
            model::predict(a, catalog)
        }
        Command::Calibrate(a) => {
            let catalog = calibrate::schema(&a).await?;
            calibrate::calibrate(a, catalog)
        }
        Command::Serve(config) => serve::serve(config).await,
        Command::Healthcheck(a) => serve::healthcheck(a).await,
        Command::Pipeline(a) => mlops::pipeline(a).await,
        Command::Runs(a) => mlops::runs(a).await,
        Command::Models(a) => mlops::models(a).await,
        Command::Promote(a) => mlops::promote(a).await,
        #[cfg(feature = "capture")]
        Command::Capture(a) => capture::capture(a).await,
        Command::Stats(a) => capture::stats(a).await,
    }
}
