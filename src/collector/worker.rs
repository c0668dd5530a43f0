//! The collector: one background thread that turns counters into snapshots, history, leaks and
//! files.
//!
//! Every [`DRAIN_PERIOD`] the thread applies what the allocating threads sent (so the channel
//! never stays full for long), and when the clock says so it takes a [`Snapshot`] of every scope,
//! runs the detectors over each scope's recent history, feeds the findings to the leak
//! lifecycle, calls the `on_leak` hooks, and writes the dump and the Prometheus textfile.
//!
//! All of it runs under the re-entrancy guard, so the collector's own memory (history, tables,
//! the symbolizer) is counted as leakscope's, never as the program's. The hooks are the program's
//! code and run tracked. The work itself lives in [`Collector`], a plain struct driven by an
//! injectable [`Clock`]: the thread calls [`Collector::tick`] in a loop, and tests call it
//! directly with a manual clock to simulate hours in milliseconds.

use std::collections::{BTreeMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use hashbrown::HashMap;

use super::clock::{Clock, SystemClock};
use super::history::Histories;
use super::process;
use crate::config::Config;
use crate::detect::{self, LeakEvent, LeakTracker, PROCESS_SCOPE};
use crate::dump::{self, Dump, ProcessInfo, ScopeDump};
use crate::error::{Error, ErrorKind};
use crate::leak::{CallSite, LeakCheck};
use crate::reentry::{Tracked, Untracked};
use crate::registry::{self, Counts};
use crate::snapshot::{ProcessSnapshot, Snapshot};
use crate::{sampler, scope};

/// How often the collector thread applies what the allocating threads sent.
pub const DRAIN_PERIOD: Duration = Duration::from_millis(10);

/// Call sites a leak and a detector run get.
const SITES_PER_LEAK: usize = 5;
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

/// Memory fed from outside the allocator with [`record`](crate::record).
#[derive(Clone, Copy, Debug, Default)]
struct External {
    bytes: u64,
    entries: Option<u64>,
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

/// The collector's state and work. Driven by [`tick`](Self::tick).
#[doc(hidden)]
pub struct Collector {
    config: Config,
    clock: Arc<dyn Clock>,
    process: ProcessInfo,
    histories: Histories,
    process_history: VecDeque<ProcessSnapshot>,
    /// Each scope's totals at the previous snapshot: the interval counts are the difference.
    previous: HashMap<u32, Counts>,
    external: BTreeMap<String, External>,
    leaks: LeakTracker,
    next_snapshot: f64,
    next_dump: f64,
    snapshots_taken: u64,
    dumps_written: u64,
    dump_errors: u64,
    dump_health: FileHealth,
    prometheus_health: FileHealth,
    detector_error_reported: bool,
}

impl Collector {
    /// A collector over `config` (already validated) reading time from `clock`.
    pub fn new(config: Config, clock: Arc<dyn Clock>) -> Self {
        let _untracked = Untracked::enter();
        let now = clock.now();
        Collector {
            process: process::process_info(),
            histories: Histories::new(config.max_snapshots_per_cache),
            process_history: VecDeque::new(),
            previous: HashMap::new(),
            external: BTreeMap::new(),
            leaks: LeakTracker::new(&config),
            next_snapshot: now + config.snapshot_interval_seconds,
            next_dump: now + config.dump_interval_seconds,
            snapshots_taken: 0,
            dumps_written: 0,
            dump_errors: 0,
            dump_health: FileHealth::default(),
            prometheus_health: FileHealth::default(),
            detector_error_reported: false,
            config,
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
                    name == registry::UNSCOPED_NAME || leaks.check(name).leak_count > 0
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
            .filter_map(|(name, h)| Some((name.to_owned(), h.latest()?.clone())))
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
        let (self_bytes, _) = registry::self_usage();
        let mut tracked = self_bytes;
        let mut external = self.external.clone();
        for total in registry::scope_totals() {
            let before = self
                .previous
                .insert(total.id, total.counts)
                .unwrap_or_default();
            let stats = total.stats();
            let mut s = Snapshot::new(now, stats.curr_bytes, stats.curr_blocks);
            s.allocs = total.counts.allocs.wrapping_sub(before.allocs);
            s.frees = total.counts.frees.wrapping_sub(before.frees);
            s.bytes_allocated = total
                .counts
                .bytes_allocated
                .wrapping_sub(before.bytes_allocated);
            s.bytes_freed = total.counts.bytes_freed.wrapping_sub(before.bytes_freed);
            s.entries = scope::gauge(total.id);
            s.rss_bytes = rss;
            tracked += s.curr_bytes;
            if let Some(ext) = external.remove(&total.name) {
                s.curr_bytes += ext.bytes;
                s.entries = ext.entries.or(s.entries);
            }
            self.histories.push(&total.name, s);
        }
        for (name, ext) in external {
            let mut s = Snapshot::new(now, ext.bytes, 0);
            s.entries = ext.entries;
            s.rss_bytes = rss;
            self.histories.push(&name, s);
        }
        if self.process_history.len() >= self.config.max_snapshots_per_cache.max(1) {
            self.process_history.pop_front();
        }
        self.process_history
            .push_back(ProcessSnapshot::new(now, rss, tracked, self_bytes));
        self.snapshots_taken += 1;
        registry::next_interval();
    }

    /// Runs every detector over each scope's recent history and feeds the lifecycle. Every scope
    /// is observed on every run, findings or not, so that misses count towards resolution.
    fn detect(&mut self, now: f64) -> Vec<LeakEvent> {
        let span = detect::required_history_secs(&self.config);
        let mut events = Vec::new();
        let mut failure = None;
        for (name, history) in self.histories.iter() {
            let series = history.floor_series();
            let recent = &series[series.partition_point(|s| s.t < now - span)..];
            let mut findings = match detect::analyze_series(name, recent, &self.config, &[]) {
                Ok(f) => f,
                Err(e) => {
                    failure.get_or_insert(e);
                    Vec::new()
                }
            };
            // Call sites are resolved only for the rare scope that has a finding.
            if !findings.is_empty() && sampler::counts().0 > 0 {
                let sites = scope_sites(name);
                if !sites.is_empty() {
                    findings = detect::analyze_series(name, recent, &self.config, &sites)
                        .unwrap_or(findings);
                }
            }
            events.extend(self.leaks.observe(name, now, findings));
        }
        let process: Vec<ProcessSnapshot> = self
            .process_history
            .iter()
            .filter(|p| p.t >= now - span)
            .cloned()
            .collect();
        match detect::analyze_process(&process, &self.config) {
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

    /// The dump as of now.
    pub fn build_dump(&mut self) -> Dump {
        let _untracked = Untracked::enter();
        let now = self.clock.now();
        let mut process = self.process.clone();
        process.rss_bytes = process::rss_bytes();
        let mut dump = Dump::new(self.clock.unix_now(), now, process, self.config.clone());
        let keep_from = now - 2.0 * detect::required_history_secs(&self.config);
        let mut external = self.external.clone();
        for total in registry::scope_totals() {
            let stats = total.stats();
            let mut s = ScopeDump::new(total.name.clone());
            s.curr_bytes = stats.curr_bytes;
            s.curr_blocks = stats.curr_blocks;
            s.total_allocs = stats.total_allocs;
            s.total_frees = stats.total_frees;
            s.total_bytes_allocated = stats.total_bytes_allocated;
            s.total_bytes_freed = stats.total_bytes_freed;
            s.max_bytes = stats.max_bytes;
            s.entries = scope::gauge(total.id);
            if let Some(ext) = external.remove(&total.name) {
                s.curr_bytes += ext.bytes;
                s.entries = ext.entries.or(s.entries);
            }
            dump.scopes.push(s);
        }
        for (name, ext) in external {
            let mut s = ScopeDump::new(name);
            s.curr_bytes = ext.bytes;
            s.max_bytes = ext.bytes;
            s.entries = ext.entries;
            dump.scopes.push(s);
        }
        let mut by_size: Vec<(u64, &str)> = dump
            .scopes
            .iter()
            .map(|s| (s.curr_bytes, s.name.as_str()))
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
            let series: Vec<&Snapshot> = h.points().collect();
            let from = if full.contains(&s.name) || self.leaks.check(&s.name).leak_count > 0 {
                keep_from
            } else {
                let recent = series.len().saturating_sub(DUMP_RECENT_POINTS);
                series.get(recent).map_or(f64::INFINITY, |p| p.t)
            };
            s.history = thin_history(&series, from, DUMP_OLDER_POINTS);
        }
        dump.scopes.sort_by(|a, b| a.name.cmp(&b.name));
        dump.process_history = self.process_history.iter().cloned().collect();
        dump.leaks = self.leaks.all_leaks();
        dump.leaks.iter_mut().for_each(make_finite);
        dump.top_call_sites = registry::top_sites(None, SITES_IN_DUMP);
        let (self_bytes, _) = registry::self_usage();
        let (samples_taken, samples_dropped) = sampler::counts();
        dump.tracker.self_bytes = self_bytes;
        dump.tracker.samples_taken = samples_taken;
        dump.tracker.samples_dropped = samples_dropped;
        dump.tracker.channel_full_retries = crate::batch::channel_full_retries();
        dump.tracker.dumps_written = self.dumps_written + 1;
        dump.tracker.dump_errors = self.dump_errors;
        dump
    }

    /// Writes the dump and the Prometheus textfile, each if configured, and returns each one's
    /// result; the caller decides how to report them.
    pub fn write_files(&mut self) -> (Result<(), Error>, Result<(), Error>) {
        let _untracked = Untracked::enter();
        if self.config.dump_path.is_none() && self.config.prometheus_path.is_none() {
            return (Ok(()), Ok(()));
        }
        let dump = self.build_dump();
        let dumped = match &self.config.dump_path {
            Some(path) => {
                let result = dump::write_dump(path, &dump);
                match result {
                    Ok(()) => self.dumps_written += 1,
                    Err(_) => self.dump_errors += 1,
                }
                result
            }
            None => Ok(()),
        };
        let prometheus = match &self.config.prometheus_path {
            Some(path) => dump::write_prometheus(path, &dump),
            None => Ok(()),
        };
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
        let now = self.clock.now();
        let span = detect::required_history_secs(&self.config);
        let series = history.floor_series();
        let recent = &series[series.partition_point(|s| s.t < now - span)..];
        detect::analyze_series(name, recent, &self.config, &scope_sites(name))
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
        let bound = self.histories.len()
            * super::history::ScopeHistory::memory_bound(self.config.max_snapshots_per_cache);
        (self.histories.memory_bytes(), bound)
    }
}

/// Replaces any non-finite number in `leak` (JSON cannot carry one: serde_json would write
/// `null`, which no reader accepts where a number belongs) with 0, or drops it where optional.
/// The detectors are not meant to produce one; this keeps a dump readable if one ever does.
fn make_finite(leak: &mut crate::leak::Leak) {
    let fix = |x: &mut f64| {
        if !x.is_finite() {
            *x = 0.0;
        }
    };
    fix(&mut leak.confidence);
    fix(&mut leak.first_detected);
    fix(&mut leak.last_detected);
    fix(&mut leak.rate_bytes_per_min);
    leak.window.iter_mut().for_each(fix);
    leak.statistics.iter_mut().for_each(|s| fix(&mut s.value));
    leak.resolved_at = leak.resolved_at.filter(|x| x.is_finite());
    leak.time_to_budget_secs = leak.time_to_budget_secs.filter(|x| x.is_finite());
}

/// The top call sites of the scope called `name`, resolved.
fn scope_sites(name: &str) -> Vec<CallSite> {
    match registry::lookup(name) {
        Some(id) => registry::top_sites(Some(id), SITES_PER_LEAK),
        None => Vec::new(),
    }
}

/// The history a dump carries: every point from `keep_from` on, and the points before it
/// merged into at most `older` runs (counters summed, state of the run's last point), so the
/// counters still add up over the time covered.
fn thin_history(series: &[&Snapshot], keep_from: f64, older: usize) -> Vec<Snapshot> {
    let split = series.partition_point(|s| s.t < keep_from);
    if split <= older {
        return series.iter().map(|&s| s.clone()).collect();
    }
    let run = split.div_ceil(older.max(1));
    let mut out: Vec<Snapshot> = series[..split]
        .chunks(run)
        .filter_map(|points| {
            let (last, rest) = points.split_last()?;
            let mut merged = (*last).clone();
            for p in rest {
                merged.allocs += p.allocs;
                merged.frees += p.frees;
                merged.bytes_allocated += p.bytes_allocated;
                merged.bytes_freed += p.bytes_freed;
            }
            Some(merged)
        })
        .collect();
    out.extend(series[split..].iter().map(|&s| s.clone()));
    out
}

type Hook = Arc<dyn Fn(&LeakEvent) + Send + Sync>;

static HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Registers a hook called with every leak event (new, severity changed, resolved).
pub(crate) fn on_leak(hook: impl Fn(&LeakEvent) + Send + Sync + 'static) {
    let _untracked = Untracked::enter();
    lock(&HOOKS).push(Arc::new(hook));
}

/// Calls the hooks with `events`, tracked (a hook is the program's code). A hook that panics is
/// reported once and the others still run; the collector goes on.
pub(crate) fn run_hooks(events: &[LeakEvent]) {
    if events.is_empty() {
        return;
    }
    #[cfg(feature = "tracing")]
    for e in events {
        emit_tracing(e);
    }
    let hooks: Vec<Hook> = {
        let _untracked = Untracked::enter();
        lock(&HOOKS).clone()
    };
    static PANIC_REPORTED: std::sync::atomic::AtomicBool =
        std::sync::atomic::AtomicBool::new(false);
    let _tracked = Tracked::enter();
    for hook in &hooks {
        for event in events {
            if catch_unwind(AssertUnwindSafe(|| hook(event))).is_err()
                && !PANIC_REPORTED.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                eprintln!(
                    "leakscope: an on_leak hook panicked; the collector goes on (reported once)"
                );
            }
        }
    }
}

/// Emits a leak event as a `tracing` event with structured fields: warn for new and changed
/// leaks up to Medium, error from High, info for resolutions.
#[cfg(feature = "tracing")]
fn emit_tracing(event: &LeakEvent) {
    use crate::leak::LeakSeverity;
    let leak = event.leak();
    let kind = match event {
        LeakEvent::New(_) => "new",
        LeakEvent::SeverityChanged { .. } => "severity_changed",
        LeakEvent::Resolved(_) => "resolved",
        #[allow(unreachable_patterns)]
        _ => "other",
    };
    macro_rules! emit {
        ($level:ident) => {
            tracing::$level!(
                target: "leakscope",
                event = kind,
                scope = %leak.scope,
                leak_type = ?leak.leak_type,
                severity = ?leak.severity,
                rate_bytes_per_min = leak.rate_bytes_per_min,
                current_bytes = leak.current_bytes,
                time_to_budget_secs = leak.time_to_budget_secs,
                "{}",
                leak.summary
            )
        };
    }
    match event {
        LeakEvent::Resolved(_) => emit!(info),
        _ if leak.severity >= LeakSeverity::High => emit!(error),
        _ => emit!(warn),
    }
}

/// What the running collector shares with the program's threads.
struct Shared {
    collector: Mutex<Collector>,
}

/// The running collector, if any.
static ACTIVE: Mutex<Option<Arc<Shared>>> = Mutex::new(None);

fn active() -> Result<Arc<Shared>, Error> {
    let _untracked = Untracked::enter();
    lock(&ACTIVE).clone().ok_or_else(|| {
        Error::new(
            ErrorKind::NotStarted,
            "no collector is running: call leakscope::start first",
        )
    })
}

/// Runs `f` on the running collector.
pub(crate) fn with_collector<T>(f: impl FnOnce(&mut Collector) -> T) -> Result<T, Error> {
    let shared = active()?;
    let _untracked = Untracked::enter();
    let mut c = lock(&shared.collector);
    Ok(f(&mut c))
}

/// The running collector: stops it and writes a final dump when dropped (or on
/// [`shutdown`](Handle::shutdown)).
#[must_use = "dropping the handle stops the collector at once"]
pub struct Handle {
    shared: Arc<Shared>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    stopped: bool,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("thread", &self.thread.is_some())
            .finish()
    }
}

/// The locks a fork must not copy while another thread holds them, held by the forking thread
/// from the `prepare` handler to the `parent`/`child` handler.
struct ForkLocks {
    active: MutexGuard<'static, Option<Arc<Shared>>>,
    _hooks: MutexGuard<'static, Vec<Hook>>,
    _registry: MutexGuard<'static, Option<registry::Registry>>,
}

thread_local! {
    static FORK_LOCKS: std::cell::RefCell<Option<ForkLocks>> = const { std::cell::RefCell::new(None) };
}

/// Before `fork`: takes the locks in the crate's one order (collector, hooks, registry).
pub(crate) fn hold_locks_for_fork(
    registry_lock: fn() -> MutexGuard<'static, Option<registry::Registry>>,
) {
    let _untracked = Untracked::enter();
    let locks = ForkLocks {
        active: lock(&ACTIVE),
        _hooks: lock(&HOOKS),
        _registry: registry_lock(),
    };
    let _ = FORK_LOCKS.try_with(|l| *l.borrow_mut() = Some(locks));
}

/// After `fork`, in the parent or the child: releases the locks. The child has no collector
/// thread, so it forgets the parent's collector and starts without one.
pub(crate) fn release_locks_after_fork(in_child: bool) {
    let _untracked = Untracked::enter();
    let Ok(Some(mut locks)) = FORK_LOCKS.try_with(|l| l.borrow_mut().take()) else {
        return;
    };
    if in_child {
        // Not dropped: its collector's mutex may have been locked by a thread that is gone.
        std::mem::forget(locks.active.take());
        sampler::configure(0, 1);
    }
}

/// At `exit`: the final dump of a collector whose handle was never dropped.
pub(crate) fn final_dump_at_exit() {
    let _untracked = Untracked::enter();
    let Some(shared) = lock(&ACTIVE).clone() else {
        return;
    };
    let mut c = lock(&shared.collector);
    let now = c.clock.now();
    c.snapshot_and_detect(now);
    let (dumped, prometheus) = c.write_files();
    if let Err(e) = dumped.and(prometheus) {
        eprintln!("leakscope: final dump at exit failed: {e}");
    }
}

/// Starts the collector thread with `config`.
pub(crate) fn start(config: Config) -> Result<Handle, Error> {
    start_with(config, Arc::new(SystemClock::new()), true)
}

/// Starts a collector reading `clock`; with `thread == false` nothing runs in the background
/// and the caller drives it with [`Handle::tick`] (tests).
pub(crate) fn start_with(
    config: Config,
    clock: Arc<dyn Clock>,
    thread: bool,
) -> Result<Handle, Error> {
    config.validate()?;
    let _untracked = Untracked::enter();
    let mut active = lock(&ACTIVE);
    if active.is_some() {
        return Err(Error::new(
            ErrorKind::AlreadyStarted,
            "leakscope::start was called while a collector is running; drop its handle first",
        ));
    }
    let interval = if config.enable_stack_traces {
        config.sample_interval_bytes
    } else {
        0
    };
    sampler::configure(interval, config.max_frames);
    registry::keep_symbols(config.keep_symbol_cache);
    crate::os::install_exit_handler();
    let shared = Arc::new(Shared {
        collector: Mutex::new(Collector::new(config, clock)),
    });
    let (stop, thread) = if thread {
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let for_thread = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("leakscope-collector".into())
            .spawn(move || run(&for_thread, &rx))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io {
                        path: Default::default(),
                    },
                    format!("cannot start the collector thread: {e}"),
                )
            })?;
        (Some(tx), Some(handle))
    } else {
        (None, None)
    };
    *active = Some(Arc::clone(&shared));
    Ok(Handle {
        shared,
        stop,
        thread,
        stopped: false,
    })
}

/// The collector thread's loop.
fn run(shared: &Shared, stop: &Receiver<()>) {
    let _untracked = Untracked::enter();
    loop {
        match stop.recv_timeout(DRAIN_PERIOD) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let events = lock(&shared.collector).tick();
        run_hooks(&events);
    }
}

impl Handle {
    /// Stops the collector and writes the final dump, returning its error if it failed (it is
    /// then not also reported on stderr).
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.stop_and_dump()
    }

    /// Runs whatever is due now on the calling thread, hooks included (for tests driving a
    /// collector started without a thread).
    #[doc(hidden)]
    pub fn tick(&self) -> Vec<LeakEvent> {
        let events = lock(&self.shared.collector).tick();
        run_hooks(&events);
        events
    }

    fn stop_and_dump(&mut self) -> Result<(), Error> {
        // The stopping thread's own pending counts belong in the final dump.
        crate::batch::flush_thread();
        let _untracked = Untracked::enter();
        self.stopped = true;
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let result = {
            let mut c = lock(&self.shared.collector);
            let now = c.clock.now();
            let events = c.snapshot_and_detect(now);
            drop(c);
            run_hooks(&events);
            let (dumped, prometheus) = lock(&self.shared.collector).write_files();
            dumped.and(prometheus)
        };
        let mut active = lock(&ACTIVE);
        if active
            .as_ref()
            .is_some_and(|a| Arc::ptr_eq(a, &self.shared))
        {
            *active = None;
            sampler::configure(0, 1);
        }
        result
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        if let Err(e) = self.stop_and_dump() {
            eprintln!("leakscope: final dump failed: {e}");
        }
    }
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
        let mut leak: crate::leak::Leak = serde_json::from_value(finding_json).unwrap();
        leak.confidence = f64::NAN;
        leak.rate_bytes_per_min = f64::INFINITY;
        leak.statistics[0].value = f64::NEG_INFINITY;
        leak.time_to_budget_secs = Some(f64::NAN);
        make_finite(&mut leak);
        let json = serde_json::to_string(&leak).unwrap();
        assert!(!json.contains("null"), "{json}");
        assert_eq!((leak.confidence, leak.rate_bytes_per_min), (0.0, 0.0));
        assert_eq!(leak.time_to_budget_secs, None);
    }

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
        let refs: Vec<&Snapshot> = series.iter().collect();
        let thin = thin_history(&refs, 900.0, 30);
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
        let refs: Vec<&Snapshot> = short.iter().collect();
        assert_eq!(thin_history(&refs, 5.0, 30), short);
    }
}
