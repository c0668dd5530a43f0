//! leakscope over mimalloc without the re-entrancy guard (`Alloc::new_leaf`), every operation in a
//! scope: compare with `mimalloc` and `leakscope_mimalloc` (guarded).
overhead::variant! {
    name: "leakscope_mimalloc_leaf",
    // SAFETY: mimalloc is written in C and never calls Rust's global allocator.
    allocator: leakscope::Alloc<mimalloc::MiMalloc> = unsafe { leakscope::Alloc::new_leaf(mimalloc::MiMalloc) },
    scoped: true,
    setup: || overhead::collector(512 * 1024),
}
