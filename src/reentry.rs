//! The re-entrancy guard: nothing leakscope does is tracked as user memory.
//!
//! Each thread has one *owner* cell: the scope id a new block gets. Scope guards set it to their
//! scope ([`crate::scope`]); while the thread runs leakscope's own code (a batch send, the
//! collector, a registry update) it holds leakscope's own id, [`SELF_SCOPE`]. The allocator shim
//! then charges any allocation to leakscope through global atomics and touches no other
//! per-thread state, so the tracker can allocate freely without recursing into itself. This is
//! dhat's `IgnoreAllocs`, folded into the cell the shim reads anyway: one thread-local load
//! answers both "which scope?" and "is this leakscope?". The cell is a const-initialised
//! thread-local without a destructor, readable at every point of a thread's life, thread-local
//! teardown included.
//!
//! The cell is one field of [`Thread`], the thread-local block that holds everything the
//! allocator shim's fast path touches.

use std::cell::Cell;
use std::marker::PhantomData;
use std::thread::AccessError;

use crate::ids::{SELF_SCOPE, UNSCOPED};

/// Everything the allocator shim's fast path reads or writes, in one const-initialised
/// thread-local without a destructor: the owner cell, the sampler's countdown and the batch's
/// hot slot.
///
/// One block rather than a thread-local per module: a thread-local is reached through the thread
/// pointer plus an offset that the linker turns into an immediate, and each distinct one costs
/// the fast path an instruction to load that immediate and a register to hold it. Fields of one
/// block share them, and sit in one cache line. The block lives here, at the bottom of the hot
/// path's layers, so that it holds only plain cells: what they mean, and every rule about them,
/// belongs to the module that owns each (the countdown: `sampler::tick` and `sampler::expire`;
/// the hot slot: `batch::Batch`).
#[repr(C, align(64))]
pub(crate) struct Thread {
    /// The scope id a block allocated now on this thread belongs to (see the module docs). Read
    /// and written only here.
    owner: Cell<u32>,
    /// The sampler's countdown to the thread's next slow allocation (`sampler::tick`). Read and
    /// written only by the sampler, which never sets it above `CHECK_BYTES - 1`: the shim's
    /// unchecked layout (`alloc_small`) depends on that.
    pub(crate) countdown: Cell<u64>,
    /// The thread batch's hot slot (`batch::Batch`; its `bytes_freed` holds a biased count).
    pub(crate) hot: Slot,
}

/// One scope's counters in a thread's batch: plain cells, given their meaning by the batch
/// (`batch::Batch`, whose `impl Slot` has every operation on them). Defined here because the hot
/// slot lives in [`Thread`].
pub(crate) struct Slot {
    /// The scope whose slot this is, or [`Slot::EMPTY`].
    pub(crate) scope: Cell<u32>,
    pub(crate) allocs: Cell<u64>,
    pub(crate) frees: Cell<u64>,
    pub(crate) bytes_allocated: Cell<u64>,
    pub(crate) bytes_freed: Cell<u64>,
}

impl Slot {
    /// The scope of an empty slot: no scope id is this.
    pub(crate) const EMPTY: u32 = u32::MAX;

    /// An empty slot, every count 0.
    pub(crate) const fn new() -> Self {
        Slot {
            scope: Cell::new(Slot::EMPTY),
            allocs: Cell::new(0),
            frees: Cell::new(0),
            bytes_allocated: Cell::new(0),
            bytes_freed: Cell::new(0),
        }
    }
}

thread_local! {
    static THREAD: Thread = const {
        Thread {
            owner: Cell::new(UNSCOPED),
            countdown: Cell::new(0),
            hot: Slot::new(),
        }
    };
}

/// Runs `f` on the calling thread's [`Thread`] block. The block is const-initialised and has no
/// destructor, so it is readable at every point of the thread's life: the `Err` arm is there
/// for the type, and the optimizer drops it.
#[inline(always)]
pub(crate) fn with_thread<R>(f: impl FnOnce(&Thread) -> R) -> Result<R, AccessError> {
    THREAD.try_with(f)
}

/// The scope id a block allocated now on this thread belongs to: the innermost scope, or
/// [`SELF_SCOPE`] inside leakscope's own code.
#[inline]
pub(crate) fn owner() -> u32 {
    with_thread(|t| t.owner.get()).unwrap_or(UNSCOPED)
}

/// Makes `id` the calling thread's owner and returns the previous one.
#[inline]
pub(crate) fn swap_owner(id: u32) -> u32 {
    with_thread(|t| t.owner.replace(id)).unwrap_or(UNSCOPED)
}

/// Whether the calling thread is inside leakscope's own code.
#[inline]
pub(crate) fn is_busy() -> bool {
    owner() == SELF_SCOPE
}

/// While alive, `id` is the calling thread's owner; dropping it restores the previous owner.
///
/// The one swap-and-restore guard: [`Untracked`], [`Tracked`] and the public
/// [`ScopeGuard`](crate::ScopeGuard) are each this guard with the owner they set. Guards nest:
/// dropping restores the previous owner, so an inner guard does not undo an outer one, also when a
/// panic unwinds through it. Not `Send`: it restores the cell of the thread that created it.
#[must_use = "the owner is set only while the guard lives"]
#[derive(Debug)]
pub(crate) struct OwnerGuard {
    previous: u32,
    _not_send: PhantomData<*const ()>,
}

impl OwnerGuard {
    /// Makes `id` the calling thread's owner until the guard is dropped.
    #[inline]
    pub(crate) fn set(id: u32) -> Self {
        OwnerGuard {
            previous: swap_owner(id),
            _not_send: PhantomData,
        }
    }
}

impl Drop for OwnerGuard {
    #[inline]
    fn drop(&mut self) {
        swap_owner(self.previous);
    }
}

/// Marks the calling thread as running leakscope's own code until dropped.
#[must_use = "the thread is untracked only while the guard lives"]
pub(crate) struct Untracked {
    owner: OwnerGuard,
}

impl Untracked {
    /// Makes leakscope the calling thread's owner.
    #[inline]
    pub(crate) fn enter() -> Self {
        Untracked {
            owner: OwnerGuard::set(SELF_SCOPE),
        }
    }

    /// The thread's owner before this guard: whose allocation leakscope's work is serving.
    #[inline]
    pub(crate) fn previous(&self) -> u32 {
        self.owner.previous
    }
}

/// The opposite of [`Untracked`]: while alive, the calling thread's allocations are the
/// program's again. The collector runs the program's `on_leak` hooks under it, so what a hook
/// allocates is charged like any other program memory.
#[must_use = "the thread is tracked only while the guard lives"]
pub(crate) struct Tracked {
    _owner: OwnerGuard,
}

impl Tracked {
    /// Makes `unscoped` the calling thread's owner.
    pub(crate) fn enter() -> Self {
        Tracked {
            _owner: OwnerGuard::set(UNSCOPED),
        }
    }
}

/// While alive, makes `owner` the current scope if no scope is current (the realloc rule: a
/// block reallocated outside every scope keeps its owner). leakscope's own scope is never made
/// current: its blocks are counted apart, by the re-entrancy guard.
#[inline]
pub(crate) fn enter_if_unscoped(owner: u32) -> Option<OwnerGuard> {
    (self::owner() == UNSCOPED && owner != SELF_SCOPE).then(|| OwnerGuard::set(owner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guards_nest_and_restore() {
        assert!(!is_busy());
        {
            let _outer = Untracked::enter();
            assert!(is_busy());
            {
                let _inner = Untracked::enter();
                assert!(is_busy());
            }
            assert!(
                is_busy(),
                "an inner guard must not clear the outer one's flag"
            );
        }
        assert!(!is_busy());
    }

    #[test]
    fn tracked_suspends_an_untracked_guard() {
        let _outer = Untracked::enter();
        {
            let _hook = Tracked::enter();
            assert!(!is_busy());
        }
        assert!(is_busy());
    }

    #[test]
    fn unwinding_resets_the_flag() {
        let result = std::panic::catch_unwind(|| {
            let _g = Untracked::enter();
            panic!("inside leakscope code");
        });
        assert!(result.is_err());
        assert!(!is_busy());
    }
}
