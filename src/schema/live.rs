//! The catalog of a database on a live MySQL/MariaDB server, read from
//! `information_schema`: base tables and their estimated row counts,
//! columns and types, primary and secondary indexes (with the server's
//! cardinality estimate for each index's leading column), foreign keys,
//! and the smallest and largest value of numeric and date columns that lead
//! an index.
//!
//! Bounded in cost and safe to point at a production replica: the session
//! is read-only, every statement has a time limit, nothing scans a table
//! (row counts are the storage engine's estimates; a minimum and maximum of
//! an indexed column are read from the two ends of its index), and at most
//! [`MAX_RANGE_COLUMNS`] such range reads are made.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor};

use super::SchemaError;
use crate::schema::stats::{RangeUnit, days_since_epoch, ident, range_unit, text};
use crate::sql::catalog::{Catalog, Column, ColumnStats, ForeignKey, Index, Table};

/// Most columns whose minimum and maximum are read.
pub const MAX_RANGE_COLUMNS: usize = 500;
/// Longest any one statement may run on the server.
const STATEMENT_SECONDS: u64 = 5;
/// Longest the connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `mariadb://` as the `mysql://` the driver takes.
fn normalized(url: &str) -> String {
    match url.get(..10) {
        Some(p) if p.eq_ignore_ascii_case("mariadb://") => format!("mysql://{}", &url[10..]),
        _ => url.to_owned(),
    }
}

/// The database a server URL names (`mysql://host/db` → `db`).
pub fn database_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(&normalized(url)).ok()?;
    let path = parsed.path().trim_start_matches('/');
    (!path.is_empty() && !path.contains('/')).then(|| {
        percent_encoding::percent_decode_str(path)
            .decode_utf8_lossy()
            .into_owned()
    })
}

/// Reads the catalog of the database `url` names.
pub async fn read(url: &str) -> Result<Catalog, SchemaError> {
    let normalized = normalized(url);
    let database = database_of(url).ok_or_else(|| {
        SchemaError::server(
            url,
            "name the database in the URL, e.g. mysql://root@127.0.0.1:3306/shop",
        )
    })?;
    let options = MySqlConnectOptions::from_str(&normalized)
        .map_err(|e| SchemaError::server(url, e))?
        .disable_statement_logging();
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, options.connect())
        .await
        .map_err(|_| SchemaError::server(url, "no answer from the server within 10 s"))?
        .map_err(|e| match &e {
            sqlx::Error::Database(d)
                if d.code().as_deref() == Some("42000")
                    && d.message().contains("Unknown database") =>
            {
                SchemaError::server(
                    url,
                    format!("database {database} does not exist on the server"),
                )
            }
            _ => SchemaError::server(url, format!("cannot connect: {e}")),
        })?;
    let catalog = read_database(&mut conn, &database)
        .await
        .map_err(|e| SchemaError::server(url, e))?;
    let _ = conn.close().await;
    if catalog.tables.is_empty() {
        return Err(SchemaError::server(
            url,
            format!("database {database} has no base tables this account can see"),
        ));
    }
    Ok(catalog)
}

/// Why reading failed, as a message (the URL is added by the caller).
type Failed = String;

async fn read_database(conn: &mut MySqlConnection, database: &str) -> Result<Catalog, Failed> {
    // A read-only session with a statement time limit (MariaDB's
    // max_statement_time, MySQL's max_execution_time); whichever the
    // server does not know fails harmlessly.
    for sql in [
        "SET SESSION TRANSACTION READ ONLY".to_owned(),
        format!("SET SESSION max_statement_time = {STATEMENT_SECONDS}"),
        format!(
            "SET SESSION max_execution_time = {}",
            STATEMENT_SECONDS * 1000
        ),
    ] {
        let _ = conn.execute(AssertSqlSafe(sql)).await;
    }
    let db = database.to_ascii_lowercase();
    let mut tables = read_tables(conn, database, &db).await?;
    read_columns(conn, database, &mut tables).await?;
    let distinct = read_indexes(conn, database, &mut tables).await?;
    read_foreign_keys(conn, database, &mut tables).await?;
    read_ranges(conn, database, &mut tables, &distinct).await?;
    let mut catalog = Catalog {
        default_database: Some(db),
        ..Catalog::default()
    };
    for table in tables.into_values() {
        catalog.insert(table);
    }
    Ok(catalog)
}

async fn rows(
    conn: &mut MySqlConnection,
    sql: &str,
    database: &str,
) -> Result<Vec<MySqlRow>, Failed> {
    sqlx::query(AssertSqlSafe(sql))
        .bind(database)
        .fetch_all(conn)
        .await
        .map_err(|e| format!("reading information_schema: {e}"))
}

async fn read_tables(
    conn: &mut MySqlConnection,
    database: &str,
    db: &str,
) -> Result<BTreeMap<String, Table>, Failed> {
    let sql = "SELECT TABLE_NAME, CAST(TABLE_ROWS AS CHAR) FROM information_schema.TABLES \
               WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'";
    let mut out = BTreeMap::new();
    for r in rows(conn, sql, database).await? {
        let name = text(&r, 0).to_ascii_lowercase();
        let table = Table {
            database: Some(db.to_owned()),
            name: name.clone(),
            columns: Vec::new(),
            primary_key: Vec::new(),
            indexes: Vec::new(),
            foreign_keys: Vec::new(),
            row_count: text(&r, 1).parse().ok(),
        };
        out.insert(name, table);
    }
    Ok(out)
}

async fn read_columns(
    conn: &mut MySqlConnection,
    database: &str,
    tables: &mut BTreeMap<String, Table>,
) -> Result<(), Failed> {
    let sql = "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE \
               FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? \
               ORDER BY TABLE_NAME, ORDINAL_POSITION";
    for r in rows(conn, sql, database).await? {
        if let Some(t) = tables.get_mut(&text(&r, 0).to_ascii_lowercase()) {
            t.columns.push(Column {
                name: text(&r, 1).to_ascii_lowercase(),
                data_type: text(&r, 2).to_ascii_lowercase(),
                nullable: text(&r, 3).eq_ignore_ascii_case("YES"),
                stats: None,
            });
        }
    }
    Ok(())
}

/// Distinct values of (table, column) as the server estimates them for
/// columns that lead an index.
type Distinct = BTreeMap<(String, String), u64>;

async fn read_indexes(
    conn: &mut MySqlConnection,
    database: &str,
    tables: &mut BTreeMap<String, Table>,
) -> Result<Distinct, Failed> {
    let sql = "SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME, CAST(NON_UNIQUE AS CHAR), \
               CAST(CARDINALITY AS CHAR), CAST(SEQ_IN_INDEX AS CHAR) \
               FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? \
               AND INDEX_TYPE NOT IN ('FULLTEXT', 'SPATIAL')";
    // No ORDER BY: the server lists each table's indexes in their
    // definition order (what SHOW CREATE TABLE shows), columns in key order.
    let mut distinct = Distinct::new();
    for r in rows(conn, sql, database).await? {
        let (table, index) = (text(&r, 0).to_ascii_lowercase(), text(&r, 1));
        let column = text(&r, 2).to_ascii_lowercase();
        let Some(t) = tables.get_mut(&table) else {
            continue;
        };
        if text(&r, 5) == "1"
            && let Ok(c) = text(&r, 4).parse::<u64>()
        {
            let d = distinct.entry((table, column.clone())).or_insert(0);
            *d = (*d).max(c);
        }
        if index.eq_ignore_ascii_case("PRIMARY") {
            t.primary_key.push(column);
            continue;
        }
        let name = index.to_ascii_lowercase();
        match t.indexes.iter_mut().find(|i| i.name == name) {
            Some(i) => i.columns.push(column),
            None => t.indexes.push(Index {
                name,
                columns: vec![column],
                unique: text(&r, 3) == "0",
            }),
        }
    }
    for t in tables.values_mut() {
        let pk = t.primary_key.clone();
        for c in t.columns.iter_mut().filter(|c| pk.contains(&c.name)) {
            c.nullable = false;
        }
    }
    Ok(distinct)
}

async fn read_foreign_keys(
    conn: &mut MySqlConnection,
    database: &str,
    tables: &mut BTreeMap<String, Table>,
) -> Result<(), Failed> {
    let sql = "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, \
               REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
               WHERE TABLE_SCHEMA = ? AND REFERENCED_TABLE_NAME IS NOT NULL \
               ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION";
    for r in rows(conn, sql, database).await? {
        let Some(t) = tables.get_mut(&text(&r, 0).to_ascii_lowercase()) else {
            continue;
        };
        let name = text(&r, 1).to_ascii_lowercase();
        let (column, referenced) = (text(&r, 2).to_ascii_lowercase(), text(&r, 4));
        match t.foreign_keys.iter_mut().find(|f| f.name == name) {
            Some(fk) => {
                fk.columns.push(column);
                fk.referenced_columns.push(referenced.to_ascii_lowercase());
            }
            None => t.foreign_keys.push(ForeignKey {
                name,
                columns: vec![column],
                referenced_table: text(&r, 3).to_ascii_lowercase(),
                referenced_columns: vec![referenced.to_ascii_lowercase()],
            }),
        }
    }
    Ok(())
}

/// How the minimum and maximum of a column are read so that they come from
/// the ends of an index: dates as days since 1970-01-01 (the catalog's
/// unit), taken after MIN/MAX so the index is still used.
fn range_select(data_type: &str, column: &str, table: &str, database: &str) -> Option<String> {
    let c = ident(column);
    let (lo, hi) = match range_unit(data_type)? {
        RangeUnit::Number => (format!("MIN({c})"), format!("MAX({c})")),
        RangeUnit::Days => (
            days_since_epoch(&format!("MIN({c})")),
            days_since_epoch(&format!("MAX({c})")),
        ),
    };
    Some(format!(
        "SELECT CAST({lo} AS CHAR), CAST({hi} AS CHAR) FROM {}.{}",
        ident(database),
        ident(table)
    ))
}

async fn read_ranges(
    conn: &mut MySqlConnection,
    database: &str,
    tables: &mut BTreeMap<String, Table>,
    distinct: &Distinct,
) -> Result<(), Failed> {
    for ((table, column), &count) in distinct.iter().take(MAX_RANGE_COLUMNS) {
        let Some(t) = tables.get_mut(table) else {
            continue;
        };
        let Some(col) = t.columns.iter_mut().find(|c| &c.name == column) else {
            continue;
        };
        let (mut min, mut max) = (None, None);
        if let Some(sql) = range_select(&col.data_type, column, table, database) {
            // A failed or timed-out read leaves the range unknown.
            if let Ok(Some(r)) = conn.fetch_optional(AssertSqlSafe(sql)).await {
                min = text(&r, 0).parse().ok();
                max = text(&r, 1).parse().ok();
            }
        }
        col.stats = Some(ColumnStats {
            distinct: count.max(1),
            min,
            max,
        });
    }
    Ok(())
}
