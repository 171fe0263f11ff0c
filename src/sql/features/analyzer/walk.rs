//! The dispatch over expression kinds: [`Analyzer::expr`] walks structural
//! nodes itself and hands predicates (`IS NULL`, `IN`, `BETWEEN`, `LIKE`,
//! `EXISTS`, ...) and SQL's special function forms (`CAST`, `EXTRACT`,
//! `SUBSTRING`, ...) to one handler each. Kept apart from `exprs.rs`, which
//! resolves columns and records the facts a comparison implies, so each
//! function fits on a screen and each file stays under ~800 lines.

use sqlparser::ast::CaseWhen;

use super::*;

impl Analyzer<'_> {
    pub(super) fn expr(&mut self, e: &Expr) {
        if self.walk_depth >= MAX_WALK_DEPTH {
            return;
        }
        self.walk_depth += 1;
        self.expr_inner(e);
        self.walk_depth -= 1;
    }

    /// One expression node: structural nodes here, predicates in
    /// [`Analyzer::predicate`], special forms in [`Analyzer::special_form`].
    fn expr_inner(&mut self, e: &Expr) {
        match e {
            Expr::Identifier(i) => self.column(std::slice::from_ref(i)),
            Expr::CompoundIdentifier(p) => self.column(p),
            Expr::Value(_) | Expr::TypedString(_) => self.f.literal_count += 1,
            Expr::Nested(x) => self.expr(x),
            Expr::BinaryOp { left, op, right } => self.binary_op(e, left, op, right),
            Expr::UnaryOp { op, expr } => self.unary_op(op, expr),
            Expr::Subquery(q) => {
                self.subquery(q, false);
            }
            Expr::Function(func) => self.function(func),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => self.case(operand.as_deref(), conditions, else_result.as_deref()),
            Expr::Collate { expr, .. } => self.expr(expr),
            Expr::Interval(iv) => self.expr(&iv.value),
            Expr::Tuple(items) => {
                for i in items {
                    self.expr(i);
                }
            }
            _ => {
                if !self.predicate(e) {
                    self.special_form(e);
                }
            }
        }
    }

    /// `AND` walks both sides; an `OR` in a filter keeps the facts common
    /// to its branches ([`Analyzer::or_filter`]); other `OR`s and `XOR`
    /// say nothing about rows read; comparisons record their facts.
    fn binary_op(&mut self, e: &Expr, left: &Expr, op: &BinaryOperator, right: &Expr) {
        match op {
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
        }
    }

    /// `NOT x` is walked like a branch of an `OR` (counted, no facts).
    fn unary_op(&mut self, op: &UnaryOperator, expr: &Expr) {
        if matches!(op, UnaryOperator::Not) {
            let saved = self.under_or;
            self.under_or = true;
            self.expr(expr);
            self.under_or = saved;
        } else {
            self.expr(expr);
        }
    }

    /// Predicates: counted (per operator) when in a filter, with the facts
    /// they give index use, then their operands walked. `false` when `e` is
    /// not a predicate.
    fn predicate(&mut self, e: &Expr) -> bool {
        match e {
            Expr::IsNull(x) => self.null_check(x, true),
            Expr::IsNotNull(x) => self.null_check(x, false),
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
            } => self.in_predicate(expr, target, *negated),
            Expr::Between {
                expr,
                negated,
                low,
                high,
            } => self.between(expr, *negated, low, high),
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
            } => self.like(expr, *negated, pattern),
            Expr::RLike { expr, pattern, .. } | Expr::SimilarTo { expr, pattern, .. } => {
                self.regexp(expr, pattern)
            }
            Expr::MatchAgainst { .. } => self.match_against(),
            Expr::AnyOp { left, right, .. } | Expr::AllOp { left, right, .. } => {
                self.any_all(left, right)
            }
            Expr::Exists { subquery, negated } => self.exists(subquery, *negated),
            _ => return false,
        }
        true
    }

    /// `x IS [NOT] NULL`.
    fn null_check(&mut self, x: &Expr, is_null: bool) {
        if self.in_filter() {
            self.f.predicates.count += 1;
            if is_null {
                self.f.predicates.ops.is_null += 1;
            } else {
                self.f.predicates.ops.is_not_null += 1;
            }
            if let Some(c) = self.local_column(x) {
                self.const_fact(&c, is_null, ConstKind::Eq);
            }
        }
        self.expr(x);
    }

    /// `expr [NOT] IN (...)`.
    fn in_predicate(&mut self, expr: &Expr, target: &InTarget, negated: bool) {
        let filter = self.in_filter();
        if filter {
            self.f.predicates.count += 1;
        }
        match target {
            InTarget::List(items) => self.in_list(expr, items, negated, filter),
            InTarget::Subquery(q) => self.in_subquery(expr, q, negated, filter),
            InTarget::Unnest(x) => {
                self.expr(expr);
                self.expr(x);
            }
            InTarget::Table { .. } => self.expr(expr),
        }
    }

    /// `expr [NOT] IN (a, b, ...)`: list sizes, and a fact when every item
    /// is independent of the block's rows.
    fn in_list(&mut self, expr: &Expr, items: &[Expr], negated: bool, filter: bool) {
        if filter {
            let p = &mut self.f.predicates;
            if negated {
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
                self.const_fact(&c, !negated, ConstKind::In(n));
            }
        }
        self.expr(expr);
        for i in items {
            self.expr(i);
        }
    }

    /// `expr [NOT] IN (SELECT ...)`: the subquery's estimated values count
    /// as an `IN` list of that size.
    fn in_subquery(&mut self, expr: &Expr, q: &Query, negated: bool, filter: bool) {
        self.expr(expr);
        let values = self.subquery_values(q);
        if filter {
            if negated {
                self.f.predicates.ops.not_in_subquery += 1;
            } else {
                self.f.predicates.ops.in_subquery += 1;
            }
            if let Some(c) = self.local_column(expr) {
                let kind = values.map_or(ConstKind::Other, |n| {
                    ConstKind::In(n.round().clamp(1.0, f64::from(u32::MAX)) as u32)
                });
                self.const_fact(&c, !negated, kind);
            }
        }
    }

    /// `expr [NOT] BETWEEN low AND high`: a fact (a span when the bounds
    /// are numbers), and a closed range outside any `OR`.
    fn between(&mut self, expr: &Expr, negated: bool, low: &Expr, high: &Expr) {
        if self.in_filter() {
            self.f.predicates.count += 1;
            if negated {
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
                self.const_fact(&c, !negated, kind);
                if !negated
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

    /// `expr [NOT] [I]LIKE pattern`: a leading wildcard rules out an index
    /// prefix; the share of rows a pattern matches is guessed from it.
    fn like(&mut self, expr: &Expr, negated: bool, pattern: &Expr) {
        if self.in_filter() {
            self.f.predicates.count += 1;
            if negated {
                self.f.predicates.ops.not_like += 1;
            } else {
                self.f.predicates.ops.like += 1;
            }
            let text = match pattern {
                Expr::Value(v) => match &v.value {
                    Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.as_str()),
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
                self.const_fact(&c, !negated, kind);
            }
        }
        self.expr(expr);
        self.expr(pattern);
    }

    /// `REGEXP` / `RLIKE` / `SIMILAR TO`.
    fn regexp(&mut self, expr: &Expr, pattern: &Expr) {
        if self.in_filter() {
            self.f.predicates.count += 1;
            self.f.predicates.ops.regexp += 1;
        }
        self.expr(expr);
        self.expr(pattern);
    }

    /// `MATCH (...) AGAINST (...)`: counted like a regexp.
    fn match_against(&mut self) {
        if self.in_filter() {
            self.f.predicates.count += 1;
            self.f.predicates.ops.regexp += 1;
        }
        self.special("match");
    }

    /// `x op ANY (...)` / `x op ALL (...)`.
    fn any_all(&mut self, left: &Expr, right: &Expr) {
        if self.in_filter() {
            self.f.predicates.count += 1;
        }
        self.expr(left);
        self.expr(right);
    }

    /// `[NOT] EXISTS (SELECT ...)`: a subquery that stops at its first match.
    fn exists(&mut self, subquery: &Query, negated: bool) {
        if self.in_filter() {
            self.f.predicates.count += 1;
            if negated {
                self.f.predicates.ops.not_exists += 1;
            } else {
                self.f.predicates.ops.exists += 1;
            }
        }
        self.subquery(subquery, true);
    }

    /// `CASE [operand] WHEN ... THEN ... [ELSE ...] END`.
    fn case(
        &mut self,
        operand: Option<&Expr>,
        conditions: &[CaseWhen],
        else_result: Option<&Expr>,
    ) {
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

    /// SQL's function-like syntax (`CAST(x AS t)`, `EXTRACT(f FROM x)`,
    /// `SUBSTRING(x FROM a FOR b)`, ...): recorded as functions used, their
    /// operands walked. Other expressions are not looked into.
    fn special_form(&mut self, e: &Expr) {
        match e {
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
            _ => {}
        }
    }
}
