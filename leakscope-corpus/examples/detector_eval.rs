//! Judges the leak detectors on the production corpus at the default configuration and prints
//! the table per family (run from the repository root):
//!
//! ```text
//! cargo run --release --example detector_eval
//! LEAKSCOPE_CORPUS_FAMILY=linear_0.5,staircase LEAKSCOPE_CORPUS_SEEDS=0..3 \
//!     cargo run --release --example detector_eval -- --verbose
//! ```
//!
//! Columns: `FA` false alarms (events), `FAcase` cases with one, `recall` leaks found with any
//! alarm, `typed` found with an accepted type, `ontime` typed within the deadline (the time the
//! leak takes to add 100 MB, at most 2 h), `p50`/`max min` typed latency, `open/l` alarm
//! openings per leak, `sev/l` severity changes per leak, `ttb ok` time to budget within 2× at
//! detection, `pass` cases meeting every target. `--verbose` lists every event of the selected
//! cases; the failures of every case are listed after the table. `--threads N` (default: the
//! available cores, at most 4).
//!
//! The default seeds are the ones the detectors were tuned on; run
//! `LEAKSCOPE_CORPUS_SEEDS=8..24` as well before believing a change (see the crate docs,
//! "Tuning seeds and held-out seeds").

use std::time::Instant;

use leakscope_corpus::judge::{judge_all, table, Filter};
use leakscope_corpus::production::SEEDS;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "--verbose" || a == "-v");
    let threads = args
        .iter()
        .position(|a| a == "--threads")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(4)
        });
    let filter = match Filter::from_env(SEEDS) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("detector_eval: {e}");
            std::process::exit(2);
        }
    };
    let cases = filter.cases();
    let started = Instant::now();
    let verdicts = judge_all(&cases, threads);
    let secs = started.elapsed().as_secs_f64();
    let days: f64 = verdicts.iter().map(|v| v.duration_secs).sum::<f64>() / 86400.0;
    println!(
        "== production corpus at the default configuration: {} cases, {days:.0} simulated \
         scope-days, {secs:.1} s on {threads} threads\n",
        verdicts.len()
    );
    println!("{}", table(&verdicts));
    let failing: Vec<_> = verdicts.iter().filter(|v| !v.failures.is_empty()).collect();
    if !failing.is_empty() {
        println!("cases missing a target ({}):", failing.len());
        for v in &failing {
            println!("  {}", v.name);
            for f in v.failures.iter().take(4) {
                println!("    {f}");
            }
            if v.failures.len() > 4 {
                println!("    ... and {} more", v.failures.len() - 4);
            }
        }
    }
    if verbose {
        for v in &verdicts {
            println!("\n{} events:", v.name);
            for e in &v.events {
                println!(
                    "  {:>8.1} min {:<8} {:?} {:?} {}",
                    e.t / 60.0,
                    e.what,
                    e.ty,
                    e.severity,
                    e.summary
                );
            }
        }
    }
}
