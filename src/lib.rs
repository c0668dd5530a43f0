//! leakscope: per-scope allocation accounting and leak detection for long-running programs.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod alloc;
mod batch;
mod config;
mod error;
mod leak;
mod reentry;
mod registry;
mod scope;
mod snapshot;

pub use alloc::{Alloc, MARK_LEN};
pub use batch::{FLUSH_EVENTS, FLUSH_NET_BYTES};
pub use config::Config;
pub use error::{Error, ErrorKind};
pub use leak::{
    CallSite, Frame, GrowthModel, Leak, LeakCheck, LeakSeverity, LeakStatus, LeakType, Statistic,
};
pub use registry::{ScopeStats, MAX_SCOPES, UNSCOPED_NAME};
pub use scope::{scope, set_entry_count, Scope, ScopeGuard};
pub use snapshot::{ProcessSnapshot, Snapshot};

/// Sends the calling thread's pending counts and applies everything every thread has sent so
/// far, so that [`stats`] is exact for all work that other threads finished and flushed (threads
/// flush when they exit, and at least every [`FLUSH_EVENTS`] events or [`FLUSH_NET_BYTES`] of
/// net change per scope). Works with or without a running collector; never blocks on a full
/// channel.
pub fn flush() {
    batch::flush_thread();
}

/// The statistics of `scope`, with everything sent so far applied.
pub fn stats(scope: &Scope) -> ScopeStats {
    registry::stats_of(scope.id())
}

/// The statistics of the scope called `name`, if it was ever used.
pub fn stats_by_name(name: &str) -> Option<ScopeStats> {
    registry::stats_named(name)
}

/// Every scope (`unscoped` included) with its statistics, sorted by name.
pub fn all_stats() -> Vec<(String, ScopeStats)> {
    registry::all_stats()
}

/// leakscope's own figures: its live memory and how often threads found the channel full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct TrackerStats {
    /// Live bytes allocated by leakscope itself (`leakscope_self_bytes`).
    pub self_bytes: u64,
    /// Live blocks allocated by leakscope itself.
    pub self_blocks: u64,
    /// Sends that found the channel full; their counts were kept and sent later.
    pub channel_full_retries: u64,
}

/// How many events took the lock-free fallback path (thread teardown, or no batch slot while
/// the channel was full). A test hook.
#[doc(hidden)]
pub fn __fallback_uses() -> u64 {
    registry::fallback_uses()
}

/// leakscope's own figures.
pub fn tracker_stats() -> TrackerStats {
    let (self_bytes, self_blocks) = registry::self_usage();
    TrackerStats {
        self_bytes,
        self_blocks,
        channel_full_retries: batch::channel_full_retries(),
    }
}

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
