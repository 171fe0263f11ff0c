//! Telling log formats apart by content.
//!
//! File names say little (`slow.log`, `mysql-slow.log`, `host.log`,
//! `export.json`, Percona's `slow001.txt`), so the first bytes decide.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::error::IngestError;
use super::generallog::parse_entry_line;
use super::slowlog::is_server_header_line;

/// The log formats qlat reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A JSON array or JSON Lines export of `mysql.slow_log`.
    SlowLogJson,
    /// A JSON array or JSON Lines export of `mysql.general_log`.
    GeneralLogJson,
    /// The server's native slow query log file.
    SlowLogFile,
    /// The server's native general query log file.
    GeneralLogFile,
}

impl Format {
    /// Whether this format carries slow-log events (with timings).
    pub fn is_slow(self) -> bool {
        matches!(self, Format::SlowLogJson | Format::SlowLogFile)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::SlowLogJson => "slow log (JSON export)",
            Format::GeneralLogJson => "general log (JSON export)",
            Format::SlowLogFile => "slow log file",
            Format::GeneralLogFile => "general log file",
        })
    }
}

/// How much of a file detection looks at: enough for the server header and
/// several events even when the first statement is long.
const HEAD_BYTES: usize = 64 * 1024;

/// Determines the format of the log at `path` from its first bytes.
///
/// An empty file is taken as an empty slow log: it holds no events whatever
/// it was meant to be, and rejecting it would break reading a directory
/// right after a log rotation.
pub fn detect(path: &Path) -> Result<Format, IngestError> {
    let io = |source| IngestError::Io {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(HEAD_BYTES);
    file.take(HEAD_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io)?;
    detect_bytes(&head, head.len() < HEAD_BYTES).ok_or_else(|| IngestError::NotALog {
        path: path.to_owned(),
    })
}

/// Detection on the first bytes of a file; `complete` says whether `head` is
/// the whole file (otherwise its last, possibly cut, line is ignored).
pub fn detect_bytes(head: &[u8], complete: bool) -> Option<Format> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = head.trim_ascii_start();
    if text.is_empty() {
        return Some(Format::SlowLogFile);
    }
    if memchr::memchr(0, head).is_some() {
        return None;
    }
    let has = |needle: &[u8]| memchr::memmem::find(text, needle).is_some();
    if matches!(text[0], b'[' | b'{') {
        if has(b"\"query_time\"") || has(b"\"sql_text\"") {
            return Some(Format::SlowLogJson);
        }
        if has(b"\"command_type\"") {
            return Some(Format::GeneralLogJson);
        }
        if text[1..].trim_ascii_start().starts_with(b"]") {
            return Some(Format::SlowLogJson);
        }
        return None;
    }

    let mut lines: Vec<&[u8]> = head.split(|&c| c == b'\n').collect();
    if !complete && lines.len() > 1 {
        lines.pop();
    }
    let (mut slow, mut slow_time, mut general, mut server_header, mut other) = (0, 0, 0, 0, 0);
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"# Query_time: ") || line.starts_with(b"# User@Host: ") {
            slow += 1;
        } else if line.starts_with(b"# Time: ") {
            slow_time += 1;
        } else if is_server_header_line(line) {
            server_header += 1;
        } else if parse_entry_line(line).is_some() {
            general += 1;
        } else if !line.trim_ascii().is_empty() {
            other += 1;
        }
    }
    if slow > 0 {
        Some(Format::SlowLogFile)
    } else if general > 0 {
        Some(Format::GeneralLogFile)
    } else if slow_time > 0 || (server_header > 0 && other == 0) {
        Some(Format::SlowLogFile)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        let d = |s: &str| detect_bytes(s.as_bytes(), true);
        assert_eq!(
            d(
                "# Time: 071015 21:43:52\n# User@Host: root[root] @ localhost []\n# Query_time: 2  Lock_time: 0  Rows_sent: 1  Rows_examined: 0\nselect 1;\n"
            ),
            Some(Format::SlowLogFile)
        );
        assert_eq!(
            d("2021-01-14T15:11:51.815988Z\t    5 Query\tselect 1\n"),
            Some(Format::GeneralLogFile)
        );
        assert_eq!(
            d(
                "/usr/sbin/mysqld, Version: 5.6.51-log (MySQL Community Server (GPL)). started with:\nTcp port: 3306  Unix socket: /tmp/mysql.sock\nTime                 Id Command    Argument\n150101 12:00:00\t    5 Query\tselect 1\n"
            ),
            Some(Format::GeneralLogFile)
        );
        assert_eq!(
            d(
                "[{\"start_time\": \"2021-01-14 15:11:51.815988\", \"query_time\": \"00:00:00.000093\"}]"
            ),
            Some(Format::SlowLogJson)
        );
        assert_eq!(
            d(
                "{\"event_time\": \"2021-01-14 15:11:51\", \"command_type\": \"Query\", \"argument\": \"select 1\"}\n"
            ),
            Some(Format::GeneralLogJson)
        );
        assert_eq!(d(""), Some(Format::SlowLogFile));
        assert_eq!(d("{\"version\": 1, \"server\": \"mysql 8.0\"}"), None);
        assert_eq!(d("# qlat\n\nSome *markdown* text.\n"), None);
        assert_eq!(detect_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", true), None);
    }
}
