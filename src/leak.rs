//! What leakscope reports: leaks and the call sites behind them.
//!
//! Plain serialisable data shared by the detectors (which produce it), the collector (which keeps
//! the lifecycle), the dump (which carries it) and the CLI (which renders it).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The kind of problem a detector found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LeakType {
    /// A steady rise of the scope's floor over the detection window.
    GradualGrowth,
    /// A sudden rise far beyond the scope's normal rate.
    RapidGrowth,
    /// The scope stays above its threshold or budget for most of the window.
    SustainedHigh,
    /// Regular spikes; a leak when the minima between them rise.
    PeriodicSpike,
    /// Bytes per entry rise, or bytes grow while the entry count does not.
    CacheBloat,
    /// Process RSS rises while tracked live bytes stay flat.
    Fragmentation,
}

impl LeakType {
    /// Every leak type, in the order reports list them.
    pub const ALL: [LeakType; 6] = [
        LeakType::GradualGrowth,
        LeakType::RapidGrowth,
        LeakType::SustainedHigh,
        LeakType::PeriodicSpike,
        LeakType::CacheBloat,
        LeakType::Fragmentation,
    ];
}

/// How urgent a leak is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LeakSeverity {
    /// Worth a look.
    Low,
    /// Will matter within days.
    Medium,
    /// Will matter within a day.
    High,
    /// Will exhaust the budget within the hour.
    Critical,
}

/// Which growth model fits the evidence better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrowthModel {
    /// Bytes grow by a constant amount per minute.
    Linear,
    /// Bytes grow by a constant factor per minute.
    Exponential,
}

/// Where a leak stands in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeakStatus {
    /// Detected and still holding.
    Open,
    /// The detector stopped firing for the configured number of runs.
    Resolved,
}

/// The statistic that decided a finding, with its value (a slope, a Z score, Kendall's τ, a CV).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statistic {
    /// Its name, e.g. `"mann_kendall_z"`.
    pub name: String,
    /// Its value.
    pub value: f64,
}

/// One stack frame of a sampled allocation, resolved to a symbol where possible.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    /// Instruction address.
    pub addr: u64,
    /// Demangled function name, when symbols resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// Source file, when line tables exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Source line, when line tables exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// Live sampled memory of one scope attributed to one call stack.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CallSite {
    /// The owning scope.
    pub scope: String,
    /// The stack, innermost (the allocating call) first, leakscope's own frames trimmed.
    pub frames: Vec<Frame>,
    /// Estimated live bytes (sample weights summed).
    pub live_bytes: u64,
    /// Estimated live blocks.
    pub live_blocks: u64,
    /// Samples behind the estimate.
    pub samples: u64,
    /// Estimated live bytes older than 1, 10 and 100 snapshot intervals.
    pub bytes_older_than: [u64; 3],
    /// The threads that allocated the live samples (`name (tid)`), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<String>,
}

/// One detector's verdict on one run: what it saw and why. The
/// [`LeakTracker`](crate::analysis::LeakTracker) turns findings that hold on consecutive runs
/// into [`Leak`]s, each built on its newest finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The scope, or [`PROCESS_SCOPE`](crate::analysis::PROCESS_SCOPE).
    pub scope: String,
    /// The kind of problem.
    pub leak_type: LeakType,
    /// How urgent it is.
    pub severity: LeakSeverity,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// The time of the newest snapshot the detector saw (seconds).
    pub t: f64,
    /// The evidence window `[start, end]` in seconds.
    pub window: [f64; 2],
    /// Bytes at the start of the evidence (the baseline).
    pub baseline_bytes: u64,
    /// Bytes now (the newest snapshot).
    pub current_bytes: u64,
    /// Growth over the evidence window.
    pub growth_bytes: i64,
    /// Growth rate now, in bytes per minute.
    pub rate_bytes_per_min: f64,
    /// The better-fitting growth model.
    pub model: GrowthModel,
    /// The statistics that decided it, the deciding one first.
    pub statistics: Vec<Statistic>,
    /// The budget used for the projection, if any.
    pub budget_bytes: Option<u64>,
    /// Projected seconds until the budget is reached, if a budget is set and bytes grow.
    pub time_to_budget_secs: Option<f64>,
    /// One-line description.
    pub summary: String,
    /// The scope's top call sites as passed in (at most five).
    pub top_sites: Vec<CallSite>,
    /// What to do about it, most useful first.
    pub recommendations: Vec<String>,
    /// True when the finding only keeps an open leak from resolving and cannot open one: the
    /// hysteresis band of sustained usage (between 70% and 100% of its threshold), and of
    /// gradual growth's plateau rule (a recent slope below half the window's by less than two
    /// standard errors).
    pub hold_only: bool,
}

/// A leak: a detector's finding that held long enough to be reported, and where it stands in its
/// lifecycle.
///
/// The dump writes a leak as one flat object: the lifecycle fields and the finding's evidence
/// side by side (docs/dump-format.md), without the finding's `t` and `hold_only`. A leak read
/// from a dump has `finding.t = last_detected` and `finding.hold_only = false`.
#[derive(Clone, Debug, PartialEq)]
pub struct Leak {
    /// Unique for the life of the process.
    pub id: u64,
    /// Open or resolved.
    pub status: LeakStatus,
    /// When it was first reported (seconds on the collector clock).
    pub first_detected: f64,
    /// When its detector last fired.
    pub last_detected: f64,
    /// When it was resolved, if it was.
    pub resolved_at: Option<f64>,
    /// The newest finding that held it: its scope, type, severity, evidence, projection, summary,
    /// call sites and recommendations (an open leak keeps its earlier call sites when a later
    /// finding has none).
    pub finding: Finding,
    /// The call sites when the leak was first reported with any (since schema 1.3): they stay
    /// with the leak when its memory is freed before the final dump.
    pub sites_at_detection: Vec<CallSite>,
    /// The scope's bytes at the highest run while the leak was open (since schema 1.3).
    pub peak_bytes: u64,
    /// The call sites at that run, or the newest before it that had any (since schema 1.3).
    pub sites_at_peak: Vec<CallSite>,
}

/// A [`Leak`] as the dump writes it, in the dump's field order: written from borrowed fields,
/// read into owned ones.
#[derive(Serialize, Deserialize)]
#[serde(rename = "Leak")]
struct LeakFields<'a> {
    id: u64,
    scope: Cow<'a, str>,
    leak_type: LeakType,
    severity: LeakSeverity,
    status: LeakStatus,
    confidence: f64,
    first_detected: f64,
    last_detected: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved_at: Option<f64>,
    window: [f64; 2],
    baseline_bytes: u64,
    current_bytes: u64,
    growth_bytes: i64,
    rate_bytes_per_min: f64,
    model: GrowthModel,
    statistics: Cow<'a, [Statistic]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    budget_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_to_budget_secs: Option<f64>,
    summary: Cow<'a, str>,
    top_sites: Cow<'a, [CallSite]>,
    recommendations: Cow<'a, [String]>,
    #[serde(default, skip_serializing_if = "<[CallSite]>::is_empty")]
    sites_at_detection: Cow<'a, [CallSite]>,
    #[serde(default, skip_serializing_if = "is_zero")]
    peak_bytes: u64,
    #[serde(default, skip_serializing_if = "<[CallSite]>::is_empty")]
    sites_at_peak: Cow<'a, [CallSite]>,
}

impl Serialize for Leak {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = &self.finding;
        LeakFields {
            id: self.id,
            scope: Cow::Borrowed(&f.scope),
            leak_type: f.leak_type,
            severity: f.severity,
            status: self.status,
            confidence: f.confidence,
            first_detected: self.first_detected,
            last_detected: self.last_detected,
            resolved_at: self.resolved_at,
            window: f.window,
            baseline_bytes: f.baseline_bytes,
            current_bytes: f.current_bytes,
            growth_bytes: f.growth_bytes,
            rate_bytes_per_min: f.rate_bytes_per_min,
            model: f.model,
            statistics: Cow::Borrowed(&f.statistics),
            budget_bytes: f.budget_bytes,
            time_to_budget_secs: f.time_to_budget_secs,
            summary: Cow::Borrowed(&f.summary),
            top_sites: Cow::Borrowed(&f.top_sites),
            recommendations: Cow::Borrowed(&f.recommendations),
            sites_at_detection: Cow::Borrowed(&self.sites_at_detection),
            peak_bytes: self.peak_bytes,
            sites_at_peak: Cow::Borrowed(&self.sites_at_peak),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Leak {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = LeakFields::deserialize(d)?;
        Ok(Leak {
            id: w.id,
            status: w.status,
            first_detected: w.first_detected,
            last_detected: w.last_detected,
            resolved_at: w.resolved_at,
            finding: Finding {
                scope: w.scope.into_owned(),
                leak_type: w.leak_type,
                severity: w.severity,
                confidence: w.confidence,
                t: w.last_detected,
                window: w.window,
                baseline_bytes: w.baseline_bytes,
                current_bytes: w.current_bytes,
                growth_bytes: w.growth_bytes,
                rate_bytes_per_min: w.rate_bytes_per_min,
                model: w.model,
                statistics: w.statistics.into_owned(),
                budget_bytes: w.budget_bytes,
                time_to_budget_secs: w.time_to_budget_secs,
                summary: w.summary.into_owned(),
                top_sites: w.top_sites.into_owned(),
                recommendations: w.recommendations.into_owned(),
                hold_only: false,
            },
            sites_at_detection: w.sites_at_detection.into_owned(),
            peak_bytes: w.peak_bytes,
            sites_at_peak: w.sites_at_peak.into_owned(),
        })
    }
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// The answer of `check_leaks`: a scope's open leaks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LeakCheck {
    /// How many open leaks the scope has.
    pub leak_count: usize,
    /// The open leaks, most severe first.
    pub leaks: Vec<Leak>,
}
