//! Literal rules: escapes, quoted strings, numbers, whitespace with
//! lower-casing and NULL, each a single byte scanner equal to the Perl
//! substitution it replaces.

use super::{is_space, is_word, starts_with_ci, word_start};
use memchr::memmem;

/// Backslash handling of pt-query-digest >= 3.3.2, five substitutions in
/// order: drop `\'` and `\"` after a non-backslash (non-overlapping), drop
/// every `\\`, then drop any remaining `\'` and `\"`.
pub(super) fn remove_escapes(q: &[u8]) -> Vec<u8> {
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
pub(super) fn replace_quoted(q: Vec<u8>, quote: u8) -> Vec<u8> {
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
pub(super) fn replace_literals(q: &[u8]) -> Vec<u8> {
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
pub(super) fn collapse_whitespace_lowercase(q: &[u8]) -> Vec<u8> {
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
pub(super) fn replace_null(q: Vec<u8>) -> Vec<u8> {
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
