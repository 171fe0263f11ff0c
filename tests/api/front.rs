//! The front page and honest answers, over HTTP against a real SQLite store:
//! a statement asked on `/` is answered through the path of `POST /predict`
//! (stored, counted), text that is not SQL is answered with low confidence
//! and marked on the pages, bad input gets a 4xx page, a link from another
//! site predicts nothing, and every route the OpenAPI document lists answers.

use crate::support::serve::*;
use serde_json::json;

const NONSENSE: &str = "hello world this is not sql !!! ;;;";

fn predictions_total(metrics: &str) -> f64 {
    parse_prometheus(metrics)
        .iter()
        .filter(|(s, _)| s.starts_with("qlat_predictions_total"))
        .map(|(_, v)| v)
        .sum()
}

async fn stored(base: &str) -> i64 {
    let (_, page) = get_json(&format!("{base}/api/predictions")).await;
    page["total"].as_i64().expect("total")
}

async fn get_page(url: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut r = client().get(url);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().await.expect("request sent");
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, kind, r.text().await.expect("body"))
}

fn url(base: &str, q: &str) -> String {
    let mut u = reqwest::Url::parse(&format!("{base}/")).expect("url");
    u.query_pairs_mut().append_pair("q", q);
    u.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_that_is_not_sql_is_answered_with_low_confidence() {
    let db = TestDb::sqlite();
    let server = start(&db.url, &[]).await;
    let base = base(&server);

    let (status, sql, _) = post_predict(&base, json!({ "query": Q6 }).to_string()).await;
    assert_eq!(status, 200, "{sql}");
    assert_eq!(sql["parsed"], true);
    assert_eq!(sql["low_confidence"], false, "{sql}");

    let (status, p, _) = post_predict(&base, json!({ "query": NONSENSE }).to_string()).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["parsed"], false);
    assert_eq!(p["low_confidence"], true, "{p}");
    for key in qlat::predict::RESPONSE_FIELDS {
        assert!(p.get(key).is_some(), "{key} still answered: {p}");
    }
    let probs: Vec<f64> = ["fast", "medium", "slow"]
        .iter()
        .map(|c| p["class_probabilities"][c].as_f64().unwrap_or(f64::NAN))
        .collect();
    for v in &probs {
        assert!(
            (0.16..=0.84).contains(v),
            "no extreme class probability for text that is not SQL: {p}"
        );
    }
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{p}");
    let (p10, median, p90) = (
        p["interval"]["p10"].as_f64().unwrap_or(f64::NAN),
        p["predicted_seconds"].as_f64().unwrap_or(f64::NAN),
        p["interval"]["p90"].as_f64().unwrap_or(f64::NAN),
    );
    assert!(
        p10 <= median / 9.99 && p90 >= median * 9.99,
        "a wide interval (at least 10x either side): {p}"
    );

    // The batch answers the same, and the stored row keeps the flag.
    let (_, batch, _) = post_predict(&base, json!({ "queries": [NONSENSE, Q6] }).to_string()).await;
    assert_eq!(batch["predictions"][0]["low_confidence"], true);
    assert_eq!(batch["predictions"][1]["low_confidence"], false);
    let (_, page) = get_json(&format!("{base}/api/predictions")).await;
    let rows = page["predictions"].as_array().cloned().unwrap_or_default();
    let flagged = rows
        .iter()
        .filter(|r| r["low_confidence"] == true && r["query"] == NONSENSE)
        .count();
    assert_eq!(flagged, 2, "{page}");

    // The predictions page marks the rows that did not parse.
    let (status, _, html) = get_page(&format!("{base}/predictions"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches("data-parsed=\"false\"").count(), 2, "{html}");
    assert!(html.contains("class=\"unparsed\">not parsed<"), "{html}");
    assert!(
        html.contains("href=\"/runs\""),
        "/predictions links to /runs"
    );
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_page_predicts_through_the_api_path() {
    let db = TestDb::sqlite();
    let server = start(&db.url, &["--max-query-bytes", "2000"]).await;
    let base = base(&server);

    let (status, kind, html) = get_page(&format!("{base}/"), &[]).await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(html.contains("<form class=\"ask\" method=\"get\" action=\"/\">"));
    assert!(html.contains("<textarea name=\"q\""));
    for link in ["/predictions", "/runs", "/metrics", "/api/openapi.json"] {
        assert!(
            html.contains(&format!("href=\"{link}\"")),
            "links to {link}"
        );
    }
    assert!(
        !html.contains("id=\"answer\""),
        "no answer without a question"
    );
    assert_eq!(stored(&base).await, 0);

    let (_, metrics) = get_text(&format!("{base}/metrics")).await;
    let before = predictions_total(&metrics);
    let (status, _, html) = get_page(&url(&base, Q6), &[("sec-fetch-site", "same-origin")]).await;
    assert_eq!(status, 200, "{html}");
    for part in [
        "id=\"predicted\"",
        "id=\"interval\"",
        "id=\"probabilities\"",
        "id=\"explanation\"",
        "data-parsed=\"true\"",
        "data-low-confidence=\"false\"",
        "id=\"model\"",
    ] {
        assert!(html.contains(part), "{part} in the answer");
    }
    assert!(!html.contains("id=\"caution\""));
    assert_eq!(stored(&base).await, 1, "stored before it was shown");
    let (_, metrics) = get_text(&format!("{base}/metrics")).await;
    assert_eq!(predictions_total(&metrics), before + 1.0, "counted");
    assert!(
        metrics.contains("route=\"/\""),
        "the front page is its own route in the HTTP metrics"
    );
    let (_, page) = get_json(&format!("{base}/api/predictions")).await;
    let id = page["predictions"][0]["id"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    assert!(html.contains(&id), "the page names the stored row {id}");

    let (status, _, html) = get_page(&url(&base, NONSENSE), &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"caution\""), "{html}");
    assert!(html.contains("data-parsed=\"false\""));
    assert!(html.contains("data-low-confidence=\"true\""));
    assert_eq!(stored(&base).await, 2);

    // A link from another site shows the statement but predicts nothing.
    let (status, _, html) = get_page(&url(&base, Q6), &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"notice\"") && !html.contains("id=\"answer\""));
    assert!(html.contains("lineitem"), "the statement is in the form");
    assert_eq!(stored(&base).await, 2, "nothing stored");

    // Bad input: a 4xx page saying why, nothing stored, no panic.
    for (q, status, code) in [
        ("", 422, "empty_query"),
        ("   ", 422, "empty_query"),
        (&"x".repeat(2001)[..], 422, "query_too_long"),
    ] {
        let (got, kind, html) = get_page(&url(&base, q), &[]).await;
        assert_eq!(got, status, "{html}");
        assert!(kind.starts_with("text/html"), "{kind}");
        assert!(html.contains(&format!("data-code=\"{code}\"")), "{html}");
    }
    let (got, _, html) = get_page(&format!("{base}/?q=a&q=b"), &[]).await;
    assert!((400..500).contains(&got), "{got} {html}");
    assert_eq!(stored(&base).await, 2);

    // /runs links back, and draws q-error and MSE(ln) on charts of their own.
    let (status, _, html) = get_page(&format!("{base}/runs"), &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/predictions\"") && html.contains("href=\"/\""));
    assert_eq!(
        html.matches("<svg").count(),
        2,
        "two charts, one scale each"
    );
    server.shutdown().await.expect("shutdown");
}

/// The other half of `openapi.rs`'s test (every routed path is documented):
/// every documented path is routed, i.e. does not fall through to the
/// router's `not_found`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served() {
    let db = TestDb::sqlite();
    let server = start(&db.url, &[]).await;
    let base = base(&server);
    let (status, doc) = get_json(&format!("{base}/api/openapi.json")).await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for required in [
        "/",
        "/predictions",
        "/runs",
        "/api/runs",
        "/api/models",
        "/api/runs/{id}",
    ] {
        assert!(paths.contains_key(required), "{required} documented");
    }
    for (path, methods) in &paths {
        let concrete = path.replace("{id}", "no-such-run");
        for method in methods
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let r = client()
                .request(
                    method.to_uppercase().parse().expect("method"),
                    format!("{base}{concrete}"),
                )
                .send()
                .await
                .expect("request sent");
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert!(
                !body.contains("\"not_found\"") && status != 405,
                "{method} {path} is documented but not served: {status} {body}"
            );
        }
    }
    server.shutdown().await.expect("shutdown");
}
