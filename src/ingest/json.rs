//! The JSON exports of `mysql.slow_log` and `mysql.general_log`.
//!
//! Tools export these tables either as one JSON array of row objects or as
//! JSON Lines. Exports of busy servers run to gigabytes, so the file is never
//! parsed as a whole: a small scanner cuts out one top-level value at a time
//! (tracking only string state and nesting depth) and each value is handed to
//! serde on its own. Memory is bounded by the largest row, which is capped at
//! [`MAX_EVENT_BYTES`].
//!
//! Column values are accepted in every shape the exporters produce (numbers
//! or numeric strings; `TIME` strings or plain seconds), and anything else
//! yields an error naming the record and the column.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};
use std::path::PathBuf;

use chrono::NaiveDateTime;
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::{IngestError, Location};
use super::parse::{parse_log_time, parse_mysql_duration, parse_user_host};
use super::session::Sessions;
use super::{Event, LogKind, MAX_EVENT_BYTES};

/// Streams [`Event`]s out of a JSON export of one of the log tables.
pub struct JsonLogReader<R> {
    inner: R,
    path: PathBuf,
    kind: LogKind,
    max_event: usize,
    buf: Vec<u8>,
    state: State,
    /// Records seen so far; the current one is `record` (from 1).
    record: u64,
    /// Newlines consumed so far, for messages about the JSON syntax.
    newlines: u64,
    /// General log only: each thread's database, from its `Connect`,
    /// `Init DB` and `use` rows (the table has no `db` column).
    sessions: Sessions,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// Inside a top-level array; `true` once an element has been read, so
    /// that a `,` is required before the next one.
    Array(bool),
    /// JSON Lines (or any whitespace-separated sequence of objects).
    Stream,
    Done,
}

enum Scan {
    Value,
    TooLarge,
}

impl<R: BufRead> JsonLogReader<R> {
    /// `kind` says which table the export is of (see [`super::detect`]);
    /// `path` is only used in error messages.
    pub fn new(reader: R, path: impl Into<PathBuf>, kind: LogKind) -> Self {
        Self::with_max_event_bytes(reader, path, kind, MAX_EVENT_BYTES)
    }

    /// Like [`JsonLogReader::new`] with a different per-record size cap.
    pub fn with_max_event_bytes(
        reader: R,
        path: impl Into<PathBuf>,
        kind: LogKind,
        max_event: usize,
    ) -> Self {
        Self {
            inner: reader,
            path: path.into(),
            kind,
            max_event,
            buf: Vec::new(),
            state: State::Start,
            record: 0,
            newlines: 0,
            sessions: Sessions::default(),
        }
    }

    fn syntax_error(&mut self, message: impl Into<String>) -> IngestError {
        self.state = State::Done;
        IngestError::Json {
            path: self.path.clone(),
            at: Location::Line(self.newlines + 1),
            message: message.into(),
        }
    }

    fn io_error(&mut self, source: io::Error) -> IngestError {
        self.state = State::Done;
        IngestError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Skips whitespace and returns the next byte without consuming it.
    fn peek_non_ws(&mut self) -> io::Result<Option<u8>> {
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                return Ok(None);
            }
            let ws = avail
                .iter()
                .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
                .count();
            self.newlines += memchr::memchr_iter(b'\n', &avail[..ws]).count() as u64;
            let next = avail.get(ws).copied();
            self.inner.consume(ws);
            if next.is_some() {
                return Ok(next);
            }
        }
    }

    /// Copies one complete JSON value into `buf`, or only measures it if it
    /// exceeds the cap. `Ok(None)` means there was no complete value: input
    /// ended inside it, or (with `buf` empty) the next byte cannot start one.
    fn scan_value(&mut self) -> io::Result<Option<Scan>> {
        self.buf.clear();
        let mut len = 0usize;
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                // A bare scalar (a JSON Lines number, say) may end at EOF.
                let complete = depth == 0 && !in_string && len > 0;
                return Ok(complete.then(|| self.scanned(len)));
            }
            let mut i = 0;
            let mut end = None;
            while i < avail.len() {
                if in_string {
                    if escaped {
                        escaped = false;
                        i += 1;
                        continue;
                    }
                    match memchr::memchr2(b'"', b'\\', &avail[i..]) {
                        Some(j) => {
                            i += j;
                            if avail[i] == b'\\' {
                                escaped = true;
                            } else {
                                in_string = false;
                                if depth == 0 {
                                    end = Some(i + 1);
                                    break;
                                }
                            }
                            i += 1;
                        }
                        None => i = avail.len(),
                    }
                    continue;
                }
                match avail[i] {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        if depth <= 1 {
                            end = Some(if depth == 0 { i } else { i + 1 });
                            break;
                        }
                        depth -= 1;
                    }
                    b',' | b' ' | b'\t' | b'\n' | b'\r' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
            let take = end.unwrap_or(avail.len());
            self.newlines += memchr::memchr_iter(b'\n', &avail[..take]).count() as u64;
            len += take;
            if len <= self.max_event {
                self.buf.extend_from_slice(&avail[..take]);
            } else if !self.buf.is_empty() {
                self.buf = Vec::new();
            }
            self.inner.consume(take);
            if end.is_some() {
                return Ok((len > 0).then(|| self.scanned(len)));
            }
        }
    }

    fn scanned(&self, len: usize) -> Scan {
        if len > self.max_event {
            Scan::TooLarge
        } else {
            Scan::Value
        }
    }

    fn next_record(&mut self) -> Result<Option<Scan>, IngestError> {
        loop {
            let next = self.peek_non_ws().map_err(|e| self.io_error(e))?;
            match (self.state, next) {
                (State::Done, _) | (State::Start | State::Stream, None) => {
                    self.state = State::Done;
                    return Ok(None);
                }
                (State::Start, Some(b'[')) => {
                    self.inner.consume(1);
                    self.state = State::Array(false);
                }
                (State::Start, Some(_)) => self.state = State::Stream,
                (State::Array(_), None) => {
                    return Err(self.syntax_error(
                        "unexpected end of file: the array is not closed (truncated file?)",
                    ));
                }
                (State::Array(_), Some(b']')) => {
                    self.inner.consume(1);
                    self.state = State::Done;
                    return match self.peek_non_ws() {
                        Ok(None) => Ok(None),
                        Ok(Some(_)) => Err(self.syntax_error("unexpected data after the array")),
                        Err(e) => Err(self.io_error(e)),
                    };
                }
                (State::Array(true), Some(b',')) => {
                    self.inner.consume(1);
                    self.state = State::Array(false);
                }
                (State::Array(true), Some(c)) => {
                    return Err(self.syntax_error(format!(
                        "expected ',' or ']' after record {}, found {:?}",
                        self.record,
                        char::from(c)
                    )));
                }
                (State::Array(false), Some(_)) => {
                    self.state = State::Array(true);
                    return self.read_record();
                }
                (State::Stream, Some(_)) => return self.read_record(),
            }
        }
    }

    fn read_record(&mut self) -> Result<Option<Scan>, IngestError> {
        self.record += 1;
        match self.scan_value() {
            Ok(Some(scan)) => Ok(Some(scan)),
            Ok(None) if self.buf.is_empty() && !self.at_eof() => {
                let c = self.peek_non_ws().ok().flatten().map(char::from);
                Err(self.syntax_error(format!("expected a record, found {c:?}")))
            }
            Ok(None) => Err(self.syntax_error(format!(
                "unexpected end of file inside record {} (truncated file?)",
                self.record
            ))),
            Err(e) => Err(self.io_error(e)),
        }
    }

    fn at_eof(&mut self) -> bool {
        self.inner.fill_buf().map_or(true, <[u8]>::is_empty)
    }
}

impl<R: BufRead> Iterator for JsonLogReader<R> {
    type Item = Result<Event, IngestError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_record() {
            Ok(None) => None,
            Err(e) => Some(Err(e)),
            Ok(Some(Scan::TooLarge)) => Some(Err(IngestError::EventTooLarge {
                path: self.path.clone(),
                at: Location::Record(self.record),
                limit: self.max_event,
            })),
            Ok(Some(Scan::Value)) => Some(self.convert().map(|mut e| {
                if let (LogKind::General, Some(thread), Some(command)) =
                    (e.kind, e.thread_id, e.command.as_deref())
                {
                    e.db = self.sessions.apply(thread, command, &e.sql).db;
                }
                e
            })),
        }
    }
}

/// A column value of whatever JSON type the exporter chose.
#[derive(Debug)]
enum Scalar<'a> {
    Str(Cow<'a, str>),
    U64(u64),
    I64(i64),
    F64(f64),
    Bool(bool),
    Null,
    Array,
    Object,
}

impl Scalar<'_> {
    /// How the value reads in an error message.
    fn shown(&self) -> String {
        match self {
            Scalar::Str(s) => super::error::quote_value(s.as_bytes()),
            Scalar::U64(v) => v.to_string(),
            Scalar::I64(v) => v.to_string(),
            Scalar::F64(v) => v.to_string(),
            Scalar::Bool(v) => v.to_string(),
            Scalar::Null => "null".into(),
            Scalar::Array => "an array".into(),
            Scalar::Object => "an object".into(),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Scalar::U64(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Scalar::I64(v))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Scalar::F64(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Object)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The columns of both tables; unknown columns (MariaDB's `rows_affected`,
/// exporter additions) are ignored.
#[derive(Deserialize)]
struct Row<'a> {
    #[serde(borrow)]
    start_time: Option<Scalar<'a>>,
    #[serde(borrow)]
    event_time: Option<Scalar<'a>>,
    #[serde(borrow)]
    user_host: Option<Scalar<'a>>,
    #[serde(borrow)]
    query_time: Option<Scalar<'a>>,
    #[serde(borrow)]
    lock_time: Option<Scalar<'a>>,
    #[serde(borrow)]
    rows_sent: Option<Scalar<'a>>,
    #[serde(borrow)]
    rows_examined: Option<Scalar<'a>>,
    #[serde(borrow)]
    db: Option<Scalar<'a>>,
    #[serde(borrow)]
    sql_text: Option<Scalar<'a>>,
    #[serde(borrow)]
    thread_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    command_type: Option<Scalar<'a>>,
    #[serde(borrow)]
    argument: Option<Scalar<'a>>,
}

/// Typed access to a row's columns with errors that name record and column.
struct Fields<'p> {
    path: &'p std::path::Path,
    record: u64,
}

impl Fields<'_> {
    fn bad(&self, field: &str, expected: &'static str, got: &Scalar<'_>) -> IngestError {
        IngestError::BadField {
            path: self.path.to_owned(),
            at: Location::Record(self.record),
            field: field.to_owned(),
            expected,
            got: got.shown(),
        }
    }

    fn missing(&self, field: &'static str) -> IngestError {
        IngestError::MissingField {
            path: self.path.to_owned(),
            at: Location::Record(self.record),
            field,
        }
    }

    fn u64(&self, field: &str, v: Option<&Scalar<'_>>) -> Result<Option<u64>, IngestError> {
        const EXPECTED: &str = "a non-negative integer";
        match v {
            None | Some(Scalar::Null) => Ok(None),
            Some(Scalar::U64(n)) => Ok(Some(*n)),
            Some(s @ Scalar::I64(n)) => u64::try_from(*n)
                .map(Some)
                .map_err(|_| self.bad(field, EXPECTED, s)),
            Some(Scalar::F64(f)) if f.fract() == 0.0 && *f >= 0.0 && *f < 1.8e19 => {
                Ok(Some(*f as u64))
            }
            Some(s @ Scalar::Str(t)) => t
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.bad(field, EXPECTED, s)),
            Some(s) => Err(self.bad(field, EXPECTED, s)),
        }
    }

    fn seconds(&self, field: &str, v: Option<&Scalar<'_>>) -> Result<Option<f64>, IngestError> {
        const EXPECTED: &str = "\"HH:MM:SS.ffffff\" or a number of seconds";
        let secs = match v {
            None | Some(Scalar::Null) => return Ok(None),
            Some(Scalar::U64(n)) => Some(*n as f64),
            Some(Scalar::I64(n)) => (*n >= 0).then_some(*n as f64),
            Some(Scalar::F64(f)) => Some(*f),
            Some(Scalar::Str(t)) => {
                parse_mysql_duration(t).or_else(|| t.trim().parse::<f64>().ok())
            }
            Some(_) => None,
        };
        match (secs, v) {
            (Some(s), _) if s.is_finite() && s >= 0.0 => Ok(Some(s)),
            (_, Some(s)) => Err(self.bad(field, EXPECTED, s)),
            (_, None) => Ok(None),
        }
    }

    fn time(
        &self,
        field: &str,
        v: Option<&Scalar<'_>>,
    ) -> Result<Option<NaiveDateTime>, IngestError> {
        match v {
            None | Some(Scalar::Null) => Ok(None),
            Some(s @ Scalar::Str(t)) => parse_log_time(t.as_bytes())
                .map(Some)
                .ok_or_else(|| self.bad(field, "\"YYYY-MM-DD HH:MM:SS.ffffff\"", s)),
            Some(s) => Err(self.bad(field, "\"YYYY-MM-DD HH:MM:SS.ffffff\"", s)),
        }
    }

    fn text(&self, field: &str, v: Option<&Scalar<'_>>) -> Result<Option<String>, IngestError> {
        match v {
            None | Some(Scalar::Null) => Ok(None),
            Some(Scalar::Str(t)) => Ok(Some(t.clone().into_owned())),
            Some(Scalar::U64(n)) => Ok(Some(n.to_string())),
            Some(Scalar::I64(n)) => Ok(Some(n.to_string())),
            Some(s) => Err(self.bad(field, "a string", s)),
        }
    }
}

impl<R: BufRead> JsonLogReader<R> {
    fn convert(&self) -> Result<Event, IngestError> {
        let row: Row<'_> = serde_json::from_slice(&self.buf).map_err(|e| IngestError::Json {
            path: self.path.clone(),
            at: Location::Record(self.record),
            message: e.to_string(),
        })?;
        let f = Fields {
            path: &self.path,
            record: self.record,
        };
        let (user, host) = match f.text("user_host", row.user_host.as_ref())? {
            Some(uh) => parse_user_host(&uh),
            None => (None, None),
        };
        let thread_id = f.u64("thread_id", row.thread_id.as_ref())?;
        match self.kind {
            LogKind::Slow => {
                let query_time = f.seconds("query_time", row.query_time.as_ref())?;
                let Some(query_time) = query_time else {
                    return Err(f.missing("query_time"));
                };
                let Some(sql) = f.text("sql_text", row.sql_text.as_ref())? else {
                    return Err(f.missing("sql_text"));
                };
                Ok(Event {
                    kind: LogKind::Slow,
                    time: f.time("start_time", row.start_time.as_ref())?,
                    user,
                    host,
                    thread_id,
                    db: f.text("db", row.db.as_ref())?.filter(|d| !d.is_empty()),
                    command: None,
                    query_time: Some(query_time),
                    lock_time: f.seconds("lock_time", row.lock_time.as_ref())?,
                    rows_sent: f.u64("rows_sent", row.rows_sent.as_ref())?,
                    rows_examined: f.u64("rows_examined", row.rows_examined.as_ref())?,
                    sql,
                })
            }
            LogKind::General => {
                let Some(command) = f.text("command_type", row.command_type.as_ref())? else {
                    return Err(f.missing("command_type"));
                };
                let sql = f
                    .text("argument", row.argument.as_ref())?
                    .unwrap_or_default();
                Ok(Event {
                    kind: LogKind::General,
                    time: f.time("event_time", row.event_time.as_ref())?,
                    user,
                    host,
                    thread_id,
                    db: None,
                    command: Some(command),
                    query_time: None,
                    lock_time: None,
                    rows_sent: None,
                    rows_examined: None,
                    sql,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOW_ROW: &str = r#"{"start_time": "2021-01-14 15:11:51.815988", "user_host": "guest[guest] @  [10.0.0.1]", "query_time": "00:00:00.000093", "lock_time": "00:00:00.000012", "rows_sent": 1, "rows_examined": "42", "db": "tpch", "last_insert_id": 0, "insert_id": 0, "server_id": 1, "sql_text": "SELECT \"x\" FROM t WHERE a = '[,]'", "thread_id": 17, "rows_affected": 0}"#;

    fn slow(input: &str) -> Vec<Result<Event, IngestError>> {
        JsonLogReader::new(input.as_bytes(), "data/slow_log.json", LogKind::Slow).collect()
    }

    #[test]
    fn array_of_slow_rows() {
        let input = format!("[\n  {SLOW_ROW},\n  {SLOW_ROW}\n]\n");
        let ev: Vec<Event> = slow(&input)
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(ev.len(), 2);
        let e = &ev[0];
        assert_eq!(e.user.as_deref(), Some("guest"));
        assert_eq!(e.host.as_deref(), Some("10.0.0.1"));
        assert_eq!(e.query_time, Some(0.000093));
        assert_eq!(e.lock_time, Some(0.000012));
        assert_eq!(e.rows_examined, Some(42));
        assert_eq!(e.thread_id, Some(17));
        assert_eq!(e.db.as_deref(), Some("tpch"));
        assert_eq!(e.sql, "SELECT \"x\" FROM t WHERE a = '[,]'");
        assert_eq!(
            e.time.map(|t| t.to_string()).as_deref(),
            Some("2021-01-14 15:11:51.815988")
        );
    }

    #[test]
    fn json_lines_and_numeric_seconds() {
        let row2 = SLOW_ROW.replace("\"00:00:00.000093\"", "1.5");
        let input = format!("{SLOW_ROW}\n{row2}\n");
        let ev: Vec<Event> = slow(&input)
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1].query_time, Some(1.5));
    }

    #[test]
    fn wrong_type_names_record_and_field() {
        let bad = SLOW_ROW.replace("\"00:00:00.000093\"", "\"abc\"");
        let input = format!("[{SLOW_ROW}, {bad}, {SLOW_ROW}]");
        let items = slow(&input);
        assert_eq!(items.len(), 3);
        let err = items[1].as_ref().expect_err("bad row").to_string();
        assert_eq!(
            err,
            "data/slow_log.json: record 2: field \"query_time\": expected \"HH:MM:SS.ffffff\" or a number of seconds, got \"abc\""
        );
        assert!(items[2].is_ok(), "reading continues after a bad row");
        let bad = SLOW_ROW.replace("\"rows_sent\": 1", "\"rows_sent\": [1]");
        let err = slow(&bad)[0].as_ref().expect_err("bad row").to_string();
        assert!(
            err.contains(
                "record 1: field \"rows_sent\": expected a non-negative integer, got an array"
            ),
            "{err}"
        );
    }

    #[test]
    fn truncated_input_is_an_error() {
        let input = format!("[{SLOW_ROW}, {}", &SLOW_ROW[..40]);
        let items = slow(&input);
        assert!(items[0].is_ok());
        let err = items[1].as_ref().expect_err("truncated").to_string();
        assert!(
            err.contains("unexpected end of file inside record 2"),
            "{err}"
        );
        assert_eq!(items.len(), 2);
        let items = slow(&format!("[{SLOW_ROW}"));
        assert!(
            items[1]
                .as_ref()
                .is_err_and(|e| e.to_string().contains("not closed"))
        );
    }

    #[test]
    fn general_log_rows() {
        let input = r#"[{"event_time": "2021-01-14 15:11:51.815988", "user_host": "root[root] @ localhost []", "thread_id": 8, "server_id": 1, "command_type": "Query", "argument": "select 1"}]"#;
        let ev: Vec<Event> = JsonLogReader::new(input.as_bytes(), "g.json", LogKind::General)
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].command.as_deref(), Some("Query"));
        assert_eq!(ev[0].sql, "select 1");
        assert_eq!(ev[0].user.as_deref(), Some("root"));
        assert_eq!(ev[0].kind, LogKind::General);
    }

    /// Rows of `mysql.general_log` as MariaDB 10.11 wrote them for a
    /// driver's prepared statements (an excerpt of
    /// `tests/fixtures/prepared/general_log.json`): the database comes from
    /// the thread's `Connect` row, `Execute` rows carry the values.
    #[test]
    fn general_log_prepared_statements() {
        let input = r#"[
{"event_time":"2026-12-07 20:06:35.415215","user_host":"[root] @  [127.0.0.1]","thread_id":18,"server_id":1,"command_type":"Connect","argument":"root@127.0.0.1 on qlat_prep_a using TCP/IP"},
{"event_time":"2026-12-07 20:06:35.417192","user_host":"root[root] @  [127.0.0.1]","thread_id":18,"server_id":1,"command_type":"Prepare","argument":"SELECT id, qty FROM shelf1 WHERE id = ?"},
{"event_time":"2026-12-07 20:06:35.417221","user_host":"root[root] @  [127.0.0.1]","thread_id":18,"server_id":1,"command_type":"Execute","argument":"SELECT id, qty FROM shelf1 WHERE id = 1"},
{"event_time":"2026-12-07 20:06:35.417442","user_host":"root[root] @  [127.0.0.1]","thread_id":18,"server_id":1,"command_type":"Execute","argument":"SELECT id, qty FROM shelf1 WHERE id = 2"}
]"#;
        let ev: Vec<Event> = JsonLogReader::new(input.as_bytes(), "g.json", LogKind::General)
            .collect::<Result<_, _>>()
            .expect("valid");
        assert_eq!(ev.len(), 4);
        assert_eq!(ev[1].command.as_deref(), Some("Prepare"));
        assert!(ev[1].is_prepare() && !ev[1].is_execution());
        assert_eq!(ev[2].command.as_deref(), Some("Execute"));
        assert_eq!(ev[2].sql, "SELECT id, qty FROM shelf1 WHERE id = 1");
        assert!(ev[2].is_execution() && ev[3].is_execution());
        assert!(ev.iter().all(|e| e.db.as_deref() == Some("qlat_prep_a")));
    }

    #[test]
    fn oversized_record_is_skipped() {
        let big = SLOW_ROW.replace("SELECT", &"x".repeat(1000));
        let input = format!("[{big}, {SLOW_ROW}]");
        let items: Vec<_> =
            JsonLogReader::with_max_event_bytes(input.as_bytes(), "s.json", LogKind::Slow, 600)
                .collect();
        assert_eq!(items.len(), 2);
        assert!(matches!(items[0], Err(IngestError::EventTooLarge { .. })));
        assert!(items[1].is_ok());
    }
}
