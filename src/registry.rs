//! Scope names, ids and the aggregated per-scope totals.
//!
//! Every scope has a small integer id, stored in the mark of each block it owns. Ids 0 and 1 are
//! built in: `unscoped` (memory allocated outside every scope) and `leakscope` (the tracker's own
//! memory, reported separately as `leakscope_self_bytes`). Scopes with the same name share an id.
//!
//! The totals are applied from thread batches by whoever drains the channel (the collector
//! thread, [`flush`](crate::flush), or a stats query) while holding the registry lock, so a batch
//! is never half-applied when somebody reads. None of this runs on the allocation hot path,
//! except [`Fallback`] and the self counters, which are lock-free atomics.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hashbrown::HashMap;

use crate::leak::CallSite;
use crate::reentry::Untracked;
use crate::samples::{self, LiveSamples, SampleSnapshot};

/// Id of the built-in scope holding memory allocated outside every scope.
pub(crate) const UNSCOPED: u32 = 0;
/// Id of the built-in scope holding leakscope's own memory.
pub(crate) const SELF_SCOPE: u32 = 1;
/// Name of the built-in scope holding memory allocated outside every scope.
pub const UNSCOPED_NAME: &str = "unscoped";
/// Name of [`SELF_SCOPE`].
pub(crate) const SELF_NAME: &str = "leakscope";

/// The most scopes a process can have. A name registered beyond it is charged to `unscoped`
/// (reported once on stderr). The bound keeps the lock-free fallback table a static array.
pub const MAX_SCOPES: usize = 4096;

/// Exact counters of one scope, as applied so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub allocs: u64,
    pub frees: u64,
    pub bytes_allocated: u64,
    pub bytes_freed: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, other: &Counts) {
        self.allocs = self.allocs.wrapping_add(other.allocs);
        self.frees = self.frees.wrapping_add(other.frees);
        self.bytes_allocated = self.bytes_allocated.wrapping_add(other.bytes_allocated);
        self.bytes_freed = self.bytes_freed.wrapping_add(other.bytes_freed);
    }

    pub(crate) fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// Allocation statistics of one scope.
///
/// Exact to the byte once every thread that touched the scope has flushed (see
/// [`flush`](crate::flush)); between flushes a live figure can trail by at most one batch per
/// thread. Bytes are the sizes the program requested, not what the inner allocator rounded them
/// up to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    fn from_counts(c: &Counts, max_bytes: u64) -> Self {
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
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Locks the registry for the duration of a `fork` (see [`crate::os`]).
pub(crate) fn hold_lock_for_fork() -> MutexGuard<'static, Option<Registry>> {
    lock()
}

fn registry(slot: &mut Option<Registry>) -> &mut Registry {
    slot.get_or_insert_with(|| {
        crate::os::install_fork_handlers();
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
        let before = SELF_BYTES.load(Relaxed);
        let entries = &self.entries;
        let sites = self.samples.top_sites(scope, n, |id| {
            entries
                .get(id as usize)
                .map_or_else(|| format!("scope#{id}"), |e| e.name.to_string())
        });
        // What resolving loaded (debug line tables, mostly) is still resident here: that is the
        // symbolizer's footprint, reported apart because it comes and goes with each dump.
        let loaded = SELF_BYTES.load(Relaxed).saturating_sub(before);
        SYMBOLIZER_BYTES.fetch_max(loaded, Relaxed);
        if !self.keep_symbols {
            samples::release_symbolizer();
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

/// The id of the scope called `name`, registering it on first use.
pub(crate) fn id_of(name: &str) -> u32 {
    let _untracked = Untracked::enter();
    let mut slot = lock();
    let r = registry(&mut slot);
    if let Some(&id) = r.by_name.get(name) {
        return id;
    }
    if r.entries.len() >= MAX_SCOPES {
        if !r.overflow_reported {
            r.overflow_reported = true;
            eprintln!(
                "leakscope: more than {MAX_SCOPES} scopes; scope {name:?} and later new scopes \
                 are charged to {UNSCOPED_NAME}"
            );
        }
        return UNSCOPED;
    }
    r.insert(name)
}

/// Lock-free per-scope counters for events that cannot go through a thread batch: those of a
/// thread whose thread-locals are being torn down, and those of a thread whose batch has no
/// free slot while the channel is full. Drained into the totals like a batch.
pub(crate) struct Fallback {
    allocs: AtomicU64,
    frees: AtomicU64,
    bytes_allocated: AtomicU64,
    bytes_freed: AtomicU64,
}

static FALLBACK: [Fallback; MAX_SCOPES] = [const {
    Fallback {
        allocs: AtomicU64::new(0),
        frees: AtomicU64::new(0),
        bytes_allocated: AtomicU64::new(0),
        bytes_freed: AtomicU64::new(0),
    }
}; MAX_SCOPES];

/// Events that went through the fallback table (a test hook: tells which path a test took).
static FALLBACK_USES: AtomicU64 = AtomicU64::new(0);

/// How many times events went through the fallback table.
pub(crate) fn fallback_uses() -> u64 {
    FALLBACK_USES.load(Relaxed)
}

/// Adds `counts` for scope `id` to the fallback table. Lock-free; never loses a count.
pub(crate) fn fallback_add(id: u32, counts: &Counts) {
    FALLBACK_USES.fetch_add(1, Relaxed);
    // Ids are handed out below MAX_SCOPES; an out-of-range id (which a corrupted mark could
    // produce) is charged to unscoped rather than dropped.
    let f = FALLBACK
        .get(id as usize)
        .unwrap_or(&FALLBACK[UNSCOPED as usize]);
    f.allocs.fetch_add(counts.allocs, Relaxed);
    f.frees.fetch_add(counts.frees, Relaxed);
    f.bytes_allocated.fetch_add(counts.bytes_allocated, Relaxed);
    f.bytes_freed.fetch_add(counts.bytes_freed, Relaxed);
    // After the counts: a drain that sees the flag sees them (the swap below is AcqRel).
    FALLBACK_DIRTY.store(true, std::sync::atomic::Ordering::Release);
}

/// Set when the fallback table holds counts, so a drain scans its 4,096 entries only then.
static FALLBACK_DIRTY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// leakscope's own live memory, kept apart from user scopes.
static SELF_BYTES: AtomicU64 = AtomicU64::new(0);
static SELF_BLOCKS: AtomicU64 = AtomicU64::new(0);

/// Charges an allocation of `size` bytes to leakscope itself.
#[inline]
pub(crate) fn self_alloc(size: usize) {
    SELF_BYTES.fetch_add(size as u64, Relaxed);
    SELF_BLOCKS.fetch_add(1, Relaxed);
}

/// Credits a free of `size` bytes of leakscope's own memory.
#[inline]
pub(crate) fn self_free(size: usize) {
    SELF_BYTES.fetch_sub(size as u64, Relaxed);
    SELF_BLOCKS.fetch_sub(1, Relaxed);
}

/// The most memory one symbol resolution loaded (debug information), as seen so far.
static SYMBOLIZER_BYTES: AtomicU64 = AtomicU64::new(0);

/// The most memory one symbol resolution has loaded so far.
pub(crate) fn symbolizer_bytes() -> u64 {
    SYMBOLIZER_BYTES.load(Relaxed)
}

/// leakscope's own live bytes and blocks.
pub(crate) fn self_usage() -> (u64, u64) {
    (SELF_BYTES.load(Relaxed), SELF_BLOCKS.load(Relaxed))
}

/// The registry with everything sent so far applied. The caller holds an [`Untracked`] guard.
///
/// Receiving and applying happen under the lock, so whoever holds it sees no batch in flight:
/// this is what makes [`flush`](crate::flush) exact.
fn drained() -> MutexGuard<'static, Option<Registry>> {
    let mut slot = lock();
    let r = registry(&mut slot);
    crate::batch::drain(|id, counts| r.apply(id, counts));
    r.samples.drain();
    // Cleared before the scan: counts added during it set the flag again for the next drain.
    let dirty = FALLBACK_DIRTY.swap(false, std::sync::atomic::Ordering::AcqRel);
    if dirty {
        for (id, f) in FALLBACK.iter().enumerate() {
            let counts = Counts {
                allocs: f.allocs.swap(0, Relaxed),
                frees: f.frees.swap(0, Relaxed),
                bytes_allocated: f.bytes_allocated.swap(0, Relaxed),
                bytes_freed: f.bytes_freed.swap(0, Relaxed),
            };
            if !counts.is_zero() {
                r.apply(id as u32, &counts);
            }
        }
    }
    slot
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
/// among them: see [`self_usage`].
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
