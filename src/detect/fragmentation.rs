//! Fragmentation (docs/detectors.md, "Fragmentation"): process RSS rises while the tracked live bytes stay flat.
//!
//! Process-wide, over the detection window: the gap g = RSS − tracked live bytes (leakscope's own
//! included), bucketed to its floor like a scope's bytes. It fires when g rises significantly
//! (Mann–Kendall Z > 3.09) at ≥ max(0.64 · G, 10% of tracked bytes) per two detection windows
//! (max(64 MB, 10% of tracked bytes) per hour at the defaults), while tracked bytes are flat
//! (|Kendall τ| < 0.2, or a Theil–Sen drift of at most a tenth of the gap's rate), the gap
//! rising in each third of the window by a tenth of its rise and ending at least G/20 above the
//! highest window floor before the window, and G/2 above it in all (what gradual growth asks of
//! a scope's fast spans: 50 MB at the defaults, so a gap growing 2 MB/min beside 600 MB of
//! tracked bytes is found within the hour, not when RSS has reached 1.5× tracked, the rule this
//! replaced: docs/detectors.md). The same test runs over half, two and four detection windows
//! too, with buckets as many times shorter or longer; the longest span that holds gives the
//! finding. Growth that slows is held, not opened (the allocator's own warm-up after start:
//! arenas, thread caches and the pages of early peaks settle into RSS fast at first, then
//! slower): the last third of a span must rise at half the pace of the first (a quarter keeps an
//! open finding), and the span may not have risen less than the one before it by 1.3× (or the
//! one before that by 1.3²×). Evidence from the first baseline window opens a finding only at R
//! or faster, or when the gap has kept one pace since the first snapshot. A gap that has fallen
//! from its high in the last third (the allocator returning a huge request's pages) is held
//! too. The severity reads the slowest of the fitted rate, the median of the thirds' rates and the
//! last third's; from a span that starts in the warm-up over a gap that has slowed since the first
//! snapshot it is Low (by rate), and a shorter span taken because the longer ones start in the
//! warm-up reads no higher than they do. Snapshots without an RSS reading are skipped.

use super::gradual::{FILL_RATIO, HALF, PACE_HOLD, PACE_OPEN, THIRD_SHARE, Z_CRITICAL};
use super::recommend::{fmt_bytes, fmt_rate};
use super::series::{self, Pick};
use super::DetectorConfig;
use super::{
    fit_growth, new_finding, raise, stat, stats, time_to_budget, to_bytes, Finding, Knobs,
    PROCESS_SCOPE,
};
use crate::leak::{LeakSeverity, LeakType};
use crate::snapshot::ProcessSnapshot;

/// Tracked bytes count as flat below this |τ|.
const TRACKED_TAU_MAX: f64 = 0.2;
/// … or drift at most this share of the gap's rate.
const TRACKED_DRIFT_MAX: f64 = 0.1;
/// The gap must grow by this share of the tracked bytes per horizon, if that is more than the
/// floor. The tracked bytes, not RSS: RSS includes the gap, so a share of it would raise the bar
/// as the fragmentation grows, until the leak stopped clearing its own bar and resolved.
const TRACKED_SHARE: f64 = 0.10;
/// An RSS three times the tracked bytes raises the severity a level.
const RSS_RATIO_SEVERE: f64 = 3.0;
const MIN_POINTS: usize = 8;
/// The spans read, in detection windows.
const SPAN_WINDOWS: [f64; 4] = [0.5, 1.0, 2.0, 4.0];

pub(super) fn detect(series: &[ProcessSnapshot], config: &DetectorConfig) -> Option<Finding> {
    let with_rss: Vec<(f64, f64, f64)> = series
        .iter()
        .filter_map(|s| s.rss_bytes.map(|r| (s.t, r as f64, s.tracked_bytes as f64)))
        .collect();
    let times: Vec<f64> = with_rss.iter().map(|p| p.0).collect();
    let dt = series::cadence(&times)?;
    let &(t_end, _, _) = with_rss.last()?;
    let k = Knobs::new(config, dt);
    let gaps: Vec<f64> = with_rss.iter().map(|p| p.1 - p.2).collect();
    if !(k.window > 0.0) {
        return None;
    }
    let p = Process {
        with_rss: &with_rss,
        times: &times,
        gaps: &gaps,
        dt,
    };
    // Any span that holds makes a finding, and the longest that holds gives it, so its rate and
    // severity are the steadiest evidence there is: half a detection window sees a new rise
    // soonest but its rate is noisy (taken alone it changed the severity three times per leak),
    // and the pages of a huge request kept for a while and then returned make the gap fall for
    // half an hour while it grows over hours, which only the longer spans read through.
    // Evidence starts past the warm-up, as gradual growth's does: a span that starts in the
    // first baseline window only opens a finding on a gap growing at R or faster, or one that
    // has grown at an unslowing pace since the series began. The allocator's own warm-up slows
    // as it settles (and, at most 150 MB in the corpus, is slower than the rate gate past the
    // baseline window); fragmentation from the start keeps its pace.
    let mut found: Vec<Finding> = SPAN_WINDOWS
        .iter()
        .rev()
        .filter_map(|&w| {
            let span = w * k.window;
            let covered = t_end - times[0] + dt >= span * (1.0 - 1e-9);
            covered.then(|| detect_at(&p, &k, config, span)).flatten()
        })
        .collect();
    let warming = |f: &Finding| {
        f.window[0] < times[0] + k.baseline - dt && f.rate_bytes_per_min < k.rate_per_min
    };
    if found.is_empty() {
        return None;
    }
    let f = match found.iter().position(|f| !warming(f)) {
        Some(i) => {
            // The longer spans before it start in the warm-up, whose growth only adds to the
            // gap's: where they read a slower rate, the shorter span's is its noise (the pages of
            // a huge request kept for a while, late in it), not a faster leak.
            let least = found[..i].iter().map(|f| f.severity).min();
            let mut f = found.swap_remove(i);
            f.severity = least.map_or(f.severity, |s| s.min(f.severity));
            f
        }
        None => {
            let mut f = found.swap_remove(0);
            f.hold_only |= !unslowing_since_start(&p, &k);
            f
        }
    };
    Some(f)
}

/// Whether the gap's floor since the first snapshot rose in its second half at least
/// 1/`FILL_RATIO` of what it rose in its first: growth at one pace (fragmentation from the
/// start), not a warm-up settling.
fn unslowing_since_start(p: &Process, k: &Knobs) -> bool {
    let t_end = p.times[p.times.len() - 1];
    let picks = series::bucket_picks(
        p.times,
        p.gaps,
        p.times[0] - p.dt,
        t_end,
        k.floor_bucket,
        Pick::Min,
    );
    let g: Vec<f64> = picks.iter().map(|&i| p.gaps[i]).collect();
    let n = g.len();
    if n < MIN_POINTS {
        return false;
    }
    match (
        stats::level_near(&g, 0),
        stats::level_near(&g, n / 2),
        stats::level_near(&g, n - 1),
    ) {
        (Some(a), Some(m), Some(b)) => m > a && b - m >= (m - a) / FILL_RATIO,
        _ => false,
    }
}

/// The process series with an RSS reading: (time, RSS, tracked bytes), their times and gaps.
struct Process<'a> {
    with_rss: &'a [(f64, f64, f64)],
    times: &'a [f64],
    gaps: &'a [f64],
    dt: f64,
}

/// The test over the last `span` seconds (the module docs).
fn detect_at(p: &Process, k: &Knobs, config: &DetectorConfig, span: f64) -> Option<Finding> {
    let (with_rss, times, gaps, dt) = (p.with_rss, p.times, p.gaps, p.dt);
    let &(t_end, rss_now, tracked_now) = with_rss.last()?;
    let scale = span / k.window;
    let picks = series::bucket_picks(
        times,
        gaps,
        t_end - span,
        t_end,
        k.floor_bucket * scale,
        Pick::Min,
    );
    if picks.len() < MIN_POINTS {
        return None;
    }
    let t: Vec<f64> = picks.iter().map(|&i| with_rss[i].0).collect();
    let g: Vec<f64> = picks.iter().map(|&i| gaps[i]).collect();
    let tracked: Vec<f64> = picks.iter().map(|&i| with_rss[i].2).collect();
    let gap_mk = stats::mann_kendall(&g)?;
    let tracked_mk = stats::mann_kendall(&tracked)?;
    let growth = fit_growth(&t, &g, t_end)?;
    // Tracked bytes are flat when they show no order (|τ| small), or when whatever way they
    // drift is small beside the gap's growth: a cache's sawtooth can order half an hour of
    // tracked bytes by a few MB while the gap grows by hundreds.
    let minutes: Vec<f64> = t.iter().map(|t| (t - t_end) / 60.0).collect();
    let tracked_slope = stats::theil_sen(&minutes, &tracked)?.slope;
    let tracked_flat = tracked_mk.tau.abs() < TRACKED_TAU_MAX
        || tracked_slope.abs() <= TRACKED_DRIFT_MAX * growth.linear.slope;
    let per_horizon = growth.linear.slope * k.frag_horizon / 60.0;
    let needed = k.frag_floor_bytes.max(TRACKED_SHARE * tracked_now);
    let ratio = rss_now / tracked_now.max(1.0);
    if !(gap_mk.z > Z_CRITICAL && tracked_flat && per_horizon >= needed) {
        return None;
    }
    // The gap must reach above its earlier range: an allocator that keeps the pages of a big
    // request for a while and then returns them raises the gap to a level it held before.
    let earlier = series::bucket_picks(times, gaps, times[0] - dt, t_end - span, span, Pick::Min);
    let prior_high = earlier.iter().map(|&i| gaps[i]).reduce(f64::max);
    // Spread over the window, as gradual growth's rule: a big request's pages kept by the
    // allocator raise the gap at once, in one third; fragmentation raises it in each.
    let marks = stats::third_marks(&g)?;
    let level_now = marks[3];
    let rise = level_now - marks[0];
    let least_third = stats::least_rise(&marks);
    if !(least_third >= THIRD_SHARE * rise) {
        return None;
    }
    // Giving back: the gap's newest level well below its highest in the last third is the
    // allocator returning the pages of a huge request it kept (a 200 MB request's pages decaying
    // over 20 minutes read, at the end of a span, as the gap risen far above where it was).
    // Fragmentation does not fall; such a span keeps an open finding and opens none.
    let n_g = g.len();
    let recent_high = (n_g - 1 - n_g / 3..n_g)
        .filter_map(|i| stats::level_near(&g, i))
        .fold(f64::NEG_INFINITY, f64::max);
    let giving_back = recent_high - level_now >= k.spike_min_bytes.max(THIRD_SHARE * rise);
    let above = prior_high.map(|h| level_now - h);
    if above.is_some_and(|a| !(a >= k.spike_min_bytes)) {
        return None;
    }
    // Big in itself: a gap that has long been large beside the tracked bytes is no evidence
    // that it grows.
    let grown = above.map_or(rise, |a| a.min(rise));
    if !(grown >= HALF * k.growth_bytes) {
        return None;
    }
    // The pace of the last third against the first: the allocator's warm-up decelerates.
    let pace = (marks[3] - marks[2]) / (marks[1] - marks[0]).max(rise / 3.0).max(f64::MIN_POSITIVE);
    if !(pace >= PACE_HOLD) {
        return None;
    }
    // … and against the spans before this one, wholly in the history.
    let width = k.floor_bucket * scale;
    let slowing = super::gradual::slowed(t_end, times[0], span, rise, |from, to| {
        let picks = series::bucket_picks(times, gaps, from, to, width, Pick::Min);
        let g: Vec<f64> = picks.iter().map(|&i| gaps[i]).collect();
        stats::third_marks(&g).map(|m| m[3] - m[0])
    });
    let budget = config.budget(PROCESS_SCOPE);
    // The projection is for RSS: the gap grows on top of flat tracked bytes.
    let mut rss_growth = growth;
    rss_growth.now_bytes += tracked_now;
    rss_growth.linear.intercept += tracked_now;
    let ttb = time_to_budget(&rss_growth, rss_now, budget);
    let mut f = new_finding(
        PROCESS_SCOPE,
        LeakType::Fragmentation,
        t_end,
        [t[0], t_end],
        to_bytes(rss_now),
        budget,
    );
    // The severity reads the median of the three thirds' rates, not the fitted line: a huge
    // request's retained pages jump the gap in one third, and near R the line's slope then
    // raised the severity for the minutes the jump sat late in the span (Low, Medium, Low).
    let n = t.len();
    let at = [t[0], t[n / 3], t[n - 1 - n / 3], t[n - 1]];
    let per_third: Vec<f64> = (0..3)
        .map(|i| (marks[i + 1] - marks[i]) / ((at[i + 1] - at[i]).max(dt) / 60.0))
        .collect();
    // … and no faster than the last third's: a gap still settling from the allocator's warm-up
    // grew faster early in the span, and the leak is the pace it keeps now (7.2, 5.4 and
    // 4.8 MB/min in the thirds of the first 15 minutes over a 2.7 MB/min leak: Medium by the
    // median, Low an hour later).
    let steady_rate = stats::median(&per_third).unwrap_or(growth.rate_per_min);
    // A span that starts in the warm-up, over a gap that has slowed since the first snapshot,
    // says that the gap grows, not how fast a leak does: the allocator's settling adds its own,
    // falling rate (at 15 minutes, 5.5 MB/min over a 3.6 MB/min leak, Medium and then Low).
    let rate_told = t[0] >= times[0] + k.baseline - dt || unslowing_since_start(p, k);
    let mut severity = if rate_told {
        k.severity(steady_rate.min(growth.rate_per_min).min(per_third[2]), None)
    } else {
        LeakSeverity::Low
    };
    if ratio >= RSS_RATIO_SEVERE {
        severity = raise(severity);
    }
    f.severity = k.with_budget(severity, ttb);
    f.hold_only = pace < PACE_OPEN || slowing || giving_back;
    f.confidence = gap_mk.tau.clamp(0.0, 1.0);
    let x_start = (t[0] - t_end) / 60.0;
    f.baseline_bytes = to_bytes(growth.linear.at(x_start));
    f.growth_bytes = growth.linear_since(x_start);
    f.set_growth(&growth, ttb);
    f.statistics = vec![
        stat("gap_mann_kendall_z", gap_mk.z),
        stat("tracked_tau", tracked_mk.tau),
        stat("tracked_slope_bytes_per_min", tracked_slope),
        stat("gap_growth_per_horizon_bytes", per_horizon),
        stat("rss_to_tracked", ratio),
        stat("recent_pace_ratio", pace),
        stat("median_third_rate_bytes_per_min", steady_rate),
        stat("last_third_rate_bytes_per_min", per_third[2]),
        stat("tracked_bytes", tracked_now),
        stat("rss_bytes", rss_now),
    ];
    if let Some(a) = above {
        f.statistics.push(stat("gap_above_prior_floor_bytes", a));
    }
    f.summary = format!(
        "RSS - tracked bytes grows {} while tracked bytes stay flat at {}; RSS {} is {:.1}x tracked",
        fmt_rate(growth.rate_per_min),
        fmt_bytes(tracked_now),
        fmt_bytes(rss_now),
        ratio
    );
    Some(f)
}
