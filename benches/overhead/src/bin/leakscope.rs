//! leakscope over System; every allocation unscoped (the cost of merely installing it).
overhead::variant! {
    name: "leakscope",
    allocator: leakscope::Alloc = leakscope::Alloc::system(),
    scoped: false,
    setup: || overhead::collector(512 * 1024),
}
