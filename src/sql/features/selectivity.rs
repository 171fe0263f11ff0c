//! Facts a block states about its tables (constant filters, join keys)
//! and the share of rows they keep, from the catalog's column statistics.

use super::*;

/// Clause an expression is walked in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Clause {
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
pub(super) enum Restrict {
    None,
    Only(std::ops::Range<usize>),
    Except(std::ops::Range<usize>),
}

impl Restrict {
    pub(super) fn allows(&self, t: usize) -> bool {
        match self {
            Restrict::None => true,
            Restrict::Only(r) => r.contains(&t),
            Restrict::Except(r) => !r.contains(&t),
        }
    }
}

/// An index-relevant fact about a table of the current block.
#[derive(Debug)]
pub(super) enum Fact {
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
pub(super) enum ConstKind {
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
    pub(super) fn seeks(self) -> bool {
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
pub(super) fn like_share(pattern: &str) -> f64 {
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
pub(super) struct BlockAccess<'a> {
    /// Position in the block's tables (what [`Fact`]s refer to).
    pub(super) scope_table: usize,
    /// Index into `StatementFeatures::tables`.
    pub(super) table_ref: usize,
    pub(super) table: &'a Table,
    pub(super) access: TableAccess,
    /// The leading index column an index join reaches the table through.
    pub(super) join_column: Option<&'a str>,
}

/// A literal in the units of [`ColumnStats`]: numbers as they are, dates
/// as days since 1970-01-01.
pub(super) fn stats_value(l: Lit) -> Option<f64> {
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
pub(super) fn names_column(name: &str, column: &str) -> bool {
    name == column
        || name
            .strip_suffix(column)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

/// The bounds a block put on `column` (qualified or not), when it gave at
/// least one usable side.
pub(super) fn bounds_of(
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
pub(super) fn stats_fraction(
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
pub(super) fn closed_width(
    bounds: &[(String, Option<Lit>, Option<Lit>)],
    column: &str,
) -> Option<f64> {
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
