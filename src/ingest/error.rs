//! The one error type of the log readers.
//!
//! Every message names the file and, when the problem is inside it, the line
//! (native logs) or record (JSON exports) and the field, so that a user with a
//! multi-gigabyte log can jump straight to the offending spot.

use std::fmt;
use std::path::PathBuf;

/// Where inside a log a problem was found. Both numbers count from 1, as
/// editors and `sed -n Np` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A line of a native slow or general log (or of a JSON file when the
    /// problem is in the JSON syntax itself).
    Line(u64),
    /// An element of a JSON array, or a line of a JSON Lines file.
    Record(u64),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Line(n) => write!(f, "line {n}"),
            Location::Record(n) => write!(f, "record {n}"),
        }
    }
}

/// Why a log could not be read, or why one event in it was rejected.
///
/// Errors about a single event ([`IngestError::BadField`],
/// [`IngestError::MissingField`], [`IngestError::EventTooLarge`]) are
/// recoverable: the readers yield them and carry on with the next event.
/// The others end the iteration.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{}: not a MySQL/MariaDB query log (expected a slow log, general log, or a JSON export of mysql.slow_log/general_log)",
        .path.display()
    )]
    NotALog { path: PathBuf },

    #[error("{}: {at}: field \"{field}\": expected {expected}, got {got}", .path.display())]
    BadField {
        path: PathBuf,
        at: Location,
        field: String,
        expected: &'static str,
        /// The offending value, quoted and cut to a readable length.
        got: String,
    },

    #[error("{}: {at}: field \"{field}\" is missing", .path.display())]
    MissingField {
        path: PathBuf,
        at: Location,
        field: &'static str,
    },

    #[error(
        "{}: {at}: event is larger than {limit} bytes; it was skipped (is this really a query log?)",
        .path.display()
    )]
    EventTooLarge {
        path: PathBuf,
        at: Location,
        limit: usize,
    },

    #[error("{}: {at}: invalid JSON: {message}", .path.display())]
    Json {
        path: PathBuf,
        at: Location,
        message: String,
    },
}

/// Renders an offending value for an error message: quoted, escaped, and cut
/// so that a 10 MB garbage "value" still gives a one-line message.
pub(crate) fn quote_value(raw: &[u8]) -> String {
    const MAX: usize = 60;
    let text = String::from_utf8_lossy(&raw[..raw.len().min(MAX)]);
    if raw.len() > MAX {
        format!("{text:?}...")
    } else {
        format!("{text:?}")
    }
}

impl IngestError {
    /// Whether reading stops after this error; per-event errors do not stop it.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            IngestError::BadField { .. }
                | IngestError::MissingField { .. }
                | IngestError::EventTooLarge { .. }
        )
    }
}
