//! The named numbers the latency model reads from a statement's features
//! ([`StatementFeatures::numeric_vector`]), one function per group of
//! columns. Kept apart from `statement.rs` (the feature types) so the
//! vector's layout reads in one place and each function fits on a screen.

use super::*;

impl StatementFeatures {
    /// Share of its rows a statement reads before its LIMIT is filled,
    /// when nothing (ORDER BY other than an index's order, GROUP BY,
    /// aggregates, DISTINCT, subqueries) makes the server read everything
    /// first: the share LIMIT is of the rows the statement would produce.
    /// A selective filter with `LIMIT 10` reads most of the table; an
    /// unselective one stops after ten rows; a join stops as soon as ten
    /// joined rows came out. Other statements read all (1).
    pub(super) fn limit_share(&self) -> f64 {
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
        let mut v = Vec::with_capacity(64);
        v.extend(self.kind_features());
        v.extend(self.table_features());
        v.extend(self.rows_read_features());
        v.extend(self.join_features());
        v.extend(self.predicate_features());
        v.extend(self.filter_features());
        v.extend(self.clause_features());
        v.extend(self.nesting_features());
        v
    }

    /// Kind flags, length and tokens.
    fn kind_features(&self) -> [(&'static str, f64); 6] {
        let k = self.kind;
        [
            ("statement could not be parsed", flag(!self.parsed)),
            ("is SELECT", flag(k == StatementKind::Select)),
            (
                "is data change",
                flag(matches!(
                    k,
                    StatementKind::Insert
                        | StatementKind::Update
                        | StatementKind::Delete
                        | StatementKind::Replace
                )),
            ),
            ("is session or admin command", flag(k.is_chatter())),
            ("statement length (bytes)", self.length_bytes as f64),
            ("tokens", self.token_count as f64),
        ]
    }

    /// Tables referenced, how they are read, and their sizes.
    fn table_features(&self) -> [(&'static str, f64); 8] {
        let scanned = || {
            self.tables
                .iter()
                .filter(|t| t.access == TableAccess::FullScan)
        };
        let largest_scanned = scanned().filter_map(|t| t.row_count).max().unwrap_or(0);
        let total_scanned: u64 = scanned().filter_map(|t| t.row_count).sum();
        let largest = self
            .tables
            .iter()
            .filter_map(|t| t.row_count)
            .max()
            .unwrap_or(0);
        let mut distinct_tables: Vec<&str> = self.tables.iter().map(|t| t.name.as_str()).collect();
        distinct_tables.sort_unstable();
        distinct_tables.dedup();
        let via_index = self
            .tables
            .iter()
            .filter(|t| matches!(t.access, TableAccess::IndexLookup | TableAccess::IndexJoin))
            .count();
        [
            ("tables referenced", self.tables.len() as f64),
            ("distinct tables", distinct_tables.len() as f64),
            (
                "unknown tables",
                self.tables.iter().filter(|t| !t.known).count() as f64,
            ),
            ("tables read via index", via_index as f64),
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
        ]
    }

    /// The rows-read and rows-matched estimates, all, up to the LIMIT, and
    /// through an index.
    fn rows_read_features(&self) -> [(&'static str, f64); 5] {
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
        let matched: f64 = self
            .tables
            .iter()
            .filter_map(|t| t.rows_matched_estimate)
            .sum::<f64>();
        [
            ("estimated rows read (log10)", (read + 1.0).log10()),
            (
                "estimated rows read, largest table (log10)",
                (estimated.iter().copied().fold(0.0, f64::max) + 1.0).log10(),
            ),
            (
                "estimated rows matching filters (log10)",
                (matched + 1.0).log10(),
            ),
            (
                "estimated rows read until LIMIT is met (log10)",
                (read * limit_share + 1.0).log10(),
            ),
            (
                "estimated rows read through an index (log10)",
                (through_index * limit_share + 1.0).log10(),
            ),
        ]
    }

    /// Join counts by kind and join keys.
    fn join_features(&self) -> [(&'static str, f64); 6] {
        let j = &self.joins;
        [
            ("joins", j.count as f64),
            ("outer joins", (j.left + j.right + j.full) as f64),
            ("comma joins", j.implicit as f64),
            ("cross joins", j.cross as f64),
            ("join keys with index", j.keys_indexed as f64),
            ("join keys without index", j.keys_unindexed as f64),
        ]
    }

    /// Predicate counts by operator.
    fn predicate_features(&self) -> [(&'static str, f64); 12] {
        let p = &self.predicates;
        let ops = &p.ops;
        [
            ("predicates", p.count as f64),
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
            ("LIKE with leading wildcard", p.like_leading_wildcard as f64),
            ("IN lists", (ops.in_list + ops.not_in_list) as f64),
            ("largest IN list", p.in_list_max as f64),
            ("IN list items", p.in_list_total as f64),
            (
                "IN subqueries",
                (ops.in_subquery + ops.not_in_subquery) as f64,
            ),
            ("IS NULL checks", (ops.is_null + ops.is_not_null) as f64),
            ("EXISTS subqueries", (ops.exists + ops.not_exists) as f64),
        ]
    }

    /// Filters on indexed and other columns, and the ranges they bound.
    fn filter_features(&self) -> [(&'static str, f64); 5] {
        let p = &self.predicates;
        let widest = |kind: RangeKind| {
            p.ranges
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| r.span)
                .fold(0.0_f64, f64::max)
        };
        [
            ("filters on indexed columns", p.indexed_filters as f64),
            ("filters on non-indexed columns", p.unindexed_filters as f64),
            ("date range days (widest)", widest(RangeKind::Date)),
            ("numeric range span (widest)", widest(RangeKind::Number)),
            ("open-ended ranges", p.open_ranges as f64),
        ]
    }

    /// Aggregation, sorting and LIMIT.
    fn clause_features(&self) -> [(&'static str, f64); 8] {
        [
            ("aggregate functions", self.aggregate_count as f64),
            ("DISTINCT", flag(self.distinct)),
            ("GROUP BY columns", self.group_by as f64),
            ("ORDER BY columns", self.order_by as f64),
            ("HAVING", flag(self.having)),
            ("has LIMIT", flag(self.limit.is_some())),
            ("LIMIT rows", self.limit.unwrap_or(0) as f64),
            ("OFFSET rows", self.offset.unwrap_or(0) as f64),
        ]
    }

    /// Subqueries, set operations, expressions and the select list.
    fn nesting_features(&self) -> [(&'static str, f64); 11] {
        let s = &self.subqueries;
        [
            ("subqueries", s.count as f64),
            ("subquery nesting depth", s.max_depth as f64),
            ("correlated subqueries", s.correlated as f64),
            (
                "derived tables and CTEs",
                (s.derived_tables + s.ctes) as f64,
            ),
            ("UNION/set operations", self.set_operations.len() as f64),
            ("functions used", self.functions.len() as f64),
            ("CASE expressions", self.case_count as f64),
            ("literals", self.literal_count as f64),
            ("selected columns", self.select_items as f64),
            ("SELECT *", flag(self.select_star)),
            ("reads server metadata", flag(self.server_metadata)),
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

/// 1 for true, 0 for false.
fn flag(x: bool) -> f64 {
    if x { 1.0 } else { 0.0 }
}

/// `log10(rows + 1)`: row counts act multiplicatively.
fn log_rows(rows: u64) -> f64 {
    ((rows as f64) + 1.0).log10()
}
