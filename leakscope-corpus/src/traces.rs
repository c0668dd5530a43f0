//! Recorded traces of real caches, replayed in accelerated time.
//!
//! `examples/record_traces.rs` drives `moka::sync::Cache` (bounded by weight), `lru::LruCache`
//! (bounded by count), `quick_cache::sync::Cache` (bounded by weight) and an unbounded `HashMap`
//! memo under the real leakscope allocator with a bursty load, and samples each one's scope
//! (`leakscope::stats` after `leakscope::flush`) and its entry count every 20 ms. The files in
//! `traces/` hold the changes from one sample to the next (text, three integers a line), so
//! they compress the series without a codec. Re-record them with
//!
//! ```text
//! cargo run --release -p leakscope-corpus --example record_traces
//! ```
//!
//! A trace replays in accelerated time: tick `i` becomes the snapshot at `30 i` seconds (the
//! default cadence; 3,000 ticks are 25 hours), and bytes, blocks and entries are multiplied by
//! [`SCALE`] (the recording's caches hold 8 MB; the replayed ones 200 MB, as if 25 shards of
//! the same cache). The bounded caches are labelled healthy; the memo is a leak from the first
//! tick (about 1 MB per replayed snapshot, 2 MB/min).

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
    /// The family that replays it.
    pub family: Family,
    text: &'static str,
}

/// Every recorded trace, in the recorder's order.
pub const TRACES: [TraceSpec; 4] = [
    TraceSpec {
        scope: "moka",
        file: "moka.trace",
        leak: false,
        family: Family::TraceMoka,
        text: include_str!("../traces/moka.trace"),
    },
    TraceSpec {
        scope: "lru",
        file: "lru.trace",
        leak: false,
        family: Family::TraceLru,
        text: include_str!("../traces/lru.trace"),
    },
    TraceSpec {
        scope: "quick_cache",
        file: "quick_cache.trace",
        leak: false,
        family: Family::TraceQuickCache,
        text: include_str!("../traces/quick_cache.trace"),
    },
    TraceSpec {
        scope: "memo",
        file: "memo.trace",
        leak: true,
        family: Family::TraceMemo,
        text: include_str!("../traces/memo.trace"),
    },
];

impl TraceSpec {
    /// The recorded samples.
    ///
    /// # Panics
    /// On a malformed line (the committed files are checked by the crate's tests).
    pub fn ticks(&self) -> Vec<Tick> {
        let mut now = [0i64; 3];
        let mut out = Vec::new();
        for (i, line) in self.text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_ascii_whitespace().map(|f| f.parse::<i64>());
            for v in &mut now {
                match fields.next() {
                    Some(Ok(d)) => *v += d,
                    _ => panic!("traces/{} line {}: want three integers", self.file, i + 1),
                }
            }
            let [bytes, blocks, entries] = now.map(|v| v.max(0) as u64);
            out.push(Tick {
                bytes,
                blocks,
                entries,
            });
        }
        out
    }
}

/// The case replaying the trace of `family` (`seed` only names it: a trace is one recording).
pub(crate) fn case(family: Family, seed: u64) -> Option<Case> {
    let spec = TRACES.iter().find(|t| t.family == family)?;
    let name = format!("{}/{}", family.name(), seed);
    let series: Vec<Snapshot> = spec
        .ticks()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut s = Snapshot::new(i as f64 * INTERVAL, t.bytes * SCALE, t.blocks * SCALE);
            s.entries = Some(t.entries * SCALE);
            s
        })
        .collect();
    let truth = if spec.leak {
        let first = series.first().map_or(0, |s| s.curr_bytes) as f64;
        let bytes_at = |t: f64| {
            let i = ((t.max(0.0) / INTERVAL) as usize).min(series.len().saturating_sub(1));
            series.get(i).map_or(0.0, |s| s.curr_bytes as f64 - first)
        };
        let deadline = crate::production::deadline(&series, 0.0, bytes_at);
        let end = series.last().map_or(0.0, |s| s.t);
        let grown = series.last().map_or(0, |s| s.curr_bytes) as f64 - first;
        Truth::Leak {
            start_secs: 0.0,
            accept: vec![LeakType::GradualGrowth, LeakType::RapidGrowth],
            deadline_secs: deadline,
            budget_reached_secs: None,
            mb_per_min: if end > 0.0 {
                grown / 1e6 / (end / 60.0)
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
