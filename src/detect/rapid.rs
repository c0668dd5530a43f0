//! Rapid growth: a sudden, persistent rise far beyond the scope's normal rate.
//!
//! Method: Page's one-sided CUSUM (k = 0.5, h = 8) over the rapid window's increments of a floor
//! series with rapid-window/10 buckets, each increment standardised by the median and
//! σ̂ = 1.4826·MAD of the increments in the baseline window before it; the CUSUM must still be
//! above h at the newest point (a spike that came back down resets it). A magnitude gate
//! follows: the level now (median of the last three buckets) minus the level before the window
//! (median of the three buckets before it) must reach max(3 × the baseline's Theil–Sen slope ×
//! the window, the rapid floor of the module docs' Scale table, 4 σ̂ of the baseline's levels
//! around their Theil–Sen line). "3× the normal rate" alone fires on anything when the normal
//! rate is zero; the floor stops that, and the noise term stops a noisy scope's chance rises.
//!
//! Persistence, so that memory which rises and is given back within minutes is not a leak: the
//! floor must rise in each third of the window by at least 15% of the rise (a step, a big
//! request, a table doubling or a batch job's allocation rise in one third), and the baseline
//! before the window must not have given back a rise of half the size (a scope whose batch jobs
//! come and go; the periodic detector reports those), a level held for two buckets at least:
//! a huge request held for one is no level given back. When the CUSUM's current run began within
//! the first half of the window, the thirds are of the run, so a leak that began inside the
//! window is read from its start. A step that settles is therefore no rapid
//! growth of this kind; a staircase of steps that never revert is gradual growth over the long
//! view.
//!
//! A second form, [`settled_step`], reports a step that settled as a Low notice: one block of
//! memory taken at once and kept (a preload, a table doubling, or the first step of a
//! staircase, which nothing yet tells from a preload). docs/detectors.md, "Settled steps", has
//! its rules and what they were measured against.

use super::gradual::{HALF, LEVEL_POINTS, STEP_FLAT};
use super::recommend::{fmt_bytes, fmt_minutes, fmt_rate};
use super::series::Pick;
use super::{stat, stats, to_bytes, to_delta, Ctx, Finding};
use crate::leak::{LeakSeverity, LeakType};

/// CUSUM reference value (half a standard deviation: tuned to shifts of about one σ̂).
const K: f64 = 0.5;
/// CUSUM decision threshold.
const H: f64 = 8.0;
/// The rise must be this many times what the baseline slope explains.
const NORMAL_RATE_MULTIPLE: f64 = 3.0;
/// Baseline points needed to trust the median and σ̂ (two rapid windows at the defaults).
const MIN_BASELINE_POINTS: usize = 20;
/// The rise must also stand this many σ̂ of the baseline's levels above it: with a noisy scope
/// the medians of three buckets differ by chance.
const NOISE_MULTIPLE: f64 = 4.0;
/// Each third of the window must add at least this share of the rise.
const PACE_SHARE: f64 = 0.15;
/// A baseline that gave back a rise this share of the current one makes it a transient.
const GIVEN_BACK_SHARE: f64 = 0.5;

pub(super) fn detect(ctx: &Ctx) -> Option<Finding> {
    rising(ctx).or_else(|| settled_step(ctx))
}

/// The rise the CUSUM finds, still going on at the end of the rapid window.
fn rising(ctx: &Ctx) -> Option<Finding> {
    let k = &ctx.k;
    let window = k.rapid_window;
    if window <= 0.0 {
        return None;
    }
    let start = ctx.t_end - window;
    let base_span = k.baseline.max(window);
    let pts = ctx.points(start - base_span, ctx.t_end, k.rapid_bucket, Pick::Min);
    let split = pts.partition_point(|p| p.t <= start);
    let (base, win) = pts.split_at(split);
    if base.len() < MIN_BASELINE_POINTS || win.len() < LEVEL_POINTS {
        return None;
    }
    let base_inc: Vec<f64> = base.windows(2).map(|w| w[1].bytes - w[0].bytes).collect();
    let centre = stats::median(&base_inc)?;
    // A perfectly quiet baseline has σ̂ = 0; a tiny fraction of the magnitude floor keeps the
    // division finite without making the statistic depend on the absolute byte scale.
    let sigma = stats::robust_sigma(&base_inc)?
        .max(k.rapid_floor_bytes * 1e-6)
        .max(f64::MIN_POSITIVE);
    let z: Vec<f64> = pts[split - 1..]
        .windows(2)
        .map(|w| (w[1].bytes - w[0].bytes - centre) / sigma)
        .collect();
    let (cusum, since) = stats::cusum_run(&z, K);
    if !(cusum >= H) {
        return None;
    }
    let level = super::median_bytes;
    let before = level(&base[base.len() - LEVEL_POINTS..])?;
    let now = level(&win[win.len() - LEVEL_POINTS..])?;
    let rise = now - before;
    let base_x: Vec<f64> = base.iter().map(|p| p.t / 60.0).collect();
    let base_y: Vec<f64> = base.iter().map(|p| p.bytes).collect();
    // The baseline's normal rate and noise: a Theil–Sen line through the whole baseline, or
    // through its newer half when that is the better line (smaller robust σ of residuals). A
    // cold cache that filled and settled within the baseline is a curve, whose residuals
    // around one line are its bend and whose slope is its fill: both blocked a 20 MB/min leak
    // that began just after (its rise 100 MB against a "noise" of 150).
    let line = |x: &[f64], y: &[f64]| -> Option<(f64, f64)> {
        let fit = stats::theil_sen(x, y)?;
        let r: Vec<f64> = x.iter().zip(y).map(|(&x, &y)| y - fit.at(x)).collect();
        Some((fit.slope, stats::robust_sigma(&r)?))
    };
    let half = base_x.len() / 2;
    let whole = line(&base_x, &base_y)?;
    let (base_slope, sigma_levels) = match line(&base_x[half..], &base_y[half..]) {
        Some(newer) if half >= MIN_BASELINE_POINTS / 2 && newer.1 < whole.1 => newer,
        _ => whole,
    };
    let noise = NOISE_MULTIPLE * sigma_levels;
    let window_min = window / 60.0;
    let expected = NORMAL_RATE_MULTIPLE * base_slope.max(0.0) * window_min;
    if !(rise >= expected.max(k.rapid_floor_bytes).max(noise)) || rise <= 0.0 {
        return None;
    }
    // Persistence: the floor rose in every third of the window (a step, a big request or the
    // start of a batch job rises in one), and the scope has not given back a rise of half this
    // size in its baseline (a batch job's sawtooth is periodic, not a leak).
    let n = win.len();
    let level_at = |i: usize| {
        let lo = i.saturating_sub(1);
        level(&win[lo..(i + 2).min(n)])
    };
    // The thirds are of the CUSUM's current run when it began within the first half of the
    // window: a leak that began a minute into the window rises in each third of its own
    // minutes, while a step still rises in its first.
    let run_from = if (2..=n / 2).contains(&since) {
        since
    } else {
        0
    };
    let run = n - run_from;
    let marks = [
        before,
        level_at(run_from + run / 3)?,
        level_at(run_from + (2 * run) / 3)?,
        now,
    ];
    let least_third = stats::least_rise(&marks);
    if !(least_third >= PACE_SHARE * rise) {
        return None;
    }
    let given_back = super::largest_fall_held(base);
    if !(given_back < GIVEN_BACK_SHARE * rise) {
        return None;
    }

    let rate = rise / window_min;
    // The projection assumes the rise goes on at the window's rate: the worst case a sudden
    // rise poses.
    let current = ctx.current_bytes() as f64;
    let ttb = ctx
        .budget
        .map(|b| ((b as f64 - current) / rate * 60.0).max(0.0));
    let mut f = ctx.finding(LeakType::RapidGrowth, [start, ctx.t_end]);
    f.severity = k.severity(rate, ttb);
    f.confidence = (cusum / (2.0 * H)).min(1.0);
    f.baseline_bytes = to_bytes(before);
    f.growth_bytes = to_delta(rise);
    f.rate_bytes_per_min = rate;
    f.time_to_budget_secs = ttb;
    f.statistics = vec![
        stat("cusum", cusum),
        stat("least_third_share", least_third / rise),
        stat("given_back_bytes", given_back),
        stat("rise_bytes", rise),
        stat("baseline_slope_bytes_per_min", base_slope),
        stat("rapid_floor_bytes", k.rapid_floor_bytes),
    ];
    f.summary = format!(
        "{}: rose {} within {} ({}; normal rate {}, CUSUM {:.0})",
        ctx.name,
        fmt_bytes(rise),
        fmt_minutes(window),
        fmt_rate(rate),
        fmt_rate(base_slope.max(0.0)),
        cusum
    );
    Some(f)
}

/// The span a settled step is looked for in, in baseline windows (2 h at the defaults): a
/// staircase's next step comes before its last one leaves the span, so one leak holds.
const STEP_SPAN_BASELINES: f64 = 2.0;
/// The level before a step must have held this many rapid windows (30 min at the defaults).
const STEP_BEFORE_RAPID_WINDOWS: f64 = 6.0;
/// The level after it must have held this many (15 min): longer than a huge request is held or
/// a batch job runs.
const STEP_HELD_RAPID_WINDOWS: f64 = 3.0;
/// The step must stand this many residual standard deviations of the two-level fit.
const STEP_NOISE_MULTIPLE: f64 = 3.0;

/// A settled step: over the last two baseline windows the floor is two flat levels, the later
/// one at least G/2 higher and reached within a rapid window, held for three rapid windows after
/// six flat ones before, and nothing come and gone. One step up that stays is no trend (gradual
/// growth does not read it as one) but it is memory the scope took and kept: reported Low with
/// no rate, saying it settled, so that a preload is one notice and a staircase is seen from its
/// first step.
fn settled_step(ctx: &Ctx) -> Option<Finding> {
    let k = &ctx.k;
    let span = STEP_SPAN_BASELINES * k.baseline.max(k.window);
    if !(span > 0.0) {
        return None;
    }
    let pts = ctx.points(ctx.t_end - span, ctx.t_end, k.floor_bucket, Pick::Min);
    let y: Vec<f64> = pts.iter().map(|p| p.bytes).collect();
    let step = stats::best_step(&y)?;
    let (before, after) = pts.split_at(step.split);
    let step_t = after.first()?.t;
    let lasted_before = step_t - before.first()?.t;
    let held = ctx.t_end - step_t;
    let height = step.height;
    let sigma = (step.sse / y.len() as f64).sqrt();
    // Abrupt: within a rapid window of the step the level reached most of the step above the
    // level just before it (a load-driven drift or a fill moves over tens of minutes).
    let rapid_buckets = (k.rapid_window / k.floor_bucket).ceil().max(1.0) as usize;
    let reach = (step.split..=(step.split + rapid_buckets).min(y.len() - 1))
        .filter_map(|i| stats::level_near(&y, i))
        .fold(f64::NEG_INFINITY, f64::max);
    let jump = reach - stats::level_near(&y, step.split - 1)?;
    if !(height >= HALF * k.growth_bytes
        && jump >= (1.0 - STEP_FLAT) * height
        && height >= STEP_NOISE_MULTIPLE * sigma
        && step.max_segment_drift <= STEP_FLAT * height
        && lasted_before >= STEP_BEFORE_RAPID_WINDOWS * k.rapid_window
        && held >= STEP_HELD_RAPID_WINDOWS * k.rapid_window)
    {
        return None;
    }
    // New memory, kept: before the step no level came within a quarter of the new one (the
    // runs of a batch job that holds memory for a while and gives it back reach it; an LRU's
    // eviction sawtooth swings around its level), and after it no level came back down to
    // halfway.
    let before_level = super::median_bytes(before)?;
    let (_, highest_before) = stats::level_range(&y[..step.split]);
    let (lowest_after, _) = stats::level_range(&y[step.split..]);
    let above_before = highest_before - before_level;
    if !(above_before < (1.0 - STEP_FLAT) * height
        && lowest_after >= before_level + GIVEN_BACK_SHARE * height)
    {
        return None;
    }
    // The evidence is the new level: a step given back resolves after the time it was held,
    // not after the two hours read.
    let mut f = ctx.finding(LeakType::RapidGrowth, [step_t, ctx.t_end]);
    f.severity = LeakSeverity::Low;
    f.confidence = (1.0 - step.max_segment_drift / (STEP_FLAT * height)).clamp(0.0, 1.0);
    f.baseline_bytes = to_bytes(before_level);
    f.growth_bytes = to_delta(height);
    f.rate_bytes_per_min = 0.0;
    f.statistics = vec![
        stat("step_bytes", height),
        stat("step_held_secs", held),
        stat("level_before_secs", lasted_before),
        stat("step_max_drift_bytes", step.max_segment_drift),
        stat("step_residual_sd_bytes", sigma),
        stat("above_level_before_bytes", above_before),
        stat("jump_within_rapid_window_bytes", jump),
    ];
    f.summary = format!(
        "{}: stepped up {} {} ago and settled, flat before it and since (a preload, a \
         configuration change or a table doubling is one step; a leak if it steps again)",
        ctx.name,
        fmt_bytes(height),
        fmt_minutes(held),
    );
    Some(f)
}
