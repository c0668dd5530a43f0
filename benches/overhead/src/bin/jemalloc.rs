//! Bare jemalloc (tikv-jemallocator): another inner allocator, for reference.
overhead::variant! {
    name: "jemalloc",
    allocator: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc,
    scoped: false,
    setup: overhead::no_setup,
}
