//! Bounded per-scope history: recent snapshots at full resolution plus two coarser tiers, so a
//! leak of a few MB per hour stays visible over days in memory fixed by configuration.
//!
//! # Tiers
//!
//! With `limit` = `max_snapshots_per_cache`:
//!
//! - **fine**: the last `limit` snapshots as taken (up to `limit + 9`, see below);
//! - **tier 1**: one point per [`TIER_FACTOR`] (10) intervals, the last `limit` of them (up to
//!   `limit + 9`);
//! - **tier 2**: one point per 100 intervals, the last `limit` of them.
//!
//! At the default 1,000 points and 30 s intervals that is 8 hours fine, 3.5 days at 5 minutes,
//! and 35 days at 50 minutes; what is older than the last tier is dropped.
//!
//! # How a coarse point is formed
//!
//! A coarse point is a [`Snapshot`] standing for a run of consecutive intervals:
//!
//! - `t` and the state fields (`curr_bytes`, `curr_blocks`, `entries`, `rss_bytes`) are those of
//!   the **last** snapshot of the run, so a coarse point is an exact sample of the state at its
//!   time and consecutive points of the merged series still reconcile:
//!   `curr_bytes[i] - curr_bytes[i-1] = bytes_allocated[i] - bytes_freed[i]` for memory the
//!   allocator sees, across tier boundaries too;
//! - the interval fields (`allocs`, `frees`, `bytes_allocated`, `bytes_freed`) are **summed**
//!   over the run (saturating), so rates and free ratios over coarse points stay exact;
//! - the **minimum** and maximum of `curr_bytes` over the run are kept beside it. The minimum is
//!   what slow-leak detection needs: a cache's eviction sawtooth aliases badly when sampled every
//!   50 minutes, while the minimum of each run is exactly the floor the detectors compute
//!   (docs/detectors.md, "The floor"). [`ScopeHistory::floor_series`] gives the merged series with these minima.
//!
//! The age profile ([`Snapshot::live_age`]) is state too: a coarse point carries that of its
//! run's last snapshot.
//!
//! # The age column
//!
//! The rings keep every field but the age profile (88 bytes a point); the profiles live in a
//! column beside them, 6 bytes a point, with the same tiers and evictions, created only when the
//! first profile arrives. With `enable_churn_monitoring` off (or stack sampling off, or a scope
//! that never had a live sample) no profile ever arrives, and the column costs nothing: the off
//! switch gives back 6 bytes a point, 18 KB a scope at the default 1,000 points a tier.
//!
//! # Merging without overlap
//!
//! The tiers overlap in time (every snapshot feeds all three), so [`ScopeHistory::series`] takes
//! each tier only for the time before the next finer one begins. To make the junctions exact,
//! rings evict whole runs of 10 from the front: the fine ring always starts at a tier-1 boundary
//! and the tier-1 ring at a tier-2 boundary, so every interval is counted exactly once, with no
//! gap. That is why the two finer rings hold up to `limit + 9` points, and why `limit` must be at
//! least 10 (which [`Config::validate`](crate::Config::validate) enforces).

use std::collections::{BTreeMap, VecDeque};
use std::mem::size_of;

use crate::snapshot::Snapshot;

/// How many points of one tier make one point of the next coarser tier.
pub const TIER_FACTOR: usize = 10;

/// A snapshot as the rings keep it: every field but the age profile, which the age column holds
/// (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Kept {
    t: f64,
    curr_bytes: u64,
    curr_blocks: u64,
    allocs: u64,
    frees: u64,
    bytes_allocated: u64,
    bytes_freed: u64,
    entries: Option<u64>,
    rss_bytes: Option<u64>,
}

impl Kept {
    fn of(s: &Snapshot) -> Self {
        Kept {
            t: s.t,
            curr_bytes: s.curr_bytes,
            curr_blocks: s.curr_blocks,
            allocs: s.allocs,
            frees: s.frees,
            bytes_allocated: s.bytes_allocated,
            bytes_freed: s.bytes_freed,
            entries: s.entries,
            rss_bytes: s.rss_bytes,
        }
    }

    /// The snapshot again, with its age profile from the column.
    fn snapshot(&self, live_age: Option<[u16; 3]>) -> Snapshot {
        let mut s = Snapshot::new(self.t, self.curr_bytes, self.curr_blocks);
        s.allocs = self.allocs;
        s.frees = self.frees;
        s.bytes_allocated = self.bytes_allocated;
        s.bytes_freed = self.bytes_freed;
        s.entries = self.entries;
        s.rss_bytes = self.rss_bytes;
        s.live_age = live_age;
        s
    }

    /// Extends the run this point stands for with the later point `next`, as [`merge_into`]
    /// does for snapshots.
    fn fold(&mut self, next: &Kept) {
        *self = Kept {
            allocs: self.allocs.saturating_add(next.allocs),
            frees: self.frees.saturating_add(next.frees),
            bytes_allocated: self.bytes_allocated.saturating_add(next.bytes_allocated),
            bytes_freed: self.bytes_freed.saturating_add(next.bytes_freed),
            ..*next
        };
    }
}

/// An age profile as the column stores it: [`NO_AGE`] for a point without one.
type Age = [u16; 3];

/// A point without an age profile. Shares are at most [`AGE_SHARE_SCALE`](crate::snapshot::AGE_SHARE_SCALE)
/// (10,000), so no profile is this.
const NO_AGE: Age = [u16::MAX; 3];

fn age_of(a: &Age) -> Option<[u16; 3]> {
    (*a != NO_AGE).then_some(*a)
}

/// The age profiles of one history, point for point beside its three rings.
#[derive(Clone, Debug, Default)]
struct AgeColumn {
    fine: VecDeque<Age>,
    tiers: [VecDeque<Age>; 2],
}

/// A run of consecutive intervals folded into one point (see the module docs).
#[derive(Clone, Debug, PartialEq)]
struct Coarse {
    /// Sums of the interval fields, state of the last snapshot.
    point: Kept,
    min_bytes: u64,
    max_bytes: u64,
}

impl Coarse {
    fn of(s: Kept) -> Self {
        Coarse {
            point: s,
            min_bytes: s.curr_bytes,
            max_bytes: s.curr_bytes,
        }
    }

    /// Extends the run with the next, later run.
    fn fold(&mut self, next: &Coarse) {
        self.point.fold(&next.point);
        self.min_bytes = self.min_bytes.min(next.min_bytes);
        self.max_bytes = self.max_bytes.max(next.max_bytes);
    }
}

/// Extends the run `run` stands for with the later point `next`: the state fields and `t` become
/// `next`'s, the interval counters are summed (saturating). The dump's older runs are formed by
/// it, as the coarse tiers are by the same rule on the points the rings keep.
pub(crate) fn merge_into(run: &mut Snapshot, next: &Snapshot) {
    let (allocs, frees) = (
        run.allocs.saturating_add(next.allocs),
        run.frees.saturating_add(next.frees),
    );
    let (allocated, freed) = (
        run.bytes_allocated.saturating_add(next.bytes_allocated),
        run.bytes_freed.saturating_add(next.bytes_freed),
    );
    *run = next.clone();
    run.allocs = allocs;
    run.frees = frees;
    run.bytes_allocated = allocated;
    run.bytes_freed = freed;
}

/// One coarse tier: a ring of finished runs and the run being formed.
#[derive(Clone, Debug, Default)]
struct Tier {
    ring: VecDeque<Coarse>,
    pending: Option<Coarse>,
    pending_len: usize,
}

impl Tier {
    /// Adds one finer point; returns the finished run when this point completes one.
    fn add(&mut self, point: Coarse) -> Option<Coarse> {
        match &mut self.pending {
            Some(run) => run.fold(&point),
            None => self.pending = Some(point),
        }
        self.pending_len += 1;
        if self.pending_len < TIER_FACTOR {
            return None;
        }
        self.pending_len = 0;
        self.pending.take()
    }
}

/// The bounded history of one scope.
#[derive(Clone, Debug)]
pub struct ScopeHistory {
    limit: usize,
    fine: VecDeque<Kept>,
    /// Tier 1 (10 intervals per point) and tier 2 (100).
    tiers: [Tier; 2],
    /// The age profiles beside the three rings, from the first snapshot that had one.
    ages: Option<Box<AgeColumn>>,
    /// Snapshots ever pushed: the global index of the next one.
    pushed: u64,
    /// Time of the last snapshot that showed activity or held memory.
    last_active: Option<f64>,
}

impl ScopeHistory {
    /// An empty history keeping `limit` points per tier; `limit` below 10 is raised to 10, the
    /// least at which the tiers meet without gaps.
    pub fn new(limit: usize) -> Self {
        ScopeHistory {
            limit: limit.max(TIER_FACTOR),
            fine: VecDeque::new(),
            tiers: Default::default(),
            ages: None,
            pushed: 0,
            last_active: None,
        }
    }

    /// Appends the snapshot of the interval that just ended. Times are expected to increase
    /// (they come from a monotonic clock); the history does not reorder.
    pub fn push(&mut self, s: Snapshot) {
        let active = s.allocs > 0
            || s.frees > 0
            || s.curr_bytes > 0
            || s.curr_blocks > 0
            || s.entries.is_some_and(|n| n > 0);
        if active || self.last_active.is_none() {
            self.last_active = Some(s.t);
        }
        if s.live_age.is_some() && self.ages.is_none() {
            // The first profile: the points before it had none.
            let none = |n: usize| VecDeque::from(vec![NO_AGE; n]);
            self.ages = Some(Box::new(AgeColumn {
                fine: none(self.fine.len()),
                tiers: [
                    none(self.tiers[0].ring.len()),
                    none(self.tiers[1].ring.len()),
                ],
            }));
        }
        let age = s.live_age.unwrap_or(NO_AGE);
        let kept = Kept::of(&s);
        let done = self.tiers[0].add(Coarse::of(kept));
        push_run_aligned(&mut self.fine, kept, self.limit);
        let mut ages = self.ages.as_deref_mut();
        if let Some(col) = ages.as_deref_mut() {
            push_run_aligned(&mut col.fine, age, self.limit);
        }
        self.pushed += 1;
        if let Some(run) = done {
            // A finished run is timed at this snapshot, so its age profile is this one's.
            let done = self.tiers[1].add(run.clone());
            push_run_aligned(&mut self.tiers[0].ring, run, self.limit);
            if let Some(col) = ages.as_deref_mut() {
                push_run_aligned(&mut col.tiers[0], age, self.limit);
            }
            if let Some(run) = done {
                push_last(&mut self.tiers[1].ring, run, self.limit);
                if let Some(col) = ages {
                    push_last(&mut col.tiers[1], age, self.limit);
                }
            }
        }
    }

    /// The last `limit` to `limit + 9` snapshots at full resolution, oldest first.
    pub fn recent(&self) -> impl DoubleEndedIterator<Item = Snapshot> + ExactSizeIterator + '_ {
        let ages = self.ages.as_deref().map(|c| &c.fine);
        self.fine
            .iter()
            .enumerate()
            .map(move |(i, k)| k.snapshot(ages.and_then(|a| a.get(i)).and_then(age_of)))
    }

    /// The latest snapshot.
    pub fn latest(&self) -> Option<Snapshot> {
        self.recent().next_back()
    }

    /// How many snapshots were ever pushed, including those folded or dropped.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// The whole history as one chronological series: tier-2 points, then tier-1 points, then
    /// the fine snapshots, each interval counted once (see the module docs for what a coarse
    /// point holds).
    pub fn series(&self) -> Vec<Snapshot> {
        self.points().collect()
    }

    /// [`series`](Self::series) point by point, without collecting it.
    pub fn points(&self) -> impl DoubleEndedIterator<Item = Snapshot> + Clone + '_ {
        self.merged().map(|(s, _)| s)
    }

    /// [`series`](Self::series) with each coarse point's `curr_bytes` replaced by the minimum over
    /// its run: the floor series slow-leak detection reads, free of the eviction sawtooth.
    pub fn floor_series(&self) -> Vec<Snapshot> {
        self.merged()
            .map(|(s, min)| Snapshot {
                curr_bytes: min,
                ..s
            })
            .collect()
    }

    /// Whether the scope holds nothing (bytes, blocks, entries) and has seen no allocation or
    /// free for at least `idle_secs` before `now`: what `auto_cleanup_old_data` prunes.
    pub fn is_idle(&self, now: f64, idle_secs: f64) -> bool {
        let Some(last) = self.fine.back() else {
            return true;
        };
        let empty = last.curr_bytes == 0 && last.curr_blocks == 0 && last.entries.unwrap_or(0) == 0;
        empty && self.last_active.is_some_and(|t| now - t >= idle_secs)
    }

    /// Bytes this history occupies on the heap and inline, from the rings' capacities.
    pub fn memory_bytes(&self) -> usize {
        let ages = self.ages.as_deref().map_or(0, |c| {
            size_of::<AgeColumn>()
                + (c.fine.capacity() + c.tiers.iter().map(VecDeque::capacity).sum::<usize>())
                    * size_of::<Age>()
        });
        size_of::<Self>()
            + self.fine.capacity() * size_of::<Kept>()
            + self
                .tiers
                .iter()
                .map(|t| t.ring.capacity() * size_of::<Coarse>())
                .sum::<usize>()
            + ages
    }

    /// The most [`memory_bytes`](Self::memory_bytes) can reach for a history of `limit` points
    /// per tier, with or without the age column: the bound the collector reports for its own
    /// memory.
    pub fn memory_bound(limit: usize, ages: bool) -> usize {
        let limit = limit.max(TIER_FACTOR);
        let aligned = limit + TIER_FACTOR - 1;
        let age_column = if ages {
            size_of::<AgeColumn>() + (2 * aligned + limit) * size_of::<Age>()
        } else {
            0
        };
        size_of::<Self>()
            + aligned * size_of::<Kept>()
            + (aligned + limit) * size_of::<Coarse>()
            + age_column
    }

    /// The merged series, each point with its minimum `curr_bytes` (a fine snapshot's own): what
    /// the detectors read.
    pub(crate) fn floor_points(
        &self,
    ) -> impl DoubleEndedIterator<Item = (Snapshot, u64)> + Clone + '_ {
        self.merged()
    }

    /// The merged series with each point's minimum `curr_bytes`.
    fn merged(&self) -> impl DoubleEndedIterator<Item = (Snapshot, u64)> + Clone + '_ {
        let factor = TIER_FACTOR as u64;
        // Global index (in snapshots) where each ring starts. Each finer ring starts on a run
        // boundary of the next coarser one, so the coarser ring is used up to exactly there.
        let fine_start = self.pushed - self.fine.len() as u64;
        let t1 = &self.tiers[0].ring;
        let t1_first_run = self.pushed / factor - t1.len() as u64;
        let t1_used = (fine_start / factor).saturating_sub(t1_first_run) as usize;
        let boundary = if t1_used > 0 {
            t1_first_run * factor
        } else {
            fine_start
        };
        let t2 = &self.tiers[1].ring;
        let t2_first_run = self.pushed / (factor * factor) - t2.len() as u64;
        let t2_used = (boundary / (factor * factor)).saturating_sub(t2_first_run) as usize;
        let ages = self.ages.as_deref();
        // The age of point `i` of a ring, from its column when there is one.
        let age = move |column: fn(&AgeColumn) -> &VecDeque<Age>, i: usize| {
            // `get`, not indexing: nothing to panic, so a reader that ignores the age (the
            // detectors) lets the compiler drop the lookup.
            ages.and_then(|c| column(c).get(i)).and_then(age_of)
        };
        let coarse = move |column: fn(&AgeColumn) -> &VecDeque<Age>| {
            move |(i, c): (usize, &Coarse)| (c.point.snapshot(age(column, i)), c.min_bytes)
        };
        t2.iter()
            .take(t2_used)
            .enumerate()
            .map(coarse(|c| &c.tiers[1]))
            .chain(
                t1.iter()
                    .take(t1_used)
                    .enumerate()
                    .map(coarse(|c| &c.tiers[0])),
            )
            .chain(
                self.fine
                    .iter()
                    .enumerate()
                    .map(move |(i, k)| (k.snapshot(age(|c| &c.fine, i)), k.curr_bytes)),
            )
    }
}

/// Appends to the coarsest ring, which drops its oldest point when full.
fn push_last<T>(ring: &mut VecDeque<T>, item: T, limit: usize) {
    if ring.len() == limit {
        ring.pop_front();
    }
    push_bounded(ring, item, limit);
}

/// Appends to a ring that evicts whole runs of [`TIER_FACTOR`] from the front, so that it always
/// starts on a boundary of the next coarser tier; it holds at most `limit + 9` items.
fn push_run_aligned<T>(ring: &mut VecDeque<T>, item: T, limit: usize) {
    let most = limit + TIER_FACTOR - 1;
    if ring.len() == most {
        ring.drain(..TIER_FACTOR);
    }
    push_bounded(ring, item, most);
}

/// Appends, growing the ring's capacity geometrically like a `Vec` but never past `most`, so a
/// full ring costs its bound and not the next power of two above it.
fn push_bounded<T>(ring: &mut VecDeque<T>, item: T, most: usize) {
    if ring.len() == ring.capacity() {
        let target = (ring.capacity() * 2).clamp(8, most.max(ring.len() + 1));
        ring.reserve_exact(target - ring.len());
    }
    ring.push_back(item);
}

/// The histories of all scopes, by name. Iteration is in name order, so whatever is built from
/// it (the dump, the Prometheus file) comes out sorted.
#[derive(Clone, Debug)]
pub struct Histories {
    limit: usize,
    scopes: BTreeMap<String, ScopeHistory>,
}

impl Histories {
    /// No scopes yet; each will keep `limit` points per tier (`max_snapshots_per_cache`).
    pub fn new(limit: usize) -> Self {
        Histories {
            limit,
            scopes: BTreeMap::new(),
        }
    }

    /// Appends `s` to the history of `scope`, creating it on its first snapshot.
    pub fn push(&mut self, scope: &str, s: Snapshot) {
        // Look up by `&str` first: allocating the key on every snapshot of every scope would be
        // the collector's largest allocation source.
        match self.scopes.get_mut(scope) {
            Some(history) => history.push(s),
            None => {
                let mut history = ScopeHistory::new(self.limit);
                history.push(s);
                self.scopes.insert(scope.to_owned(), history);
            }
        }
    }

    /// The history of `scope`.
    pub fn get(&self, scope: &str) -> Option<&ScopeHistory> {
        self.scopes.get(scope)
    }

    /// Every scope's history, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ScopeHistory)> {
        self.scopes.iter().map(|(name, h)| (name.as_str(), h))
    }

    /// How many scopes have a history.
    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// Whether no scope has a history.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// Removes every scope [idle](ScopeHistory::is_idle) for `idle_secs` at `now`, except those
    /// `keep` protects (the built-in `unscoped`, scopes with open leaks), and returns the removed
    /// names in order. A pruned scope that allocates again starts a fresh history.
    pub fn prune_idle(
        &mut self,
        now: f64,
        idle_secs: f64,
        keep: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let idle: Vec<String> = self
            .scopes
            .iter()
            .filter(|(name, h)| h.is_idle(now, idle_secs) && !keep(name))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &idle {
            self.scopes.remove(name);
        }
        idle
    }

    /// Estimated bytes all histories occupy, names and map entries included (the map's node
    /// slack is not counted exactly).
    pub fn memory_bytes(&self) -> usize {
        size_of::<Self>()
            + self
                .scopes
                .iter()
                .map(|(name, h)| size_of::<String>() + name.capacity() + h.memory_bytes())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot at interval `i` (30 s apart) with one allocation of `i` bytes, sawtooth bytes
    /// and a rising floor.
    fn snap(i: u64) -> Snapshot {
        let mut s = Snapshot::new(30.0 * (i + 1) as f64, 1000 + i + (i % 7) * 100, i % 5);
        s.allocs = 1;
        s.frees = i % 2;
        s.bytes_allocated = i;
        s.bytes_freed = i / 2;
        s.entries = Some(i);
        s
    }

    fn filled(limit: usize, n: u64) -> ScopeHistory {
        let mut h = ScopeHistory::new(limit);
        (0..n).for_each(|i| h.push(snap(i)));
        h
    }

    #[test]
    fn short_histories_are_all_fine() {
        let h = filled(10, 15);
        assert_eq!(h.series(), (0..15).map(snap).collect::<Vec<_>>());
        assert_eq!(h.floor_series(), h.series());
        assert_eq!(h.latest(), Some(snap(14)));
    }

    #[test]
    fn coarse_points_sum_intervals_and_keep_the_last_state_and_the_minimum() {
        // limit 10, 250 snapshots: the fine ring holds 240..250 and the tier-1 ring runs 10..25
        // (snapshots 100..250), so the merge takes tier 2's first run [0, 100), then tier 1's
        // runs from 100 up to where the fine ring starts, then the fine ring.
        let h = filled(10, 250);
        let series = h.series();
        let floors = h.floor_series();
        let starts: Vec<u64> = [0].into_iter().chain((100..240).step_by(10)).collect();
        let ends: Vec<u64> = (100..=240).step_by(10).collect();
        assert_eq!(series.len(), starts.len() + 10);
        for (k, (&a, &b)) in starts.iter().zip(&ends).enumerate() {
            let run: Vec<Snapshot> = (a..b).map(snap).collect();
            let last = run.last().unwrap();
            let p = &series[k];
            assert_eq!(p.t, last.t, "point {k} is timed at its last interval");
            assert_eq!(
                (p.curr_bytes, p.curr_blocks),
                (last.curr_bytes, last.curr_blocks)
            );
            assert_eq!((p.entries, p.rss_bytes), (last.entries, last.rss_bytes));
            assert_eq!(p.allocs, run.iter().map(|s| s.allocs).sum::<u64>());
            assert_eq!(p.frees, run.iter().map(|s| s.frees).sum::<u64>());
            let allocated: u64 = run.iter().map(|s| s.bytes_allocated).sum();
            let freed: u64 = run.iter().map(|s| s.bytes_freed).sum();
            assert_eq!((p.bytes_allocated, p.bytes_freed), (allocated, freed));
            let min = run.iter().map(|s| s.curr_bytes).min().unwrap();
            assert_eq!(floors[k].curr_bytes, min);
            assert_eq!(
                Snapshot {
                    curr_bytes: p.curr_bytes,
                    ..floors[k].clone()
                },
                *p
            );
        }
        assert_eq!(series[15..], (240..250).map(snap).collect::<Vec<_>>()[..]);
        assert_eq!(floors[15..], series[15..]);
    }

    #[test]
    fn sums_saturate_instead_of_overflowing() {
        let mut h = ScopeHistory::new(10);
        for i in 0..20 {
            let mut s = Snapshot::new(i as f64, 0, 0);
            s.bytes_allocated = u64::MAX / 4;
            h.push(s);
        }
        let t1 = &h.tiers[0].ring;
        assert_eq!(t1[0].point.bytes_allocated, u64::MAX);
    }

    /// Every interval appears exactly once in the merged series, in order, whatever the count:
    /// each point (one allocation per interval) starts where the previous one ended.
    #[test]
    fn merged_series_is_chronological_and_complete_at_every_length() {
        let mut h = ScopeHistory::new(12);
        for n in 1..=5000u64 {
            h.push(snap(n - 1));
            let series = h.series();
            let last_index = |s: &Snapshot| (s.t / 30.0) as u64 - 1;
            let first = last_index(&series[0]) + 1 - series[0].allocs;
            let mut next = first;
            for s in &series {
                assert_eq!(last_index(s) + 1 - s.allocs, next, "n = {n}");
                next = last_index(s) + 1;
            }
            assert_eq!(next, n);
            // Tier 2 keeps 12 runs of 100: nothing is dropped before its 13th run completes.
            if n < 1300 {
                assert_eq!(first, 0, "n = {n}");
            }
            assert_eq!(series.last(), Some(&snap(n - 1)));
        }
    }

    #[test]
    fn a_week_at_30_second_intervals_stays_bounded() {
        let week = 7 * 24 * 3600 / 30;
        let h = filled(1000, week);
        assert_eq!(week, 20_160);
        // Fine: 1000 plus what is past the last eviction of a run of 10: (20160 - 1010) % 10.
        assert_eq!(h.fine.len(), 1000);
        // Tier 1: 2016 runs, evicted in tens once past 1009.
        assert_eq!(h.tiers[0].ring.len(), 1006);
        assert_eq!(h.tiers[1].ring.len(), 201);
        let series = h.series();
        // Tier 2 runs [0, 101) cover snapshots 0..10100; tier 1 runs 1010..1916 cover up to
        // 19160, where the fine ring starts.
        assert_eq!(series.len(), 101 + 906 + 1000);
        assert_eq!(series.iter().map(|s| s.allocs).sum::<u64>(), week);
        assert!(series.windows(2).all(|w| w[0].t < w[1].t));
        assert!(h.memory_bytes() <= ScopeHistory::memory_bound(1000, false));
    }

    #[test]
    fn a_hundred_days_drops_only_the_oldest_coarse_points() {
        let n = 100 * 24 * 3600 / 30;
        let h = filled(1000, n);
        assert_eq!(h.tiers[1].ring.len(), 1000);
        let series = h.series();
        let covered: u64 = series.iter().map(|s| s.allocs).sum();
        // 2880 tier-2 runs were made and the ring keeps the last 1000 (from run 1880); tier 1
        // keeps runs 27800..28800 and is used up to the fine ring's start at 287000.
        assert_eq!(series.len(), 900 + 900 + 1000);
        assert_eq!(covered, n - 1880 * 100);
        assert!(h.memory_bytes() <= ScopeHistory::memory_bound(1000, false));
        assert!(h.ages.is_none(), "no snapshot had an age profile");
    }

    /// What one scope's history costs, with and without the age column: 88 bytes a fine point,
    /// 104 a coarse one (its minimum and maximum beside it), and 6 more a point for the ages.
    #[test]
    fn the_age_column_costs_six_bytes_a_point_and_nothing_when_off() {
        assert_eq!(size_of::<Kept>(), 88);
        assert_eq!(size_of::<Coarse>(), 104);
        assert_eq!(size_of::<Age>(), 6);
        // The default 1,000 points a tier: 1,009 fine, 1,009 tier-1 and 1,000 tier-2 points.
        let off = ScopeHistory::memory_bound(1000, false);
        let on = ScopeHistory::memory_bound(1000, true);
        let inline = size_of::<ScopeHistory>();
        assert_eq!(off, inline + 1009 * 88 + 2009 * 104);
        assert_eq!(on - off, size_of::<AgeColumn>() + 3018 * 6);
        assert_eq!((off - inline, on - off), (297_728, 18_204));
        // A history filled without profiles never allocates the column; one with them reaches
        // the bound with it.
        let n = 100 * 24 * 3600 / 30;
        let without = filled(1000, n);
        assert_eq!(without.memory_bytes(), off);
        let mut with = ScopeHistory::new(1000);
        for i in 0..n {
            let mut s = snap(i);
            s.live_age = Some([10_000, (i % 10_000) as u16, 0]);
            with.push(s);
        }
        assert_eq!(with.memory_bytes(), on);
    }

    /// Profiles are state: a coarse point carries its run's last one, and the points from
    /// before the first profile have none, at every tier.
    #[test]
    fn age_profiles_follow_their_points_through_the_tiers() {
        let age = |i: u64| [10_000, i as u16, (i / 2) as u16];
        let mut h = ScopeHistory::new(10);
        // Profiles from snapshot 150 on: the column is created then, after tier 2's first run.
        for i in 0..2_000 {
            let mut s = snap(i);
            s.live_age = (i >= 150).then(|| age(i));
            h.push(s);
        }
        let col = h.ages.as_deref().unwrap();
        assert_eq!(col.fine.len(), h.fine.len());
        assert_eq!(col.tiers[0].len(), h.tiers[0].ring.len());
        assert_eq!(col.tiers[1].len(), h.tiers[1].ring.len());
        let series = h.series();
        assert!(series.len() > 20);
        for p in &series {
            // Each point is timed at its last snapshot, t = 30 (i + 1).
            let i = (p.t / 30.0) as u64 - 1;
            assert_eq!(p.live_age, (i >= 150).then(|| age(i)), "point at {}", p.t);
        }
        // Tier 2's first kept run (snapshots 900..1000 and on) and the fine ring carry profiles;
        // pushing a profile-less snapshot records none for it.
        let mut s = snap(2_000);
        s.live_age = None;
        h.push(s);
        assert_eq!(h.latest().unwrap().live_age, None);
        assert_eq!(h.series()[series.len() - 1].live_age, Some(age(1_999)));
        // The detectors' points carry the same profiles as the series.
        let floors: Vec<_> = h.floor_points().map(|(s, _)| s.live_age).collect();
        assert_eq!(
            floors,
            h.series().iter().map(|s| s.live_age).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_history_before_its_first_profile_reads_as_without() {
        let mut h = ScopeHistory::new(10);
        (0..35).for_each(|i| h.push(snap(i)));
        let mut s = snap(35);
        s.live_age = Some([1, 2, 3]);
        h.push(s);
        let series = h.series();
        assert_eq!(series.last().unwrap().live_age, Some([1, 2, 3]));
        assert!(series[..series.len() - 1]
            .iter()
            .all(|p| p.live_age.is_none()));
    }

    #[test]
    fn idle_and_empty_scopes_are_pruned() {
        let mut hs = Histories::new(10);
        hs.push("busy", snap(0));
        hs.push("emptied", Snapshot::new(30.0, 64, 1));
        let mut freed = Snapshot::new(60.0, 0, 0);
        freed.frees = 1;
        hs.push("emptied", freed);
        hs.push("never_used", Snapshot::new(30.0, 0, 0));
        hs.push("unscoped", Snapshot::new(30.0, 0, 0));
        let keep = |name: &str| name == "unscoped";
        assert_eq!(hs.prune_idle(60.0, 100.0, keep), Vec::<String>::new());
        assert_eq!(hs.prune_idle(130.0, 100.0, keep), vec!["never_used"]);
        assert_eq!(hs.prune_idle(160.0, 100.0, keep), vec!["emptied"]);
        let names: Vec<&str> = hs.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["busy", "unscoped"]);
    }

    #[test]
    fn a_scope_with_entries_is_not_empty() {
        let mut h = ScopeHistory::new(10);
        let mut s = Snapshot::new(0.0, 0, 0);
        s.entries = Some(3);
        h.push(s);
        assert!(!h.is_idle(1e9, 1.0));
    }

    #[test]
    fn memory_estimate_grows_with_history_and_names() {
        let mut hs = Histories::new(1000);
        let empty = hs.memory_bytes();
        for i in 0..50 {
            hs.push("a_long_scope_name", snap(i));
        }
        let one = hs.memory_bytes();
        assert!(one >= empty + 50 * size_of::<Kept>() + "a_long_scope_name".len());
        assert_eq!(hs.get("a_long_scope_name").unwrap().pushed(), 50);
        assert_eq!(hs.len(), 1);
    }
}
