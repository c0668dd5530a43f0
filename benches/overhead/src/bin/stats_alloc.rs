//! stats_alloc over System: a handful of global atomic counters updated on every call.
overhead::variant! {
    name: "stats_alloc",
    allocator: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM,
    scoped: false,
    setup: overhead::no_setup,
}
