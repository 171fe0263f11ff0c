//! The native slow query log (`slow_query_log_file`) of MySQL 5.x–8.x,
//! MariaDB and Percona Server.
//!
//! An event is a block of `# Key: value` header lines followed by the
//! statement, which the server always terminates with `;\n`:
//!
//! ```text
//! # Time: 2018-10-01T12:00:00.123456Z
//! # User@Host: root[root] @ localhost []  Id:     3
//! # Query_time: 0.000652  Lock_time: 0.000109 Rows_sent: 1  Rows_examined: 1
//! use shop;
//! SET timestamp=1538395200;
//! SELECT * FROM orders
//! WHERE id = 1;
//! ```
//!
//! The boundary rules follow pt-query-digest, the tool DBAs compare against:
//! a `#` line after a line ending in `;` starts the next event, `use` and
//! `SET timestamp=` lines before the statement are metadata, and
//! `# administrator command: Quit;` is itself the statement. On top of that,
//! `# Time:`, `# User@Host:` and `# Query_time:` lines start a new event
//! even without a preceding `;`, so a statement cut short by a crash does not
//! swallow the next event.
//!
//! Deliberate differences from pt-query-digest (see
//! `tests/conformance/ingest.rs`): an event whose `Query_time`, `Lock_time`
//! or row counts do not parse is yielded as an error naming the line and
//! field instead of being dropped silently, and an event without any
//! `Query_time` is an error too, because qlat learns from timings and a
//! silently shrinking data set misleads. Administrator commands keep the row
//! counts the server logged for them.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;

use super::error::{IngestError, Location, quote_value};
use super::lines::{LineError, LineReader};
use super::parse::{from_unix_seconds, parse_log_time, parse_seconds, parse_u64, parse_user_host};
use super::{Event, LogKind, MAX_EVENT_BYTES};

/// Streams [`Event`]s out of a native slow log.
///
/// Memory use is bounded by the size of the largest event, which is capped
/// at [`MAX_EVENT_BYTES`]: a larger event is reported as
/// [`IngestError::EventTooLarge`] and skipped.
pub struct SlowLogReader<R> {
    lines: LineReader<R>,
    path: PathBuf,
    max_event: usize,
    cur: Pending,
    /// Statement text of the current event, reused across events.
    sql: Vec<u8>,
    done: bool,
    warned_bad_time: bool,
    /// The database of the last `use db;` line. MySQL writes that line only
    /// when the database differs from the previous event's (in the whole
    /// file, not per thread) and has no `Schema:` header, so an event with
    /// neither is in this database, as pt-query-digest's
    /// `--inherit-attributes db` assumes. MariaDB and Percona Server name
    /// every event's database in `Schema:` (empty for none).
    last_use: Option<String>,
    /// A server header (restart, `FLUSH LOGS`) came inside the current
    /// event: the next event starts without a remembered database.
    forget_use: bool,
}

/// The event being assembled from header lines and statement lines.
#[derive(Default)]
struct Pending {
    /// A header line was seen; text before any header belongs to no event.
    active: bool,
    start_line: u64,
    time: Option<NaiveDateTime>,
    set_timestamp: Option<NaiveDateTime>,
    user: Option<String>,
    host: Option<String>,
    thread_id: Option<u64>,
    schema: Option<String>,
    saw_schema: bool,
    use_db: Option<String>,
    query_time: Option<f64>,
    saw_query_time: bool,
    lock_time: Option<f64>,
    rows_sent: Option<u64>,
    rows_examined: Option<u64>,
    admin_command: Option<String>,
    in_statement: bool,
    last_line_ended_statement: bool,
    too_large: bool,
    error: Option<IngestError>,
}

impl<R: BufRead> SlowLogReader<R> {
    /// `path` is only used in error messages.
    pub fn new(reader: R, path: impl Into<PathBuf>) -> Self {
        Self::with_max_event_bytes(reader, path, MAX_EVENT_BYTES)
    }

    /// Like [`SlowLogReader::new`] with a different event size cap, so tests
    /// can exercise the cap without writing 64 MiB files.
    pub fn with_max_event_bytes(reader: R, path: impl Into<PathBuf>, max_event: usize) -> Self {
        Self {
            lines: LineReader::new(reader, max_event),
            path: path.into(),
            max_event,
            cur: Pending::default(),
            sql: Vec::new(),
            done: false,
            warned_bad_time: false,
            last_use: None,
            forget_use: false,
        }
    }

    fn finish(&mut self) -> Option<Result<Event, IngestError>> {
        let mut cur = std::mem::take(&mut self.cur);
        if cur.active {
            match &cur.use_db {
                Some(db) => self.last_use = Some(db.clone()),
                None if !cur.saw_schema => cur.use_db = self.last_use.clone(),
                None => {}
            }
        }
        if std::mem::take(&mut self.forget_use) {
            self.last_use = None;
        }
        let sql = std::mem::take(&mut self.sql);
        let out = finish_event(cur, &sql, &self.path, self.max_event);
        self.sql = sql;
        self.sql.clear();
        out
    }

    fn start_event(&mut self) {
        self.cur.active = true;
        self.cur.start_line = self.lines.line_no();
    }
}

fn finish_event(
    cur: Pending,
    sql: &[u8],
    path: &Path,
    max_event: usize,
) -> Option<Result<Event, IngestError>> {
    if !cur.active {
        return None;
    }
    if let Some(e) = cur.error {
        return Some(Err(e));
    }
    if cur.too_large {
        return Some(Err(IngestError::EventTooLarge {
            path: path.to_owned(),
            at: Location::Line(cur.start_line),
            limit: max_event,
        }));
    }
    let Some(query_time) = cur.query_time else {
        return Some(Err(IngestError::MissingField {
            path: path.to_owned(),
            at: Location::Line(cur.start_line),
            field: "Query_time",
        }));
    };
    let (sql, command) = match cur.admin_command {
        Some(cmd) => (format!("administrator command: {cmd}"), Some(cmd)),
        None => {
            let text = sql.trim_ascii_end();
            let text = text.strip_suffix(b";").unwrap_or(text).trim_ascii_end();
            (String::from_utf8_lossy(text).into_owned(), None)
        }
    };
    Some(Ok(Event {
        kind: LogKind::Slow,
        time: cur.time.or(cur.set_timestamp),
        user: cur.user,
        host: cur.host,
        thread_id: cur.thread_id,
        db: cur.use_db.or(cur.schema),
        command,
        query_time: Some(query_time),
        lock_time: cur.lock_time,
        rows_sent: cur.rows_sent,
        rows_examined: cur.rows_examined,
        sql,
    }))
}

/// Lines a server writes at startup (and a `FLUSH LOGS`) into every log file;
/// they belong to no event.
pub(crate) fn is_server_header_line(line: &[u8]) -> bool {
    match line.first() {
        Some(b'T') => {
            (line.starts_with(b"Time ") && contains(line, b" Id ") && contains(line, b"Command"))
                || line.starts_with(b"Tcp port: ")
                || line.starts_with(b"TCP Port: ")
        }
        Some(_) => {
            contains(line, b", Version: ")
                && (line.ends_with(b"started with:") || contains(line, b"embedded library"))
        }
        None => false,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// Header lines that can only open an event, never continue a statement.
fn opens_event(line: &[u8]) -> bool {
    line.starts_with(b"# Time: ")
        || line.starts_with(b"# User@Host: ")
        || line.starts_with(b"# Query_time: ")
}

fn admin_command(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"# administrator command: ")?;
    let rest = rest.trim_ascii();
    Some(rest.strip_suffix(b";").unwrap_or(rest).trim_ascii_end())
}

impl<R: BufRead> Iterator for SlowLogReader<R> {
    type Item = Result<Event, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let (line_no, line) = match self.lines.next_line() {
                Ok(Some(numbered)) => numbered,
                Ok(None) => {
                    self.done = true;
                    return self.finish();
                }
                Err(LineError::Io(source)) => {
                    self.done = true;
                    return Some(Err(IngestError::Io {
                        path: self.path.clone(),
                        source,
                    }));
                }
                Err(LineError::TooLong) => {
                    let at = Location::Line(self.lines.line_no());
                    if self.cur.active {
                        self.cur.too_large = true;
                        self.cur.in_statement = true;
                        self.cur.last_line_ended_statement = true;
                        self.sql.clear();
                        continue;
                    }
                    return Some(Err(IngestError::EventTooLarge {
                        path: self.path.clone(),
                        at,
                        limit: self.max_event,
                    }));
                }
            };

            if line.first() == Some(&b'#') {
                let cur = &mut self.cur;
                if cur.in_statement {
                    if !(cur.last_line_ended_statement || opens_event(line)) {
                        append_statement_line(&mut self.sql, cur, line, self.max_event);
                        continue;
                    }
                } else if let Some(cmd) = admin_command(line).filter(|_| cur.active) {
                    cur.admin_command = Some(String::from_utf8_lossy(cmd).into_owned());
                    cur.in_statement = true;
                    cur.last_line_ended_statement = true;
                    continue;
                } else if !(cur.saw_query_time && opens_event(line)) {
                    if !cur.active {
                        self.start_event();
                    }
                    self.parse_header(line_no);
                    continue;
                }
                // This line opens the next event: hand out the current one.
                let finished = self.finish();
                self.start_event();
                self.parse_header(line_no);
                if finished.is_some() {
                    return finished;
                }
                continue;
            }

            if is_server_header_line(line) {
                if self.cur.active {
                    self.forget_use = true;
                } else {
                    self.last_use = None;
                }
                continue;
            }
            let cur = &mut self.cur;
            if cur.in_statement {
                append_statement_line(&mut self.sql, cur, line, self.max_event);
                continue;
            }
            if !cur.active || line.trim_ascii().is_empty() {
                continue;
            }
            if let Some(db) = line.strip_prefix(b"use ") {
                let db = db.trim_ascii();
                let db = db.strip_suffix(b";").unwrap_or(db).trim_ascii();
                let db = db.strip_prefix(b"`").unwrap_or(db);
                let db = db.strip_suffix(b"`").unwrap_or(db);
                cur.use_db = (!db.is_empty()).then(|| String::from_utf8_lossy(db).into_owned());
                continue;
            }
            if let Some(settings) = line.strip_prefix(b"SET ").filter(|s| is_log_setting(s)) {
                let settings = settings.trim_ascii_end();
                let timestamp = settings
                    .strip_suffix(b";")
                    .unwrap_or(settings)
                    .split(|&c| c == b',')
                    .find_map(|kv| kv.trim_ascii().strip_prefix(b"timestamp="));
                if let Some(ts) = timestamp {
                    cur.set_timestamp = parse_u64(ts)
                        .and_then(|s| i64::try_from(s).ok())
                        .and_then(from_unix_seconds);
                }
                continue;
            }
            cur.in_statement = true;
            append_statement_line(&mut self.sql, cur, line, self.max_event);
        }
        None
    }
}

/// `SET timestamp=`, `SET insert_id=` and `SET last_insert_id=` are written
/// by the server before the statement; any other `SET` is the statement.
fn is_log_setting(settings: &[u8]) -> bool {
    settings.starts_with(b"timestamp=")
        || settings.starts_with(b"insert_id=")
        || settings.starts_with(b"last_insert_id=")
}

fn append_statement_line(sql: &mut Vec<u8>, cur: &mut Pending, line: &[u8], max: usize) {
    cur.last_line_ended_statement = line.trim_ascii_end().ends_with(b";");
    if cur.too_large {
        return;
    }
    if sql.len() + line.len() + 1 > max {
        cur.too_large = true;
        *sql = Vec::new();
        return;
    }
    if !sql.is_empty() {
        sql.push(b'\n');
    }
    sql.extend_from_slice(line);
}

impl<R: BufRead> SlowLogReader<R> {
    fn parse_header(&mut self, line_no: u64) {
        // Re-borrow the line: it lives in the line reader's buffer.
        let Self {
            lines,
            path,
            cur,
            warned_bad_time,
            ..
        } = self;
        let line: &[u8] = lines.current();
        parse_header_line(line, line_no, path, cur, warned_bad_time);
    }
}

fn parse_header_line(
    line: &[u8],
    line_no: u64,
    path: &Path,
    cur: &mut Pending,
    warned_bad_time: &mut bool,
) {
    if let Some(rest) = line.strip_prefix(b"# Time: ") {
        let (time, user_host) = match memchr::memmem::find(rest, b"# User@Host: ") {
            Some(i) => (&rest[..i], Some(&rest[i + b"# User@Host: ".len()..])),
            None => (rest, None),
        };
        match parse_log_time(time) {
            Some(t) => cur.time = Some(t),
            None if !*warned_bad_time => {
                *warned_bad_time = true;
                tracing::warn!(
                    "{}: line {line_no}: \"# Time:\" value {} is not a time; such events get no \
                     time (reported once per file)",
                    path.display(),
                    quote_value(time.trim_ascii())
                );
            }
            None => {}
        }
        if let Some(uh) = user_host {
            parse_user_host_line(uh, cur);
        }
        return;
    }
    if let Some(rest) = line.strip_prefix(b"# User@Host: ") {
        parse_user_host_line(rest, cur);
        return;
    }
    let mut tokens = line[1..]
        .split(u8::is_ascii_whitespace)
        .filter(|t| !t.is_empty())
        .peekable();
    while let Some(tok) = tokens.next() {
        let Some(key) = tok.strip_suffix(b":") else {
            continue;
        };
        let value = match tokens.peek() {
            Some(v) if !v.ends_with(b":") => tokens.next().unwrap_or_default(),
            _ => &[][..],
        };
        let bad = |field: &str, expected: &'static str| IngestError::BadField {
            path: path.to_owned(),
            at: Location::Line(line_no),
            field: field.to_owned(),
            expected,
            got: quote_value(value),
        };
        let result = match key {
            b"Query_time" => {
                cur.saw_query_time = true;
                parse_seconds(value)
                    .map(|v| cur.query_time = Some(v))
                    .ok_or_else(|| bad("Query_time", "a number of seconds"))
            }
            b"Lock_time" => parse_seconds(value)
                .map(|v| cur.lock_time = Some(v))
                .ok_or_else(|| bad("Lock_time", "a number of seconds")),
            b"Rows_sent" => parse_u64(value)
                .map(|v| cur.rows_sent = Some(v))
                .ok_or_else(|| bad("Rows_sent", "a non-negative integer")),
            b"Rows_examined" => parse_u64(value)
                .map(|v| cur.rows_examined = Some(v))
                .ok_or_else(|| bad("Rows_examined", "a non-negative integer")),
            b"Thread_id" => parse_u64(value)
                .map(|v| cur.thread_id = Some(v))
                .ok_or_else(|| bad("Thread_id", "a non-negative integer")),
            b"Schema" => {
                cur.saw_schema = true;
                cur.schema =
                    (!value.is_empty()).then(|| String::from_utf8_lossy(value).into_owned());
                Ok(())
            }
            _ => Ok(()),
        };
        if let Err(e) = result {
            cur.error.get_or_insert(e);
        }
    }
}

fn parse_user_host_line(rest: &[u8], cur: &mut Pending) {
    let text = String::from_utf8_lossy(rest);
    let (uh, id) = match text.find("Id:") {
        Some(i) => (&text[..i], parse_u64(text[i + 3..].trim().as_bytes())),
        None => (&text[..], None),
    };
    let (user, host) = parse_user_host(uh);
    cur.user = user;
    cur.host = host;
    if id.is_some() {
        cur.thread_id = id;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(log: &str) -> Vec<Event> {
        SlowLogReader::new(log.as_bytes(), "slow.log")
            .collect::<Result<Vec<_>, _>>()
            .expect("valid log")
    }

    fn time(e: &Event) -> String {
        e.time.map(|t| t.to_string()).unwrap_or_default()
    }

    #[test]
    fn mysql_51_with_restart_header_and_use() {
        let log = "/usr/sbin/mysqld, Version: 5.1.73-log (Source distribution). started with:\n\
                   Tcp port: 3306  Unix socket: /var/lib/mysql/mysql.sock\n\
                   Time                 Id Command    Argument\n\
                   # Time: 130601  9:05:17\n\
                   # User@Host: shop[shop] @ web1.example.com [10.0.0.21]\n\
                   # Query_time: 3.271808  Lock_time: 0.000091 Rows_sent: 20  Rows_examined: 419302\n\
                   use shop;\n\
                   SET timestamp=1370077517;\n\
                   SELECT o.id, c.name\n  FROM orders o JOIN customers c ON c.id = o.customer_id\n ORDER BY o.created DESC LIMIT 20;\n\
                   /usr/sbin/mysqld, Version: 5.1.73-log (Source distribution). started with:\n\
                   Tcp port: 3306  Unix socket: /var/lib/mysql/mysql.sock\n\
                   Time                 Id Command    Argument\n\
                   # User@Host: shop[shop] @ web1.example.com [10.0.0.21]\n\
                   # Query_time: 1.000412  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0\n\
                   SET timestamp=1370077600;\n\
                   SET NAMES utf8;\n";
        let ev = read(log);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1].db, None, "a restart forgets the database");
        let e = &ev[0];
        assert_eq!(e.kind, LogKind::Slow);
        assert_eq!(time(e), "2013-06-01 09:05:17");
        assert_eq!(e.user.as_deref(), Some("shop"));
        assert_eq!(e.host.as_deref(), Some("web1.example.com"));
        assert_eq!(e.db.as_deref(), Some("shop"));
        assert_eq!(e.query_time, Some(3.271808));
        assert_eq!(e.lock_time, Some(0.000091));
        assert_eq!(e.rows_sent, Some(20));
        assert_eq!(e.rows_examined, Some(419302));
        assert_eq!(
            e.sql,
            "SELECT o.id, c.name\n  FROM orders o JOIN customers c ON c.id = o.customer_id\n ORDER BY o.created DESC LIMIT 20"
        );
        assert_eq!(ev[1].sql, "SET NAMES utf8");
        assert_eq!(
            time(&ev[1]),
            "2013-06-01 09:06:40",
            "SET timestamp is the fallback"
        );
    }

    #[test]
    fn mysql_80_rfc3339_time_and_thread_id_on_user_host() {
        let log = "# Time: 2021-01-14T15:11:51.815988Z\n\
                   # User@Host: app[app] @  [172.17.0.1]  Id:    12\n\
                   # Query_time: 0.000652  Lock_time: 0.000109 Rows_sent: 1  Rows_examined: 1\n\
                   use tpch;\n\
                   SET timestamp=1610637111;\n\
                   SELECT c_name FROM customer WHERE c_custkey = 42;\n\
                   # Time: 2021-01-14T15:11:52.000001Z\n\
                   # User@Host: app[app] @  [172.17.0.1]  Id:    12\n\
                   # Query_time: 0.000100  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 0 Thread_id: 12 Errno: 0 Killed: 0 Bytes_received: 0 Bytes_sent: 11 Start: 2021-01-14T15:11:51.999901Z End: 2021-01-14T15:11:52.000001Z\n\
                   SET timestamp=1610637112;\n\
                   # administrator command: Quit;\n";
        let ev = read(log);
        assert_eq!(ev.len(), 2);
        assert_eq!(time(&ev[0]), "2021-01-14 15:11:51.815988");
        assert_eq!(ev[0].thread_id, Some(12));
        assert_eq!(ev[0].host.as_deref(), Some("172.17.0.1"));
        assert_eq!(ev[0].db.as_deref(), Some("tpch"));
        assert_eq!(ev[1].sql, "administrator command: Quit");
        assert_eq!(ev[1].command.as_deref(), Some("Quit"));
        assert_eq!(ev[1].command, Some("Quit".to_owned()));
    }

    #[test]
    fn mysql_use_lines_hold_until_the_next_one() {
        let log = "# Time: 2021-01-14T15:11:51.815988Z\n\
                   # User@Host: app[app] @ localhost []  Id:     8\n\
                   # Query_time: 0.1  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1\n\
                   use shop;\n\
                   SET timestamp=1610637111;\n\
                   SELECT 1;\n\
                   # Time: 2021-01-14T15:11:52.000000Z\n\
                   # User@Host: app[app] @ localhost []  Id:     9\n\
                   # Query_time: 0.1  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1\n\
                   SET timestamp=1610637112;\n\
                   SELECT 2;\n";
        let ev = read(log);
        assert_eq!(ev[1].db.as_deref(), Some("shop"));
    }

    #[test]
    fn mariadb_extended_headers() {
        let log = "# Time: 211114 10:11:12\n\
                   # User@Host: root[root] @ localhost []\n\
                   # Thread_id: 8  Schema: test  QC_hit: No\n\
                   # Query_time: 0.000224  Lock_time: 0.000088  Rows_sent: 1  Rows_examined: 0\n\
                   # Rows_affected: 0  Bytes_sent: 78\n\
                   # Full_scan: No  Full_join: No  Tmp_table: No  Tmp_table_on_disk: No\n\
                   # Filesort: No  Filesort_on_disk: No  Merge_passes: 0  Priority_queue: No\n\
                   #\n\
                   # explain: id\tselect_type\ttable\ttype\tpossible_keys\tkey\tkey_len\tref\trows\tExtra\n\
                   # explain: 1\tSIMPLE\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNULL\tNo tables used\n\
                   #\n\
                   SET timestamp=1636881072;\n\
                   select 1;\n";
        let ev = read(log);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].thread_id, Some(8));
        assert_eq!(ev[0].db.as_deref(), Some("test"));
        assert_eq!(ev[0].user.as_deref(), Some("root"));
        assert_eq!(ev[0].host.as_deref(), Some("localhost"));
        assert_eq!(ev[0].sql, "select 1");
        assert_eq!(time(&ev[0]), "2021-11-14 10:11:12");
    }

    #[test]
    fn percona_extended_attributes_and_empty_schema() {
        let log = "# Time: 140714 14:16:52\n\
                   # User@Host: root[root] @ localhost [127.0.0.1]\n\
                   # Thread_id: 1  Schema:   Last_errno: 0  Killed: 0\n\
                   # Query_time: 10.000373  Lock_time: 0.000000  Rows_sent: 1  Rows_examined: 0  Rows_affected: 0  Rows_read: 0\n\
                   # Bytes_sent: 64  Tmp_tables: 0  Tmp_disk_tables: 0  Tmp_table_sizes: 0\n\
                   #   InnoDB_IO_r_ops: 0  InnoDB_IO_r_bytes: 0  InnoDB_IO_r_wait: 0.000000\n\
                   #   InnoDB_rec_lock_wait: 0.000000  InnoDB_queue_wait: 0.000000\n\
                   #   InnoDB_pages_distinct: 1\n\
                   SET timestamp=1405358212;\n\
                   select sleep(10);\n";
        let ev = read(log);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].db, None);
        assert_eq!(ev[0].thread_id, Some(1));
        assert_eq!(ev[0].query_time, Some(10.000373));
        assert_eq!(ev[0].sql, "select sleep(10)");
    }

    #[test]
    fn hash_comment_inside_statement_stays_in_statement() {
        let log = "# Query_time: 0.5  Lock_time: 0.1  Rows_sent: 1  Rows_examined: 9\n\
                   SELECT a\n\
                   # pick the newest\n\
                   FROM t ORDER BY id DESC LIMIT 1;\n\
                   # Query_time: 0.25  Lock_time: 0  Rows_sent: 0  Rows_examined: 0\n\
                   DELETE FROM t WHERE id = 3;\n";
        let ev = read(log);
        assert_eq!(ev.len(), 2);
        assert_eq!(
            ev[0].sql,
            "SELECT a\n# pick the newest\nFROM t ORDER BY id DESC LIMIT 1"
        );
        assert_eq!(ev[1].sql, "DELETE FROM t WHERE id = 3");
    }

    #[test]
    fn bad_value_names_line_and_field_and_reading_continues() {
        let log = "# Time: 081116 15:07:11\n\
                   # Query_time: 12x  Lock_time: 0.000036  Rows_sent: 1  Rows_examined: 127\n\
                   SELECT 1;\n\
                   # Query_time: 1  Lock_time: 0  Rows_sent: 1  Rows_examined: 1\n\
                   SELECT 2;\n";
        let items: Vec<_> = SlowLogReader::new(log.as_bytes(), "data/slow.log").collect();
        assert_eq!(items.len(), 2);
        let err = items[0].as_ref().expect_err("bad Query_time").to_string();
        assert_eq!(
            err,
            "data/slow.log: line 2: field \"Query_time\": expected a number of seconds, got \"12x\""
        );
        assert_eq!(
            items[1].as_ref().map(|e| e.sql.as_str()).ok(),
            Some("SELECT 2")
        );
    }

    #[test]
    fn event_without_query_time_is_an_error() {
        let log = "# Time: 081116 15:07:11\n# User@Host: a[a] @ localhost []\nSELECT 1;\n";
        let items: Vec<_> = SlowLogReader::new(log.as_bytes(), "s.log").collect();
        assert_eq!(items.len(), 1);
        let err = items[0].as_ref().expect_err("missing").to_string();
        assert_eq!(err, "s.log: line 1: field \"Query_time\" is missing");
    }

    #[test]
    fn oversized_event_is_skipped_with_an_error() {
        let long = "x".repeat(200);
        let log = format!(
            "# Query_time: 1  Lock_time: 0  Rows_sent: 0  Rows_examined: 0\nSELECT '\n{long}\n{long}';\n\
             # Query_time: 2  Lock_time: 0  Rows_sent: 0  Rows_examined: 0\nSELECT 2;\n"
        );
        let items: Vec<_> =
            SlowLogReader::with_max_event_bytes(log.as_bytes(), "s.log", 300).collect();
        assert_eq!(items.len(), 2);
        assert!(matches!(items[0], Err(IngestError::EventTooLarge { .. })));
        assert_eq!(
            items[1].as_ref().map(|e| e.query_time).ok(),
            Some(Some(2.0))
        );
    }
}
