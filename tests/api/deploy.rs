//! The deployment files against the running server:
//! - every `qlat_*` metric the HPA, the adapter rule, the alerts and the
//!   dashboard use exists on `/metrics` (the manifests cannot drift from
//!   the code);
//! - the scaling signal, live: a real Prometheus scrapes the server while
//!   it takes ~30 req/s, the adapter rule's query (from the committed
//!   values file) reads ~30 per pod, and the HPA formula asks for more
//!   replicas; at ~5 req/s it does not.

use crate::support::serve::*;
use regex::Regex;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn repo(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

const MANIFESTS: [&str; 5] = [
    "k8s/hpa.yaml",
    "k8s/monitoring/prometheus-adapter-values.yaml",
    "k8s/monitoring/rules/qlat-alerts.rules.yaml",
    "k8s/monitoring/prometheusrule.yaml",
    "k8s/monitoring/grafana-dashboard-qlat.json",
];

/// Metric names the adapter *creates* (its `as:`), which Prometheus never
/// sees.
fn adapter_outputs() -> BTreeSet<String> {
    let values = repo("k8s/monitoring/prometheus-adapter-values.yaml");
    Regex::new(r#"as:\s*"?(qlat_[a-z0-9_]+)"?"#)
        .expect("regex")
        .captures_iter(&values)
        .map(|c| c[1].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_manifests_use_exists() {
    let token = Regex::new(r"qlat_[a-z0-9_]+").expect("regex");
    let derived = adapter_outputs();
    assert!(derived.contains("qlat_http_requests_per_second"));
    let mut used = BTreeSet::new();
    for file in MANIFESTS {
        for m in token.find_iter(&repo(file)) {
            if !derived.contains(m.as_str()) {
                used.insert(m.as_str().to_string());
            }
        }
    }
    assert!(used.len() >= 15, "found the metric names: {used:?}");
    // Issue #17: the calibration row of the dashboard and the coverage
    // alert read the live before/after metrics.
    let rules = repo("k8s/monitoring/rules/qlat-alerts.rules.yaml");
    let alert = rules
        .split("- alert: ")
        .find(|r| r.starts_with("QlatLiveIntervalCoverage"))
        .expect("the live coverage alert");
    assert!(
        alert.contains("qlat_live_interval_coverage") && alert.contains("for: 30m"),
        "{alert}"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&repo("k8s/monitoring/grafana-dashboard-qlat.json")).expect("json");
    let panels = dashboard["panels"].as_array().cloned().unwrap_or_default();
    let calibration_row = panels
        .iter()
        .position(|p| {
            p["type"] == "row"
                && p["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("Calibration"))
        })
        .expect("a Calibration row");
    let row_exprs: String = panels[calibration_row..]
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    for metric in ["qlat_live_interval_coverage", "qlat_live_bias_ln"] {
        assert!(
            row_exprs.contains(metric),
            "{metric} in the Calibration row"
        );
    }

    let db = TestDb::sqlite();
    let server = start(&db.url, &[]).await;
    let base = base(&server);
    // One prediction, so labelled families have a sample.
    let (status, _, _) = post_predict(&base, serde_json::json!({"query": Q6}).to_string()).await;
    assert_eq!(status, 200);
    let (_, text) = get_text(&format!("{base}/metrics")).await;
    let exposed: BTreeSet<String> = parse_prometheus(&text)
        .into_iter()
        .map(|(series, _)| series.split('{').next().unwrap_or("").to_string())
        .collect();
    for labels in [
        r#"qlat_live_interval_coverage{calibration="after",class="all"}"#,
        r#"qlat_live_bias_ln{calibration="before",class="slow"}"#,
    ] {
        assert!(text.contains(labels), "{labels} on /metrics");
    }
    let missing: Vec<&String> = used.iter().filter(|m| !exposed.contains(*m)).collect();
    assert!(
        missing.is_empty(),
        "used by the deployment files but not on /metrics: {missing:?}"
    );
    server.shutdown().await.expect("shutdown");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Prometheus binary, or `None` when it is not installed and not
/// required (`.ci/run` installs it and sets QLAT_REQUIRE_DEPLOY_TOOLS=1, so
/// CI never skips).
fn prometheus_binary() -> Option<String> {
    let bin = std::env::var("QLAT_PROMETHEUS").unwrap_or_else(|_| "/usr/bin/prometheus".into());
    if Path::new(&bin).exists() {
        return Some(bin);
    }
    assert!(
        std::env::var("QLAT_REQUIRE_DEPLOY_TOOLS").is_err(),
        "{bin} missing (Debian package prometheus; .ci/validate-deploy installs it)"
    );
    eprintln!("SKIPPED: {bin} not installed");
    None
}

/// Sends `rate` requests per second to /predict for `secs` seconds.
async fn drive(base: &str, rate: u32, secs: u64) -> usize {
    let client = client();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    let end = Instant::now() + Duration::from_secs(secs);
    let mut sent = Vec::new();
    let mut i = 0u64;
    while Instant::now() < end {
        tick.tick().await;
        i += 1;
        let req = client
            .post(format!("{base}/predict"))
            .json(&serde_json::json!({"query": format!("SELECT * FROM orders WHERE o_orderkey = {i}")}))
            .send();
        sent.push(tokio::spawn(async move {
            req.await.map(|r| r.status().as_u16())
        }));
    }
    let mut ok = 0;
    for s in sent {
        if let Ok(Ok(200)) = s.await {
            ok += 1;
        }
    }
    ok
}

async fn prom_query(prom: &str, query: &str) -> Option<f64> {
    let v: serde_json::Value = client()
        .get(format!("{prom}/api/v1/query"))
        .query(&[("query", query)])
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sees_the_request_rate_the_hpa_scales_on() {
    let Some(prometheus) = prometheus_binary() else {
        return;
    };
    // The adapter rule and the HPA target, from the committed files.
    let values = repo("k8s/monitoring/prometheus-adapter-values.yaml");
    let template = Regex::new(r"metricsQuery:\s*'([^']+)'")
        .expect("regex")
        .captures(&values)
        .map(|c| c[1].to_string())
        .expect("metricsQuery in the adapter values");
    let hpa = repo("k8s/hpa.yaml");
    let target: f64 = Regex::new(r#"averageValue:\s*"?([0-9.]+)"?"#)
        .expect("regex")
        .captures(&hpa)
        .and_then(|c| c[1].parse().ok())
        .expect("averageValue in the HPA");
    let min_replicas: f64 = Regex::new(r"minReplicas:\s*([0-9]+)")
        .expect("regex")
        .captures(&hpa)
        .and_then(|c| c[1].parse().ok())
        .expect("minReplicas in the HPA");
    // What the adapter sends Prometheus for pod qlat-0 in namespace qlat.
    let query = template
        .replace("<<.Series>>", "qlat_http_requests_total")
        .replace("<<.LabelMatchers>>", r#"namespace="qlat",pod=~"qlat-0""#)
        .replace("<<.GroupBy>>", "namespace,pod");

    let db = TestDb::sqlite();
    let server = start(&db.url, &[]).await;
    let base = base(&server);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: qlat\n    static_configs:\n      - targets: ['{}']\n        labels:\n          namespace: qlat\n          pod: qlat-0\n",
            server.addr
        ),
    )
    .expect("write config");
    let port = free_port();
    let prom_url = format!("http://127.0.0.1:{port}");
    let _prom = KillOnDrop(
        Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts"),
    );
    let mut up = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if prom_query(&prom_url, "up{job=\"qlat\"}").await == Some(1.0) {
            up = true;
            break;
        }
    }
    assert!(up, "Prometheus scrapes qlat");

    let observe = |label: &str, value: f64| {
        let desired = (min_replicas * value / target).ceil();
        eprintln!(
            "{label}: adapter query = {value:.2} req/s per pod; HPA desired = ceil({min_replicas} × {value:.2} / {target}) = {desired}"
        );
        desired
    };

    let ok = drive(&base, 30, 65).await;
    assert!(ok > 1800, "the server answered the load: {ok}");
    let high = prom_query(&prom_url, &query)
        .await
        .expect("a value at 30 req/s");
    assert!((25.0..=35.0).contains(&high), "≈30 req/s, got {high}");
    let desired = observe("30 req/s", high);
    assert!(desired > min_replicas, "scale out above 10 req/s per pod");

    let ok = drive(&base, 5, 65).await;
    assert!(ok > 300, "the server answered the load: {ok}");
    let low = prom_query(&prom_url, &query)
        .await
        .expect("a value at 5 req/s");
    assert!((3.5..=6.5).contains(&low), "≈5 req/s, got {low}");
    let desired = observe("5 req/s", low);
    assert!(desired <= min_replicas, "no scale out at 5 req/s");
    server.shutdown().await.expect("shutdown");
}
