//! Exact per-scope accounting through the real global allocator: ownership, realloc, alignment,
//! zeroing, nesting, unwinding, and an inner allocator that returns null.
//!
//! Each test uses scopes of its own, so the tests can run in parallel: other tests' allocations
//! land in other scopes or in `unscoped`, which no test here asserts on.

use std::alloc::{alloc, alloc_zeroed, dealloc, realloc, Layout};
use std::hint::black_box;

use leakscope::{flush, live::stats_by_name, stats, Scope, ScopeStats};

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

/// The stats of `scope` after flushing the calling thread.
fn flushed(scope: &Scope) -> ScopeStats {
    flush();
    stats(scope)
}

/// Asserts the four lifetime counters and the two live ones of a scope.
#[track_caller]
fn assert_counts(s: ScopeStats, allocs: u64, frees: u64, bytes_in: u64, bytes_out: u64) {
    assert_eq!(
        (
            s.total_allocs,
            s.total_frees,
            s.total_bytes_allocated,
            s.total_bytes_freed
        ),
        (allocs, frees, bytes_in, bytes_out),
        "{s:?}"
    );
    assert_eq!(s.curr_blocks, allocs - frees, "{s:?}");
    assert_eq!(s.curr_bytes, bytes_in - bytes_out, "{s:?}");
}

#[test]
fn allocations_in_a_scope_are_counted_exactly() {
    static S: Scope = Scope::new("acc_exact");
    let (a, b) = {
        let _g = S.enter();
        (
            black_box(Vec::<u8>::with_capacity(1000)),
            black_box(Box::new([7u64; 16])),
        )
    };
    let s = flushed(&S);
    assert_counts(s, 2, 0, 1000 + 128, 0);
    assert_eq!(s.max_bytes, 1128);
    drop(a);
    let s = flushed(&S);
    assert_counts(s, 2, 1, 1128, 1000);
    drop(b);
    let s = flushed(&S);
    assert_counts(s, 2, 2, 1128, 1128);
    assert_eq!(s.max_bytes, 1128, "max is a high-water mark");
}

#[test]
fn cross_thread_frees_outside_any_scope_return_the_scope_to_zero() {
    static S: Scope = Scope::new("acc_cross_thread");
    let blocks: Vec<Box<[u8]>> = {
        let _g = S.enter();
        (1..=100)
            .map(|n| vec![1u8; n * 3].into_boxed_slice())
            .collect()
    };
    // The outer Vec was allocated in the scope too: one block of 100 fat pointers.
    let expected_bytes: u64 = (1..=100u64).map(|n| n * 3).sum::<u64>() + 100 * 16;
    assert_counts(flushed(&S), 101, 0, expected_bytes, 0);

    std::thread::spawn(move || {
        assert!(leakscope::live::stats_by_name("acc_cross_thread").is_some());
        drop(blocks); // no scope is current on this thread
        flush();
    })
    .join()
    .unwrap();

    let s = flushed(&S);
    assert_counts(s, 101, 101, expected_bytes, expected_bytes);
    assert_eq!((s.curr_bytes, s.curr_blocks), (0, 0));
}

#[test]
fn frees_are_charged_to_the_owner_not_the_current_scope() {
    static OWNER: Scope = Scope::new("acc_owner");
    static OTHER: Scope = Scope::new("acc_other");
    let v = {
        let _g = OWNER.enter();
        black_box(vec![0u8; 4096])
    };
    {
        let _g = OTHER.enter();
        drop(v);
    }
    assert_counts(flushed(&OWNER), 1, 1, 4096, 4096);
    assert_counts(flushed(&OTHER), 0, 0, 0, 0);
}

#[test]
fn realloc_inside_a_scope_moves_the_block_to_that_scope() {
    static FIRST: Scope = Scope::new("acc_realloc_first");
    static SECOND: Scope = Scope::new("acc_realloc_second");
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: non-zero layout; the block is reallocated and freed with matching layouts below.
    unsafe {
        let p = {
            let _g = FIRST.enter();
            black_box(alloc(layout))
        };
        assert!(!p.is_null());
        let p = {
            let _g = SECOND.enter();
            black_box(realloc(p, layout, 300))
        };
        assert!(!p.is_null());
        assert_counts(flushed(&FIRST), 1, 1, 100, 100);
        assert_counts(flushed(&SECOND), 1, 0, 300, 0);
        dealloc(p, Layout::from_size_align(300, 8).unwrap());
    }
    assert_counts(flushed(&SECOND), 1, 1, 300, 300);
}

#[test]
fn realloc_outside_every_scope_keeps_the_owner() {
    static S: Scope = Scope::new("acc_realloc_keep");
    let mut v: Vec<u8> = {
        let _g = S.enter();
        Vec::with_capacity(10)
    };
    v.reserve_exact(1000); // unscoped here: a realloc from 10 to 1000 bytes that keeps the owner
    assert_eq!(v.capacity(), 1000);
    assert_counts(flushed(&S), 2, 1, 1010, 10);
    v.shrink_to(20);
    assert_counts(flushed(&S), 3, 2, 1030, 1010);
    drop(v);
    assert_counts(flushed(&S), 3, 3, 1030, 1030);
}

#[test]
fn alignments_up_to_4096_are_honoured_and_counted() {
    static S: Scope = Scope::new("acc_align");
    let mut total = 0;
    for shift in 0..=12 {
        let align = 1usize << shift;
        for size in [1, 3, align, align + 1, 5000] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: non-zero layout, freed with the same layout.
            unsafe {
                let p = {
                    let _g = S.enter();
                    black_box(alloc(layout))
                };
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0, "size {size} align {align}");
                p.write_bytes(0xAB, size); // the whole block is writable
                let p = black_box(realloc(p, layout, size * 2));
                assert_eq!(p as usize % align, 0, "realloc keeps alignment {align}");
                assert!(std::slice::from_raw_parts(p, size)
                    .iter()
                    .all(|&b| b == 0xAB));
                dealloc(p, Layout::from_size_align(size * 2, align).unwrap());
            }
            total += (size + size * 2) as u64;
        }
    }
    assert_counts(flushed(&S), 13 * 5 * 2, 13 * 5 * 2, total, total);
}

#[test]
fn alloc_zeroed_is_zeroed_and_its_owner_survives() {
    static S: Scope = Scope::new("acc_zeroed");
    for size in [1usize, 7, 64, 4095, 1 << 20] {
        let layout = Layout::from_size_align(size, 16).unwrap();
        // SAFETY: non-zero layout, freed with the same layout.
        unsafe {
            let p = {
                let _g = S.enter();
                black_box(alloc_zeroed(layout))
            };
            assert!(!p.is_null());
            assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
            dealloc(p, layout);
        }
    }
    // vec![0; n] takes the alloc_zeroed path too; this is docs/design.md §13's LTO miscompile shape.
    {
        let _g = S.enter();
        let v = black_box(vec![0u64; 512]);
        assert!(v.iter().all(|&x| x == 0));
    }
    let bytes = 1 + 7 + 64 + 4095 + (1 << 20) + 4096;
    assert_counts(flushed(&S), 6, 6, bytes, bytes);
}

#[test]
fn nested_scopes_innermost_wins() {
    static OUTER: Scope = Scope::new("acc_nest_outer");
    static INNER: Scope = Scope::new("acc_nest_inner");
    let (a, b, c, d);
    {
        let _o = OUTER.enter();
        a = black_box(Box::new(1u32));
        {
            let _i = INNER.enter();
            b = black_box(Box::new(2u32));
            let _by_name = leakscope::scope("acc_nest_outer");
            c = black_box(Box::new(3u32));
        }
        d = black_box(Box::new(4u32));
    }
    let e = black_box(Box::new(5u32)); // unscoped again
    assert_counts(flushed(&OUTER), 3, 0, 12, 0);
    assert_counts(flushed(&INNER), 1, 0, 4, 0);
    drop((a, b, c, d, e));
    assert_counts(flushed(&OUTER), 3, 3, 12, 12);
    assert_counts(flushed(&INNER), 1, 1, 4, 4);
}

#[test]
fn a_panic_inside_a_scope_restores_the_outer_scope() {
    static OUTER: Scope = Scope::new("acc_panic_outer");
    static INNER: Scope = Scope::new("acc_panic_inner");
    let _o = OUTER.enter();
    let r = std::panic::catch_unwind(|| {
        let _i = INNER.enter();
        panic!("boom");
    });
    assert!(r.is_err());
    let b = black_box(Box::new([0u8; 40]));
    assert_eq!(flushed(&OUTER).curr_bytes, 40);
    drop(b);
    assert_eq!(flushed(&OUTER).curr_bytes, 0);
}

#[test]
fn a_null_from_the_inner_allocator_counts_nothing() {
    static S: Scope = Scope::new("acc_null");
    let before = flushed(&S);
    let huge = Layout::from_size_align(isize::MAX as usize - 4095, 4096).unwrap();
    // SAFETY: non-zero layout; a null result is checked and nothing is freed.
    unsafe {
        let _g = S.enter();
        // black_box: an allocation whose result is only compared with null may be elided by
        // the optimizer, which then assumes it succeeded.
        assert!(black_box(alloc(huge)).is_null());
        assert!(black_box(alloc_zeroed(huge)).is_null());
        let p = black_box(alloc(Layout::from_size_align(8, 8).unwrap()));
        assert!(!p.is_null());
        assert!(black_box(realloc(
            p,
            Layout::from_size_align(8, 8).unwrap(),
            huge.size()
        ))
        .is_null());
        // The failed realloc left the block, its owner and its counts untouched.
        dealloc(p, Layout::from_size_align(8, 8).unwrap());
    }
    let after = flushed(&S);
    assert_counts(after, before.total_allocs + 1, before.total_frees + 1, 8, 8);
}

#[test]
fn scopes_by_name_share_counts_with_static_scopes() {
    static S: Scope = Scope::new("acc_by_name");
    let b = {
        let _g = leakscope::scope("acc_by_name");
        black_box(Box::new([0u8; 24]))
    };
    assert_eq!(flushed(&S).curr_bytes, 24);
    assert_eq!(stats_by_name("acc_by_name").unwrap().curr_bytes, 24);
    assert_eq!(stats_by_name("acc_never_used"), None);
    drop(b);
}

#[test]
fn leakscope_memory_is_not_charged_to_user_scopes() {
    static S: Scope = Scope::new("acc_self");
    let _g = S.enter();
    // Registering many scopes grows the registry: leakscope's memory, not S's.
    for i in 0..200 {
        drop(leakscope::scope(&format!("acc_self_{i}")));
    }
    let s = flushed(&S);
    // The format! strings were S's (allocated and freed here); nothing else.
    assert_eq!((s.curr_bytes, s.curr_blocks), (0, 0), "{s:?}");
    assert_eq!(s.total_allocs, 200);
    assert!(leakscope::live::tracker_stats().self_bytes > 0);
}

/// Names from outside the program must never reach a built-in scope: a scope named `leakscope`
/// is the program's, shown as `~leakscope`, and its memory is not leakscope's own.
#[test]
fn built_in_names_are_reserved() {
    let self_before = leakscope::live::tracker_stats().self_bytes;
    let kept = {
        let _g = leakscope::scope("leakscope");
        black_box(vec![0u8; 1 << 20])
    };
    let unscoped_kept = {
        let _g = leakscope::scope("unscoped");
        black_box(vec![0u8; 1000])
    };
    let tilde_kept = {
        let _g = leakscope::scope("~x");
        black_box(vec![0u8; 10])
    };
    flush();
    let own = leakscope::live::stats_by_name("~leakscope").expect("registered under ~leakscope");
    assert_eq!((own.curr_bytes, own.curr_blocks), (1 << 20, 1));
    // leakscope's own figures did not take the mebibyte (its own work may move them by a few
    // kilobytes: the registry's table grows by three names).
    let self_after = leakscope::live::tracker_stats().self_bytes;
    assert!(
        self_after < self_before + (1 << 16),
        "self bytes {self_before} -> {self_after}"
    );
    let user_unscoped = leakscope::live::stats_by_name("~unscoped").expect("registered");
    assert_eq!(user_unscoped.curr_bytes, 1000);
    assert_eq!(
        leakscope::live::stats_by_name("~~x").map(|s| s.curr_bytes),
        Some(10)
    );
    assert_eq!(
        leakscope::live::stats_by_name("~x"),
        None,
        "one name, one scope"
    );
    // A static scope with a built-in name is the same program scope.
    static NAMED_UNSCOPED: Scope = Scope::new("unscoped");
    assert_eq!(flushed(&NAMED_UNSCOPED).curr_bytes, 1000);
    // Frees inside it are the program's too, whatever the name.
    {
        let _g = leakscope::scope("leakscope");
        drop(kept);
    }
    drop(unscoped_kept);
    drop(tilde_kept);
    flush();
    let own = leakscope::live::stats_by_name("~leakscope").unwrap();
    assert_eq!((own.curr_bytes, own.total_frees), (0, 1));
}
