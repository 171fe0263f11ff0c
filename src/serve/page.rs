//! The predictions page: the stored history as a table a person can browse.
//! All stored text goes through maud, which escapes it: a statement holding
//! `<script>` is shown, never run.

use super::api::PageRequest;
use crate::report::units::seconds;
use crate::store::predictions::PredictionRecord;
use maud::{DOCTYPE, Markup, PreEscaped, html};

const PAGE_CSS: &str = r#"
td.t{white-space:nowrap}
td.q{max-width:48em}
td.q pre{margin:0;max-height:8em;overflow:auto}
.class-fast{color:#1a7f37}.class-medium{color:#9a6700}.class-slow{color:#cf222e;font-weight:bold}
nav.pager a,nav.pager span{margin-right:1em}
form.filter input{min-width:28em}
"#;

fn link(req: &PageRequest, page: i64) -> String {
    let mut url = format!("/predictions?page={page}&per_page={}", req.per_page);
    if let Some(fp) = &req.fingerprint {
        url.push_str("&fingerprint=");
        url.push_str(&urlencode(fp));
    }
    url
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

pub fn predictions(req: &PageRequest, total: i64, rows: &[PredictionRecord]) -> Markup {
    let pages = ((total + req.per_page - 1) / req.per_page).max(1);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "qlat — predictions" }
                style { (PreEscaped(crate::report::html::CSS)) (PreEscaped(PAGE_CSS)) }
            }
            body {
                h1 { "Predictions" }
                p.how {
                    "Every prediction this service answered, newest first. "
                    "Times are UTC; the interval is the model's p10–p90."
                }
                form.filter method="get" action="/predictions" {
                    label { "Fingerprint or query ID: "
                        input type="text" name="fingerprint" value=(req.fingerprint.as_deref().unwrap_or(""));
                    }
                    input type="hidden" name="per_page" value=(req.per_page);
                    " " button type="submit" { "Filter" }
                    @if req.fingerprint.is_some() { " " a href="/predictions" { "clear" } }
                }
                p id="summary" { (total) " predictions · page " (req.page) " of " (pages) }
                @if rows.is_empty() {
                    p.nodata { "No predictions stored yet." }
                } @else {
                    table id="predictions" {
                        thead { tr {
                            th { "time" } th { "query" } th.num { "predicted" }
                            th.num { "p10 – p90" } th { "class" } th { "query ID" } th { "model version" }
                        } }
                        tbody {
                            @for r in rows {
                                @let p = &r.response;
                                tr data-id=(r.id) {
                                    td.t { (r.created_at()) }
                                    td.q { pre { (r.query) } }
                                    td.num { (seconds(p.predicted_seconds)) }
                                    td.num { (seconds(p.interval.p10)) " – " (seconds(p.interval.p90)) }
                                    td class=(format!("class-{}", p.class.as_str())) { (p.class.as_str()) }
                                    td { a href=(format!("/predictions?fingerprint={}", urlencode(&p.query_id))) title=(p.fingerprint) { code { (p.query_id) } } }
                                    td { code { (p.model_version) } }
                                }
                            }
                        }
                    }
                }
                nav.pager {
                    @if req.page > 1 { a href=(link(req, req.page - 1)) rel="prev" { "← newer" } }
                    @if req.page < pages { a href=(link(req, req.page + 1)) rel="next" { "older →" } }
                    a href="/api/predictions" { "JSON" }
                    a href="/api/openapi.json" { "OpenAPI" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::urlencode;

    #[test]
    fn urlencode_escapes_everything_but_unreserved() {
        assert_eq!(urlencode("0xAB12"), "0xAB12");
        assert_eq!(
            urlencode("select * from t where a=?"),
            "select%20%2A%20from%20t%20where%20a%3D%3F"
        );
    }
}
