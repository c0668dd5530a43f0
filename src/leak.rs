//! What leakscope reports: leaks and the call sites behind them.
//!
//! Plain serialisable data shared by the detectors (which produce it), the collector (which keeps
//! the lifecycle), the dump (which carries it) and the CLI (which renders it).

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

/// A leak: a detector's finding that held long enough to be reported.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Leak {
    /// Unique for the life of the process.
    pub id: u64,
    /// The scope, or `"process"` for fragmentation.
    pub scope: String,
    /// The kind of problem.
    pub leak_type: LeakType,
    /// How urgent it is.
    pub severity: LeakSeverity,
    /// Open or resolved.
    pub status: LeakStatus,
    /// Confidence in [0, 1].
    pub confidence: f64,
    /// When it was first reported (seconds on the collector clock).
    pub first_detected: f64,
    /// When its detector last fired.
    pub last_detected: f64,
    /// When it was resolved, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<f64>,
    /// The evidence window `[start, end]` in seconds.
    pub window: [f64; 2],
    /// Bytes at the start of the evidence (the baseline).
    pub baseline_bytes: u64,
    /// Bytes now.
    pub current_bytes: u64,
    /// Growth over the evidence window (may be negative for a resolved finding).
    pub growth_bytes: i64,
    /// Growth rate in bytes per minute.
    pub rate_bytes_per_min: f64,
    /// The better-fitting growth model.
    pub model: GrowthModel,
    /// The statistics that decided it, the deciding one first.
    pub statistics: Vec<Statistic>,
    /// The budget used for the projection, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_bytes: Option<u64>,
    /// Projected seconds until the budget is reached at the fitted model, if one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_budget_secs: Option<f64>,
    /// One-line description of the finding.
    pub summary: String,
    /// The scope's top call sites by live bytes, largest first.
    pub top_sites: Vec<CallSite>,
    /// What to do about it, most useful first.
    pub recommendations: Vec<String>,
    /// The call sites when the leak was first reported with any (since schema 1.3): they stay
    /// with the leak when its memory is freed before the final dump.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites_at_detection: Vec<CallSite>,
    /// The scope's bytes at the highest run while the leak was open (since schema 1.3).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub peak_bytes: u64,
    /// The call sites at that run, or the newest before it that had any (since schema 1.3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sites_at_peak: Vec<CallSite>,
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
