//! The pipeline, seen from the server: runs and model versions as JSON and
//! as a page with a chart, and the pipeline's and live accuracy's numbers
//! on `/metrics`. The pipeline runs in its own process; everything here is
//! read from the shared database.

use super::error::{ApiError, ErrorBody};
use super::paging::MAX_PER_PAGE;
use super::state::AppState;
use crate::registry::status::{live_accuracy, pipeline_status};
use crate::registry::{ModelVersion, Registry, Run};
use crate::report::units::seconds;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use maud::{DOCTYPE, PreEscaped, html};
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RunsParams {
    /// Newest runs to list (1–500, default 50).
    pub limit: Option<i64>,
}

fn limit(params: Result<Query<RunsParams>, QueryRejection>) -> Result<i64, ApiError> {
    let Query(p) =
        params.map_err(|e| ApiError::bad_request("invalid_query_string", e.body_text()))?;
    let limit = p.limit.unwrap_or(50);
    if !(1..=MAX_PER_PAGE).contains(&limit) {
        return Err(ApiError::unprocessable(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_PER_PAGE}, got {limit}"),
        ));
    }
    Ok(limit)
}

fn registry_error(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "reading the registry");
    ApiError::unavailable(
        "database_unavailable",
        "the registry cannot be read now; the cause was logged",
        5,
    )
}

/// Runs and models: the JSON API and the `/runs` page.
pub(super) fn router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route("/api/runs", get(list_runs))
        .route("/api/runs/{id}", get(get_run))
        .route("/api/models", get(list_models))
        .route("/api/models/production", get(production_model))
        .route("/runs", get(runs_page))
}

/// Pipeline runs, newest first: status, decision and its reason, duration,
/// parameters, metrics, the model version or the error.
#[utoipa::path(get, path = "/api/runs", params(RunsParams), responses(
    (status = 200, description = "A JSON array of runs", content_type = "application/json"),
    (status = 400, description = "Malformed query string", body = ErrorBody),
    (status = 422, description = "limit out of range", body = ErrorBody),
    (status = 503, description = "The registry cannot be read now", body = ErrorBody)
))]
pub async fn list_runs(
    State(state): State<AppState>,
    params: Result<Query<RunsParams>, QueryRejection>,
) -> Result<Json<Vec<Run>>, ApiError> {
    let limit = limit(params)?;
    Registry::new(state.db.clone())
        .list_runs(limit)
        .await
        .map(Json)
        .map_err(registry_error)
}

/// One pipeline run by id.
#[utoipa::path(get, path = "/api/runs/{id}", params(("id" = String, Path, description = "The run's id")), responses(
    (status = 200, description = "The run", content_type = "application/json"),
    (status = 404, description = "No run with that id", body = ErrorBody),
    (status = 503, description = "The registry cannot be read now", body = ErrorBody)
))]
pub async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Run>, ApiError> {
    // No run id holds a control character (they are UUIDs); PostgreSQL
    // would refuse a NUL in the parameter with an error, not "no row".
    if id.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_run",
            "no run with that id",
        ));
    }
    Registry::new(state.db.clone())
        .get_run(&id)
        .await
        .map_err(registry_error)?
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_such_run",
                format!("no run {id:?}"),
            )
        })
}

/// Registered model versions with their aliases (`production`).
#[utoipa::path(get, path = "/api/models", responses(
    (status = 200, description = "A JSON array of model versions", content_type = "application/json"),
    (status = 503, description = "The registry cannot be read now", body = ErrorBody)
))]
pub async fn list_models(
    State(state): State<AppState>,
) -> Result<Json<Vec<ModelVersion>>, ApiError> {
    Registry::new(state.db.clone())
        .list_models()
        .await
        .map(Json)
        .map_err(registry_error)
}

/// The model version the `production` alias points at.
#[utoipa::path(get, path = "/api/models/production", responses(
    (status = 200, description = "The production model version", content_type = "application/json"),
    (status = 404, description = "No model promoted yet", body = ErrorBody),
    (status = 503, description = "The registry cannot be read now", body = ErrorBody)
))]
pub async fn production_model(
    State(state): State<AppState>,
) -> Result<Json<ModelVersion>, ApiError> {
    Registry::new(state.db.clone())
        .production()
        .await
        .map_err(registry_error)?
        .map(Json)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no_production_model",
                "no model version has been promoted yet (the server answers with its artifacts directory)",
            )
        })
}

/// One test metric of the run's candidate (the algorithm the run compared),
/// from `metrics.candidate.<algorithm>.metrics.<name>`.
fn run_metric(run: &Run, name: &str) -> Option<f64> {
    // The candidate's algorithm: chosen on validation since issue #16
    // (`params.algorithm` is then `auto`), pinned in runs before it.
    let algorithm = run
        .metrics
        .get("comparison")
        .and_then(|c| c.get("algorithm"))
        .or_else(|| run.params.get("algorithm"))?
        .as_str()?;
    run.metrics
        .get("candidate")?
        .get(algorithm)?
        .get("metrics")?
        .get(name)?
        .as_f64()
}

const Q_P90: &str = "q_error_p90";
const Q_P50: &str = "q_error_p50";
const MSE: &str = "mse_ln";

/// The runs as an HTML page: charts of the test metrics across runs, the
/// runs table, the model versions.
#[utoipa::path(get, path = "/runs", params(RunsParams), responses(
    (status = 200, description = "HTML page", content_type = "text/html"),
    (status = 400, description = "Malformed query string", body = ErrorBody),
    (status = 422, description = "limit out of range", body = ErrorBody),
    (status = 503, description = "The registry cannot be read now", body = ErrorBody)
))]
pub async fn runs_page(
    State(state): State<AppState>,
    params: Result<Query<RunsParams>, QueryRejection>,
) -> Result<Html<String>, ApiError> {
    let limit = limit(params)?;
    let registry = Registry::new(state.db.clone());
    let mut runs = registry.list_runs(limit).await.map_err(registry_error)?;
    let models = registry.list_models().await.map_err(registry_error)?;
    let production = models
        .iter()
        .find(|m| m.is_production())
        .map(|m| m.version.clone());
    runs.reverse();
    let labels: Vec<String> = (1..=runs.len()).map(|i| i.to_string()).collect();
    let series = |name: &str| runs.iter().map(|r| run_metric(r, name)).collect::<Vec<_>>();
    // Two charts, one scale each: q-error is a ratio (≥ 1), MSE(ln) a
    // squared log error; on one axis the smaller one reads as flat.
    let mut q_chart = crate::report::charts::runs_chart(
        &labels,
        &[
            ("q-error p50", series(Q_P50)),
            ("q-error p90", series(Q_P90)),
        ],
    );
    q_chart.title = "q-error of each run's candidate (test split)".into();
    q_chart.how_to_read =
        "Each point is one run's candidate on its test split; lower is better, 1 is perfect.";
    let mut mse_chart = crate::report::charts::runs_chart(&labels, &[("MSE(ln)", series(MSE))]);
    mse_chart.title = "MSE(ln) of each run's candidate (test split)".into();
    mse_chart.how_to_read = "Mean squared error of ln seconds on the test split; lower is better.";
    let svgs: Vec<String> = [q_chart, mse_chart]
        .iter()
        .map(|chart| {
            crate::report::charts::render_svg(chart).unwrap_or_else(|e| {
                tracing::error!("drawing the runs chart: {e}");
                String::new()
            })
        })
        .collect();
    runs.reverse();
    let served = state.model();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "qlat — pipeline runs" }
                style { (PreEscaped(crate::report::html::CSS)) "td.t{white-space:nowrap}" (PreEscaped(CHARTS_CSS)) }
            }
            body {
                (super::page::nav())
                h1 { "Pipeline runs" }
                p.how {
                    "Every run of " code { "qlat pipeline" } ", newest first. Production: "
                    code { (production.as_deref().unwrap_or("none promoted yet")) }
                    " · this server answers with " code { (served.version) } " (" (served.algorithm) ")."
                }
                div.charts id="run-charts" {
                    @for svg in &svgs { figure { (PreEscaped(svg)) } }
                }
                table id="runs" {
                    thead { tr {
                        th { "#" } th { "started (UTC)" } th.num { "duration" } th { "status" } th { "decision" }
                        th { "model version" } th.num { "q-error p50" } th.num { "q-error p90" } th.num { "MSE(ln)" } th { "reason / error" }
                    } }
                    tbody {
                        @for (i, r) in runs.iter().enumerate() {
                            tr data-id=(r.id) {
                                td.num { a href=(format!("/api/runs/{}", r.id)) { (runs.len() - i) } }
                                td.t { (r.started_at.format("%Y-%m-%d %H:%M:%S")) }
                                td.num { (r.duration_seconds.map(seconds).unwrap_or_default()) }
                                td { (r.status.as_str()) }
                                td { (r.decision.map(|d| d.as_str()).unwrap_or("")) }
                                td { code { (r.model_version.as_deref().unwrap_or("")) } }
                                td.num { (fmt3(run_metric(r, Q_P50))) }
                                td.num { (fmt3(run_metric(r, Q_P90))) }
                                td.num { (fmt3(run_metric(r, MSE))) }
                                // The decision's reason (why a candidate was
                                // rejected or refused), or why the run failed.
                                td.reason { (r.error.as_deref().or(r.reason.as_deref()).unwrap_or("")) }
                            }
                        }
                    }
                }
                h2 { "Model versions" }
                table id="models" {
                    thead { tr { th { "version" } th { "algorithm" } th { "created (UTC)" } th { "run" } th { "aliases" } } }
                    tbody {
                        @for m in &models {
                            tr {
                                td { code { (m.version) } }
                                td { (m.algorithm) }
                                td.t { (m.created_at.format("%Y-%m-%d %H:%M:%S")) }
                                td { a href=(format!("/api/runs/{}", m.run_id)) { code { (m.run_id) } } }
                                td { (m.aliases.join(", ")) }
                            }
                        }
                    }
                }
                p { a href="/api/runs" { "runs as JSON" } " · " a href="/api/models" { "models as JSON" } " · " a href="/predictions" { "predictions" } }
            }
        }
    };
    Ok(Html(page.into_string()))
}

const CHARTS_CSS: &str = "div.charts{display:flex;flex-wrap:wrap;gap:1em}div.charts figure{flex:1 1 30em;margin:0 0 1em}nav.top{margin:0 0 1em}nav.top a{margin-right:1em}";

fn fmt3(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.3}")).unwrap_or_default()
}

/// Keeps the pipeline and live-accuracy metrics current, every `every`.
pub fn spawn_refresher(
    state: AppState,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen_runs: HashMap<String, i64> = HashMap::new();
        let mut seen_matched = 0u64;
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            let m = &state.metrics.pipeline;
            match pipeline_status(&state.db).await {
                Ok(status) => {
                    // Every replica follows the registry, not only the one a
                    // pipeline's notification happened to reach.
                    if !state.config.ignore_registry
                        && let Some(production) = &status.production_version
                        && *production != state.model().version
                    {
                        tracing::info!(%production, serving = %state.model().version, "production model changed; reloading");
                        let _ = state.reload().await;
                    }
                    for (outcome, n) in &status.runs_by_status {
                        let before = seen_runs.insert(outcome.clone(), *n).unwrap_or(0);
                        if *n > before {
                            m.runs
                                .with_label_values(&[outcome.as_str()])
                                .inc_by((*n - before) as u64);
                        }
                    }
                    if let Some(last) = &status.last_run {
                        if let Some(d) = last.duration_seconds {
                            m.last_duration.set(d);
                        }
                        if let Some(end) = last.ended_at {
                            m.last_timestamp.set(end.timestamp_millis() as f64 / 1000.0);
                        }
                    }
                    for name in super::metrics::PIPELINE_METRICS {
                        if let Some(v) = status.last_metrics.get(&format!("test_{name}")) {
                            m.last_metric.with_label_values(&[name]).set(*v);
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "pipeline status unavailable"),
            }
            match live_accuracy(&state.db).await {
                Ok(live) => {
                    if live.matched > seen_matched {
                        m.live_matched.inc_by(live.matched - seen_matched);
                    }
                    seen_matched = live.matched;
                    for (q, v) in [("0.5", live.q_error_p50), ("0.9", live.q_error_p90)] {
                        m.live_q_error
                            .with_label_values(&[q])
                            .set(v.unwrap_or(f64::NAN));
                    }
                    for c in &live.by_class {
                        for (when, v) in [("after", c.after), ("before", c.before)] {
                            m.live_bias
                                .with_label_values(&[c.class.as_str(), when])
                                .set(v.map_or(f64::NAN, |v| v.mean_ln_error));
                            m.live_coverage
                                .with_label_values(&[c.class.as_str(), when])
                                .set(v.map_or(f64::NAN, |v| v.coverage));
                        }
                    }
                }
                Err(e) => tracing::debug!(error = %e, "live accuracy unavailable"),
            }
        }
    })
}
