//! Starting `qlat serve` in-process on a random port against a real
//! database, for the service's integration tests.

#![allow(dead_code)]

use qlat::serve::{RunningServer, ServeConfig};
use serde_json::Value;

pub const Q6: &str = "select sum(l_extendedprice * l_discount) as revenue from lineitem \
    where l_shipdate >= date '1994-01-01' and l_shipdate < date '1994-01-01' + interval '1' year \
    and l_discount between 0.06 - 0.01 and 0.06 + 0.01 and l_quantity < 24";

/// PostgreSQL on this machine (trust auth).
pub const PG_ADMIN_URL: &str = "postgres://root@127.0.0.1:5432/postgres";

/// A database for one test: an SQLite file in a temp dir, or a fresh
/// PostgreSQL database dropped by [`TestDb::drop`].
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("qlat.db").display());
        TestDb {
            url,
            pg_name: None,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> TestDb {
        let name = format!("qlat_test_{}", uuid::Uuid::now_v7().simple());
        let admin = sqlx::PgPool::connect(PG_ADMIN_URL)
            .await
            .expect("PostgreSQL on 127.0.0.1:5432 (start it: .ci/run does)");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        TestDb {
            url: format!("postgres://root@127.0.0.1:5432/{name}"),
            pg_name: Some(name),
            _dir: None,
        }
    }

    pub fn pg_name(&self) -> Option<&str> {
        self.pg_name.as_deref()
    }

    /// Runs one statement on the PostgreSQL admin database.
    pub async fn pg_admin(sql: &str) {
        let admin = sqlx::PgPool::connect(PG_ADMIN_URL)
            .await
            .expect("admin connection");
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&admin)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        admin.close().await;
    }

    pub async fn drop(self) {
        if let Some(name) = &self.pg_name {
            TestDb::pg_admin(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}

pub fn config(db_url: &str, extra: &[&str]) -> ServeConfig {
    let artifacts = concat!(env!("CARGO_MANIFEST_DIR"), "/artifacts");
    let mut args = vec![
        "--addr",
        "127.0.0.1:0",
        "--artifacts",
        artifacts,
        "--database-url",
        db_url,
    ];
    args.extend_from_slice(extra);
    ServeConfig::parse_from(args).expect("valid serve flags")
}

pub async fn start(db_url: &str, extra: &[&str]) -> RunningServer {
    qlat::serve::start(config(db_url, extra))
        .await
        .expect("server starts")
}

pub fn base(server: &RunningServer) -> String {
    format!("http://{}", server.addr)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client")
}

/// POSTs a raw body to /predict; returns status, headers' content type, JSON.
pub async fn post_predict(
    base: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = client()
        .post(format!("{base}/predict"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text}"));
    (status, json, headers)
}

pub async fn get_json(url: &str) -> (u16, Value) {
    let r = client().get(url).send().await.expect("request sent");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{url} status {status}: body is not JSON ({e}): {text}"));
    (status, json)
}

pub async fn get_text(url: &str) -> (u16, String) {
    let r = client().get(url).send().await.expect("request sent");
    (r.status().as_u16(), r.text().await.expect("body"))
}

/// Parses Prometheus text exposition strictly enough to catch a broken
/// page: every sample line is `name{labels} value` with a valid name and a
/// float value, and every sample's family was declared with `# TYPE`.
/// Returns (series with labels, value).
pub fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !n.starts_with(|c: char| c.is_ascii_digit())
    };
    let mut typed = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            let name = parts.next().unwrap_or("");
            let kind = parts.next().unwrap_or("");
            assert!(name_ok(name), "line {}: bad metric name in {line:?}", i + 1);
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "line {}: bad type in {line:?}",
                i + 1
            );
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("line {}: no value in {line:?}", i + 1));
        let name = series.split('{').next().unwrap_or("");
        assert!(name_ok(name), "line {}: bad name in {line:?}", i + 1);
        if series.contains('{') {
            assert!(
                series.ends_with('}'),
                "line {}: unclosed labels in {line:?}",
                i + 1
            );
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(
            typed.contains(family),
            "line {}: {name} has no # TYPE",
            i + 1
        );
        let v: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("line {}: bad value in {line:?}", i + 1)),
        };
        out.push((series.to_string(), v));
    }
    out
}

/// The value of the first series whose text contains every needle.
pub fn metric(samples: &[(String, f64)], needles: &[&str]) -> Option<f64> {
    samples
        .iter()
        .find(|(s, _)| needles.iter().all(|n| s.contains(n)))
        .map(|(_, v)| *v)
}
