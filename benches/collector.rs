//! What one collector cycle costs with 1,000 scopes and full history (docs/design.md §12: ≤ 50 ms of one
//! core for snapshot + detection + dump), and how much memory the collector then holds.
//!
//! `cargo bench --bench collector` (`SCOPES=`, `INTERVALS=` to change the shape, `NOISY=` for
//! how many of the scopes are large and noisy, `KEEP=1` to keep the dump and Prometheus files
//! it wrote and print where they are).
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

/// This thread's CPU time in milliseconds.
fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
}

/// Runs `f`, recording its wall and CPU milliseconds in `phase`.
fn timed<T>(phase: &mut (&str, Vec<f64>, Vec<f64>), f: impl FnOnce() -> T) -> T {
    let (t, cpu) = (Instant::now(), thread_cpu_ms());
    let out = f();
    phase.1.push(t.elapsed().as_secs_f64() * 1e3);
    phase.2.push(thread_cpu_ms() - cpu);
    out
}

/// With `PERF_CTL` naming `perf record --control=fifo:...`'s control fifo (and `-D -1`), starts
/// the recording here, so a profile holds the file-writing rounds only.
fn perf_enable() {
    if let Ok(path) = std::env::var("PERF_CTL") {
        std::fs::write(path, "enable\n").unwrap();
    }
}

/// One of the timed snapshots, apart so that `valgrind --tool=callgrind
/// --toggle-collect='*measured_snapshot*'` counts only those (the last 20, on a full history).
#[inline(never)]
fn measured_snapshot(collector: &mut Collector, now: f64) {
    black_box(collector.snapshot_and_detect(now));
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
    let mut snapshot_cpu_ms = Vec::new();
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
        if i + 20 >= intervals {
            let (t, cpu) = (Instant::now(), thread_cpu_ms());
            measured_snapshot(&mut collector, clock.now());
            snapshot_ms.push(t.elapsed().as_secs_f64() * 1e3);
            snapshot_cpu_ms.push(thread_cpu_ms() - cpu);
        } else {
            collector.snapshot_and_detect(clock.now());
        }
    }
    // Each phase of the files alone, wall clock and this thread's CPU time (fsync waits for the
    // disk without using the core: the 50 ms budget is of one core).
    let dump_path = dir.join("dump.json");
    let prom_path = dir.join("leakscope.prom");
    let mut phases: [(&str, Vec<f64>, Vec<f64>); 5] = [
        ("build", Vec::new(), Vec::new()),
        ("serialize", Vec::new(), Vec::new()),
        ("prometheus text", Vec::new(), Vec::new()),
        (
            "write_dump (serialize + write + fsync)",
            Vec::new(),
            Vec::new(),
        ),
        (
            "write_prometheus (text + write + fsync)",
            Vec::new(),
            Vec::new(),
        ),
    ];
    let mut dump_ms = Vec::new();
    let mut dump_cpu_ms = Vec::new();
    perf_enable();
    for _ in 0..env("ROUNDS", 5) {
        let dump = timed(&mut phases[0], || collector.build_dump());
        timed(&mut phases[1], || {
            black_box(serde_json::to_vec(&dump).unwrap())
        });
        timed(&mut phases[2], || {
            black_box(leakscope::dump::prometheus_text(&dump))
        });
        timed(&mut phases[3], || {
            leakscope::dump::write_dump(&dump_path, &dump).unwrap()
        });
        timed(&mut phases[4], || {
            leakscope::dump::write_prometheus(&prom_path, &dump).unwrap()
        });
        let (t, cpu) = (Instant::now(), thread_cpu_ms());
        let (dumped, prom) = collector.write_files();
        dump_ms.push(t.elapsed().as_secs_f64() * 1e3);
        dump_cpu_ms.push(thread_cpu_ms() - cpu);
        dumped.unwrap();
        prom.unwrap();
    }
    let dump_bytes = std::fs::metadata(dir.join("dump.json")).unwrap().len();
    let (history_bytes, history_bound) = collector.history_memory();
    let self_bytes = leakscope::live::tracker_stats().self_bytes;
    let snap = median(&mut snapshot_ms);
    let dump = median(&mut dump_ms);
    let snap_cpu = median(&mut snapshot_cpu_ms);
    let dump_cpu = median(&mut dump_cpu_ms);
    println!(
        "collector cycle, {scopes} scopes ({noisy} noisy), {intervals} intervals of history (medians)"
    );
    println!("  snapshot + detection: {snap:8.2} ms  (cpu {snap_cpu:.2} ms)");
    println!(
        "  dump + prometheus:    {dump:8.2} ms  ({:.1} MB of JSON)",
        dump_bytes as f64 / 1e6
    );
    println!("    of which (wall ms, cpu ms):");
    for (name, wall, cpu) in &mut phases {
        println!("      {name:42} {:8.2} {:8.2}", median(wall), median(cpu));
    }
    println!("    write_files cpu:    {dump_cpu:8.2} ms");
    println!(
        "  one full cycle:       {:8.2} ms  (cpu {:.2} ms, the budget's figure)",
        snap + dump,
        snap_cpu + dump_cpu
    );
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
    if std::env::var_os("KEEP").is_some() {
        println!("  dump kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
