//! What one collector cycle costs with 1,000 scopes and full history (docs/design.md §12: ≤ 50 ms of one
//! core for snapshot + detection + dump), and how much memory the collector then holds.
//!
//! `cargo bench --bench collector` (`SCOPES=`, `INTERVALS=` to change the shape, `NOISY=` for
//! how many of the scopes are large and noisy).
//!
//! The history is filled by running real cycles on a manual clock, 30 s apart, each scope
//! allocating a little every interval (a tenth of them leak). The first `NOISY` scopes (default
//! 0) also hold four buffers of 2–10 MB, one replaced every interval, so their bytes move by
//! megabytes and every detector runs on them, as on a busy cache; the rest are small and quiet
//! and take the detectors' one-pass shortcut. The timed cycles are the last ones, when every
//! history is full.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use leakscope::{Clock, Collector, Config, ManualClock};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let scopes = env("SCOPES", 1000);
    let intervals = env("INTERVALS", 1000);
    let dir = std::env::temp_dir().join(format!("leakscope-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = Config::default();
    config.dump_path = Some(dir.join("dump.json"));
    config.prometheus_path = Some(dir.join("leakscope.prom"));
    config.sample_interval_bytes = 0;
    let clock = Arc::new(ManualClock::new(1_700_000_000.0));
    let mut collector = Collector::new(config.clone(), clock.clone());
    let noisy = env("NOISY", 0).min(scopes);
    let names: Vec<String> = (0..scopes).map(|i| format!("bench_scope_{i:04}")).collect();
    // Capacity only: the pages are never touched, so a noisy scope costs address space, not RSS
    // or memset time, while leakscope counts every byte.
    let mut buffers: Vec<Vec<Vec<u8>>> = (0..noisy).map(|_| Vec::new()).collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut kept: Vec<Vec<Vec<u8>>> = (0..scopes).map(|_| Vec::new()).collect();
    let mut snapshot_ms = Vec::new();
    let self_before = leakscope::live::tracker_stats().self_bytes;
    for i in 0..intervals {
        for (s, name) in names.iter().enumerate() {
            let _g = leakscope::scope(name);
            let v = black_box(vec![0u8; 64 + s % 512]);
            if s % 10 == 0 || kept[s].len() < 8 {
                kept[s].push(v);
            }
            if let Some(held) = buffers.get_mut(s) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let size = 2_000_000 + (seed % 8_000_000) as usize;
                if held.len() >= 4 {
                    held.remove((seed >> 32) as usize % held.len());
                }
                held.push(Vec::with_capacity(size));
            }
        }
        leakscope::flush();
        clock.advance(config.snapshot_interval_seconds);
        let t = Instant::now();
        collector.snapshot_and_detect(clock.now());
        if i + 20 >= intervals {
            snapshot_ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let mut build_ms = Vec::new();
    let mut json_ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let dump = collector.build_dump();
        build_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        black_box(serde_json::to_vec(&dump).unwrap());
        json_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let mut dump_ms = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let (dumped, prom) = collector.write_files();
        dump_ms.push(t.elapsed().as_secs_f64() * 1e3);
        dumped.unwrap();
        prom.unwrap();
    }
    let dump_bytes = std::fs::metadata(dir.join("dump.json")).unwrap().len();
    let (history_bytes, history_bound) = collector.history_memory();
    let self_bytes = leakscope::live::tracker_stats().self_bytes;
    let snap = median(&mut snapshot_ms);
    let dump = median(&mut dump_ms);
    println!(
        "collector cycle, {scopes} scopes ({noisy} noisy), {intervals} intervals of history (medians)"
    );
    println!("  snapshot + detection: {snap:8.2} ms");
    println!(
        "  dump + prometheus:    {dump:8.2} ms  ({:.1} MB of JSON)",
        dump_bytes as f64 / 1e6
    );
    println!(
        "    of which: build {:.2} ms, serialize {:.2} ms, the rest is write + fsync",
        median(&mut build_ms),
        median(&mut json_ms)
    );
    println!("  one full cycle:       {:8.2} ms", snap + dump);
    println!(
        "  history: {:.1} MB held, bound {:.1} MB at max_snapshots_per_cache = {}",
        history_bytes as f64 / 1e6,
        history_bound as f64 / 1e6,
        config.max_snapshots_per_cache
    );
    println!(
        "  leakscope_self_bytes: {:.1} MB (+{:.1} MB during the run)",
        self_bytes as f64 / 1e6,
        (self_bytes - self_before) as f64 / 1e6
    );
    drop(kept);
    drop(buffers);
    let _ = std::fs::remove_dir_all(&dir);
}
