//! Human-readable numbers shared by the charts, the HTML and the terminal:
//! latencies span nine orders of magnitude, so they are always shown with a
//! unit chosen per value (µs, ms, s) and three significant digits.

/// Formats a duration in seconds as `1µs`, `23.4ms`, `1.5s`; `-` when the
/// value is not finite, so bad data shows up as a gap rather than `NaN`.
pub fn seconds(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_string();
    }
    if v == 0.0 {
        return "0".to_string();
    }
    let a = v.abs();
    let (scaled, unit) = if a >= 1.0 {
        (v, "s")
    } else if a >= 1e-3 {
        (v * 1e3, "ms")
    } else if a >= 1e-6 {
        (v * 1e6, "µs")
    } else {
        (v * 1e9, "ns")
    };
    format!("{}{unit}", significant(scaled))
}

/// Formats a count-like value compactly: `950`, `12.3k`, `4.5M`.
pub fn count(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_string();
    }
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", significant(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", significant(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", significant(v / 1e3))
    } else {
        significant(v)
    }
}

/// Formats a share (0..=1) as a percentage with one decimal.
pub fn percent(share: f64) -> String {
    if share.is_finite() {
        format!("{:.1}%", share * 100.0)
    } else {
        "-".to_string()
    }
}

/// Three significant digits without trailing zeros (`1`, `2.5`, `123`).
fn significant(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Shortens `s` to at most `max` characters, marking the cut with `…`, so
/// long table names and users never overlap their neighbours in a chart.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_pick_a_unit() {
        assert_eq!(seconds(1e-6), "1µs");
        assert_eq!(seconds(1e-3), "1ms");
        assert_eq!(seconds(0.0234), "23.4ms");
        assert_eq!(seconds(1.0), "1s");
        assert_eq!(seconds(100.0), "100s");
        assert_eq!(seconds(0.0), "0");
        assert_eq!(seconds(f64::NAN), "-");
    }

    #[test]
    fn counts_are_compact() {
        assert_eq!(count(950.0), "950");
        assert_eq!(count(12_345.0), "12.3k");
        assert_eq!(count(4_500_000.0), "4.5M");
        assert_eq!(count(0.5), "0.5");
    }

    #[test]
    fn truncation_marks_the_cut() {
        assert_eq!(truncate("lineitem", 20), "lineitem");
        assert_eq!(truncate("abcdefgh", 5), "abcd…");
        assert_eq!(truncate("ééééé", 5), "ééééé");
    }
}
