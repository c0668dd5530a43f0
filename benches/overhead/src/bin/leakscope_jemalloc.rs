//! leakscope over jemalloc, every operation in a scope: compare with `jemalloc`, not `system`.
overhead::variant! {
    name: "leakscope_jemalloc",
    allocator: leakscope::Alloc<tikv_jemallocator::Jemalloc> = leakscope::Alloc::new(tikv_jemallocator::Jemalloc),
    scoped: true,
    setup: || overhead::collector(512 * 1024),
}
