//! Stress benchmark of `qlat serve` (issue #19): what pathological requests
//! do to everyone else, and how much memory the server holds.
//!
//! Starts the release binary on loopback with an SQLite store in a temp
//! folder, then:
//! 1. *Worst-case load*: four clients send worst-case statements without
//!    pause (unique 12 kB `DIV` chains, 100 kB statements of 900-deep
//!    chains, 100 kB joins) for `QLAT_BENCH_SECONDS` (10); meanwhile a probe
//!    sends an ordinary `/predict` and a `/health_check/live` every 20 ms
//!    and reports their p50 / p99 / max. The same probe runs first on an idle
//!    server, for the ratio.
//! 2. *Memory*: `QLAT_BENCH_BIG` (30,000) distinct 50 kB statements, four at a
//!    time, then 15 s of unique small ones; the server's peak and current RSS
//!    (VmHWM / VmRSS) after each.
//!
//! `cargo bench --bench serve_stress`; prints numbers, asserts nothing.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let child = Command::new(env!("CARGO_BIN_EXE_qlat"))
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .args([
                "--artifacts",
                concat!(env!("CARGO_MANIFEST_DIR"), "/artifacts"),
            ])
            .arg("--database-url")
            .arg(format!(
                "sqlite://{}",
                dir.path().join("bench.db").display()
            ))
            .arg("--spool-dir")
            .arg(dir.path().join("spool"))
            .arg("--ignore-registry")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("qlat serve starts");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// (VmRSS, VmHWM) in MiB.
    fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
                / 1024.0
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{label:<28} n={:<5} p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    );
}

fn worst_case(i: usize) -> String {
    match i % 3 {
        0 => format!("select a{} /* {i} */", " DIV a".repeat(2000)),
        1 => {
            let chain = format!("a{}", " + a".repeat(900));
            let mut s = format!("select {i}");
            while s.len() < 95_000 {
                s.push_str(", ");
                s.push_str(&chain);
            }
            s
        }
        _ => {
            let mut s = format!("select {i} from t0");
            let mut k = 1;
            while s.len() < 95_000 {
                s.push_str(&format!(" join t{k} on t{k}.id = t{}.id", k - 1));
                k += 1;
            }
            s
        }
    }
}

async fn probe(
    client: &reqwest::Client,
    base: &str,
    until: Instant,
) -> (Vec<f64>, Vec<f64>, usize) {
    let (mut predict, mut live, mut errors) = (Vec::new(), Vec::new(), 0);
    let mut i = 0u64;
    while Instant::now() < until {
        i += 1;
        let t = Instant::now();
        let q = format!("select * from orders where o_orderkey = {i}");
        match client
            .post(format!("{base}/predict"))
            .json(&serde_json::json!({ "query": q }))
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => predict.push(t.elapsed().as_secs_f64() * 1e3),
            _ => errors += 1,
        }
        let t = Instant::now();
        match client.get(format!("{base}/health_check/live")).send().await {
            Ok(r) if r.status() == 200 => live.push(t.elapsed().as_secs_f64() * 1e3),
            _ => errors += 1,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (predict, live, errors)
}

async fn wait_up(client: &reqwest::Client, base: &str) {
    for _ in 0..600 {
        if client
            .get(format!("{base}/health_check/live"))
            .send()
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server did not start");
}

/// Sends `n` statements made by `make`, `parallel` at a time.
async fn flood(
    client: &reqwest::Client,
    base: &str,
    parallel: usize,
    n: usize,
    until: Option<Instant>,
    make: fn(usize) -> String,
) -> (usize, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let (client, base, next, ok) = (client.clone(), base.to_string(), next.clone(), ok.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || until.is_some_and(|u| Instant::now() >= u) {
                    return;
                }
                let r = client
                    .post(format!("{base}/predict"))
                    .json(&serde_json::json!({ "query": make(i) }))
                    .send()
                    .await;
                if r.is_ok_and(|r| r.status() == 200) {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    (
        next.load(Ordering::Relaxed).min(n),
        ok.load(Ordering::Relaxed),
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let seconds = env_num("QLAT_BENCH_SECONDS", 10);
    let big = env_num("QLAT_BENCH_BIG", 30_000) as usize;
    let server = Server::start();
    let base = server.base.clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    rt.block_on(async {
        wait_up(&client, &base).await;
        println!("qlat serve stress benchmark ({} cores)", std::thread::available_parallelism().map_or(0, |n| n.get()));

        let (p, l, e) = probe(&client, &base, Instant::now() + Duration::from_secs(seconds)).await;
        summary("idle: /predict", p);
        summary("idle: /health_check/live", l);
        println!("idle: errors {e}");

        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let mut attackers = Vec::new();
        for a in 0..4 {
            let (client, base, stop, sent, answered) =
                (client.clone(), base.clone(), stop.clone(), sent.clone(), answered.clone());
            attackers.push(tokio::spawn(async move {
                let mut i = a;
                while !stop.load(Ordering::Relaxed) {
                    sent.fetch_add(1, Ordering::Relaxed);
                    let r = client
                        .post(format!("{base}/predict"))
                        .json(&serde_json::json!({ "query": worst_case(i) }))
                        .send()
                        .await;
                    if r.is_ok_and(|r| r.status() == 200) {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 4;
                }
            }));
        }
        let (p, l, e) = probe(&client, &base, Instant::now() + Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for t in attackers {
            let _ = t.await;
        }
        summary("4 worst-case: /predict", p);
        summary("4 worst-case: /health_check/live", l);
        println!(
            "4 worst-case: probe errors {e}; worst-case requests sent {}, answered 200 {}",
            sent.load(Ordering::Relaxed),
            answered.load(Ordering::Relaxed)
        );

        let t = Instant::now();
        let (n, ok) = flood(&client, &base, 4, big, None, |i| {
            let mut s = format!("select * from lineitem where l_comment = '{i}");
            s.push_str(&"x".repeat(50_000 - s.len() - 2));
            s.push('\'');
            s
        })
        .await;
        let (rss, hwm) = server.rss_mib();
        println!(
            "{n} distinct 50 kB statements ({ok} answered 200) in {:.0} s: RSS {rss:.0} MiB, peak {hwm:.0} MiB",
            t.elapsed().as_secs_f64()
        );

        let (n, ok) = flood(
            &client,
            &base,
            4,
            usize::MAX,
            Some(Instant::now() + Duration::from_secs(15)),
            |i| format!("select * from orders where o_orderkey = {i} and o_custkey > {}", i * 7),
        )
        .await;
        let (rss, hwm) = server.rss_mib();
        println!("15 s of unique small statements ({n} sent, {ok} answered 200): RSS {rss:.0} MiB, peak {hwm:.0} MiB");
    });
}
