//! Snapshots: what the collector records about a scope, and about the process, once per interval.
//!
//! These are plain data. The collector produces them, history keeps them, the detectors read
//! series of them and the dump carries them.

use serde::{Deserialize, Serialize};

/// One scope at one instant, plus what happened to it since the previous snapshot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// Seconds since the collector started (monotonic; fractions allowed).
    pub t: f64,
    /// Live bytes owned by the scope (requested sizes).
    pub curr_bytes: u64,
    /// Live blocks owned by the scope.
    pub curr_blocks: u64,
    /// Allocations charged to the scope in the interval ending at `t`.
    pub allocs: u64,
    /// Frees charged to the scope in the interval.
    pub frees: u64,
    /// Bytes allocated in the interval.
    pub bytes_allocated: u64,
    /// Bytes freed in the interval.
    pub bytes_freed: u64,
    /// The scope's entry-count gauge, when the program sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// Process resident set size at `t`, where the platform reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
}

impl Snapshot {
    /// A snapshot at `t` seconds holding `curr_bytes` in `curr_blocks` blocks, with no interval
    /// activity, gauge or RSS. The other fields are public and can be set after.
    pub fn new(t: f64, curr_bytes: u64, curr_blocks: u64) -> Self {
        Snapshot {
            t,
            curr_bytes,
            curr_blocks,
            ..Snapshot::default()
        }
    }

    /// Bytes per entry, when an entry-count gauge is set and non-zero.
    pub fn bytes_per_entry(&self) -> Option<f64> {
        match self.entries {
            Some(n) if n > 0 => Some(self.curr_bytes as f64 / n as f64),
            _ => None,
        }
    }

    /// Frees divided by allocations in the interval (how much of what was allocated was given
    /// back), when anything was allocated.
    pub fn free_ratio(&self) -> Option<f64> {
        (self.allocs > 0).then(|| self.frees as f64 / self.allocs as f64)
    }
}

/// The whole process at one instant: what the fragmentation detector reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProcessSnapshot {
    /// Seconds since the collector started.
    pub t: f64,
    /// Process resident set size, where the platform reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rss_bytes: Option<u64>,
    /// Live bytes of all scopes together, leakscope's own included.
    pub tracked_bytes: u64,
    /// leakscope's own live bytes (collector tables, history, symbol cache).
    pub self_bytes: u64,
}

impl ProcessSnapshot {
    /// A process snapshot at `t` seconds.
    pub fn new(t: f64, rss_bytes: Option<u64>, tracked_bytes: u64, self_bytes: u64) -> Self {
        ProcessSnapshot {
            t,
            rss_bytes,
            tracked_bytes,
            self_bytes,
        }
    }
}
