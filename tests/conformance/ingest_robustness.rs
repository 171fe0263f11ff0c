//! Whatever bytes the readers are given, they must end with events or
//! errors, never a panic, a hang, or unbounded memory.

use std::io::Write;
use std::path::Path;

use proptest::prelude::*;
use qlat::ingest::{
    self, Format, GeneralLogReader, IngestError, JsonLogReader, LogKind, SlowLogReader,
};

/// Drains a reader, failing if it yields more items than the input could
/// possibly hold (which would mean it loops without consuming input).
fn drain<I: Iterator<Item = Result<ingest::Event, IngestError>>>(
    it: I,
    input_len: usize,
) -> (usize, usize) {
    let (mut ok, mut err) = (0, 0);
    for item in it {
        match item {
            Ok(_) => ok += 1,
            Err(_) => err += 1,
        }
        assert!(
            ok + err <= input_len + 2,
            "reader yields more items than input bytes"
        );
    }
    (ok, err)
}

fn all_readers(bytes: &[u8]) {
    let p = Path::new("fuzz");
    drain(
        SlowLogReader::with_max_event_bytes(bytes, p, 256),
        bytes.len(),
    );
    drain(SlowLogReader::new(bytes, p), bytes.len());
    drain(
        GeneralLogReader::with_max_event_bytes(bytes, p, 256),
        bytes.len(),
    );
    drain(
        JsonLogReader::with_max_event_bytes(bytes, p, LogKind::Slow, 256),
        bytes.len(),
    );
    drain(JsonLogReader::new(bytes, p, LogKind::General), bytes.len());
    let _ = ingest::detect_bytes(bytes, true);
    let _ = ingest::detect_bytes(bytes, false);
}

/// Fragments of real log lines, so that random sequences reach deep into
/// the parsers instead of being rejected on the first byte.
const FRAGMENTS: &[&str] = &[
    "# Time: 071015 21:43:52\n",
    "# Time: 2021-01-14T15:11:51.815988Z\n",
    "# Time: 99999 99:99\n",
    "# User@Host: root[root] @ localhost []  Id: 3\n",
    "# User@Host: [\n",
    "# Query_time: 0.000652  Lock_time: 0.000109 Rows_sent: 1  Rows_examined: 1\n",
    "# Query_time: 1e999  Lock_time: -1 Rows_sent: 99999999999999999999999\n",
    "# Thread_id: 8  Schema:   QC_hit: No\n",
    "# administrator command: Quit;\n",
    "use db;\n",
    "SET timestamp=99999999999999999999;\n",
    "SET timestamp=1405358212;\n",
    "select 1;\n",
    "select\n",
    "/usr/sbin/mysqld, Version: 8.0.36 (MySQL Community Server - GPL). started with:\n",
    "Time                 Id Command    Argument\n",
    "150101 12:00:00\t    5 Query\tselect 1\n",
    "\t\t    5 Quit\t\n",
    "\t\t 99999999999999999999999 Query\tx\n",
    "2021-01-14T15:11:51.815988Z\t    8 Connect\troot@localhost on  using Socket\n",
    "[",
    "]",
    "{",
    "}",
    ",",
    "\"",
    "\\",
    ":",
    "\n",
    "\r\n",
    "\0",
    "\u{feff}",
    "{\"query_time\": \"00:00:01\", \"sql_text\": \"x\"}",
    "{\"query_time\": [1, {\"a\": null}], \"rows_sent\": -5}",
    "{\"command_type\": 5, \"argument\": null, \"event_time\": \"2021-13-45 99:00:00\"}",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        all_readers(&bytes);
    }

    #[test]
    fn shuffled_log_fragments_never_panic(
        picks in proptest::collection::vec(0..FRAGMENTS.len(), 0..60),
        junk in proptest::collection::vec(any::<u8>(), 0..16),
    ) {
        let mut bytes = Vec::new();
        for (i, p) in picks.iter().enumerate() {
            bytes.extend_from_slice(FRAGMENTS[*p].as_bytes());
            if i % 7 == 3 {
                bytes.extend_from_slice(&junk);
            }
        }
        all_readers(&bytes);
    }

    #[test]
    fn every_prefix_of_a_json_export_is_handled(cut in 0usize..400) {
        let full = json_export(3);
        let cut = cut.min(full.len());
        let prefix = &full.as_bytes()[..cut];
        let (ok, err) = drain(JsonLogReader::new(prefix, Path::new("t.json"), LogKind::Slow), prefix.len());
        if cut < full.trim_end().len() && cut > 0 {
            prop_assert!(err >= 1, "a truncated export must report an error (cut at {cut}, {ok} ok)");
        }
    }
}

fn json_row(i: usize) -> String {
    format!(
        r#"{{"start_time": "2021-01-14 15:11:5{}.815988", "user_host": "app[app] @  [10.0.0.{i}]", "query_time": "00:00:00.000093", "lock_time": "00:00:00.000010", "rows_sent": {i}, "rows_examined": "{i}", "db": "shop", "sql_text": "SELECT {i}", "thread_id": {i}}}"#,
        i % 10
    )
}

fn json_export(n: usize) -> String {
    let rows: Vec<String> = (0..n).map(json_row).collect();
    format!("[{}]\n", rows.join(",\n"))
}

#[test]
fn wrong_types_name_the_record_and_field() {
    let cases = [
        (
            "\"query_time\": \"00:00:00.000093\"",
            "\"query_time\": \"abc\"",
            "query_time",
        ),
        (
            "\"query_time\": \"00:00:00.000093\"",
            "\"query_time\": true",
            "query_time",
        ),
        (
            "\"lock_time\": \"00:00:00.000010\"",
            "\"lock_time\": {}",
            "lock_time",
        ),
        ("\"rows_sent\": 1", "\"rows_sent\": 1.5", "rows_sent"),
        (
            "\"rows_examined\": \"1\"",
            "\"rows_examined\": \"many\"",
            "rows_examined",
        ),
        ("\"thread_id\": 1", "\"thread_id\": -1", "thread_id"),
        (
            "\"sql_text\": \"SELECT 1\"",
            "\"sql_text\": [\"SELECT 1\"]",
            "sql_text",
        ),
        (
            "\"start_time\": \"2021-01-14 15:11:51.815988\"",
            "\"start_time\": 17",
            "start_time",
        ),
        (
            "\"user_host\": \"app[app] @  [10.0.0.1]\"",
            "\"user_host\": false",
            "user_host",
        ),
    ];
    for (good, bad, field) in cases {
        let row = json_row(1);
        assert!(row.contains(good), "{good}");
        let input = format!("[{}, {}]", json_row(0), row.replace(good, bad));
        let items: Vec<_> =
            JsonLogReader::new(input.as_bytes(), Path::new("x.json"), LogKind::Slow).collect();
        assert_eq!(items.len(), 2, "{bad}");
        let msg = items[1].as_ref().expect_err(bad).to_string();
        assert!(
            msg.starts_with(&format!("x.json: record 2: field \"{field}\": expected ")),
            "{msg}"
        );
    }
    let input = format!(
        "[{}]",
        json_row(0).replace("\"query_time\": \"00:00:00.000093\", ", "")
    );
    let items: Vec<_> =
        JsonLogReader::new(input.as_bytes(), Path::new("x.json"), LogKind::Slow).collect();
    assert_eq!(
        items[0].as_ref().expect_err("missing").to_string(),
        "x.json: record 1: field \"query_time\" is missing"
    );
}

#[test]
fn non_log_files_give_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let png = dir.path().join("foo.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0").expect("write");
    let Err(err) = ingest::read_path(&png) else {
        panic!("a PNG is not a log");
    };
    assert_eq!(
        err.to_string(),
        format!(
            "{}: not a MySQL/MariaDB query log (expected a slow log, general log, or a JSON export of mysql.slow_log/general_log)",
            png.display()
        )
    );
}

#[test]
fn directories_expand_to_their_logs_and_skip_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("a-slow.log"),
        "# Time: 2021-01-14T15:11:51.815988Z\n# User@Host: app[app] @  [10.0.0.1]  Id: 3\n\
         # Query_time: 0.5  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1\nSELECT 1;\n",
    )
    .expect("write");
    std::fs::write(
        d.join("b-general.log"),
        "2021-01-14T15:11:51.815988Z\t    5 Query\tselect 2\n",
    )
    .expect("write");
    std::fs::write(d.join("c-slow_log.json"), json_export(2)).expect("write");
    std::fs::write(d.join("README.md"), "# Time: not a log\n").expect("write");
    std::fs::write(
        d.join("capture.json"),
        "{\"server\": \"8.0\", \"query_time\": 1}",
    )
    .expect("write");
    std::fs::write(d.join("notes.txt"), "remember to rotate the logs\n").expect("write");
    std::fs::write(
        d.join("tpch.sql"),
        "CREATE TABLE nation (n_nationkey INT);\n",
    )
    .expect("write");

    let events: Vec<_> = ingest::read_paths([d])
        .expect("directory reads")
        .collect::<Result<_, _>>()
        .expect("all events valid");
    let sql: Vec<&str> = events.iter().map(|e| e.sql.as_str()).collect();
    assert_eq!(sql, ["SELECT 1", "select 2", "SELECT 0", "SELECT 1"]);
    assert_eq!(events[1].kind, LogKind::General);

    assert!(matches!(
        ingest::read_paths([d.join("notes.txt")]),
        Err(IngestError::NotALog { .. })
    ));
    assert_eq!(
        ingest::detect(&d.join("c-slow_log.json")).ok(),
        Some(Format::SlowLogJson)
    );
}

/// A 200 MB line (a binary blob, a log of one giant statement) must be
/// rejected with an error after buffering at most the event cap.
#[test]
fn a_200_mb_line_is_an_error_not_an_allocation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.log");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
        f.write_all(b"# Query_time: 1  Lock_time: 0  Rows_sent: 0  Rows_examined: 0\n")
            .expect("write");
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..200 {
            f.write_all(&chunk).expect("write");
        }
        f.flush().expect("flush");
    }
    let items: Vec<_> = ingest::open_as(&path, Format::SlowLogFile)
        .expect("open")
        .collect();
    assert_eq!(items.len(), 1);
    let msg = items[0].as_ref().expect_err("too large").to_string();
    assert!(
        msg.contains("huge.log: line 1: event is larger than 67108864 bytes"),
        "{msg}"
    );

    let items: Vec<_> = ingest::open_as(&path, Format::SlowLogJson)
        .expect("open")
        .collect();
    assert!(items.iter().any(Result::is_err));
    assert!(matches!(
        ingest::detect(&path),
        Err(IngestError::NotALog { .. }) | Ok(Format::SlowLogFile)
    ));
}
