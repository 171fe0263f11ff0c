//! The OpenAPI document at `/api/openapi.json`. It lists every route the
//! router serves — the JSON API, the HTML pages, health, metrics and the
//! document itself — and a test reads the router's source to keep it so:
//! a route added without its `#[utoipa::path]` fails the build's tests.

use super::api::{self, BatchResponse, Health, PredictRequest, PredictionsPage, StoredPrediction};
use super::error::ErrorBody;
use super::{front, runs};
use crate::predict::PredictResponse;
use axum::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "qlat",
        description = "Predicts SQL statement latency from text, learned from MySQL/MariaDB query logs. \
                       Pages (text/html) are listed beside the JSON API."
    ),
    paths(
        front::front_page,
        api::predict,
        api::health_check,
        api::health_live,
        api::list_predictions,
        api::predictions_page,
        api::admin_reload,
        api::metrics_text,
        openapi,
        runs::list_runs,
        runs::get_run,
        runs::list_models,
        runs::production_model,
        runs::runs_page
    ),
    components(schemas(
        PredictRequest,
        BatchResponse,
        PredictResponse,
        Health,
        PredictionsPage,
        StoredPrediction,
        ErrorBody
    ))
)]
pub struct ApiDoc;

/// The document's own route.
pub(super) fn router() -> axum::Router<super::state::AppState> {
    use axum::routing::get;
    axum::Router::new().route("/api/openapi.json", get(openapi))
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", responses(
    (status = 200, description = "The OpenAPI 3 document", content_type = "application/json")
))]
pub(super) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(method, path)` of every `.route(...)` in the route families'
    /// sources, in OpenAPI's spelling (`{id}` is the same in both).
    fn routed() -> Vec<(String, String)> {
        let source = [
            include_str!("api.rs"),
            include_str!("front.rs"),
            include_str!("runs.rs"),
            include_str!("openapi.rs"),
        ]
        .concat();
        let re = regex::Regex::new(r#"\.route\(\s*"([^"]+)",\s*(get|post|put|delete|patch)\("#)
            .expect("a valid pattern");
        re.captures_iter(&source)
            .map(|c| (c[2].to_string(), c[1].to_string()))
            .collect()
    }

    #[test]
    fn every_route_is_in_the_document() {
        let routes = routed();
        assert!(
            routes.len() >= 14,
            "the router's routes were found: {routes:?}"
        );
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        for (method, path) in &routes {
            assert!(
                doc["paths"][path][method].is_object(),
                "{} {path} is served but not in the OpenAPI document",
                method.to_uppercase()
            );
        }
        let documented: usize = doc["paths"]
            .as_object()
            .map(|p| {
                p.values()
                    .filter_map(|v| v.as_object())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        assert_eq!(
            documented,
            routes.len(),
            "nothing documented that is not served"
        );
    }
}
