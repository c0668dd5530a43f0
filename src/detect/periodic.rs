//! Periodic spikes (docs/detectors.md, "PeriodicSpike"): regular spikes, a leak when the minima between them rise.
//!
//! Method (after Twitter's S-H-ESD, which scores points by median and MAD): over the periodic
//! span (the longer of the detection and baseline windows), the peak series (maximum per bucket)
//! is scored against its rolling median (9 buckets); a spike is a point with
//! (y − rolling median)/σ̂ > 3.5, σ̂ = 1.4826·MAD of those residuals. Two guards make it a spike
//! rather than the top of a cache's eviction sawtooth: it must stand above the points 4 buckets
//! away on *both* sides by 3.5 σ̂ of the 4-lagged differences (a sawtooth rises slowly), and be at
//! least the smallest spike of the Scale table. Adjacent spike points are one spike. The series
//! is periodic when there are ≥ 5 spikes, the coefficient of variation of their intervals is
//! ≤ 0.2 and the residuals' autocorrelation at the median interval (±1 bucket, for the
//! bucketing) is ≥ 0.3. The minima between spikes then decide: rising (Mann–Kendall one-sided
//! p < 0.05 with the gradual detector's magnitude gate) is a leak under a sawtooth, High; flat
//! is a batch job to smooth, Low.

use super::recommend::{fmt_bytes, fmt_minutes, fmt_rate};
use super::series::Pick;
use super::{fit_growth, stat, stats, time_to_budget, to_bytes, Ctx, Finding};
use crate::leak::{LeakSeverity, LeakType};

/// Half the rolling-median width, in buckets.
const HALF_WIDTH: usize = 4;
/// Score a point must exceed to be a spike.
const SPIKE_SCORE: f64 = 3.5;
/// How far (in buckets) the series must be back down on both sides of a spike.
const SIDE_LAG: usize = 4;
/// Spikes needed to call them periodic.
const MIN_SPIKES: usize = 5;
/// Largest coefficient of variation of the intervals between spikes.
const MAX_INTERVAL_CV: f64 = 0.2;
/// Least autocorrelation at the spike period.
const MIN_AUTOCORRELATION: f64 = 0.3;
/// Minima between spikes rise at one-sided p < 0.05 (there are few of them).
const MINIMA_Z: f64 = 1.645;
/// Fewer peak points than this hold no five spikes with room around them.
const MIN_POINTS: usize = 20;

pub(super) fn detect(ctx: &Ctx) -> Option<Finding> {
    let k = &ctx.k;
    let span = k.periodic_span;
    if span <= 0.0 {
        return None;
    }
    let pts = ctx.points(ctx.t_end - span, ctx.t_end, k.peak_bucket, Pick::Max);
    let n = pts.len();
    if n < MIN_POINTS {
        return None;
    }
    let y: Vec<f64> = pts.iter().map(|p| p.bytes).collect();
    // The rolling median runs on every snapshot of every scope: a stack buffer, no allocation.
    let mut buf = [0.0f64; 2 * HALF_WIDTH + 1];
    let resid: Vec<f64> = (0..n)
        .map(|i| {
            let lo = i.saturating_sub(HALF_WIDTH);
            let hi = (i + HALF_WIDTH + 1).min(n);
            let w = &mut buf[..hi - lo];
            w.copy_from_slice(&y[lo..hi]);
            y[i] - stats::median_in_place(w).unwrap_or(y[i])
        })
        .collect();
    let floor_sigma = (k.spike_min_bytes * 1e-3).max(f64::MIN_POSITIVE);
    let sigma = stats::robust_sigma(&resid)?.max(floor_sigma);
    let lagged: Vec<f64> = y
        .windows(SIDE_LAG + 1)
        .map(|w| w[SIDE_LAG] - w[0])
        .collect();
    let lag_centre = stats::median(&lagged)?;
    let lag_sigma = stats::robust_sigma(&lagged)?.max(floor_sigma);

    let is_spike = |i: usize| {
        if i < SIDE_LAG || i + SIDE_LAG >= n {
            return false;
        }
        // Rise into the point and fall out of it, each beyond what the trend explains.
        let rise = (y[i] - y[i - SIDE_LAG] - lag_centre) / lag_sigma;
        let fall = (y[i] - y[i + SIDE_LAG] + lag_centre) / lag_sigma;
        resid[i] / sigma > SPIKE_SCORE
            && resid[i] >= k.spike_min_bytes
            && rise > SPIKE_SCORE
            && fall > SPIKE_SCORE
    };
    // Merge runs of adjacent spike points into one spike at their highest point.
    let mut spikes: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < n {
        if is_spike(i) {
            let mut best = i;
            let mut j = i + 1;
            while j < n && is_spike(j) {
                if y[j] > y[best] {
                    best = j;
                }
                j += 1;
            }
            spikes.push(best);
            i = j;
        } else {
            i += 1;
        }
    }
    if spikes.len() < MIN_SPIKES {
        return None;
    }
    let intervals: Vec<f64> = spikes
        .windows(2)
        .map(|w| pts[w[1]].t - pts[w[0]].t)
        .collect();
    let cv = stats::coefficient_of_variation(&intervals)?;
    if !(cv <= MAX_INTERVAL_CV) {
        return None;
    }
    let lag_buckets: Vec<f64> = spikes.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    let lag = stats::median(&lag_buckets)?.round().max(1.0) as usize;
    let autocorrelation = (lag.saturating_sub(1).max(1)..=lag + 1)
        .filter_map(|l| stats::autocorrelation(&resid, l))
        .fold(f64::NEG_INFINITY, f64::max);
    if !(autocorrelation >= MIN_AUTOCORRELATION) {
        return None;
    }
    let period = stats::median(&intervals)?;
    let heights: Vec<f64> = spikes.iter().map(|&i| resid[i]).collect();
    let height = stats::median(&heights)?;

    // Minima between consecutive spikes, from the raw snapshots.
    let mut min_t = Vec::new();
    let mut min_b = Vec::new();
    for w in spikes.windows(2) {
        let (a, b) = (pts[w[0]].t, pts[w[1]].t);
        let lo = ctx.times.partition_point(|&t| t <= a);
        let hi = ctx.times.partition_point(|&t| t < b);
        if let Some(p) = ctx.pts[lo..hi]
            .iter()
            .min_by(|a, b| a.bytes.total_cmp(&b.bytes))
        {
            min_t.push(p.t);
            min_b.push(p.bytes);
        }
    }
    let minima_mk = stats::mann_kendall(&min_b)?;
    let minima = fit_growth(&min_t, &min_b, ctx.t_end)?;
    let window_min = k.window / 60.0;
    let slope = minima.linear.slope;
    let rising = minima_mk.z > MINIMA_Z
        && slope > 0.0
        && (slope * window_min >= k.growth_bytes || slope >= k.rate_per_min);

    let start = pts[spikes[0]].t;
    let mut f = ctx.finding(LeakType::PeriodicSpike, [start, ctx.t_end]);
    f.confidence = autocorrelation.clamp(0.0, 1.0) * (1.0 - cv).clamp(0.0, 1.0);
    f.baseline_bytes = to_bytes(min_b.first().copied().unwrap_or(0.0));
    f.statistics = vec![
        stat("interval_cv", cv),
        stat("autocorrelation", autocorrelation),
        stat("spike_count", spikes.len() as f64),
        stat("period_secs", period),
        stat("spike_height_bytes", height),
        stat("minima_mann_kendall_z", minima_mk.z),
        stat("minima_slope_bytes_per_min", slope),
        stat("minima_rising", if rising { 1.0 } else { 0.0 }),
    ];
    if rising {
        let ttb = time_to_budget(&minima, ctx.current_bytes() as f64, ctx.budget);
        f.severity = k.with_budget(LeakSeverity::High, ttb);
        f.growth_bytes = minima.linear_since((start - ctx.t_end) / 60.0);
        f.set_growth(&minima, ttb);
        f.summary = format!(
            "{}: {} spikes every {} and the minima between them rise {}: a leak under a sawtooth",
            ctx.name,
            fmt_bytes(height),
            fmt_minutes(period),
            fmt_rate(minima.rate_per_min)
        );
    } else {
        f.severity = LeakSeverity::Low;
        f.summary = format!(
            "{}: {} spikes every {} over a flat floor: a batch job to smooth, not a leak",
            ctx.name,
            fmt_bytes(height),
            fmt_minutes(period)
        );
    }
    Some(f)
}
