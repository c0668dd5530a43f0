//! leakscope over jemalloc without the re-entrancy guard (`Alloc::new_leaf`), every operation in a
//! scope: compare with `jemalloc` and `leakscope_jemalloc` (guarded).
overhead::variant! {
    name: "leakscope_jemalloc_leaf",
    // SAFETY: jemalloc is written in C and never calls Rust's global allocator.
    allocator: leakscope::Alloc<tikv_jemallocator::Jemalloc> = unsafe { leakscope::Alloc::new_leaf(tikv_jemallocator::Jemalloc) },
    scoped: true,
    setup: || overhead::collector(512 * 1024),
}
