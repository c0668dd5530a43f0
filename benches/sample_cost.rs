//! What one sampled allocation costs its thread: the stack walk (`backtrace`'s DWARF unwinder),
//! the slot and the send, measured as the difference between allocating with every allocation
//! sampled (`sample_interval_bytes = 1`) and with sampling off, at a given stack depth.
//!
//! `cargo bench --bench sample_cost` (`DEPTH=` extra frames, default 20).

use std::hint::black_box;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

const BATCH: usize = 200;
const BATCHES: usize = 100;

/// Allocates `BATCH` blocks `depth` frames down, timing only the allocations.
#[inline(never)]
fn at_depth(depth: usize, kept: &mut Vec<Vec<u8>>) -> Duration {
    if depth > 0 {
        return black_box(at_depth(depth - 1, kept));
    }
    let t = Instant::now();
    for _ in 0..BATCH {
        kept.push(black_box(vec![0u8; 64]));
    }
    t.elapsed()
}

/// Nanoseconds per allocation with sampling at `interval` (0: off).
fn ns_per_alloc(interval: u64, depth: usize) -> f64 {
    leakscope::__configure_sampling(interval, 64);
    let mut total = Duration::ZERO;
    let mut kept = Vec::with_capacity(BATCH);
    for _ in 0..BATCHES {
        total += at_depth(depth, &mut kept);
        // Untimed: apply the samples (the sample channel holds 256) and free the blocks.
        leakscope::flush();
        kept.clear();
    }
    leakscope::__configure_sampling(0, 64);
    total.as_nanos() as f64 / (BATCH * BATCHES) as f64
}

fn main() {
    let depth: usize = std::env::var("DEPTH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut off = Vec::new();
    let mut on = Vec::new();
    for _ in 0..7 {
        off.push(ns_per_alloc(0, depth));
        on.push(ns_per_alloc(1, depth));
    }
    off.sort_by(f64::total_cmp);
    on.sort_by(f64::total_cmp);
    let (off, on) = (off[3], on[3]);
    let t = leakscope::live::tracker_stats();
    println!(
        "one sample at ~{} frames: {:.0} ns ({:.0} ns sampled vs {:.0} ns unsampled per allocation, \
         medians of 7 interleaved rounds; {} samples taken, {} dropped)",
        depth + 8,
        on - off,
        on,
        off,
        t.samples_taken,
        t.samples_dropped
    );
}
