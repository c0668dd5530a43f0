//! The Prometheus text exposition of a dump, for node_exporter's textfile collector and for a
//! service's own `/metrics` ([`metrics_text`](crate::live::metrics_text) renders the running
//! collector): per-scope bytes, blocks, growth, allocation and free counters; open leaks by type
//! and severity, and by scope with their time to budget, growth and confidence; and the tracker's
//! own figures, so a fleet is watched with Prometheus and Grafana.
//!
//! The format is Prometheus's text format 0.0.4: `# HELP` and `# TYPE` before each family, label
//! values escaped (`\\`, `\"`, `\n`), no timestamps (the textfile collector refuses them), and a
//! final newline. Rates are per second and durations in seconds, as Prometheus's naming
//! conventions ask (the report keeps per-minute figures); counters end in `_total`. Families
//! appear in a fixed order and scopes by name, so the file diffs cleanly. Every type × severity
//! combination of `leakscope_open_leaks` is written, zeros included, so alert rules never see a
//! series vanish; the per-scope leak families carry a series per open leak only, so their
//! cardinality is bounded by the number of scopes (at most [`MAX_SCOPES`](crate::ids::MAX_SCOPES),
//! and in practice the program's fixed set of caches) times the six leak types.
//! node_exporter only reads files ending in `.prom`.
//!
//! Each family is one entry in [`render`]'s list, so a new figure is one more `family` call.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use super::schema::{Dump, ScopeDump};
use super::write::{write_atomic, PROMETHEUS_MODE};
use crate::error::Error;
use crate::leak::{Leak, LeakSeverity, LeakType};
use crate::snapshot::{Pressure, PsiSource, Snapshot, Stall};

/// Every severity, mildest first.
const SEVERITIES: [LeakSeverity; 4] = [
    LeakSeverity::Low,
    LeakSeverity::Medium,
    LeakSeverity::High,
    LeakSeverity::Critical,
];

/// The span of each scope's history the text reads, in seconds before the history's last
/// point: the growth and churn windows (which take the points from there on) and the last
/// point's age profile. A dump whose histories keep only the points from
/// [`window_start`] on renders the same text, which the collector's cycle relies on.
pub(crate) fn history_window_secs(config: &crate::Config) -> f64 {
    config.rapid_growth_window_minutes * 60.0
}

/// The first point of a history with times `t` (increasing) that the text reads: the first
/// within `window_secs` of the last, as [`ScopeDump::churn`] and
/// [`ScopeDump::growth_bytes_per_minute`] take them.
pub(crate) fn window_start(t: &[f64], window_secs: f64) -> usize {
    match t.last() {
        Some(&last) => t.partition_point(|&x| x < last - window_secs),
        None => 0,
    }
}

/// The dump as Prometheus text exposition.
pub fn prometheus_text(dump: &Dump) -> String {
    let mut scopes: Vec<&ScopeDump> = dump.scopes.iter().collect();
    scopes.sort_by(|a, b| a.name.cmp(&b.name));
    let window_secs = history_window_secs(&dump.config);
    let labels = ScopeLabels::new(
        scopes
            .iter()
            .map(|s| s.name.as_str())
            .chain(dump.open_leaks().map(|l| l.finding.scope.as_str())),
    );
    let mut out = Exposition {
        text: String::new(),
        family: String::new(),
        labels,
    };

    out.family(
        "leakscope_scope_bytes",
        "gauge",
        "Live bytes owned by the scope (requested sizes).",
    );
    for s in &scopes {
        out.scope_sample(&s.name, s.stats.curr_bytes);
    }
    out.family(
        "leakscope_scope_blocks",
        "gauge",
        "Live blocks owned by the scope.",
    );
    for s in &scopes {
        out.scope_sample(&s.name, s.stats.curr_blocks);
    }
    out.family(
        "leakscope_scope_growth_bytes_per_second",
        "gauge",
        "Least-squares slope of the scope's live bytes over the last rapid_growth_window_minutes.",
    );
    for s in &scopes {
        if let Some(per_min) = s.growth_bytes_per_minute(window_secs) {
            out.scope_sample(&s.name, Float(per_min / 60.0));
        }
    }
    out.family(
        "leakscope_scope_budget_bytes",
        "gauge",
        "The scope's configured budget.",
    );
    for s in &scopes {
        if let Some(budget) = s.budget_bytes {
            out.scope_sample(&s.name, budget);
        }
    }
    out.family(
        "leakscope_scope_entries",
        "gauge",
        "The scope's entry-count gauge, where the program sets one.",
    );
    for s in &scopes {
        if let Some(entries) = s.entries {
            out.scope_sample(&s.name, entries);
        }
    }
    type Counter = fn(&ScopeDump) -> u64;
    let counters: [(&str, &str, Counter); 4] = [
        (
            "leakscope_scope_allocations_total",
            "Allocations charged to the scope.",
            |s| s.stats.total_allocs,
        ),
        (
            "leakscope_scope_allocated_bytes_total",
            "Bytes allocated in the scope.",
            |s| s.stats.total_bytes_allocated,
        ),
        (
            "leakscope_scope_frees_total",
            "Frees charged to the scope.",
            |s| s.stats.total_frees,
        ),
        (
            "leakscope_scope_freed_bytes_total",
            "Bytes freed in the scope.",
            |s| s.stats.total_bytes_freed,
        ),
    ];
    for (name, help, value) in counters {
        out.family(name, "counter", help);
        for s in &scopes {
            out.scope_sample(&s.name, value(s));
        }
    }

    churn_families(&mut out, &scopes, window_secs);

    out.family(
        "leakscope_open_leaks",
        "gauge",
        "Open leaks by type and severity, every combination, zeros included.",
    );
    for leak_type in LeakType::ALL {
        for severity in SEVERITIES {
            let count = dump
                .open_leaks()
                .filter(|l| l.finding.leak_type == leak_type && l.finding.severity == severity)
                .count();
            out.sample(
                &[
                    ("type", type_label(leak_type)),
                    ("severity", severity_label(severity)),
                ],
                count,
            );
        }
    }
    leak_families(&mut out, dump);

    let t = &dump.tracker;
    for (name, kind, help, value) in [
        (
            "leakscope_self_bytes",
            "gauge",
            "leakscope's own live bytes (collector tables, history, symbol cache).",
            t.self_bytes,
        ),
        (
            "leakscope_self_blocks",
            "gauge",
            "leakscope's own live blocks.",
            t.self_blocks,
        ),
        (
            "leakscope_symbolizer_peak_bytes",
            "gauge",
            "The most memory resolving call-site symbols has loaded at once (part of self bytes while a dump resolves symbols).",
            t.symbolizer_peak_bytes,
        ),
        (
            "leakscope_samples_taken_total",
            "counter",
            "Allocations sampled with a stack trace.",
            t.samples_taken,
        ),
        (
            "leakscope_samples_dropped_total",
            "counter",
            "Samples lost because the collector's channel was full or all 65,536 live-sample slots were in use.",
            t.samples_dropped,
        ),
        (
            "leakscope_channel_full_retries_total",
            "counter",
            "Times a thread found the channel full and kept its counters for later.",
            t.channel_full_retries,
        ),
        (
            "leakscope_dumps_written_total",
            "counter",
            "Dump files written.",
            t.dumps_written,
        ),
        (
            "leakscope_dump_errors_total",
            "counter",
            "Dump writes that failed.",
            t.dump_errors,
        ),
        (
            "leakscope_gauges_dropped_total",
            "counter",
            "Entry-count gauges dropped because their scope name found no free scope id.",
            t.gauges_dropped,
        ),
    ] {
        out.family(name, kind, help);
        out.sample(&[], value);
    }
    let p = &dump.process;
    for (name, help, value) in [
        (
            "leakscope_process_rss_bytes",
            "Resident set size of the process.",
            p.rss_bytes,
        ),
        (
            "leakscope_cgroup_limit_bytes",
            "Memory limit of the process's cgroup.",
            p.cgroup_limit_bytes,
        ),
    ] {
        if let Some(value) = value {
            out.family(name, "gauge", help);
            out.sample(&[], value);
        }
    }
    if let Some(pressure) = dump
        .process_history
        .last()
        .and_then(|p| p.pressure.as_deref())
    {
        pressure_families(&mut out, pressure);
    }
    out.text
}

/// The scopes' free ratio over the growth window and the age profile of their live sampled
/// memory. Allocation and free rates are `rate()` of the `_total` counters; the ratio is here
/// too because a reader wants it over the same window as the growth beside it.
fn churn_families(out: &mut Exposition, scopes: &[&ScopeDump], window_secs: f64) {
    out.family(
        "leakscope_scope_free_ratio",
        "gauge",
        "Bytes freed over bytes allocated in the scope over the last rapid_growth_window_minutes \
         (near 1: it gives back what it takes).",
    );
    for s in scopes {
        if let Some(ratio) = s.churn(window_secs).and_then(|c| c.free_ratio) {
            out.scope_sample(&s.name, Float(ratio));
        }
    }
    out.family(
        "leakscope_scope_live_older_than_ratio",
        "gauge",
        "Share of the scope's live sampled bytes older than older_than_intervals snapshot intervals.",
    );
    for s in scopes {
        let Some(shares) = s.history.last().and_then(Snapshot::live_older_than) else {
            continue;
        };
        let scope = out.labels.get(&s.name);
        for (intervals, share) in ["1", "10", "100"].into_iter().zip(shares) {
            out.sample(
                &[("scope", &scope), ("older_than_intervals", intervals)],
                Float(share),
            );
        }
    }
}

/// The process's memory pressure at the last snapshot: each family only where its file was read.
fn pressure_families(out: &mut Exposition, p: &Pressure) {
    if let Some(psi) = &p.psi {
        let source = match psi.source {
            PsiSource::Cgroup => "cgroup",
            PsiSource::System => "system",
        };
        let stalls: Vec<(&str, &Stall)> = [("some", Some(&psi.some)), ("full", psi.full.as_ref())]
            .into_iter()
            .filter_map(|(kind, stall)| Some((kind, stall?)))
            .collect();
        out.family(
            "leakscope_memory_stall_ratio",
            "gauge",
            "Share of the last window (10s or 60s) in which some or all tasks stalled on memory \
             (pressure stall information of the cgroup or the system).",
        );
        for (kind, stall) in &stalls {
            for (window, avg) in [("10s", stall.avg10), ("60s", stall.avg60)] {
                // The kernel writes percents with two decimals: as a ratio, four, exactly.
                out.sample(
                    &[("kind", kind), ("window", window), ("source", source)],
                    Float((avg * 100.0).round() / 10_000.0),
                );
            }
        }
        out.family(
            "leakscope_memory_stall_seconds_total",
            "counter",
            "Time some or all tasks stalled on memory.",
        );
        for (kind, stall) in &stalls {
            out.sample(
                &[("kind", kind), ("source", source)],
                Float(stall.total_us as f64 / 1e6),
            );
        }
    }
    if let Some(cgroup) = &p.cgroup {
        for (name, help, value) in [
            (
                "leakscope_cgroup_memory_bytes",
                "Bytes charged to the process's cgroup (memory.current, page cache included).",
                cgroup.current_bytes,
            ),
            (
                "leakscope_cgroup_memory_max_bytes",
                "The cgroup's own hard limit (memory.max), where it has one.",
                cgroup.max_bytes,
            ),
        ] {
            if let Some(value) = value {
                out.family(name, "gauge", help);
                out.sample(&[], value);
            }
        }
        if let Some(e) = &cgroup.events {
            out.family(
                "leakscope_cgroup_memory_events_total",
                "counter",
                "The cgroup's memory.events: times it went over memory.high, hit memory.max, \
                 ran the OOM killer, and processes killed.",
            );
            for (event, count) in [
                ("high", e.high),
                ("max", e.max),
                ("oom", e.oom),
                ("oom_kill", e.oom_kill),
            ] {
                out.sample(&[("event", event)], count);
            }
        }
    }
    if let Some(faults) = p.major_faults {
        out.family(
            "leakscope_process_major_faults_total",
            "counter",
            "Major page faults of the process: pages it waited for from disk or swap.",
        );
        out.sample(&[], faults);
    }
}

/// The open leaks by scope: a count per scope, type and severity (what an alert fires on and
/// names), and per scope and type the time to budget, the growth rate and the confidence of
/// the most severe open leak. Only open leaks have series; a resolved leak's series go away.
fn leak_families(out: &mut Exposition, dump: &Dump) {
    // (scope, type) -> the most severe open leak, newest first among equals; and the counts.
    let mut worst: BTreeMap<(&str, LeakType), &Leak> = BTreeMap::new();
    let mut counts: BTreeMap<(&str, LeakType, LeakSeverity), usize> = BTreeMap::new();
    for leak in dump.open_leaks() {
        *counts
            .entry((
                leak.finding.scope.as_str(),
                leak.finding.leak_type,
                leak.finding.severity,
            ))
            .or_insert(0) += 1;
        let slot = worst
            .entry((leak.finding.scope.as_str(), leak.finding.leak_type))
            .or_insert(leak);
        if (leak.finding.severity, leak.last_detected) > (slot.finding.severity, slot.last_detected)
        {
            *slot = leak;
        }
    }
    out.family(
        "leakscope_scope_open_leaks",
        "gauge",
        "Open leaks by scope, type and severity (only open leaks have a series).",
    );
    for (&(scope, leak_type, severity), &count) in &counts {
        let scope = out.labels.get(scope);
        out.sample(
            &[
                ("scope", &scope),
                ("type", type_label(leak_type)),
                ("severity", severity_label(severity)),
            ],
            count,
        );
    }
    type Figure = fn(&Leak) -> Option<f64>;
    let figures: [(&str, &str, Figure); 3] = [
        (
            "leakscope_leak_time_to_budget_seconds",
            "Projected seconds until the scope reaches its budget at the open leak's fitted growth.",
            |l| l.finding.time_to_budget_secs,
        ),
        (
            "leakscope_leak_growth_bytes_per_second",
            "The open leak's fitted growth rate.",
            |l| Some(l.finding.rate_bytes_per_min / 60.0),
        ),
        (
            "leakscope_leak_confidence",
            "The open leak's confidence, from 0 to 1.",
            |l| Some(l.finding.confidence),
        ),
    ];
    for (name, help, figure) in figures {
        out.family(name, "gauge", help);
        for (&(scope, leak_type), leak) in &worst {
            if let Some(value) = figure(leak) {
                let scope = out.labels.get(scope);
                out.sample(
                    &[("scope", &scope), ("type", type_label(leak_type))],
                    Float(value),
                );
            }
        }
    }
}

/// Writes [`prometheus_text`] of `dump` to `path` atomically, with mode
/// [`PROMETHEUS_MODE`](super::PROMETHEUS_MODE) so node_exporter can read it.
///
/// # Errors
/// As [`write_atomic`](super::write_atomic): an [`ErrorKind::Io`](crate::ErrorKind::Io) naming
/// `path`.
pub fn write_prometheus(path: &Path, dump: &Dump) -> Result<(), Error> {
    let text = prometheus_text(dump);
    write_atomic(path, PROMETHEUS_MODE, |w| w.write_all(text.as_bytes()))
}

/// The text being built.
struct Exposition {
    text: String,
    /// The name of the family being written.
    family: String,
    /// Each scope's label value.
    labels: ScopeLabels,
}

impl Exposition {
    /// Starts a family; the samples that follow are named `name`.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        name.clone_into(&mut self.family);
    }

    /// A sample of the current family with `labels` (already label values, escaped here).
    fn sample(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(&self.family);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{key}=\"{}\"", escape_label(value));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    fn scope_sample(&mut self, scope: &str, value: impl std::fmt::Display) {
        let scope = self.labels.get(scope);
        self.sample(&[("scope", &scope)], value);
    }
}

/// The `scope` label value of every scope: its name, except that control characters other than
/// the line feed (which the format escapes) are written as Rust escapes (`\r`, `\u{1b}`), as
/// the terminal report shows them. A raw carriage return is valid in the format but breaks
/// every reader that translates line endings (a file opened in text mode, a proxy), and the
/// format has no escape for it. Should two names come out the same this way, the later ones get
/// ` #2`, ` #3`, …, so no series is written twice.
struct ScopeLabels(HashMap<String, String>);

impl ScopeLabels {
    fn new<'a>(names: impl Iterator<Item = &'a str>) -> Self {
        let mut names: Vec<&str> = names.collect();
        names.sort_unstable();
        names.dedup();
        let mut taken: hashbrown::HashSet<String> = hashbrown::HashSet::new();
        let mut labels = HashMap::new();
        // Names without control characters keep their exact spelling; only a rewritten name
        // can lose a collision.
        let (plain, rewritten): (Vec<&str>, Vec<&str>) = names
            .into_iter()
            .partition(|n| !n.chars().any(needs_rewrite));
        for name in plain {
            taken.insert(name.to_owned());
            labels.insert(name.to_owned(), name.to_owned());
        }
        for name in rewritten {
            let shown: String = name
                .chars()
                .flat_map(|c| {
                    let escaped: Vec<char> = if needs_rewrite(c) {
                        c.escape_default().collect()
                    } else {
                        vec![c]
                    };
                    escaped
                })
                .collect();
            let mut label = shown.clone();
            let mut n = 2;
            while !taken.insert(label.clone()) {
                label = format!("{shown} #{n}");
                n += 1;
            }
            labels.insert(name.to_owned(), label);
        }
        ScopeLabels(labels)
    }

    fn get(&self, name: &str) -> String {
        self.0.get(name).cloned().unwrap_or_else(|| name.to_owned())
    }
}

/// A character a label value must not carry raw: a control character other than the line feed.
fn needs_rewrite(c: char) -> bool {
    c.is_control() && c != '\n'
}

/// A sample value in Prometheus's float syntax (`NaN`, `+Inf`, `-Inf` for the special values).
struct Float(f64);

impl std::fmt::Display for Float {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            v if v.is_nan() => f.write_str("NaN"),
            v if v == f64::INFINITY => f.write_str("+Inf"),
            v if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            v => write!(f, "{v}"),
        }
    }
}

/// A label value escaped per the text format: backslash, double quote and line feed.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn type_label(t: LeakType) -> &'static str {
    match t {
        LeakType::GradualGrowth => "gradual_growth",
        LeakType::RapidGrowth => "rapid_growth",
        LeakType::SustainedHigh => "sustained_high",
        LeakType::PeriodicSpike => "periodic_spike",
        LeakType::CacheBloat => "cache_bloat",
        LeakType::Fragmentation => "fragmentation",
    }
}

fn severity_label(s: LeakSeverity) -> &'static str {
    match s {
        LeakSeverity::Low => "low",
        LeakSeverity::Medium => "medium",
        LeakSeverity::High => "high",
        LeakSeverity::Critical => "critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Snapshot;
    use crate::dump::fixtures::example_dump;
    use crate::dump::ScopeDump;
    use crate::leak::LeakStatus;

    /// The exposition of `example_dump()`, exactly.
    const GOLDEN: &str = r#"# HELP leakscope_scope_bytes Live bytes owned by the scope (requested sizes).
# TYPE leakscope_scope_bytes gauge
leakscope_scope_bytes{scope="unscoped"} 1200000
leakscope_scope_bytes{scope="users_cache"} 3400000
# HELP leakscope_scope_blocks Live blocks owned by the scope.
# TYPE leakscope_scope_blocks gauge
leakscope_scope_blocks{scope="unscoped"} 3100
leakscope_scope_blocks{scope="users_cache"} 1700
# HELP leakscope_scope_growth_bytes_per_second Least-squares slope of the scope's live bytes over the last rapid_growth_window_minutes.
# TYPE leakscope_scope_growth_bytes_per_second gauge
leakscope_scope_growth_bytes_per_second{scope="users_cache"} 1000
# HELP leakscope_scope_budget_bytes The scope's configured budget.
# TYPE leakscope_scope_budget_bytes gauge
leakscope_scope_budget_bytes{scope="users_cache"} 67108864
# HELP leakscope_scope_entries The scope's entry-count gauge, where the program sets one.
# TYPE leakscope_scope_entries gauge
leakscope_scope_entries{scope="users_cache"} 850
# HELP leakscope_scope_allocations_total Allocations charged to the scope.
# TYPE leakscope_scope_allocations_total counter
leakscope_scope_allocations_total{scope="unscoped"} 91000
leakscope_scope_allocations_total{scope="users_cache"} 4800
# HELP leakscope_scope_allocated_bytes_total Bytes allocated in the scope.
# TYPE leakscope_scope_allocated_bytes_total counter
leakscope_scope_allocated_bytes_total{scope="unscoped"} 40000000
leakscope_scope_allocated_bytes_total{scope="users_cache"} 9600000
# HELP leakscope_scope_frees_total Frees charged to the scope.
# TYPE leakscope_scope_frees_total counter
leakscope_scope_frees_total{scope="unscoped"} 87900
leakscope_scope_frees_total{scope="users_cache"} 3100
# HELP leakscope_scope_freed_bytes_total Bytes freed in the scope.
# TYPE leakscope_scope_freed_bytes_total counter
leakscope_scope_freed_bytes_total{scope="unscoped"} 38800000
leakscope_scope_freed_bytes_total{scope="users_cache"} 6200000
# HELP leakscope_scope_free_ratio Bytes freed over bytes allocated in the scope over the last rapid_growth_window_minutes (near 1: it gives back what it takes).
# TYPE leakscope_scope_free_ratio gauge
leakscope_scope_free_ratio{scope="users_cache"} 0.625
# HELP leakscope_scope_live_older_than_ratio Share of the scope's live sampled bytes older than older_than_intervals snapshot intervals.
# TYPE leakscope_scope_live_older_than_ratio gauge
leakscope_scope_live_older_than_ratio{scope="users_cache",older_than_intervals="1"} 0.97
leakscope_scope_live_older_than_ratio{scope="users_cache",older_than_intervals="10"} 0.72
leakscope_scope_live_older_than_ratio{scope="users_cache",older_than_intervals="100"} 0
# HELP leakscope_open_leaks Open leaks by type and severity, every combination, zeros included.
# TYPE leakscope_open_leaks gauge
leakscope_open_leaks{type="gradual_growth",severity="low"} 0
leakscope_open_leaks{type="gradual_growth",severity="medium"} 0
leakscope_open_leaks{type="gradual_growth",severity="high"} 1
leakscope_open_leaks{type="gradual_growth",severity="critical"} 0
leakscope_open_leaks{type="rapid_growth",severity="low"} 0
leakscope_open_leaks{type="rapid_growth",severity="medium"} 0
leakscope_open_leaks{type="rapid_growth",severity="high"} 0
leakscope_open_leaks{type="rapid_growth",severity="critical"} 0
leakscope_open_leaks{type="sustained_high",severity="low"} 0
leakscope_open_leaks{type="sustained_high",severity="medium"} 0
leakscope_open_leaks{type="sustained_high",severity="high"} 0
leakscope_open_leaks{type="sustained_high",severity="critical"} 0
leakscope_open_leaks{type="periodic_spike",severity="low"} 0
leakscope_open_leaks{type="periodic_spike",severity="medium"} 0
leakscope_open_leaks{type="periodic_spike",severity="high"} 0
leakscope_open_leaks{type="periodic_spike",severity="critical"} 0
leakscope_open_leaks{type="cache_bloat",severity="low"} 0
leakscope_open_leaks{type="cache_bloat",severity="medium"} 0
leakscope_open_leaks{type="cache_bloat",severity="high"} 0
leakscope_open_leaks{type="cache_bloat",severity="critical"} 0
leakscope_open_leaks{type="fragmentation",severity="low"} 0
leakscope_open_leaks{type="fragmentation",severity="medium"} 0
leakscope_open_leaks{type="fragmentation",severity="high"} 0
leakscope_open_leaks{type="fragmentation",severity="critical"} 0
# HELP leakscope_scope_open_leaks Open leaks by scope, type and severity (only open leaks have a series).
# TYPE leakscope_scope_open_leaks gauge
leakscope_scope_open_leaks{scope="users_cache",type="gradual_growth",severity="high"} 1
# HELP leakscope_leak_time_to_budget_seconds Projected seconds until the scope reaches its budget at the open leak's fitted growth.
# TYPE leakscope_leak_time_to_budget_seconds gauge
leakscope_leak_time_to_budget_seconds{scope="users_cache",type="gradual_growth"} 63700
# HELP leakscope_leak_growth_bytes_per_second The open leak's fitted growth rate.
# TYPE leakscope_leak_growth_bytes_per_second gauge
leakscope_leak_growth_bytes_per_second{scope="users_cache",type="gradual_growth"} 1000
# HELP leakscope_leak_confidence The open leak's confidence, from 0 to 1.
# TYPE leakscope_leak_confidence gauge
leakscope_leak_confidence{scope="users_cache",type="gradual_growth"} 0.97
# HELP leakscope_self_bytes leakscope's own live bytes (collector tables, history, symbol cache).
# TYPE leakscope_self_bytes gauge
leakscope_self_bytes 812000
# HELP leakscope_self_blocks leakscope's own live blocks.
# TYPE leakscope_self_blocks gauge
leakscope_self_blocks 2400
# HELP leakscope_symbolizer_peak_bytes The most memory resolving call-site symbols has loaded at once (part of self bytes while a dump resolves symbols).
# TYPE leakscope_symbolizer_peak_bytes gauge
leakscope_symbolizer_peak_bytes 3100000
# HELP leakscope_samples_taken_total Allocations sampled with a stack trace.
# TYPE leakscope_samples_taken_total counter
leakscope_samples_taken_total 5120
# HELP leakscope_samples_dropped_total Samples lost because the collector's channel was full or all 65,536 live-sample slots were in use.
# TYPE leakscope_samples_dropped_total counter
leakscope_samples_dropped_total 3
# HELP leakscope_channel_full_retries_total Times a thread found the channel full and kept its counters for later.
# TYPE leakscope_channel_full_retries_total counter
leakscope_channel_full_retries_total 17
# HELP leakscope_dumps_written_total Dump files written.
# TYPE leakscope_dumps_written_total counter
leakscope_dumps_written_total 60
# HELP leakscope_dump_errors_total Dump writes that failed.
# TYPE leakscope_dump_errors_total counter
leakscope_dump_errors_total 0
# HELP leakscope_gauges_dropped_total Entry-count gauges dropped because their scope name found no free scope id.
# TYPE leakscope_gauges_dropped_total counter
leakscope_gauges_dropped_total 0
# HELP leakscope_process_rss_bytes Resident set size of the process.
# TYPE leakscope_process_rss_bytes gauge
leakscope_process_rss_bytes 268435456
# HELP leakscope_cgroup_limit_bytes Memory limit of the process's cgroup.
# TYPE leakscope_cgroup_limit_bytes gauge
leakscope_cgroup_limit_bytes 1073741824
# HELP leakscope_memory_stall_ratio Share of the last window (10s or 60s) in which some or all tasks stalled on memory (pressure stall information of the cgroup or the system).
# TYPE leakscope_memory_stall_ratio gauge
leakscope_memory_stall_ratio{kind="some",window="10s",source="cgroup"} 0.0125
leakscope_memory_stall_ratio{kind="some",window="60s",source="cgroup"} 0.0061
leakscope_memory_stall_ratio{kind="full",window="10s",source="cgroup"} 0.005
leakscope_memory_stall_ratio{kind="full",window="60s",source="cgroup"} 0.002
# HELP leakscope_memory_stall_seconds_total Time some or all tasks stalled on memory.
# TYPE leakscope_memory_stall_seconds_total counter
leakscope_memory_stall_seconds_total{kind="some",source="cgroup"} 0.987654
leakscope_memory_stall_seconds_total{kind="full",source="cgroup"} 0.123456
# HELP leakscope_cgroup_memory_bytes Bytes charged to the process's cgroup (memory.current, page cache included).
# TYPE leakscope_cgroup_memory_bytes gauge
leakscope_cgroup_memory_bytes 402653184
# HELP leakscope_cgroup_memory_max_bytes The cgroup's own hard limit (memory.max), where it has one.
# TYPE leakscope_cgroup_memory_max_bytes gauge
leakscope_cgroup_memory_max_bytes 1073741824
# HELP leakscope_cgroup_memory_events_total The cgroup's memory.events: times it went over memory.high, hit memory.max, ran the OOM killer, and processes killed.
# TYPE leakscope_cgroup_memory_events_total counter
leakscope_cgroup_memory_events_total{event="high"} 17
leakscope_cgroup_memory_events_total{event="max"} 3
leakscope_cgroup_memory_events_total{event="oom"} 0
leakscope_cgroup_memory_events_total{event="oom_kill"} 0
# HELP leakscope_process_major_faults_total Major page faults of the process: pages it waited for from disk or swap.
# TYPE leakscope_process_major_faults_total counter
leakscope_process_major_faults_total 42
"#;

    #[test]
    fn the_example_dump_exposes_exactly_this() {
        let text = prometheus_text(&example_dump());
        assert_eq!(text, GOLDEN, "got:\n{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut dump = example_dump();
        dump.scopes = vec![ScopeDump::new("a\\b\"c\nd ü")];
        let text = prometheus_text(&dump);
        assert!(
            text.contains("leakscope_scope_bytes{scope=\"a\\\\b\\\"c\\nd ü\"} 0\n"),
            "{text}"
        );
        // Every sample line is one line: the newline in the name did not split it.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("leakscope_"), "{line:?}");
        }
        assert_eq!(escape_label(r#"plain_name"#), "plain_name");
        assert_eq!(escape_label("\\\"\n"), r#"\\\"\n"#);
    }

    #[test]
    fn scopes_come_out_sorted_and_resolved_leaks_are_not_counted() {
        let mut dump = example_dump();
        dump.scopes.reverse();
        for leak in &mut dump.leaks {
            leak.status = LeakStatus::Resolved;
        }
        let text = prometheus_text(&dump);
        let unscoped = text.find("{scope=\"unscoped\"}").unwrap();
        let users = text.find("{scope=\"users_cache\"}").unwrap();
        assert!(unscoped < users);
        // With every leak resolved, all 24 type × severity series are still there, at zero.
        let leak_lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("leakscope_open_leaks{"))
            .collect();
        assert_eq!(leak_lines.len(), 24);
        assert!(
            leak_lines.iter().all(|l| l.ends_with("} 0")),
            "{leak_lines:?}"
        );
    }

    #[test]
    fn growth_is_the_recent_least_squares_slope() {
        let mut scope = ScopeDump::new("s");
        assert_eq!(scope.growth_bytes_per_minute(300.0), None);
        scope.history = vec![Snapshot::new(0.0, 5_000, 1)];
        assert_eq!(scope.growth_bytes_per_minute(300.0), None);
        // An old point outside the window does not count; a sawtooth inside it averages out.
        scope.history = vec![
            Snapshot::new(0.0, 1_000_000_000, 1),
            Snapshot::new(600.0, 1_000, 1),
            Snapshot::new(630.0, 3_000, 1),
            Snapshot::new(660.0, 2_000, 1),
            Snapshot::new(690.0, 4_000, 1),
        ];
        let rate = scope.growth_bytes_per_minute(90.0).unwrap();
        assert!((rate - 1_600.0).abs() < 1e-9, "{rate}");
        // Points at one instant have no slope.
        scope.history = vec![Snapshot::new(5.0, 1, 1), Snapshot::new(5.0, 2, 1)];
        assert_eq!(scope.growth_bytes_per_minute(60.0), None);
    }

    #[test]
    fn special_floats_use_prometheus_spelling() {
        assert_eq!(Float(f64::NAN).to_string(), "NaN");
        assert_eq!(Float(f64::INFINITY).to_string(), "+Inf");
        assert_eq!(Float(f64::NEG_INFINITY).to_string(), "-Inf");
        assert_eq!(Float(-2.5).to_string(), "-2.5");
    }

    #[test]
    fn the_textfile_is_written_atomically_and_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leakscope.prom");
        write_prometheus(&path, &example_dump()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), GOLDEN);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o400, 0o400);
            assert_eq!(
                mode & 0o004,
                0o004,
                "node_exporter, another user, must read it"
            );
        }
        let bad = dir.path().join("leakscope.prom/x.prom");
        let err = write_prometheus(&bad, &example_dump())
            .unwrap_err()
            .to_string();
        assert!(err.contains(&bad.display().to_string()), "{err}");
    }

    /// A raw carriage return is legal in the format but splits the line for every reader that
    /// translates line endings (Python's text mode does), so it is written as `\r`, like the
    /// report shows it; so is every other control character but the line feed, which the format
    /// escapes. Issue 15 item 6.
    #[test]
    fn carriage_returns_and_other_controls_never_reach_the_text_raw() {
        let mut dump = example_dump();
        dump.scopes = vec![ScopeDump::new("a\rb"), ScopeDump::new("esc\u{1b}[31m")];
        let text = prometheus_text(&dump);
        assert!(!text.contains('\r') && !text.contains('\u{1b}'), "{text:?}");
        assert!(
            text.contains("leakscope_scope_bytes{scope=\"a\\\\rb\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("leakscope_scope_bytes{scope=\"esc\\\\u{1b}[31m\"} 0\n"),
            "{text}"
        );
        // Every line of the text, read with universal newlines, is still one whole line.
        let universal: Vec<&str> = text.split(['\n', '\r']).collect();
        assert_eq!(universal.len(), text.lines().count() + 1);
    }

    /// A name that reads like another's escape (`a\rb` typed with a backslash, beside `a`-CR-`b`)
    /// does not make the same series twice: the plain name keeps its spelling, the other gets a
    /// number.
    #[test]
    fn rewritten_names_never_collide_with_real_ones() {
        let mut dump = example_dump();
        dump.scopes = vec![
            ScopeDump::new("a\\rb"),
            ScopeDump::new("a\rb"),
            ScopeDump::new("a\\rb #2"),
        ];
        let text = prometheus_text(&dump);
        let bytes: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("leakscope_scope_bytes{"))
            .collect();
        assert_eq!(
            bytes,
            [
                // In name order: the carriage return (0x0d) sorts before the backslash.
                "leakscope_scope_bytes{scope=\"a\\\\rb #3\"} 0",
                "leakscope_scope_bytes{scope=\"a\\\\rb\"} 0",
                "leakscope_scope_bytes{scope=\"a\\\\rb #2\"} 0",
            ]
        );
    }

    /// Open leaks by scope: one count per scope, type and severity, and the figures of the most
    /// severe leak per scope and type; resolved leaks have no series.
    #[test]
    fn open_leaks_carry_their_scope_and_figures() {
        let mut dump = example_dump();
        let mut second = dump.leaks[0].clone();
        second.id = 3;
        second.finding.scope = "process".into();
        second.finding.leak_type = LeakType::Fragmentation;
        second.finding.severity = LeakSeverity::Critical;
        second.finding.time_to_budget_secs = None;
        second.finding.rate_bytes_per_min = 90.0;
        dump.leaks.push(second);
        let text = prometheus_text(&dump);
        let of = |family: &str| -> Vec<String> {
            text.lines()
                .filter(|l| l.starts_with(&format!("{family}{{")))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            of("leakscope_scope_open_leaks"),
            [
                "leakscope_scope_open_leaks{scope=\"process\",type=\"fragmentation\",severity=\"critical\"} 1",
                "leakscope_scope_open_leaks{scope=\"users_cache\",type=\"gradual_growth\",severity=\"high\"} 1",
            ]
        );
        assert_eq!(
            of("leakscope_leak_time_to_budget_seconds"),
            ["leakscope_leak_time_to_budget_seconds{scope=\"users_cache\",type=\"gradual_growth\"} 63700"]
        );
        assert_eq!(
            of("leakscope_leak_growth_bytes_per_second"),
            [
                "leakscope_leak_growth_bytes_per_second{scope=\"process\",type=\"fragmentation\"} 1.5",
                "leakscope_leak_growth_bytes_per_second{scope=\"users_cache\",type=\"gradual_growth\"} 1000",
            ]
        );
        for leak in &mut dump.leaks {
            leak.status = LeakStatus::Resolved;
        }
        let text = prometheus_text(&dump);
        assert!(!text.contains("leakscope_scope_open_leaks{"), "{text}");
        assert!(!text.contains("leakscope_leak_confidence{"), "{text}");
    }
}
