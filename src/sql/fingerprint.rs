//! Query fingerprints and query IDs compatible with Percona Toolkit 3.5.7.
//!
//! Users join qlat's output with pt-query-digest reports and PMM, which group
//! statements by `QueryRewriter::fingerprint` and identify a class by the MD5 of
//! that fingerprint. Any divergence, even a single space, yields a different
//! query ID, so this module reproduces the Perl rules *byte for byte*,
//! including their well-known quirks (digits inside identifiers become `?`,
//! `ASC` is dropped even from `ascii`, only the first `LIMIT` is normalised,
//! and so on).
//!
//! The Perl implementation is a chain of about twenty regex substitutions.
//! Several need backtracking features the `regex` crate lacks (look-ahead,
//! back-references, `\G`), and running twenty passes would be too slow anyway,
//! so each rule is re-implemented here as a hand-written byte scanner whose
//! result equals the leftmost, non-overlapping match semantics of the original
//! expression. Rules that cannot fire are skipped after a cheap `memchr`
//! probe, and the literal, number and whitespace rules are fused into single
//! passes where their interaction is provably order-independent.
//!
//! Perl treats the log text as bytes: `\s`, `\w`, `\b` and `lc` are ASCII-only.
//! Every edit made here happens at ASCII bytes, so valid UTF-8 input always
//! yields valid UTF-8 output.

use md5::{Digest, Md5};
use memchr::memmem;

/// pt-fingerprint compatible fingerprint.
///
/// Never panics; arbitrary input (unbalanced quotes, unterminated comments,
/// non-ASCII text) yields whatever pt-query-digest 3.5.7 would produce.
pub fn fingerprint(sql: &str) -> String {
    let q = sql.as_bytes();

    // Special classes that pt-query-digest recognises before any rewriting.
    if q.starts_with(b"SELECT /*!40001 SQL_NO_CACHE */ * FROM `") {
        return "mysqldump".to_owned();
    }
    if has_percona_toolkit_marker(q) {
        return "percona-toolkit".to_owned();
    }
    if q.starts_with(b"administrator command: ") {
        return sql.to_owned();
    }
    if let Some((start, end)) = call_statement(q) {
        return into_string(q[start..end].to_ascii_lowercase());
    }

    // A multi-row INSERT/REPLACE is cut after its first row up front: the
    // remaining rows can be megabytes long and would only collapse anyway.
    let q = &q[..multi_row_insert_end(q).unwrap_or(q.len())];

    let q = strip_block_comments(q);
    let q = strip_line_comments(q);
    if let Some(fp) = use_statement(&q) {
        return fp;
    }

    let q = if memchr::memchr(b'\\', &q).is_some() {
        remove_escapes(&q)
    } else {
        q
    };
    let q = replace_quoted(q, b'"');
    let q = replace_quoted(q, b'\'');
    let q = replace_literals(&q);
    let q = collapse_whitespace_lowercase(&q);
    let q = replace_null(q);
    let q = collapse_lists(q);
    let q = collapse_union(q);
    let q = normalize_limit(q);
    let q = remove_order_by_asc(q);
    into_string(q)
}

/// 32 uppercase hex digits: MD5 of the fingerprint (pt-query-digest "checksum").
pub fn checksum(fingerprint: &str) -> String {
    let digest = Md5::digest(fingerprint.as_bytes());
    hex::encode_upper(digest.as_slice())
}

/// "0x" + last 16 hex digits of the checksum (pt-query-digest / PMM query ID).
pub fn query_id(fingerprint: &str) -> String {
    let sum = checksum(fingerprint);
    format!("0x{}", &sum[16..])
}

/// Converts scanner output back to a `String`. The scanners only cut at ASCII
/// bytes, so this is lossless for UTF-8 input; the lossy fallback exists only
/// so that a logic error can never turn into a panic.
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Perl `\s` (ASCII, including vertical tab since Perl 5.18).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Perl `\w` for byte strings.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn starts_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle)
}

/// `\b` immediately before position `i`, given that `s[i]` is a word byte.
fn word_start(s: &[u8], i: usize) -> bool {
    i == 0 || !is_word(s[i - 1])
}

/// pt-table-checksum and friends tag their queries with `/*db.tbl:N/M*/`.
fn has_percona_toolkit_marker(q: &[u8]) -> bool {
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
fn call_statement(q: &[u8]) -> Option<(usize, usize)> {
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
fn multi_row_insert_end(q: &[u8]) -> Option<usize> {
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
fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
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
fn strip_block_comments(q: &[u8]) -> Vec<u8> {
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
fn strip_line_comments(q: Vec<u8>) -> Vec<u8> {
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
fn use_statement(q: &[u8]) -> Option<String> {
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

/// Backslash handling of pt-query-digest >= 3.3.2, five substitutions in
/// order: drop `\'` and `\"` after a non-backslash (non-overlapping), drop
/// every `\\`, then drop any remaining `\'` and `\"`.
fn remove_escapes(q: &[u8]) -> Vec<u8> {
    let drop_after_plain = |s: &[u8], quote: u8| -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            out.push(s[i]);
            if s[i] != b'\\' && s.get(i + 1) == Some(&b'\\') && s.get(i + 2) == Some(&quote) {
                i += 3;
            } else {
                i += 1;
            }
        }
        out
    };
    let drop_pair = |s: &[u8], second: u8| -> Vec<u8> {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            if s[i] == b'\\' && s.get(i + 1) == Some(&second) {
                i += 2;
            } else {
                out.push(s[i]);
                i += 1;
            }
        }
        out
    };
    let s = drop_after_plain(q, b'\'');
    let s = drop_after_plain(&s, b'"');
    let s = drop_pair(&s, b'\\');
    let s = drop_pair(&s, b'\'');
    drop_pair(&s, b'"')
}

/// Replaces quoted strings with `?`. An opening quote only counts when it is
/// preceded by some byte other than a backslash (so a quote at offset 0 is
/// kept); the string ends at the next quote, and an empty string directly
/// followed by another quote swallows that third quote too.
fn replace_quoted(q: Vec<u8>, quote: u8) -> Vec<u8> {
    let Some(first) = memchr::memchr(quote, &q) else {
        return q;
    };
    let mut out = Vec::with_capacity(q.len());
    let mut copy_from = 0;
    let mut next = first;
    loop {
        // Candidate opening quote at `next`, needing a prefix byte at next-1.
        let open = next;
        if open == 0 || q[open - 1] == b'\\' {
            match memchr::memchr(quote, &q[open + 1..]) {
                Some(r) => {
                    next = open + 1 + r;
                    continue;
                }
                None => break,
            }
        }
        let content = open + 1;
        let Some(r) = memchr::memchr(quote, &q[content..]) else {
            break;
        };
        let close = content + r;
        let end = if close == content {
            if q.get(content + 1) == Some(&quote) {
                content + 2
            } else {
                content + 1
            }
        } else if q[close - 1] != b'\\' {
            close + 1
        } else if q.get(close + 1) == Some(&quote) {
            close + 2
        } else {
            close + 1
        };
        out.extend_from_slice(&q[copy_from..open]);
        out.push(b'?');
        copy_from = end;
        // The next match needs its own prefix byte, so the earliest possible
        // opening quote is at end + 1.
        match q.get(end + 1..).and_then(|t| memchr::memchr(quote, t)) {
            Some(r) => next = end + 1 + r,
            None => break,
        }
    }
    out.extend_from_slice(&q[copy_from..]);
    out
}

/// Fused booleans, numbers and leftover clean-up, equivalent to running
/// `\bfalse\b|\btrue\b` -> `?` (case-insensitive), then
/// `[0-9+-][0-9a-f.xb+-]*` -> `?`, then `[xb.+-]\?` -> `?`, in that order.
///
/// Booleans are decided on the input text; a number run stops where a
/// boolean starts because the boolean pass would already have turned it into
/// `?`. After the number pass no `+`/`-` survive, so the clean-up reduces to
/// "a `?` eats one preceding `x`, `b` or `.`", applied as `?`s are emitted.
fn replace_literals(q: &[u8]) -> Vec<u8> {
    fn boolean_at(q: &[u8], i: usize) -> usize {
        let len = if starts_with_ci(&q[i..], b"true") {
            4
        } else if starts_with_ci(&q[i..], b"false") {
            5
        } else {
            return 0;
        };
        if !word_start(q, i) || q.get(i + len).is_some_and(|&b| is_word(b)) {
            return 0;
        }
        len
    }
    fn in_number(b: u8) -> bool {
        matches!(b, b'0'..=b'9' | b'a'..=b'f' | b'.' | b'x' | b'+' | b'-')
    }
    fn push_placeholder(out: &mut Vec<u8>) {
        if matches!(out.last(), Some(b'x' | b'b' | b'.')) {
            out.pop();
        }
        out.push(b'?');
    }

    let mut out = Vec::with_capacity(q.len());
    let mut i = 0;
    while i < q.len() {
        let b = q[i];
        match b {
            b'0'..=b'9' | b'+' | b'-' => {
                i += 1;
                while i < q.len() && in_number(q[i]) && !(q[i] == b'f' && boolean_at(q, i) > 0) {
                    i += 1;
                }
                push_placeholder(&mut out);
            }
            b't' | b'T' | b'f' | b'F' => {
                let len = boolean_at(q, i);
                if len > 0 {
                    push_placeholder(&mut out);
                    i += len;
                } else {
                    out.push(b);
                    i += 1;
                }
            }
            b'?' => {
                push_placeholder(&mut out);
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Strips leading `\s`, chomps one trailing newline, squeezes runs of
/// space/newline/tab/CR/FF into one space and lowercases ASCII.
fn collapse_whitespace_lowercase(q: &[u8]) -> Vec<u8> {
    let start = q.iter().take_while(|&&b| is_space(b)).count();
    let mut end = q.len();
    if end > start && q[end - 1] == b'\n' {
        end -= 1;
    }
    let mut out = Vec::with_capacity(end - start);
    let mut in_run = false;
    for &b in &q[start..end] {
        if matches!(b, b' ' | b'\n' | b'\t' | b'\r' | 0x0c) {
            if !in_run {
                out.push(b' ');
                in_run = true;
            }
        } else {
            out.push(b.to_ascii_lowercase());
            in_run = false;
        }
    }
    out
}

/// `\bnull\b` -> `?` on the lowercased text.
fn replace_null(q: Vec<u8>) -> Vec<u8> {
    if memmem::find(&q, b"null").is_none() {
        return q;
    }
    let mut out = Vec::with_capacity(q.len());
    let mut copy_from = 0;
    let mut search = 0;
    while let Some(r) = memmem::find(&q[search..], b"null") {
        let p = search + r;
        if word_start(&q, p) && !q.get(p + 4).is_some_and(|&b| is_word(b)) {
            out.extend_from_slice(&q[copy_from..p]);
            out.push(b'?');
            copy_from = p + 4;
        }
        search = p + 4;
    }
    out.extend_from_slice(&q[copy_from..]);
    out
}

/// `IN (...)`, `VALUE (...)` and `VALUES (...), (...)` whose parentheses hold
/// only placeholders, commas and spaces collapse to `in(?+)` / `values(?+)`.
fn collapse_lists(q: Vec<u8>) -> Vec<u8> {
    if memchr::memchr(b'(', &q).is_none() {
        return q;
    }
    let mut out = Vec::with_capacity(q.len());
    let mut i = 0;
    while i < q.len() {
        let b = q[i];
        if (b == b'i' || b == b'v') && word_start(&q, i) {
            let word = if q[i..].starts_with(b"in") {
                2
            } else if q[i..].starts_with(b"values") {
                6
            } else if q[i..].starts_with(b"value") {
                5
            } else {
                0
            };
            if word > 0 {
                let end = list_groups_end(&q, i + word);
                if end > i + word {
                    out.extend_from_slice(&q[i..i + word]);
                    out.extend_from_slice(b"(?+)");
                    i = end;
                    continue;
                }
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Greedy `(?:[\s,]*\([\s?,]*\))+` starting at `j`; returns `j` if no group.
fn list_groups_end(q: &[u8], mut j: usize) -> usize {
    loop {
        let mut k = j;
        while k < q.len() && (is_space(q[k]) || q[k] == b',') {
            k += 1;
        }
        if q.get(k) != Some(&b'(') {
            return j;
        }
        k += 1;
        while k < q.len() && (is_space(q[k]) || q[k] == b',' || q[k] == b'?') {
            k += 1;
        }
        if q.get(k) != Some(&b')') {
            return j;
        }
        j = k + 1;
    }
}

/// `select X union [all] select X ...` (identical text repeated) collapses to
/// `select X /*repeat union [all]*/`, where `X` is the shortest prefix that
/// repeats. Mirrors a lazy capture plus back-reference, so a repeated prefix
/// of a longer SELECT matches too, exactly like the Perl rule.
fn collapse_union(q: Vec<u8>) -> Vec<u8> {
    if memmem::find(&q, b"union").is_none() {
        return q;
    }
    let mut out = Vec::with_capacity(q.len());
    let mut copy_from = 0;
    let mut i = 0;
    while i < q.len() {
        if q[i] == b's'
            && word_start(&q, i)
            && q[i..].starts_with(b"select")
            && q.get(i + 6).is_some_and(|&b| is_space(b))
            && let Some((body_end, label_start, label_end, end)) = union_at(&q, i)
        {
            out.extend_from_slice(&q[copy_from..body_end]);
            out.extend_from_slice(b" /*repeat");
            out.extend_from_slice(&q[label_start..label_end]);
            out.extend_from_slice(b"*/");
            copy_from = end;
            i = end;
            continue;
        }
        i += 1;
    }
    out.extend_from_slice(&q[copy_from..]);
    out
}

/// Tries the UNION rule with the capture starting at `start`. Returns
/// (capture end, label range of the last repetition, match end).
fn union_at(q: &[u8], start: usize) -> Option<(usize, usize, usize, usize)> {
    // The capture is `select`, one whitespace byte and a lazy `.*?`; it can
    // only end right before a whitespace byte that precedes `union`. (No
    // newline survives whitespace collapsing, so `.` never has to stop.)
    let min_end = start + 7;
    let mut from = min_end + 1;
    while let Some(r) = memmem::find(q.get(from..)?, b"union") {
        let u = from + r;
        from = u + 1;
        let body_end = u - 1;
        if !is_space(q[body_end]) {
            continue;
        }
        let body = &q[start..body_end];
        let mut j = body_end;
        let mut label = None;
        while j < q.len() && is_space(q[j]) && q[j + 1..].starts_with(b"union") {
            let k = j + 6;
            let repeat_at =
                |sep: usize| sep < q.len() && is_space(q[sep]) && q[sep + 1..].starts_with(body);
            let with_all = k < q.len() && is_space(q[k]) && q[k + 1..].starts_with(b"all");
            if with_all && repeat_at(k + 4) {
                label = Some((j, k + 4));
                j = k + 5 + body.len();
            } else if repeat_at(k) {
                label = Some((j, k));
                j = k + 1 + body.len();
            } else {
                break;
            }
        }
        if let Some((ls, le)) = label {
            return Some((body_end, ls, le, j));
        }
    }
    None
}

/// Only the first `limit ?`, `limit ?, ?`, `limit ?,?` or
/// `limit ? offset ?` becomes `limit ?`.
fn normalize_limit(q: Vec<u8>) -> Vec<u8> {
    let mut search = 0;
    while let Some(r) = memmem::find(&q[search..], b"limit ?") {
        let p = search + r;
        if word_start(&q, p) {
            let mut end = p + 7;
            let t = &q[end..];
            if t.starts_with(b", ?") {
                end += 3;
            } else if t.starts_with(b",?") {
                end += 2;
            } else if t.starts_with(b" offset ?") {
                end += 9;
            }
            let mut out = Vec::with_capacity(q.len());
            out.extend_from_slice(&q[..p]);
            out.extend_from_slice(b"limit ?");
            out.extend_from_slice(&q[end..]);
            return out;
        }
        search = p + 1;
    }
    q
}

/// After the first `order by `, removes every `<whitespace>asc` that follows
/// at least one other byte, scanning forward from the previous removal (the
/// Perl `\G(.+?)\s+ASC` loop). `asc` needs no word boundary after it.
fn remove_order_by_asc(q: Vec<u8>) -> Vec<u8> {
    let Some(p) = memmem::find_iter(&q, b"order by ").find(|&p| word_start(&q, p)) else {
        return q;
    };
    let mut g = p + 9;
    let mut out: Option<Vec<u8>> = None;
    loop {
        let mut found = None;
        let mut e = g + 1;
        while e < q.len() {
            if q[e] == b'\n' {
                break;
            }
            if is_space(q[e]) {
                let ws_end = e + q[e..].iter().take_while(|&&b| is_space(b)).count();
                if starts_with_ci(&q[ws_end..], b"asc") {
                    found = Some((e, ws_end + 3));
                    break;
                }
            }
            e += 1;
        }
        let Some((cut, resume)) = found else { break };
        let buf = out.get_or_insert_with(|| {
            let mut v = Vec::with_capacity(q.len());
            v.extend_from_slice(&q[..g]);
            v
        });
        buf.extend_from_slice(&q[g..cut]);
        g = resume;
    }
    match out {
        Some(mut buf) => {
            buf.extend_from_slice(&q[g..]);
            buf
        }
        None => q,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fp(q: &str) -> String {
        fingerprint(q)
    }

    #[test]
    fn special_classes() {
        assert_eq!(
            fp("SELECT /*!40001 SQL_NO_CACHE */ * FROM `orders`"),
            "mysqldump"
        );
        assert_eq!(
            fp("REPLACE /*db.t:1/9*/ INTO c.c SELECT 1"),
            "percona-toolkit"
        );
        assert_eq!(
            fp("administrator command: Ping"),
            "administrator command: Ping"
        );
        assert_eq!(fp("  CALL Shop.Refund(7, 'x')"), "call shop.refund");
        assert_eq!(fp("call f(g(1))"), "call f(g");
        assert_eq!(fp("USE `Sales`"), "use ?");
        assert_eq!(fp("use sales\n"), "use ?\n");
    }

    #[test]
    fn comments() {
        assert_eq!(fp("select /* hi */ a"), "select a");
        assert_eq!(fp("select /*!50000 a */ b"), "select /*!? a */ b");
        assert_eq!(fp("select a # note\n from t"), "select a from t");
        assert_eq!(fp("select a -- note 'q'\n"), "select a ? note ?");
        assert_eq!(fp("select a--x\nb"), "select a b");
    }

    #[test]
    fn strings_and_escapes() {
        // A doubled quote is not an escape for pt-query-digest: the second
        // string has no free prefix byte, so part of it survives.
        assert_eq!(fp("select 'it''s', \"x\" from t"), "select ?'s', ? from t");
        assert_eq!(fp(r"select 'a\'b', 'c\\' from t"), "select ?, ? from t");
        // A quote at offset 0 has no prefix byte, so the first "string" found
        // is the text between the first closing quote and the next opening one.
        assert_eq!(fp("'lead' and 'x'"), "'lead?x'");
        assert_eq!(fp("select 'unterminated"), "select 'unterminated");
    }

    #[test]
    fn numbers_booleans_null() {
        assert_eq!(
            fp("select 1, -2.5e3, 0xFF, x'0a', b'1' from t"),
            "select ?, ?, ?ff, ?, ? from t"
        );
        assert_eq!(
            fp("select * from tbl_2024 where c9 = 3"),
            "select * from tbl_? where c? = ?"
        );
        assert_eq!(
            fp("where a = TRUE or b = false or c is NULL"),
            "where a = ? or b = ? or c is ?"
        );
        assert_eq!(
            fp("select truefalse, nullable"),
            "select truefalse, nullable"
        );
        assert_eq!(fp("select a-b"), "select a?");
    }

    #[test]
    fn whitespace_and_case() {
        assert_eq!(fp("\n\t SELECT\tA\r\n  FROM  T \n"), "select a from t ");
        assert_eq!(fp("SELECT A FROM T\n"), "select a from t");
    }

    #[test]
    fn lists() {
        assert_eq!(
            fp("select * from t where id IN (1, 2 ,3)"),
            "select * from t where id in(?+)"
        );
        assert_eq!(
            fp("select * from t where id in (select 1)"),
            "select * from t where id in (select ?)"
        );
        assert_eq!(
            fp("INSERT INTO t (a,b) VALUES (1,'x'),(2,'y')"),
            "insert into t (a,b) values(?+)"
        );
        assert_eq!(
            fp("insert ignore into t values (1) , (2)"),
            "insert ignore into t values(?+)"
        );
        assert_eq!(
            fp("replace into t value (now())"),
            "replace into t value (now())"
        );
    }

    #[test]
    fn union_limit_order() {
        assert_eq!(
            fp("select a from t union select a from t"),
            "select a from t /*repeat union*/"
        );
        assert_eq!(
            fp("select 1 union all select 1"),
            "select ? /*repeat union all*/"
        );
        assert_eq!(
            fp("select a from t union select b from t"),
            "select a from t union select b from t"
        );
        assert_eq!(fp("select a limit 10, 20"), "select a limit ?");
        assert_eq!(
            fp("select a limit 1 offset 2 union select a limit 3,4"),
            "select a limit ? union select a limit ?,?"
        );
        assert_eq!(
            fp("select a order by b ASC, c desc, d asc"),
            "select a order by b, c desc, d"
        );
        assert_eq!(
            fp("select a order by b, ascii asc"),
            "select a order by b,ii"
        );
    }

    #[test]
    fn checksum_and_query_id() {
        assert_eq!(checksum(""), "D41D8CD98F00B204E9800998ECF8427E");
        assert_eq!(query_id(""), "0xE9800998ECF8427E");
        let c = checksum("select ? from t");
        assert_eq!(c.len(), 32);
        assert!(
            c.bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
        assert_eq!(query_id("select ? from t"), format!("0x{}", &c[16..]));
    }

    #[test]
    fn huge_inputs_stay_fast_enough() {
        let list = vec!["42"; 200_000].join(",");
        assert_eq!(
            fp(&format!("select * from t where a in ({list})")),
            "select * from t where a in(?+)"
        );
        let rows = vec!["(1,'a')"; 100_000].join(",");
        assert_eq!(
            fp(&format!("insert into t values {rows}")),
            "insert into t values(?+)"
        );
    }

    fn sql_fragment() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                Just("select ".to_owned()),
                Just("'".to_owned()),
                Just("\"".to_owned()),
                Just("\\".to_owned()),
                Just("/*".to_owned()),
                Just("*/".to_owned()),
                Just("--".to_owned()),
                Just("#".to_owned()),
                Just("\n".to_owned()),
                Just(" in (".to_owned()),
                Just(")".to_owned()),
                Just(" union ".to_owned()),
                Just("values (".to_owned()),
                Just(" order by a asc".to_owned()),
                Just("limit 1, 2".to_owned()),
                Just("call x(".to_owned()),
                Just("insert into t ".to_owned()),
                "[a-z0-9_.,+-]{0,6}",
                "\\PC{0,3}",
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_text(s in "\\PC*") {
            let f = fingerprint(&s);
            prop_assert_eq!(query_id(&f).len(), 18);
        }

        #[test]
        fn never_panics_on_sql_like_text(s in sql_fragment()) {
            let f = fingerprint(&s);
            prop_assert_eq!(checksum(&f).len(), 32);
        }

        /// Without quotes, backslashes, comment markers or digits the only
        /// rewrites are whitespace and case, so the result is a fixed point.
        #[test]
        fn plain_identifiers_are_idempotent(s in "[a-z_ ]{0,40}") {
            let f = fingerprint(&s);
            prop_assert_eq!(fingerprint(&f), f.clone());
            prop_assert!(!f.contains("  "));
        }

        /// Literal values never influence the fingerprint.
        #[test]
        fn literals_are_abstracted(n in any::<i64>(), t in "[a-zA-Z ]{0,20}") {
            let q1 = format!("SELECT * FROM orders WHERE id = {n} AND note = '{t}'");
            prop_assert_eq!(fingerprint(&q1), "select * from orders where id = ? and note = ?");
        }
    }
}
