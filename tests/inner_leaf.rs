//! The shim over mimalloc without the re-entrancy guard (`Alloc::new_leaf`): the same exact
//! accounting and alignment as the guarded shim (tests/inner_mimalloc.rs).

#[path = "common/inner.rs"]
mod inner;

#[global_allocator]
// SAFETY: mimalloc is written in C and never calls Rust's global allocator.
static ALLOC: leakscope::Alloc<mimalloc::MiMalloc> =
    unsafe { leakscope::Alloc::new_leaf(mimalloc::MiMalloc) };

#[test]
fn accounting_is_exact_over_mimalloc_unguarded() {
    inner::accounting_is_exact();
}

#[test]
fn over_aligned_blocks_over_mimalloc_unguarded() {
    inner::over_aligned_blocks();
}
