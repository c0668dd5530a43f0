//! An inner allocator that itself allocates through the global allocator (as dhat-rs does for its
//! tables): its bookkeeping is leakscope's own memory, never the caller's scope.
//!
//! `Chatty` forwards to `System`, and on every call it serves (alloc, realloc, dealloc) it
//! replaces a thread-local 24-byte box through the global allocator: one allocation and, from
//! the second call on, one free of its own per call, all of it re-entering leakscope's shim.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::hint::black_box;

use leakscope::{flush, stats, Scope};

struct Chatty;

thread_local! {
    /// Set while `Chatty` does its own allocating, so its own calls go straight to `System`.
    static BUSY: Cell<bool> = const { Cell::new(false) };
    /// `Chatty`'s bookkeeping: replaced on every call it serves.
    static BOOK: RefCell<Option<Box<[u8; 24]>>> = const { RefCell::new(None) };
    /// How many times `Chatty` allocated a box of its own.
    static OWN_ALLOCS: Cell<u64> = const { Cell::new(0) };
}

impl Chatty {
    /// Allocates and frees through the global allocator, unless already doing so.
    fn bookkeeping(&self) {
        let _ = BUSY.try_with(|busy| {
            if busy.replace(true) {
                return;
            }
            let _ = BOOK.try_with(|b| {
                *b.borrow_mut() = Some(black_box(Box::new([7u8; 24])));
                OWN_ALLOCS.with(|n| n.set(n.get() + 1));
            });
            busy.set(false);
        });
    }
}

// SAFETY: every call forwards to `System` with the layout it was given; the bookkeeping only
// allocates and frees blocks of its own through the global allocator, re-entrancy-guarded.
unsafe impl GlobalAlloc for Chatty {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.bookkeeping();
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.bookkeeping();
        // SAFETY: forwarded contract: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.bookkeeping();
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: leakscope::Alloc<Chatty> = leakscope::Alloc::new(Chatty);

#[test]
fn an_allocating_inner_allocator_is_charged_to_leakscope_not_the_scope() {
    static S: Scope = Scope::new("inner_chatty");
    let own_before = OWN_ALLOCS.with(Cell::get);
    let mut kept: Vec<Box<[u64; 4]>> = Vec::with_capacity(1000);
    {
        let _g = S.enter();
        for i in 0..1000u64 {
            kept.push(black_box(Box::new([i; 4])));
        }
        // A grow and a shrink of one block: each runs the inner realloc, which allocates too.
        let mut v: Vec<u8> = Vec::with_capacity(100);
        v.extend_from_slice(&[1; 100]);
        v.reserve_exact(200);
        v.truncate(10);
        v.shrink_to_fit();
        drop(black_box(v));
    }
    // Every one of those calls made Chatty allocate a box of its own through the shim.
    let own = OWN_ALLOCS.with(Cell::get) - own_before;
    assert!(
        own >= 1004,
        "the inner allocator must really allocate: {own}"
    );
    flush();
    let s = stats(&S);
    // Exactly the program's blocks: 1,000 boxes of 32 bytes, and the vector's 100 bytes, grown
    // to 300 and shrunk to 10 (a realloc is one free and one allocation), then freed.
    assert_eq!(
        (s.total_allocs, s.total_frees),
        (1000 + 3, 3),
        "the inner allocator's own blocks were charged to the scope: {s:?}"
    );
    assert_eq!(s.total_bytes_allocated, 1000 * 32 + 100 + 300 + 10);
    assert_eq!(s.total_bytes_freed, 100 + 300 + 10);
    assert_eq!((s.curr_blocks, s.curr_bytes), (1000, 32_000));
    drop(kept);
    flush();
    let s = stats(&S);
    assert_eq!((s.curr_blocks, s.curr_bytes, s.total_frees), (0, 0, 1003));
}
