//! Sustained high usage (docs/detectors.md, "SustainedHigh"): the scope stays above its threshold for most of the
//! detection window.
//!
//! Method: the 20th percentile of the window's raw snapshots (so at least 80% of them are above
//! it, the replaced system's rule stated robustly) against `sustained_high_threshold_mb`, or 85%
//! of the scope's budget when one is set. Hysteresis: once open, the finding holds while the
//! percentile stays above 70% of the threshold ([`Finding::hold_only`]). The Mann–Kendall test
//! on the floor series of up to four detection windows (the gradual detector's bar) tells high-and-flat (capacity: Low, Medium
//! near a budget) from high-and-rising (a leak too: at least Medium, with a projection).

use super::gradual::{TAU_MIN, Z_CRITICAL};
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

pub(super) fn detect(ctx: &Ctx) -> Option<Finding> {
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
    let floor = ctx.points(
        ctx.t_end - span,
        ctx.t_end,
        (span / RISING_BUCKETS).max(ctx.dt),
        super::series::Pick::Min,
    );
    let long: Vec<f64> = floor.iter().map(|p| p.bytes).collect();
    let mk = stats::mann_kendall(&long)?;
    // The rate and projection are today's: the detection window's floor.
    let recent = ctx.floor(k.window);
    let t: Vec<f64> = recent.iter().map(|p| p.t).collect();
    let bytes: Vec<f64> = recent.iter().map(|p| p.bytes).collect();
    let growth = fit_growth(&t, &bytes, ctx.t_end)?;
    let rising = mk.z > Z_CRITICAL && mk.tau >= TAU_MIN && growth.linear.slope > 0.0;
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
        stat("rising", if rising { 1.0 } else { 0.0 }),
    ];
    if rising {
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
