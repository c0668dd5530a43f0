//! The collector driven by a manual clock through the real allocator: exact snapshots per
//! interval, a leak raised through the lifecycle with its call site and hooks, external memory,
//! an unwritable dump path that costs nothing but a report, and the final dump.
//!
//! `harness = false`: there is one collector per process, so the cases run in sequence.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use leakscope::dump::read_dump;
use leakscope::{flush, leaks::LeakEvent, leaks::LeakType, Config, ErrorKind, ManualClock, Scope};

mod common;

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

fn main() {
    let cases: &[(&str, fn())] = &[
        (
            "n_intervals_make_n_exact_snapshots",
            n_intervals_make_n_exact_snapshots,
        ),
        ("a_second_start_is_an_error", a_second_start_is_an_error),
        (
            "a_growing_scope_raises_a_leak_with_its_call_site",
            a_growing_scope_raises_a_leak_with_its_call_site,
        ),
        (
            "recorded_memory_joins_the_snapshots",
            recorded_memory_joins_the_snapshots,
        ),
        (
            "an_unwritable_dump_path_keeps_the_collector_going",
            an_unwritable_dump_path_keeps_the_collector_going,
        ),
        (
            "queries_without_a_collector_say_so",
            queries_without_a_collector_say_so,
        ),
        (
            "churn_monitoring_keeps_age_profiles_and_pressure",
            churn_monitoring_keeps_age_profiles_and_pressure,
        ),
    ];
    common::run(cases, || {});
}

/// A directory of its own for this test process's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("leakscope-collector-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A config at demo scale: a snapshot a second, windows of minutes, thresholds of a few MB.
fn demo_config(dump: Option<PathBuf>) -> Config {
    let mut c = Config::builder()
        .set("snapshot_interval_seconds", 1)
        .set("dump_interval_seconds", 10)
        .set("detection_window_minutes", 2)
        .set("rapid_growth_window_minutes", 0.5)
        .set("baseline_calculation_minutes", 2)
        .set("memory_growth_threshold_mb", 2)
        .set("growth_rate_threshold_mb_per_min", 1)
        .set("sustained_high_threshold_mb", 512)
        .set("sample_interval_bytes", 0)
        .build()
        .unwrap();
    c.dump_path = dump;
    c
}

fn manual(config: Config) -> (leakscope::Handle, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_700_000_000.0));
    let handle = leakscope::__start_manual(config, clock.clone()).unwrap();
    (handle, clock)
}

fn n_intervals_make_n_exact_snapshots() {
    static S: Scope = Scope::new("col_exact");
    let path = scratch("exact.json");
    let (handle, clock) = manual(demo_config(Some(path.clone())));
    let mut kept = Vec::with_capacity(10);
    for _ in 0..10 {
        {
            let _g = S.enter();
            kept.push(black_box(vec![0u8; 1000]));
            drop(black_box(vec![0u8; 24]));
        }
        S.set_entry_count(kept.len());
        flush();
        clock.advance(1.0);
        handle.tick();
    }
    leakscope::live::dump_now().unwrap();
    let dump = read_dump(&path).unwrap();
    // The dump's tracker figures and tracker_stats() are one type; the dump counted itself.
    let tracker = leakscope::live::tracker_stats();
    assert_eq!(tracker.dumps_written, dump.tracker.dumps_written);
    assert_eq!((tracker.dumps_written, tracker.dump_errors), (2, 0));
    let scope = dump.scope("col_exact").expect("the scope is in the dump");
    assert_eq!(scope.history.len(), 10);
    for (i, s) in scope.history.iter().enumerate() {
        let i = i as u64 + 1;
        assert_eq!(s.t, i as f64);
        assert_eq!((s.curr_bytes, s.curr_blocks), (1000 * i, i));
        assert_eq!((s.allocs, s.frees), (2, 1));
        assert_eq!((s.bytes_allocated, s.bytes_freed), (1024, 24));
        assert_eq!(s.entries, Some(i));
        assert_eq!(s.bytes_per_entry(), Some(1000.0));
    }
    // Churn over the manual clock: nine counted intervals of 1 s, each 2 allocations (1024
    // bytes) and 1 free (24 bytes). Stack sampling is off here, so there is no age profile.
    let churn = leakscope::analysis::Churn::over(&scope.history).unwrap();
    assert_eq!(churn.secs, 9.0);
    assert_eq!((churn.allocs_per_sec, churn.frees_per_sec), (2.0, 1.0));
    assert_eq!(churn.bytes_allocated_per_sec, 1024.0);
    assert_eq!(churn.bytes_freed_per_sec, 24.0);
    assert_eq!(churn.free_ratio, Some(24.0 / 1024.0));
    assert_eq!(churn.mean_block_bytes, Some(512.0));
    assert!(scope.history.iter().all(|s| s.live_age.is_none()));
    assert_eq!(scope.stats.curr_bytes, 10_000);
    assert_eq!(dump.process_history.len(), 10);
    assert!(dump.process_history[9].tracked_bytes >= 10_000);
    drop(kept);
    handle.shutdown().unwrap();
}

fn a_second_start_is_an_error() {
    let (handle, _clock) = manual(demo_config(None));
    let second = leakscope::start(demo_config(None)).unwrap_err();
    assert_eq!(second.kind(), &ErrorKind::AlreadyStarted);
    handle.shutdown().unwrap();
    // Once stopped, starting again works.
    let (again, _clock) = manual(demo_config(None));
    again.shutdown().unwrap();
}

#[inline(never)]
fn grow_the_memo_table(into: &mut Vec<Vec<u8>>) {
    for _ in 0..16 {
        into.push(black_box(vec![7u8; 16 * 1024]));
    }
}

fn a_growing_scope_raises_a_leak_with_its_call_site() {
    static MEMO: Scope = Scope::new("col_memo");
    static NEW_LEAKS: AtomicUsize = AtomicUsize::new(0);
    leakscope::on_leak(|_| panic!("a hook that panics must not stop the collector"));
    leakscope::on_leak(|e| {
        if let LeakEvent::New(leak) = e {
            if leak.finding.scope == "col_memo" {
                NEW_LEAKS.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let mut config = demo_config(None);
    config.sample_interval_bytes = 64 * 1024;
    let (handle, clock) = manual(config);
    let mut memo = Vec::with_capacity(16 * 400);
    // 256 KiB a second: 15 MB/min, for six simulated minutes.
    for _ in 0..360 {
        {
            let _g = MEMO.enter();
            grow_the_memo_table(&mut memo);
        }
        flush();
        clock.advance(1.0);
        handle.tick();
        if memo.len() >= 16 * 400 {
            break;
        }
    }
    assert_eq!(
        NEW_LEAKS.load(Ordering::Relaxed),
        1,
        "one new leak, raised once"
    );
    let check = leakscope::check_leaks("col_memo");
    assert!(check.leak_count >= 1);
    let leak = &check.leaks[0];
    assert!(
        matches!(
            leak.finding.leak_type,
            LeakType::GradualGrowth | LeakType::RapidGrowth
        ),
        "{leak:?}"
    );
    let site = leak
        .finding
        .top_sites
        .first()
        .expect("the leak names its call sites");
    let function = site.frames[0].function.as_deref().unwrap_or("");
    assert!(
        function.contains("grow_the_memo_table"),
        "{:?}",
        site.frames
    );
    assert!(
        leak.finding
            .recommendations
            .iter()
            .any(|r| r.contains("col_memo")),
        "{:?}",
        leak.finding.recommendations
    );
    let findings = leakscope::live::analyze(&MEMO).unwrap();
    assert!(!findings.is_empty());
    // The live exposition: the scope's exact bytes and its open leak, labelled with the scope.
    let text = leakscope::live::metrics_text().unwrap();
    let bytes = format!(
        "leakscope_scope_bytes{{scope=\"col_memo\"}} {}\n",
        memo.len() * 16 * 1024
    );
    assert!(text.contains(&bytes), "{bytes} not in\n{text}");
    let open = format!(
        "leakscope_scope_open_leaks{{scope=\"col_memo\",type=\"{}\",",
        match leak.finding.leak_type {
            LeakType::GradualGrowth => "gradual_growth",
            _ => "rapid_growth",
        }
    );
    assert!(text.contains(&open), "{open} not in\n{text}");
    assert!(text.contains("leakscope_dumps_written_total 0\n"), "{text}");
    // The live heap profile names the scope and the allocating function in its string table.
    #[cfg(feature = "pprof")]
    {
        use std::io::Read as _;
        let gz = leakscope::live::heap_profile().unwrap();
        let mut proto = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut proto)
            .unwrap();
        let has = |s: &str| proto.windows(s.len()).any(|w| w == s.as_bytes());
        assert!(has("col_memo") && has("grow_the_memo_table") && has("inuse_space"));
    }
    drop(memo);
    handle.shutdown().unwrap();
}

fn recorded_memory_joins_the_snapshots() {
    let (handle, clock) = manual(demo_config(None));
    leakscope::record("col_c_library_cache", 5_000_000, Some(250)).unwrap();
    clock.advance(1.0);
    let latest = leakscope::live::snapshot_now().unwrap();
    let (_, s) = latest
        .iter()
        .find(|(name, _)| name == "col_c_library_cache")
        .expect("the recorded scope has a snapshot");
    assert_eq!((s.curr_bytes, s.entries), (5_000_000, Some(250)));
    assert_eq!(s.bytes_per_entry(), Some(20_000.0));
    handle.shutdown().unwrap();
}

fn an_unwritable_dump_path_keeps_the_collector_going() {
    static S: Scope = Scope::new("col_unwritable");
    // The dump's parent is a regular file: no write can ever succeed, even as root.
    let blocker = scratch("not-a-directory");
    std::fs::write(&blocker, b"x").unwrap();
    let path = blocker.join("dump.json");
    let (handle, clock) = manual(demo_config(Some(path.clone())));
    let mut kept = Vec::with_capacity(35);
    for _ in 0..35 {
        {
            let _g = S.enter();
            kept.push(black_box(vec![1u8; 100]));
        }
        flush();
        clock.advance(1.0);
        handle.tick(); // three scheduled dumps fail here, reported once on stderr
    }
    let err = leakscope::live::dump_now().unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Io { .. }), "{err}");
    assert!(err.to_string().contains("not-a-directory"), "{err}");
    // Three scheduled dumps and this one failed; a new collector counts from zero.
    let tracker = leakscope::live::tracker_stats();
    assert_eq!((tracker.dumps_written, tracker.dump_errors), (0, 4));
    // The history was kept: snapshots went on.
    let latest = leakscope::live::snapshot_now().unwrap();
    let (_, s) = latest.iter().find(|(n, _)| n == "col_unwritable").unwrap();
    assert_eq!(s.curr_bytes, 3_500);
    assert!(
        handle.shutdown().is_err(),
        "the final dump fails too, and says so"
    );
    drop(kept);
}

fn queries_without_a_collector_say_so() {
    static S: Scope = Scope::new("col_none");
    assert_eq!(
        leakscope::live::snapshot_now().unwrap_err().kind(),
        &ErrorKind::NotStarted
    );
    assert_eq!(
        leakscope::live::dump_now().unwrap_err().kind(),
        &ErrorKind::NotStarted
    );
    assert_eq!(
        leakscope::live::metrics_text().unwrap_err().kind(),
        &ErrorKind::NotStarted
    );
    assert_eq!(
        leakscope::live::analyze(&S).unwrap_err().kind(),
        &ErrorKind::NotStarted
    );
    assert_eq!(leakscope::check_leaks("col_none").leak_count, 0);
}

/// Twelve intervals, each keeping one 1,000-byte block in a scope, every allocation sampled:
/// at the last snapshot the twelve blocks are 0 to 11 intervals old, so 11/12 of the live bytes
/// are older than one interval and 2/12 older than ten. With churn monitoring off, the same run
/// has no age profile and no pressure reading.
fn churn_monitoring_keeps_age_profiles_and_pressure() {
    static AGED: Scope = Scope::new("col_aged");
    for on in [true, false] {
        let path = scratch(&format!("aged-{on}.json"));
        let mut config = demo_config(Some(path.clone()));
        config.sample_interval_bytes = 1;
        config.enable_churn_monitoring = on;
        let (handle, clock) = manual(config);
        let mut kept = Vec::with_capacity(12);
        for _ in 0..12 {
            {
                let _g = AGED.enter();
                kept.push(black_box(vec![1u8; 1000]));
            }
            flush();
            clock.advance(1.0);
            handle.tick();
        }
        leakscope::live::dump_now().unwrap();
        let dump = read_dump(&path).unwrap();
        let history = &dump.scope("col_aged").unwrap().history;
        assert_eq!(history.len(), 12);
        let ages: Vec<Option<[u16; 3]>> = history.iter().map(|s| s.live_age).collect();
        let pressure = dump.process_history.iter().map(|p| p.pressure.is_some());
        if on {
            // Snapshot k holds k blocks aged 0..k-1.
            let expected: Vec<Option<[u16; 3]>> = (1..=12u32)
                .map(|k| {
                    let share = |older: u32| ((older * 10_000) as f64 / k as f64).round() as u16;
                    Some([share(k - 1), share(k.saturating_sub(10)), 0])
                })
                .collect();
            assert_eq!(ages, expected);
            assert_eq!(ages[11], Some([9_167, 1_667, 0]));
            // Every Linux has /proc/self/stat, so every reading has at least the major faults.
            if cfg!(target_os = "linux") {
                assert!(dump.process_history.iter().all(|p| p
                    .pressure
                    .as_ref()
                    .is_some_and(|p| p.major_faults.is_some())));
            }
        } else {
            assert!(ages.iter().all(Option::is_none), "{ages:?}");
            assert!(pressure.clone().all(|p| !p));
        }
        drop(kept);
        handle.shutdown().unwrap();
    }
}
