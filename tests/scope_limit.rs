//! The scope limit: exactly `MAX_SCOPES - 2` names of the program's get a scope of their own,
//! later names are charged to `unscoped`, and a gauge set on such a name is dropped, never
//! given to `unscoped`.
//!
//! `harness = false`: it uses up every scope id of its process.

use std::hint::black_box;

use leakscope::{config::MAX_SCOPES, flush, Scope};

mod common;

#[global_allocator]
static ALLOC: leakscope::Alloc = leakscope::Alloc::system();

fn main() {
    common::run(
        &[(
            "past_the_limit_memory_goes_to_unscoped_and_gauges_are_dropped",
            past_the_limit_memory_goes_to_unscoped_and_gauges_are_dropped,
        )],
        || {},
    );
}

fn past_the_limit_memory_goes_to_unscoped_and_gauges_are_dropped() {
    let names: Vec<String> = (0..MAX_SCOPES).map(|i| format!("tenant-{i}")).collect();
    for name in &names {
        drop(leakscope::scope(name));
    }
    let own = names
        .iter()
        .filter(|n| leakscope::live::stats_by_name(n).is_some())
        .count();
    assert_eq!(own, MAX_SCOPES - 2, "names with a scope of their own");
    assert!(leakscope::live::stats_by_name("tenant-4093").is_some());
    assert!(leakscope::live::stats_by_name("tenant-4094").is_none());

    // A gauge on a name past the limit is dropped and counted.
    let dropped_before = leakscope::live::tracker_stats().gauges_dropped;
    leakscope::scope("tenant-5000").set_entry_count(123_456);
    static LATE: Scope = Scope::new("late_static_scope");
    LATE.set_entry_count(7);
    assert_eq!(LATE.entry_count(), None);
    assert_eq!(
        leakscope::live::tracker_stats().gauges_dropped,
        dropped_before + 2
    );
    // A gauge on a name within the limit still works.
    leakscope::scope("tenant-1").set_entry_count(5);
    static FIRST: Scope = Scope::new("tenant-1");
    assert_eq!(FIRST.entry_count(), Some(5));

    // The memory of a name past the limit is unscoped's (checked before the collector thread
    // exists: this thread is then the only one allocating). Flushed first, so that the names
    // allocated above are in both figures, whenever this thread's batch last went out.
    flush();
    let before = leakscope::live::stats_by_name(leakscope::dump::UNSCOPED_NAME).unwrap();
    let kept = {
        let _g = leakscope::scope("tenant-6000");
        black_box(vec![0u8; 4321])
    };
    flush();
    let after = leakscope::live::stats_by_name(leakscope::dump::UNSCOPED_NAME).unwrap();
    assert_eq!(
        after.total_bytes_allocated - before.total_bytes_allocated,
        4321
    );
    drop(kept);

    // unscoped's gauge was not touched: its snapshot carries no entry count.
    let dir = tempfile::tempdir().unwrap();
    let config = leakscope::Config::builder()
        .set("dump_path", dir.path().join("d.json").display())
        .build()
        .unwrap();
    let handle = leakscope::start(config).unwrap();
    let latest = leakscope::live::snapshot_now().unwrap();
    let unscoped = latest
        .iter()
        .find(|(n, _)| n == leakscope::dump::UNSCOPED_NAME)
        .map(|(_, s)| s.entries);
    assert_eq!(unscoped, Some(None), "unscoped's entry count");

    handle.shutdown().unwrap();
}
