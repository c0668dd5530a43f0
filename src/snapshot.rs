//! Snapshots: what the collector records about a scope, and about the process, once per
//! interval; and [`ScopeStats`], a scope's totals, which [`stats`](crate::stats) returns and
//! each scope of the dump carries.
//!
//! These are plain data. The registry and the collector produce them, history keeps them, the
//! detectors read series of them and the dump carries them.

use serde::{Deserialize, Serialize};

use crate::ids::Counts;

/// Allocation statistics of one scope.
///
/// Exact to the byte once every thread that touched the scope has flushed (see
/// [`flush`](crate::flush)); between flushes a live figure can trail by at most one batch per
/// thread. Bytes are the sizes the program requested, not what the inner allocator rounded them
/// up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScopeStats {
    /// Live bytes owned by the scope.
    pub curr_bytes: u64,
    /// Live blocks owned by the scope.
    pub curr_blocks: u64,
    /// Allocations charged to the scope (a `realloc` counts as one allocation and one free).
    pub total_allocs: u64,
    /// Frees charged to the scope, whichever thread freed.
    pub total_frees: u64,
    /// Bytes allocated in the scope over its lifetime.
    pub total_bytes_allocated: u64,
    /// Bytes freed from the scope over its lifetime.
    pub total_bytes_freed: u64,
    /// The most live bytes the scope held when totals were applied.
    pub max_bytes: u64,
}

impl ScopeStats {
    /// The field names, as serde writes them.
    pub(crate) const FIELDS: [&'static str; 7] = [
        "curr_bytes",
        "curr_blocks",
        "total_allocs",
        "total_frees",
        "total_bytes_allocated",
        "total_bytes_freed",
        "max_bytes",
    ];

    /// The field called `name` (one of [`FIELDS`](Self::FIELDS)), for the dump reader, which
    /// reads a scope's totals beside its other fields.
    pub(crate) fn field_mut(&mut self, name: &str) -> Option<&mut u64> {
        Some(match name {
            "curr_bytes" => &mut self.curr_bytes,
            "curr_blocks" => &mut self.curr_blocks,
            "total_allocs" => &mut self.total_allocs,
            "total_frees" => &mut self.total_frees,
            "total_bytes_allocated" => &mut self.total_bytes_allocated,
            "total_bytes_freed" => &mut self.total_bytes_freed,
            "max_bytes" => &mut self.max_bytes,
            _ => return None,
        })
    }

    /// The statistics of a scope with totals `c` and the most live bytes seen, `max_bytes`.
    pub(crate) fn from_counts(c: &Counts, max_bytes: u64) -> Self {
        ScopeStats {
            // Transiently negative when another thread's frees were applied before the
            // allocations still sitting in its owner's batch; exact (and non-negative) after
            // every thread has flushed.
            curr_bytes: c.bytes_allocated.saturating_sub(c.bytes_freed),
            curr_blocks: c.allocs.saturating_sub(c.frees),
            total_allocs: c.allocs,
            total_frees: c.frees,
            total_bytes_allocated: c.bytes_allocated,
            total_bytes_freed: c.bytes_freed,
            max_bytes,
        }
    }
}

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
    /// The age profile of the scope's live sampled memory at `t`: the shares of its estimated
    /// live bytes older than 1, 10 and 100 intervals, in ten-thousandths (see
    /// [`live_older_than`](Self::live_older_than)). `None` when churn monitoring is off, stack
    /// sampling is off, or no sample of the scope is live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_age: Option<[u16; 3]>,
}

/// The scale of [`Snapshot::live_age`]: shares are stored in ten-thousandths.
pub const AGE_SHARE_SCALE: u16 = 10_000;

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

    /// The shares (0 to 1) of live sampled memory older than 1, 10 and 100 intervals, when the
    /// snapshot carries an age profile.
    pub fn live_older_than(&self) -> Option<[f64; 3]> {
        self.live_age
            .map(|a| a.map(|v| f64::from(v) / f64::from(AGE_SHARE_SCALE)))
    }
}

/// Allocator churn of one scope over a window of its series: how fast it allocates and frees,
/// and how much of what it takes it gives back.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Churn {
    /// Seconds the window covers: from the first point's `t` to the last point's.
    pub secs: f64,
    /// Allocations per second.
    pub allocs_per_sec: f64,
    /// Frees per second.
    pub frees_per_sec: f64,
    /// Bytes allocated per second.
    pub bytes_allocated_per_sec: f64,
    /// Bytes freed per second.
    pub bytes_freed_per_sec: f64,
    /// Bytes freed divided by bytes allocated over the window, when anything was allocated: near 1
    /// for a cache that gives back what it takes, falling when it retains.
    pub free_ratio: Option<f64>,
    /// Mean size of the blocks allocated in the window, when any were.
    pub mean_block_bytes: Option<f64>,
}

impl Churn {
    /// The churn over `points` (a chronological slice of one scope's series). The first point
    /// only marks where the window starts: its interval counters lie before it and are not
    /// counted; those of every later point are. `None` for fewer than two points or a window
    /// that does not move forward in time.
    pub fn over<'a>(points: impl IntoIterator<Item = &'a Snapshot>) -> Option<Churn> {
        let mut it = points.into_iter();
        let start = it.next()?.t;
        let (mut end, mut n) = (start, 0usize);
        let (mut allocs, mut frees, mut allocated, mut freed) = (0u64, 0u64, 0u64, 0u64);
        for s in it {
            end = s.t;
            n += 1;
            allocs = allocs.saturating_add(s.allocs);
            frees = frees.saturating_add(s.frees);
            allocated = allocated.saturating_add(s.bytes_allocated);
            freed = freed.saturating_add(s.bytes_freed);
        }
        let secs = end - start;
        if n == 0 || secs.is_nan() || secs <= 0.0 {
            return None;
        }
        Some(Churn {
            secs,
            allocs_per_sec: allocs as f64 / secs,
            frees_per_sec: frees as f64 / secs,
            bytes_allocated_per_sec: allocated as f64 / secs,
            bytes_freed_per_sec: freed as f64 / secs,
            free_ratio: (allocated > 0).then(|| freed as f64 / allocated as f64),
            mean_block_bytes: (allocs > 0).then(|| allocated as f64 / allocs as f64),
        })
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
    /// The process's memory pressure at `t`, read with churn monitoring on and on Linux; `None`
    /// otherwise. Boxed: the process history of a collector with monitoring off pays 8 bytes a
    /// point for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure: Option<Box<Pressure>>,
}

/// The process's memory pressure at one instant, as Linux reports it. Each part is `None` when
/// its files are absent (no memory cgroup, a kernel without pressure stall information) or could not
/// be read: absent, never zero.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pressure {
    /// Pressure stall information for memory: the cgroup's `memory.pressure` where there is
    /// one, else the system's `/proc/pressure/memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psi: Option<Psi>,
    /// The memory controller's figures for the process's cgroup (v2, or v1 where there is no
    /// v2 memory controller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<CgroupMemory>,
    /// Major page faults of the process since it started (`/proc/self/stat`, field 12): pages
    /// it had to wait for from disk, swap included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major_faults: Option<u64>,
}

/// Which file the stall figures come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PsiSource {
    /// The process's cgroup (`memory.pressure`): its own tasks' stalls.
    Cgroup,
    /// The whole system (`/proc/pressure/memory`).
    System,
}

/// Memory pressure stall information: the share of wall time in which tasks waited for memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Psi {
    /// Where the figures come from.
    pub source: PsiSource,
    /// `some`: at least one task stalled on memory.
    pub some: Stall,
    /// `full`: every non-idle task stalled at once; `None` when the file has no `full` line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<Stall>,
}

/// One line of a pressure file.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stall {
    /// Percent of the last 10 seconds stalled (0 to 100).
    pub avg10: f64,
    /// Percent of the last 60 seconds stalled.
    pub avg60: f64,
    /// Microseconds stalled since boot (or since the cgroup was created).
    pub total_us: u64,
}

/// The memory figures of a cgroup: v2's files, or v1's `memory.usage_in_bytes` and
/// `memory.limit_in_bytes` in `current_bytes` and `max_bytes` (v1 has no `memory.events`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CgroupMemory {
    /// `memory.current`: bytes charged to the cgroup (page cache included), when readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_bytes: Option<u64>,
    /// `memory.max`: the hard limit in bytes; `None` when it reads `max` (no limit) or could
    /// not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// `memory.events`, when readable: how often the cgroup hit its limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<MemoryEvents>,
}

/// The counters of a cgroup's `memory.events`, each since the cgroup was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MemoryEvents {
    /// Times usage went over `memory.high` and the cgroup was throttled and reclaimed.
    pub high: u64,
    /// Times usage was about to go over `memory.max`.
    pub max: u64,
    /// Times reclaim at `memory.max` failed and the OOM killer was invoked.
    pub oom: u64,
    /// Processes of the cgroup the OOM killer killed.
    pub oom_kill: u64,
}

impl ProcessSnapshot {
    /// A process snapshot at `t` seconds.
    pub fn new(t: f64, rss_bytes: Option<u64>, tracked_bytes: u64, self_bytes: u64) -> Self {
        ProcessSnapshot {
            t,
            rss_bytes,
            tracked_bytes,
            self_bytes,
            pressure: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dump reader's list of the totals' fields is serde's, in order, and each name reaches
    /// its own field.
    #[test]
    fn scope_stats_fields_are_serdes() {
        let mut stats = ScopeStats::default();
        for (i, name) in ScopeStats::FIELDS.iter().enumerate() {
            *stats.field_mut(name).unwrap() = i as u64 + 1;
        }
        let json = serde_json::to_value(stats).unwrap();
        let expected: serde_json::Map<String, serde_json::Value> = ScopeStats::FIELDS
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), (i as u64 + 1).into()))
            .collect();
        assert_eq!(json, serde_json::Value::Object(expected));
        assert!(stats.field_mut("name").is_none());
    }

    /// A scope that, every 30 s, allocates 40 blocks of 256 bytes and frees 30 of them.
    fn steady(i: u64) -> Snapshot {
        let mut s = Snapshot::new(30.0 * i as f64, 2560 * i, 10 * i);
        (s.allocs, s.frees) = (40, 30);
        (s.bytes_allocated, s.bytes_freed) = (10_240, 7_680);
        s
    }

    #[test]
    fn churn_over_a_window_is_exact() {
        let series: Vec<Snapshot> = (0..5).map(steady).collect();
        let c = Churn::over(&series).unwrap();
        // Four intervals of 30 s are counted; the first point only opens the window.
        assert_eq!(c.secs, 120.0);
        assert_eq!(c.allocs_per_sec, 160.0 / 120.0);
        assert_eq!(c.frees_per_sec, 1.0);
        assert_eq!(c.bytes_allocated_per_sec, 40_960.0 / 120.0);
        assert_eq!(c.bytes_freed_per_sec, 256.0);
        assert_eq!(c.free_ratio, Some(0.75));
        assert_eq!(c.mean_block_bytes, Some(256.0));
    }

    #[test]
    fn churn_needs_two_points_forward_in_time_and_some_allocation_for_a_ratio() {
        assert_eq!(Churn::over(&[steady(1)]), None);
        assert_eq!(Churn::over(&[steady(1), steady(1)]), None);
        let quiet = [Snapshot::new(0.0, 0, 0), Snapshot::new(10.0, 0, 0)];
        let c = Churn::over(&quiet).unwrap();
        assert_eq!((c.free_ratio, c.mean_block_bytes), (None, None));
        assert_eq!(c.allocs_per_sec, 0.0);
    }

    #[test]
    fn age_shares_read_back_as_fractions() {
        let mut s = Snapshot::new(0.0, 0, 0);
        assert_eq!(s.live_older_than(), None);
        s.live_age = Some([10_000, 2_500, 0]);
        assert_eq!(s.live_older_than(), Some([1.0, 0.25, 0.0]));
    }
}
