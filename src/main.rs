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
    /// Profile a workload from its logs: digest per fingerprint, charts,
    /// data quality. Inputs may be files or directories, any supported format.
    Analyze(AnalyzeArgs),
    /// Print the pt-query-digest fingerprint and query ID of a statement.
    Fingerprint(FingerprintArgs),
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
    /// Schema DDL the statements are resolved against.
    #[arg(long, default_value = "data/tpch.sql")]
    schema: PathBuf,
    /// capture.json with table row counts (used when the file exists).
    #[arg(long, default_value = "data/capture.json")]
    capture_meta: PathBuf,
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
    /// Server URL; the account must be allowed to SET GLOBAL log settings.
    #[arg(
        long,
        env = "QLAT_MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306"
    )]
    url: String,
    /// Database to create and load.
    #[arg(long, default_value = "tpch")]
    database: String,
    /// TPC-H scale factor (1.0 = 1 GB of raw data).
    #[arg(long, default_value_t = 0.1)]
    scale_factor: f64,
    /// Seed for every random choice of the workload.
    #[arg(long, default_value_t = 20261125)]
    seed: u64,
    /// Executions of each of the 22 TPC-H templates.
    #[arg(long, default_value_t = 60)]
    tpch_runs: usize,
    /// Ad-hoc (non-TPC-H) statements in total.
    #[arg(long, default_value_t = 7000)]
    adhoc: usize,
    /// Per-statement timeout in seconds.
    #[arg(long, default_value_t = 60.0)]
    statement_timeout: f64,
    /// Concurrent clients in successive stretches of the run.
    #[arg(long, value_delimiter = ',', default_value = "1,3,2,4,1")]
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
    /// Password for the workload accounts the capture creates.
    #[arg(long, env = "QLAT_WORKLOAD_PASSWORD", default_value = "qlat-workload")]
    workload_password: String,
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
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
                url: a.url,
                database: a.database,
                out_dir: a.out,
                ddl_path: a.ddl,
                workload: WorkloadSpec {
                    seed: a.seed,
                    scale_factor: a.scale_factor,
                    tpch_runs_per_template: a.tpch_runs,
                    adhoc_statements: a.adhoc,
                    qgen_seed_comment_share: 0.3,
                },
                statement_timeout: Duration::from_secs_f64(a.statement_timeout),
                concurrency_stretches: a.concurrency,
                reload: a.reload,
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
    }
}

fn load_catalog(schema: &Path, capture_meta: &Path) -> anyhow::Result<Catalog> {
    let ddl = std::fs::read_to_string(schema)
        .with_context(|| format!("cannot read the schema {}", schema.display()))?;
    let mut catalog = Catalog::from_ddl(&ddl).with_context(|| format!("{}", schema.display()))?;
    if capture_meta.exists() {
        for (table, rows) in capture::read_table_rows(capture_meta)? {
            catalog.set_row_count(&table, rows);
        }
    }
    Ok(catalog)
}

fn analyze(a: AnalyzeArgs) -> anyhow::Result<()> {
    let catalog = load_catalog(&a.schema, &a.capture_meta)?;
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
