//! Recorded traces of real caches, replayed in accelerated time.
//!
//! `examples/record_traces.rs` drives `moka::sync::Cache` (bounded by weight), `lru::LruCache`
//! (bounded by count), `quick_cache::sync::Cache` (bounded by weight), an unbounded `HashMap`
//! memo, a `moka::sync::Cache` bounded by a time to live only, and an `lru::LruCache` beside a
//! map of pinned entries that is never unpinned, under the real leakscope allocator with a
//! bursty load, and samples each one's scope (`leakscope::stats` after `leakscope::flush`) and
//! its entry count every 20 ms. The files in `traces/` hold the changes from one sample to the
//! next (text, three integers a line, and a fourth where part of the scope leaks: the bytes the
//! leak holds), so they compress the series without a codec. Re-record them with
//!
//! ```text
//! cargo run --release -p leakscope-corpus --example record_traces [-- --only moka_ttl,lru_leak]
//! ```
//!
//! A trace replays in accelerated time: tick `i` becomes the snapshot at `30 i` seconds (the
//! default cadence; 3,000 ticks are 25 hours), and bytes, blocks and entries are multiplied by
//! [`SCALE`] (the recording's caches hold 8 MB; the replayed ones 200 MB, as if 25 shards of
//! the same cache). The bounded caches and the TTL cache are labelled healthy; the memo is a
//! leak from the first tick (about 1 MB per replayed snapshot, 2 MB/min), and the pinned
//! entries beside the LRU a leak from tick 240 (two replayed hours), about 1.3 MB/min that follows
//! the load, its truth read from the fourth column.

use leakscope::analysis::Snapshot;
use leakscope::{leaks::LeakType, Config};

use crate::production::{Case, Family, Truth, INTERVAL};

/// The factor replayed bytes, blocks and entries are scaled by.
pub const SCALE: u64 = 25;

/// One 20 ms sample of a recorded scope.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// The scope's live bytes.
    pub bytes: u64,
    /// Its live blocks.
    pub blocks: u64,
    /// The cache's entry count.
    pub entries: u64,
    /// The bytes the scope's leaking part holds (0 where nothing leaks or the whole scope
    /// does).
    pub leaked: u64,
}

/// A recorded trace: which scope, which file, which label.
#[derive(Clone, Copy, Debug)]
pub struct TraceSpec {
    /// The recorder's scope name.
    pub scope: &'static str,
    /// The file under `traces/`.
    pub file: &'static str,
    /// Whether the cache leaks.
    pub leak: bool,
    /// The tick its leak starts at (0: the whole scope leaks from the first tick; later: the
    /// `leaked` column says how much of it is the leak).
    pub leak_from_tick: usize,
    /// The family that replays it.
    pub family: Family,
    text: &'static str,
}

/// Every recorded trace, in the recorder's order.
pub const TRACES: [TraceSpec; 6] = [
    TraceSpec {
        scope: "moka",
        file: "moka.trace",
        leak: false,
        leak_from_tick: 0,
        family: Family::TraceMoka,
        text: include_str!("../traces/moka.trace"),
    },
    TraceSpec {
        scope: "lru",
        file: "lru.trace",
        leak: false,
        leak_from_tick: 0,
        family: Family::TraceLru,
        text: include_str!("../traces/lru.trace"),
    },
    TraceSpec {
        scope: "quick_cache",
        file: "quick_cache.trace",
        leak: false,
        leak_from_tick: 0,
        family: Family::TraceQuickCache,
        text: include_str!("../traces/quick_cache.trace"),
    },
    TraceSpec {
        scope: "memo",
        file: "memo.trace",
        leak: true,
        leak_from_tick: 0,
        family: Family::TraceMemo,
        text: include_str!("../traces/memo.trace"),
    },
    TraceSpec {
        scope: "moka_ttl",
        file: "moka_ttl.trace",
        leak: false,
        leak_from_tick: 0,
        family: Family::TraceMokaTtl,
        text: include_str!("../traces/moka_ttl.trace"),
    },
    TraceSpec {
        scope: "lru_leak",
        file: "lru_leak.trace",
        leak: true,
        leak_from_tick: LRU_LEAK_FROM_TICK,
        family: Family::TraceLruLeak,
        text: include_str!("../traces/lru_leak.trace"),
    },
];

/// The tick the pinned entries beside `lru_leak`'s LRU start to leak at: two replayed hours of
/// a cache at capacity first.
pub const LRU_LEAK_FROM_TICK: usize = 240;

impl TraceSpec {
    /// The recorded samples.
    ///
    /// # Panics
    /// On a malformed line (the committed files are checked by the crate's tests).
    pub fn ticks(&self) -> Vec<Tick> {
        let mut now = [0i64; 4];
        let mut out = Vec::new();
        for (i, line) in self.text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<i64> = line
                .split_ascii_whitespace()
                .map(|f| f.parse::<i64>())
                .collect::<Result<_, _>>()
                .ok()
                .filter(|f: &Vec<i64>| f.len() == 3 || f.len() == 4)
                .unwrap_or_else(|| {
                    panic!(
                        "traces/{} line {}: want three or four integers",
                        self.file,
                        i + 1
                    )
                });
            for (v, d) in now.iter_mut().zip(&fields) {
                *v += d;
            }
            let [bytes, blocks, entries, leaked] = now.map(|v| v.max(0) as u64);
            out.push(Tick {
                bytes,
                blocks,
                entries,
                leaked,
            });
        }
        out
    }
}

/// The case replaying the trace of `family` (`seed` only names it: a trace is one recording).
pub(crate) fn case(family: Family, seed: u64) -> Option<Case> {
    let spec = TRACES.iter().find(|t| t.family == family)?;
    let name = format!("{}/{}", family.name(), seed);
    let ticks = spec.ticks();
    let series: Vec<Snapshot> = ticks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut s = Snapshot::new(i as f64 * INTERVAL, t.bytes * SCALE, t.blocks * SCALE);
            s.entries = Some(t.entries * SCALE);
            s
        })
        .collect();
    let truth = if spec.leak {
        let start = spec.leak_from_tick as f64 * INTERVAL;
        // What the leak holds at tick `i`: the whole scope's rise when all of it leaks, the
        // leaking part's own bytes when only part of it does.
        let held: Vec<f64> = if spec.leak_from_tick == 0 {
            let first = series.first().map_or(0, |s| s.curr_bytes) as f64;
            series.iter().map(|s| s.curr_bytes as f64 - first).collect()
        } else {
            ticks.iter().map(|t| (t.leaked * SCALE) as f64).collect()
        };
        let bytes_at = |t: f64| {
            let i = ((t.max(0.0) / INTERVAL) as usize).min(held.len().saturating_sub(1));
            held.get(i).copied().unwrap_or(0.0)
        };
        let deadline = crate::production::deadline(&series, start, bytes_at);
        let end = series.last().map_or(0.0, |s| s.t);
        let grown = held.last().copied().unwrap_or(0.0) - bytes_at(start);
        Truth::Leak {
            start_secs: start,
            accept: vec![LeakType::GradualGrowth, LeakType::RapidGrowth],
            deadline_secs: deadline,
            budget_reached_secs: None,
            mb_per_min: if end > start {
                grown / 1e6 / ((end - start) / 60.0)
            } else {
                0.0
            },
        }
    } else {
        Truth::Healthy {
            settled_step: false,
            low_periodic: false,
        }
    };
    Some(Case {
        sites: if spec.leak {
            vec![crate::production::leak_site(&name)]
        } else {
            Vec::new()
        },
        name,
        family,
        seed,
        truth,
        series,
        process: Vec::new(),
        config: Config::default(),
    })
}
