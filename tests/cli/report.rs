//! Renders a hand-built, realistic `Analysis` and checks the files a user
//! gets: every chart as SVG and PNG, the JSON, and an HTML page that is
//! self-contained and escapes SQL from the logs.

use qlat::analyze::quality::{LogQuality, OnlyIn, Quality, Unparsed};
use qlat::analyze::{
    Analysis, ClassReport, ClassSummary, HistogramBin, InputSummary, Stats, TimelinePoint, Usage,
    UserLatency,
};
use qlat::report::{
    html::{ANCHORS, SECTIONS},
    terminal_summary,
    text::terminal_summary_width,
    write_report,
};
use std::path::Path;

const STEMS: [&str; 9] = [
    "timeline_qps",
    "timeline_latency",
    "kinds",
    "tables",
    "columns",
    "operations",
    "scatter",
    "histogram",
    "users",
];

const XSS: &str = "<script>alert(1)</script>";

/// Deterministic pseudo-random numbers in 0..1 (no extra dev-dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn stats(count: u64, avg: f64) -> Stats {
    Stats {
        sum: avg * count as f64,
        min: avg / 4.0,
        max: avg * 6.0,
        avg,
        median: avg * 0.8,
        p95: avg * 3.0,
    }
}

fn class(
    i: usize,
    fingerprint: &str,
    kind: &str,
    tables: &[&str],
    count: u64,
    avg: f64,
) -> ClassSummary {
    ClassSummary {
        class: ClassReport {
            rank: i,
            fingerprint: fingerprint.to_string(),
            checksum: format!("{:032X}", i * 7919),
            query_id: format!("0x{:016X}", 0xA1B2_C3D4_0000_0000u64 + i as u64 * 977),
            count,
            query_time: stats(count, avg),
            time_share: 0.0,
            lock_time_sum: 0.0001 * count as f64,
            rows_sent_sum: (count * 10) as f64,
            rows_examined_sum: (count * 1000) as f64,
            example: fingerprint.replace('?', "42"),
            db: Some("tpch".into()),
            users: vec![("app".into(), count)],
            first_seen: Some("2024-05-01 10:00:00".into()),
            last_seen: Some("2024-05-01 10:59:00".into()),
        },
        tables: tables.iter().map(|t| t.to_string()).collect(),
        kind: kind.to_string(),
        parsed: true,
    }
}

fn usage(name: &str, count: u64, time: f64) -> Usage {
    Usage {
        name: name.into(),
        count,
        time,
    }
}

/// A dozen TPC-H-like classes over an hour, four users, both logs.
fn realistic() -> Analysis {
    let specs: [(&str, &str, &[&str], u64, f64); 12] = [
        (
            "select l_returnflag, l_linestatus, sum(l_quantity) from lineitem where l_shipdate <= date ? group by l_returnflag, l_linestatus",
            "select",
            &["lineitem"],
            120,
            2.4,
        ),
        (
            "select o_orderpriority, count(*) from orders where o_orderdate >= date ? and exists (select * from lineitem where l_orderkey = o_orderkey) group by o_orderpriority",
            "select",
            &["orders", "lineitem"],
            90,
            1.1,
        ),
        (
            "select c_custkey, c_name, sum(l_extendedprice) from customer, orders, lineitem, nation where c_custkey = o_custkey group by c_custkey",
            "select",
            &["customer", "orders", "lineitem", "nation"],
            60,
            1.5,
        ),
        (
            "select * from orders where o_orderkey = ?",
            "select",
            &["orders"],
            25_000,
            0.0004,
        ),
        (
            "select * from customer where c_custkey = ?",
            "select",
            &["customer"],
            18_000,
            0.0003,
        ),
        (
            "insert into orders values(?+)",
            "insert",
            &["orders"],
            4_000,
            0.002,
        ),
        (
            "insert into lineitem values(?+)",
            "insert",
            &["lineitem"],
            16_000,
            0.0015,
        ),
        (
            "update orders set o_orderstatus = ? where o_orderkey = ?",
            "update",
            &["orders"],
            3_000,
            0.003,
        ),
        (
            "delete from lineitem where l_orderkey = ?",
            "delete",
            &["lineitem"],
            800,
            0.01,
        ),
        (
            "select s_name, count(*) from supplier_with_an_unusually_long_table_name_for_testing, lineitem where s_suppkey = l_suppkey group by s_name",
            "select",
            &[
                "supplier_with_an_unusually_long_table_name_for_testing",
                "lineitem",
            ],
            40,
            0.9,
        ),
        (
            "select p_brand, p_type from part where p_size in (?+)",
            "select",
            &["part", "partsupp"],
            300,
            0.05,
        ),
        ("commit", "commit", &[], 23_000, 0.00005),
    ];
    let mut classes: Vec<ClassSummary> = specs
        .iter()
        .enumerate()
        .map(|(i, (fp, kind, tables, count, avg))| class(i + 1, fp, kind, tables, *count, *avg))
        .collect();
    classes.sort_by(|a, b| b.class.query_time.sum.total_cmp(&a.class.query_time.sum));
    let total: f64 = classes.iter().map(|c| c.class.query_time.sum).sum();
    for (i, c) in classes.iter_mut().enumerate() {
        c.class.rank = i + 1;
        c.class.time_share = c.class.query_time.sum / total;
    }
    // The XSS probe lives in a real example too.
    classes[3].class.example = format!("select '{XSS}' from orders where o_orderkey = 1");
    let query_count: u64 = classes.iter().map(|c| c.class.count).sum();

    let mut rng = Lcg(7);
    let timeline: Vec<TimelinePoint> = (0..60)
        .map(|m| {
            let queries =
                1_000 + (rng.next() * 800.0) as u64 + if (20..25).contains(&m) { 2_500 } else { 0 };
            let avg = 0.004 + rng.next() * 0.004;
            TimelinePoint {
                start: format!("2024-05-01 10:{m:02}:00"),
                queries,
                covered_seconds: 60.0,
                qps: queries as f64 / 60.0,
                avg_seconds: avg,
                p95_seconds: avg * (5.0 + rng.next() * 20.0),
                max_seconds: avg * 400.0,
            }
        })
        .collect();
    let scatter: Vec<(f64, f64)> = (0..3_000)
        .map(|i| {
            let rows = if i % 10 == 0 {
                0.0
            } else {
                10f64.powf(rng.next() * 7.0).floor()
            };
            let t = (rows.max(1.0) * 2e-7) * (0.5 + rng.next() * 4.0) + 5e-5 * rng.next();
            (rows, t)
        })
        .collect();
    let histogram: Vec<HistogramBin> = (0..40)
        .map(|i| {
            let lo = 1e-6 * 10f64.powf(i as f64 / 5.0);
            let hi = 1e-6 * 10f64.powf((i + 1) as f64 / 5.0);
            let x = i as f64;
            let count = (8_000.0 * (-(x - 14.0).powi(2) / 12.0).exp()
                + 150.0 * (-(x - 31.0).powi(2) / 4.0).exp()) as u64;
            HistogramBin { lo, hi, count }
        })
        .collect();
    let user = |name: &str, count: u64, median: f64| UserLatency {
        user: name.into(),
        count,
        min: median / 20.0,
        q1: median / 3.0,
        median,
        q3: median * 3.0,
        p95: median * 12.0,
        max: median * 200.0,
        total: median * 1.5 * count as f64,
    };
    let users = vec![
        user("app", 70_000, 0.0004),
        user("report_user", 300, 1.2),
        user("etl", 20_000, 0.002),
        user("a_really_long_account_name_for_batch_jobs", 500, 0.05),
    ];
    let slow = LogQuality {
        events: query_count,
        first: Some("2024-05-01 10:00:00".into()),
        last: Some("2024-05-01 10:59:59".into()),
        missing_time: 0,
        missing_user: 0,
        missing_db: 12,
        zero_query_time: 3,
        zero_rows_examined: 23_000,
        duplicates: 2,
        per_user: vec![
            ("app".into(), 70_000),
            ("etl".into(), 20_000),
            ("report_user".into(), 300),
        ],
        commands: vec![],
        prepared: 0,
        prepared_executions: 0,
    };
    let general = LogQuality {
        events: query_count + 500,
        first: Some("2024-05-01 09:59:58".into()),
        last: Some("2024-05-01 11:00:00".into()),
        per_user: vec![
            ("app".into(), 70_100),
            ("etl".into(), 20_000),
            ("monitor".into(), 400),
        ],
        commands: vec![
            ("Query".into(), query_count + 400),
            ("Connect".into(), 50),
            ("Quit".into(), 50),
        ],
        ..LogQuality::default()
    };
    let quality = Quality {
        slow,
        general,
        both_logs: true,
        only_in_general: vec![OnlyIn {
            fingerprint: "select * from nosuchtable where x = ?".into(),
            count: 100,
            example: format!("select * from nosuchtable where x = '{XSS}'"),
        }],
        only_in_general_total: 1,
        only_in_slow: vec![],
        only_in_slow_total: 0,
        overlapping_inputs: vec![format!("a.log and b.json {XSS} overlap")],
        unparsed_events: 7,
        unparsed: vec![Unparsed {
            fingerprint: "call weird_proc(?)".into(),
            count: 7,
            example: format!("CALL weird_proc('{XSS}')"),
        }],
    };
    Analysis {
        query_count,
        unique_query_count: classes.len(),
        total_query_time: Stats {
            sum: total,
            min: 0.00001,
            max: 14.4,
            avg: total / query_count as f64,
            median: 0.0004,
            p95: 0.4,
        },
        classes,
        inputs: vec![
            InputSummary {
                path: "/var/log/mysql/slow.log".into(),
                format: "slow".into(),
                events: query_count,
                errors: 1,
                first: Some("2026-11-25 12:00:00".into()),
                last: Some("2026-11-25 13:00:00".into()),
                error_examples: vec![format!("line 12: bad header {XSS}")],
            },
            InputSummary {
                path: "/var/log/mysql/general.log".into(),
                format: "general".into(),
                events: query_count + 500,
                errors: 0,
                first: None,
                last: None,
                error_examples: vec![],
            },
        ],
        time_range: Some(("2024-05-01 10:00:00".into(), "2024-05-01 10:59:59".into())),
        timeline_bucket_seconds: 60,
        timeline,
        kinds: vec![
            usage("select", 43_500, 700.0),
            usage("insert", 20_000, 32.0),
            usage("update", 3_000, 9.0),
            usage("delete", 800, 8.0),
            usage("commit", 23_000, 1.15),
        ],
        tables: vec![
            usage("lineitem", 17_110, 540.0),
            usage("orders", 32_150, 236.0),
            usage("customer", 18_060, 95.4),
            usage("nation", 60, 90.0),
            usage(
                "supplier_with_an_unusually_long_table_name_for_testing",
                40,
                36.0,
            ),
            usage("part", 300, 15.0),
            usage("partsupp", 300, 15.0),
        ],
        columns: (0..30)
            .map(|i| {
                usage(
                    &format!("lineitem.l_column_{i}"),
                    100 + i * 10,
                    300.0 / (i + 1) as f64,
                )
            })
            .collect(),
        operations: vec![
            usage("join", 190, 250.0),
            usage("group by", 310, 420.0),
            usage("order by", 90, 100.0),
            usage("subquery", 90, 99.0),
            usage("full scan", 520, 500.0),
        ],
        scatter,
        histogram,
        users,
        quality,
    }
}

fn empty() -> Analysis {
    Analysis {
        query_count: 0,
        unique_query_count: 0,
        classes: vec![],
        total_query_time: Stats {
            sum: 0.0,
            min: 0.0,
            max: 0.0,
            avg: 0.0,
            median: 0.0,
            p95: 0.0,
        },
        inputs: vec![],
        time_range: None,
        timeline_bucket_seconds: 60,
        timeline: vec![],
        kinds: vec![],
        tables: vec![],
        columns: vec![],
        operations: vec![],
        scatter: vec![],
        histogram: vec![],
        users: vec![],
        quality: Quality::default(),
    }
}

/// Width and height from the PNG signature and IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 33, "PNG too short");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

fn check_files(dir: &Path, written: &[std::path::PathBuf]) {
    let mut expected = vec!["report.html".to_string(), "analysis.json".to_string()];
    for s in STEMS {
        expected.push(format!("{s}.svg"));
        expected.push(format!("{s}.png"));
    }
    assert_eq!(written.len(), expected.len(), "{written:?}");
    for name in &expected {
        let path = dir.join(name);
        assert!(written.contains(&path), "{name} not reported as written");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!bytes.is_empty(), "{name} is empty");
        if name.ends_with(".png") {
            assert_eq!(png_size(&bytes), (1000, 560), "{name}");
        }
        if name.ends_with(".svg") {
            let text = String::from_utf8(bytes).expect("SVG is UTF-8");
            let text = text.trim();
            assert!(
                text.starts_with("<svg"),
                "{name} starts with {:?}",
                &text[..20]
            );
            assert!(text.ends_with("</svg>"), "{name} does not end with </svg>");
        }
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("analysis.json")).unwrap()).unwrap();
    assert!(json.get("classes").is_some());
}

fn assert_self_contained(html: &str) {
    for attr in ["src", "href", "xlink:href"] {
        for quote in ['"', '\''] {
            for scheme in ["http://", "https://", "//"] {
                let needle = format!("{attr}={quote}{scheme}");
                assert!(!html.contains(&needle), "external reference {needle}");
            }
        }
    }
    assert!(
        !html.contains("<script"),
        "the report must not contain scripts"
    );
    assert!(!html.contains("<link"), "stylesheets must be inline");
    assert!(!html.contains("@import"));
}

#[test]
fn realistic_report_has_every_file_and_section() {
    let a = realistic();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/report");
    let written = write_report(&a, &out).expect("report written");
    check_files(&out, &written);

    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    for heading in SECTIONS {
        assert!(
            html.contains(&format!("<h2>{heading}</h2>")),
            "missing section {heading}"
        );
    }
    for c in &a.classes {
        assert!(
            html.contains(&c.class.query_id),
            "missing {}",
            c.class.query_id
        );
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<script>alert"));
    assert_self_contained(&html);
    // Every chart is inlined.
    assert_eq!(html.matches("<svg").count(), STEMS.len());
    // Per-user counts of both logs side by side, including a user only one log saw.
    assert!(html.contains("monitor"));
}

/// The page reads like pt-query-digest's report: contents, summary, the
/// top 20 classes (each linked to its details, the rest collapsed), the
/// details, then the charts; long SQL wraps inside the page.
#[test]
fn report_reads_top_down_with_the_top_classes_first() {
    let mut a = realistic();
    let long = format!(
        "select {} from lineitem where l_orderkey = ?",
        "l_comment, ".repeat(60)
    );
    for i in a.classes.len()..30 {
        let mut c = class(i + 1, &long, "select", &["lineitem"], 3, 0.0001);
        c.class.rank = i + 1;
        a.classes.push(c);
    }
    let dir = tempfile::tempdir().unwrap();
    write_report(&a, dir.path()).expect("report written");
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let at = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle} missing"))
    };
    let mut last = at("<nav class=\"toc\">");
    for (heading, anchor) in SECTIONS.iter().zip(ANCHORS) {
        assert!(
            html.contains(&format!("href=\"#{anchor}\"")),
            "contents link {anchor}"
        );
        let pos = at(&format!("<section id=\"{anchor}\"><h2>{heading}</h2>"));
        assert!(pos > last, "{heading} is out of order");
        last = pos;
    }
    // The top 20 link to their details; the others are collapsed and have none.
    for rank in 1..=20 {
        assert!(
            html.contains(&format!("<a href=\"#class-{rank}\">{rank}</a>")),
            "link {rank}"
        );
        assert!(
            html.contains(&format!("id=\"class-{rank}\"")),
            "details {rank}"
        );
    }
    assert!(!html.contains("id=\"class-21\""));
    let rest = at("<details class=\"rest\">");
    assert!(html[rest..].contains("The other 10 classes (rank 21 and below)"));
    assert!(rest < at("<section id=\"class-details\">"));
    // Long SQL may break anywhere inside its cell: no table outgrows the page.
    assert!(html.contains("td.query{min-width:14em;overflow-wrap:anywhere}"));
    assert!(html.contains("table.classes{width:100%}"));
    // The details carry pt-query-digest's attribute table and the whole text.
    let details = &html[at("<section id=\"class-details\">")..at("<section id=\"charts\">")];
    assert!(details.contains("<th>Query time</th>") && details.contains("95%"));
    assert_self_contained(&html);
}

#[test]
fn empty_analysis_renders_no_data_charts() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_report(&empty(), dir.path()).expect("empty report written");
    check_files(dir.path(), &written);
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    assert!(html.contains("No data for this chart"));
    assert_self_contained(&html);
    let summary = terminal_summary(&empty(), 10);
    assert!(summary.contains("No statements"));
}

#[test]
fn hostile_numbers_do_not_break_rendering() {
    let mut a = realistic();
    a.timeline[3].qps = f64::NAN;
    a.timeline[4].avg_seconds = f64::INFINITY;
    a.timeline[5].p95_seconds = -1.0;
    a.timeline[6].start = "not a time".into();
    a.scatter.extend([
        (f64::NAN, 1.0),
        (1.0, f64::INFINITY),
        (-3.0, 0.0),
        (0.0, 0.0),
    ]);
    a.histogram.push(HistogramBin {
        lo: 100.0,
        hi: f64::INFINITY,
        count: 3,
    });
    a.histogram.insert(
        0,
        HistogramBin {
            lo: 0.0,
            hi: 1e-6,
            count: 10,
        },
    );
    a.users[0].q1 = f64::NAN;
    a.users[1].min = 0.0;
    a.users.push(UserLatency {
        user: "ghost".into(),
        count: 1,
        min: f64::NAN,
        q1: f64::NAN,
        median: f64::NAN,
        q3: f64::NAN,
        p95: f64::NAN,
        max: f64::NAN,
        total: f64::NAN,
    });
    a.tables.push(usage("nan_table", 5, f64::NAN));
    a.kinds.push(usage("replace", 1, f64::NEG_INFINITY));
    a.classes[0].class.query_time.p95 = f64::NAN;
    a.classes[1].class.time_share = f64::NAN;
    let dir = tempfile::tempdir().unwrap();
    let written = write_report(&a, dir.path()).expect("report written");
    check_files(dir.path(), &written);
    let _ = terminal_summary_width(&a, 5, 100);
}

#[test]
fn one_point_timeline_and_single_values_render() {
    let mut a = realistic();
    a.timeline.truncate(1);
    a.scatter.truncate(1);
    a.users.truncate(1);
    a.users[0].min = 0.5;
    a.users[0].max = 0.5;
    a.histogram.retain(|b| b.count > 0);
    a.histogram.truncate(1);
    let dir = tempfile::tempdir().unwrap();
    let written = write_report(&a, dir.path()).expect("report written");
    check_files(dir.path(), &written);
}

#[test]
fn terminal_summary_lists_top_classes_in_rank_order() {
    let a = realistic();
    let s = terminal_summary_width(&a, 5, 120);
    let mut last = 0;
    for c in a.classes.iter().filter(|c| c.class.rank <= 5) {
        let pos = s
            .find(&c.class.query_id)
            .unwrap_or_else(|| panic!("rank {} missing:\n{s}", c.class.rank));
        assert!(pos > last, "rank {} out of order:\n{s}", c.class.rank);
        last = pos;
    }
    let sixth = &a
        .classes
        .iter()
        .find(|c| c.class.rank == 6)
        .unwrap()
        .class
        .query_id;
    assert!(!s.contains(sixth.as_str()), "only the top 5 are listed");
    assert!(s.contains("MISC"));
    assert!(s.contains("Rank") && s.contains("Query ID") && s.contains("R/Call"));
    for line in s.lines() {
        assert!(line.chars().count() <= 120, "line too wide: {line}");
    }
}

/// Writes the demo report for a human to look at:
/// `cargo test --test cli -- --ignored render_demo`.
#[test]
#[ignore]
fn render_demo() {
    let dir = std::env::temp_dir().join("report-demo");
    write_report(&realistic(), &dir).expect("demo written");
    println!("{}", terminal_summary_width(&realistic(), 10, 120));
}
