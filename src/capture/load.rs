//! Creates the TPC-H schema and bulk-loads generated data.
//!
//! Data comes from the `tpchgen` crate (a faithful port of dbgen), rendered
//! in dbgen's `|`-separated form and sent as multi-row INSERTs: that works on
//! any MySQL/MariaDB without `LOCAL INFILE` being enabled on the server.

use super::CaptureError;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Connection, Executor};
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    PartSuppGenerator, RegionGenerator, SupplierGenerator,
};

/// Tables in foreign-key order: each only references tables before it.
pub const TABLE_ORDER: [&str; 8] = [
    "region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem",
];

/// Column names in the order dbgen writes them (which is not the DDL order).
fn tbl_columns(table: &str) -> &'static [&'static str] {
    match table {
        "region" => &["r_regionkey", "r_name", "r_comment"],
        "nation" => &["n_nationkey", "n_name", "n_regionkey", "n_comment"],
        "supplier" => &[
            "s_suppkey",
            "s_name",
            "s_address",
            "s_nationkey",
            "s_phone",
            "s_acctbal",
            "s_comment",
        ],
        "customer" => &[
            "c_custkey",
            "c_name",
            "c_address",
            "c_nationkey",
            "c_phone",
            "c_acctbal",
            "c_mktsegment",
            "c_comment",
        ],
        "part" => &[
            "p_partkey",
            "p_name",
            "p_mfgr",
            "p_brand",
            "p_type",
            "p_size",
            "p_container",
            "p_retailprice",
            "p_comment",
        ],
        "partsupp" => &[
            "ps_partkey",
            "ps_suppkey",
            "ps_availqty",
            "ps_supplycost",
            "ps_comment",
        ],
        "orders" => &[
            "o_orderkey",
            "o_custkey",
            "o_orderstatus",
            "o_totalprice",
            "o_orderdate",
            "o_orderpriority",
            "o_clerk",
            "o_shippriority",
            "o_comment",
        ],
        _ => &[
            "l_orderkey",
            "l_partkey",
            "l_suppkey",
            "l_linenumber",
            "l_quantity",
            "l_extendedprice",
            "l_discount",
            "l_tax",
            "l_returnflag",
            "l_linestatus",
            "l_shipdate",
            "l_commitdate",
            "l_receiptdate",
            "l_shipinstruct",
            "l_shipmode",
            "l_comment",
        ],
    }
}

/// Expected row count, for the progress bar (lineitem is approximate).
fn expected_rows(table: &str, sf: f64) -> u64 {
    let n = match table {
        "region" => 5,
        "nation" => 25,
        "supplier" => SupplierGenerator::calculate_row_count(sf, 1, 1),
        "customer" => CustomerGenerator::calculate_row_count(sf, 1, 1),
        "part" => PartGenerator::calculate_row_count(sf, 1, 1),
        "partsupp" => PartSuppGenerator::calculate_row_count(sf, 1, 1),
        "orders" => OrderGenerator::calculate_row_count(sf, 1, 1),
        _ => OrderGenerator::calculate_row_count(sf, 1, 1) * 4,
    };
    n.max(0) as u64
}

/// Rows of `table` at scale factor `sf` in dbgen's text form.
fn rows(table: &str, sf: f64) -> Box<dyn Iterator<Item = String> + Send> {
    match table {
        "region" => Box::new(
            RegionGenerator::new(sf, 1, 1)
                .into_iter()
                .map(|r| r.to_string()),
        ),
        "nation" => Box::new(
            NationGenerator::new(sf, 1, 1)
                .into_iter()
                .map(|r| r.to_string()),
        ),
        "supplier" => Box::new(
            SupplierGenerator::new(sf, 1, 1)
                .into_iter()
                .map(|r| r.to_string()),
        ),
        "customer" => Box::new(
            CustomerGenerator::new(sf, 1, 1)
                .into_iter()
                .map(|r| r.to_string()),
        ),
        "part" => Box::new(
            PartGenerator::new(sf, 1, 1)
                .into_iter()
                .map(|r| r.to_string()),
        ),
        "partsupp" => Box::new(
            PartSuppGenerator::new(sf, 1, 1)
                .into_iter()
                .map(|r| r.to_string()),
        ),
        "orders" => Box::new(
            OrderGenerator::new(sf, 1, 1)
                .into_iter()
                .map(|r| r.to_string()),
        ),
        _ => Box::new(
            LineItemGenerator::new(sf, 1, 1)
                .into_iter()
                .map(|r| r.to_string()),
        ),
    }
}

/// Appends a dbgen line as a quoted SQL tuple.
fn push_tuple(sql: &mut String, line: &str) {
    sql.push('(');
    let fields = line.strip_suffix('|').unwrap_or(line).split('|');
    for (i, field) in fields.enumerate() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('\'');
        for c in field.chars() {
            match c {
                '\'' => sql.push_str("''"),
                '\\' => sql.push_str("\\\\"),
                c => sql.push(c),
            }
        }
        sql.push('\'');
    }
    sql.push(')');
}

const BATCH_ROWS: usize = 2000;

/// Splits the DDL file into statements (they are separated by blank lines).
pub fn ddl_statements(ddl: &str) -> Vec<(String, String)> {
    ddl.split("\n\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|s| {
            let name = s
                .split('`')
                .nth(1)
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            (!name.is_empty()).then(|| (name, s.to_string()))
        })
        .collect()
}

/// Creates the tables (in foreign-key order) and the workload's scratch table.
pub async fn create_schema(conn: &mut MySqlConnection, ddl: &str) -> Result<(), CaptureError> {
    let statements = ddl_statements(ddl);
    for table in TABLE_ORDER.iter().rev() {
        exec(conn, &format!("DROP TABLE IF EXISTS `{table}`")).await?;
    }
    for table in TABLE_ORDER {
        let Some((_, create)) = statements.iter().find(|(name, _)| name == table) else {
            return Err(CaptureError::Ddl(format!(
                "no CREATE TABLE for `{table}` in the DDL"
            )));
        };
        exec(conn, create).await?;
    }
    exec(conn, "DROP TABLE IF EXISTS qlat_scratch").await?;
    exec(
        conn,
        "CREATE TABLE qlat_scratch (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, v VARCHAR(64), created DATETIME, KEY k (k)) ENGINE=InnoDB",
    )
    .await?;
    Ok(())
}

pub async fn exec(conn: &mut MySqlConnection, sql: &str) -> Result<(), CaptureError> {
    conn.execute(AssertSqlSafe(sql))
        .await
        .map_err(|e| CaptureError::sql(sql, e))?;
    Ok(())
}

/// Loads one TPC-H table; returns the number of rows inserted.
async fn load_table(
    url: String,
    table: &'static str,
    sf: f64,
    bar: ProgressBar,
) -> Result<u64, CaptureError> {
    let head = format!(
        "INSERT INTO `{table}` ({}) VALUES ",
        tbl_columns(table).join(", ")
    );
    let tuples = Box::new(rows(table, sf).map(|line| {
        let mut tuple = String::new();
        push_tuple(&mut tuple, &line);
        tuple
    }));
    insert_tuples(url, head, tuples, bar).await
}

/// Sends `tuples` (each a parenthesised SQL row) as multi-row INSERTs that
/// start with `head` (`INSERT INTO t (a, b) VALUES `), generating the next
/// batch while the server stores the last one; returns the rows sent.
pub async fn insert_tuples(
    url: String,
    head: String,
    tuples: Box<dyn Iterator<Item = String> + Send>,
    bar: ProgressBar,
) -> Result<u64, CaptureError> {
    let mut conn = MySqlConnection::connect(&url)
        .await
        .map_err(CaptureError::connect)?;
    exec(
        &mut conn,
        "SET SESSION foreign_key_checks=0, unique_checks=0",
    )
    .await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, u64)>(4);
    let label = head.split(" VALUES").next().unwrap_or_default().to_string();
    let generator = tokio::task::spawn_blocking(move || {
        let mut sql = head.clone();
        let mut n = 0u64;
        for tuple in tuples {
            if n > 0 {
                sql.push(',');
            }
            sql.push_str(&tuple);
            n += 1;
            if n as usize == BATCH_ROWS {
                let batch = std::mem::replace(&mut sql, head.clone());
                if tx.blocking_send((batch, n)).is_err() {
                    return;
                }
                n = 0;
            }
        }
        if n > 0 {
            let _ = tx.blocking_send((sql, n));
        }
    });
    let mut total = 0;
    while let Some((sql, n)) = rx.recv().await {
        conn.execute(AssertSqlSafe(sql))
            .await
            .map_err(|e| CaptureError::sql(&label, e))?;
        total += n;
        bar.inc(n);
    }
    generator
        .await
        .map_err(|e| CaptureError::Ddl(format!("generator for {label} failed: {e}")))?;
    bar.finish();
    let _ = conn.close().await;
    Ok(total)
}

/// Generates and loads every table; returns row counts in [`TABLE_ORDER`].
pub async fn load_data(url: &str, sf: f64) -> Result<Vec<(String, u64)>, CaptureError> {
    let bars = MultiProgress::new();
    let style = ProgressStyle::with_template(
        "{prefix:>9} [{bar:40}] {pos}/{len} rows ({per_sec}, eta {eta})",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    // Two loaders at a time keeps both cores busy without starving the
    // server; the biggest tables go first so the tail is short.
    let mut order: Vec<&'static str> = TABLE_ORDER.to_vec();
    order.sort_by_key(|t| std::cmp::Reverse(expected_rows(t, sf)));
    let mut counts = Vec::new();
    for pair in order.chunks(2) {
        let mut tasks = Vec::new();
        for &table in pair {
            let bar = bars.add(ProgressBar::new(expected_rows(table, sf)));
            bar.set_style(style.clone());
            bar.set_prefix(table);
            tasks.push(tokio::spawn(load_table(url.to_string(), table, sf, bar)));
        }
        for (task, &table) in tasks.into_iter().zip(pair) {
            let n = task
                .await
                .map_err(|e| CaptureError::Ddl(format!("loader for {table} failed: {e}")))??;
            if crate::progress::plain() {
                tracing::info!("loaded {table}: {n} rows");
            }
            counts.push((table.to_string(), n));
        }
    }
    counts.sort_by_key(|(t, _)| TABLE_ORDER.iter().position(|x| x == t));
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_are_quoted_and_escaped() {
        let mut s = String::new();
        push_tuple(&mut s, "1|it's|a\\b|");
        assert_eq!(s, r"('1','it''s','a\\b')");
    }

    #[test]
    fn ddl_has_every_table() {
        let ddl = include_str!("../../data/tpch.sql");
        let names: Vec<String> = ddl_statements(ddl).into_iter().map(|(n, _)| n).collect();
        for t in TABLE_ORDER {
            assert!(names.iter().any(|n| n == t), "{t}");
        }
    }

    #[test]
    fn generated_rows_match_the_column_lists() {
        for table in TABLE_ORDER {
            let line = rows(table, 0.01).next().unwrap_or_default();
            let fields = line.strip_suffix('|').unwrap_or(&line).split('|').count();
            assert_eq!(fields, tbl_columns(table).len(), "{table}: {line}");
        }
    }
}
