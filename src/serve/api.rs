//! Routes and handlers. Every answer, errors included, is JSON except the
//! HTML pages and the Prometheus text.

use super::error::{ApiError, ErrorBody};
use super::lanes::LaneError;
use super::paging::{ListParams, PageRequest, page_request};
use super::state::AppState;
use super::{StoreQuery, page};
use crate::predict::PredictResponse;
use crate::store::predictions::{self, PredictionRecord};
use crate::store::writer::{Ack, SubmitError};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The JSON API and its neighbours in this file: predictions (asked,
/// listed and browsed), health, metrics and the model reload.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/predict", post(predict))
        .route("/health_check", get(health_check))
        .route("/health_check/live", get(health_live))
        .route("/metrics", get(metrics_text))
        .route("/predictions", get(predictions_page))
        .route("/api/predictions", get(list_predictions))
        .route("/admin/reload", post(admin_reload))
}

/// `{"query": "..."}` for one statement or `{"queries": [...]}` for a batch.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PredictRequest {
    pub query: Option<String>,
    pub queries: Option<Vec<String>>,
}

/// A batch's answers, in the order asked.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchResponse {
    pub predictions: Vec<PredictResponse>,
}

fn body_error(state: &AppState, rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "request body is over the limit of {} bytes",
                state.config.max_body_bytes
            ),
        )
    } else {
        ApiError::bad_request("unreadable_body", rejection.body_text())
    }
}

fn parse_request(body: &[u8]) -> Result<PredictRequest, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let expected = r#"expected {"query": "<SQL>"} or {"queries": ["<SQL>", ...]}"#;
        match e.classify() {
            serde_json::error::Category::Data => {
                ApiError::bad_request("wrong_shape", format!("{e}; {expected}"))
            }
            _ => ApiError::bad_request(
                "invalid_json",
                format!("request body is not valid JSON: {e}; {expected}"),
            ),
        }
    })
}

fn check_query(state: &AppState, q: &str, label: &str) -> Result<(), ApiError> {
    if q.trim().is_empty() {
        return Err(ApiError::unprocessable(
            "empty_query",
            format!("{label} is empty"),
        ));
    }
    if q.len() > state.config.max_query_bytes {
        return Err(ApiError::unprocessable(
            "query_too_long",
            format!(
                "{label} is {} bytes, over the limit of {}",
                q.len(),
                state.config.max_query_bytes
            ),
        ));
    }
    Ok(())
}

fn store_error(e: SubmitError) -> ApiError {
    match e {
        SubmitError::Full(_) => ApiError::unavailable("store_full", e.to_string(), 1),
        SubmitError::Closed => ApiError::unavailable("shutting_down", e.to_string(), 2),
        SubmitError::Unavailable => ApiError::unavailable("store_unavailable", e.to_string(), 5),
    }
}

fn record(state: &AppState, query: String, answer: &PredictResponse) -> PredictionRecord {
    let id = uuid::Uuid::now_v7().to_string();
    let mut response = answer.clone();
    response.id = Some(id.clone());
    let query = match state.config.store_query {
        StoreQuery::Text => query,
        StoreQuery::Fingerprint => response.fingerprint.clone(),
    };
    PredictionRecord {
        id,
        created_at_us: chrono::Utc::now().timestamp_micros(),
        query,
        response,
    }
}

fn lane_error(e: LaneError) -> ApiError {
    match e {
        LaneError::Busy => ApiError::unavailable("busy", e.to_string(), 1),
        LaneError::OverBudget(_) => ApiError::unavailable("over_budget", e.to_string(), 2),
        LaneError::Failed => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed while answering; the failure was logged",
        ),
    }
}

/// A body must say it is JSON: a cross-site HTML form can only send
/// `text/plain`, `multipart/form-data` or `application/x-www-form-urlencoded`,
/// so this also keeps other sites from storing predictions through a
/// visitor's browser.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match media.as_deref() {
        Some("application/json") => Ok(()),
        Some(m) if m.starts_with("application/") && m.ends_with("+json") => Ok(()),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "the body must be JSON with Content-Type: application/json (got {})",
                other.unwrap_or("no Content-Type")
            ),
        )),
    }
}

fn store_header(acks: &[Ack]) -> &'static str {
    if acks.iter().all(|a| *a == Ack::Stored) {
        "stored"
    } else {
        "buffered"
    }
}

/// Predict the latency of one statement or a batch.
///
/// Every answer is durable before it is returned; `id` is the stored row's
/// id. The `X-Qlat-Store` header says `stored` (committed) or `buffered`
/// (in the fsynced spool while the database refuses writes; replayed into
/// it when it takes them again). The body must be `application/json`.
#[utoipa::path(
    post,
    path = "/predict",
    request_body = PredictRequest,
    responses(
        (status = 200, description = "One prediction, or {\"predictions\": [...]} for a batch", body = PredictResponse),
        (status = 400, description = "Not JSON, or not the expected shape", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 422, description = "Empty or over-long query, empty or over-long batch", body = ErrorBody),
        (status = 503, description = "Prediction store full or unavailable, too many statements being analysed, over the time budget, or server stopping; see Retry-After", body = ErrorBody)
    )
)]
pub(super) async fn predict(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let body = body.map_err(|r| body_error(&state, r))?;
    if state.stopping() {
        return Err(store_error(SubmitError::Closed));
    }
    let request = parse_request(&body)?;
    let model = state.model();
    match (request.query, request.queries) {
        (Some(query), None) => {
            let (response, ack) = predict_one(&state, query, "query").await?;
            Ok(([("x-qlat-store", store_header(&[ack]))], Json(response)).into_response())
        }
        (None, Some(queries)) => {
            if queries.is_empty() {
                return Err(ApiError::unprocessable("empty_batch", "queries is empty"));
            }
            if queries.len() > state.config.max_batch {
                return Err(ApiError::unprocessable(
                    "batch_too_large",
                    format!(
                        "queries holds {} statements, over the limit of {}",
                        queries.len(),
                        state.config.max_batch
                    ),
                ));
            }
            for (i, q) in queries.iter().enumerate() {
                check_query(&state, q, &format!("queries[{i}]"))?;
            }
            let bytes = queries.iter().map(String::len).sum();
            let answers = state
                .lanes
                .run(bytes, move || {
                    queries
                        .into_iter()
                        .map(|q| {
                            let a = model.predict(&q);
                            (q, a)
                        })
                        .collect::<Vec<_>>()
                })
                .await
                .map_err(lane_error)?;
            let records: Vec<PredictionRecord> = answers
                .into_iter()
                .map(|(q, a)| record(&state, q, &a))
                .collect();
            let responses: Vec<PredictResponse> =
                records.iter().map(|r| r.response.clone()).collect();
            let acks = state
                .writer
                .submit_many(records)
                .await
                .map_err(store_error)?;
            for r in &responses {
                state
                    .metrics
                    .observe_prediction(r.class.as_str(), r.predicted_seconds);
            }
            Ok((
                [("x-qlat-store", store_header(&acks))],
                Json(BatchResponse {
                    predictions: responses,
                }),
            )
                .into_response())
        }
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "wrong_shape",
            "give either \"query\" or \"queries\", not both",
        )),
        (None, None) => Err(ApiError::bad_request(
            "wrong_shape",
            r#"missing "query" (one statement) or "queries" (a batch)"#,
        )),
    }
}

/// One statement through the whole path of `POST /predict`: checked,
/// analysed on a lane, stored (acknowledged means durable), counted in the
/// metrics. The front page answers through it too, so both store and count
/// alike. `label` names the statement in error messages.
pub(super) async fn predict_one(
    state: &AppState,
    query: String,
    label: &str,
) -> Result<(PredictResponse, Ack), ApiError> {
    if state.stopping() {
        return Err(store_error(SubmitError::Closed));
    }
    check_query(state, &query, label)?;
    let model = state.model();
    let (query, answer) = state
        .lanes
        .run(query.len(), move || {
            let a = model.predict(&query);
            (query, a)
        })
        .await
        .map_err(lane_error)?;
    let rec = record(state, query, &answer);
    let response = rec.response.clone();
    let ack = state.writer.submit(rec).await.map_err(store_error)?;
    state
        .metrics
        .observe_prediction(response.class.as_str(), response.predicted_seconds);
    Ok((response, ack))
}

/// Readiness and what the server runs.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// "ok", "degraded" (the database is unreachable or refuses writes, or
    /// acknowledged predictions wait in the spool) or "stopping".
    pub status: String,
    pub ready: bool,
    pub model_version: String,
    pub algorithm: String,
    /// The artifacts directory, or the registry's production version.
    pub model_source: String,
    pub database: String,
    pub database_reachable: bool,
    pub store_queue_depth: usize,
    pub store_buffered: i64,
    pub uptime_seconds: f64,
    pub version: String,
}

/// Readiness: 200 when the model is loaded, the database answers and takes
/// writes, and nothing waits in the spool; 503 otherwise (the body says why).
#[utoipa::path(get, path = "/health_check", responses(
    (status = 200, description = "Ready", body = Health),
    (status = 503, description = "Not ready (database unreachable or stopping)", body = Health)
))]
pub(super) async fn health_check(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let reachable = tokio::time::timeout(Duration::from_secs(2), state.db.ping())
        .await
        .unwrap_or(false);
    let stopping = state.stopping();
    // Ready only while predictions go straight into the database: not
    // while writes fail or acknowledged records wait in the spool.
    let writes = state.writer.healthy();
    let ready = reachable && writes && !stopping;
    let status = if stopping {
        "stopping"
    } else if ready {
        "ok"
    } else {
        "degraded"
    };
    state.metrics.ready.set(i64::from(ready));
    let model = state.model();
    let health = Health {
        status: status.to_string(),
        ready,
        model_version: model.version.clone(),
        algorithm: model.algorithm.clone(),
        model_source: model.source.clone(),
        database: state.db.backend().to_string(),
        database_reachable: reachable,
        store_queue_depth: state.writer.depth(),
        store_buffered: state.writer.spooled() as i64,
        uptime_seconds: state.started.elapsed().as_secs_f64(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(health))
}

/// Liveness: 200 while the process answers at all. Not tied to the
/// database, so an outage does not make the orchestrator restart healthy
/// servers.
#[utoipa::path(get, path = "/health_check/live", responses((status = 200, description = "Alive")))]
pub(super) async fn health_live(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "alive",
        "uptime_seconds": state.started.elapsed().as_secs_f64(),
    }))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub(super) async fn metrics_text(State(state): State<AppState>) -> Response {
    state
        .metrics
        .uptime
        .set(state.started.elapsed().as_secs_f64());
    state
        .metrics
        .writer()
        .queue_depth
        .set(state.writer.depth() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// One stored prediction: when, the statement, and the answer as it was
/// given (its `id` is the stored row's, once: the answer carries it).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredPrediction {
    pub created_at: String,
    pub query: String,
    #[serde(flatten)]
    pub prediction: PredictResponse,
}

/// A page of stored predictions, newest first.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PredictionsPage {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub predictions: Vec<StoredPrediction>,
}

async fn load_page(
    state: &AppState,
    req: &PageRequest,
) -> Result<(i64, Vec<PredictionRecord>), ApiError> {
    let filter = req.filter();
    let db_error = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "reading predictions");
        ApiError::unavailable(
            "database_unavailable",
            "the stored predictions cannot be read now; the cause was logged",
            5,
        )
    };
    let total = predictions::count(&state.db, &filter)
        .await
        .map_err(db_error)?;
    let rows = predictions::list(&state.db, &filter)
        .await
        .map_err(db_error)?;
    Ok((total, rows))
}

/// Stored predictions as JSON, newest first.
#[utoipa::path(get, path = "/api/predictions", params(ListParams), responses(
    (status = 200, description = "A page of stored predictions", body = PredictionsPage),
    (status = 400, description = "Malformed query string", body = ErrorBody),
    (status = 422, description = "Page or page size out of range", body = ErrorBody)
))]
pub(super) async fn list_predictions(
    State(state): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<PredictionsPage>, ApiError> {
    let req = page_request(params)?;
    let (total, rows) = load_page(&state, &req).await?;
    Ok(Json(PredictionsPage {
        total,
        page: req.page,
        per_page: req.per_page,
        predictions: rows
            .into_iter()
            .map(|r| {
                let created_at = r.created_at();
                let mut prediction = r.response;
                prediction.id = Some(r.id);
                StoredPrediction {
                    created_at,
                    query: r.query,
                    prediction,
                }
            })
            .collect(),
    }))
}

/// The stored predictions as an HTML table, newest first.
#[utoipa::path(get, path = "/predictions", params(ListParams), responses(
    (status = 200, description = "HTML page", content_type = "text/html"),
    (status = 400, description = "Malformed query string", body = ErrorBody),
    (status = 422, description = "Page or page size out of range", body = ErrorBody)
))]
pub(super) async fn predictions_page(
    State(state): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Html<String>, ApiError> {
    let req = page_request(params)?;
    let (total, rows) = load_page(&state, &req).await?;
    Ok(Html(page::predictions(&req, total, &rows).into_string()))
}

/// Reloads the model from the artifacts (`Authorization: Bearer <QLAT_ADMIN_TOKEN>`).
#[utoipa::path(post, path = "/admin/reload", responses(
    (status = 200, description = "Reloaded; body names the version now served"),
    (status = 401, description = "Missing or wrong token", body = ErrorBody),
    (status = 404, description = "No admin token configured", body = ErrorBody),
    (status = 500, description = "Reload failed; the previous model keeps serving", body = ErrorBody)
))]
pub(super) async fn admin_reload(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Some(expected) = state
        .config
        .admin_token
        .as_deref()
        .filter(|t| !t.is_empty())
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "admin_disabled",
            "the admin endpoint is off (set QLAT_ADMIN_TOKEN to enable it)",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong bearer token",
        ));
    }
    let previous = state.model().version.clone();
    match state.reload().await {
        Ok(model) => Ok(Json(serde_json::json!({
            "reloaded": true,
            "previous_version": previous,
            "model_version": model.version,
            "algorithm": model.algorithm,
        }))),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "reload_failed",
            format!("{e}; still serving {previous}"),
        )),
    }
}

/// Compares secrets without an early exit, so response time does not tell
/// how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_secrets() {
        assert!(constant_time_eq(b"token", b"token"));
        assert!(!constant_time_eq(b"token", b"tokem"));
        assert!(!constant_time_eq(b"token", b"token2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn request_shapes() {
        assert!(parse_request(br#"{"query":"SELECT 1"}"#).is_ok());
        let e = parse_request(br#"{"query":1}"#).err().map(|e| e.code);
        assert_eq!(e, Some("wrong_shape"));
        let e = parse_request(b"{\"query\":").err().map(|e| e.code);
        assert_eq!(e, Some("invalid_json"));
        let e = parse_request(br#"{"sql":"SELECT 1"}"#)
            .err()
            .map(|e| e.code);
        assert_eq!(e, Some("wrong_shape"));
    }
}
