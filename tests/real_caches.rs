//! Real caches under the real allocator, watched by the collector on a manual clock: a bounded
//! `lru::LruCache` and a `moka` cache driven through warm-up and churn raise no leak; an
//! unbounded memo `HashMap` raises GradualGrowth naming its insert function as the top call site.
//!
//! `harness = false`: one collector per process, so the cases run in sequence.

use std::collections::HashMap;
use std::hint::black_box;
use std::num::NonZeroUsize;
use std::sync::Arc;

use leakscope::{flush, leaks::LeakType, Config, ManualClock, Scope};

mod common;

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

fn main() {
    let cases: &[(&str, fn())] = &[
        ("bounded_caches_raise_no_leak", bounded_caches_raise_no_leak),
        (
            "an_unbounded_memo_table_is_a_gradual_leak",
            an_unbounded_memo_table_is_a_gradual_leak,
        ),
    ];
    common::run(cases, || {});
}

/// The demo scale: a snapshot a second, two-minute windows, thresholds of a few MB.
fn start() -> (leakscope::Handle, Arc<ManualClock>) {
    let config = Config::builder()
        .set("snapshot_interval_seconds", 1)
        .set("detection_window_minutes", 2)
        .set("rapid_growth_window_minutes", 0.5)
        .set("baseline_calculation_minutes", 2)
        .set("memory_growth_threshold_mb", 2)
        .set("growth_rate_threshold_mb_per_min", 1)
        .set("sustained_high_threshold_mb", 256)
        .set("sample_interval_bytes", "64KiB")
        .set("dump_path", "none")
        .build()
        .unwrap();
    let clock = Arc::new(ManualClock::new(1_700_000_000.0));
    (
        leakscope::__start_manual(config, clock.clone()).unwrap(),
        clock,
    )
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn value(rng: &mut Rng) -> Vec<u8> {
    black_box(vec![1u8; 512 + (rng.next() % 1024) as usize])
}

fn bounded_caches_raise_no_leak() {
    static LRU: Scope = Scope::new("real_lru");
    static MOKA: Scope = Scope::new("real_moka");
    let (handle, clock) = start();
    let mut rng = Rng(0x1234_5678);
    let mut lru: lru::LruCache<u64, Vec<u8>> = lru::LruCache::new(NonZeroUsize::new(3000).unwrap());
    let moka: moka::sync::Cache<u64, Arc<Vec<u8>>> = {
        let _g = MOKA.enter();
        moka::sync::Cache::builder().max_capacity(3000).build()
    };
    // Ten simulated minutes: warm-up in the first one or two, then churn over 20,000 keys with
    // hits on the hot fifth.
    for _ in 0..600 {
        for _ in 0..300 {
            let key = if rng.next().is_multiple_of(5) {
                rng.next() % 20_000
            } else {
                rng.next() % 2_000
            };
            {
                let _g = LRU.enter();
                if lru.get(&key).is_none() {
                    lru.put(key, value(&mut rng));
                }
            }
            {
                let _g = MOKA.enter();
                if moka.get(&key).is_none() {
                    moka.insert(key, Arc::new(value(&mut rng)));
                }
            }
        }
        {
            let _g = MOKA.enter();
            moka.run_pending_tasks();
        }
        LRU.set_entry_count(lru.len());
        MOKA.set_entry_count(moka.entry_count() as usize);
        flush();
        clock.advance(1.0);
        handle.tick();
    }
    let lru_check = leakscope::check_leaks("real_lru");
    let moka_check = leakscope::check_leaks("real_moka");
    assert_eq!(lru_check.leak_count, 0, "{:#?}", lru_check.leaks);
    assert_eq!(moka_check.leak_count, 0, "{:#?}", moka_check.leaks);
    // They did hold memory: a warmed-up cache of about 3,000 values of about 1 KB.
    assert!(leakscope::stats(&LRU).curr_bytes > 2_000_000);
    assert!(leakscope::stats(&MOKA).curr_bytes > 2_000_000);
    drop((lru, moka));
    handle.shutdown().unwrap();
}

/// The memo table's insert: the call site the report should name.
#[inline(never)]
fn memoize(memo: &mut HashMap<u64, Vec<u8>>, key: u64, rng: &mut Rng) {
    let len = 512 + (rng.next() % 1024) as usize;
    memo.insert(key, black_box(vec![1u8; len]));
}

fn an_unbounded_memo_table_is_a_gradual_leak() {
    static MEMO: Scope = Scope::new("real_memo");
    let (handle, clock) = start();
    let mut rng = Rng(0x9ABC_DEF0);
    let mut memo: HashMap<u64, Vec<u8>> = HashMap::new();
    let mut key = 0;
    // About 100 KB of new entries a second (6 MB/min), never evicted.
    for _ in 0..600 {
        {
            let _g = MEMO.enter();
            for _ in 0..100 {
                key += 1;
                memoize(&mut memo, key, &mut rng);
            }
        }
        MEMO.set_entry_count(memo.len());
        flush();
        clock.advance(1.0);
        handle.tick();
        if leakscope::check_leaks("real_memo")
            .leaks
            .iter()
            .any(|l| l.finding.leak_type == LeakType::GradualGrowth)
        {
            break;
        }
    }
    let check = leakscope::check_leaks("real_memo");
    let leak = check
        .leaks
        .iter()
        .find(|l| l.finding.leak_type == LeakType::GradualGrowth)
        .unwrap_or_else(|| panic!("no GradualGrowth: {:#?}", check.leaks));
    let top = leak
        .finding
        .top_sites
        .first()
        .expect("the leak names its call sites");
    let first = top.frames[0].function.as_deref().unwrap_or("");
    assert!(first.contains("memoize"), "{:#?}", top.frames);
    drop(memo);
    handle.shutdown().unwrap();
}
