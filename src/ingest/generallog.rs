//! The native general query log (`general_log_file`).
//!
//! Each entry is `time<TAB>thread_id command<TAB>argument`, with the thread id
//! right-aligned (tabs shown as `→`):
//!
//! ```text
//! 150101 12:00:00→    5 Connect→root@localhost on shop
//! →→    5 Query→select 1
//! 2021-01-14T15:11:51.815988Z→    8 Query→SELECT *
//! FROM orders
//! ```
//!
//! MySQL ≤ 5.6 and MariaDB write the time only when it changed and start
//! the line with tabs otherwise; MySQL 5.7+ always writes an RFC 3339 time.
//! A statement spanning lines continues until the next line that parses as
//! an entry.
//!
//! Only `Connect` lines name the user, and only `Connect`, `Init DB` and
//! `use` statements name the database, so the reader remembers them per
//! thread ([`super::session`]) and fills them into that thread's later
//! events.

use std::io::BufRead;
use std::path::PathBuf;

use chrono::NaiveDateTime;

use super::error::{IngestError, Location};
use super::lines::{LineError, LineReader};
use super::parse::{parse_log_time, parse_u64};
use super::session::Sessions;
use super::slowlog::is_server_header_line;
use super::{Event, LogKind, MAX_EVENT_BYTES};

/// Command names of the client protocol as the servers print them. Used to
/// tell an entry whose time was omitted (it starts with a tab) from a
/// tab-indented continuation line of a statement.
const COMMANDS: &[&[u8]] = &[
    b"Query",
    b"Connect",
    b"Quit",
    b"Init DB",
    b"Prepare",
    b"Execute",
    b"Close stmt",
    b"Reset stmt",
    b"Fetch",
    b"Long Data",
    b"Field List",
    b"Ping",
    b"Statistics",
    b"Processlist",
    b"Kill",
    b"Refresh",
    b"Shutdown",
    b"Debug",
    b"Set option",
    b"Change user",
    b"Binlog Dump",
    b"Binlog Dump GTID",
    b"Register Slave",
    b"Register Replica",
    b"Table Dump",
    b"Connect Out",
    b"Create DB",
    b"Drop DB",
    b"Delayed insert",
    b"Daemon",
    b"Reset Connection",
    b"Sleep",
    b"Time",
    b"Error",
    b"Bulk_execute",
    b"Com_multi",
    b"Clone",
];

/// Streams [`Event`]s out of a native general log.
pub struct GeneralLogReader<R> {
    lines: LineReader<R>,
    path: PathBuf,
    max_event: usize,
    last_time: Option<NaiveDateTime>,
    cur: Option<Entry>,
    arg: Vec<u8>,
    /// The first argument line of the entry just found, held while the
    /// previous entry is finished.
    next_arg: Vec<u8>,
    sessions: Sessions,
    done: bool,
}

struct Entry {
    start_line: u64,
    time: Option<NaiveDateTime>,
    thread_id: u64,
    command: String,
    too_large: bool,
}

/// One parsed entry line: time (None when the line starts with a tab and
/// inherits the previous time), thread id, command and first argument line.
type EntryLine<'a> = (Option<NaiveDateTime>, u64, &'a [u8], &'a [u8]);

pub(crate) fn parse_entry_line(line: &[u8]) -> Option<EntryLine<'_>> {
    let tab = memchr::memchr(b'\t', line)?;
    let (time, rest) = if tab == 0 {
        (None, line)
    } else {
        (Some(parse_log_time(&line[..tab])?), &line[tab + 1..])
    };
    let rest = rest.trim_ascii_start();
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits) != Some(&b' ') {
        return None;
    }
    let thread_id = parse_u64(&rest[..digits])?;
    let rest = &rest[digits + 1..];
    let (command, arg) = match memchr::memchr(b'\t', rest) {
        Some(i) => (rest[..i].trim_ascii_end(), &rest[i + 1..]),
        None => (rest.trim_ascii_end(), &[][..]),
    };
    let plausible = match time {
        Some(_) => {
            command.first().is_some_and(u8::is_ascii_uppercase)
                && command
                    .iter()
                    .all(|c| c.is_ascii_alphabetic() || *c == b' ' || *c == b'_')
        }
        None => COMMANDS.contains(&command),
    };
    plausible.then_some((time, thread_id, command, arg))
}

impl<R: BufRead> GeneralLogReader<R> {
    /// `path` is only used in error messages.
    pub fn new(reader: R, path: impl Into<PathBuf>) -> Self {
        Self::with_max_event_bytes(reader, path, MAX_EVENT_BYTES)
    }

    /// Like [`GeneralLogReader::new`] with a different event size cap.
    pub fn with_max_event_bytes(reader: R, path: impl Into<PathBuf>, max_event: usize) -> Self {
        Self {
            lines: LineReader::new(reader, max_event),
            path: path.into(),
            max_event,
            last_time: None,
            cur: None,
            arg: Vec::new(),
            next_arg: Vec::new(),
            sessions: Sessions::default(),
            done: false,
        }
    }

    fn finish(&mut self) -> Option<Result<Event, IngestError>> {
        let entry = self.cur.take()?;
        if entry.too_large {
            self.arg.clear();
            return Some(Err(IngestError::EventTooLarge {
                path: self.path.clone(),
                at: Location::Line(entry.start_line),
                limit: self.max_event,
            }));
        }
        let sql = String::from_utf8_lossy(self.arg.trim_ascii_end()).into_owned();
        self.arg.clear();
        let session = self.sessions.apply(entry.thread_id, &entry.command, &sql);
        Some(Ok(Event {
            kind: LogKind::General,
            time: entry.time,
            user: session.user,
            host: session.host,
            thread_id: Some(entry.thread_id),
            db: session.db,
            command: Some(entry.command),
            query_time: None,
            lock_time: None,
            rows_sent: None,
            rows_examined: None,
            sql,
        }))
    }
}

impl<R: BufRead> Iterator for GeneralLogReader<R> {
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
                    match self.cur.as_mut() {
                        Some(entry) => entry.too_large = true,
                        None => {
                            return Some(Err(IngestError::EventTooLarge {
                                path: self.path.clone(),
                                at: Location::Line(self.lines.line_no()),
                                limit: self.max_event,
                            }));
                        }
                    }
                    continue;
                }
            };
            if let Some((time, thread_id, command, arg)) = parse_entry_line(line) {
                let time = match time {
                    Some(t) => {
                        self.last_time = Some(t);
                        Some(t)
                    }
                    None => self.last_time,
                };
                let next = Entry {
                    start_line: line_no,
                    time,
                    thread_id,
                    command: String::from_utf8_lossy(command).into_owned(),
                    too_large: false,
                };
                self.next_arg.clear();
                self.next_arg.extend_from_slice(arg);
                let finished = self.finish();
                std::mem::swap(&mut self.arg, &mut self.next_arg);
                self.cur = Some(next);
                if finished.is_some() {
                    return finished;
                }
                continue;
            }
            if is_server_header_line(line) {
                continue;
            }
            let Some(entry) = self.cur.as_mut() else {
                continue;
            };
            if entry.too_large {
                continue;
            }
            if self.arg.len() + line.len() + 1 > self.max_event {
                entry.too_large = true;
                self.arg = Vec::new();
                continue;
            }
            self.arg.push(b'\n');
            self.arg.extend_from_slice(line);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(log: &str) -> Vec<Event> {
        GeneralLogReader::new(log.as_bytes(), "general.log")
            .collect::<Result<Vec<_>, _>>()
            .expect("valid log")
    }

    #[test]
    fn mysql_56_with_omitted_times_and_multiline_statement() {
        let log = "/usr/sbin/mysqld, Version: 5.6.51-log (MySQL Community Server (GPL)). started with:\n\
                   Tcp port: 3306  Unix socket: /var/lib/mysql/mysql.sock\n\
                   Time                 Id Command    Argument\n\
                   150101 12:00:00\t    5 Connect\tapp@10.0.0.7 on shop\n\
                   \t\t    5 Query\tSELECT *\n\
                   \tFROM orders\n\
                   WHERE id = 1\n\
                   150101 12:00:01\t    5 Init DB\tarchive\n\
                   \t\t    5 Query\tselect 1\n\
                   \t\t    5 Quit\t\n";
        let ev = read(log);
        assert_eq!(ev.len(), 5);
        assert_eq!(ev[0].command.as_deref(), Some("Connect"));
        assert_eq!(ev[0].user.as_deref(), Some("app"));
        assert_eq!(ev[0].host.as_deref(), Some("10.0.0.7"));
        assert_eq!(ev[1].sql, "SELECT *\n\tFROM orders\nWHERE id = 1");
        assert_eq!(ev[1].db.as_deref(), Some("shop"));
        assert_eq!(ev[1].user.as_deref(), Some("app"));
        assert_eq!(
            ev[1].time.map(|t| t.to_string()).as_deref(),
            Some("2015-01-01 12:00:00")
        );
        assert_eq!(ev[3].db.as_deref(), Some("archive"));
        assert_eq!(
            ev[3].time.map(|t| t.to_string()).as_deref(),
            Some("2015-01-01 12:00:01")
        );
        assert_eq!(ev[4].command.as_deref(), Some("Quit"));
        assert_eq!(ev[4].sql, "");
        assert_eq!(ev[4].kind, LogKind::General);
    }

    #[test]
    fn mysql_80_rfc3339_times() {
        let log = "2021-01-14T15:11:51.815988Z\t    8 Connect\troot@localhost on  using Socket\n\
                   2021-01-14T15:11:51.816096Z\t    8 Query\tuse `tpch`\n\
                   2021-01-14T15:11:51.816200Z\t    8 Query\tSELECT count(*) FROM lineitem\n\
                   2021-01-14T15:11:51.917000Z\t    8 Quit\t\n";
        let ev = read(log);
        assert_eq!(ev.len(), 4);
        assert_eq!(ev[0].db, None);
        assert_eq!(ev[2].db.as_deref(), Some("tpch"));
        assert_eq!(ev[2].thread_id, Some(8));
        assert_eq!(
            ev[2].time.map(|t| t.to_string()).as_deref(),
            Some("2021-01-14 15:11:51.816200")
        );
    }

    #[test]
    fn mariadb_connect_and_same_second_lines() {
        let log = "/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-log (MariaDB Server). started with:\n\
                   Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\n\
                   Time\t\t    Id Command\tArgument\n\
                   241125 12:00:00\t     5 Connect\troot@localhost on test using Socket\n\
                   \t\t     5 Query\tselect @@version_comment limit 1\n\
                   241125  9:00:01\t     5 Query\tINSERT INTO t VALUES (1)\n";
        let ev = read(log);
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[1].db.as_deref(), Some("test"));
        assert_eq!(ev[1].user.as_deref(), Some("root"));
        assert_eq!(
            ev[2].time.map(|t| t.to_string()).as_deref(),
            Some("2024-11-25 09:00:01")
        );
    }

    /// What MariaDB 10.11 wrote for a driver's prepared statements (sqlx,
    /// binary protocol), SQL-level PREPARE/EXECUTE and `USE`: an excerpt of
    /// `tests/fixtures/prepared/general.log`.
    #[test]
    fn mariadb_prepared_statements() {
        let log = "/usr/sbin/mariadbd, Version: 10.11.19-MariaDB-0+deb12u1 (Debian 12). started with:\n\
                   Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\n\
                   Time\t\t    Id Command\tArgument\n\
                   261207 20:06:35\t    18 Connect\troot@127.0.0.1 on qlat_prep_a using TCP/IP\n\
                   \t\t    18 Prepare\tSELECT id, qty FROM shelf1 WHERE id = ?\n\
                   \t\t    18 Execute\tSELECT id, qty FROM shelf1 WHERE id = 1\n\
                   \t\t    18 Execute\tSELECT id, qty FROM shelf1 WHERE id = 2\n\
                   \t\t    18 Query\tPREPARE s FROM 'SELECT qty FROM shelf4 WHERE id = ?'\n\
                   \t\t    18 Prepare\tSELECT qty FROM shelf4 WHERE id = ?\n\
                   \t\t    18 Query\tSET @x = 2\n\
                   \t\t    18 Query\tEXECUTE s USING @x\n\
                   \t\t    18 Execute\tSELECT qty FROM shelf4 WHERE id = 2\n\
                   \t\t    18 Query\tUSE qlat_prep_b\n\
                   \t\t    18 Prepare\tSELECT qty FROM shelf1 WHERE id = ?\n\
                   \t\t    18 Execute\tSELECT qty FROM shelf1 WHERE id = 3\n\
                   \t\t    18 Quit\t\n";
        let ev = read(log);
        assert_eq!(ev.len(), 13);
        let commands: Vec<&str> = ev.iter().filter_map(|e| e.command.as_deref()).collect();
        assert_eq!(
            commands,
            [
                "Connect", "Prepare", "Execute", "Execute", "Query", "Prepare", "Query", "Query",
                "Execute", "Query", "Prepare", "Execute", "Quit"
            ]
        );
        assert_eq!(ev[2].sql, "SELECT id, qty FROM shelf1 WHERE id = 1");
        assert_eq!(ev[2].db.as_deref(), Some("qlat_prep_a"));
        assert_eq!(ev[11].db.as_deref(), Some("qlat_prep_b"));
        let executions: Vec<&str> = ev
            .iter()
            .filter(|e| e.is_execution())
            .map(|e| e.sql.as_str())
            .collect();
        assert_eq!(
            executions,
            [
                "SELECT id, qty FROM shelf1 WHERE id = 1",
                "SELECT id, qty FROM shelf1 WHERE id = 2",
                "PREPARE s FROM 'SELECT qty FROM shelf4 WHERE id = ?'",
                "SET @x = 2",
                "SELECT qty FROM shelf4 WHERE id = 2",
                "USE qlat_prep_b",
                "SELECT qty FROM shelf1 WHERE id = 3",
            ]
        );
        assert_eq!(ev.iter().filter(|e| e.is_prepare()).count(), 3);
    }

    #[test]
    fn tab_indented_statement_lines_are_not_entries() {
        let log = "150101 12:00:00\t    5 Query\tSELECT a,\n\t\t12 apples\tb\n";
        let ev = read(log);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].sql, "SELECT a,\n\t\t12 apples\tb");
    }

    #[test]
    fn oversized_entry_is_an_error_and_reading_continues() {
        let big = "x".repeat(100);
        let log = format!(
            "150101 12:00:00\t    5 Query\tSELECT '\n{big}\n'\n150101 12:00:01\t    5 Query\tselect 2\n"
        );
        let items: Vec<_> =
            GeneralLogReader::with_max_event_bytes(log.as_bytes(), "g.log", 64).collect();
        assert_eq!(items.len(), 2);
        let err = items[0].as_ref().expect_err("too large").to_string();
        assert!(
            err.starts_with("g.log: line 1: event is larger than 64 bytes"),
            "{err}"
        );
        assert_eq!(
            items[1].as_ref().map(|e| e.sql.as_str()).ok(),
            Some("select 2")
        );
    }
}
