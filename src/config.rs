//! Configuration: every knob of the collector, the sampler and the detectors.
//!
//! Defaults come from the system leakscope replaces (SPEC 6). Fields are public so a program can
//! set them directly; [`Config::validate`] checks them all and names the first bad one.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// leakscope's configuration. Build it with [`Config::default`] and field assignment, or with
/// [`Config::from_env`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Config {
    /// Growth over the detection window that makes a trend a leak (MB, 10^6 bytes).
    pub memory_growth_threshold_mb: f64,
    /// Growth rate that makes a trend a leak even below the growth threshold (MB per minute).
    pub growth_rate_threshold_mb_per_min: f64,
    /// Scope size above which sustained usage is reported (MB).
    pub sustained_high_threshold_mb: f64,
    /// The window the gradual-growth and sustained-usage detectors look at (minutes).
    pub detection_window_minutes: f64,
    /// The window the rapid-growth detector looks at (minutes).
    pub rapid_growth_window_minutes: f64,
    /// The trailing window that defines a scope's normal behaviour (minutes).
    pub baseline_calculation_minutes: f64,
    /// How often the collector takes a snapshot of every scope (seconds; fractions allowed).
    pub snapshot_interval_seconds: f64,
    /// How many recent snapshots each scope keeps at full resolution.
    pub max_snapshots_per_cache: usize,
    /// Whether allocations are sampled with stack traces.
    pub enable_stack_traces: bool,
    /// Mean number of bytes between two sampled allocations (1 samples every allocation).
    pub sample_interval_bytes: u64,
    /// Most stack frames kept per sample.
    pub max_frames: usize,
    /// Whether allocation rate, free ratio and age profile are tracked per scope.
    pub enable_churn_monitoring: bool,
    /// Robust trend tests (true) or the replaced system's plain threshold rules (false).
    pub statistical_analysis: bool,
    /// Whether scopes idle and empty for `cleanup_interval_hours` are pruned from history.
    pub auto_cleanup_old_data: bool,
    /// How long a scope must be idle and empty before it is pruned (hours).
    pub cleanup_interval_hours: f64,
    /// Where the JSON dump is written; `None` writes no dump.
    pub dump_path: Option<PathBuf>,
    /// How often the dump is rewritten (seconds; fractions allowed).
    pub dump_interval_seconds: f64,
    /// Where the Prometheus textfile is written; `None` writes none.
    pub prometheus_path: Option<PathBuf>,
    /// A leak is resolved after its detector fails this many consecutive runs.
    pub leak_resolve_after_runs: u32,
    /// Per-scope memory budgets in bytes, for time-to-budget projections and sustained usage.
    pub budgets: BTreeMap<String, u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            memory_growth_threshold_mb: 100.0,
            growth_rate_threshold_mb_per_min: 5.0,
            sustained_high_threshold_mb: 500.0,
            detection_window_minutes: 30.0,
            rapid_growth_window_minutes: 5.0,
            baseline_calculation_minutes: 60.0,
            snapshot_interval_seconds: 30.0,
            max_snapshots_per_cache: 1000,
            enable_stack_traces: true,
            sample_interval_bytes: 512 * 1024,
            max_frames: 25,
            enable_churn_monitoring: true,
            statistical_analysis: true,
            auto_cleanup_old_data: true,
            cleanup_interval_hours: 24.0,
            dump_path: Some(PathBuf::from("leakscope.json")),
            dump_interval_seconds: 60.0,
            prometheus_path: None,
            leak_resolve_after_runs: 3,
            budgets: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The budget of the scope `name` in bytes, if one is set.
    pub fn budget(&self, name: &str) -> Option<u64> {
        self.budgets.get(name).copied()
    }
}
