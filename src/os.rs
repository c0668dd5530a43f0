//! What leakscope does when the process forks or exits.
//!
//! **fork.** Only the forking thread survives in the child, so a lock another thread held at the
//! fork would stay locked there forever. Around `fork` leakscope holds its own locks (the running
//! collector, the hooks, the registry), so the child starts with all of them free. The child
//! keeps counting: the allocation path takes no lock. Its collector thread did not survive, so
//! the child starts with no collector: `stats` and `flush` work, and it may call `start` with a
//! dump path of its own. (One window remains: a thread of the parent caught in the middle of a
//! channel send leaves a slot the child's drain waits on. A send takes well under a microsecond
//! once per 1,024 events, so this is rare; it is the reason to prefer `exec` after `fork`.)
//!
//! **exit.** `std::process::exit` runs no destructor, so a collector's `Handle` is never dropped.
//! An `atexit` handler, registered by `start`, writes the final dump of a collector still running
//! at exit; a failure is reported on stderr.

use std::sync::Once;

use crate::collector::runtime;
use crate::registry;

/// Registers the fork handlers, once per process.
pub(crate) fn install_fork_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the three handlers are `extern "C"` functions with no arguments that live for
        // the whole program; pthread_atfork only records them.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    });
}

/// Registers the exit handler, once per process.
pub(crate) fn install_exit_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: `at_exit` is an `extern "C"` function with no arguments that lives for the
        // whole program; atexit only records it.
        unsafe { libc::atexit(at_exit) };
    });
}

extern "C" fn prepare() {
    runtime::hold_locks_for_fork(registry::hold_lock_for_fork);
}

extern "C" fn parent() {
    runtime::release_locks_after_fork(false);
}

extern "C" fn child() {
    runtime::release_locks_after_fork(true);
}

extern "C" fn at_exit() {
    runtime::final_dump_at_exit();
}
