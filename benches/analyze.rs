//! `qlat analyze` throughput and memory, and the statement path's speed.
//!
//! Run with `cargo bench --bench analyze`. Prints, without asserting:
//! 1. parse + fingerprint + features throughput (statements/s, one core) over
//!    every statement of the shipped `data/slow_log.json`, no caching;
//! 2. `qlat analyze` (the release binary) on native slow logs of ~50 MB and
//!    ≥ 500 MB built by repeating `data/native/slow.log` with shifted thread
//!    ids and literals, timed, with peak RSS from `/usr/bin/time`;
//! 3. the same ≥ 500 MB file through `pt-query-digest --output json`, when
//!    it is installed and `QLAT_BENCH_PT=1` (it takes minutes).

use qlat::sql::catalog::Catalog;
use qlat::sql::features;
use qlat::sql::fingerprint::fingerprint;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn statements_per_second() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let events: Vec<String> = match qlat::ingest::read_path(&root.join("data/slow_log.json")) {
        Ok(it) => it.filter_map(Result::ok).map(|e| e.sql).collect(),
        Err(e) => {
            println!("no shipped dataset ({e}); skipping the statement benchmark");
            return;
        }
    };
    let catalog = Catalog::tpch();
    // Warm up once, then time three passes and keep the best.
    for sql in events.iter().take(500) {
        std::hint::black_box(features::extract(sql, &catalog));
    }
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for sql in &events {
            std::hint::black_box(fingerprint(sql));
            std::hint::black_box(features::extract(sql, &catalog));
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "parse+fingerprint+features: {} statements of the shipped mix in {:.3} s = {:.0} statements/s (one core)",
        events.len(),
        best,
        events.len() as f64 / best
    );
}

/// Writes `copies` copies of the native slow log, each with thread ids and
/// timestamps moved so the copies are distinct events.
fn build_log(src: &str, copies: usize, out: &Path) -> std::io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    for i in 0..copies {
        for line in src.lines() {
            if let Some(rest) = line.strip_prefix("# Thread_id: ") {
                let (id, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let id: u64 = id.parse().unwrap_or(0);
                writeln!(
                    w,
                    "# Thread_id: {}  {}",
                    id + 100_000 * i as u64,
                    tail.trim_start()
                )?;
            } else if let Some(ts) = line.strip_prefix("SET timestamp=") {
                let ts: u64 = ts.trim_end_matches(';').parse().unwrap_or(0);
                writeln!(w, "SET timestamp={};", ts + 3600 * i as u64)?;
            } else {
                writeln!(w, "{line}")?;
            }
        }
    }
    w.flush()?;
    Ok(std::fs::metadata(out)?.len())
}

/// Runs a command under `/usr/bin/time -f %M`; returns (seconds, peak KiB).
fn timed(cmd: &mut Command) -> Option<(f64, u64)> {
    let t = Instant::now();
    let out = cmd.output().ok()?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        println!(
            "  failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let kib = err
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    Some((secs, kib))
}

fn analyze_vs_pt() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Ok(src) = std::fs::read_to_string(root.join("data/native/slow.log")) else {
        println!("no data/native/slow.log; skipping the analyze benchmark");
        return;
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            println!("no temp dir: {e}");
            return;
        }
    };
    let qlat = env!("CARGO_BIN_EXE_qlat");
    let per_copy = src.len().max(1);
    let mut big = None;
    for target_mb in [50usize, 520] {
        let copies = (target_mb << 20).div_ceil(per_copy);
        let path = dir.path().join(format!("slow-{target_mb}.log"));
        let Ok(bytes) = build_log(&src, copies, &path) else {
            println!("could not write {}", path.display());
            return;
        };
        let mb = bytes as f64 / 1e6;
        let mut cmd = Command::new("/usr/bin/time");
        cmd.args([
            "-f",
            "%M",
            qlat,
            "analyze",
            "--format",
            "json",
            "--no-report",
        ])
        .arg(&path)
        .stdout(std::process::Stdio::null());
        if let Some((secs, kib)) = timed(&mut cmd) {
            println!(
                "qlat analyze: {mb:.0} MB in {secs:.2} s = {:.0} MB/s, peak RSS {:.1} MiB",
                mb / secs,
                kib as f64 / 1024.0
            );
        }
        big = Some((path, mb));
    }
    let Some((path, mb)) = big else { return };
    if std::env::var("QLAT_BENCH_PT").as_deref() != Ok("1") {
        println!("set QLAT_BENCH_PT=1 to time pt-query-digest on the {mb:.0} MB file");
        return;
    }
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args([
        "-f",
        "%M",
        "pt-query-digest",
        "--output",
        "json",
        "--limit",
        "100%",
    ])
    .arg(&path)
    .stdout(std::process::Stdio::null());
    if let Some((secs, kib)) = timed(&mut cmd) {
        println!(
            "pt-query-digest: {mb:.0} MB in {secs:.1} s = {:.1} MB/s, peak RSS {:.1} MiB",
            mb / secs,
            kib as f64 / 1024.0
        );
    }
}

fn main() {
    statements_per_second();
    analyze_vs_pt();
}
