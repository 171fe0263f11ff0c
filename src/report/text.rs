//! The terminal summary: a few header lines and a profile table laid out
//! like pt-query-digest's, so people used to that tool can read it at once.

use super::units;
use crate::analyze::{Analysis, ClassSummary};
use std::fmt::Write;

/// Width used when the terminal's is unknown.
const DEFAULT_WIDTH: usize = 120;
/// Narrowest layout still drawn; below it lines simply wrap.
const MIN_WIDTH: usize = 80;

/// Human summary of `analysis` with the `top` most expensive classes,
/// sized for the terminal width in `$COLUMNS` (120 columns if unset).
pub fn terminal_summary(analysis: &Analysis, top: usize) -> String {
    let width = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_WIDTH);
    terminal_summary_width(analysis, top, width)
}

/// [`terminal_summary`] for an explicit width: the Item column (kind and
/// tables) takes what the fixed columns leave and is cut with `…`.
pub fn terminal_summary_width(analysis: &Analysis, top: usize, width: usize) -> String {
    let width = width.max(MIN_WIDTH);
    let mut out = String::new();
    header(analysis, &mut out);
    if analysis.classes.is_empty() {
        out.push_str("# No statements with a query time (a slow log is needed for the profile).\n");
        return out;
    }
    let total = analysis.total_query_time.sum;
    let id_width = analysis
        .classes
        .iter()
        .map(|c| c.class.query_id.chars().count())
        .max()
        .unwrap_or(18)
        .max(8);
    // "# " + rank(4) + id + response(17) + calls(8) + r/call(9) + p95(9) + max(9) + separators
    let fixed = 2 + 4 + 1 + id_width + 1 + 17 + 1 + 8 + 1 + 9 + 1 + 9 + 1 + 9 + 1;
    let item_width = width.saturating_sub(fixed).max(10);
    let _ = writeln!(out, "# Profile");
    let _ = writeln!(
        out,
        "# {:>4} {:<id_width$} {:>17} {:>8} {:>9} {:>9} {:>9} Item",
        "Rank", "Query ID", "Response time (s)", "Calls", "R/Call", "p95", "max"
    );
    let _ = writeln!(
        out,
        "# {} {} {} {} {} {} {} {}",
        "=".repeat(4),
        "=".repeat(id_width),
        "=".repeat(17),
        "=".repeat(8),
        "=".repeat(9),
        "=".repeat(9),
        "=".repeat(9),
        "=".repeat(item_width.min(20)),
    );
    let mut ranked: Vec<&ClassSummary> = analysis.classes.iter().collect();
    ranked.sort_by_key(|c| c.class.rank);
    for c in ranked.iter().take(top) {
        let q = &c.class.query_time;
        let share = if c.class.time_share.is_finite() {
            c.class.time_share
        } else if total > 0.0 {
            q.sum / total
        } else {
            0.0
        };
        let response = format!("{:.4} {:>5.1}%", finite(q.sum), share * 100.0);
        let _ = writeln!(
            out,
            "# {:>4} {:<id_width$} {:>17} {:>8} {:>9} {:>9} {:>9} {}",
            c.class.rank,
            c.class.query_id,
            response,
            c.class.count,
            format!("{:.4}", finite(q.avg)),
            units::seconds(q.p95),
            units::seconds(q.max),
            units::truncate(&item(c), item_width),
        );
    }
    let rest: Vec<&&ClassSummary> = ranked.iter().skip(top).collect();
    if !rest.is_empty() {
        let sum: f64 = rest.iter().map(|c| finite(c.class.query_time.sum)).sum();
        let calls: u64 = rest.iter().map(|c| c.class.count).sum();
        let share = if total > 0.0 { sum / total } else { 0.0 };
        let _ = writeln!(
            out,
            "# MISC {:<id_width$} {:>17} {:>8} {:>9} {:>9} {:>9} <{} ITEMS>",
            "0xMISC",
            format!("{:.4} {:>5.1}%", sum, share * 100.0),
            calls,
            format!("{:.4}", if calls > 0 { sum / calls as f64 } else { 0.0 }),
            "",
            "",
            rest.len(),
        );
    }
    out
}

fn finite(v: f64) -> f64 {
    if v.is_finite() { v } else { 0.0 }
}

/// pt-query-digest's Item column: the statement kind and its tables.
fn item(c: &ClassSummary) -> String {
    let mut s = c.kind.to_uppercase();
    for t in &c.tables {
        s.push(' ');
        s.push_str(t);
    }
    if !c.parsed {
        s.push_str(" (unparsed)");
    }
    s
}

fn header(a: &Analysis, out: &mut String) {
    let _ = writeln!(out, "# qlat analysis");
    for input in &a.inputs {
        let _ = writeln!(
            out,
            "# Input: {} ({}, {} events, {} errors)",
            input.path, input.format, input.events, input.errors
        );
    }
    match &a.time_range {
        Some((from, to)) => {
            let _ = writeln!(out, "# Time range: {from} to {to}");
        }
        None => {
            let _ = writeln!(out, "# Time range: unknown (no timestamps)");
        }
    }
    let t = &a.total_query_time;
    let _ = writeln!(
        out,
        "# Statements: {} ({} unique); total query time {}, avg {}, p95 {}, max {}",
        a.query_count,
        a.unique_query_count,
        units::seconds(t.sum),
        units::seconds(t.avg),
        units::seconds(t.p95),
        units::seconds(t.max),
    );
    let q = &a.quality;
    if q.unparsed_events > 0 {
        let _ = writeln!(
            out,
            "# Unparsed statements: {} (fingerprinted and counted, not classified)",
            q.unparsed_events
        );
    }
    let g = &q.general;
    if g.prepared + g.prepared_executions > 0 {
        let _ = writeln!(
            out,
            "# General log, prepared: {} statements prepared, {} executions (counted as statements)",
            g.prepared, g.prepared_executions
        );
    }
    let _ = writeln!(out, "#");
}
