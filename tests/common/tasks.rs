//! The async workload the future and span tests share: a task that fills a vector step by step
//! on a tokio runtime, yielding between steps and recording which thread ran each step, and the
//! exact bytes it allocates. Included with `#[path = "common/tasks.rs"] mod tasks;`.

use std::hint::black_box;
use std::mem::size_of;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;
use std::task::Poll;

use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// Steps of one [`fill`]: a vector for `STEPS` bodies, then one body of `BODY + step` bytes per
/// step.
pub const STEPS: usize = 40;
pub const BODY: usize = 1000;

/// Returns `Pending` once after waking itself, so the executor reschedules the task (and a
/// multi-thread runtime may hand it to another worker). Unlike `tokio::task::yield_now` it
/// allocates nothing, so the scope's counts are the test's allocations alone.
pub async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

static NEXT_THREAD: AtomicU32 = AtomicU32::new(1);
thread_local! {
    /// A small id per thread; reading it allocates nothing.
    static THREAD: u32 = NEXT_THREAD.fetch_add(1, Relaxed);
}

/// This thread's small id.
pub fn thread_no() -> u32 {
    THREAD.with(|t| *t)
}

pub fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

pub fn multi_thread(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .build()
        .unwrap()
}

/// Where each step of a [`fill`] ran: not yet.
pub fn unseen() -> Vec<AtomicU32> {
    (0..STEPS).map(|_| AtomicU32::new(0)).collect()
}

/// The workload: records the thread of each step in `threads`.
pub async fn fill(threads: &[AtomicU32]) -> Vec<Vec<u8>> {
    let mut held = Vec::with_capacity(STEPS);
    for (step, seen) in threads.iter().enumerate().take(STEPS) {
        seen.store(thread_no(), Relaxed);
        held.push(black_box(vec![1u8; BODY + step]));
        yield_once().await;
    }
    held
}

/// The bytes one [`fill`] holds when done.
pub fn bytes_of_one_fill() -> u64 {
    (STEPS * size_of::<Vec<u8>>()) as u64 + (0..STEPS as u64).map(|s| BODY as u64 + s).sum::<u64>()
}

/// Runs `tasks` fills at a time on a fresh 4-worker runtime, each spawned by `spawn(runtime,
/// task, seen)` (which wraps `fill(&seen[task])` as the test needs), until some task ran on two
/// threads: work stealing decides where a task resumes, and a round in which no task changed
/// threads proves nothing. Panics after 200 rounds without a migration (a round takes about a
/// millisecond; on a loaded two-core machine 20 rounds once went by without one). Returns the
/// rounds run and every fill's result, kept alive for the caller's counts.
pub fn fill_on_migrating_tasks(
    tasks: usize,
    spawn: impl Fn(&Runtime, usize, Arc<Vec<Vec<AtomicU32>>>) -> JoinHandle<Vec<Vec<u8>>>,
) -> (u64, Vec<Vec<Vec<u8>>>) {
    let mut migrated_tasks = 0;
    let mut rounds = 0u64;
    let mut kept = Vec::new();
    while migrated_tasks == 0 && rounds < 200 {
        rounds += 1;
        let rt = multi_thread(4);
        let seen: Arc<Vec<Vec<AtomicU32>>> = Arc::new((0..tasks).map(|_| unseen()).collect());
        let handles: Vec<_> = (0..tasks).map(|t| spawn(&rt, t, seen.clone())).collect();
        for h in handles {
            kept.push(rt.block_on(h).unwrap());
        }
        // Dropping the runtime joins its workers, whose exit sends their counts.
        drop(rt);
        migrated_tasks = seen
            .iter()
            .filter(|steps| {
                let first = steps[0].load(Relaxed);
                steps.iter().any(|t| t.load(Relaxed) != first)
            })
            .count();
    }
    assert!(
        migrated_tasks > 0,
        "no task changed worker threads in {rounds} rounds"
    );
    (rounds, kept)
}
