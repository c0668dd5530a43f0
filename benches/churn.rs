//! What churn monitoring costs: two collectors over the same 1,000 scopes, one with
//! `enable_churn_monitoring` on and one with it off, snapshot and detection interleaved on the
//! same registry, sampling at 4 KiB so every scope has live samples and so an age profile.
//!
//! `cargo bench --bench churn` prints each collector's history memory (exact, from the rings'
//! capacities) and the CPU time of its measured cycles. Instruction counts, which the machine's
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
use std::sync::Arc;

use leakscope::{Clock, Collector, Config, ManualClock};

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
    let (mut cpu_on, mut cpu_off) = (0.0, 0.0);
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
                cpu_on += thread_cpu() - t;
            } else {
                measured_off(c, now);
                cpu_off += thread_cpu() - t;
            }
        }
    }
    let (bytes_on, bound_on) = on.history_memory();
    let (bytes_off, bound_off) = off.history_memory();
    let per = |b: usize| b as f64 / scopes as f64;
    println!(
        "churn monitoring, {scopes} scopes, {intervals} intervals ({MEASURED} measured), \
         sampling at 4 KiB"
    );
    let samples = leakscope::live::tracker_stats().samples_taken;
    println!("  samples taken: {samples}");
    println!(
        "  history held: on {:.0} B/scope, off {:.0} B/scope ({:.4}x)",
        per(bytes_on),
        per(bytes_off),
        bytes_on as f64 / bytes_off as f64
    );
    println!(
        "  history bound at max_snapshots_per_cache = {}: on {:.0} B/scope, off {:.0} B/scope \
         ({:.4}x)",
        config.max_snapshots_per_cache,
        per(bound_on),
        per(bound_off),
        bound_on as f64 / bound_off as f64
    );
    println!(
        "  CPU per cycle: on {:.2} ms, off {:.2} ms ({:.3}x)",
        cpu_on / MEASURED as f64 * 1e3,
        cpu_off / MEASURED as f64 * 1e3,
        cpu_on / cpu_off
    );
    drop(kept);
}
