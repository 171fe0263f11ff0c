//! The pages in a real browser (headless Debian Chromium): after some
//! predictions the predictions page lists them, and a statement carrying
//! `<script>` or an `onerror` handler is shown as text, never run; the
//! front page answers a TPC-H query and a nonsense string.

use crate::support::serve::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Chromium, or `None` when it is not installed and not required
/// (`.ci/run` installs it and sets QLAT_REQUIRE_CHROMIUM=1).
fn chromium() -> Option<PathBuf> {
    let bin = PathBuf::from(
        std::env::var("QLAT_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
    );
    if bin.exists() {
        return Some(bin);
    }
    assert!(
        std::env::var("QLAT_REQUIRE_CHROMIUM").is_err(),
        "{} missing (Debian package chromium)",
        bin.display()
    );
    eprintln!("SKIPPED: {} not installed", bin.display());
    None
}

fn headless(bin: &Path, profile: &Path) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--virtual-time-budget=3000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

const HOSTILE: &str = "SELECT '<script>document.title=\"pwned\";document.body.setAttribute(\"data-pwned\",\"1\")</script>' FROM orders";
const HOSTILE_IMG: &str = "SELECT '<img src=x onerror=\"document.body.setAttribute(&quot;data-pwned-img&quot;,1)\">' FROM nation";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_page_in_chromium() {
    let Some(bin) = chromium() else {
        return;
    };
    let db = TestDb::sqlite();
    let server = start(&db.url, &[]).await;
    let base = base(&server);
    let queries = [
        Q6,
        "select c_name, sum(o_totalprice) from customer join orders on c_custkey = o_custkey group by c_name order by 2 desc limit 10",
        "SELECT 1",
        HOSTILE,
        HOSTILE_IMG,
    ];
    for q in queries {
        let (status, p, _) = post_predict(&base, json!({ "query": q }).to_string()).await;
        assert_eq!(status, 200, "{p}");
    }

    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("{base}/predictions");
    let out = tokio::task::spawn_blocking({
        let (bin, profile, url) = (bin.clone(), profile.path().to_owned(), url.clone());
        move || headless(&bin, &profile).arg("--dump-dom").arg(url).output()
    })
    .await
    .expect("join")
    .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && dom.contains("<table"),
        "chromium rendered the page: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // The DOM after scripts ran: the hostile statements are text nodes.
    assert!(
        dom.contains("<title>qlat — predictions</title>"),
        "title untouched"
    );
    let body_tag = dom
        .split("<body")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .expect("a body element");
    assert!(
        !body_tag.contains("pwned"),
        "no injected script or handler ran: <body{body_tag}>"
    );
    assert!(
        dom.contains("&lt;script&gt;document.title="),
        "the <script> is shown as text"
    );
    assert!(
        dom.contains("&lt;img src=x onerror="),
        "the <img> is shown as text"
    );
    assert!(!dom.contains("<script>"), "no script element in the page");
    assert!(dom.contains("5 predictions"));
    assert!(dom.contains("select c_name, sum(o_totalprice)"));
    let rows = dom.matches("<tr data-id=").count();
    assert_eq!(rows, 5, "one row per prediction");

    // A screenshot for people (kept under target/, copied to docs/ by hand).
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("predictions-page.png");
    let status = tokio::task::spawn_blocking({
        let (bin, profile, shot) = (bin.clone(), profile.path().to_owned(), shot.clone());
        move || {
            headless(&bin, &profile)
                .arg("--window-size=1400,900")
                .arg(format!("--screenshot={}", shot.display()))
                .arg(url)
                .output()
        }
    })
    .await
    .expect("join")
    .expect("chromium runs");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real PNG"
    );
    eprintln!("screenshot: {}", shot.display());
    server.shutdown().await.expect("shutdown");
}

/// Runs Chromium on `url`: `--dump-dom` (the DOM after load), or a
/// screenshot into `shot`.
async fn chromium_at(bin: &Path, profile: &Path, url: String, shot: Option<PathBuf>) -> String {
    let (bin, profile) = (bin.to_owned(), profile.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        let mut c = headless(&bin, &profile);
        match &shot {
            Some(shot) => c
                .arg("--window-size=1200,1100")
                .arg(format!("--screenshot={}", shot.display())),
            None => c.arg("--dump-dom"),
        };
        c.arg(url).output()
    })
    .await
    .expect("join")
    .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The front page's form is `GET /` with the statement in `q`; a browser
/// submitting it navigates to `/?q=<statement>`, which is what is loaded
/// here (headless Chromium without a driver cannot type into the form).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_page_in_chromium() {
    let Some(bin) = chromium() else {
        return;
    };
    let db = TestDb::sqlite();
    let server = start(&db.url, &[]).await;
    let base = base(&server);
    let profile = tempfile::tempdir().expect("profile dir");

    let dom = chromium_at(&bin, profile.path(), format!("{base}/"), None).await;
    assert!(
        dom.contains("<form class=\"ask\" method=\"get\" action=\"/\">"),
        "{dom}"
    );
    assert!(dom.contains("<textarea name=\"q\""), "{dom}");
    assert!(!dom.contains("id=\"answer\""));

    let ask = |q: &str| {
        let mut u = reqwest::Url::parse(&format!("{base}/")).expect("url");
        u.query_pairs_mut().append_pair("q", q);
        u.to_string()
    };
    let dom = chromium_at(&bin, profile.path(), ask(Q6), None).await;
    for part in [
        "id=\"predicted\"",
        "data-parsed=\"true\"",
        "id=\"explanation\"",
        "id=\"probabilities\"",
    ] {
        assert!(dom.contains(part), "{part} rendered: {dom}");
    }
    assert!(!dom.contains("id=\"caution\""));
    let nonsense = "hello world this is not sql !!! ;;;";
    let dom = chromium_at(&bin, profile.path(), ask(nonsense), None).await;
    assert!(dom.contains("id=\"caution\""), "{dom}");
    assert!(dom.contains("data-low-confidence=\"true\""), "{dom}");
    let (_, page) = get_json(&format!("{base}/api/predictions")).await;
    assert_eq!(page["total"], 2, "both answers were stored: {page}");

    for (name, q) in [
        ("front-page-tpch.png", Q6),
        ("front-page-nonsense.png", nonsense),
    ] {
        let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = std::fs::remove_file(&shot);
        chromium_at(&bin, profile.path(), ask(q), Some(shot.clone())).await;
        let png = std::fs::read(&shot).expect("screenshot written");
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 10_000,
            "a real PNG"
        );
        eprintln!("screenshot: {}", shot.display());
    }
    server.shutdown().await.expect("shutdown");
}
