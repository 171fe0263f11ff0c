//! Prometheus metrics. The names are a contract with the deployment files
//! (HPA, adapter rule, alerts, dashboard); a test checks every name they use
//! exists here.

use crate::store::writer::WriterMetrics;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{
    Encoder, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, Opts, Registry, TextEncoder,
};
use std::time::Instant;

/// Latency buckets for HTTP requests: sub-millisecond to the timeout.
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Predicted statement latency: the classes' range, 1 ms to minutes.
const PREDICTED_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The test metrics of a pipeline run exported as
/// `qlat_pipeline_last_metric{metric=…}`.
pub const PIPELINE_METRICS: [&str; 8] = [
    "mse_ln",
    "r2_ln",
    "mae_s",
    "rmse_s",
    "q_error_p50",
    "q_error_p90",
    "class_accuracy",
    "class_f1_macro",
];

#[derive(Clone)]
pub struct ServerMetrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub predictions: IntCounterVec,
    pub predicted_latency: Histogram,
    pub process_cpu: Gauge,
    pub system_cpu: Gauge,
    pub process_memory: IntGauge,
    pub system_memory_used: IntGauge,
    pub system_memory_total: IntGauge,
    pub cpu_peak_active: IntGauge,
    pub cpu_peak_notifications: IntCounter,
    model_info: GaugeVec,
    model_reloads: IntCounterVec,
    store: WriterMetrics,
    pub ready: IntGauge,
    pub uptime: Gauge,
    pub pipeline: PipelineMetrics,
}

/// What the pipeline and the live-accuracy join report, read from the
/// database (the pipeline runs in another process).
#[derive(Clone)]
pub struct PipelineMetrics {
    pub runs: IntCounterVec,
    pub last_duration: Gauge,
    pub last_timestamp: Gauge,
    pub last_metric: GaugeVec,
    pub live_q_error: GaugeVec,
    pub live_matched: IntCounter,
    /// Mean ln(predicted / observed) by observed class and calibration
    /// (`after`: as served, `before`: without the server calibration).
    pub live_bias: GaugeVec,
    /// Share of observed medians inside p10–p90, same labels.
    pub live_coverage: GaugeVec,
}

// Registration only fails on a duplicate or malformed name, which these
// fixed names are not; a failure would be a programming error caught by
// every test that starts a server.
fn register<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: T) -> T {
    if let Err(e) = r.register(Box::new(c.clone())) {
        tracing::error!("registering a metric: {e}");
    }
    c
}

trait ExpectValid<T> {
    fn expect_valid(self) -> T;
}

impl<T> ExpectValid<T> for Result<T, prometheus::Error> {
    fn expect_valid(self) -> T {
        match self {
            Ok(v) => v,
            Err(e) => unreachable!("metric definitions are constants: {e}"),
        }
    }
}

impl ServerMetrics {
    pub fn new() -> ServerMetrics {
        let r = Registry::new();
        let http_requests = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "qlat_http_requests_total",
                    "HTTP requests by route and status",
                ),
                &["method", "route", "status"],
            )
            .expect_valid(),
        );
        let http_duration = register(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "qlat_http_request_duration_seconds",
                    "HTTP request duration by route",
                )
                .buckets(HTTP_BUCKETS.to_vec()),
                &["method", "route"],
            )
            .expect_valid(),
        );
        let predictions = register(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "qlat_predictions_total",
                    "Predictions answered, by latency class",
                ),
                &["class"],
            )
            .expect_valid(),
        );
        let predicted_latency = register(
            &r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "qlat_predicted_latency_seconds",
                    "Predicted statement latency",
                )
                .buckets(PREDICTED_BUCKETS.to_vec()),
            )
            .expect_valid(),
        );
        let gauge = |name: &str, help: &str| register(&r, Gauge::new(name, help).expect_valid());
        let int_gauge =
            |name: &str, help: &str| register(&r, IntGauge::new(name, help).expect_valid());
        let counter =
            |name: &str, help: &str| register(&r, IntCounter::new(name, help).expect_valid());
        let process_cpu = gauge(
            "qlat_process_cpu_usage_percent",
            "CPU used by this process, percent of one core",
        );
        let system_cpu = gauge(
            "qlat_system_cpu_usage_percent",
            "CPU used on the machine, percent of all cores",
        );
        let process_memory = int_gauge(
            "qlat_process_resident_memory_bytes",
            "Resident memory of this process",
        );
        let system_memory_used = int_gauge(
            "qlat_system_memory_used_bytes",
            "Memory used on the machine",
        );
        let system_memory_total =
            int_gauge("qlat_system_memory_total_bytes", "Memory of the machine");
        let cpu_peak_active = int_gauge(
            "qlat_cpu_peak_active",
            "1 while CPU has stayed above the peak threshold for the window",
        );
        let cpu_peak_notifications = counter(
            "qlat_cpu_peak_notifications_total",
            "CPU peak notifications raised",
        );
        let model_info = register(
            &r,
            GaugeVec::new(
                Opts::new("qlat_model_info", "The model being served (value 1)"),
                &["version", "algorithm"],
            )
            .expect_valid(),
        );
        let model_reloads = register(
            &r,
            IntCounterVec::new(
                Opts::new("qlat_model_reloads_total", "Model reloads by outcome"),
                &["outcome"],
            )
            .expect_valid(),
        );
        let store = WriterMetrics {
            queue_depth: int_gauge(
                "qlat_store_queue_depth",
                "Predictions waiting to be written to the store",
            ),
            buffered: int_gauge(
                "qlat_store_buffered_records",
                "Acknowledged predictions in the durable spool while the store refuses writes",
            ),
            written: counter(
                "qlat_store_records_written_total",
                "Predictions the store confirmed as written",
            ),
            write_failures: counter(
                "qlat_store_write_failures_total",
                "Failed prediction-store transactions",
            ),
            dead_letters: counter(
                "qlat_store_dead_letters_total",
                "Predictions the store refused on their own account, kept in prediction_dead_letters",
            ),
        };
        for outcome in ["success", "failure"] {
            model_reloads.with_label_values(&[outcome]);
        }
        let pipeline = PipelineMetrics {
            runs: register(
                &r,
                IntCounterVec::new(
                    Opts::new("qlat_pipeline_runs_total", "Pipeline runs by outcome"),
                    &["outcome"],
                )
                .expect_valid(),
            ),
            last_duration: gauge(
                "qlat_pipeline_last_run_duration_seconds",
                "Duration of the last finished pipeline run",
            ),
            last_timestamp: gauge(
                "qlat_pipeline_last_run_timestamp_seconds",
                "When the last pipeline run finished (Unix time)",
            ),
            last_metric: register(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "qlat_pipeline_last_metric",
                        "Test metrics of the last successful pipeline run",
                    ),
                    &["metric"],
                )
                .expect_valid(),
            ),
            live_q_error: register(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "qlat_live_q_error",
                        "q-error of stored predictions against the times later logged for the same statements",
                    ),
                    &["quantile"],
                )
                .expect_valid(),
            ),
            live_matched: counter(
                "qlat_live_matched_predictions_total",
                "Stored predictions matched with a logged execution",
            ),
            live_bias: register(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "qlat_live_bias_ln",
                        "Mean ln(predicted / logged time) of matched predictions, by class of the logged time, before and after the server calibration",
                    ),
                    &["class", "calibration"],
                )
                .expect_valid(),
            ),
            live_coverage: register(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "qlat_live_interval_coverage",
                        "Share of matched predictions whose p10-p90 holds the logged time, by class of the logged time, before and after the server calibration",
                    ),
                    &["class", "calibration"],
                )
                .expect_valid(),
            ),
        };
        for outcome in ["succeeded", "failed", "crashed"] {
            pipeline.runs.with_label_values(&[outcome]);
        }
        // Families appear on /metrics before the first run (NaN = unknown
        // yet), so dashboards and alerts find them on a fresh server.
        for m in PIPELINE_METRICS {
            pipeline.last_metric.with_label_values(&[m]).set(f64::NAN);
        }
        for q in ["0.5", "0.9"] {
            pipeline.live_q_error.with_label_values(&[q]).set(f64::NAN);
        }
        for class in crate::registry::status::LIVE_CLASSES {
            for when in ["before", "after"] {
                pipeline
                    .live_bias
                    .with_label_values(&[class, when])
                    .set(f64::NAN);
                pipeline
                    .live_coverage
                    .with_label_values(&[class, when])
                    .set(f64::NAN);
            }
        }
        let ready = int_gauge("qlat_ready", "1 when the server is ready for traffic");
        let uptime = gauge("qlat_uptime_seconds", "Seconds since the server started");
        ServerMetrics {
            registry: r,
            http_requests,
            http_duration,
            predictions,
            predicted_latency,
            process_cpu,
            system_cpu,
            process_memory,
            system_memory_used,
            system_memory_total,
            cpu_peak_active,
            cpu_peak_notifications,
            model_info,
            model_reloads,
            store,
            ready,
            uptime,
            pipeline,
        }
    }

    pub fn writer(&self) -> WriterMetrics {
        self.store.clone()
    }

    /// The served model's identity, as `qlat_model_info{version,algorithm}`.
    pub fn set_model(&self, version: &str, algorithm: &str) {
        self.model_info.reset();
        self.model_info
            .with_label_values(&[version, algorithm])
            .set(1.0);
    }

    pub fn reload(&self, outcome: &str) {
        self.model_reloads.with_label_values(&[outcome]).inc();
    }

    pub fn observe_prediction(&self, class: &str, seconds: f64) {
        self.predictions.with_label_values(&[class]).inc();
        self.predicted_latency.observe(seconds);
    }

    /// The registry in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::error!("encoding metrics: {e}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for ServerMetrics {
    fn default() -> ServerMetrics {
        ServerMetrics::new()
    }
}

/// Counts and times every request by its route template (`/predict`, not
/// the raw path, so a scanner cannot blow up the label set).
pub async fn track(State(metrics): State<ServerMetrics>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics
        .http_requests
        .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
        .inc();
    metrics
        .http_duration
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    response
}
