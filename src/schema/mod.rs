//! Where the catalog comes from: `--schema` names a DDL file (a
//! `mysqldump` / `mariadb-dump --no-data` file as written, or hand-written
//! `CREATE TABLE`s) or a live server (`mysql://user@host:port/db`, read from
//! its `information_schema`: [`live`]); several `--schema` describe several
//! databases. No `--schema` is a valid choice too: statements are then
//! analysed without table sizes, keys or statistics, and [`unknown_without_catalog`]
//! says which features fall back to guesses.
//!
//! Row counts and column statistics from a `capture.json` (what `qlat
//! capture` and `qlat stats` write) are applied when one lies beside a
//! schema file, or when `--capture-meta` names one.

pub mod live;
pub mod stats;

use std::path::{Path, PathBuf};

use crate::sql::catalog::{Catalog, CatalogError};

/// One `--schema` value.
#[derive(Debug, Clone, PartialEq)]
pub enum SchemaSource {
    /// A DDL file.
    File(PathBuf),
    /// A live server URL naming a database.
    Server(String),
}

impl SchemaSource {
    /// A `mysql://` or `mariadb://` URL is a server, anything else a file.
    pub fn parse(value: &str) -> SchemaSource {
        let lower = value.get(..11).unwrap_or(value).to_ascii_lowercase();
        if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
            SchemaSource::Server(value.to_owned())
        } else {
            SchemaSource::File(PathBuf::from(value))
        }
    }
}

impl std::fmt::Display for SchemaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaSource::File(p) => write!(f, "{}", p.display()),
            SchemaSource::Server(url) => f.write_str(&crate::store::redact(url)),
        }
    }
}

/// Why a schema could not be read; every variant names the source.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("--schema {path}: cannot read the file: {message}")]
    Read { path: PathBuf, message: String },
    #[error("--schema {path}: {source}")]
    Ddl {
        path: PathBuf,
        #[source]
        source: CatalogError,
    },
    #[error("--schema {url}: {message}")]
    Server { url: String, message: String },
    #[error("{path}: cannot apply the row counts and statistics: {message}")]
    Meta { path: PathBuf, message: String },
}

impl SchemaError {
    pub(crate) fn server(url: &str, message: impl std::fmt::Display) -> SchemaError {
        SchemaError::Server {
            url: crate::store::redact(url),
            message: message.to_string(),
        }
    }
}

/// Reads every source into one catalog (empty without sources), then the
/// row counts and statistics of `capture_meta`, or of a `capture.json`
/// beside the first schema file.
pub async fn load(
    sources: &[SchemaSource],
    capture_meta: Option<&Path>,
) -> Result<Catalog, SchemaError> {
    let mut catalog = Catalog::default();
    for source in sources {
        let part = match source {
            SchemaSource::File(path) => read_file(path)?,
            SchemaSource::Server(url) => live::read(url).await?,
        };
        catalog.merge(part);
    }
    let beside = sources.iter().find_map(|s| match s {
        SchemaSource::File(p) => Some(p.with_file_name("capture.json")),
        SchemaSource::Server(_) => None,
    });
    let meta = match capture_meta {
        Some(p) => Some(p.to_owned()),
        None => beside.filter(|p| p.is_file()),
    };
    if let Some(path) = meta {
        stats::apply_meta(&mut catalog, &path).map_err(|e| SchemaError::Meta {
            message: e.to_string(),
            path,
        })?;
    }
    Ok(catalog)
}

/// A DDL file as a catalog.
pub fn read_file(path: &Path) -> Result<Catalog, SchemaError> {
    let ddl = std::fs::read_to_string(path).map_err(|e| SchemaError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Catalog::from_ddl(&ddl).map_err(|source| SchemaError::Ddl {
        path: path.to_owned(),
        source,
    })
}

/// Largest `*.sql` file [`find_in`] reads: a `--no-data` dump is small, a
/// data dump beside the logs is not a schema and is not read.
const MAX_FOUND_SCHEMA_BYTES: u64 = 16 << 20;

/// A schema file among log inputs: the first `*.sql` file (at most 16 MiB)
/// directly inside an input directory that reads as DDL with at least one
/// table (a data folder holding `slow.log` and `schema.sql`).
pub fn find_in(inputs: &[PathBuf]) -> Option<PathBuf> {
    inputs.iter().filter(|p| p.is_dir()).find_map(|dir| {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e.eq_ignore_ascii_case("sql"))
                    && std::fs::metadata(p)
                        .is_ok_and(|m| m.is_file() && m.len() <= MAX_FOUND_SCHEMA_BYTES)
            })
            .collect();
        files.sort();
        files.into_iter().find(|p| read_file(p).is_ok())
    })
}

/// What statement analysis cannot know without a catalog, for the warning
/// commands print when they run without `--schema`.
pub fn unknown_without_catalog() -> &'static str {
    "table sizes, primary and secondary keys, foreign keys and column statistics are unknown, \
     so access paths (index lookup or full scan), estimated rows read and join fan-out are \
     guesses; give the schema with --schema FILE (mysqldump --no-data) or --schema mysql://user@host:port/db"
}
