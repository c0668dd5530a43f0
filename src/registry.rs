//! Scope names and ids (see [`crate::ids`]), the aggregated per-scope totals and the live-sample
//! table, behind one lock.
//!
//! Scopes with the same name share an id. The totals are applied from thread batches and the
//! fallback table ([`crate::sinks`]) by whoever drains the channel (the collector thread,
//! [`flush`](crate::flush), or a stats query) while holding the registry lock, so a batch is never
//! half-applied when somebody reads. None of this runs on the allocation hot path: the hot path
//! does not import this module (ARCHITECTURE.md, "Layers").

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hashbrown::HashMap;

use crate::batch;
use crate::ids::{
    user_scope_name, Counts, MAX_SCOPES, SELF_NAME, SELF_SCOPE, UNSCOPED, UNSCOPED_NAME,
};
use crate::leak::CallSite;
use crate::os::{self, ForkHandlers, ForkLayer};
use crate::reentry::Untracked;
use crate::samples::{LiveSamples, SampleSnapshot};
use crate::sinks;
use crate::snapshot::ScopeStats;

struct Entry {
    name: Box<str>,
    counts: Counts,
    max_bytes: u64,
}

pub(crate) struct Registry {
    entries: Vec<Entry>,
    by_name: HashMap<Box<str>, u32>,
    overflow_reported: bool,
    samples: LiveSamples,
    /// Keep the symbolizer's debug information loaded between queries and dumps.
    keep_symbols: bool,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// The registry, locked. The caller must hold an [`Untracked`] guard so that the registry's own
/// allocations are charged to leakscope.
fn lock() -> MutexGuard<'static, Option<Registry>> {
    // Before the lock, never under it: registering may wait for a fork in progress, whose
    // prepare handler waits for this lock.
    os::on_fork(
        ForkLayer::Registry,
        ForkHandlers {
            prepare: hold_lock_for_fork,
            parent: release_lock_after_fork,
            child: release_lock_after_fork,
        },
    );
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// The registry lock, held by the forking thread from `prepare` to `parent`/`child`.
    static FORK_GUARD: RefCell<Option<MutexGuard<'static, Option<Registry>>>> =
        const { RefCell::new(None) };
}

/// Before `fork`: takes the registry lock, so the child does not inherit it held by a thread
/// that is gone (see [`crate::os`]).
fn hold_lock_for_fork() {
    let _untracked = Untracked::enter();
    let guard = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
    let _ = FORK_GUARD.try_with(|g| *g.borrow_mut() = Some(guard));
}

/// After `fork`, in the parent or the child: releases the registry lock.
fn release_lock_after_fork() {
    let _untracked = Untracked::enter();
    let _ = FORK_GUARD.try_with(|g| g.borrow_mut().take());
}

fn registry(slot: &mut Option<Registry>) -> &mut Registry {
    slot.get_or_insert_with(|| {
        let mut r = Registry {
            entries: Vec::new(),
            by_name: HashMap::new(),
            overflow_reported: false,
            samples: LiveSamples::default(),
            keep_symbols: false,
        };
        for name in [UNSCOPED_NAME, SELF_NAME] {
            r.insert(name);
        }
        r
    })
}

impl Registry {
    fn insert(&mut self, name: &str) -> u32 {
        let id = self.entries.len() as u32;
        self.entries.push(Entry {
            name: name.into(),
            counts: Counts::default(),
            max_bytes: 0,
        });
        self.by_name.insert(name.into(), id);
        id
    }

    /// The top `n` call sites of `scope` (or of all scopes), resolved; the symbolizer's memory is
    /// released afterwards unless configured otherwise.
    fn top_sites(&mut self, scope: Option<u32>, n: usize) -> Vec<CallSite> {
        let (before, _) = sinks::self_usage();
        let entries = &self.entries;
        let sites = self.samples.top_sites(scope, n, |id| {
            entries
                .get(id as usize)
                .map_or_else(|| format!("scope#{id}"), |e| e.name.to_string())
        });
        // What resolving loaded (debug line tables, mostly) is still resident here: that is the
        // symbolizer's footprint, reported apart because it comes and goes with each dump.
        let loaded = sinks::self_usage().0.saturating_sub(before);
        SYMBOLIZER_BYTES.fetch_max(loaded, Relaxed);
        if !self.keep_symbols {
            self.samples.release_symbolizer();
        }
        sites
    }

    fn apply(&mut self, id: u32, counts: &Counts) {
        let Some(e) = self.entries.get_mut(id as usize) else {
            return;
        };
        e.counts.add(counts);
        let curr = e
            .counts
            .bytes_allocated
            .saturating_sub(e.counts.bytes_freed);
        e.max_bytes = e.max_bytes.max(curr);
    }
}

/// The id of the program's scope called `name` (see [`user_scope_name`]), registering it on first
/// use; `unscoped`'s when every id is taken.
pub(crate) fn id_of(name: &str) -> u32 {
    register(name).unwrap_or(UNSCOPED)
}

/// The id of the program's scope called `name`, registering it on first use; `None` when every
/// id is taken (reported once on stderr).
pub(crate) fn register(name: &str) -> Option<u32> {
    let _untracked = Untracked::enter();
    let name = user_scope_name(name);
    let mut slot = lock();
    let r = registry(&mut slot);
    if let Some(&id) = r.by_name.get(&*name) {
        return Some(id);
    }
    if r.entries.len() >= MAX_SCOPES {
        if !r.overflow_reported {
            r.overflow_reported = true;
            eprintln!(
                "leakscope: all {} scope names are taken (at most {MAX_SCOPES} scopes, the \
                 built-in {UNSCOPED_NAME} and {SELF_NAME} included); the memory of scope \
                 {name:?} and of later new names is charged to {UNSCOPED_NAME}, and their \
                 entry-count gauges are dropped (reported once)",
                MAX_SCOPES - 2
            );
        }
        return None;
    }
    Some(r.insert(&name))
}

/// The most memory one symbol resolution loaded (debug information), as seen so far.
static SYMBOLIZER_BYTES: AtomicU64 = AtomicU64::new(0);

/// The most memory one symbol resolution has loaded so far.
pub(crate) fn symbolizer_bytes() -> u64 {
    SYMBOLIZER_BYTES.load(Relaxed)
}

/// The registry with everything sent so far applied. The caller holds an [`Untracked`] guard.
///
/// Receiving and applying happen under the lock, so whoever holds it sees no batch in flight:
/// this is what makes [`flush`](crate::flush) exact.
fn drained() -> MutexGuard<'static, Option<Registry>> {
    let mut slot = lock();
    let r = registry(&mut slot);
    batch::drain(|id, counts| r.apply(id, counts));
    r.samples.drain();
    sinks::drain_fallback(|id, counts| r.apply(id, counts));
    slot
}

/// Sends the calling thread's batch and applies everything sent so far. When the channel is
/// full the batch is applied directly instead, so this never fails and never waits on a send.
pub(crate) fn flush_thread() {
    let _untracked = Untracked::enter();
    let sent = batch::send_thread();
    drain_with(|apply| {
        if !sent {
            batch::take_thread(apply);
        }
    });
}

/// Applies everything sent so far, then `extra` (a batch that could not be sent).
pub(crate) fn drain_with(extra: impl FnOnce(&mut dyn FnMut(u32, &Counts))) {
    let _untracked = Untracked::enter();
    let mut slot = drained();
    let r = registry(&mut slot);
    extra(&mut |id, counts| r.apply(id, counts));
}

/// Stats of the scope with id `id`.
pub(crate) fn stats_of(id: u32) -> ScopeStats {
    let _untracked = Untracked::enter();
    let mut slot = drained();
    let r = registry(&mut slot);
    r.entries
        .get(id as usize)
        .map(|e| ScopeStats::from_counts(&e.counts, e.max_bytes))
        .unwrap_or_default()
}

/// Stats of the scope called `name`, if it was ever entered.
pub(crate) fn stats_named(name: &str) -> Option<ScopeStats> {
    let _untracked = Untracked::enter();
    let mut slot = drained();
    let r = registry(&mut slot);
    let &id = r.by_name.get(name)?;
    let e = &r.entries[id as usize];
    Some(ScopeStats::from_counts(&e.counts, e.max_bytes))
}

/// Every user scope and `unscoped` with its stats, sorted by name. leakscope's own memory is not
/// among them: see [`sinks::self_usage`].
pub(crate) fn all_stats() -> Vec<(String, ScopeStats)> {
    let rows: Vec<(Box<str>, ScopeStats)> = {
        let _untracked = Untracked::enter();
        let mut slot = drained();
        let r = registry(&mut slot);
        r.entries
            .iter()
            .enumerate()
            .filter(|&(id, _)| id as u32 != SELF_SCOPE)
            .map(|(_, e)| {
                (
                    e.name.clone(),
                    ScopeStats::from_counts(&e.counts, e.max_bytes),
                )
            })
            .collect()
    };
    // Built outside the guard: the caller owns this vector, so it is charged to the caller.
    let mut out: Vec<(String, ScopeStats)> =
        rows.iter().map(|(n, s)| (n.to_string(), *s)).collect();
    drop(rows);
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The top `n` call sites by estimated live bytes, of one scope or of all.
pub(crate) fn top_sites(scope: Option<u32>, n: usize) -> Vec<CallSite> {
    let _untracked = Untracked::enter();
    let mut slot = drained();
    registry(&mut slot).top_sites(scope, n)
}

/// Every call site with live samples.
pub(crate) fn sample_snapshot() -> SampleSnapshot {
    SampleSnapshot {
        sites: top_sites(None, usize::MAX),
    }
}

/// How many sampled blocks are live.
pub(crate) fn live_samples() -> usize {
    let _untracked = Untracked::enter();
    let mut slot = drained();
    registry(&mut slot).samples.len()
}

/// Each scope's age profile of live sampled memory, by scope id (see
/// [`LiveSamples::age_profiles`]).
pub(crate) fn age_profiles() -> hashbrown::HashMap<u32, [u16; 3]> {
    let _untracked = Untracked::enter();
    let mut slot = drained();
    registry(&mut slot).samples.age_profiles()
}

/// Marks the end of a snapshot interval for the age buckets of live samples.
pub(crate) fn next_interval() {
    let _untracked = Untracked::enter();
    let mut slot = lock();
    registry(&mut slot).samples.interval_index += 1;
}

/// One scope's totals, as the collector snapshots them.
pub(crate) struct ScopeTotal {
    pub id: u32,
    pub name: String,
    pub counts: Counts,
    pub max_bytes: u64,
}

impl ScopeTotal {
    pub(crate) fn stats(&self) -> ScopeStats {
        ScopeStats::from_counts(&self.counts, self.max_bytes)
    }
}

/// Every scope but leakscope's own, with everything sent so far applied, in id order. The
/// caller (the collector) holds an [`Untracked`] guard.
pub(crate) fn scope_totals() -> Vec<ScopeTotal> {
    let mut slot = drained();
    let r = registry(&mut slot);
    r.entries
        .iter()
        .enumerate()
        .filter(|&(id, _)| id as u32 != SELF_SCOPE)
        .map(|(id, e)| ScopeTotal {
            id: id as u32,
            name: e.name.to_string(),
            counts: e.counts,
            max_bytes: e.max_bytes,
        })
        .collect()
}

/// The id of the scope called `name`, if it was ever registered.
pub(crate) fn lookup(name: &str) -> Option<u32> {
    let _untracked = Untracked::enter();
    let mut slot = lock();
    registry(&mut slot).by_name.get(name).copied()
}

/// Whether the symbolizer's debug information stays loaded between queries and dumps.
pub(crate) fn keep_symbols(keep: bool) {
    let _untracked = Untracked::enter();
    let mut slot = lock();
    registry(&mut slot).keep_symbols = keep;
}
