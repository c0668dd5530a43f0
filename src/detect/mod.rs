//! Leak detection: pure functions from a scope's snapshot series to findings, and the lifecycle
//! that turns findings into leaks.
//!
//! docs/detectors.md says what each detector decides and why, and the lifecycle's rules. Each detector is one file over a prepared series:
//! [`gradual`] (Theil–Sen and Mann–Kendall over the floor series), [`rapid`] (Page's CUSUM on
//! standardised increments), [`sustained`] (a percentile with hysteresis), [`periodic`] (MAD
//! spikes, interval CV and autocorrelation), [`bloat`] (bytes per entry and the bytes-vs-entries
//! residual) and [`fragmentation`] (RSS minus tracked bytes). [`legacy`] holds the replaced
//! system's plain threshold rules for `statistical_analysis = false`. The shared maths is in
//! [`stats`], bucketing in [`series`], the lifecycle in [`lifecycle`], the advice in
//! [`recommend`].
//!
//! **Invariant:** nothing here reads a clock, does I/O or panics on odd input. Time is the
//! snapshots' `t`; a malformed series is an [`ErrorKind::InvalidInput`] error.
//!
//! # Scale
//! Every time constant derives from the configured windows and the series' own cadence
//! (docs/detectors.md, "Scale"), so a demo configured in seconds behaves like production configured in minutes:
//!
//! | constant | derivation | at the defaults |
//! |---|---|---|
//! | floor bucket | detection window / 30, at least one interval | 1 min |
//! | rapid-growth bucket | rapid window / 10, at least one interval | 30 s |
//! | periodic span / bucket | max(detection, baseline window); span / 240 | 60 min / 15 s |
//! | rapid-growth magnitude floor | max(G · rapid/detection window, ½ · R · rapid window) | 16.7 MB |
//! | smallest spike | G / 20 | 5 MB |
//! | bloat residual floor | 0.16 · G (16 MB at G = 100 MB) | 16 MB |
//! | fragmentation gap rate | 0.64 · G per 2 detection windows (64 MB/h at G = 100 MB) | 64 MB/h |
//! | severity horizons | Critical: 2 windows; raised: 48 windows | 1 h; 24 h |
//! | gradual-growth spans | W/2, then W doubled up to the long view of 48 W | 15 min … 24 h |
//! | lifecycle settle time | the detector's window (rapid window for rapid growth) | 30 min / 5 min |
//! | recurrence horizon | 24 W | 12 h |
//!
//! where G is `memory_growth_threshold_mb` and R is `growth_rate_threshold_mb_per_min`. Tying the
//! byte constants to G means scaling every byte count and the thresholds together gives the same
//! verdict.

// The detectors write their gates as `if !(statistic >= bar)` on purpose: a NaN statistic
// (a degenerate series) then rejects the finding instead of passing it.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

mod bloat;
mod config;
mod fragmentation;
mod gradual;
mod legacy;
mod lifecycle;
mod periodic;
mod rapid;
mod recommend;
#[cfg(test)]
mod regress;
mod series;
mod stats;
mod sustained;

use crate::error::Error;
#[cfg(doc)]
use crate::error::ErrorKind;
use crate::history::ScopeHistory;
pub use crate::leak::Finding;
use crate::leak::{CallSite, GrowthModel, Leak, LeakSeverity, LeakType, Statistic};
use crate::snapshot::{ProcessSnapshot, Snapshot};
pub use config::DetectorConfig;

pub use lifecycle::{LeakEvent, LeakTracker};
pub(crate) use recommend::charged_elsewhere;

/// The scope name that process-wide findings (fragmentation) are reported under.
pub const PROCESS_SCOPE: &str = "process";

/// How many call sites a finding carries.
const MAX_SITES: usize = 5;

impl Finding {
    /// The value of the statistic called `name`, if the detector recorded it.
    pub fn statistic(&self, name: &str) -> Option<f64> {
        statistic(&self.statistics, name)
    }

    /// Takes the rate, the model and the time to budget from the fitted `growth`.
    pub(crate) fn set_growth(&mut self, growth: &Growth, time_to_budget_secs: Option<f64>) {
        self.rate_bytes_per_min = growth.rate_per_min;
        self.model = growth.model;
        self.time_to_budget_secs = time_to_budget_secs;
    }
}

fn statistic(stats: &[Statistic], name: &str) -> Option<f64> {
    stats.iter().find(|s| s.name == name).map(|s| s.value)
}

/// Runs every scope detector over `series` (one scope's snapshots, oldest first) as of its newest
/// snapshot and returns this run's findings, ordered by [`LeakType`]. `sites` are the scope's top
/// call sites, largest first; each finding carries the first five and recommendations naming the
/// first.
///
/// Pure: no clock, no I/O. An empty or one-snapshot series yields no finding.
///
/// # Errors
/// [`ErrorKind::InvalidInput`] when a time stamp is not finite or not later than the one before;
/// the message names the index.
pub fn analyze_series(
    name: &str,
    series: &[Snapshot],
    config: &DetectorConfig,
    sites: &[CallSite],
) -> Result<Vec<Finding>, Error> {
    series::validate_times(series.iter().map(|s| s.t), "series")?;
    Ok(analyze_validated(name, series, config, sites))
}

/// Runs the fragmentation detector over the process series (oldest first) as of its newest
/// snapshot. Findings are reported under [`PROCESS_SCOPE`].
///
/// # Errors
/// [`ErrorKind::InvalidInput`] for a non-finite or non-increasing time stamp, naming the index.
pub fn analyze_process(
    series: &[ProcessSnapshot],
    config: &DetectorConfig,
) -> Result<Vec<Finding>, Error> {
    series::validate_times(series.iter().map(|s| s.t), "process series")?;
    Ok(analyze_process_validated(series, config))
}

/// Replays `series` the way the collector sees it: pushes every snapshot into a fresh
/// [`ScopeHistory`] (the collector's tiered history, `max_snapshots_per_cache` points a tier),
/// runs `analyze_history` over it — the collector's own call — and feeds a fresh
/// [`LeakTracker`]. Returns every leak raised, open or resolved, in the order they were raised.
/// This is the offline `analyze` of a dump and the judge of the detector corpus.
///
/// # Errors
/// As [`analyze_series`].
pub fn replay_series(
    name: &str,
    series: &[Snapshot],
    config: &DetectorConfig,
    sites: &[CallSite],
) -> Result<Vec<Leak>, Error> {
    replay_series_with(name, series, config, sites, |_, _| {}).map(|t| t.all_leaks())
}

/// [`replay_series`] for the process series and the fragmentation detector, over the last
/// `max_snapshots_per_cache` process snapshots as the collector keeps them.
///
/// # Errors
/// As [`analyze_process`].
pub fn replay_process(
    series: &[ProcessSnapshot],
    config: &DetectorConfig,
) -> Result<Vec<Leak>, Error> {
    replay_process_with(series, config, |_, _| {}).map(|t| t.all_leaks())
}

/// [`replay_series`], handing every lifecycle event to `on_event` with the snapshot time of the
/// run that raised it (what a live collector's `on_leak` hooks would have received), and
/// returning the tracker. The judge of the detectors (the `leakscope-corpus` package) reads
/// detection latency, openings and severity changes from these events.
///
/// # Errors
/// As [`analyze_series`].
pub fn replay_series_with(
    name: &str,
    series: &[Snapshot],
    config: &DetectorConfig,
    sites: &[CallSite],
    on_event: impl FnMut(f64, LeakEvent),
) -> Result<LeakTracker, Error> {
    series::validate_times(series.iter().map(|s| s.t), "series")?;
    let mut on_event = on_event;
    let mut history = ScopeHistory::new(config.max_snapshots_per_cache);
    let mut tracker = LeakTracker::new(config);
    for s in series {
        history.push(s.clone());
        let findings = analyze_history(name, &history, config, sites);
        for event in tracker.observe(name, s.t, findings) {
            on_event(s.t, event);
        }
    }
    Ok(tracker)
}

/// [`replay_series_with`] for the process series and the fragmentation detector.
///
/// # Errors
/// As [`analyze_process`].
pub fn replay_process_with(
    series: &[ProcessSnapshot],
    config: &DetectorConfig,
    mut on_event: impl FnMut(f64, LeakEvent),
) -> Result<LeakTracker, Error> {
    series::validate_times(series.iter().map(|s| s.t), "process series")?;
    let mut tracker = LeakTracker::new(config);
    let keep = config.max_snapshots_per_cache.max(1);
    for end in 1..=series.len() {
        let window = &series[end.saturating_sub(keep)..end];
        let t = series[end - 1].t;
        for event in tracker.observe(PROCESS_SCOPE, t, analyze_process_validated(window, config)) {
            on_event(t, event);
        }
    }
    Ok(tracker)
}

/// Runs every scope detector over a scope's tiered history as of its newest snapshot: what the
/// collector calls on every run and [`replay_series_with`] after every snapshot, so the live
/// and the offline verdicts are one code path. Coarse history points enter with the minimum of
/// their run (the floor).
pub(crate) fn analyze_history(
    name: &str,
    history: &ScopeHistory,
    config: &DetectorConfig,
    sites: &[CallSite],
) -> Vec<Finding> {
    // A scope whose bytes never moved by the smallest magnitude since it began is quiet over
    // any span of its history: no need to decode it.
    if let Some((lo, hi)) = history.bytes_range() {
        if config.statistical_analysis && quiet_range(name, lo as f64, hi as f64, config) {
            return Vec::new();
        }
    }
    // Decoded once into points, which every pass of the detectors then reads.
    let mut rows = Vec::with_capacity(history.len());
    history.visit_floor(|s, min| rows.push(Point::of(s, min)));
    analyze_rows(name, rows.iter().copied(), config, sites)
}

/// Attaches `sites` (largest first) and the recommendations naming them to `findings`: the
/// collector resolves call sites only for the rare scope that has a finding.
pub(crate) fn attach_sites(findings: &mut [Finding], sites: &[CallSite], config: &DetectorConfig) {
    finish(findings, sites, config);
}

/// How many seconds of history the detectors look at: older snapshots never change a verdict,
/// so the collector need not pass them. It is the long view of gradual growth (48 detection
/// windows, a day at the defaults) plus one baseline window (the warm-up the long view skips),
/// or the short detectors' need (the detection or rapid window plus the baseline window) if
/// longer.
pub fn required_history_secs(config: &DetectorConfig) -> f64 {
    let w = sane_minutes(config.detection_window_minutes);
    let r = sane_minutes(config.rapid_growth_window_minutes);
    let b = sane_minutes(config.baseline_calculation_minutes);
    let short = w.max(r) + b.max(w);
    (LONG_VIEW_WINDOWS * w + b).max(short) * 60.0
}

/// A projected time to budget under this many detection windows makes a leak Critical (an hour
/// at the defaults).
pub(crate) const CRITICAL_HORIZON_WINDOWS: f64 = 2.0;

/// The long view of gradual growth, in detection windows: a day at the default 30 minutes, the
/// horizon within which a projected budget raises the severity.
const LONG_VIEW_WINDOWS: f64 = 48.0;

/// The spans gradual growth tries, shortest first: half the detection window (for a fast leak's
/// rate), then the detection window doubled up to the long view, which ends the ladder.
pub(crate) fn span_ladder(window: f64, long_view: f64) -> Vec<f64> {
    let mut spans = Vec::new();
    if !(window > 0.0) {
        return spans;
    }
    spans.push(window / 2.0);
    let mut s = window;
    while s < long_view * (1.0 - 1e-9) {
        spans.push(s);
        s *= 2.0;
    }
    spans.push(long_view.max(window));
    spans
}

fn sane_minutes(m: f64) -> f64 {
    if m.is_finite() && m > 0.0 {
        m
    } else {
        0.0
    }
}

fn sane_mb(mb: f64) -> f64 {
    if mb.is_finite() && mb > 0.0 {
        mb * 1e6
    } else {
        0.0
    }
}

/// [`analyze_series`] after validation; the collector's and the replay's entry point.
pub(crate) fn analyze_validated(
    name: &str,
    series: &[Snapshot],
    config: &DetectorConfig,
    sites: &[CallSite],
) -> Vec<Finding> {
    let rows = series.iter().map(|s| Point::of(s, s.curr_bytes));
    analyze_rows(name, rows, config, sites)
}

fn analyze_rows(
    name: &str,
    rows: impl DoubleEndedIterator<Item = Point> + Clone,
    config: &DetectorConfig,
    sites: &[CallSite],
) -> Vec<Finding> {
    if config.statistical_analysis && quiet(name, rows.clone(), config) {
        return Vec::new();
    }
    let Some(ctx) = Ctx::new(name, rows, config) else {
        return Vec::new();
    };
    let mut found: Vec<Finding> = if config.statistical_analysis {
        // SustainedHigh reads the gradual verdict: a scope that grows is high and rising.
        let gradual = gradual::detect(&ctx);
        let sustained = sustained::detect(&ctx, gradual.as_ref());
        [
            gradual,
            rapid::detect(&ctx),
            sustained,
            periodic::detect(&ctx),
            bloat::detect(&ctx),
        ]
        .into_iter()
        .flatten()
        .collect()
    } else {
        legacy::detect_scope(&ctx)
    };
    for f in found.iter_mut() {
        retention_evidence(&ctx, f);
    }
    finish(&mut found, sites, config);
    found
}

/// Whether no statistical detector can find anything in `rows`: over the history they read,
/// the scope's bytes moved by less than the smallest magnitude any of them reports (G/20: the
/// smallest spike, below every growth, rapid, bloat and periodic gate) and never came near the
/// sustained-usage threshold. Most scopes of a real process are such, and this one pass over
/// the history spares them every detector's allocations and sorts.
fn quiet(
    name: &str,
    rows: impl DoubleEndedIterator<Item = Point> + Clone,
    config: &DetectorConfig,
) -> bool {
    let Some(t_end) = rows.clone().next_back().map(|p| p.t) else {
        return true;
    };
    let from = t_end - required_history_secs(config);
    let (lo, hi) = rows
        .filter(|p| p.t >= from)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.bytes), hi.max(p.bytes))
        });
    quiet_range(name, lo, hi, config)
}

/// [`quiet`] for a scope whose bytes stayed within `lo..=hi` over the history read.
fn quiet_range(name: &str, lo: f64, hi: f64, config: &DetectorConfig) -> bool {
    let smallest = sane_mb(config.memory_growth_threshold_mb) / 20.0;
    let high = sustained::threshold(
        config.budget(name),
        sane_mb(config.sustained_high_threshold_mb),
    );
    let near_high = high > 0.0 && hi > sustained::CLEAR_SHARE * high;
    hi - lo < smallest && !near_high
}

/// A fall of the free ratio from the window before by this much is stated as retention.
const RETAINING_FALL: f64 = 0.1;

/// Adds what the scope gave back to a growth finding's evidence: the bytes freed over bytes
/// allocated over its evidence window, and over the window of the same length before it.
/// Evidence, not a verdict: a cache that still frees nearly what it takes while its floor
/// rises holds a little more each time; one whose ratio fell from about 1 stopped evicting.
fn retention_evidence(ctx: &Ctx, f: &mut Finding) {
    if !matches!(
        f.leak_type,
        LeakType::GradualGrowth | LeakType::RapidGrowth | LeakType::CacheBloat
    ) {
        return;
    }
    let ratio = |from: f64, to: f64| {
        let (allocated, freed) = ctx
            .pts
            .iter()
            .filter(|p| p.t > from && p.t <= to)
            .fold((0.0, 0.0), |(a, b), p| (a + p.allocated, b + p.freed));
        (allocated > 0.0).then(|| freed / allocated)
    };
    let [from, to] = f.window;
    let Some(now) = ratio(from, to) else {
        return;
    };
    f.statistics.push(stat("free_ratio", now));
    let before = (from - (to - from) >= ctx.times[0])
        .then(|| ratio(from - (to - from), from))
        .flatten();
    match before {
        Some(b) => {
            f.statistics.push(stat("free_ratio_before", b));
            f.summary.push_str(&format!(
                "; freed {:.2} of what it allocated, was {:.2}",
                now, b
            ));
            if b - now >= RETAINING_FALL {
                f.summary.push_str(": it keeps what it used to give back");
            }
        }
        None => f
            .summary
            .push_str(&format!("; freed {now:.2} of what it allocated")),
    }
}

/// [`analyze_process`] after validation.
pub(crate) fn analyze_process_validated(
    series: &[ProcessSnapshot],
    config: &DetectorConfig,
) -> Vec<Finding> {
    let mut found: Vec<Finding> = if config.statistical_analysis {
        fragmentation::detect(series, config).into_iter().collect()
    } else {
        legacy::detect_process(series, config).into_iter().collect()
    };
    finish(&mut found, &[], config);
    found
}

fn finish(found: &mut [Finding], sites: &[CallSite], config: &DetectorConfig) {
    let sampling = config.sampling;
    found.sort_by_key(|f| f.leak_type);
    for f in found.iter_mut() {
        // A statistic that came out infinite or NaN (a bound with nothing to bound it) is left
        // out: JSON cannot hold it, and a dump that held it would not read back.
        f.statistics.retain(|s| s.value.is_finite());
        f.top_sites = sites.iter().take(MAX_SITES).cloned().collect();
        f.recommendations = recommend::recommend(f, sampling);
    }
}

/// The detectors' derived constants (see the module docs' "Scale" table). Times in seconds,
/// bytes in bytes.
#[derive(Clone, Debug)]
pub(crate) struct Knobs {
    /// The detection window.
    pub window: f64,
    /// The rapid-growth window.
    pub rapid_window: f64,
    /// The baseline window.
    pub baseline: f64,
    /// Width of a floor-series bucket.
    pub floor_bucket: f64,
    /// Width of a rapid-growth bucket.
    pub rapid_bucket: f64,
    /// The span the periodic detector looks at.
    pub periodic_span: f64,
    /// Width of a peak-series bucket.
    pub peak_bucket: f64,
    /// G: the growth that makes a trend a leak.
    pub growth_bytes: f64,
    /// R: the rate that makes a trend a leak (bytes per minute).
    pub rate_per_min: f64,
    /// The sustained-usage threshold.
    pub sustained_bytes: f64,
    /// The least growth within the rapid window that counts as rapid growth.
    pub rapid_floor_bytes: f64,
    /// The least height of a spike.
    pub spike_min_bytes: f64,
    /// The least unexplained growth that counts as cache bloat.
    pub bloat_floor_bytes: f64,
    /// The least growth of RSS − tracked per `frag_horizon` that counts as fragmentation.
    pub frag_floor_bytes: f64,
    /// The time unit of `frag_floor_bytes` (an hour at the defaults).
    pub frag_horizon: f64,
    /// Time to budget below which a leak is Critical.
    pub critical_horizon: f64,
    /// Time to budget below which a leak's severity is raised one level.
    pub urgent_horizon: f64,
    /// The longest span gradual growth reads.
    pub long_view: f64,
}

/// Floor buckets per detection window: 1 minute at the default 30-minute window.
const FLOOR_BUCKETS_PER_WINDOW: f64 = 30.0;
/// Rapid-growth buckets per rapid window: the default 5-minute window at 30-second snapshots.
const RAPID_BUCKETS_PER_WINDOW: f64 = 10.0;
/// Peak-series buckets per periodic span: 15 s at the default 60-minute baseline window, fine
/// enough that a batch spike every few minutes is several buckets apart.
const PEAK_BUCKETS_PER_SPAN: f64 = 240.0;

impl Knobs {
    pub(crate) fn new(config: &DetectorConfig, cadence: f64) -> Knobs {
        let window = sane_minutes(config.detection_window_minutes) * 60.0;
        let rapid_window = sane_minutes(config.rapid_growth_window_minutes) * 60.0;
        let baseline = sane_minutes(config.baseline_calculation_minutes) * 60.0;
        let periodic_span = window.max(baseline);
        let g = sane_mb(config.memory_growth_threshold_mb);
        let r = sane_mb(config.growth_rate_threshold_mb_per_min);
        let rapid_floor = if window > 0.0 {
            (g * rapid_window / window).max(0.5 * r * rapid_window / 60.0)
        } else {
            0.5 * r * rapid_window / 60.0
        };
        Knobs {
            window,
            rapid_window,
            baseline,
            floor_bucket: (window / FLOOR_BUCKETS_PER_WINDOW).max(cadence),
            rapid_bucket: (rapid_window / RAPID_BUCKETS_PER_WINDOW).max(cadence),
            periodic_span,
            peak_bucket: (periodic_span / PEAK_BUCKETS_PER_SPAN).max(cadence),
            growth_bytes: g,
            rate_per_min: r,
            sustained_bytes: sane_mb(config.sustained_high_threshold_mb),
            rapid_floor_bytes: rapid_floor,
            spike_min_bytes: g / 20.0,
            bloat_floor_bytes: 0.16 * g,
            frag_floor_bytes: 0.64 * g,
            frag_horizon: 2.0 * window,
            critical_horizon: CRITICAL_HORIZON_WINDOWS * window,
            urgent_horizon: 48.0 * window,
            long_view: LONG_VIEW_WINDOWS * window,
        }
    }

    /// Severity from the rate relative to the rate threshold (below it Low, up to 4× Medium,
    /// beyond High), raised one level when the budget is less than 48 windows away and Critical
    /// when it is less than 2 windows away (24 h and 1 h at the defaults).
    pub(crate) fn severity(&self, rate_per_min: f64, time_to_budget: Option<f64>) -> LeakSeverity {
        let ratio = if self.rate_per_min > 0.0 {
            rate_per_min / self.rate_per_min
        } else {
            f64::INFINITY
        };
        let base = if ratio >= 4.0 {
            LeakSeverity::High
        } else if ratio >= 1.0 {
            LeakSeverity::Medium
        } else {
            LeakSeverity::Low
        };
        self.with_budget(base, time_to_budget)
    }

    /// Applies the time-to-budget rule of [`Knobs::severity`] to a severity decided otherwise.
    pub(crate) fn with_budget(&self, base: LeakSeverity, ttb: Option<f64>) -> LeakSeverity {
        match ttb {
            Some(t) if t < self.critical_horizon => LeakSeverity::Critical,
            Some(t) if t < self.urgent_horizon => raise(base),
            _ => base,
        }
    }
}

/// One severity level up, at most High (Critical is reserved for an imminent budget).
pub(crate) fn raise(s: LeakSeverity) -> LeakSeverity {
    match s {
        LeakSeverity::Low => LeakSeverity::Medium,
        LeakSeverity::Medium | LeakSeverity::High => LeakSeverity::High,
        LeakSeverity::Critical => LeakSeverity::Critical,
    }
}

/// One point of a bucketed series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Point {
    pub t: f64,
    pub bytes: f64,
    pub blocks: f64,
    pub entries: Option<f64>,
    /// Bytes allocated and freed in the interval (or coarse run) ending at `t`.
    pub allocated: f64,
    pub freed: f64,
}

/// The median of the points' bytes: a level that one odd point does not move; `None` when
/// there are none.
pub(crate) fn median_bytes(points: &[Point]) -> Option<f64> {
    let mut v: Vec<f64> = points.iter().map(|p| p.bytes).collect();
    stats::median_in_place(&mut v)
}

/// The largest fall of the points' bytes from any point to a lower one after it: the most a
/// scope has given back of a level it held (0 for points that never fall).
pub(crate) fn largest_fall(points: &[Point]) -> f64 {
    fall_of(points.iter().map(|p| p.bytes))
}

/// [`largest_fall`] of the levels held for two points at least (the lower of each two
/// neighbours): one point's spike, a huge request held for less than a bucket, is no level a
/// scope held and gave back.
pub(crate) fn largest_fall_held(points: &[Point]) -> f64 {
    fall_of(points.windows(2).map(|w| w[0].bytes.min(w[1].bytes)))
}

fn fall_of(bytes: impl DoubleEndedIterator<Item = f64>) -> f64 {
    let mut low_after = f64::INFINITY;
    bytes.rev().fold(0.0f64, |fall, b| {
        low_after = low_after.min(b);
        fall.max(b - low_after)
    })
}

impl Point {
    /// A snapshot as a point, with `bytes` in place of its `curr_bytes` (a coarse history point
    /// passes the minimum of its run).
    pub(crate) fn of(s: &Snapshot, bytes: u64) -> Point {
        Point {
            t: s.t,
            bytes: bytes as f64,
            blocks: s.curr_blocks as f64,
            entries: s.entries.map(|e| e as f64),
            allocated: s.bytes_allocated as f64,
            freed: s.bytes_freed as f64,
        }
    }

    /// Bytes per entry, when the scope reports a positive entry count.
    pub(crate) fn bytes_per_entry(&self) -> Option<f64> {
        self.entries.filter(|&e| e > 0.0).map(|e| self.bytes / e)
    }
}

/// A scope's series prepared for the detectors.
pub(crate) struct Ctx<'a> {
    pub name: &'a str,
    /// The scope's points, oldest first (a coarse history point carries its run's minimum).
    pub pts: Vec<Point>,
    pub times: Vec<f64>,
    /// `curr_bytes` of each snapshot as a float, converted once for every detector.
    pub bytes: Vec<f64>,
    pub k: Knobs,
    /// The series' cadence (median recent interval).
    pub dt: f64,
    /// Time of the newest snapshot.
    pub t_end: f64,
    pub budget: Option<u64>,
}

impl<'a> Ctx<'a> {
    /// `None` when there is nothing to analyse (fewer than two points). `rows` are the scope's
    /// points oldest first; only those the detectors read (see [`required_history_secs`]) are
    /// kept, so a long history costs one pass.
    fn new(
        name: &'a str,
        rows: impl DoubleEndedIterator<Item = Point> + Clone,
        config: &'a DetectorConfig,
    ) -> Option<Ctx<'a>> {
        let t_end = rows.clone().next_back()?.t;
        let from = t_end - required_history_secs(config);
        // Sized for every row at once: `filter` gives `collect` no lower bound, and growing
        // the vector by doubling copied each scope's points several times a snapshot.
        let mut pts: Vec<Point> = Vec::with_capacity(rows.size_hint().1.unwrap_or(0));
        pts.extend(rows.filter(|p| p.t >= from));
        let times: Vec<f64> = pts.iter().map(|p| p.t).collect();
        let dt = series::cadence(&times)?;
        let bytes: Vec<f64> = pts.iter().map(|p| p.bytes).collect();
        if !(dt > 0.0) {
            return None;
        }
        Some(Ctx {
            name,
            pts,
            k: Knobs::new(config, dt),
            times,
            bytes,
            dt,
            t_end,
            budget: config.budget(name),
        })
    }

    /// Whether the series spans at least `span` seconds (n snapshots at cadence dt span n·dt).
    pub(crate) fn covers(&self, span: f64) -> bool {
        span > 0.0 && self.t_end - self.times[0] + self.dt >= span * (1.0 - 1e-9)
    }

    /// The bucketed series over `(from, to]`.
    pub(crate) fn points(&self, from: f64, to: f64, width: f64, pick: series::Pick) -> Vec<Point> {
        series::bucket_picks(&self.times, &self.bytes, from, to, width, pick)
            .into_iter()
            .map(|i| self.pts[i])
            .collect()
    }

    /// The floor series over the last `span` seconds.
    pub(crate) fn floor(&self, span: f64) -> Vec<Point> {
        self.points(
            self.t_end - span,
            self.t_end,
            self.k.floor_bucket,
            series::Pick::Min,
        )
    }

    /// The highest bucket floor (buckets of `width`) of the history before `before`, if any:
    /// the earlier range a rise must leave to count (a daily ramp climbs back to a level the
    /// scope has held before; a leak takes it where it has never been).
    pub(crate) fn prior_high(&self, before: f64, width: f64) -> Option<f64> {
        series::bucket_picks(
            &self.times,
            &self.bytes,
            self.times[0] - self.dt,
            before,
            width,
            series::Pick::Min,
        )
        .into_iter()
        .map(|i| self.bytes[i])
        .reduce(f64::max)
    }

    /// Bytes of the newest snapshot.
    pub(crate) fn current_bytes(&self) -> u64 {
        self.pts.last().map_or(0, |p| to_bytes(p.bytes))
    }

    /// A finding of `leak_type` about this scope with the fields every detector fills the same
    /// way; the detector sets the rest.
    pub(crate) fn finding(&self, leak_type: LeakType, window: [f64; 2]) -> Finding {
        new_finding(
            self.name,
            leak_type,
            self.t_end,
            window,
            self.current_bytes(),
            self.budget,
        )
    }
}

pub(crate) fn new_finding(
    scope: &str,
    leak_type: LeakType,
    t: f64,
    window: [f64; 2],
    current_bytes: u64,
    budget: Option<u64>,
) -> Finding {
    Finding {
        scope: scope.to_owned(),
        leak_type,
        severity: LeakSeverity::Low,
        confidence: 0.0,
        t,
        window,
        baseline_bytes: 0,
        current_bytes,
        growth_bytes: 0,
        rate_bytes_per_min: 0.0,
        model: GrowthModel::Linear,
        statistics: Vec::new(),
        budget_bytes: budget,
        time_to_budget_secs: None,
        summary: String::new(),
        top_sites: Vec::new(),
        recommendations: Vec::new(),
        hold_only: false,
    }
}

/// A named statistic.
pub(crate) fn stat(name: &str, value: f64) -> Statistic {
    Statistic {
        name: name.to_owned(),
        value,
    }
}

/// Bytes as an unsigned count, saturating (the fits are floats and may stray below zero).
pub(crate) fn to_bytes(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// A signed byte delta, saturating.
pub(crate) fn to_delta(v: f64) -> i64 {
    if v.is_finite() {
        v.clamp(i64::MIN as f64, i64::MAX as f64) as i64
    } else {
        0
    }
}

/// The fitted growth of a series: both models, the better one, and its rate now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Growth {
    /// The better-fitting model.
    pub model: GrowthModel,
    /// Theil–Sen on bytes over minutes before now (intercept = fitted bytes now).
    pub linear: stats::LinearFit,
    /// Theil–Sen on ln(bytes) over minutes before now, when every value is positive.
    pub exponential: Option<stats::LinearFit>,
    /// Fitted bytes now under the better model.
    pub now_bytes: f64,
    /// Growth rate now under the better model, bytes per minute.
    pub rate_per_min: f64,
}

impl Growth {
    /// Growth of the linear fit from `x` minutes before now (negative) to now.
    pub(crate) fn linear_since(&self, x: f64) -> i64 {
        to_delta(self.linear.intercept - self.linear.at(x))
    }
}

/// The exponential model must fit this much better (median absolute residual in bytes) to be
/// preferred: noise alone must not turn a line into an exponential.
const EXPONENTIAL_MARGIN: f64 = 0.8;

/// Fits a linear trend (Theil–Sen on bytes) and an exponential one (Theil–Sen on log bytes) and
/// keeps the one with the smaller median absolute residual in bytes (docs/detectors.md, "Growth model").
pub(crate) fn fit_growth(t: &[f64], bytes: &[f64], t_now: f64) -> Option<Growth> {
    let x: Vec<f64> = t.iter().map(|t| (t - t_now) / 60.0).collect();
    let linear = stats::theil_sen(&x, bytes)?;
    let residual = |predict: &dyn Fn(f64) -> f64| {
        let r: Vec<f64> = x
            .iter()
            .zip(bytes)
            .map(|(&x, &y)| (y - predict(x)).abs())
            .collect();
        stats::median(&r).unwrap_or(f64::INFINITY)
    };
    let lin_resid = residual(&|x| linear.at(x));
    let exponential = if bytes.iter().all(|&b| b > 0.0) {
        let logs: Vec<f64> = bytes.iter().map(|&b| libm::log(b)).collect();
        stats::theil_sen(&x, &logs)
    } else {
        None
    };
    let mut growth = Growth {
        model: GrowthModel::Linear,
        linear,
        exponential,
        now_bytes: linear.intercept,
        rate_per_min: linear.slope,
    };
    if let Some(e) = exponential {
        let exp_resid = residual(&|x| libm::exp(e.at(x)));
        if e.slope > 0.0 && linear.slope > 0.0 && exp_resid < EXPONENTIAL_MARGIN * lin_resid {
            let now = libm::exp(e.intercept);
            growth.model = GrowthModel::Exponential;
            growth.now_bytes = now;
            growth.rate_per_min = e.slope * now;
        }
    }
    Some(growth)
}

/// Projected seconds until `budget` under `growth`; zero when already there, `None` when no
/// budget is set or bytes do not grow.
pub(crate) fn time_to_budget(growth: &Growth, current: f64, budget: Option<u64>) -> Option<f64> {
    let budget = budget? as f64;
    let now = growth.now_bytes;
    if now >= budget || current >= budget {
        return Some(0.0);
    }
    let minutes = match (growth.model, growth.exponential) {
        (GrowthModel::Exponential, Some(e)) if e.slope > 0.0 && now > 0.0 => {
            libm::log(budget / now) / e.slope
        }
        _ if growth.linear.slope > 0.0 => (budget - now) / growth.linear.slope,
        _ => return None,
    };
    (minutes.is_finite() && minutes >= 0.0).then_some(minutes * 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fall_held_for_one_point_is_no_level_given_back() {
        let points = |bytes: &[f64]| -> Vec<Point> {
            bytes
                .iter()
                .enumerate()
                .map(|(i, &b)| Point {
                    t: 30.0 * i as f64,
                    bytes: b,
                    blocks: 0.0,
                    entries: None,
                    allocated: 0.0,
                    freed: 0.0,
                })
                .collect()
        };
        // A huge request held for one snapshot: given back by the raw points, not a held level.
        let spike = points(&[100.0, 100.0, 170.0, 100.0, 100.0]);
        assert_eq!(largest_fall(&spike), 70.0);
        assert_eq!(largest_fall_held(&spike), 0.0);
        // Held for two, it was a level, and the fall is the most it gave back of it.
        let job = points(&[100.0, 160.0, 170.0, 90.0, 95.0]);
        assert_eq!(largest_fall(&job), 80.0);
        assert_eq!(largest_fall_held(&job), 70.0);
        // A floor that only rises gives nothing back; one point or none is no fall either.
        assert_eq!(largest_fall_held(&points(&[1.0, 2.0, 3.0])), 0.0);
        assert_eq!(largest_fall_held(&points(&[5.0])), 0.0);
        assert_eq!(largest_fall_held(&[]), 0.0);
    }

    #[test]
    fn a_history_that_never_moved_is_quiet_unless_it_is_high() {
        let config = DetectorConfig::default();
        let history = |bytes: u64, spike: Option<u64>| {
            let mut h = ScopeHistory::new(1000);
            for i in 0..400 {
                let b = if i == 200 {
                    spike.unwrap_or(bytes)
                } else {
                    bytes
                };
                h.push(Snapshot::new(30.0 * f64::from(i), b, b / 4096));
            }
            h
        };
        let h = history(40_000_000, None);
        assert_eq!(h.bytes_range(), Some((40_000_000, 40_000_000)));
        assert!(analyze_history("flat", &h, &config, &[]).is_empty());
        // Constant, but above the sustained-usage threshold (500 MB): never skipped.
        let h = history(600_000_000, None);
        let found = analyze_history("high", &h, &config, &[]);
        assert!(
            found.iter().any(|f| f.leak_type == LeakType::SustainedHigh),
            "{found:?}"
        );
        // One point 6 MB away (more than G/20 = 5 MB) widens the range past the fast path, so
        // the rows decide, as for any scope that moved.
        let h = history(40_000_000, Some(46_000_000));
        assert_eq!(h.bytes_range(), Some((40_000_000, 46_000_000)));
        let rows: Vec<Point> = h
            .series()
            .iter()
            .map(|s| Point::of(s, s.curr_bytes))
            .collect();
        assert!(!quiet("moved", rows.iter().copied(), &config));
    }

    #[test]
    fn knobs_at_the_defaults_match_the_scale_table() {
        let k = Knobs::new(&DetectorConfig::default(), 30.0);
        assert_eq!(k.floor_bucket, 60.0);
        assert_eq!(k.rapid_bucket, 30.0);
        assert_eq!(k.periodic_span, 3600.0);
        assert_eq!(k.peak_bucket, 30.0); // 15 s, but never finer than the 30 s cadence
        assert!((k.rapid_floor_bytes - 100e6 * 5.0 / 30.0).abs() < 1.0);
        assert_eq!(k.spike_min_bytes, 5e6);
        assert_eq!(k.bloat_floor_bytes, 16e6);
        assert_eq!(k.frag_floor_bytes, 64e6);
        assert_eq!(k.frag_horizon, 3600.0);
        assert_eq!(k.critical_horizon, 3600.0);
        assert_eq!(k.urgent_horizon, 86400.0);
        assert_eq!(k.long_view, 86400.0);
        assert_eq!(
            required_history_secs(&DetectorConfig::default()),
            25.0 * 3600.0
        );
    }

    #[test]
    fn severity_rules() {
        let k = Knobs::new(&DetectorConfig::default(), 30.0);
        let mb = 1e6;
        assert_eq!(k.severity(1.0 * mb, None), LeakSeverity::Low);
        assert_eq!(k.severity(5.0 * mb, None), LeakSeverity::Medium);
        assert_eq!(k.severity(20.0 * mb, None), LeakSeverity::High);
        assert_eq!(k.severity(1.0 * mb, Some(7200.0)), LeakSeverity::Medium);
        assert_eq!(k.severity(20.0 * mb, Some(7200.0)), LeakSeverity::High);
        assert_eq!(k.severity(1.0 * mb, Some(3599.0)), LeakSeverity::Critical);
        assert_eq!(k.severity(1.0 * mb, Some(90000.0)), LeakSeverity::Low);
    }

    #[test]
    fn growth_model_prefers_the_exponential_for_compounding_growth() {
        // 10 MB growing 5% a minute for 30 minutes.
        let t: Vec<f64> = (0..=30).map(|m| m as f64 * 60.0).collect();
        let y: Vec<f64> = (0..=30).map(|m| 10e6 * (0.05 * m as f64).exp()).collect();
        let g = fit_growth(&t, &y, 1800.0).unwrap();
        assert_eq!(g.model, GrowthModel::Exponential);
        let now = 10e6 * 1.5f64.exp();
        assert!((g.now_bytes - now).abs() / now < 1e-9);
        assert!((g.rate_per_min - 0.05 * now).abs() / now < 1e-9);
        // Budget 2× now: ln 2 / 0.05 minutes under the exponential; the line would say more.
        let ttb = time_to_budget(&g, now, Some((2.0 * now) as u64)).unwrap();
        assert!((ttb - 2f64.ln() / 0.05 * 60.0).abs() < 1.0, "{ttb}");
    }

    #[test]
    fn growth_findings_carry_what_the_scope_gave_back() {
        // 20 snapshots a minute apart: each allocates 1,000 bytes; the first ten free all of it,
        // the last ten 250.
        let rows: Vec<Point> = (0..20)
            .map(|i| {
                let mut s = Snapshot::new(60.0 * i as f64, 1_000_000, 10);
                s.bytes_allocated = 1_000;
                s.bytes_freed = if i < 10 { 1_000 } else { 250 };
                Point::of(&s, s.curr_bytes)
            })
            .collect();
        let config = DetectorConfig::default();
        let ctx = Ctx::new("cache", rows.into_iter(), &config).unwrap();
        // A growth finding of type `ty` over `window`, with the evidence added.
        let evidence = |ty: LeakType, window: [f64; 2]| {
            let mut f = new_finding("cache", ty, 1140.0, window, 1_000_000, None);
            f.summary = "cache: floor rose".into();
            retention_evidence(&ctx, &mut f);
            f
        };
        // Evidence over (540, 1140]: minutes 10..=19, freeing a quarter; the ten before,
        // (−60, 540], minutes 0..=9, freeing everything.
        let f = evidence(LeakType::GradualGrowth, [540.0, 1140.0]);
        assert_eq!(f.statistic("free_ratio"), Some(0.25));
        assert_eq!(
            f.statistic("free_ratio_before"),
            None,
            "the window before starts too early"
        );
        let f = evidence(LeakType::GradualGrowth, [840.0, 1140.0]);
        assert_eq!(f.statistic("free_ratio"), Some(0.25));
        // (540, 840]: minutes 10..=14, all freeing a quarter.
        assert_eq!(f.statistic("free_ratio_before"), Some(0.25));
        assert!(
            f.summary
                .ends_with("freed 0.25 of what it allocated, was 0.25"),
            "{}",
            f.summary
        );
        // A fall of a tenth or more is said in words: minutes 5..=9 freed everything, 10..=14
        // a quarter.
        let f = evidence(LeakType::GradualGrowth, [540.0, 840.0]);
        assert_eq!(f.statistic("free_ratio"), Some(0.25));
        assert_eq!(f.statistic("free_ratio_before"), Some(1.0));
        assert!(
            f.summary.ends_with(
                "freed 0.25 of what it allocated, was 1.00: it keeps what it used to give back"
            ),
            "{}",
            f.summary
        );
        // Sustained usage is no growth verdict: no retention evidence.
        let f = evidence(LeakType::SustainedHigh, [840.0, 1140.0]);
        assert!(f.statistics.is_empty());
    }

    #[test]
    fn growth_model_keeps_a_line_linear() {
        let t: Vec<f64> = (0..=30).map(|m| m as f64 * 60.0).collect();
        let y: Vec<f64> = (0..=30).map(|m| 50e6 + 2e6 * m as f64).collect();
        let g = fit_growth(&t, &y, 1800.0).unwrap();
        assert_eq!(g.model, GrowthModel::Linear);
        assert_eq!(g.rate_per_min, 2e6);
        assert_eq!(g.now_bytes, 110e6);
        // 1 GB budget: (1000 − 110) MB at 2 MB/min = 445 minutes.
        assert_eq!(
            time_to_budget(&g, 110e6, Some(1_000_000_000)),
            Some(445.0 * 60.0)
        );
        assert_eq!(time_to_budget(&g, 110e6, Some(100_000_000)), Some(0.0));
        assert_eq!(time_to_budget(&g, 110e6, None), None);
    }
}
