//! Rules applied before any rewriting: the special classes pt-query-digest
//! recognises by their first bytes (mysqldump, Percona Toolkit markers, CALL),
//! the cut of multi-row INSERTs, comments and `USE`.

use super::{is_space, is_word, starts_with_ci};
use memchr::memmem;

/// pt-table-checksum and friends tag their queries with `/*db.tbl:N/M*/`.
pub(super) fn has_percona_toolkit_marker(q: &[u8]) -> bool {
    memmem::find_iter(q, b"/*").any(|p| {
        let mut i = p + 2;
        let w1 = q[i..].iter().take_while(|&&b| is_word(b)).count();
        if w1 == 0 {
            return false;
        }
        i += w1;
        if q.get(i) != Some(&b'.') {
            return false;
        }
        i += 1;
        let w2 = q[i..].iter().take_while(|&&b| is_word(b)).count();
        if w2 == 0 {
            return false;
        }
        i += w2;
        let tail = &q[i..];
        tail.len() >= 6
            && tail[0] == b':'
            && tail[1].is_ascii_digit()
            && tail[2] == b'/'
            && tail[3].is_ascii_digit()
            && tail[4] == b'*'
            && tail[5] == b'/'
    })
}

/// `CALL proc(...)` fingerprints as `call proc`. Returns the byte range of
/// `call<ws>name`, where the name is the longest non-space run that is still
/// followed by `(` (the Perl `\S+\(` backtracks to the last such paren).
pub(super) fn call_statement(q: &[u8]) -> Option<(usize, usize)> {
    let start = q.iter().take_while(|&&b| is_space(b)).count();
    if !starts_with_ci(&q[start..], b"call") {
        return None;
    }
    let mut i = start + 4;
    let ws = q[i..].iter().take_while(|&&b| is_space(b)).count();
    if ws == 0 {
        return None;
    }
    i += ws;
    let run = q[i..].iter().take_while(|&&b| !is_space(b)).count();
    let paren = q.get(i + 1..i + run)?.iter().rposition(|&b| b == b'(')?;
    Some((start, i + 1 + paren))
}

/// End of the first row of a multi-row `INSERT|REPLACE [IGNORE] INTO ...
/// VALUES (...), (...)`: the first `)` after the first `VALUES (` that is
/// followed by `, (`. `None` when the statement is not of that shape.
pub(super) fn multi_row_insert_end(q: &[u8]) -> Option<usize> {
    let verb = if starts_with_ci(q, b"insert") {
        6
    } else if starts_with_ci(q, b"replace") {
        7
    } else {
        return None;
    };
    let into_after = |i: usize| -> Option<usize> {
        let ws = q[i..].iter().take_while(|&&b| is_space(b)).count();
        (ws > 0 && starts_with_ci(&q[i + ws..], b"into")).then_some(i + ws + 4)
    };
    let after_into = if starts_with_ci(&q[verb..], b" ignore") {
        into_after(verb + 7).or_else(|| into_after(verb))
    } else {
        into_after(verb)
    }?;
    // `.+?VALUES`: at least one byte between INTO and VALUES.
    let mut from = after_into + 1;
    while from <= q.len() {
        let rel = find_ci(&q[from..], b"values")?;
        let v = from + rel;
        let mut k = v + 6;
        k += q[k..].iter().take_while(|&&b| is_space(b)).count();
        if q.get(k) == Some(&b'(') {
            // Any later VALUES would only see a subset of these candidates.
            return memchr::memchr_iter(b')', &q[k + 1..])
                .map(|r| k + 1 + r)
                .find(|&c| {
                    let mut j = c + 1;
                    j += q[j..].iter().take_while(|&&b| is_space(b)).count();
                    if q.get(j) != Some(&b',') {
                        return false;
                    }
                    j += 1;
                    j += q[j..].iter().take_while(|&&b| is_space(b)).count();
                    q.get(j) == Some(&b'(')
                })
                .map(|c| c + 1);
        }
        from = v + 1;
    }
    None
}

/// ASCII case-insensitive search for a lowercase needle.
pub(super) fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    let mut from = 0;
    while let Some(r) = memchr::memchr2(first, first.to_ascii_uppercase(), &hay[from..]) {
        let p = from + r;
        if starts_with_ci(&hay[p..], needle) {
            return Some(p);
        }
        from = p + 1;
    }
    None
}

/// Removes `/*...*/` comments except version comments (`/*!...*/`). The
/// byte right after `/*` is consumed before looking for `*/`, so `/**/`
/// does not close itself.
pub(super) fn strip_block_comments(q: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(q.len());
    let mut copy_from = 0;
    let mut search = 0;
    while let Some(r) = memmem::find(&q[search..], b"/*") {
        let p = search + r;
        match q.get(p + 2) {
            Some(&b) if b != b'!' => match memmem::find(&q[p + 3..], b"*/") {
                Some(e) => {
                    out.extend_from_slice(&q[copy_from..p]);
                    copy_from = p + 3 + e + 2;
                    search = copy_from;
                }
                // No terminator after this opener means none after any later one.
                None => break,
            },
            _ => search = p + 1,
        }
    }
    out.extend_from_slice(&q[copy_from..]);
    out
}

/// Removes `-- ...` and `# ...` comments, but only when the comment runs to
/// a line end or the end of the text without meeting a quote character
/// (pt-query-digest's deliberately crude rule).
pub(super) fn strip_line_comments(q: Vec<u8>) -> Vec<u8> {
    if memchr::memchr2(b'#', b'-', &q).is_none() {
        return q;
    }
    let mut out = Vec::with_capacity(q.len());
    let mut copy_from = 0;
    let mut i = 0;
    while let Some(r) = memchr::memchr2(b'#', b'-', &q[i..]) {
        let p = i + r;
        let body = if q[p] == b'#' {
            p + 1
        } else if q.get(p + 1) == Some(&b'-') {
            p + 2
        } else {
            i = p + 1;
            continue;
        };
        let e = body
            + q[body..]
                .iter()
                .take_while(|&&b| !matches!(b, b'\'' | b'"' | b'\r' | b'\n'))
                .count();
        if e == q.len() || matches!(q[e], b'\r' | b'\n') {
            out.extend_from_slice(&q[copy_from..p]);
            copy_from = e;
            i = e;
        } else {
            // Every start inside this run stops at the same quote and fails.
            i = e + 1;
        }
    }
    out.extend_from_slice(&q[copy_from..]);
    out
}

/// `USE db` (one space, a single non-space word, optionally one trailing
/// newline) fingerprints as `use ?`, keeping that newline.
pub(super) fn use_statement(q: &[u8]) -> Option<String> {
    if !starts_with_ci(q, b"use ") {
        return None;
    }
    let rest = &q[4..];
    let (word, newline) = match rest.split_last() {
        Some((b'\n', head)) => (head, true),
        _ => (rest, false),
    };
    if word.is_empty() || word.iter().any(|&b| is_space(b)) {
        return None;
    }
    Some(if newline { "use ?\n" } else { "use ?" }.to_owned())
}
