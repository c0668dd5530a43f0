#![doc = include_str!("../README.md")]
//!
//! # Reading the output
//!
//! The dump (`docs/dump-format.md`) holds every scope's totals and history, the open and
//! resolved [`Leak`]s with their evidence, time to budget, top [`CallSite`](leaks::CallSite)s and
//! recommendations, and leakscope's own figures. The `leakscope` CLI renders it (`report`,
//! `html`), compares two dumps (`diff`), re-runs the detectors with other thresholds
//! (`analyze`), and exports folded stacks (`collapsed`) and Prometheus text (`prom`).
//!
//! # Testing with it
//!
//! [`flush`] makes [`stats`] exact, so a test can assert that a cache gives back what it took:
//!
//! ```
//! # #[global_allocator]
//! # static ALLOC: leakscope::Alloc = leakscope::Alloc::system();
//! static CACHE: leakscope::Scope = leakscope::Scope::new("doc_cache");
//! let mut cache = Vec::with_capacity(8); // allocated outside the scope: not the cache's
//! {
//!     let _g = CACHE.enter();
//!     cache.push(vec![0u8; 100]);
//! }
//! cache.clear();
//! leakscope::flush();
//! let s = leakscope::stats(&CACHE);
//! assert_eq!((s.total_bytes_allocated, s.curr_bytes, s.curr_blocks), (100, 0, 0));
//! ```
//!
//! Time-dependent behaviour is testable without waiting: a collector started with a manual
//! clock is driven tick by tick (see `tests/collector.rs`).

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

// `unsafe` is denied everywhere but in these four modules, each allowed with its reason.
#[allow(unsafe_code)] // The GlobalAlloc impl, and the trailer read and written past the block.
mod alloc;
mod batch;
mod channel;
mod collector;
pub mod config;
mod detect;
pub mod dump;
mod error;
#[allow(unsafe_code)] // Pin projection to the wrapped future, and dropping it in place.
mod future;
mod history;
mod ids;
mod leak;
#[allow(unsafe_code)] // pthread_atfork and atexit, which take C function pointers.
mod os;
mod reentry;
mod registry;
#[allow(unsafe_code)]
// The stack walks (DWARF and frame pointers), the thread's stack bounds, OS id and name.
mod sampler;
mod samples;
mod scope;
mod sinks;
mod snapshot;
#[cfg(feature = "tracing")]
mod spans;
mod symtab;
mod units;

// The root holds what a program needs to install the allocator, scope its caches, run the
// collector and hear about leaks; the rest is in the modules below (`scripts/root-names.sh`
// counts the root).
pub use alloc::Alloc;
pub use collector::runtime::Handle;
pub use config::Config;
pub use error::{Error, ErrorKind};
pub use leak::Leak;
pub use scope::{scope, Scope, ScopeGuard};
pub use snapshot::ScopeStats;

/// Leaks as the running collector reports them and the dump carries them: [`Leak`] and what it
/// is made of (its [`Finding`](leaks::Finding), the [`CallSite`](leaks::CallSite)s that sampling
/// attributes its memory to), the events [`on_leak`] hooks receive, and [`check_leaks`]'s answer.
pub mod leaks {
    pub use crate::detect::LeakEvent;
    pub use crate::leak::{
        CallSite, Finding, Frame, GrowthModel, Leak, LeakCheck, LeakSeverity, LeakStatus, LeakType,
        Statistic,
    };
}

/// Scopes across `.await` and tasks: a [`ScopeGuard`] belongs to a thread, but a future runs in
/// slices on whichever worker polls it. [`InScope`](tasks::InScope) (`.in_scope(&SCOPE)` on any
/// future, giving a [`Scoped`](tasks::Scoped)) enters the scope around every poll and the drop;
/// with the feature `tracing`, `ScopeLayer` does the same for every span that names a scope, so
/// an instrumented future or block is charged to the span's scope (`info_span!("render",
/// leakscope.scope = "memo")`, or `ScopeLayer::span` by span name).
pub mod tasks {
    pub use crate::future::{InScope, Scoped};
    #[cfg(feature = "tracing")]
    pub use crate::spans::{ScopeLayer, MAX_NESTED_SPANS, SCOPE_FIELD};
}

/// The offline analysis: the detectors and the leak lifecycle as pure functions over snapshot
/// series, for the CLI (`leakscope analyze`), for tools that read dumps, and for tests that
/// check a detector on a series they build. A running program gets the same through [`start`]
/// and [`live::analyze`].
pub mod analysis {
    pub use crate::detect::{
        analyze_process, analyze_series, replay_process, replay_process_with, replay_series,
        replay_series_with, required_history_secs, DetectorConfig, Finding, LeakTracker,
        PROCESS_SCOPE,
    };
    pub use crate::snapshot::{
        CgroupMemory, Churn, MemoryEvents, Pressure, ProcessSnapshot, Psi, PsiSource, Snapshot,
        Stall, AGE_SHARE_SCALE,
    };
}

use leaks::{LeakCheck, LeakEvent};

/// The running process, live: every scope's statistics, leakscope's own figures, and what the
/// running collector does on demand (a snapshot, an analysis, the dump, the Prometheus text,
/// the heap profile).
pub mod live {
    use crate::analysis::{Finding, Snapshot};
    pub use crate::dump::TrackerStats;
    use crate::leaks::CallSite;
    pub use crate::samples::{SampleSnapshot, SiteDiff};
    use crate::{collector, dump, ids, reentry, registry};
    use crate::{Error, Scope, ScopeStats};

    /// The statistics of the scope shown as `name` (in [`all_stats`], the dump and the report), if
    /// it was ever used: `stats_by_name("unscoped")` is the built-in scope, and a scope the program
    /// named `unscoped` is shown as `~unscoped` ([`scope`](crate::scope()) says why).
    pub fn stats_by_name(name: &str) -> Option<ScopeStats> {
        registry::stats_named(name)
    }

    /// The top `n` call sites by estimated live bytes across all scopes, largest first, with
    /// symbols resolved and leakscope's and the allocator's frames trimmed.
    ///
    /// Estimates come from byte-interval sampling (`sample_interval_bytes`): each sample stands
    /// for `size / (1 - exp(-size / interval))` bytes. Empty while sampling is off.
    pub fn top_sites(n: usize) -> Vec<CallSite> {
        registry::top_sites(None, n)
    }

    /// The top `n` call sites of `scope` by estimated live bytes (see [`top_sites`]).
    pub fn top_sites_in(scope: &Scope, n: usize) -> Vec<CallSite> {
        registry::top_sites(Some(scope.id()), n)
    }

    /// Every call site with live sampled memory now, for [`SampleSnapshot::compare_to`].
    pub fn sample_snapshot() -> SampleSnapshot {
        registry::sample_snapshot()
    }

    /// Every scope (`unscoped` included) with its statistics, sorted by name.
    pub fn all_stats() -> Vec<(String, ScopeStats)> {
        registry::all_stats()
    }

    /// leakscope's own figures: its live memory, its samples, how often threads found the channel
    /// full, and the dumps the collector started last has written (the dump's `tracker` object is
    /// the same figures as of the dump).
    pub fn tracker_stats() -> TrackerStats {
        collector::assemble::tracker_stats()
    }

    /// Takes a snapshot of every scope now (outside the schedule), runs the detectors and the
    /// hooks, and returns the latest snapshot of every scope, by name.
    ///
    /// # Errors
    /// [`ErrorKind::NotStarted`](crate::ErrorKind::NotStarted) when no collector is running.
    pub fn snapshot_now() -> Result<Vec<(String, Snapshot)>, Error> {
        let (events, latest) = collector::runtime::with_collector(|c| {
            let events = c.snapshot_now();
            (events, c.latest())
        })?;
        collector::hooks::run_hooks(&events);
        Ok(latest)
    }

    /// Writes the dump (and the Prometheus textfile) now.
    ///
    /// # Errors
    /// [`ErrorKind::NotStarted`](crate::ErrorKind::NotStarted) when no collector is running; otherwise the first write error,
    /// which is returned, not also reported on stderr.
    pub fn dump_now() -> Result<(), Error> {
        let (dumped, prometheus) = collector::runtime::with_collector(|c| c.write_files())?;
        dumped.and(prometheus)
    }

    /// The running collector's current state in the Prometheus text exposition format (the same
    /// families as the textfile, docs/dump-format.md), for a service that already serves
    /// `/metrics`: return it as the body with content type `text/plain; version=0.0.4`. Reads the
    /// latest snapshot of every scope and the leaks as they stand; resolves no symbols, so it is
    /// cheap enough for every scrape.
    ///
    /// # Errors
    /// [`ErrorKind::NotStarted`](crate::ErrorKind::NotStarted) when no collector is running.
    pub fn metrics_text() -> Result<String, Error> {
        let dump = collector::runtime::with_collector(|c| {
            c.dump_for(collector::assemble::DumpFor::Metrics)
        })?;
        let _untracked = reentry::Untracked::enter();
        Ok(dump::prometheus_text(&dump))
    }

    /// The running process's sampled live heap as a gzipped pprof profile (`profile.proto`), for
    /// `go tool pprof` and continuous profilers: every call site with live sampled memory, its
    /// stack, file and line, the scope as the label `scope`, and the process's executable mappings
    /// (`dump::pprof_profile` has the details). Serve it as `/debug/pprof/heap` or write it to a
    /// file. Needs the `pprof` feature.
    ///
    /// # Errors
    /// [`ErrorKind::NotStarted`](crate::ErrorKind::NotStarted) when no collector is running.
    #[cfg(feature = "pprof")]
    pub fn heap_profile() -> Result<Vec<u8>, Error> {
        let dump = collector::runtime::with_collector(|c| {
            c.dump_for(collector::assemble::DumpFor::Profile)
        })?;
        let _untracked = reentry::Untracked::enter();
        Ok(dump::pprof_profile(&dump, &dump::self_mappings()))
    }

    /// Runs the detectors over `scope`'s history now and returns what they find, without touching
    /// the leak lifecycle (see [`check_leaks`](crate::check_leaks) for the leaks raised so far).
    ///
    /// # Errors
    /// [`ErrorKind::NotStarted`](crate::ErrorKind::NotStarted) when no collector is running.
    pub fn analyze(scope: &Scope) -> Result<Vec<Finding>, Error> {
        collector::runtime::with_collector(|c| c.analyze(&ids::user_scope_name(scope.name())))?
    }
}

/// Sends the calling thread's pending counts and applies everything every thread has sent so
/// far, so that [`stats`] is exact for all work that other threads finished and flushed (threads
/// flush when they exit, and look every 32 KiB they allocate or free: a batch of 1,024 events, or
/// one whose net change in a scope could reach 64 KiB before the next look, is sent). Works with
/// or without a running collector; never blocks on a full channel.
pub fn flush() {
    registry::flush_thread();
}

/// The statistics of `scope`, with everything sent so far applied.
pub fn stats(scope: &Scope) -> ScopeStats {
    registry::stats_of(scope.id())
}

/// How many events took the lock-free fallback path (thread teardown, or no batch slot while
/// the channel was full).
#[doc(hidden)] // A test hook: tells a test which path its events took.
pub fn __fallback_uses() -> u64 {
    sinks::fallback_uses()
}

/// How many sample stacks the frame-pointer walk captured, and how many DWARF unwinding did
/// (every one when the build has no frame pointers: the crate docs, "Cheaper stack samples").
#[doc(hidden)] // A bench and test hook: tells which walk the samples took.
pub fn __stack_walks() -> (u64, u64) {
    sampler::walks()
}

/// How many sampled blocks are live.
#[doc(hidden)] // A test hook: sampling tests count the samples they made.
pub fn __live_samples() -> usize {
    registry::live_samples()
}

/// Switches sampling on at a mean of `interval_bytes` (0: off) with up to `max_frames` frames,
/// without starting a collector. `start` does this from the config.
#[doc(hidden)] // A test hook: sampling tests and benches switch sampling on without a collector.
pub fn __configure_sampling(interval_bytes: u64, max_frames: usize) {
    sampler::configure(interval_bytes, max_frames);
}

/// Seeds the calling thread's sampler.
#[doc(hidden)] // A test hook: reproducible sample positions.
pub fn __seed_sampler(seed: u64) {
    sampler::seed_thread(seed);
}

/// Marks the end of a snapshot interval for sample ages (the collector does this).
#[doc(hidden)] // A test hook: sample-age tests without a collector.
pub fn __next_interval() {
    registry::next_interval();
}

/// Starts the collector thread: every `snapshot_interval_seconds` it snapshots every scope,
/// runs the leak detectors and the `on_leak` hooks, and every `dump_interval_seconds` writes the
/// dump (and the Prometheus textfile). Also switches on stack sampling as configured.
///
/// Dropping the returned [`Handle`] (or calling [`Handle::shutdown`]) stops the collector and
/// writes a final dump.
///
/// # Errors
/// A configuration error naming the bad field ([`Config::validate`]), or
/// [`ErrorKind::AlreadyStarted`] if a collector is running: a second `start` is an error, not a
/// panic.
pub fn start(config: Config) -> Result<Handle, Error> {
    collector::runtime::start(config)
}

/// Starts a collector on `clock` with no background thread; the test drives it with
/// [`Handle::tick`].
#[doc(hidden)] // A test hook: time-dependent tests drive a manual clock instead of sleeping.
pub fn __start_manual(config: Config, clock: std::sync::Arc<dyn Clock>) -> Result<Handle, Error> {
    collector::runtime::start_with(config, clock, false)
}

/// Feeds the scope `name` with memory the allocator cannot see (a C library's cache, an mmap'd
/// arena): from the next snapshot on it holds `bytes` (added to what the allocator counts for
/// a scope of the same name) and, if given, `entries` as its entry count. `name` is a name of
/// the program's, as given to [`scope`]: `record("unscoped", ..)` feeds the scope shown as
/// `~unscoped`, never the built-in one.
///
/// # Errors
/// [`ErrorKind::NotStarted`] when no collector is running.
pub fn record(name: &str, bytes: u64, entries: Option<u64>) -> Result<(), Error> {
    collector::runtime::with_collector(|c| c.record(&ids::user_scope_name(name), bytes, entries))
}

/// Registers `hook`, called on the collector thread with every leak event: a new leak, a
/// severity change, a resolution. A hook that panics is reported once on stderr and the
/// collector goes on. Hooks may be registered before [`start`].
pub fn on_leak(hook: impl Fn(&LeakEvent) + Send + Sync + 'static) {
    collector::hooks::on_leak(hook);
}

/// The open leaks of the scope shown as `name` in [`live::all_stats`], the dump and the report (none
/// when no collector is running).
pub fn check_leaks(name: &str) -> LeakCheck {
    collector::runtime::with_collector(|c| c.check(name)).unwrap_or_default()
}

// Test hooks: a collector on a manual clock, and its parts, for tests and benches that drive
// time themselves. Hidden because a program never needs them; public because tests/ and
// benches/ are other crates.
#[doc(hidden)] // A test hook: see above.
pub use collector::clock::{Clock, ManualClock, SystemClock};
#[doc(hidden)] // A test hook: benches/collector.rs drives the collector without a thread.
pub use collector::worker::Collector;
#[doc(hidden)] // A test hook: benches and the CLI's fixtures build histories directly.
pub use history::{Histories, ScopeHistory, TIER_FACTOR};
