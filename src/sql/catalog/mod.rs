//! Schema catalog: the tables, columns, keys and (optionally) row counts that
//! statement features are resolved against.
//!
//! Latency depends far more on *how* a table is read (index lookup vs. full
//! scan) and on *how big* it is than on the statement text, so the feature
//! extractor needs to know which columns are indexed and how many rows each
//! table holds. The catalog is built from DDL (`SHOW CREATE TABLE`, a
//! `mysqldump --no-data` file: [`ddl`]) or read from a live server's
//! `information_schema` (`crate::schema`), and is serialisable so that it
//! can be saved next to a trained model as the snapshot the model was
//! trained against.
//!
//! Tables are keyed by database and name. Tables of the default database
//! (the first one the catalog was given) and tables whose database is not
//! known are keyed by their bare name, the others as `db.table`; a
//! reference resolves `db.table` exactly and a bare name in the default
//! database first, then in any other.

mod ddl;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The TPC-H schema as created on the MariaDB server the workload was captured
/// from.
const TPCH_DDL: &str = include_str!("../../../data/tpch.sql");

/// Errors from building a [`Catalog`].
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A `CREATE TABLE` statement could not be read.
    #[error("line {line}: cannot read CREATE TABLE {table}: {message}")]
    Parse {
        /// 1-based line the statement starts on.
        line: usize,
        /// The table it creates, as far as it could be told.
        table: String,
        /// Parser message.
        message: String,
    },
    /// The input held no `CREATE TABLE` statement at all.
    #[error("no CREATE TABLE statement found in DDL")]
    Empty,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    /// Lower-case column name.
    pub name: String,
    /// SQL type as written in the DDL, e.g. `decimal(19,4)`.
    pub data_type: String,
    /// Whether the column may hold NULL.
    pub nullable: bool,
    /// Value statistics read from the server, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<ColumnStats>,
}

/// What a column holds, as an optimiser's statistics would say: enough to
/// turn `l_orderkey < 338181` into "56 % of lineitem" rather than a fixed
/// guess, which is the difference between a 2 ms and a 90 ms statement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ColumnStats {
    /// Distinct non-NULL values.
    pub distinct: u64,
    /// Smallest value: the number for numeric columns, days since
    /// 1970-01-01 for dates; `None` for other types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest value, in the units of `min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl ColumnStats {
    /// Share of the column's values inside `[lo, hi]` (a missing side is
    /// open), assuming values spread evenly between min and max; at least
    /// one value's share. `None` without min and max.
    pub fn range_fraction(&self, lo: Option<f64>, hi: Option<f64>) -> Option<f64> {
        let (min, max) = (self.min?, self.max?);
        let one = 1.0 / self.distinct.max(1) as f64;
        if max <= min {
            return Some(1.0);
        }
        let lo = lo.unwrap_or(min).max(min);
        let hi = hi.unwrap_or(max).min(max);
        Some(((hi - lo) / (max - min)).clamp(0.0, 1.0).max(one))
    }
}

/// A secondary index (`KEY`, `INDEX` or `UNIQUE KEY`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Lower-case index name (empty when the DDL gave none).
    pub name: String,
    /// Lower-case column names in index order; only a prefix is usable for
    /// lookups, so the order matters.
    pub columns: Vec<String>,
    /// Whether the index enforces uniqueness.
    pub unique: bool,
}

/// A foreign key constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    /// Lower-case constraint name (empty when the DDL gave none).
    pub name: String,
    /// Referencing columns, in order.
    pub columns: Vec<String>,
    /// Referenced table (lower-case).
    pub referenced_table: String,
    /// Referenced columns, in order.
    pub referenced_columns: Vec<String>,
}

/// One table of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Lower-case database (schema) the table belongs to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Lower-case table name.
    pub name: String,
    /// Columns in DDL order.
    pub columns: Vec<Column>,
    /// Primary key columns in key order (empty when the table has none).
    pub primary_key: Vec<String>,
    /// Secondary indexes.
    pub indexes: Vec<Index>,
    /// Foreign keys.
    pub foreign_keys: Vec<ForeignKey>,
    /// Number of rows, when known (capture metadata, `information_schema`).
    pub row_count: Option<u64>,
}

/// How an index can serve a predicate on one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndexUse {
    /// The column is the leading column of the primary key or of a secondary
    /// index, so an equality or range predicate on it alone can use the index.
    Leading,
    /// The column is only a non-leading part of some index: the index helps
    /// only when the columns before it are constrained too.
    NonLeading,
    /// No index contains the column (or the table/column is unknown).
    NotIndexed,
}

impl Table {
    /// Looks a column up by name, ignoring ASCII case.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Whether `column` can be looked up through the primary key or a
    /// secondary index of this table. See [`IndexUse`].
    pub fn index_use(&self, column: &str) -> IndexUse {
        let keys =
            std::iter::once(&self.primary_key).chain(self.indexes.iter().map(|i| &i.columns));
        let mut result = IndexUse::NotIndexed;
        for key in keys {
            match key.iter().position(|c| c.eq_ignore_ascii_case(column)) {
                Some(0) => return IndexUse::Leading,
                Some(_) => result = IndexUse::NonLeading,
                None => {}
            }
        }
        result
    }
}

/// The schema the workload runs against.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Tables keyed by lower-case name, `db.name` outside the default
    /// database (see the module doc).
    pub tables: BTreeMap<String, Table>,
    /// The database bare table names resolve in first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_database: Option<String>,
}

impl Catalog {
    /// Adds `table`, keyed as the module doc says; a table of the same
    /// database and name is replaced.
    pub fn insert(&mut self, table: Table) {
        let key = match &table.database {
            Some(db) if self.default_database.as_ref() != Some(db) => {
                format!("{db}.{}", table.name)
            }
            _ => table.name.clone(),
        };
        self.tables.insert(key, table);
    }

    /// Adds every table of `other` (another database's catalog).
    pub fn merge(&mut self, other: Catalog) {
        if self.default_database.is_none() && self.tables.is_empty() {
            self.default_database = other.default_database;
        }
        for table in other.tables.into_values() {
            self.insert(table);
        }
    }

    /// The databases the catalog's tables belong to.
    pub fn databases(&self) -> Vec<&str> {
        let mut dbs: Vec<&str> = self
            .tables
            .values()
            .filter_map(|t| t.database.as_deref())
            .collect();
        dbs.sort_unstable();
        dbs.dedup();
        dbs
    }

    /// The TPC-H schema of the captured workload (`data/tpch.sql`), without
    /// row counts.
    pub fn tpch() -> Catalog {
        // The DDL is compiled in and covered by tests, so failure here is a
        // build defect rather than an input error; fall back to an empty
        // catalog rather than panicking in a server.
        Catalog::from_ddl(TPCH_DDL).unwrap_or_default()
    }

    /// Sets the row counts of the TPC-H tables for a scale factor, as
    /// generated by `dbgen` (lineitem is approximate: ~6M rows per SF).
    pub fn with_tpch_row_counts(mut self, scale_factor: f64) -> Catalog {
        let per_sf: [(&str, f64); 6] = [
            ("supplier", 10_000.0),
            ("customer", 150_000.0),
            ("part", 200_000.0),
            ("partsupp", 800_000.0),
            ("orders", 1_500_000.0),
            ("lineitem", 6_001_215.0),
        ];
        self.set_row_count("region", 5);
        self.set_row_count("nation", 25);
        for (table, rows) in per_sf {
            self.set_row_count(table, (rows * scale_factor).round().max(0.0) as u64);
        }
        self
    }

    /// Records the number of rows of `table`; returns false when the table is
    /// not in the catalog.
    pub fn set_row_count(&mut self, table: &str, rows: u64) -> bool {
        match self.table_mut(table) {
            Some(t) => {
                t.row_count = Some(rows);
                true
            }
            None => false,
        }
    }

    /// Records statistics of `table.column`; false when the catalog has no
    /// such column.
    pub fn set_column_stats(&mut self, table: &str, column: &str, stats: ColumnStats) -> bool {
        match self.table_mut(table).and_then(|t| {
            t.columns
                .iter_mut()
                .find(|c| c.name.eq_ignore_ascii_case(column))
        }) {
            Some(c) => {
                c.stats = Some(stats);
                true
            }
            None => false,
        }
    }

    /// Rows sharing one value of `column` in `table`: 1 for a single-column
    /// primary or unique key, rows over the column's distinct count when
    /// statistics are known, the table's rows over the referenced table's
    /// for a foreign key (l_suppkey: 600,572 / 1,000 ≈ 600), else a guess of
    /// 1 % of the table. Feeds the rows-read estimate of index lookups.
    pub fn rows_per_key(&self, table: &Table, column: &str) -> f64 {
        let Some(rows) = table.row_count.map(|r| r as f64) else {
            return 1.0;
        };
        let is = |cols: &[String]| cols.len() == 1 && cols[0].eq_ignore_ascii_case(column);
        if is(&table.primary_key) || table.indexes.iter().any(|i| i.unique && is(&i.columns)) {
            return 1.0;
        }
        if let Some(distinct) = table
            .column(column)
            .and_then(|c| c.stats)
            .map(|s| s.distinct)
            .filter(|&d| d > 0)
        {
            return (rows / distinct as f64).max(1.0);
        }
        let referenced = table
            .foreign_keys
            .iter()
            .filter(|fk| {
                fk.columns
                    .first()
                    .is_some_and(|c| c.eq_ignore_ascii_case(column))
            })
            .filter_map(|fk| self.table(&fk.referenced_table)?.row_count)
            .max();
        match referenced {
            Some(parents) if parents > 0 => (rows / parents as f64).max(1.0),
            _ => (rows / 100.0).max(1.0),
        }
    }

    /// Looks a table up by name, ignoring ASCII case: `db.table` in that
    /// database (or among tables of no known database), a bare name in the
    /// default database first, then in any.
    pub fn table(&self, name: &str) -> Option<&Table> {
        if let Some(t) = self.tables.get(name) {
            return Some(t);
        }
        self.key_of(name).and_then(|k| self.tables.get(&k))
    }

    fn table_mut(&mut self, name: &str) -> Option<&mut Table> {
        let key = self.key_of(name)?;
        self.tables.get_mut(&key)
    }

    /// The key `name` resolves to (see [`Catalog::table`]).
    fn key_of(&self, name: &str) -> Option<String> {
        let lower = name.to_ascii_lowercase();
        if self.tables.contains_key(&lower) {
            return Some(lower);
        }
        match lower.rsplit_once('.') {
            Some((db, bare)) => self
                .tables
                .get(bare)
                .filter(|t| t.database.as_deref().is_none_or(|d| d == db))
                .map(|_| bare.to_owned()),
            None => self
                .tables
                .iter()
                .find(|(_, t)| t.name == lower)
                .map(|(k, _)| k.clone()),
        }
    }

    /// The table owning column `column` when exactly one catalog table has a
    /// column of that name. Ambiguous names resolve to `None`; callers that
    /// know the FROM tables should use [`Catalog::column_owner_in`].
    pub fn column_owner(&self, column: &str) -> Option<&str> {
        let mut owners = self.tables.values().filter(|t| t.column(column).is_some());
        let first = owners.next()?;
        match owners.next() {
            Some(_) => None,
            None => Some(first.name.as_str()),
        }
    }

    /// The first table among `from_tables` (names, any case) owning
    /// `column`. This is how an unqualified column of a query resolves.
    pub fn column_owner_in<'a, S: AsRef<str>>(
        &'a self,
        column: &str,
        from_tables: &[S],
    ) -> Option<&'a str> {
        from_tables
            .iter()
            .filter_map(|t| self.table(t.as_ref()))
            .find(|t| t.column(column).is_some())
            .map(|t| t.name.as_str())
    }

    /// Whether `column` of `table` is usable through an index. Unknown tables
    /// or columns are [`IndexUse::NotIndexed`].
    pub fn is_indexed(&self, table: &str, column: &str) -> IndexUse {
        self.table(table)
            .map_or(IndexUse::NotIndexed, |t| t.index_use(column))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_fraction_is_the_share_of_the_value_range() {
        let s = ColumnStats {
            distinct: 50,
            min: Some(1.0),
            max: Some(51.0),
        };
        assert_eq!(s.range_fraction(None, Some(26.0)), Some(0.5));
        assert_eq!(s.range_fraction(Some(41.0), None), Some(0.2));
        assert_eq!(s.range_fraction(Some(11.0), Some(21.0)), Some(0.2));
        // Outside the range or inverted: one value's share, never zero.
        assert_eq!(s.range_fraction(Some(100.0), None), Some(0.02));
        assert_eq!(s.range_fraction(Some(30.0), Some(20.0)), Some(0.02));
        assert_eq!(s.range_fraction(None, None), Some(1.0));
        let text = ColumnStats {
            distinct: 7,
            min: None,
            max: None,
        };
        assert_eq!(text.range_fraction(Some(1.0), None), None);
        let mut cat = Catalog::tpch();
        assert!(cat.set_column_stats("LINEITEM", "l_quantity", s));
        assert!(!cat.set_column_stats("lineitem", "nosuch", s));
        cat.set_row_count("lineitem", 600_000);
        let t = cat.table("lineitem").expect("lineitem");
        assert_eq!(cat.rows_per_key(t, "l_quantity"), 12_000.0);
    }

    #[test]
    fn tpch_has_all_tables_and_keys() {
        let cat = Catalog::from_ddl(TPCH_DDL).expect("tpch ddl parses");
        assert_eq!(cat.tables.len(), 8);
        let li = cat.table("LINEITEM").expect("lineitem");
        assert_eq!(li.columns.len(), 16);
        assert_eq!(li.primary_key, vec!["l_orderkey", "l_linenumber"]);
        assert_eq!(li.indexes.len(), 2);
        assert_eq!(li.indexes[0].name, "l_suppkey");
        assert_eq!(li.indexes[0].columns, vec!["l_suppkey", "l_partkey"]);
        assert_eq!(li.foreign_keys.len(), 2);
        assert_eq!(li.foreign_keys[1].referenced_table, "partsupp");
        assert_eq!(li.foreign_keys[1].columns, vec!["l_partkey", "l_suppkey"]);
        let ship = li.column("l_shipdate").expect("l_shipdate");
        assert_eq!(ship.data_type, "date");
        assert!(ship.nullable);
        let disc = li.column("L_DISCOUNT").expect("l_discount");
        assert_eq!(disc.data_type, "decimal(19,4)");
        assert!(!disc.nullable);
        assert_eq!(
            cat.table("tpch.orders").map(|t| t.name.as_str()),
            Some("orders")
        );
    }

    #[test]
    fn index_use_distinguishes_leading_and_non_leading() {
        let cat = Catalog::tpch();
        assert_eq!(cat.is_indexed("lineitem", "l_orderkey"), IndexUse::Leading);
        assert_eq!(
            cat.is_indexed("lineitem", "l_linenumber"),
            IndexUse::NonLeading
        );
        assert_eq!(cat.is_indexed("lineitem", "l_partkey"), IndexUse::Leading);
        assert_eq!(
            cat.is_indexed("lineitem", "l_shipdate"),
            IndexUse::NotIndexed
        );
        assert_eq!(cat.is_indexed("Orders", "O_CUSTKEY"), IndexUse::Leading);
        assert_eq!(cat.is_indexed("nosuch", "x"), IndexUse::NotIndexed);
        assert_eq!(cat.is_indexed("supplier", "s_nationkey"), IndexUse::Leading);
    }

    #[test]
    fn column_owner_resolves_unique_and_from_scoped_names() {
        let cat = Catalog::tpch();
        assert_eq!(cat.column_owner("l_shipdate"), Some("lineitem"));
        assert_eq!(cat.column_owner("C_NAME"), Some("customer"));
        assert_eq!(cat.column_owner("nope"), None);
        assert_eq!(
            cat.column_owner_in("o_orderkey", &["lineitem", "ORDERS"]),
            Some("orders")
        );
        assert_eq!(cat.column_owner_in("o_orderkey", &["lineitem"]), None);
    }

    #[test]
    fn ambiguous_column_has_no_global_owner() {
        let cat = Catalog::from_ddl(
            "CREATE TABLE a (id int NOT NULL PRIMARY KEY, v int);\n\
             CREATE TABLE b (id int, UNIQUE KEY u (id));",
        )
        .expect("parses");
        assert_eq!(cat.column_owner("id"), None);
        assert_eq!(cat.column_owner("v"), Some("a"));
        assert_eq!(cat.is_indexed("a", "id"), IndexUse::Leading);
        assert_eq!(cat.is_indexed("b", "id"), IndexUse::Leading);
        assert!(
            !cat.table("a")
                .and_then(|t| t.column("id"))
                .expect("id")
                .nullable
        );
    }

    #[test]
    fn row_counts_and_serde_round_trip() {
        let mut cat = Catalog::tpch().with_tpch_row_counts(1.0);
        assert_eq!(cat.table("region").and_then(|t| t.row_count), Some(5));
        assert_eq!(
            cat.table("orders").and_then(|t| t.row_count),
            Some(1_500_000)
        );
        assert!(cat.set_row_count("LineItem", 42));
        assert!(!cat.set_row_count("nosuch", 1));
        let json = serde_json::to_string(&cat).expect("serialises");
        let back: Catalog = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, cat);
        assert_eq!(back.table("lineitem").and_then(|t| t.row_count), Some(42));
    }

    #[test]
    fn bad_statement_is_reported_by_number() {
        let err = Catalog::from_ddl("CREATE TABLE a (x int);\n\nCREATE TABLE oops (x")
            .expect_err("must fail");
        match err {
            CatalogError::Parse { line, table, .. } => {
                assert_eq!(line, 3);
                assert_eq!(table, "oops");
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(matches!(
            Catalog::from_ddl("SET NAMES utf8;"),
            Err(CatalogError::Empty)
        ));
    }

    #[test]
    fn dump_noise_is_ignored() {
        let cat = Catalog::from_ddl(
            "DROP TABLE IF EXISTS `t`;\nSET NAMES utf8mb4;\n\
             CREATE TABLE `t` (\n  `a` int NOT NULL,\n  `b` varchar(10) DEFAULT 'x;y',\n\
             PRIMARY KEY (`a`)\n) ENGINE=InnoDB;\n",
        )
        .expect("parses");
        assert_eq!(cat.table("t").map(|t| t.columns.len()), Some(2));
    }
}
