//! The soak: 16 threads for 10 minutes (`SOAK_SECS`, 15 s in CI) over a mix of scopes, short-lived
//! threads, cross-thread frees and reallocs, with the collector snapshotting and dumping every
//! 0.1 s. At the end every scope's totals are exact, leakscope's own memory stayed within its
//! bound the whole time, and a reader polling the dump never saw a partial file.
//!
//! `SOAK_SECS=600 cargo bench --bench soak`

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leakscope::{Config, Scope, ScopeHistory};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

const THREADS: usize = 16;
const SCOPES: usize = 8;
/// History points per tier: what bounds the collector's memory here.
const HISTORY_LIMIT: usize = 200;

static SOAK: [Scope; SCOPES] = [
    Scope::new("soak_0"),
    Scope::new("soak_1"),
    Scope::new("soak_2"),
    Scope::new("soak_3"),
    Scope::new("soak_4"),
    Scope::new("soak_5"),
    Scope::new("soak_6"),
    Scope::new("soak_7"),
];

/// What a thread expects of each scope: allocations, frees, bytes in, bytes out.
type Expect = [[u64; 4]; SCOPES];

fn add(into: &mut Expect, from: &Expect) {
    for (a, b) in into.iter_mut().zip(from) {
        for (x, y) in a.iter_mut().zip(b) {
            *x += y;
        }
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// A block and the scope that owns it.
struct Owned(usize, Vec<u8>);

/// One worker: allocs, reallocs and frees in random scopes, nested guards, some blocks sent to
/// a neighbour to be freed there, and now and then a short-lived thread of its own.
fn work(id: u64, until: Instant, give: mpsc::Sender<Owned>, take: mpsc::Receiver<Owned>) -> Expect {
    let mut rng = 0x9E37_79B9_7F4A_7C15 ^ (id + 1);
    let mut e: Expect = [[0; 4]; SCOPES];
    let mut live: Vec<Owned> = Vec::with_capacity(4096);
    let mut ops = 0u64;
    while Instant::now() < until {
        for _ in 0..1000 {
            ops += 1;
            let r = xorshift(&mut rng);
            let s = (r % SCOPES as u64) as usize;
            let size = 1 + (r >> 8) as usize % 2048;
            match (r >> 24) % 8 {
                0..=2 if live.len() < 4000 => {
                    let _outer = SOAK[(s + 3) % SCOPES].enter();
                    let _g = SOAK[s].enter();
                    live.push(Owned(s, black_box(Vec::with_capacity(size))));
                    e[s][0] += 1;
                    e[s][2] += size as u64;
                }
                3 if !live.is_empty() => {
                    let i = (r >> 32) as usize % live.len();
                    let Owned(owner, v) = live.swap_remove(i);
                    e[owner][1] += 1;
                    e[owner][3] += v.capacity() as u64;
                    drop(v);
                }
                4 if !live.is_empty() => {
                    let i = (r >> 32) as usize % live.len();
                    let Owned(owner, v) = &mut live[i];
                    let old = v.capacity();
                    let _g = SOAK[s].enter();
                    v.reserve_exact(old + size);
                    e[*owner][1] += 1;
                    e[*owner][3] += old as u64;
                    e[s][0] += 1;
                    e[s][2] += v.capacity() as u64;
                    *owner = s;
                }
                5 if !live.is_empty() => {
                    // Freed by the neighbour, outside any scope: charged to the owner there.
                    let i = (r >> 32) as usize % live.len();
                    let block = live.swap_remove(i);
                    e[block.0][1] += 1;
                    e[block.0][3] += block.1.capacity() as u64;
                    let _ = give.send(block);
                }
                _ => {}
            }
        }
        while let Ok(Owned(_, v)) = take.try_recv() {
            drop(v);
        }
        if ops.is_multiple_of(50_000) {
            // Thread churn: a short-lived thread that allocates, frees some and hands back the
            // rest, exiting without a flush.
            let child = std::thread::spawn(move || {
                let mut e: Expect = [[0; 4]; SCOPES];
                let mut kept = Vec::with_capacity(64);
                for i in 0..64 {
                    let s = i % SCOPES;
                    let _g = SOAK[s].enter();
                    kept.push(Owned(s, black_box(vec![0u8; 100 + i])));
                    e[s][0] += 1;
                    e[s][2] += 100 + i as u64;
                }
                (e, kept)
            });
            let (ce, kept) = child.join().unwrap();
            add(&mut e, &ce);
            live.extend(kept);
        }
    }
    // Whatever is still live, or still in flight to the neighbour, is counted as freed by
    // whoever frees it; this thread's expectations cover the frees of its own live blocks.
    for Owned(owner, v) in live.drain(..) {
        e[owner][1] += 1;
        e[owner][3] += v.capacity() as u64;
    }
    e
}

fn main() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let dir = std::env::temp_dir().join(format!("leakscope-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dump_path = dir.join("soak.json");
    let config = Config::builder()
        .set("snapshot_interval_seconds", 0.1)
        .set("dump_interval_seconds", 0.1)
        .set("detection_window_minutes", 0.5)
        .set("rapid_growth_window_minutes", 0.1)
        .set("baseline_calculation_minutes", 0.5)
        .set("max_snapshots_per_cache", HISTORY_LIMIT)
        .set("dump_path", dump_path.display())
        .set("prometheus_path", dir.join("soak.prom").display())
        .build()
        .unwrap();
    let handle = leakscope::start(config).unwrap();
    let until = Instant::now() + Duration::from_secs(secs);
    let done = Arc::new(AtomicBool::new(false));

    // A reader polling the dump: every read must be a whole, valid dump.
    let reads = Arc::new(AtomicU64::new(0));
    let reader = {
        let (done, reads, path) = (done.clone(), reads.clone(), dump_path.clone());
        std::thread::spawn(move || {
            while !done.load(Relaxed) {
                if path.exists() {
                    if let Err(e) = leakscope::dump::read_dump(&path) {
                        panic!("a reader saw a broken dump: {e}");
                    }
                    reads.fetch_add(1, Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    // leakscope's own memory, watched against its bound: fixed tables (channels, sample slots,
    // registry) under 8 MiB, plus the history bound for every scope there can be (twice, for
    // the process history and vector slack), plus what the symbolizer loads while a dump
    // resolves call sites (docs/design.md §5: counted, and released after each dump).
    let history_bound =
        (SCOPES + 2) as u64 * 2 * ScopeHistory::memory_bound(HISTORY_LIMIT, true) as u64;
    let peak_self = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (done, peak) = (done.clone(), peak_self.clone());
        std::thread::spawn(move || {
            while !done.load(Relaxed) {
                peak.fetch_max(leakscope::live::tracker_stats().self_bytes, Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    // Workers in a ring: each sends blocks to the next to be freed there.
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..THREADS).map(|_| mpsc::channel::<Owned>()).unzip();
    let mut rxs: Vec<Option<mpsc::Receiver<Owned>>> = rxs.into_iter().map(Some).collect();
    let workers: Vec<_> = (0..THREADS)
        .map(|i| {
            let give = txs[(i + 1) % THREADS].clone();
            let take = rxs[i].take().unwrap();
            std::thread::Builder::new()
                .name(format!("soak-{i}"))
                .spawn(move || work(i as u64, until, give, take))
                .unwrap()
        })
        .collect();
    drop(txs);
    let mut expect: Expect = [[0; 4]; SCOPES];
    for w in workers {
        add(&mut expect, &w.join().unwrap());
    }
    done.store(true, Relaxed);
    reader.join().unwrap();
    watcher.join().unwrap();

    leakscope::flush();
    let mut ok = true;
    for (s, scope) in SOAK.iter().enumerate() {
        let st = leakscope::stats(scope);
        let got = [
            st.total_allocs,
            st.total_frees,
            st.total_bytes_allocated,
            st.total_bytes_freed,
        ];
        let exact = got == expect[s] && st.curr_bytes == 0 && st.curr_blocks == 0;
        ok &= exact;
        println!(
            "{:<7} allocs {:>11} frees {:>11} bytes {:>14} live {:>3} B {}",
            scope.name(),
            got[0],
            got[1],
            got[2],
            st.curr_bytes,
            if exact { "exact" } else { "MISMATCH" }
        );
        if !exact {
            println!("        expected {:?}", expect[s]);
        }
    }
    let peak = peak_self.load(Relaxed);
    let t = leakscope::live::tracker_stats();
    let bound = (8 << 20) + history_bound + t.symbolizer_peak_bytes;
    println!(
        "{secs} s, {THREADS} threads: {} dump reads, none partial; leakscope's memory peaked at \
         {:.1} MB (bound {:.1} MB: 8 MiB + history {:.1} MB + symbolizer {:.1} MB); {} \
         channel-full retries",
        reads.load(Relaxed),
        peak as f64 / 1e6,
        bound as f64 / 1e6,
        history_bound as f64 / 1e6,
        t.symbolizer_peak_bytes as f64 / 1e6,
        t.channel_full_retries
    );
    handle.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "totals are not exact");
    assert!(peak <= bound, "leakscope's own memory exceeded its bound");
    assert!(reads.load(Relaxed) > 0, "the reader never saw a dump");
}
