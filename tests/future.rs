//! Scoped futures on real runtimes: exact counts when tasks migrate between tokio's worker
//! threads, on a `current_thread` runtime and in a `LocalSet` (where a guard held across an
//! `.await` compiles and charges another task's memory), for a future dropped before it
//! completes, and for a poll that panics.

use std::cell::Cell;
use std::future::Future;
use std::hint::black_box;
use std::marker::PhantomPinned;
use std::mem::{align_of, size_of};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::AtomicU32;
use std::sync::Mutex;
use std::task::{Context, Poll};

use leakscope::tasks::{InScope, Scoped};
use leakscope::{flush, stats, Scope};

#[path = "common/tasks.rs"]
mod tasks;
use tasks::{
    bytes_of_one_fill, current_thread, fill, fill_on_migrating_tasks, multi_thread, unseen,
    yield_once, STEPS,
};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

#[test]
fn multi_thread_runtime_migrating_tasks_are_charged_exactly() {
    static S: Scope = Scope::new("fut_multi_thread");
    const TASKS: usize = 64;
    let (rounds, kept) = fill_on_migrating_tasks(TASKS, |rt, t, seen| {
        rt.spawn(async move { fill(&seen[t]).await }.in_scope(&S))
    });
    flush();
    let s = stats(&S);
    let tasks = rounds * TASKS as u64;
    assert_eq!(s.total_allocs, tasks * (1 + STEPS as u64));
    assert_eq!(s.total_frees, 0);
    assert_eq!(s.curr_bytes, tasks * bytes_of_one_fill());
    drop(kept);
    flush();
    let s = stats(&S);
    assert_eq!((s.curr_bytes, s.curr_blocks), (0, 0));
}

#[test]
fn current_thread_runtime_interleaved_tasks_are_charged_exactly() {
    static A: Scope = Scope::new("fut_current_a");
    static B: Scope = Scope::new("fut_current_b");
    let rt = current_thread();
    let (seen_a, seen_b) = (unseen(), unseen());
    // Both tasks take turns on the one thread, step by step.
    let (a, b) =
        rt.block_on(async { tokio::join!(fill(&seen_a).in_scope(&A), fill(&seen_b).in_scope(&B)) });
    flush();
    for s in [stats(&A), stats(&B)] {
        assert_eq!(s.total_allocs, 1 + STEPS as u64);
        assert_eq!(s.curr_bytes, bytes_of_one_fill());
    }
    drop((a, b));
}

/// What the local task keeps: two 100-byte halves.
type TwoHalves = (Vec<u8>, Vec<u8>);

/// Allocates `BIG` bytes and keeps them: another task's memory.
const BIG: usize = 1 << 20;

#[test]
fn local_set_guard_across_await_is_the_trap_and_the_wrapper_is_exact() {
    static TRAP: Scope = Scope::new("fut_local_guard_across_await");
    static RIGHT: Scope = Scope::new("fut_local_in_scope");
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    // Runs `mine` (200 bytes in two halves with a yield between) as a local task beside another
    // that allocates `BIG` bytes while `mine` waits, and returns both tasks' memory.
    let beside_big = |mine: Pin<Box<dyn Future<Output = TwoHalves>>>| {
        local.block_on(&rt, async move {
            let me = tokio::task::spawn_local(mine);
            let them = tokio::task::spawn_local(async { vec![0u8; BIG] });
            (me.await.unwrap(), them.await.unwrap())
        })
    };

    // The mistake: a guard held across `.await`. It compiles here (spawn_local needs no
    // `Send`), and while the task waits the thread still runs in TRAP, so the other task's
    // 1 MiB is charged to TRAP.
    // The repository's clippy.toml flags this guard; the allow is the proof that it does.
    #[allow(clippy::await_holding_invalid_type)]
    let kept = beside_big(Box::pin(async {
        let _g = TRAP.enter();
        let first = vec![0u8; 100];
        yield_once().await;
        (first, vec![0u8; 100])
    }));
    flush();
    assert!(
        stats(&TRAP).curr_bytes >= (BIG + 200) as u64,
        "the other task's 1 MiB is charged to the guard's scope: {:?}",
        stats(&TRAP)
    );
    drop(kept);

    // The right way: the future is scoped, so only its own polls run in RIGHT.
    let kept = beside_big(Box::pin(
        async {
            let first = vec![0u8; 100];
            yield_once().await;
            (first, vec![0u8; 100])
        }
        .in_scope(&RIGHT),
    ));
    flush();
    let s = stats(&RIGHT);
    assert_eq!((s.total_allocs, s.curr_bytes), (2, 200));
    drop(kept);
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
fn a_future_dropped_before_completion_is_dropped_in_its_scope() {
    static S: Scope = Scope::new("fut_dropped_early");
    PARKED.lock().unwrap().reserve(16); // the parking vector's own table is not the scope's
    let rt = multi_thread(2);
    // A bounded channel: its send allocates nothing (an unbounded one allocates its first block).
    let (started_tx, started_rx) = std::sync::mpsc::sync_channel::<()>(1);
    let task = rt.spawn(
        async move {
            let state = black_box(vec![0u8; 5000]);
            let _on_drop = AllocatesOnDrop;
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await;
            drop(state);
        }
        .in_scope(&S),
    );
    started_rx.recv().unwrap();
    task.abort(); // the runtime drops the future: its state is freed, its drop allocates
    assert!(rt.block_on(task).unwrap_err().is_cancelled());
    drop(rt);
    flush();
    let s = stats(&S);
    // Allocated in S: the 5,000-byte state, then 300 bytes by the drop, both while in S. The
    // state is freed; the drop's 300 bytes live on in PARKED.
    assert_eq!(s.total_allocs, 2);
    assert_eq!(s.total_bytes_allocated, 5300);
    assert_eq!((s.curr_bytes, s.curr_blocks), (300, 1));
    PARKED.lock().unwrap().clear();
}

#[test]
fn a_panicking_poll_restores_the_thread_scope() {
    static S: Scope = Scope::new("fut_panics");
    static AFTER: Scope = Scope::new("fut_after_panic");
    let rt = current_thread();
    let task = rt.spawn(
        async {
            let _held = black_box(vec![0u8; 100]);
            yield_once().await;
            // `resume_unwind` skips the panic hook and a `()` payload needs no allocation, so
            // S gets the vector above and the unwinder's exception object, both freed.
            std::panic::resume_unwind(Box::new(()));
        }
        .in_scope(&S),
    );
    // What unwinding itself allocates (the exception object), measured the same way.
    static UNWIND: Scope = Scope::new("fut_unwind_alone");
    let caught = UNWIND
        .in_scope(|| std::panic::catch_unwind(|| std::panic::resume_unwind(Box::new(()))).is_err());
    assert!(caught);
    flush();
    let unwind = stats(&UNWIND);
    assert_eq!((unwind.total_allocs, unwind.curr_bytes), (1, 0));
    let err = rt.block_on(task).unwrap_err();
    assert!(err.is_panic());
    // The same thread goes on: what it allocates now is not S's.
    let after = rt.block_on(async { AFTER.in_scope(|| black_box(vec![0u8; 777])) });
    flush();
    let s = stats(&S);
    assert_eq!(
        (s.total_allocs, s.total_bytes_allocated, s.curr_bytes),
        (2, 100 + unwind.total_bytes_allocated, 0)
    );
    assert_eq!(stats(&AFTER).curr_bytes, 777);
    drop(after);
}

#[test]
fn named_scopes_wrap_futures_like_static_ones() {
    let rt = multi_thread(2);
    let tenants = ["fut_tenant_1", "fut_tenant_2"];
    let bodies: Vec<Vec<u8>> = tenants
        .iter()
        .enumerate()
        .map(|(i, name)| {
            rt.block_on(async move { black_box(vec![0u8; 10 * (i + 1)]) }.in_scope_named(name))
        })
        .collect();
    drop(rt);
    flush();
    let got: Vec<u64> = tenants
        .iter()
        .map(|n| leakscope::live::stats_by_name(n).unwrap().curr_bytes)
        .collect();
    assert_eq!(got, vec![10, 20]);
    drop(bodies);
}

/// `impls!(T: Trait)`: whether `T` implements `Trait`, for concrete types, without a crate. An
/// inherent associated const applies only when the bound holds; otherwise the trait's default
/// is found.
macro_rules! impls {
    ($t:ty: $tr:ident) => {{
        struct Probe<T: ?Sized>(std::marker::PhantomData<T>);
        #[allow(dead_code)]
        trait Fallback {
            const YES: bool = false;
        }
        impl<T: ?Sized> Fallback for Probe<T> {}
        #[allow(dead_code)]
        impl<T: ?Sized + $tr> Probe<T> {
            const YES: bool = true;
        }
        Probe::<$t>::YES
    }};
}

/// `Scoped<F>` is `Send`, `Sync` and `Unpin` exactly when `F` is.
macro_rules! same_auto_traits {
    ($f:ty) => {
        assert_eq!(impls!(Scoped<$f>: Send), impls!($f: Send), "Send");
        assert_eq!(impls!(Scoped<$f>: Sync), impls!($f: Sync), "Sync");
        assert_eq!(impls!(Scoped<$f>: Unpin), impls!($f: Unpin), "Unpin");
    };
}

/// A future that is `Send` but not `Sync`.
#[allow(dead_code)] // the field is there for its type
struct NotSync(Cell<u8>);
impl Future for NotSync {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

/// A future that is neither `Send` nor `Sync`.
#[allow(dead_code)] // the field is there for its type
struct NotSend(Rc<u8>);
impl Future for NotSend {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

/// A future that is not `Unpin`.
struct NotUnpin(PhantomPinned);
impl Future for NotUnpin {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

#[test]
fn auto_traits_follow_the_inner_future() {
    assert!(impls!(std::future::Ready<u8>: Send) && impls!(std::future::Ready<u8>: Unpin));
    same_auto_traits!(std::future::Ready<u8>);
    assert!(impls!(NotSync: Send) && !impls!(NotSync: Sync));
    same_auto_traits!(NotSync);
    assert!(!impls!(NotSend: Send));
    same_auto_traits!(NotSend);
    assert!(!impls!(NotUnpin: Unpin));
    same_auto_traits!(NotUnpin);
}

/// The size the wrapper must have: the inner future, then a `u32`, rounded to the alignment.
fn expected_size<F>() -> usize {
    let align = align_of::<F>().max(align_of::<u32>());
    (size_of::<F>() + size_of::<u32>()).div_ceil(align) * align
}

macro_rules! size_is_inner_plus_an_id {
    ($f:ty) => {
        assert_eq!(size_of::<Scoped<$f>>(), expected_size::<$f>());
        assert!(size_of::<Scoped<$f>>() <= size_of::<$f>() + size_of::<usize>());
    };
}

#[test]
fn size_is_the_inner_future_plus_one_id() {
    size_is_inner_plus_an_id!(std::future::Ready<()>);
    size_is_inner_plus_an_id!(std::future::Ready<u8>);
    size_is_inner_plus_an_id!(std::future::Ready<u64>);
    size_is_inner_plus_an_id!(std::future::Ready<[u8; 4096]>);
    size_is_inner_plus_an_id!(NotSend);
    size_is_inner_plus_an_id!(NotUnpin);
    // An async fn's state machine.
    fn size_of_val_is_inner_plus_an_id<F: Future>(f: F) {
        assert_eq!(size_of::<Scoped<F>>(), expected_size::<F>());
        assert!(size_of::<Scoped<F>>() <= size_of::<F>() + size_of::<usize>());
        drop(f);
    }
    let seen: Vec<AtomicU32> = Vec::new();
    size_of_val_is_inner_plus_an_id(fill(&seen));
}
