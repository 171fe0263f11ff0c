//! No request can take the server down: deep expressions of every operator
//! the parser knows, answered within the budget; bodies that are not JSON;
//! pages that cannot be framed or made to run script; secrets kept out of
//! the store on request.

use crate::support::serve::*;
use proptest::prelude::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// Binary (and binary-looking) operators of MySQL/MariaDB SQL.
const OPERATORS: &[&str] = &[
    " DIV ",
    " MOD ",
    " XOR ",
    " AND ",
    " OR ",
    " && ",
    " || ",
    "+",
    "-",
    "*",
    "/",
    "%",
    " = ",
    " <=> ",
    " != ",
    " <> ",
    " < ",
    " <= ",
    " > ",
    " >= ",
    " << ",
    " >> ",
    " & ",
    " | ",
    " ^ ",
    " -> ",
    " ->> ",
    " := ",
    " LIKE ",
    " REGEXP ",
    " RLIKE ",
    " IS ",
    " COLLATE ",
    " SOUNDS LIKE ",
    " MEMBER OF ",
    " IN ",
];

/// Prefix forms that nest: each wraps what follows.
const PREFIXES: &[&str] = &["NOT ", "-", "~", "!", "BINARY ", "+"];

/// A statement whose expression is `depth` operators deep.
fn deep(kind: usize, depth: usize, op: usize) -> String {
    let mut s = String::from("select a");
    match kind % 5 {
        0 => {
            for i in 0..depth {
                s.push_str(OPERATORS[(op + i) % OPERATORS.len()]);
                s.push('a');
            }
        }
        1 => {
            s = String::from("select ");
            for i in 0..depth {
                s.push_str(PREFIXES[(op + i) % PREFIXES.len()]);
            }
            s.push('a');
        }
        2 => {
            s = String::from("select ");
            for _ in 0..depth {
                s.push_str("CASE WHEN a THEN ");
            }
            s.push('1');
            for _ in 0..depth {
                s.push_str(" END");
            }
        }
        3 => {
            s = String::from("select ");
            s.push_str(&"(".repeat(depth));
            s.push('a');
            s.push_str(&")".repeat(depth));
        }
        _ => {
            s.push_str(" from t where a in (select b from u where b in (");
            for _ in 0..depth / 8 {
                s.push_str("select c from v where c in (");
            }
            s.push('1');
            s.push_str(&")".repeat(depth / 8 + 2));
        }
    }
    s
}

/// The known killer: 3,000 `DIV`s (18 kB), alone and in a batch; the
/// server answers and lives on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_div_chain_is_answered_and_the_server_lives() {
    let db = TestDb::sqlite();
    let server = start(&db.url, &[]).await;
    let base = base(&server);
    let killer = format!("select a{}", " DIV a".repeat(3000));
    let (status, p, _) = post_predict(&base, json!({ "query": killer }).to_string()).await;
    assert_eq!(status, 200, "{p}");
    let (status, p, _) = post_predict(
        &base,
        json!({ "queries": ["SELECT 1", killer, format!("select a{}", " MOD a".repeat(16_000))] })
            .to_string(),
    )
    .await;
    assert_eq!(status, 200, "{p}");
    let (status, p, _) = post_predict(&base, json!({ "query": "SELECT 1" }).to_string()).await;
    assert_eq!(status, 200, "{p}");
    server.shutdown().await.expect("shutdown");
}

/// The whole request path over generated deep expressions: every answer is
/// 200 (or 422/503), none takes the process down, each comes within the
/// budget.
#[test]
fn deep_expressions_of_every_operator_are_answered_within_the_budget() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let db = TestDb::sqlite();
    let server = rt.block_on(start(&db.url, &["--request-budget", "2s"]));
    let base = base(&server);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(0usize..5, 1usize..6_000, 0usize..OPERATORS.len()),
            |(kind, depth, op)| {
                let q = deep(kind, depth, op);
                let t = Instant::now();
                let (status, body, _) =
                    rt.block_on(post_predict(&base, json!({ "query": q }).to_string()));
                let took = t.elapsed();
                prop_assert!(
                    [200, 422, 503].contains(&status),
                    "kind {kind} depth {depth}: {status} {body}"
                );
                prop_assert!(
                    took < Duration::from_secs(3),
                    "kind {kind} depth {depth}: {took:?}"
                );
                Ok(())
            },
        )
        .expect("every deep expression answered");
    let (status, _, _) = rt.block_on(post_predict(
        &base,
        json!({ "query": "SELECT 1" }).to_string(),
    ));
    assert_eq!(status, 200, "still serving");
    rt.block_on(server.shutdown()).expect("shutdown");
}

/// A body that does not say it is JSON is refused with 415 (a cross-site
/// form post cannot store predictions); pages carry security headers; a
/// bidi control shows as what it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_type_headers_and_hidden_characters() {
    let db = TestDb::sqlite();
    let server = start(&db.url, &[]).await;
    let base = base(&server);
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = client()
            .post(format!("{base}/predict"))
            .body(r#"{"query": "SELECT 1"}"#);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.expect("sent");
        assert_eq!(r.status(), 415, "{content_type:?}");
        let e: serde_json::Value = r.json().await.expect("JSON error");
        assert_eq!(e["error"]["code"], "unsupported_media_type");
    }
    let r = client()
        .post(format!("{base}/predict"))
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"query": "select 1 from t where a = 'abc\u202edcb'"}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);

    let r = client()
        .get(format!("{base}/predictions"))
        .send()
        .await
        .expect("page");
    let h = r.headers().clone();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().expect("csp");
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    let page = r.text().await.expect("html");
    assert!(
        !page.contains('\u{202e}'),
        "the raw bidi control is not on the page"
    );
    assert!(page.contains("U+202E"), "it is shown by name");
    server.shutdown().await.expect("shutdown");
}

/// `--store-query fingerprint` keeps literals (passwords) out of the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_can_be_kept_out_of_the_store() {
    let db = TestDb::sqlite();
    let server = start(&db.url, &["--store-query", "fingerprint"]).await;
    let base = base(&server);
    let q = "ALTER USER 'app'@'%' IDENTIFIED BY 'Hunter2!pw'";
    let (status, _, _) = post_predict(&base, json!({ "query": q }).to_string()).await;
    assert_eq!(status, 200);
    let (_, page) = get_text(&format!("{base}/predictions")).await;
    let (_, api) = get_text(&format!("{base}/api/predictions")).await;
    assert!(
        !page.contains("Hunter2") && !api.contains("Hunter2"),
        "{api}"
    );
    assert!(api.contains("identified by ?"), "{api}");
    server.shutdown().await.expect("shutdown");
}
