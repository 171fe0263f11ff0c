//! `qlat serve`: the prediction service.
//!
//! One [`AppState`] holds everything a request needs — the hot-swappable
//! model, the prediction store's writer, the metrics — and is built once by
//! [`start`], which tests call too (on port 0) so they exercise exactly what
//! the binary runs.

mod api;
mod app;
mod cpu;
mod error;
mod front;
mod lanes;
mod metrics;
mod openapi;
mod page;
mod paging;
mod runs;
mod state;

pub use cpu::{CpuPeakConfig, CpuSource};
pub use error::{ApiError, PageError};
pub use metrics::ServerMetrics;
pub use openapi::ApiDoc;
pub use state::{AppState, ServedModel};

use crate::sql::catalog::Catalog;
use crate::store::writer::{StoreWriter, WriterConfig};
use crate::store::{Db, StoreError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Everything `qlat serve` can be told, from flags or the environment.
/// Deployment files rely on these names.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeConfig {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "QLAT_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Model directory written by `qlat train` (default: the per-user
    /// model, one installed beside the binary, else the built-in model).
    #[arg(long = "model", visible_alias = "artifacts", env = "QLAT_ARTIFACTS")]
    pub artifacts: Option<PathBuf>,
    /// Resolve statements against this schema instead of the one the model
    /// was trained with: a DDL / mysqldump file or mysql://user@host:port/db
    /// (read once at start); repeatable.
    #[arg(long = "schema", env = "QLAT_SCHEMA", value_delimiter = ',')]
    pub schema: Vec<String>,
    /// The catalog `--schema` describes, read by [`start`].
    #[arg(skip)]
    pub catalog: Option<Arc<Catalog>>,
    /// Which saved model answers: mlp, ridge, baseline or tiered.
    #[arg(long, env = "QLAT_ALGORITHM", default_value = "mlp")]
    pub algorithm: String,
    /// Where predictions are stored: sqlite://FILE (embedded) or
    /// postgres://… (shared by several replicas).
    #[arg(long, env = "QLAT_DATABASE_URL", default_value_t = crate::paths::default_database_url(), hide_env_values = true)]
    pub database_url: String,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "QLAT_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Longest statement accepted, in bytes.
    #[arg(long, env = "QLAT_MAX_QUERY_BYTES", default_value_t = 100_000)]
    pub max_query_bytes: usize,
    /// Most statements in one batch request.
    #[arg(long, env = "QLAT_MAX_BATCH", default_value_t = 100)]
    pub max_batch: usize,
    /// Predictions waiting to be written before requests get 503.
    #[arg(long, env = "QLAT_QUEUE_CAPACITY", default_value_t = 10_000)]
    pub queue_capacity: usize,
    /// Predictions kept in the durable spool while the database refuses
    /// writes; past it (or `--spool-max-bytes`) requests get 503.
    #[arg(long, env = "QLAT_BUFFER_CAPACITY", default_value_t = 100_000)]
    pub buffer_capacity: usize,
    /// Folder of the durable spool (fsynced files replayed into the database
    /// when it takes writes again, and after a restart). One subfolder per
    /// database URL. Give it a persistent volume in deployments.
    #[arg(long, env = "QLAT_SPOOL_DIR", default_value_os_t = std::env::temp_dir().join("qlat-spool"))]
    pub spool_dir: PathBuf,
    /// Largest size of this process's spool file, in bytes.
    #[arg(long, env = "QLAT_SPOOL_MAX_BYTES", default_value_t = 256 << 20)]
    pub spool_max_bytes: u64,
    /// What is stored of each statement: its `text`, or only its
    /// `fingerprint` (literals masked) for servers whose statements carry
    /// secrets (`IDENTIFIED BY '…'`).
    #[arg(long, env = "QLAT_STORE_QUERY", value_enum, default_value_t = StoreQuery::Text)]
    pub store_query: StoreQuery,
    /// Answers remembered per model (exact statement text); 0 turns the
    /// cache off.
    #[arg(long, env = "QLAT_CACHE_ENTRIES", default_value_t = 10_000)]
    pub cache_entries: usize,
    /// Bearer token for `POST /admin/reload`; unset disables the endpoint.
    #[arg(long, env = "QLAT_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// How long shutdown keeps trying to write buffered predictions.
    #[arg(long, env = "QLAT_DRAIN_TIMEOUT", default_value = "20s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
    /// Where the pipeline keeps promoted models (a directory, s3://… or a
    /// database URL). When the registry names a production model, the
    /// server answers with it, at start and on every reload; otherwise with
    /// `--artifacts`.
    #[arg(long, env = "QLAT_ARTIFACT_STORE", default_value_t = crate::paths::default_artifact_store(), hide_env_values = true)]
    pub artifact_store: String,
    /// Local copy of the production model downloaded from the store.
    #[arg(long, env = "QLAT_MODEL_CACHE", default_value_os_t = std::env::temp_dir().join("qlat-models"))]
    pub model_cache: PathBuf,
    /// Ignore the registry and always serve `--artifacts`.
    #[arg(long, env = "QLAT_IGNORE_REGISTRY")]
    pub ignore_registry: bool,
    /// How often pipeline and live-accuracy metrics are read from the
    /// database.
    #[arg(long, env = "QLAT_PIPELINE_METRICS_EVERY", default_value = "15s", value_parser = humantime::parse_duration)]
    pub pipeline_metrics_every: Duration,
    /// Longest a prediction request may wait for and spend in analysis
    /// before it is answered 503.
    #[arg(long, env = "QLAT_REQUEST_BUDGET", default_value = "2s", value_parser = humantime::parse_duration)]
    pub request_budget: Duration,
    #[command(flatten)]
    pub cpu: CpuPeakConfig,
}

impl ServeConfig {
    /// Parses flags the way `qlat serve` does (environment included);
    /// tests use it to start a server with a few flags changed.
    pub fn parse_from<I, T>(args: I) -> Result<ServeConfig, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            config: ServeConfig,
        }
        let args = std::iter::once(std::ffi::OsString::from("qlat-serve"))
            .chain(args.into_iter().map(Into::into));
        <Wrapper as clap::Parser>::try_parse_from(args).map(|w| w.config)
    }

    fn writer_config(&self) -> WriterConfig {
        WriterConfig {
            queue_capacity: self.queue_capacity,
            buffer_capacity: self.buffer_capacity,
            spool_max_bytes: self.spool_max_bytes,
            spool_dir: Some(crate::store::spool::folder_for(
                &self.spool_dir,
                &self.database_url,
            )),
            drain_deadline: self.drain_timeout,
            ..WriterConfig::default()
        }
    }
}

/// What the store keeps of a statement's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreQuery {
    /// The statement as sent.
    Text,
    /// Its fingerprint: literals replaced by `?`.
    Fingerprint,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("loading the model from {dir}: {source}")]
    Model {
        dir: PathBuf,
        #[source]
        source: state::ModelLoadError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Schema(#[from] crate::schema::SchemaError),
    #[error("listening on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
    #[error("starting the analysis threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// A started server: its address, and how to stop it.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<Result<ShutdownReport, ServeError>>,
}

/// What shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Acknowledged predictions left in the spool (the database still
    /// refused writes at the drain deadline); replayed at the next start.
    pub spooled: usize,
}

impl RunningServer {
    /// Stops accepting, finishes in-flight requests, drains the store.
    pub async fn shutdown(self) -> Result<ShutdownReport, ServeError> {
        let _ = self.stop.send(true);
        self.wait().await
    }

    /// Waits until the server stops by itself (a signal).
    pub async fn wait(self) -> Result<ShutdownReport, ServeError> {
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(ServeError::Io(std::io::Error::other(e))),
        }
    }

    /// Asks the server to stop without waiting.
    pub fn request_stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Loads the model, connects the store, binds, and serves in the
/// background until [`RunningServer::shutdown`] or SIGTERM/SIGINT.
pub async fn start(mut config: ServeConfig) -> Result<RunningServer, ServeError> {
    if !config.schema.is_empty() && config.catalog.is_none() {
        let sources: Vec<_> = config
            .schema
            .iter()
            .map(|s| crate::schema::SchemaSource::parse(s))
            .collect();
        config.catalog = Some(Arc::new(crate::schema::load(&sources, None).await?));
    }
    let metrics = ServerMetrics::new();
    let db = Db::connect(&config.database_url).await?;
    let model = state::load_current(&config, &db)
        .await
        .map_err(|(dir, source)| ServeError::Model { dir, source })?;
    metrics.set_model(&model.version, &model.algorithm);
    let writer = StoreWriter::start(db.clone(), config.writer_config(), metrics.writer());
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = listener.local_addr()?;
    let lanes = lanes::Lanes::new(config.request_budget)?;
    let state = AppState::new(Arc::new(config), model, db, writer, metrics, lanes);
    state.metrics.ready.set(1);
    let (stop, stop_rx) = watch::channel(false);
    let cpu_task = cpu::spawn_sampler(state.clone(), stop_rx.clone());
    let reload_task = spawn_sighup_reloader(state.clone(), stop_rx.clone());
    let refresh_task = runs::spawn_refresher(
        state.clone(),
        state.config.pipeline_metrics_every,
        stop_rx.clone(),
    );
    let app = app::router(state.clone());
    tracing::info!(
        %addr,
        model_version = %state.model().version,
        model_source = %state.model().source,
        algorithm = %state.model().algorithm,
        database = state.db.backend(),
        "listening"
    );
    let task_state = state.clone();
    let task = tokio::spawn(async move {
        let shutdown = shutdown_signal(stop_rx);
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await;
        task_state.set_stopping();
        tracing::info!(
            queued = task_state.writer.depth(),
            "stopped accepting; draining the prediction store"
        );
        let drained = task_state.writer.shutdown().await;
        cpu_task.abort();
        reload_task.abort();
        refresh_task.abort();
        task_state.db.close().await;
        tracing::info!(spooled = drained.spooled, "prediction store drained; bye");
        served?;
        Ok(ShutdownReport {
            spooled: drained.spooled,
        })
    });
    Ok(RunningServer {
        addr,
        state,
        stop,
        task,
    })
}

/// Runs until a signal stops the server; the CLI's `qlat serve`.
pub async fn run(config: ServeConfig) -> Result<ShutdownReport, ServeError> {
    start(config).await?.wait().await
}

/// A signal, or [`RunningServer::shutdown`].
async fn shutdown_signal(mut stop: watch::Receiver<bool>) {
    let requested = async {
        while stop.changed().await.is_ok() {
            if *stop.borrow() {
                return;
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        signal = crate::signal::stop_requested() => tracing::info!("{} received", signal.name()),
        _ = requested => tracing::info!("shutdown requested"),
    }
}

fn spawn_sighup_reloader(
    state: AppState,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let mut hup =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!("cannot listen for SIGHUP: {e}");
                        return;
                    }
                };
            loop {
                tokio::select! {
                    got = hup.recv() => {
                        if got.is_none() {
                            return;
                        }
                        tracing::info!("SIGHUP received; reloading the model");
                        let _ = state.reload().await;
                    }
                    _ = stop.changed() => return,
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (state, stop.changed().await);
        }
    })
}
