//! The front page, `GET /`: where a person types a statement and reads the
//! answer — predicted time, p10–p90, class probabilities, the explanation
//! as a bar chart, which model answered, whether the statement parsed and
//! how sure the model is — with links to everything else the server has.
//!
//! Why it is built this way:
//! - The form is a plain `GET /?q=…` form, so it works without script (the
//!   server's CSP allows none) and an answer can be bookmarked.
//! - An answer goes through [`predict_one`], the path of `POST /predict`:
//!   checked, analysed on a lane, stored before it is shown, counted in the
//!   same metrics. Nothing here predicts on its own.
//! - `POST /predict` takes only JSON so that other sites cannot make a
//!   visitor's browser store predictions. A `GET` link can be embedded
//!   anywhere, so a request the browser marks as coming from another site
//!   (`Sec-Fetch-Site: cross-site` / `same-site`) is not predicted: the
//!   page shows the statement in the form and the visitor presses Predict.
//!   Clients that send no such header (curl, older browsers) are answered.
//! - Errors are the API's own ([`ApiError`]) shown as a page ([`PageError`]).

use super::api::predict_one;
use super::error::{ApiError, PageError};
use super::page::{nav, shown};
use super::state::AppState;
use crate::predict::PredictResponse;
use crate::report::units::seconds;
use crate::store::writer::Ack;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Html;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

/// What the front page is asked.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FrontParams {
    /// The statement to predict; without it the page shows only the form.
    pub q: Option<String>,
}

/// Statements the page offers as one-click examples (TPC-H Q6, a join, and
/// text that is not SQL).
const EXAMPLES: [(&str, &str); 3] = [
    (
        "TPC-H Q6",
        "select sum(l_extendedprice * l_discount) as revenue from lineitem where l_shipdate >= date '1994-01-01' and l_shipdate < date '1995-01-01' and l_discount between 0.05 and 0.07 and l_quantity < 24",
    ),
    (
        "a join",
        "select c_name, sum(o_totalprice) from customer join orders on c_custkey = o_custkey group by c_name order by 2 desc limit 10",
    ),
    ("not SQL", "hello world this is not sql !!! ;;;"),
];

const FRONT_CSS: &str = r#"
nav.top{margin:0 0 1em;font-size:.95em}nav.top a{margin-right:1em}
form.ask textarea{width:100%;box-sizing:border-box;font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.9em}
form.ask button{font-size:1em;padding:.3em 1.2em;margin-top:.4em}
p.examples a{margin-right:1em}
section#answer{border:1px solid #ccc;border-radius:6px;padding:.2em 1em 1em;margin:1em 0}section#answer h2{margin-top:.6em}
.big{font-size:2em;font-weight:bold}
.caution{background:#fff4e5;border:1px solid #d4a017;border-radius:4px;padding:.5em .8em;margin:.8em 0}
.notice{background:#eef4f9;border:1px solid #0072b2;border-radius:4px;padding:.5em .8em}
table.probs td.bar,table.explain td.bar{width:320px;padding:0}
.track{position:relative;height:1.1em;background:#f2f2f2}
.fill{position:absolute;top:0;bottom:0}
.fast{background:#009e73}.medium{background:#e69f00}.slow{background:#d55e00}
.up{background:#d55e00}.down{background:#0072b2}
.mid{position:absolute;top:0;bottom:0;left:50%;border-left:1px solid #555}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dl.facts dt{color:#555}dl.facts dd{margin:0}
.bad{color:#cf222e;font-weight:bold}.good{color:#1a7f37}
"#;

/// Why a request that carries `q` is not predicted.
fn from_another_site(headers: &HeaderMap) -> bool {
    matches!(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        Some("cross-site" | "same-site")
    )
}

/// The front page's route.
pub(super) fn router() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new().route("/", get(front_page))
}

/// The front page: the form, and the answer when `q` is given.
#[utoipa::path(get, path = "/", params(FrontParams), responses(
    (status = 200, description = "HTML: the form, and the answer to `q` (stored like a POST /predict answer)", content_type = "text/html"),
    (status = 400, description = "HTML: malformed query string", content_type = "text/html"),
    (status = 422, description = "HTML: empty or over-long statement", content_type = "text/html"),
    (status = 503, description = "HTML: store full or unavailable, busy, over budget or stopping", content_type = "text/html")
))]
pub async fn front_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<FrontParams>, QueryRejection>,
) -> Result<Html<String>, PageError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query_string", e.body_text()))?;
    let served = state.model();
    let model = format!(
        "{} model {} ({})",
        served.algorithm, served.version, served.source
    );
    let Some(q) = params.q else {
        return Ok(Html(render(&model, "", None, None).into_string()));
    };
    if from_another_site(&headers) {
        let notice = "This link came from another site, so nothing was predicted or stored: \
                      read the statement and press Predict to ask.";
        return Ok(Html(render(&model, &q, None, Some(notice)).into_string()));
    }
    let (answer, ack) = predict_one(&state, q.clone(), "the statement").await?;
    let by = format!("{} model ({})", served.algorithm, served.source);
    Ok(Html(
        render(&model, &q, Some((&answer, ack, &by)), None).into_string(),
    ))
}

fn render(
    model: &str,
    q: &str,
    answer: Option<(&PredictResponse, Ack, &str)>,
    notice: Option<&str>,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "qlat — predict a statement's latency" }
                style { (PreEscaped(crate::report::html::CSS)) (PreEscaped(FRONT_CSS)) }
            }
            body {
                (nav())
                h1 { "How long will this statement take?" }
                p.how {
                    "Type a MySQL/MariaDB statement; the " (model)
                    " predicts its latency from the text alone. Every answer is stored and listed under "
                    a href="/predictions" { "predictions" } "."
                }
                form.ask method="get" action="/" {
                    textarea name="q" rows="6" required placeholder="select … from … where …"
                        aria-label="SQL statement" { (q) }
                    br;
                    button type="submit" { "Predict" }
                }
                p.examples {
                    "Examples: "
                    @for (label, sql) in EXAMPLES {
                        a href=(format!("/?q={}", super::page::urlencode(sql))) { (label) }
                    }
                }
                @if let Some(text) = notice { p.notice id="notice" { (text) } }
                @if let Some((a, ack, by)) = answer { (answer_section(q, a, ack, by)) }
            }
        }
    }
}

fn percent(p: f64) -> String {
    format!("{:.1} %", p * 100.0)
}

/// `by`: the algorithm and where the model came from.
fn answer_section(q: &str, a: &PredictResponse, ack: Ack, by: &str) -> Markup {
    let probs = [
        ("fast", "< 10 ms", a.class_probabilities.fast),
        ("medium", "10 ms – 1 s", a.class_probabilities.medium),
        ("slow", "≥ 1 s", a.class_probabilities.slow),
    ];
    let top = probs.iter().map(|p| p.2).fold(0.0, f64::max);
    let spread = if a.interval.p10 > 0.0 {
        a.interval.p90 / a.interval.p10
    } else {
        f64::INFINITY
    };
    let stored = match ack {
        Ack::Stored => "stored",
        Ack::Buffered => "buffered (the database refuses writes; kept in the spool)",
    };
    let json = serde_json::to_string_pretty(a).unwrap_or_default();
    html! {
        section id="answer" data-parsed=(a.parsed) data-low-confidence=(a.low_confidence) {
            h2 { "Answer" }
            pre { (shown(q)) }
            @if a.low_confidence {
                p.caution id="caution" {
                    strong { "Low confidence: this did not parse as SQL. " }
                    "It was predicted from its words alone, so the interval below is widened to at least ten times "
                    "either side and the class probabilities are pulled toward even. Treat it as a guess."
                }
            }
            p {
                span.big id="predicted" { (seconds(a.predicted_seconds)) }
                " predicted · p10–p90 "
                span id="interval" { (seconds(a.interval.p10)) " – " (seconds(a.interval.p90)) }
                " · class "
                strong id="class" class=(format!("class-{}", a.class.as_str())) { (a.class.as_str()) }
            }
            h3 { "Class probabilities" }
            table.probs id="probabilities" {
                @for (name, range, p) in probs {
                    tr {
                        td { (name) " (" (range) ")" }
                        td.bar { div.track { div class=(format!("fill {name}")) style=(format!("left:0;width:{:.2}%", p * 100.0)) {} } }
                        td.num { (percent(p)) }
                    }
                }
            }
            h3 { "How sure" }
            dl.facts {
                dt { "parsed" }
                dd id="parsed" {
                    @if a.parsed { span.good { "yes" } " — read by the SQL parser" }
                    @else { span.bad { "no" } " — predicted from its tokens" }
                }
                dt { "confidence" }
                dd id="confidence" {
                    @if a.low_confidence { span.bad { "low" } } @else { "as trained" }
                    " · the p90 is " (format_spread(spread)) " the p10 · the likeliest class has " (percent(top))
                }
                dt { "answered by" }
                dd id="model" { (by) ", version " code { (a.model_version) } }
                dt { "fingerprint" }
                dd { code { (shown(&a.fingerprint)) } " · query ID "
                    a href=(format!("/predictions?fingerprint={}", super::page::urlencode(&a.query_id))) { code { (a.query_id) } } }
                dt { "stored" }
                dd id="stored" { (stored) @if let Some(id) = &a.id { " as " code { (id) } } }
            }
            h3 { "Why: the explanation" }
            (explanation_chart(a))
            details {
                summary { "the same answer as JSON (POST /predict)" }
                pre { (json) }
            }
        }
    }
}

fn format_spread(spread: f64) -> String {
    if spread.is_finite() {
        format!("{spread:.1}×")
    } else {
        "unboundedly many times".to_string()
    }
}

/// The contributions as diverging bars around zero: right (vermilion) adds
/// time, left (blue) takes it away; lengths in ln seconds on one scale.
fn explanation_chart(a: &PredictResponse) -> Markup {
    let max = a
        .explanation
        .iter()
        .map(|e| e.contribution.abs())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    html! {
        p.how {
            "Starts from " (seconds(a.explanation_baseline.exp()))
            " (the model's baseline); each feature multiplies it by the factor shown, ending at "
            (seconds(a.predicted_seconds)) "."
        }
        @if a.explanation.is_empty() || max <= 0.0 {
            p.nodata { "This model gives no explanation." }
        } @else {
            table.explain id="explanation" {
                thead { tr { th { "feature" } th { "← faster · slower →" } th.num { "factor" } th.num { "ln s" } } }
                tbody {
                    @for e in &a.explanation {
                        @let w = if e.contribution.is_finite() { e.contribution.abs() / max * 50.0 } else { 0.0 };
                        @let (class, left) = if e.contribution >= 0.0 { ("fill up", 50.0) } else { ("fill down", 50.0 - w) };
                        tr {
                            td { (e.feature) }
                            td.bar { div.track {
                                div class=(class) style=(format!("left:{left:.2}%;width:{w:.2}%")) {}
                                div.mid {}
                            } }
                            td.num { (format!("×{:.2}", e.contribution.exp())) }
                            td.num { (format!("{:+.2}", e.contribution)) }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_other_sites_are_refused() {
        let mut h = HeaderMap::new();
        assert!(!from_another_site(&h), "curl sends no Sec-Fetch-Site");
        for (value, refused) in [
            ("same-origin", false),
            ("none", false),
            ("cross-site", true),
            ("same-site", true),
        ] {
            h.insert("sec-fetch-site", HeaderValue::from_static(value));
            assert_eq!(from_another_site(&h), refused, "{value}");
        }
    }

    #[test]
    fn the_form_page_escapes_the_statement() {
        let page = render("m", "</textarea><script>x()</script>", None, None).into_string();
        assert!(!page.contains("<script>x()"));
        assert!(page.contains("&lt;/textarea&gt;&lt;script&gt;"));
    }
}
