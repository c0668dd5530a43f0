//! Bare `System`: the floor every ratio is taken against.
overhead::variant! {
    name: "system",
    allocator: std::alloc::System = std::alloc::System,
    scoped: false,
    setup: overhead::no_setup,
}
