//! Human units (public as `leakscope::dump::units`), one way everywhere: the detectors' summaries and recommendations and the CLI's
//! reports print the same numbers the same way.
//!
//! Bytes are decimal with one decimal ("4.2 KB", "6.1 MB"), like the configuration's MB of 10^6
//! bytes; durations take the largest sensible unit. Both are total: a non-finite value (a dump
//! is untrusted input) prints as `?` instead of panicking.

/// Bytes in decimal units with one decimal: "812 B", "4.2 KB", "6.1 MB", "1.5 GB".
pub fn bytes(b: f64) -> String {
    if !b.is_finite() {
        return "? B".to_owned();
    }
    let sign = if b < 0.0 { "-" } else { "" };
    let a = b.abs();
    let (v, unit) = if a >= 1e12 {
        (a / 1e12, "TB")
    } else if a >= 1e9 {
        (a / 1e9, "GB")
    } else if a >= 1e6 {
        (a / 1e6, "MB")
    } else if a >= 1e3 {
        (a / 1e3, "KB")
    } else {
        return format!("{sign}{a:.0} B");
    };
    format!("{sign}{v:.1} {unit}")
}

/// A duration in seconds, in the largest sensible unit: "45 s", "30 min", "2h 10m", "3.2 days".
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "?".to_owned();
    }
    if secs < 90.0 {
        format!("{secs:.0} s")
    } else if secs < 5400.0 {
        format!("{:.0} min", secs / 60.0)
    } else if secs < 2.0 * 86400.0 {
        let m = (secs / 60.0).round() as u64;
        format!("{}h {:02}m", m / 60, m % 60)
    } else {
        format!("{:.1} days", secs / 86400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_durations_read_like_a_person_writes_them() {
        assert_eq!(bytes(812.0), "812 B");
        assert_eq!(bytes(4_200.0), "4.2 KB");
        assert_eq!(bytes(-6_100_000.0), "-6.1 MB");
        assert_eq!(bytes(1.5e9), "1.5 GB");
        assert_eq!(bytes(f64::NAN), "? B");
        assert_eq!(duration(45.0), "45 s");
        assert_eq!(duration(1800.0), "30 min");
        assert_eq!(duration(7800.0), "2h 10m");
        assert_eq!(duration(3.2 * 86400.0), "3.2 days");
        assert_eq!(duration(-1.0), "?");
    }
}
