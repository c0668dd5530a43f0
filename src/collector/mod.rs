//! The background collector: its state and work (`worker`), dump assembly (`assemble`), the
//! `on_leak` hooks (`hooks`), the running instance with `start`, fork and exit (`runtime`), and
//! its building blocks: the clock and what it reads about the process from the operating system.
//! The bounded per-scope history it keeps is `crate::history`, shared with the offline replay.
//!
//! The building blocks do not touch the allocator: they run on the collector thread (under the
//! re-entrancy guard, so their own allocations are not user memory) and are tested on their own.

use std::sync::{Mutex, MutexGuard, PoisonError};

pub(crate) mod assemble;
pub mod clock;
pub(crate) mod hooks;
pub(crate) mod pressure;
pub mod process;
pub(crate) mod runtime;
pub mod worker;

/// Locks `m`, going on with the data of a poisoned lock: a hook that panicked must not stop the
/// collector.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
