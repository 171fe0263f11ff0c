//! Telling running servers that production changed.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How one server answered `POST /admin/reload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyOutcome {
    pub url: String,
    pub ok: bool,
    /// HTTP status, when the server answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// POSTs `{base}/admin/reload` to every server, with the admin bearer
/// token when one is set. Failures are returned (and logged), never
/// raised: a server that is down will load the new production model when
/// it starts, and the promotion itself already happened.
pub async fn notify_reload(
    bases: &[String],
    token: Option<&str>,
    timeout: Duration,
) -> Vec<NotifyOutcome> {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            return bases
                .iter()
                .map(|b| NotifyOutcome {
                    url: b.clone(),
                    ok: false,
                    status: None,
                    error: Some(format!("HTTP client: {e}")),
                })
                .collect();
        }
    };
    let mut out = Vec::with_capacity(bases.len());
    for base in bases {
        let url = format!("{}/admin/reload", base.trim_end_matches('/'));
        let mut req = client.post(&url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let outcome = match req.send().await {
            Ok(resp) => {
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                NotifyOutcome {
                    url: url.clone(),
                    ok: status.is_success(),
                    status: Some(status.as_u16()),
                    error: (!status.is_success())
                        .then(|| body.chars().take(300).collect::<String>()),
                }
            }
            Err(e) => NotifyOutcome {
                url: url.clone(),
                ok: false,
                status: None,
                error: Some(e.to_string()),
            },
        };
        if outcome.ok {
            tracing::info!(step = "notify", url = %url, "server reloaded");
        } else {
            tracing::warn!(step = "notify", url = %url, status = ?outcome.status, error = ?outcome.error, "server did not reload; it keeps its model until it restarts or is told again");
        }
        out.push(outcome);
    }
    out
}
