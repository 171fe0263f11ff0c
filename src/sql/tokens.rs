//! Statement tokens for bag-of-words (TF-IDF) models.
//!
//! Two statements that differ only in their literal values usually cost about
//! the same, while the identifiers and keywords say what work is done. So
//! identifiers and keywords are kept (lower-cased, quotes removed) and
//! literals are replaced by their class:
//!
//! | literal                                   | token    |
//! |-------------------------------------------|----------|
//! | number (`42`, `.06`, `1e3`)               | `<num>`  |
//! | string that looks like a date (`'1994-01-01'`, `'1994-01-01 10:00'`) | `<date>` |
//! | any other quoted string                   | `<str>`  |
//! | hex/bit literal (`X'0A'`, `0x0a`, `b'01'`)| `<hex>`  |
//! | placeholder (`?`, `:name`, `$1`)          | `<param>`|
//!
//! `NULL`, `TRUE` and `FALSE` stay keywords (`null`, ...): they change plans
//! (`IS NULL`) in ways other literals do not. Comments, whitespace and the
//! pure separators `,` `;` `.` are dropped; operators and parentheses are kept.
//!
//! sqlparser's tokenizer is used because it knows MySQL quoting rules; input
//! it rejects (unterminated quotes, stray bytes from truncated log lines) goes
//! through [`fallback_tokens`], a byte scanner that never fails.

use std::borrow::Cow;

use sqlparser::dialect::MySqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Tokens of `sql` for TF-IDF; see the module documentation for the rules.
pub fn tokens(sql: &str) -> Vec<String> {
    let dialect = MySqlDialect {};
    match Tokenizer::new(&dialect, sql)
        .with_unescape(false)
        .tokenize()
    {
        Ok(toks) => {
            let mut out = Vec::with_capacity(toks.len() / 2 + 1);
            for tok in &toks {
                if let Some(t) = map_token(tok) {
                    out.push(t);
                }
            }
            out
        }
        Err(_) => fallback_tokens(sql),
    }
}

/// Maps one sqlparser token to its TF-IDF token, `None` for dropped tokens.
pub(crate) fn map_token(tok: &Token) -> Option<String> {
    Some(match tok {
        Token::EOF | Token::Whitespace(_) | Token::Comma | Token::SemiColon | Token::Period => {
            return None;
        }
        Token::Word(w) if w.value.is_empty() => return None,
        Token::Word(w) => w.value.to_lowercase(),
        Token::Number(n, _) => {
            if n.starts_with("0x") || n.starts_with("0X") {
                "<hex>".to_owned()
            } else {
                "<num>".to_owned()
            }
        }
        Token::SingleQuotedString(s)
        | Token::DoubleQuotedString(s)
        | Token::TripleSingleQuotedString(s)
        | Token::TripleDoubleQuotedString(s)
        | Token::NationalStringLiteral(s)
        | Token::EscapedStringLiteral(s)
        | Token::UnicodeStringLiteral(s)
        | Token::SingleQuotedRawStringLiteral(s)
        | Token::DoubleQuotedRawStringLiteral(s) => string_class(s).to_owned(),
        Token::HexStringLiteral(_)
        | Token::SingleQuotedByteStringLiteral(_)
        | Token::DoubleQuotedByteStringLiteral(_) => "<hex>".to_owned(),
        Token::Placeholder(_) => "<param>".to_owned(),
        other => {
            let s = other.to_string();
            if s.is_empty() {
                return None;
            }
            if s.starts_with('\'') || s.starts_with('"') {
                "<str>".to_owned()
            } else {
                s.to_lowercase()
            }
        }
    })
}

/// `<date>` for strings starting like an ISO date (`YYYY-MM-DD`), else `<str>`.
pub(crate) fn string_class(s: &str) -> &'static str {
    if looks_like_date(s) {
        "<date>"
    } else {
        "<str>"
    }
}

/// True when `s` starts with `YYYY-MM-DD` (a date or datetime literal).
pub(crate) fn looks_like_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && (b.len() == 10 || b[10] == b' ' || b[10] == b'T')
}

/// A tokenizer that accepts any input: used when sqlparser's tokenizer
/// rejects the text. It follows the same output rules as [`tokens`] for
/// well-formed input, and treats an unterminated quote or comment as running
/// to the end of the text.
pub fn fallback_tokens(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    scan_tokens(sql, |t| out.push(t.into_owned()));
    out
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'@' || b >= 0x80
}

/// Scans `sql`, calling `emit` for each token. Works on bytes; multi-byte
/// UTF-8 sequences are treated as word bytes, so slicing stays on char
/// boundaries (every boundary we cut at is an ASCII byte or the end).
pub(crate) fn scan_tokens<'a>(sql: &'a str, mut emit: impl FnMut(Cow<'a, str>)) {
    let b = sql.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        let c = b[i];
        i = if c.is_ascii_whitespace()
            || c == b','
            || c == b';'
            || c == b'.' && !next_is_digit(b, i)
        {
            i + 1
        } else if c == b'#' || (c == b'-' && b.get(i + 1) == Some(&b'-')) {
            skip_line_comment(b, i)
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            skip_block_comment(b, i)
        } else if c == b'\'' || c == b'"' || c == b'`' {
            scan_quoted(sql, i, &mut emit)
        } else if c.is_ascii_digit() || (c == b'.' && next_is_digit(b, i)) {
            scan_number(sql, i, &mut emit)
        } else if is_word_byte(c) {
            scan_word(sql, i, &mut emit)
        } else if c == b'?' {
            emit(Cow::Borrowed("<param>"));
            i + 1
        } else {
            scan_operator(sql, i, &mut emit)
        };
    }
}

/// `# ...` or `-- ...` at `i`: the position of the line's end.
fn skip_line_comment(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

/// `/* ... */` at `i`: the position after it (the end when unterminated).
fn skip_block_comment(b: &[u8], mut i: usize) -> usize {
    let n = b.len();
    i += 2;
    while i < n && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
        i += 1;
    }
    (i + 2).min(n)
}

/// A quoted string or `` `identifier` `` at `i` (quotes doubled or
/// backslash-escaped inside; unterminated runs to the end): a backquoted
/// name is emitted lower-cased, a string as its class. Returns the
/// position after the closing quote.
fn scan_quoted<'a>(sql: &'a str, mut i: usize, emit: &mut impl FnMut(Cow<'a, str>)) -> usize {
    let b = sql.as_bytes();
    let n = b.len();
    let c = b[i];
    let start = i + 1;
    i = start;
    while i < n {
        if b[i] == b'\\' && c != b'`' {
            i += 2;
            continue;
        }
        if b[i] == c {
            if b.get(i + 1) == Some(&c) {
                i += 2;
                continue;
            }
            break;
        }
        i += 1;
    }
    let end = i.min(n);
    let body = &sql[start..end];
    if c == b'`' {
        if !body.is_empty() {
            emit(Cow::Owned(body.to_lowercase()));
        }
    } else {
        emit(Cow::Borrowed(string_class(body)));
    }
    (end + 1).min(n)
}

/// A number at `i` (`42`, `.06`, `1e-3`, `0x0A`): `<num>` or `<hex>`, or
/// the lower-cased text when letters follow the digits (`1abc` is an
/// identifier in MySQL). Returns the position after it.
fn scan_number<'a>(sql: &'a str, mut i: usize, emit: &mut impl FnMut(Cow<'a, str>)) -> usize {
    let b = sql.as_bytes();
    let n = b.len();
    let start = i;
    let hex = b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X'));
    i += 1;
    while i < n
        && (b[i].is_ascii_alphanumeric()
            || b[i] == b'.'
            || ((b[i] == b'+' || b[i] == b'-') && matches!(b[i - 1], b'e' | b'E')))
    {
        i += 1;
    }
    let text = &sql[start..i];
    if hex {
        emit(Cow::Borrowed("<hex>"));
    } else if text
        .bytes()
        .any(|x| x.is_ascii_alphabetic() && x != b'e' && x != b'E')
    {
        emit(Cow::Owned(text.to_lowercase()));
    } else {
        emit(Cow::Borrowed("<num>"));
    }
    i
}

/// A word (keyword, identifier, `@variable`) at `i`, lower-cased, or a
/// `X'0A'` / `b'01'` literal as `<hex>`. Returns the position after it.
fn scan_word<'a>(sql: &'a str, mut i: usize, emit: &mut impl FnMut(Cow<'a, str>)) -> usize {
    let b = sql.as_bytes();
    let n = b.len();
    let c = b[i];
    let start = i;
    while i < n && is_word_byte(b[i]) {
        i += 1;
    }
    let word = &sql[start..i];
    if matches!(c, b'x' | b'X' | b'b' | b'B') && i - start == 1 && b.get(i) == Some(&b'\'') {
        // X'0A' / b'01': skip the quoted body.
        i += 1;
        while i < n && b[i] != b'\'' {
            i += 1;
        }
        i = (i + 1).min(n);
        emit(Cow::Borrowed("<hex>"));
    } else if word.bytes().any(|x| x.is_ascii_uppercase()) {
        emit(Cow::Owned(word.to_lowercase()));
    } else {
        emit(Cow::Borrowed(word));
    }
    i
}

/// An operator or other punctuation at `i`: the two- and three-byte
/// operators as one token (`!=` as `<>`), any other ASCII byte as itself,
/// a stray non-ASCII byte dropped. Returns the position after it.
fn scan_operator<'a>(sql: &'a str, i: usize, emit: &mut impl FnMut(Cow<'a, str>)) -> usize {
    let b = sql.as_bytes();
    let n = b.len();
    let two = if i + 1 < n {
        &b[i..i + 2]
    } else {
        &b[i..i + 1]
    };
    let op: &'static str = match two {
        b"<=" if b.get(i + 2) == Some(&b'>') => "<=>",
        b"<=" => "<=",
        b">=" => ">=",
        b"<>" => "<>",
        b"!=" => "<>",
        b":=" => ":=",
        b"||" => "||",
        b"&&" => "&&",
        b"<<" => "<<",
        b">>" => ">>",
        _ => "",
    };
    if !op.is_empty() {
        emit(Cow::Borrowed(op));
        i + op.len()
    } else if b[i].is_ascii() {
        emit(Cow::Borrowed(&sql[i..i + 1]));
        i + 1
    } else {
        i + 1
    }
}

fn next_is_digit(b: &[u8], i: usize) -> bool {
    b.get(i + 1).is_some_and(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_become_classes() {
        let t = tokens(
            "SELECT `L_Orderkey`, sum(l_quantity) FROM lineitem \
             WHERE l_shipdate >= date '1994-01-01' AND l_comment LIKE '%x%' \
             AND l_discount = .06 AND l_tax IS NULL AND x = X'0A' -- trailing\n LIMIT 10",
        );
        assert_eq!(
            t,
            vec![
                "select",
                "l_orderkey",
                "sum",
                "(",
                "l_quantity",
                ")",
                "from",
                "lineitem",
                "where",
                "l_shipdate",
                ">=",
                "date",
                "<date>",
                "and",
                "l_comment",
                "like",
                "<str>",
                "and",
                "l_discount",
                "=",
                "<num>",
                "and",
                "l_tax",
                "is",
                "null",
                "and",
                "x",
                "=",
                "<hex>",
                "limit",
                "<num>"
            ]
        );
    }

    #[test]
    fn comments_dropped_and_case_folded() {
        assert_eq!(
            tokens("/* ApplicationName=DBeaver */ SELECT @@Version_Comment LIMIT 1"),
            vec!["select", "@@version_comment", "limit", "<num>"]
        );
        assert_eq!(tokens("SET NAMES utf8mb4"), vec!["set", "names", "utf8mb4"]);
    }

    #[test]
    fn fallback_handles_unterminated_input() {
        let sql = "SELECT * FROM t WHERE a = 'unterminated";
        let t = tokens(sql);
        assert_eq!(
            t,
            vec!["select", "*", "from", "t", "where", "a", "=", "<str>"]
        );
        assert_eq!(fallback_tokens(sql), t);
        assert_eq!(
            fallback_tokens("select `A`,'2020-01-02', 3.5e-3, b <= 4 /* open"),
            vec!["select", "a", "<date>", "<num>", "b", "<=", "<num>"]
        );
    }

    #[test]
    fn fallback_agrees_with_tokenizer_on_tpch_like_text() {
        let sql = "select l_returnflag, sum(l_extendedprice * (1 - l_discount)) as s \
                   from lineitem where l_shipdate <= date '1998-12-01' - interval '90' day \
                   and l_quantity <> 3 group by l_returnflag order by l_returnflag";
        assert_eq!(tokens(sql), fallback_tokens(sql));
    }

    #[test]
    fn dates_are_recognised() {
        assert!(looks_like_date("1994-01-01"));
        assert!(looks_like_date("1994-01-01 12:00:00"));
        assert!(!looks_like_date("1994-01-0"));
        assert!(!looks_like_date("Customer#000000001"));
    }
}
