//! The running collector: the one process-wide instance, its thread, [`Handle`], `start`, and
//! what a fork and an exit do to it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::clock::{Clock, SystemClock};
use super::hooks::{run_hooks, Hook, HOOKS};
use super::lock;
use super::worker::{Collector, DRAIN_PERIOD};
use crate::config::Config;
use crate::detect::LeakEvent;
use crate::error::{Error, ErrorKind};
use crate::os::{self, ForkHandlers, ForkLayer};
use crate::reentry::Untracked;
use crate::{registry, sampler};

/// What the running collector shares with the program's threads.
struct Shared {
    collector: Mutex<Collector>,
}

/// The running collector, if any.
static ACTIVE: Mutex<Option<Arc<Shared>>> = Mutex::new(None);

fn active() -> Result<Arc<Shared>, Error> {
    fork_safe();
    let _untracked = Untracked::enter();
    lock(&ACTIVE).clone().ok_or_else(|| {
        Error::new(
            ErrorKind::NotStarted,
            "no collector is running: call leakscope::start first",
        )
    })
}

/// Runs `f` on the running collector.
pub(crate) fn with_collector<T>(f: impl FnOnce(&mut Collector) -> T) -> Result<T, Error> {
    let shared = active()?;
    let _untracked = Untracked::enter();
    let mut c = lock(&shared.collector);
    Ok(f(&mut c))
}

/// The running collector: stops it and writes a final dump when dropped (or on
/// [`shutdown`](Handle::shutdown)).
#[must_use = "dropping the handle stops the collector at once"]
pub struct Handle {
    shared: Arc<Shared>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    stopped: bool,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("thread", &self.thread.is_some())
            .finish()
    }
}

/// The locks a fork must not copy while another thread holds them, held by the forking thread
/// from the `prepare` handler to the `parent`/`child` handler (the registry holds its own).
struct ForkLocks {
    active: MutexGuard<'static, Option<Arc<Shared>>>,
    _hooks: MutexGuard<'static, Vec<Hook>>,
}

thread_local! {
    static FORK_LOCKS: std::cell::RefCell<Option<ForkLocks>> = const { std::cell::RefCell::new(None) };
}

/// Before `fork`: takes the collector's locks in the crate's one order (collector, hooks; the
/// registry's handler then takes the registry's).
fn hold_locks_for_fork() {
    let _untracked = Untracked::enter();
    let locks = ForkLocks {
        active: lock(&ACTIVE),
        _hooks: lock(&HOOKS),
    };
    let _ = FORK_LOCKS.try_with(|l| *l.borrow_mut() = Some(locks));
}

/// After `fork`, in the parent or the child: releases the locks. The child has no collector
/// thread, so it forgets the parent's collector and starts without one.
fn release_locks_after_fork(in_child: bool) {
    let _untracked = Untracked::enter();
    let Ok(Some(mut locks)) = FORK_LOCKS.try_with(|l| l.borrow_mut().take()) else {
        return;
    };
    if in_child {
        // Not dropped: its collector's mutex may have been locked by a thread that is gone.
        std::mem::forget(locks.active.take());
        sampler::configure(0, 1);
    }
}

/// Registers the collector's fork handlers; called before any of its locks is taken, so no
/// fork can copy one of them held. Cheap after the first call.
pub(super) fn fork_safe() {
    os::on_fork(
        ForkLayer::Collector,
        ForkHandlers {
            prepare: hold_locks_for_fork,
            parent: || release_locks_after_fork(false),
            child: || release_locks_after_fork(true),
        },
    );
}

/// At `exit`: the final dump of a collector whose handle was never dropped.
fn final_dump_at_exit() {
    let _untracked = Untracked::enter();
    let Some(shared) = lock(&ACTIVE).clone() else {
        return;
    };
    let mut c = lock(&shared.collector);
    let now = c.clock.now();
    c.snapshot_and_detect(now);
    let (dumped, prometheus) = c.write_files();
    if let Err(e) = dumped.and(prometheus) {
        eprintln!("leakscope: final dump at exit failed: {e}");
    }
}

/// Starts the collector thread with `config`.
pub(crate) fn start(config: Config) -> Result<Handle, Error> {
    start_with(config, Arc::new(SystemClock::new()), true)
}

/// Starts a collector reading `clock`; with `thread == false` nothing runs in the background
/// and the caller drives it with [`Handle::tick`] (tests).
pub(crate) fn start_with(
    config: Config,
    clock: Arc<dyn Clock>,
    thread: bool,
) -> Result<Handle, Error> {
    config.validate()?;
    fork_safe();
    let _untracked = Untracked::enter();
    let mut active = lock(&ACTIVE);
    if active.is_some() {
        return Err(Error::new(
            ErrorKind::AlreadyStarted,
            "leakscope::start was called while a collector is running; drop its handle first",
        ));
    }
    // The collector, its detectors and its dumps see one sampling knob.
    let config = config.normalized();
    sampler::configure(config.sample_interval_bytes, config.max_frames);
    registry::keep_symbols(config.keep_symbol_cache);
    os::on_exit(final_dump_at_exit);
    let shared = Arc::new(Shared {
        collector: Mutex::new(Collector::new(config, clock)),
    });
    let (stop, thread) = if thread {
        let (tx, rx) = crossbeam_channel::bounded::<()>(1);
        let for_thread = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("leakscope-collector".into())
            .spawn(move || run(&for_thread, &rx))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io {
                        path: Default::default(),
                    },
                    format!("cannot start the collector thread: {e}"),
                )
            })?;
        (Some(tx), Some(handle))
    } else {
        (None, None)
    };
    *active = Some(Arc::clone(&shared));
    Ok(Handle {
        shared,
        stop,
        thread,
        stopped: false,
    })
}

/// The collector thread's loop.
fn run(shared: &Shared, stop: &Receiver<()>) {
    let _untracked = Untracked::enter();
    loop {
        match stop.recv_timeout(DRAIN_PERIOD) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let events = lock(&shared.collector).tick();
        run_hooks(&events);
    }
}

impl Handle {
    /// Stops the collector and writes the final dump, returning its error if it failed (it is
    /// then not also reported on stderr).
    pub fn shutdown(mut self) -> Result<(), Error> {
        self.stop_and_dump()
    }

    /// Runs whatever is due now on the calling thread, hooks included (for tests driving a
    /// collector started without a thread).
    #[doc(hidden)]
    pub fn tick(&self) -> Vec<LeakEvent> {
        let events = lock(&self.shared.collector).tick();
        run_hooks(&events);
        events
    }

    fn stop_and_dump(&mut self) -> Result<(), Error> {
        // The stopping thread's own pending counts belong in the final dump.
        registry::flush_thread();
        let _untracked = Untracked::enter();
        self.stopped = true;
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let result = {
            let mut c = lock(&self.shared.collector);
            let now = c.clock.now();
            let events = c.snapshot_and_detect(now);
            drop(c);
            run_hooks(&events);
            let (dumped, prometheus) = lock(&self.shared.collector).write_files();
            dumped.and(prometheus)
        };
        let mut active = lock(&ACTIVE);
        if active
            .as_ref()
            .is_some_and(|a| Arc::ptr_eq(a, &self.shared))
        {
            *active = None;
            sampler::configure(0, 1);
        }
        result
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.stopped {
            return;
        }
        if let Err(e) = self.stop_and_dump() {
            eprintln!("leakscope: final dump failed: {e}");
        }
    }
}
