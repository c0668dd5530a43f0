//! leakscope over mimalloc, every operation in a scope: compare with `mimalloc`, not `system`.
overhead::variant! {
    name: "leakscope_mimalloc",
    allocator: leakscope::Alloc<mimalloc::MiMalloc> = leakscope::Alloc::new(mimalloc::MiMalloc),
    scoped: true,
    setup: || overhead::collector(512 * 1024),
}
