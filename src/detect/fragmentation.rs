//! Fragmentation (docs/detectors.md, "Fragmentation"): process RSS rises while the tracked live bytes stay flat.
//!
//! Process-wide, over the detection window: the gap g = RSS − tracked live bytes (leakscope's own
//! included), bucketed to its floor like a scope's bytes. It fires when g rises significantly
//! (Mann–Kendall Z > 3.09) at ≥ max(0.64 · G, 10% of RSS) per two detection windows (
//! max(64 MB, 10% of RSS) per hour at the defaults), while tracked bytes are flat
//! (|Kendall τ| < 0.2) and RSS ≥ 1.5 × tracked, the gap rising in each third of the window by a
//! tenth of its rise and ending at least G/20 above the highest window floor before the window.
//! Snapshots without an RSS reading are skipped.

use super::gradual::Z_CRITICAL;
use super::recommend::{fmt_bytes, fmt_rate};
use super::series::{self, Pick};
use super::DetectorConfig;
use super::{
    fit_growth, new_finding, raise, stat, stats, time_to_budget, to_bytes, Finding, Knobs,
    PROCESS_SCOPE,
};
use crate::leak::LeakType;
use crate::snapshot::ProcessSnapshot;

/// Tracked bytes count as flat below this |τ|.
const TRACKED_TAU_MAX: f64 = 0.2;
/// RSS must be at least this multiple of tracked bytes.
const RSS_RATIO_MIN: f64 = 1.5;
/// The gap must grow by this share of RSS per horizon, if that is more than the floor.
const RSS_SHARE: f64 = 0.10;
/// An RSS three times the tracked bytes raises the severity a level.
const RSS_RATIO_SEVERE: f64 = 3.0;
const MIN_POINTS: usize = 8;
/// Each third of the window must add at least this share of the gap's rise.
const THIRD_SHARE: f64 = 0.1;

pub(super) fn detect(series: &[ProcessSnapshot], config: &DetectorConfig) -> Option<Finding> {
    let with_rss: Vec<(f64, f64, f64)> = series
        .iter()
        .filter_map(|s| s.rss_bytes.map(|r| (s.t, r as f64, s.tracked_bytes as f64)))
        .collect();
    let times: Vec<f64> = with_rss.iter().map(|p| p.0).collect();
    let dt = series::cadence(&times)?;
    let &(t_end, rss_now, tracked_now) = with_rss.last()?;
    let k = Knobs::new(config, dt);
    if !(k.window > 0.0 && t_end - times[0] + dt >= k.window * (1.0 - 1e-9)) {
        return None;
    }
    let gaps: Vec<f64> = with_rss.iter().map(|p| p.1 - p.2).collect();
    let picks = series::bucket_picks(
        &times,
        &gaps,
        t_end - k.window,
        t_end,
        k.floor_bucket,
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
    let per_horizon = growth.linear.slope * k.frag_horizon / 60.0;
    let needed = k.frag_floor_bytes.max(RSS_SHARE * rss_now);
    let ratio = rss_now / tracked_now.max(1.0);
    if !(gap_mk.z > Z_CRITICAL
        && tracked_mk.tau.abs() < TRACKED_TAU_MAX
        && per_horizon >= needed
        && ratio >= RSS_RATIO_MIN)
    {
        return None;
    }
    // The gap must reach above its earlier range: an allocator that keeps the pages of a big
    // request for a while and then returns them raises the gap to a level it held before.
    let earlier = series::bucket_picks(
        &times,
        &gaps,
        times[0] - dt,
        t_end - k.window,
        k.window,
        Pick::Min,
    );
    let prior_high = earlier.iter().map(|&i| gaps[i]).reduce(f64::max);
    let n = g.len();
    let level_at = |i: usize| stats::level_near(&g, i);
    let level_now = level_at(n - 1)?;
    // Spread over the window, as gradual growth's rule: a big request's pages kept by the
    // allocator raise the gap at once, in one third; fragmentation raises it in each.
    let marks = [
        level_at(0)?,
        level_at(n / 3)?,
        level_at(n - 1 - n / 3)?,
        level_now,
    ];
    let rise = level_now - marks[0];
    let least_third = stats::least_rise(&marks);
    if !(least_third >= THIRD_SHARE * rise) {
        return None;
    }
    let above = prior_high.map(|h| level_now - h);
    if above.is_some_and(|a| !(a >= k.spike_min_bytes)) {
        return None;
    }
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
    let mut severity = k.severity(growth.rate_per_min, None);
    if ratio >= RSS_RATIO_SEVERE {
        severity = raise(severity);
    }
    f.severity = k.with_budget(severity, ttb);
    f.confidence = gap_mk.tau.clamp(0.0, 1.0);
    let x_start = (t[0] - t_end) / 60.0;
    f.baseline_bytes = to_bytes(growth.linear.at(x_start));
    f.growth_bytes = growth.linear_since(x_start);
    f.set_growth(&growth, ttb);
    f.statistics = vec![
        stat("gap_mann_kendall_z", gap_mk.z),
        stat("tracked_tau", tracked_mk.tau),
        stat("gap_growth_per_horizon_bytes", per_horizon),
        stat("rss_to_tracked", ratio),
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
