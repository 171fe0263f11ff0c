//! Constant expressions evaluated to numbers and dates (`date '1994-01-01'
//! + interval '1' year`), for range widths and selectivities.

use super::*;

/// A literal value usable as a range bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Lit {
    Num(f64),
    Date(NaiveDate),
    /// An interval as (months, days).
    Interval(i64, i64),
}

pub(super) fn parse_date(s: &str) -> Option<NaiveDate> {
    if !looks_like_date(s) {
        return None;
    }
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

pub(super) fn shift_date(d: NaiveDate, months: i64, days: i64, sign: i64) -> Option<NaiveDate> {
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

pub(super) fn combine(l: Lit, r: Lit, sign: i64) -> Option<Lit> {
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

pub(super) fn interval_of(amount: f64, field: Option<&DateTimeField>) -> Option<Lit> {
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

pub(super) fn object_name_last(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(ident)) => ident.value.to_ascii_lowercase(),
        Some(part) => part.to_string().to_ascii_lowercase(),
        None => String::new(),
    }
}

/// Evaluates a constant expression to a number, date or interval: the TPC-H
/// forms `date '1994-01-01' + interval '1' year`, `'1994-01-01'`,
/// `interval 3 month`, `.06 - 0.01`, `date_add('1994-01-01', interval 1 day)`.
pub(super) fn eval(e: &Expr, depth: u32) -> Option<Lit> {
    if depth > 16 {
        return None;
    }
    match e {
        Expr::Value(v) => eval_value(&v.value),
        Expr::TypedString(ts) => eval_typed_string(ts),
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
        Expr::BinaryOp { left, op, right } => eval_binary(left, op, right, depth),
        Expr::Function(func) => eval_date_function(func, depth),
        _ => None,
    }
}

/// A number, or a quoted date or number.
fn eval_value(v: &Value) -> Option<Lit> {
    match v {
        Value::Number(n, _) => n.parse().ok().map(Lit::Num),
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => parse_date(s)
            .map(Lit::Date)
            .or_else(|| s.trim().parse().ok().map(Lit::Num)),
        _ => None,
    }
}

/// `date '1994-01-01'`, `timestamp '...'`, `datetime '...'`.
fn eval_typed_string(ts: &sqlparser::ast::TypedString) -> Option<Lit> {
    match &ts.value.value {
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => match ts.data_type {
            DataType::Date | DataType::Datetime(_) | DataType::Timestamp(..) => {
                parse_date(s).map(Lit::Date)
            }
            _ => None,
        },
        _ => None,
    }
}

/// `+` and `-` of numbers, dates and intervals; `*` and `/` of numbers.
fn eval_binary(left: &Expr, op: &BinaryOperator, right: &Expr, depth: u32) -> Option<Lit> {
    let l = eval(left, depth + 1)?;
    let r = eval(right, depth + 1)?;
    match (op, l, r) {
        (BinaryOperator::Plus, ..) => combine(l, r, 1),
        (BinaryOperator::Minus, ..) => combine(l, r, -1),
        (BinaryOperator::Multiply, Lit::Num(a), Lit::Num(b)) => Some(Lit::Num(a * b)),
        (BinaryOperator::Divide, Lit::Num(a), Lit::Num(b)) if b != 0.0 => Some(Lit::Num(a / b)),
        _ => None,
    }
}

/// `date(x)`, `date_add` / `adddate`, `date_sub` / `subdate` (a bare number
/// of days as the interval).
fn eval_date_function(func: &Function, depth: u32) -> Option<Lit> {
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

/// The plain expression arguments of a function call.
pub(super) fn function_args(func: &Function) -> impl Iterator<Item = &Expr> {
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

pub(super) fn span(lo: Lit, hi: Lit) -> Option<(RangeKind, f64)> {
    match (lo, hi) {
        (Lit::Num(a), Lit::Num(b)) => Some((RangeKind::Number, (b - a).abs())),
        (Lit::Date(a), Lit::Date(b)) => Some((RangeKind::Date, (b - a).num_days().abs() as f64)),
        _ => None,
    }
}

pub(super) const AGGREGATES: &[&str] = &[
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
