//! From text to features: the fast path for session chatter, the depth
//! bounds, sqlparser, and the never-failing fallback for text it rejects.

use super::*;

/// Analyzes one statement. Never panics and never fails; see the module
/// documentation.
pub fn extract(sql: &str, catalog: &Catalog) -> StatementFeatures {
    extract_inner(sql, catalog, None)
}

/// [`extract`] and [`crate::sql::tokens::tokens`] of the same statement from
/// one pass of sqlparser's tokenizer: serving needs both, and tokenizing is
/// a large share of the cost of a short statement.
pub fn extract_with_tokens(sql: &str, catalog: &Catalog) -> (StatementFeatures, Vec<String>) {
    let mut toks = Vec::new();
    let f = extract_inner(sql, catalog, Some(&mut toks));
    (f, toks)
}

pub(super) fn extract_inner(
    sql: &str,
    catalog: &Catalog,
    mut tokens_out: Option<&mut Vec<String>>,
) -> StatementFeatures {
    let body = strip_leading_comments(sql);
    let mut f = StatementFeatures {
        length_bytes: body.len(),
        ..StatementFeatures::default()
    };
    if body.is_empty() {
        fill_tokens(sql, &mut tokens_out);
        f.unparsed_reason = Some("empty statement".to_owned());
        return f;
    }
    let guess = kind_from_keywords(body);
    f.kind = guess;
    if guess.is_chatter() && !(guess == StatementKind::Set && contains_select(body)) {
        fill_tokens(sql, &mut tokens_out);
        return chatter(body, catalog, f);
    }
    let dialect = MySqlDialect {};
    let tokens = match Tokenizer::new(&dialect, body)
        .with_unescape(false)
        .tokenize_with_location()
    {
        Ok(t) => t,
        Err(e) => {
            fill_tokens(sql, &mut tokens_out);
            return unparsed(body, catalog, f, format!("tokenizer: {e}"));
        }
    };
    if let Some(out) = tokens_out {
        if shares_tokens(sql, body) {
            out.extend(
                tokens
                    .iter()
                    .filter_map(|t| crate::sql::tokens::map_token(&t.token)),
            );
        } else {
            *out = crate::sql::tokens::tokens(sql);
        }
    }
    parse_and_analyze(&dialect, body, tokens, catalog, f)
}

/// Whether tokens from the shared pass over `body` are exactly what
/// `tokens(sql)` would give: the statement without plain leading comments.
/// An executable comment (`/*!...*/`) is code here but a comment there.
fn shares_tokens(sql: &str, body: &str) -> bool {
    let offset = (body.as_ptr() as usize).saturating_sub(sql.as_ptr() as usize);
    // And the whitespace trimmed off the end must not matter: it does
    // after a final `--`, a comment marker only when whitespace follows.
    sql.get(..offset)
        .is_some_and(|prefix| !prefix.contains("/*!"))
        && !body.ends_with("--")
}

/// Fills the requested tokens with their own pass over `sql`.
fn fill_tokens(sql: &str, out: &mut Option<&mut Vec<String>>) {
    if let Some(out) = out.as_deref_mut() {
        *out = crate::sql::tokens::tokens(sql);
    }
}

/// Session or administrative chatter, classified by its keyword: no AST,
/// tables from the fallback scanner.
fn chatter(body: &str, catalog: &Catalog, mut f: StatementFeatures) -> StatementFeatures {
    f.parsed = true;
    f.fast_path = true;
    f.server_metadata = f.kind == StatementKind::Show && show_reads_server_metadata(body);
    fallback_scan(body, catalog, &mut f);
    f
}

/// Bounds the expression depth, parses the tokens (a `SET` sqlparser
/// rejects part by part) and walks the statements; text that cannot be
/// parsed is marked unparsed.
fn parse_and_analyze(
    dialect: &MySqlDialect,
    body: &str,
    tokens: Vec<sqlparser::tokenizer::TokenWithSpan>,
    catalog: &Catalog,
    mut f: StatementFeatures,
) -> StatementFeatures {
    let guess = f.kind;
    let bound = expression_depth_bound(&tokens);
    f.token_count = bound.tokens;
    if let Some(reason) = bound.exceeded() {
        return unparsed(body, catalog, f, reason);
    }
    let statements = match Parser::new(dialect)
        .with_tokens_with_locations(tokens)
        .parse_statements()
    {
        Ok(s) => s,
        Err(e) => match (guess == StatementKind::Set)
            .then(|| parse_set_parts(dialect, body))
            .flatten()
        {
            Some(s) => s,
            None => return unparsed(body, catalog, f, e.to_string()),
        },
    };
    let Some(first) = statements.first() else {
        return unparsed(body, catalog, f, "no statement".to_owned());
    };
    f.parsed = true;
    f.kind = kind_of(first, guess);
    let mut a = Analyzer::new(catalog, f);
    for s in &statements {
        a.statement(s);
    }
    a.finish()
}

/// MySQL's `SET` mixes `NAMES` / `CHARACTER SET` with variable
/// assignments in one statement (sqlx opens every connection with `SET
/// sql_mode=(SELECT CONCAT(@@sql_mode, ...)),NAMES utf8mb4`); sqlparser
/// takes each kind alone. Splits what follows `SET` at commas outside
/// parentheses and parses each part as a `SET` of its own; `None` unless
/// every part parses. Runs only after the whole failed to parse, so it
/// tokenizes again rather than keep a copy of every `SET`'s tokens.
pub(super) fn parse_set_parts(dialect: &MySqlDialect, body: &str) -> Option<Vec<Statement>> {
    let tokens = Tokenizer::new(dialect, body)
        .with_unescape(false)
        .tokenize()
        .ok()?;
    let is_set = |t: &Token| matches!(t, Token::Word(w) if w.keyword == Keyword::SET);
    let mut rest = tokens
        .iter()
        .skip_while(|t| matches!(t, Token::Whitespace(_)));
    if !rest.next().is_some_and(is_set) {
        return None;
    }
    let mut parts = vec![String::from("SET ")];
    let mut depth = 0usize;
    for t in rest {
        match t {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => {
                parts.push(String::from("SET "));
                continue;
            }
            Token::EOF => continue,
            _ => {}
        }
        if let Some(part) = parts.last_mut() {
            part.push_str(&t.to_string());
        }
    }
    if parts.len() < 2 {
        return None;
    }
    let mut statements = Vec::new();
    for part in parts {
        statements.extend(Parser::parse_sql(dialect, &part).ok()?);
    }
    Some(statements)
}

/// Fills what can be known without an AST and marks the result unparsed.
pub(super) fn unparsed(
    body: &str,
    catalog: &Catalog,
    mut f: StatementFeatures,
    reason: String,
) -> StatementFeatures {
    f.parsed = false;
    f.unparsed_reason = Some(reason);
    fallback_scan(body, catalog, &mut f);
    f
}

/// Token count and catalog tables named after FROM/JOIN/INTO/UPDATE/TABLE,
/// from the never-failing scanner: truncated statements still tell which
/// tables they were about to read.
pub(super) fn fallback_scan(body: &str, catalog: &Catalog, f: &mut StatementFeatures) {
    let mut count = 0;
    let mut after_table_keyword = false;
    let tables = &mut f.tables;
    scan_tokens(body, |tok| {
        count += 1;
        if after_table_keyword && let Some(t) = catalog.table(&tok) {
            tables.push(TableRef {
                name: t.name.clone(),
                schema: None,
                alias: None,
                known: true,
                access: TableAccess::Unknown,
                row_count: t.row_count,
                rows_read_estimate: None,
                rows_matched_estimate: None,
            });
        }
        after_table_keyword = matches!(&*tok, "from" | "join" | "into" | "update" | "table");
    });
    if f.token_count == 0 {
        f.token_count = count;
    }
}
