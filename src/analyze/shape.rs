//! What a statement touches, in the terms the workload profile counts:
//! kind, tables, columns and operations. Computed once per fingerprint.

use crate::sql::catalog::Catalog;
use crate::sql::features::{self, StatementKind, TableAccess};

/// The profile-relevant facts of one statement shape.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    pub kind: String,
    pub parsed: bool,
    pub tables: Vec<String>,
    pub columns: Vec<String>,
    pub operations: Vec<String>,
}

pub(crate) fn kind_name(kind: StatementKind) -> &'static str {
    match kind {
        StatementKind::Select => "SELECT",
        StatementKind::Insert => "INSERT",
        StatementKind::Update => "UPDATE",
        StatementKind::Delete => "DELETE",
        StatementKind::Replace => "REPLACE",
        StatementKind::Set => "SET",
        StatementKind::Show => "SHOW",
        StatementKind::Use => "USE",
        StatementKind::Begin => "BEGIN",
        StatementKind::Commit => "COMMIT",
        StatementKind::Rollback => "ROLLBACK",
        StatementKind::Create => "CREATE",
        StatementKind::Drop => "DROP",
        StatementKind::Alter => "ALTER",
        StatementKind::Call => "CALL",
        StatementKind::Explain => "EXPLAIN",
        StatementKind::Admin => "ADMIN",
        StatementKind::Other => "OTHER",
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

impl Shape {
    pub fn of(sql: &str, catalog: &Catalog) -> Shape {
        let f = features::analyze(sql, catalog);
        let mut tables = Vec::new();
        let mut operations = Vec::new();
        for t in &f.tables {
            push_unique(&mut tables, &t.name);
            if t.access == TableAccess::FullScan {
                push_unique(&mut operations, &format!("full scan of {}", t.name));
            }
        }
        let mut columns = Vec::new();
        let c = &f.columns;
        for col in c
            .select
            .iter()
            .chain(&c.where_)
            .chain(&c.join)
            .chain(&c.group_by)
            .chain(&c.order_by)
        {
            if col != "*" && !col.ends_with(".*") {
                push_unique(&mut columns, col);
            }
        }
        let p = &f.predicates;
        let mut op = |cond: bool, name: &str| {
            if cond {
                push_unique(&mut operations, name);
            }
        };
        op(f.joins.count > 0, "join");
        op(
            f.joins.left + f.joins.right + f.joins.full > 0,
            "outer join",
        );
        op(f.joins.keys_unindexed > 0, "join on non-indexed key");
        op(f.aggregate_count > 0, "aggregate");
        op(f.group_by > 0, "GROUP BY");
        op(f.order_by > 0, "ORDER BY");
        op(f.having, "HAVING");
        op(f.distinct, "DISTINCT");
        op(f.limit.is_some(), "LIMIT");
        op(f.subqueries.count > 0, "subquery");
        op(f.subqueries.correlated > 0, "correlated subquery");
        op(
            f.subqueries.derived_tables + f.subqueries.ctes > 0,
            "derived table / CTE",
        );
        op(!f.set_operations.is_empty(), "UNION / set operation");
        op(p.ops.like + p.ops.not_like > 0, "LIKE");
        op(p.like_leading_wildcard > 0, "LIKE with leading wildcard");
        op(p.in_list_max > 0, "IN list");
        op(!p.ranges.is_empty() || p.ops.between > 0, "range predicate");
        op(f.case_count > 0, "CASE");
        op(f.select_star, "SELECT *");
        Shape {
            kind: kind_name(f.kind).to_string(),
            parsed: f.parsed,
            tables,
            columns,
            operations,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_with_grouping() {
        let s = Shape::of(
            "SELECT n_name, COUNT(*) FROM customer JOIN nation ON c_nationkey = n_nationkey GROUP BY n_name",
            &Catalog::tpch(),
        );
        assert_eq!(s.kind, "SELECT");
        assert!(s.parsed);
        assert_eq!(s.tables, vec!["customer", "nation"]);
        assert!(s.operations.iter().any(|o| o == "join"));
        assert!(s.operations.iter().any(|o| o == "GROUP BY"));
        assert!(s.columns.iter().any(|c| c.ends_with("n_name")));
    }

    #[test]
    fn chatter_has_a_kind_and_nothing_else() {
        let s = Shape::of("SHOW WARNINGS", &Catalog::tpch());
        assert_eq!(s.kind, "SHOW");
        assert!(s.tables.is_empty());
    }
}
