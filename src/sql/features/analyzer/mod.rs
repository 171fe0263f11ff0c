//! The walk over a parsed statement: blocks, tables and joins; the
//! estimates made when a block closes ([`estimates`]), the walk over
//! expressions ([`walk`]) and the facts it records ([`exprs`]).

use sqlparser::ast::TableAlias;

use super::*;

mod estimates;
mod exprs;
mod walk;

pub(super) struct Analyzer<'c> {
    pub(super) catalog: &'c Catalog,
    pub(super) f: StatementFeatures,
    pub(super) scopes: Vec<Scope<'c>>,
    pub(super) ctes: Vec<CteDef>,
    /// Open subqueries: (id, number of scopes when it started).
    pub(super) open_subqueries: Vec<(usize, usize)>,
    pub(super) runs: Vec<SubqueryRun>,
    pub(super) subquery_depth: u32,
    pub(super) walk_depth: u32,
    pub(super) clause: Clause,
    /// Under `NOT`, `XOR`, or an `OR` outside a filter: comparisons are
    /// counted but say nothing about which rows are read.
    pub(super) under_or: bool,
    /// Inside a branch of a filter's `OR` (see [`Analyzer::or_filter`]):
    /// facts are collected for the branch, bounds are not.
    pub(super) or_branch: u32,
    pub(super) restrict: Restrict,
    pub(super) functions: Vec<String>,
    pub(super) aggregates: Vec<String>,
}

pub(super) fn push_unique(list: &mut Vec<String>, s: &str) {
    if !list.iter().any(|x| x == s) {
        list.push(s.to_owned());
    }
}

pub(super) fn lower(ident: &Ident) -> String {
    ident.value.to_ascii_lowercase()
}

/// Output column names of a query (for derived tables and CTEs).
pub(super) fn projection_names(q: &Query) -> Vec<String> {
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

pub(super) fn limit_value(e: &Expr) -> Option<u64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

impl<'c> Analyzer<'c> {
    pub(super) fn new(catalog: &'c Catalog, f: StatementFeatures) -> Self {
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

    pub(super) fn finish(mut self) -> StatementFeatures {
        self.f.subqueries.correlated =
            self.runs.iter().filter(|r| !r.outer.is_empty()).count() as u32;
        self.functions.sort_unstable();
        self.aggregates.sort_unstable();
        self.f.functions = self.functions;
        self.f.aggregates = self.aggregates;
        self.f
    }

    pub(super) fn statement(&mut self, s: &Statement) {
        match s {
            Statement::Query(q) => self.query(q, true),
            Statement::Insert(ins) => self.insert(ins),
            Statement::Update(u) => self.update(u),
            Statement::Delete(d) => self.delete(d),
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

    /// `INSERT` / `REPLACE`: the target is written, the source query read.
    fn insert(&mut self, ins: &sqlparser::ast::Insert) {
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

    /// `UPDATE`: one block of its tables, assignments, WHERE, ORDER BY and
    /// LIMIT.
    fn update(&mut self, u: &sqlparser::ast::Update) {
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

    /// `DELETE`: one block of its FROM and USING tables, WHERE, ORDER BY
    /// and LIMIT.
    fn delete(&mut self, d: &sqlparser::ast::Delete) {
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
        let schema = match name.0.as_slice() {
            [.., schema, _] => Some(match schema {
                ObjectNamePart::Identifier(ident) => ident.value.clone(),
                part => part.to_string(),
            }),
            _ => None,
        };
        if let Some(schema) = &schema {
            self.f.server_metadata |= ["information_schema", "performance_schema"]
                .iter()
                .any(|s| schema.trim_matches('`').eq_ignore_ascii_case(s));
        }
        let table_name = object_name_last(name);
        let table = self.catalog.table(&table_name);
        self.f.tables.push(TableRef {
            name: table_name,
            schema,
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
            TableFactor::Table { name, alias, .. } => self.named_table(name, alias.as_ref()),
            TableFactor::Derived {
                subquery, alias, ..
            } => self.derived_table(subquery, alias.as_ref()),
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.table_with_joins(table_with_joins),
            _ => {}
        }
    }

    /// A table named in FROM: a CTE when one of that name is open, else a
    /// base table (a table reference of the statement).
    fn named_table(&mut self, name: &ObjectName, alias: Option<&TableAlias>) {
        let table_name = object_name_last(name);
        let alias_name = alias.map(|a| lower(&a.name));
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

    /// `FROM (SELECT ...) AS x`: a subquery, and a table whose columns are
    /// the alias's column list or the subquery's output names.
    fn derived_table(&mut self, subquery: &Query, alias: Option<&TableAlias>) {
        self.f.subqueries.derived_tables += 1;
        self.subquery(subquery, false);
        let alias_name = alias
            .map(|a| lower(&a.name))
            .unwrap_or_else(|| "<derived>".to_owned());
        let derived_columns = match alias {
            Some(a) if !a.columns.is_empty() => a.columns.iter().map(|c| lower(&c.name)).collect(),
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
}
