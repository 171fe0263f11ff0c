//! `qlat serve` end to end: the server runs in-process on a random port
//! against a real SQLite file and a real PostgreSQL database, and is driven
//! over HTTP like any client would.

use crate::support::serve::*;
use serde_json::{Value, json};
use std::collections::HashSet;

/// Everything a client can do, against one database.
async fn exercise(db: &TestDb) {
    let server = start(
        &db.url,
        &[
            "--max-batch",
            "5",
            "--max-query-bytes",
            "2000",
            "--max-body-bytes",
            "20000",
        ],
    )
    .await;
    let base = base(&server);

    // One statement.
    let (status, p, headers) = post_predict(&base, json!({ "query": Q6 }).to_string()).await;
    assert_eq!(status, 200, "{p}");
    for key in qlat::predict::RESPONSE_FIELDS {
        assert!(p.get(key).is_some(), "{key} missing in {p}");
    }
    let seconds = p["predicted_seconds"].as_f64().expect("seconds");
    let (p10, p90) = (
        p["interval"]["p10"].as_f64().expect("p10"),
        p["interval"]["p90"].as_f64().expect("p90"),
    );
    assert!(seconds > 0.0 && p10 <= seconds && seconds <= p90, "{p}");
    assert!(["fast", "medium", "slow"].contains(&p["class"].as_str().unwrap_or("")));
    let probs: f64 = ["fast", "medium", "slow"]
        .iter()
        .map(|c| p["class_probabilities"][c].as_f64().unwrap_or(f64::NAN))
        .sum();
    assert!((probs - 1.0).abs() < 1e-6, "{p}");
    assert_eq!(p["parsed"], true);
    assert!(
        p["fingerprint"]
            .as_str()
            .unwrap_or("")
            .starts_with("select sum(l_extendedprice")
    );
    assert!(p["query_id"].as_str().unwrap_or("").starts_with("0x"));
    let explanation = p["explanation"].as_array().expect("explanation");
    assert!(!explanation.is_empty());
    let total: f64 = p["explanation_baseline"].as_f64().unwrap_or(f64::NAN)
        + explanation
            .iter()
            .map(|e| e["contribution"].as_f64().unwrap_or(f64::NAN))
            .sum::<f64>();
    assert!(
        (total - seconds.ln()).abs() < 1e-3,
        "contributions add up to ln(prediction): {total} vs {}",
        seconds.ln()
    );
    assert_eq!(
        headers
            .get("x-qlat-store")
            .map(|v| v.to_str().unwrap_or("")),
        Some("stored")
    );
    let single_id = p["id"].as_str().expect("stored id").to_string();

    // The same statement again: same answer (cached), new id.
    let (_, again, _) = post_predict(&base, json!({ "query": Q6 }).to_string()).await;
    assert_eq!(again["predicted_seconds"], p["predicted_seconds"]);
    assert_eq!(again["explanation"], p["explanation"]);
    assert_ne!(again["id"], p["id"]);

    // A batch answers in order, one stored id each.
    let batch = [
        "SELECT 1",
        Q6,
        "select count(*) from orders where o_orderdate >= '1995-01-01'",
    ];
    let (status, b, _) = post_predict(&base, json!({ "queries": batch }).to_string()).await;
    assert_eq!(status, 200, "{b}");
    let preds = b["predictions"].as_array().expect("predictions");
    assert_eq!(preds.len(), 3);
    assert_eq!(preds[0]["fingerprint"], "select ?");
    assert_eq!(preds[1]["query_id"], p["query_id"]);
    assert!(
        preds[2]["fingerprint"]
            .as_str()
            .unwrap_or("")
            .contains("from orders")
    );
    let ids: HashSet<&str> = preds.iter().filter_map(|x| x["id"].as_str()).collect();
    assert_eq!(ids.len(), 3);

    // Unparseable SQL is still predicted, from its tokens.
    let (status, u, _) = post_predict(
        &base,
        json!({ "query": "SELEKT frobnicate FROM WHERE ((" }).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{u}");
    assert_eq!(u["parsed"], false);
    assert!(u["predicted_seconds"].as_f64().unwrap_or(0.0) > 0.0);

    // Every error is JSON with a specific code.
    let long_query = format!("SELECT '{}'", "x".repeat(2100));
    let too_big_body = format!("{{\"query\": \"SELECT '{}'\"}}", "y".repeat(30_000));
    let cases: Vec<(String, u16, &str)> = vec![
        ("not json".into(), 400, "invalid_json"),
        ("{\"query\": ".into(), 400, "invalid_json"),
        ("".into(), 400, "invalid_json"),
        ("[1,2]".into(), 400, "wrong_shape"),
        (json!({"query": 5}).to_string(), 400, "wrong_shape"),
        (json!({"sql": "SELECT 1"}).to_string(), 400, "wrong_shape"),
        (json!({}).to_string(), 400, "wrong_shape"),
        (
            json!({"query": "SELECT 1", "queries": ["SELECT 2"]}).to_string(),
            400,
            "wrong_shape",
        ),
        (json!({"query": ""}).to_string(), 422, "empty_query"),
        (json!({"query": "   \n"}).to_string(), 422, "empty_query"),
        (
            json!({"query": long_query}).to_string(),
            422,
            "query_too_long",
        ),
        (json!({"queries": []}).to_string(), 422, "empty_batch"),
        (
            json!({"queries": vec!["SELECT 1"; 6]}).to_string(),
            422,
            "batch_too_large",
        ),
        (
            json!({"queries": ["SELECT 1", ""]}).to_string(),
            422,
            "empty_query",
        ),
        (too_big_body, 413, "body_too_large"),
    ];
    for (body, want_status, want_code) in &cases {
        let (status, e, headers) = post_predict(&base, body.clone()).await;
        let shown: String = body.chars().take(60).collect();
        assert_eq!(status, *want_status, "{shown}: {e}");
        assert_eq!(e["error"]["code"], *want_code, "{shown}: {e}");
        assert!(!e["error"]["message"].as_str().unwrap_or("").is_empty());
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap_or("")
                .starts_with("application/json"),
            "{shown}"
        );
    }
    let (status, e) = get_json(&format!("{base}/no/such/thing")).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, e) = get_json(&format!("{base}/predict")).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (status, e) = get_json(&format!("{base}/api/predictions?per_page=0")).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (422, Some("invalid_per_page"))
    );
    let (status, e) = get_json(&format!("{base}/api/predictions?page=abc")).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("invalid_query_string"))
    );

    // The history: every successful prediction, newest first.
    let (status, page) = get_json(&format!("{base}/api/predictions?per_page=100")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 6, "2 single + 3 batch + 1 unparsed: {page}");
    let rows = page["predictions"].as_array().expect("rows");
    assert_eq!(rows.len(), 6);
    // Each row names its id once (a JSON object with a key twice is read
    // differently by different parsers).
    let (_, text) = get_text(&format!("{base}/api/predictions?per_page=100")).await;
    assert_eq!(text.matches("\"id\":").count(), 6, "{text}");
    assert_eq!(rows[0]["query"], "SELEKT frobnicate FROM WHERE ((");
    assert_eq!(rows[0]["parsed"], false);
    let times: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["created_at"].as_str())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {times:?}"
    );
    let single = rows
        .iter()
        .find(|r| r["id"] == single_id.as_str())
        .expect("the first prediction is stored");
    assert_eq!(single["query"], Q6);
    assert_eq!(single["predicted_seconds"], p["predicted_seconds"]);
    assert_eq!(single["explanation"], p["explanation"]);
    assert_eq!(single["model_version"], p["model_version"]);

    // Filter by fingerprint (query ID), and paginate.
    let qid = p["query_id"].as_str().unwrap_or("");
    let (_, filtered) = get_json(&format!("{base}/api/predictions?fingerprint={qid}")).await;
    assert_eq!(filtered["total"], 3, "Q6 twice alone and once in the batch");
    let (_, page2) = get_json(&format!("{base}/api/predictions?per_page=4&page=2")).await;
    assert_eq!(page2["predictions"].as_array().map(Vec::len), Some(2));

    // The page shows them.
    let (status, html) = get_text(&format!("{base}/predictions")).await;
    assert_eq!(status, 200);
    assert!(html.contains("6 predictions"), "summary line");
    assert!(html.contains("SELEKT frobnicate FROM WHERE (("));
    assert!(html.contains(qid));
    let (_, html) = get_text(&format!("{base}/predictions?fingerprint={qid}")).await;
    assert!(html.contains("3 predictions"));
    assert!(!html.contains("SELEKT"));

    // Health.
    let (status, h) = get_json(&format!("{base}/health_check")).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!(h["status"], "ok");
    assert_eq!(h["ready"], true);
    assert_eq!(h["database_reachable"], true);
    assert_eq!(h["model_version"], p["model_version"]);
    let (status, live) = get_json(&format!("{base}/health_check/live")).await;
    assert_eq!((status, live["status"].as_str()), (200, Some("alive")));

    // Metrics parse as Prometheus text and count what happened.
    let (status, text) = get_text(&format!("{base}/metrics")).await;
    assert_eq!(status, 200);
    let samples = parse_prometheus(&text);
    let ok = metric(
        &samples,
        &[
            "qlat_http_requests_total{",
            "route=\"/predict\"",
            "status=\"200\"",
        ],
    );
    assert_eq!(ok, Some(4.0), "2 single + 1 batch + 1 unparsed");
    let bad = metric(
        &samples,
        &[
            "qlat_http_requests_total{",
            "route=\"/predict\"",
            "status=\"422\"",
        ],
    );
    assert_eq!(bad, Some(6.0));
    let classes: f64 = samples
        .iter()
        .filter(|(s, _)| s.starts_with("qlat_predictions_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(classes, 6.0);
    assert_eq!(
        metric(&samples, &["qlat_predicted_latency_seconds_count"]),
        Some(6.0)
    );
    assert_eq!(
        metric(&samples, &["qlat_store_records_written_total"]),
        Some(6.0)
    );
    assert_eq!(
        metric(&samples, &["qlat_store_write_failures_total"]),
        Some(0.0)
    );
    let version = p["model_version"].as_str().unwrap_or("");
    assert_eq!(
        metric(
            &samples,
            &["qlat_model_info{", &format!("version=\"{version}\"")]
        ),
        Some(1.0)
    );
    for name in [
        "qlat_http_request_duration_seconds_bucket",
        "qlat_process_cpu_usage_percent",
        "qlat_system_cpu_usage_percent",
        "qlat_process_resident_memory_bytes",
        "qlat_store_queue_depth",
        "qlat_uptime_seconds",
    ] {
        assert!(metric(&samples, &[name]).is_some(), "{name} on /metrics");
    }

    // OpenAPI.
    let (status, doc) = get_json(&format!("{base}/api/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap_or("").starts_with('3'));
    for path in [
        "/predict",
        "/health_check",
        "/api/predictions",
        "/admin/reload",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} in the OpenAPI document"
        );
    }
    assert!(
        doc["components"]["schemas"]
            .get("PredictResponse")
            .is_some()
    );

    let report = server.shutdown().await.expect("clean shutdown");
    assert_eq!(report.spooled, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_sqlite() {
    let db = TestDb::sqlite();
    exercise(&db).await;
    // What was stored survives a restart.
    let server = start(&db.url, &[]).await;
    let (_, page) = get_json(&format!("{}/api/predictions", base(&server))).await;
    assert_eq!(page["total"], 6);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_on_postgres() {
    let db = TestDb::postgres().await;
    exercise(&db).await;
    db.drop().await;
}

/// A database outage: predictions keep being answered while their records
/// fit in the buffer, health says degraded, and the records are written
/// once the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_buffers_and_catches_up() {
    let db = TestDb::postgres().await;
    let name = db.pg_name().expect("pg").to_string();
    let server = start(&db.url, &[]).await;
    let base = base(&server);
    let (status, _, _) = post_predict(&base, json!({"query": "SELECT 1"}).to_string()).await;
    assert_eq!(status, 200);

    TestDb::pg_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    TestDb::pg_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;

    let mut buffered_ids = Vec::new();
    for i in 0..5 {
        let (status, p, headers) = post_predict(
            &base,
            json!({"query": format!("SELECT {i} FROM orders")}).to_string(),
        )
        .await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(headers["x-qlat-store"], "buffered");
        buffered_ids.push(p["id"].as_str().unwrap_or_default().to_string());
    }
    let (status, h) = get_json(&format!("{base}/health_check")).await;
    assert_eq!(status, 503, "{h}");
    assert_eq!(h["status"], "degraded");
    assert_eq!(h["database_reachable"], false);
    let (_, text) = get_text(&format!("{base}/metrics")).await;
    let samples = parse_prometheus(&text);
    assert!(metric(&samples, &["qlat_store_write_failures_total"]).unwrap_or(0.0) >= 1.0);
    assert_eq!(
        metric(&samples, &["qlat_store_buffered_records"]),
        Some(5.0)
    );

    TestDb::pg_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    let mut total = Value::Null;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (status, page) = get_json(&format!("{base}/api/predictions")).await;
        if status == 200 && page["total"] == 6 {
            total = page["total"].clone();
            let stored: HashSet<String> = page["predictions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["id"].as_str().map(String::from))
                .collect();
            for id in &buffered_ids {
                assert!(
                    stored.contains(id),
                    "buffered {id} written after the outage"
                );
            }
            break;
        }
    }
    assert_eq!(
        total, 6,
        "the 5 buffered predictions were written after the outage"
    );
    let (status, h) = get_json(&format!("{base}/health_check")).await;
    assert_eq!((status, h["status"].as_str()), (200, Some("ok")));
    assert_eq!(server.shutdown().await.expect("shutdown").spooled, 0);
    db.drop().await;
}

/// A full queue answers 503 with Retry-After instead of dropping records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_store_answers_503_with_retry_after() {
    let db = TestDb::postgres().await;
    let name = db.pg_name().expect("pg").to_string();
    let server = start(
        &db.url,
        &["--queue-capacity", "2", "--buffer-capacity", "2"],
    )
    .await;
    let base = base(&server);
    TestDb::pg_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")).await;
    TestDb::pg_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await;
    let mut saw_503 = false;
    let mut acknowledged = 0;
    for i in 0..40 {
        let r = client()
            .post(format!("{base}/predict"))
            .json(&json!({"query": format!("SELECT {i}")}))
            .timeout(std::time::Duration::from_millis(300))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 503 => {
                assert!(r.headers().get("retry-after").is_some());
                let e: Value = r.json().await.expect("JSON");
                assert_eq!(e["error"]["code"], "store_full");
                saw_503 = true;
                break;
            }
            Ok(r) if r.status() == 200 => acknowledged += 1,
            // Waiting for the writer to take the record: not acknowledged.
            _ => {}
        }
    }
    assert!(saw_503, "a full store refuses with 503");
    assert!(
        acknowledged <= 2,
        "only what fits the buffer is acknowledged"
    );
    TestDb::pg_admin(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")).await;
    assert_eq!(server.shutdown().await.expect("shutdown").spooled, 0);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reload_needs_the_token_and_keeps_serving() {
    let db = TestDb::sqlite();
    let off = start(&db.url, &[]).await;
    let r = client()
        .post(format!("{}/admin/reload", base(&off)))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 404, "no token configured: endpoint off");
    off.shutdown().await.expect("shutdown");

    let server = start(&db.url, &["--admin-token", "s3cret-token"]).await;
    let base = base(&server);
    let reload = |token: Option<&'static str>| {
        let mut req = client().post(format!("{base}/admin/reload"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let r = reload(None).await.expect("sent");
    assert_eq!(r.status(), 401);
    let r = reload(Some("wrong-token!")).await.expect("sent");
    assert_eq!(r.status(), 401);
    let e: Value = r.json().await.expect("JSON");
    assert_eq!(e["error"]["code"], "unauthorized");

    // Reload while predictions are in flight: none fails.
    let load = {
        let base = base.clone();
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..200 {
                let (s, _, _) = post_predict(
                    &base,
                    json!({"query": format!("SELECT * FROM nation WHERE n_nationkey = {i}")})
                        .to_string(),
                )
                .await;
                statuses.push(s);
            }
            statuses
        })
    };
    let r = reload(Some("s3cret-token")).await.expect("sent");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["reloaded"], true);
    assert_eq!(
        body["model_version"], body["previous_version"],
        "same artifacts"
    );
    let statuses = load.await.expect("load task");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let (_, text) = get_text(&format!("{base}/metrics")).await;
    let samples = parse_prometheus(&text);
    assert_eq!(
        metric(
            &samples,
            &["qlat_model_reloads_total{", "outcome=\"success\""]
        ),
        Some(1.0)
    );
    server.shutdown().await.expect("shutdown");
}

/// Induced load makes the CPU-peak notifier fire: a WARN event, a metric,
/// and a JSON POST to a local webhook receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_peak_notifies_the_webhook() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let app = {
        let received = received.clone();
        axum::Router::new().route(
            "/hook",
            axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
                let received = received.clone();
                async move {
                    received.lock().expect("lock").push(v);
                    "ok"
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let db = TestDb::sqlite();
    let server = start(
        &db.url,
        &[
            "--cpu-peak-threshold",
            "30",
            "--cpu-peak-window",
            "1s",
            "--cpu-sample-interval",
            "200ms",
            "--cpu-webhook-url",
            &hook,
        ],
    )
    .await;

    // Burn the cores in this process (more threads than cores, so other
    // work on the machine cannot starve the burn below the threshold) (the server's process) until the
    // notification arrives, at most 20 s.
    let burn = Arc::new(AtomicBool::new(true));
    let burners: Vec<_> = (0..4)
        .map(|_| {
            let burn = burn.clone();
            std::thread::spawn(move || {
                let mut x = 0u64;
                while burn.load(Ordering::Relaxed) {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    std::hint::black_box(x);
                }
            })
        })
        .collect();
    let mut got = None;
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let Some(v) = received.lock().expect("lock").first().cloned() {
            got = Some(v);
            break;
        }
    }
    burn.store(false, Ordering::Relaxed);
    for b in burners {
        b.join().expect("burner");
    }
    let note = got.expect("the webhook received a CPU-peak notification");
    assert_eq!(note["alert"], "qlat_cpu_peak");
    assert_eq!(note["source"], "process");
    assert!(
        note["cpu_percent"].as_f64().unwrap_or(0.0) >= 30.0,
        "{note}"
    );
    assert_eq!(note["threshold_percent"], 30.0);
    let (_, text) = get_text(&format!("{}/metrics", base(&server))).await;
    let samples = parse_prometheus(&text);
    assert!(metric(&samples, &["qlat_cpu_peak_notifications_total"]).unwrap_or(0.0) >= 1.0);
    server.shutdown().await.expect("shutdown");
}
