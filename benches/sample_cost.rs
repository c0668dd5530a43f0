//! What one sampled allocation costs its thread: the stack walk (the frame-pointer walk when the
//! build has frame pointers, else `backtrace`'s DWARF unwinder), the slot and the send, measured
//! as the difference between allocating with every allocation sampled
//! (`sample_interval_bytes = 1`) and with sampling off, at a given stack depth.
//!
//! ```text
//! cargo bench --bench sample_cost                                          # DWARF
//! RUSTFLAGS="-C force-frame-pointers=yes" CARGO_TARGET_DIR=target/fp \
//!     cargo bench --bench sample_cost                                      # frame pointers
//! ```
//!
//! Knobs: `DEPTH=` extra frames (default 20, so the stack is deeper than the frames kept),
//! `FRAMES=` frames kept per sample (`max_frames`, default 25 as in `Config::default()`),
//! `ROUNDS=` interleaved rounds (default 7; 1 under callgrind, where `sampler::begin`'s inclusive
//! cost over its calls is the instructions of one sample).

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

/// Nanoseconds per allocation with sampling at `interval` (0: off), keeping `frames` frames.
fn ns_per_alloc(interval: u64, depth: usize, frames: usize) -> f64 {
    leakscope::__configure_sampling(interval, frames);
    let mut total = Duration::ZERO;
    let mut kept = Vec::with_capacity(BATCH);
    for _ in 0..BATCHES {
        total += at_depth(depth, &mut kept);
        // Untimed: apply the samples (the sample channel holds 256) and free the blocks.
        leakscope::flush();
        kept.clear();
    }
    leakscope::__configure_sampling(0, frames);
    total.as_nanos() as f64 / (BATCH * BATCHES) as f64
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let depth = env("DEPTH", 20);
    let frames = env("FRAMES", 25);
    let rounds = env("ROUNDS", 7).max(1);
    let mut off = Vec::new();
    let mut on = Vec::new();
    for _ in 0..rounds {
        off.push(ns_per_alloc(0, depth, frames));
        on.push(ns_per_alloc(1, depth, frames));
    }
    off.sort_by(f64::total_cmp);
    on.sort_by(f64::total_cmp);
    let (off, on) = (off[rounds / 2], on[rounds / 2]);
    let t = leakscope::live::tracker_stats();
    let (fp, dwarf) = leakscope::__stack_walks();
    println!(
        "one sample, {frames} of ~{} frames kept: {:.0} ns ({:.0} ns sampled vs {:.0} ns unsampled \
         per allocation, medians of {rounds} interleaved rounds; {} samples taken, {} dropped; \
         stacks by frame-pointer walk {fp}, by DWARF {dwarf})",
        depth + 8,
        on - off,
        on,
        off,
        t.samples_taken,
        t.samples_dropped
    );
}
