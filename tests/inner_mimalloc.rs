//! The shim over another inner allocator (mimalloc), every call into it guarded
//! (`Alloc::new`): same exact accounting, and blocks keep the inner allocator's alignment
//! guarantees.

#[path = "common/inner.rs"]
mod inner;

#[global_allocator]
static ALLOC: leakscope::Alloc<mimalloc::MiMalloc> = leakscope::Alloc::new(mimalloc::MiMalloc);

#[test]
fn accounting_is_exact_over_mimalloc() {
    inner::accounting_is_exact();
}

#[test]
fn over_aligned_blocks_over_mimalloc() {
    inner::over_aligned_blocks();
}
