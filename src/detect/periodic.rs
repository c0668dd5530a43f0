//! Periodic spikes (docs/detectors.md, "PeriodicSpike"): regular batch jobs, a leak when each
//! run leaves memory behind (the minima between runs rise).
//!
//! A batch job takes tens of megabytes at once, holds them for a minute or several, and gives
//! them back at once; a cache's eviction sawtooth rises slowly and falls at once, a TTL sweep
//! likewise, a table doubling steps up and stays. So a job is told by its edges, on the peak
//! series (maximum per bucket, at the snapshot cadence) of up to eight times the periodic span
//! (8 hours at the defaults; only the full-resolution history, where every snapshot is kept):
//!
//! 1. **Edges**: an *up edge* is a rise between consecutive points whose excess over the median
//!    rise is above 3.5 σ̂ (σ̂ = 1.4826·MAD of the rises, so a steady fill or noise is not an
//!    edge) and at least the smallest spike; a *down edge* is the mirror image.
//! 2. **A job** is an up edge followed, within a quarter of the periodic span (15 minutes at the
//!    defaults), by a down edge that gives back at least half of the job's height above the
//!    level before it. An up edge with no such fall is a step, not a job.
//! 3. **Periodic**: in the shortest of the spans (the periodic span, doubled up to three times)
//!    where it holds, at least five jobs of like height (within 2× of their median) fall on one
//!    grid ([`regular`]: walked back from the newest, each run expected one period before the
//!    last one found, within 0.08 of a period; one missed run in a row; at most a quarter of the
//!    runs missed or off the grid), and their intervals have a coefficient of variation ≤ 0.2.
//!    A request held for a minute now and then is a job too, but random jobs fill no grid.
//! 4. **The minima between runs** then decide. Rising (Mann–Kendall one-sided p < 0.05, a
//!    positive slope, and a rise of at least half of G over the runs, or the gradual detector's
//!    rate rule) *and left by the runs* (at most a quarter of the rise happens within the gaps
//!    between runs: the floor is flat between them and steps at each) is a leak under a
//!    sawtooth, High (raised by the budget rule), from the first run on. A floor that rises
//!    between runs as well is a trend under the jobs: the notice stays Low and says so, and the
//!    gradual detector judges the floor. Flat minima: Low, a batch job to smooth, not a leak.

use super::recommend::{fmt_bytes, fmt_minutes, fmt_rate};
use super::series::Pick;
use super::{fit_growth, stat, stats, time_to_budget, to_bytes, Ctx, Finding, Point};
use crate::leak::{LeakSeverity, LeakType};

/// Score an edge's excess over the median rise must exceed, in σ̂.
const EDGE_SCORE: f64 = 3.5;
/// Jobs needed to call them periodic.
const MIN_JOBS: usize = 5;
/// Largest coefficient of variation of the intervals between job starts.
const MAX_INTERVAL_CV: f64 = 0.2;
/// The longest a job may hold its memory, as a share of the periodic span.
const MAX_HOLD_SHARE: f64 = 0.25;
/// A job's fall gives back at least this share of its height.
const FALL_SHARE: f64 = 0.5;
/// Jobs of like height: within this factor of their median.
const LIKE_HEIGHT: f64 = 2.0;
/// A run is on the grid when it starts within this share of a period of where it is expected:
/// a scheduled job keeps its period to a few percent, and a wider tolerance lets heavy-tailed
/// requests fill a grid of long periods by chance (0.15 raised a batch-job notice on 23 scopes
/// of the production corpus that have no batch job; 0.08 on 6).
const GRID_TOLERANCE: f64 = 0.08;
/// Runs in a row the snapshots may miss.
const MAX_MISSED_IN_A_ROW: usize = 1;
/// The periodic span is doubled up to this many times.
const SPAN_DOUBLINGS: i32 = 3;
/// Minima between runs rise at one-sided p < 0.05 (there are few of them).
const MINIMA_Z: f64 = 1.645;
/// The share of G the minima must rise by (or the rate rule).
const MINIMA_RISE: f64 = 0.5;
/// At most this share of the minima's rise may happen between runs for the runs to be what
/// leaves the memory behind.
const BETWEEN_SHARE: f64 = 0.25;
/// Fewer peak points than this hold no five jobs with room around them.
const MIN_POINTS: usize = 20;
/// Points whose spacing exceeds this many cadences end the full-resolution run.
const GAP_CADENCES: f64 = 3.0;

/// One run of a batch job on the peak series: the up edge at `start`, the first point after the
/// fall at `end`.
#[derive(Clone, Copy, Debug)]
struct Job {
    start: usize,
    end: usize,
    height: f64,
}

pub(super) fn detect(ctx: &Ctx) -> Option<Finding> {
    let k = &ctx.k;
    let base_span = k.periodic_span;
    if !(base_span > 0.0) {
        return None;
    }
    let longest = (base_span * f64::from(1 << SPAN_DOUBLINGS)).min(k.long_view.max(base_span));
    let mut pts = ctx.points(ctx.t_end - longest, ctx.t_end, k.peak_bucket, Pick::Max);
    // Only the full-resolution run: a coarse history point keeps its run's minimum, and a job
    // is invisible in it.
    let gap = GAP_CADENCES * k.peak_bucket.max(ctx.dt);
    if let Some(i) = pts.windows(2).rposition(|w| w[1].t - w[0].t > gap) {
        pts.drain(..=i);
    }
    let n = pts.len();
    if n < MIN_POINTS {
        return None;
    }
    let y: Vec<f64> = pts.iter().map(|p| p.bytes).collect();
    let (lo, hi) = y
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    // Most scopes have no spike at all: nothing moved by the smallest spike, no job.
    if !(hi - lo >= k.spike_min_bytes) {
        return None;
    }
    let jobs = find_jobs(ctx, &y);
    if jobs.len() < MIN_JOBS {
        return None;
    }
    let (jobs, cv) = periodic_jobs(&pts, &jobs, base_span, ctx.t_end)?;
    let starts: Vec<f64> = jobs.iter().map(|j| pts[j.start].t).collect();
    let intervals: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    let period = stats::median(&intervals)?;
    let heights: Vec<f64> = jobs.iter().map(|j| j.height).collect();
    let height = stats::median(&heights)?;

    // The floor between consecutive runs: its minimum, and how much it rose within the gap
    // (between the levels at the gap's two ends) and across the run before it.
    let mut min_t = Vec::with_capacity(jobs.len());
    let mut min_b = Vec::with_capacity(jobs.len());
    let mut between = 0.0;
    for w in jobs.windows(2) {
        let gap = &pts[w[0].end..w[1].start];
        let Some(p) = gap.iter().min_by(|a, b| a.bytes.total_cmp(&b.bytes)) else {
            continue;
        };
        min_t.push(p.t);
        min_b.push(p.bytes);
        between += gap_rise(gap);
    }
    let minima_mk = stats::mann_kendall(&min_b)?;
    let minima = fit_growth(&min_t, &min_b, ctx.t_end)?;
    let slope = minima.linear.slope;
    let rise = minima
        .linear
        .at((min_t[min_t.len() - 1] - ctx.t_end) / 60.0)
        - minima.linear.at((min_t[0] - ctx.t_end) / 60.0);
    let left_by_runs = rise > 0.0 && between <= BETWEEN_SHARE * rise;
    let rising = minima_mk.z > MINIMA_Z
        && slope > 0.0
        && (rise >= MINIMA_RISE * k.growth_bytes
            || (slope >= k.rate_per_min && rise >= 2.0 * k.spike_min_bytes))
        && left_by_runs;

    let start = starts[0];
    let mut f = ctx.finding(LeakType::PeriodicSpike, [start, ctx.t_end]);
    f.confidence = (1.0 - cv).clamp(0.0, 1.0);
    f.baseline_bytes = to_bytes(min_b.first().copied().unwrap_or(0.0));
    f.statistics = vec![
        stat("interval_cv", cv),
        stat("spike_count", jobs.len() as f64),
        stat("period_secs", period),
        stat("spike_height_bytes", height),
        stat("minima_mann_kendall_z", minima_mk.z),
        stat("minima_slope_bytes_per_min", slope),
        stat("minima_rise_bytes", rise),
        stat("rise_between_runs_bytes", between),
        stat("minima_rising", if rising { 1.0 } else { 0.0 }),
    ];
    if rising {
        let ttb = time_to_budget(&minima, ctx.current_bytes() as f64, ctx.budget);
        f.severity = k.with_budget(LeakSeverity::High, ttb);
        f.growth_bytes = minima.linear_since((start - ctx.t_end) / 60.0);
        f.set_growth(&minima, ttb);
        f.summary = format!(
            "{}: {} jobs every {} and the minima between them rose {} over {} ({}): each run \
             leaves {} behind, a leak under a sawtooth",
            ctx.name,
            fmt_bytes(height),
            fmt_minutes(period),
            fmt_bytes(rise),
            fmt_minutes(ctx.t_end - start),
            fmt_rate(minima.rate_per_min),
            fmt_bytes(rise / (jobs.len() - 1) as f64)
        );
    } else {
        f.severity = LeakSeverity::Low;
        // The runs leave nothing behind: what the floor does between them is a trend for the
        // gradual detector to judge, not these jobs' doing.
        let floor = if rise >= k.spike_min_bytes {
            "over a floor that moves between runs, not with them"
        } else {
            "over a flat floor"
        };
        f.summary = format!(
            "{}: {} jobs every {} {}: a batch job to smooth, not a leak",
            ctx.name,
            fmt_bytes(height),
            fmt_minutes(period),
            floor
        );
    }
    Some(f)
}

/// The jobs of the peak series `y` (module docs, steps 1 and 2), oldest first.
fn find_jobs(ctx: &Ctx, y: &[f64]) -> Vec<Job> {
    let k = &ctx.k;
    let n = y.len();
    let d: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
    let (Some(centre), Some(sigma)) = (stats::median(&d), stats::robust_sigma(&d)) else {
        return Vec::new();
    };
    let sigma = sigma.max(k.spike_min_bytes * 1e-3).max(f64::MIN_POSITIVE);
    // d[i] is the move from y[i] to y[i + 1].
    let up = |i: usize| (d[i] - centre) / sigma > EDGE_SCORE && d[i] >= k.spike_min_bytes;
    let down = |i: usize| (centre - d[i]) / sigma > EDGE_SCORE && -d[i] >= k.spike_min_bytes;
    let max_hold = ((MAX_HOLD_SHARE * k.periodic_span) / k.peak_bucket.max(ctx.dt)).ceil() as usize;
    let mut jobs = Vec::new();
    let mut i = 0;
    while i < d.len() {
        if !up(i) {
            i += 1;
            continue;
        }
        let before = y[i];
        let mut top = y[i + 1];
        let mut end = None;
        let mut j = i + 1;
        while j < d.len() && j - i <= max_hold {
            top = top.max(y[j]);
            if down(j) && top - y[j + 1] >= FALL_SHARE * (top - before) {
                end = Some(j + 1);
                break;
            }
            j += 1;
        }
        match end {
            Some(e) => {
                jobs.push(Job {
                    start: i + 1,
                    end: e.min(n - 1),
                    height: top - before,
                });
                i = e;
            }
            None => i += 1,
        }
    }
    jobs
}

/// The jobs of the shortest span (the periodic span doubled up to [`SPAN_DOUBLINGS`] times) in
/// which at least [`MIN_JOBS`] jobs of like height start at regular intervals, with the
/// intervals' coefficient of variation (module docs, step 3).
fn periodic_jobs(
    pts: &[Point],
    jobs: &[Job],
    base_span: f64,
    t_end: f64,
) -> Option<(Vec<Job>, f64)> {
    let oldest = pts[jobs[0].start].t;
    for doubling in 0..=SPAN_DOUBLINGS {
        let span = base_span * f64::from(1 << doubling);
        let recent: Vec<Job> = jobs
            .iter()
            .copied()
            .filter(|j| pts[j.start].t > t_end - span)
            .collect();
        if let Some(found) = regular(pts, recent) {
            return Some(found);
        }
        // The span already covers every job: a longer one adds nothing.
        if oldest > t_end - span {
            break;
        }
    }
    None
}

/// The regular runs among `jobs` (module docs, step 3): those of like height that fall on one
/// grid of period P (the median interval between them), walked back from the newest run, each
/// next run expected one period before the last one found, within a tolerance. A run the
/// snapshots missed (one in a row) is allowed, and so are a few off-grid jobs (a request held
/// for a minute between two runs), but no more than a quarter of the runs of either: random
/// jobs fill no grid. Returns the runs, oldest first, and the coefficient of variation of
/// their intervals (each divided by the periods it spans).
fn regular(pts: &[Point], jobs: Vec<Job>) -> Option<(Vec<Job>, f64)> {
    if jobs.len() < MIN_JOBS {
        return None;
    }
    let heights: Vec<f64> = jobs.iter().map(|j| j.height).collect();
    let typical = stats::median(&heights)?;
    let like: Vec<Job> = jobs
        .into_iter()
        .filter(|j| j.height <= LIKE_HEIGHT * typical && j.height * LIKE_HEIGHT >= typical)
        .collect();
    if like.len() < MIN_JOBS {
        return None;
    }
    let start = |j: &Job| pts[j.start].t;
    let intervals: Vec<f64> = like
        .windows(2)
        .map(|w| start(&w[1]) - start(&w[0]))
        .collect();
    let period = stats::median(&intervals)?;
    if !(period > 0.0) {
        return None;
    }
    let tolerance = GRID_TOLERANCE * period;
    let mut chain = vec![like[like.len() - 1]];
    let mut per_period = Vec::new();
    let (mut missed, mut in_a_row) = (0usize, 0usize);
    let mut last = start(&chain[0]);
    let mut expected = last - period;
    let mut i = like.len() - 1;
    while i > 0 && in_a_row <= MAX_MISSED_IN_A_ROW {
        // The newest earlier run near the expected start.
        let near = like[..i]
            .iter()
            .rposition(|j| (start(j) - expected).abs() <= tolerance);
        match near {
            Some(k) => {
                let t = start(&like[k]);
                per_period.push((last - t) / (in_a_row as f64 + 1.0));
                chain.push(like[k]);
                last = t;
                expected = t - period;
                in_a_row = 0;
                i = k;
            }
            None if like[..i].iter().any(|j| start(j) < expected - tolerance) => {
                missed += 1;
                in_a_row += 1;
                expected -= period;
            }
            None => break,
        }
    }
    // A miss at the end of the walk found nothing before it: it is no miss.
    missed -= in_a_row.min(missed);
    chain.reverse();
    let first = start(&chain[0]);
    let off_grid = like
        .iter()
        .filter(|j| start(j) >= first)
        .count()
        .saturating_sub(chain.len());
    if chain.len() < MIN_JOBS || 4 * missed > chain.len() || 4 * off_grid > chain.len() {
        return None;
    }
    let cv = stats::coefficient_of_variation(&per_period)?;
    (cv <= MAX_INTERVAL_CV).then_some((chain, cv))
}

/// How much the floor rose within a gap between runs: the level (median of up to three points)
/// at its end less the one at its start.
fn gap_rise(gap: &[Point]) -> f64 {
    let m = gap.len();
    if m < 2 {
        return 0.0;
    }
    let k = 3.min(m / 2).max(1);
    let level = |s: &[Point]| super::median_bytes(s).unwrap_or(0.0);
    level(&gap[m - k..]) - level(&gap[..k])
}
