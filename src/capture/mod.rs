//! `qlat capture`: records a real, reproducible workload from a live
//! MySQL/MariaDB server into the files qlat learns from.
//!
//! The server's own logs are the ground truth, so the capture turns on the
//! general and slow logs (`long_query_time=0`, tables and files), runs a
//! seeded workload through several accounts and connections, exports what the
//! server logged, and puts the server's log settings back however it ends.
//! Two datasets share this machinery: TPC-H ([`load`], [`workload`]) and a
//! web shop with a support desk ([`app`]).

pub mod app;
pub mod explore;
mod export;
pub mod load;

pub mod tpch_queries;
pub mod workload;

use crate::schema::stats::{self, StatsError};
use chrono::Utc;
use export::{Window, export_table, write_json_array};
use serde::Serialize;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, Connection, Executor, Row};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use workload::{Action, Param, Profile, Session, WorkloadSpec};

/// Which database and workload a capture generates. Serialised as the
/// inner specification, so a TPC-H `capture.json` reads as it always did.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Workload {
    Tpch(WorkloadSpec),
    App(app::AppSpec),
}

impl Workload {
    pub fn seed(&self) -> u64 {
        match self {
            Workload::Tpch(s) => s.seed,
            Workload::App(s) => s.seed,
        }
    }

    /// TPC-H's scale factor, or the shop's row scale.
    pub fn scale(&self) -> f64 {
        match self {
            Workload::Tpch(s) => s.scale_factor,
            Workload::App(s) => s.rows_scale,
        }
    }

    fn tables(&self) -> &'static [&'static str] {
        match self {
            Workload::Tpch(_) => &load::TABLE_ORDER,
            Workload::App(_) => &app::TABLES,
        }
    }

    fn profiles(&self) -> &'static [Profile] {
        match self {
            Workload::Tpch(_) => &Profile::ALL,
            Workload::App(_) => &Profile::SHOP,
        }
    }

    fn sessions(&self) -> Vec<Session> {
        match self {
            Workload::Tpch(s) => workload::generate(s),
            Workload::App(s) => app::workload::generate(s),
        }
    }
}

/// The TPC-H schema shipped as `data/tpch.sql`, used unless `--ddl` names
/// another file.
pub const TPCH_DDL: &str = include_str!("../../data/tpch.sql");

/// Everything `qlat capture` needs; built from CLI flags by the binary.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureConfig {
    /// Server URL with an account allowed to change global log settings.
    #[serde(skip)]
    pub url: String,
    pub database: String,
    pub out_dir: PathBuf,
    /// TPC-H DDL file; `None` uses the built-in copy of `data/tpch.sql`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ddl_path: Option<PathBuf>,
    pub workload: Workload,
    /// Per-statement timeout, so one runaway query cannot stall the capture.
    pub statement_timeout: Duration,
    /// Concurrent clients in each stretch of the run (the sessions are split
    /// evenly over the stretches).
    pub concurrency_stretches: Vec<usize>,
    /// Reload the data even if the database already holds this scale factor
    /// (TPC-H; the shop's data is always reloaded, as its workload writes).
    pub reload: bool,
    /// Grow InnoDB's buffer pool to at least this many MiB for the capture
    /// (restored afterwards), so the data stays in memory and a statement's
    /// time does not depend on what the statements before it evicted.
    /// `None` leaves the server's setting alone.
    pub buffer_pool_mib: Option<u64>,
    /// Password given to the workload accounts the capture creates.
    #[serde(skip)]
    pub workload_password: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("schema: {0}")]
    Ddl(String),
    #[error("interrupted (Ctrl-C); the server's log settings were restored")]
    Interrupted,
    /// Connecting, a failed statement, a file: the same as reading
    /// statistics, so the same errors.
    #[error(transparent)]
    Stats(#[from] StatsError),
}

impl CaptureError {
    pub(crate) fn sql(statement: &str, source: sqlx::Error) -> Self {
        StatsError::sql(statement, source).into()
    }

    fn io(path: &Path, source: std::io::Error) -> Self {
        StatsError::io(path, source).into()
    }

    pub(crate) fn connect(source: sqlx::Error) -> Self {
        StatsError::Connect(source).into()
    }
}

/// What the capture wrote, also saved as `capture.json`.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureSummary {
    pub server_version: String,
    pub server_flavor: String,
    pub scale_factor: f64,
    pub seed: u64,
    pub started_at: String,
    pub finished_at: String,
    pub duration_seconds: f64,
    pub table_rows: BTreeMap<String, u64>,
    /// Distinct counts and value ranges of every column at the start.
    pub column_stats: stats::ColumnStatsMap,
    pub data_reloaded: bool,
    pub sessions: usize,
    pub statements_sent: u64,
    pub statements_failed: u64,
    /// Statements sent as server-side prepared statements.
    #[serde(skip_serializing_if = "is_zero")]
    pub statements_prepared: u64,
    pub pings: u64,
    pub statements_by_label: BTreeMap<String, u64>,
    pub slow_log_rows: usize,
    pub general_log_rows: usize,
    pub slow_log_file: Option<String>,
    pub settings_before: BTreeMap<String, String>,
    pub settings_during: BTreeMap<String, String>,
    pub config: CaptureConfig,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Global variables the capture changes, restored afterwards.
const LOG_SETTINGS: [&str; 8] = [
    "innodb_buffer_pool_size",
    "general_log",
    "slow_query_log",
    "long_query_time",
    "log_output",
    "slow_query_log_file",
    "min_examined_row_limit",
    "log_slow_admin_statements",
];

async fn scalar(conn: &mut MySqlConnection, sql: &str) -> Result<Option<String>, CaptureError> {
    let row = conn
        .fetch_optional(AssertSqlSafe(sql))
        .await
        .map_err(|e| CaptureError::sql(sql, e))?;
    Ok(row.and_then(|r| r.try_get::<Option<String>, _>(0).ok().flatten()))
}

async fn read_settings(
    conn: &mut MySqlConnection,
) -> Result<BTreeMap<String, String>, CaptureError> {
    let mut out = BTreeMap::new();
    for name in LOG_SETTINGS {
        if let Some(v) = scalar(conn, &format!("SELECT CAST(@@GLOBAL.{name} AS CHAR)")).await? {
            out.insert(name.to_string(), v);
        }
    }
    Ok(out)
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

async fn restore_settings(conn: &mut MySqlConnection, saved: &BTreeMap<String, String>) {
    // The log switches go last so nothing is logged to a file we are about
    // to hand back, and each setting is restored on its own so one failure
    // does not leave the others changed.
    let order = [
        "innodb_buffer_pool_size",
        "long_query_time",
        "min_examined_row_limit",
        "log_slow_admin_statements",
        "log_output",
        "slow_query_log_file",
        "general_log",
        "slow_query_log",
    ];
    for name in order {
        let Some(value) = saved.get(name) else {
            continue;
        };
        let literal = match name {
            "log_output" | "slow_query_log_file" => quote(value),
            _ => value.clone(),
        };
        let sql = format!("SET GLOBAL {name} = {literal}");
        if let Err(e) = load::exec(conn, &sql).await {
            tracing::error!(error = %e, "could not restore {name}; set it back by hand");
        }
    }
}

async fn buffer_pool_bytes(conn: &mut MySqlConnection) -> Result<u64, CaptureError> {
    Ok(scalar(
        conn,
        "SELECT CAST(@@GLOBAL.innodb_buffer_pool_size AS CHAR)",
    )
    .await?
    .and_then(|v| v.parse().ok())
    .unwrap_or(0))
}

/// Sets the buffer pool to `mib` MiB (growing it so the data stays in
/// memory, or shrinking it to simulate a server short of memory, as the
/// calibration's A→B comparison does) and waits for the online resize to
/// finish. The server may round the size to its chunk size.
async fn grow_buffer_pool(conn: &mut MySqlConnection, mib: u64) -> Result<(), CaptureError> {
    let bytes = mib * 1024 * 1024;
    let current = buffer_pool_bytes(conn).await?;
    if current == bytes {
        return Ok(());
    }
    let growing = current < bytes;
    tracing::info!(
        from_mib = current / 1024 / 1024,
        to_mib = mib,
        "resizing the InnoDB buffer pool"
    );
    load::exec(
        conn,
        &format!("SET GLOBAL innodb_buffer_pool_size = {bytes}"),
    )
    .await?;
    for _ in 0..600 {
        let now = buffer_pool_bytes(conn).await?;
        let status = scalar(
            conn,
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_BUFFER_POOL_RESIZE_STATUS'",
        )
        .await?
        .unwrap_or_default();
        let moved = if growing { now >= bytes } else { now < current };
        if moved && (status.is_empty() || status.contains("Completed")) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::warn!("the buffer pool resize did not report completion within 60 s; going on");
    Ok(())
}

/// Reads every table through its clustered index and each secondary index
/// before logging starts, so the first statements of the capture do not pay
/// for loading pages the later ones find in memory.
async fn warm_up(
    conn: &mut MySqlConnection,
    db: &str,
    tables: &[&str],
) -> Result<(), CaptureError> {
    let started = std::time::Instant::now();
    for &table in tables {
        let sql = format!(
            "SELECT DISTINCT index_name FROM information_schema.statistics WHERE table_schema = {} AND table_name = {}",
            quote(db),
            quote(table)
        );
        let indexes: Vec<String> = conn
            .fetch_all(AssertSqlSafe(sql.as_str()))
            .await
            .map_err(|e| CaptureError::sql(&sql, e))?
            .iter()
            .filter_map(|row| row.try_get::<String, _>(0).ok())
            .collect();
        for index in indexes {
            let sql = format!("SELECT COUNT(*) FROM `{table}` FORCE INDEX (`{index}`)");
            conn.fetch_all(AssertSqlSafe(sql.as_str()))
                .await
                .map_err(|e| CaptureError::sql(&sql, e))?;
        }
    }
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        "tables and indexes read into the buffer pool"
    );
    Ok(())
}

/// Runs the whole capture and writes the output files.
pub async fn run(config: &CaptureConfig) -> Result<CaptureSummary, CaptureError> {
    // Before anything slow: a capture that cannot write its files is lost.
    ensure_writable_dir(&config.out_dir)?;
    let admin_opts = stats::options(&config.url)?;
    let mut admin = MySqlConnection::connect_with(&admin_opts)
        .await
        .map_err(CaptureError::connect)?;
    let version = scalar(&mut admin, "SELECT VERSION()")
        .await?
        .unwrap_or_default();
    let flavor = if version.to_ascii_lowercase().contains("mariadb") {
        "mariadb"
    } else {
        "mysql"
    };
    tracing::info!(%version, "connected");

    let db = &config.database;
    let data_url_opts = admin_opts.clone().database(db);
    load::exec(&mut admin, &format!("CREATE DATABASE IF NOT EXISTS `{db}`")).await?;
    load::exec(&mut admin, &format!("USE `{db}`")).await?;
    let reload = load_dataset(config, &mut admin).await?;
    let mut table_rows = BTreeMap::new();
    for &table in config.workload.tables() {
        let n = scalar(
            &mut admin,
            &format!("SELECT CAST(COUNT(*) AS CHAR) FROM `{table}`"),
        )
        .await?
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
        table_rows.insert(table.to_string(), n);
    }
    let (_, column_stats) = stats::read_column_stats(&mut admin, db).await?;
    create_accounts(
        &mut admin,
        db,
        &config.workload_password,
        config.workload.profiles(),
    )
    .await?;

    let settings_before = read_settings(&mut admin).await?;
    if let Some(mib) = config.buffer_pool_mib {
        grow_buffer_pool(&mut admin, mib).await?;
    }
    warm_up(&mut admin, db, config.workload.tables()).await?;
    let datadir = scalar(&mut admin, "SELECT @@datadir")
        .await?
        .unwrap_or_default();
    let stamp = Utc::now().format("%Y%m%d%H%M%S");
    let capture_slow_file = format!("{datadir}qlat-capture-{stamp}-slow.log");

    let outcome = async {
        let sets = [
            "SET GLOBAL log_output = 'TABLE,FILE'".to_string(),
            format!(
                "SET GLOBAL slow_query_log_file = {}",
                quote(&capture_slow_file)
            ),
            "SET GLOBAL long_query_time = 0".to_string(),
            "SET GLOBAL min_examined_row_limit = 0".to_string(),
            "SET GLOBAL log_slow_admin_statements = ON".to_string(),
            "SET GLOBAL slow_query_log = ON".to_string(),
            "SET GLOBAL general_log = ON".to_string(),
        ];
        for sql in &sets {
            load::exec(&mut admin, sql).await?;
        }
        let settings_during = read_settings(&mut admin).await?;
        let started = scalar(&mut admin, "SELECT CAST(NOW(6) AS CHAR)")
            .await?
            .unwrap_or_default();
        let started_utc = Utc::now();
        let sessions = config.workload.sessions();
        let stats = tokio::select! {
            stats = run_workload(config, &data_url_opts, flavor, sessions.clone()) => stats,
            _ = tokio::signal::ctrl_c() => return Err(CaptureError::Interrupted),
        };
        let finished = scalar(&mut admin, "SELECT CAST(NOW(6) AS CHAR)")
            .await?
            .unwrap_or_default();
        Ok((
            settings_during,
            started,
            started_utc,
            finished,
            sessions.len(),
            stats,
        ))
    }
    .await;
    restore_settings(&mut admin, &settings_before).await;
    let (settings_during, started, started_utc, finished, sessions, stats) = outcome?;

    // The shop's export keeps only its own database's traffic: on a shared
    // server, other clients' statements land in the same global logs.
    let only_db = match config.workload {
        Workload::App(_) => Some(db.as_str()),
        Workload::Tpch(_) => None,
    };
    let window = Window {
        from: &started,
        to: &finished,
        only_db,
    };
    let slow = export_table(&mut admin, "slow_log", "start_time", &window).await?;
    let general = export_table(&mut admin, "general_log", "event_time", &window).await?;
    write_json_array(&config.out_dir.join("slow_log.json"), &slow)?;
    write_json_array(&config.out_dir.join("general_log.json"), &general)?;
    // The native file holds the same events as slow_log.json, so it goes
    // into a subfolder: `qlat analyze <out>` reads a folder without
    // recursing and must not count every statement twice.
    let native_dir = config.out_dir.join("native");
    std::fs::create_dir_all(&native_dir).map_err(|e| CaptureError::io(&native_dir, e))?;
    let slow_log_file = match std::fs::copy(&capture_slow_file, native_dir.join("slow.log")) {
        Ok(_) => {
            let _ = std::fs::remove_file(&capture_slow_file);
            Some("native/slow.log".to_string())
        }
        Err(e) => {
            tracing::warn!(
                file = %capture_slow_file, error = %e,
                "the native slow log stays on the server: copy it by hand if the server is remote"
            );
            None
        }
    };
    let _ = admin.close().await;

    let summary = CaptureSummary {
        server_version: version,
        server_flavor: flavor.to_string(),
        scale_factor: config.workload.scale(),
        seed: config.workload.seed(),
        started_at: started,
        finished_at: finished,
        duration_seconds: (Utc::now() - started_utc).num_milliseconds() as f64 / 1000.0,
        table_rows,
        column_stats,
        data_reloaded: reload,
        sessions,
        statements_sent: stats.sent.load(Ordering::Relaxed),
        statements_failed: stats.failed.load(Ordering::Relaxed),
        statements_prepared: stats.prepared.load(Ordering::Relaxed),
        pings: stats.pings.load(Ordering::Relaxed),
        statements_by_label: stats.by_label(),
        slow_log_rows: slow.len(),
        general_log_rows: general.len(),
        slow_log_file,
        settings_before,
        settings_during,
        config: config.clone(),
    };
    let path = config.out_dir.join("capture.json");
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(|e| CaptureError::io(&path, e))?;
    Ok(summary)
}

/// Creates `dir` and checks that a file can be written into it.
fn ensure_writable_dir(dir: &Path) -> Result<(), CaptureError> {
    std::fs::create_dir_all(dir).map_err(|e| CaptureError::io(dir, e))?;
    let probe = dir.join(format!(".qlat-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| CaptureError::io(dir, e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Creates and loads the dataset's tables unless TPC-H data of the same
/// scale factor is already there; returns whether it loaded.
async fn load_dataset(
    config: &CaptureConfig,
    admin: &mut MySqlConnection,
) -> Result<bool, CaptureError> {
    let url = connect_url(&config.url, &config.database);
    let spec = match &config.workload {
        Workload::App(spec) => {
            tracing::info!(rows_scale = spec.rows_scale, "loading the shop's data");
            app::data::create_schema(admin).await?;
            let ctx = app::data::Ctx::new(spec.seed, app::Sizes::at(spec.rows_scale));
            app::data::load_data(&url, Arc::new(ctx)).await?;
            analyze(admin, &app::TABLES).await?;
            return Ok(true);
        }
        Workload::Tpch(spec) => spec,
    };
    let loaded_sf = scalar(
        admin,
        "SELECT CAST(scale_factor AS CHAR) FROM qlat_capture_meta LIMIT 1",
    )
    .await
    .ok()
    .flatten()
    .and_then(|s| s.parse::<f64>().ok());
    if !config.reload && loaded_sf == Some(spec.scale_factor) {
        tracing::info!("reusing TPC-H data already loaded at this scale factor");
        load::exec(admin, "TRUNCATE TABLE qlat_scratch").await?;
        return Ok(false);
    }
    let ddl = match &config.ddl_path {
        Some(path) => std::fs::read_to_string(path).map_err(|e| CaptureError::io(path, e))?,
        None => TPCH_DDL.to_string(),
    };
    tracing::info!(scale_factor = spec.scale_factor, "loading TPC-H data");
    load::exec(admin, "DROP TABLE IF EXISTS qlat_capture_meta").await?;
    load::create_schema(admin, &ddl).await?;
    load::load_data(&url, spec.scale_factor).await?;
    analyze(admin, &load::TABLE_ORDER).await?;
    load::exec(
        admin,
        "CREATE TABLE qlat_capture_meta (scale_factor DOUBLE NOT NULL, loaded_at DATETIME NOT NULL)",
    )
    .await?;
    load::exec(
        admin,
        &format!(
            "INSERT INTO qlat_capture_meta VALUES ({}, NOW())",
            spec.scale_factor
        ),
    )
    .await?;
    Ok(true)
}

async fn analyze(conn: &mut MySqlConnection, tables: &[&str]) -> Result<(), CaptureError> {
    for table in tables {
        let sql = format!("ANALYZE TABLE `{table}`");
        conn.fetch_all(AssertSqlSafe(sql.as_str()))
            .await
            .map_err(|e| CaptureError::sql(&sql, e))?;
    }
    Ok(())
}

/// The URL of a loader connection to `db`: the server URL with its path
/// replaced, keeping credentials and query options.
fn connect_url(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

async fn create_accounts(
    conn: &mut MySqlConnection,
    db: &str,
    password: &str,
    profiles: &[Profile],
) -> Result<(), CaptureError> {
    for profile in profiles {
        let Some(user) = profile.user() else { continue };
        for host in ["localhost", "127.0.0.1", "%"] {
            load::exec(
                conn,
                &format!(
                    "CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY {}",
                    quote(password)
                ),
            )
            .await?;
            load::exec(
                conn,
                &format!("GRANT ALL PRIVILEGES ON `{db}`.* TO '{user}'@'{host}'"),
            )
            .await?;
        }
    }
    Ok(())
}

#[derive(Default)]
struct Stats {
    sent: AtomicU64,
    failed: AtomicU64,
    prepared: AtomicU64,
    pings: AtomicU64,
    labels: std::sync::Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    fn by_label(&self) -> BTreeMap<String, u64> {
        self.labels.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

async fn run_workload(
    config: &CaptureConfig,
    opts: &MySqlConnectOptions,
    flavor: &str,
    sessions: Vec<Session>,
) -> Arc<Stats> {
    let stats = Arc::new(Stats::default());
    let stretches = if config.concurrency_stretches.is_empty() {
        vec![1]
    } else {
        config.concurrency_stretches.clone()
    };
    let per = sessions.len().div_ceil(stretches.len()).max(1);
    let bar = Arc::new(crate::progress::Progress::bar(
        "workload",
        sessions.len() as u64,
        "sessions",
    ));
    let timeout_sql = if flavor == "mariadb" {
        format!(
            "SET SESSION max_statement_time = {}",
            config.statement_timeout.as_secs_f64()
        )
    } else {
        format!(
            "SET SESSION max_execution_time = {}",
            config.statement_timeout.as_millis()
        )
    };
    for (chunk, clients) in sessions.chunks(per).zip(stretches.iter().cycle()) {
        let queue: Arc<tokio::sync::Mutex<std::collections::VecDeque<Session>>> =
            Arc::new(tokio::sync::Mutex::new(chunk.iter().cloned().collect()));
        let mut workers = Vec::new();
        for _ in 0..*clients {
            let queue = queue.clone();
            let stats = stats.clone();
            let bar = Arc::clone(&bar);
            let opts = opts.clone();
            let password = config.workload_password.clone();
            let timeout_sql = timeout_sql.clone();
            workers.push(tokio::spawn(async move {
                loop {
                    let next = queue.lock().await.pop_front();
                    let Some(session) = next else { break };
                    let mut o = opts.clone();
                    if let Some(user) = session.profile.user() {
                        o = o.username(user).password(&password);
                    }
                    run_session(&o, &session, &timeout_sql, &stats).await;
                    bar.inc(1);
                    bar.set_message(format!(
                        "{} statements, {} failed",
                        stats.sent.load(Ordering::Relaxed),
                        stats.failed.load(Ordering::Relaxed)
                    ));
                }
            }));
        }
        for w in workers {
            let _ = w.await;
        }
    }
    if let Ok(bar) = Arc::try_unwrap(bar) {
        bar.finish();
    }
    stats
}

async fn run_session(
    opts: &MySqlConnectOptions,
    session: &Session,
    timeout_sql: &str,
    stats: &Stats,
) {
    let mut conn = match MySqlConnection::connect_with(opts).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, profile = ?session.profile, "session could not connect");
            stats.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let _ = conn.execute(AssertSqlSafe(timeout_sql)).await;
    for action in &session.actions {
        match action {
            Action::Ping => {
                stats.pings.fetch_add(1, Ordering::Relaxed);
                if conn.ping().await.is_err() {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Action::Sql { label, text } => {
                stats.sent.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut m) = stats.labels.lock() {
                    *m.entry(label.clone()).or_default() += 1;
                }
                // Results are read to the end, as a real client would, so the
                // logged time includes sending every row.
                if let Err(e) = conn.fetch_all(AssertSqlSafe(text.as_str())).await {
                    tracing::debug!(%label, error = %e, "statement failed");
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Action::Prepared {
                label,
                text,
                params,
            } => {
                stats.sent.fetch_add(1, Ordering::Relaxed);
                stats.prepared.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut m) = stats.labels.lock() {
                    *m.entry(label.clone()).or_default() += 1;
                }
                // sqlx prepares each text once per connection and executes
                // it with the bound values (binary protocol).
                let mut query = sqlx::query(AssertSqlSafe(text.as_str()));
                for p in params {
                    query = match p {
                        Param::Int(v) => query.bind(*v),
                        Param::Num(v) => query.bind(*v),
                        Param::Text(v) => query.bind(v.as_str()),
                    };
                }
                if let Err(e) = query.fetch_all(&mut conn).await {
                    tracing::debug!(%label, error = %e, "prepared statement failed");
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    let _ = conn.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loader_url_points_at_the_database() {
        assert_eq!(
            connect_url("mysql://root@127.0.0.1:3306", "tpch"),
            "mysql://root@127.0.0.1:3306/tpch"
        );
        assert_eq!(
            connect_url("mysql://u:p@h:1/other?ssl-mode=disabled", "tpch"),
            "mysql://u:p@h:1/tpch?ssl-mode=disabled"
        );
    }

    #[test]
    fn quoting_escapes() {
        assert_eq!(quote("a'b\\c"), r"'a''b\\c'");
    }
}
