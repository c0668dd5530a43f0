//! The Prometheus text exposition of a dump, for node_exporter's textfile collector (SPEC 10):
//! per-scope bytes, blocks and growth rate, open leaks by type and severity, and the tracker's
//! own figures, so a fleet is watched with Prometheus and Grafana.
//!
//! The format is Prometheus's text format 0.0.4: `# HELP` and `# TYPE` before each family, label
//! values escaped (`\\`, `\"`, `\n`), no timestamps (the textfile collector refuses them), and a
//! final newline. Families appear in a fixed order and scopes by name, so the file diffs cleanly.
//! Every type × severity combination of `leakscope_open_leaks` is written, zeros included, so
//! alert rules never see a series vanish. node_exporter only reads files ending in `.prom`.

use std::fmt::Write as _;
use std::path::Path;

use super::schema::{Dump, ScopeDump};
use super::write::{write_atomic, PROMETHEUS_MODE};
use crate::error::Error;
use crate::leak::{LeakSeverity, LeakType};

/// Every severity, mildest first.
const SEVERITIES: [LeakSeverity; 4] = [
    LeakSeverity::Low,
    LeakSeverity::Medium,
    LeakSeverity::High,
    LeakSeverity::Critical,
];

/// The dump as Prometheus text exposition.
pub fn prometheus_text(dump: &Dump) -> String {
    let mut scopes: Vec<&ScopeDump> = dump.scopes.iter().collect();
    scopes.sort_by(|a, b| a.name.cmp(&b.name));
    let window_secs = dump.config.rapid_growth_window_minutes * 60.0;
    let mut out = Exposition::default();

    out.family(
        "leakscope_scope_bytes",
        "gauge",
        "Live bytes owned by the scope (requested sizes).",
    );
    for s in &scopes {
        out.scope_sample("leakscope_scope_bytes", &s.name, s.curr_bytes);
    }
    out.family(
        "leakscope_scope_blocks",
        "gauge",
        "Live blocks owned by the scope.",
    );
    for s in &scopes {
        out.scope_sample("leakscope_scope_blocks", &s.name, s.curr_blocks);
    }
    out.family(
        "leakscope_scope_growth_bytes_per_minute",
        "gauge",
        "Least-squares slope of the scope's live bytes over the last rapid_growth_window_minutes.",
    );
    for s in &scopes {
        if let Some(rate) = s.growth_bytes_per_minute(window_secs) {
            out.scope_sample(
                "leakscope_scope_growth_bytes_per_minute",
                &s.name,
                Float(rate),
            );
        }
    }
    out.family(
        "leakscope_scope_budget_bytes",
        "gauge",
        "The scope's configured budget.",
    );
    for s in &scopes {
        if let Some(budget) = s.budget_bytes {
            out.scope_sample("leakscope_scope_budget_bytes", &s.name, budget);
        }
    }
    out.family(
        "leakscope_scope_entries",
        "gauge",
        "The scope's entry-count gauge, where the program sets one.",
    );
    for s in &scopes {
        if let Some(entries) = s.entries {
            out.scope_sample("leakscope_scope_entries", &s.name, entries);
        }
    }
    out.family(
        "leakscope_scope_allocations_total",
        "counter",
        "Allocations charged to the scope.",
    );
    for s in &scopes {
        out.scope_sample("leakscope_scope_allocations_total", &s.name, s.total_allocs);
    }
    out.family(
        "leakscope_scope_allocated_bytes_total",
        "counter",
        "Bytes allocated in the scope.",
    );
    for s in &scopes {
        out.scope_sample(
            "leakscope_scope_allocated_bytes_total",
            &s.name,
            s.total_bytes_allocated,
        );
    }

    out.family(
        "leakscope_open_leaks",
        "gauge",
        "Open leaks by type and severity.",
    );
    for leak_type in LeakType::ALL {
        for severity in SEVERITIES {
            let count = dump
                .open_leaks()
                .filter(|l| l.leak_type == leak_type && l.severity == severity)
                .count();
            let _ = writeln!(
                out.0,
                "leakscope_open_leaks{{type=\"{}\",severity=\"{}\"}} {count}",
                type_label(leak_type),
                severity_label(severity)
            );
        }
    }

    let t = &dump.tracker;
    for (name, kind, help, value) in [
        (
            "leakscope_self_bytes",
            "gauge",
            "leakscope's own live bytes (collector tables, history, symbol cache).",
            t.self_bytes,
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
            "Samples lost because the collector's channel was full.",
            t.samples_dropped,
        ),
        (
            "leakscope_channel_full_retries_total",
            "counter",
            "Times a thread found the channel full and kept its counters for later.",
            t.channel_full_retries,
        ),
        (
            "leakscope_dump_errors_total",
            "counter",
            "Dump writes that failed.",
            t.dump_errors,
        ),
    ] {
        out.family(name, kind, help);
        let _ = writeln!(out.0, "{name} {value}");
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
            let _ = writeln!(out.0, "{name} {value}");
        }
    }
    out.0
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
#[derive(Default)]
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn scope_sample(&mut self, name: &str, scope: &str, value: impl std::fmt::Display) {
        let _ = writeln!(
            self.0,
            "{name}{{scope=\"{}\"}} {value}",
            escape_label(scope)
        );
    }
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
    use crate::dump::fixtures::example_dump;
    use crate::dump::ScopeDump;
    use crate::leak::LeakStatus;
    use crate::Snapshot;

    /// The exposition of `example_dump()`, exactly.
    const GOLDEN: &str = r#"# HELP leakscope_scope_bytes Live bytes owned by the scope (requested sizes).
# TYPE leakscope_scope_bytes gauge
leakscope_scope_bytes{scope="unscoped"} 1200000
leakscope_scope_bytes{scope="users_cache"} 3400000
# HELP leakscope_scope_blocks Live blocks owned by the scope.
# TYPE leakscope_scope_blocks gauge
leakscope_scope_blocks{scope="unscoped"} 3100
leakscope_scope_blocks{scope="users_cache"} 1700
# HELP leakscope_scope_growth_bytes_per_minute Least-squares slope of the scope's live bytes over the last rapid_growth_window_minutes.
# TYPE leakscope_scope_growth_bytes_per_minute gauge
leakscope_scope_growth_bytes_per_minute{scope="users_cache"} 60000
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
# HELP leakscope_open_leaks Open leaks by type and severity.
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
# HELP leakscope_self_bytes leakscope's own live bytes (collector tables, history, symbol cache).
# TYPE leakscope_self_bytes gauge
leakscope_self_bytes 812000
# HELP leakscope_samples_taken_total Allocations sampled with a stack trace.
# TYPE leakscope_samples_taken_total counter
leakscope_samples_taken_total 5120
# HELP leakscope_samples_dropped_total Samples lost because the collector's channel was full.
# TYPE leakscope_samples_dropped_total counter
leakscope_samples_dropped_total 3
# HELP leakscope_channel_full_retries_total Times a thread found the channel full and kept its counters for later.
# TYPE leakscope_channel_full_retries_total counter
leakscope_channel_full_retries_total 17
# HELP leakscope_dump_errors_total Dump writes that failed.
# TYPE leakscope_dump_errors_total counter
leakscope_dump_errors_total 0
# HELP leakscope_process_rss_bytes Resident set size of the process.
# TYPE leakscope_process_rss_bytes gauge
leakscope_process_rss_bytes 268435456
# HELP leakscope_cgroup_limit_bytes Memory limit of the process's cgroup.
# TYPE leakscope_cgroup_limit_bytes gauge
leakscope_cgroup_limit_bytes 1073741824
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
}
