//! The lock-free sinks beside the thread batches: counts that cannot wait in a batch, and
//! leakscope's own memory.
//!
//! The **fallback table** holds per-scope counters for events that cannot go through a thread
//! batch: those of a thread whose thread-locals are being torn down, and those of a thread whose
//! batch has no free slot while the channel is full. Whoever drains the channel drains it too
//! ([`drain_fallback`]), so no count is lost. The **self counters** hold leakscope's own live
//! bytes and blocks, charged whenever the thread's owner is leakscope itself.
//!
//! Both are static atomics: the allocation path reaches them without a lock, an allocation or a
//! thread-local, and nothing here imports the registry that applies them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, Ordering::Relaxed};

use crate::ids::{Counts, MAX_SCOPES, UNSCOPED};

/// Lock-free per-scope counters for events that cannot go through a thread batch: those of a
/// thread whose thread-locals are being torn down, and those of a thread whose batch has no
/// free slot while the channel is full. Drained into the totals like a batch.
struct Fallback {
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
    FALLBACK_DIRTY.store(true, Ordering::Release);
}

/// Set when the fallback table holds counts, so a drain scans its 4,096 entries only then.
static FALLBACK_DIRTY: AtomicBool = AtomicBool::new(false);

/// Hands every scope's fallback counts to `apply` and zeroes them; scans the table only when
/// something was added since the last drain. The caller applies them under the registry lock.
pub(crate) fn drain_fallback(mut apply: impl FnMut(u32, &Counts)) {
    // Cleared before the scan: counts added during it set the flag again for the next drain.
    let dirty = FALLBACK_DIRTY.swap(false, Ordering::AcqRel);
    if !dirty {
        return;
    }
    for (id, f) in FALLBACK.iter().enumerate() {
        let counts = Counts {
            allocs: f.allocs.swap(0, Relaxed),
            frees: f.frees.swap(0, Relaxed),
            bytes_allocated: f.bytes_allocated.swap(0, Relaxed),
            bytes_freed: f.bytes_freed.swap(0, Relaxed),
        };
        if !counts.is_zero() {
            apply(id as u32, &counts);
        }
    }
}

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

/// leakscope's own live bytes and blocks.
pub(crate) fn self_usage() -> (u64, u64) {
    (SELF_BYTES.load(Relaxed), SELF_BLOCKS.load(Relaxed))
}
