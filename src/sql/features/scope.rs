//! The tables a query block can see, how names resolve against them, and
//! the facts that survive an `OR`.

use super::*;

/// A table (or derived table/CTE) visible in a query block.
pub(super) struct ScopeTable<'c> {
    pub(super) alias: String,
    pub(super) name: String,
    pub(super) table: Option<&'c Table>,
    /// Output column names of a derived table/CTE.
    pub(super) derived_columns: Vec<String>,
    /// Index into `StatementFeatures::tables` for base tables.
    pub(super) table_ref: Option<usize>,
}

/// One query block (SELECT / UPDATE / DELETE).
#[derive(Default)]
pub(super) struct Scope<'c> {
    pub(super) tables: Vec<ScopeTable<'c>>,
    pub(super) select_aliases: Vec<String>,
    pub(super) facts: Vec<Fact>,
    /// Range bounds: column, lower, upper.
    pub(super) bounds: Vec<(String, Option<Lit>, Option<Lit>)>,
    pub(super) comma_joins: u32,
}

impl Scope<'_> {
    /// The columns of the block's table `table` compared with constants,
    /// and how.
    pub(super) fn const_facts(&self, table: usize) -> impl Iterator<Item = (&str, ConstKind)> {
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
pub(super) const MAX_JOIN_TABLES: usize = 61;

/// The operands of a chain of `OR`s (parentheses looked through).
pub(super) fn or_branches<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
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
pub(super) fn common_facts(kept: Vec<Fact>, branch: &[Fact]) -> Vec<Fact> {
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
pub(super) fn either(x: ConstKind, y: ConstKind) -> ConstKind {
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
pub(super) struct ColRef<'a> {
    pub(super) scope: Option<usize>,
    pub(super) table: Option<usize>,
    /// Column name as written (any case): lower-casing is deferred to the
    /// few places that store it, as resolution runs several times per
    /// reference.
    pub(super) column: &'a str,
    /// Qualifier as written when it matched no table in scope.
    pub(super) unresolved_qualifier: Option<String>,
}

/// The table part (alias-resolved table name, or the qualifier as written)
/// and column part of a reference.
pub(super) fn qualified_parts<'a>(
    scopes: &'a [Scope<'_>],
    c: &'a ColRef<'_>,
) -> (Option<&'a str>, &'a str) {
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
pub(super) fn join_qualified(prefix: Option<&str>, col: &str) -> String {
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
pub(super) struct CteDef {
    pub(super) name: String,
    pub(super) columns: Vec<String>,
    /// Its body's catalog tables in [`StatementFeatures::tables`].
    pub(super) tables: std::ops::Range<usize>,
    /// References so far: each one after the first reads the body again.
    pub(super) refs: u32,
}

/// A subquery as the blocks around it run it.
#[derive(Default)]
pub(super) struct SubqueryRun {
    /// Its catalog tables in [`StatementFeatures::tables`], those of
    /// subqueries nested in it included.
    pub(super) tables: std::ops::Range<usize>,
    /// Tables of enclosing blocks its columns reach: (scope, table in the
    /// scope). Empty: not correlated, run once.
    pub(super) outer: Vec<(usize, usize)>,
    /// `EXISTS` / `IN`: a run stops at its first matching row.
    pub(super) first_match: bool,
}
