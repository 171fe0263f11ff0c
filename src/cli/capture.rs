//! `qlat capture` and `qlat stats`: the live server a dataset and its
//! statistics come from.

#[cfg(feature = "capture")]
use crate::capture::{self, CaptureConfig, Workload, app::AppSpec, workload::WorkloadSpec};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
#[cfg(feature = "capture")]
use std::time::Duration;

/// The MySQL/MariaDB server and database a command works on.
#[derive(Args, Debug)]
pub struct ServerArgs {
    /// Server URL; the account must be allowed to SET GLOBAL log settings.
    #[arg(
        long,
        env = "QLAT_MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306"
    )]
    pub url: String,
    /// Database to create and load [default: tpch; `qlat_app` for
    /// `--dataset app`].
    #[arg(long)]
    pub database: Option<String>,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Server URL; a read-only account is enough. Every table is read in
    /// full once, so point it at a replica.
    #[arg(
        long,
        env = "QLAT_MYSQL_URL",
        default_value = "mysql://root@127.0.0.1:3306"
    )]
    pub url: String,
    /// Database whose tables are described.
    #[arg(long, default_value = "tpch")]
    pub database: String,
    /// JSON file to write the row counts and column statistics into (its
    /// other fields are kept), e.g. `data/capture.json`. Checked before the
    /// pass over the server.
    #[arg(long)]
    pub into: PathBuf,
}

/// The database and workload `qlat capture` generates.
#[cfg(feature = "capture")]
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dataset {
    /// TPC-H tables from `tpchgen`, the 22 TPC-H queries, ad-hoc and
    /// exploration statements.
    Tpch,
    /// A web shop with a support desk: 8 tables, skewed data, and an
    /// application's workload with server-side prepared statements.
    App,
}

#[cfg(feature = "capture")]
#[derive(Args, Debug)]
pub struct CaptureArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Which database and workload to generate.
    #[arg(long, value_enum, default_value = "tpch")]
    pub dataset: Dataset,
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
    /// `--dataset app`: multiplies every table's row count (1.0: 100,000
    /// customers, 400,000 orders, about 1.2 million order lines).
    #[arg(long, default_value_t = 1.0)]
    pub rows_scale: f64,
    /// `--dataset app`: units of work to send (a unit is one statement or
    /// the few statements of a checkout; chatter comes on top).
    #[arg(long, default_value_t = 10_000)]
    pub statements: usize,
    /// Per-statement timeout in seconds.
    #[arg(long, default_value_t = 60.0)]
    pub statement_timeout: f64,
    /// Concurrent clients in successive stretches of the run, e.g. `1,3,2`.
    /// One by default: a statement's time then measures its own work, not
    /// its neighbours'.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub concurrency: Vec<usize>,
    /// Folder to write the exports and capture.json into (created; checked
    /// before loading), e.g. `data` or `data/app`.
    #[arg(long)]
    pub out: PathBuf,
    /// TPC-H schema DDL [default: the built-in copy of `data/tpch.sql`].
    #[arg(long)]
    pub ddl: Option<PathBuf>,
    /// Reload TPC-H data even if the database already holds this scale
    /// factor (the shop's data is always reloaded).
    #[arg(long)]
    pub reload: bool,
    /// Set InnoDB's buffer pool to this many MiB during the capture
    /// (restored afterwards): 512 keeps the data in memory; a small pool
    /// (e.g. 16) simulates a server short of memory; 0 leaves the server's
    /// setting alone.
    #[arg(long, default_value_t = 512)]
    pub buffer_pool_mib: u64,
    /// Password for the workload accounts the capture creates.
    #[arg(long, env = "QLAT_WORKLOAD_PASSWORD", default_value = "qlat-workload")]
    pub workload_password: String,
}

/// `qlat capture`.
#[cfg(feature = "capture")]
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
    anyhow::ensure!(
        a.rows_scale > 0.0 && a.rows_scale <= 10.0,
        "--rows-scale must be in (0, 10], got {}",
        a.rows_scale
    );
    let (workload, default_db) = match a.dataset {
        Dataset::Tpch => (
            Workload::Tpch(WorkloadSpec {
                seed: a.seed,
                scale_factor: a.scale_factor,
                tpch_runs_per_template: a.tpch_runs,
                adhoc_statements: a.adhoc,
                qgen_seed_comment_share: 0.3,
                explore_recipes: a.explore_recipes,
                explore_statements: a.explore,
            }),
            "tpch",
        ),
        Dataset::App => (
            Workload::App(AppSpec {
                dataset: "app",
                seed: a.seed,
                rows_scale: a.rows_scale,
                statements: a.statements,
            }),
            "qlat_app",
        ),
    };
    let config = CaptureConfig {
        url: a.server.url,
        database: a.server.database.unwrap_or_else(|| default_db.into()),
        out_dir: a.out,
        ddl_path: a.ddl,
        workload,
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
    // The pass over the server can take minutes: fail first if its result
    // could not be saved.
    crate::schema::stats::check_into(&a.into)
        .with_context(|| format!("cannot write --into {}", a.into.display()))?;
    let stats = crate::schema::stats::refresh(&a.url, &a.database, &a.into)
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
