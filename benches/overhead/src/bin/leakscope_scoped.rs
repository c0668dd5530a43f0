//! leakscope over System; every operation inside a scope guard entered for that operation alone
//! (docs/design.md §12's "scopes on every operation").
overhead::variant! {
    name: "leakscope_scoped",
    allocator: leakscope::Alloc = leakscope::Alloc::system(),
    scoped: true,
    setup: || overhead::collector(512 * 1024),
}
