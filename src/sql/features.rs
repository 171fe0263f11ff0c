//! Structured features of one SQL statement, resolved against a [`Catalog`].
//!
//! The latency model cannot run the optimizer, so it needs a cheap static
//! picture of the work a statement implies: which tables it touches and
//! whether they are reached through an index or scanned, how many joins and
//! how selective the filters look (date ranges, IN lists, leading-wildcard
//! LIKEs), how much post-processing it asks for (GROUP BY, ORDER BY,
//! DISTINCT, LIMIT) and how deeply it nests. [`analyze`] computes that
//! picture; [`StatementFeatures::numeric_vector`] flattens it into named
//! numbers for the model and for explanations shown to DBAs.
//!
//! `analyze` never fails: logs contain truncated statements, client chatter
//! and administrator commands, and every one of them must still get a
//! prediction. Session/administrative chatter (`SET`, `SHOW`, `USE`,
//! `COMMIT`, `Quit`, ...) is classified from its first keyword without
//! running sqlparser, which keeps the serving path fast for the bulk of a
//! real log; text sqlparser rejects is classified the same way and marked
//! `parsed: false`.
//!
//! Index-use heuristic: a table is "read via index" when a top-level (not
//! under `OR`) WHERE/ON predicate compares the leading column of its primary
//! key or of a secondary index with a value that does not depend on the same
//! query block (constant, outer column, subquery), or when an equality join
//! key on such a column connects it to another table of the block. A block
//! whose tables are *all* only reachable through join keys still has to start
//! somewhere, so the smallest of them (by catalog row count, else the first
//! in FROM order) is counted as scanned. The inner side of an outer join is
//! the only side that can use the ON keys.

use chrono::{Days, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use sqlparser::ast::{
    BinaryOperator, DataType, DateTimeField, Distinct, DuplicateTreatment, Expr, FromTable,
    Function, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr, Ident, InTarget,
    JoinConstraint, JoinOperator, LimitClause, ObjectName, ObjectNamePart, OrderBy, OrderByKind,
    Query, Select, SelectItem, SetExpr, SetOperator, SetQuantifier, Statement, TableFactor,
    TableObject, TableWithJoins, UnaryOperator, Value,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::catalog::{Catalog, IndexUse, Table};
use super::tokens::{looks_like_date, scan_tokens};

/// Statements nested deeper than this many parentheses are not handed to
/// sqlparser: its recursion limit would reject them anyway, and refusing early
/// keeps stack use bounded on small (2 MiB) worker-thread stacks.
const MAX_PAREN_DEPTH: usize = 32;

/// sqlparser builds left-deep trees for chains like `a DIV b DIV c ...`
/// iteratively, without its recursion guard; dropping or walking such a tree
/// recurses once per operator. Statements whose expressions may nest deeper
/// than this (see [`expression_depth_bound`], which counts a comparison in
/// an `OR` chain as a level of its own, so 2,500 `a = 1 OR …` conditions
/// count 5,000) are classified without parsing. Measured in a debug build on
/// a 2 MiB thread stack (a test thread's, a tokio worker's): chains of
/// 10,000 `+` or 5,000 `OR`s parse, walk and drop fine. Real statements stay
/// far below it (an `IN` list or `VALUES` rows are commas, not operators).
pub const MAX_EXPRESSION_DEPTH: usize = 5_000;

/// sqlparser's MySQL `DIV` copies its whole left operand (the dialect hook
/// sees it by reference), so a chain of k `DIV`s costs k²/2 node copies: a
/// 12 kB chain took a second, and the recursive copy overflowed a 2 MiB
/// stack at 2,500 `DIV`s. Statements whose `DIV`s would copy more nodes
/// than this (about 450 in one chain) are classified without parsing.
pub const MAX_DIV_COPIES: usize = 100_000;

/// `UNION` / `EXCEPT` / `INTERSECT` build a left-deep tree as well, with
/// larger frames: 6,500 overflowed a 2 MiB stack in a debug build, 3,000
/// did not.
pub const MAX_SET_OPERATIONS: usize = 2_000;

/// Expression nesting beyond which the walker stops descending (it still
/// returns a result; deeper parts are just not counted).
const MAX_WALK_DEPTH: u32 = 256;

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
    fn is_chatter(self) -> bool {
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

/// Everything [`analyze`] knows about a statement.
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

impl StatementFeatures {
    /// Share of its rows a statement reads before its LIMIT is filled,
    /// when nothing (ORDER BY other than an index's order, GROUP BY,
    /// aggregates, DISTINCT, subqueries) makes the server read everything
    /// first: the share LIMIT is of the rows the statement would produce.
    /// A selective filter with `LIMIT 10` reads most of the table; an
    /// unselective one stops after ten rows; a join stops as soon as ten
    /// joined rows came out. Other statements read all (1).
    fn limit_share(&self) -> f64 {
        let in_order = self.order_by == 0 || (self.ordered_by_index && self.tables.len() == 1);
        let stops_early = self.group_by == 0
            && in_order
            && self.aggregate_count == 0
            && !self.distinct
            && self.set_operations.is_empty()
            && self.subqueries.count == 0
            && self.subqueries.derived_tables == 0
            && self.subqueries.ctes == 0;
        let produced = match self.tables.as_slice() {
            [t] => t.rows_matched_estimate,
            [_, _, ..] => self.join_output_estimate,
            [] => None,
        };
        match (self.limit, produced) {
            (Some(limit), Some(out)) if stops_early && out > 0.0 => {
                let wanted = (limit + self.offset.unwrap_or(0)) as f64;
                (wanted / out).min(1.0)
            }
            _ => 1.0,
        }
    }

    /// The numeric features the latency model consumes, in a fixed order
    /// with names a DBA can read in an explanation. Counts are raw; row
    /// counts are `log10(rows + 1)` because their effect is multiplicative.
    ///
    /// | name | meaning |
    /// |---|---|
    /// | statement could not be parsed | 1 when sqlparser rejected the text |
    /// | is SELECT / is data change / is session or admin command | kind flags (data change: INSERT, UPDATE, DELETE, REPLACE) |
    /// | statement length (bytes) | text length without leading comments |
    /// | tokens | token count |
    /// | tables referenced / distinct tables / unknown tables | table references |
    /// | tables read via index | [`TableAccess::IndexLookup`] or [`TableAccess::IndexJoin`] |
    /// | tables scanned without index | [`TableAccess::FullScan`] |
    /// | rows of largest scanned table (log10) | biggest full scan |
    /// | rows of all scanned tables (log10) | sum over full scans |
    /// | rows of largest table referenced (log10) | biggest table touched at all |
    /// | estimated rows read (log10), largest table (log10) | [`TableRef::rows_read_estimate`] summed (plus [`StatementFeatures::cte_rereads`]), and its maximum |
    /// | estimated rows matching filters (log10) | [`TableRef::rows_matched_estimate`] summed |
    /// | estimated rows read until LIMIT is met (log10) | rows read × [`StatementFeatures::limit_share`] |
    /// | estimated rows read through an index (log10) | the part of it read by index lookups and joins: a row fetched by key costs an order of magnitude more than one met in a scan (TPC-H Q14 and Q6 both examine 600k rows, in 1.4 s and 0.07 s) |
    /// | joins, outer joins, comma joins, cross joins | [`JoinFeatures`] |
    /// | join keys with index / without index | equality join keys |
    /// | predicates, equality / range / LIKE / negated predicates | [`PredicateFeatures`] |
    /// | LIKE with leading wildcard | `LIKE '%...'` |
    /// | IN lists, largest IN list, IN list items | `IN (...)` lists |
    /// | IS NULL checks, EXISTS subqueries | |
    /// | filters on indexed columns / filters on non-indexed columns | column-vs-constant comparisons |
    /// | date range days (widest) | widest closed date range |
    /// | numeric range span (widest) | widest closed numeric range |
    /// | open-ended ranges | one-sided bounds |
    /// | aggregate functions, DISTINCT, GROUP BY columns, ORDER BY columns, HAVING | |
    /// | has LIMIT, LIMIT rows, OFFSET rows | outermost LIMIT (0 when absent) |
    /// | subqueries, subquery nesting depth, correlated subqueries | [`SubqueryFeatures`] |
    /// | derived tables and CTEs | |
    /// | UNION/set operations, functions used, CASE expressions, literals | |
    /// | selected columns, SELECT * | outermost select list |
    /// | reads server metadata | [`StatementFeatures::server_metadata`] |
    pub fn numeric_vector(&self) -> Vec<(&'static str, f64)> {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        let log_rows = |rows: u64| ((rows as f64) + 1.0).log10();
        let scanned = || {
            self.tables
                .iter()
                .filter(|t| t.access == TableAccess::FullScan)
        };
        let largest_scanned = scanned().filter_map(|t| t.row_count).max().unwrap_or(0);
        let total_scanned: u64 = scanned().filter_map(|t| t.row_count).sum();
        let estimated: Vec<f64> = self
            .tables
            .iter()
            .filter_map(|t| t.rows_read_estimate)
            .collect();
        let read: f64 = estimated.iter().sum::<f64>() + self.cte_rereads;
        let limit_share = self.limit_share();
        let through_index: f64 = self
            .tables
            .iter()
            .filter(|t| matches!(t.access, TableAccess::IndexLookup | TableAccess::IndexJoin))
            .filter_map(|t| t.rows_read_estimate)
            .sum();
        let largest = self
            .tables
            .iter()
            .filter_map(|t| t.row_count)
            .max()
            .unwrap_or(0);
        let mut distinct_tables: Vec<&str> = self.tables.iter().map(|t| t.name.as_str()).collect();
        distinct_tables.sort_unstable();
        distinct_tables.dedup();
        let widest = |kind: RangeKind| {
            self.predicates
                .ranges
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.span)
                .fold(0.0_f64, f64::max)
        };
        let ops = &self.predicates.ops;
        let k = self.kind;
        vec![
            ("statement could not be parsed", b(!self.parsed)),
            ("is SELECT", b(k == StatementKind::Select)),
            (
                "is data change",
                b(matches!(
                    k,
                    StatementKind::Insert
                        | StatementKind::Update
                        | StatementKind::Delete
                        | StatementKind::Replace
                )),
            ),
            ("is session or admin command", b(k.is_chatter())),
            ("statement length (bytes)", self.length_bytes as f64),
            ("tokens", self.token_count as f64),
            ("tables referenced", self.tables.len() as f64),
            ("distinct tables", distinct_tables.len() as f64),
            (
                "unknown tables",
                self.tables.iter().filter(|t| !t.known).count() as f64,
            ),
            (
                "tables read via index",
                self.tables
                    .iter()
                    .filter(|t| {
                        matches!(t.access, TableAccess::IndexLookup | TableAccess::IndexJoin)
                    })
                    .count() as f64,
            ),
            ("tables scanned without index", scanned().count() as f64),
            (
                "rows of largest scanned table (log10)",
                log_rows(largest_scanned),
            ),
            (
                "rows of all scanned tables (log10)",
                log_rows(total_scanned),
            ),
            (
                "rows of largest table referenced (log10)",
                log_rows(largest),
            ),
            ("estimated rows read (log10)", (read + 1.0).log10()),
            (
                "estimated rows read, largest table (log10)",
                (estimated.iter().copied().fold(0.0, f64::max) + 1.0).log10(),
            ),
            (
                "estimated rows matching filters (log10)",
                (self
                    .tables
                    .iter()
                    .filter_map(|t| t.rows_matched_estimate)
                    .sum::<f64>()
                    + 1.0)
                    .log10(),
            ),
            (
                "estimated rows read until LIMIT is met (log10)",
                (read * limit_share + 1.0).log10(),
            ),
            (
                "estimated rows read through an index (log10)",
                (through_index * limit_share + 1.0).log10(),
            ),
            ("joins", self.joins.count as f64),
            (
                "outer joins",
                (self.joins.left + self.joins.right + self.joins.full) as f64,
            ),
            ("comma joins", self.joins.implicit as f64),
            ("cross joins", self.joins.cross as f64),
            ("join keys with index", self.joins.keys_indexed as f64),
            ("join keys without index", self.joins.keys_unindexed as f64),
            ("predicates", self.predicates.count as f64),
            ("equality predicates", ops.eq as f64),
            (
                "range predicates",
                (ops.lt + ops.gt + ops.le + ops.ge + ops.between) as f64,
            ),
            ("LIKE predicates", (ops.like + ops.not_like) as f64),
            (
                "negated predicates",
                (ops.ne
                    + ops.not_like
                    + ops.not_in_list
                    + ops.not_in_subquery
                    + ops.not_between
                    + ops.not_exists) as f64,
            ),
            (
                "LIKE with leading wildcard",
                self.predicates.like_leading_wildcard as f64,
            ),
            ("IN lists", (ops.in_list + ops.not_in_list) as f64),
            ("largest IN list", self.predicates.in_list_max as f64),
            ("IN list items", self.predicates.in_list_total as f64),
            (
                "IN subqueries",
                (ops.in_subquery + ops.not_in_subquery) as f64,
            ),
            ("IS NULL checks", (ops.is_null + ops.is_not_null) as f64),
            ("EXISTS subqueries", (ops.exists + ops.not_exists) as f64),
            (
                "filters on indexed columns",
                self.predicates.indexed_filters as f64,
            ),
            (
                "filters on non-indexed columns",
                self.predicates.unindexed_filters as f64,
            ),
            ("date range days (widest)", widest(RangeKind::Date)),
            ("numeric range span (widest)", widest(RangeKind::Number)),
            ("open-ended ranges", self.predicates.open_ranges as f64),
            ("aggregate functions", self.aggregate_count as f64),
            ("DISTINCT", b(self.distinct)),
            ("GROUP BY columns", self.group_by as f64),
            ("ORDER BY columns", self.order_by as f64),
            ("HAVING", b(self.having)),
            ("has LIMIT", b(self.limit.is_some())),
            ("LIMIT rows", self.limit.unwrap_or(0) as f64),
            ("OFFSET rows", self.offset.unwrap_or(0) as f64),
            ("subqueries", self.subqueries.count as f64),
            ("subquery nesting depth", self.subqueries.max_depth as f64),
            ("correlated subqueries", self.subqueries.correlated as f64),
            (
                "derived tables and CTEs",
                (self.subqueries.derived_tables + self.subqueries.ctes) as f64,
            ),
            ("UNION/set operations", self.set_operations.len() as f64),
            ("functions used", self.functions.len() as f64),
            ("CASE expressions", self.case_count as f64),
            ("literals", self.literal_count as f64),
            ("selected columns", self.select_items as f64),
            ("SELECT *", b(self.select_star)),
            ("reads server metadata", b(self.server_metadata)),
        ]
    }

    /// The names of [`StatementFeatures::numeric_vector`], in order.
    pub fn feature_names() -> Vec<&'static str> {
        StatementFeatures::default()
            .numeric_vector()
            .into_iter()
            .map(|(n, _)| n)
            .collect()
    }
}

/// Analyzes one statement. Never panics and never fails; see the module
/// documentation.
pub fn analyze(sql: &str, catalog: &Catalog) -> StatementFeatures {
    analyze_inner(sql, catalog, None)
}

/// [`analyze`] and [`crate::sql::tokens::tokens`] of the same statement from
/// one pass of sqlparser's tokenizer: serving needs both, and tokenizing is
/// a large share of the cost of a short statement.
pub fn analyze_with_tokens(sql: &str, catalog: &Catalog) -> (StatementFeatures, Vec<String>) {
    let mut toks = Vec::new();
    let f = analyze_inner(sql, catalog, Some(&mut toks));
    (f, toks)
}

fn analyze_inner(
    sql: &str,
    catalog: &Catalog,
    mut tokens_out: Option<&mut Vec<String>>,
) -> StatementFeatures {
    let body = strip_leading_comments(sql);
    // Tokens come from the shared pass only when it tokenizes exactly what
    // `tokens(sql)` would: the statement without plain leading comments.
    // An executable comment (`/*!...*/`) is code here but a comment there.
    let offset = (body.as_ptr() as usize).saturating_sub(sql.as_ptr() as usize);
    // And the whitespace trimmed off the end must not matter: it does
    // after a final `--`, a comment marker only when whitespace follows.
    let shared = sql
        .get(..offset)
        .is_some_and(|prefix| !prefix.contains("/*!"))
        && !body.ends_with("--");
    let fill_separately = |out: &mut Option<&mut Vec<String>>| {
        if let Some(out) = out.as_deref_mut() {
            *out = crate::sql::tokens::tokens(sql);
        }
    };
    let mut f = StatementFeatures {
        length_bytes: body.len(),
        ..StatementFeatures::default()
    };
    if body.is_empty() {
        fill_separately(&mut tokens_out);
        f.unparsed_reason = Some("empty statement".to_owned());
        return f;
    }
    let guess = kind_from_keywords(body);
    f.kind = guess;
    if guess.is_chatter() && !(guess == StatementKind::Set && contains_select(body)) {
        fill_separately(&mut tokens_out);
        f.parsed = true;
        f.fast_path = true;
        f.server_metadata = guess == StatementKind::Show && show_reads_server_metadata(body);
        fallback_scan(body, catalog, &mut f);
        return f;
    }

    let dialect = MySqlDialect {};
    let tokens = match Tokenizer::new(&dialect, body)
        .with_unescape(false)
        .tokenize_with_location()
    {
        Ok(t) => t,
        Err(e) => {
            fill_separately(&mut tokens_out);
            return unparsed(body, catalog, f, format!("tokenizer: {e}"));
        }
    };
    match tokens_out.as_deref_mut() {
        Some(out) if shared => {
            out.extend(
                tokens
                    .iter()
                    .filter_map(|t| crate::sql::tokens::map_token(&t.token)),
            );
        }
        Some(_) => fill_separately(&mut tokens_out),
        None => {}
    }
    let bound = expression_depth_bound(&tokens);
    f.token_count = bound.tokens;
    if bound.max_parens > MAX_PAREN_DEPTH {
        return unparsed(
            body,
            catalog,
            f,
            format!("nesting deeper than {MAX_PAREN_DEPTH} parentheses"),
        );
    }
    if bound.div_copies > MAX_DIV_COPIES {
        return unparsed(
            body,
            catalog,
            f,
            format!("DIV chains too long to parse (over {MAX_DIV_COPIES} node copies)"),
        );
    }
    if bound.set_operations > MAX_SET_OPERATIONS {
        return unparsed(
            body,
            catalog,
            f,
            format!("more than {MAX_SET_OPERATIONS} UNION/EXCEPT/INTERSECT"),
        );
    }
    if bound.depth > MAX_EXPRESSION_DEPTH {
        return unparsed(
            body,
            catalog,
            f,
            format!("expressions nested deeper than {MAX_EXPRESSION_DEPTH} operators"),
        );
    }
    let statements = match Parser::new(&dialect)
        .with_tokens_with_locations(tokens)
        .parse_statements()
    {
        Ok(s) => s,
        Err(e) => match (guess == StatementKind::Set)
            .then(|| parse_set_parts(&dialect, body))
            .flatten()
        {
            Some(s) => s,
            None => return unparsed(body, catalog, f, e.to_string()),
        },
    };
    let Some(first) = statements.first() else {
        return unparsed(body, catalog, f, "no statement".to_owned());
    };
    f.parsed = true;
    f.kind = kind_of(first, guess);
    let mut a = Analyzer::new(catalog, f);
    for s in &statements {
        a.statement(s);
    }
    a.finish()
}

/// What one pass over the tokens tells about how deep the AST can get.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DepthBound {
    /// Tokens other than whitespace.
    pub tokens: usize,
    /// Deepest parenthesis nesting.
    pub max_parens: usize,
    /// An upper bound on the depth of operator nesting: binary operators in
    /// one chain (operands joined without a comma between them), summed
    /// over the enclosing parentheses and `CASE … END` blocks, plus one per
    /// open block.
    pub depth: usize,
    /// Nodes sqlparser copies for `DIV`s: for each, the operators left of
    /// it in its chain.
    pub div_copies: usize,
    /// `UNION`, `EXCEPT` and `INTERSECT` keywords.
    pub set_operations: usize,
}

/// Bounds the AST's depth from the tokens, in one linear pass, before
/// sqlparser builds it. A binary operator is an operator token or keyword
/// (`DIV`, `MOD`, `XOR`, `AND`, `LIKE`, `COLLATE`, `->`, `:=`, …) that
/// follows the end of an operand; prefix operators are left to sqlparser's
/// own recursion limit. Each open parenthesis keeps its own chain count,
/// reset by a comma, and hands it to the enclosing one when it closes.
pub fn expression_depth_bound(tokens: &[sqlparser::tokenizer::TokenWithSpan]) -> DepthBound {
    let mut out = DepthBound::default();
    // Chain count per open parenthesis / CASE; the sum is the depth so far.
    let mut chains: Vec<usize> = vec![0];
    let mut sum = 0usize;
    let mut after_operand = false;
    for t in tokens {
        let token = &t.token;
        if matches!(token, Token::Whitespace(_) | Token::EOF) {
            continue;
        }
        out.tokens += 1;
        let opens = matches!(token, Token::LParen)
            || matches!(token, Token::Word(w) if w.quote_style.is_none() && w.keyword == Keyword::CASE);
        let closes = matches!(token, Token::RParen)
            || matches!(token, Token::Word(w) if w.quote_style.is_none() && w.keyword == Keyword::END);
        if opens {
            chains.push(0);
            if matches!(token, Token::LParen) {
                out.max_parens = out.max_parens.max(chains.len() - 1);
            }
            after_operand = false;
            continue;
        }
        if closes {
            if chains.len() > 1 {
                let inner = chains.pop().unwrap_or(0);
                // The closed group is one operand of the enclosing chain,
                // as deep as its own chain was.
                if let Some(top) = chains.last_mut() {
                    *top += inner;
                }
            }
            after_operand = true;
            continue;
        }
        if matches!(token, Token::Word(w) if w.quote_style.is_none()
            && matches!(w.keyword, Keyword::UNION | Keyword::EXCEPT | Keyword::INTERSECT))
        {
            out.set_operations += 1;
        }
        if matches!(token, Token::Comma | Token::SemiColon) || starts_clause(token) {
            if let Some(top) = chains.last_mut() {
                sum -= *top;
                *top = 0;
            }
            after_operand = false;
            continue;
        }
        let binary = is_binary_operator(token);
        if binary && after_operand {
            if let Some(top) = chains.last_mut() {
                if matches!(token, Token::Word(w) if w.keyword == Keyword::DIV) {
                    out.div_copies += *top + 1;
                }
                *top += 1;
                sum += 1;
            }
            after_operand = false;
        } else {
            after_operand = !binary && ends_operand(token);
        }
        // Each open group is a level of its own, besides its operators.
        out.depth = out.depth.max(sum + chains.len() - 1);
    }
    out
}

/// Whether a keyword starts a new expression (a clause, a join condition, a
/// CASE branch, a set operation's next query): the chain before it is
/// complete.
fn starts_clause(token: &Token) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && matches!(
        w.keyword,
        Keyword::SELECT
            | Keyword::FROM
            | Keyword::WHERE
            | Keyword::JOIN
            | Keyword::ON
            | Keyword::USING
            | Keyword::GROUP
            | Keyword::ORDER
            | Keyword::HAVING
            | Keyword::LIMIT
            | Keyword::OFFSET
            | Keyword::UNION
            | Keyword::EXCEPT
            | Keyword::INTERSECT
            | Keyword::SET
            | Keyword::VALUES
            | Keyword::WHEN
            | Keyword::THEN
            | Keyword::ELSE
            | Keyword::RETURNING
            | Keyword::INTO
            | Keyword::WINDOW
    ))
}

/// Whether a token joins two operands: operator punctuation, or one of
/// MySQL's operator keywords.
fn is_binary_operator(token: &Token) -> bool {
    match token {
        Token::Word(w) => {
            w.quote_style.is_none()
                && matches!(
                    w.keyword,
                    Keyword::AND
                        | Keyword::OR
                        | Keyword::XOR
                        | Keyword::DIV
                        | Keyword::MOD
                        | Keyword::IS
                        | Keyword::LIKE
                        | Keyword::ILIKE
                        | Keyword::RLIKE
                        | Keyword::REGEXP
                        | Keyword::SIMILAR
                        | Keyword::IN
                        | Keyword::BETWEEN
                        | Keyword::COLLATE
                        | Keyword::MEMBER
                        | Keyword::ESCAPE
                        | Keyword::OVERLAPS
                        | Keyword::NOT
                )
        }
        Token::Number(..)
        | Token::Char(_)
        | Token::Comma
        | Token::Period
        | Token::LParen
        | Token::RParen
        | Token::LBracket
        | Token::RBracket
        | Token::LBrace
        | Token::RBrace
        | Token::SemiColon
        | Token::Colon
        | Token::DoubleColon
        | Token::Placeholder(_)
        | Token::Whitespace(_)
        | Token::EOF => false,
        other => !is_string_literal(other),
    }
}

/// Whether a token can end an operand: a name, a number, a literal, a
/// placeholder (and `)` / `END`, handled by the caller).
fn ends_operand(token: &Token) -> bool {
    match token {
        Token::Word(w) => {
            w.quote_style.is_some()
                || matches!(
                    w.keyword,
                    Keyword::NoKeyword | Keyword::NULL | Keyword::TRUE | Keyword::FALSE
                )
                || !is_binary_operator(token)
        }
        Token::Number(..) | Token::Placeholder(_) => true,
        other => is_string_literal(other),
    }
}

fn is_string_literal(token: &Token) -> bool {
    matches!(
        token,
        Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
    )
}

/// MySQL's `SET` mixes `NAMES` / `CHARACTER SET` with variable
/// assignments in one statement (sqlx opens every connection with `SET
/// sql_mode=(SELECT CONCAT(@@sql_mode, ...)),NAMES utf8mb4`); sqlparser
/// takes each kind alone. Splits what follows `SET` at commas outside
/// parentheses and parses each part as a `SET` of its own; `None` unless
/// every part parses. Runs only after the whole failed to parse, so it
/// tokenizes again rather than keep a copy of every `SET`'s tokens.
fn parse_set_parts(dialect: &MySqlDialect, body: &str) -> Option<Vec<Statement>> {
    let tokens = Tokenizer::new(dialect, body)
        .with_unescape(false)
        .tokenize()
        .ok()?;
    let is_set = |t: &Token| matches!(t, Token::Word(w) if w.keyword == Keyword::SET);
    let mut rest = tokens
        .iter()
        .skip_while(|t| matches!(t, Token::Whitespace(_)));
    if !rest.next().is_some_and(is_set) {
        return None;
    }
    let mut parts = vec![String::from("SET ")];
    let mut depth = 0usize;
    for t in rest {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => {
                parts.push(String::from("SET "));
                continue;
            }
            Token::EOF => continue,
            _ => {}
        }
        if let Some(part) = parts.last_mut() {
            part.push_str(&t.to_string());
        }
    }
    if parts.len() < 2 {
        return None;
    }
    let mut statements = Vec::new();
    for part in parts {
        statements.extend(Parser::parse_sql(dialect, &part).ok()?);
    }
    Some(statements)
}

/// Fills what can be known without an AST and marks the result unparsed.
fn unparsed(
    body: &str,
    catalog: &Catalog,
    mut f: StatementFeatures,
    reason: String,
) -> StatementFeatures {
    f.parsed = false;
    f.unparsed_reason = Some(reason);
    fallback_scan(body, catalog, &mut f);
    f
}

/// Token count and catalog tables named after FROM/JOIN/INTO/UPDATE/TABLE,
/// from the never-failing scanner: truncated statements still tell which
/// tables they were about to read.
fn fallback_scan(body: &str, catalog: &Catalog, f: &mut StatementFeatures) {
    let mut count = 0;
    let mut after_table_keyword = false;
    let tables = &mut f.tables;
    scan_tokens(body, |tok| {
        count += 1;
        if after_table_keyword && let Some(t) = catalog.table(&tok) {
            tables.push(TableRef {
                name: t.name.clone(),
                alias: None,
                known: true,
                access: TableAccess::Unknown,
                row_count: t.row_count,
                rows_read_estimate: None,
                rows_matched_estimate: None,
            });
        }
        after_table_keyword = matches!(&*tok, "from" | "join" | "into" | "update" | "table");
    });
    if f.token_count == 0 {
        f.token_count = count;
    }
}

/// Strips leading whitespace, `/* ... */`, `-- ...` and `# ...` comments.
/// MySQL executable comments (`/*!40101 SET NAMES utf8 */`) are the
/// statement itself, so their content is returned instead.
pub fn strip_leading_comments(sql: &str) -> &str {
    let mut s = sql.trim_start();
    loop {
        if let Some(rest) = s.strip_prefix("/*!") {
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            let inner = rest.rfind("*/").map_or(rest, |end| &rest[..end]);
            return inner.trim();
        } else if let Some(rest) = s.strip_prefix("/*") {
            s = rest
                .find("*/")
                .map_or("", |end| &rest[end + 2..])
                .trim_start();
        } else if s.starts_with("--") || s.starts_with('#') {
            s = s.find('\n').map_or("", |end| &s[end + 1..]).trim_start();
        } else {
            return s.trim_end_matches(|c: char| c.is_whitespace() || c == ';');
        }
    }
}

/// True when `s` contains the word `select` in any case.
fn contains_select(s: &str) -> bool {
    s.as_bytes()
        .windows(6)
        .any(|w| w.eq_ignore_ascii_case(b"select"))
}

/// Classifies a statement by its first keyword(s). Used for chatter (no
/// parse needed), for text sqlparser rejects, and for statement types whose
/// AST variant we do not distinguish.
pub fn kind_from_keywords(body: &str) -> StatementKind {
    let body = body.trim_start_matches(|c: char| c == '(' || c.is_whitespace());
    let mut words = body
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    let first = words.next().unwrap_or("");
    let second = words.next().unwrap_or("");
    let is = |w: &str, k: &str| w.eq_ignore_ascii_case(k);
    let any = |w: &str, ks: &[&str]| ks.iter().any(|k| w.eq_ignore_ascii_case(k));
    if any(first, &["select", "with", "values", "table"]) {
        StatementKind::Select
    } else if any(first, &["insert", "load"]) {
        StatementKind::Insert
    } else if is(first, "update") {
        StatementKind::Update
    } else if is(first, "delete") {
        StatementKind::Delete
    } else if is(first, "replace") {
        StatementKind::Replace
    } else if is(first, "set") {
        StatementKind::Set
    } else if is(first, "show") {
        StatementKind::Show
    } else if is(first, "use") {
        StatementKind::Use
    } else if is(first, "begin") || (is(first, "start") && is(second, "transaction")) {
        StatementKind::Begin
    } else if is(first, "commit") {
        StatementKind::Commit
    } else if is(first, "rollback") {
        StatementKind::Rollback
    } else if is(first, "create") {
        StatementKind::Create
    } else if any(first, &["drop", "truncate"]) {
        StatementKind::Drop
    } else if any(first, &["alter", "rename"]) {
        StatementKind::Alter
    } else if is(first, "call") {
        StatementKind::Call
    } else if any(first, &["explain", "describe", "desc"]) {
        StatementKind::Explain
    } else if any(
        first,
        &[
            "quit",
            "ping",
            "connect",
            "administrator",
            "kill",
            "shutdown",
            "flush",
            "reset",
            "init",
            "statistics",
            "processlist",
            "change",
            "binlog",
            "field",
            "grant",
            "revoke",
            "analyze",
            "optimize",
            "check",
            "checksum",
            "repair",
            "lock",
            "unlock",
            "purge",
            "install",
            "uninstall",
            "start",
            "stop",
            "xa",
            "help",
            "cache",
        ],
    ) {
        StatementKind::Admin
    } else {
        StatementKind::Other
    }
}

/// Whether a `SHOW` statement is answered by filling an
/// `information_schema` table (MariaDB's `prepare_schema_table` path):
/// lists of variables, status counters, databases, tables, columns,
/// indexes, processes, plugins, engines, character sets, routines,
/// triggers, events. `SHOW WARNINGS/ERRORS`, `SHOW CREATE ...`, `SHOW
/// GRANTS` and replication status read in-memory structures directly.
fn show_reads_server_metadata(body: &str) -> bool {
    const MODIFIERS: [&str; 6] = ["full", "global", "session", "local", "extended", "open"];
    const TARGETS: [&str; 21] = [
        "variables",
        "status",
        "databases",
        "schemas",
        "tables",
        "table",
        "columns",
        "fields",
        "index",
        "indexes",
        "keys",
        "processlist",
        "plugins",
        "engines",
        "charset",
        "character",
        "collation",
        "procedure",
        "function",
        "triggers",
        "events",
    ];
    body.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .skip(1)
        .find(|w| !MODIFIERS.iter().any(|m| w.eq_ignore_ascii_case(m)))
        .is_some_and(|w| TARGETS.iter().any(|t| w.eq_ignore_ascii_case(t)))
}

/// Kind from the AST, falling back to the keyword guess for the many
/// statement variants that do not need distinguishing.
fn kind_of(s: &Statement, guess: StatementKind) -> StatementKind {
    match s {
        Statement::Query(_) => StatementKind::Select,
        Statement::Insert(i) if i.replace_into => StatementKind::Replace,
        Statement::Insert(_) => {
            if guess == StatementKind::Replace {
                StatementKind::Replace
            } else {
                StatementKind::Insert
            }
        }
        Statement::Update(_) => StatementKind::Update,
        Statement::Delete(_) => StatementKind::Delete,
        Statement::Set(_) => StatementKind::Set,
        Statement::Use(_) => StatementKind::Use,
        Statement::StartTransaction { .. } => StatementKind::Begin,
        Statement::Commit { .. } => StatementKind::Commit,
        Statement::Rollback { .. } => StatementKind::Rollback,
        Statement::Call(_) => StatementKind::Call,
        Statement::Explain { .. } | Statement::ExplainTable { .. } => StatementKind::Explain,
        _ => guess,
    }
}

/// A literal value usable as a range bound.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Lit {
    Num(f64),
    Date(NaiveDate),
    /// An interval as (months, days).
    Interval(i64, i64),
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    if !looks_like_date(s) {
        return None;
    }
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

fn shift_date(d: NaiveDate, months: i64, days: i64, sign: i64) -> Option<NaiveDate> {
    let (months, days) = (months * sign, days * sign);
    let d = if months >= 0 {
        d.checked_add_months(Months::new(u32::try_from(months).ok()?))?
    } else {
        d.checked_sub_months(Months::new(u32::try_from(-months).ok()?))?
    };
    if days >= 0 {
        d.checked_add_days(Days::new(u64::try_from(days).ok()?))
    } else {
        d.checked_sub_days(Days::new(u64::try_from(-days).ok()?))
    }
}

fn combine(l: Lit, r: Lit, sign: i64) -> Option<Lit> {
    match (l, r) {
        (Lit::Num(a), Lit::Num(b)) => Some(Lit::Num(a + (sign as f64) * b)),
        (Lit::Date(d), Lit::Interval(m, dd)) => shift_date(d, m, dd, sign).map(Lit::Date),
        (Lit::Interval(m, dd), Lit::Date(d)) if sign > 0 => shift_date(d, m, dd, 1).map(Lit::Date),
        (Lit::Interval(m1, d1), Lit::Interval(m2, d2)) => {
            Some(Lit::Interval(m1 + sign * m2, d1 + sign * d2))
        }
        _ => None,
    }
}

fn interval_of(amount: f64, field: Option<&DateTimeField>) -> Option<Lit> {
    if !amount.is_finite() || amount.abs() > 1.0e6 {
        return None;
    }
    let n = amount.round() as i64;
    Some(match field? {
        DateTimeField::Year | DateTimeField::Years => Lit::Interval(12 * n, 0),
        DateTimeField::Quarter => Lit::Interval(3 * n, 0),
        DateTimeField::Month | DateTimeField::Months => Lit::Interval(n, 0),
        DateTimeField::Week(_) | DateTimeField::Weeks => Lit::Interval(0, 7 * n),
        DateTimeField::Day | DateTimeField::Days => Lit::Interval(0, n),
        _ => return None,
    })
}

fn object_name_last(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(ident)) => ident.value.to_ascii_lowercase(),
        Some(part) => part.to_string().to_ascii_lowercase(),
        None => String::new(),
    }
}

/// Evaluates a constant expression to a number, date or interval: the TPC-H
/// forms `date '1994-01-01' + interval '1' year`, `'1994-01-01'`,
/// `interval 3 month`, `.06 - 0.01`, `date_add('1994-01-01', interval 1 day)`.
fn eval(e: &Expr, depth: u32) -> Option<Lit> {
    if depth > 16 {
        return None;
    }
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok().map(Lit::Num),
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => parse_date(s)
                .map(Lit::Date)
                .or_else(|| s.trim().parse().ok().map(Lit::Num)),
            _ => None,
        },
        Expr::TypedString(ts) => match &ts.value.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => match ts.data_type {
                DataType::Date | DataType::Datetime(_) | DataType::Timestamp(..) => {
                    parse_date(s).map(Lit::Date)
                }
                _ => None,
            },
            _ => None,
        },
        Expr::Interval(iv) => {
            let amount = match eval(&iv.value, depth + 1)? {
                Lit::Num(n) => n,
                _ => return None,
            };
            interval_of(amount, iv.leading_field.as_ref())
        }
        Expr::Nested(inner) => eval(inner, depth + 1),
        Expr::Cast { expr, .. } => eval(expr, depth + 1),
        Expr::UnaryOp { op, expr } => match (op, eval(expr, depth + 1)?) {
            (UnaryOperator::Minus, Lit::Num(n)) => Some(Lit::Num(-n)),
            (UnaryOperator::Plus, lit) => Some(lit),
            _ => None,
        },
        Expr::BinaryOp { left, op, right } => {
            let l = eval(left, depth + 1)?;
            let r = eval(right, depth + 1)?;
            match (op, l, r) {
                (BinaryOperator::Plus, ..) => combine(l, r, 1),
                (BinaryOperator::Minus, ..) => combine(l, r, -1),
                (BinaryOperator::Multiply, Lit::Num(a), Lit::Num(b)) => Some(Lit::Num(a * b)),
                (BinaryOperator::Divide, Lit::Num(a), Lit::Num(b)) if b != 0.0 => {
                    Some(Lit::Num(a / b))
                }
                _ => None,
            }
        }
        Expr::Function(func) => {
            let name = object_name_last(&func.name);
            let sign = match name.as_str() {
                "date_add" | "adddate" => 1,
                "date_sub" | "subdate" => -1,
                "date" => {
                    return function_args(func)
                        .next()
                        .and_then(|a| eval(a, depth + 1))
                        .filter(|l| matches!(l, Lit::Date(_)));
                }
                _ => return None,
            };
            let mut args = function_args(func);
            let d = eval(args.next()?, depth + 1)?;
            let iv = eval(args.next()?, depth + 1)?;
            match iv {
                Lit::Num(n) => combine(d, Lit::Interval(0, n.round() as i64), sign),
                _ => combine(d, iv, sign),
            }
        }
        _ => None,
    }
}

/// The plain expression arguments of a function call.
fn function_args(func: &Function) -> impl Iterator<Item = &Expr> {
    let list: &[FunctionArg] = match &func.args {
        FunctionArguments::List(l) => &l.args,
        _ => &[],
    };
    list.iter().filter_map(|a| match a {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
        | FunctionArg::Named {
            arg: FunctionArgExpr::Expr(e),
            ..
        }
        | FunctionArg::ExprNamed {
            arg: FunctionArgExpr::Expr(e),
            ..
        } => Some(e),
        _ => None,
    })
}

fn span(lo: Lit, hi: Lit) -> Option<(RangeKind, f64)> {
    match (lo, hi) {
        (Lit::Num(a), Lit::Num(b)) => Some((RangeKind::Number, (b - a).abs())),
        (Lit::Date(a), Lit::Date(b)) => Some((RangeKind::Date, (b - a).num_days().abs() as f64)),
        _ => None,
    }
}

const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "group_concat",
    "std",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "bit_and",
    "bit_or",
    "bit_xor",
    "json_arrayagg",
    "json_objectagg",
];

/// Clause an expression is walked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clause {
    Select,
    Where,
    Join,
    GroupBy,
    Having,
    OrderBy,
    Other,
}

/// Which tables of a block may use a join key: the inner side of an outer
/// join only (the outer side must be read in full to produce its rows).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Restrict {
    None,
    Only(std::ops::Range<usize>),
    Except(std::ops::Range<usize>),
}

impl Restrict {
    fn allows(&self, t: usize) -> bool {
        match self {
            Restrict::None => true,
            Restrict::Only(r) => r.contains(&t),
            Restrict::Except(r) => !r.contains(&t),
        }
    }
}

/// An index-relevant fact about a table of the current block.
#[derive(Debug)]
enum Fact {
    /// Column compared with a value independent of the block.
    Const {
        table: usize,
        column: String,
        kind: ConstKind,
    },
    /// Equality between columns of two tables of the block.
    JoinKey {
        a: (usize, String),
        b: (usize, String),
        restrict: Restrict,
    },
}

/// How a column is compared with values, for the rows-read estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ConstKind {
    /// `= v`, `IS NULL`.
    Eq,
    /// `IN (v1, ..., vn)`.
    In(u32),
    /// `BETWEEN a AND b` with a known numeric width.
    Span(f64),
    /// `<`, `>`, or a range whose width is not known here
    /// (one-sided bounds are paired up when the block closes).
    Range,
    /// `LIKE 'pattern'`: the share of rows it keeps (see [`like_share`]);
    /// `prefix` when the pattern starts with text an index can seek.
    Like { share: f64, prefix: bool },
    /// `IN (subquery)` and the like.
    Other,
}

impl ConstKind {
    /// Whether an index on the column can find the rows.
    fn seeks(self) -> bool {
        !matches!(self, ConstKind::Like { prefix: false, .. })
    }
}

/// Share of rows a `LIKE` pattern keeps, judged from its text as no
/// statistics cover it: each literal character halves it, a leading
/// wildcard multiplies it by ten (the text may stand anywhere in the
/// value). A word of eight letters starting the value keeps 0.4 % (the
/// slow log's `c_comment LIKE 'deposits%'` matched about 60 of 15,000
/// customers, where a fixed third was assumed before); anywhere in it,
/// 4 %. PostgreSQL's default pattern selectivity has the same form, with
/// 0.2 a character.
fn like_share(pattern: &str) -> f64 {
    let mut literal = 0_i32;
    let mut escaped = false;
    for ch in pattern.chars() {
        match (escaped, ch) {
            (true, _) => {
                literal += 1;
                escaped = false;
            }
            (false, '\\') => escaped = true,
            (false, '%' | '_') => {}
            (false, _) => literal += 1,
        }
    }
    let anywhere = if pattern.starts_with(['%', '_']) {
        10.0
    } else {
        1.0
    };
    (0.5_f64.powi(literal.min(64)) * anywhere).min(1.0)
}

/// How one catalog table of a block is read, while the block closes.
struct BlockAccess<'a> {
    /// Position in the block's tables (what [`Fact`]s refer to).
    scope_table: usize,
    /// Index into `StatementFeatures::tables`.
    table_ref: usize,
    table: &'a Table,
    access: TableAccess,
    /// The leading index column an index join reaches the table through.
    join_column: Option<&'a str>,
}

/// A literal in the units of [`ColumnStats`]: numbers as they are, dates
/// as days since 1970-01-01.
fn stats_value(l: Lit) -> Option<f64> {
    match l {
        Lit::Num(x) => Some(x),
        Lit::Date(d) => Some(
            d.signed_duration_since(chrono::DateTime::UNIX_EPOCH.date_naive())
                .num_days() as f64,
        ),
        Lit::Interval(..) => None,
    }
}

/// Whether a bound's `name` (`col` or `table.col`) is `column`.
fn names_column(name: &str, column: &str) -> bool {
    name == column
        || name
            .strip_suffix(column)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// The bounds a block put on `column` (qualified or not), when it gave at
/// least one usable side.
fn bounds_of(
    bounds: &[(String, Option<Lit>, Option<Lit>)],
    column: &str,
) -> Option<(Option<f64>, Option<f64>)> {
    bounds.iter().find_map(|(name, lo, hi)| {
        let own = names_column(name, column);
        let (lo, hi) = (lo.and_then(stats_value), hi.and_then(stats_value));
        (own && (lo.is_some() || hi.is_some())).then_some((lo, hi))
    })
}

/// Share of `table`'s rows a comparison of `column` with constants keeps,
/// from the column's statistics; `None` when the catalog has none that
/// apply (the caller then guesses).
fn stats_fraction(
    table: &Table,
    column: &str,
    kind: ConstKind,
    bounds: &[(String, Option<Lit>, Option<Lit>)],
) -> Option<f64> {
    let stats = table.column(column)?.stats?;
    let one = 1.0 / stats.distinct.max(1) as f64;
    match kind {
        ConstKind::Eq if stats.distinct > 0 => Some(one),
        ConstKind::In(n) if stats.distinct > 0 => Some((f64::from(n) * one).min(1.0)),
        ConstKind::Span(w) => {
            let (min, max) = (stats.min?, stats.max?);
            Some(if max > min {
                ((w + 1.0) / (max - min)).clamp(one, 1.0)
            } else {
                1.0
            })
        }
        ConstKind::Range => {
            let (lo, hi) = bounds_of(bounds, column)?;
            stats.range_fraction(lo, hi)
        }
        _ => None,
    }
}

/// Width of the closed numeric range on `column` (qualified or not) among
/// a block's one-sided bounds, when both sides were given.
fn closed_width(bounds: &[(String, Option<Lit>, Option<Lit>)], column: &str) -> Option<f64> {
    bounds.iter().find_map(|(name, lo, hi)| {
        let own = names_column(name, column);
        match (own, lo, hi) {
            (true, Some(lo), Some(hi)) => match span(*lo, *hi) {
                Some((RangeKind::Number, w)) => Some(w),
                _ => None,
            },
            _ => None,
        }
    })
}

/// A table (or derived table/CTE) visible in a query block.
struct ScopeTable<'c> {
    alias: String,
    name: String,
    table: Option<&'c Table>,
    /// Output column names of a derived table/CTE.
    derived_columns: Vec<String>,
    /// Index into `StatementFeatures::tables` for base tables.
    table_ref: Option<usize>,
}

/// One query block (SELECT / UPDATE / DELETE).
#[derive(Default)]
struct Scope<'c> {
    tables: Vec<ScopeTable<'c>>,
    select_aliases: Vec<String>,
    facts: Vec<Fact>,
    /// Range bounds: column, lower, upper.
    bounds: Vec<(String, Option<Lit>, Option<Lit>)>,
    comma_joins: u32,
}

impl Scope<'_> {
    /// The columns of the block's table `table` compared with constants,
    /// and how.
    fn const_facts(&self, table: usize) -> impl Iterator<Item = (&str, ConstKind)> {
        self.facts.iter().filter_map(move |f| match f {
            Fact::Const {
                table: t,
                column,
                kind,
            } if *t == table => Some((column.as_str(), *kind)),
            _ => None,
        })
    }
}

/// Most tables one block's join keys are followed through (MariaDB's own
/// limit for a join). Following is quadratic in the tables; a statement
/// joining more (a 100 kB request can join 1,500) falls back to counting
/// each index-joined table once per driver row, so no request costs more
/// than a few milliseconds of analysis.
const MAX_JOIN_TABLES: usize = 61;

/// The operands of a chain of `OR`s (parentheses looked through).
fn or_branches<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Or,
            right,
        } => {
            or_branches(left, out);
            or_branches(right, out);
        }
        Expr::Nested(inner)
            if matches!(
                **inner,
                Expr::BinaryOp {
                    op: BinaryOperator::Or,
                    ..
                }
            ) =>
        {
            or_branches(inner, out)
        }
        _ => out.push(e),
    }
}

/// The facts of `kept` (those of every branch so far) that `branch` has
/// too: join keys as they are, comparisons of the same column with their
/// kinds merged as a disjunction.
fn common_facts(kept: Vec<Fact>, branch: &[Fact]) -> Vec<Fact> {
    kept.into_iter()
        .filter_map(|fact| match fact {
            Fact::JoinKey { a, b, restrict } => branch
                .iter()
                .any(|f| {
                    matches!(f, Fact::JoinKey { a: x, b: y, .. }
                        if (x == &a && y == &b) || (x == &b && y == &a))
                })
                .then_some(Fact::JoinKey { a, b, restrict }),
            Fact::Const {
                table,
                column,
                kind,
            } => branch
                .iter()
                .filter_map(|f| match f {
                    Fact::Const {
                        table: t,
                        column: c,
                        kind: k,
                    } if *t == table && *c == column => Some(*k),
                    _ => None,
                })
                .reduce(|a, b| if b == ConstKind::Range { b } else { a })
                .map(|other| Fact::Const {
                    table,
                    column,
                    kind: either(kind, other),
                }),
        })
        .collect()
}

/// The comparison `x` or `y` is, for the rows-read estimate.
fn either(x: ConstKind, y: ConstKind) -> ConstKind {
    let values = |k| match k {
        ConstKind::Eq => Some(1),
        ConstKind::In(n) => Some(n),
        _ => None,
    };
    match (x, y) {
        (ConstKind::Span(a), ConstKind::Span(b)) => ConstKind::Span(a + b + 1.0),
        (ConstKind::Range | ConstKind::Span(_), ConstKind::Range | ConstKind::Span(_)) => {
            ConstKind::Range
        }
        (
            ConstKind::Like {
                share: a,
                prefix: p,
            },
            ConstKind::Like {
                share: b,
                prefix: q,
            },
        ) => ConstKind::Like {
            share: (a + b).min(1.0),
            prefix: p && q,
        },
        _ => match (values(x), values(y)) {
            (Some(a), Some(b)) => ConstKind::In(a.saturating_add(b)),
            _ => ConstKind::Other,
        },
    }
}

/// Result of resolving a column reference.
struct ColRef<'a> {
    scope: Option<usize>,
    table: Option<usize>,
    /// Column name as written (any case): lower-casing is deferred to the
    /// few places that store it, as resolution runs several times per
    /// reference.
    column: &'a str,
    /// Qualifier as written when it matched no table in scope.
    unresolved_qualifier: Option<String>,
}

/// The table part (alias-resolved table name, or the qualifier as written)
/// and column part of a reference.
fn qualified_parts<'a>(scopes: &'a [Scope<'_>], c: &'a ColRef<'_>) -> (Option<&'a str>, &'a str) {
    let table = match (c.scope, c.table) {
        (Some(s), Some(t)) => scopes
            .get(s)
            .and_then(|scope| scope.tables.get(t))
            .map(|t| t.name.as_str()),
        _ => None,
    };
    (table.or(c.unresolved_qualifier.as_deref()), c.column)
}

/// `prefix.col` (or `col`), built without the `format!` machinery, which
/// showed up in profiles of this hot path.
fn join_qualified(prefix: Option<&str>, col: &str) -> String {
    match prefix {
        Some(p) => {
            let mut s = String::with_capacity(p.len() + 1 + col.len());
            s.push_str(p);
            s.push('.');
            s.push_str(col);
            s.make_ascii_lowercase();
            s
        }
        None => col.to_ascii_lowercase(),
    }
}

/// A CTE visible by name.
struct CteDef {
    name: String,
    columns: Vec<String>,
    /// Its body's catalog tables in [`StatementFeatures::tables`].
    tables: std::ops::Range<usize>,
    /// References so far: each one after the first reads the body again.
    refs: u32,
}

/// A subquery as the blocks around it run it.
#[derive(Default)]
struct SubqueryRun {
    /// Its catalog tables in [`StatementFeatures::tables`], those of
    /// subqueries nested in it included.
    tables: std::ops::Range<usize>,
    /// Tables of enclosing blocks its columns reach: (scope, table in the
    /// scope). Empty: not correlated, run once.
    outer: Vec<(usize, usize)>,
    /// `EXISTS` / `IN`: a run stops at its first matching row.
    first_match: bool,
}

struct Analyzer<'c> {
    catalog: &'c Catalog,
    f: StatementFeatures,
    scopes: Vec<Scope<'c>>,
    ctes: Vec<CteDef>,
    /// Open subqueries: (id, number of scopes when it started).
    open_subqueries: Vec<(usize, usize)>,
    runs: Vec<SubqueryRun>,
    subquery_depth: u32,
    walk_depth: u32,
    clause: Clause,
    /// Under `NOT`, `XOR`, or an `OR` outside a filter: comparisons are
    /// counted but say nothing about which rows are read.
    under_or: bool,
    /// Inside a branch of a filter's `OR` (see [`Analyzer::or_filter`]):
    /// facts are collected for the branch, bounds are not.
    or_branch: u32,
    restrict: Restrict,
    functions: Vec<String>,
    aggregates: Vec<String>,
}

fn push_unique(list: &mut Vec<String>, s: &str) {
    if !list.iter().any(|x| x == s) {
        list.push(s.to_owned());
    }
}

fn lower(ident: &Ident) -> String {
    ident.value.to_ascii_lowercase()
}

/// Output column names of a query (for derived tables and CTEs).
fn projection_names(q: &Query) -> Vec<String> {
    let mut body = &*q.body;
    loop {
        match body {
            SetExpr::Select(s) => {
                return s
                    .projection
                    .iter()
                    .filter_map(|item| match item {
                        SelectItem::ExprWithAlias { alias, .. } => Some(lower(alias)),
                        SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(lower(i)),
                        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(p)) => p.last().map(lower),
                        _ => None,
                    })
                    .collect();
            }
            SetExpr::SetOperation { left, .. } => body = left,
            SetExpr::Query(q) => body = &q.body,
            _ => return Vec::new(),
        }
    }
}

fn limit_value(e: &Expr) -> Option<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

impl<'c> Analyzer<'c> {
    fn new(catalog: &'c Catalog, f: StatementFeatures) -> Self {
        Analyzer {
            catalog,
            f,
            scopes: Vec::new(),
            ctes: Vec::new(),
            open_subqueries: Vec::new(),
            runs: Vec::new(),
            subquery_depth: 0,
            walk_depth: 0,
            clause: Clause::Other,
            under_or: false,
            or_branch: 0,
            restrict: Restrict::None,
            functions: Vec::new(),
            aggregates: Vec::new(),
        }
    }

    fn finish(mut self) -> StatementFeatures {
        self.f.subqueries.correlated =
            self.runs.iter().filter(|r| !r.outer.is_empty()).count() as u32;
        self.functions.sort_unstable();
        self.aggregates.sort_unstable();
        self.f.functions = self.functions;
        self.f.aggregates = self.aggregates;
        self.f
    }

    fn statement(&mut self, s: &Statement) {
        match s {
            Statement::Query(q) => self.query(q, true),
            Statement::Insert(ins) => {
                if let TableObject::TableName(name) = &ins.table {
                    let i = self.add_table_ref(name, None);
                    if let Some(t) = self.f.tables.get_mut(i) {
                        t.access = TableAccess::Write;
                    }
                }
                if let Some(src) = &ins.source {
                    self.query(src, false);
                }
            }
            Statement::Update(u) => {
                self.scopes.push(Scope::default());
                self.table_with_joins(&u.table);
                if let Some(sqlparser::ast::UpdateTableFromKind::BeforeSet(v))
                | Some(sqlparser::ast::UpdateTableFromKind::AfterSet(v)) = &u.from
                {
                    self.add_from_list(v);
                }
                self.clause = Clause::Other;
                for a in &u.assignments {
                    self.expr(&a.value);
                }
                if let Some(w) = &u.selection {
                    self.clause = Clause::Where;
                    self.expr(w);
                }
                self.order_by_exprs(u.order_by.iter().map(|o| &o.expr));
                if let Some(l) = &u.limit {
                    self.f.limit = limit_value(l);
                }
                self.close_scope();
            }
            Statement::Delete(d) => {
                self.scopes.push(Scope::default());
                let from = match &d.from {
                    FromTable::WithFromKeyword(v) | FromTable::WithoutKeyword(v) => v,
                };
                self.add_from_list(from);
                if let Some(using) = &d.using {
                    self.add_from_list(using);
                }
                if let Some(w) = &d.selection {
                    self.clause = Clause::Where;
                    self.expr(w);
                }
                self.order_by_exprs(d.order_by.iter().map(|o| &o.expr));
                if let Some(l) = &d.limit {
                    self.f.limit = limit_value(l);
                }
                self.close_scope();
            }
            Statement::Set(sqlparser::ast::Set::SingleAssignment { values, .. }) => {
                self.clause = Clause::Other;
                for v in values {
                    self.expr(v);
                }
            }
            Statement::Set(sqlparser::ast::Set::MultipleAssignments { assignments }) => {
                self.clause = Clause::Other;
                for a in assignments {
                    self.expr(&a.value);
                }
            }
            // `DESCRIBE t` is `SHOW COLUMNS FROM t`.
            Statement::ExplainTable { .. } => self.f.server_metadata = true,
            _ => {}
        }
    }

    fn query(&mut self, q: &Query, top: bool) {
        let cte_mark = self.ctes.len();
        if let Some(with) = &q.with {
            for cte in &with.cte_tables {
                self.f.subqueries.ctes += 1;
                let tables = self.subquery(&cte.query, false);
                let columns = if cte.alias.columns.is_empty() {
                    projection_names(&cte.query)
                } else {
                    cte.alias.columns.iter().map(|c| lower(&c.name)).collect()
                };
                self.ctes.push(CteDef {
                    name: lower(&cte.alias.name),
                    columns,
                    tables,
                    refs: 0,
                });
            }
        }
        self.set_expr(&q.body, q.order_by.as_ref(), top);
        if top && let Some(limit) = &q.limit_clause {
            match limit {
                LimitClause::LimitOffset { limit, offset, .. } => {
                    self.f.limit = limit.as_ref().and_then(limit_value);
                    self.f.offset = offset.as_ref().and_then(|o| limit_value(&o.value));
                }
                LimitClause::OffsetCommaLimit { offset, limit } => {
                    self.f.limit = limit_value(limit);
                    self.f.offset = limit_value(offset);
                }
            }
        }
        self.ctes.truncate(cte_mark);
    }

    fn set_expr(&mut self, body: &SetExpr, order_by: Option<&OrderBy>, top: bool) {
        match body {
            SetExpr::Select(s) => self.select(s, order_by, top),
            SetExpr::Query(q) => {
                self.query(q, false);
                self.order_by(order_by);
            }
            SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let name = match op {
                    SetOperator::Union => "union",
                    SetOperator::Except | SetOperator::Minus => "except",
                    SetOperator::Intersect => "intersect",
                };
                let name = match set_quantifier {
                    SetQuantifier::All => format!("{name} all"),
                    _ => name.to_owned(),
                };
                self.f.set_operations.push(name);
                self.set_expr(left, None, top);
                self.set_expr(right, None, false);
                self.order_by(order_by);
            }
            SetExpr::Values(v) => {
                self.clause = Clause::Other;
                for row in &v.rows {
                    for e in &row.content {
                        self.expr(e);
                    }
                }
            }
            SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) => {
                self.statement(s)
            }
            SetExpr::Table(_) => {}
        }
    }

    fn order_by(&mut self, order_by: Option<&OrderBy>) {
        if let Some(OrderBy {
            kind: OrderByKind::Expressions(exprs),
            ..
        }) = order_by
        {
            self.order_by_exprs(exprs.iter().map(|o| &o.expr));
        }
    }

    fn order_by_exprs<'e>(&mut self, exprs: impl Iterator<Item = &'e Expr>) {
        self.clause = Clause::OrderBy;
        let mut keys = 0;
        let mut on_index = false;
        for e in exprs {
            self.f.order_by += 1;
            keys += 1;
            on_index = keys == 1 && self.leads_an_index(e);
            self.expr(e);
        }
        if self.scopes.len() == 1 {
            self.f.ordered_by_index = on_index;
        }
    }

    /// Whether `e` is a column of the block that leads one of its table's
    /// indexes, so rows can be read in its order without sorting.
    fn leads_an_index(&self, e: &Expr) -> bool {
        let Some(c) = self.local_column(e) else {
            return false;
        };
        let table = c
            .table
            .and_then(|t| self.scopes.last()?.tables.get(t)?.table);
        table.is_some_and(|t| t.index_use(c.column) == IndexUse::Leading)
    }

    fn select(&mut self, s: &Select, order_by: Option<&OrderBy>, top: bool) {
        self.scopes.push(Scope::default());
        if matches!(s.distinct, Some(Distinct::Distinct) | Some(Distinct::On(_))) {
            self.f.distinct = true;
        }
        self.add_from_list(&s.from);
        if let Some(w) = &s.selection {
            self.clause = Clause::Where;
            self.expr(w);
        }
        self.clause = Clause::Select;
        if top {
            self.f.select_items += s.projection.len() as u32;
        }
        for item in &s.projection {
            match item {
                SelectItem::UnnamedExpr(e) => self.expr(e),
                SelectItem::ExprWithAlias { expr, alias } => {
                    self.expr(expr);
                    if let Some(scope) = self.scopes.last_mut() {
                        scope.select_aliases.push(lower(alias));
                    }
                }
                SelectItem::ExprWithAliases { expr, .. } => self.expr(expr),
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                    self.f.select_star = true
                }
            }
        }
        if let GroupByExpr::Expressions(exprs, _) = &s.group_by {
            self.clause = Clause::GroupBy;
            for e in exprs {
                self.f.group_by += 1;
                self.expr(e);
            }
        }
        if let Some(h) = &s.having {
            self.f.having = true;
            self.clause = Clause::Having;
            self.expr(h);
        }
        self.order_by(order_by);
        self.close_scope();
    }

    fn add_from_list(&mut self, from: &[TableWithJoins]) {
        for twj in from {
            self.table_with_joins(twj);
        }
        if let Some(scope) = self.scopes.last_mut() {
            scope.comma_joins += from.len().saturating_sub(1) as u32;
        }
    }

    fn scope_len(&self) -> usize {
        self.scopes.last().map_or(0, |s| s.tables.len())
    }

    fn table_with_joins(&mut self, twj: &TableWithJoins) {
        self.table_factor(&twj.relation);
        for join in &twj.joins {
            let before = self.scope_len();
            self.table_factor(&join.relation);
            let new = before..self.scope_len();
            let j = &mut self.f.joins;
            j.count += 1;
            let (constraint, restrict) = match &join.join_operator {
                JoinOperator::Join(c)
                | JoinOperator::Inner(c)
                | JoinOperator::StraightJoin(c)
                | JoinOperator::Semi(c)
                | JoinOperator::LeftSemi(c)
                | JoinOperator::RightSemi(c)
                | JoinOperator::Anti(c)
                | JoinOperator::LeftAnti(c)
                | JoinOperator::RightAnti(c) => {
                    j.inner += 1;
                    (Some(c), Restrict::None)
                }
                JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => {
                    j.left += 1;
                    (Some(c), Restrict::Only(new))
                }
                JoinOperator::Right(c) | JoinOperator::RightOuter(c) => {
                    j.right += 1;
                    (Some(c), Restrict::Except(new))
                }
                JoinOperator::FullOuter(c) => {
                    j.full += 1;
                    (Some(c), Restrict::Only(0..0))
                }
                JoinOperator::CrossJoin(c) => {
                    j.cross += 1;
                    (Some(c), Restrict::None)
                }
                _ => {
                    j.inner += 1;
                    (None, Restrict::None)
                }
            };
            if let Some(JoinConstraint::On(on)) = constraint {
                let saved = std::mem::replace(&mut self.restrict, restrict);
                self.clause = Clause::Join;
                self.expr(on);
                self.restrict = saved;
            } else if let Some(JoinConstraint::Using(cols)) = constraint {
                for col in cols {
                    let name = object_name_last(col);
                    self.using_key(&name, before, restrict.clone());
                }
            }
        }
    }

    /// `JOIN t USING (c)`: a join key between the new table(s) and the
    /// earlier table owning `c`.
    fn using_key(&mut self, column: &str, first_new: usize, restrict: Restrict) {
        let Some(scope) = self.scopes.last() else {
            return;
        };
        let owns = |t: &ScopeTable| {
            t.table.is_some_and(|tab| tab.column(column).is_some())
                || t.derived_columns.iter().any(|c| c == column)
        };
        let left = scope.tables[..first_new].iter().position(owns);
        let right = scope.tables[first_new..]
            .iter()
            .position(owns)
            .map(|p| p + first_new);
        if let (Some(a), Some(b)) = (left, right) {
            let qa = format!("{}.{column}", scope.tables[a].name);
            let qb = format!("{}.{column}", scope.tables[b].name);
            push_unique(&mut self.f.columns.join, &qa);
            push_unique(&mut self.f.columns.join, &qb);
            self.join_key((a, column.to_owned()), (b, column.to_owned()), restrict);
        }
    }

    /// Adds a base table reference to the statement's table list; returns
    /// its index. Callers resolve CTE names before calling this.
    fn add_table_ref(&mut self, name: &ObjectName, alias: Option<String>) -> usize {
        if let [schema, _, ..] = name.0.as_slice() {
            let schema = schema.to_string();
            self.f.server_metadata |= ["information_schema", "performance_schema"]
                .iter()
                .any(|s| schema.trim_matches('`').eq_ignore_ascii_case(s));
        }
        let table_name = object_name_last(name);
        let table = self.catalog.table(&table_name);
        self.f.tables.push(TableRef {
            name: table_name,
            alias,
            known: table.is_some(),
            access: TableAccess::Unknown,
            row_count: table.and_then(|t| t.row_count),
            rows_read_estimate: None,
            rows_matched_estimate: None,
        });
        self.f.tables.len() - 1
    }

    /// Counts a reference to CTE `i`. MariaDB materialises a CTE for each
    /// reference, so every one after the first reads its tables again
    /// (Q15's `revenue0`, joined and also scanned for its maximum, reads
    /// lineitem twice: 1.2M rows examined).
    fn cte_reference(&mut self, i: usize) {
        let Some(cte) = self.ctes.get_mut(i) else {
            return;
        };
        cte.refs += 1;
        if cte.refs > 1 {
            let again: f64 = self
                .f
                .tables
                .get(cte.tables.clone())
                .unwrap_or_default()
                .iter()
                .filter_map(|t| t.rows_read_estimate)
                .sum();
            self.f.cte_rereads += again;
        }
    }

    fn table_factor(&mut self, tf: &TableFactor) {
        match tf {
            TableFactor::Table { name, alias, .. } => {
                let table_name = object_name_last(name);
                let alias_name = alias.as_ref().map(|a| lower(&a.name));
                let cte = (name.0.len() == 1)
                    .then(|| self.ctes.iter().rposition(|c| c.name == table_name))
                    .flatten();
                if let Some(i) = cte {
                    self.cte_reference(i);
                }
                let entry = if let Some(cte) = cte.and_then(|i| self.ctes.get(i)) {
                    ScopeTable {
                        alias: alias_name.unwrap_or_else(|| table_name.clone()),
                        name: table_name,
                        table: None,
                        derived_columns: cte.columns.clone(),
                        table_ref: None,
                    }
                } else {
                    let table_ref = Some(self.add_table_ref(name, alias_name.clone()));
                    ScopeTable {
                        alias: alias_name.unwrap_or_else(|| table_name.clone()),
                        table: self.catalog.table(&table_name),
                        name: table_name,
                        derived_columns: Vec::new(),
                        table_ref,
                    }
                };
                if let Some(scope) = self.scopes.last_mut() {
                    scope.tables.push(entry);
                }
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                self.f.subqueries.derived_tables += 1;
                self.subquery(subquery, false);
                let alias_name = alias
                    .as_ref()
                    .map(|a| lower(&a.name))
                    .unwrap_or_else(|| "<derived>".to_owned());
                let derived_columns = match alias {
                    Some(a) if !a.columns.is_empty() => {
                        a.columns.iter().map(|c| lower(&c.name)).collect()
                    }
                    _ => projection_names(subquery),
                };
                if let Some(scope) = self.scopes.last_mut() {
                    scope.tables.push(ScopeTable {
                        alias: alias_name.clone(),
                        name: alias_name,
                        table: None,
                        derived_columns,
                        table_ref: None,
                    });
                }
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.table_with_joins(table_with_joins),
            _ => {}
        }
    }

    /// Walks a subquery: counts it, tracks depth, and scopes clause state.
    /// `first_match`: an `EXISTS` or `IN` test, which a correlated run
    /// stops at the first row that satisfies it. Returns the subquery's
    /// catalog tables in [`StatementFeatures::tables`].
    fn subquery(&mut self, q: &Query, first_match: bool) -> std::ops::Range<usize> {
        let id = self.runs.len();
        let first = self.f.tables.len();
        self.runs.push(SubqueryRun {
            first_match,
            ..SubqueryRun::default()
        });
        self.f.subqueries.count += 1;
        self.subquery_depth += 1;
        self.f.subqueries.max_depth = self.f.subqueries.max_depth.max(self.subquery_depth);
        self.open_subqueries.push((id, self.scopes.len()));
        let saved = (
            self.clause,
            self.under_or,
            std::mem::replace(&mut self.or_branch, 0),
            std::mem::replace(&mut self.restrict, Restrict::None),
        );
        self.under_or = false;
        self.query(q, false);
        let tables = first..self.f.tables.len();
        if let Some(run) = self.runs.get_mut(id) {
            run.tables = tables.clone();
        }
        (self.clause, self.under_or, self.or_branch, self.restrict) = saved;
        self.open_subqueries.pop();
        self.subquery_depth -= 1;
        tables
    }

    /// Walks the subquery of `x IN (subquery)` and returns the rows it is
    /// estimated to produce when it runs once (not correlated) and its
    /// block's output is known: the IN is then a list of that many values.
    /// Q20's `ps_partkey IN (SELECT p_partkey FROM part WHERE p_name LIKE
    /// 'forest%')` asks partsupp for ~300 parts, not a tenth of it.
    fn subquery_values(&mut self, q: &Query) -> Option<f64> {
        let id = self.runs.len();
        let outer = self.f.join_output_estimate.take();
        self.subquery(q, true);
        let produced = std::mem::replace(&mut self.f.join_output_estimate, outer);
        let once = self.runs.get(id).is_some_and(|r| r.outer.is_empty());
        // Grouped rows are fewer than the rows read (Q18's `l_orderkey`
        // groups with a `HAVING`): no count here.
        let ungrouped = matches!(&*q.body, SetExpr::Select(s)
            if s.having.is_none()
                && matches!(&s.group_by, GroupByExpr::Expressions(v, _) if v.is_empty()));
        produced.filter(|n| once && ungrouped && n.is_finite() && *n >= 0.0)
    }

    /// Rows an index lookup on `a` reads: the most selective predicate on a
    /// leading index column, as rows per key × keys asked for.
    fn lookup_estimate(&self, a: &BlockAccess<'_>, rows: f64, scope: &Scope<'_>) -> f64 {
        let mut best = rows;
        for (column, kind) in scope.const_facts(a.scope_table) {
            if a.table.index_use(column) != IndexUse::Leading || !kind.seeks() {
                continue;
            }
            let per_key = self.catalog.rows_per_key(a.table, column);
            let guess = match stats_fraction(a.table, column, kind, &scope.bounds) {
                Some(fraction) => fraction * rows,
                None => {
                    let width = match kind {
                        ConstKind::Range => closed_width(&scope.bounds, column),
                        _ => None,
                    };
                    match (kind, width) {
                        (ConstKind::Eq, _) => per_key,
                        (ConstKind::In(n), _) => f64::from(n) * per_key,
                        (ConstKind::Span(w), _) | (ConstKind::Range, Some(w)) => {
                            (w + 1.0) * per_key
                        }
                        (ConstKind::Range, None) => rows / 3.0,
                        (ConstKind::Like { share, .. }, _) => rows * share,
                        (ConstKind::Other, _) => rows / 10.0,
                    }
                }
            };
            best = best.min(guess.max(1.0));
        }
        best
    }

    /// Share of a table's rows that pass the block's constant filters on
    /// it, filters taken as independent: column statistics when the
    /// catalog has them, else 1/rows-per-key for equality, a third for a
    /// range, a tenth for anything else.
    fn selectivity(&self, a: &BlockAccess<'_>, scope: &Scope<'_>) -> f64 {
        let Some(rows) = a.table.row_count.map(|r| r as f64).filter(|&r| r > 0.0) else {
            return 1.0;
        };
        let mut share = 1.0;
        // Both sides of `c >= a AND c < b` are one range, counted once.
        let mut ranged: Vec<&str> = Vec::new();
        for (column, kind) in scope.const_facts(a.scope_table) {
            if kind == ConstKind::Range {
                if ranged.contains(&column) {
                    continue;
                }
                ranged.push(column);
            }
            let per_key = || self.catalog.rows_per_key(a.table, column) / rows;
            let s =
                stats_fraction(a.table, column, kind, &scope.bounds).unwrap_or_else(
                    || match kind {
                        ConstKind::Eq => per_key(),
                        ConstKind::In(n) => f64::from(n) * per_key(),
                        ConstKind::Span(_) | ConstKind::Range => 1.0 / 3.0,
                        ConstKind::Like { share, .. } => share,
                        ConstKind::Other => 0.1,
                    },
                );
            share *= s.clamp(0.0, 1.0);
        }
        share.max(1.0 / rows)
    }

    /// The index-joined table not yet reached that the fewest rows reach
    /// through a join key on a leading index column, from a table already
    /// reached (`out`: the rows each hands on): which, how many, and how
    /// many per row of the table it is reached from.
    fn next_reached(
        &self,
        accesses: &[BlockAccess<'_>],
        out: &[Option<f64>],
        scope: &Scope<'_>,
    ) -> Option<(usize, f64, f64)> {
        let mut best: Option<(usize, f64, f64)> = None;
        for (j, a) in accesses.iter().enumerate() {
            if a.access != TableAccess::IndexJoin || out[j].is_some() {
                continue;
            }
            let t = a.scope_table;
            for fact in &scope.facts {
                let Fact::JoinKey {
                    a: x,
                    b: y,
                    restrict,
                } = fact
                else {
                    continue;
                };
                for (own, other) in [(x, y), (y, x)] {
                    if own.0 != t
                        || !restrict.allows(t)
                        || a.table.index_use(&own.1) != IndexUse::Leading
                    {
                        continue;
                    }
                    let Some(n) = accesses
                        .iter()
                        .position(|s| s.scope_table == other.0)
                        .and_then(|src| out[src])
                    else {
                        continue;
                    };
                    let per_row = self.catalog.rows_per_key(a.table, &own.1);
                    let reach = n * per_row;
                    if best.is_none_or(|(_, b, _)| reach < b) {
                        best = Some((j, reach, per_row));
                    }
                }
            }
        }
        best
    }

    /// Decides table access for the block and turns bounds into ranges.
    fn close_scope(&mut self) {
        let Some(scope) = self.scopes.pop() else {
            return;
        };
        let closing = self.scopes.len();
        let mut has_join_key = false;
        let mut accesses: Vec<BlockAccess<'_>> = Vec::new();
        for (i, st) in scope.tables.iter().enumerate() {
            let (Some(table_ref), Some(table)) = (st.table_ref, st.table) else {
                continue;
            };
            let leading = |c: &str| table.index_use(c) == IndexUse::Leading;
            let mut access = TableAccess::FullScan;
            let mut join_column = None;
            for fact in &scope.facts {
                match fact {
                    Fact::Const {
                        table: t,
                        column,
                        kind,
                    } if *t == i && leading(column) && kind.seeks() => {
                        access = TableAccess::IndexLookup;
                        break;
                    }
                    Fact::JoinKey { a, b, restrict } => {
                        has_join_key = true;
                        let hit = [a, b]
                            .into_iter()
                            .find(|(t, c)| *t == i && restrict.allows(i) && leading(c));
                        if let Some((_, c)) = hit {
                            access = TableAccess::IndexJoin;
                            join_column = Some(c.as_str());
                        }
                    }
                    _ => {}
                }
            }
            accesses.push(BlockAccess {
                scope_table: i,
                table_ref,
                table,
                access,
                join_column,
            });
        }
        has_join_key |= scope
            .facts
            .iter()
            .any(|f| matches!(f, Fact::JoinKey { .. }));
        let share: Vec<f64> = accesses
            .iter()
            .map(|a| self.selectivity(a, &scope))
            .collect();
        let matched: Vec<Option<f64>> = accesses
            .iter()
            .zip(&share)
            .map(|(a, s)| a.table.row_count.map(|rows| rows as f64 * s))
            .collect();
        let needs_driver =
            !accesses.is_empty() && accesses.iter().all(|a| a.access == TableAccess::IndexJoin);
        if needs_driver {
            // Every table could be reached through a key, so one is scanned:
            // the one whose scan plus the lookups its rows make into the
            // others reads least. Its filters do not count: none is on an
            // index (that would make it a lookup), and without histograms
            // MariaDB's optimiser does not know their selectivity. So Q14
            // scans part and fetches all its 600k lines by key (1.4 s)
            // rather than scanning lineitem behind its date filter.
            let per_key: Vec<f64> = accesses
                .iter()
                .map(|a| {
                    a.join_column
                        .map_or(1.0, |c| self.catalog.rows_per_key(a.table, c))
                })
                .collect();
            let cost = |d: usize| {
                let rows = accesses[d].table.row_count.map_or(f64::MAX, |r| r as f64);
                let fan_out: f64 = (0..accesses.len())
                    .filter(|&j| j != d)
                    .map(|j| per_key[j])
                    .sum();
                rows * (1.0 + fan_out)
            };
            let driver = (0..accesses.len()).min_by(|&x, &y| cost(x).total_cmp(&cost(y)));
            if let Some(d) = driver {
                accesses[d].access = TableAccess::FullScan;
            }
        }
        // Rows read: lookups and scans first, then index joins, reached
        // once per row of the smallest of the others (the likely driver).
        let mut estimates: Vec<Option<f64>> = accesses
            .iter()
            .map(|a| {
                let rows = a.table.row_count? as f64;
                Some(match a.access {
                    TableAccess::IndexLookup => self.lookup_estimate(a, rows, &scope),
                    _ => rows,
                })
            })
            .collect();
        // Rows each table hands on to the tables joined to it: those of its
        // rows that pass its filters. Scanned and looked-up tables first.
        let mut out: Vec<Option<f64>> = accesses
            .iter()
            .zip(estimates.iter().zip(&matched))
            .map(|(a, (read, matched))| match (a.access, read, matched) {
                (TableAccess::IndexJoin, ..) => None,
                (_, Some(r), Some(m)) => Some(r.min(*m)),
                (_, r, _) => *r,
            })
            .collect();
        // The driver's rows: what a table no chain of keys reaches is
        // probed by.
        let driving = out.iter().flatten().copied().fold(f64::INFINITY, f64::min);
        let driving = if driving.is_finite() { driving } else { 1.0 };
        // Index-joined tables are reached along the join keys, the smallest
        // reach first (a greedy join order): Q21's one nation finds its 40
        // suppliers, their 24,000 lines, and those lines' orders, where
        // counting every table once per driver row saw a hundred rows.
        let mut scanned = out.iter().flatten();
        let mut output = match (scanned.next(), scanned.next()) {
            (Some(&one), None) if accesses.len() == scope.tables.len() => Some(one),
            _ => None,
        };
        let follow_keys = accesses.len() <= MAX_JOIN_TABLES;
        while follow_keys
            && let Some((j, reach, per_row)) = self.next_reached(&accesses, &out, &scope)
        {
            let rows = accesses[j].table.row_count.map_or(reach, |r| r as f64);
            let read = reach.min(rows);
            estimates[j] = Some(read);
            out[j] = Some(read * share[j]);
            output = output.map(|o| o * per_row * share[j]);
        }
        for (j, (a, e)) in accesses.iter().zip(estimates.iter_mut()).enumerate() {
            if let (TableAccess::IndexJoin, Some(column), Some(rows), None) =
                (a.access, a.join_column, a.table.row_count, out[j])
            {
                let per_row = self.catalog.rows_per_key(a.table, column);
                *e = Some((driving * per_row).min(rows as f64));
                output = output.map(|o| o * per_row * share[j]);
            }
        }
        self.f.join_output_estimate = output;
        self.run_correlated(closing, &accesses, &out);
        for ((a, e), m) in accesses.into_iter().zip(estimates).zip(matched) {
            if let Some(t) = self.f.tables.get_mut(a.table_ref) {
                t.access = a.access;
                t.rows_read_estimate = e;
                t.rows_matched_estimate = m;
            }
        }
        if has_join_key {
            self.f.joins.implicit += scope.comma_joins;
        } else {
            self.f.joins.cross += scope.comma_joins;
        }
        self.f.joins.count += scope.comma_joins;
        for (column, lo, hi) in scope.bounds {
            match (lo, hi) {
                (Some(lo), Some(hi)) => {
                    if let Some((kind, s)) = span(lo, hi) {
                        self.f.predicates.ranges.push(RangeFeature {
                            column,
                            kind,
                            span: s,
                        });
                    }
                }
                _ => self.f.predicates.open_ranges += 1,
            }
        }
    }

    /// A correlated subquery runs once per row the closing block (scope
    /// `closing`) hands on from the tables it reaches, not once: its tables'
    /// rows-read estimates are multiplied by those rows (the most of the
    /// tables reached; MariaDB caches a run's result per outer value, and
    /// rows that passed a key or a filter approximate the distinct values).
    /// An `EXISTS` or `IN` run stops at its first match: a table with `m`
    /// matching rows among the `r` a run reads is read `r / m` rows deep,
    /// all `r` when no match is expected. So `EXISTS (orders of this
    /// customer over a price few reach)` reads every order of all 15,000
    /// customers (150k rows examined), and Q21's `EXISTS (another supplier
    /// on this order)` one line per outer line.
    /// `out`: the rows each of `accesses` hands on.
    fn run_correlated(
        &mut self,
        closing: usize,
        accesses: &[BlockAccess<'_>],
        out: &[Option<f64>],
    ) {
        for run in &self.runs {
            if run.outer.iter().map(|o| o.0).max() != Some(closing) {
                continue;
            }
            let runs = run
                .outer
                .iter()
                .filter(|o| o.0 == closing)
                .filter_map(|(_, t)| accesses.iter().position(|a| a.scope_table == *t))
                .filter_map(|j| out[j])
                .fold(0.0_f64, f64::max);
            if runs <= 1.0 {
                continue;
            }
            for t in self
                .f
                .tables
                .get_mut(run.tables.clone())
                .unwrap_or_default()
            {
                let Some(read) = t.rows_read_estimate else {
                    continue;
                };
                let per_run = match (run.first_match, t.rows_matched_estimate) {
                    (true, Some(matched)) => (read / matched.max(1.0)).max(read.min(1.0)),
                    _ => read,
                };
                t.rows_read_estimate = Some(per_run * runs);
            }
        }
    }

    /// Resolves a column reference against the open scopes (innermost
    /// first) without recording anything.
    fn resolve<'a>(&self, parts: &'a [Ident]) -> Option<ColRef<'a>> {
        // `@var`, `@@session.var`: variables, not columns.
        if parts.first()?.value.starts_with('@') {
            return None;
        }
        let column = parts.last()?.value.as_str();
        if parts.len() >= 2 {
            let qualifier = &parts[parts.len() - 2].value;
            for (si, scope) in self.scopes.iter().enumerate().rev() {
                if let Some(ti) = scope
                    .tables
                    .iter()
                    .position(|t| t.alias.eq_ignore_ascii_case(qualifier))
                {
                    return Some(ColRef {
                        scope: Some(si),
                        table: Some(ti),
                        column,
                        unresolved_qualifier: None,
                    });
                }
            }
            return Some(ColRef {
                scope: None,
                table: None,
                column,
                unresolved_qualifier: Some(qualifier.to_ascii_lowercase()),
            });
        }
        for (si, scope) in self.scopes.iter().enumerate().rev() {
            let owner = scope.tables.iter().position(|t| {
                t.table.is_some_and(|tab| tab.column(column).is_some())
                    || t.derived_columns
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(column))
            });
            if let Some(ti) = owner {
                return Some(ColRef {
                    scope: Some(si),
                    table: Some(ti),
                    column,
                    unresolved_qualifier: None,
                });
            }
            if scope
                .select_aliases
                .iter()
                .any(|a| a.eq_ignore_ascii_case(column))
            {
                break;
            }
        }
        // Unknown tables or derived tables without known columns: if the
        // innermost block has exactly one table, the column is its.
        if let Some(scope) = self.scopes.last()
            && scope.tables.len() == 1
            && scope.tables[0].table.is_none()
            && !scope
                .select_aliases
                .iter()
                .any(|a| a.eq_ignore_ascii_case(column))
        {
            let si = self.scopes.len() - 1;
            return Some(ColRef {
                scope: Some(si),
                table: Some(0),
                column,
                unresolved_qualifier: None,
            });
        }
        Some(ColRef {
            scope: None,
            table: None,
            column,
            unresolved_qualifier: None,
        })
    }

    /// Records a column reference in the current clause and marks enclosing
    /// subqueries correlated when it reaches outside them.
    fn column(&mut self, parts: &[Ident]) {
        let Some(c) = self.resolve(parts) else {
            return;
        };
        if let Some(si) = c.scope {
            for (id, start) in &self.open_subqueries {
                if si < *start
                    && let Some(run) = self.runs.get_mut(*id)
                {
                    let reached = (si, c.table.unwrap_or(usize::MAX));
                    if !run.outer.contains(&reached) {
                        run.outer.push(reached);
                    }
                }
            }
        }
        let cols = &mut self.f.columns;
        let list = match self.clause {
            Clause::Select => &mut cols.select,
            Clause::Where | Clause::Having => &mut cols.where_,
            Clause::Join => &mut cols.join,
            Clause::GroupBy => &mut cols.group_by,
            Clause::OrderBy => &mut cols.order_by,
            Clause::Other => return,
        };
        // Compare without building the string: this runs for every column
        // reference and most are repeats.
        let (prefix, col) = qualified_parts(&self.scopes, &c);
        let seen = list.iter().any(|x| {
            let x = x.as_bytes();
            match prefix {
                Some(p) => {
                    x.len() == p.len() + 1 + col.len()
                        && x[..p.len()].eq_ignore_ascii_case(p.as_bytes())
                        && x[p.len()] == b'.'
                        && x[p.len() + 1..].eq_ignore_ascii_case(col.as_bytes())
                }
                None => x.eq_ignore_ascii_case(col.as_bytes()),
            }
        });
        if !seen {
            list.push(join_qualified(prefix, col));
        }
    }

    /// `table.column` for a resolved reference (see [`ClauseColumns`]).
    fn qualified(&self, c: &ColRef<'_>) -> String {
        let (prefix, col) = qualified_parts(&self.scopes, c);
        join_qualified(prefix, col)
    }

    /// A column of the innermost block referenced by `e` (a bare column).
    fn local_column<'a>(&self, e: &'a Expr) -> Option<ColRef<'a>> {
        let c = match e {
            Expr::Identifier(i) => self.resolve(std::slice::from_ref(i))?,
            Expr::CompoundIdentifier(p) => self.resolve(p)?,
            Expr::Nested(inner) => return self.local_column(inner),
            _ => return None,
        };
        (c.scope.is_some() && c.scope == self.scopes.len().checked_sub(1)).then_some(c)
    }

    /// Whether `e` does not depend on the innermost block's rows.
    fn independent(&self, e: &Expr, depth: u32) -> bool {
        if depth > 32 {
            return false;
        }
        let d = depth + 1;
        match e {
            Expr::Value(_) | Expr::TypedString(_) => true,
            Expr::Identifier(i) => match self.resolve(std::slice::from_ref(i)) {
                None => true,
                Some(c) => c.scope.is_some_and(|s| s + 1 < self.scopes.len()),
            },
            Expr::CompoundIdentifier(p) => self
                .resolve(p)
                .is_none_or(|c| c.scope.is_some_and(|s| s + 1 < self.scopes.len())),
            Expr::Nested(x) | Expr::UnaryOp { expr: x, .. } | Expr::Cast { expr: x, .. } => {
                self.independent(x, d)
            }
            Expr::Interval(iv) => self.independent(&iv.value, d),
            Expr::BinaryOp { left, right, .. } => {
                self.independent(left, d) && self.independent(right, d)
            }
            Expr::Function(func) => function_args(func).all(|a| self.independent(a, d)),
            Expr::Subquery(_) => true,
            _ => false,
        }
    }

    fn const_fact(&mut self, c: &ColRef<'_>, sargable: bool, kind: ConstKind) {
        let Some(scope) = self.scopes.last() else {
            return;
        };
        let Some(ti) = c.table else {
            return;
        };
        let Some(table) = scope.tables.get(ti).and_then(|t| t.table) else {
            return;
        };
        if table.index_use(c.column) == IndexUse::Leading {
            self.f.predicates.indexed_filters += 1;
        } else {
            self.f.predicates.unindexed_filters += 1;
        }
        if sargable
            && !self.under_or
            && matches!(self.clause, Clause::Where | Clause::Join)
            && let Some(scope) = self.scopes.last_mut()
        {
            scope.facts.push(Fact::Const {
                table: ti,
                column: c.column.to_ascii_lowercase(),
                kind,
            });
        }
    }

    fn join_key(&mut self, a: (usize, String), b: (usize, String), restrict: Restrict) {
        let Some(scope) = self.scopes.last_mut() else {
            return;
        };
        let indexed = [&a, &b].iter().any(|(t, c)| {
            scope
                .tables
                .get(*t)
                .and_then(|st| st.table)
                .is_some_and(|tab| tab.index_use(c) == IndexUse::Leading)
        });
        if indexed {
            self.f.joins.keys_indexed += 1;
        } else {
            self.f.joins.keys_unindexed += 1;
        }
        scope.facts.push(Fact::JoinKey { a, b, restrict });
    }

    fn in_filter(&self) -> bool {
        matches!(self.clause, Clause::Where | Clause::Join | Clause::Having)
    }

    /// Handles `left op right` comparisons: counts, index facts, join keys,
    /// range bounds.
    fn comparison(&mut self, left: &Expr, op: &BinaryOperator, right: &Expr) {
        let ops = &mut self.f.predicates.ops;
        match op {
            BinaryOperator::Eq | BinaryOperator::Spaceship => ops.eq += 1,
            BinaryOperator::NotEq => ops.ne += 1,
            BinaryOperator::Lt => ops.lt += 1,
            BinaryOperator::Gt => ops.gt += 1,
            BinaryOperator::LtEq => ops.le += 1,
            BinaryOperator::GtEq => ops.ge += 1,
            _ => return,
        }
        self.f.predicates.count += 1;
        if self.clause == Clause::Having {
            return;
        }
        let lc = self.local_column(left);
        let rc = self.local_column(right);
        let eq = matches!(op, BinaryOperator::Eq | BinaryOperator::Spaceship);
        if let (Some(l), Some(r)) = (&lc, &rc) {
            if eq
                && !self.under_or
                && l.table != r.table
                && let (Some(lt), Some(rt)) = (l.table, r.table)
            {
                let restrict = self.restrict.clone();
                self.join_key(
                    (lt, l.column.to_ascii_lowercase()),
                    (rt, r.column.to_ascii_lowercase()),
                    restrict,
                );
            }
            return;
        }
        let sargable = !matches!(op, BinaryOperator::NotEq);
        let (col, other, flipped) = match (lc, rc) {
            (Some(l), None) => (l, right, false),
            (None, Some(r)) => (r, left, true),
            _ => return,
        };
        if !self.independent(other, 0) {
            return;
        }
        let kind = if eq { ConstKind::Eq } else { ConstKind::Range };
        self.const_fact(&col, sargable, kind);
        if self.under_or || self.or_branch > 0 {
            return;
        }
        let lower_bound = match (op, flipped) {
            (BinaryOperator::Gt | BinaryOperator::GtEq, false)
            | (BinaryOperator::Lt | BinaryOperator::LtEq, true) => true,
            (BinaryOperator::Lt | BinaryOperator::LtEq, false)
            | (BinaryOperator::Gt | BinaryOperator::GtEq, true) => false,
            _ => return,
        };
        let value = eval(other, 0);
        let qualified = self.qualified(&col);
        if let Some(scope) = self.scopes.last_mut() {
            let entry = match scope.bounds.iter_mut().find(|b| b.0 == qualified) {
                Some(e) => e,
                None => {
                    scope.bounds.push((qualified, None, None));
                    let last = scope.bounds.len() - 1;
                    &mut scope.bounds[last]
                }
            };
            let slot = if lower_bound {
                &mut entry.1
            } else {
                &mut entry.2
            };
            if slot.is_none() {
                *slot = value;
            }
        }
    }

    /// `a OR b OR ...` in a filter. Each branch is walked on its own and
    /// only the facts every branch has are kept, merged: MariaDB's
    /// optimiser can use an equality or range common to all branches (a
    /// join key in each of Q19's three branches makes it an index join;
    /// `c = 1 OR c = 2` is `c IN (1, 2)`), and nothing else.
    fn or_filter(&mut self, e: &Expr) {
        let mut branches = Vec::new();
        or_branches(e, &mut branches);
        let depth = self.scopes.len();
        let start = self.scopes.last().map_or(0, |s| s.facts.len());
        self.or_branch += 1;
        let mut common: Option<Vec<Fact>> = None;
        for branch in branches {
            self.expr(branch);
            let facts: Vec<Fact> = match self.scopes.get_mut(depth.wrapping_sub(1)) {
                Some(scope) if scope.facts.len() >= start => scope.facts.drain(start..).collect(),
                _ => Vec::new(),
            };
            common = Some(match common {
                None => facts,
                Some(kept) => common_facts(kept, &facts),
            });
        }
        self.or_branch -= 1;
        if let (Some(facts), Some(scope)) = (common, self.scopes.get_mut(depth.wrapping_sub(1))) {
            scope.facts.extend(facts);
        }
    }

    fn function(&mut self, func: &Function) {
        let name = object_name_last(&func.name);
        if AGGREGATES.contains(&name.as_str()) {
            self.f.aggregate_count += 1;
            push_unique(&mut self.aggregates, &name);
        }
        push_unique(&mut self.functions, &name);
        match &func.args {
            FunctionArguments::List(list) => {
                if list.duplicate_treatment == Some(DuplicateTreatment::Distinct) {
                    self.f.distinct = true;
                }
                for arg in &list.args {
                    let e = match arg {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(e))
                        | FunctionArg::Named {
                            arg: FunctionArgExpr::Expr(e),
                            ..
                        }
                        | FunctionArg::ExprNamed {
                            arg: FunctionArgExpr::Expr(e),
                            ..
                        } => e,
                        _ => continue,
                    };
                    self.expr(e);
                }
            }
            FunctionArguments::Subquery(q) => {
                self.subquery(q, false);
            }
            FunctionArguments::None => {}
        }
    }

    fn special(&mut self, name: &str) {
        push_unique(&mut self.functions, name);
    }

    fn expr(&mut self, e: &Expr) {
        if self.walk_depth >= MAX_WALK_DEPTH {
            return;
        }
        self.walk_depth += 1;
        self.expr_inner(e);
        self.walk_depth -= 1;
    }

    fn expr_inner(&mut self, e: &Expr) {
        match e {
            Expr::Identifier(i) => self.column(std::slice::from_ref(i)),
            Expr::CompoundIdentifier(p) => self.column(p),
            Expr::Value(_) | Expr::TypedString(_) => self.f.literal_count += 1,
            Expr::Nested(x) => self.expr(x),
            Expr::BinaryOp { left, op, right } => match op {
                BinaryOperator::And => {
                    self.expr(left);
                    self.expr(right);
                }
                BinaryOperator::Or
                    if !self.under_or && matches!(self.clause, Clause::Where | Clause::Join) =>
                {
                    self.or_filter(e);
                }
                BinaryOperator::Or | BinaryOperator::Xor => {
                    let saved = self.under_or;
                    self.under_or = true;
                    self.expr(left);
                    self.expr(right);
                    self.under_or = saved;
                }
                _ => {
                    if self.in_filter() {
                        self.comparison(left, op, right);
                    }
                    self.expr(left);
                    self.expr(right);
                }
            },
            Expr::UnaryOp { op, expr } => {
                if matches!(op, UnaryOperator::Not) {
                    let saved = self.under_or;
                    self.under_or = true;
                    self.expr(expr);
                    self.under_or = saved;
                } else {
                    self.expr(expr);
                }
            }
            Expr::IsNull(x) | Expr::IsNotNull(x) => {
                if self.in_filter() {
                    self.f.predicates.count += 1;
                    if matches!(e, Expr::IsNull(_)) {
                        self.f.predicates.ops.is_null += 1;
                    } else {
                        self.f.predicates.ops.is_not_null += 1;
                    }
                    if let Some(c) = self.local_column(x) {
                        self.const_fact(&c, matches!(e, Expr::IsNull(_)), ConstKind::Eq);
                    }
                }
                self.expr(x);
            }
            Expr::IsTrue(x)
            | Expr::IsFalse(x)
            | Expr::IsNotTrue(x)
            | Expr::IsNotFalse(x)
            | Expr::IsUnknown(x)
            | Expr::IsNotUnknown(x) => self.expr(x),
            Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
                self.expr(a);
                self.expr(b);
            }
            Expr::In {
                expr,
                target,
                negated,
                ..
            } => {
                let filter = self.in_filter();
                if filter {
                    self.f.predicates.count += 1;
                }
                match target {
                    InTarget::List(items) => {
                        if filter {
                            let p = &mut self.f.predicates;
                            if *negated {
                                p.ops.not_in_list += 1;
                            } else {
                                p.ops.in_list += 1;
                            }
                            let n = items.len() as u32;
                            p.in_list_max = p.in_list_max.max(n);
                            p.in_list_total += n;
                            if let Some(c) = self.local_column(expr)
                                && items.iter().all(|i| self.independent(i, 0))
                            {
                                self.const_fact(&c, !*negated, ConstKind::In(n));
                            }
                        }
                        self.expr(expr);
                        for i in items {
                            self.expr(i);
                        }
                    }
                    InTarget::Subquery(q) => {
                        self.expr(expr);
                        let values = self.subquery_values(q);
                        if filter {
                            if *negated {
                                self.f.predicates.ops.not_in_subquery += 1;
                            } else {
                                self.f.predicates.ops.in_subquery += 1;
                            }
                            if let Some(c) = self.local_column(expr) {
                                let kind = values.map_or(ConstKind::Other, |n| {
                                    ConstKind::In(n.round().clamp(1.0, f64::from(u32::MAX)) as u32)
                                });
                                self.const_fact(&c, !*negated, kind);
                            }
                        }
                    }
                    InTarget::Unnest(x) => {
                        self.expr(expr);
                        self.expr(x);
                    }
                    InTarget::Table { .. } => self.expr(expr),
                }
            }
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => {
                if self.in_filter() {
                    self.f.predicates.count += 1;
                    if *negated {
                        self.f.predicates.ops.not_between += 1;
                    } else {
                        self.f.predicates.ops.between += 1;
                    }
                    if let Some(c) = self.local_column(expr)
                        && self.independent(low, 0)
                        && self.independent(high, 0)
                    {
                        let width = match (eval(low, 0), eval(high, 0)) {
                            (Some(lo), Some(hi)) => span(lo, hi),
                            _ => None,
                        };
                        let kind = match width {
                            Some((RangeKind::Number, w)) => ConstKind::Span(w),
                            _ => ConstKind::Range,
                        };
                        self.const_fact(&c, !*negated, kind);
                        if !*negated
                            && !self.under_or
                            && self.or_branch == 0
                            && let Some((kind, s)) = width
                        {
                            self.f.predicates.ranges.push(RangeFeature {
                                column: self.qualified(&c),
                                kind,
                                span: s,
                            });
                        }
                    }
                }
                self.expr(expr);
                self.expr(low);
                self.expr(high);
            }
            Expr::Like {
                negated,
                expr,
                pattern,
                ..
            }
            | Expr::ILike {
                negated,
                expr,
                pattern,
                ..
            } => {
                if self.in_filter() {
                    self.f.predicates.count += 1;
                    if *negated {
                        self.f.predicates.ops.not_like += 1;
                    } else {
                        self.f.predicates.ops.like += 1;
                    }
                    let text = match &**pattern {
                        Expr::Value(v) => match &v.value {
                            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                                Some(s.as_str())
                            }
                            _ => None,
                        },
                        _ => None,
                    };
                    let leading_wildcard = text.is_none_or(|s| s.starts_with(['%', '_']));
                    if leading_wildcard {
                        self.f.predicates.like_leading_wildcard += 1;
                    }
                    if let Some(c) = self.local_column(expr)
                        && self.independent(pattern, 0)
                    {
                        let kind = ConstKind::Like {
                            share: text.map_or(0.1, like_share),
                            prefix: !leading_wildcard,
                        };
                        self.const_fact(&c, !*negated, kind);
                    }
                }
                self.expr(expr);
                self.expr(pattern);
            }
            Expr::RLike { expr, pattern, .. } | Expr::SimilarTo { expr, pattern, .. } => {
                if self.in_filter() {
                    self.f.predicates.count += 1;
                    self.f.predicates.ops.regexp += 1;
                }
                self.expr(expr);
                self.expr(pattern);
            }
            Expr::MatchAgainst { .. } => {
                if self.in_filter() {
                    self.f.predicates.count += 1;
                    self.f.predicates.ops.regexp += 1;
                }
                self.special("match");
            }
            Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => {
                if self.in_filter() {
                    self.f.predicates.count += 1;
                }
                self.expr(left);
                self.expr(right);
            }
            Expr::Exists { subquery, negated } => {
                if self.in_filter() {
                    self.f.predicates.count += 1;
                    if *negated {
                        self.f.predicates.ops.not_exists += 1;
                    } else {
                        self.f.predicates.ops.exists += 1;
                    }
                }
                self.subquery(subquery, true);
            }
            Expr::Subquery(q) => {
                self.subquery(q, false);
            }
            Expr::Function(func) => self.function(func),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                self.f.case_count += 1;
                if let Some(o) = operand {
                    self.expr(o);
                }
                for cw in conditions {
                    self.expr(&cw.condition);
                    self.expr(&cw.result);
                }
                if let Some(x) = else_result {
                    self.expr(x);
                }
            }
            Expr::Cast { expr, .. } => {
                self.special("cast");
                self.expr(expr);
            }
            Expr::Convert { expr, .. } => {
                self.special("convert");
                self.expr(expr);
            }
            Expr::Extract { expr, .. } => {
                self.special("extract");
                self.expr(expr);
            }
            Expr::Ceil { expr, .. } => {
                self.special("ceil");
                self.expr(expr);
            }
            Expr::Floor { expr, .. } => {
                self.special("floor");
                self.expr(expr);
            }
            Expr::Position { expr, r#in } => {
                self.special("position");
                self.expr(expr);
                self.expr(r#in);
            }
            Expr::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                self.special("substring");
                self.expr(expr);
                if let Some(x) = substring_from {
                    self.expr(x);
                }
                if let Some(x) = substring_for {
                    self.expr(x);
                }
            }
            Expr::Trim { expr, .. } => {
                self.special("trim");
                self.expr(expr);
            }
            Expr::Collate { expr, .. } => self.expr(expr),
            Expr::Interval(iv) => self.expr(&iv.value),
            Expr::Tuple(items) => {
                for i in items {
                    self.expr(i);
                }
            }
            _ => {}
        }
    }
}
