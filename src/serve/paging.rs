//! Which page of a stored history a request asks for: the query-string
//! parameters, their limits, and their validation, shared by the JSON API
//! and the pages.

use super::error::ApiError;
use crate::store::predictions::ListFilter;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::Deserialize;

/// Which page of stored predictions.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// 1-based page number.
    pub page: Option<i64>,
    /// Rows per page (1–500, default 50).
    pub per_page: Option<i64>,
    /// Only this fingerprint: its query ID (`0x…`) or its text.
    pub fingerprint: Option<String>,
}

pub const MAX_PER_PAGE: i64 = 500;

/// A validated page request.
pub struct PageRequest {
    pub page: i64,
    pub per_page: i64,
    pub fingerprint: Option<String>,
}

impl PageRequest {
    pub fn filter(&self) -> ListFilter {
        ListFilter {
            fingerprint: self.fingerprint.clone(),
            limit: self.per_page,
            offset: (self.page - 1) * self.per_page,
        }
    }
}

pub fn page_request(
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<PageRequest, ApiError> {
    let Query(p) =
        params.map_err(|e| ApiError::bad_request("invalid_query_string", e.body_text()))?;
    let page = p.page.unwrap_or(1);
    let per_page = p.per_page.unwrap_or(50);
    if !(1..=1_000_000).contains(&page) {
        return Err(ApiError::unprocessable(
            "invalid_page",
            format!("page must be between 1 and 1000000, got {page}"),
        ));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::unprocessable(
            "invalid_per_page",
            format!("per_page must be between 1 and {MAX_PER_PAGE}, got {per_page}"),
        ));
    }
    Ok(PageRequest {
        page,
        per_page,
        fingerprint: p.fingerprint.filter(|f| !f.trim().is_empty()),
    })
}
