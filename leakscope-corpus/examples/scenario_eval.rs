//! Measures the leak detectors on the short scenario corpus (`leakscope_corpus::scenarios`):
//! recall, precision, false alarms per simulated scope-week and detection latency, per leak type
//! and per scenario. The production corpus' table is `detector_eval`.
//!
//! ```text
//! cargo run --release --example scenario_eval
//! ```
//!
//! Every scenario is simulated as the collector runs: the detectors after every snapshot over
//! the history it holds (1,000 recent snapshots plus one in ten before them), then the leak
//! lifecycle (2 consecutive runs to raise). Latency is in simulated minutes from the leak's start
//! to its report. "recall" counts a leak reported with any acceptable type, "typed" with its
//! labelled type (PeriodicSpike must reach High: rising minima). Three configurations:
//! 1. the corpus configuration (the defaults with a 10 MB growth gate, see `corpus_config`):
//!    snapshots every 10 and 30 s at three noise levels and three seeds, and every 1 s at the
//!    middle noise level and one seed (a 1 s run is ten times as many snapshots);
//! 2. the plain defaults (100 MB growth gate), one seed at 10 and 30 s;
//! 3. the corpus compressed 60× in time and 8× in bytes under the matching demo configuration
//!    (a 30-second detection window, snapshots every 0.5 s or faster), one seed at 10 and 30 s.

use std::time::Instant;

use leakscope::Config;
use leakscope_corpus::scenarios::{
    corpus_config, default_config, demo_config, run_corpus, table, Expect, Judged, Kind,
    DEMO_BYTES, DEMO_TIME,
};

/// A titled configuration, with the corpus scale it runs on.
type Run<'a> = (
    &'a str,
    &'a (dyn Fn(f64) -> Config + Sync),
    Option<(f64, f64)>,
);

fn report(title: &str, judged: &[Judged], secs: f64) {
    println!("== {title}: {} scenarios, {secs:.1} s\n", judged.len());
    println!("{}", table(judged));
    let wrong: Vec<String> = judged
        .iter()
        .flat_map(|j| {
            j.verdict.wrong.iter().map(move |e| {
                format!(
                    "  {} at minute {:.1}: {:?} {:?}",
                    j.name, e.minute, e.ty, e.severity
                )
            })
        })
        .collect();
    if !wrong.is_empty() {
        println!("wrong reports ({}):", wrong.len());
        for w in &wrong {
            println!("{w}");
        }
        println!();
    }
    let untyped: Vec<&str> = judged
        .iter()
        .filter(|j| matches!(j.expect, Expect::Leak { .. }) && j.verdict.typed_after_min.is_none())
        .map(|j| j.name.as_str())
        .collect();
    if !untyped.is_empty() {
        println!(
            "leaks not reported with their labelled type ({}): {}\n",
            untyped.len(),
            untyped.join(", ")
        );
    }
}

fn main() {
    let mut kinds = Kind::leaks();
    kinds.extend(Kind::non_leaks());
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    let noises = [0, 1, 2];
    let all = Instant::now();

    let started = Instant::now();
    let mut judged = run_corpus(&kinds, &[1.0], &[1], &[1], None, &corpus_config, threads);
    judged.extend(run_corpus(
        &kinds,
        &[10.0, 30.0],
        &noises,
        &[1, 2, 3],
        None,
        &corpus_config,
        threads,
    ));
    report(
        "corpus configuration (defaults, memory_growth_threshold_mb = 10)",
        &judged,
        started.elapsed().as_secs_f64(),
    );

    let others: [Run; 2] = [
        (
            "plain defaults (memory_growth_threshold_mb = 100)",
            &default_config,
            None,
        ),
        (
            "demo scale (time / 60, bytes / 8, 30 s detection window)",
            &demo_config,
            Some((DEMO_TIME, DEMO_BYTES)),
        ),
    ];
    for (title, config, scale) in others {
        let started = Instant::now();
        let judged = run_corpus(&kinds, &[10.0, 30.0], &noises, &[1], scale, config, threads);
        report(title, &judged, started.elapsed().as_secs_f64());
    }
    println!("total {:.1} s", all.elapsed().as_secs_f64());
}
