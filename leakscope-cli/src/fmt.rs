//! Human units and small text helpers shared by every renderer.
//!
//! Bytes and durations come from the library (`leakscope::dump::units`), so the numbers a report
//! prints beside a leak's own summary and advice read the same: decimal bytes with one decimal
//! ("4.2 KB", "6.1 MB", like the config's MB of 10^6 bytes), rates per minute, durations in the
//! largest sensible unit. Everything here is pure and total: NaN, infinities and negative
//! durations print as `?` instead of panicking, because a dump is untrusted input.

use leakscope::dump::Dump;
use leakscope::leaks::{CallSite, Frame};
use leakscope::{leaks::LeakSeverity, leaks::LeakType};

pub use leakscope::dump::units::{bytes, duration};

/// [`bytes`] of an unsigned count.
pub fn bytes_u(b: u64) -> String {
    bytes(b as f64)
}

/// A signed change in bytes, always with its sign: "+1.2 MB", "-40 B", "0 B".
pub fn delta(b: f64) -> String {
    if b > 0.0 {
        format!("+{}", bytes(b))
    } else {
        bytes(b)
    }
}

/// A rate in bytes per minute with its sign: "+6.1 MB/min".
pub fn rate(per_min: f64) -> String {
    format!("{}/min", delta(per_min))
}

/// A count with thousands separators: "5,120".
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share as a whole percentage, "?" when the denominator is zero.
pub fn percent(part: f64, whole: f64) -> String {
    let p = part / whole * 100.0;
    if !p.is_finite() {
        "?".to_owned()
    } else if p > 0.0 && p < 1.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// Wall-clock seconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_datetime(unix: f64) -> String {
    match civil(unix) {
        Some((y, mo, d, h, mi, s)) => {
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
        }
        None => "?".to_owned(),
    }
}

/// Wall-clock seconds since the Unix epoch as `HH:MM` (UTC): a tick label or a window bound.
pub fn utc_hhmm(unix: f64) -> String {
    match civil(unix) {
        Some((_, _, _, h, mi, _)) => format!("{h:02}:{mi:02}"),
        None => "?".to_owned(),
    }
}

/// Splits Unix seconds into a UTC civil date and time. Howard Hinnant's `civil_from_days`
/// (public domain), which is exact over the whole proleptic Gregorian calendar; a CLI does not
/// need a date library for one conversion. `None` outside years 0..=9999 (a hostile dump).
fn civil(unix: f64) -> Option<(i64, u32, u32, u32, u32, u32)> {
    const MAX: f64 = 253_402_300_799.0; // 9999-12-31T23:59:59Z
    const MIN: f64 = -62_167_219_200.0; // 0000-01-01T00:00:00Z
    if !(MIN..=MAX).contains(&unix) {
        return None;
    }
    let secs = unix.floor() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    Some((
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    ))
}

/// The wall-clock time of `t` on the dump's collector clock (docs/dump-format.md, "Units and
/// clocks").
pub fn wall(dump: &Dump, t: f64) -> f64 {
    dump.written_at_unix - (dump.clock_secs - t)
}

/// The wall-clock time (UTC) of `t` on the dump's collector clock, for leak times and windows:
/// `HH:MM`, or `HH:MM:SS` when the detection window is under 10 minutes (a demo or a test
/// configured in seconds, where every event falls within a few minutes).
pub fn clock(dump: &Dump, t: f64) -> String {
    let unix = wall(dump, t);
    if dump.config.detection_window_minutes < 10.0 {
        utc_hhmmss(unix)
    } else {
        utc_hhmm(unix)
    }
}

/// Wall-clock seconds since the Unix epoch as `HH:MM:SS` (UTC).
pub fn utc_hhmmss(unix: f64) -> String {
    match civil(unix) {
        Some((_, _, _, h, mi, s)) => format!("{h:02}:{mi:02}:{s:02}"),
        None => "?".to_owned(),
    }
}

/// "gradual growth", "cache bloat", …
pub fn leak_type(t: LeakType) -> &'static str {
    match t {
        LeakType::GradualGrowth => "gradual growth",
        LeakType::RapidGrowth => "rapid growth",
        LeakType::SustainedHigh => "sustained high usage",
        LeakType::PeriodicSpike => "periodic spikes",
        LeakType::CacheBloat => "cache bloat",
        LeakType::Fragmentation => "fragmentation",
    }
}

/// "CRITICAL", "HIGH", "MEDIUM", "LOW": upper case, so a severity stands out in plain text too.
pub fn severity(s: LeakSeverity) -> &'static str {
    match s {
        LeakSeverity::Critical => "CRITICAL",
        LeakSeverity::High => "HIGH",
        LeakSeverity::Medium => "MEDIUM",
        LeakSeverity::Low => "LOW",
    }
}

/// A detector statistic as a person reads it: "Mann–Kendall Z = 7.90", "bytes per entry now =
/// 9.8 KB". Names ending in `_bytes` or `_bytes_per_min` get units; unknown names print as
/// they are, so a detector added later still shows up.
pub fn statistic(name: &str, value: f64) -> String {
    let label = match name {
        "mann_kendall_z" => "Mann–Kendall Z",
        "mann_kendall_z_corrected" => "Mann–Kendall Z (autocorrelation-corrected)",
        "residual_autocorrelation" => "residual lag-1 autocorrelation",
        "recent_pace_ratio" => "recent pace / span pace",
        "median_third_rate_bytes_per_min" => "median rate of the thirds",
        "last_third_rate_bytes_per_min" => "rate of the last third",
        "least_third_share" => "least third of the rise",
        "kendall_tau" => "Kendall τ",
        "cusum" => "CUSUM",
        "interval_cv" => "interval CV",
        "autocorrelation" => "autocorrelation",
        "theil_sen_slope_bytes_per_min" => "Theil–Sen slope",
        "blocks_mann_kendall_z" => "blocks Mann–Kendall Z",
        "gap_mann_kendall_z" => "RSS gap Mann–Kendall Z",
        "minima_mann_kendall_z" => "minima Mann–Kendall Z",
        "bytes_per_entry_z" => "bytes-per-entry Z",
        "residual_z" => "residual Z",
        "entries_tau" => "entries τ",
        "tracked_tau" => "tracked τ",
        "share_above" => "share above threshold",
        "rss_to_tracked" => "RSS / tracked",
        "period_secs" => "period",
        other => other,
    };
    let label = label.replace('_', " ");
    let shown = if name.ends_with("_bytes_per_min") {
        rate(value)
    } else if name.ends_with("_bytes")
        || matches!(
            name,
            "bytes_per_entry_baseline" | "bytes_per_entry_now" | "bytes_above_prior_entry_size"
        )
    {
        bytes(value)
    } else if name.ends_with("_secs") {
        duration(value)
    } else if name == "share_above" {
        percent(value, 1.0)
    } else if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    };
    format!("{label} = {shown}")
}

/// A frame as `function (file:line)`, or its address when symbols did not resolve.
pub fn frame(f: &Frame) -> String {
    let func = f
        .function
        .clone()
        .unwrap_or_else(|| format!("0x{:x}", f.addr));
    match (&f.file, f.line) {
        (Some(file), Some(line)) => format!("{func} ({file}:{line})"),
        (Some(file), None) => format!("{func} ({file})"),
        _ => func,
    }
}

/// A frame as [`frame`] prints it, cleaned, in at most `max` columns: the function is cut
/// before its place is, and a long path loses its start, so that `file:line`, what a person
/// opens, stays whole as long as a few columns of the function fit beside it.
pub fn frame_fit(f: &Frame, max: usize) -> String {
    /// Columns of the function kept, at least, beside its place.
    const FUNCTION: usize = 16;
    let whole = clean(&frame(f));
    if width(&whole) <= max {
        return whole;
    }
    let place = match (&f.file, f.line) {
        (Some(file), Some(line)) => format!("{}:{line}", clean(file)),
        (Some(file), None) => clean(file),
        _ => return truncate(&whole, max),
    };
    let function = clean(
        &f.function
            .clone()
            .unwrap_or_else(|| format!("0x{:x}", f.addr)),
    );
    // " (" + place + ")"
    let Some(place_room) = max.checked_sub(FUNCTION + 3) else {
        return truncate(&whole, max);
    };
    let place = if width(&place) <= place_room {
        place
    } else {
        format!("…{}", suffix(&place, place_room.saturating_sub(1)))
    };
    let function = truncate(&function, max - 3 - width(&place));
    format!("{function} ({place})")
}

/// The longest suffix of `s` at most `max` columns wide.
pub fn suffix(s: &str, max: usize) -> &str {
    let mut start = s.len();
    let mut w = 0;
    for (i, c) in s.char_indices().rev() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if w + cw > max {
            break;
        }
        w += cw;
        start = i;
    }
    let mut cut = &s[start..];
    while width(cut) > max {
        let first = cut.chars().next().map_or(0, char::len_utf8);
        cut = &cut[first..];
    }
    cut
}

/// A call site named by its first frame (the program's own code: the library trims the
/// allocator's and the standard library's leading frames), as the library's recommendations
/// name it.
pub fn site(s: &CallSite) -> String {
    s.frames
        .first()
        .map(frame)
        .unwrap_or_else(|| "(no frames)".to_owned())
}

/// The smallest vertical range of a sparkline, as a share of its maximum.
const MIN_RANGE: f64 = 0.05;

/// Eight block characters, lowest first.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of `points` (time, value), `width` characters wide, scaled from the smallest to
/// the largest value (over at least 5% of the largest, so noise stays low).
///
/// The dump's history is unevenly spaced (coarse points standing for 10 or 100 intervals, then
/// every recent interval), so the line is drawn over *time*, not over points: each character
/// covers an equal slice of the time span and shows the largest value in it (a spike stays
/// visible), and a slice with no point repeats the one before (a coarse point holds until the
/// next). Points all at one instant have no time axis: they get a character each, up to
/// `width`.
pub fn sparkline(points: &[(f64, f64)], width: usize) -> String {
    let points: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(t, v)| t.is_finite() && v.is_finite())
        .collect();
    if points.is_empty() || width == 0 {
        return String::new();
    }
    let t0 = points[0].0;
    let span = points[points.len() - 1].0 - t0;
    let width = if span > 0.0 {
        width
    } else {
        width.min(points.len())
    };
    let mut slots: Vec<Option<f64>> = vec![None; width];
    for (i, &(t, v)) in points.iter().enumerate() {
        let slot = if span > 0.0 {
            (((t - t0) / span) * width as f64).floor() as usize
        } else {
            i * width / points.len()
        };
        let slot = slot.min(width - 1);
        slots[slot] = Some(slots[slot].map_or(v, |m: f64| m.max(v)));
    }
    let mut last = points[0].1;
    let values: Vec<f64> = slots
        .into_iter()
        .map(|s| {
            if let Some(v) = s {
                last = v;
            }
            last
        })
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Scaled min to max, but over at least 5% of the maximum: otherwise the noise of a flat
    // scope (0.2% of its level) would draw full-height bars and look like a leak.
    let range = (hi - lo).max(hi.abs() * MIN_RANGE);
    values
        .iter()
        .map(|&v| {
            if range > 0.0 {
                let i = ((v - lo) / range * (BARS.len() - 1) as f64).round() as usize;
                BARS[i.min(BARS.len() - 1)]
            } else {
                BARS[0]
            }
        })
        .collect()
}

/// The display width of `s` in a terminal, in columns: two for a CJK character or an emoji,
/// none for a combining mark (Unicode's East Asian Width, as `unicode-width` has it, which is
/// what terminals follow). The renderers measure text after [`clean`], so there are no control
/// characters left to measure.
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// `s` padded with spaces on the right to `w` columns (not cut when wider): `format!`'s `{:<w}`
/// counts characters, which is wrong for a wide character.
pub fn pad_right(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// `s` padded with spaces on the left to `w` columns, right-aligned (not cut when wider).
pub fn pad_left(s: &str, w: usize) -> String {
    format!("{}{s}", " ".repeat(w.saturating_sub(width(s))))
}

/// The longest prefix of `s` at most `max` columns wide.
pub fn prefix(s: &str, max: usize) -> &str {
    // Characters one at a time, then a check of the whole prefix: a few sequences (an emoji
    // and its presentation selector) are wider than their characters' sum.
    let mut end = 0;
    let mut w = 0;
    for (i, c) in s.char_indices() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if w + cw > max {
            break;
        }
        w += cw;
        end = i + c.len_utf8();
    }
    let mut cut = &s[..end];
    while width(cut) > max {
        let last = cut.chars().next_back().map_or(0, char::len_utf8);
        cut = &cut[..cut.len() - last];
    }
    cut
}

/// `s` cut to `max` columns, ending in `…` when it was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    let mut out = prefix(s, max.saturating_sub(1)).to_owned();
    if max > 0 {
        out.push('…');
    }
    out
}

/// Words of `text` filled into lines of at most `max` columns. A word longer than a line (a
/// long symbol, a path, an escaped name) is split across lines, after a `/`, `:`, `,`, `_`,
/// `-` or `.` in its second half when it has one, else at the edge: no line is ever wider
/// than `max`.
///
/// A number and its unit ("15.5 MB", "3h 00m", "14 min") stay on one line: they are one word
/// to a reader.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in glued(text) {
        let mut word = word.as_str();
        if !line.is_empty() && width(&line) + 1 + width(word) > max {
            lines.push(std::mem::take(&mut line));
        }
        while width(word) > max {
            // Only at the start of a line: a long word gets whole lines of its own.
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let (head, tail) = split_word(word, max);
            lines.push(head.to_owned());
            word = tail;
        }
        if word.is_empty() {
            continue;
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// The words of `text`, a number joined to the unit after it by a space.
fn glued(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match words.last_mut() {
            Some(last) if number(last) && is_unit(word) => {
                last.push(' ');
                last.push_str(word);
            }
            _ => words.push(word.to_owned()),
        }
    }
    words
}

/// A word ending in a number, or the hours of "3h 00m".
fn number(word: &str) -> bool {
    let digits = word.strip_suffix('h').unwrap_or(word);
    digits.ends_with(|c: char| c.is_ascii_digit())
}

/// A unit as the renderers print one after a number: bytes and time, perhaps per minute, perhaps
/// followed by punctuation; or the minutes of "3h 00m".
fn is_unit(word: &str) -> bool {
    let word = word.trim_end_matches([',', ';', '.', ':', ')']);
    let base = word.split_once('/').map_or(word, |(u, _)| u);
    matches!(
        base,
        "B" | "KB" | "MB" | "GB" | "TB" | "PB" | "EB" | "s" | "ms" | "min" | "days" | "day"
    ) || (base.len() == 3 && base.ends_with('m') && base[..2].bytes().all(|b| b.is_ascii_digit()))
}

/// `word` (wider than `max`) split into a head at most `max` columns wide and the rest.
fn split_word(word: &str, max: usize) -> (&str, &str) {
    let mut head = prefix(word, max);
    if head.is_empty() {
        // A character wider than the whole line: it goes alone, a column over.
        head = &word[..word.chars().next().map_or(0, char::len_utf8)];
    }
    let half = width(head) / 2;
    let soft = head
        .char_indices()
        .rev()
        .find(|&(i, c)| matches!(c, '/' | ':' | ',' | '_' | '-' | '.') && width(&head[..i]) >= half)
        .map(|(i, c)| i + c.len_utf8());
    let at = soft.unwrap_or(head.len());
    (&word[..at], &word[at..])
}

/// Characters that print nothing or move the text around them but are not control
/// characters: bidirectional overrides and isolates (they can reorder a whole line, so that
/// the report shows a different name than the dump holds), zero-width spaces and joiners, the
/// byte-order mark, the soft hyphen, line and paragraph separators, and the non-characters
/// U+FFFE and U+FFFF.
pub fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fffe}'
            | '\u{ffff}'
    )
}

/// `s` with control characters (newlines, terminal escapes) and invisible ones (bidirectional
/// overrides, zero-width spaces) shown escaped: text from a dump must not move the cursor,
/// change colours, break a line of the report or pass for another name.
pub fn clean(s: &str) -> String {
    let hidden = |c: char| c.is_control() || invisible(c);
    if !s.chars().any(hidden) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hidden(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_decimal_units() {
        assert_eq!(bytes(812.0), "812 B");
        assert_eq!(bytes(4_200.0), "4.2 KB");
        assert_eq!(bytes(6_100_000.0), "6.1 MB");
        assert_eq!(bytes(-1_500_000_000.0), "-1.5 GB");
        assert_eq!(bytes(f64::NAN), "? B");
        assert_eq!(delta(1e6), "+1.0 MB");
        assert_eq!(delta(0.0), "0 B");
        assert_eq!(rate(-2e3), "-2.0 KB/min");
    }

    #[test]
    fn durations_pick_their_unit() {
        assert_eq!(duration(45.0), "45 s");
        assert_eq!(duration(1800.0), "30 min");
        assert_eq!(duration(7800.0), "2h 10m");
        assert_eq!(duration(3.0 * 86400.0), "3.0 days");
        assert_eq!(duration(-1.0), "?");
        assert_eq!(duration(f64::INFINITY), "?");
    }

    #[test]
    fn counts_and_percentages() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(5120), "5,120");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(percent(1.0, 4.0), "25%");
        assert_eq!(percent(1.0, 400.0), "0.2%");
        assert_eq!(percent(1.0, 0.0), "?");
    }

    #[test]
    fn dates_are_utc_civil_time() {
        assert_eq!(utc_datetime(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_datetime(1_700_003_600.0), "2023-11-14 23:13:20 UTC");
        assert_eq!(utc_datetime(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_hhmm(1_700_003_600.0), "23:13");
        assert_eq!(utc_hhmmss(1_700_003_601.5), "23:13:21");
        assert_eq!(utc_datetime(1e300), "?");
        assert_eq!(utc_datetime(f64::NAN), "?");
    }

    #[test]
    fn statistics_read_like_words() {
        assert_eq!(statistic("mann_kendall_z", 7.9), "Mann–Kendall Z = 7.90");
        assert_eq!(statistic("spike_count", 6.0), "spike count = 6");
        assert_eq!(
            statistic("bytes_per_entry_now", 9800.0),
            "bytes per entry now = 9.8 KB"
        );
        assert_eq!(
            statistic("baseline_slope_bytes_per_min", 2e6),
            "baseline slope bytes per min = +2.0 MB/min"
        );
        assert_eq!(
            statistic("median_third_rate_bytes_per_min", 3.1e6),
            "median rate of the thirds = +3.1 MB/min"
        );
        assert_eq!(
            statistic("last_third_rate_bytes_per_min", 2.7e6),
            "rate of the last third = +2.7 MB/min"
        );
        assert_eq!(statistic("period_secs", 300.0), "period = 5 min");
        assert_eq!(
            statistic("bytes_above_prior_entry_size", 118_443_461.2),
            "bytes above prior entry size = 118.4 MB"
        );
        assert_eq!(
            statistic("share_above", 0.85),
            "share above threshold = 85%"
        );
        assert_eq!(statistic("new_thing", 0.125), "new thing = 0.12");
    }

    #[test]
    fn sparklines_follow_time_not_points() {
        assert_eq!(sparkline(&[], 10), "");
        assert_eq!(sparkline(&[(0.0, 5.0)], 10), "▁");
        assert_eq!(sparkline(&[(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)], 3), "▁▁▁");
        let rising: Vec<(f64, f64)> = (0..8).map(|i| (i as f64, i as f64)).collect();
        assert_eq!(sparkline(&rising, 8), "▁▂▃▄▅▆▇█");
        // A coarse point at t = 0 holds until the fine points at the end of the span.
        let uneven = [(0.0, 0.0), (90.0, 7.0), (100.0, 7.0)];
        assert_eq!(sparkline(&uneven, 10), "▁▁▁▁▁▁▁▁▁█");
        // A spike narrower than a character still shows.
        let spike: Vec<(f64, f64)> = (0..100)
            .map(|i| (i as f64, if i == 51 { 9.0 } else { 1.0 }))
            .collect();
        assert_eq!(sparkline(&spike, 10), "▁▁▁▁▁█▁▁▁▁");
        // Noise of 0.2% around a high level stays flat.
        let noisy = [(0.0, 1000.0), (1.0, 1002.0), (2.0, 998.0)];
        assert_eq!(sparkline(&noisy, 3), "▁▂▁");
        assert_eq!(sparkline(&[(f64::NAN, 1.0), (0.0, f64::INFINITY)], 4), "");
    }

    #[test]
    fn wrapping_and_truncation() {
        assert_eq!(wrap("a bb ccc dddd", 6), vec!["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("", 6), vec![""]);
        assert_eq!(
            wrap("averyveryverylongword x", 5),
            vec!["avery", "veryv", "erylo", "ngwor", "d x"]
        );
        assert_eq!(truncate("users_cache", 20), "users_cache");
        assert_eq!(truncate("users_cache", 6), "users…");
    }

    #[test]
    fn long_words_are_split_and_no_line_is_wider_than_asked() {
        assert_eq!(
            wrap("at photo_api::session::SessionStore::record_event now", 24),
            vec![
                "at",
                "photo_api::session::",
                "SessionStore::record_",
                "event now"
            ]
        );
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        let escaped = clean(&"\u{1b}".repeat(30));
        for max in [1, 7, 40, 100] {
            for line in wrap(&format!("x {escaped} y"), max) {
                assert!(width(&line) <= max, "{max}: {line}");
            }
        }
    }

    #[test]
    fn numbers_keep_their_units() {
        assert_eq!(
            wrap("clock at 3h 00m, 1.1 MB/min over 14 min; 2 dumps", 12),
            vec![
                "clock at",
                "3h 00m,",
                "1.1 MB/min",
                "over 14 min;",
                "2 dumps"
            ]
        );
    }

    #[test]
    fn frames_keep_their_place_when_cut() {
        let f = Frame {
            addr: 1,
            function: Some("photo_api::handlers::upload::finish".into()),
            file: Some("src/handlers/upload.rs".into()),
            line: Some(142),
        };
        assert_eq!(frame_fit(&f, 100), frame(&f));
        assert_eq!(
            frame_fit(&f, 50),
            "photo_api::handlers:… (src/handlers/upload.rs:142)"
        );
        assert_eq!(
            frame_fit(&f, 40),
            "photo_api::hand… (…ndlers/upload.rs:142)"
        );
        assert!(width(&frame_fit(&f, 40)) <= 40);
        assert_eq!(frame_fit(&f, 12), "photo_api::…");
        assert_eq!(suffix("キャッシュ", 5), "シュ");
    }

    #[test]
    fn widths_count_columns_not_characters() {
        assert_eq!(width("キャッシュ"), 10);
        assert_eq!(width("e\u{301}"), 1);
        assert_eq!(width("▁▂█ — → •"), 9);
        assert_eq!(truncate("キャッシュ", 6), "キャ…");
        assert_eq!(truncate("キャッシュ", 5), "キャ…");
        assert_eq!(pad_right("キャ", 6), "キャ  ");
        assert_eq!(pad_left("ab", 4), "  ab");
        assert_eq!(pad_left("abcde", 4), "abcde");
        assert_eq!(wrap("キャッシュ", 4), vec!["キャ", "ッシ", "ュ"]);
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(clean("plain ü"), "plain ü");
        assert_eq!(clean("a\nb\u{1b}[31m"), "a\\nb\\u{1b}[31m");
        // A right-to-left override would show "users_cache" for this name.
        assert_eq!(clean("ehcac_\u{202e}users"), "ehcac_\\u{202e}users");
        assert_eq!(clean("a\u{200b}b\u{feff}"), "a\\u{200b}b\\u{feff}");
    }

    #[test]
    fn frames_and_sites() {
        let f = Frame {
            addr: 0xabc,
            function: Some("app::f".into()),
            file: Some("src/f.rs".into()),
            line: Some(9),
        };
        assert_eq!(frame(&f), "app::f (src/f.rs:9)");
        let bare = Frame {
            addr: 0xabc,
            ..Frame::default()
        };
        assert_eq!(frame(&bare), "0xabc");
        assert_eq!(site(&CallSite::default()), "(no frames)");
    }
}
