//! docs/design.md §12's detection-quality targets on the scenario corpus, and property tests of the
//! detectors. Pure logic: no global allocator is installed here.
//!
//! The corpus here is the evaluation's (`examples/scenario_eval.rs`) at the intervals a debug
//! build runs in seconds: every kind at 30 s snapshots and all three noise levels, and at 10 s
//! snapshots at the middle noise level, one seed. Zero false alarms is asserted at noise up to
//! 1% of the scope's level; at 3% the evaluation measures a few (see its table).

use leakscope::analysis::{analyze_process, analyze_series, replay_series, DetectorConfig};
use leakscope::analysis::{ProcessSnapshot, Snapshot};
use leakscope::{leaks::LeakType, ErrorKind};
use leakscope_corpus::scenarios::{
    corpus_config, judge, run_corpus, simulate, Expect, Judged, Kind, Scenario, Summary,
    NOISE_LEVELS,
};
use proptest::prelude::*;
use std::sync::OnceLock;

fn corpus() -> &'static [Judged] {
    static CORPUS: OnceLock<Vec<Judged>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut kinds = Kind::leaks();
        kinds.extend(Kind::non_leaks());
        let mut j = run_corpus(&kinds, &[30.0], &[0, 1, 2], &[1], None, &corpus_config, 2);
        j.extend(run_corpus(
            &kinds,
            &[10.0],
            &[1],
            &[1],
            None,
            &corpus_config,
            2,
        ));
        j
    })
}

fn noise_of(j: &Judged) -> f64 {
    // Names are kind/interval/noise/seed.
    j.name
        .split('/')
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}

#[test]
#[ignore = "the old short corpus at a 10 MB gate judges the replaced detectors (a step was rapid growth, 30-minute windows); issue 11 judges on tests/production.rs"]
fn no_false_alarms_on_the_non_leak_corpus() {
    let wrong: Vec<String> = corpus()
        .iter()
        .filter(|j| !matches!(j.expect, Expect::Leak { .. }) && noise_of(j) <= NOISE_LEVELS[1])
        .flat_map(|j| {
            j.verdict
                .wrong
                .iter()
                .map(move |e| format!("{} {e:?}", j.name))
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
#[ignore = "the old short corpus at a 10 MB gate judges the replaced detectors (a step was rapid growth, 30-minute windows); issue 11 judges on tests/production.rs"]
fn recall_of_leaks_of_a_megabyte_a_minute_or_more_is_at_least_95_percent() {
    let fast: Vec<Judged> = corpus()
        .iter()
        .filter(|j| matches!(j.expect, Expect::Leak { .. }))
        .filter(|j| !matches!(j.kind, Kind::Linear { mb_per_min } if mb_per_min < 1.0))
        .cloned()
        .collect();
    let s = Summary::of(&fast, None);
    assert!(s.leaks >= 30, "{}", s.leaks);
    assert!(s.recall() >= 0.95, "recall {} of {}", s.recall(), s.leaks);
}

#[test]
fn five_mb_a_minute_within_20_minutes_and_half_a_mb_within_2_hours() {
    for (rate, limit) in [(5.0, 20.0), (0.5, 120.0)] {
        for j in corpus()
            .iter()
            .filter(|j| j.kind == Kind::Linear { mb_per_min: rate })
        {
            let after = j.verdict.detected_after_min;
            assert!(after.is_some_and(|m| m <= limit), "{}: {after:?}", j.name);
        }
    }
}

#[test]
#[ignore = "the old short corpus at a 10 MB gate judges the replaced detectors (a step was rapid growth, 30-minute windows); issue 11 judges on tests/production.rs"]
fn each_labelled_leak_is_reported_with_its_type_and_nothing_else() {
    for j in corpus()
        .iter()
        .filter(|j| matches!(j.expect, Expect::Leak { .. }))
    {
        // Spikes drown in 3% noise at these intervals; the leak under them is then reported as
        // gradual growth, an acceptable type (the evaluation counts it as detected, not typed).
        if j.kind == Kind::PeriodicRising && noise_of(j) > NOISE_LEVELS[1] {
            assert!(j.verdict.detected_after_min.is_some(), "{}", j.name);
            continue;
        }
        assert!(
            j.verdict.typed_after_min.is_some(),
            "{}: {:?}",
            j.name,
            j.verdict
        );
        assert!(
            j.verdict.wrong.is_empty(),
            "{}: {:?}",
            j.name,
            j.verdict.wrong
        );
    }
}

#[test]
#[ignore = "the old short corpus at a 10 MB gate judges the replaced detectors (a step was rapid growth, 30-minute windows); issue 11 judges on tests/production.rs"]
fn the_step_is_rapid_growth_and_fragmentation_is_process_wide() {
    let s = Scenario::new(Kind::Step, 30.0, 1, 7);
    let v = judge(&s, &simulate(&s, &corpus_config(30.0), false));
    assert!(v.typed_after_min.is_some_and(|m| m <= 2.0), "{v:?}");
    let s = Scenario::new(Kind::Fragmentation, 30.0, 1, 7);
    let events = simulate(&s, &corpus_config(30.0), false);
    assert!(
        events.iter().all(|e| e.ty == LeakType::Fragmentation),
        "{events:?}"
    );
    assert!(!events.is_empty());
}

#[test]
fn replay_reports_the_leak_with_a_recommendation() {
    let s = Scenario::new(Kind::Linear { mb_per_min: 5.0 }, 30.0, 1, 4);
    let leaks = replay_series(
        &s.name,
        &s.series,
        &DetectorConfig::from(&corpus_config(30.0)),
        &[],
    )
    .unwrap();
    let g = leaks
        .iter()
        .find(|l| l.finding.leak_type == LeakType::GradualGrowth)
        .unwrap();
    assert!(g.first_detected >= 60.0 * 60.0, "{}", g.first_detected);
    assert!(
        g.finding.recommendations[0].contains(&s.name),
        "{:?}",
        g.finding.recommendations
    );
    assert!(
        g.finding.recommendations[0].contains("MB/min"),
        "{:?}",
        g.finding.recommendations
    );
}

#[test]
fn bad_time_stamps_are_errors_naming_the_index() {
    let mut series: Vec<Snapshot> = (0..10).map(|i| Snapshot::new(i as f64, 100, 1)).collect();
    series[6].t = 2.0;
    let err = analyze_series("s", &series, &DetectorConfig::default(), &[]).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidInput);
    assert!(err.message().contains("series[6]"), "{}", err.message());
    series[6].t = f64::INFINITY;
    assert!(analyze_series("s", &series, &DetectorConfig::default(), &[]).is_err());
    let process = vec![
        ProcessSnapshot::new(5.0, Some(1), 1, 0),
        ProcessSnapshot::new(f64::NAN, Some(1), 1, 0),
    ];
    let err = analyze_process(&process, &DetectorConfig::default()).unwrap_err();
    assert!(
        err.message().contains("process series[1]"),
        "{}",
        err.message()
    );
    assert!(analyze_series("s", &[], &DetectorConfig::default(), &[])
        .unwrap()
        .is_empty());
    assert!(
        analyze_series("s", &series[..1], &DetectorConfig::default(), &[])
            .unwrap()
            .is_empty()
    );
}

/// A stationary series: a level with Gaussian noise (from the corpus' generator).
fn stationary(level_mb: f64, noise: usize, interval: f64, seed: u64) -> Vec<Snapshot> {
    let s = Scenario::new(Kind::Stable, interval, noise, seed);
    // Rescale the stable scenario's level to `level_mb`, keeping its relative noise.
    let level = s.series[0].curr_bytes.max(1) as f64;
    s.series
        .iter()
        .map(|x| {
            let mut y = x.clone();
            let f = level_mb * 1e6 / level;
            y.curr_bytes = (x.curr_bytes as f64 * f) as u64;
            y.curr_blocks = (x.curr_blocks as f64 * f) as u64;
            y
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn stationary_noise_never_raises(
        level in 1.0f64..400.0,
        noise in 0usize..3,
        interval in prop::sample::select(vec![10.0, 30.0, 60.0]),
        seed in any::<u64>(),
    ) {
        let series = stationary(level, noise, interval, seed);
        let leaks = replay_series("s", &series, &DetectorConfig::from(&corpus_config(interval)), &[]).unwrap();
        prop_assert!(leaks.is_empty(), "{:?}", leaks.iter().map(|l| &l.finding.summary).collect::<Vec<_>>());
    }

    #[test]
    fn scaling_bytes_and_thresholds_together_keeps_the_verdict(
        kind in prop::sample::select(vec![
            Kind::Linear { mb_per_min: 5.0 }, Kind::Step, Kind::WarmUp, Kind::BloatPerEntry,
            Kind::PeriodicFlat, Kind::HighFlatAbove, Kind::LruChurn,
        ]),
        minute in 40.0f64..150.0,
        shift in 1u32..6,
        seed in 0u64..1000,
    ) {
        // Powers of two scale floats exactly, so every comparison sees the same numbers scaled.
        let factor = f64::from(1u32 << shift);
        let s = Scenario::new(kind, 30.0, 1, seed);
        let n = s.series.partition_point(|x| x.t <= minute * 60.0);
        let config = DetectorConfig::from(&corpus_config(30.0));
        let mut scaled_config = config.clone();
        scaled_config.memory_growth_threshold_mb *= factor;
        scaled_config.growth_rate_threshold_mb_per_min *= factor;
        scaled_config.sustained_high_threshold_mb *= factor;
        let scaled: Vec<Snapshot> = s.series[..n].iter().map(|x| {
            let mut y = x.clone();
            y.curr_bytes = (x.curr_bytes as f64 * factor) as u64;
            y
        }).collect();
        let verdict = |f: Vec<leakscope::analysis::Finding>| f.iter().map(|f| (f.leak_type, f.severity, f.hold_only)).collect::<Vec<_>>();
        let a = verdict(analyze_series("s", &s.series[..n], &config, &[]).unwrap());
        let b = verdict(analyze_series("s", &scaled, &scaled_config, &[]).unwrap());
        prop_assert_eq!(a, b);
    }

    #[test]
    fn detectors_never_panic(
        points in prop::collection::vec((0.0f64..1e4, any::<u64>(), any::<u64>(), prop::option::of(any::<u64>())), 0..300),
        window in prop::sample::select(vec![0.0, 0.01, 0.5, 30.0, 1e9]),
        statistical in any::<bool>(),
    ) {
        // Increasing times from positive gaps; extreme byte counts.
        let mut t = 0.0;
        let series: Vec<Snapshot> = points.iter().map(|&(gap, bytes, blocks, entries)| {
            t += gap.max(1e-6);
            let mut s = Snapshot::new(t, bytes, blocks);
            s.entries = entries;
            s
        }).collect();
        let process: Vec<ProcessSnapshot> = series.iter()
            .map(|s| ProcessSnapshot::new(s.t, Some(s.curr_blocks), s.curr_bytes, 0)).collect();
        let mut config = DetectorConfig::default();
        config.detection_window_minutes = window;
        config.rapid_growth_window_minutes = window / 6.0;
        config.baseline_calculation_minutes = window * 2.0;
        config.statistical_analysis = statistical;
        config.budgets.insert("s".into(), 1 << 40);
        prop_assert!(analyze_series("s", &series, &config, &[]).is_ok());
        prop_assert!(analyze_process(&process, &config).is_ok());
        prop_assert!(replay_series("s", &series[..series.len().min(60)], &config, &[]).is_ok());
        // A time stamp going back is an error, never a panic.
        if series.len() >= 2 {
            let mut bad = series.clone();
            bad[1].t = bad[0].t - 1.0;
            prop_assert!(analyze_series("s", &bad, &config, &[]).is_err());
        }
    }
}
