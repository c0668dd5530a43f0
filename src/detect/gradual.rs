//! Gradual growth: the floor of a scope keeps rising at a pace that does not slow down, over a
//! view from the detection window up to the long view (48 detection windows, a day at the
//! defaults) read from the collector's coarser history tiers. docs/detectors.md explains the
//! design; this is the method.
//!
//! For each span of the ladder W, 2W, 4W, … up to the long view (W the detection window) that
//! the history covers, shortest first, the floor series is cut into [`BUCKETS`] buckets and each
//! bucket keeps its minimum (a coarse history point already carries the minimum of its run), so
//! request bursts, an eviction sawtooth and batch jobs do not move the evidence. The span is a
//! trend when all of these hold:
//!
//! 1. **Significance under autocorrelation**: Mann–Kendall Z divided by √((1+ρ)/(1−ρ)), ρ the
//!    lag-1 autocorrelation of the residuals around the Theil–Sen line (the variance inflation
//!    of an AR(1) series), is above 3.09 (one-sided p < 0.001), and Kendall's τ ≥ 0.5.
//! 2. **Not one settled step**: the best one-change-point step model (two levels) fits better
//!    than the line *and* neither level moves by more than a quarter of the step: a preload or
//!    a config change is not a trend. A staircase that never comes back down is a trend: one
//!    split leaves further steps inside a segment.
//! 3. **Pace kept**: the rate over the last third of the span (between medians of three buckets)
//!    is at least half the larger of the span's rate and the first third's: a warm-up, a TTL
//!    fill that stopped, an interner nearing saturation (log-shaped growth) all decelerate.
//!    Between a quarter and a half the finding is `hold_only` (keeps an open leak, cannot open
//!    one); so it is where the span just before rose more than 1.3× this span's rise, or the
//!    span before that 1.3²×.
//! 4. **Magnitude**: on spans shorter than four detection windows, the growth over the span
//!    (the smaller of the fitted rise and the rise between the medians of the first and last
//!    three buckets) is at least half of G (`memory_growth_threshold_mb`); or the rate is at
//!    least R (`growth_rate_threshold_mb_per_min`) with a rise of R too; or, on spans of at
//!    least four detection windows, half of G at a pace of at least half of G per four windows
//!    (a slow leak seen for hours: 0.5 MB/min within 2 h at the defaults; slower growth over a
//!    long span is what a daily ramp or a TTL cache under its load adds); or the projected time
//!    to the scope's budget is within the severity horizon (a day at the defaults) and the
//!    rise is at least the smallest spike (G/20).
//!    Only the rise above the highest floor of a detection window before the span counts
//!    (a daily ramp climbs back to a level held before), and each third of the span must add a
//!    tenth of the rise (a request held for minutes rises in one third). The budget rule needs
//!    a span of at least one detection window, a rise of G/10, and a floor that never fell by
//!    as much over the long view ([`keeps_its_gains`]: a load-driven level gives its surges
//!    back; a leak keeps what it adds). Half the growth of the first and third rules
//!    ([`HOLD_SHARE`]: G/4 on a short span, G/4 at a pace of G/4 per four windows on a long
//!    one) is `hold_only`: a slow leak read near its bar stays one leak.
//! 5. **Past the warm-up**: evidence starts no earlier than one baseline window after the
//!    scope's first snapshot, so the fill right after start is never the trend, or where the
//!    floor first pauses (held still for half a detection window, or level over a whole one, or
//!    a fill faster than R moving at under a tenth of its rate for half a window), if that is
//!    sooner ([`warm_up`], [`first_pause`]); and while a fill at one rate
//!    may still be going on, growth slower than R at its rate cannot open a finding
//!    ([`still_filling`]). Within the allowance, growth at R or faster that outpaces the fill
//!    twice over is read all the same ([`outpaces_fill`]).
//! 6. The block count rises too (Mann–Kendall Z > 3.09), when the scope reports blocks.
//!
//! Rate, model (linear or exponential) and time to budget come from the span's bucket floors.

use super::recommend::{fmt_bytes, fmt_minutes, fmt_rate};
use super::series::Pick;
use super::{fit_growth, stat, stats, time_to_budget, to_bytes, to_delta, Ctx, Finding};
use crate::leak::LeakType;

/// One-sided p < 0.001.
pub(crate) const Z_CRITICAL: f64 = 3.09;
/// Kendall's τ a trend must reach: at least three quarters of ordered pairs rise.
pub(crate) const TAU_MIN: f64 = 0.5;
/// Buckets per span: enough for the tests, few enough that a day of history costs little.
const BUCKETS: f64 = 24.0;
/// Fewer bucket floors than this do not make a trend.
const MIN_POINTS: usize = 12;
/// Buckets whose median gives a level.
pub(crate) const LEVEL_POINTS: usize = 3;
/// The recent third must grow at least this share of the span's rate to open a finding.
pub(crate) const PACE_OPEN: f64 = 0.5;
/// … and at least this share to keep an open one.
pub(crate) const PACE_HOLD: f64 = 0.25;
/// A segment of a step model moving less than this share of the step is flat.
pub(crate) const STEP_FLAT: f64 = 0.25;
/// Spans of at least this many detection windows may open on half of G.
const SLOW_SPAN_WINDOWS: f64 = 4.0;
/// The share of G a significant, spread, unslowing rise above the earlier range must reach.
pub(crate) const HALF: f64 = 0.5;
/// A span whose rise is less than the span before's by this factor is a warm-up slowing down.
const SLOWING: f64 = 1.3;
/// Spans before this one compared, the k-th back by `SLOWING`^k.
const SLOWING_SPANS_BACK: usize = 2;
/// Spans of at least this many detection windows are read for a staircase.
const STAIRS_SPAN_WINDOWS: f64 = 2.0;
/// Bucket floors each level of a staircase needs.
const STAIRS_MIN_LEVEL: usize = 3;
/// The staircase's squared residuals must be at most this share of one step's.
const STAIRS_FIT: f64 = 0.5;
/// The smaller step of a staircase is at least this share of the larger.
const STAIRS_LIKE: f64 = 1.0 / 3.0;
/// The newest level may last this many times the level before it.
const STAIRS_SLACK: f64 = 1.5;
/// Each third of the span must add at least this share of the rise.
pub(crate) const THIRD_SHARE: f64 = 0.1;
/// A fill has stopped where, over half a detection window, the floor moves at less than this
/// share of the rate it rose at since start.
const FILL_STOPPED: f64 = 0.1;
/// A fill right after start may go on this many detection windows (4 hours at the defaults).
const FILL_WINDOWS: f64 = 8.0;
/// Rates within this factor of each other are one rate (the fill and the growth after it).
pub(crate) const FILL_RATIO: f64 = 1.4;
/// The halves of a fill at one rate add within this factor of each other: a TTL cache's
/// inserts follow its load, and a bursty load's half-hour means differ by more than 1.4×
/// (late_start/3: 17 and 13 MB; ttl_cache/6: 23 and 49 MB).
const FILL_HALVES: f64 = 2.0;
/// Growth within the warm-up allowance must be this many times the fill's mean rate so far.
const OUTPACE: f64 = 2.0;
/// The share of the opening magnitude (rule 4) that keeps an open leak: a 0.5 MB/min leak read
/// over two hours rises 55–65 MB against the 50 MB that opens it, and one reading under the bar
/// resolved it, to open again minutes later.
const HOLD_SHARE: f64 = 0.5;
/// The largest residual autocorrelation used in the variance correction.
const RHO_MAX: f64 = 0.9;

pub(super) fn detect(ctx: &Ctx) -> Option<Finding> {
    let k = &ctx.k;
    let (settled_from, fill) = warm_up(ctx);
    let mut held = None;
    for span in super::span_ladder(k.window, k.long_view) {
        if ctx.t_end - span < settled_from - 1e-6 * span {
            // Within the warm-up allowance only growth that outpaces the fill does (and a span
            // that starts within half a window of the first snapshot never can: not read).
            let readable = ctx.t_end - span - ctx.times[0] >= k.window / 2.0;
            match readable
                .then(|| detect_at(ctx, span))
                .flatten()
                .filter(|f| outpaces_fill(ctx, span, f))
            {
                Some(f) => return Some(f),
                None => break,
            }
        }
        match detect_at(ctx, span) {
            // Growth at the fill's rate: the finding's rate now, or its mean over the span (an
            // exponential fit's rate now runs ahead of a fill whose load rose lately).
            Some(mut f)
                if fill.is_some_and(|r| {
                    let mean =
                        f.growth_bytes as f64 / ((f.window[1] - f.window[0]) / 60.0).max(1.0);
                    let near = |x: f64| (r / FILL_RATIO..=r * FILL_RATIO).contains(&x);
                    (near(f.rate_bytes_per_min) || near(mean))
                        && f.rate_bytes_per_min < k.rate_per_min
                }) =>
            {
                f.hold_only = true;
                held.get_or_insert(f);
            }
            Some(f) if !f.hold_only => return Some(f),
            Some(f) => {
                held.get_or_insert(f);
            }
            None => {}
        }
    }
    held
}

/// The warm-up (module docs, rule 5): when evidence may start (one baseline window after the
/// first snapshot, or where the floor first pauses if that is sooner), and the rate of a fill
/// at one rate that may still be going on ([`still_filling`]). Both read the floor of the first
/// baseline window, read once here; once even the long view starts after that window (a day
/// into the history at the defaults), neither can change a verdict, and it is not read.
/// (A shorter allowance finds leaks that begin within the first hour sooner, and pages on more
/// warm-ups: docs/detectors.md.)
fn warm_up(ctx: &Ctx) -> (f64, Option<f64>) {
    let k = &ctx.k;
    let t0 = ctx.times[0];
    let limit = t0 + k.baseline;
    if ctx.t_end - k.long_view >= limit {
        return (limit, None);
    }
    let floor = ctx.points(t0 - ctx.dt, limit, k.floor_bucket, Pick::Min);
    match first_pause(ctx, &floor) {
        Some(t) => (t.min(limit), None),
        None => (limit, still_filling(ctx, &floor)),
    }
}

/// Whether `f`, a finding over the `span` ending now that starts within the warm-up allowance,
/// is growth the fill right after start does not explain: at R or faster, at least
/// [`OUTPACE`] times the floor's mean rate from the first snapshot to the span's start ([`detect`]
/// reads only spans starting at least half a detection window in: a fill needs a before to be
/// outpaced). A fill
/// keeps its pace or slows (a cold cache's misses fall as it fills); a leak that begins within
/// the first hour adds its rate to what the fill was doing.
fn outpaces_fill(ctx: &Ctx, span: f64, f: &Finding) -> bool {
    let k = &ctx.k;
    let t0 = ctx.times[0];
    let from = ctx.t_end - span;
    if f.hold_only || f.rate_bytes_per_min < k.rate_per_min {
        return false;
    }
    let floor = ctx.points(t0 - ctx.dt, from, k.floor_bucket, Pick::Min);
    let Some((a, b, minutes)) = floor_ends(&floor) else {
        return false;
    };
    f.rate_bytes_per_min >= OUTPACE * ((b - a) / minutes.max(f64::MIN_POSITIVE)).max(0.0)
}

/// The levels at the two ends of `floor` (medians of its first and last [`LEVEL_POINTS`]
/// buckets) and the minutes between those levels' middle buckets: what a fill's mean rate is
/// read from. `None` for fewer than two levels' worth of buckets.
fn floor_ends(floor: &[super::Point]) -> Option<(f64, f64, f64)> {
    let n = floor.len();
    if n < 2 * LEVEL_POINTS {
        return None;
    }
    let a = super::median_bytes(&floor[..LEVEL_POINTS])?;
    let b = super::median_bytes(&floor[n - LEVEL_POINTS..])?;
    Some((a, b, (floor[n - 2].t - floor[1].t) / 60.0))
}

/// Where the first baseline window's `floor` first pauses: the start of the first stretch of
/// half a detection window in which it stays within the smallest spike, or of a whole detection
/// window that ends where it began (the medians of its first and last three buckets within the
/// smallest spike), or of half a detection window in which a fill faster than R (half of G at
/// least since the first snapshot) moves the floor at under [`FILL_STOPPED`] of its rate. A
/// scope that pauses is not filling, so what rises after the pause is not the fill right after
/// start. The second form is a warm LRU's: its eviction sawtooth swings the floor by more than
/// the smallest spike every few minutes, so the first form never saw it settle, and a leak that
/// began within the first hour waited for the whole allowance. The third is a cold LRU's: it
/// fills by misses in minutes, then its sawtooth swings around the top for less than a window.
fn first_pause(ctx: &Ctx, floor: &[super::Point]) -> Option<f64> {
    let k = &ctx.k;
    let half = k.window / 2.0;
    // The last index at most `span` after `floor[i]`, if the floor reaches that far.
    let reach = |i: usize, span: f64| -> Option<usize> {
        let j = i + floor[i..].partition_point(|p| p.t <= floor[i].t + span) - 1;
        (floor[j].t - floor[i].t >= span - k.floor_bucket).then_some(j)
    };
    for i in 0..floor.len() {
        let j = reach(i, half)?;
        let (lo, hi) = floor[i..=j]
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.bytes), b.max(p.bytes))
            });
        let still = hi - lo < k.spike_min_bytes;
        let whole = reach(i, k.window).filter(|&j| j + 1 - i >= 2 * LEVEL_POINTS);
        let flat = whole.is_some_and(|j| {
            match (
                super::median_bytes(&floor[i..i + LEVEL_POINTS]),
                super::median_bytes(&floor[j + 1 - LEVEL_POINTS..=j]),
            ) {
                (Some(a), Some(b)) => (b - a).abs() < k.spike_min_bytes,
                _ => false,
            }
        });
        // The third form: a fast fill that stopped. Over half a detection window the floor
        // moves at under a tenth of the rate it rose at since start (a cold LRU that filled
        // 300 MB in ten minutes, its sawtooth then swinging 30 MB around the top). A warm-up
        // still adding a fifth of its rate, or a fill slower than R (a TTL cache's, whose load
        // dips for a quarter of an hour), has not stopped.
        let stopped = {
            let head = super::median_bytes(&floor[..LEVEL_POINTS.min(floor.len())]);
            let from = super::median_bytes(&floor[i..(i + LEVEL_POINTS).min(j + 1)]);
            let to = super::median_bytes(&floor[(j + 1).saturating_sub(LEVEL_POINTS).max(i)..=j]);
            match (head, from, to) {
                (Some(h), Some(a), Some(b)) => {
                    let minutes = ((floor[i].t - floor[0].t) / 60.0).max(f64::MIN_POSITIVE);
                    let fill_rate = (a - h) / minutes;
                    let rate = (b - a).abs() / ((floor[j].t - floor[i].t) / 60.0).max(1.0);
                    a - h >= HALF * k.growth_bytes
                        && fill_rate >= k.rate_per_min
                        && rate < FILL_STOPPED * fill_rate
                }
                _ => false,
            }
        };
        if still || flat || stopped {
            return Some(floor[i].t.max(ctx.times[0]));
        }
    }
    None
}

/// The rate (bytes per minute) of the fill right after start, while it may still be going on:
/// the first baseline window's `floor` did not pause ([`first_pause`]) and less than
/// [`FILL_WINDOWS`] detection windows have passed. A cache filling for its first TTL rises at
/// the rate it started with until the TTL sweeps begin; growth at that rate, if slower than R,
/// may keep an open leak, not open one ([`detect`]). Growth at R or faster is never held as a
/// fill: a cache that fills that fast for hours is a leak until it stops.
fn still_filling(ctx: &Ctx, floor: &[super::Point]) -> Option<f64> {
    let k = &ctx.k;
    if ctx.t_end > ctx.times[0] + FILL_WINDOWS * k.window {
        return None;
    }
    let (a, b, minutes) = floor_ends(floor)?;
    let n = floor.len();
    let mid = super::median_bytes(&floor[n / 2 - 1..n / 2 + 2])?;
    // A fill at one rate: each half of the window adds about half of it (within 2×, as a
    // bursty load moves the inserts). A cold cache filling
    // by misses slows as it fills; a leak that began within the window speeds the second half.
    let halves = (mid - a) / (b - mid).max(f64::MIN_POSITIVE);
    let steady = (1.0 / FILL_HALVES..=FILL_HALVES).contains(&halves);
    (b - a >= k.spike_min_bytes && minutes > 0.0 && steady).then(|| (b - a) / minutes)
}

/// A staircase (docs/detectors.md, "Staircases"): the span's floor is three flat levels, the
/// two steps up each at least the rapid floor and a third of the other, none given back, half
/// of G in all, the newest level no older than 1.5 times the level before it, and a rate over
/// the span of at least the slow rule's pace (or a budget within the horizon).
/// A leak that adds a batch every hour and never frees it reads as a poor line to the trend
/// test (its residuals are autocorrelated by its shape), so it is told by its shape instead;
/// one step that settled is a preload, not a staircase.
fn staircase(
    ctx: &Ctx,
    span: f64,
    floor: &[super::Point],
    rise: f64,
    above: f64,
) -> Option<Finding> {
    let k = &ctx.k;
    if !(rise >= HALF * k.growth_bytes) {
        return None;
    }
    let bytes: Vec<f64> = floor.iter().map(|p| p.bytes).collect();
    let s = stats::best_stairs(&bytes, STAIRS_MIN_LEVEL)?;
    let steps = [s.levels[1] - s.levels[0], s.levels[2] - s.levels[1]];
    let least = steps[0].min(steps[1]);
    if !(least >= k.rapid_floor_bytes && s.max_drift <= STEP_FLAT * least) {
        return None;
    }
    // The levels must explain the floor far better than one step does: a preload and noise
    // around it split into three levels too, with a tiny second step.
    let one = stats::best_step(&bytes)?;
    if !(s.sse <= STAIRS_FIT * one.sse) {
        return None;
    }
    // Repeated steps of a kind, still going on: the newest level has lasted no longer than
    // the one before (with slack), so table doublings during a warm-up that stopped hours ago
    // and a preload beside a small step are no staircase.
    let largest = steps[0].max(steps[1]);
    let first_step = floor[s.splits[0]].t;
    let last_step = floor[s.splits[1]].t;
    let ongoing = ctx.t_end - last_step <= STAIRS_SLACK * (last_step - first_step);
    if !(least >= STAIRS_LIKE * largest && ongoing) {
        return None;
    }
    let total = s.levels[2] - s.levels[0];
    // The rate over the span the summary states: the two steps over the whole span. From the
    // first step on instead, a step split in two by the fit (a part of it minutes before the
    // rest) made a 1 MB/min staircase 5 MB/min, and its severity Medium for one span.
    let minutes = ((ctx.t_end - floor[0].t) / 60.0).max(ctx.dt / 60.0);
    let rate = total / minutes;
    let current = ctx.current_bytes() as f64;
    let ttb = ctx
        .budget
        .map(|b| ((b as f64 - current) / rate * 60.0).max(0.0));
    // At the slow rule's pace at least (rule 4), unless it heads for a budget within the
    // horizon: two steps hours apart that add half of G in half a day are a load's regimes
    // (a TTL cache's level moving with its traffic), slower than any leak the targets name.
    if !(at_slow_pace(k, total, minutes * 60.0)
        || ttb.is_some_and(|t| t < k.urgent_horizon)
            && keeps_its_gains(ctx, floor[1].t - floor[0].t, total))
    {
        return None;
    }
    let mut f = ctx.finding(LeakType::GradualGrowth, [floor[0].t, ctx.t_end]);
    f.severity = k.severity(rate, ttb);
    f.confidence = (1.0 - s.sse / one.sse.max(f64::MIN_POSITIVE)).clamp(0.0, 1.0);
    f.baseline_bytes = to_bytes(s.levels[0]);
    f.growth_bytes = to_delta(total);
    f.rate_bytes_per_min = rate;
    f.time_to_budget_secs = ttb;
    f.statistics = vec![
        stat("staircase_least_step_bytes", least),
        stat(
            "staircase_fit_ratio",
            s.sse / one.sse.max(f64::MIN_POSITIVE),
        ),
        stat("staircase_max_drift_bytes", s.max_drift),
        stat("span_secs", span),
    ];
    if above.is_finite() {
        f.statistics
            .push(stat("rise_above_prior_floor_bytes", above));
    }
    f.summary = format!(
        "{}: floor rose {} in steps of {} and {} over {}, none given back ({})",
        ctx.name,
        fmt_bytes(total),
        fmt_bytes(steps[0]),
        fmt_bytes(steps[1]),
        fmt_minutes(ctx.t_end - floor[0].t),
        fmt_rate(rate)
    );
    Some(f)
}

/// Whether the floor (bucket floors of `width`, half a detection window at least) has never
/// fallen by `rise` or more over the long view: what a projected budget may open a finding on
/// (rule 4). A leak keeps what it adds; a cache whose level follows its load (a TTL cache's
/// inserts over the last TTL) gives its surges back when the load falls, and its next surge
/// projected onto a budget is the load again: a TTL cache with a budget 1.25–3 times its peak
/// opened a false GradualGrowth in 24 of 24 cases on the budget projection alone (`ttl_budget`
/// in leakscope-corpus). Half a window, so that an LRU's batch evictions every few minutes
/// and requests held for minutes are not a level given back (with the span's own buckets,
/// 75 s on a 30-minute span, exponential leaks on an evicting LRU were found up to an hour
/// later).
fn keeps_its_gains(ctx: &Ctx, width: f64, rise: f64) -> bool {
    let from = (ctx.t_end - ctx.k.long_view).max(ctx.times[0] - ctx.dt);
    let width = width.max(ctx.k.window / 2.0).max(ctx.dt);
    super::largest_fall(&ctx.points(from, ctx.t_end, width, Pick::Min)) < rise
}

/// Whether `rise` bytes over `span` seconds is at the slow rule's pace (rule 4): half of G per
/// [`SLOW_SPAN_WINDOWS`] detection windows, 0.42 MB/min at the defaults.
fn at_slow_pace(k: &super::Knobs, rise: f64, span: f64) -> bool {
    rise * (SLOW_SPAN_WINDOWS * k.window) / span >= HALF * k.growth_bytes
}

/// Whether growth of `rise` over the `span` ending at `t_end` is slowing: one of the
/// [`SLOWING_SPANS_BACK`] spans just before it, wholly after `t_first`, rose more than
/// [`SLOWING`]^k times as much (k spans back), by `rise_over(from, to)` (`None`: no reading).
pub(crate) fn slowed(
    t_end: f64,
    t_first: f64,
    span: f64,
    rise: f64,
    rise_over: impl Fn(f64, f64) -> Option<f64>,
) -> bool {
    (1..=SLOWING_SPANS_BACK).any(|back| {
        let before = t_end - (back + 1) as f64 * span;
        before >= t_first
            && rise_over(before, before + span)
                .is_some_and(|r| r > SLOWING.powi(back as i32) * rise.max(0.0))
    })
}

/// The trend test over the last `span` seconds (see the module docs).
fn detect_at(ctx: &Ctx, span: f64) -> Option<Finding> {
    let k = &ctx.k;
    let width = (span / BUCKETS).max(ctx.dt);
    let floor = ctx.points(ctx.t_end - span, ctx.t_end, width, Pick::Min);
    let n = floor.len();
    if n < MIN_POINTS {
        return None;
    }
    let bytes: Vec<f64> = floor.iter().map(|p| p.bytes).collect();
    // The cheapest test first: most scopes are flat, and a floor that did not rise by the
    // smallest spike cannot pass any magnitude rule.
    let level = |v: &[f64]| stats::median(v);
    let first = level(&bytes[..LEVEL_POINTS])?;
    let last = level(&bytes[n - LEVEL_POINTS..])?;
    // Only the part of the rise that takes the floor above its earlier range counts: a daily
    // cycle's ramp, or a refill after a flush, climbs back to a level the scope has held
    // before; a leak takes it where it has never been.
    // The earlier range is the highest floor of a bucket as wide as the span's, so that a
    // sawtooth's teeth (a TTL sweep every few minutes) compare like with like.
    if !(last - first >= k.spike_min_bytes) {
        return None;
    }
    let above = ctx
        .prior_high(ctx.t_end - span, width)
        .map_or(f64::INFINITY, |h| last - h);
    let rise = (last - first).min(above);
    if !(rise >= k.spike_min_bytes) {
        return None;
    }
    let t: Vec<f64> = floor.iter().map(|p| p.t).collect();
    if span >= STAIRS_SPAN_WINDOWS * k.window {
        if let Some(f) = staircase(ctx, span, &floor, rise, above) {
            return Some(f);
        }
    }
    let x: Vec<f64> = t.iter().map(|t| (t - ctx.t_end) / 60.0).collect();
    let mk = stats::mann_kendall(&bytes)?;
    let line = stats::theil_sen(&x, &bytes)?;
    let resid: Vec<f64> = x
        .iter()
        .zip(&bytes)
        .map(|(&x, &y)| y - line.at(x))
        .collect();
    let rho = stats::autocorrelation(&resid, 1)
        .unwrap_or(0.0)
        .clamp(0.0, RHO_MAX);
    let z = mk.z / ((1.0 + rho) / (1.0 - rho)).sqrt();
    if !(z > Z_CRITICAL && mk.tau >= TAU_MIN && line.slope > 0.0) {
        return None;
    }
    // Step or trend: a step model that fits better with both levels flat is a settled step.
    if let Some(step) = stats::best_step(&bytes) {
        let line_sse: f64 = resid.iter().map(|r| r * r).sum();
        if step.sse < line_sse && step.max_segment_drift <= STEP_FLAT * step.height.abs() {
            return None;
        }
    }
    // The pace over the last third against the whole span's and the first third's: growth that
    // decelerates (a warm-up, a fill that stops, log-shaped saturation) is slower at the end.
    let third = n / 3;
    let rate_between = |a: usize, b: usize| -> Option<f64> {
        let la = level(&bytes[a.saturating_sub(1)..(a + 2).min(n)])?;
        let lb = level(&bytes[b.saturating_sub(1)..(b + 2).min(n)])?;
        Some((lb - la) / (x[b] - x[a]).max(1e-9))
    };
    let recent_rate = rate_between(n - 1 - third, n - 1)?;
    let first_rate = rate_between(0, third)?;
    let span_rate = rate_between(0, n - 1)?;
    let pace = recent_rate / span_rate.max(first_rate).max(f64::MIN_POSITIVE);
    // Across spans too: a warm-up (a table filling towards its size, an exponential approach)
    // rose faster over the spans before this one than over this one; a leak keeps its rate.
    // Two spans back, because noise can hide one step of a slowdown (67 MB then 57 MB) that two
    // show (156, 67, 57). Only a span that lies wholly in the history counts.
    let slowing = slowed(ctx.t_end, ctx.times[0], span, last - first, |from, to| {
        let prior = ctx.points(from, to, (span / BUCKETS).max(ctx.dt), Pick::Min);
        let pb: Vec<f64> = prior.iter().map(|p| p.bytes).collect();
        let m = pb.len();
        match (m >= LEVEL_POINTS)
            .then(|| (level(&pb[..LEVEL_POINTS]), level(&pb[m - LEVEL_POINTS..])))
        {
            Some((Some(a), Some(b))) => Some(b - a),
            _ => None,
        }
    });
    let span_min = span / 60.0;
    if !(pace >= PACE_HOLD) {
        return None;
    }
    // Spread over the span: every third adds to the rise. A big request held for minutes, or
    // two of them, rises in one third; a leak rises in each.
    let least_third = stats::least_rise(&stats::third_marks(&bytes)?);
    if !(least_third >= THIRD_SHARE * rise) {
        return None;
    }
    let growth = fit_growth(&t, &bytes, ctx.t_end)?;
    let slope = growth.linear.slope;
    let grown = (slope * span_min).min(rise);
    let current = ctx.current_bytes();
    let ttb = time_to_budget(&growth, current as f64, ctx.budget);
    let slow_span = SLOW_SPAN_WINDOWS * k.window;
    // Half of G on a span shorter than the slow spans (a fast leak, found before it has added
    // G); on longer spans only at the slow rule's pace: G over a day is slower than any leak
    // the targets name, and is what a first day's daily ramp adds (docs/detectors.md, rule 4).
    let by_growth = span < slow_span && grown >= HALF * k.growth_bytes;
    let by_rate = slope >= k.rate_per_min && rise >= k.rate_per_min;
    let by_slow =
        span >= slow_span && grown >= HALF * k.growth_bytes && at_slow_pace(k, rise, span);
    // A projection is only as good as the trend under it: from a detection window of evidence
    // at least, not from a few minutes of noise near a budget, and not from a scope whose
    // level has come back down as far before ([`keeps_its_gains`], a pass over the long view:
    // read only when no other rule opens).
    let by_budget = || {
        span >= k.window
            && ttb.is_some_and(|t| t < k.urgent_horizon)
            && grown >= 2.0 * k.spike_min_bytes
            && keeps_its_gains(ctx, width, grown)
    };
    let opens = by_growth || by_rate || by_slow || by_budget();
    // Hysteresis: half the growth that opens a leak keeps one open (module docs, rule 4).
    let by_hold = grown >= HOLD_SHARE * HALF * k.growth_bytes
        && (span < slow_span || at_slow_pace(k, rise / HOLD_SHARE, span));
    if !(opens || by_hold) {
        return None;
    }
    let mut statistics = vec![
        stat("mann_kendall_z_corrected", z),
        stat("mann_kendall_z", mk.z),
        stat("kendall_tau", mk.tau),
        stat("residual_autocorrelation", rho),
        stat("theil_sen_slope_bytes_per_min", slope),
        stat("recent_pace_ratio", pace),
        stat("span_secs", span),
    ];
    if above.is_finite() {
        statistics.push(stat("rise_above_prior_floor_bytes", above));
    }
    if let Some(t) = ttb {
        statistics.push(stat("time_to_budget_secs", t));
    }
    let blocks: Vec<f64> = floor.iter().map(|p| p.blocks).collect();
    // A scope fed from outside (`record`) has no block count; only a reported one must rise.
    if blocks.iter().any(|&b| b > 0.0) {
        let blocks_z = stats::mann_kendall(&blocks)?.z;
        if !(blocks_z > Z_CRITICAL) {
            return None;
        }
        statistics.push(stat("blocks_mann_kendall_z", blocks_z));
    }

    let start = t[0];
    let baseline = growth.linear.at(x[0]);
    let fitted = growth.linear.intercept - baseline;
    let mut f = ctx.finding(LeakType::GradualGrowth, [start, ctx.t_end]);
    f.hold_only = pace < PACE_OPEN || slowing || !opens;
    f.severity = k.severity(growth.rate_per_min, ttb);
    f.confidence = mk.tau.clamp(0.0, 1.0);
    f.baseline_bytes = to_bytes(baseline);
    f.growth_bytes = to_delta(fitted);
    f.set_growth(&growth, ttb);
    f.statistics = statistics;
    let duration = ctx.t_end - start;
    f.summary = format!(
        "{}: floor rose {} over {} ({}, corrected Mann-Kendall Z = {:.1}, tau = {:.2})",
        ctx.name,
        fmt_bytes(fitted),
        fmt_minutes(duration),
        fmt_rate(growth.rate_per_min),
        z,
        mk.tau
    );
    Some(f)
}
