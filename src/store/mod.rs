//! The database qlat keeps its records in: every served prediction, and the
//! pipeline's runs and model registry. SQLite embedded by default, PostgreSQL
//! when several replicas share one store. Migrations are applied on connect,
//! so a fresh database and an old one end up with the same schema.

pub mod predictions;
pub mod spool;
pub mod writer;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL {url:?} is not sqlite:// or postgres://")]
    UnsupportedUrl { url: String },
    #[error("connecting to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("applying migrations to {url}: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("database: {0}")]
    Query(#[from] sqlx::Error),
    #[error("stored row {id}: {what}")]
    BadRow { id: String, what: String },
    #[error(
        "no database at {path}: nothing has been recorded there yet (`qlat pipeline` and `qlat serve` create it); choose another with --database-url or QLAT_DATABASE_URL"
    )]
    NoDatabase { path: String },
    #[error("cannot create the folder {path} for the database: {message}")]
    Folder { path: String, message: String },
}

impl StoreError {
    /// Whether the database refused this write because of what was written
    /// (a constraint, a value it cannot hold) rather than because of its
    /// own state (down, disk full, read-only, locked, out of memory): only
    /// such a record is set aside; for the rest, every record waits.
    pub fn is_record_fault(&self) -> bool {
        let StoreError::Query(sqlx::Error::Database(e)) = self else {
            return false;
        };
        let code = e.code();
        let code = code.as_deref().unwrap_or("");
        match code.parse::<u32>() {
            // SQLite result codes (primary code in the low byte):
            // CONSTRAINT, MISMATCH, TOOBIG, RANGE.
            Ok(n) => matches!(n & 0xff, 19 | 20 | 18 | 25),
            // PostgreSQL SQLSTATE: data exceptions (22…, e.g. an invalid
            // byte sequence) and integrity constraints (23…).
            Err(_) => code.starts_with("22") || code.starts_with("23"),
        }
    }
}

/// A connection pool to one of the supported databases.
///
/// An enum rather than `sqlx::Any` so each backend keeps its native types
/// and its own migrations; the queries are written once in the SQL both
/// accept (`$n` placeholders, which SQLite takes as ordered parameters).
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Db {
    /// Connects and applies the migrations. `sqlite:` URLs create the file
    /// if missing and use WAL with `synchronous=NORMAL`: a committed
    /// transaction survives a killed process, and readers never block the
    /// writer.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        Db::open(url, true).await
    }

    /// [`Db::connect`] to a database that must exist already: commands that
    /// only read (or point an alias) never create one.
    pub async fn connect_existing(url: &str) -> Result<Db, StoreError> {
        Db::open(url, false).await
    }

    async fn open(url: &str, create: bool) -> Result<Db, StoreError> {
        let connect_err = |source| StoreError::Connect {
            url: redact(url),
            source,
        };
        let migrate_err = |source| StoreError::Migrate {
            url: redact(url),
            source,
        };
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url).map_err(connect_err)?;
            let file = opts.get_filename().to_owned();
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            if !in_memory && !create && !file.is_file() {
                return Err(StoreError::NoDatabase {
                    path: file.display().to_string(),
                });
            }
            if let Some(folder) = file
                .parent()
                .filter(|p| !in_memory && create && !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(folder).map_err(|e| StoreError::Folder {
                    path: folder.display().to_string(),
                    message: e.to_string(),
                })?;
            }
            let opts = opts
                .create_if_missing(create)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                // The pipeline reads tens of thousands of rows at once: not
                // a slow statement worth a warning on every run.
                .disable_statement_logging();
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            sqlx::migrate!("src/store/migrations/sqlite")
                .run(&pool)
                .await
                .map_err(migrate_err)?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(connect_err)?
                .disable_statement_logging();
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(2))
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            sqlx::migrate!("src/store/migrations/postgres")
                .run(&pool)
                .await
                .map_err(migrate_err)?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl { url: redact(url) })
        }
    }

    /// `"sqlite"` or `"postgres"`, for health and logs.
    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Whether the database answers a trivial query now.
    pub async fn ping(&self) -> bool {
        match self {
            Db::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.is_ok(),
            Db::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.is_ok(),
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// The URL without its password, for messages and logs. A URL that does
/// not parse but holds an `@` may hold credentials, so it is not shown.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => match parsed.set_password(Some("***")) {
            Ok(()) => parsed.to_string(),
            Err(()) => "(a URL with a password)".to_string(),
        },
        Err(_) if url.contains('@') => "(a URL that does not parse)".to_string(),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(
            redact("postgres://qlat:s3cret@db:5432/qlat"),
            "postgres://qlat:***@db:5432/qlat"
        );
        assert_eq!(
            redact("postgres://root@127.0.0.1/test"),
            "postgres://root@127.0.0.1/test"
        );
        assert_eq!(redact("sqlite://qlat.db"), "sqlite://qlat.db");
        assert_eq!(
            redact("mysql://app:p%40ss@127.0.0.1:3306/shop"),
            "mysql://app:***@127.0.0.1:3306/shop"
        );
        assert_eq!(
            redact("postgres://u:pw@[bad"),
            "(a URL that does not parse)"
        );
    }
}
