//! Configuration: every knob of the collector, the sampler and the detectors.
//!
//! Defaults come from the system leakscope replaces (docs/design.md §6). Fields are public so a program can
//! set them directly; everything else goes through one string parser, [`Config::set`], which
//! knows every field by its name: the builder, the environment ([`Config::from_env`]), the
//! `LEAKSCOPE="key=value,…"` string (like jemalloc's `MALLOC_CONF`) and the CLI's `--set` all
//! end up there, so a key means the same thing and fails the same way wherever it is written.
//! [`Config::validate`] checks every field and the windows against each other and names the
//! first bad field with its value.
//!
//! # Keys and values
//!
//! A key is a field's name (`snapshot_interval_seconds`), or `budget.<scope>` for one scope's
//! budget. Values are written as follows:
//!
//! - numbers: `0.25`, `30`, `1e3`; times and thresholds must be positive and finite.
//! - booleans: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
//! - byte sizes (`sample_interval_bytes`, budgets): an integer with an optional suffix: `B`,
//!   decimal `kB`, `MB`, `GB`, `TB` (powers of 1000) or binary `KiB`, `MiB`, `GiB`, `TiB` (powers
//!   of 1024), case-insensitive: `512KiB`, `64MiB`, `500MB`, `1GiB`. Fractions are refused
//!   (write `1536MiB`, not `1.5GiB`) so that a size never depends on float rounding.
//! - paths (`dump_path`, `prometheus_path`): any path; `none` (any case) or an empty value
//!   disables the file. A file really called `none` is written `./none`.
//! - `budgets`: the whole budget table as `scope=size` pairs separated by `;`
//!   (`users_cache=64MiB;sessions=1GiB`), replacing any budgets set before; `none` clears it.
//! - `budget.<scope>`: one budget, a byte size; `none` removes it.
//! - `sample_interval_bytes` is the one sampling knob: 0 switches stack sampling off. The key
//!   `enable_stack_traces` (and `LEAKSCOPE_ENABLE_STACK_TRACES`) it replaces is deprecated but
//!   still honoured: `false` switches sampling off whatever the interval, and the first use says
//!   so on stderr.
//!
//! In the `LEAKSCOPE` string items are separated by commas, so a value there cannot contain
//! one; such a path is set with its own variable (`LEAKSCOPE_DUMP_PATH`) or the builder.
//!
//! # Environment
//!
//! [`Config::from_env`] starts from the defaults, applies the `LEAKSCOPE` string, then each
//! `LEAKSCOPE_<FIELD>` variable (the field name in upper case, e.g.
//! `LEAKSCOPE_SNAPSHOT_INTERVAL_SECONDS=0.25`, `LEAKSCOPE_BUDGETS=users_cache=64MiB`), then
//! validates. A single variable is the more specific setting, so it wins over the same key in the
//! `LEAKSCOPE` string. A `LEAKSCOPE_*` variable that names no field is an error, because a
//! misspelt variable silently ignored in production is worse than a program that refuses to
//! start; `LEAKSCOPE_BLESS` is reserved for leakscope's own golden-file tests and ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::error::Error;
pub use crate::ids::MAX_SCOPES;

/// leakscope's configuration. Build it with [`Config::default`] and field assignment,
/// [`Config::builder`], or [`Config::from_env`].
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
    /// How many recent snapshots each scope keeps at full resolution (and how many points each
    /// coarser history tier keeps).
    pub max_snapshots_per_cache: usize,
    /// Deprecated: stack sampling is off when `sample_interval_bytes` is 0. `false` still
    /// switches sampling off whatever the interval, as it always did; [`Config::sample_interval`]
    /// folds the two into the one answer. Written only when `false`.
    #[deprecated(note = "stack sampling is off when sample_interval_bytes is 0: set that instead")]
    #[serde(skip_serializing_if = "is_true")]
    pub enable_stack_traces: bool,
    /// Mean number of bytes between two sampled allocations, with their stack traces: 1 samples
    /// every allocation, 0 switches stack sampling off (no call sites, no age profile).
    pub sample_interval_bytes: u64,
    /// Most stack frames kept per sample: 1 to 64.
    pub max_frames: usize,
    /// Whether the age profile of live sampled memory is kept per scope (6 bytes a history
    /// point, about 18 KB a scope at the default 1,000 points a tier, and one pass over the live
    /// samples per snapshot) and the process's memory pressure is read each snapshot. Off, the
    /// history has no age column and the pressure files are not read; allocation and free rates
    /// and the free ratio come from the counters every snapshot has, and are shown either way.
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
    /// Keep the symbolizer's debug information loaded between dumps (faster dumps, tens of MB
    /// more resident for a large binary). Off by default: it is released after each dump.
    pub keep_symbol_cache: bool,
    /// Per-scope memory budgets in bytes, for time-to-budget projections and sustained usage.
    pub budgets: BTreeMap<String, u64>,
}

impl Default for Config {
    #[allow(deprecated)] // The deprecated `enable_stack_traces` keeps its old default, true.
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
            keep_symbol_cache: false,
            budgets: BTreeMap::new(),
        }
    }
}

/// The name of the one-string variable, like jemalloc's `MALLOC_CONF`.
const ENV_STRING: &str = "LEAKSCOPE";
/// The prefix of the one-field-per-variable form.
const ENV_PREFIX: &str = "LEAKSCOPE_";
/// `LEAKSCOPE_*` variables that are not settings: leakscope's own tooling uses them.
const ENV_RESERVED: &[&str] = &["LEAKSCOPE_BLESS"];
/// The deprecated key that [`Config::set`] still takes: `false` switches stack sampling off.
const DEPRECATED_STACK_TRACES: &str = "enable_stack_traces";
/// The key prefix of one scope's budget.
const BUDGET_PREFIX: &str = "budget.";

/// Declares the scalar fields once: their key, their parser and their range check. From this one
/// table come [`Config::KEYS`], the dispatch of [`Config::set`] and the per-field part of
/// [`Config::validate`], so a new field cannot be settable but unchecked, or the reverse.
macro_rules! config_fields {
    ($($field:ident: $parse:ident => $check:ident),* $(,)?) => {
        impl Config {
            /// Every key [`Config::set`] accepts, in declaration order, besides the per-scope
            /// `budget.<scope>` keys.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field),)* "budgets"];

            /// Parses `value` into the field `key` and range-checks it; `None` if no scalar field
            /// has that name.
            fn set_scalar(&mut self, key: &str, value: &str) -> Option<Result<(), String>> {
                match key {
                    $(stringify!($field) => Some($parse(value).and_then(|v| {
                        $check(&v)?;
                        self.$field = v;
                        Ok(())
                    })),)*
                    _ => None,
                }
            }

            /// Range-checks every scalar field on its own.
            fn check_scalars(&self) -> Result<(), Error> {
                $($check(&self.$field).map_err(|problem| {
                    Error::config(stringify!($field), self.$field.text(), problem)
                })?;)*
                Ok(())
            }
        }
    };
}

config_fields! {
    memory_growth_threshold_mb: parse_f64 => megabytes,
    growth_rate_threshold_mb_per_min: parse_f64 => megabytes,
    sustained_high_threshold_mb: parse_f64 => megabytes,
    detection_window_minutes: parse_f64 => minutes,
    rapid_growth_window_minutes: parse_f64 => minutes,
    baseline_calculation_minutes: parse_f64 => minutes,
    snapshot_interval_seconds: parse_f64 => seconds,
    max_snapshots_per_cache: parse_usize => snapshot_count,
    sample_interval_bytes: parse_bytes => any,
    max_frames: parse_usize => frame_count,
    enable_churn_monitoring: parse_bool => any,
    statistical_analysis: parse_bool => any,
    auto_cleanup_old_data: parse_bool => any,
    cleanup_interval_hours: parse_f64 => hours,
    dump_path: parse_path => output_path,
    dump_interval_seconds: parse_f64 => seconds,
    prometheus_path: parse_path => output_path,
    leak_resolve_after_runs: parse_u32 => run_count,
    keep_symbol_cache: parse_bool => any,
}

impl Config {
    /// A builder starting from the defaults; see [`ConfigBuilder`].
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
            error: None,
        }
    }

    /// The mean stack-sampling interval in bytes, or `None` when stack sampling is off:
    /// `sample_interval_bytes` is 0 (or the deprecated `enable_stack_traces` is `false`).
    pub fn sample_interval(&self) -> Option<u64> {
        #[allow(deprecated)] // Still honoured; see the field.
        let on = self.enable_stack_traces;
        (on && self.sample_interval_bytes > 0).then_some(self.sample_interval_bytes)
    }

    /// The configuration with the deprecated `enable_stack_traces` folded into
    /// `sample_interval_bytes` (0 when sampling is off), as the collector keeps it and its
    /// dumps carry it.
    pub(crate) fn normalized(mut self) -> Config {
        self.sample_interval_bytes = self.sample_interval().unwrap_or(0);
        #[allow(deprecated)] // Folded into the interval above.
        {
            self.enable_stack_traces = true;
        }
        self
    }

    /// `enable_stack_traces=<on>` from a settings string, a variable or the builder: still
    /// honoured (so a config that switched sampling off stays off whatever else it sets), with
    /// a note on stderr, once per process, naming the setting that replaces it.
    #[allow(deprecated)] // The one place the deprecated setting is written.
    fn set_deprecated_stack_traces(&mut self, on: bool) {
        static NOTED: AtomicBool = AtomicBool::new(false);
        if !NOTED.swap(true, Relaxed) {
            eprintln!(
                "leakscope: enable_stack_traces is deprecated: stack sampling is off when \
                 sample_interval_bytes = 0 (enable_stack_traces = {on} is still honoured)"
            );
        }
        self.enable_stack_traces = on;
    }

    /// The budget of the scope `name` in bytes, if one is set.
    pub fn budget(&self, name: &str) -> Option<u64> {
        self.budgets.get(name).copied()
    }

    /// Sets the field `key` from its string form (see the module docs for the syntax of each
    /// kind of value), checking the value's range on its own; cross-field rules wait for
    /// [`Config::validate`]. Returns `self` so calls chain with `?`.
    ///
    /// # Errors
    /// An [`ErrorKind::Config`](crate::ErrorKind::Config) naming the key and the value, for an
    /// unknown key, a value that does not parse, or one out of range.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, Error> {
        let (key, value) = (key.trim(), value.trim());
        let result = if let Some(scope) = key.strip_prefix(BUDGET_PREFIX) {
            self.set_budget(scope, value)
        } else if key == "budgets" {
            parse_budgets(value).map(|budgets| self.budgets = budgets)
        } else if key == DEPRECATED_STACK_TRACES {
            parse_bool(value).map(|on| self.set_deprecated_stack_traces(on))
        } else {
            match self.set_scalar(key, value) {
                Some(result) => result,
                None => Err(format!(
                    "unknown setting (known: {}, budget.<scope>)",
                    Config::KEYS.join(", ")
                )),
            }
        };
        result.map_err(|problem| Error::config(key, value, problem))?;
        Ok(self)
    }

    /// Applies a `key=value,key=value` string (the `LEAKSCOPE` variable's and the CLI's form)
    /// through [`Config::set`], left to right, so a later key wins. Blank items are skipped.
    ///
    /// # Errors
    /// The first item that is not `key=value` or that [`Config::set`] refuses.
    pub fn set_many(&mut self, settings: &str) -> Result<&mut Self, Error> {
        for item in settings.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            // Only the first `=` splits, so a budget table or a path may contain more.
            let Some((key, value)) = item.split_once('=') else {
                return Err(Error::config(item, "", "expected key=value"));
            };
            self.set(key, value)?;
        }
        Ok(self)
    }

    /// Reads the configuration from the process environment; see the module docs for the
    /// variables and their precedence. The result is validated.
    ///
    /// # Errors
    /// A bad value (the message names the variable it came from), a `LEAKSCOPE_*` variable that
    /// names no field, or a failed [`Config::validate`].
    pub fn from_env() -> Result<Config, Error> {
        for (name, value) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let known = name == ENV_STRING
                || ENV_RESERVED.contains(&&*name)
                || Config::KEYS
                    .iter()
                    .chain([&DEPRECATED_STACK_TRACES])
                    .any(|key| env_name(key) == name);
            if name.starts_with(ENV_PREFIX) && !known {
                return Err(Error::config(
                    &name,
                    value.to_string_lossy(),
                    format!(
                        "unknown variable (known: {ENV_STRING}, {ENV_PREFIX}<FIELD> for {})",
                        Config::KEYS.join(", ")
                    ),
                ));
            }
        }
        // A value that is not UTF-8 is passed on lossily: it then fails to parse with a message
        // naming its variable, rather than being skipped as if unset.
        Config::from_env_with(|name| {
            std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// [`Config::from_env`] over any variable lookup, so tests and embedders can supply the
    /// environment without touching the process's (which tests running in parallel share).
    /// Unknown `LEAKSCOPE_*` names cannot be detected here, since a lookup cannot be listed.
    ///
    /// # Errors
    /// A bad value, naming the variable it came from, or a failed [`Config::validate`].
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Error> {
        let mut config = Config::default();
        if let Some(settings) = lookup(ENV_STRING) {
            config
                .set_many(&settings)
                .map_err(|e| from_source(e, ENV_STRING))?;
        }
        for key in Config::KEYS.iter().chain([&DEPRECATED_STACK_TRACES]) {
            let name = env_name(key);
            if let Some(value) = lookup(&name) {
                config.set(key, &value).map_err(|e| from_source(e, &name))?;
            }
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks every field's range, then the rules between fields: each window spans at least two
    /// snapshot intervals (a trend needs two points), the rapid-growth window is no longer than
    /// the detection window (it looks for a burst inside it), and the dump and Prometheus files
    /// differ.
    ///
    /// # Errors
    /// An [`ErrorKind::Config`](crate::ErrorKind::Config) naming the first bad field and its
    /// value.
    pub fn validate(&self) -> Result<(), Error> {
        self.check_scalars()?;
        for (scope, &bytes) in &self.budgets {
            check_budget(scope, bytes)
                .map_err(|problem| Error::config(&budget_key(scope), bytes, problem))?;
        }
        let interval = self.snapshot_interval_seconds;
        for (field, minutes) in [
            ("detection_window_minutes", self.detection_window_minutes),
            (
                "rapid_growth_window_minutes",
                self.rapid_growth_window_minutes,
            ),
            (
                "baseline_calculation_minutes",
                self.baseline_calculation_minutes,
            ),
        ] {
            if minutes * 60.0 < 2.0 * interval {
                return Err(Error::config(
                    field,
                    minutes,
                    format!(
                        "shorter than two snapshot intervals \
                         (snapshot_interval_seconds = {interval})"
                    ),
                ));
            }
        }
        if self.rapid_growth_window_minutes > self.detection_window_minutes {
            return Err(Error::config(
                "rapid_growth_window_minutes",
                self.rapid_growth_window_minutes,
                format!(
                    "longer than detection_window_minutes ({})",
                    self.detection_window_minutes
                ),
            ));
        }
        if let (Some(dump), Some(prom)) = (&self.dump_path, &self.prometheus_path) {
            if dump == prom {
                return Err(Error::config(
                    "prometheus_path",
                    prom.display(),
                    "the same file as dump_path",
                ));
            }
        }
        Ok(())
    }

    fn set_budget(&mut self, scope: &str, value: &str) -> Result<(), String> {
        if is_none(value) {
            self.budgets.remove(scope);
            return Ok(());
        }
        let bytes = parse_bytes(value)?;
        check_budget(scope, bytes)?;
        self.budgets.insert(scope.to_owned(), bytes);
        Ok(())
    }
}

/// Builds a [`Config`] from the defaults by key and value, deferring errors to
/// [`ConfigBuilder::build`] so calls chain without `?`:
///
/// ```
/// let config = leakscope::Config::builder()
///     .set("snapshot_interval_seconds", 0.25)
///     .set("detection_window_minutes", 2)
///     .set("rapid_growth_window_minutes", 0.5)
///     .set("dump_path", "/tmp/demo.json")
///     .budget("users_cache", 64 << 20)
///     .build()?;
/// assert_eq!(config.snapshot_interval_seconds, 0.25);
/// # Ok::<(), leakscope::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ConfigBuilder {
    config: Config,
    error: Option<Error>,
}

impl ConfigBuilder {
    /// Sets `key` from the text form of `value` through [`Config::set`]; numbers, booleans and
    /// strings all work (Rust prints an `f64` so that it parses back to the same value).
    pub fn set(mut self, key: &str, value: impl fmt::Display) -> Self {
        if self.error.is_none() {
            if let Err(e) = self.config.set(key, &value.to_string()) {
                self.error = Some(e);
            }
        }
        self
    }

    /// Sets the budget of `scope` to `bytes`.
    pub fn budget(self, scope: &str, bytes: u64) -> Self {
        self.set(&budget_key(scope), bytes)
    }

    /// The configuration, validated.
    ///
    /// # Errors
    /// The first [`ConfigBuilder::set`] that failed, or else a failed [`Config::validate`].
    pub fn build(self) -> Result<Config, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.config.validate()?;
        Ok(self.config)
    }
}

/// The variable that sets `key`: `LEAKSCOPE_` and the key in upper case.
fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

fn budget_key(scope: &str) -> String {
    format!("{BUDGET_PREFIX}{scope}")
}

/// Adds where a setting came from to its error, keeping the kind.
fn from_source(e: Error, source: &str) -> Error {
    Error::new(e.kind().clone(), format!("{} (from {source})", e.message()))
}

fn is_none(value: &str) -> bool {
    value.is_empty() || value.eq_ignore_ascii_case("none")
}

// Parsers: the text of a value to the field's type. The error says what was expected; the
// caller adds the field and the value.

fn parse_f64(s: &str) -> Result<f64, String> {
    s.parse().map_err(|_| "not a number".to_owned())
}

fn parse_usize(s: &str) -> Result<usize, String> {
    s.parse()
        .map_err(|_| "not a non-negative integer".to_owned())
}

fn parse_u32(s: &str) -> Result<u32, String> {
    s.parse()
        .map_err(|_| "not an integer between 0 and 4294967295".to_owned())
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("not a boolean (true/false, 1/0, yes/no, on/off)".to_owned()),
    }
}

fn parse_path(s: &str) -> Result<Option<PathBuf>, String> {
    Ok((!is_none(s)).then(|| PathBuf::from(s)))
}

/// Parses a byte size: an integer and an optional unit (see the module docs).
pub(crate) fn parse_bytes(s: &str) -> Result<u64, String> {
    let digits_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = (&s[..digits_end], s[digits_end..].trim());
    if number.is_empty() {
        return Err("not a byte size (e.g. 4096, 512KiB, 64MiB, 500MB, 1GiB)".to_owned());
    }
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?} (use B, kB, MB, GB, TB, KiB, MiB, GiB or TiB)"
            ))
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| "larger than 2^64 - 1 bytes".to_owned())
}

/// Parses the budget table: `scope=size` pairs separated by `;`.
fn parse_budgets(s: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut budgets = BTreeMap::new();
    if is_none(s) {
        return Ok(budgets);
    }
    for item in s.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((scope, size)) = item.split_once('=') else {
            return Err(format!("{item:?} is not scope=size"));
        };
        let (scope, size) = (scope.trim(), size.trim());
        let bytes = parse_bytes(size).map_err(|e| format!("budget of {scope:?}: {e}"))?;
        check_budget(scope, bytes).map_err(|e| format!("budget of {scope:?}: {e}"))?;
        budgets.insert(scope.to_owned(), bytes);
    }
    Ok(budgets)
}

// Range checks, one per kind of field. The bounds keep every later conversion safe: times become
// `Duration`s (which panic past u64::MAX seconds) and megabytes become u64 byte counts.

/// The largest threshold in MB: 10^12 MB is 10^18 bytes, which still fits a u64.
const MAX_MB: f64 = 1e12;
/// One year, the longest window or interval that makes sense for a profiler.
const YEAR_SECS: f64 = 365.0 * 24.0 * 3600.0;

fn finite_in(v: f64, min_exclusive: f64, max: f64, unit: &str) -> Result<(), String> {
    if !v.is_finite() {
        Err("must be a finite number".to_owned())
    } else if v <= min_exclusive {
        Err(format!("must be greater than {min_exclusive} {unit}"))
    } else if v > max {
        Err(format!("must be at most {max} {unit}"))
    } else {
        Ok(())
    }
}

fn megabytes(v: &f64) -> Result<(), String> {
    finite_in(*v, 0.0, MAX_MB, "MB")
}

fn minutes(v: &f64) -> Result<(), String> {
    finite_in(*v, 0.0, YEAR_SECS / 60.0, "minutes")
}

fn hours(v: &f64) -> Result<(), String> {
    finite_in(*v, 0.0, YEAR_SECS / 3600.0, "hours")
}

fn seconds(v: &f64) -> Result<(), String> {
    // Below a millisecond the collector would spin; above a year `Duration` maths stays safe.
    if v.is_finite() && *v < 0.001 {
        return Err("must be at least 0.001 seconds".to_owned());
    }
    finite_in(*v, 0.0, YEAR_SECS, "seconds")
}

/// The history needs at least one 10-interval coarse group inside its recent ring, so that its
/// tiers meet without a gap (see src/history.rs); the upper bound caps its memory at
/// roughly 300 MB per scope.
fn snapshot_count(v: &usize) -> Result<(), String> {
    match *v {
        10..=1_000_000 => Ok(()),
        _ => Err("must be between 10 and 1000000".to_owned()),
    }
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A sample carries its frames inline, [`MAX_FRAMES`](crate::sampler::MAX_FRAMES) of them (64):
/// room for more would make every sample in the preallocated channel, and every live sample,
/// larger whatever `max_frames` is set to. What validates is what the sampler keeps.
fn frame_count(v: &usize) -> Result<(), String> {
    let max = crate::sampler::MAX_FRAMES;
    match *v {
        n if (1..=max).contains(&n) => Ok(()),
        _ => Err(format!(
            "must be between 1 and {max} (the most frames a sample carries)"
        )),
    }
}

fn run_count(v: &u32) -> Result<(), String> {
    match *v {
        0 => Err("must be at least 1".to_owned()),
        _ => Ok(()),
    }
}

fn any<T>(_: &T) -> Result<(), String> {
    Ok(())
}

/// A file leakscope writes must have a file name (the temporary file is named after it) and be
/// UTF-8 (the dump records the config as JSON, whose strings are UTF-8).
fn output_path(v: &Option<PathBuf>) -> Result<(), String> {
    let Some(path) = v else { return Ok(()) };
    if path.as_os_str().is_empty() {
        Err("empty path (use none to disable the file)".to_owned())
    } else if path.to_str().is_none() {
        Err("path is not valid UTF-8".to_owned())
    } else if path.file_name().is_none() {
        Err("path names no file".to_owned())
    } else {
        Ok(())
    }
}

fn check_budget(scope: &str, bytes: u64) -> Result<(), String> {
    if scope.is_empty() {
        Err("budget for an empty scope name".to_owned())
    } else if bytes == 0 {
        Err("a budget must be at least 1 byte (none removes it)".to_owned())
    } else {
        Ok(())
    }
}

/// How a field's value reads in an error message: the same form [`Config::set`] accepts.
trait Setting {
    fn text(&self) -> String;
}

macro_rules! display_setting {
    ($($t:ty),*) => { $(impl Setting for $t { fn text(&self) -> String { self.to_string() } })* };
}
display_setting!(f64, bool, usize, u64, u32);

impl Setting for Option<PathBuf> {
    fn text(&self) -> String {
        self.as_deref()
            .map_or_else(|| "none".to_owned(), |p| p.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::collections::HashMap;

    /// A value for every scalar key that differs from its default and passes validation, with
    /// the field value it must produce.
    fn non_default_settings() -> Vec<(&'static str, &'static str)> {
        vec![
            ("memory_growth_threshold_mb", "12.5"),
            ("growth_rate_threshold_mb_per_min", "0.5"),
            ("sustained_high_threshold_mb", "64"),
            ("detection_window_minutes", "2"),
            ("rapid_growth_window_minutes", "0.5"),
            ("baseline_calculation_minutes", "4"),
            ("snapshot_interval_seconds", "0.25"),
            ("max_snapshots_per_cache", "120"),
            ("sample_interval_bytes", "64KiB"),
            ("max_frames", "8"),
            ("enable_churn_monitoring", "no"),
            ("statistical_analysis", "off"),
            ("auto_cleanup_old_data", "0"),
            ("cleanup_interval_hours", "0.5"),
            ("dump_path", "/tmp/x/dump.json"),
            ("dump_interval_seconds", "1.5"),
            ("prometheus_path", "/tmp/x/leakscope.prom"),
            ("leak_resolve_after_runs", "5"),
            ("keep_symbol_cache", "yes"),
            ("budgets", "users_cache=64MiB;sessions=1GB"),
        ]
    }

    fn expected_non_default() -> Config {
        Config {
            memory_growth_threshold_mb: 12.5,
            growth_rate_threshold_mb_per_min: 0.5,
            sustained_high_threshold_mb: 64.0,
            detection_window_minutes: 2.0,
            rapid_growth_window_minutes: 0.5,
            baseline_calculation_minutes: 4.0,
            snapshot_interval_seconds: 0.25,
            max_snapshots_per_cache: 120,
            sample_interval_bytes: 64 * 1024,
            max_frames: 8,
            enable_churn_monitoring: false,
            statistical_analysis: false,
            auto_cleanup_old_data: false,
            cleanup_interval_hours: 0.5,
            dump_path: Some("/tmp/x/dump.json".into()),
            dump_interval_seconds: 1.5,
            prometheus_path: Some("/tmp/x/leakscope.prom".into()),
            leak_resolve_after_runs: 5,
            keep_symbol_cache: true,
            budgets: BTreeMap::from([
                ("users_cache".to_owned(), 64 << 20),
                ("sessions".to_owned(), 1_000_000_000),
            ]),
            ..Config::default()
        }
    }

    #[test]
    fn the_settings_table_covers_every_key() {
        let keys: Vec<_> = non_default_settings().iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, Config::KEYS);
        // Serde's field names are the keys too, so a dump's config reads like the settings.
        let json = serde_json::to_value(Config::default()).unwrap();
        let mut fields: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        let mut keys: Vec<_> = Config::KEYS.iter().map(|k| k.to_string()).collect();
        fields.sort();
        keys.sort();
        assert_eq!(fields, keys);
    }

    #[test]
    fn defaults_are_valid_and_match_the_spec() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.snapshot_interval_seconds, 30.0);
        assert_eq!(c.max_snapshots_per_cache, 1000);
        assert_eq!(c.sample_interval_bytes, 524_288);
        assert_eq!(c.dump_path, Some(PathBuf::from("leakscope.json")));
        assert_eq!(c.prometheus_path, None);
    }

    #[test]
    fn every_field_from_the_builder() {
        let mut builder = Config::builder();
        for (key, value) in non_default_settings() {
            builder = builder.set(key, value);
        }
        assert_eq!(builder.build().unwrap(), expected_non_default());
    }

    #[test]
    fn builder_takes_typed_values_and_budgets() {
        let c = Config::builder()
            .set("snapshot_interval_seconds", 0.1_f64)
            .set("max_frames", 64_usize)
            .set("sample_interval_bytes", 0)
            .set("dump_path", "none")
            .budget("users_cache", 1234)
            .build()
            .unwrap();
        assert_eq!(c.snapshot_interval_seconds, 0.1);
        assert_eq!(c.max_frames, 64);
        assert_eq!(c.sample_interval(), None);
        assert_eq!(c.dump_path, None);
        assert_eq!(c.budget("users_cache"), Some(1234));
    }

    #[test]
    fn builder_reports_the_first_error() {
        let err = Config::builder()
            .set("max_frames", 0)
            .set("snapshot_interval_seconds", "nope")
            .build()
            .unwrap_err();
        assert_eq!(
            err.kind(),
            &ErrorKind::Config {
                field: "max_frames".into(),
                value: "0".into()
            }
        );
    }

    #[test]
    fn every_field_from_the_leakscope_string() {
        let s: Vec<String> = non_default_settings()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let s = s.join(", ");
        let env = HashMap::from([("LEAKSCOPE".to_owned(), s)]);
        let c = Config::from_env_with(|k| env.get(k).cloned()).unwrap();
        assert_eq!(c, expected_non_default());
    }

    #[test]
    fn every_field_from_its_own_variable() {
        let env: HashMap<String, String> = non_default_settings()
            .iter()
            .map(|(k, v)| (format!("LEAKSCOPE_{}", k.to_uppercase()), v.to_string()))
            .collect();
        let c = Config::from_env_with(|k| env.get(k).cloned()).unwrap();
        assert_eq!(c, expected_non_default());
    }

    #[test]
    fn a_variable_wins_over_the_leakscope_string() {
        let env = HashMap::from([
            (
                "LEAKSCOPE".to_owned(),
                "max_frames=10,budget.a=1KiB,budget.b=2KiB".to_owned(),
            ),
            ("LEAKSCOPE_MAX_FRAMES".to_owned(), "20".to_owned()),
            ("LEAKSCOPE_BUDGETS".to_owned(), "c=3kB".to_owned()),
        ]);
        let c = Config::from_env_with(|k| env.get(k).cloned()).unwrap();
        assert_eq!(c.max_frames, 20);
        // The budget table variable replaces the whole table, string budgets included.
        assert_eq!(c.budgets, BTreeMap::from([("c".to_owned(), 3000)]));
    }

    #[test]
    fn an_empty_environment_gives_the_defaults() {
        assert_eq!(Config::from_env_with(|_| None).unwrap(), Config::default());
    }

    #[test]
    fn the_real_environment_is_read() {
        // The one test that touches the process environment, with a variable no other test
        // reads: the unknown-variable check reads them all.
        std::env::set_var("LEAKSCOPE_MAX_FRAMES", "7");
        let c = Config::from_env();
        std::env::set_var("LEAKSCOPE_MAX_FRAME", "7");
        let typo = Config::from_env();
        std::env::remove_var("LEAKSCOPE_MAX_FRAME");
        std::env::remove_var("LEAKSCOPE_MAX_FRAMES");
        assert_eq!(c.unwrap().max_frames, 7);
        let typo = typo.unwrap_err();
        assert!(
            typo.message().contains("LEAKSCOPE_MAX_FRAME")
                && typo.message().contains("unknown variable"),
            "{typo}"
        );
    }

    #[test]
    fn errors_from_the_environment_name_their_variable() {
        let env = HashMap::from([("LEAKSCOPE_MAX_FRAMES".to_owned(), "lots".to_owned())]);
        let err = Config::from_env_with(|k| env.get(k).cloned()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value \"lots\" for max_frames: not a non-negative integer \
             (from LEAKSCOPE_MAX_FRAMES)"
        );
        let env = HashMap::from([("LEAKSCOPE".to_owned(), "max_frames=1,bogus=2".to_owned())]);
        let err = Config::from_env_with(|k| env.get(k).cloned()).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("invalid value \"2\" for bogus: unknown setting"));
        assert!(err.to_string().ends_with("(from LEAKSCOPE)"), "{err}");
        let env = HashMap::from([("LEAKSCOPE".to_owned(), "max_frames".to_owned())]);
        let err = Config::from_env_with(|k| env.get(k).cloned()).unwrap_err();
        assert!(err.to_string().contains("expected key=value"), "{err}");
    }

    #[test]
    fn byte_sizes_accept_units() {
        for (text, bytes) in [
            ("0", 0),
            ("4096", 4096),
            ("12B", 12),
            ("512KiB", 512 << 10),
            ("512 kib", 512 << 10),
            ("64MiB", 64 << 20),
            ("1GiB", 1 << 30),
            ("2TiB", 2 << 40),
            ("3kB", 3000),
            ("500MB", 500_000_000),
            ("1GB", 1_000_000_000),
            ("1TB", 1_000_000_000_000),
            ("18446744073709551615", u64::MAX),
        ] {
            assert_eq!(parse_bytes(text), Ok(bytes), "{text}");
        }
        for text in [
            "",
            "MiB",
            "1.5GiB",
            "-1",
            "12 parsecs",
            "16777216TiB",
            "1e6",
        ] {
            assert!(parse_bytes(text).is_err(), "{text}");
        }
    }

    /// Each case is `(key, bad value, words the message must contain)`.
    #[test]
    fn every_bad_value_is_rejected_by_set_naming_it() {
        let cases = [
            ("memory_growth_threshold_mb", "0", "greater than 0"),
            ("memory_growth_threshold_mb", "NaN", "finite"),
            ("growth_rate_threshold_mb_per_min", "-1", "greater than 0"),
            ("sustained_high_threshold_mb", "inf", "finite"),
            ("sustained_high_threshold_mb", "1e13", "at most"),
            ("detection_window_minutes", "0", "greater than 0"),
            ("detection_window_minutes", "1e9", "at most"),
            ("rapid_growth_window_minutes", "x", "not a number"),
            ("baseline_calculation_minutes", "-60", "greater than 0"),
            ("snapshot_interval_seconds", "0", "at least 0.001"),
            ("snapshot_interval_seconds", "0.0001", "at least 0.001"),
            ("snapshot_interval_seconds", "1e300", "at most"),
            ("max_snapshots_per_cache", "9", "between 10 and"),
            ("max_snapshots_per_cache", "-5", "non-negative integer"),
            ("max_snapshots_per_cache", "2000000", "between 10 and"),
            ("enable_stack_traces", "maybe", "not a boolean"),
            ("sample_interval_bytes", "lots", "not a byte size"),
            ("max_frames", "0", "between 1 and 64"),
            (
                "max_frames",
                "65",
                "between 1 and 64 (the most frames a sample carries)",
            ),
            ("enable_churn_monitoring", "2", "not a boolean"),
            ("statistical_analysis", "", "not a boolean"),
            ("auto_cleanup_old_data", "y", "not a boolean"),
            ("cleanup_interval_hours", "0", "greater than 0"),
            ("dump_path", "/", "names no file"),
            ("dump_interval_seconds", "-1", "at least 0.001"),
            ("prometheus_path", "dir/..", "names no file"),
            ("leak_resolve_after_runs", "0", "at least 1"),
            ("leak_resolve_after_runs", "4294967296", "integer between"),
            ("budgets", "users_cache", "not scope=size"),
            ("budgets", "a=0", "at least 1 byte"),
            ("budgets", "a=12 parsecs", "unknown size unit"),
            ("budgets", "=5", "empty scope name"),
            ("budget.users_cache", "0", "at least 1 byte"),
            ("budget.users_cache", "1.5GiB", "unknown size unit"),
            ("budget.", "1", "empty scope name"),
            ("no_such_field", "1", "unknown setting"),
        ];
        for (key, value, words) in cases {
            let err = Config::default().set(key, value).map(|_| ()).unwrap_err();
            assert_eq!(
                err.kind(),
                &ErrorKind::Config {
                    field: key.into(),
                    value: value.into()
                },
                "{key}={value}"
            );
            let msg = err.to_string();
            assert!(
                msg.starts_with(&format!("invalid value {value:?} for {key}: ")),
                "{msg}"
            );
            assert!(msg.contains(words), "{key}={value}: {msg}");
        }
    }

    /// Fields assigned directly bypass `set`; `validate` must catch the same values.
    #[test]
    fn every_bad_field_is_rejected_by_validate_naming_it() {
        let d = Config::default;
        let budget = |scope: &str, bytes| Config {
            budgets: BTreeMap::from([(scope.to_owned(), bytes)]),
            ..d()
        };
        #[rustfmt::skip]
        let cases = [
            ("memory_growth_threshold_mb", "0", Config { memory_growth_threshold_mb: 0.0, ..d() }),
            ("growth_rate_threshold_mb_per_min", "NaN", Config { growth_rate_threshold_mb_per_min: f64::NAN, ..d() }),
            ("sustained_high_threshold_mb", "-1", Config { sustained_high_threshold_mb: -1.0, ..d() }),
            ("detection_window_minutes", "inf", Config { detection_window_minutes: f64::INFINITY, ..d() }),
            ("rapid_growth_window_minutes", "0", Config { rapid_growth_window_minutes: 0.0, ..d() }),
            ("baseline_calculation_minutes", "-0", Config { baseline_calculation_minutes: -0.0, ..d() }),
            ("snapshot_interval_seconds", "0", Config { snapshot_interval_seconds: 0.0, ..d() }),
            ("max_snapshots_per_cache", "0", Config { max_snapshots_per_cache: 0, ..d() }),
            ("max_frames", "1000", Config { max_frames: 1000, ..d() }),
            ("cleanup_interval_hours", "0", Config { cleanup_interval_hours: 0.0, ..d() }),
            ("dump_path", "", Config { dump_path: Some(PathBuf::new()), ..d() }),
            ("dump_interval_seconds", "NaN", Config { dump_interval_seconds: f64::NAN, ..d() }),
            ("prometheus_path", "", Config { prometheus_path: Some(PathBuf::new()), ..d() }),
            ("leak_resolve_after_runs", "0", Config { leak_resolve_after_runs: 0, ..d() }),
            ("budget.users_cache", "0", budget("users_cache", 0)),
            ("budget.", "5", budget("", 5)),
            // The rules between fields.
            ("rapid_growth_window_minutes", "10", Config { rapid_growth_window_minutes: 10.0, detection_window_minutes: 8.0, ..d() }),
            ("detection_window_minutes", "0.5", Config { detection_window_minutes: 0.5, ..d() }),
            ("rapid_growth_window_minutes", "0.9", Config { rapid_growth_window_minutes: 0.9, ..d() }),
            ("baseline_calculation_minutes", "0.75", Config { baseline_calculation_minutes: 0.75, ..d() }),
            ("prometheus_path", "same.json", Config { dump_path: Some("same.json".into()), prometheus_path: Some("same.json".into()), ..d() }),
        ];
        for (field, value, config) in cases {
            let err = config.validate().unwrap_err();
            assert_eq!(
                err.kind(),
                &ErrorKind::Config {
                    field: field.into(),
                    value: value.into()
                },
                "{err}"
            );
            let prefix = format!("invalid value {value:?} for {field}: ");
            assert!(err.to_string().starts_with(&prefix), "{err}");
        }
    }

    #[test]
    fn one_sampling_knob_and_the_deprecated_one_still_honoured() {
        // The knob: 0 switches sampling off, and is valid.
        let mut c = Config::default();
        assert_eq!(c.sample_interval(), Some(512 * 1024));
        c.set("sample_interval_bytes", "0").unwrap();
        assert_eq!(c.sample_interval(), None);
        c.validate().unwrap();
        // The deprecated key keeps its meaning wherever it is written: false is off, whatever
        // interval is set before or after it.
        let mut c = Config::default();
        c.set_many("enable_stack_traces=false, sample_interval_bytes=64KiB")
            .unwrap();
        assert_eq!(c.sample_interval(), None);
        let env = HashMap::from([
            ("LEAKSCOPE_ENABLE_STACK_TRACES".to_owned(), "no".to_owned()),
            (
                "LEAKSCOPE_SAMPLE_INTERVAL_BYTES".to_owned(),
                "1MiB".to_owned(),
            ),
        ]);
        let from_env = Config::from_env_with(|k| env.get(k).cloned()).unwrap();
        assert_eq!(from_env.sample_interval(), None);
        let mut on = Config::default();
        on.set("enable_stack_traces", "true").unwrap();
        assert_eq!(on, Config::default());
        assert!(Config::default()
            .set("enable_stack_traces", "maybe")
            .is_err());
        // The collector keeps, and dumps carry, the one knob.
        let kept = c.clone().normalized();
        assert_eq!(
            (kept.sample_interval_bytes, kept.sample_interval()),
            (0, None)
        );
        let json = serde_json::to_value(&kept).unwrap();
        assert!(json.get("enable_stack_traces").is_none(), "{json}");
        // A config that still carries the deprecated flag writes it and reads back the same,
        // and a dump's config of schema 1.0 with sampling off reads as off.
        let back: Config = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let mut old = serde_json::to_value(Config::default()).unwrap();
        old["enable_stack_traces"] = false.into();
        let old: Config = serde_json::from_value(old).unwrap();
        assert_eq!(old.sample_interval(), None);
    }

    #[test]
    fn max_frames_validates_to_what_a_sample_carries() {
        let at = |n: usize| Config {
            max_frames: n,
            ..Config::default()
        };
        assert_eq!(crate::sampler::MAX_FRAMES, 64);
        at(1).validate().unwrap();
        at(64).validate().unwrap();
        assert_eq!(
            at(65).validate().unwrap_err().to_string(),
            "invalid value \"65\" for max_frames: must be between 1 and 64 (the most frames a \
             sample carries)"
        );
    }

    #[test]
    fn the_window_rules_say_why() {
        let c = Config {
            detection_window_minutes: 0.5,
            ..Config::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid value \"0.5\" for detection_window_minutes: shorter than two snapshot \
             intervals (snapshot_interval_seconds = 30)"
        );
        let c = Config {
            rapid_growth_window_minutes: 45.0,
            ..Config::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "invalid value \"45\" for rapid_growth_window_minutes: longer than \
             detection_window_minutes (30)"
        );
    }

    #[test]
    fn paths_and_budgets_can_be_disabled() {
        let mut c = Config::default();
        c.set("dump_path", "NONE").unwrap();
        c.set("prometheus_path", "").unwrap();
        assert_eq!(
            (c.dump_path.clone(), c.prometheus_path.clone()),
            (None, None)
        );
        c.set("dump_path", "./none").unwrap();
        assert_eq!(c.dump_path, Some(PathBuf::from("./none")));
        c.set_many("budget.a=1KiB, budget.b=2KiB, budget.a=none")
            .unwrap();
        assert_eq!(c.budgets, BTreeMap::from([("b".to_owned(), 2048)]));
        c.set("budgets", "none").unwrap();
        assert!(c.budgets.is_empty());
        c.validate().unwrap();
    }

    #[test]
    fn set_chains_and_trims() {
        let mut c = Config::default();
        c.set(" max_frames ", " 12 ")
            .unwrap()
            .set("sample_interval_bytes", " 1KiB ")
            .unwrap();
        assert_eq!(c.max_frames, 12);
        assert_eq!(c.sample_interval(), Some(1024));
    }

    #[test]
    fn a_failed_set_leaves_the_field_alone() {
        let mut c = Config::default();
        assert!(c.set("max_frames", "0").is_err());
        assert!(c.set("budget.x", "0").is_err());
        assert_eq!(c, Config::default());
    }
}
