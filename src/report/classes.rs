//! The query classes in `report.html`, read the way pt-query-digest's
//! report is: a profile table of the top classes (each linking to its
//! details), the remaining classes collapsed under it, then one detail
//! section per top class with its full statistics, fingerprint and example.
//!
//! It is its own file because the digest is the heart of the report and has
//! the most structure; [`super::html`] places it right after the summary.

use super::units;
use crate::analyze::{Analysis, ClassSummary};
use maud::{Markup, html};

/// Classes in the profile table and with a detail section; the rest are
/// listed collapsed (pt-query-digest's default `--limit` is also 20).
pub const TOP: usize = 20;

/// Characters of a fingerprint in the tables (the details show it whole).
const FINGERPRINT_CHARS: usize = 240;

/// The anchor of a class's detail section.
pub fn anchor(c: &ClassSummary) -> String {
    format!("class-{}", c.class.rank)
}

/// Classes by rank.
fn ranked(a: &Analysis) -> Vec<&ClassSummary> {
    let mut classes: Vec<&ClassSummary> = a.classes.iter().collect();
    classes.sort_by_key(|c| c.class.rank);
    classes
}

/// The profile: the top classes, then the others in a collapsed table.
/// The maximum, lock time and rows sent are in the details, so the table
/// fits a 1,000 px window with the query column wrapping.
pub fn profile(a: &Analysis, title: &str) -> Markup {
    let classes = ranked(a);
    let (top, rest) = classes.split_at(classes.len().min(TOP));
    html! {
        h2 { (title) }
        (super::how("statements grouped by fingerprint (literals removed), most total time first; the Query ID matches pt-query-digest and PMM. Follow a rank to the class's details: its full statistics, fingerprint and slowest example."))
        @if classes.is_empty() {
            p.nodata { "No statements with a query time (the profile needs a slow log)." }
        } @else {
            (table(top, true))
            @if !rest.is_empty() {
                details.rest {
                    summary { "The other " (rest.len()) " classes (rank " (TOP + 1) " and below)" }
                    (table(rest, false))
                }
            }
        }
    }
}

fn table(classes: &[&ClassSummary], linked: bool) -> Markup {
    html! {
        table.classes {
            thead { tr {
                th.num { "Rank" } th { "Query ID" } th.num { "Count" } th.num { "Total (share)" }
                th.num { "Avg" } th.num { "p95" } th.num { "Rows examined" }
                th { "Kind / tables" } th.query { "Query" }
            } }
            tbody {
                @for c in classes { (row(c, linked)) }
            }
        }
    }
}

fn row(c: &ClassSummary, linked: bool) -> Markup {
    let q = &c.class.query_time;
    let href = format!("#{}", anchor(c));
    html! {
        tr {
            td.num {
                @if linked { a href=(href) { (c.class.rank) } } @else { (c.class.rank) }
            }
            td.id { code { (c.class.query_id) } }
            td.num { (c.class.count) }
            td.num { (units::seconds(q.sum)) br; (units::percent(c.class.time_share)) }
            td.num { (units::seconds(q.avg)) }
            td.num { (units::seconds(q.p95)) }
            td.num { (units::count(c.class.rows_examined_sum)) }
            td { (kind_and_tables(c)) }
            td.query {
                code { (units::truncate(&c.class.fingerprint, FINGERPRINT_CHARS)) }
                @if !linked {
                    details {
                        summary { "example" @if let Some(db) = &c.class.db { " (db " (db) ")" } }
                        pre { (c.class.example) }
                    }
                }
            }
        }
    }
}

fn kind_and_tables(c: &ClassSummary) -> Markup {
    html! {
        (c.kind)
        @if !c.parsed { " (unparsed)" }
        @if !c.tables.is_empty() { br; (c.tables.join(", ")) }
    }
}

/// One section per top class, pt-query-digest's per-query report.
pub fn details(a: &Analysis, title: &str, back: &str) -> Markup {
    let classes = ranked(a);
    html! {
        h2 { (title) }
        (super::how("per class, as pt-query-digest prints it: the distribution of its query time, the sums of lock time and rows, who ran it and where, the whole fingerprint and the slowest statement."))
        @if classes.is_empty() {
            p.nodata { "No query classes." }
        }
        @for c in classes.iter().take(TOP) {
            (detail(c, back))
        }
    }
}

fn detail(c: &ClassSummary, back: &str) -> Markup {
    let r = &c.class;
    let q = &r.query_time;
    let users: Vec<String> = r.users.iter().map(|(u, n)| format!("{u} ({n})")).collect();
    html! {
        section.class id=(anchor(c)) {
            h3 { "Query " (r.rank) ": " code { (r.query_id) } }
            p {
                (units::percent(r.time_share)) " of the query time, " (r.count) " statements"
                @if let (Some(first), Some(last)) = (&r.first_seen, &r.last_seen) {
                    ", from " (first) " to " (last)
                }
                " · " a href=(format!("#{back}")) { "back to the table" }
            }
            table {
                thead { tr {
                    th { "Attribute" } th.num { "Total" } th.num { "Min" } th.num { "Max" }
                    th.num { "Avg" } th.num { "95%" } th.num { "Median" }
                } }
                tbody {
                    tr {
                        th { "Query time" } td.num { (units::seconds(q.sum)) }
                        td.num { (units::seconds(q.min)) } td.num { (units::seconds(q.max)) }
                        td.num { (units::seconds(q.avg)) } td.num { (units::seconds(q.p95)) }
                        td.num { (units::seconds(q.median)) }
                    }
                    (sum_row("Lock time", units::seconds(r.lock_time_sum)))
                    (sum_row("Rows sent", units::count(r.rows_sent_sum)))
                    (sum_row("Rows examined", units::count(r.rows_examined_sum)))
                }
            }
            table {
                tr { th { "Database" } td { (r.db.as_deref().unwrap_or("-")) } }
                tr { th { "Users" } td { @if users.is_empty() { "-" } @else { (users.join(", ")) } } }
                tr { th { "Kind / tables" } td { (kind_and_tables(c)) } }
            }
            h4 { "Fingerprint" }
            pre { (r.fingerprint) }
            h4 { "Example (the slowest statement)" }
            pre { (r.example) }
        }
    }
}

fn sum_row(label: &str, total: String) -> Markup {
    html! {
        tr { th { (label) } td.num { (total) } td.num colspan="5" { "" } }
    }
}
