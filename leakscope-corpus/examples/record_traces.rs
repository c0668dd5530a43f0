//! Records the corpus' real traces: drives real caches under the real leakscope allocator with
//! a bursty load, samples each cache's scope every 20 ms, and writes one trace file per cache
//! into `leakscope-corpus/traces/` (the `trace_*` families replay them, see
//! `leakscope_corpus::traces`). Re-record from the repository root with
//!
//! ```text
//! cargo run --release -p leakscope-corpus --example record_traces -- [--ticks 3000] [--out DIR]
//!     [--only moka_ttl,lru_leak]
//! ```
//!
//! (3,000 ticks: one minute of wall time; about 130 MB of memory for the memo. `--only` writes
//! only the named traces, so adding a cache does not re-record the others.) The caches:
//! `moka::sync::Cache` bounded to 8 MB by value size, `lru::LruCache` bounded to 4,000 entries,
//! `quick_cache::sync::Cache` bounded to 8 MB by value size, an unbounded `HashMap` memo
//! keyed by request id (the leak: every request adds an entry nobody reads again), a
//! `moka::sync::Cache` bounded only by a time to live of 180 ticks (90 replayed minutes; values
//! around 500 B), and `lru_leak`: an `lru::LruCache` of 4,000 entries beside a map that, from
//! tick 240 on, pins a 120-byte entry per request and never unpins it (the leak; its part is
//! recorded in a scope of its own and the trace is the sum of the two, with the leak's bytes as
//! a fourth column). The last two draw their values from a generator of their own, so adding
//! them left the load and the first four caches' draws as they were. Each tick
//! runs Poisson(150 × load) requests against every cache, the load an AR(1) process on log-load
//! with Student-t innovations times a cycle of 2,880 ticks (a day when a tick replays as 30 s);
//! keys are log-uniform over 1..200,000 (a few hot keys, a long tail of misses), values
//! log-normal around 2 KB (memo: 250 B). The seed is fixed, so a re-recording differs only by
//! what the caches themselves do with time (moka's housekeeping).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leakscope::Scope;
use leakscope_corpus::rng::SplitMix64;
use leakscope_corpus::traces::{Tick, LRU_LEAK_FROM_TICK, TRACES};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

static MOKA: Scope = Scope::new("moka");
static LRU: Scope = Scope::new("lru");
static QUICK: Scope = Scope::new("quick_cache");
static MEMO: Scope = Scope::new("memo");
static MOKA_TTL: Scope = Scope::new("moka_ttl");
static LRU_LEAK: Scope = Scope::new("lru_leak");
static PINNED: Scope = Scope::new("lru_leak_pinned");

const TICK: Duration = Duration::from_millis(20);
const CYCLE_TICKS: f64 = 2880.0;
/// `moka_ttl`'s time to live: 180 ticks, 90 minutes when a tick replays as 30 s.
const TTL: Duration = Duration::from_millis(20 * 180);

#[derive(Clone)]
struct ByLen;

impl quick_cache::Weighter<u64, Arc<Vec<u8>>> for ByLen {
    fn weight(&self, _key: &u64, val: &Arc<Vec<u8>>) -> u64 {
        val.len() as u64
    }
}

fn value(r: &mut SplitMix64, median: f64) -> Vec<u8> {
    let len = r.log_normal(median.ln(), 0.8).min(65536.0) as usize;
    vec![0x5a; len.max(1)]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let ticks: usize = arg("--ticks").map_or(3000, |t| t.parse().expect("--ticks N"));
    let out = arg("--out").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("traces"),
        PathBuf::from,
    );

    let moka: moka::sync::Cache<u64, Arc<Vec<u8>>> = {
        let _g = MOKA.enter();
        moka::sync::Cache::builder()
            .max_capacity(8 << 20)
            .weigher(|_k, v: &Arc<Vec<u8>>| v.len() as u32)
            .build()
    };
    let mut lru: lru::LruCache<u64, Vec<u8>> = {
        let _g = LRU.enter();
        lru::LruCache::new(NonZeroUsize::new(4000).expect("non-zero"))
    };
    let quick = {
        let _g = QUICK.enter();
        quick_cache::sync::Cache::with_weighter(4000, 8 << 20, ByLen)
    };
    let mut memo: HashMap<u64, Vec<u8>> = HashMap::new();
    let moka_ttl: moka::sync::Cache<u64, Arc<Vec<u8>>> = {
        let _g = MOKA_TTL.enter();
        moka::sync::Cache::builder().time_to_live(TTL).build()
    };
    let mut lru_leak: lru::LruCache<u64, Vec<u8>> = {
        let _g = LRU_LEAK.enter();
        lru::LruCache::new(NonZeroUsize::new(4000).expect("non-zero"))
    };
    let mut pinned: HashMap<u64, Vec<u8>> = HashMap::new();
    let only: Option<Vec<String>> =
        arg("--only").map(|v| v.split(',').map(str::to_owned).collect());

    let mut r = SplitMix64::new(0x1eaf_5c09e);
    // The values of the caches added later: a stream of their own (see the module docs).
    let mut r2 = SplitMix64::new(0x7f1_ca5e);
    let mut x = 0.0f64;
    let mut request_id = 0u64;
    let mut rows: Vec<Vec<Tick>> = vec![Vec::with_capacity(ticks); TRACES.len()];
    let started = Instant::now();
    for tick in 0..ticks {
        x = 0.98 * x + 0.06 * r.student_t(3);
        let cycle = 1.0 + 0.4 * (2.0 * std::f64::consts::PI * tick as f64 / CYCLE_TICKS).sin();
        let load = x.exp() * cycle;
        for _ in 0..r.poisson(150.0 * load) {
            let key = (200_000f64.powf(r.unit())) as u64;
            request_id += 1;
            {
                let _g = MOKA.enter();
                if moka.get(&key).is_none() {
                    moka.insert(key, Arc::new(value(&mut r, 2000.0)));
                }
            }
            {
                let _g = LRU.enter();
                if lru.get(&key).is_none() {
                    lru.put(key, value(&mut r, 2000.0));
                }
            }
            {
                let _g = QUICK.enter();
                if quick.get(&key).is_none() {
                    quick.insert(key, Arc::new(value(&mut r, 2000.0)));
                }
            }
            {
                let _g = MEMO.enter();
                memo.insert(request_id, value(&mut r, 250.0));
            }
            {
                let _g = MOKA_TTL.enter();
                if moka_ttl.get(&key).is_none() {
                    moka_ttl.insert(key, Arc::new(value(&mut r2, 500.0)));
                }
            }
            {
                let _g = LRU_LEAK.enter();
                if lru_leak.get(&key).is_none() {
                    lru_leak.put(key, value(&mut r2, 2000.0));
                }
            }
            if tick >= LRU_LEAK_FROM_TICK {
                let _g = PINNED.enter();
                pinned.insert(request_id, vec![0x5a; 120]);
            }
        }
        leakscope::flush();
        // moka applies expirations in its housekeeping; run it every tick, as a service's
        // steady traffic would.
        moka_ttl.run_pending_tasks();
        let entries = [
            moka.entry_count() as usize,
            lru.len(),
            quick.len(),
            memo.len(),
            moka_ttl.entry_count() as usize,
            lru_leak.len() + pinned.len(),
        ];
        let leak = leakscope::stats(&PINNED);
        for (i, scope) in [&MOKA, &LRU, &QUICK, &MEMO, &MOKA_TTL, &LRU_LEAK]
            .into_iter()
            .enumerate()
        {
            let s = leakscope::stats(scope);
            // `lru_leak` is its LRU and the pinned entries beside it: one scope to the reader.
            let (extra, leaked) = if std::ptr::eq(scope, &LRU_LEAK) {
                ((leak.curr_bytes, leak.curr_blocks), leak.curr_bytes)
            } else {
                ((0, 0), 0)
            };
            rows[i].push(Tick {
                bytes: s.curr_bytes + extra.0,
                blocks: s.curr_blocks + extra.1,
                entries: entries[i] as u64,
                leaked,
            });
        }
        let next = started + TICK * (tick as u32 + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    for (trace, rows) in TRACES.iter().zip(&rows) {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == trace.scope))
        {
            continue;
        }
        let four = trace.leak_from_tick > 0;
        let mut text = String::new();
        let _ = writeln!(
            text,
            "# leakscope-corpus trace v1: scope {:?}, {} ticks of 20 ms recorded by \
             examples/record_traces.rs; label: {}",
            trace.scope,
            rows.len(),
            if trace.leak { "leak" } else { "healthy" }
        );
        let _ = writeln!(
            text,
            "# columns: bytes blocks entries{}, each the change since the line before",
            if four { " leaked" } else { "" }
        );
        let mut prev = Tick::default();
        for t in rows {
            let d = |a: u64, b: u64| a as i64 - b as i64;
            let _ = write!(
                text,
                "{} {} {}",
                d(t.bytes, prev.bytes),
                d(t.blocks, prev.blocks),
                d(t.entries, prev.entries)
            );
            let _ = if four {
                writeln!(text, " {}", d(t.leaked, prev.leaked))
            } else {
                writeln!(text)
            };
            prev = *t;
        }
        let path = out.join(trace.file);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        println!(
            "{}: {} ticks, {} bytes at the end, {} entries",
            path.display(),
            rows.len(),
            prev.bytes,
            prev.entries
        );
    }
    std::hint::black_box((&moka, &lru, &quick, &memo, &moka_ttl, &lru_leak, &pinned));
}
