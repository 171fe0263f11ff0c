//! The `qlat` command line: parses flags, sets up logging, and hands off to
//! the library. Errors are reported here, once, with a non-zero exit code.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use qlat::capture::{self, CaptureConfig, workload::WorkloadSpec};
use std::path::PathBuf;
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
