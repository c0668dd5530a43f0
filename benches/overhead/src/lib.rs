//! The workloads of leakscope's overhead benchmark (docs/design.md §12) and the runner every variant binary
//! shares.
//!
//! A global allocator is fixed per binary, so each allocator variant is a binary of its own under
//! `src/bin/`, one [`variant!`] call each, and all of them run exactly this code. A binary runs one
//! workload per process (a fresh heap each time, and a peak RSS that belongs to that workload
//! alone) and prints one tab-separated line:
//!
//! ```text
//! variant  workload  ops  ns_per_op  cpu_ns_per_op  vm_hwm_kib  extra
//! ```
//!
//! `ns_per_op` is wall-clock time. `cpu_ns_per_op` is the CPU time the workload's threads spent
//! in the timed part per op: `churn2t` averages its two threads (so perfect scaling gives the
//! figure of `churn`), `xthread` adds producer and consumer (an op is work on both). It leaves out the time those threads sat descheduled while other processes
//! had the cores, which makes it the steadier figure on a busy machine. It also leaves out the
//! collector thread (leakscope's own figures are printed on stderr).
//!
//! `scripts/bench-overhead.sh` runs every variant round-robin and hands the lines to the
//! `overhead-report` binary, which prints the tables. An *op* is:
//! - `churn`, `churn2t`: one free of the oldest block of a 1,000-block window and one allocation
//!   of a new block (8–256 B, one in ten 257 B–4 KiB) in its place; `churn2t` counts per thread,
//!   so perfect scaling gives the same ns/op as `churn`;
//! - `xthread`: one block allocated by the producer and freed by the consumer thread;
//! - `cache`: one lookup in a bounded `HashMap<String, Vec<u8>>` (about 80% hits); a miss
//!   inserts a new value and evicts the oldest entry.
//!
//! Sizes and keys come from a fixed-seed generator, so every variant sees the same sequence of
//! requests.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

/// Declares a variant binary: its global allocator, whether every operation runs inside a
/// leakscope scope, how much smaller its runs are, and what runs beside the workload.
///
/// ```ignore
/// overhead::variant! {
///     name: "leakscope",
///     allocator: leakscope::Alloc = leakscope::Alloc::system(),
///     scoped: false,
///     setup: overhead::collector,
/// }
/// ```
///
/// - `setup` is called before the workload; what it returns lives until the peak RSS has been
///   read (a profiler, a collector thread). A later variant with leakscope's stack-trace sampling
///   is one more file whose `setup` starts leakscope with a sampling [`leakscope::Config`].
/// - `ops_divisor` (optional, default 1) divides every workload's op count, for variants so slow
///   (dhat) that a full-size run would dominate the benchmark. Warm-up is never divided, so the
///   cache holds as much in every variant.
#[macro_export]
macro_rules! variant {
    (
        name: $name:literal,
        allocator: $ty:ty = $init:expr,
        scoped: $scoped:literal,
        $(ops_divisor: $div:literal,)?
        setup: $setup:expr $(,)?
    ) => {
        #[global_allocator]
        static ALLOC: $ty = $init;

        fn main() {
            #[allow(unused_mut, unused_assignments)]
            let mut ops_divisor = 1u64;
            $(ops_divisor = $div;)?
            $crate::main(
                $crate::Variant {
                    name: $name,
                    scoped: $scoped,
                    ops_divisor,
                },
                $setup,
            );
        }
    };
}

/// What a variant binary is, beyond its allocator.
#[derive(Clone, Copy, Debug)]
pub struct Variant {
    /// The name printed in the results and the table.
    pub name: &'static str,
    /// Whether every operation runs inside a [`leakscope::Scope`] guard entered for it alone.
    pub scoped: bool,
    /// Divides every workload's op count (see [`variant!`]).
    pub ops_divisor: u64,
}

/// The workloads, by the name given on the command line.
pub const WORKLOADS: [&str; 4] = ["churn", "churn2t", "xthread", "cache"];

/// Full-size op counts (at `--scale 1`), chosen so that bare System takes 0.25–0.8 s per run.
fn default_ops(workload: &str) -> u64 {
    match workload {
        "churn" | "churn2t" => 8_000_000,
        "xthread" => 8_000_000,
        "cache" => 5_000_000,
        _ => 0,
    }
}

/// A setup that does nothing (bare allocators).
pub fn no_setup() {}

/// leakscope's real collector (`leakscope::start`), writing no files, with stack sampling at
/// `sample_interval_bytes` (0 switches stack traces off: counting alone). Its thread drains
/// the counters every 10 ms; snapshots come at the default 30 s, so a run sees none.
///
/// On drop it stops the collector and prints leakscope's own figures to stderr.
pub fn collector(sample_interval_bytes: u64) -> impl Drop {
    let mut config = leakscope::Config::default();
    config.dump_path = None;
    config.sample_interval_bytes = sample_interval_bytes;
    Collector(Some(leakscope::start(config).expect("start the collector")))
}

struct Collector(Option<leakscope::Handle>);

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            let _ = handle.shutdown();
        }
        let t = leakscope::live::tracker_stats();
        let (fp_walks, dwarf_unwinds) = leakscope::__stack_walks();
        eprintln!(
            "leakscope: self_bytes={} self_blocks={} channel_full_retries={} fallback_uses={} \
             samples_taken={} samples_dropped={} fp_walks={fp_walks} dwarf_unwinds={dwarf_unwinds}",
            t.self_bytes,
            t.self_blocks,
            t.channel_full_retries,
            leakscope::__fallback_uses(),
            t.samples_taken,
            t.samples_dropped,
        );
    }
}

/// Runs the workload named on the command line and prints its result line.
///
/// Usage: `VARIANT WORKLOAD [--scale F] [--ops N]`. `--scale` multiplies the default op count
/// (`QUICK=1` uses 0.1); `--ops` sets it outright (the instruction-count script uses it).
pub fn main<G>(variant: Variant, setup: impl FnOnce() -> G) {
    let mut args = std::env::args().skip(1);
    let usage = || -> ! {
        eprintln!(
            "usage: {} {{{}}} [--scale F] [--ops N]",
            variant.name,
            WORKLOADS.join("|")
        );
        std::process::exit(2)
    };
    let workload = args.next().unwrap_or_else(|| usage());
    if !WORKLOADS.contains(&workload.as_str()) {
        usage();
    }
    let mut ops = default_ops(&workload) as f64;
    while let Some(flag) = args.next() {
        let value: f64 = args
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| usage());
        match flag.as_str() {
            "--scale" => ops *= value,
            "--ops" => ops = value,
            _ => usage(),
        }
    }
    let ops = ((ops as u64) / variant.ops_divisor).max(1);

    let guard = setup();
    let run = if variant.scoped {
        run::<Scoped>(&workload, ops)
    } else {
        run::<Unscoped>(&workload, ops)
    };
    // Read before the setup's guard goes: dhat's profiler allocates heavily when it writes its
    // report, which is not the workload's peak.
    let hwm = vm_hwm_kib();
    drop(guard);
    println!(
        "{}\t{}\t{}\t{:.2}\t{:.2}\t{}\t{}",
        variant.name,
        workload,
        ops,
        run.elapsed.as_nanos() as f64 / ops as f64,
        run.cpu.as_nanos() as f64 / ops as f64,
        hwm,
        run.extra
    );
}

/// One workload's measurement.
struct Run {
    /// Wall-clock time of the timed part.
    elapsed: Duration,
    /// CPU time of the workload's threads in the timed part (see the crate docs for how two
    /// threads are combined).
    cpu: Duration,
    /// A workload-specific figure (the cache's hit rate) and a checksum the optimizer must keep.
    extra: String,
}

fn run<S: OpScope>(workload: &str, ops: u64) -> Run {
    match workload {
        "churn" => {
            let (elapsed, cpu, sum) = churn::<S>(1, ops, None);
            Run {
                elapsed,
                cpu,
                extra: format!("sum={sum}"),
            }
        }
        "churn2t" => churn2t::<S>(ops),
        "xthread" => xthread::<S>(ops),
        "cache" => cache::<S>(ops),
        _ => unreachable!("checked in main"),
    }
}

/// The process's peak resident set (`VmHWM`), in KiB; 0 where /proc is missing.
pub fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The calling thread's CPU time so far.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// How a workload wraps each operation: in a leakscope scope guard, or in nothing.
trait OpScope {
    type Guard;
    fn enter(scope: &'static leakscope::Scope) -> Self::Guard;
}

/// Every operation outside any scope (its memory goes to `unscoped` under leakscope).
struct Unscoped;

impl OpScope for Unscoped {
    type Guard = ();
    #[inline(always)]
    fn enter(_: &'static leakscope::Scope) {}
}

/// Every operation inside a guard of its own: the guard is entered and dropped once per op.
struct Scoped;

impl OpScope for Scoped {
    type Guard = leakscope::ScopeGuard;
    #[inline(always)]
    fn enter(scope: &'static leakscope::Scope) -> leakscope::ScopeGuard {
        scope.enter()
    }
}

static CHURN: leakscope::Scope = leakscope::Scope::new("bench_churn");
static XTHREAD: leakscope::Scope = leakscope::Scope::new("bench_xthread");
static CACHE: leakscope::Scope = leakscope::Scope::new("bench_cache");

/// xorshift64*: a fixed-seed generator cheap enough (a few cycles) not to blur the allocator.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // SplitMix64 of the seed, so that seeds 1 and 2 give unrelated streams.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    #[inline(always)]
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is far below anything measured).
    #[inline(always)]
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() >> 32) * n) >> 32
    }

    /// A small-block size: 8–256 B nine times in ten, otherwise 257 B–4 KiB.
    #[inline(always)]
    fn small_size(&mut self) -> usize {
        let r = self.next();
        if !r.is_multiple_of(10) {
            8 + ((r >> 32) % 249) as usize
        } else {
            257 + ((r >> 32) % 3840) as usize
        }
    }

    /// A cache value size: 16–256 B 70% of the time, 257 B–2 KiB 25%, 2–16 KiB 5%.
    #[inline(always)]
    fn value_size(&mut self) -> usize {
        let r = self.next();
        let hi = (r >> 32) as usize;
        match r % 100 {
            0..=69 => 16 + hi % 241,
            70..=94 => 257 + hi % 1792,
            _ => 2049 + hi % 14336,
        }
    }
}

/// Blocks live at once in `churn`.
pub const WINDOW: usize = 1_000;

/// Single-thread churn: `ops` times, free the oldest block of the window and allocate a new one.
/// Returns the wall-clock and CPU time of the timed part and a checksum. The window is filled before the clock
/// starts; when `barrier` is given, the clock starts after every thread reached it.
fn churn<S: OpScope>(seed: u64, ops: u64, barrier: Option<&Barrier>) -> (Duration, Duration, u64) {
    let mut rng = Rng::new(seed);
    let mut ring: Vec<(*mut u8, Layout)> = Vec::with_capacity(WINDOW);
    let new_block = |rng: &mut Rng, tag: u8| {
        let layout = Layout::from_size_align(rng.small_size(), 8).expect("small layout");
        // SAFETY: the layout's size is at least 8, so non-zero.
        let p = unsafe { alloc(layout) };
        if p.is_null() {
            handle_alloc_error(layout);
        }
        // Touch the block as a program would; volatile so the store survives the free that
        // LLVM can see coming.
        // SAFETY: `p` is a fresh block of at least 8 bytes.
        unsafe { p.write_volatile(tag) };
        (p, layout)
    };
    for _ in 0..WINDOW {
        let _g = S::enter(&CHURN);
        ring.push(new_block(&mut rng, 0));
    }
    // Warm up the allocator's caches for this size mix before timing.
    let mut i = 0;
    let mut step = |rng: &mut Rng, n: u64| {
        let _g = S::enter(&CHURN);
        let (p, layout) = ring[i];
        // SAFETY: `p` was allocated above with `layout` and is freed once: the slot is
        // overwritten right after.
        unsafe { dealloc(p, layout) };
        ring[i] = new_block(rng, n as u8);
        i += 1;
        if i == WINDOW {
            i = 0;
        }
    };
    for n in 0..(ops / 10).min(100_000) {
        step(&mut rng, n);
    }
    if let Some(b) = barrier {
        b.wait();
    }
    let cpu = thread_cpu_time();
    let start = Instant::now();
    for n in 0..ops {
        step(&mut rng, n);
    }
    let elapsed = start.elapsed();
    let cpu = thread_cpu_time() - cpu;
    let mut sum = 0u64;
    for (p, layout) in ring {
        // SAFETY: every block in the ring is live and was allocated with its layout.
        unsafe {
            sum = sum.wrapping_add(p.read_volatile() as u64);
            dealloc(p, layout);
        }
    }
    (elapsed, cpu, sum)
}

/// `churn` on two threads at once. The time is the slower thread's, per op of one thread.
fn churn2t<S: OpScope>(ops: u64) -> Run {
    let barrier = Barrier::new(2);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| churn::<S>(1, ops, Some(&barrier)));
        let b = s.spawn(|| churn::<S>(2, ops, Some(&barrier)));
        (
            a.join().expect("churn thread"),
            b.join().expect("churn thread"),
        )
    });
    Run {
        elapsed: a.0.max(b.0),
        cpu: (a.1 + b.1) / 2,
        extra: format!("sum={}", a.2.wrapping_add(b.2)),
    }
}

/// Blocks per message in `xthread`: enough that the channel is not what is measured.
const XTHREAD_BATCH: usize = 64;

/// Producer/consumer: one thread allocates blocks (`Vec<u8>` of churn sizes) and sends them in
/// batches of [`XTHREAD_BATCH`] through a bounded channel; another thread frees them.
fn xthread<S: OpScope>(ops: u64) -> Run {
    let batches = (ops as usize).div_ceil(XTHREAD_BATCH);
    let (tx, rx) = crossbeam_channel::bounded::<Vec<Vec<u8>>>(16);
    let start = Instant::now();
    let (sum, cpu) = std::thread::scope(|s| {
        let consumer = s.spawn(move || {
            let cpu = thread_cpu_time();
            let mut sum = 0u64;
            for batch in rx {
                for block in batch {
                    let _g = S::enter(&XTHREAD);
                    sum = sum.wrapping_add(block[0] as u64);
                    drop(block);
                }
            }
            (sum, thread_cpu_time() - cpu)
        });
        let cpu = thread_cpu_time();
        let mut rng = Rng::new(3);
        for n in 0..batches {
            let mut batch = Vec::with_capacity(XTHREAD_BATCH);
            for _ in 0..XTHREAD_BATCH {
                let _g = S::enter(&XTHREAD);
                let mut block = Vec::with_capacity(rng.small_size());
                block.push(n as u8);
                batch.push(block);
            }
            tx.send(batch).expect("consumer alive");
        }
        drop(tx);
        let cpu = thread_cpu_time() - cpu;
        let (sum, consumer_cpu) = consumer.join().expect("consumer thread");
        (sum, cpu + consumer_cpu)
    });
    Run {
        elapsed: start.elapsed(),
        cpu,
        extra: format!("sum={sum}"),
    }
}

/// Entries the cache holds at most.
pub const CACHE_CAPACITY: usize = 20_000;
/// Distinct keys requested, uniformly: with any eviction order the steady-state hit rate is
/// capacity / keys = 80%.
pub const CACHE_KEYS: u64 = 25_000;
/// Untimed lookups first, enough to fill the cache (about 40,000 are needed).
const CACHE_WARMUP: u64 = 100_000;

/// A bounded `HashMap<String, Vec<u8>>` cache with FIFO eviction: look a key up; on a miss,
/// build the value (varied size, filled), insert it, and evict the oldest entry if over capacity.
fn cache<S: OpScope>(ops: u64) -> Run {
    let mut map: HashMap<String, Vec<u8>> = HashMap::new();
    let mut order: VecDeque<u32> = VecDeque::new();
    let mut rng = Rng::new(4);
    let mut key = String::with_capacity(32);
    let mut old_key = String::with_capacity(32);
    let mut sum = 0u64;
    // Returns whether the lookup hit.
    let mut op = |rng: &mut Rng| -> bool {
        let k = rng.below(CACHE_KEYS);
        key.clear();
        let _ = write!(key, "user:{k:08}");
        let _g = S::enter(&CACHE);
        if let Some(v) = map.get(key.as_str()) {
            sum = sum.wrapping_add(v[v.len() - 1] as u64 + v.len() as u64);
            true
        } else {
            let mut value = Vec::with_capacity(rng.value_size());
            value.resize(value.capacity(), k as u8);
            map.insert(key.clone(), value);
            order.push_back(k as u32);
            if map.len() > CACHE_CAPACITY {
                let oldest = order.pop_front().expect("order tracks every entry");
                old_key.clear();
                let _ = write!(old_key, "user:{oldest:08}");
                black_box(map.remove(old_key.as_str()));
            }
            false
        }
    };
    for _ in 0..CACHE_WARMUP {
        op(&mut rng);
    }
    let mut hits = 0u64;
    let cpu = thread_cpu_time();
    let start = Instant::now();
    for _ in 0..ops {
        hits += op(&mut rng) as u64;
    }
    let elapsed = start.elapsed();
    let cpu = thread_cpu_time() - cpu;
    let entries = map.len();
    Run {
        elapsed,
        cpu,
        extra: format!(
            "hit_rate={:.3} entries={} sum={sum}",
            hits as f64 / ops as f64,
            entries
        ),
    }
}
