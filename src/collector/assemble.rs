//! Dump assembly: the collector's state as one [`Dump`], the history each scope carries in it,
//! and the boundary that keeps every number in it finite.

use std::path::Path;

use super::process;
use super::worker::{self, Collector};
use crate::detect;
use crate::dump::{self, history_window_secs, window_start, HistoryColumns};
use crate::dump::{Dump, ScopeDump, TrackerStats};
use crate::error::Error;
#[cfg(test)]
use crate::history::merge_into;
use crate::history::{ChunkColumns, Histories, ScopeHistory};
use crate::leak::Leak;
use crate::reentry::Untracked;
use crate::registry;
use crate::sampler;
use crate::sinks;
use crate::snapshot::Snapshot;

/// Call sites the dump lists.
const SITES_IN_DUMP: usize = 50;
/// Older history points a dump carries per scope, as merged runs: enough for a chart of the
/// whole history, while a dump of 1,000 scopes stays a few MB.
const DUMP_OLDER_POINTS: usize = 120;
/// Scopes whose recent history a dump carries in full (twice the detectors' span): those with
/// an open leak and this many of the largest.
const DUMP_FULL_SCOPES: usize = 50;
/// Recent snapshots a dump carries for the other scopes.
const DUMP_RECENT_POINTS: usize = 30;

/// What a dump is built for, which decides how many call sites it resolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DumpFor {
    /// The dump file: the top [`SITES_IN_DUMP`] call sites.
    File,
    /// [`metrics_text`](crate::live::metrics_text): no call sites.
    Metrics,
    /// [`heap_profile`](crate::live::heap_profile): every call site with live sampled memory.
    #[cfg_attr(not(feature = "pprof"), allow(dead_code))]
    Profile,
}

impl Collector {
    /// The dump as of now, as the dump file gets it.
    pub fn build_dump(&mut self) -> Dump {
        self.dump_for(DumpFor::File)
    }

    /// The state as of now in a dump, with as many call sites as `purpose` needs.
    pub(crate) fn dump_for(&mut self, purpose: DumpFor) -> Dump {
        let _untracked = Untracked::enter();
        let (mut dump, splits) = self.dump_without_history(purpose);
        for (s, split) in dump.scopes.iter_mut().zip(splits) {
            if let (Some(split), Some(h)) = (split, self.histories.get(&s.name)) {
                let mut out = Vec::new();
                thin(h, split, DUMP_OLDER_POINTS, &mut out);
                s.history = out;
            }
        }
        dump
    }

    /// Builds the dump (as [`build_dump`](Self::build_dump)) and writes it to `path` and its
    /// Prometheus text to `prometheus` (each if given), returning each write's result; the
    /// same bytes as writing the built dump, without building its histories: each scope's is
    /// thinned into columns as it is written, and the Prometheus text reads only each
    /// history's last [`history_window_secs`], all it uses.
    pub(crate) fn write_dump_files(
        &mut self,
        path: Option<&Path>,
        prometheus: Option<&Path>,
    ) -> (Result<(), Error>, Result<(), Error>) {
        let _untracked = Untracked::enter();
        let (mut dump, splits) = self.dump_without_history(DumpFor::File);
        write_thinned(&mut dump, &splits, &self.histories, path, prometheus)
    }

    /// The dump as of now with every history left empty, and for each scope the number of its
    /// history's points merged into older runs (the rest are carried whole), `None` where it
    /// has no history.
    fn dump_without_history(&mut self, purpose: DumpFor) -> (Dump, Vec<Option<usize>>) {
        let now = self.clock.now();
        let mut process = self.process.clone();
        process.rss_bytes = process::rss_bytes();
        let mut dump = Dump::new(self.clock.unix_now(), now, process, self.config.clone());
        let keep_from = now - 2.0 * detect::required_history_secs(&self.detector);
        for reading in self.read_scopes() {
            let mut s = ScopeDump::new(reading.name);
            s.stats = reading.stats;
            s.entries = reading.entries;
            dump.scopes.push(s);
        }
        let mut by_size: Vec<(u64, &str)> = dump
            .scopes
            .iter()
            .map(|s| (s.stats.curr_bytes, s.name.as_str()))
            .collect();
        by_size.sort_unstable_by(|a, b| b.cmp(a));
        let full: hashbrown::HashSet<String> = by_size
            .iter()
            .take(DUMP_FULL_SCOPES)
            .map(|(_, n)| n.to_string())
            .collect();
        let mut scopes: Vec<(ScopeDump, Option<usize>)> = Vec::with_capacity(dump.scopes.len());
        for mut s in std::mem::take(&mut dump.scopes) {
            s.budget_bytes = self.config.budget(&s.name);
            let split = self.histories.get(&s.name).map(|h| {
                if full.contains(&s.name) || self.leaks.check(&s.name).leak_count > 0 {
                    h.times().partition_point(|&t| t < keep_from)
                } else {
                    // The first of the last DUMP_RECENT_POINTS: a history's times strictly
                    // increase (`take_snapshot` takes one snapshot per instant), so the points
                    // before it are exactly those older than its time, and no time is decoded.
                    h.len().saturating_sub(DUMP_RECENT_POINTS)
                }
            });
            scopes.push((s, split));
        }
        // Stable, as the scopes alone were always sorted.
        scopes.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        let splits = scopes.iter().map(|(_, split)| *split).collect();
        dump.scopes = scopes.into_iter().map(|(s, _)| s).collect();
        dump.process_history = self.process_history.iter().cloned().collect();
        dump.leaks = self.leaks.all_leaks();
        dump.leaks.iter_mut().for_each(make_finite);
        dump.top_call_sites = match purpose {
            DumpFor::File => registry::top_sites(None, SITES_IN_DUMP),
            // Resolving symbols is the costly part of a dump; metrics need none of it.
            DumpFor::Metrics => Vec::new(),
            DumpFor::Profile => registry::top_sites(None, usize::MAX),
        };
        dump.tracker = tracker_stats();
        // A dump file counts itself; metrics and profiles count the files written so far.
        dump.tracker.dumps_written += u64::from(purpose == DumpFor::File);
        (dump, splits)
    }
}

/// Writes `dump` (its histories empty) to `path` and its Prometheus text to `prometheus`
/// (each if given), each scope's history thinned from `histories` at its split (as
/// [`Collector::dump_for`] fills it in) as it is written; returns each write's result. The
/// Prometheus text is rendered from `dump` holding only each history's last
/// [`history_window_secs`], all the text reads.
fn write_thinned(
    dump: &mut Dump,
    splits: &[Option<usize>],
    histories: &Histories,
    path: Option<&Path>,
    prometheus: Option<&Path>,
) -> (Result<(), Error>, Result<(), Error>) {
    let window = history_window_secs(&dump.config);
    let mut tails: Vec<Vec<Snapshot>> = vec![Vec::new(); dump.scopes.len()];
    let scopes = &dump.scopes;
    let history = |i: usize, c: &mut HistoryColumns, tails: &mut [Vec<Snapshot>]| {
        if let (Some(split), Some(h)) = (splits[i], histories.get(&scopes[i].name)) {
            thin(h, split, DUMP_OLDER_POINTS, c);
            tails[i] = c.points_from(window_start(&c.t, window));
        }
    };
    let dumped = match path {
        Some(path) => dump::write_dump_streamed(path, dump, |i, c| history(i, c, &mut tails)),
        None => {
            if prometheus.is_some() {
                let mut columns = HistoryColumns::default();
                for i in 0..scopes.len() {
                    columns.clear();
                    history(i, &mut columns, &mut tails);
                }
            }
            Ok(())
        }
    };
    let prometheus = match prometheus {
        Some(path) => {
            for (s, tail) in dump.scopes.iter_mut().zip(tails) {
                s.history = tail;
            }
            dump::write_prometheus(path, dump)
        }
        None => Ok(()),
    };
    (dumped, prometheus)
}

/// leakscope's own figures now: the counters of the hot path, the sampler, the registry and
/// the scopes, and the dump files of the collector started last.
pub(crate) fn tracker_stats() -> TrackerStats {
    let (self_bytes, self_blocks) = sinks::self_usage();
    let (samples_taken, samples_dropped) = sampler::counts();
    let (dumps_written, dump_errors) = worker::dump_files();
    TrackerStats {
        self_bytes,
        self_blocks,
        samples_taken,
        samples_dropped,
        channel_full_retries: crate::batch::channel_full_retries(),
        dumps_written,
        dump_errors,
        symbolizer_peak_bytes: registry::symbolizer_bytes(),
        gauges_dropped: crate::scope::gauges_dropped(),
    }
}

/// Replaces any non-finite number in `leak` (JSON cannot carry one: serde_json would write
/// `null`, which no reader accepts where a number belongs) with 0, or drops it where optional.
/// The detectors are not meant to produce one; this keeps a dump readable if one ever does.
fn make_finite(leak: &mut Leak) {
    let fix = |x: &mut f64| {
        if !x.is_finite() {
            *x = 0.0;
        }
    };
    fix(&mut leak.finding.confidence);
    fix(&mut leak.first_detected);
    fix(&mut leak.last_detected);
    fix(&mut leak.finding.rate_bytes_per_min);
    leak.finding.window.iter_mut().for_each(fix);
    leak.finding
        .statistics
        .iter_mut()
        .for_each(|s| fix(&mut s.value));
    leak.resolved_at = leak.resolved_at.filter(|x| x.is_finite());
    leak.finding.time_to_budget_secs = leak.finding.time_to_budget_secs.filter(|x| x.is_finite());
}

/// The history a dump carries: every point from `keep_from` on, and the points before it
/// merged into at most `older` runs (counters summed, state of the run's last point), so the
/// counters still add up over the time covered.
#[cfg(test)]
fn thin_history(series: Vec<Snapshot>, keep_from: f64, older: usize) -> Vec<Snapshot> {
    let split = series.partition_point(|s| s.t < keep_from);
    let mut out = Vec::new();
    thin_points(
        |each| each(&series[..], 0..series.len()),
        series.len(),
        split,
        older,
        &mut out,
    );
    out
}

/// Points a reader can take whole or only the interval counters of: a history chunk's
/// columns, or (in tests) plain snapshots.
trait Points {
    /// Point `i`, whole.
    fn point(&self, i: usize) -> Snapshot;
    /// The interval counters of points `range` summed, saturating: allocs, frees, bytes
    /// allocated, bytes freed.
    fn sum_counters(&self, range: std::ops::Range<usize>) -> [u64; 4];
}

impl Points for ChunkColumns {
    fn point(&self, i: usize) -> Snapshot {
        ChunkColumns::point(self, i)
    }
    fn sum_counters(&self, range: std::ops::Range<usize>) -> [u64; 4] {
        ChunkColumns::sum_counters(self, range)
    }
}

#[cfg(test)]
impl Points for [Snapshot] {
    fn point(&self, i: usize) -> Snapshot {
        self[i].clone()
    }
    fn sum_counters(&self, range: std::ops::Range<usize>) -> [u64; 4] {
        self[range].iter().fold([0; 4], |[a, f, ab, fb], s| {
            [
                a.saturating_add(s.allocs),
                f.saturating_add(s.frees),
                ab.saturating_add(s.bytes_allocated),
                fb.saturating_add(s.bytes_freed),
            ]
        })
    }
}

/// Where a thinned history goes: snapshots (the [`Dump`] value) or columns (the dump file,
/// written from them without a snapshot per point).
trait Thinned {
    /// Room for `n` more points.
    fn reserve(&mut self, n: usize);
    /// Appends `p`.
    fn push(&mut self, p: Snapshot);
    /// Adds `c` (as [`Points::sum_counters`]) to the last point's counters, saturating as
    /// [`merge_into`](crate::history::merge_into) does.
    fn add_counters(&mut self, c: [u64; 4]);
    /// Gives the last point `p`'s time and state, keeping its counters.
    fn set_state(&mut self, p: Snapshot);
}

impl Thinned for Vec<Snapshot> {
    fn reserve(&mut self, n: usize) {
        Vec::reserve(self, n);
    }
    fn push(&mut self, p: Snapshot) {
        Vec::push(self, p);
    }
    fn add_counters(&mut self, [allocs, frees, allocated, freed]: [u64; 4]) {
        let run = self.last_mut().expect("a run has a point");
        run.allocs = run.allocs.saturating_add(allocs);
        run.frees = run.frees.saturating_add(frees);
        run.bytes_allocated = run.bytes_allocated.saturating_add(allocated);
        run.bytes_freed = run.bytes_freed.saturating_add(freed);
    }
    fn set_state(&mut self, mut p: Snapshot) {
        let run = self.last_mut().expect("a run has a point");
        (p.allocs, p.frees) = (run.allocs, run.frees);
        (p.bytes_allocated, p.bytes_freed) = (run.bytes_allocated, run.bytes_freed);
        *run = p;
    }
}

impl Thinned for HistoryColumns {
    fn reserve(&mut self, n: usize) {
        self.t.reserve(n);
        for c in [
            &mut self.curr_bytes,
            &mut self.curr_blocks,
            &mut self.allocs,
            &mut self.frees,
            &mut self.bytes_allocated,
            &mut self.bytes_freed,
        ] {
            c.reserve(n);
        }
        self.entries.reserve(n);
        self.rss_bytes.reserve(n);
        self.live_age.reserve(n);
    }
    fn push(&mut self, p: Snapshot) {
        HistoryColumns::push(self, &p);
    }
    fn add_counters(&mut self, [allocs, frees, allocated, freed]: [u64; 4]) {
        let add = |c: &mut Vec<u64>, v: u64| {
            let last = c.last_mut().expect("a run has a point");
            *last = last.saturating_add(v);
        };
        add(&mut self.allocs, allocs);
        add(&mut self.frees, frees);
        add(&mut self.bytes_allocated, allocated);
        add(&mut self.bytes_freed, freed);
    }
    fn set_state(&mut self, p: Snapshot) {
        let last = self.len() - 1;
        self.t[last] = p.t;
        self.curr_bytes[last] = p.curr_bytes;
        self.curr_blocks[last] = p.curr_blocks;
        self.entries[last] = p.entries;
        self.rss_bytes[last] = p.rss_bytes;
        self.live_age[last] = p.live_age;
    }
}

/// Appends to `out` the history `h` carries in a dump: its first `split` points merged into at
/// most `older` runs, the rest whole ([`thin_history`], straight from the chunks). The older
/// points are read as the coarse points that stand for whole runs of them, oldest first and as
/// far as `older` needs ([`ScopeHistory::visit_coarsened`]): the newest older points keep the
/// finest resolution that fits, and reading them decodes about `older` points, not `split`.
fn thin(h: &ScopeHistory, split: usize, older: usize, out: &mut impl Thinned) {
    let (len, split_coarse) = h.coarsened_len(split, older);
    thin_points(
        |each| h.visit_coarsened(split, older, |points, range| each(points, range)),
        len,
        split_coarse,
        older,
        out,
    );
}

/// [`thin_history`] of the `len` points `visit` hands its callback in order, a batch of
/// [`Points`] and the range of them to take at a time, the first `split` of them older than the
/// time kept in full. A merged point is built whole only where its run ends: the others only
/// add their counters, a batch's worth at a time.
fn thin_points<P: Points + ?Sized>(
    visit: impl FnOnce(&mut dyn FnMut(&P, std::ops::Range<usize>)),
    len: usize,
    split: usize,
    older: usize,
    out: &mut impl Thinned,
) {
    // Runs of `run` points; when the older points fit in `older`, every point stays.
    let run = if split <= older {
        1
    } else {
        split.div_ceil(older.max(1))
    };
    out.reserve(split.div_ceil(run) + (len - split));
    // `i` counts the points, `k` is `i % run` (kept apart: a division per point costs more
    // than the rest of a merged point).
    let (mut i, mut k) = (0, 0);
    visit(&mut |points, range| {
        let mut j = range.start;
        while j < range.end {
            if i >= split {
                // The rest is carried whole.
                (j..range.end).for_each(|j| out.push(points.point(j)));
                i += range.end - j;
                return;
            }
            if k == 0 {
                // A run's first point (or, in runs of one, a point kept whole).
                out.push(points.point(j));
                (i, j) = (i + 1, j + 1);
                k = usize::from(run > 1);
                continue;
            }
            // The run's next points in this batch, up to its end or the split: their
            // counters summed at once (saturating sums add up as saturating steps do, the
            // counters being unsigned), the state of the run's last point only.
            let n = (run - k).min(split - i).min(range.end - j);
            out.add_counters(points.sum_counters(j..j + n));
            let ends_run = k + n == run;
            if ends_run || i + n == split {
                out.set_state(points.point(j + n - 1));
            }
            (i, j) = (i + n, j + n);
            k = if ends_run { 0 } else { k + n };
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dump_never_carries_a_number_json_cannot() {
        let finding_json = serde_json::json!({
            "id": 1, "scope": "s", "leak_type": "GradualGrowth", "severity": "Low",
            "status": "Open", "confidence": 0.5, "first_detected": 1.0, "last_detected": 2.0,
            "window": [1.0, 2.0], "baseline_bytes": 0, "current_bytes": 0, "growth_bytes": 0,
            "rate_bytes_per_min": 1.0, "model": "Linear",
            "statistics": [{"name": "z", "value": 1.0}], "summary": "",
            "top_sites": [], "recommendations": []
        });
        let mut leak: Leak = serde_json::from_value(finding_json).unwrap();
        leak.finding.confidence = f64::NAN;
        leak.finding.rate_bytes_per_min = f64::INFINITY;
        leak.finding.statistics[0].value = f64::NEG_INFINITY;
        leak.finding.time_to_budget_secs = Some(f64::NAN);
        make_finite(&mut leak);
        let json = serde_json::to_string(&leak).unwrap();
        assert!(!json.contains("null"), "{json}");
        assert_eq!(
            (leak.finding.confidence, leak.finding.rate_bytes_per_min),
            (0.0, 0.0)
        );
        assert_eq!(leak.finding.time_to_budget_secs, None);
    }

    /// Asserts that `got` is what a dump may carry of `series` split at `split` with at most
    /// `older` runs: the points from `split` on whole, and before them at most `older` points
    /// (all of them as they are when they fit), each one [`merge_into`] over the points of
    /// `series` since the one before it, ending exactly at the split.
    fn assert_thinned(series: &[Snapshot], split: usize, older: usize, got: &[Snapshot]) {
        let recent = series.len() - split;
        assert!(
            got.len() >= recent,
            "{} points for {recent} recent",
            got.len()
        );
        let runs = got.len() - recent;
        assert_eq!(&got[runs..], &series[split..], "the recent points, whole");
        if split <= older {
            assert_eq!(got, series, "older points that fit stay as they are");
        }
        assert!(runs <= older.max(1), "{runs} runs for at most {older}");
        let mut i = 0;
        for run in &got[..runs] {
            let j = i + series[i..split]
                .iter()
                .position(|p| p.t == run.t)
                .expect("a run ends at one of the older points");
            let mut merged = series[i].clone();
            series[i + 1..=j]
                .iter()
                .for_each(|p| merge_into(&mut merged, p));
            assert_eq!(*run, merged, "the run of points {i}..={j}");
            i = j + 1;
        }
        assert_eq!(i, split, "the runs end at the split");
    }

    /// Thinning straight from a history's encoded chunks merges its points into runs exactly
    /// (each run is `merge_into` over the points it stands for), at every length, split and
    /// number of runs, counters that saturate and optional fields that come and go included,
    /// whether the runs are read from the coarse tiers or merged point by point.
    #[test]
    fn thinning_from_the_chunks_is_merging_point_by_point() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // The least limit (10: every ring a chunk or two), one that is no multiple of a chunk
        // (37: the rings evict at 46 points), and one whose coarsest ring has dropped points by
        // 5,000 snapshots (40 tier-2 points hold 4,000).
        let shapes = [10usize, 37, 40].into_iter().flat_map(|limit| {
            [0usize, 1, 9, 10, 11, 57, 250, 1_234, 5_000]
                .into_iter()
                .map(move |len| (limit, len))
        });
        for (limit, len) in shapes {
            let mut h = crate::history::ScopeHistory::new(limit);
            for i in 0..len {
                let big = |v: u64| {
                    if v.is_multiple_of(7) {
                        u64::MAX - v % 3
                    } else {
                        v % 5_000
                    }
                };
                let mut s = Snapshot::new(i as f64 * 30.0, next() % 1_000_000, next() % 900);
                (s.allocs, s.frees) = (big(next()), big(next()));
                (s.bytes_allocated, s.bytes_freed) = (big(next()), big(next()));
                s.entries = (next() % 3 != 0).then(|| next() % 100);
                s.rss_bytes = (!next().is_multiple_of(4)).then(&mut next);
                s.live_age = (next() % 2 == 0).then(|| [next() as u16 % 10_001, 7, 0]);
                h.push(s);
            }
            let series = h.series();
            assert_eq!(series.len(), h.len());
            let n = series.len();
            for split in [0, 1, 9, 10, n / 3, n / 2, n.saturating_sub(1), n]
                .into_iter()
                .filter(|&s| s <= n)
            {
                for older in [1, 2, 7, 30, 120] {
                    let mut got = Vec::new();
                    thin(&h, split, older, &mut got);
                    assert_thinned(&series, split, older, &got);
                    let mut columns = HistoryColumns::default();
                    thin(&h, split, older, &mut columns);
                    assert_eq!(columns.points_from(0), got, "columns, {limit}/{len}");
                    let mut plain = Vec::new();
                    thin_points(
                        |each| each(&series[..], 0..series.len()),
                        series.len(),
                        split,
                        older,
                        &mut plain,
                    );
                    assert_thinned(&series, split, older, &plain);
                }
            }
        }
    }

    /// The older points give way to coarse ones oldest first and only as far as the runs
    /// need: the oldest as tier-2 points (100 intervals), then tier-1 points (10), and the
    /// newest older points as taken.
    #[test]
    fn thinning_coarsens_the_oldest_points_first() {
        let mut h = crate::history::ScopeHistory::new(40);
        for i in 0..1_000u64 {
            let mut s = Snapshot::new(30.0 * i as f64, i, 0);
            (s.allocs, s.bytes_allocated) = (1, i);
            h.push(s);
        }
        // 40 fine points (intervals 960..999), 36 tier-1 points before them (600..959), 6
        // tier-2 points before those (0..599).
        assert_eq!(h.len(), 82);
        let allocs = |older: usize| {
            let mut out = Vec::new();
            thin(&h, h.len() - 30, older, &mut out);
            assert_eq!(out.iter().map(|p| p.allocs).sum::<u64>(), 1_000);
            out.iter().map(|p| p.allocs).collect::<Vec<u64>>()
        };
        let recent = [1u64; 30];
        // 52 older points fit in 120 as they are.
        assert_eq!(
            allocs(120),
            [&[100; 6][..], &[10; 36], &[1; 10], &recent].concat()
        );
        // In 20: three runs of 10 tier-1 points become tier-2 points and one of 10 fine points
        // a tier-1 point, 52 - 4 × 9 = 16 points.
        assert_eq!(allocs(20), [&[100; 9][..], &[10; 7], &recent].concat());
        // In 5 even the coarsest points are too many: the 16 merged in runs of 4.
        assert_eq!(allocs(5), [&[400, 400, 100 + 30, 40][..], &recent].concat());
    }

    #[test]
    fn thinning_keeps_recent_points_and_merges_older_runs() {
        let series: Vec<Snapshot> = (0..1000)
            .map(|i| {
                let mut s = Snapshot::new(i as f64, i, 0);
                s.allocs = 1;
                s.bytes_allocated = i;
                s
            })
            .collect();
        let thin = thin_history(series, 900.0, 30);
        // 900 older points in runs of 30, each standing at its last point: t = 29, 59, ..., 899.
        assert_eq!(thin.len(), 30 + 100);
        assert_eq!(
            (thin[0].t, thin[0].curr_bytes, thin[0].allocs),
            (29.0, 29, 30)
        );
        assert_eq!(thin[0].bytes_allocated, (0..30).sum::<u64>());
        assert_eq!(thin[29].t, 899.0);
        assert_eq!(thin[30].t, 900.0);
        assert_eq!(thin.last().unwrap().t, 999.0);
        // Counters add up over the time covered, as before thinning.
        assert_eq!(thin.iter().map(|s| s.allocs).sum::<u64>(), 1000);
        assert_eq!(
            thin.iter().map(|s| s.bytes_allocated).sum::<u64>(),
            (0..1000).sum::<u64>()
        );
        let short: Vec<Snapshot> = (0..10).map(|i| Snapshot::new(i as f64, i, 0)).collect();
        assert_eq!(thin_history(short.clone(), 5.0, 30), short);
    }

    /// `len` snapshots 30 s apart with every field moving: counters that saturate, optional
    /// fields that come and go, live bytes that a noisy cache would show.
    fn rich_snapshots(len: usize, seed: u64) -> Vec<Snapshot> {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..len)
            .map(|i| {
                let big = |v: u64| {
                    if v.is_multiple_of(11) {
                        u64::MAX - v % 3
                    } else {
                        v % 70_000
                    }
                };
                let mut s = Snapshot::new(30.0 * (i + 1) as f64, next() % 9_000_000, next() % 900);
                (s.allocs, s.frees) = (big(next()), big(next()));
                (s.bytes_allocated, s.bytes_freed) = (big(next()), big(next()));
                s.entries = (next() % 3 != 0).then(|| next() % 100);
                s.rss_bytes = seed.is_multiple_of(2).then_some(1 << 30);
                s.live_age = (seed.is_multiple_of(3) && next() % 2 == 0)
                    .then(|| [next() as u16 % 10_001, 7, 0]);
                s
            })
            .collect()
    }

    /// The dump file written from the chunks, history by history, is byte for byte the dump
    /// built as it always was (every history decoded point by point and merged, then
    /// serialized whole), and the Prometheus text from the windows' tails is the text of that
    /// whole dump.
    #[test]
    fn the_streamed_dump_file_is_the_built_dump() {
        let limit = 40;
        let mut histories = Histories::new(limit);
        let lengths = [
            0usize, 1, 29, 30, 31, 45, 120, 151, 499, 1_234, 1_500, 4_321,
        ];
        let mut dump = crate::dump::fixtures::example_dump();
        let template = dump.scopes[1].clone();
        dump.scopes.clear();
        let mut splits = Vec::new();
        let mut reference = dump.clone();
        for (k, &len) in lengths.iter().enumerate() {
            let mut scope = template.clone();
            scope.name = format!("scope_{k:02}");
            scope.history.clear();
            dump.scopes.push(scope.clone());
            if len == 0 {
                // A scope without a history.
                splits.push(None);
                reference.scopes.push(scope);
                continue;
            }
            for p in rich_snapshots(len, k as u64 * 7 + 3) {
                histories.push(&scope.name, p);
            }
            let series = histories.get(&scope.name).unwrap().series();
            // Half the scopes keep the last hour whole, half their last 30 points.
            let times: Vec<f64> = series.iter().map(|p| p.t).collect();
            let from = if k % 2 == 0 {
                30.0 * len as f64 - 3_600.0
            } else {
                let recent = times.len().saturating_sub(DUMP_RECENT_POINTS);
                times.get(recent).copied().unwrap_or(f64::INFINITY)
            };
            let split = times.partition_point(|&t| t < from);
            splits.push(Some(split));
            let mut thinned = Vec::new();
            thin(
                histories.get(&scope.name).unwrap(),
                split,
                DUMP_OLDER_POINTS,
                &mut thinned,
            );
            assert_thinned(&series, split, DUMP_OLDER_POINTS, &thinned);
            scope.history = thinned;
            reference.scopes.push(scope);
        }
        let dir = tempfile::tempdir().unwrap();
        let (path, prom) = (dir.path().join("d.json"), dir.path().join("d.prom"));
        let (dumped, prometheus) =
            write_thinned(&mut dump, &splits, &histories, Some(&path), Some(&prom));
        dumped.unwrap();
        prometheus.unwrap();
        let mut want = serde_json::to_string(&reference).unwrap();
        want.push('\n');
        assert_eq!(std::fs::read_to_string(&path).unwrap(), want);
        assert_eq!(
            std::fs::read_to_string(&prom).unwrap(),
            crate::dump::prometheus_text(&reference)
        );
        // The text alone, without a dump file, is the same.
        let prom_only = dir.path().join("only.prom");
        for s in &mut dump.scopes {
            s.history.clear();
        }
        let (dumped, prometheus) =
            write_thinned(&mut dump, &splits, &histories, None, Some(&prom_only));
        dumped.unwrap();
        prometheus.unwrap();
        assert_eq!(
            std::fs::read_to_string(&prom_only).unwrap(),
            crate::dump::prometheus_text(&reference)
        );
    }

    /// In a collector's histories times strictly increase, so the last 30 points start where
    /// the split by their first time puts them, which the dump takes without decoding a time.
    #[test]
    fn a_recent_history_splits_where_its_times_say() {
        let config = crate::Config {
            max_snapshots_per_cache: 40,
            ..crate::Config::default()
        };
        let clock = std::sync::Arc::new(crate::ManualClock::new(1_700_000_000.0));
        let mut c = Collector::new(config, clock.clone());
        for i in 0..700u64 {
            for k in 0..60u64 {
                c.record(&format!("ext_{k:02}"), (i * k) % 5_000, Some(k));
            }
            clock.advance(30.0);
            c.snapshot_and_detect(crate::Clock::now(&*clock));
        }
        let (dump, splits) = c.dump_without_history(DumpFor::File);
        let keep_from = dump.clock_secs - 2.0 * detect::required_history_secs(&c.detector);
        let mut recent = 0;
        for (s, split) in dump.scopes.iter().zip(splits) {
            let Some(h) = c.histories.get(&s.name) else {
                assert_eq!(split, None);
                continue;
            };
            let times = h.times();
            assert!(times.windows(2).all(|w| w[0] < w[1]), "{}", s.name);
            let last30 = times.len().saturating_sub(DUMP_RECENT_POINTS);
            let by_time = times.partition_point(|&t| t < times[last30]);
            let split = split.unwrap();
            assert!(
                split == by_time || split == times.partition_point(|&t| t < keep_from),
                "{}",
                s.name
            );
            recent += usize::from(split == by_time && split == last30);
        }
        assert!(recent > 10, "{recent}");
    }
}
