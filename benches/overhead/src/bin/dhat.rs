//! dhat-rs in heap-profiling mode: a global lock and a backtrace on every allocation. Runs a
//! twentieth of the ops of the others (ns/op stays comparable), or a run would take minutes.
overhead::variant! {
    name: "dhat",
    allocator: dhat::Alloc = dhat::Alloc,
    scoped: false,
    ops_divisor: 20,
    setup: || dhat::Profiler::builder().file_name("/dev/null").build(),
}
