//! Rows read and matched per table, estimated when a query block closes:
//! index lookups, selectivities, join order along keys, correlated runs.

use super::*;

impl<'c> Analyzer<'c> {
    /// Rows an index lookup on `a` reads: the most selective predicate on a
    /// leading index column, as rows per key × keys asked for.
    pub(super) fn lookup_estimate(&self, a: &BlockAccess<'_>, rows: f64, scope: &Scope<'_>) -> f64 {
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
    pub(super) fn selectivity(&self, a: &BlockAccess<'_>, scope: &Scope<'_>) -> f64 {
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
    pub(super) fn next_reached(
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

    /// Decides table access for the block, estimates the rows each table
    /// reads and matches, and turns bounds into ranges.
    pub(super) fn close_scope(&mut self) {
        let Some(scope) = self.scopes.pop() else {
            return;
        };
        let closing = self.scopes.len();
        let mut accesses = block_accesses(&scope);
        let share: Vec<f64> = accesses
            .iter()
            .map(|a| self.selectivity(a, &scope))
            .collect();
        let matched: Vec<Option<f64>> = accesses
            .iter()
            .zip(&share)
            .map(|(a, s)| a.table.row_count.map(|rows| rows as f64 * s))
            .collect();
        self.choose_driver(&mut accesses);
        let mut estimates = self.rows_read(&accesses, &scope);
        let mut out = handed_on(&accesses, &estimates, &matched);
        self.f.join_output_estimate =
            self.follow_join_keys(&accesses, &scope, &share, &mut estimates, &mut out);
        self.run_correlated(closing, &accesses, &out);
        self.record_accesses(accesses, estimates, matched);
        self.count_comma_joins(&scope);
        self.close_bounds(scope.bounds);
    }

    /// When every table of the block could be reached through a key, one is
    /// scanned: the one whose scan plus the lookups its rows make into the
    /// others reads least. Its filters do not count: none is on an index
    /// (that would make it a lookup), and without histograms MariaDB's
    /// optimiser does not know their selectivity. So Q14 scans part and
    /// fetches all its 600k lines by key (1.4 s) rather than scanning
    /// lineitem behind its date filter.
    fn choose_driver(&self, accesses: &mut [BlockAccess<'_>]) {
        let needs_driver =
            !accesses.is_empty() && accesses.iter().all(|a| a.access == TableAccess::IndexJoin);
        if !needs_driver {
            return;
        }
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

    /// Rows read by lookups and scans (index-joined tables start at their
    /// row count; [`Analyzer::follow_join_keys`] refines them).
    fn rows_read(&self, accesses: &[BlockAccess<'_>], scope: &Scope<'_>) -> Vec<Option<f64>> {
        accesses
            .iter()
            .map(|a| {
                let rows = a.table.row_count? as f64;
                Some(match a.access {
                    TableAccess::IndexLookup => self.lookup_estimate(a, rows, scope),
                    _ => rows,
                })
            })
            .collect()
    }

    /// Index-joined tables are reached along the join keys, the smallest
    /// reach first (a greedy join order): Q21's one nation finds its 40
    /// suppliers, their 24,000 lines, and those lines' orders, where
    /// counting every table once per driver row saw a hundred rows. Tables
    /// no chain of keys reaches are probed by the driver's rows. Updates
    /// `estimates` and `out`; returns the rows the block's joins produce
    /// (see `StatementFeatures::join_output_estimate`).
    fn follow_join_keys(
        &self,
        accesses: &[BlockAccess<'_>],
        scope: &Scope<'_>,
        share: &[f64],
        estimates: &mut [Option<f64>],
        out: &mut [Option<f64>],
    ) -> Option<f64> {
        // The driver's rows: what a table no chain of keys reaches is
        // probed by.
        let driving = out.iter().flatten().copied().fold(f64::INFINITY, f64::min);
        let driving = if driving.is_finite() { driving } else { 1.0 };
        let mut scanned = out.iter().flatten();
        let mut output = match (scanned.next(), scanned.next()) {
            (Some(&one), None) if accesses.len() == scope.tables.len() => Some(one),
            _ => None,
        };
        if accesses.len() <= MAX_JOIN_TABLES {
            while let Some((j, reach, per_row)) = self.next_reached(accesses, out, scope) {
                let rows = accesses[j].table.row_count.map_or(reach, |r| r as f64);
                let read = reach.min(rows);
                estimates[j] = Some(read);
                out[j] = Some(read * share[j]);
                output = output.map(|o| o * per_row * share[j]);
            }
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
        output
    }

    /// Writes each table's access and estimates into its [`TableRef`].
    fn record_accesses(
        &mut self,
        accesses: Vec<BlockAccess<'_>>,
        estimates: Vec<Option<f64>>,
        matched: Vec<Option<f64>>,
    ) {
        for ((a, e), m) in accesses.into_iter().zip(estimates).zip(matched) {
            if let Some(t) = self.f.tables.get_mut(a.table_ref) {
                t.access = a.access;
                t.rows_read_estimate = e;
                t.rows_matched_estimate = m;
            }
        }
    }

    /// Comma joins are implicit joins when the block has a join key, else
    /// cross joins.
    fn count_comma_joins(&mut self, scope: &Scope<'_>) {
        let has_join_key = scope
            .facts
            .iter()
            .any(|f| matches!(f, Fact::JoinKey { .. }));
        if has_join_key {
            self.f.joins.implicit += scope.comma_joins;
        } else {
            self.f.joins.cross += scope.comma_joins;
        }
        self.f.joins.count += scope.comma_joins;
    }

    /// Bounds on both sides become ranges with a span; one-sided bounds
    /// are counted as open ranges.
    fn close_bounds(&mut self, bounds: Vec<(String, Option<Lit>, Option<Lit>)>) {
        for (column, lo, hi) in bounds {
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
    pub(super) fn run_correlated(
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
}

/// The block's base tables and how each is read: by index lookup when a
/// seeking constant filter is on a leading index column, by index join when
/// a join key reaches one, else by full scan.
fn block_accesses<'s>(scope: &'s Scope<'_>) -> Vec<BlockAccess<'s>> {
    let mut accesses = Vec::new();
    for (i, st) in scope.tables.iter().enumerate() {
        let (Some(table_ref), Some(table)) = (st.table_ref, st.table) else {
            continue;
        };
        let (access, join_column) = table_access(scope, i, table);
        accesses.push(BlockAccess {
            scope_table: i,
            table_ref,
            table,
            access,
            join_column,
        });
    }
    accesses
}

/// How the block's table `i` is read (see [`block_accesses`]), and the
/// leading index column a join key reaches it through.
fn table_access<'s>(
    scope: &'s Scope<'_>,
    i: usize,
    table: &Table,
) -> (TableAccess, Option<&'s str>) {
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
    (access, join_column)
}

/// Rows each table hands on to the tables joined to it: those of its rows
/// that pass its filters. Scanned and looked-up tables only; index-joined
/// ones are filled in as the join keys are followed.
fn handed_on(
    accesses: &[BlockAccess<'_>],
    estimates: &[Option<f64>],
    matched: &[Option<f64>],
) -> Vec<Option<f64>> {
    accesses
        .iter()
        .zip(estimates.iter().zip(matched))
        .map(|(a, (read, matched))| match (a.access, read, matched) {
            (TableAccess::IndexJoin, ..) => None,
            (_, Some(r), Some(m)) => Some(r.min(*m)),
            (_, r, _) => *r,
        })
        .collect()
}
