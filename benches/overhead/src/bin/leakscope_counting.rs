//! leakscope over System, every operation inside a scope guard, stack traces off: counting
//! alone, the baseline the cost of sampling is measured against (docs/design.md §12: sampling adds ≤ 2%).
overhead::variant! {
    name: "leakscope_counting",
    allocator: leakscope::Alloc = leakscope::Alloc::system(),
    scoped: true,
    setup: || overhead::collector(0),
}
