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

use std::cell::Cell;

use crate::registry::{SELF_SCOPE, UNSCOPED};

thread_local! {
    static OWNER: Cell<u32> = const { Cell::new(UNSCOPED) };
}

/// The scope id a block allocated now on this thread belongs to: the innermost scope, or
/// [`SELF_SCOPE`] inside leakscope's own code.
#[inline]
pub(crate) fn owner() -> u32 {
    OWNER.try_with(Cell::get).unwrap_or(UNSCOPED)
}

/// Makes `id` the calling thread's owner and returns the previous one.
#[inline]
pub(crate) fn swap_owner(id: u32) -> u32 {
    OWNER.try_with(|c| c.replace(id)).unwrap_or(UNSCOPED)
}

/// Whether the calling thread is inside leakscope's own code.
#[inline]
pub(crate) fn is_busy() -> bool {
    owner() == SELF_SCOPE
}

/// Marks the calling thread as running leakscope's own code until dropped.
///
/// Guards nest: dropping restores the previous owner, so an inner guard does not undo an outer
/// one. The owner is restored in `Drop`, also when a panic unwinds through the guard.
#[must_use = "the thread is untracked only while the guard lives"]
pub(crate) struct Untracked {
    previous: u32,
}

impl Untracked {
    /// Makes leakscope the calling thread's owner.
    #[inline]
    pub(crate) fn enter() -> Self {
        Untracked {
            previous: swap_owner(SELF_SCOPE),
        }
    }

    /// The thread's owner before this guard: whose allocation leakscope's work is serving.
    #[inline]
    pub(crate) fn previous(&self) -> u32 {
        self.previous
    }
}

impl Drop for Untracked {
    #[inline]
    fn drop(&mut self) {
        swap_owner(self.previous);
    }
}

/// The opposite of [`Untracked`]: while alive, the calling thread's allocations are the
/// program's again. The collector runs the program's `on_leak` hooks under it, so what a hook
/// allocates is charged like any other program memory.
#[must_use = "the thread is tracked only while the guard lives"]
pub(crate) struct Tracked {
    previous: u32,
}

impl Tracked {
    /// Makes `unscoped` the calling thread's owner.
    pub(crate) fn enter() -> Self {
        Tracked {
            previous: swap_owner(UNSCOPED),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        swap_owner(self.previous);
    }
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
