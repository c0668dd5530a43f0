//! What leakscope does when the process forks or exits: a leaf that registers the handlers the
//! registry and the collector hand it, and knows nothing of either.
//!
//! **fork.** Only the forking thread survives in the child, so a lock another thread held at the
//! fork would stay locked there forever. Around `fork` each lock holder (the collector for the
//! running instance and the hooks, the registry for its table) holds its own locks, so the child
//! starts with all of them free. The holders take them in the crate's one lock order, collector
//! before registry ([`ForkLayer`]). The child keeps counting: the allocation path takes no lock.
//! Its collector thread did not survive, so the child starts with no collector: `stats` and
//! `flush` work, and it may call `start` with a dump path of its own. A thread of the parent
//! caught in the middle of a channel send would leave the child a reserved slot that no thread of
//! the child ever fills, and the child's first drain would wait on it forever; so the last
//! prepare handler closes the channels' fork gate and waits for the sends in flight to finish
//! (src/channel.rs), and the child starts with no send half done. tests/fork_stress.rs forks
//! thousands of times under allocating threads to check it.
//!
//! **exit.** `std::process::exit` runs no destructor, so a collector's `Handle` is never dropped.
//! An `atexit` handler, registered by `start`, writes the final dump of a collector still running
//! at exit; a failure is reported on stderr.

use std::sync::{Once, OnceLock};

/// Whose locks a set of fork handlers holds. Prepare handlers run in this order (the order in
/// which the crate takes its locks), parent and child handlers in the reverse.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ForkLayer {
    /// The running collector and the `on_leak` hooks.
    Collector = 0,
    /// The registry (taken by the collector while it holds its own lock).
    Registry = 1,
    /// The channels' fork gate (src/channel.rs): closed last, once no lock holder can send.
    Channels = 2,
}

/// What a lock holder does around `fork`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ForkHandlers {
    /// Before `fork`, in the forking thread: take the locks.
    pub prepare: fn(),
    /// After `fork`, in the parent: release them.
    pub parent: fn(),
    /// After `fork`, in the child: release them and forget what did not survive.
    pub child: fn(),
}

static FORK: [OnceLock<ForkHandlers>; 3] = [const { OnceLock::new() }; 3];
static EXIT: OnceLock<fn()> = OnceLock::new();

/// Runs `handlers` around every later `fork`. The first registration of a layer counts; later
/// ones are ignored, so callers may register on every use. Takes no lock of leakscope's.
pub(crate) fn on_fork(layer: ForkLayer, handlers: ForkHandlers) {
    if FORK[layer as usize].set(handlers).is_err() {
        return;
    }
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: the three handlers are `extern "C"` functions with no arguments that live for
        // the whole program; pthread_atfork only records them.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    });
}

/// Runs `handler` at `exit`. The first registration counts.
pub(crate) fn on_exit(handler: fn()) {
    if EXIT.set(handler).is_err() {
        return;
    }
    // SAFETY: `at_exit` is an `extern "C"` function with no arguments that lives for the whole
    // program; atexit only records it. Reached once: only the first `set` gets here.
    unsafe { libc::atexit(at_exit) };
}

fn registered() -> impl DoubleEndedIterator<Item = &'static ForkHandlers> {
    FORK.iter().filter_map(OnceLock::get)
}

extern "C" fn prepare() {
    registered().for_each(|h| (h.prepare)());
}

extern "C" fn parent() {
    registered().rev().for_each(|h| (h.parent)());
}

extern "C" fn child() {
    registered().rev().for_each(|h| (h.child)());
}

extern "C" fn at_exit() {
    if let Some(handler) = EXIT.get() {
        handler();
    }
}
