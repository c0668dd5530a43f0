//! Bare mimalloc: another inner allocator, for reference.
overhead::variant! {
    name: "mimalloc",
    allocator: mimalloc::MiMalloc = mimalloc::MiMalloc,
    scoped: false,
    setup: overhead::no_setup,
}
