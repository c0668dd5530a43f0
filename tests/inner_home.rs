//! leakscope's own blocks live in `System`'s heap, never the inner allocator's; the program's
//! blocks, including what leakscope's queries hand it, live in the inner allocator's.
//!
//! `Counting` forwards to `System` and counts, per thread, the calls it serves, so a test sees
//! exactly which of its own thread's blocks reached the inner allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use leakscope::{flush, stats, Scope};

struct Counting;

thread_local! {
    /// Allocations and frees `Counting` served on this thread (reallocs count as both).
    static CALLS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn count(allocs: u64, frees: u64) {
    let _ = CALLS.try_with(|c| {
        let (a, f) = c.get();
        c.set((a + allocs, f + frees));
    });
}

fn calls() -> (u64, u64) {
    CALLS.with(Cell::get)
}

// SAFETY: every call forwards to `System` with the layout it was given; the counting touches a
// const thread-local without a destructor and allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(1, 0);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(0, 1);
        // SAFETY: forwarded contract: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(1, 1);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: leakscope::Alloc<Counting> = leakscope::Alloc::new(Counting);

#[test]
fn leakscope_memory_stays_out_of_the_inner_heap() {
    static HOME: Scope = Scope::new("home_scope");
    // leakscope's own work on this thread (registering a scope, the channel's first send, a
    // drain) allocates, and none of it reaches the inner allocator.
    let before = calls();
    {
        let _g = HOME.enter();
    }
    flush();
    assert!(leakscope::live::tracker_stats().self_bytes > 0);
    assert_eq!(calls(), before);

    // A program block does, exactly once each way, and is counted exactly.
    let before = calls();
    let block = {
        let _g = HOME.enter();
        black_box(vec![1u8; 100])
    };
    assert_eq!(calls(), (before.0 + 1, before.1));
    flush();
    let s = stats(&HOME);
    assert_eq!((s.curr_blocks, s.curr_bytes), (1, 100));
    drop(block);
    assert_eq!(calls(), (before.0 + 1, before.1 + 1));

    // What a query hands the program is the program's memory: the Vec and one String per scope,
    // from the inner heap.
    let before = calls();
    let all = black_box(leakscope::live::all_stats());
    assert_eq!(calls(), (before.0 + 1 + all.len() as u64, before.1));
    drop(all);
    flush();
    let s = stats(&HOME);
    assert_eq!((s.curr_blocks, s.curr_bytes, s.total_frees), (0, 0, 1));
}
