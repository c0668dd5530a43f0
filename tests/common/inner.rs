//! The cases every shim over a non-System inner allocator must pass, whatever the allocator
//! and whether calls into it are guarded: exact accounting, frees on another thread, and the
//! inner allocator's alignment. Each test binary that includes this module installs its own
//! `#[global_allocator]` and calls these from its `#[test]`s.

use std::alloc::{alloc, dealloc, Layout};
use std::hint::black_box;

use leakscope::{flush, stats, Scope};

/// Exact bytes and blocks for 64 blocks of a scope, and their frees on another thread.
pub fn accounting_is_exact() {
    static S: Scope = Scope::new("mi_exact");
    let kept: Vec<Box<[u8]>> = {
        let _g = S.enter();
        (1..=64)
            .map(|n| vec![0u8; n * 7].into_boxed_slice())
            .collect()
    };
    let bytes: u64 = (1..=64u64).map(|n| n * 7).sum::<u64>() + 64 * 16;
    flush();
    let s = stats(&S);
    assert_eq!((s.curr_blocks, s.curr_bytes), (65, bytes));
    std::thread::spawn(move || drop(kept)).join().unwrap();
    flush();
    let s = stats(&S);
    assert_eq!((s.total_frees, s.curr_bytes), (65, 0));
}

/// Blocks keep the inner allocator's alignment guarantees, and are counted.
pub fn over_aligned_blocks() {
    static S: Scope = Scope::new("mi_align");
    for align in [8usize, 64, 4096] {
        let layout = Layout::from_size_align(100, align).unwrap();
        // SAFETY: non-zero layout, freed with the same layout.
        unsafe {
            let p = {
                let _g = S.enter();
                black_box(alloc(layout))
            };
            assert!(!p.is_null() && (p as usize).is_multiple_of(align));
            dealloc(p, layout);
        }
    }
    flush();
    let s = stats(&S);
    assert_eq!(
        (s.total_allocs, s.total_frees, s.total_bytes_allocated),
        (3, 3, 300)
    );
}
