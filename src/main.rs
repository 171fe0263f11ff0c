//! The `qlat` command line: parses flags, sets up logging, and hands off to
//! the library. Errors are reported here, once, with a non-zero exit code.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use qlat::capture::{self, CaptureConfig, workload::WorkloadSpec};
use qlat::sql::catalog::Catalog;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "qlat",
    version,
    about = "Learns SQL query latency from MySQL/MariaDB query logs"
)]
struct Cli {
    /// Log format for diagnostics on stderr.
    #[arg(long, global = true, env = "QLAT_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Load TPC-H into a live server, run a seeded workload with the general
    /// and slow logs on, and export what the server logged.
    Capture(CaptureArgs),
    /// Read table row counts and column statistics (distinct values, value
    /// ranges) from a live server into a capture.json, for the catalog.
    Stats(StatsArgs),
    /// Profile a workload from its logs: digest per fingerprint, charts,
    /// data quality. Inputs may be files or directories, any supported format.
    Analyze(AnalyzeArgs),
    /// Print the pt-query-digest fingerprint and query ID of a statement.
    Fingerprint(FingerprintArgs),
    /// Train the latency models on slow-log data, evaluate them on random,
    /// time-ordered and fingerprint-grouped splits, save the artifacts.
    Train(TrainArgs),
    /// Score saved models on any log (any supported format).
    Eval(EvalArgs),
    /// Predict one statement's latency, with an interval, a class and why.
    Predict(PredictArgs),
    /// Serve predictions over HTTP, store every one in a database, expose
    /// Prometheus metrics and a browsable history.
    Serve(qlat::serve::ServeConfig),
    /// Exit 0 when a running server reports ready (for container health
    /// checks, which have no curl).
    Healthcheck(HealthcheckArgs),
    // -- MLOps (issue #7): pipeline, runs, models, promote --------------
    /// The learning cycle: ingest new log records since the watermark,
    /// check the data, train, evaluate against production on the same test
    /// rows, promote if better by the margin, tell servers to reload.
    Pipeline(PipelineArgs),
    /// List pipeline runs with their outcome and metrics.
    Runs(RunsArgs),
    /// List registered model versions, marking production.
    Models(ModelsArgs),
    /// Point production at a registered version (e.g. a rollback).
    Promote(PromoteArgs),
}

/// The MySQL/MariaDB server and database a command works on.
#[derive(Args, Debug)]
struct ServerArgs {
    /// Server URL; for `capture` the account must be allowed to SET GLOBAL
    /// log settings.
    #[arg(
        long,
        env = "QLAT_MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306"
    )]
    url: String,
    /// Database: the one `capture` creates and loads, or whose tables
    /// `stats` describes.
    #[arg(long, default_value = "tpch")]
    database: String,
}

#[derive(Args, Debug)]
struct StatsArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// JSON file to write them into (other fields are kept).
    #[arg(long, default_value = "data/capture.json")]
    into: PathBuf,
}

#[derive(Args, Debug)]
struct RegistryDbArgs {
    /// Database holding runs, models and observations (the predictions'
    /// database): sqlite://FILE or postgres://…
    #[arg(long, env = "QLAT_DATABASE_URL", default_value = qlat::store::DEFAULT_DATABASE_URL, hide_env_values = true)]
    database_url: String,
}

#[derive(Args, Debug)]
struct PipelineArgs {
    /// Run one cycle and exit (exit status 1 if it failed).
    #[arg(long)]
    once: bool,
    /// Time between cycles ("2m", "30s").
    #[arg(long, default_value = "2m", value_parser = humantime::parse_duration, conflicts_with = "once")]
    every: Duration,
    /// Log files/directory, or a live server (mysql://user@host:3306/db:
    /// reads mysql.slow_log, only statements run in db when given).
    #[arg(long, env = "QLAT_PIPELINE_SOURCE", default_value = "data")]
    source: String,
    #[command(flatten)]
    db: RegistryDbArgs,
    /// Where models, datasets and reports go: a directory, file:///dir,
    /// s3://bucket/prefix (AWS_* variables) or sqlite:// / postgres://.
    #[arg(long, env = "QLAT_ARTIFACT_STORE", default_value = qlat::artifact_store::DEFAULT_ARTIFACT_STORE, hide_env_values = true)]
    artifact_store: String,
    /// Server base URL to POST /admin/reload after a promotion; repeatable.
    #[arg(long, env = "QLAT_NOTIFY_URLS", value_delimiter = ',')]
    notify: Vec<String>,
    /// Bearer token for the servers' /admin/reload.
    #[arg(long, env = "QLAT_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Promote only if the candidate's test MSE of ln(seconds) is this much
    /// lower than production's on the same rows (relative: 0.02 = 2 %).
    #[arg(long, default_value_t = 0.02)]
    promote_margin: f64,
    /// The algorithm compared and served: mlp, ridge, baseline, tiered.
    #[arg(long, env = "QLAT_ALGORITHM", default_value = "mlp")]
    algorithm: String,
    /// Seed for model initialisation and batching.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Maximum MLP epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Share of the newest observations held out as the test set.
    #[arg(long, default_value_t = 0.3)]
    test_fraction: f64,
    /// Fewest usable observations to train on.
    #[arg(long, default_value_t = 50)]
    min_rows: usize,
    /// Train on at most the newest this many observations.
    #[arg(long, default_value_t = 200_000)]
    max_rows: usize,
    /// Lock lease: a crashed run blocks the next one at most this long.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    lease: Duration,
    /// Train even when nothing new arrived.
    #[arg(long)]
    retrain: bool,
    #[command(flatten)]
    catalog: CatalogArgs,
    /// Output of --once.
    #[arg(long, default_value = "text")]
    format: OutputFormat,
}

#[derive(Args, Debug)]
struct RunsArgs {
    #[command(flatten)]
    db: RegistryDbArgs,
    /// Newest runs shown.
    #[arg(long, default_value_t = 20)]
    limit: i64,
    #[arg(long, default_value = "text")]
    format: OutputFormat,
}

#[derive(Args, Debug)]
struct ModelsArgs {
    #[command(flatten)]
    db: RegistryDbArgs,
    #[arg(long, default_value = "text")]
    format: OutputFormat,
}

#[derive(Args, Debug)]
struct PromoteArgs {
    /// A registered version (see `qlat models`).
    version: String,
    #[command(flatten)]
    db: RegistryDbArgs,
    /// Server base URL to tell to reload; repeatable.
    #[arg(long, env = "QLAT_NOTIFY_URLS", value_delimiter = ',')]
    notify: Vec<String>,
    #[arg(long, env = "QLAT_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
}

#[derive(Args, Debug)]
struct HealthcheckArgs {
    /// The readiness endpoint to ask.
    #[arg(
        long,
        env = "QLAT_HEALTHCHECK_URL",
        default_value = "http://127.0.0.1:8080/health_check"
    )]
    url: String,
    /// Give up after this long.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

#[derive(Args, Debug)]
struct TrainArgs {
    /// Slow-log files or directories to learn from.
    #[arg(default_value = "data")]
    inputs: Vec<PathBuf>,
    /// Artifact directory to write.
    #[arg(long, env = "QLAT_ARTIFACTS", default_value = "artifacts")]
    out: PathBuf,
    #[command(flatten)]
    catalog: CatalogArgs,
    /// Seed for initialisation, batching and splits.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Maximum MLP epochs (early stopping usually ends sooner).
    #[arg(long)]
    epochs: Option<usize>,
    /// Folds of the fingerprint-grouped cross-validation.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Skip the evaluation and only fit and save.
    #[arg(long)]
    no_eval: bool,
    /// Feed each fingerprint's training history (median time, count) to the
    /// learned models as inputs; `--history false` trains on text alone.
    #[arg(long, default_value_t = qlat::train::TrainConfig::default().use_history, action = clap::ArgAction::Set)]
    history: bool,
    /// Share of fingerprints trained with their history hidden, so the
    /// models also learn to predict shapes they have never seen.
    #[arg(long, default_value_t = qlat::train::TrainConfig::default().history_dropout)]
    history_dropout: f64,
    /// MLP hidden layer sizes.
    #[arg(long, value_delimiter = ',', default_values_t = qlat::train::TrainConfig::default().hidden)]
    hidden: Vec<usize>,
    /// MLP networks trained from different initialisations and averaged:
    /// more members, steadier predictions on unseen shapes, slower fits.
    #[arg(long, default_value_t = qlat::train::TrainConfig::default().mlp_members)]
    members: usize,
    /// Weight of the TF-IDF block next to the structural features: lower
    /// leans on structure (generalises to new shapes), higher on tokens.
    #[arg(long, default_value_t = qlat::train::TrainConfig::default().tfidf_scale)]
    tfidf_scale: f64,
    /// Decoupled (AdamW) weight decay of the MLP.
    #[arg(long, default_value_t = qlat::train::TrainConfig::default().weight_decay)]
    weight_decay: f64,
    /// Per-step decay of the MLP's moving average of weights, the weights
    /// kept; 0 keeps the optimiser's own weights instead.
    #[arg(long, default_value_t = qlat::train::TrainConfig::default().ema_decay)]
    ema_decay: f64,
}

#[derive(Args, Debug)]
struct EvalArgs {
    /// Log files or directories to score the model on.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    model: ModelArgs,
}

#[derive(Args, Debug)]
struct PredictArgs {
    /// The statement.
    query: String,
    #[command(flatten)]
    model: ModelArgs,
}

/// Which saved model to use, and how to print its answer.
#[derive(Args, Debug)]
struct ModelArgs {
    /// Artifact directory written by `qlat train`.
    #[arg(long = "model", env = "QLAT_ARTIFACTS", default_value = "artifacts")]
    dir: PathBuf,
    /// Which of the saved models: mlp, ridge, baseline, tiered.
    #[arg(long, default_value = "mlp")]
    algorithm: String,
    #[arg(long, default_value = "text")]
    format: OutputFormat,
}

/// The schema statements are resolved against.
#[derive(Args, Debug)]
struct CatalogArgs {
    /// Schema DDL.
    #[arg(long, default_value = "data/tpch.sql")]
    schema: PathBuf,
    /// capture.json with table row counts (used when the file exists).
    #[arg(long, default_value = "data/capture.json")]
    capture_meta: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
struct AnalyzeArgs {
    /// Log files or directories (slow log, general log, JSON exports).
    #[arg(default_value = "data")]
    inputs: Vec<PathBuf>,
    /// `text` prints a summary; `json` prints the full analysis object.
    #[arg(long, default_value = "text")]
    format: OutputFormat,
    /// Folder for report.html and the charts (SVG and PNG).
    #[arg(long, default_value = "report")]
    out: PathBuf,
    /// Do not write the report folder.
    #[arg(long)]
    no_report: bool,
    #[command(flatten)]
    catalog: CatalogArgs,
    /// Classes shown in the terminal summary.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

#[derive(Args, Debug)]
struct FingerprintArgs {
    /// The statement; omit it with --jsonl.
    query: Option<String>,
    /// Read `{"query": "..."}` lines on stdin, write
    /// `{"query", "fingerprint", "query_id"}` lines on stdout.
    #[arg(long, conflicts_with = "query")]
    jsonl: bool,
}

#[derive(Args, Debug)]
struct CaptureArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// TPC-H scale factor (1.0 = 1 GB of raw data).
    #[arg(long, default_value_t = 0.1)]
    scale_factor: f64,
    /// Seed for every random choice of the workload.
    #[arg(long, default_value_t = 20261125)]
    seed: u64,
    /// Executions of each of the 22 TPC-H templates.
    #[arg(long, default_value_t = 50)]
    tpch_runs: usize,
    /// Hand-written ad-hoc (non-TPC-H) statements in total.
    #[arg(long, default_value_t = 6000)]
    adhoc: usize,
    /// Distinct exploration shapes: seeded recipes over the TPC-H schema
    /// (tables, joins, predicates, grouping), each run with fresh literals.
    #[arg(long, default_value_t = 400)]
    explore_recipes: usize,
    /// Executions of exploration shapes in total.
    #[arg(long, default_value_t = 4000)]
    explore: usize,
    /// Per-statement timeout in seconds.
    #[arg(long, default_value_t = 60.0)]
    statement_timeout: f64,
    /// Concurrent clients in successive stretches of the run, e.g. `1,3,2`.
    /// One by default: a statement's time then measures its own work, not
    /// its neighbours'.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    concurrency: Vec<usize>,
    /// Where to write the exports and capture.json.
    #[arg(long, default_value = "data")]
    out: PathBuf,
    /// The schema DDL.
    #[arg(long, default_value = "data/tpch.sql")]
    ddl: PathBuf,
    /// Reload data even if the database already holds this scale factor.
    #[arg(long)]
    reload: bool,
    /// Grow InnoDB's buffer pool to at least this many MiB during the
    /// capture (restored afterwards) so the data stays in memory; 0 leaves
    /// the server's setting alone.
    #[arg(long, default_value_t = 512)]
    buffer_pool_mib: u64,
    /// Password for the workload accounts the capture creates.
    #[arg(long, env = "QLAT_WORKLOAD_PASSWORD", default_value = "qlat-workload")]
    workload_password: String,
}

fn init_tracing(format: LogFormat) {
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qlat: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Analyze(a) => analyze(a),
        Command::Fingerprint(a) => fingerprint(a),
        Command::Train(a) => train(a),
        Command::Eval(a) => eval(a),
        Command::Predict(a) => predict(a),
        Command::Serve(config) => {
            let report = qlat::serve::run(config).await?;
            if report.spooled > 0 {
                eprintln!(
                    "qlat: {} acknowledged predictions wait in the spool; the next start replays them",
                    report.spooled
                );
            }
            Ok(())
        }
        Command::Healthcheck(a) => healthcheck(a).await,
        Command::Pipeline(a) => mlops::pipeline(a).await,
        Command::Runs(a) => mlops::runs(a).await,
        Command::Models(a) => mlops::models(a).await,
        Command::Promote(a) => mlops::promote(a).await,
        Command::Capture(a) => {
            anyhow::ensure!(
                a.scale_factor > 0.0 && a.scale_factor <= 100.0,
                "--scale-factor must be in (0, 100], got {}",
                a.scale_factor
            );
            anyhow::ensure!(
                a.statement_timeout > 0.0,
                "--statement-timeout must be positive"
            );
            let config = CaptureConfig {
                url: a.server.url,
                database: a.server.database,
                out_dir: a.out,
                ddl_path: a.ddl,
                workload: WorkloadSpec {
                    seed: a.seed,
                    scale_factor: a.scale_factor,
                    tpch_runs_per_template: a.tpch_runs,
                    adhoc_statements: a.adhoc,
                    qgen_seed_comment_share: 0.3,
                    explore_recipes: a.explore_recipes,
                    explore_statements: a.explore,
                },
                statement_timeout: Duration::from_secs_f64(a.statement_timeout),
                concurrency_stretches: a.concurrency,
                reload: a.reload,
                buffer_pool_mib: (a.buffer_pool_mib > 0).then_some(a.buffer_pool_mib),
                workload_password: a.workload_password,
            };
            let summary = capture::run(&config).await.context("capture failed")?;
            println!(
                "captured {} slow-log rows and {} general-log rows in {:.0} s ({} statements sent, {} failed) into {}",
                summary.slow_log_rows,
                summary.general_log_rows,
                summary.duration_seconds,
                summary.statements_sent,
                summary.statements_failed,
                config.out_dir.display()
            );
            Ok(())
        }
        Command::Stats(a) => {
            let stats = capture::stats::refresh(&a.server.url, &a.server.database, &a.into)
                .await
                .context("reading statistics failed")?;
            let columns: usize = stats.values().map(|c| c.len()).sum();
            println!(
                "wrote statistics of {} tables, {columns} columns into {}",
                stats.len(),
                a.into.display()
            );
            Ok(())
        }
    }
}

async fn healthcheck(a: HealthcheckArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(a.timeout).build()?;
    let response = client
        .get(&a.url)
        .send()
        .await
        .with_context(|| format!("{} unreachable", a.url))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    anyhow::ensure!(status.is_success(), "{} answered {status}: {body}", a.url);
    println!("{body}");
    Ok(())
}

fn load_catalog(args: &CatalogArgs) -> anyhow::Result<Catalog> {
    let (schema, capture_meta) = (&args.schema, &args.capture_meta);
    let ddl = std::fs::read_to_string(schema)
        .with_context(|| format!("cannot read the schema {}", schema.display()))?;
    let mut catalog = Catalog::from_ddl(&ddl).with_context(|| format!("{}", schema.display()))?;
    if capture_meta.exists() {
        capture::stats::apply_meta(&mut catalog, capture_meta)?;
    }
    Ok(catalog)
}

fn analyze(a: AnalyzeArgs) -> anyhow::Result<()> {
    let catalog = load_catalog(&a.catalog)?;
    let analysis = qlat::analyze::analyze_paths(&a.inputs, &catalog)?;
    let mut stdout = std::io::stdout().lock();
    match a.format {
        OutputFormat::Json => {
            serde_json::to_writer(&mut stdout, &analysis)?;
            writeln!(stdout)?;
        }
        OutputFormat::Text => {
            write!(
                stdout,
                "{}",
                qlat::report::terminal_summary(&analysis, a.top)
            )?;
        }
    }
    if !a.no_report {
        let files = qlat::report::write_report(&analysis, &a.out)?;
        tracing::info!(
            files = files.len(),
            "report written to {}",
            a.out.join("report.html").display()
        );
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct FingerprintRequest {
    query: String,
}

fn fingerprint(a: FingerprintArgs) -> anyhow::Result<()> {
    use qlat::sql::fingerprint::{fingerprint, query_id};
    let mut stdout = std::io::stdout().lock();
    if !a.jsonl {
        let Some(query) = a.query else {
            anyhow::bail!("give a statement, or --jsonl to read JSON lines on stdin");
        };
        let fp = fingerprint(&query);
        writeln!(stdout, "{fp}\n{}", query_id(&fp))?;
        return Ok(());
    }
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("cannot read stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let req: FingerprintRequest = serde_json::from_str(&line)
            .with_context(|| format!("stdin line {}: expected {{\"query\": \"...\"}}", i + 1))?;
        let fp = fingerprint(&req.query);
        let id = query_id(&fp);
        let out = serde_json::json!({"query": req.query, "fingerprint": fp, "query_id": id});
        writeln!(stdout, "{out}")?;
    }
    Ok(())
}

fn read_samples(inputs: &[PathBuf]) -> anyhow::Result<Vec<qlat::model::Sample>> {
    let mut events = Vec::new();
    let mut errors = 0usize;
    for item in qlat::ingest::read_paths(inputs)? {
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
    if errors > 0 {
        tracing::warn!(errors, "records skipped");
    }
    let samples = qlat::train::samples_from_events(events);
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

fn train(a: TrainArgs) -> anyhow::Result<()> {
    use qlat::eval::run::{EvalConfig, Models, evaluate_models, predictor};
    let catalog = load_catalog(&a.catalog)?;
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
    let mut cfg = qlat::train::TrainConfig {
        seed: a.seed,
        use_history: a.history,
        history_dropout: a.history_dropout,
        hidden: a.hidden.clone(),
        mlp_members: a.members,
        tfidf_scale: a.tfidf_scale,
        weight_decay: a.weight_decay,
        ema_decay: a.ema_decay,
        ..Default::default()
    };
    if let Some(e) = a.epochs {
        cfg.epochs_max = e;
    }
    println!("training on {} statements", samples.len());
    let started = std::time::Instant::now();
    let mut metrics = serde_json::Value::Null;
    if !a.no_eval {
        let eval_cfg = EvalConfig {
            seed: a.seed,
            folds: a.folds,
            thresholds: cfg.thresholds,
            ..Default::default()
        };
        let bar = indicatif::ProgressBar::new((2 + a.folds) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} fits  {msg} ({elapsed})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let trainer = |train: &[qlat::model::Sample]| -> Result<Models, String> {
            let models = qlat::train::fit_all(train, &catalog, &cfg).map_err(|e| e.to_string())?;
            Ok(models
                .all()
                .into_iter()
                .map(|m| (m.name().to_string(), predictor(m)))
                .collect())
        };
        let progress = |p: &qlat::eval::run::Progress| {
            bar.set_position(p.step as u64);
            bar.set_message(p.stage.clone());
        };
        let evaluation = evaluate_models(&samples, &trainer, &eval_cfg, Some(&progress));
        bar.finish_and_clear();
        for e in &evaluation.results.errors {
            tracing::error!("{e}");
        }
        println!(
            "\nAll statements\n{}",
            qlat::eval::report::table(&evaluation.results, false)
        );
        println!(
            "Statements that took >= 10 ms\n{}",
            qlat::eval::report::table(&evaluation.results, true)
        );
        let report_dir = a.out.join("eval");
        let files = qlat::eval::report::write_report(
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
    let mut models = qlat::train::fit_all(&samples, &catalog, &cfg)?;
    let fit_secs = fit_started.elapsed().as_secs_f64();
    models.manifest.metrics = metrics;
    models.save(&a.out)?;
    println!(
        "saved model {} to {} (final fit {:.1} s, total {:.1} s)",
        models.manifest.model_version,
        a.out.display(),
        fit_secs,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A saved model by name, with its version and class thresholds.
struct Loaded {
    model: std::sync::Arc<dyn qlat::model::LatencyModel>,
    version: String,
    thresholds: qlat::model::ClassThresholds,
}

fn load_model(dir: &Path, algorithm: &str) -> anyhow::Result<Loaded> {
    let models = qlat::train::TrainedModels::load(dir)?;
    let version = models.manifest.model_version.clone();
    let thresholds = models.manifest.class_thresholds;
    let model = models.by_name(algorithm).with_context(|| {
        format!("no model named {algorithm:?} (try mlp, ridge, baseline or tiered)")
    })?;
    Ok(Loaded {
        model,
        version,
        thresholds,
    })
}

fn eval(a: EvalArgs) -> anyhow::Result<()> {
    let Loaded {
        model,
        version,
        thresholds,
    } = load_model(&a.model.dir, &a.model.algorithm)?;
    let samples = read_samples(&a.inputs)?;
    let sqls: Vec<&str> = samples.iter().map(|s| s.sql.as_str()).collect();
    let preds = qlat::eval::run::predictor(model).predict_batch(&sqls);
    let truth: Vec<f64> = samples.iter().map(|s| s.seconds).collect();
    let report = qlat::eval::metrics::metrics_with_analytic(&preds, &truth, &thresholds);
    let mut stdout = std::io::stdout().lock();
    match a.model.format {
        OutputFormat::Json => {
            serde_json::to_writer(&mut stdout, &report)?;
            writeln!(stdout)?;
        }
        OutputFormat::Text => {
            writeln!(
                stdout,
                "model {} ({version}) on {} statements",
                a.model.algorithm, report.n
            )?;
            for (label, m) in [("all", &report.metrics), (">= 10 ms", &report.analytic)] {
                writeln!(
                    stdout,
                    "{label:>9}: n {} | MSE(ln) {:.3} | R2(ln) {:.3} | MAE {:.4} s | q-error p50 {:.2} p90 {:.2} p99 {:.2} | p10-p90 coverage {:.1} % | class acc {:.3} F1 {:.3}",
                    m.n,
                    m.mse_ln,
                    m.r2_ln,
                    m.mae_s,
                    m.q_error_p50,
                    m.q_error_p90,
                    m.q_error_p99,
                    m.interval_coverage * 100.0,
                    m.class_accuracy,
                    m.class_f1_macro
                )?;
            }
        }
    }
    Ok(())
}

fn predict(a: PredictArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!a.query.trim().is_empty(), "the statement is empty");
    let Loaded { model, version, .. } = load_model(&a.model.dir, &a.model.algorithm)?;
    let response = qlat::predict::PredictResponse::new(&a.query, model.predict(&a.query), &version);
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
                human_seconds(r.predicted_seconds),
                human_seconds(r.interval.p10),
                human_seconds(r.interval.p90),
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
                human_seconds(r.explanation_baseline.exp())
            )?;
            for c in &r.explanation {
                writeln!(stdout, "  {:+.3}  {}", c.contribution, c.feature)?;
            }
            writeln!(stdout, "model {} {version}", a.model.algorithm)?;
        }
    }
    Ok(())
}

fn human_seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// The MLOps subcommands (issue #7), kept together.
mod mlops {
    use super::{ModelsArgs, OutputFormat, PipelineArgs, PromoteArgs, RunsArgs, load_catalog};
    use anyhow::Context;
    use qlat::pipeline::{Pipeline, PipelineConfig, Source};
    use qlat::registry::Registry;
    use qlat::store::Db;
    use std::io::Write;

    async fn connect(url: &str) -> anyhow::Result<Db> {
        Ok(Db::connect(url).await?)
    }

    pub async fn pipeline(a: PipelineArgs) -> anyhow::Result<()> {
        let catalog = load_catalog(&a.catalog)?;
        let db = connect(&a.db.database_url).await?;
        let store = qlat::artifact_store::open(&a.artifact_store)
            .await
            .with_context(|| {
                format!("artifact store {}", qlat::store::redact(&a.artifact_store))
            })?;
        let mut config = PipelineConfig::new(Source::parse(&a.source), catalog);
        config.train.seed = a.seed;
        if let Some(e) = a.epochs {
            config.train.epochs_max = e;
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
        let pipeline = std::sync::Arc::new(Pipeline::new(db, store, config)?);
        if a.once {
            let report = tokio::select! {
                r = pipeline.run_once() => r,
                _ = shutdown_signal() => {
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
        shutdown_signal().await;
        tracing::info!("stopping after the current cycle (signal again to abandon it)");
        let _ = stop_tx.send(true);
        tokio::select! {
            _ = looping => Ok(()),
            _ = shutdown_signal() => {
                pipeline.abandon_current("interrupted by a second signal").await;
                anyhow::bail!("interrupted; the run in progress was marked failed")
            }
        }
    }

    /// Ctrl-C or SIGTERM.
    async fn shutdown_signal() {
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => {
                        let _ = tokio::signal::ctrl_c().await;
                        return;
                    }
                };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }

    fn num(v: Option<&serde_json::Value>, digits: usize) -> String {
        v.and_then(serde_json::Value::as_f64)
            .map_or("-".into(), |x| format!("{x:.digits$}"))
    }

    pub async fn runs(a: RunsArgs) -> anyhow::Result<()> {
        let registry = Registry::new(connect(&a.db.database_url).await?);
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
            "run",
            "started (UTC)",
            "status",
            "decision",
            "secs",
            "new",
            "mse_ln",
            "prod",
            "q90",
            "f1"
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
        }
        Ok(())
    }

    pub async fn models(a: ModelsArgs) -> anyhow::Result<()> {
        let registry = Registry::new(connect(&a.db.database_url).await?);
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
        let registry = Registry::new(connect(&a.db.database_url).await?);
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
            let outcomes = qlat::pipeline::notify::notify_reload(
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
}
