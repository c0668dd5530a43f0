//! Cache bloat (docs/detectors.md, "CacheBloat"): bytes per entry rise, or bytes grow while the entries do not.
//!
//! Needs the scope's entry-count gauge, and the entries flat over the window (|Kendall τ| < 0.5)
//! with bytes per entry rising (Mann–Kendall Z > 3.09) in either trigger: where entries rise
//! with bytes (a preload, a table doubling, a daily cycle), bytes follow the entries. A step of
//! bytes per entry that settled (the step model of docs/detectors.md fits better than a line and
//! both levels are flat) is no bloat either. Over the floor series, the baseline is the
//! `baseline_calculation_minutes` before the detection window (a trailing baseline, not the first
//! snapshots ever). Two triggers:
//! - bytes per entry rise significantly over the window (Mann–Kendall Z > 3.09) to ≥ 1.5× the
//!   baseline's median, and the bytes beyond the baseline's bytes per entry reach the smallest
//!   spike of the Scale table (a tiny scope doubling its entry size is not worth a report);
//! - the unexplained bytes, bytes − (a + b·entries) with a Theil–Sen fit over the baseline
//!   (proportional when the baseline's entry count hardly varies), less the part the scope's
//!   allocation rate explains over the baseline ([`load_share`]: requests in flight follow the
//!   traffic), rise significantly and by ≥ max(0.16 · G, 10% of the scope) — max(16 MB, 10%)
//!   at the default G.
//!
//! Either way each third of the window raises bytes per entry by a tenth of the window's rise
//! (requests in flight for a few minutes raise them in one). The same test over two, four and
//! eight times the window, the baseline and the floor buckets keeps an open leak open but does
//! not open one: at a steady rate a large scope adds less than its 10% over one window.

use super::gradual::{LEVEL_POINTS, THIRD_SHARE, Z_CRITICAL};
use super::recommend::{fmt_bytes, fmt_rate};
use super::{fit_growth, stat, stats, time_to_budget, to_bytes, to_delta, Ctx, Finding, Point};
use crate::leak::{LeakSeverity, LeakType};

/// Bytes per entry must reach this multiple of the baseline.
const RATIO_MIN: f64 = 1.5;
/// The unexplained growth must also reach this share of the scope.
const SCOPE_SHARE: f64 = 0.10;
/// Below this relative spread of the baseline's entry counts, a fitted slope is noise: use the
/// proportional model bytes = entries × baseline bytes per entry.
const MIN_ENTRY_SPREAD: f64 = 0.05;
/// Floor points needed in the baseline and in the window.
const MIN_BASE_POINTS: usize = 5;
const MIN_WINDOW_POINTS: usize = 8;
/// A level of a step model moving less than this share of the step is flat.
const STEP_FLAT: f64 = 0.25;
/// Entries whose Kendall τ over the window is below this in size are flat.
const ENTRIES_FLAT_TAU: f64 = 0.5;
/// The baseline residual's correlation with the allocation rate from which the rate's share is
/// taken out of the residual ([`load_share`]).
const LOAD_CORRELATION: f64 = 0.5;
/// The longer lengths read to keep an open leak, in multiples of the detection window, the
/// baseline and the floor bucket.
const HOLD_SCALES: [f64; 3] = [2.0, 4.0, 8.0];

pub(super) fn detect(ctx: &Ctx) -> Option<Finding> {
    ctx.pts.last()?.entries?;
    // The configured lengths open a leak. The longer ones only keep one open: the gates are
    // shares of the scope, and a bloat of a steady rate adds less than 10% of a scope that has
    // grown large over one baseline and window, so the configured read alone let an open leak
    // resolve while its bytes per entry still rose; opening on them too raised bloat on slow
    // growth of every kind and on healthy preloads (detector_eval: 2 more false alarms).
    detect_at(ctx, 1.0).or_else(|| {
        let mut f = HOLD_SCALES
            .iter()
            .rev()
            .find_map(|&scale| detect_at(ctx, scale))?;
        f.hold_only = true;
        Some(f)
    })
}

/// The part of the bytes the entries do not explain that follows the scope's traffic: requests
/// in flight hold bytes in proportion to their arrival rate (Little's law), and so do the
/// scope's allocations, so over the baseline the residuals of the entries' fit, `resid`, are
/// fitted on the points' allocation rates, `rates` (least squares). Returns the baseline's mean
/// rate and the bytes of residual per unit of rate, when the two correlate by at least
/// [`LOAD_CORRELATION`]; a surge of traffic then raises the residual by what it predicts, not
/// by bloat.
fn load_share(rates: &[f64], resid: &[f64]) -> Option<(f64, f64)> {
    let n = rates.len() as f64;
    let (ma, mr) = rates
        .iter()
        .zip(resid)
        .fold((0.0, 0.0), |(a, r), (&x, &y)| (a + x / n, r + y / n));
    let (mut saa, mut sar, mut srr) = (0.0, 0.0, 0.0);
    for (&x, &y) in rates.iter().zip(resid) {
        let (a, r) = (x - ma, y - mr);
        saa += a * a;
        sar += a * r;
        srr += r * r;
    }
    (saa > 0.0 && srr > 0.0 && sar > 0.0 && sar >= LOAD_CORRELATION * (saa * srr).sqrt())
        .then(|| (ma, sar / saa))
}

/// The test with the detection window, the baseline and the floor buckets `scale` times their
/// configured lengths (the module docs).
fn detect_at(ctx: &Ctx, scale: f64) -> Option<Finding> {
    let k = &ctx.k;
    let (window, baseline) = (scale * k.window, scale * k.baseline);
    let start = ctx.t_end - window;
    let pts: Vec<Point> = ctx
        .points(
            start - baseline,
            ctx.t_end,
            scale * k.floor_bucket,
            super::series::Pick::Min,
        )
        .into_iter()
        .filter(|p| p.entries.is_some_and(|e| e > 0.0))
        .collect();
    let split = pts.partition_point(|p| p.t <= start);
    let (base, win) = pts.split_at(split);
    if base.len() < MIN_BASE_POINTS || win.len() < MIN_WINDOW_POINTS {
        return None;
    }
    let entries = |p: &Point| p.entries.unwrap_or(1.0);
    let bpe = |p: &Point| p.bytes / entries(p);
    let base_bpe: Vec<f64> = base.iter().map(bpe).collect();
    let win_bpe: Vec<f64> = win.iter().map(bpe).collect();
    let bpe_base = stats::median(&base_bpe)?;
    let bpe_now = stats::median(&win_bpe[win_bpe.len() - LEVEL_POINTS..])?;
    let bpe_ratio = bpe_now / bpe_base;
    let bpe_mk = stats::mann_kendall(&win_bpe)?;
    let last = win[win.len() - 1];
    let excess = last.bytes - entries(&last) * bpe_base;
    let by_entry_size =
        bpe_mk.z > Z_CRITICAL && bpe_ratio >= RATIO_MIN && excess >= k.spike_min_bytes;

    // bytes = a + b·entries over the baseline.
    let base_e: Vec<f64> = base.iter().map(entries).collect();
    let base_b: Vec<f64> = base.iter().map(|p| p.bytes).collect();
    let e_med = stats::median(&base_e)?;
    let e_spread = (base_e.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        - base_e.iter().copied().fold(f64::INFINITY, f64::min))
        / e_med.max(1.0);
    let fit = if e_spread >= MIN_ENTRY_SPREAD {
        stats::theil_sen(&base_e, &base_b).filter(|f| f.slope >= 0.0)
    } else {
        None
    }
    .unwrap_or(stats::LinearFit {
        slope: bpe_base,
        intercept: 0.0,
    });
    let by_entries = |p: &Point| p.bytes - fit.at(entries(p));
    // Bytes allocated per second over the interval (or coarse run) a point ends: a coarse
    // history point carries its whole run's allocations.
    let rate = |p: &Point| {
        let i = ctx.times.partition_point(|&t| t < p.t);
        let since = if i > 0 {
            ctx.times[i - 1]
        } else {
            p.t - ctx.dt
        };
        p.allocated / (p.t - since).max(f64::MIN_POSITIVE)
    };
    let base_rates: Vec<f64> = base.iter().map(rate).collect();
    let base_unexplained: Vec<f64> = base.iter().map(by_entries).collect();
    let load = load_share(&base_rates, &base_unexplained);
    let resid = |r: f64, rate: f64| r - load.map_or(0.0, |(mean, c)| c * (rate - mean));
    let base_r: Vec<f64> = base_unexplained
        .iter()
        .zip(&base_rates)
        .map(|(&r, &a)| resid(r, a))
        .collect();
    let win_r: Vec<f64> = win.iter().map(|p| resid(by_entries(p), rate(p))).collect();
    let resid_rise = stats::median(&win_r[win_r.len() - LEVEL_POINTS..])? - stats::median(&base_r)?;
    let resid_mk = stats::mann_kendall(&win_r)?;
    let resid_gate = k.bloat_floor_bytes.max(SCOPE_SHARE * last.bytes);
    let unexplained = resid_mk.z > Z_CRITICAL && resid_rise >= resid_gate;
    if !(by_entry_size || unexplained) {
        return None;
    }
    // Bloat is bytes per entry rising while the entries stay flat: where the entries rise with
    // the bytes (a preload, a table doubling, a daily cycle) the bytes follow the entries, and a
    // one-time residual step is no bloat.
    let win_e: Vec<f64> = win.iter().map(entries).collect();
    let entries_tau = stats::mann_kendall(&win_e)?.tau;
    if !(entries_tau.abs() < ENTRIES_FLAT_TAU && bpe_ratio > 1.0 && bpe_mk.z > Z_CRITICAL) {
        return None;
    }
    // Bloat is spread over the window, as gradual growth's rule: each third of it raises bytes
    // per entry. Requests in flight for a few minutes (a burst of traffic) raise the bytes
    // without the entries in one third, the last.
    let bpe_marks = stats::third_marks(&win_bpe)?;
    if !(stats::least_rise(&bpe_marks) >= THIRD_SHARE * (bpe_marks[3] - bpe_marks[0])) {
        return None;
    }
    // Bloat takes bytes per entry where they have never been: a daily cycle or a changing mix
    // of entry sizes moves them up and down within the range the scope held before the
    // baseline, each detection window's floor standing for its window.
    let earlier = ctx.points(
        ctx.times[0] - ctx.dt,
        start - baseline,
        window,
        super::series::Pick::Min,
    );
    let prior_high_bpe = earlier
        .iter()
        .filter(|p| p.entries.is_some_and(|e| e > 0.0))
        .map(bpe)
        .fold(None, |m: Option<f64>, b| Some(m.map_or(b, |m| m.max(b))));
    let above_prior = prior_high_bpe.map(|h| last.bytes - entries(&last) * h);
    if above_prior.is_some_and(|a| !(a >= k.spike_min_bytes)) {
        return None;
    }
    // A one-time step of bytes per entry that settled (a preload, a table doubling) is no
    // bloat: the gradual detector's step test on the baseline and window together.
    let all_bpe: Vec<f64> = base_bpe.iter().chain(&win_bpe).copied().collect();
    // Bloat is a trend of the entries' size, not a wobble: bytes per entry rise over the
    // baseline and the window together too. Scope bytes that are not entries (requests in
    // flight) move bytes per entry with the load for a window at a time.
    let long_mk = stats::mann_kendall(&all_bpe)?;
    if !(long_mk.z > Z_CRITICAL && long_mk.tau >= super::gradual::TAU_MIN) {
        return None;
    }
    if let Some(step) = stats::best_step(&all_bpe) {
        let x: Vec<f64> = (0..all_bpe.len()).map(|i| i as f64).collect();
        if let Some(line) = stats::theil_sen(&x, &all_bpe) {
            let line_sse: f64 = x
                .iter()
                .zip(&all_bpe)
                .map(|(&x, &y)| (y - line.at(x)).powi(2))
                .sum();
            if step.sse < line_sse && step.max_segment_drift <= STEP_FLAT * step.height.abs() {
                return None;
            }
        }
    }

    let t: Vec<f64> = win.iter().map(|p| p.t).collect();
    let bytes: Vec<f64> = win.iter().map(|p| p.bytes).collect();
    let growth = fit_growth(&t, &bytes, ctx.t_end)?;
    // Bytes per entry that rise only because entries leave faster than bytes (a TTL cache at
    // night) while the scope shrinks are no bloat.
    if !(growth.linear.slope > 0.0) {
        return None;
    }
    let ttb = time_to_budget(&growth, ctx.current_bytes() as f64, ctx.budget);
    let base_bytes = stats::median(&base_b)?;
    // The evidence is the baseline and the window together, so a bloat that grows in steps
    // (one an hour) stays one leak through the flat stretch between them.
    let mut f = ctx.finding(
        LeakType::CacheBloat,
        [(start - baseline).max(ctx.times[0]), ctx.t_end],
    );
    let mut severity = k.severity(growth.rate_per_min.max(0.0), None);
    if bpe_ratio >= 2.0 {
        severity = severity.max(LeakSeverity::Medium);
    }
    f.severity = k.with_budget(severity, ttb);
    let (decider, z) = if by_entry_size {
        ("bytes_per_entry_z", bpe_mk.z)
    } else {
        ("residual_z", resid_mk.z)
    };
    f.confidence = if by_entry_size {
        bpe_mk.tau
    } else {
        resid_mk.tau
    }
    .clamp(0.0, 1.0);
    f.baseline_bytes = to_bytes(base_bytes);
    f.growth_bytes = to_delta(last.bytes - base_bytes);
    f.set_growth(&growth, ttb);
    f.statistics = vec![
        stat(decider, z),
        stat("bytes_per_entry_baseline", bpe_base),
        stat("bytes_per_entry_now", bpe_now),
        stat("bytes_per_entry_ratio", bpe_ratio),
        stat("residual_growth_bytes", resid_rise),
        stat("entries_tau", entries_tau),
    ];
    if let Some(a) = above_prior {
        f.statistics.push(stat("bytes_above_prior_entry_size", a));
    }
    f.summary = format!(
        "{}: bytes per entry {} → {} ({:.1}x), {} unexplained by the entry count, growing {}",
        ctx.name,
        fmt_bytes(bpe_base),
        fmt_bytes(bpe_now),
        bpe_ratio,
        fmt_bytes(resid_rise),
        fmt_rate(growth.rate_per_min)
    );
    Some(f)
}
