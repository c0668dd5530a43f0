//! Dump assembly: the collector's state as one [`Dump`], the history each scope carries in it,
//! and the boundary that keeps every number in it finite.

use super::process;
use super::worker::{self, Collector};
use crate::detect;
use crate::dump::{Dump, ScopeDump, TrackerStats};
#[cfg(test)]
use crate::history::merge_into;
use crate::history::ChunkColumns;
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
        for s in &mut dump.scopes {
            s.budget_bytes = self.config.budget(&s.name);
            let Some(h) = self.histories.get(&s.name) else {
                continue;
            };
            // The times first (one column), so the points are decoded once, straight into
            // the dump's runs.
            let times = h.times();
            let from = if full.contains(&s.name) || self.leaks.check(&s.name).leak_count > 0 {
                keep_from
            } else {
                let recent = times.len().saturating_sub(DUMP_RECENT_POINTS);
                times.get(recent).copied().unwrap_or(f64::INFINITY)
            };
            let split = times.partition_point(|&t| t < from);
            s.history = thin(
                |each| h.visit_columns(|points, range| each(points, range)),
                times.len(),
                split,
                DUMP_OLDER_POINTS,
            );
        }
        dump.scopes.sort_by(|a, b| a.name.cmp(&b.name));
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
        dump
    }
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
    thin(
        |each| each(&series[..], 0..series.len()),
        series.len(),
        split,
        older,
    )
}

/// Points a reader can take whole or only sum the interval counters of: a history chunk's
/// columns, or (in tests) plain snapshots.
trait Points {
    /// Point `i`, whole.
    fn point(&self, i: usize) -> Snapshot;
    /// Adds point `i`'s interval counters to `run`'s, as [`merge_into`](crate::history::merge_into) does.
    fn add_counters(&self, i: usize, run: &mut Snapshot);
}

impl Points for ChunkColumns {
    fn point(&self, i: usize) -> Snapshot {
        ChunkColumns::point(self, i)
    }
    fn add_counters(&self, i: usize, run: &mut Snapshot) {
        ChunkColumns::add_counters(self, i, run);
    }
}

#[cfg(test)]
impl Points for [Snapshot] {
    fn point(&self, i: usize) -> Snapshot {
        self[i].clone()
    }
    fn add_counters(&self, i: usize, run: &mut Snapshot) {
        let mut sum = self[i].clone();
        merge_into(&mut sum, run);
        (run.allocs, run.frees) = (sum.allocs, sum.frees);
        (run.bytes_allocated, run.bytes_freed) = (sum.bytes_allocated, sum.bytes_freed);
    }
}

/// [`thin_history`] of the `len` points `visit` hands its callback in order, a batch of
/// [`Points`] and the range of them to take at a time, the first `split` of them older than the
/// time kept in full. A merged point is built whole only where its run ends: the others only
/// add their counters.
fn thin<P: Points + ?Sized>(
    visit: impl FnOnce(&mut dyn FnMut(&P, std::ops::Range<usize>)),
    len: usize,
    split: usize,
    older: usize,
) -> Vec<Snapshot> {
    // Runs of `run` points; when the older points fit in `older`, every point stays.
    let run = if split <= older {
        1
    } else {
        split.div_ceil(older.max(1))
    };
    let mut out: Vec<Snapshot> = Vec::with_capacity(split.div_ceil(run) + (len - split));
    // `i` counts the points, `k` is `i % run` (kept apart: a division per point costs more
    // than the rest of a merged point).
    let (mut i, mut k) = (0, 0);
    visit(&mut |points, range| {
        for j in range {
            match out.last_mut() {
                Some(merged) if i < split && k != 0 => {
                    points.add_counters(j, merged);
                    if k + 1 == run || i + 1 == split {
                        // The run's last point: its state, the run's counters.
                        let mut last = points.point(j);
                        (last.allocs, last.frees) = (merged.allocs, merged.frees);
                        (last.bytes_allocated, last.bytes_freed) =
                            (merged.bytes_allocated, merged.bytes_freed);
                        *merged = last;
                    }
                }
                _ => out.push(points.point(j)),
            }
            i += 1;
            k = if k + 1 == run { 0 } else { k + 1 };
        }
    });
    out
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

    /// The merged runs as the dump always formed them: [`merge_into`] point by point.
    fn merged_point_by_point(series: &[Snapshot], split: usize, older: usize) -> Vec<Snapshot> {
        let run = if split <= older {
            1
        } else {
            split.div_ceil(older)
        };
        let mut out: Vec<Snapshot> = Vec::new();
        for (i, p) in series.iter().enumerate() {
            match out.last_mut() {
                Some(merged) if i < split && i % run != 0 => merge_into(merged, p),
                _ => out.push(p.clone()),
            }
        }
        out
    }

    /// Thinning straight from a history's encoded chunks gives what merging its decoded points
    /// one by one gives, at every length, split and run length, counters that saturate and
    /// optional fields that come and go included.
    #[test]
    fn thinning_from_the_chunks_is_merging_point_by_point() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in [0usize, 1, 9, 10, 11, 57, 250, 1_234] {
            let mut h = crate::history::ScopeHistory::new(40);
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
            for split in [0, 1, n / 3, n.saturating_sub(1), n]
                .into_iter()
                .filter(|&s| s <= n)
            {
                for older in [1, 7, 30, 120] {
                    let want = merged_point_by_point(&series, split, older);
                    let got = thin(
                        |each| h.visit_columns(|points, range| each(points, range)),
                        series.len(),
                        split,
                        older,
                    );
                    assert_eq!(got, want, "len {len}, split {split}, older {older}");
                    let plain = thin(
                        |each| each(&series[..], 0..series.len()),
                        series.len(),
                        split,
                        older,
                    );
                    assert_eq!(plain, want, "len {len}, split {split}, older {older}");
                }
            }
        }
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
}
