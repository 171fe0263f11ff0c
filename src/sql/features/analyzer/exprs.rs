//! What the walk over expressions ([`super::walk`]) records: column
//! references, comparisons, `OR`s and function calls, as facts of the
//! enclosing block.

use super::*;

impl<'c> Analyzer<'c> {
    /// Resolves a column reference against the open scopes (innermost
    /// first) without recording anything.
    pub(super) fn resolve<'a>(&self, parts: &'a [Ident]) -> Option<ColRef<'a>> {
        // `@var`, `@@session.var`: variables, not columns.
        if parts.first()?.value.starts_with('@') {
            return None;
        }
        let column = parts.last()?.value.as_str();
        if parts.len() >= 2 {
            let qualifier = &parts[parts.len() - 2].value;
            return Some(self.resolve_qualified(qualifier, column));
        }
        Some(self.resolve_bare(column))
    }

    /// `qualifier.column`: the innermost table aliased `qualifier`, else
    /// unresolved (the qualifier kept).
    fn resolve_qualified<'a>(&self, qualifier: &str, column: &'a str) -> ColRef<'a> {
        for (si, scope) in self.scopes.iter().enumerate().rev() {
            if let Some(ti) = scope
                .tables
                .iter()
                .position(|t| t.alias.eq_ignore_ascii_case(qualifier))
            {
                return ColRef {
                    scope: Some(si),
                    table: Some(ti),
                    column,
                    unresolved_qualifier: None,
                };
            }
        }
        ColRef {
            scope: None,
            table: None,
            column,
            unresolved_qualifier: Some(qualifier.to_ascii_lowercase()),
        }
    }

    /// A bare `column`: the innermost table that has it (a select alias of
    /// the same name stops the search), else the one table of the innermost
    /// block when its columns are unknown, else unresolved.
    fn resolve_bare<'a>(&self, column: &'a str) -> ColRef<'a> {
        let aliased = |scope: &Scope<'_>| {
            scope
                .select_aliases
                .iter()
                .any(|a| a.eq_ignore_ascii_case(column))
        };
        for (si, scope) in self.scopes.iter().enumerate().rev() {
            let owner = scope.tables.iter().position(|t| {
                t.table.is_some_and(|tab| tab.column(column).is_some())
                    || t.derived_columns
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(column))
            });
            if let Some(ti) = owner {
                return ColRef {
                    scope: Some(si),
                    table: Some(ti),
                    column,
                    unresolved_qualifier: None,
                };
            }
            if aliased(scope) {
                break;
            }
        }
        // Unknown tables or derived tables without known columns: if the
        // innermost block has exactly one table, the column is its.
        if let Some(scope) = self.scopes.last()
            && scope.tables.len() == 1
            && scope.tables[0].table.is_none()
            && !aliased(scope)
        {
            return ColRef {
                scope: Some(self.scopes.len() - 1),
                table: Some(0),
                column,
                unresolved_qualifier: None,
            };
        }
        ColRef {
            scope: None,
            table: None,
            column,
            unresolved_qualifier: None,
        }
    }

    /// Records a column reference in the current clause and marks enclosing
    /// subqueries correlated when it reaches outside them.
    pub(super) fn column(&mut self, parts: &[Ident]) {
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
    pub(super) fn qualified(&self, c: &ColRef<'_>) -> String {
        let (prefix, col) = qualified_parts(&self.scopes, c);
        join_qualified(prefix, col)
    }

    /// A column of the innermost block referenced by `e` (a bare column).
    pub(super) fn local_column<'a>(&self, e: &'a Expr) -> Option<ColRef<'a>> {
        let c = match e {
            Expr::Identifier(i) => self.resolve(std::slice::from_ref(i))?,
            Expr::CompoundIdentifier(p) => self.resolve(p)?,
            Expr::Nested(inner) => return self.local_column(inner),
            _ => return None,
        };
        (c.scope.is_some() && c.scope == self.scopes.len().checked_sub(1)).then_some(c)
    }

    /// Whether `e` does not depend on the innermost block's rows.
    pub(super) fn independent(&self, e: &Expr, depth: u32) -> bool {
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

    pub(super) fn const_fact(&mut self, c: &ColRef<'_>, sargable: bool, kind: ConstKind) {
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

    pub(super) fn join_key(&mut self, a: (usize, String), b: (usize, String), restrict: Restrict) {
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

    pub(super) fn in_filter(&self) -> bool {
        matches!(self.clause, Clause::Where | Clause::Join | Clause::Having)
    }

    /// Handles `left op right` comparisons: counts, index facts, join keys,
    /// range bounds.
    pub(super) fn comparison(&mut self, left: &Expr, op: &BinaryOperator, right: &Expr) {
        if !self.count_comparison(op) || self.clause == Clause::Having {
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
        self.record_bound(&col, op, flipped, other);
    }

    /// Counts a comparison operator among the predicates; `false` when `op`
    /// is not one.
    fn count_comparison(&mut self, op: &BinaryOperator) -> bool {
        let ops = &mut self.f.predicates.ops;
        match op {
            BinaryOperator::Eq | BinaryOperator::Spaceship => ops.eq += 1,
            BinaryOperator::NotEq => ops.ne += 1,
            BinaryOperator::Lt => ops.lt += 1,
            BinaryOperator::Gt => ops.gt += 1,
            BinaryOperator::LtEq => ops.le += 1,
            BinaryOperator::GtEq => ops.ge += 1,
            _ => return false,
        }
        self.f.predicates.count += 1;
        true
    }

    /// Records `col op other` (`other op col` when `flipped`) as the lower
    /// or upper bound of a range on `col` in the innermost block; the first
    /// bound of each side is kept.
    fn record_bound(&mut self, col: &ColRef<'_>, op: &BinaryOperator, flipped: bool, other: &Expr) {
        let lower_bound = match (op, flipped) {
            (BinaryOperator::Gt | BinaryOperator::GtEq, false)
            | (BinaryOperator::Lt | BinaryOperator::LtEq, true) => true,
            (BinaryOperator::Lt | BinaryOperator::LtEq, false)
            | (BinaryOperator::Gt | BinaryOperator::GtEq, true) => false,
            _ => return,
        };
        let value = eval(other, 0);
        let qualified = self.qualified(col);
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
    pub(super) fn or_filter(&mut self, e: &Expr) {
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

    pub(super) fn function(&mut self, func: &Function) {
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

    pub(super) fn special(&mut self, name: &str) {
        push_unique(&mut self.functions, name);
    }
}
