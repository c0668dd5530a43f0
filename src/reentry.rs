//! The re-entrancy guard: nothing leakscope does is tracked as user memory.
//!
//! While a thread runs leakscope's own code (a batch flush, the collector, a registry update),
//! its `BUSY` flag is set. The allocator shim then charges any allocation to leakscope's own
//! scope through global atomics and touches no other per-thread state, so the tracker can
//! allocate freely without recursing into itself. This is dhat's `IgnoreAllocs`, kept in a
//! const-initialised thread-local without a destructor so that it is readable at every point of
//! a thread's life, thread-local teardown included.

use std::cell::Cell;

thread_local! {
    static BUSY: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is inside leakscope's own code.
///
/// A thread whose thread-locals are gone counts as busy: the shim then takes its slowest, most
/// conservative path.
#[inline]
pub(crate) fn is_busy() -> bool {
    BUSY.try_with(Cell::get).unwrap_or(true)
}

/// Marks the calling thread as running leakscope's own code until dropped.
///
/// Guards nest: dropping restores the previous state, so an inner guard does not clear the flag
/// an outer one set. The flag is reset in `Drop`, also when a panic unwinds through the guard.
#[must_use = "the thread is untracked only while the guard lives"]
pub(crate) struct Untracked {
    was_busy: bool,
}

impl Untracked {
    /// Sets the flag for the calling thread.
    #[inline]
    pub(crate) fn enter() -> Self {
        Untracked {
            was_busy: BUSY.try_with(|b| b.replace(true)).unwrap_or(true),
        }
    }
}

impl Drop for Untracked {
    #[inline]
    fn drop(&mut self) {
        let _ = BUSY.try_with(|b| b.set(self.was_busy));
    }
}

/// The opposite of [`Untracked`]: while alive, the calling thread's allocations are the
/// program's again. The collector runs the program's `on_leak` hooks under it, so what a hook
/// allocates is charged like any other program memory.
#[must_use = "the thread is tracked only while the guard lives"]
pub(crate) struct Tracked {
    was_busy: bool,
}

impl Tracked {
    /// Clears the flag for the calling thread.
    pub(crate) fn enter() -> Self {
        Tracked {
            was_busy: BUSY.try_with(|b| b.replace(false)).unwrap_or(true),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let _ = BUSY.try_with(|b| b.set(self.was_busy));
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
