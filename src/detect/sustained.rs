//! Sustained high usage (docs/detectors.md, "SustainedHigh"): the scope stays above its
//! threshold for most of the detection window.
//!
//! Method: the 20th percentile of the window's raw snapshots (so at least 80% of them are above
//! it, the replaced system's rule stated robustly) against `sustained_high_threshold_mb`, or 85%
//! of the scope's budget when one is set. Hysteresis: once open, the finding holds while the
//! percentile stays above 70% of the threshold ([`Finding::hold_only`]). The floor series of up
//! to four detection windows tells high-and-flat (capacity: Low, Medium near a budget) from
//! high-and-rising (a leak too: at least Medium, with a projection): rising when the
//! Mann–Kendall test passes the gradual detector's bar and the rise, both over the span and
//! above the highest floor before it, is at least G/10; or when the gradual detector finds
//! growth in the same run.

use super::gradual::{LEVEL_POINTS, TAU_MIN, Z_CRITICAL};
use super::recommend::{fmt_bytes, fmt_minutes, fmt_rate};
use super::{fit_growth, stat, stats, time_to_budget, to_bytes, Ctx, Finding};
use crate::leak::{LeakSeverity, LeakType};

/// The percentile that must exceed the threshold.
const PERCENTILE: f64 = 20.0;
/// Share of the budget that counts as high when a budget is set.
const BUDGET_SHARE: f64 = 0.85;
/// Detection windows over which rising is told from flat.
const RISING_SPAN_WINDOWS: f64 = 4.0;
/// Floor buckets over that span.
const RISING_BUCKETS: f64 = 24.0;
/// The least Theil–Sen rise over that span, as a share of G, that counts as rising (10 MB over
/// two hours at the defaults: a fifth of the slowest leak the gradual detector opens on).
const RISE_MIN_SHARE: f64 = 0.1;
/// An open finding holds until the percentile falls below this share of the threshold.
pub(super) const CLEAR_SHARE: f64 = 0.7;

/// The sustained-usage threshold in bytes: 85% of the budget when one is set, else
/// the configured `sustained_high_threshold_mb` in bytes.
pub(super) fn threshold(budget: Option<u64>, sustained_bytes: f64) -> f64 {
    match budget {
        Some(b) => BUDGET_SHARE * b as f64,
        None => sustained_bytes,
    }
}

/// `gradual` is the gradual detector's finding of this run, if any: where it sees growth, the
/// scope is rising whatever the four windows show (a leak under a daily cycle falls back to
/// levels it held every night), at the gradual finding's rate.
pub(super) fn detect(ctx: &Ctx, gradual: Option<&Finding>) -> Option<Finding> {
    let k = &ctx.k;
    if !ctx.covers(k.window) {
        return None;
    }
    let threshold = threshold(ctx.budget, k.sustained_bytes);
    if !(threshold > 0.0) {
        return None;
    }
    let from = ctx.t_end - k.window;
    let first = ctx.times.partition_point(|&t| t <= from);
    let window = &ctx.bytes[first..];
    // Most scopes are nowhere near the threshold: skip the percentile when even the peak is below
    // the hysteresis band.
    if window.iter().copied().fold(f64::NEG_INFINITY, f64::max) <= CLEAR_SHARE * threshold {
        return None;
    }
    let mut raw = window.to_vec();
    let above = raw.iter().filter(|&&b| b > threshold).count() as f64 / raw.len().max(1) as f64;
    let p20 = stats::percentile_in_place(&mut raw, PERCENTILE)?;
    let hold_only = if p20 > threshold {
        false
    } else if p20 > CLEAR_SHARE * threshold {
        true
    } else {
        return None;
    };

    // Rising or flat over the floor of up to four detection windows: over one window a slow
    // leak's rise (15 MB at 0.5 MB/min) is within the noise, and the verdict would flip
    // between runs.
    let span = (RISING_SPAN_WINDOWS * k.window).min(ctx.t_end - ctx.times[0] + ctx.dt);
    let width = (span / RISING_BUCKETS).max(ctx.dt);
    let floor = ctx.points(ctx.t_end - span, ctx.t_end, width, super::series::Pick::Min);
    let long: Vec<f64> = floor.iter().map(|p| p.bytes).collect();
    let mk = stats::mann_kendall(&long)?;
    // Rising means rising by an amount that matters, to where the scope has not been: the
    // span's Theil–Sen rise, and its newest floor's height above the highest floor before the
    // span, each at least `RISE_MIN_SHARE` of G. A scope held high by a wandering load orders
    // its floor too, by a few MB over two hours and back, and "still rising (84 KB/min)" turned
    // a capacity report into a leak and back again and again.
    let minutes: Vec<f64> = floor.iter().map(|p| (p.t - ctx.t_end) / 60.0).collect();
    let span_rise = stats::theil_sen(&minutes, &long)?.slope * span / 60.0;
    let newest = stats::median(&long[long.len().saturating_sub(LEVEL_POINTS)..])?;
    let above_prior = ctx
        .prior_high(ctx.t_end - span, width)
        .map_or(f64::INFINITY, |h| newest - h);
    // The rate and projection are today's: the detection window's floor.
    let recent = ctx.floor(k.window);
    let t: Vec<f64> = recent.iter().map(|p| p.t).collect();
    let bytes: Vec<f64> = recent.iter().map(|p| p.bytes).collect();
    let growth = fit_growth(&t, &bytes, ctx.t_end)?;
    let own = mk.z > Z_CRITICAL
        && mk.tau >= TAU_MIN
        && growth.linear.slope > 0.0
        && span_rise.min(above_prior) >= RISE_MIN_SHARE * k.growth_bytes;
    let rising = own || gradual.is_some();
    let current = ctx.current_bytes();
    // The evidence is the span the rising-or-flat verdict reads, so the lifecycle settles a
    // severity change over it (a leak that slows for an hour is still rising).
    let mut f = ctx.finding(
        LeakType::SustainedHigh,
        [(ctx.t_end - span).max(ctx.times[0]), ctx.t_end],
    );
    f.hold_only = hold_only;
    f.confidence = above;
    f.baseline_bytes = to_bytes(p20);
    f.statistics = vec![
        stat("p20_bytes", p20),
        stat("threshold_bytes", threshold),
        stat("share_above", above),
        stat("mann_kendall_z", mk.z),
        stat("kendall_tau", mk.tau),
        stat("span_rise_bytes", span_rise),
        stat("rising", if rising { 1.0 } else { 0.0 }),
    ];
    // Infinite where the history does not reach before the span: no statistic then (a dump
    // holds only finite numbers).
    if above_prior.is_finite() {
        f.statistics
            .push(stat("above_prior_floor_bytes", above_prior));
    }
    if let Some(g) = gradual.filter(|_| !own) {
        f.severity = g.severity.max(LeakSeverity::Medium);
        f.growth_bytes = g.growth_bytes;
        f.rate_bytes_per_min = g.rate_bytes_per_min;
        f.model = g.model;
        f.time_to_budget_secs = g.time_to_budget_secs;
        f.summary = format!(
            "{}: above {} for {} and still rising ({}, the growth over {})",
            ctx.name,
            fmt_bytes(threshold),
            fmt_minutes(k.window),
            fmt_rate(g.rate_bytes_per_min),
            fmt_minutes(g.window[1] - g.window[0])
        );
    } else if rising {
        let ttb = time_to_budget(&growth, current as f64, ctx.budget);
        let x_start = (t[0] - ctx.t_end) / 60.0;
        f.severity = k
            .severity(growth.rate_per_min, ttb)
            .max(LeakSeverity::Medium);
        f.growth_bytes = growth.linear_since(x_start);
        f.set_growth(&growth, ttb);
        f.summary = format!(
            "{}: above {} for {} and still rising ({})",
            ctx.name,
            fmt_bytes(threshold),
            fmt_minutes(k.window),
            fmt_rate(growth.rate_per_min)
        );
    } else {
        // Flat: capacity, not a leak. Near a budget it matters more.
        let base = if ctx.budget.is_some() {
            LeakSeverity::Medium
        } else {
            LeakSeverity::Low
        };
        f.severity = base;
        f.summary = format!(
            "{}: above {} for {} and flat (p20 {}): capacity, not a leak",
            ctx.name,
            fmt_bytes(threshold),
            fmt_minutes(k.window),
            fmt_bytes(p20)
        );
    }
    Some(f)
}
