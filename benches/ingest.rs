//! Throughput and memory of the log readers on large generated logs.
//!
//! Run with `cargo bench --bench ingest`. Writes a native slow log of at
//! least 500 MB and a JSON slow-log export of at least 50 MB into a temporary
//! directory, reads each once, and prints MB/s, events/s and the process's
//! peak RSS (`VmHWM`) before and after, so that a reader that buffers the
//! whole file shows up as a peak that grows with the file. No assertions:
//! timings depend on the machine.
//!
//! If `data/native/slow.log` / `data/slow_log.json` exist, their events are the
//! templates; otherwise a built-in set of varied events is used.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use qlat::ingest::{self, Event, Format};

const SLOW_TARGET: u64 = 500 << 20;
const JSON_TARGET: u64 = 50 << 20;

/// Built-in statements, mixing short OLTP lookups with long analytic and
/// multi-line statements as real slow logs do.
const STATEMENTS: &[&str] = &[
    "SELECT c_name, c_acctbal FROM customer WHERE c_custkey = {n};",
    "SELECT o_orderkey, o_totalprice\n  FROM orders\n WHERE o_custkey = {n}\n ORDER BY o_orderdate DESC\n LIMIT 10;",
    "UPDATE part SET p_retailprice = p_retailprice * 1.01 WHERE p_partkey = {n};",
    "INSERT INTO lineitem (l_orderkey, l_partkey, l_suppkey, l_linenumber, l_quantity) VALUES ({n}, 17, 4, 1, 36);",
    "DELETE FROM orders WHERE o_orderkey = {n} AND o_orderstatus = 'F';",
    "SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, sum(l_extendedprice) AS sum_base_price,\n       sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price, avg(l_quantity) AS avg_qty, count(*) AS count_order\n  FROM lineitem\n WHERE l_shipdate <= date '1998-12-01' - interval '{n}' day\n GROUP BY l_returnflag, l_linestatus\n ORDER BY l_returnflag, l_linestatus;",
    "SELECT n_name, sum(l_extendedprice * (1 - l_discount)) AS revenue FROM customer, orders, lineitem, supplier, nation, region WHERE c_custkey = o_custkey AND l_orderkey = o_orderkey AND l_suppkey = s_suppkey AND c_nationkey = s_nationkey AND s_nationkey = n_nationkey AND n_regionkey = r_regionkey AND r_name = 'ASIA' AND o_orderdate >= date '1994-01-01' GROUP BY n_name ORDER BY revenue DESC;",
    "SELECT * FROM supplier WHERE s_suppkey IN ({n}, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);",
    "BEGIN;",
    "COMMIT;",
    "SET NAMES utf8mb4;",
    "SELECT count(*) FROM partsupp WHERE ps_availqty > {n};",
    "SELECT p_brand, p_type, p_size, count(DISTINCT ps_suppkey) AS supplier_cnt\n  FROM partsupp, part\n WHERE p_partkey = ps_partkey AND p_brand <> 'Brand#45' AND p_type NOT LIKE 'MEDIUM POLISHED%'\n GROUP BY p_brand, p_type, p_size;",
    "REPLACE INTO nation VALUES ({n}, 'NATION', 1, 'comment with ; inside');",
    "SELECT /* report:daily */ o_orderpriority, count(*) FROM orders WHERE o_orderdate >= '1993-07-01' GROUP BY o_orderpriority;",
    "SHOW GLOBAL STATUS LIKE 'Threads_%';",
    "SELECT SQL_NO_CACHE * FROM region;",
    "UPDATE customer\n   SET c_comment = 'multi\nline value'\n WHERE c_custkey = {n};",
    "CALL refresh_stats({n});",
    "SELECT c_custkey FROM customer WHERE c_phone LIKE '27-%' AND c_acctbal > {n}.00;",
];

/// A tiny deterministic generator, so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn hwm() -> String {
    vm_hwm_kib().map_or_else(
        || "n/a".to_owned(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    )
}

/// Statements to repeat: from `data/native/slow.log` when present, else built in.
fn templates() -> Vec<String> {
    let path = Path::new("data/native/slow.log");
    if path.exists()
        && let Ok(events) = ingest::open_as(path, Format::SlowLogFile)
    {
        let from_data: Vec<String> = events
            .filter_map(Result::ok)
            .take(1000)
            .map(|e| format!("{};", e.sql))
            .collect();
        if !from_data.is_empty() {
            println!(
                "templates: {} events from data/native/slow.log",
                from_data.len()
            );
            return from_data;
        }
    }
    println!("templates: {} built-in statements", STATEMENTS.len());
    STATEMENTS.iter().map(|s| (*s).to_owned()).collect()
}

fn write_slow_log(path: &Path, templates: &[String]) -> std::io::Result<(u64, u64)> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut bytes, mut events) = (0u64, 0u64);
    let mut event = String::new();
    while bytes < SLOW_TARGET {
        event.clear();
        let r = rng.next();
        let n = r % 100_000;
        let secs = 1_610_000_000 + events / 50;
        let (h, m, s) = ((secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        use std::fmt::Write as _;
        let _ = match r % 3 {
            0 => write!(
                event,
                "# Time: 2021-01-14T{h:02}:{m:02}:{s:02}.{:06}Z\n# User@Host: app[app] @  [10.0.{}.{}]  Id: {:>5}\n",
                r % 1_000_000,
                (r >> 8) % 256,
                (r >> 16) % 256,
                (r >> 24) % 5000
            ),
            1 => write!(
                event,
                "# Time: 210114 {h:2}:{m:02}:{s:02}\n# User@Host: report[report] @ bi.example.com []\n# Thread_id: {}  Schema: tpch  QC_hit: No\n",
                (r >> 24) % 5000
            ),
            _ => write!(
                event,
                "# User@Host: root[root] @ localhost []\n# Thread_id: {}  Schema: tpch  Last_errno: 0  Killed: 0\n",
                (r >> 24) % 5000
            ),
        };
        let _ = writeln!(
            event,
            "# Query_time: {}.{:06}  Lock_time: 0.{:06} Rows_sent: {}  Rows_examined: {}",
            (r >> 32) % 3,
            (r >> 12) % 1_000_000,
            (r >> 40) % 1000,
            (r >> 20) % 500,
            (r >> 28) % 100_000
        );
        if r % 3 == 2 {
            event.push_str(
                "# Bytes_sent: 1184  Tmp_tables: 0  Tmp_disk_tables: 0  Tmp_table_sizes: 0\n",
            );
        }
        if r.is_multiple_of(11) {
            event.push_str("use tpch;\n");
        }
        let _ = writeln!(event, "SET timestamp={secs};");
        let template = &templates[(r >> 3) as usize % templates.len()];
        event.push_str(&template.replace("{n}", &n.to_string()));
        event.push('\n');
        out.write_all(event.as_bytes())?;
        bytes += event.len() as u64;
        events += 1;
    }
    out.flush()?;
    Ok((bytes, events))
}

fn write_json(path: &Path, templates: &[String]) -> std::io::Result<(u64, u64)> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let source = Path::new("data/slow_log.json");
    let mut rows: Vec<String> = Vec::new();
    if source.exists()
        && let Ok(events) = ingest::open_as(source, Format::SlowLogJson)
    {
        rows = events
            .filter_map(Result::ok)
            .take(1000)
            .map(|e| {
                serde_json::json!({
                    "start_time": e.time.map(|t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
                    "user_host": format!("{}[{}] @  [{}]", e.user.clone().unwrap_or_default(), e.user.unwrap_or_default(), e.host.unwrap_or_default()),
                    "query_time": e.query_time,
                    "lock_time": e.lock_time,
                    "rows_sent": e.rows_sent,
                    "rows_examined": e.rows_examined,
                    "db": e.db,
                    "sql_text": e.sql,
                    "thread_id": e.thread_id,
                })
                .to_string()
            })
            .collect();
    }
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    if rows.is_empty() {
        for (i, t) in templates.iter().enumerate() {
            let r = rng.next();
            let row = serde_json::json!({
                "start_time": format!("2021-01-14 15:{:02}:{:02}.{:06}", i % 60, r % 60, r % 1_000_000),
                "user_host": format!("app[app] @  [10.0.0.{}]", r % 256),
                "query_time": format!("00:00:{:02}.{:06}", (r >> 8) % 3, (r >> 16) % 1_000_000),
                "lock_time": "00:00:00.000093",
                "rows_sent": (r >> 24) % 500,
                "rows_examined": ((r >> 32) % 100_000).to_string(),
                "db": "tpch",
                "last_insert_id": 0,
                "insert_id": 0,
                "server_id": 1,
                "sql_text": t.replace("{n}", &(r % 100_000).to_string()).trim_end_matches(';'),
                "thread_id": (r >> 40) % 5000,
                "rows_affected": 0,
            });
            rows.push(row.to_string());
        }
    } else {
        println!(
            "JSON templates: {} rows from data/slow_log.json",
            rows.len()
        );
    }
    let (mut bytes, mut events) = (2u64, 0u64);
    out.write_all(b"[\n")?;
    while bytes < JSON_TARGET {
        let row = &rows[rng.next() as usize % rows.len()];
        if events > 0 {
            out.write_all(b",\n")?;
            bytes += 2;
        }
        out.write_all(row.as_bytes())?;
        bytes += row.len() as u64;
        events += 1;
    }
    out.write_all(b"\n]\n")?;
    out.flush()?;
    Ok((bytes + 3, events))
}

fn measure(label: &str, path: &Path, format: Format) {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let before = hwm();
    let start = Instant::now();
    let (mut ok, mut errors, mut total_qt) = (0u64, 0u64, 0.0f64);
    match ingest::open_as(path, format) {
        Ok(events) => {
            for item in events {
                match item {
                    Ok(Event { query_time, .. }) => {
                        ok += 1;
                        total_qt += query_time.unwrap_or(0.0);
                    }
                    Err(_) => errors += 1,
                }
            }
        }
        Err(e) => {
            println!("{label}: {e}");
            return;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = size as f64 / 1e6;
    println!(
        "{label}: {mb:.0} MB, {ok} events ({errors} errors) in {secs:.2} s = {:.0} MB/s, {:.0} events/s; \
         query_time sum {total_qt:.0} s; peak RSS before {before}, after {}",
        mb / secs,
        ok as f64 / secs,
        hwm()
    );
}

fn main() {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot create a temporary directory: {e}");
            return;
        }
    };
    println!("peak RSS at start: {}", hwm());
    let templates = templates();
    let slow = dir.path().join("slow.log");
    let json = dir.path().join("slow_log.json");
    let start = Instant::now();
    match write_slow_log(&slow, &templates) {
        Ok((bytes, events)) => println!(
            "generated native slow log: {:.0} MB, {events} events in {:.1} s",
            bytes as f64 / 1e6,
            start.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("writing {}: {e}", slow.display());
            return;
        }
    }
    let start = Instant::now();
    match write_json(&json, &templates) {
        Ok((bytes, events)) => println!(
            "generated JSON slow-log export: {:.0} MB, {events} rows in {:.1} s",
            bytes as f64 / 1e6,
            start.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("writing {}: {e}", json.display());
            return;
        }
    }
    println!("peak RSS after generating: {}", hwm());
    measure("native slow log", &slow, Format::SlowLogFile);
    measure("JSON slow-log export", &json, Format::SlowLogJson);
}
