//! `report.html`: one self-contained page (inline CSS, inline SVG, no
//! scripts, no external URLs) that opens offline and prints cleanly.
//!
//! It reads top-down like pt-query-digest's report: a table of contents,
//! the summary, the top query classes (the rest collapsed), each top
//! class's details, and only then the charts and the breakdowns. Tables
//! never grow wider than the page: long SQL wraps inside its cell.
//!
//! Everything from the logs — SQL, user names, paths — goes through maud's
//! escaping; the only unescaped content is the CSS below and the SVG that
//! plotters produced (which escapes its own text).

use super::charts::ChartSpec;
use super::{classes, units};
use crate::analyze::quality::{LogQuality, OnlyIn};
use crate::analyze::{Analysis, Usage};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::BTreeMap;

/// Section headings, in page order (the tests look for each).
pub const SECTIONS: [&str; 7] = [
    "Summary",
    "Top query classes",
    "Query class details",
    "Charts",
    "Workload breakdown",
    "Latency per user",
    "Data quality",
];

/// The anchor of each of [`SECTIONS`], for the table of contents.
pub const ANCHORS: [&str; 7] = [
    "summary",
    "top-classes",
    "class-details",
    "charts",
    "breakdown",
    "users",
    "quality",
];

pub(crate) const CSS: &str = r#"
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.7em;margin-bottom:.2em}
h2{border-bottom:2px solid #0072b2;padding-bottom:.2em;margin-top:2em}
h3{margin:1.2em 0 .3em}
p.how{color:#555;font-style:italic;margin:.2em 0 .8em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em;max-width:100%}
table.classes{width:100%}
th,td{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left;overflow-wrap:break-word}
td.query{min-width:14em;overflow-wrap:anywhere}
td.query code{white-space:normal}
td.id{white-space:nowrap}
th{background:#eef4f9}
th.num{text-align:right}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:nth-child(even) td{background:#fafafa}
code,pre{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.85em}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:.5em;margin:.3em 0;max-width:80em}
nav.toc{background:#f6f9fc;border:1px solid #dde7f0;padding:.3em 1em;margin:1em 0}
nav.toc ol{margin:.3em 0;padding-left:1.5em}
nav.toc ol ol{columns:2}
section.class{border-top:1px solid #ddd;margin-top:1.5em}
details.rest>summary{margin:.3em 0 .6em}
details summary{cursor:pointer;color:#0072b2}
figure{margin:1em 0 2em;page-break-inside:avoid;break-inside:avoid}
figure svg{max-width:100%;height:auto;border:1px solid #eee}
.nodata{color:#a33}
.warn{color:#a33;font-weight:bold}
@media print{body{max-width:none;margin:0}details{display:block}h2{page-break-after:avoid}}
"#;

/// Renders the page; `svgs[i]` is the SVG of `charts[i]`.
pub fn render(a: &Analysis, charts: &[ChartSpec], svgs: &[String]) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "qlat workload report" }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "qlat workload report" }
                (toc(charts))
                section id=(ANCHORS[0]) { (summary(a)) }
                section id=(ANCHORS[1]) { (classes::profile(a, SECTIONS[1])) }
                section id=(ANCHORS[2]) { (classes::details(a, SECTIONS[2], ANCHORS[1])) }
                section id=(ANCHORS[3]) { (chart_section(charts, svgs)) }
                section id=(ANCHORS[4]) { (breakdown(a)) }
                section id=(ANCHORS[5]) { (users(a)) }
                section id=(ANCHORS[6]) { (quality(a)) }
            }
        }
    }
    .into_string()
}

/// Links to every section, and to each chart under "Charts".
fn toc(charts: &[ChartSpec]) -> Markup {
    html! {
        nav.toc {
            strong { "Contents" }
            ol {
                @for (title, anchor) in SECTIONS.iter().zip(ANCHORS) {
                    li {
                        a href=(format!("#{anchor}")) { (title) }
                        @if anchor == ANCHORS[3] && !charts.is_empty() {
                            ol { @for c in charts { li { a href=(format!("#{}", c.stem)) { (c.title) } } } }
                        }
                    }
                }
            }
        }
    }
}

fn summary(a: &Analysis) -> Markup {
    let t = &a.total_query_time;
    html! {
        h2 { (SECTIONS[0]) }
        (super::how("what was read, over which period, and the overall load; errors are lines or events qlat could not read."))
        table {
            tr { th { "Inputs" } td {
                @if a.inputs.is_empty() { "none" }
                @for i in &a.inputs {
                    div {
                        code { (i.path) } " — " (i.format) ", " (i.events) " events, "
                        @if i.errors > 0 { span.warn { (i.errors) " errors" } } @else { "0 errors" }
                        @if !i.error_examples.is_empty() {
                            details { summary { "error examples" }
                                @for e in &i.error_examples { pre { (e) } }
                            }
                        }
                    }
                }
            } }
            tr { th { "Time range" } td {
                @match &a.time_range {
                    Some((from, to)) => { (from) " to " (to) }
                    None => { "unknown (no timestamps)" }
                }
            } }
            tr { th { "Statements" } td { (a.query_count) " (" (a.unique_query_count) " distinct query classes)" } }
            tr { th { "Total query time" } td {
                (units::seconds(t.sum)) " — avg " (units::seconds(t.avg)) ", median " (units::seconds(t.median))
                ", p95 " (units::seconds(t.p95)) ", max " (units::seconds(t.max))
            } }
        }
    }
}

fn chart_section(charts: &[ChartSpec], svgs: &[String]) -> Markup {
    html! {
        h2 { (SECTIONS[3]) }
        (super::how("each chart is also saved next to this page as an SVG and a PNG file with the name shown."))
        @for (spec, svg) in charts.iter().zip(svgs) {
            figure id=(spec.stem) {
                h3 { (spec.title) }
                (super::how(spec.how_to_read))
                @if let Some(reason) = spec.no_data() {
                    p.nodata { "No data for this chart: " (reason) "." }
                }
                (PreEscaped(svg.as_str()))
                figcaption { code { (spec.stem) ".svg" } ", " code { (spec.stem) ".png" } }
            }
        }
    }
}

fn usage_table(title: &str, rows: &[Usage]) -> Markup {
    let total: f64 = rows.iter().map(|u| u.time).filter(|t| t.is_finite()).sum();
    let mut rows: Vec<&Usage> = rows.iter().collect();
    rows.sort_by(|x, y| y.time.total_cmp(&x.time).then(y.count.cmp(&x.count)));
    html! {
        h3 { (title) }
        @if rows.is_empty() {
            p.nodata { "none found" }
        } @else {
            table {
                thead { tr { th { "Name" } th.num { "Statements" } th.num { "Time" } th.num { "% of time" } } }
                tbody {
                    @for u in rows {
                        tr {
                            td { code { (u.name) } }
                            td.num { (u.count) }
                            td.num { (units::seconds(u.time)) }
                            td.num { (if total > 0.0 { units::percent(u.time / total) } else { "-".to_string() }) }
                        }
                    }
                }
            }
        }
    }
}

fn breakdown(a: &Analysis) -> Markup {
    html! {
        h2 { (SECTIONS[4]) }
        (super::how("where the time goes by statement kind, table, column and operation. A statement touching three tables counts for each, so table shares can add up to more than 100%."))
        (usage_table("Statement kinds", &a.kinds))
        (usage_table("Tables", &a.tables))
        (usage_table("Columns", &a.columns))
        (usage_table("Operations", &a.operations))
    }
}

fn users(a: &Analysis) -> Markup {
    let mut users: Vec<_> = a.users.iter().collect();
    users.sort_by(|x, y| y.total.total_cmp(&x.total).then(x.user.cmp(&y.user)));
    html! {
        h2 { (SECTIONS[5]) }
        (super::how("query time per database account: a user with a high median runs heavy statements, one with a high max but low median has occasional slow ones."))
        @if users.is_empty() {
            p.nodata { "No per-user query times (the logs carry no user, or no query times)." }
        } @else {
            table {
                thead { tr {
                    th { "User" } th.num { "Statements" } th.num { "Total" } th.num { "Min" } th.num { "Q1" }
                    th.num { "Median" } th.num { "Q3" } th.num { "p95" } th.num { "Max" }
                } }
                tbody {
                    @for u in users {
                        tr {
                            td { code { (u.user) } }
                            td.num { (u.count) }
                            td.num { (units::seconds(u.total)) }
                            td.num { (units::seconds(u.min)) }
                            td.num { (units::seconds(u.q1)) }
                            td.num { (units::seconds(u.median)) }
                            td.num { (units::seconds(u.q3)) }
                            td.num { (units::seconds(u.p95)) }
                            td.num { (units::seconds(u.max)) }
                        }
                    }
                }
            }
        }
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

fn log_row(label: &str, slow: impl Into<String>, general: impl Into<String>) -> Markup {
    html! { tr { th { (label) } td.num { (slow.into()) } td.num { (general.into()) } } }
}

fn per_log(s: &LogQuality, g: &LogQuality) -> Markup {
    let dup = |q: &LogQuality| q.duplicates.to_string();
    html! {
        table {
            thead { tr { th { "" } th.num { "Slow log" } th.num { "General log" } } }
            tbody {
                (log_row("Events", s.events.to_string(), g.events.to_string()))
                (log_row("First event", opt(&s.first), opt(&g.first)))
                (log_row("Last event", opt(&s.last), opt(&g.last)))
                (log_row("Missing time", s.missing_time.to_string(), g.missing_time.to_string()))
                (log_row("Missing user", s.missing_user.to_string(), g.missing_user.to_string()))
                (log_row("Missing database", s.missing_db.to_string(), g.missing_db.to_string()))
                (log_row("Query time exactly 0", s.zero_query_time.to_string(), "n/a"))
                (log_row("Rows examined 0", s.zero_rows_examined.to_string(), "n/a"))
                (log_row("Exact duplicates", dup(s), dup(g)))
                @if g.prepared + g.prepared_executions > 0 {
                    (log_row(
                        "Prepared (binary protocol)",
                        "n/a",
                        format!("{} statements prepared, {} executions", g.prepared, g.prepared_executions),
                    ))
                }
            }
        }
    }
}

fn only_in(title: &str, total: u64, rows: &[OnlyIn]) -> Markup {
    html! {
        h3 { (title) " (" (total) " query classes)" }
        @if rows.is_empty() {
            p { "none" }
        } @else {
            @if (rows.len() as u64) < total { p { "The " (rows.len()) " most frequent:" } }
            table {
                thead { tr { th.num { "Count" } th { "Fingerprint" } } }
                tbody {
                    @for r in rows {
                        tr {
                            td.num { (r.count) }
                            td {
                                code { (units::truncate(&r.fingerprint, 100)) }
                                details { summary { "example" } pre { (r.example) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn quality(a: &Analysis) -> Markup {
    let q = &a.quality;
    let mut users: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (u, n) in &q.slow.per_user {
        users.entry(u).or_default().0 += n;
    }
    for (u, n) in &q.general.per_user {
        users.entry(u).or_default().1 += n;
    }
    html! {
        h2 { (SECTIONS[6]) }
        (super::how("can these logs be trusted? Missing or zero values, duplicates and differences between the slow and the general log point at logging settings (long_query_time, log filters, rotation) rather than at the workload."))
        h3 { "Per log" }
        (per_log(&q.slow, &q.general))
        h3 { "Statements per user in each log" }
        @if users.is_empty() {
            p { "No user names in the logs." }
        } @else {
            table {
                thead { tr { th { "User" } th.num { "Slow log" } th.num { "General log" } } }
                tbody {
                    @for (u, (s, g)) in &users {
                        tr { td { code { (u) } } td.num { (s) } td.num { (g) } }
                    }
                }
            }
        }
        @if !q.general.commands.is_empty() {
            h3 { "General log commands" }
            table {
                thead { tr { th { "Command" } th.num { "Events" } } }
                tbody { @for (c, n) in &q.general.commands { tr { td { (c) } td.num { (n) } } } }
            }
        }
        @if q.both_logs {
            (only_in("Statements only in the general log", q.only_in_general_total, &q.only_in_general))
            (only_in("Statements only in the slow log", q.only_in_slow_total, &q.only_in_slow))
        } @else {
            p { "Only one kind of log was read, so the slow and general logs could not be compared." }
        }
        @if !q.overlapping_inputs.is_empty() {
            h3 { "Overlapping inputs" }
            ul { @for w in &q.overlapping_inputs { li { (w) } } }
        }
        h3 { "Unparsed statements (" (q.unparsed_events) " events)" }
        (super::how("statements the SQL parser could not read: still counted in the digest, but without kind, tables or columns."))
        @if q.unparsed.is_empty() {
            p { "none" }
        } @else {
            table {
                thead { tr { th.num { "Count" } th { "Fingerprint" } } }
                tbody {
                    @for u in &q.unparsed {
                        tr {
                            td.num { (u.count) }
                            td {
                                code { (units::truncate(&u.fingerprint, 100)) }
                                details { summary { "example" } pre { (u.example) } }
                            }
                        }
                    }
                }
            }
        }
    }
}
