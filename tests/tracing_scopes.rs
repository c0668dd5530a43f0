//! Scopes tied to tracing spans (`spans::ScopeLayer`, feature `tracing`): futures instrumented
//! with a span are charged exactly to the span's scope when tasks migrate between tokio's
//! workers and when they interleave on one thread, and when they are dropped before
//! completion; blocks in a span too; spans nest with guards and `Scoped` futures, and a panic
//! inside a span gives the thread its scope back.
//!
//! `cargo test --features tracing --test tracing_scopes`

use std::hint::black_box;
use std::sync::{Mutex, Once};

use leakscope::live::stats_by_name;
use leakscope::tasks::InScope;
use leakscope::tasks::ScopeLayer;
use leakscope::{flush, stats, Scope};
use tracing::{info_span, Instrument};
use tracing_subscriber::layer::SubscriberExt;

#[path = "common/tasks.rs"]
mod tasks;
use tasks::{bytes_of_one_fill, fill, fill_on_migrating_tasks, unseen, STEPS};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

/// Spans called "render" are in this scope (the layer's name mapping).
static RENDER: Scope = Scope::new("span_render");

/// One subscriber for the whole process, so tokio's worker threads see it too.
fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber =
            tracing_subscriber::registry().with(ScopeLayer::new().span("render", &RENDER));
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// Creates, enters and closes a span on this thread, outside every scope: the registry's
/// per-thread tables (its slab shard, its span stack) are allocated when a thread first uses
/// them, and belong to whatever scope is current then. Tests that create spans inside a scope
/// warm their thread first, so the scope's counts are the test's own.
fn warm_this_thread() {
    let span = info_span!("warm");
    span.in_scope(|| info_span!("warm_inner").in_scope(|| ()));
    drop(span);
}

#[test]
fn instrumented_futures_migrating_between_workers_are_charged_exactly() {
    install();
    const TASKS: usize = 64;
    let (rounds, kept) = fill_on_migrating_tasks(TASKS, |rt, t, seen| {
        let span = info_span!("fill", leakscope.scope = "span_multi_thread", task = t);
        rt.spawn(async move { fill(&seen[t]).await }.instrument(span))
    });
    flush();
    let s = stats_by_name("span_multi_thread").unwrap();
    let tasks = rounds * TASKS as u64;
    assert_eq!(s.total_allocs, tasks * (1 + STEPS as u64));
    assert_eq!(s.total_frees, 0);
    assert_eq!(s.curr_bytes, tasks * bytes_of_one_fill());
    drop(kept);
    flush();
    let s = stats_by_name("span_multi_thread").unwrap();
    assert_eq!((s.curr_bytes, s.curr_blocks), (0, 0));
}

#[test]
fn spans_interleaved_on_one_thread_keep_their_scopes_apart() {
    install();
    let rt = tasks::current_thread();
    let (seen_a, seen_b) = (unseen(), unseen());
    let (a, b) = rt.block_on(async {
        tokio::join!(
            fill(&seen_a).instrument(info_span!("a", leakscope.scope = "span_current_a")),
            // By name: spans called "render" are RENDER's.
            fill(&seen_b).instrument(info_span!("render")),
        )
    });
    flush();
    for s in [stats_by_name("span_current_a").unwrap(), stats(&RENDER)] {
        assert_eq!(s.total_allocs, 1 + STEPS as u64);
        assert_eq!(s.curr_bytes, bytes_of_one_fill());
    }
    drop((a, b));
}

/// Parks what its drop allocates, so the test can see whose it is.
static PARKED: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

struct AllocatesOnDrop;

impl Drop for AllocatesOnDrop {
    fn drop(&mut self) {
        let v = vec![0u8; 300];
        PARKED.lock().unwrap().push(v);
    }
}

#[test]
fn an_instrumented_future_dropped_early_is_dropped_in_its_scope() {
    install();
    PARKED.lock().unwrap().reserve(16); // the parking vector's table is not the scope's
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::sync_channel::<()>(1);
    let task = rt.spawn(
        async move {
            let state = black_box(vec![0u8; 5000]);
            let _on_drop = AllocatesOnDrop;
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await;
            drop(state);
        }
        .instrument(info_span!("early", leakscope.scope = "span_dropped_early")),
    );
    started_rx.recv().unwrap();
    task.abort();
    assert!(rt.block_on(task).unwrap_err().is_cancelled());
    drop(rt);
    flush();
    let s = stats_by_name("span_dropped_early").unwrap();
    assert_eq!(s.total_allocs, 2);
    assert_eq!(s.total_bytes_allocated, 5300);
    assert_eq!((s.curr_bytes, s.curr_blocks), (300, 1));
    PARKED.lock().unwrap().clear();
}

#[test]
fn spans_nest_with_guards_and_scoped_futures() {
    install();
    warm_this_thread();
    static OUTER: Scope = Scope::new("span_nest_outer");
    static WRAPPED: Scope = Scope::new("span_nest_wrapped");
    let (outer, plain, inner, after) = OUTER.in_scope(|| {
        // A span without a scope changes nothing: OUTER's.
        let plain = info_span!("plain").in_scope(|| black_box(vec![0u8; 10]));
        // A field overrides the name mapping: not RENDER's.
        let inner = info_span!("render", leakscope.scope = "span_nest_inner")
            .in_scope(|| black_box(vec![0u8; 20]));
        let after = black_box(vec![0u8; 30]); // back in OUTER
        (black_box(vec![0u8; 40]), plain, inner, after)
    });
    flush();
    assert_eq!(stats(&OUTER).curr_bytes, 10 + 30 + 40);
    assert_eq!(stats_by_name("span_nest_inner").unwrap().curr_bytes, 20);
    drop((outer, plain, inner, after));

    // A scoped span inside a Scoped future wins while entered; the wrapper's scope around it.
    let rt = tasks::current_thread();
    let (a, b) = rt.block_on(
        async {
            let a = async { black_box(vec![0u8; 50]) }
                .instrument(info_span!("x", leakscope.scope = "span_nest_in_wrapped"))
                .await;
            let b = black_box(vec![0u8; 60]);
            (a, b)
        }
        .in_scope(&WRAPPED),
    );
    flush();
    assert_eq!(
        stats_by_name("span_nest_in_wrapped").unwrap().curr_bytes,
        50
    );
    assert_eq!(stats(&WRAPPED).curr_bytes, 60);
    drop((a, b));
}

#[test]
fn a_panic_inside_a_span_gives_the_thread_its_scope_back() {
    install();
    warm_this_thread();
    static AFTER: Scope = Scope::new("span_after_panic");
    let kept = AFTER.in_scope(|| {
        let caught = std::panic::catch_unwind(|| {
            info_span!("p", leakscope.scope = "span_panics").in_scope(|| {
                let _held = black_box(vec![0u8; 100]);
                // No hook, a `()` payload: the unwinder's exception object is the only other
                // allocation.
                std::panic::resume_unwind(Box::new(()));
            })
        });
        assert!(caught.is_err());
        black_box(vec![0u8; 777])
    });
    flush();
    let s = stats_by_name("span_panics").unwrap();
    assert_eq!((s.total_allocs, s.curr_bytes), (2, 0));
    let a = stats(&AFTER);
    assert_eq!((a.total_allocs, a.curr_bytes), (1, 777));
    drop(kept);
}
