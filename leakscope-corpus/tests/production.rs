//! The production corpus: that it is deterministic and labelled (fast, always run), how the
//! judge reads events, and the targets on a seeded subset (ignored until the detectors
//! meet them; see `targets_on_the_seeded_subset`).

use leakscope::analysis::Churn;
use leakscope::{leaks::LeakSeverity, leaks::LeakType};
use leakscope_corpus::judge::{judge, judge_all, Event, Filter, Run};
use leakscope_corpus::production::{Family, Truth, DEADLINE_CAP_SECS, INTERVAL};

#[test]
fn every_case_is_a_pure_function_of_family_and_seed() {
    for &f in Family::ALL {
        let (a, b, c) = (f.case(3), f.case(3), f.case(4));
        assert_eq!(a.series, b.series, "{}", a.name);
        assert_eq!(a.process, b.process, "{}", a.name);
        assert_eq!(a.truth, b.truth, "{}", a.name);
        assert_eq!(a.config, b.config, "{}", a.name);
        if !f.is_trace() {
            assert_ne!(
                a.series, c.series,
                "{}: seeds 3 and 4 drew the same world",
                a.name
            );
        }
        assert_eq!(Family::named(f.name()), Some(f));
    }
}

#[test]
fn cases_are_labelled_and_at_the_default_cadence() {
    let mut day_long = 0;
    for &f in Family::ALL {
        let case = f.case(0);
        let n = case.series.len();
        assert!(n > 2, "{}", case.name);
        for (i, s) in case.series.iter().enumerate() {
            assert_eq!(s.t, i as f64 * INTERVAL, "{} snapshot {i}", case.name);
        }
        // The default configuration, but for this scope's budget.
        let mut defaults = leakscope::Config::default();
        defaults.budgets = case.config.budgets.clone();
        assert_eq!(case.config, defaults, "{}", case.name);
        assert_eq!(case.is_leak(), f.is_leak(), "{}", case.name);
        day_long += usize::from(case.duration_secs() >= 86400.0);
        match &case.truth {
            Truth::Healthy { .. } => assert!(case.sites.is_empty()),
            Truth::Leak {
                start_secs,
                accept,
                deadline_secs,
                budget_reached_secs,
                mb_per_min,
            } => {
                assert!(
                    *start_secs <= case.duration_secs() - 4.0 * 3600.0,
                    "{}",
                    case.name
                );
                assert!(!accept.is_empty());
                assert!(*deadline_secs > 0.0, "{}", case.name);
                assert!(
                    *deadline_secs <= case.duration_secs() - start_secs,
                    "{}",
                    case.name
                );
                assert!(*mb_per_min > 0.0, "{}", case.name);
                assert_eq!(
                    budget_reached_secs.is_some(),
                    case.budget().is_some(),
                    "{}",
                    case.name
                );
                if let Some(at) = budget_reached_secs {
                    assert!(at > start_secs, "{}", case.name);
                }
            }
        }
    }
    assert!(day_long >= 15, "{day_long} families last a day or more");
}

#[test]
fn deadlines_are_the_time_to_add_100_mb_at_most_2_hours_past_half_a_mb_a_minute() {
    let deadline = |f: Family| match f.case(1).truth {
        Truth::Leak { deadline_secs, .. } => deadline_secs,
        Truth::Healthy { .. } => unreachable!(),
    };
    // Leaks start between snapshots: the deadline is the first snapshot past the 100 MB.
    let within = |f: Family, minutes: f64| {
        let d = deadline(f);
        assert!(
            (minutes * 60.0..=minutes * 60.0 + INTERVAL).contains(&d),
            "{}: {d}",
            f.name()
        );
    };
    within(Family::Linear5, 20.0);
    within(Family::Linear20, 5.0);
    within(Family::Linear1, 100.0);
    within(Family::Linear0_5, DEADLINE_CAP_SECS / 60.0);
    // An exponential leak starting below 0.5 MB/min: 2 hours from when it reaches that rate.
    let exp = deadline(Family::Exponential);
    assert!(exp > DEADLINE_CAP_SECS, "{exp}");
}

#[test]
fn idle_is_exactly_constant_and_gauges_follow_bytes() {
    let idle = Family::Idle.case(0);
    assert!(idle.duration_secs() >= 3.0 * 86400.0);
    assert!(idle
        .series
        .windows(2)
        .all(|w| w[0].curr_bytes == w[1].curr_bytes && w[0].curr_blocks == w[1].curr_blocks));
    // A hash map's table doubles at 7/8 load: bytes per entry steps down after each doubling,
    // never by more than the table's share.
    let h = Family::HashDoubling.case(0);
    let last = h.series.last().unwrap();
    let per_entry = last.bytes_per_entry().unwrap();
    assert!((60.0..2000.0).contains(&per_entry), "{per_entry}");
    // Bloat: entries flat, blocks flat but for the requests in flight, bytes rising.
    let b = Family::CacheBloat.case(0);
    let (first, last) = (&b.series[0], b.series.last().unwrap());
    assert_eq!(first.entries, last.entries);
    assert!(first.curr_blocks.abs_diff(last.curr_blocks) * 100 < first.curr_blocks);
    assert!(last.curr_bytes > first.curr_bytes + 1_000_000_000);
}

#[test]
fn traces_are_real_recordings_bounded_or_leaking_as_labelled() {
    use leakscope_corpus::traces::{SCALE, TRACES};
    for spec in TRACES {
        let ticks = spec.ticks();
        assert_eq!(ticks.len(), 3000, "{}", spec.file);
        let case = spec.family.case(0);
        assert_eq!(case.is_leak(), spec.leak);
        assert_eq!(case.series.len(), ticks.len());
        assert_eq!(case.series[10].curr_bytes, ticks[10].bytes * SCALE);
        // The second half: bounded caches stay within 25% of their median, the memo grows.
        let half: Vec<f64> = ticks[1500..].iter().map(|t| t.bytes as f64).collect();
        let median = leakscope_corpus::median(&half).unwrap();
        let (lo, hi) = half
            .iter()
            .fold((f64::MAX, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        if spec.leak_from_tick > 0 {
            // A leak beside a bounded cache: nothing leaked before its tick, the leaked bytes
            // only grow after it, and the scope holds them on top of the cache.
            let from = spec.leak_from_tick;
            assert!(ticks[..from].iter().all(|t| t.leaked == 0), "{}", spec.file);
            assert!(
                ticks[from..].windows(2).all(|w| w[1].leaked >= w[0].leaked),
                "{}",
                spec.file
            );
            let last = ticks[ticks.len() - 1];
            assert!(last.leaked > 2 * ticks[from - 1].bytes, "{}", spec.file);
            assert!(last.bytes > last.leaked, "{}", spec.file);
        }
        if spec.leak_from_tick > 0 {
            // The cache beside the leak stays bounded: the scope rises by what the leak adds.
            let added = (ticks[2999].leaked - ticks[1500].leaked) as f64;
            let rose = half[half.len() - 1] - half[0];
            assert!(
                (rose - added).abs() < 0.1 * added,
                "{}: {rose} vs {added}",
                spec.file
            );
        } else if spec.leak {
            assert!(half[half.len() - 1] > 1.5 * half[0], "{}", spec.file);
        } else if spec.scope == "moka_ttl" {
            // A TTL cache's level follows the load over its TTL: it moves with the daily cycle
            // (±40%) but never fills without bound.
            assert!(
                lo > 0.5 * median && hi < 1.5 * median,
                "{}: {lo}..{hi}",
                spec.file
            );
        } else {
            assert!(
                lo > 0.75 * median && hi < 1.25 * median,
                "{}: {lo}..{hi}",
                spec.file
            );
        }
        assert!(
            ticks.iter().all(|t| t.entries > 0 || t.bytes < 1 << 20),
            "{}",
            spec.file
        );
    }
    // One case per trace, whatever the seeds.
    let filter = Filter {
        families: vec!["trace_".into()],
        seeds: vec![5, 6, 7],
    };
    assert_eq!(filter.cases().len(), TRACES.len());
}

fn ev(
    t: f64,
    what: &'static str,
    id: u64,
    ty: LeakType,
    severity: LeakSeverity,
    summary: &str,
) -> Event {
    Event {
        t,
        what,
        id: (false, id),
        ty,
        severity,
        alarm: ty != LeakType::SustainedHigh
            && (ty != LeakType::PeriodicSpike || severity > LeakSeverity::Low),
        settled: summary.contains("settled"),
        summary: summary.into(),
    }
}

fn run_of(events: Vec<Event>) -> Run {
    Run {
        events,
        leaks: Vec::new(),
        ttb_reports: Vec::new(),
    }
}

#[test]
fn the_judge_allows_one_settled_step_and_a_low_batch_notice_only() {
    use LeakSeverity::*;
    use LeakType::*;
    let step = Family::PreloadStep.case(0);
    let settled = run_of(vec![
        ev(
            600.0,
            "new",
            1,
            RapidGrowth,
            Medium,
            "rose 90 MB in 2 min, then settled",
        ),
        ev(
            900.0,
            "resolved",
            1,
            RapidGrowth,
            Medium,
            "rose 90 MB in 2 min, then settled",
        ),
    ]);
    assert!(judge(&step, &settled).failures.is_empty());
    // A table doubling is a step too.
    assert!(judge(&Family::HashDoubling.case(0), &settled)
        .failures
        .is_empty());
    let unsettled = run_of(vec![ev(600.0, "new", 1, RapidGrowth, Medium, "rose 90 MB")]);
    assert_eq!(judge(&step, &unsettled).false_alarms.len(), 1);
    let batch = Family::BatchFlat.case(0);
    let low = run_of(vec![ev(600.0, "new", 1, PeriodicSpike, Low, "batch")]);
    assert!(judge(&batch, &low).failures.is_empty());
    let raised = run_of(vec![
        ev(600.0, "new", 1, PeriodicSpike, Low, "batch"),
        ev(
            900.0,
            "severity_changed",
            1,
            PeriodicSpike,
            High,
            "minima rising",
        ),
    ]);
    assert_eq!(judge(&batch, &raised).false_alarms.len(), 1);
    let gradual = run_of(vec![ev(600.0, "new", 2, GradualGrowth, Low, "grew")]);
    assert_eq!(judge(&batch, &gradual).false_alarms.len(), 1);
}

#[test]
fn the_judge_reads_latency_openings_and_flaps_of_a_leak() {
    use LeakSeverity::*;
    use LeakType::*;
    let case = Family::Linear5.case(0);
    let Truth::Leak { start_secs: s, .. } = case.truth else {
        unreachable!()
    };
    let v = judge(
        &case,
        &run_of(vec![
            ev(s - 600.0, "new", 1, RapidGrowth, Medium, "warm-up"),
            ev(s + 600.0, "new", 2, GradualGrowth, Medium, "grew"),
            ev(
                s + 900.0,
                "severity_changed",
                2,
                GradualGrowth,
                High,
                "grew",
            ),
            ev(
                s + 930.0,
                "severity_changed",
                2,
                GradualGrowth,
                Medium,
                "grew",
            ),
            ev(s + 2000.0, "resolved", 2, GradualGrowth, Medium, "grew"),
            ev(s + 4000.0, "new", 3, GradualGrowth, Medium, "grew"),
        ]),
    );
    assert_eq!(v.false_alarms.len(), 1);
    assert_eq!(v.typed_after, Some(600.0));
    assert_eq!(v.openings, 2);
    assert_eq!(v.openings_per_type, 2);
    assert_eq!((v.severity_changes, v.severity_flaps), (2, 1));
    // The warm-up alarm, the re-opening, the flap, and the call site (no leaks in this run).
    assert_eq!(v.failures.len(), 4, "{:#?}", v.failures);
}

/// With a budget, the time to budget is judged at the first report of the typed leak that states
/// one, against the truth at that report: a first report without one (a step that settled) is
/// not a wrong projection, and the staircase verdict that follows it is judged.
#[test]
fn the_judge_takes_the_time_to_budget_of_the_first_projection() {
    use LeakSeverity::*;
    use LeakType::*;
    let case = Family::StaircaseBudget.case(0);
    let Truth::Leak {
        start_secs: s,
        budget_reached_secs: Some(reached),
        ..
    } = case.truth
    else {
        unreachable!()
    };
    let notice = ev(s + 900.0, "new", 1, RapidGrowth, Low, "stepped up, settled");
    let verdict = |ttb: Option<f64>| {
        let mut run = run_of(vec![
            notice.clone(),
            ev(
                s + 4000.0,
                "severity_changed",
                1,
                GradualGrowth,
                Medium,
                "staircase",
            ),
        ]);
        run.ttb_reports = vec![((false, 1), s + 900.0, None), ((false, 1), s + 4000.0, ttb)];
        judge(&case, &run)
    };
    let truth = reached - (s + 4000.0);
    let v = verdict(Some(1.5 * truth));
    assert_eq!(v.typed_after, Some(900.0));
    assert_eq!(v.ttb_ratio, Some(1.5));
    assert!(
        !v.failures.iter().any(|f| f.contains("budget")),
        "{:?}",
        v.failures
    );
    let v = verdict(Some(3.0 * truth));
    assert_eq!(v.ttb_ratio, Some(3.0));
    assert!(v.failures.iter().any(|f| f.contains("first projection")));
    let v = verdict(None);
    assert_eq!(v.ttb_ratio, None);
    assert!(v.failures.iter().any(|f| f.contains("no time to budget")));
}

/// The seeded subset the targets are asserted on in CI: every family at seed 0.
fn subset() -> Filter {
    Filter {
        families: Vec::new(),
        seeds: vec![0],
    }
}

/// The families whose seed-0 case meets every one of the targets with the detectors of
/// docs/detectors.md (`cargo run --release --example detector_eval` prints the whole table). The others
/// are the measured shortfall: they run in `all_targets_on_the_seeded_subset`, ignored until
/// they pass.
const MEETS_TARGETS: &[&str] = &[
    "idle$",
    "requests$",
    "lru_warm$",
    "ttl_cache$",
    "hash_doubling$",
    "interner$",
    "preload_step$",
    "batch_flat$",
    "daily_cycle$",
    "near_budget$",
    "rss_follows$",
    "trace_moka$",
    "trace_lru$",
    "trace_quick_cache$",
    "linear_0.5$",
    "linear_1$",
    "linear_2$",
    "late_start$",
    "exponential$",
    "daily_leak$",
    "staircase$",
    "cache_bloat$",
    "linear_budget$",
    "staircase_budget$",
    "fragmentation$",
    "trace_lru_leak$",
];

/// The families all of whose eight seeds meet every target (`detector_eval`'s `pass` column at
/// 8/8): a change that pages on one more healthy case of them, or misses one more leak, fails
/// [`targets_on_every_seed_of_the_families_that_meet_them`].
const MEETS_TARGETS_AT_EVERY_SEED: &[&str] = &[
    "idle$",
    "requests$",
    "lru_warm$",
    "interner$",
    "preload_step$",
    "batch_flat$",
    "daily_cycle$",
    "near_budget$",
    "rss_follows$",
    "staircase$",
    "cache_bloat$",
    "linear_budget$",
];

fn verdict_failures(filter: Filter) -> (usize, Vec<String>) {
    let verdicts = judge_all(&filter.cases(), 2);
    let failing = verdicts
        .iter()
        .filter(|v| !v.failures.is_empty())
        .map(|v| format!("{}:\n    {}", v.name, v.failures.join("\n    ")))
        .collect();
    (verdicts.len(), failing)
}

/// Asserts that every case of `families` (patterns, as [`Filter`] reads them, each matching one
/// family) at `seeds` meets every target, and that there is one case for each.
fn every_case_meets_every_target(families: &[&str], seeds: &[u64]) {
    let filter = Filter {
        families: families.iter().map(|f| f.to_string()).collect(),
        seeds: seeds.to_vec(),
    };
    let (n, failing) = verdict_failures(filter);
    assert_eq!(n, families.len() * seeds.len());
    assert!(
        failing.is_empty(),
        "{} of {n} cases miss a target:\n{}",
        failing.len(),
        failing.join("\n")
    );
}

/// Asserts that the one case `family/seed` meets every target.
fn meets_every_target(family: &str, seed: u64) {
    every_case_meets_every_target(&[&format!("{family}$")], &[seed]);
}

/// The targets (zero false alarms, every leak found with its type within its deadline,
/// one opening per type, no severity flaps, time to budget within 2×, call sites kept) on the
/// families of [`MEETS_TARGETS`] at seed 0, through the replay `leakscope analyze` runs.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised take minutes: CI runs it in its release test step"
)]
fn targets_on_the_seeded_subset() {
    every_case_meets_every_target(MEETS_TARGETS, &[0]);
}

/// [`targets_on_the_seeded_subset`] on all eight seeds of [`MEETS_TARGETS_AT_EVERY_SEED`].
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised take minutes: CI runs it in its release test step"
)]
fn targets_on_every_seed_of_the_families_that_meet_them() {
    every_case_meets_every_target(MEETS_TARGETS_AT_EVERY_SEED, &[0, 1, 2, 3, 4, 5, 6, 7]);
}

/// A hash map still filling at 2 MB/min in its second hour, decelerating (it added 156 MB in
/// minutes 16–46, 67 MB in 46–76 and 57 MB in 76–106), whose table doubles at minute 106: the
/// gradual detector compares a span with the two before it, and the fill is no leak.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a day of replay unoptimised: CI runs it in release"
)]
fn a_decelerating_hash_fill_is_no_leak() {
    meets_every_target("hash_doubling", 1);
}

/// A 5 MB/min leak that begins 51 minutes in, on an LRU that settled about half an hour in and
/// evicts in a sawtooth wider than the smallest spike: found within its 20 minutes, because the
/// warm-up ends where the floor held level for a detection window, not only where it held
/// still for half of one (then it waited for the whole hour's allowance: found after 24 min).
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "hours of replay unoptimised: CI runs it in release"
)]
fn a_leak_beginning_in_the_first_hour_on_a_warm_lru_is_found_on_time() {
    meets_every_target("linear_5", 3);
}

/// Requests in flight without entries, held for a few minutes, raise a cache's bytes per entry in
/// the last third of the detection window only: a 50 MB burst of 2.5 minutes a day into a
/// preloaded LRU, and a 10-minute ramp of 45 MB on the second day of a session store following
/// the daily load, are no CacheBloat (each opened one before bloat asked each third of the window
/// to raise bytes per entry).
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised: CI runs it in release"
)]
fn a_burst_of_requests_without_entries_is_no_bloat() {
    meets_every_target("preload_step", 6);
    meets_every_target("daily_cycle", 7);
}

/// A bloat of 1.7 MB/min under request noise is one CacheBloat leak all day: it stays open as
/// the scope passes a GB (the configured window and baseline alone show less than the 10% of the
/// scope bloat asks for, and the leak resolved at minute 494 and reopened), and the floor rising
/// with it as Low GradualGrowth is the same memory, not a second leak (it opened at minute 757).
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a day of replay unoptimised: CI runs it in release"
)]
fn a_day_of_bloat_under_requests_is_one_leak() {
    meets_every_target("cache_bloat", 1);
}

/// The same targets on every family at seed 0. Lists every case that misses one, with what it
/// missed.
#[test]
#[ignore = "6 of 32 families miss a target at seed 0 (5 and 20 MB/min latency, batch sawtooth, \
            exponential with a budget, the memo trace, the moka TTL trace: run the detector_eval \
            example for the table); targets_on_the_seeded_subset asserts the rest"]
fn all_targets_on_the_seeded_subset() {
    let (n, failing) = verdict_failures(subset());
    assert!(
        failing.is_empty(),
        "{} of {n} cases miss a target:\n{}",
        failing.len(),
        failing.join("\n")
    );
}

/// The allocator's own warm-up after start (arenas, thread caches, the pages of early peaks:
/// 20–150 MB settling into RSS over 10 minutes to 2 hours) beside flat tracked bytes is no
/// Fragmentation: it opened one 15 minutes in (the gap already 1.6× tracked from the start) and
/// one 57 minutes in, before fragmentation's evidence had to start past the first baseline
/// window and a gap that slows was held.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a day of replay unoptimised: CI runs it in release"
)]
fn an_allocator_warming_up_after_start_is_no_fragmentation() {
    meets_every_target("rss_follows", 7);
    meets_every_target("rss_follows", 0);
}

/// Fragmentation beside the allocator's own warm-up keeps its severity until RSS reaches 3×
/// tracked. Seed 7: 76 MB of a huge request's pages kept at minute 33 sat in the last third of
/// the half-window span, the only span not starting in the warm-up, and raised it to Medium at
/// minute 36 (the longer spans read 4.4 MB/min): Low, Medium, Low, Medium. Seed 1: at 15
/// minutes the gap grew 7.2, 5.4 and 4.8 MB/min in the thirds of the first span, a 2.7 MB/min
/// leak under a settling allocator, and the median said Medium, Low from minute 89.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a day of replay unoptimised: CI runs it in release"
)]
fn fragmentation_under_a_settling_allocator_keeps_one_severity() {
    meets_every_target("fragmentation", 7);
    meets_every_target("fragmentation", 1);
}

/// A cold LRU that fills 300 MB in its first ten minutes (30 MB/min, misses at five times the
/// steady rate), its eviction sawtooth then swinging the floor by 30 MB around the top for 24
/// minutes, and a 5 MB/min leak from minute 34: no stretch was still within G/20 or level for a
/// whole window, so evidence waited for the full hour after start and the leak was found 41.6
/// minutes in (deadline 20). A fast fill whose floor then moves at less than a tenth of its rate
/// for half a window has stopped, and what rises after it is not the fill.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "half a day of replay unoptimised: CI runs it in release"
)]
fn a_leak_after_a_fast_fill_stopped_is_found_in_time() {
    meets_every_target("linear_5", 4);
}

/// A staircase of 60 MB an hour is a 1 MB/min leak at every step. Its rate used to be the rise
/// since the first step of the fit, and where the fit split one step in two (19 MB minutes
/// before the other 55 MB) that made it 5.3 MB/min over a 58-minute span: Medium for a while,
/// then Low again (staircase/0 at minute 660, staircase/5 at 269). The rate is now the rise over
/// the span the summary states, and each leak keeps one severity.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "a day of replay unoptimised: CI runs it in release"
)]
fn a_staircase_keeps_one_severity() {
    no_severity_reverses(&[(Family::Staircase, 0), (Family::Staircase, 5)]);
}

/// Asserts that no leak of `cases` has a severity change reversing the one before.
fn no_severity_reverses(cases: &[(Family, u64)]) {
    for v in judge_all(cases, 2) {
        assert_eq!(v.severity_flaps, 0, "{}: {:#?}", v.name, v.events);
    }
}

/// A severity rose at once and fell only after a window, so a rate read over a short span that
/// crossed a bar for minutes was a reversal: a staircase's step lifting a 14-minute span to
/// 5.9–8.5 MB/min (Low → Medium → Low on held-out staircase/13 and /15), a 2 MB/min leak read at
/// 5.4 (linear_2/13), and a budget an hour away projected on either side of the hour by spans
/// of different lengths (Medium → Critical → Medium → Critical, linear_budget/12). A higher
/// severity must now be asked for over the evidence it rests on (a Critical projection counts
/// at once), and a Critical leak projected within twice the critical horizon stays Critical.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised: CI runs it in release"
)]
fn a_higher_severity_holds_over_its_evidence_before_it_is_reported() {
    no_severity_reverses(&[
        (Family::Staircase, 13),
        (Family::Staircase, 15),
        (Family::Linear2, 13),
        (Family::LinearBudget, 12),
        (Family::LinearBudget, 15),
    ]);
}

/// A projected budget is a reason to report only in a scope that keeps what it gains: a TTL
/// cache's level follows its load and gives each surge back, and with a budget 1.25–3 times its
/// peak every surge of 10–50 MB over half an hour projected the budget within a day (all 24
/// `ttl_budget` cases at seeds 0..24 paged, 68 false alarms). These three had no false alarm
/// but the budget rule's.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised: CI runs it in release"
)]
fn a_budget_is_no_reason_where_the_level_gives_its_surges_back() {
    every_case_meets_every_target(&["ttl_budget$"], &[7, 9, 23]);
}

/// A TTL cache's level is its insert rate averaged over one TTL, and a load surge moves it by
/// 50–100 MB over several minutes to a level it keeps for an hour: the flatness rules of a settled
/// step passed four such shifts in ttl_cache/3 (at minutes 647, 1216, 2668 and 3462). A step must
/// reach most of its height within a rapid window; no TTL case is a step.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised: CI runs it in release"
)]
fn a_ttl_cache_surge_is_no_settled_step() {
    let cases: Vec<_> = (0..8).map(|seed| (Family::TtlCache, seed)).collect();
    no_event_where(&cases, |e, _| e.summary.contains("stepped up"));
}

/// Asserts that no event of `cases` is `bad`, which is also given the case's leak start
/// (infinite for a healthy case), and names the events that are.
fn no_event_where(cases: &[(Family, u64)], bad: impl Fn(&Event, f64) -> bool) {
    for (v, &(family, seed)) in judge_all(cases, 2).iter().zip(cases) {
        let start = match family.case(seed).truth {
            Truth::Leak { start_secs, .. } => start_secs,
            Truth::Healthy { .. } => f64::INFINITY,
        };
        let found: Vec<_> = v
            .events
            .iter()
            .filter(|e| bad(e, start))
            .map(|e| (e.t / 60.0, &e.summary))
            .collect();
        assert!(found.is_empty(), "{}: {found:#?}", v.name);
    }
}

/// A TTL cache filling for its first TTL (about three hours) while its load wanders: late_start/1
/// rose 86 MB in its first hour, 23 then 49 MB a half (no fill at one rate within 1.4×), and at
/// 180 minutes an exponential fit's rate now (2.1 MB/min) ran ahead of the fill's 1.5 MB/min
/// although the span's mean was 1.4; late_start/3's halves were 17 and 13 MB. Each opened a
/// GradualGrowth Low hours before its leak began; a fill is now read with halves within 2× and
/// the growth's mean rate as well as its rate now.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "hours of replay unoptimised: CI runs it in release"
)]
fn a_ttl_fill_under_a_wandering_load_is_held_as_a_fill() {
    let cases = [(Family::LateStart, 1), (Family::LateStart, 3)];
    for v in judge_all(&cases, 2) {
        let early: Vec<_> = v
            .false_alarms
            .iter()
            .filter(|e| e.t < 240.0 * 60.0)
            .map(|e| (e.t / 60.0, &e.summary))
            .collect();
        assert!(early.is_empty(), "{}: {early:#?}", v.name);
    }
}

/// A 5 MB/min leak that begins 37–46 minutes in, on a scope still filling at 2–3 MB/min: the
/// warm-up allowance held all evidence back to minute 60, and the leak was found 30–39 minutes
/// after it began against a deadline of 20. Growth at R or faster that outpaces the fill's mean
/// rate twice over is read inside the allowance.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised: CI runs it in release"
)]
fn a_leak_that_outpaces_the_warm_up_fill_is_found_in_it() {
    for seed in [5, 7] {
        meets_every_target("linear_5", seed);
    }
}

/// A 20 MB/min leak that began a minute into the rapid window rose in each third of its own
/// minutes but not in the window's first third, so it was found 5.8 minutes after it began
/// against a deadline of 5.3 (the time it takes to add G). The thirds are now of the CUSUM's
/// run.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised: CI runs it in release"
)]
fn a_fast_leak_is_read_from_where_its_rise_began() {
    meets_every_target("linear_20", 2);
}

/// The free ratio as a growth report states it: "freed NOW of what it allocated, was BEFORE".
fn stated_free_ratio(summary: &str) -> Option<(f64, f64)> {
    let rest = summary.split("; freed ").nth(1)?;
    let (now, rest) = rest.split_once(" of what it allocated, was ")?;
    let before = rest
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()?;
    Some((now.parse().ok()?, before.parse().ok()?))
}

/// Retention evidence (docs/detectors.md) on the corpus's own inserts and evictions: every
/// 20 MB/min leak's first report says its scope frees at least a tenth less of what it
/// allocates than over the window before, and a warm LRU at capacity frees what it takes
/// (within 3% over every two hours past its first four), so it has nothing to report.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised: CI runs it in release"
)]
fn a_leak_reports_what_it_stopped_giving_back_and_a_full_cache_gives_back_what_it_takes() {
    for seed in 0..8 {
        let case = Family::Linear20.case(seed);
        let run = leakscope_corpus::judge::run(&case);
        let first = run
            .events
            .iter()
            .find(|e| e.what == "new" && e.alarm)
            .unwrap_or_else(|| panic!("{}: no report", case.name));
        let (now, before) = stated_free_ratio(&first.summary)
            .unwrap_or_else(|| panic!("{}: no free ratio in {:?}", case.name, first.summary));
        assert!(before - now >= 0.1, "{}: {}", case.name, first.summary);
    }
    let window = (2.0 * 3600.0 / INTERVAL) as usize;
    for seed in 0..8 {
        let case = Family::LruWarm.case(seed);
        // Each component's allocations less its frees are its net change: over the series
        // they add up to the change in bytes, to within the truncation of three counters a
        // snapshot.
        let net: i128 = case.series[1..]
            .iter()
            .map(|s| i128::from(s.bytes_allocated) - i128::from(s.bytes_freed))
            .sum();
        let (first, last) = (&case.series[0], &case.series[case.series.len() - 1]);
        let change = i128::from(last.curr_bytes) - i128::from(first.curr_bytes);
        assert!(
            (net - change).abs() <= 3 * case.series.len() as i128,
            "{}: {net} against {change}",
            case.name
        );
        let past = (4.0 * 3600.0 / INTERVAL) as usize;
        for w in case.series[past..].chunks_exact(window) {
            let ratio = Churn::over(w).and_then(|c| c.free_ratio).unwrap();
            assert!((0.97..=1.03).contains(&ratio), "{}: {ratio}", case.name);
        }
    }
}

/// A 200 MB request whose pages the allocator keeps and returns over 20 minutes, on the second
/// day of a process whose gap had drifted up 15 MB in the hour before: at the end of a span the
/// decaying tail stands far above where the gap was, every third of the span rises, and it
/// opened a Fragmentation 20 minutes after the request (with the 1.5× rule as well). A gap
/// falling from its recent high now keeps an open finding and opens none.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "three days of replay unoptimised: CI runs it in release"
)]
fn pages_of_a_huge_request_given_back_are_no_fragmentation() {
    meets_every_target("rss_follows", 1);
}

/// The corpus models the sampler's age profile from what each component keeps: memory held
/// since start is all old once 100 intervals have passed (exactly: no sample can be young), a
/// leak's never-freed memory dominates the oldest share by the end of a day, and every profile
/// is a share that does not rise with age.
#[test]
fn the_age_profile_shows_what_each_component_keeps() {
    let idle = Family::Idle.case(0);
    assert_eq!(
        idle.series[0].live_age,
        Some([0, 0, 0]),
        "nothing is old at start"
    );
    assert_eq!(idle.series[15].live_age, Some([10_000, 10_000, 0]));
    assert!(idle.series[100..]
        .iter()
        .all(|s| s.live_age == Some([10_000, 10_000, 10_000])));
    for family in [
        Family::TtlCache,
        Family::LruWarm,
        Family::BatchFlat,
        Family::Linear2,
    ] {
        for seed in 0..2 {
            let case = family.case(seed);
            for s in &case.series {
                let [a, b, c] = s
                    .live_age
                    .unwrap_or_else(|| panic!("{}: no profile", case.name));
                assert!(
                    a >= b && b >= c && a <= 10_000,
                    "{}: {a} {b} {c}",
                    case.name
                );
            }
        }
    }
    for seed in 0..4 {
        let case = Family::Linear2.case(seed);
        // About 2.7 GB leaked over a day at 2 MB/min, all but its last 100 MB older than 100
        // intervals, on a cache of at most 400 MB and a level of at most 300 MB.
        let last = case.series.last().unwrap().live_older_than().unwrap();
        assert!(last[2] >= 0.75, "{}: {last:?}", case.name);
    }
}

/// Requests in flight hold bytes in proportion to the traffic (Little's law), and so the
/// scope's allocations rise with them: a surge raises bytes with the entries flat, and on
/// held-out seeds that opened CacheBloat on a warm LRU two days in (lru_warm/22, 2,700 min), on
/// a preloaded LRU 39 minutes in (preload_step/23) and on TTL caches whose traffic rose at night
/// (ttl_cache/13, /16, /18: the residual rose 17–38 MB while the allocation rate rose up to 10×).
/// The part of the residual the allocation rate explains over the baseline is now taken out.
/// ttl_cache/16 opens it again since the corpus models the request mix (the allocation rate
/// measures the traffic only roughly, and the fit explains less of the surge): a measured
/// shortfall, docs/detectors.md ("CacheBloat").
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised: CI runs it in release"
)]
fn bytes_that_follow_the_traffic_are_no_bloat() {
    meets_every_target("lru_warm", 22);
    meets_every_target("preload_step", 23);
    no_event_where(&[(Family::TtlCache, 13), (Family::TtlCache, 18)], |e, _| {
        e.ty == LeakType::CacheBloat
    });
}

/// A first day's daily ramp climbs 120–170 MB over eight hours (0.26–0.35 MB/min) with nothing
/// earlier to compare it with; growth of G over a long span opened a GradualGrowth on it
/// (daily_cycle/12, /14 and /23 on held-out seeds, and ttl_cache/20's slow climb under its
/// load). A long span now opens only at the slow rule's pace, G/2 per four detection windows.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised: CI runs it in release"
)]
fn a_first_days_ramp_slower_than_any_target_is_no_leak() {
    for seed in [12, 14, 23] {
        meets_every_target("daily_cycle", seed);
    }
    meets_every_target("ttl_cache", 20);
}

/// A TTL cache's level moves between load regimes hours apart: two steps of 18–68 MB over 7–16
/// hours (0.1–0.15 MB/min) read as a staircase and opened a GradualGrowth (ttl_cache/7 on the
/// default seeds; ttl_cache/10, /22, /23 and late_start/8, /16 before its leak on held-out
/// ones). A staircase now needs the slow rule's pace too, unless it heads for a budget.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised: CI runs it in release"
)]
fn steps_hours_apart_slower_than_any_target_are_no_staircase() {
    let cases = [
        (Family::TtlCache, 7),
        (Family::TtlCache, 10),
        (Family::TtlCache, 22),
        (Family::TtlCache, 23),
        (Family::LateStart, 8),
        (Family::LateStart, 16),
    ];
    no_event_where(&cases, |e, start| {
        e.alarm && e.t < start && e.summary.contains("in steps of")
    });
}

/// A 20 MB/min leak that begins just after a cold cache filled and settled: the baseline is a
/// curve, and its residuals around one line (σ̂ 37 MB) made a 4σ̂ "noise" of 150 MB that the
/// leak's first 100 MB did not pass, so linear_20/9 (held-out) waited 11.8 minutes for
/// GradualGrowth against a deadline of 5.3. The baseline's rate and noise now come from its
/// newer half when that is the better line.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "hours of replay unoptimised: CI runs it in release"
)]
fn a_fast_leak_just_after_a_fill_is_read_against_the_settled_baseline() {
    meets_every_target("linear_20", 9);
    meets_every_target("linear_20", 13);
}

/// A slow leak read near the bar that opens it stays one leak: half that growth keeps it open.
/// Each of these opened twice (the finding lapsed for a detection window and more, and the leak
/// resolved, to open again minutes later).
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "days of replay unoptimised: CI runs it in release"
)]
fn a_slow_leak_near_its_bar_stays_one_leak() {
    meets_every_target("linear_0.5", 86);
    meets_every_target("linear_0.5", 87);
    meets_every_target("daily_leak", 57);
    meets_every_target("exponential_budget", 59);
}

/// A huge request held for one snapshot in the baseline is no level the scope gave back: each of
/// these was blocked by one (RapidGrowth's given-back rule on the raw floor) and found late by
/// GradualGrowth, 9–13 minutes after its start against deadlines of 5.0–5.5.
#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "hours of replay unoptimised: CI runs it in release"
)]
fn a_request_held_for_one_snapshot_is_no_level_given_back() {
    meets_every_target("linear_20", 21);
    meets_every_target("linear_20", 62);
    meets_every_target("linear_20", 71);
}
