//! Clause rules run on the lower-cased text: IN/VALUES lists, UNION chains,
//! the first LIMIT and `ASC` in ORDER BY.

use super::{is_space, starts_with_ci, word_start};
use memchr::memmem;

/// `IN (...)`, `VALUE (...)` and `VALUES (...), (...)` whose parentheses hold
/// only placeholders, commas and spaces collapse to `in(?+)` / `values(?+)`.
pub(super) fn collapse_lists(q: Vec<u8>) -> Vec<u8> {
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
pub(super) fn list_groups_end(q: &[u8], mut j: usize) -> usize {
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
pub(super) fn collapse_union(q: Vec<u8>) -> Vec<u8> {
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
pub(super) fn union_at(q: &[u8], start: usize) -> Option<(usize, usize, usize, usize)> {
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
pub(super) fn normalize_limit(q: Vec<u8>) -> Vec<u8> {
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
pub(super) fn remove_order_by_asc(q: Vec<u8>) -> Vec<u8> {
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
