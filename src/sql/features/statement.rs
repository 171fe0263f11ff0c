//! What [`extract`] finds in one statement; the named numbers the model
//! reads from it are in `vector.rs` ([`StatementFeatures::numeric_vector`]).

use super::*;

/// What a statement does, as a DBA would name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum StatementKind {
    /// `SELECT`, `WITH ... SELECT`, `VALUES`, `TABLE t`.
    Select,
    /// `INSERT` (and `LOAD DATA`).
    Insert,
    /// `UPDATE`.
    Update,
    /// `DELETE`.
    Delete,
    /// `REPLACE` (MySQL's delete-then-insert).
    Replace,
    /// `SET` session/global variables, `SET NAMES`.
    Set,
    /// `SHOW ...`.
    Show,
    /// `USE db`.
    Use,
    /// `BEGIN`, `START TRANSACTION`.
    Begin,
    /// `COMMIT`.
    Commit,
    /// `ROLLBACK`.
    Rollback,
    /// `CREATE ...`.
    Create,
    /// `DROP ...`, `TRUNCATE`.
    Drop,
    /// `ALTER ...`, `RENAME`.
    Alter,
    /// `CALL procedure(...)`.
    Call,
    /// `EXPLAIN`, `DESCRIBE`.
    Explain,
    /// Protocol/administrative commands logged as statements: `Quit`,
    /// `Ping`, `Connect`, `administrator command: ...`, `KILL`, `FLUSH`,
    /// `ANALYZE/OPTIMIZE TABLE`, `GRANT`, ...
    Admin,
    /// Anything else (including empty text).
    #[default]
    Other,
}

impl StatementKind {
    /// Whether this kind carries no query structure worth parsing: its cost
    /// is a round trip, not data access.
    pub(super) fn is_chatter(self) -> bool {
        matches!(
            self,
            StatementKind::Set
                | StatementKind::Show
                | StatementKind::Use
                | StatementKind::Begin
                | StatementKind::Commit
                | StatementKind::Rollback
                | StatementKind::Admin
        )
    }
}

/// How a referenced table is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TableAccess {
    /// A filter compares a leading index column with a constant/outer value.
    IndexLookup,
    /// Reached through an equality join key on a leading index column.
    IndexJoin,
    /// No usable index predicate: every row is read.
    FullScan,
    /// Only written (the target of `INSERT`/`REPLACE`).
    Write,
    /// Unknown table, or the statement was not parsed.
    #[default]
    Unknown,
}

/// One table reference (a table referenced twice, e.g. a self join, appears
/// twice).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TableRef {
    /// Lower-case table name without schema.
    pub name: String,
    /// The database the statement names the table in (`db` of `db.t`), as
    /// written; `None` when the statement leaves it to the session's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Lower-case alias, when one was given.
    pub alias: Option<String>,
    /// Whether the catalog knows the table.
    pub known: bool,
    /// How the table is read.
    pub access: TableAccess,
    /// Catalog row count, when known.
    pub row_count: Option<u64>,
    /// Rows the access is expected to read, from the catalog (row counts,
    /// keys, foreign keys) and the predicates on index columns: the table's
    /// rows for a full scan, rows per key × keys asked for a lookup, rows per
    /// key × driving rows for an index join. A textbook estimate, not the
    /// optimizer's; `None` when the table's size is unknown.
    #[serde(default)]
    pub rows_read_estimate: Option<f64>,
    /// Rows of the table that pass the block's filters on it: its rows
    /// times each filter's selectivity (from column statistics when the
    /// catalog has them, textbook guesses otherwise), filters taken as
    /// independent. `None` when the table's size is unknown.
    #[serde(default)]
    pub rows_matched_estimate: Option<f64>,
}

/// Columns referenced per clause, as `table.column` when they could be
/// resolved (derived tables/CTEs use their alias as table), else as written.
/// Each list is de-duplicated in order of first appearance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClauseColumns {
    /// Select list.
    pub select: Vec<String>,
    /// WHERE clauses.
    #[serde(rename = "where")]
    pub where_: Vec<String>,
    /// JOIN ... ON / USING conditions.
    pub join: Vec<String>,
    /// GROUP BY.
    pub group_by: Vec<String>,
    /// ORDER BY.
    pub order_by: Vec<String>,
}

/// Join shape, summed over all query blocks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JoinFeatures {
    /// All joins (explicit and comma joins).
    pub count: u32,
    /// `[INNER] JOIN`, `STRAIGHT_JOIN`, `NATURAL JOIN`.
    pub inner: u32,
    /// `LEFT [OUTER] JOIN`.
    pub left: u32,
    /// `RIGHT [OUTER] JOIN`.
    pub right: u32,
    /// `FULL OUTER JOIN`.
    pub full: u32,
    /// `CROSS JOIN`, or comma joins in a block with no join key at all.
    pub cross: u32,
    /// Comma joins (`FROM a, b WHERE a.x = b.y`).
    pub implicit: u32,
    /// Equality join keys where at least one side is a leading index column.
    pub keys_indexed: u32,
    /// Equality join keys with no usable index on either side.
    pub keys_unindexed: u32,
}

/// Predicate operator counts (WHERE, ON and HAVING).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OperatorCounts {
    /// `=` and `<=>`.
    pub eq: u32,
    /// `<>`, `!=`.
    pub ne: u32,
    /// `<`.
    pub lt: u32,
    /// `>`.
    pub gt: u32,
    /// `<=`.
    pub le: u32,
    /// `>=`.
    pub ge: u32,
    /// `LIKE`.
    pub like: u32,
    /// `NOT LIKE`.
    pub not_like: u32,
    /// `IN (list)`.
    pub in_list: u32,
    /// `NOT IN (list)`.
    pub not_in_list: u32,
    /// `IN (subquery)`.
    pub in_subquery: u32,
    /// `NOT IN (subquery)`.
    pub not_in_subquery: u32,
    /// `BETWEEN`.
    pub between: u32,
    /// `NOT BETWEEN`.
    pub not_between: u32,
    /// `IS NULL`.
    pub is_null: u32,
    /// `IS NOT NULL`.
    pub is_not_null: u32,
    /// `EXISTS`.
    pub exists: u32,
    /// `NOT EXISTS`.
    pub not_exists: u32,
    /// `REGEXP`/`RLIKE`, `MATCH ... AGAINST`.
    pub regexp: u32,
}

/// Whether a range bounds dates or numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RangeKind {
    /// Date bounds; the span is in days.
    Date,
    /// Numeric bounds; the span is the numeric difference.
    Number,
}

/// A closed range on one column (`BETWEEN`, or `>=`/`>` paired with
/// `<`/`<=` on the same column in one block).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeFeature {
    /// The column, resolved like [`ClauseColumns`].
    pub column: String,
    /// Dates or numbers.
    pub kind: RangeKind,
    /// Upper minus lower bound (days for dates).
    pub span: f64,
}

/// Filter predicates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PredicateFeatures {
    /// Number of predicates (comparisons, LIKE, IN, BETWEEN, IS NULL,
    /// EXISTS) in WHERE, ON and HAVING clauses.
    pub count: u32,
    /// Per-operator counts.
    pub ops: OperatorCounts,
    /// `LIKE` patterns starting with `%` or `_` (no index prefix possible).
    pub like_leading_wildcard: u32,
    /// Largest `IN (...)` list.
    pub in_list_max: u32,
    /// Items over all `IN (...)` lists.
    pub in_list_total: u32,
    /// Closed ranges with computable spans.
    pub ranges: Vec<RangeFeature>,
    /// Range bounds with only one side (`l_shipdate <= date '1998-09-02'`).
    pub open_ranges: u32,
    /// Comparisons of a column with a constant where the column is the
    /// leading column of an index.
    pub indexed_filters: u32,
    /// Comparisons of a column with a constant where no index can help.
    pub unindexed_filters: u32,
}

/// Subqueries (scalar, IN, EXISTS, derived tables and CTEs).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubqueryFeatures {
    /// All subqueries.
    pub count: u32,
    /// Deepest nesting (0: none, 1: a subquery of the top-level query, ...).
    pub max_depth: u32,
    /// Subqueries referencing a table/alias of an enclosing block; MariaDB
    /// may re-run these once per outer row.
    pub correlated: u32,
    /// Derived tables (`FROM (SELECT ...) AS x`).
    pub derived_tables: u32,
    /// Common table expressions (`WITH x AS (...)`).
    pub ctes: u32,
}

/// Everything [`extract`] knows about a statement.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StatementFeatures {
    /// Whether the statement's structure was understood: parsed by
    /// sqlparser, or recognised as session/admin chatter by its keyword.
    pub parsed: bool,
    /// True when the chatter shortcut classified the statement (no AST).
    pub fast_path: bool,
    /// Statement kind.
    pub kind: StatementKind,
    /// Why the statement could not be parsed.
    pub unparsed_reason: Option<String>,
    /// Length in bytes after leading comments are stripped.
    pub length_bytes: usize,
    /// Number of tokens (comments and whitespace excluded).
    pub token_count: usize,
    /// Table references.
    pub tables: Vec<TableRef>,
    /// Columns per clause.
    pub columns: ClauseColumns,
    /// Joins.
    pub joins: JoinFeatures,
    /// Filter predicates.
    pub predicates: PredicateFeatures,
    /// Number of aggregate function calls.
    pub aggregate_count: u32,
    /// Distinct aggregate function names, sorted.
    pub aggregates: Vec<String>,
    /// `SELECT DISTINCT` or an aggregate over `DISTINCT` anywhere.
    pub distinct: bool,
    /// GROUP BY expressions over all blocks.
    pub group_by: u32,
    /// ORDER BY expressions over all blocks.
    pub order_by: u32,
    /// Any HAVING clause.
    pub having: bool,
    /// LIMIT of the outermost query.
    pub limit: Option<u64>,
    /// OFFSET of the outermost query.
    pub offset: Option<u64>,
    /// Subqueries.
    pub subqueries: SubqueryFeatures,
    /// Set operations, e.g. `union all`.
    pub set_operations: Vec<String>,
    /// Distinct function names used (lower-case, sorted), including
    /// aggregates and special forms (`extract`, `substring`, `cast`).
    pub functions: Vec<String>,
    /// CASE expressions.
    pub case_count: u32,
    /// Literal values (numbers, strings, dates, NULL).
    pub literal_count: u32,
    /// Items in the outermost select list.
    pub select_items: u32,
    /// `SELECT *` or `t.*` anywhere.
    pub select_star: bool,
    /// The server builds an `information_schema` table to answer: a `SHOW`
    /// the server implements that way (variables, status, columns, tables,
    /// processlist, ...; see [`show_reads_server_metadata`]), `DESCRIBE t`,
    /// or a query naming an `information_schema` / `performance_schema`
    /// table. Such statements fill a temporary table from server state, an
    /// order of magnitude dearer than other session chatter (`SHOW
    /// WARNINGS`, `SET NAMES`) and invisible to the table catalog.
    #[serde(default)]
    pub server_metadata: bool,
    /// Rows the outermost query block's joins produce before grouping and
    /// LIMIT, when one table drives them and every other is reached by a
    /// key: the driver's matching rows times, per joined table, rows per
    /// key × the share passing its filters.
    #[serde(default)]
    pub join_output_estimate: Option<f64>,
    /// The outermost ORDER BY is one column leading an index of its
    /// table: read in index order, a LIMIT still stops the scan early.
    #[serde(default)]
    pub ordered_by_index: bool,
    /// Rows read again by CTEs referenced more than once (see
    /// `Analyzer::cte_reference`); part of the rows-read estimate.
    #[serde(default)]
    pub cte_rereads: f64,
}
