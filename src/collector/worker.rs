//! The collector: the state and the work of the one background thread that turns counters into
//! snapshots, history, leaks and files.
//!
//! Every [`DRAIN_PERIOD`] the thread applies what the allocating threads sent (so the channel
//! never stays full for long), and when the clock says so it takes a [`Snapshot`] of every scope,
//! runs the detectors over each scope's recent history, feeds the findings to the leak
//! lifecycle, and writes the dump (assembled in [`super::assemble`]) and the Prometheus
//! textfile. The thread itself, `start` and the fork and exit handling are in
//! [`super::runtime`]; the `on_leak` hooks in [`super::hooks`].
//!
//! All of it runs under the re-entrancy guard, so the collector's own memory (history, tables,
//! the symbolizer) is counted as leakscope's, never as the program's. The work lives in
//! [`Collector`], a plain struct driven by an injectable [`Clock`]: the thread calls
//! [`Collector::tick`] in a loop, and tests call it directly with a manual clock to simulate
//! hours in milliseconds.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use hashbrown::HashMap;

use super::clock::Clock;
use super::{pressure, process};
use crate::config::Config;
use crate::detect::{self, DetectorConfig, Finding, LeakEvent, LeakTracker, PROCESS_SCOPE};
use crate::dump::ProcessInfo;
use crate::error::Error;
use crate::history::{Histories, ScopeHistory};
use crate::ids::{Counts, UNSCOPED_NAME};
use crate::leak::{CallSite, LeakCheck};
use crate::reentry::Untracked;
use crate::registry;
use crate::sinks;
use crate::snapshot::{ProcessSnapshot, ScopeStats, Snapshot};
use crate::{sampler, scope};

/// How often the collector thread applies what the allocating threads sent.
pub const DRAIN_PERIOD: Duration = Duration::from_millis(10);

/// Call sites a leak and a detector run get.
const SITES_PER_LEAK: usize = 5;

/// Memory fed from outside the allocator with [`record`](crate::record).
#[derive(Clone, Copy, Debug, Default)]
struct External {
    bytes: u64,
    entries: Option<u64>,
}

/// One scope's figures as [`Collector::read_scopes`] reads them.
pub(super) struct ScopeReading {
    /// The registry's id and exact counters; `None` for a scope only `record` feeds.
    counted: Option<(u32, Counts)>,
    pub(super) name: String,
    /// The registry's totals, with the recorded bytes added to `curr_bytes` (a scope only
    /// `record` feeds holds them as its `curr_bytes` and `max_bytes`).
    pub(super) stats: ScopeStats,
    /// The recorded entry count, or else the scope's gauge.
    pub(super) entries: Option<u64>,
    /// Live bytes the allocator counts (what the process snapshot's `tracked_bytes` sums).
    allocator_bytes: u64,
}

/// Whether a file kept failing, so that a fault is reported once and its recovery once.
#[derive(Debug, Default)]
struct FileHealth {
    failing: bool,
}

impl FileHealth {
    /// The line to report for `result`, if it changes the file's health: the first failure of
    /// a run of failures, and the first success after one.
    fn report(
        &mut self,
        what: &str,
        result: &Result<(), Error>,
        retry_secs: f64,
    ) -> Option<String> {
        match result {
            Ok(()) => std::mem::take(&mut self.failing)
                .then(|| format!("leakscope: {what} written again")),
            Err(e) => (!std::mem::replace(&mut self.failing, true)).then(|| {
                format!(
                    "leakscope: {e} (history is kept in memory; retrying every {retry_secs}s, \
                     reported once)"
                )
            }),
        }
    }
}

/// Dump files written and failed by the collector created last (a new collector starts them at
/// 0). Atomics beside the other tracker figures, so that
/// [`tracker_stats`](crate::live::tracker_stats) reads them without waiting for the collector's lock
/// (held through a dump's symbol resolution).
static DUMPS_WRITTEN: AtomicU64 = AtomicU64::new(0);
static DUMP_ERRORS: AtomicU64 = AtomicU64::new(0);

/// The dump files written and failed so far by the collector created last.
pub(crate) fn dump_files() -> (u64, u64) {
    (DUMPS_WRITTEN.load(Relaxed), DUMP_ERRORS.load(Relaxed))
}

/// The collector's state and work. Driven by [`tick`](Self::tick).
#[doc(hidden)]
pub struct Collector {
    pub(super) config: Config,
    /// What the detectors read of `config`, built once.
    pub(super) detector: DetectorConfig,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) process: ProcessInfo,
    pub(super) histories: Histories,
    pub(super) process_history: VecDeque<ProcessSnapshot>,
    /// Each scope's totals at the previous snapshot: the interval counts are the difference.
    previous: HashMap<u32, Counts>,
    external: BTreeMap<String, External>,
    pub(super) leaks: LeakTracker,
    next_snapshot: f64,
    next_dump: f64,
    snapshots_taken: u64,
    dump_health: FileHealth,
    prometheus_health: FileHealth,
    detector_error_reported: bool,
    /// The pressure files whose malformed content was reported (once each).
    pressure_errors_reported: Vec<std::path::PathBuf>,
}

impl Collector {
    /// A collector over `config` (already validated) reading time from `clock`.
    pub fn new(config: Config, clock: Arc<dyn Clock>) -> Self {
        let _untracked = Untracked::enter();
        let config = config.normalized();
        let now = clock.now();
        DUMPS_WRITTEN.store(0, Relaxed);
        DUMP_ERRORS.store(0, Relaxed);
        let detector = DetectorConfig::from(&config);
        Collector {
            process: process::process_info(),
            histories: Histories::new(config.max_snapshots_per_cache),
            process_history: VecDeque::new(),
            previous: HashMap::new(),
            external: BTreeMap::new(),
            leaks: LeakTracker::new(&detector),
            next_snapshot: now + config.snapshot_interval_seconds,
            next_dump: now + config.dump_interval_seconds,
            snapshots_taken: 0,
            dump_health: FileHealth::default(),
            prometheus_health: FileHealth::default(),
            detector_error_reported: false,
            pressure_errors_reported: Vec::new(),
            config,
            detector,
            clock,
        }
    }

    /// Does what is due at the clock's current time: always applies pending counters; takes a
    /// snapshot and runs the detectors when the snapshot interval has passed; writes the files
    /// when the dump interval has. Returns the leak events for the hooks.
    pub fn tick(&mut self) -> Vec<LeakEvent> {
        let _untracked = Untracked::enter();
        registry::drain_with(|_| {});
        let now = self.clock.now();
        let mut events = Vec::new();
        if now >= self.next_snapshot {
            // One snapshot however far the clock jumped: a paused process should not replay.
            self.next_snapshot = (self.next_snapshot + self.config.snapshot_interval_seconds)
                .max(now + self.config.snapshot_interval_seconds / 2.0);
            events = self.snapshot_and_detect(now);
        }
        if now >= self.next_dump {
            self.next_dump = now + self.config.dump_interval_seconds;
            self.write_files_reporting();
        }
        events
    }

    /// Takes a snapshot of every scope now, runs the detectors and the lifecycle, prunes idle
    /// scopes. Returns the leak events.
    pub fn snapshot_and_detect(&mut self, now: f64) -> Vec<LeakEvent> {
        let _untracked = Untracked::enter();
        self.take_snapshot(now);
        let events = self.detect(now);
        if self.config.auto_cleanup_old_data {
            let leaks = &self.leaks;
            self.histories
                .prune_idle(now, self.config.cleanup_interval_hours * 3600.0, |name| {
                    name == UNSCOPED_NAME || leaks.check(name).leak_count > 0
                });
        }
        events
    }

    /// Takes a snapshot now, outside the schedule (the schedule goes on from now).
    pub fn snapshot_now(&mut self) -> Vec<LeakEvent> {
        let _untracked = Untracked::enter();
        registry::drain_with(|_| {});
        let now = self.clock.now();
        self.next_snapshot = now + self.config.snapshot_interval_seconds;
        self.snapshot_and_detect(now)
    }

    /// The latest snapshot of every scope, by name.
    pub fn latest(&self) -> Vec<(String, Snapshot)> {
        self.histories
            .iter()
            .filter_map(|(name, h)| Some((name.to_owned(), h.latest()?)))
            .collect()
    }

    /// Snapshots every scope at `now`. A second snapshot at the same instant (a query right after
    /// a scheduled snapshot, under a clock that did not move) adds nothing and is skipped, so a
    /// series' time stamps always increase.
    fn take_snapshot(&mut self, now: f64) {
        if self.process_history.back().is_some_and(|p| p.t >= now) {
            return;
        }
        let rss = process::rss_bytes();
        let (self_bytes, _) = sinks::self_usage();
        let mut tracked = self_bytes;
        // The age profile is the one part of churn monitoring that costs a pass over the live
        // samples; with monitoring off it is not taken and the snapshots carry none.
        let ages = if self.config.enable_churn_monitoring && self.config.sample_interval().is_some()
        {
            registry::age_profiles()
        } else {
            Default::default()
        };
        for reading in self.read_scopes() {
            let mut s = Snapshot::new(now, reading.stats.curr_bytes, reading.stats.curr_blocks);
            if let Some((id, counts)) = reading.counted {
                let before = self.previous.insert(id, counts).unwrap_or_default();
                s.allocs = counts.allocs.wrapping_sub(before.allocs);
                s.frees = counts.frees.wrapping_sub(before.frees);
                s.bytes_allocated = counts.bytes_allocated.wrapping_sub(before.bytes_allocated);
                s.bytes_freed = counts.bytes_freed.wrapping_sub(before.bytes_freed);
                s.live_age = ages.get(&id).copied();
            }
            s.entries = reading.entries;
            s.rss_bytes = rss;
            tracked += reading.allocator_bytes;
            self.histories.push(&reading.name, s);
        }
        if self.process_history.len() >= self.config.max_snapshots_per_cache.max(1) {
            self.process_history.pop_front();
        }
        let mut process = ProcessSnapshot::new(now, rss, tracked, self_bytes);
        if self.config.enable_churn_monitoring {
            process.pressure = self.read_pressure();
        }
        self.process_history.push_back(process);
        self.snapshots_taken += 1;
        registry::next_interval();
    }

    /// The process's memory pressure now (Linux), `None` where none of its files is there. A
    /// malformed file is reported on stderr once, and read as absent.
    fn read_pressure(&mut self) -> Option<Box<pressure::Pressure>> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let reading = pressure::read_in(std::path::Path::new("/"));
        for (path, e) in reading.errors {
            if !self.pressure_errors_reported.contains(&path) {
                eprintln!(
                    "leakscope: {}: {e} (read as absent; reported once)",
                    path.display()
                );
                self.pressure_errors_reported.push(path);
            }
        }
        Some(Box::new(reading.pressure)).filter(|p| **p != pressure::Pressure::default())
    }

    /// Every scope's figures now, read once for a snapshot or a dump: each registered scope (in
    /// id order, with everything sent so far applied) with the memory [`record`](crate::record)
    /// fed it added, then the scopes only `record` feeds (by name).
    pub(super) fn read_scopes(&self) -> Vec<ScopeReading> {
        let mut external = self.external.clone();
        let mut readings: Vec<ScopeReading> = registry::scope_totals()
            .into_iter()
            .map(|total| {
                let mut stats = total.stats();
                let allocator_bytes = stats.curr_bytes;
                let mut entries = scope::gauge(total.id);
                if let Some(ext) = external.remove(&total.name) {
                    stats.curr_bytes += ext.bytes;
                    entries = ext.entries.or(entries);
                }
                ScopeReading {
                    counted: Some((total.id, total.counts)),
                    name: total.name,
                    stats,
                    entries,
                    allocator_bytes,
                }
            })
            .collect();
        readings.extend(external.into_iter().map(|(name, ext)| ScopeReading {
            counted: None,
            name,
            stats: ScopeStats {
                curr_bytes: ext.bytes,
                max_bytes: ext.bytes,
                ..ScopeStats::default()
            },
            entries: ext.entries,
            allocator_bytes: 0,
        }));
        readings
    }

    /// Runs every detector over each scope's recent history and feeds the lifecycle. Every scope
    /// is observed on every run, findings or not, so that misses count towards resolution.
    fn detect(&mut self, now: f64) -> Vec<LeakEvent> {
        let span = detect::required_history_secs(&self.detector);
        let mut events = Vec::new();
        let mut failure = None;
        for (name, history) in self.histories.iter() {
            let mut findings = detect::analyze_history(name, history, &self.detector, &[]);
            // Call sites are resolved only for the rare scope that has a finding.
            if !findings.is_empty() && sampler::counts().0 > 0 {
                let sites = scope_sites(name);
                if !sites.is_empty() {
                    detect::attach_sites(&mut findings, &sites, &self.detector);
                }
            }
            if name == UNSCOPED_NAME && !findings.is_empty() {
                self.hint_charged_elsewhere(history, &mut findings);
            }
            events.extend(self.leaks.observe(name, now, findings));
        }
        let process: Vec<ProcessSnapshot> = self
            .process_history
            .iter()
            .filter(|p| p.t >= now - span)
            .cloned()
            .collect();
        match detect::analyze_process(&process, &self.detector) {
            Ok(findings) => events.extend(self.leaks.observe(PROCESS_SCOPE, now, findings)),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
        if let Some(e) = failure {
            if !std::mem::replace(&mut self.detector_error_reported, true) {
                eprintln!("leakscope: detectors skipped a series: {e} (reported once)");
            }
        }
        events
    }

    /// Puts first in `unscoped`'s findings the hint for each scope whose values are charged to
    /// `unscoped` ([`detect::charged_elsewhere`]): growth there is usually a cache scoped around
    /// its insert but not around the producer of what it keeps.
    fn hint_charged_elsewhere(&self, unscoped: &ScopeHistory, findings: &mut [Finding]) {
        let unscoped: Vec<Snapshot> = unscoped.recent().collect();
        for (name, history) in self.histories.iter() {
            if name == UNSCOPED_NAME {
                continue;
            }
            let own: Vec<Snapshot> = history.recent().collect();
            if let Some(hint) = detect::charged_elsewhere(name, &own, &unscoped) {
                for f in findings.iter_mut() {
                    f.recommendations.insert(0, hint.clone());
                }
            }
        }
    }

    /// Writes the dump and the Prometheus textfile, each if configured, and returns each one's
    /// result; the caller decides how to report them.
    pub fn write_files(&mut self) -> (Result<(), Error>, Result<(), Error>) {
        let _untracked = Untracked::enter();
        if self.config.dump_path.is_none() && self.config.prometheus_path.is_none() {
            return (Ok(()), Ok(()));
        }
        let dump_path = self.config.dump_path.clone();
        let prometheus_path = self.config.prometheus_path.clone();
        let (dumped, prometheus) =
            self.write_dump_files(dump_path.as_deref(), prometheus_path.as_deref());
        if dump_path.is_some() {
            match &dumped {
                Ok(()) => DUMPS_WRITTEN.fetch_add(1, Relaxed),
                Err(_) => DUMP_ERRORS.fetch_add(1, Relaxed),
            };
        }
        (dumped, prometheus)
    }

    /// [`write_files`](Self::write_files) on the schedule: each file's failure is reported once
    /// on stderr, and its recovery once.
    fn write_files_reporting(&mut self) {
        let (dumped, prometheus) = self.write_files();
        let retry = self.config.dump_interval_seconds;
        let lines = [
            self.dump_health.report("dump", &dumped, retry),
            self.prometheus_health
                .report("Prometheus textfile", &prometheus, retry),
        ];
        for line in lines.into_iter().flatten() {
            eprintln!("{line}");
        }
    }

    /// Feeds a scope from outside the allocator (see [`record`](crate::record)).
    pub fn record(&mut self, name: &str, bytes: u64, entries: Option<u64>) {
        let _untracked = Untracked::enter();
        self.external
            .insert(name.to_owned(), External { bytes, entries });
    }

    /// Runs the detectors over the history of `name` now, without touching the lifecycle.
    pub fn analyze(&self, name: &str) -> Result<Vec<detect::Finding>, Error> {
        let _untracked = Untracked::enter();
        let Some(history) = self.histories.get(name) else {
            return Ok(Vec::new());
        };
        Ok(detect::analyze_history(
            name,
            history,
            &self.detector,
            &scope_sites(name),
        ))
    }

    /// The open leaks of `name`.
    pub fn check(&self, name: &str) -> LeakCheck {
        self.leaks.check(name)
    }

    /// How many snapshot rounds were taken.
    pub fn snapshots_taken(&self) -> u64 {
        self.snapshots_taken
    }

    /// Estimated bytes of history the collector holds, and the most it can hold for the scopes
    /// it has (what `leakscope_self_bytes` is bounded by, besides fixed tables).
    pub fn history_memory(&self) -> (usize, usize) {
        let ages = self.config.enable_churn_monitoring && self.config.sample_interval().is_some();
        let bound = self.histories.len()
            * ScopeHistory::memory_bound(self.config.max_snapshots_per_cache, ages);
        (self.histories.memory_bytes(), bound)
    }
}

/// The top call sites of the scope called `name`, resolved.
fn scope_sites(name: &str) -> Vec<CallSite> {
    match registry::lookup(name) {
        Some(id) => registry::top_sites(Some(id), SITES_PER_LEAK),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn a_failing_file_is_reported_once_and_its_recovery_once() {
        let mut health = FileHealth::default();
        let fail =
            || -> Result<(), Error> { Err(Error::new(ErrorKind::InvalidInput, "disk full")) };
        assert_eq!(health.report("dump", &Ok(()), 60.0), None);
        let first = health.report("dump", &fail(), 60.0).unwrap();
        assert!(
            first.contains("disk full") && first.contains("retrying every 60s"),
            "{first}"
        );
        assert_eq!(health.report("dump", &fail(), 60.0), None);
        assert_eq!(health.report("dump", &fail(), 60.0), None);
        assert_eq!(
            health.report("dump", &Ok(()), 60.0).as_deref(),
            Some("leakscope: dump written again")
        );
        assert_eq!(health.report("dump", &Ok(()), 60.0), None);
        assert!(
            health.report("dump", &fail(), 60.0).is_some(),
            "a new run of failures"
        );
    }
}
