//! [`DetectorConfig`]: the part of [`Config`] the detectors and the leak lifecycle read.

use std::collections::BTreeMap;

use crate::config::Config;

/// What the detectors and the leak lifecycle read: the windows, the thresholds, the budgets,
/// the lifecycle's resolve count, and the history length the replay rebuilds. Built from a
/// [`Config`] by [`DetectorConfig::from`], the one place the two meet; the fields mean what the
/// [`Config`] fields of the same names mean. The runtime knobs (snapshot and dump intervals,
/// paths, sampling interval, cleanup) are not here: no verdict depends on them.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct DetectorConfig {
    /// [`Config::memory_growth_threshold_mb`].
    pub memory_growth_threshold_mb: f64,
    /// [`Config::growth_rate_threshold_mb_per_min`].
    pub growth_rate_threshold_mb_per_min: f64,
    /// [`Config::sustained_high_threshold_mb`].
    pub sustained_high_threshold_mb: f64,
    /// [`Config::detection_window_minutes`].
    pub detection_window_minutes: f64,
    /// [`Config::rapid_growth_window_minutes`].
    pub rapid_growth_window_minutes: f64,
    /// [`Config::baseline_calculation_minutes`].
    pub baseline_calculation_minutes: f64,
    /// [`Config::max_snapshots_per_cache`]: the points a history tier keeps, which the replay
    /// rebuilds as the collector keeps them.
    pub max_snapshots_per_cache: usize,
    /// [`Config::statistical_analysis`].
    pub statistical_analysis: bool,
    /// [`Config::leak_resolve_after_runs`].
    pub leak_resolve_after_runs: u32,
    /// [`Config::budgets`].
    pub budgets: BTreeMap<String, u64>,
    /// Whether stack sampling is on ([`Config::sample_interval`] is `Some`): recommendations
    /// point at call sites only when there are some.
    pub sampling: bool,
}

impl DetectorConfig {
    /// The budget of the scope `name` in bytes, if one is set.
    pub fn budget(&self, name: &str) -> Option<u64> {
        self.budgets.get(name).copied()
    }
}

impl From<&Config> for DetectorConfig {
    fn from(c: &Config) -> Self {
        DetectorConfig {
            memory_growth_threshold_mb: c.memory_growth_threshold_mb,
            growth_rate_threshold_mb_per_min: c.growth_rate_threshold_mb_per_min,
            sustained_high_threshold_mb: c.sustained_high_threshold_mb,
            detection_window_minutes: c.detection_window_minutes,
            rapid_growth_window_minutes: c.rapid_growth_window_minutes,
            baseline_calculation_minutes: c.baseline_calculation_minutes,
            max_snapshots_per_cache: c.max_snapshots_per_cache,
            statistical_analysis: c.statistical_analysis,
            leak_resolve_after_runs: c.leak_resolve_after_runs,
            budgets: c.budgets.clone(),
            sampling: c.sample_interval().is_some(),
        }
    }
}

impl Default for DetectorConfig {
    /// The detector settings of [`Config::default`].
    fn default() -> Self {
        DetectorConfig::from(&Config::default())
    }
}
