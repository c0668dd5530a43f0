//! The replaced system's plain threshold rules, used when `statistical_analysis = false`
//! (docs/detectors.md, "Legacy rules"): no trend tests, only baseline comparisons and fixed rates.
//!
//! Over the detection window: the baseline is the mean of its first 25% of snapshots; growth from
//! it ≥ `memory_growth_threshold_mb`, or its rate ≥ `growth_rate_threshold_mb_per_min`, is gradual
//! growth; a rapid-window rate ≥ 3× the window's rate (and ≥ the rate threshold, without which
//! "3×" fires on any rise from a flat line) is rapid growth; ≥ 80% of snapshots above the
//! sustained threshold (85% of a budget) is sustained usage; ≥ 5 points above mean + 2 standard
//! deviations at intervals with a CV ≤ 0.2 are periodic spikes; bytes per entry ≥ 1.5× the
//! baseline's is cache bloat; RSS − tracked growing by max(0.64·G, 10% of RSS) per two windows
//! with RSS ≥ 1.5× tracked is fragmentation. These rules fire on warm-up and sawtooth patterns
//! the statistical detectors ignore; they exist for compatibility.

use super::recommend::{fmt_bytes, fmt_rate};
use super::DetectorConfig;
use super::{new_finding, stat, stats, to_bytes, to_delta, Ctx, Finding, Knobs, PROCESS_SCOPE};
use crate::leak::{LeakSeverity, LeakType};
use crate::snapshot::ProcessSnapshot;

const BASELINE_SHARE: f64 = 0.25;
const RAPID_MULTIPLE: f64 = 3.0;
const SUSTAINED_SHARE: f64 = 0.8;
const BUDGET_SHARE: f64 = 0.85;
const SPIKE_SDS: f64 = 2.0;
const MIN_SPIKES: usize = 5;
const MAX_INTERVAL_CV: f64 = 0.2;
const BLOAT_RATIO: f64 = 1.5;

/// The mean of the first quarter of `v` (the replaced system's baseline).
fn baseline(v: &[f64]) -> Option<f64> {
    let n = ((v.len() as f64 * BASELINE_SHARE).ceil() as usize).clamp(1, v.len().max(1));
    stats::mean(&v[..n.min(v.len())])
}

pub(super) fn detect_scope(ctx: &Ctx) -> Vec<Finding> {
    let k = &ctx.k;
    let mut out = Vec::new();
    if !ctx.covers(k.window) {
        return out;
    }
    let from = ctx.t_end - k.window;
    let first = ctx.times.partition_point(|&t| t <= from);
    let win = &ctx.pts[first..];
    let bytes: Vec<f64> = win.iter().map(|p| p.bytes).collect();
    let Some(base) = baseline(&bytes) else {
        return out;
    };
    let current = ctx.current_bytes() as f64;
    let elapsed_min = (ctx.t_end - win[0].t) / 60.0;
    let growth = current - base;
    let rate = if elapsed_min > 0.0 {
        growth / elapsed_min
    } else {
        0.0
    };
    let window = [win[0].t, ctx.t_end];

    if growth > 0.0 && (growth >= k.growth_bytes || rate >= k.rate_per_min) {
        let mut f = ctx.finding(LeakType::GradualGrowth, window);
        f.severity = k.severity(rate, None);
        f.confidence = 0.5;
        f.baseline_bytes = to_bytes(base);
        f.growth_bytes = to_delta(growth);
        f.rate_bytes_per_min = rate;
        f.statistics = vec![
            stat("growth_bytes", growth),
            stat("rate_bytes_per_min", rate),
        ];
        f.summary = format!(
            "{}: grew {} over the window ({})",
            ctx.name,
            fmt_bytes(growth),
            fmt_rate(rate)
        );
        out.push(f);
    }

    let rapid_from = ctx.t_end - k.rapid_window;
    let r0 = ctx.times.partition_point(|&t| t <= rapid_from);
    if r0 < ctx.pts.len() && k.rapid_window > 0.0 {
        let start_bytes = ctx.pts[r0.saturating_sub(1)].bytes;
        let recent = (current - start_bytes) / (k.rapid_window / 60.0);
        if recent >= k.rate_per_min && recent >= RAPID_MULTIPLE * rate.max(0.0) {
            let mut f = ctx.finding(LeakType::RapidGrowth, [rapid_from, ctx.t_end]);
            f.severity = k.severity(recent, None);
            f.confidence = 0.5;
            f.baseline_bytes = to_bytes(start_bytes);
            f.growth_bytes = to_delta(current - start_bytes);
            f.rate_bytes_per_min = recent;
            f.statistics = vec![stat("recent_rate_bytes_per_min", recent)];
            f.summary = format!(
                "{}: growing {} in the rapid window",
                ctx.name,
                fmt_rate(recent)
            );
            out.push(f);
        }
    }

    let threshold = ctx
        .budget
        .map_or(k.sustained_bytes, |b| BUDGET_SHARE * b as f64);
    let above = bytes.iter().filter(|&&b| b > threshold).count() as f64 / bytes.len() as f64;
    if threshold > 0.0 && above >= SUSTAINED_SHARE {
        let mut f = ctx.finding(LeakType::SustainedHigh, window);
        f.severity = LeakSeverity::Medium;
        f.confidence = above;
        f.baseline_bytes = to_bytes(base);
        f.statistics = vec![
            stat("share_above", above),
            stat("threshold_bytes", threshold),
        ];
        f.summary = format!(
            "{}: {:.0}% of snapshots above {}",
            ctx.name,
            above * 100.0,
            fmt_bytes(threshold)
        );
        out.push(f);
    }

    if let (Some(m), Some(sd)) = (stats::mean(&bytes), stats::sample_sd(&bytes)) {
        let cut = m + SPIKE_SDS * sd;
        let mut times = Vec::new();
        let mut prev_high = false;
        for s in win {
            let high = s.bytes > cut && sd > 0.0;
            if high && !prev_high {
                times.push(s.t);
            }
            prev_high = high;
        }
        let intervals: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        if times.len() >= MIN_SPIKES {
            if let Some(cv) = stats::coefficient_of_variation(&intervals) {
                if cv <= MAX_INTERVAL_CV {
                    let mut f = ctx.finding(LeakType::PeriodicSpike, window);
                    f.confidence = 0.5;
                    f.baseline_bytes = to_bytes(m);
                    f.statistics = vec![
                        stat("interval_cv", cv),
                        stat("spike_count", times.len() as f64),
                    ];
                    f.summary = format!(
                        "{}: {} regular spikes above {}",
                        ctx.name,
                        times.len(),
                        fmt_bytes(cut)
                    );
                    out.push(f);
                }
            }
        }
    }

    let bpe: Vec<f64> = win.iter().filter_map(|s| s.bytes_per_entry()).collect();
    if let (Some(b0), Some(now)) = (
        baseline(&bpe),
        ctx.pts.last().and_then(|p| p.bytes_per_entry()),
    ) {
        if b0 > 0.0 && now / b0 >= BLOAT_RATIO {
            let mut f = ctx.finding(LeakType::CacheBloat, window);
            f.severity = LeakSeverity::Medium;
            f.confidence = 0.5;
            f.baseline_bytes = to_bytes(base);
            f.growth_bytes = to_delta(growth);
            f.statistics = vec![
                stat("bytes_per_entry_ratio", now / b0),
                stat("bytes_per_entry_baseline", b0),
                stat("bytes_per_entry_now", now),
            ];
            f.summary = format!(
                "{}: bytes per entry {} -> {}",
                ctx.name,
                fmt_bytes(b0),
                fmt_bytes(now)
            );
            out.push(f);
        }
    }
    out
}

pub(super) fn detect_process(
    series: &[ProcessSnapshot],
    config: &DetectorConfig,
) -> Option<Finding> {
    let pts: Vec<(f64, f64, f64)> = series
        .iter()
        .filter_map(|s| s.rss_bytes.map(|r| (s.t, r as f64, s.tracked_bytes as f64)))
        .collect();
    let times: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let dt = super::series::cadence(&times)?;
    let k = Knobs::new(config, dt);
    let &(t_end, rss, tracked) = pts.last()?;
    if !(k.window > 0.0 && t_end - times[0] + dt >= k.window) {
        return None;
    }
    let first = times.partition_point(|&t| t <= t_end - k.window);
    let gaps: Vec<f64> = pts[first..].iter().map(|p| p.1 - p.2).collect();
    let g0 = baseline(&gaps)?;
    let elapsed = t_end - pts[first].0;
    if elapsed <= 0.0 {
        return None;
    }
    let per_horizon = (rss - tracked - g0) / elapsed * k.frag_horizon;
    if per_horizon >= k.frag_floor_bytes.max(0.1 * rss) && rss >= 1.5 * tracked {
        let mut f = new_finding(
            PROCESS_SCOPE,
            LeakType::Fragmentation,
            t_end,
            [pts[first].0, t_end],
            to_bytes(rss),
            config.budget(PROCESS_SCOPE),
        );
        f.severity = LeakSeverity::Medium;
        f.confidence = 0.5;
        f.baseline_bytes = to_bytes(g0);
        f.rate_bytes_per_min = per_horizon / (k.frag_horizon / 60.0);
        f.statistics = vec![
            stat("gap_growth_per_horizon_bytes", per_horizon),
            stat("rss_to_tracked", rss / tracked.max(1.0)),
        ];
        f.summary = format!(
            "RSS {} while tracked bytes are {}",
            fmt_bytes(rss),
            fmt_bytes(tracked)
        );
        return Some(f);
    }
    None
}
