//! The `qlat` command line: one typed set of flags per command, and the
//! command bodies, one file per family. `main` only parses, sets up
//! logging and reports the error this returns, once.

mod analyze;
mod capture;
mod mlops;
mod model;
mod serve;

pub use capture::ServerArgs;

use crate::sql::catalog::Catalog;
use anyhow::Context;
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
#[derive(Args, Debug)]
pub struct CatalogArgs {
    /// Schema DDL.
    #[arg(long, default_value = "data/tpch.sql")]
    pub schema: PathBuf,
    /// capture.json with table row counts (used when the file exists).
    #[arg(long, default_value = "data/capture.json")]
    pub capture_meta: PathBuf,
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

pub fn load_catalog(args: &CatalogArgs) -> anyhow::Result<Catalog> {
    let (schema, capture_meta) = (&args.schema, &args.capture_meta);
    let ddl = std::fs::read_to_string(schema)
        .with_context(|| format!("cannot read the schema {}", schema.display()))?;
    let mut catalog = Catalog::from_ddl(&ddl).with_context(|| format!("{}", schema.display()))?;
    if capture_meta.exists() {
        crate::capture::stats::apply_meta(&mut catalog, capture_meta)?;
    }
    Ok(catalog)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Analyze(a) => analyze::analyze(a),
        Command::Fingerprint(a) => analyze::fingerprint(a),
        Command::Train(a) => model::train(a),
        Command::Eval(a) => model::eval(a),
        Command::Predict(a) => model::predict(a),
        Command::Serve(config) => serve::serve(config).await,
        Command::Healthcheck(a) => serve::healthcheck(a).await,
        Command::Pipeline(a) => mlops::pipeline(a).await,
        Command::Runs(a) => mlops::runs(a).await,
        Command::Models(a) => mlops::models(a).await,
        Command::Promote(a) => mlops::promote(a).await,
        Command::Capture(a) => capture::capture(a).await,
        Command::Stats(a) => capture::stats(a).await,
    }
}
