//! Small byte-level parsers for the values that appear in every log format.
//!
//! They are hand-written rather than regex-based because they run once or
//! more per event on logs of many gigabytes.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// Parses a MySQL `TIME` value as found in `mysql.slow_log.query_time`
/// ("HH:MM:SS" with an optional fraction; hours may exceed 24) into seconds.
pub fn parse_mysql_duration(s: &str) -> Option<f64> {
    let mut parts = s.trim().splitn(3, ':');
    let h = parts.next()?;
    let m = parts.next()?;
    let sec = parts.next()?;
    if h.is_empty() || !h.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if m.len() != 2 || !m.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
    if whole.len() != 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let h: f64 = h.parse().ok()?;
    let m: f64 = m.parse().ok()?;
    let sec: f64 = sec.parse().ok()?;
    if m >= 60.0 || sec >= 60.0 {
        return None;
    }
    Some(h * 3600.0 + m * 60.0 + sec)
}

/// Parses a non-negative, finite number of seconds such as `0.000652` or `2`.
pub(crate) fn parse_seconds(b: &[u8]) -> Option<f64> {
    if b.is_empty() || !b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        return None;
    }
    let v: f64 = std::str::from_utf8(b).ok()?.parse().ok()?;
    v.is_finite().then_some(v)
}

pub(crate) fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |v, &c| v * 10 + u32::from(c - b'0')))
}

/// Parses every timestamp style the servers write:
/// `071015 21:43:52` and `090127  1:23:34` (MySQL 5.x, MariaDB),
/// `2018-10-01T12:00:00.123456Z` or with `+02:00` (MySQL 5.7+, kept as the
/// wall-clock time that was logged), and `2021-01-14 15:11:51.815988`
/// (the `mysql.*_log` tables).
pub(crate) fn parse_log_time(s: &[u8]) -> Option<NaiveDateTime> {
    let s = s.trim_ascii();
    let (y, mo, d, rest) = if s.len() >= 11 && s[4] == b'-' && s[7] == b'-' {
        if !matches!(s[10], b'T' | b' ') {
            return None;
        }
        (
            digits(&s[0..4])? as i32,
            digits(&s[5..7])?,
            digits(&s[8..10])?,
            &s[11..],
        )
    } else if s.len() >= 7 && s[6] == b' ' {
        (
            2000 + digits(&s[0..2])? as i32,
            digits(&s[2..4])?,
            digits(&s[4..6])?,
            s[6..].trim_ascii_start(),
        )
    } else {
        return None;
    };
    let colon = rest.iter().position(|&c| c == b':')?;
    if colon == 0 || colon > 2 || rest.len() < colon + 6 {
        return None;
    }
    let h = digits(&rest[..colon])?;
    let rest = &rest[colon..];
    if rest[0] != b':' || rest[3] != b':' {
        return None;
    }
    let mi = digits(&rest[1..3])?;
    let sec = digits(&rest[4..6])?;
    let mut rest = &rest[6..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let kept = &frac[..n.min(9)];
        nanos = digits(kept)? * 10u32.pow(9 - kept.len() as u32);
        rest = &frac[n..];
    }
    let zone_ok = match rest {
        b"" | b"Z" => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    };
    if !zone_ok {
        return None;
    }
    NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_nano_opt(h, mi, sec, nanos)
}

/// Converts a `SET timestamp=N` value (Unix seconds) to a naive UTC time.
pub(crate) fn from_unix_seconds(secs: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp(secs, 0).map(|t| t.naive_utc())
}

/// Splits a `user_host` value such as `root[root] @ localhost []`,
/// `guest[guest] @  [10.0.0.1]` or `[SQL_SLAVE] @  []` into user and host.
///
/// The user is the privilege user before `[`; when that is empty (replication
/// threads) the connecting user in brackets is used instead. The host is the
/// resolved name, else the IP in brackets.
pub(crate) fn parse_user_host(s: &str) -> (Option<String>, Option<String>) {
    let (user_part, host_part) = match s.find(" @ ").or_else(|| s.find('@')) {
        Some(i) => (&s[..i], s[i..].trim_start_matches([' ', '@'])),
        None => (s, ""),
    };
    let user_part = user_part.trim();
    let user = match user_part.find('[') {
        Some(0) => user_part[1..]
            .trim_start_matches('[')
            .split(']')
            .next()
            .unwrap_or(""),
        Some(i) => &user_part[..i],
        None => user_part,
    }
    .trim();
    let host_part = host_part.trim();
    let (name, ip) = match host_part.find('[') {
        Some(i) => {
            let ip = host_part[i + 1..].split(']').next().unwrap_or("");
            (host_part[..i].trim(), ip.trim())
        }
        None => (host_part.split_whitespace().next().unwrap_or(""), ""),
    };
    let host = if name.is_empty() { ip } else { name };
    let some = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    (some(user), some(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<String> {
        parse_log_time(s.as_bytes()).map(|t| t.format("%Y-%m-%d %H:%M:%S%.f").to_string())
    }

    #[test]
    fn durations() {
        assert_eq!(parse_mysql_duration("00:00:00.000093"), Some(0.000093));
        assert_eq!(parse_mysql_duration("01:02:03"), Some(3723.0));
        assert_eq!(parse_mysql_duration("838:59:59.000000"), Some(3020399.0));
        assert_eq!(parse_mysql_duration("abc"), None);
        assert_eq!(parse_mysql_duration("00:61:00"), None);
        assert_eq!(parse_mysql_duration("1.5"), None);
    }

    #[test]
    fn times_of_every_server_generation() {
        assert_eq!(t("071015 21:43:52").as_deref(), Some("2007-10-15 21:43:52"));
        assert_eq!(t("090127  1:23:34").as_deref(), Some("2009-01-27 01:23:34"));
        assert_eq!(
            t("121123 19:56:06.0000001967").as_deref(),
            Some("2012-11-23 19:56:06.000000196")
        );
        assert_eq!(
            t("2016-07-20T18:13:25.698433Z").as_deref(),
            Some("2016-07-20 18:13:25.698433")
        );
        assert_eq!(
            t("2018-10-01T12:00:00.123456+02:00").as_deref(),
            Some("2018-10-01 12:00:00.123456")
        );
        assert_eq!(
            t("2021-01-14 15:11:51.815988").as_deref(),
            Some("2021-01-14 15:11:51.815988")
        );
        assert_eq!(t("margdl 11:48:27"), None);
        assert_eq!(t("071315 21:43:52"), None);
        assert_eq!(t(""), None);
    }

    #[test]
    fn user_hosts() {
        let uh = |s: &str| parse_user_host(s);
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(uh("root[root] @ localhost []"), (s("root"), s("localhost")));
        assert_eq!(
            uh("guest[guest] @  [10.0.0.1]"),
            (s("guest"), s("10.0.0.1"))
        );
        assert_eq!(uh("[SQL_SLAVE] @  []"), (s("SQL_SLAVE"), None));
        assert_eq!(uh("[SQL_SLAVE][[SQL_SLAVE]] @  []"), (s("SQL_SLAVE"), None));
        assert_eq!(
            uh("swuser[swuser] @ secure.myplace.co.uk [88.208.248.160]"),
            (s("swuser"), s("secure.myplace.co.uk"))
        );
        assert_eq!(
            uh("root[root] @ localhost [127.0.0.1]  Id:     3"),
            (s("root"), s("localhost"))
        );
        assert_eq!(uh("foo[foo] @ [host]"), (s("foo"), s("host")));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b"-1"), None);
        assert_eq!(parse_seconds(b"0.000652"), Some(0.000652));
        assert_eq!(parse_seconds(b"18446744073708.796870.000036"), None);
        assert_eq!(parse_seconds(b"nan"), None);
    }
}
