//! `qlat capture` and `qlat stats`: the live server a dataset and its
//! statistics come from.

use crate::capture::{self, CaptureConfig, workload::WorkloadSpec};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The MySQL/MariaDB server and database a command works on.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Server URL; for `capture` the account must be allowed to SET GLOBAL
    /// log settings.
    #[arg(
        long,
        env = "QLAT_MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306"
    )]
    pub url: String,
    /// Database: the one `capture` creates and loads, or whose tables
    /// `stats` describes.
    #[arg(long, default_value = "tpch")]
    pub database: String,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// JSON file to write them into (other fields are kept).
    #[arg(long, default_value = "data/capture.json")]
    pub into: PathBuf,
}

#[derive(Args, Debug)]
pub struct CaptureArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// TPC-H scale factor (1.0 = 1 GB of raw data).
    #[arg(long, default_value_t = 0.1)]
    pub scale_factor: f64,
    /// Seed for every random choice of the workload.
    #[arg(long, default_value_t = 20261125)]
    pub seed: u64,
    /// Executions of each of the 22 TPC-H templates.
    #[arg(long, default_value_t = 50)]
    pub tpch_runs: usize,
    /// Hand-written ad-hoc (non-TPC-H) statements in total.
    #[arg(long, default_value_t = 6000)]
    pub adhoc: usize,
    /// Distinct exploration shapes: seeded recipes over the TPC-H schema
    /// (tables, joins, predicates, grouping), each run with fresh literals.
    #[arg(long, default_value_t = 400)]
    pub explore_recipes: usize,
    /// Executions of exploration shapes in total.
    #[arg(long, default_value_t = 4000)]
    pub explore: usize,
    /// Per-statement timeout in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub statement_timeout: f64,
    /// Concurrent clients in successive stretches of the run, e.g. `1,3,2`.
    /// One by default: a statement's time then measures its own work, not
    /// its neighbours'.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub concurrency: Vec<usize>,
    /// Where to write the exports and capture.json.
    #[arg(long, default_value = "data")]
    pub out: PathBuf,
    /// The schema DDL.
    #[arg(long, default_value = "data/tpch.sql")]
    pub ddl: PathBuf,
    /// Reload data even if the database already holds this scale factor.
    #[arg(long)]
    pub reload: bool,
    /// Grow InnoDB's buffer pool to at least this many MiB during the
    /// capture (restored afterwards) so the data stays in memory; 0 leaves
    /// the server's setting alone.
    #[arg(long, default_value_t = 512)]
    pub buffer_pool_mib: u64,
    /// Password for the workload accounts the capture creates.
    #[arg(long, env = "QLAT_WORKLOAD_PASSWORD", default_value = "qlat-workload")]
    pub workload_password: String,
}

/// `qlat capture`.
pub async fn capture(a: CaptureArgs) -> anyhow::Result<()> {
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

/// `qlat stats`.
pub async fn stats(a: StatsArgs) -> anyhow::Result<()> {
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
