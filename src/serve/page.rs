//! The predictions page: the stored history as a table a person can browse.
//! All stored text goes through maud, which escapes it: a statement holding
//! `<script>` is shown, never run. Also the navigation bar every page
//! shares, so each page links to all the others.

use super::paging::PageRequest;
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
span.ctl{color:#cf222e;border:1px solid #cf222e;border-radius:3px;font-size:80%;padding:0 2px}
span.unparsed{color:#9a6700;border:1px solid #d4a017;background:#fff4e5;border-radius:3px;font-size:80%;padding:0 3px}
tr.unparsed td.num{color:#777}
nav.top{margin:0 0 1em;font-size:.95em}nav.top a{margin-right:1em}
"#;

/// The links at the top of every page: the front page, the stored
/// predictions, the pipeline's runs, the metrics and the API document.
pub fn nav() -> Markup {
    html! {
        nav.top {
            a href="/" { "qlat: predict" }
            a href="/predictions" { "predictions" }
            a href="/runs" { "pipeline runs" }
            a href="/metrics" { "metrics" }
            a href="/health_check" { "health" }
            a href="/api/openapi.json" { "OpenAPI" }
        }
    }
}

/// Characters that reorder or hide the text around them (Unicode bidi
/// controls, as in "Trojan Source", plus zero-width marks) and other
/// invisible controls: a stored statement must read the way the server
/// would see it, not the way its author wanted it to look.
fn is_hidden_control(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        | '\u{061C}' | '\u{FEFF}' | '\u{2400}')
        || (c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
}

/// The text with each hidden control replaced by a marked `U+XXXX`.
pub(super) fn shown(text: &str) -> Markup {
    let mut parts: Vec<Result<&str, char>> = Vec::new();
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if is_hidden_control(c) {
            parts.push(Ok(&text[start..at]));
            parts.push(Err(c));
            start = at + c.len_utf8();
        }
    }
    parts.push(Ok(&text[start..]));
    html! {
        @for part in parts {
            @match part {
                Ok(plain) => (plain),
                // U+2400 is how the store keeps a NUL (see `storable`).
                Err('\u{2400}') => span.ctl title="NUL character" { "NUL" },
                Err(c) => span.ctl title="hidden control character" { (format!("U+{:04X}", c as u32)) },
            }
        }
    }
}

/// The text as a plain string with each hidden control written `<U+XXXX>`
/// (for attributes).
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_hidden_control(c) {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn link(req: &PageRequest, page: i64) -> String {
    let mut url = format!("/predictions?page={page}&per_page={}", req.per_page);
    if let Some(fp) = &req.fingerprint {
        url.push_str("&fingerprint=");
        url.push_str(&urlencode(fp));
    }
    url
}

/// Everything but RFC 3986's unreserved characters is escaped.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(super) fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, QUERY_VALUE).to_string()
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
                (nav())
                h1 { "Predictions" }
                p.how {
                    "Every prediction this service answered, newest first. "
                    "Times are UTC; the interval is the model's p10–p90; "
                    span.unparsed { "not parsed" } " marks statements the SQL parser did not read, "
                    "predicted from their tokens with low confidence."
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
                                tr data-id=(r.id) data-parsed=(p.parsed) class=[(!p.parsed).then_some("unparsed")] {
                                    td.t { (r.created_at()) }
                                    td.q {
                                        pre { (shown(&r.query)) }
                                        @if !p.parsed { span.unparsed title="the SQL parser did not read this statement; predicted from its tokens, low confidence" { "not parsed" } }
                                    }
                                    td.num { (seconds(p.predicted_seconds)) }
                                    td.num { (seconds(p.interval.p10)) " – " (seconds(p.interval.p90)) }
                                    td class=(format!("class-{}", p.class.as_str())) { (p.class.as_str()) }
                                    td { a href=(format!("/predictions?fingerprint={}", urlencode(&p.query_id))) title=(visible(&p.fingerprint)) { code { (p.query_id) } } }
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
                    a href="/runs" { "pipeline runs" }
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
