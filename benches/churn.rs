//! What churn monitoring costs: two collectors over the same 1,000 scopes, one with
//! `enable_churn_monitoring` on and one with it off, snapshot and detection interleaved on the
//! same registry, sampling at 4 KiB so every scope has live samples and so an age profile.
//!
//! `cargo bench --bench churn` prints each collector's history memory (exact, from the rings'
//! capacities: what they hold now, and their bound at `max_snapshots_per_cache`), what the boxed
//! pressure readings of the process history add with monitoring on, and the CPU time of the
//! measured cycles (median and mean per cycle). Instruction counts, which the machine's
//! load does not change, come from callgrind: the measured cycles run inside `measured_on` and
//! `measured_off`, whose inclusive counts are the cost of each:
//!
//! ```sh
//! cargo bench --bench churn --no-run
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/churn.cg target/release/deps/churn-* --bench
//! callgrind_annotate --inclusive=yes /tmp/churn.cg | grep measured_
//! ```
//!
//! Both collectors advance the live samples' interval counter, so ages count in half-intervals
//! here; that changes the shares, not the work. Callgrind counts no kernel time: the pressure
//! reading's file reads (seven small files per snapshot) show only their user-space part.
//! `SCOPES=`, `INTERVALS=` (default 40, the last 10 measured) change the shape.

use std::hint::black_box;
use std::mem::size_of;
use std::sync::Arc;

use leakscope::analysis::Pressure;
use leakscope::{Clock, Collector, Config, ManualClock, ScopeHistory};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

/// Cycles measured at the end of the run.
const MEASURED: usize = 10;
/// Blocks each scope keeps, oldest freed first.
const KEPT: usize = 64;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The calling thread's CPU time in seconds.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the kernel knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

#[inline(never)]
fn measured_on(c: &mut Collector, now: f64) {
    // Distinct bodies, so the two are not folded into one function and callgrind tells them apart.
    black_box("on");
    black_box(c.snapshot_and_detect(now));
}

#[inline(never)]
fn measured_off(c: &mut Collector, now: f64) {
    black_box("off");
    black_box(c.snapshot_and_detect(now));
}

fn main() {
    let scopes = env("SCOPES", 1000);
    let intervals = env("INTERVALS", 40).max(MEASURED);
    let mut config = Config::default();
    config.sample_interval_bytes = 4096;
    // No runtime here, so the sampler is switched on by hand, as `start` would.
    leakscope::__configure_sampling(config.sample_interval_bytes, config.max_frames);
    let clock = Arc::new(ManualClock::new(1_700_000_000.0));
    let mut on = Collector::new(config.clone(), clock.clone());
    config.enable_churn_monitoring = false;
    let mut off = Collector::new(config.clone(), clock.clone());
    let names: Vec<String> = (0..scopes).map(|i| format!("churn_scope_{i:04}")).collect();
    let mut kept: Vec<std::collections::VecDeque<Vec<u8>>> = (0..scopes)
        .map(|_| std::collections::VecDeque::with_capacity(KEPT + 4))
        .collect();
    let (mut cpu_on, mut cpu_off) = (Vec::new(), Vec::new());
    for i in 0..intervals {
        for (s, name) in names.iter().enumerate() {
            let _g = leakscope::scope(name);
            for k in 0..4 {
                kept[s].push_back(black_box(vec![1u8; 256 + (s * 7 + k * 131) % 512]));
            }
            while kept[s].len() > KEPT {
                kept[s].pop_front();
            }
        }
        leakscope::flush();
        clock.advance(config.snapshot_interval_seconds);
        let now = clock.now();
        let measured = i + MEASURED >= intervals;
        // Alternate which collector goes first, so neither always finds the caches warm.
        for first in [i % 2 == 0, i % 2 != 0] {
            let c = if first { &mut on } else { &mut off };
            if !measured {
                black_box(c.snapshot_and_detect(now));
                continue;
            }
            let t = thread_cpu();
            if first {
                measured_on(c, now);
                cpu_on.push(thread_cpu() - t);
            } else {
                measured_off(c, now);
                cpu_off.push(thread_cpu() - t);
            }
        }
    }
    let (bytes_on, bound_on) = on.history_memory();
    let (bytes_off, bound_off) = off.history_memory();
    let per = |b: usize| b as f64 / scopes as f64;
    let limit = config.max_snapshots_per_cache;
    // The scopes and `unscoped`.
    let histories = bound_off / ScopeHistory::memory_bound(limit, false);
    println!(
        "churn monitoring, {scopes} scopes, {intervals} intervals ({MEASURED} measured), \
         sampling at 4 KiB"
    );
    let samples = leakscope::live::tracker_stats().samples_taken;
    println!("  samples taken: {samples}");
    println!(
        "  history held: on {bytes_on} B, off {bytes_off} B; on {:.0} B/scope, off {:.0} B/scope \
         ({:.4}x)",
        per(bytes_on),
        per(bytes_off),
        bytes_on as f64 / bytes_off as f64
    );
    println!(
        "  history bound at max_snapshots_per_cache = {limit}: on {bound_on} B, off {bound_off} B \
         over {histories} histories; on {:.0} B/scope, off {:.0} B/scope ({:.4}x); a history: on \
         {} B, off {} B",
        per(bound_on),
        per(bound_off),
        bound_on as f64 / bound_off as f64,
        ScopeHistory::memory_bound(limit, true),
        ScopeHistory::memory_bound(limit, false),
    );
    // The process history (one point a snapshot, not one a scope) boxes a pressure reading per
    // point with monitoring on; off, each point's `Option<Box<_>>` is the same 8 bytes.
    println!(
        "  process history with monitoring on: +{} B a point (a boxed Pressure), {} B at {} \
         points, process-wide",
        size_of::<Pressure>(),
        size_of::<Pressure>() * limit,
        limit
    );
    let ms = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (
            v[v.len() / 2] * 1e3,
            v.iter().sum::<f64>() / v.len() as f64 * 1e3,
        )
    };
    let ((med_on, mean_on), (med_off, mean_off)) = (ms(&mut cpu_on), ms(&mut cpu_off));
    println!(
        "  CPU per cycle, median (mean): on {med_on:.2} ms ({mean_on:.2}), off {med_off:.2} ms \
         ({mean_off:.2}); {:.3}x ({:.3}x)",
        med_on / med_off,
        mean_on / mean_off
    );
    drop(kept);
}
