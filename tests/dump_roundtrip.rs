//! Property: writing any dump and reading it back gives the same dump (docs/design.md §13). Generated dumps
//! have arbitrary scopes with histories (optional columns mixed in), open and resolved leaks,
//! call sites whose frames and thread names are arbitrary Unicode (control characters, quotes,
//! backslashes, astral characters), and arbitrary configurations.
//!
//! Floats are any finite `f64`, subnormals and both zeros included, and must come back
//! bit-for-bit. JSON cannot express NaN or infinities (serde_json writes them as `null`), so no
//! dump the collector writes holds one and none is generated here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use leakscope::analysis::{Finding, ProcessSnapshot, Snapshot};
use leakscope::dump::{read_dump, read_dump_from_slice, write_dump, Dump, ProcessInfo, ScopeDump};
use leakscope::leaks::{CallSite, Frame};
use leakscope::{
    leaks::GrowthModel, leaks::LeakSeverity, leaks::LeakStatus, leaks::LeakType, leaks::Statistic,
    Config, Leak,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

fn finite() -> impl Strategy<Value = f64> {
    prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO
}

/// Any Unicode scalar values, short.
fn text() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..10).prop_map(String::from_iter)
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    (
        finite(),
        any::<[u64; 6]>(),
        any::<Option<u64>>(),
        any::<Option<u64>>(),
    )
        .prop_map(
            |(t, [curr_bytes, curr_blocks, a, f, ba, bf], entries, rss)| {
                let mut s = Snapshot::new(t, curr_bytes, curr_blocks);
                s.allocs = a;
                s.frees = f;
                s.bytes_allocated = ba;
                s.bytes_freed = bf;
                s.entries = entries;
                s.rss_bytes = rss;
                s
            },
        )
}

/// A history whose optional columns are absent altogether, present throughout, or mixed.
fn history() -> impl Strategy<Value = Vec<Snapshot>> {
    (vec(snapshot(), 0..12), 0..3u8).prop_map(|(mut h, shape)| {
        for s in &mut h {
            match shape {
                0 => (s.entries, s.rss_bytes) = (None, None),
                1 => (s.entries, s.rss_bytes) = (Some(s.allocs), Some(s.frees)),
                _ => {}
            }
        }
        h
    })
}

fn scope() -> impl Strategy<Value = ScopeDump> {
    (
        text(),
        any::<[u64; 7]>(),
        any::<(Option<u64>, Option<u64>)>(),
        history(),
    )
        .prop_map(|(name, c, (entries, budget), history)| {
            let mut s = ScopeDump::new(name);
            (
                s.stats.curr_bytes,
                s.stats.curr_blocks,
                s.stats.total_allocs,
                s.stats.total_frees,
            ) = (c[0], c[1], c[2], c[3]);
            (
                s.stats.total_bytes_allocated,
                s.stats.total_bytes_freed,
                s.stats.max_bytes,
            ) = (c[4], c[5], c[6]);
            s.entries = entries;
            s.budget_bytes = budget;
            s.history = history;
            s
        })
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        any::<u64>(),
        prop::option::of(text()),
        prop::option::of(text()),
        any::<Option<u32>>(),
    )
        .prop_map(|(addr, function, file, line)| Frame {
            addr,
            function,
            file,
            line,
        })
}

fn call_site() -> impl Strategy<Value = CallSite> {
    (
        text(),
        vec(frame(), 0..5),
        any::<[u64; 3]>(),
        any::<[u64; 3]>(),
        vec(text(), 0..3),
    )
        .prop_map(|(scope, frames, [b, n, s], older, threads)| CallSite {
            scope,
            frames,
            live_bytes: b,
            live_blocks: n,
            samples: s,
            bytes_older_than: older,
            threads,
        })
}

fn leak() -> impl Strategy<Value = Leak> {
    let kinds = (
        prop::sample::select(LeakType::ALL.to_vec()),
        prop::sample::select(vec![
            LeakSeverity::Low,
            LeakSeverity::Medium,
            LeakSeverity::High,
            LeakSeverity::Critical,
        ]),
        prop::sample::select(vec![LeakStatus::Open, LeakStatus::Resolved]),
        prop::sample::select(vec![GrowthModel::Linear, GrowthModel::Exponential]),
    );
    let times = (
        vec(finite(), 6),
        prop::option::of(finite()),
        prop::option::of(finite()),
    );
    let words = (
        text(),
        text(),
        vec((text(), finite()), 0..3),
        vec(text(), 0..3),
        vec(call_site(), 0..2),
        (vec(call_site(), 0..2), vec(call_site(), 0..2)),
    );
    let counts = (
        any::<(u64, u64, u64, i64)>(),
        any::<Option<u64>>(),
        any::<u64>(),
    );
    (kinds, times, words, counts).prop_map(
        |(
            (leak_type, severity, status, model),
            (f, resolved_at, time_to_budget_secs),
            (
                scope,
                summary,
                statistics,
                recommendations,
                top_sites,
                (sites_at_detection, sites_at_peak),
            ),
            ((id, baseline_bytes, current_bytes, growth_bytes), budget_bytes, peak_bytes),
        )| Leak {
            id,
            status,
            first_detected: f[1],
            last_detected: f[2],
            resolved_at,
            finding: Finding {
                scope,
                leak_type,
                severity,
                confidence: f[0],
                window: [f[3], f[4]],
                baseline_bytes,
                current_bytes,
                growth_bytes,
                rate_bytes_per_min: f[5],
                model,
                statistics: statistics
                    .into_iter()
                    .map(|(name, value)| Statistic { name, value })
                    .collect(),
                budget_bytes,
                time_to_budget_secs,
                summary,
                top_sites,
                recommendations,
                t: f[2],
                hold_only: false,
            },
            sites_at_detection,
            peak_bytes,
            sites_at_peak,
        },
    )
}

/// Any values of the right types: the reader checks the format, not the configuration's ranges.
fn config() -> impl Strategy<Value = Config> {
    (
        vec(finite(), 9),
        any::<(usize, usize, u64, u32)>(),
        any::<[bool; 5]>(),
        prop::option::of(text()),
        prop::option::of(text()),
        btree_map(text(), any::<u64>(), 0..4),
    )
        .prop_map(
            |(f, (snaps, frames, interval, runs), b, dump, prom, budgets)| {
                let mut c = Config::default();
                c.memory_growth_threshold_mb = f[0];
                c.growth_rate_threshold_mb_per_min = f[1];
                c.sustained_high_threshold_mb = f[2];
                c.detection_window_minutes = f[3];
                c.rapid_growth_window_minutes = f[4];
                c.baseline_calculation_minutes = f[5];
                c.snapshot_interval_seconds = f[6];
                c.cleanup_interval_hours = f[7];
                c.dump_interval_seconds = f[8];
                c.max_snapshots_per_cache = snaps;
                c.max_frames = frames;
                c.sample_interval_bytes = if b[0] { interval } else { 0 };
                c.leak_resolve_after_runs = runs;
                c.enable_churn_monitoring = b[1];
                c.statistical_analysis = b[2];
                c.auto_cleanup_old_data = b[3];
                c.keep_symbol_cache = b[4];
                c.dump_path = dump.map(PathBuf::from);
                c.prometheus_path = prom.map(PathBuf::from);
                c.budgets = budgets.into_iter().collect::<BTreeMap<_, _>>();
                c
            },
        )
}

fn process() -> impl Strategy<Value = ProcessInfo> {
    (
        any::<u32>(),
        prop::option::of(text()),
        prop::option::of(finite()),
        any::<(Option<u64>, Option<u64>)>(),
    )
        .prop_map(|(pid, executable, start, (rss, limit))| {
            let mut p = ProcessInfo::new(pid);
            p.executable = executable;
            p.start_time_unix = start;
            p.rss_bytes = rss;
            p.cgroup_limit_bytes = limit;
            p
        })
}

fn process_snapshot() -> impl Strategy<Value = ProcessSnapshot> {
    (finite(), any::<(Option<u64>, u64, u64)>())
        .prop_map(|(t, (rss, tracked, own))| ProcessSnapshot::new(t, rss, tracked, own))
}

fn dump() -> impl Strategy<Value = Dump> {
    (
        (finite(), finite(), process(), config()),
        vec(scope(), 0..4),
        vec(process_snapshot(), 0..4),
        vec(leak(), 0..3),
        vec(call_site(), 0..3),
        any::<[u64; 6]>(),
    )
        .prop_map(
            |((written, clock, process, config), scopes, ph, leaks, sites, t)| {
                let mut d = Dump::new(written, clock, process, config);
                d.scopes = scopes;
                d.process_history = ph;
                d.leaks = leaks;
                d.top_call_sites = sites;
                d.tracker.self_bytes = t[0];
                d.tracker.samples_taken = t[1];
                d.tracker.samples_dropped = t[2];
                d.tracker.channel_full_retries = t[3];
                d.tracker.dumps_written = t[4];
                d.tracker.dump_errors = t[5];
                d
            },
        )
}

/// `==` on `f64` takes -0.0 for 0.0; the JSON of both dumps must match too, so every float
/// (its sign and last bit included) came back exactly.
fn assert_same(read: &Dump, written: &Dump) {
    assert_eq!(read, written);
    assert_eq!(
        serde_json::to_string(read).unwrap(),
        serde_json::to_string(written).unwrap()
    );
}

/// The float proptest found read back one ULP off before serde_json's `float_roundtrip` was
/// enabled (tests/dump_roundtrip.proptest-regressions keeps the case too).
#[test]
fn a_float_serde_json_misread_reads_back_exactly() {
    let x = 1.515807494406559e-153_f64;
    let dump = Dump::new(x, x, ProcessInfo::new(1), Config::default());
    let read = read_dump_from_slice(&serde_json::to_vec(&dump).unwrap()).unwrap();
    assert_eq!(read.clock_secs.to_bits(), x.to_bits());
}

proptest! {
    #[test]
    fn json_of_any_dump_reads_back_the_same(dump in dump()) {
        let compact = serde_json::to_vec(&dump).unwrap();
        assert_same(&read_dump_from_slice(&compact).unwrap(), &dump);
        let pretty = serde_json::to_vec_pretty(&dump).unwrap();
        assert_same(&read_dump_from_slice(&pretty).unwrap(), &dump);
    }

    /// Every finite float, written the shortest way that round-trips (ryu), parses back to
    /// the same bits.
    #[test]
    fn any_finite_float_reads_back_bit_for_bit(x in finite(), y in finite()) {
        let mut dump = Dump::new(x, y, ProcessInfo::new(1), Config::default());
        let mut scope = ScopeDump::new("s");
        scope.history = vec![Snapshot::new(x, 0, 0), Snapshot::new(y, 0, 0)];
        dump.scopes.push(scope);
        let read = read_dump_from_slice(&serde_json::to_vec(&dump).unwrap()).unwrap();
        prop_assert_eq!(read.written_at_unix.to_bits(), x.to_bits());
        prop_assert_eq!(read.clock_secs.to_bits(), y.to_bits());
        prop_assert_eq!(read.scopes[0].history[0].t.to_bits(), x.to_bits());
    }
}

proptest! {
    // Each case writes and fsyncs a file: fewer cases, the same generator.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_written_dump_file_reads_back_the_same(dump in dump()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leakscope.json");
        write_dump(&path, &dump).unwrap();
        assert_same(&read_dump(&path).unwrap(), &dump);
    }
}
