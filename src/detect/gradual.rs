//! Gradual growth (SPEC 11 rule 1): a steady rise of the floor series over the detection window.
//!
//! Method: Mann–Kendall on the floor series (one-sided p < 0.001, i.e. Z > 3.09, and Kendall's
//! τ ≥ 0.5), a Theil–Sen slope for the magnitude gate (growth over the window ≥
//! `memory_growth_threshold_mb` or slope ≥ `growth_rate_threshold_mb_per_min`), the plateau
//! rule (the most recent third of the window, in raw snapshots, still grows at ≥ half the
//! window's slope, so a cache that filled up and flattened is not a leak; an open leak is held
//! within two standard errors of that bar, so a noisy slow leak does not flap, and opened only
//! when the recent slope is itself above two standard errors), and the block count rising too (bytes
//! alone rising can be a few blocks being resized). Only full windows are judged: a scope
//! younger than the window may still be warming up. The magnitude gate also requires the floor's
//! level to have risen by as much (medians of its first and last five points), so a working
//! set that grew in a few minutes and stopped is measured by what it added, not by its slope.
//!
//! When the detection window finds nothing, the same test runs over the periodic span (the
//! longer of the detection and baseline windows) in ten buckets: an eviction sawtooth slower
//! than the floor bucket survives in the fine floor series and hides a rising floor, while
//! buckets a tenth of an hour wide take its minimum.

use super::recommend::{fmt_bytes, fmt_minutes, fmt_rate};
use super::{fit_growth, stat, stats, time_to_budget, to_bytes, to_delta, Ctx, Finding};
use crate::leak::LeakType;

/// One-sided p < 0.001.
pub(crate) const Z_CRITICAL: f64 = 3.09;
/// Kendall's τ a trend must reach: at least three quarters of ordered pairs rise.
pub(crate) const TAU_MIN: f64 = 0.5;
/// The block count must rise at the same bar as the bytes: a weaker one (p < 0.05) is crossed
/// by chance within hours when the detectors run on every snapshot.
const BLOCKS_Z: f64 = Z_CRITICAL;
/// Below this share of the window's slope the recent third is flat: a cache that filled up.
const WARM_UP_RATIO: f64 = 0.25;
/// Floor points whose median gives the level at each end of the span.
const LEVEL_POINTS: usize = 5;
/// Buckets of the long span.
const LONG_BUCKETS: f64 = 10.0;
/// The recent third must grow at least this fraction of the window's slope (no plateau).
const RECENT_SLOPE_MIN: f64 = 0.5;
/// Standard errors of the recent slope that a plateau must be below half the window's slope by.
const PLATEAU_SE: f64 = 2.0;
/// Fewer floor points than this cannot reach Z > 3.09 anyway.
const MIN_POINTS: usize = 10;

pub(super) fn detect(ctx: &Ctx) -> Option<Finding> {
    let k = &ctx.k;
    // The detection window at its floor bucket; then the longer periodic span at a tenth of it,
    // whose wider buckets flatten an eviction sawtooth too slow for the fine floor.
    let long = k.periodic_span;
    detect_at(ctx, k.window, k.floor_bucket).or_else(|| {
        (long > k.window)
            .then(|| detect_at(ctx, long, long / LONG_BUCKETS))
            .flatten()
    })
}

/// The gradual-growth test over the last `span` seconds of floor buckets `bucket` wide.
fn detect_at(ctx: &Ctx, span: f64, bucket: f64) -> Option<Finding> {
    let k = &ctx.k;
    if !ctx.covers(span) {
        return None;
    }
    let floor = ctx.points(
        ctx.t_end - span,
        ctx.t_end,
        bucket.max(ctx.dt),
        super::series::Pick::Min,
    );
    if floor.len() < MIN_POINTS {
        return None;
    }
    let t: Vec<f64> = floor.iter().map(|p| p.t).collect();
    let bytes: Vec<f64> = floor.iter().map(|p| p.bytes).collect();
    let mk = stats::mann_kendall(&bytes)?;
    if !(mk.z > Z_CRITICAL && mk.tau >= TAU_MIN) {
        return None;
    }
    let growth = fit_growth(&t, &bytes, ctx.t_end)?;
    let slope = growth.linear.slope;
    let window_min = k.window / 60.0;
    // Growth over the span measured twice: the fitted slope, and the rise between the medians of
    // the first and last five floor points. A rise concentrated in part of the span (a working
    // set that grew and stopped) fits a steep slope, but only the level difference says how much
    // memory was actually added.
    let level = |v: &[f64]| stats::median(v);
    let rise = level(&bytes[bytes.len() - LEVEL_POINTS..])? - level(&bytes[..LEVEL_POINTS])?;
    let span_growth = (slope * span / 60.0).min(rise);
    let by_growth = span_growth >= k.growth_bytes && slope * window_min >= k.growth_bytes;
    if !(by_growth || (slope >= k.rate_per_min && rise >= k.rate_per_min)) {
        return None;
    }
    // The plateau rule, on the raw snapshots of the most recent third of the span: a third of
    // the floor series is ten points, whose slope noise alone often puts above half the
    // window's, while the raw snapshots are many more (sampled by Theil–Sen beyond 120).
    let recent_from = ctx.t_end - span / 3.0;
    let first_recent = ctx.times.partition_point(|&x| x <= recent_from);
    let recent_x: Vec<f64> = ctx.times[first_recent..].iter().map(|x| x / 60.0).collect();
    let recent_y = &ctx.bytes[first_recent..];
    let recent = stats::theil_sen(&recent_x, recent_y)?;
    let recent_ratio = recent.slope / slope;
    // Even so a slow leak under noise often shows a low recent slope by chance. The rule itself (recent ≥ half the window's slope) opens a
    // finding; an open leak is held while the recent slope is above a quarter of the window's
    // (SPEC's warm-up bar) and within two standard errors of half of it (the least-squares
    // formula with the robust spread of the recent residuals), so it does not flap.
    let resid: Vec<f64> = recent_x
        .iter()
        .zip(recent_y)
        .map(|(&x, &y)| y - recent.at(x))
        .collect();
    let x_mean = stats::mean(&recent_x)?;
    let sxx: f64 = recent_x.iter().map(|x| (x - x_mean) * (x - x_mean)).sum();
    let se = stats::robust_sigma(&resid)? / sxx.sqrt().max(f64::MIN_POSITIVE);
    // Opening also needs the recent growth itself to be evident (its slope above two standard
    // errors): the slowing tail of a warm-up under noise otherwise passes the ratio by chance.
    let hold_only = if recent_ratio >= RECENT_SLOPE_MIN && recent.slope > PLATEAU_SE * se {
        false
    } else if recent_ratio >= WARM_UP_RATIO
        && recent.slope + PLATEAU_SE * se >= RECENT_SLOPE_MIN * slope
    {
        true
    } else {
        return None;
    };
    let mut statistics = vec![
        stat("mann_kendall_z", mk.z),
        stat("kendall_tau", mk.tau),
        stat("theil_sen_slope_bytes_per_min", slope),
        stat("recent_slope_ratio", recent_ratio),
        stat("span_secs", span),
    ];
    let blocks: Vec<f64> = floor.iter().map(|p| p.blocks).collect();
    // A scope fed from outside (`record`) has no block count; only a reported one must rise.
    if blocks.iter().any(|&b| b > 0.0) {
        let blocks_z = stats::mann_kendall(&blocks)?.z;
        if !(blocks_z > BLOCKS_Z) {
            return None;
        }
        statistics.push(stat("blocks_mann_kendall_z", blocks_z));
    }

    let start = t[0];
    let x_start = (start - ctx.t_end) / 60.0;
    let baseline = growth.linear.at(x_start);
    let grown = growth.linear.intercept - baseline;
    let current = ctx.current_bytes();
    let ttb = time_to_budget(&growth, current as f64, ctx.budget);
    let mut f = ctx.finding(LeakType::GradualGrowth, [start, ctx.t_end]);
    f.hold_only = hold_only;
    f.severity = k.severity(growth.rate_per_min, ttb);
    f.confidence = mk.tau.clamp(0.0, 1.0);
    f.baseline_bytes = to_bytes(baseline);
    f.growth_bytes = to_delta(grown);
    f.set_growth(&growth, ttb);
    f.statistics = statistics;
    f.summary = format!(
        "{}: floor rose {} over {} ({}, Mann-Kendall Z = {:.1}, tau = {:.2})",
        ctx.name,
        fmt_bytes(grown),
        fmt_minutes(ctx.t_end - start),
        fmt_rate(growth.rate_per_min),
        mk.z,
        mk.tau
    );
    Some(f)
}
